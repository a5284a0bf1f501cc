"""Slow, obviously correct reference model of a swap device's cluster allocator, once
for every reference model: ``NaiveSwapTable`` and ``NaiveClassic`` (the device is the
model), ``NaiveSte`` (its vswap device and its ``PhysDev``) and ``NaiveVswap`` (its
``Phys619``) all allocate through :class:`NaiveDevice`.

Written from mm/swapfile.c (swap table P4 at linux-mm 000bd100; 6.18/6.19 at torvalds
07adc4cf), not from the Numba code (``vswap_nb/core/device.py``); only the counter
conventions are the design's (see ``naive_swap_table``'s docstring).

State
-----
* ``slots[off]``: ``None`` for a free slot, ``BAD`` for the header and the tail of the
  last cluster, else the owner's record of the slot (the allocator only asks the
  owner how a slot looks: :meth:`NaiveDevice._probe`).
* ``clusters[c]``: count (bad slots included), order, the list it is on, whether its
  table (and extend table) is allocated.
* ``lists``: ``"free"``, ``"full"``, ``"discard"``, ``("nonfull", o)``, ``("frag", o)``;
  ``append`` adds at the tail, ``pop(0)`` isolates the head (no contention modelled).
* ``pcpu[(row, order)]``: the next offset per CPU and order; row ``"global"`` is the
  rotational device's ``si->global_cluster->next[order]``.
* device words: ``inuse``, ``avail`` (on swap_avail_head), ``reclaim_pending``,
  ``discard_pending``, ``alloc_fail``, ``tables`` / ``peak_tables``, ``writeok``
  (SWP_WRITEOK) and ``off`` (swapoff freed the static metadata).

The two generations (``KERNEL_619``)
------------------------------------
6.18/6.19 differs from the swap table's P4 in five places, each one branch here:

* ``cluster_scan_range`` says "free" for an empty cluster without reading a slot;
* ``alloc_swap_scan_cluster`` stops the candidates at ``si->max``;
* ``cluster_reclaim_range`` walks the range, steps over a reclaimed folio, stops at
  the first slot it cannot free, relocks and rechecks the whole range (P4: stops at a
  busy slot or a failed reclaim, then rechecks only an unemptied cluster);
* ``cluster_alloc_swap_entry`` runs pending discards and starts over before stealing
  for order 0 (``goto new_cluster``: ``swap_do_scheduled_discard`` takes ``si->lock``
  even with nothing to discard); P4's ``folio_alloc_swap`` instead retries an order-0
  failure after syncing the discards.

A list scan and the full-cluster reclaim stop after ``nclusters + 1`` clusters, as the
design's guard does.

How this differs from the kernel's (and the design's) formulation
------------------------------------------------------------------
The steps, and so the counters, follow the kernel function by function; the state is
kept once where the kernel keeps it twice:

* a cluster's flags are not stored: they are the list it is on (``Cluster.flags``:
  ``on_list`` "free" -> CLUSTER_FLAG_FREE, ..., off every list -> NONE while isolated);
  the comparison checks the design's CI_FLAGS word against that;
* the device's table count is not a counter kept in step: it is the number of clusters
  whose table is allocated (``tables``); only its peak is history;
* lists are Python lists (append at the tail, pop the head), not links through the
  cluster rows; the comparison walks the design's links and checks length and tail.

Owners' hooks: ``_probe(op, off)`` ("free", "cache_only" or "busy", counting its read),
``_reclaim_slot(op, off)`` (the reclaim of a cache-only slot: its folio's size, <= 0 if
it stays), ``table_bytes()`` (the objects a populated cluster allocates) and
``_populated(op, c, on)`` (a cluster's table comes or goes).
"""
from __future__ import annotations

from vswap_nb.core.counters import OPS, PRIMITIVES

# cluster flags, enum swap_cluster_flags order
NONE, FREE, NONFULL, FRAG, FULL, DISCARD = range(6)
USABLE = FRAG

N_ORDERS = 10  # SWAP_NR_ORDERS on x86-64
PMD_ORDER = 9
TTRS_ANYWAY = 1


class _Bad:
    def __repr__(self):
        return "BAD"


BAD = _Bad()


_FLAG_OF_LIST = {"free": FREE, "full": FULL, "discard": DISCARD, "nonfull": NONFULL, "frag": FRAG}


