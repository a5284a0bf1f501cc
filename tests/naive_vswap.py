"""Slow, obviously correct reference model of the ``vswap_v5`` / ``vswap_v6`` designs.

Plain Python objects, dicts and lists, written from the facts and conventions of
``vswap_nb/designs/vswap.py``'s module docstring and ``reference/swap-designs.md``
sections 2.1-2.4 and 4 (virtual swap), and from ``vswap_nb/core/device.py``'s
docstring for the 6.19 physical allocator.  The Numba code was read for the counter
conventions (which primitive a step is charged as and to which row), because those are
the model's own definitions, not kernel facts.

Virtual side
------------
* ``clusters[id]``: the live virtual clusters (those in ``vswap_cluster_map``), each a
  :class:`VCluster`: id, order (fixed for its life), count (allocated slots; the
  reserved slots of cluster 0 included), refcount, the allocation bitmap (a set of
  slot indices) and ``vsize`` descriptors (:class:`Desc`; a free slot's descriptor is
  all zeros, which reads as type SWAPFILE with backend 0, exactly like zeroed memory).
* Cluster id 0 reserves the first ``nr = min(2**order, vsize)`` slots of the order it
  serves (reference 2.3: "Cluster id 0 reserves the first nr slots (entry 0 is
  invalid); PMD-order allocations cannot use cluster 0"): they are set in its bitmap
  and counted in its count and refcount from its creation, so cluster 0 is never
  freed.  A whole-cluster order cannot use it at all: that allocation takes another
  new cluster and cluster 0, full of reserved slots, belongs to no list.  Reserved
  entries are not allocated: ``swap_count`` says -1 and ``ra_probe`` -ENOENT.
* The cluster map is a :class:`NaiveXArray` keyed by cluster id; node counts and walk
  visits come from its shape.  New clusters take the lowest id not in the map
  (``xa_alloc``); a new cluster costs the walk of the current tree height (finding the
  free index) plus the store walk.
* Refcount = allocated slots + one per CPU allocation cache holding the cluster + one
  per lookup cache holding it.  At 0 the cluster leaves the partial list and the map
  (its id is reusable at once) and its memory is RCU-freed: it still occupies a slab
  object (``metadata_bytes``, the object budget ``nrows``) until ``RCU_DELAY`` ticks
  later.
* Every verb (alloc, dup, pte_batch, put, cache_lookup, cache_add, cache_del,
  cache_free, try_reclaim, writeout, read_backend, ra_probe, zswap_writeback,
  reclaim_full, unuse) is one tick of that clock, taken at its start, whatever it
  returns (swapoff's ``unuse_entry``, a read of the physical device, is not);
  work one verb does on behalf of another (put's reclaim of cache-only folios, the
  allocator's reclaim of a cache-only slot, zswap writeback's cache add, the
  allocator's own full-cluster scan) is part of the calling verb and does not tick.
* ``alloc_cache[cpu][order]``: the CPU's allocation cluster; ``mru[cpu]``: the lookup
  cache (cluster ids, most recent first, at most ``lookup_cache_ways``), with ``cpu`` the CPU the current operation runs on
  (``Ctx.meta[C_CPU]``; alloc sets it).  Every verb but alloc (which does no lookup)
  ends by letting the running CPU's lookup cache go of a cluster that is empty then
  ("dropped ... when the cluster is empty at the end of an operation"), on every
  return path; reclaim_full charges that to ``reclaim_scan``.
* ``partial[order]``: the partial cluster lists (ids, in list order).
* zswap entries are counted (``zswap_entries``); each stored zswap entry has an
  identity of its own, the descriptor's backend word: 1, 2, 3, ... in store order
  (``zswap_stored``), never reused.
* With ``rmap_cache_only_bit`` the rmap C bit says "swap-cache only" for every slot
  backing such an entry: set when a count drops to 0 on a cached SWAPFILE entry,
  cleared on dup, and written at once when a physical slot is allocated for an entry
  that is already cache-only (a large folio's unreferenced pages).
* Swapoff: ``swapoff_begin`` clears the device's SWP_WRITEOK (every later physical
  allocation fails and counts an allocation failure; a freed cluster no longer goes
  to the discard list; the device never comes back on the available list);
  ``unuse_entry(off)`` reads the allocated bit (``map_read``) and, for a used slot, the
  reverse map (``rmap_read``) naming the virtual entry; ``unuse(entry, folio)``
  (lookup + lock, ``desc_read``) needs ``folio`` in the swap cache for the entry and
  turns a SWAPFILE descriptor into a FOLIO one: the physical slot freed, one
  ``memcg_uncharge``, ``desc_write``; ``swapoff_end`` says how many slots are still
  in use, and at 0 the device is off: no physical bitmaps and no cluster_info in
  ``metadata_bytes`` any more.
* ``metadata_bytes``: v6 has a 112-byte cluster header and a separate descriptor array
  (24 bytes per slot); v5 one slab object per cluster holding a 40-byte header, the
  allocation bitmap (whole longs) and the descriptors, in the kmalloc size class that
  fits it (powers of two from 8, plus 96 and 192: 16 KiB for 512 slots).

Physical side (:class:`Phys619`)
--------------------------------
The 6.19 cluster allocator over one device, as ``vswap_nb/core/device.py`` describes it
for ``KERNEL_619``: slots are ``None`` (free), ``BAD`` or an :class:`Rmap` (the virtual
entry and the cache-only C bit).  How a slot looks to the allocator is the virtual
layer's answer (``phys_slot_scan`` / ``phys_slot_reclaim``).  On a discard device the
slow path's restart step runs ``swap_do_scheduled_discard()`` (taking ``si->lock``)
even when no discard is pending.

Counter conventions (the design's; see its module docstring)
-------------------------------------------------------------
* a cluster lookup is ``lookup_cache_hit``, or ``lookup_cache_miss`` + ``xa_lookup`` +
  the node visits (without the lookup cache: ``xa_lookup`` + visits); a found cluster
  is locked (``cluster_lock``);
* descriptor reads / writes: ``desc_read`` / ``desc_write``; bitmap search, set or
  clear: ``bitmap_op``; the partial lists (under the XArray lock): ``si_lock``;
* physical slots: the allocated bitmap ``map_read`` / ``map_write``, reverse-map words
  ``rmap_read`` / ``rmap_write``, ``slot_free_notify`` per freed slot, one
  ``cluster_lock`` per physical free range;
* ``mem_alloc`` / ``mem_free``: a cluster object, a zswap entry, a physical table;
* ``memcg_charge`` per physical allocation and per swap-in cache add,
  ``memcg_uncharge`` per released run holding physical slots (per slot without
  batch_ops, and per physical slot dropped by a re-writeout).
"""
from __future__ import annotations