class Cluster:
    __slots__ = ("count", "has_ext", "has_table", "on_list", "order")

    def __init__(self):
        self.count = 0
        self.order = 0
        self.on_list = None
        self.has_table = False
        self.has_ext = False

    @property
    def flags(self):
        """enum swap_cluster_flags: the list the cluster is on (NONE while isolated)."""
        key = self.on_list
        if key is None:
            return NONE
        return _FLAG_OF_LIST[key if isinstance(key, str) else key[0]]


class NaiveDevice:
    """One swap device and its cluster allocator (P4, or 6.19 with ``KERNEL_619``)."""

    KERNEL_619 = False

    def __init__(self, nslots, *, ncpu=1, cluster_size=512, solidstate=True,
                 discard=False, blkdev=True):
        self.csize = cluster_size
        self.max = nslots
        self.pages = nslots - 1  # si->pages: the header is not a page
        self.ncl = -(-nslots // cluster_size)
        self.ncpu = ncpu
        self.solidstate = solidstate
        self.discard = discard
        self.blkdev = blkdev
        self.writeok = True  # SWP_WRITEOK: cleared by swapoff_begin()
        self.off = False  # swapoff emptied the device and freed its static metadata

        self.inuse = 0
        self.avail = True  # on swap_avail_head
        self.reclaim_pending = False
        self.discard_pending = False
        self.alloc_fail = 0
        self.peak_tables = 0

        self.counters = {}
        self.clusters = [Cluster() for _ in range(self.ncl)]
        self.lists = {"free": [], "full": [], "discard": []}
        for o in range(N_ORDERS):
            self.lists[("nonfull", o)] = []
            self.lists[("frag", o)] = []
        rows = ["global"] + list(range(ncpu))
        self.pcpu = {(r, o): 0 for r in rows for o in range(N_ORDERS)}
        self.slots = [None] * (self.ncl * cluster_size)

        # setup_swap_clusters_info(): the header and the tail past si->max are bad
        # slots, each counted in its cluster (whose table is allocated for it); clusters
        # holding bad slots start on nonfull[0], the others on the free list.
        for off in [0] + list(range(nslots, self.ncl * cluster_size)):
            cl = self.clusters[off // cluster_size]
            if cl.count == 0 and not cl.has_table:
                self._table_alloc_bookkeeping(cl)
            self.slots[off] = BAD
            cl.count += 1
        for c, cl in enumerate(self.clusters):
            key = ("nonfull", 0) if cl.count else "free"
            cl.on_list = key
            self.lists[key].append(c)

    # ------------------------------------------------------------------ helpers

    def _c(self, op, prim, n=1):
        """Charge ``n`` ``prim`` to row ``op`` (an int row index or a row name)."""
        if n == 0:
            return
        opname = OPS[op] if isinstance(op, int) else op
        assert prim in PRIMITIVES, prim
        key = (opname, prim)
        self.counters[key] = self.counters.get(key, 0) + n

    def counter_matrix(self):
        """The counters as a list of rows, like ``Ctx.counters``."""
        return [[self.counters.get((o, p), 0) for p in PRIMITIVES] for o in OPS]

    def cluster_of(self, off):
        return off // self.csize

    def table_bytes(self):
        """The objects a populated cluster allocates, in bytes (all zeroed): the
        8-byte-per-slot table."""
        return (8 * self.csize,)

    def _zalloc(self, op, sizes):
        """One allocation call per object and the 64-byte lines it zeroes."""
        self._c(op, "mem_alloc", len(sizes))
        self._c(op, "mem_zero_line", sum(-(-b // 64) for b in sizes))

    def vm_swap_full(self, pending_alloc=0):
        """More than half of swap used: nr_swap_pages * 2 < total_swap_pages.
        ``pending_alloc`` slots are counted as still free (not yet subtracted)."""
        free = self.pages - self.inuse + pending_alloc
        return free * 2 < self.pages

    @property
    def tables(self):
        """Clusters whose table is allocated."""
        return sum(1 for cl in self.clusters if cl.has_table)

    def _table_alloc_bookkeeping(self, cl):
        cl.has_table = True
        self.peak_tables = max(self.peak_tables, self.tables)

    def _populated(self, op, c, on):
        """A cluster's table was allocated (``on``) or freed: the owner's hook."""

    # ------------------------------------------------------------------ what the owner says

    def _probe(self, op, off):
        """One read of slot ``off`` while scanning: 'free', 'cache_only' or 'busy'."""
        raise NotImplementedError

    def _lock_cluster(self, op, off):
        """The fast path's lock of the cluster holding ``off`` (found by arithmetic)."""
        self._c(op, "cluster_lock")

    def _reclaim_slot(self, op, off):
        """__try_to_reclaim_swap() of the cache-only slot ``off`` (TTRS_ANYWAY): the
        freed folio's size, <= 0 when it stays."""
        return self.try_reclaim(op, off, TTRS_ANYWAY)

    # ------------------------------------------------------------------ cluster lists

    def _move(self, op, c, key):
        """move_cluster(): under si->lock, (re)append ``c`` at the tail of ``key``."""
        self._c(op, "si_lock")
        cl = self.clusters[c]
        if cl.on_list is not None:
            self.lists[cl.on_list].remove(c)
        self.lists[key].append(c)
        cl.on_list = key

    def _free_cluster(self, op, c):
        """free_cluster(): to the discard list on discard devices, else __free_cluster."""
        if self.writeok and self.discard:
            self._move(op, c, "discard")
            self.discard_pending = True
            return
        self._free_cluster_now(op, c)

    def _free_table(self, op, c):
        cl = self.clusters[c]
        if cl.has_table:
            self._c(op, "mem_free", len(self.table_bytes()))
            self._populated(op, c, False)
            cl.has_table = False

    def _free_cluster_now(self, op, c):
        """__free_cluster(): the table goes, the cluster joins the free list."""
        cl = self.clusters[c]
        self._free_table(op, c)
        self._move(op, c, "free")
        cl.order = 0

    def _partial_free_cluster(self, op, c):
        cl = self.clusters[c]
        if cl.flags != NONFULL:
            self._move(op, c, ("nonfull", cl.order))

    def _relocate(self, op, c):
        """relocate_cluster() after an allocation attempt."""
        cl = self.clusters[c]
        if cl.flags == DISCARD:
            return
        if cl.count == 0:
            if cl.flags != FREE:
                self._free_cluster(op, c)
        elif cl.count < self.csize:
            if cl.flags != FRAG:
                self._move(op, c, ("frag", cl.order))
        elif cl.flags != FULL:
            self._move(op, c, "full")

    def _isolate(self, op, key):
        """isolate_lock_cluster(): take the head of ``key`` (trylock always wins),
        clear its flags, populate the table of a free cluster."""
        self._c(op, "si_lock")
        lst = self.lists[key]
        if not lst:
            return None
        self._c(op, "cluster_lock")
        c = lst.pop(0)
        cl = self.clusters[c]
        was = cl.flags
        cl.on_list = None
        if was == FREE:
            self._zalloc(op, self.table_bytes())
            self._populated(op, c, True)
            self._table_alloc_bookkeeping(cl)
        return c

    def _do_scheduled_discard(self, op):
        """swap_do_scheduled_discard(): True if it discarded a cluster."""
        done = False
        self._c(op, "si_lock")
        while self.lists["discard"]:
            c = self.lists["discard"].pop(0)
            self.clusters[c].on_list = None
            self._c(op, "cluster_lock")
            self._free_cluster_now(op, c)
            self._c(op, "si_lock")  # si->lock again before looking at the list
            done = True
        self.discard_pending = False
        return done

    def _usable(self, c, order):
        """cluster_is_usable()."""
        cl = self.clusters[c]
        if cl.flags > USABLE or not cl.has_table:
            return False
        return order == 0 or cl.count == 0 or cl.order == order

    # ------------------------------------------------------------------ allocator

    def _scan_range(self, op, off, nr):
        """cluster_scan_range() -> (ok, need_reclaim)."""
        if self.KERNEL_619 and self.clusters[self.cluster_of(off)].count == 0:
            return True, False  # an empty cluster is free without a read
        need_reclaim = False
        for x in range(off, off + nr):
            kind = self._probe(op, x)
            if kind == "free":
                continue
            if kind == "cache_only" and self.vm_swap_full():
                need_reclaim = True
                continue
            return False, False
        return True, need_reclaim

    def _reclaim_range(self, op, c, start, order):
        """cluster_reclaim_range() -> (range free now, cluster still usable)."""
        end = start + (1 << order)
        if self.KERNEL_619:  # walk, step over reclaimed folios, relock, recheck all
            x = start
            while x < end:
                kind = self._probe(op, x)
                if kind == "free":
                    x += 1
                elif kind == "cache_only":
                    n = self._reclaim_slot(op, x)
                    if n <= 0:
                        break
                    x += n
                else:
                    break
            self._c(op, "cluster_lock")  # spin_lock(&ci->lock) again
            ok = all(self._probe(op, y) == "free" for y in range(start, end))
            return ok, self._usable(c, order)
        for x in range(start, end):
            kind = self._probe(op, x)
            if kind == "busy":
                break
            if kind == "cache_only" and self._reclaim_slot(op, x) < 0:
                break
        self._c(op, "cluster_lock")  # spin_lock(&ci->lock) again
        if not self._usable(c, order):
            return False, False
        if self.clusters[c].count == 0:
            return True, True
        for x in range(start, end):
            if self._probe(op, x) != "free":
                return False, True
        return True, True

    def _claim(self, c, order):
        """The bookkeeping of __swap_cluster_alloc_entries() + swap_range_alloc()."""
        nr = 1 << order
        cl = self.clusters[c]
        if cl.count == 0:
            cl.order = order
        cl.count += nr
        self.inuse += nr
        if self.inuse == self.pages:
            self.avail = False  # del_from_avail_list
            # swap_range_alloc(): vm_swap_full() before nr_swap_pages drops by nr
            if self.vm_swap_full(pending_alloc=nr):
                self.reclaim_pending = True  # schedule_work(&si->reclaim_work)

    def _scan_cluster(self, op, row, c, offset, order):
        """alloc_swap_scan_cluster(): the allocated offset or 0."""
        nr = 1 << order
        start = c * self.csize
        end = min(start + self.csize, self.max) if self.KERNEL_619 else start + self.csize
        cl = self.clusters[c]
        found = 0
        nxt = 0
        if end >= nr and cl.count + nr <= self.csize:
            last = end - nr
            off = offset
            while off <= last:
                ok, need_reclaim = self._scan_range(op, off, nr)
                if not ok:
                    off += nr
                    continue
                if need_reclaim:
                    ok, usable = self._reclaim_range(op, c, off, order)
                    if not usable:
                        break
                    if cl.count == 0:
                        off = start
                    if not ok:
                        off += nr
                        continue
                if not self.writeok:
                    break
                self._claim(c, order)
                found = off
                off += nr
                if cl.count < self.csize and off <= last:
                    nxt = off
                break
        self._relocate(op, c)
        self.pcpu[(row, order)] = nxt
        return found

    def _scan_list(self, op, row, key, order, scan_all):
        """alloc_swap_scan_list()."""
        for _ in range(self.ncl + 1):
            c = self._isolate(op, key)
            if c is None:
                return 0
            found = self._scan_cluster(op, row, c, c * self.csize, order)
            if found or not scan_all:
                return found
        return 0

    def _alloc_fast(self, op, cpu, order):
        """swap_alloc_fast(): the per-CPU cluster of this order."""
        self._c(op, "pcpu_access")
        if not self.solidstate:
            return 0  # rotational devices never fill the per-CPU cache
        off = self.pcpu[(cpu, order)]
        if not off:
            return 0
        c = self.cluster_of(off)
        self._lock_cluster(op, off)
        if not self._usable(c, order):
            return 0
        if self.clusters[c].count == 0:
            off = c * self.csize
        return self._scan_cluster(op, cpu, c, off, order)

    def _cluster_alloc_swap_entry(self, op, cpu, order):
        """cluster_alloc_swap_entry(): the slow path."""
        if order > 0 and not self.blkdev:
            return 0
        row = cpu
        if not self.solidstate:
            row = "global"
            self._c(op, "si_lock")  # global_cluster_lock
            off = self.pcpu[(row, order)]
            if off:
                c = self.cluster_of(off)
                self._c(op, "cluster_lock")
                if self._usable(c, order):
                    if self.clusters[c].count == 0:
                        off = c * self.csize
                    found = self._scan_cluster(op, row, c, off, order)
                    if found:
                        return found
        while True:  # new_cluster:
            if self.discard:
                found = self._scan_list(op, row, "free", order, False)
                if found:
                    return found
            if order < PMD_ORDER:
                found = self._scan_list(op, row, ("nonfull", order), order, True)
                if found:
                    return found
            if not self.discard:
                found = self._scan_list(op, row, "free", order, False)
                if found:
                    return found
            if self.vm_swap_full():
                self.reclaim_full(False)
            if order < PMD_ORDER:
                found = self._scan_list(op, row, ("frag", order), order, False)
                if found:
                    return found
            # 6.19: if ((si->flags & SWP_PAGE_DISCARD) && swap_do_scheduled_discard(si))
            #         goto new_cluster;
            if self.KERNEL_619 and self.discard and self._do_scheduled_discard(op):
                continue
            break
        if order:
            return 0
        for o in range(1, N_ORDERS):
            found = self._scan_list(op, row, ("frag", o), order, True)
            if found:
                return found
            found = self._scan_list(op, row, ("nonfull", o), order, True)
            if found:
                return found
        return 0

    def _dev_alloc(self, op, cpu, order):
        """The allocation part of folio_alloc_swap(): the first offset or 0."""
        if not self.writeok:
            self.alloc_fail += 1  # swapoff took the device off the available list
            return 0
        if self.discard_pending:
            self._do_scheduled_discard(op)
        if (1 << order) > self.csize:
            return 0
        while True:
            found = self._alloc_fast(op, cpu, order)
            if found:
                return found
            if self.avail:
                found = self._cluster_alloc_swap_entry(op, cpu, order)
                if found:
                    return found
            # P4 folio_alloc_swap(): an order-0 failure syncs pending discards and retries
            if not self.KERNEL_619 and order == 0 and self.discard and self.lists["discard"]:
                self._do_scheduled_discard(op)
                continue
            self.alloc_fail += 1
            return 0

    def reclaim_full(self, force):
        """swap_reclaim_full_clusters(): look for cache-only slots in full clusters."""
        op = "reclaim_scan"
        to_scan = self.inuse // self.csize if force else 1
        reclaimed = 0
        for _ in range(self.ncl + 1):
            c = self._isolate(op, "full")
            if c is None:
                break
            off = c * self.csize
            end = min(self.max, off + self.csize)
            to_scan -= 1
            while off < end:
                if self._probe(op, off) == "cache_only":
                    n = self._reclaim_slot(op, off)
                    self._c(op, "cluster_lock")  # relock
                    if n:
                        reclaimed += max(n, 0)
                        off += abs(n)
                        continue
                off += 1
            if self.clusters[c].flags == NONE:
                self._relocate(op, c)
            if to_scan <= 0:
                break
        return reclaimed

    def deferred_work(self):
        """reclaim_work, when an allocation scheduled it."""
        if self.reclaim_pending:
            self.reclaim_pending = False
            return self.reclaim_full(True)
        return 0

    def free_range(self, op, start, n):
        """dev_free_range(): the cluster and device bookkeeping after ``n`` slots of
        one cluster were cleared."""
        c = self.cluster_of(start)
        cl = self.clusters[c]
        cl.count -= n
        self.inuse -= n
        if self.inuse < self.pages and self.writeok:
            self.avail = True
        if cl.count == 0:
            self._free_cluster(op, c)
        else:
            self._partial_free_cluster(op, c)

    # ------------------------------------------------------------------ swapoff

    def swapoff_begin(self):
        """The start of swapoff(2): del_from_avail_list() and SWP_WRITEOK cleared, so
        every later allocation fails; the per-CPU offsets into the device are dropped."""
        self.writeok = False
        self.avail = False
        for key in self.pcpu:
            self.pcpu[key] = 0

    def next_used(self, off):
        """try_to_unuse()'s walk: the first slot at or after ``off`` (below si->max) in
        a cluster that holds any slot (bad slots included), or -1."""
        while off < self.max:
            c = self.cluster_of(off)
            if self.clusters[c].count:
                return off
            off = (c + 1) * self.csize
        return -1

    def swapoff_end(self, op="swapoff"):
        """The end of swapoff(2): the slots still in use; none left -> pending
        discards flushed, every table left freed, the device off and its static
        metadata freed."""
        if self.inuse == 0:
            if self.discard_pending:
                self._do_scheduled_discard(op)
            for c in range(len(self.clusters)):
                self._free_table(op, c)
            self.off = True
        return self.inuse