from naive_xarray import NaiveXArray

from vswap_nb.core.counters import OPS, PRIMITIVES

RCU_DELAY = 64
N_ORDERS = 10
PMD_ORDER = 9
XA_CHUNK_SHIFT = 6

# descriptor types (enum swap_type); a zeroed descriptor reads as SWAPFILE
SWAPFILE, ZERO, ZSWAP, FOLIO = 0, 1, 2, 3

TTRS_ANYWAY, TTRS_UNMAPPED, TTRS_FULL = 1, 2, 4
FOLIO_MAPPED = 1
BACKEND_NONE, BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_DISK, BACKEND_FOLIO = 0, 1, 2, 3, 4
ENOMEM, ENOENT, EEXIST, EBUSY = -12, -2, -17, -16
RA_READAHEAD, RA_SYNC = 0, 1

# physical cluster flags (enum swap_cluster_flags order) and allocator answers
NONE, FREE, NONFULL, FRAG, FULL, DISCARD = range(6)
USABLE = FRAG
SLOT_FREE, SLOT_CACHE_ONLY, SLOT_BUSY = "free", "cache_only", "busy"

_OP_ROW = {name: i for i, name in enumerate(OPS)}
_PRIM_COL = {name: j for j, name in enumerate(PRIMITIVES)}

SWITCHES = ("rmap_cache_only_bit", "defer_cgroup_check", "cluster_lookup_cache", "batch_ops")


def kmalloc_size(n):
    """The kmalloc size class of an ``n``-byte object: powers of two from 8, plus 96
    and 192."""
    for size in (8, 16, 32, 64, 96, 128, 192):
        if n <= size:
            return size
    size = 256
    while size < n:
        size *= 2
    return size


def v5_cluster_object_bytes(vsize):
    """v5's struct vswap_cluster with ``vsize`` embedded 24-byte descriptors: a 40-byte
    header, the allocation bitmap in whole longs, the descriptors; its slab object."""
    return kmalloc_size(40 + -(-vsize // 64) * 8 + 24 * vsize)


class _Bad:
    def __repr__(self):
        return "BAD"


BAD = _Bad()


class Rmap:
    """A physical slot in use: the virtual entry it backs and the cache-only bit."""

    __slots__ = ("cache_only", "entry")

    def __init__(self, entry, cache_only=False):
        self.entry = entry
        self.cache_only = cache_only

    def __repr__(self):
        return f"Rmap({self.entry}{', C' if self.cache_only else ''})"


class Desc:
    """struct swp_desc: backend (slot / zswap entry), swap cache folio, count, memcg,
    in_swapcache, type."""

    __slots__ = ("backend", "count", "folio", "in_cache", "memcg", "type")

    def __init__(self):
        self.clear()

    def clear(self):
        self.backend = 0
        self.folio = None
        self.count = 0
        self.memcg = 0
        self.in_cache = False
        self.type = SWAPFILE

    def __repr__(self):
        return (f"Desc(count={self.count}, memcg={self.memcg}, type={self.type}, "
                f"in_cache={self.in_cache}, folio={self.folio}, backend={self.backend})")


class VCluster:
    __slots__ = ("bits", "count", "desc", "id", "order", "ref")

    def __init__(self, cid, order, vsize):
        self.id = cid
        self.order = order
        self.count = 0
        self.ref = 0
        self.bits = set()
        self.desc = [Desc() for _ in range(vsize)]

    def __repr__(self):
        return f"VCluster(id={self.id}, order={self.order}, count={self.count}, ref={self.ref})"


class PCluster:
    __slots__ = ("count", "flags", "has_table", "on_list", "order")

    def __init__(self):
        self.count = 0
        self.flags = NONE
        self.order = 0
        self.on_list = None
        self.has_table = False


# --------------------------------------------------------------------------- physical


class Phys619:
    """One physical swap device with the 6.18/6.19 cluster allocator.  ``owner``
    answers how a slot looks (``phys_slot_scan``) and reclaims cache-only slots
    (``phys_slot_reclaim``); ``owner._c`` counts."""

    def __init__(self, owner, nslots, *, cluster_size, ncpu, solidstate, discard, blkdev):
        self.owner = owner
        self.csize = cluster_size
        self.max = nslots
        self.pages = nslots - 1
        self.ncl = -(-nslots // cluster_size)
        self.ncpu = ncpu
        self.solidstate = solidstate
        self.discard = discard
        self.blkdev = blkdev
        self.writeok = True  # SWP_WRITEOK: cleared by swapoff_begin()
        self.off = False  # D_OFF: swapoff emptied the device, its static metadata is freed
        self.inuse = 0
        self.avail = True
        self.reclaim_pending = False
        self.discard_pending = False
        self.alloc_fail = 0
        self.tables = 0
        self.peak_tables = 0
        self.clusters = [PCluster() for _ in range(self.ncl)]
        self.lists = {"free": [], "full": [], "discard": []}
        for o in range(N_ORDERS):
            self.lists[("nonfull", o)] = []
            self.lists[("frag", o)] = []
        self.pcpu = {(r, o): 0 for r in ["global"] + list(range(ncpu)) for o in range(N_ORDERS)}
        self.slots = [None] * (self.ncl * cluster_size)
        # the header and the slots past si->max are bad, counted in their cluster
        for off in [0] + list(range(nslots, self.ncl * cluster_size)):
            cl = self.clusters[off // cluster_size]
            if cl.count == 0 and not cl.has_table:
                self._table_bookkeeping(cl)
            self.slots[off] = BAD
            cl.count += 1
        for c, cl in enumerate(self.clusters):
            key = ("nonfull", 0) if cl.count else "free"
            cl.flags = NONFULL if cl.count else FREE
            cl.on_list = key
            self.lists[key].append(c)

    def _c(self, op, prim, n=1):
        self.owner._c(op, prim, n)

    def _table_bookkeeping(self, cl):
        cl.has_table = True
        self.tables += 1
        self.peak_tables = max(self.peak_tables, self.tables)

    def vm_swap_full(self):
        return (self.pages - self.inuse) * 2 < self.pages

    # ---- lists

    def _move(self, op, c, key, flags):
        self._c(op, "si_lock")
        cl = self.clusters[c]
        if cl.on_list is not None:
            self.lists[cl.on_list].remove(c)
        self.lists[key].append(c)
        cl.on_list = key
        cl.flags = flags

    def _free_cluster(self, op, c):
        if self.writeok and self.discard:
            self._move(op, c, "discard", DISCARD)
            self.discard_pending = True
            return
        self._free_cluster_now(op, c)

    def _free_table(self, op, c):
        cl = self.clusters[c]
        if cl.has_table:
            self._c(op, "mem_free")
            cl.has_table = False
            self.tables -= 1

    def _free_cluster_now(self, op, c):
        cl = self.clusters[c]
        self._free_table(op, c)
        self._move(op, c, "free", FREE)
        cl.order = 0

    def _relocate(self, op, c):
        cl = self.clusters[c]
        if cl.flags == DISCARD:
            return
        if cl.count == 0:
            if cl.flags != FREE:
                self._free_cluster(op, c)
        elif cl.count < self.csize:
            if cl.flags != FRAG:
                self._move(op, c, ("frag", cl.order), FRAG)
        elif cl.flags != FULL:
            self._move(op, c, "full", FULL)

    def _isolate(self, op, key):
        self._c(op, "si_lock")
        lst = self.lists[key]
        if not lst:
            return None
        self._c(op, "cluster_lock")
        c = lst.pop(0)
        cl = self.clusters[c]
        cl.on_list = None
        was = cl.flags
        cl.flags = NONE
        if was == FREE:
            self._c(op, "mem_alloc")  # swap_cluster_populate: the table
            self._table_bookkeeping(cl)
        return c

    def _do_scheduled_discard(self, op):
        done = False
        self._c(op, "si_lock")
        while self.lists["discard"]:
            c = self.lists["discard"].pop(0)
            cl = self.clusters[c]
            cl.on_list = None
            self._c(op, "cluster_lock")
            cl.flags = NONE
            self._free_cluster_now(op, c)
            self._c(op, "si_lock")
            done = True
        self.discard_pending = False
        return done

    def _usable(self, c, order):
        cl = self.clusters[c]
        if cl.flags > USABLE or not cl.has_table:
            return False
        return order == 0 or cl.count == 0 or cl.order == order

    # ---- allocation

    def _probe(self, op, off):
        return self.owner.phys_slot_scan(op, off)

    def _scan_range(self, op, c, off, nr):
        """cluster_scan_range() of 6.19: an empty cluster is free without a read."""
        if self.clusters[c].count == 0:
            return True, False
        full = self.vm_swap_full()
        need_reclaim = False
        for x in range(off, off + nr):
            kind = self._probe(op, x)
            if kind == SLOT_FREE:
                continue
            if kind == SLOT_CACHE_ONLY:
                if not full:
                    return False, False
                need_reclaim = True
                continue
            return False, False
        return True, need_reclaim

    def _reclaim_range(self, op, c, start, order):
        """cluster_reclaim_range() of 6.19: walk, stepping over reclaimed folios, stop at
        the first slot that cannot be freed; relock; recheck the whole range."""
        end = start + (1 << order)
        x = start
        while x < end:
            kind = self._probe(op, x)
            if kind == SLOT_FREE:
                x += 1
            elif kind == SLOT_CACHE_ONLY:
                n = self.owner.phys_slot_reclaim(op, x)
                if n <= 0:
                    break
                x += n
            else:
                break
        self._c(op, "cluster_lock")
        ok = all(self._probe(op, y) == SLOT_FREE for y in range(start, end))
        return ok, self._usable(c, order)

    def _claim(self, c, order):
        nr = 1 << order
        cl = self.clusters[c]
        if cl.count == 0:
            cl.order = order
        cl.count += nr
        self.inuse += nr
        if self.inuse == self.pages:
            self.avail = False
            # vm_swap_full() before nr_swap_pages drops by nr
            if (self.pages - self.inuse + nr) * 2 < self.pages:
                self.reclaim_pending = True

    def _scan_cluster(self, op, row, c, offset, order):
        nr = 1 << order
        start = c * self.csize
        end = min(start + self.csize, self.max)  # 6.19 stops at si->max
        cl = self.clusters[c]
        found = 0
        nxt = 0
        if end >= nr and cl.count + nr <= self.csize:
            last = end - nr
            off = offset
            while off <= last:
                ok, need_reclaim = self._scan_range(op, c, off, nr)
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
        for _ in range(self.ncl + 1):
            c = self._isolate(op, key)
            if c is None:
                return 0
            found = self._scan_cluster(op, row, c, c * self.csize, order)
            if found or not scan_all:
                return found
        return 0

    def _alloc_fast(self, op, cpu, order):
        self._c(op, "pcpu_access")
        if not self.solidstate:
            return 0
        off = self.pcpu[(cpu, order)]
        if not off:
            return 0
        c = off // self.csize
        self._c(op, "cluster_lock")
        if not self._usable(c, order):
            return 0
        if self.clusters[c].count == 0:
            off = c * self.csize
        return self._scan_cluster(op, cpu, c, off, order)

    def _slow_steps(self, order):
        """cluster_alloc_swap_entry()'s steps in 6.19 order."""
        steps = []
        if self.discard:
            steps.append(("free", False))
        if order < PMD_ORDER:
            steps.append((("nonfull", order), True))
        if not self.discard:
            steps.append(("free", False))
        steps.append("reclaim_full")
        if order < PMD_ORDER:
            steps.append((("frag", order), False))
        if self.discard:
            steps.append("discard_restart")
        if order == 0:
            for o in range(1, N_ORDERS):
                steps.append((("frag", o), True))
                steps.append((("nonfull", o), True))
        return steps

    def _alloc_slow(self, op, cpu, order):
        if order > 0 and not self.blkdev:
            return 0
        row = cpu
        if not self.solidstate:
            row = "global"
            self._c(op, "si_lock")  # global_cluster_lock
            off = self.pcpu[(row, order)]
            if off:
                c = off // self.csize
                self._c(op, "cluster_lock")
                if self._usable(c, order):
                    if self.clusters[c].count == 0:
                        off = c * self.csize
                    found = self._scan_cluster(op, row, c, off, order)
                    if found:
                        return found
        steps = self._slow_steps(order)
        i = 0
        while i < len(steps):
            step = steps[i]
            i += 1
            if step == "reclaim_full":
                if self.vm_swap_full():
                    self.reclaim_full(False)
            elif step == "discard_restart":
                # swap_do_scheduled_discard() takes si->lock even with nothing pending
                if self._do_scheduled_discard(op):
                    i = 0
            else:
                key, scan_all = step
                found = self._scan_list(op, row, key, order, scan_all)
                if found:
                    return found
        return 0

    def alloc(self, op, cpu, order):
        """The allocation part of folio_alloc_swap(): first offset or 0."""
        if not self.writeok:  # swapoff took the device off the available list
            self.alloc_fail += 1
            return 0
        if self.discard_pending:
            self._do_scheduled_discard(op)
        if (1 << order) > self.csize:
            return 0
        found = self._alloc_fast(op, cpu, order)
        if found:
            return found
        if self.avail:
            found = self._alloc_slow(op, cpu, order)
            if found:
                return found
        self.alloc_fail += 1
        return 0

    def deferred_work(self):
        if self.reclaim_pending:
            self.reclaim_pending = False
            return self.reclaim_full(True)
        return 0

    def reclaim_full(self, force):
        """swap_reclaim_full_clusters()."""
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
                if self._probe(op, off) == SLOT_CACHE_ONLY:
                    n = self.owner.phys_slot_reclaim(op, off)
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

    def free_range(self, op, start, nr):
        """Cluster and device bookkeeping after ``nr`` slots of one cluster were cleared."""
        c = start // self.csize
        cl = self.clusters[c]
        cl.count -= nr
        self.inuse -= nr
        if self.inuse < self.pages and self.writeok:
            self.avail = True
        if cl.count == 0:
            self._free_cluster(op, c)
        elif cl.flags != NONFULL:
            self._move(op, c, ("nonfull", cl.order), NONFULL)

    # ---- swapoff

    def swapoff_begin(self):
        """swapoff(2) starts: SWP_WRITEOK off, off the available list, the per-CPU
        offsets dropped (no cost is counted)."""
        self.writeok = False
        self.avail = False
        for key in self.pcpu:
            self.pcpu[key] = 0

    def next_used(self, off):
        """try_to_unuse()'s walk: the first slot at or after ``off`` in a cluster that
        holds any slot (bad slots included), or -1."""
        while off < self.max:
            c = off // self.csize
            if self.clusters[c].count:
                return off
            off = (c + 1) * self.csize
        return -1

    def swapoff_end(self, op="swapoff"):
        """swapoff(2) ends: the slots still in use; none: pending discards flushed,
        every table left freed, the device off."""
        if self.inuse == 0:
            if self.discard_pending:
                self._do_scheduled_discard(op)
            for c in range(len(self.clusters)):
                self._free_table(op, c)
            self.off = True
        return self.inuse


# --------------------------------------------------------------------------- virtual


class NaiveVswap:
    def __init__(self, nslots, *, ncpu=1, cluster_size=512, solidstate=True, discard=False,
                 blkdev=True, synchronous=False, virtual_slots=None, virtual_cluster_size=512,
                 rmap_cache_only_bit=False, defer_cgroup_check=False,
                 cluster_lookup_cache=False, batch_ops=False, lookup_cache_ways=1, layout_v6=False):
        self.counters = [[0] * len(PRIMITIVES) for _ in OPS]
        self.dev = Phys619(self, nslots, cluster_size=cluster_size, ncpu=ncpu,
                           solidstate=solidstate, discard=discard, blkdev=blkdev)
        self.synchronous = synchronous  # SWP_SYNCHRONOUS_IO (zram, pmem)
        self.rmap_bit = rmap_cache_only_bit
        self.defer_cg = defer_cgroup_check
        self.lookup_cache = cluster_lookup_cache
        self.ways = lookup_cache_ways
        self.batch = batch_ops
        self.layout_v6 = layout_v6
        self.vsize = virtual_cluster_size
        self.vshift = virtual_cluster_size.bit_length() - 1
        self.ncpu = ncpu
        if virtual_slots is None:
            virtual_slots = 2 * nslots
        # slab objects the design has room for (live clusters + those awaiting RCU)
        self.nrows = -(-virtual_slots // self.vsize) + ncpu * N_ORDERS + RCU_DELAY + 2

        self.clusters = {}
        self.cmap = NaiveXArray(XA_CHUNK_SHIFT)
        self.partial = {o: [] for o in range(N_ORDERS)}
        self.alloc_cache = [[None] * N_ORDERS for _ in range(ncpu)]
        self.mru = [[] for _ in range(ncpu)]  # cluster ids, most recent first
        self.clock = 0
        self.rcu_pending = []  # due times of freed cluster objects
        self.zswap_entries = 0
        self.zswap_stored = 0  # zswap entries ever stored: the last one's identity

        # the folio side of Ctx
        self.folio_swap = {}
        self.folio_order = {}
        self.folio_flags = {}
        self.cache_drops = 0
        self.cpu = 0  # Ctx.meta[C_CPU]

    # ------------------------------------------------------------------ helpers

    def _c(self, op, prim, n=1):
        """Charge ``n`` ``prim`` (a primitive name) to the row of operation ``op``."""
        self.counters[_OP_ROW[op]][_PRIM_COL[prim]] += n

    def counter_matrix(self):
        """The counters as a list of rows, like ``Ctx.counters``."""
        return self.counters

    def counters_by_name(self):
        return {(o, p): v for o, row in zip(OPS, self.counters) for p, v in zip(PRIMITIVES, row) if v}

    def split(self, entry):
        return entry >> self.vshift, entry & (self.vsize - 1)

    def desc_of(self, entry):
        cid, i = self.split(entry)
        cl = self.clusters.get(cid)
        return None if cl is None else cl.desc[i]

    def reserved_nr(self, order):
        """Slots cluster 0 reserves when it serves ``order``: the first nr."""
        return min(1 << order, self.vsize)

    def reserved(self, entry):
        """Entries of cluster 0 that are reserved, not allocated."""
        cid, i = self.split(entry)
        if cid:
            return False
        cl0 = self.clusters.get(0)
        return i == 0 or (cl0 is not None and i < self.reserved_nr(cl0.order))

    def allocated(self, entry):
        cid, i = self.split(entry)
        cl = self.clusters.get(cid)
        return cl is not None and i in cl.bits and not self.reserved(entry)

    def live_entries(self):
        """Every allocated virtual entry (the reserved entries excluded)."""
        out = []
        for cid in sorted(self.clusters):
            cl = self.clusters[cid]
            for i in sorted(cl.bits):
                e = (cid << self.vshift) | i
                if not self.reserved(e):
                    out.append(e)
        return out

    def tick(self):
        """One verb call: cluster objects whose grace period ended go back to the slab."""
        self.clock += 1
        self.rcu_pending = [due for due in self.rcu_pending if due > self.clock]

    # ---- the cluster map

    def _xa_load(self, op, cid):
        self._c(op, "xa_lookup")
        before = self.cmap.visits
        cl = self.cmap.load(cid)
        self._c(op, "xa_node_visit", self.cmap.visits - before)
        return cl

    def _xa_store(self, op, cid, cl):
        before = len(self.cmap.nodes())
        self.cmap.store(cid, cl)
        self._c(op, "xa_store")
        self._c(op, "xa_node_visit", self.cmap.height())  # the walk down to the leaf
        self._c(op, "xa_node_alloc", len(self.cmap.nodes()) - before)

    def _xa_erase(self, op, cid):
        visits = self.cmap.height()  # the key is present: the walk reaches the leaf
        before = len(self.cmap.nodes())
        self.cmap.erase(cid)
        self._c(op, "xa_erase")
        self._c(op, "xa_node_visit", visits)
        self._c(op, "xa_node_free", before - len(self.cmap.nodes()))

    # ---- clusters

    def _lookup(self, op, cid):
        """vswap_iter()'s cluster lookup, through the per-CPU lookup cache if on."""
        if not self.lookup_cache:
            return self._xa_load(op, cid)
        cache = self.mru[self.cpu]
        if cid in cache:
            self._c(op, "lookup_cache_hit")
            cache.remove(cid)
            cache.insert(0, cid)
            return self.clusters[cid]
        self._c(op, "lookup_cache_miss")
        cl = self._xa_load(op, cid)
        old = None
        if cl is not None:
            cache.insert(0, cid)
            cl.ref += 1
            if len(cache) > self.ways:
                old = cache.pop()
        elif cache:
            old = cache.pop(0)  # a lookup that finds nothing gives up the front way
        if old is not None:
            self._put_ref(op, self.clusters[old], 1)
        return cl

    def _lookup_lock(self, op, entry):
        cl = self._lookup(op, entry >> self.vshift)
        if cl is not None:
            self._c(op, "cluster_lock")
        return cl

    def _settle(self, op):
        """End of an operation: the lookup cache lets go of an emptied cluster."""
        if not self.lookup_cache:
            return
        cache = self.mru[self.cpu]
        for cid in list(cache):
            if self.clusters[cid].count == 0:
                cache.remove(cid)
                self._put_ref(op, self.clusters[cid], 1)

    def on_partial(self, cl):
        return cl.id in self.partial[cl.order]

    def _partial_add(self, op, cl):
        self._c(op, "si_lock")
        self.partial[cl.order].append(cl.id)

    def _put_ref(self, op, cl, n):
        cl.ref -= n
        if cl.ref > 0:
            return
        if self.on_partial(cl):
            self._c(op, "si_lock")
            self.partial[cl.order].remove(cl.id)
        self._xa_erase(op, cl.id)
        del self.clusters[cl.id]
        self._c(op, "mem_free")  # call_rcu
        self.rcu_pending.append(self.clock + RCU_DELAY)

    def _new_cluster(self, op, order):
        if len(self.clusters) + len(self.rcu_pending) >= self.nrows:
            return None
        self._c(op, "mem_alloc")
        cid = 0
        while cid in self.clusters:
            cid += 1
        self._c(op, "xa_node_visit", self.cmap.height())  # xa_alloc finds the free index
        cl = VCluster(cid, order, self.vsize)
        self._xa_store(op, cid, cl)
        self.clusters[cid] = cl
        if cid == 0:  # entry 0 is invalid: the first nr slots of the order are reserved
            nres = self.reserved_nr(order)
            cl.bits.update(range(nres))
            cl.count = nres
            cl.ref = nres
        return cl

    def _find_area(self, op, cl, nr):
        self._c(op, "bitmap_op")
        for start in range(0, self.vsize - nr + 1, nr):
            if not any(i in cl.bits for i in range(start, start + nr)):
                return start
        return None

    def _cpu_holds(self, cl):
        return any(self.alloc_cache[cpu][cl.order] is cl for cpu in range(self.ncpu))

    # ---- physical side

    def _phys_free(self, op, start, n):
        self._c(op, "cluster_lock")
        for s in range(start, start + n):
            self._c(op, "rmap_write")
            self.dev.slots[s] = None
            self._c(op, "map_write")
            self._c(op, "slot_free_notify")
        self.dev.free_range(op, start, n)

    def _release_backing(self, op, cl, idx, n):
        """release_backing() + release_vswap_slot_nr() of descriptors [idx, idx+n)."""
        ranges = []  # contiguous physical ranges inside one physical cluster
        charged = 0
        for i in range(idx, idx + n):
            d = cl.desc[i]
            self._c(op, "desc_read")
            if d.type == SWAPFILE:
                p = d.backend
                charged += 1
                if self.batch:
                    if ranges and p == sum(ranges[-1]) and ranges[-1][0] // self.dev.csize == p // self.dev.csize:
                        ranges[-1][1] += 1
                    else:
                        ranges.append([p, 1])
                else:
                    self._phys_free(op, p, 1)
                    self._c(op, "memcg_uncharge")
            elif d.type == ZSWAP:
                self._c(op, "mem_free")  # zswap_entry_free
                self.zswap_entries -= 1
            self._c(op, "desc_write")
            d.clear()
        if self.batch:
            for p, k in ranges:
                self._phys_free(op, p, k)
            if charged:
                self._c(op, "memcg_uncharge")
        for i in range(idx, idx + n):
            cl.bits.discard(i)
        self._c(op, "bitmap_op", 1 if self.batch else n)
        was_full = cl.count == self.vsize
        cl.count -= n
        if was_full and not self.on_partial(cl) and cl.ref > n and not self._cpu_holds(cl):
            self._partial_add(op, cl)
        self._put_ref(op, cl, n)

    def _free_run(self, op, cl, idx, n):
        if self.batch:
            self._release_backing(op, cl, idx, n)
        else:
            for i in range(idx, idx + n):
                self._release_backing(op, cl, i, 1)

    def _rmap_mark(self, op, d, cache_only):
        """The reverse map's C bit follows cache-only state of SWAPFILE entries."""
        if not self.rmap_bit or d.type != SWAPFILE:
            return
        self._c(op, "rmap_write")
        self.dev.slots[d.backend].cache_only = cache_only

    def _alloc_phys(self, op, entry, nr):
        """vswap_alloc_swap_slot() after its descriptor check."""
        p = self.dev.alloc(op, self.cpu, nr.bit_length() - 1)
        if not p:
            return ENOMEM
        for i in range(nr):
            self._c(op, "rmap_write")
            d = self.desc_of(entry + i)
            c_bit = self.rmap_bit and d.count == 0 and d.in_cache  # already cache-only
            self.dev.slots[p + i] = Rmap(entry + i, c_bit)
            self._c(op, "map_write")
        self._c(op, "memcg_charge")
        self.dev.deferred_work()
        self._c(op, "cluster_lock")  # the virtual cluster again, for the store
        return p

    # ---- swap cache internals

    def _folio_of(self, op, entry):
        cl = self._lookup_lock(op, entry)
        if cl is None:
            return None
        self._c(op, "desc_read")
        d = cl.desc[entry & (self.vsize - 1)]
        return d.folio if d.in_cache else None

    def _only_has_cache(self, op, start, nr):
        cl = self._lookup_lock(op, start)
        for e in range(start, start + nr):
            self._c(op, "desc_read")
            if cl.desc[e & (self.vsize - 1)].count:
                return False
        return True

    def _cache_del(self, op, start, nr):
        """swap_cache_del_folio(): in_swapcache cleared; uncounted slots are freed."""
        cl = self._lookup_lock(op, start)
        i0 = start & (self.vsize - 1)
        folio = cl.desc[i0].folio
        run = None
        for i in range(i0, i0 + nr):
            d = cl.desc[i]
            self._c(op, "desc_write")
            d.in_cache = False
            d.folio = None
            if d.count == 0:
                if run is None:
                    run = i
            elif run is not None:
                self._free_run(op, cl, run, i - run)
                run = None
        if run is not None:
            self._free_run(op, cl, run, i0 + nr - run)
        if folio is not None:
            del self.folio_swap[folio]

    def _drop_stale_backend(self, op, cl, i0, nr, keep_phys):
        for i in range(i0, i0 + nr):
            d = cl.desc[i]
            if d.type == ZSWAP:
                self._c(op, "mem_free")
                self.zswap_entries -= 1
                d.backend = 0
                d.type = FOLIO
            elif d.type == ZERO:
                d.type = FOLIO
            elif d.type == SWAPFILE and not keep_phys:
                self._phys_free(op, d.backend, 1)
                self._c(op, "memcg_uncharge")
                d.backend = 0
                d.type = FOLIO

    # ------------------------------------------------------------------ hooks

    def phys_slot_scan(self, op, off):
        self._c(op, "map_read")
        s = self.dev.slots[off]
        if s is None:
            return SLOT_FREE
        if s is BAD:
            return SLOT_BUSY
        self._c(op, "rmap_read")
        if self.rmap_bit:
            return SLOT_CACHE_ONLY if s.cache_only else SLOT_BUSY
        cl = self._lookup_lock(op, s.entry)
        self._c(op, "desc_read")
        d = cl.desc[s.entry & (self.vsize - 1)]
        return SLOT_CACHE_ONLY if d.count == 0 and d.in_cache else SLOT_BUSY

    def phys_slot_reclaim(self, op, off):
        self._c(op, "rmap_read")
        return self._try_reclaim(op, self.dev.slots[off].entry, TTRS_ANYWAY)

    # ------------------------------------------------------------------ verbs

    def alloc(self, cpu, order, folio, memcg):
        op = "alloc"
        self.tick()
        self.cpu = cpu
        nr = 1 << order
        if nr > self.vsize:
            return ENOMEM
        cl = self.alloc_cache[cpu][order]
        idx = None
        if cl is not None:
            self._c(op, "cluster_lock")
            idx = self._find_area(op, cl, nr)
            if idx is None:  # used up for this order: the CPU lets it go
                self.alloc_cache[cpu][order] = None
                if cl.count < self.vsize and cl.ref > 1:
                    self._partial_add(op, cl)
                self._put_ref(op, cl, 1)
                cl = None
        if cl is None:
            self._c(op, "si_lock")  # partial_clusters_lists[order] under xa_lock
            for cid in list(self.partial[order]):
                cand = self.clusters[cid]
                self._c(op, "cluster_lock")
                idx = self._find_area(op, cand, nr)
                if idx is not None:
                    self.partial[order].remove(cid)
                    cl = cand
                    break
            if cl is None:
                cl = self._new_cluster(op, order)
                if cl is None:
                    return ENOMEM
                self._c(op, "cluster_lock")
                idx = self._find_area(op, cl, nr)
                if idx is None:  # cluster 0 (all reserved) cannot serve a whole-cluster order
                    cl = self._new_cluster(op, order)
                    if cl is None:
                        return ENOMEM
                    self._c(op, "cluster_lock")
                    idx = self._find_area(op, cl, nr)
            self.alloc_cache[cpu][order] = cl
            cl.ref += 1
        self._c(op, "bitmap_op")
        cl.bits.update(range(idx, idx + nr))
        cl.count += nr
        cl.ref += nr
        for i in range(idx, idx + nr):
            self._c(op, "desc_write")
            d = cl.desc[i]
            d.clear()
            d.folio = folio
            d.memcg = memcg
            d.type = FOLIO
            d.in_cache = True
        entry = (cl.id << self.vshift) + idx
        self.folio_swap[folio] = entry
        self.folio_order[folio] = order
        return entry

    def _verb(self, op, body, *args):
        """A verb call: one tick of the RCU clock, the body, then the end of the
        operation for the lookup cache (on every return path)."""
        self.tick()
        ret = body(op, *args)
        self._settle(op)
        return ret

    def dup(self, op, entry, nr):
        return self._verb(op, self._dup, entry, nr)

    def _dup(self, op, entry, nr):
        for e in range(entry, entry + nr):
            cl = self._lookup_lock(op, e)
            if cl is None:
                return ENOENT
            d = cl.desc[e & (self.vsize - 1)]
            self._c(op, "desc_read")
            if d.count == 0 and not d.in_cache:
                return ENOENT
            if d.count == 0:
                self._rmap_mark(op, d, False)
            self._c(op, "desc_write")
            d.count += 1
        return 0

    def pte_batch(self, op, entry, nr):
        return self._verb(op, self._pte_batch, entry, nr)

    def _pte_batch(self, op, entry, nr):
        if self.defer_cg:
            return nr
        first = None
        for k in range(nr):
            e = entry + k
            cl = self._lookup_lock(op, e)
            self._c(op, "desc_read")
            m = cl.desc[e & (self.vsize - 1)].memcg
            if k == 0:
                first = m
            elif m != first:
                return k
        return nr

    def put(self, op, entry, nr, reclaim_cache):
        return self._verb(op, self._put, entry, nr, reclaim_cache)

    def _put(self, op, entry, nr, reclaim_cache):
        mask = self.vsize - 1
        freed = 0
        any_cache_only = False
        off, end = entry, entry + nr
        while off < end:
            cend = min(((off >> self.vshift) + 1) << self.vshift, end)
            cl = self._lookup_lock(op, off) if self.batch else None
            run = None
            run_memcg = None
            for e in range(off, cend):
                if not self.batch:
                    cl = self._lookup_lock(op, e)
                i = e & mask
                d = cl.desc[i]
                self._c(op, "desc_read")
                d.count -= 1
                self._c(op, "desc_write")
                if d.count == 0 and not d.in_cache:
                    if self.batch:
                        if run is not None and d.memcg != run_memcg:
                            self._free_run(op, cl, run, i - run)
                            run = None
                        if run is None:
                            run, run_memcg = i, d.memcg
                    else:
                        self._free_run(op, cl, i, 1)
                    freed += 1
                else:
                    if d.count == 0:
                        self._rmap_mark(op, d, True)
                        any_cache_only = True
                    if run is not None:
                        self._free_run(op, cl, run, i - run)
                        run = None
            if run is not None:
                self._free_run(op, cl, run, ((cend - 1) & mask) + 1 - run)
            off = cend
        if any_cache_only and reclaim_cache:
            e = entry
            while e < end:
                r = self._try_reclaim(op, e, TTRS_UNMAPPED | TTRS_FULL)
                e += 1
                if r:
                    step = abs(r)
                    e = -(-e // step) * step
        return freed

    def try_reclaim(self, op, entry, flags):
        """The verb: __try_to_reclaim_swap() as an operation of its own."""
        return self._verb(op, self._try_reclaim, entry, flags)

    def _try_reclaim(self, op, entry, flags):
        """__try_to_reclaim_swap(): +nr reclaimed, -nr kept, 0 no folio."""
        folio = self._folio_of(op, entry)
        if folio is None:
            return 0
        start = self.folio_swap[folio]
        nr = 1 << self.folio_order[folio]
        need = bool(flags & TTRS_ANYWAY)
        if not need and flags & TTRS_UNMAPPED and not self.folio_flags.get(folio, 0) & FOLIO_MAPPED:
            need = True
        if not need and flags & TTRS_FULL and self.dev.vm_swap_full():
            need = True
        if not need:
            return -nr
        if not self._only_has_cache(op, start, nr):
            return -nr
        self._cache_del(op, start, nr)
        self.cache_drops += 1
        return nr

    def cache_lookup(self, op, entry):
        return self._verb(op, self._cache_lookup, entry)

    def _cache_lookup(self, op, entry):
        folio = self._folio_of(op, entry)
        return -1 if folio is None else folio

    def cache_add(self, op, entry, nr, folio):
        return self._verb(op, self._cache_add, entry, nr, folio)

    def _cache_add(self, op, entry, nr, folio):
        mask = self.vsize - 1
        start = entry // nr * nr
        cl = self._lookup_lock(op, start)
        if cl is None:
            return ENOENT
        d0 = cl.desc[entry & mask]
        self._c(op, "desc_read")
        if (entry & mask) not in cl.bits:
            return ENOENT
        if d0.in_cache:
            return EEXIST
        if d0.count == 0:
            return ENOENT
        if nr > 1:
            if d0.type == ZSWAP:
                return EBUSY
            for e in range(start, start + nr):
                d = cl.desc[e & mask]
                self._c(op, "desc_read")
                if ((e & mask) not in cl.bits or d.in_cache or d.count == 0
                        or d.type != d0.type or d.memcg != d0.memcg):
                    return EBUSY
        if self.batch:
            self._c(op, "cluster_lock")
        else:
            self._lookup_lock(op, start)
        for e in range(start, start + nr):
            self._c(op, "desc_write")
            d = cl.desc[e & mask]
            d.in_cache = True
            d.folio = folio
        self.folio_swap[folio] = start
        self.folio_order[folio] = nr.bit_length() - 1
        self._c(op, "memcg_charge")
        return 0

    def cache_del(self, op, entry, nr):
        return self._verb(op, self._cache_del_verb, entry, nr)

    def _cache_del_verb(self, op, entry, nr):
        self._cache_del(op, entry, nr)
        return 0

    def cache_free(self, op, entry, nr):
        return self._verb(op, self._cache_free, entry, nr)

    def _cache_free(self, op, entry, nr):
        if not self._only_has_cache(op, entry, nr):
            return 0
        self._cache_del(op, entry, nr)
        return 1

    def writeout(self, op, entry, nr, backend):
        return self._verb(op, self._writeout, entry, nr, backend)

    def _writeout(self, op, entry, nr, backend):
        if self._only_has_cache(op, entry, nr):  # folio_free_swap()
            self._cache_del(op, entry, nr)
            return BACKEND_NONE
        i0 = entry & (self.vsize - 1)
        cl = self._lookup_lock(op, entry)  # the backing check
        self._c(op, "desc_read")
        phys_backed = cl.desc[i0].type == SWAPFILE
        self._drop_stale_backend(op, cl, i0, nr, backend == BACKEND_DISK)
        result = backend
        if backend == BACKEND_ZERO:
            if not self.batch:
                self._lookup_lock(op, entry)
            for i in range(i0, i0 + nr):
                self._c(op, "desc_write")
                cl.desc[i].type = ZERO
        elif backend == BACKEND_ZSWAP:
            for i in range(i0, i0 + nr):
                self._c(op, "mem_alloc")
                self._lookup_lock(op, entry)  # zswap_entry_store()
                self._c(op, "desc_write")
                self.zswap_entries += 1
                self.zswap_stored += 1
                cl.desc[i].backend = self.zswap_stored  # the new entry's identity
                cl.desc[i].type = ZSWAP
        elif not phys_backed:
            self._lookup_lock(op, entry)  # vswap_alloc_swap_slot()
            self._c(op, "desc_read")
            p = self._alloc_phys(op, entry, nr)
            if p < 0:
                result = ENOMEM
            else:
                for i in range(i0, i0 + nr):
                    self._c(op, "desc_write")
                    cl.desc[i].backend = p + (i - i0)
                    cl.desc[i].type = SWAPFILE
        return result

    def read_backend(self, op, entry):
        return self._verb(op, self._read_backend, entry)

    def _read_backend(self, op, entry):
        cl = self._lookup_lock(op, entry)
        d = cl.desc[entry & (self.vsize - 1)]
        self._c(op, "desc_read")
        result = BACKEND_FOLIO
        if d.type == ZERO:
            result = BACKEND_ZERO
        else:
            if not self.batch:
                self._lookup_lock(op, entry)  # zswap_entry_load()
                self._c(op, "desc_read")
            if d.type == ZSWAP:
                self._c(op, "desc_write")
                self._c(op, "mem_free")
                self.zswap_entries -= 1
                d.backend = 0
                d.type = FOLIO
                result = BACKEND_ZSWAP
            else:
                if not self.batch:
                    self._lookup_lock(op, entry)  # swp_entry_to_swp_slot()
                    self._c(op, "desc_read")
                if d.type == SWAPFILE:
                    result = BACKEND_DISK
        return result

    def ra_probe(self, op, entry):
        """do_swap_page()'s choice after a cache miss: only an entry backed by a physical
        slot on a synchronous device skips readahead (swp_entry_to_swp_slot: a lookup,
        the lock, a descriptor read); -ENOENT for an entry not allocated."""
        return self._verb(op, self._ra_probe, entry)

    def _ra_probe(self, op, entry):
        if self.swap_count(entry) < 0:
            return ENOENT
        cl = self._lookup_lock(op, entry)
        self._c(op, "desc_read")
        typ = cl.desc[entry & (self.vsize - 1)].type
        return RA_SYNC if typ == SWAPFILE and self.synchronous else RA_READAHEAD

    def zswap_writeback(self, op, entry, folio):
        return self._verb(op, self._zswap_writeback, entry, folio)

    def _zswap_writeback(self, op, entry, folio):
        err = self._cache_add(op, entry, 1, folio)
        if err:
            return err
        cl = self._lookup_lock(op, entry)  # zswap_entry_load() verify
        d = cl.desc[entry & (self.vsize - 1)]
        self._c(op, "desc_read")
        if d.type != ZSWAP:
            self._cache_del(op, entry, 1)
            return ENOMEM
        self._lookup_lock(op, entry)  # vswap_alloc_swap_slot()
        self._c(op, "desc_read")
        p = self._alloc_phys(op, entry, 1)
        if p < 0:
            self._cache_del(op, entry, 1)
            return ENOMEM
        self._c(op, "desc_write")
        self._c(op, "mem_free")  # zswap_entry_free()
        self.zswap_entries -= 1
        d.backend = p
        d.type = SWAPFILE
        self._cache_del("cache_del", entry, 1)
        return 0

    def reclaim_full(self, force):
        """The verb: swap_reclaim_full_clusters(); its operation row is reclaim_scan."""
        return self._verb("reclaim_scan", lambda op: self.dev.reclaim_full(force))

    # ---- swapoff

    def swapoff_begin(self):
        self.dev.swapoff_begin()

    def unuse_entry(self, op, off):
        """swapoff's look at physical slot ``off``: the allocated bit, then the reverse
        map names the virtual entry (0 for a free or bad slot).  Not a verb of its own
        for the RCU clock and the lookup cache."""
        self._c(op, "map_read")
        s = self.dev.slots[off]
        if s is None or s is BAD:
            return 0
        self._c(op, "rmap_read")
        return s.entry

    def unuse(self, op, entry, folio):
        return self._verb(op, self._unuse, entry, folio)

    def _unuse(self, op, entry, folio):
        """The entry's data is in ``folio`` (in the swap cache): a SWAPFILE entry
        becomes a FOLIO one and its physical slot is freed (and uncharged)."""
        cl = self._lookup_lock(op, entry)
        if cl is None:
            return ENOENT
        d = cl.desc[entry & (self.vsize - 1)]
        self._c(op, "desc_read")
        if not d.in_cache or d.folio != folio:
            return EBUSY
        if d.type == SWAPFILE:
            self._phys_free(op, d.backend, 1)
            self._c(op, "memcg_uncharge")
            self._c(op, "desc_write")
            d.backend = 0
            d.type = FOLIO
        return 0

    def swapoff_end(self):
        return self.dev.swapoff_end()

    def swap_count(self, entry):
        """-1 when not allocated (reserved entries included), else the count."""
        if not self.allocated(entry):
            return -1
        return self.desc_of(entry).count

    def live_rows(self):
        return len(self.clusters) + len(self.rcu_pending)

    def metadata_bytes(self):
        dev = self.dev
        rows = self.live_rows()
        desc = rows * self.vsize * 24
        if self.layout_v6:
            cluster = rows * 112
        else:
            cluster = rows * v5_cluster_object_bytes(self.vsize) - desc
        on = not dev.off  # swapoff freed the static arrays
        return {
            "phys_bitmaps": 2 * (-(-dev.max // 64)) * 8 * on,
            "cluster_info": dev.ncl * 32 * on,
            "rmap_table": dev.tables * dev.csize * 8,
            "vswap_cluster": cluster,
            "vswap_desc": desc,
            "cluster_map_nodes": len(self.cmap.nodes()) * 576,
            "zswap_entry": self.zswap_entries * 56,
        }
