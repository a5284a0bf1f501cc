"""Slow, obviously correct reference model of the ``swap_table`` design (swap table P4).

Plain Python: a list with one object per slot, one object per cluster, Python lists for
the cluster lists, dicts for the folio side, and one ``NaiveXArray`` per 64 MiB zswap
tree.  It is written from the kernel (mm/swapfile.c at linux-mm 000bd100, mm/swap_state.c
and mm/zswap.c at 008bbb62, mm/page_io.c, mm/swap_table.h), not from the Numba code; only
the counter conventions (which primitive a step is charged as, and to which row) are
taken from the Numba design, because those are the model's own definitions.  The
device and its cluster allocator (clusters, lists, per-CPU offsets, the P4 slow path,
full-cluster reclaim, swapoff's device steps) are :class:`naive_allocator.NaiveDevice`,
shared with the other reference models; this model says how a slot looks to it (one
table word read) and what a populated cluster allocates (table + memcg table).

State
-----
* ``slots[off]``: ``None`` for a free slot (NULL entry), ``BAD`` for the header and the
  tail of the last cluster, else a :class:`Slot` with the *true* swap count, the cached
  folio (``None`` = a shadow entry) and the zero flag.  The table word's inline COUNT is
  ``min(count, 15)`` and the cluster's extend table holds ``count`` while it is >= 15
  (``inline_count`` / ``ext_value``), which is exactly what __swap_cluster_dup_entry and
  __swap_cluster_put_entry maintain.
* ``clusters[c]``: count (bad slots included), order, the list it is on (its flags), whether
  its table (+ memcg table) and its extend table are allocated.
* ``lists``: ``"free"``, ``"full"``, ``"discard"``, ``("nonfull", o)``, ``("frag", o)``;
  ``append`` adds at the tail, ``pop(0)`` isolates the head (no contention modelled).
* ``pcpu[(row, order)]``: the next offset per CPU and order; row ``"global"`` is the
  rotational device's ``si->global_cluster->next[order]``.
* ``memcg[off]``: the memcg id recorded for the slot (absent = 0).
* ``trees[t]``: zswap tree ``t`` (one per 16384 slots, indexed by the unmasked offset).
* folio side: ``folio_swap`` (cached folios only), ``folio_order``, ``folio_flags``
  (dicts, default 0), the same fields ``Ctx.folio`` holds; ``cache_drops`` and ``zswap_enabled`` mirror
  ``Ctx.meta``.

How this differs from the kernel's formulation
----------------------------------------------
The verbs take the kernel's steps in the kernel's order (every step is a counted
primitive and the counters are compared cell by cell); the state is the simple one:
the *true* count per slot instead of the 4-bit COUNT plus the extend table (both are
derived from it: ``inline_count`` / ``ext_value``), a dict of memcg ids instead of the
memcg table, one ``NaiveXArray`` (a dict, nodes derived from its keys) per zswap tree,
whether a cluster has an extend table instead of the table itself, and the
allocator's simplifications (``naive_allocator``).

Counter conventions (shared with the Numba design, see its module docstrings)
----------------------------------------------------------------------------
* every cluster spin_lock is one ``cluster_lock``; every ``si->lock`` (list move,
  isolation) and the rotational ``global_cluster_lock`` is one ``si_lock``; each
  ``swap_alloc_fast`` attempt is one ``pcpu_access``;
* every 8-byte table word read / written is one ``table_read`` / ``table_write``
  (the zero flag test of an already-read word is not a second read);
* extend-table words: ``ext_read`` / ``ext_write``; ``swap_extend_table_try_free``
  reads all ``cluster_size`` words of an allocated extend table;
* memcg ids: ``memcg_read`` / ``memcg_write`` (a clear writes only a non-zero id);
  ``memcg_charge`` for the swap charge at allocation (only when a memcg is given) and
  for ``mem_cgroup_swapin_charge_folio`` at every successful cache add; one
  ``memcg_uncharge`` per run of equal non-zero ids in ``__swap_cluster_free_entries``;
* table + memcg table of a populated cluster: ``mem_alloc`` / ``mem_free`` 2;
  extend table and zswap entry: 1 each;
* zswap trees: ``xa_lookup`` / ``xa_store`` / ``xa_erase`` per call, ``xa_node_visit``
  for the nodes a load, store or erase walk visits, ``xa_node_alloc`` / ``xa_node_free``;
* one ``slot_free_notify`` per freed slot whose data is on a zram device (not a zero
  or zswap slot).

Undocumented conventions found in the Numba code and followed here (noted in the report):
* the memcg record at allocation takes one extra ``cluster_lock`` (only with a memcg);
* ``cluster_reclaim_range`` charges one ``cluster_lock`` for the relock; the full-cluster
  reclaim one per relock after each ``__try_to_reclaim_swap``;
* full-cluster reclaim (slow-path step or ``reclaim_work``) is charged to
  ``reclaim_scan``; reclaim inside ``cluster_reclaim_range`` to the allocating op;
* pending discards run at the start of the next allocation, charged to ``alloc``
  (``si_lock`` once, then per discarded cluster ``cluster_lock``, the move and
  ``si_lock`` again);
* zswap writeback's final removal of the written folio from the cache is charged to
  ``cache_del``;
* ``try_reclaim`` counts ``mem_cgroup_swap_full`` as ``vm_swap_full``;
* ``zswap_load`` does nothing until zswap was enabled (``zswap_never_enabled()``:
  ``Ctx.meta[C_ZSWAP_ENABLED]``, set by the first store or up front by the mm).

Kernel behaviours found by writing this model that the design first lacked, now in
both: a disk writeout drops the folio's stale zswap entries (``check_old``); a zswap
store frees the entry it replaces; ``swap_range_alloc`` tests ``vm_swap_full()`` before
subtracting the allocation that filled the device; a large swap-in over zswap entries
is refused with -EBUSY (``zswap_is_present``, counted as one ``xa_load`` per page
until a hit [I]); the scheduled discard takes ``si->lock`` 2N+1 times; a failed
writeback check returns -ENOMEM.
"""
from __future__ import annotations

from naive_allocator import BAD, NaiveDevice
from naive_xarray import NaiveXArray

COUNT_MAX = 15  # 4-bit inline COUNT; 15 marks an overflow into the extend table
ZSWAP_SHIFT = 14  # one zswap tree per 64 MiB = 16384 slots
XA_CHUNK_SHIFT = 6

TTRS_ANYWAY, TTRS_UNMAPPED, TTRS_FULL = 1, 2, 4
FOLIO_MAPPED = 1
BACKEND_NONE, BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_DISK = 0, 1, 2, 3
EINVAL, ENOMEM, ENOENT, EEXIST, EBUSY = -22, -12, -2, -17, -16


class Slot:
    """An allocated slot: a shadow entry (folio None) or a cached one (PFN entry)."""

    __slots__ = ("count", "folio", "zero")

    def __init__(self, count=0, folio=None, zero=False):
        self.count = count
        self.folio = folio
        self.zero = zero

    def __repr__(self):
        kind = "shadow" if self.folio is None else f"folio={self.folio}"
        return f"Slot(count={self.count}, {kind}, zero={self.zero})"


def inline_count(count):
    """The 4-bit COUNT field of the table word for a slot whose real count is ``count``."""
    return min(COUNT_MAX, count)


def ext_value(count):
    """The extend-table word for a slot whose real count is ``count``."""
    return count if count >= COUNT_MAX else 0


class NaiveSwapTable(NaiveDevice):
    """The swap table P4 device: the allocator of :class:`naive_allocator.NaiveDevice`
    (P4 generation) over slots that are :class:`Slot` records, plus the table verbs."""

    def __init__(self, nslots, *, ncpu=1, cluster_size=512, solidstate=True,
                 discard=False, blkdev=True):
        super().__init__(nslots, ncpu=ncpu, cluster_size=cluster_size, solidstate=solidstate,
                         discard=discard, blkdev=blkdev)
        self.memcg = {}

        self.ntrees = -(-nslots // (1 << ZSWAP_SHIFT))
        self.trees = [NaiveXArray(XA_CHUNK_SHIFT) for _ in range(self.ntrees)]

        self.folio_swap = {}
        self.folio_order = {}
        self.folio_flags = {}
        self.cache_drops = 0
        self.zswap_enabled = False

    def table_bytes(self):
        """The objects a populated cluster allocates, in bytes (all zeroed): the
        8-byte-per-slot table and the 2-byte-per-slot memcg table."""
        return (8 * self.csize, 2 * self.csize)

    # ------------------------------------------------------------------ helpers

    def slot_kind(self, off):
        s = self.slots[off]
        if s is None:
            return "null"
        if s is BAD:
            return "bad"
        return "shadow" if s.folio is None else "folio"

    def cached_folios(self):
        """{folio: (first entry, order)} of the folios in the swap cache."""
        return {f: (start, self.folio_order[f]) for f, start in self.folio_swap.items()}

    def zswap_has(self, off):
        return off in self.trees[off >> ZSWAP_SHIFT].d

    def ext_tables(self):
        return sum(1 for cl in self.clusters if cl.has_ext)

    def zswap_entries(self):
        return sum(len(t.d) for t in self.trees)

    # ------------------------------------------------------------------ allocator probe

    def _probe(self, op, off):
        """One table read while scanning: 'free', 'cache_only' or 'busy'."""
        self._c(op, "table_read")
        s = self.slots[off]
        if s is None:
            return "free"
        if s is not BAD and s.folio is not None and s.count == 0:
            return "cache_only"
        return "busy"

    # ------------------------------------------------------------------ zswap trees

    @staticmethod
    def _walk_visits(xa, index):
        """Nodes an xas_load walk of ``index`` visits (NaiveXArray's load rule)."""
        h = xa.height()
        if not h:
            return 0
        if (index >> (xa.cs * (h - 1))) > (1 << xa.cs) - 1:
            return 0
        nodes = xa.nodes()
        visits = 0
        for level in range(h - 1, -1, -1):
            if (level, index >> (xa.cs * (level + 1))) not in nodes:
                break
            visits += 1
        return visits

    def _tree(self, off):
        return self.trees[off >> ZSWAP_SHIFT]

    def _xa_load(self, op, off):
        xa = self._tree(off)
        self._c(op, "xa_lookup")
        self._c(op, "xa_node_visit", self._walk_visits(xa, off))
        return off in xa.d

    def _xa_store(self, op, off):
        """xa_store(): a store walks every level of the (grown) tree."""
        xa = self._tree(off)
        before = len(xa.nodes())
        old = off in xa.d
        xa.store(off, 1)
        self._c(op, "xa_store")
        self._c(op, "xa_node_visit", xa.height())
        self._c(op, "xa_node_alloc", len(xa.nodes()) - before)
        return old

    def _xa_erase(self, op, off):
        xa = self._tree(off)
        visits = self._walk_visits(xa, off)
        before = len(xa.nodes())
        old = xa.erase(off)
        self._c(op, "xa_erase")
        self._c(op, "xa_node_visit", visits)
        self._c(op, "xa_node_free", before - len(xa.nodes()))
        return old is not None

    def _zswap_invalidate(self, op, off):
        """zswap_invalidate() of one slot: skip an empty tree, else erase + free."""
        if not self._tree(off).d:
            return
        if self._xa_erase(op, off):
            self._c(op, "mem_free")  # zswap_entry_free
            return True
        return False

    def _zswap_store(self, op, off):
        """zswap_store_page(): allocate an entry and xa_store it."""
        self.zswap_enabled = True
        self._c(op, "mem_alloc")  # zswap_entry_cache_alloc
        if self._xa_store(op, off):
            self._c(op, "mem_free")  # the stale entry it replaced

    def _zswap_is_present(self, op, start, nr):
        """zswap_is_present(): an xa_load per page until one is found (nothing while
        zswap was never enabled)."""
        if not self.zswap_enabled:
            return False
        return any(self._xa_load(op, x) for x in range(start, start + nr))

    def _zswap_load(self, op, off):
        """zswap_load() into the swap cache: found -> erase and free the entry."""
        if not self.zswap_enabled:
            return False  # zswap_never_enabled()
        if not self._xa_load(op, off):
            return False
        self._xa_erase(op, off)
        self._c(op, "mem_free")
        return True

    # ------------------------------------------------------------------ table internals

    def _free_entries(self, op, start, n):
        """__swap_cluster_free_entries() + swap_range_free() for n slots of one cluster."""
        batch_id = 0
        zero = {x for x in range(start, start + n) if self.slots[x] is not None and self.slots[x].zero}
        for x in range(start, start + n):
            self._c(op, "table_read")
            self._c(op, "table_write")
            self.slots[x] = None  # NULL also drops COUNT and Z
            self._c(op, "memcg_read")
            cur = self.memcg.pop(x, 0)
            if cur:
                self._c(op, "memcg_write")
            if cur != batch_id:
                if batch_id:
                    self._c(op, "memcg_uncharge")
                batch_id = cur
        if batch_id:
            self._c(op, "memcg_uncharge")
        for x in range(start, start + n):
            in_zswap = self._zswap_invalidate(op, x)
            # swap_slot_free_notify: zram's hook, whose zs_free has an object to free
            # only where the data went to the device (not a zero or zswap slot)
            if self.blkdev and not in_zswap and x not in zero:
                self._c(op, "slot_free_notify")
        c = self.cluster_of(start)
        cl = self.clusters[c]
        cl.count -= n
        self.inuse -= n
        if self.inuse < self.pages and self.writeok:  # not re-added once swapoff began
            self.avail = True
        if cl.count == 0:
            self._free_cluster(op, c)
        else:
            self._partial_free_cluster(op, c)

    def _cache_del_locked(self, op, start, nr):
        """__swap_cache_do_del_folio(): PFN entries become shadows; slots no PTE counts
        are freed (all at once when none is counted, else one by one)."""
        folio = self.slots[start].folio
        swapped = False
        need_free = False
        for x in range(start, start + nr):
            self._c(op, "table_read")
            self._c(op, "table_write")
            s = self.slots[x]
            if s.count:
                swapped = True
            else:
                need_free = True
            s.folio = None
        del self.folio_swap[folio]  # folio->swap = 0: the dict holds cached folios only
        if not swapped:
            self._free_entries(op, start, nr)
        elif need_free:
            for x in range(start, start + nr):
                self._c(op, "table_read")
                if self.slots[x].count == 0:
                    self._free_entries(op, x, 1)

    def _ext_try_free(self, op, c):
        """swap_extend_table_try_free(): scan the whole extend table."""
        cl = self.clusters[c]
        if not cl.has_ext:
            return
        self._c(op, "ext_read", self.csize)
        start = c * self.csize
        for x in range(start, start + self.csize):
            s = self.slots[x]
            if isinstance(s, Slot) and ext_value(s.count):
                return
        cl.has_ext = False
        self._c(op, "mem_free")

    def _put_one(self, op, x):
        """__swap_cluster_put_entry(): count - 1, the slot stays allocated."""
        s = self.slots[x]
        self._c(op, "table_read")
        if inline_count(s.count) == COUNT_MAX:
            self._c(op, "ext_read")
            self._c(op, "ext_write")
            s.count -= 1
            if s.count == COUNT_MAX - 1:
                self._c(op, "table_write")  # back to an inline count
        else:
            s.count -= 1
            self._c(op, "table_write")
        if s.count in (COUNT_MAX - 2, COUNT_MAX - 1):
            self._ext_try_free(op, self.cluster_of(x))

    def _dup_one(self, op, x):
        """__swap_cluster_dup_entry(): 0, or an errno (ENOMEM = extend table needed)."""
        s = self.slots[x]
        self._c(op, "table_read")
        if s is BAD:
            return EINVAL
        if s is None or (s.count == 0 and s.folio is None):
            return ENOENT
        if s.count < COUNT_MAX - 1:
            self._c(op, "table_write")
        elif s.count == COUNT_MAX - 1:
            if not self.clusters[self.cluster_of(x)].has_ext:
                return ENOMEM
            self._c(op, "ext_write")
            self._c(op, "table_write")
        else:
            self._c(op, "ext_read")
            self._c(op, "ext_write")
        s.count += 1
        return 0

    # ------------------------------------------------------------------ verbs

    def alloc(self, cpu, order, folio, memcg):
        """folio_alloc_swap()."""
        op = "alloc"
        off = self._dev_alloc(op, cpu, order)
        if not off:
            return ENOMEM
        nr = 1 << order
        for x in range(off, off + nr):
            self._c(op, "table_read")
            self._c(op, "table_write")
            self.slots[x] = Slot(count=0, folio=folio, zero=False)
        self.folio_swap[folio] = off
        self.folio_order[folio] = order
        if memcg:
            # mem_cgroup_try_charge_swap(): charge, record the id under the lock
            self._c(op, "memcg_charge")
            self._c(op, "cluster_lock")
            for x in range(off, off + nr):
                self._c(op, "memcg_write")
                self.memcg[x] = memcg
        if self.reclaim_pending:
            self.reclaim_pending = False
            self.reclaim_full(True)  # reclaim_work
        return off

    def dup(self, op, entry, nr):
        """swap_dup_entries_cluster() per cluster chunk."""
        off, end = entry, entry + nr
        while off < end:
            cend = min((off // self.csize + 1) * self.csize, end)
            self._c(op, "cluster_lock")
            x = off
            while x < cend:
                err = self._dup_one(op, x)
                if err == ENOMEM:
                    # swap_extend_table_alloc(): unlock, kzalloc, lock + install,
                    # unlock, relock, restart at this slot
                    self._zalloc(op, (4 * self.csize,))
                    self._c(op, "cluster_lock", 2)
                    self.clusters[self.cluster_of(x)].has_ext = True
                    continue
                if err:
                    while x > off:
                        x -= 1
                        self._put_one(op, x)
                    self._ext_try_free(op, self.cluster_of(off))
                    return err
                x += 1
            off = cend
        return 0

    def pte_batch(self, op, entry, nr):
        """swap_pte_batch() in P4: no per-PTE cgroup lookup, the whole run is one batch."""
        return nr

    def try_reclaim(self, op, entry, flags):
        """__try_to_reclaim_swap(): +nr reclaimed, -nr kept, 0 no folio."""
        self._c(op, "table_read")  # swap_cache_get_folio
        s = self.slots[entry]
        if s is None or s is BAD or s.folio is None:
            return 0
        folio = s.folio
        start = self.folio_swap[folio]
        nr = 1 << self.folio_order[folio]
        need = bool(flags & TTRS_ANYWAY)
        if not need and flags & TTRS_UNMAPPED and not self.folio_flags.get(folio, 0) & FOLIO_MAPPED:
            need = True
        if not need and flags & TTRS_FULL and self.vm_swap_full():
            need = True
        if not need:
            return -nr
        self._c(op, "cluster_lock")  # swap_only_has_cache
        for x in range(start, start + nr):
            self._c(op, "table_read")
            if self.slots[x].count:
                return -nr
        self._c(op, "cluster_lock")  # swap_cache_del_folio
        self._cache_del_locked(op, start, nr)
        self.cache_drops += 1
        return nr

    def put(self, op, entry, nr, reclaim_cache):
        """swap_put_entries_direct() (reclaim_cache) / folio_put_swap(): number of slots
        freed by the put itself (not by the cache reclaim afterwards)."""
        freed = 0
        off, end = entry, entry + nr
        while off < end:
            cend = min((off // self.csize + 1) * self.csize, end)
            freed += self._put_cluster(op, off, cend, reclaim_cache)
            off = cend
        return freed

    def _put_cluster(self, op, off, end, reclaim_cache):
        """swap_put_entries_cluster()."""
        self._c(op, "cluster_lock")
        batch = None
        need_reclaim = False
        freed = 0
        for x in range(off, end):
            self._c(op, "table_read")
            s = self.slots[x]
            if s.count == 1:
                if s.folio is None:
                    if batch is None:
                        batch = x
                    continue
                need_reclaim = True
            self._put_one(op, x)
            if batch is not None:
                self._free_entries(op, batch, x - batch)
                freed += x - batch
                batch = None
        if batch is not None:
            self._free_entries(op, batch, end - batch)
            freed += end - batch
        if need_reclaim and reclaim_cache:
            x = off
            while x < end:
                r = self.try_reclaim(op, x, TTRS_UNMAPPED | TTRS_FULL)
                x += 1
                if r:
                    step = abs(r)
                    x = -(-x // step) * step
        return freed

    def cache_lookup(self, op, entry):
        self._c(op, "table_read")
        s = self.slots[entry]
        if isinstance(s, Slot) and s.folio is not None:
            return s.folio
        return -1

    def _add_check(self, op, entry, nr, with_memcg):
        """__swap_cache_add_check()."""
        if not self.clusters[self.cluster_of(entry)].has_table:
            return ENOENT
        self._c(op, "table_read")
        s = self.slots[entry]
        if isinstance(s, Slot) and s.folio is not None:
            return EEXIST
        if not isinstance(s, Slot) or s.count == 0:
            return ENOENT
        memcg = 0
        if with_memcg:
            self._c(op, "memcg_read")
            memcg = self.memcg.get(entry, 0)
        if nr == 1:
            return 0
        start = entry // nr * nr
        for x in range(start, start + nr):
            self._c(op, "table_read")
            t = self.slots[x]
            if not isinstance(t, Slot) or t.folio is not None or t.count == 0 or t.zero != s.zero:
                return EBUSY
            if with_memcg:
                self._c(op, "memcg_read")
                if self.memcg.get(x, 0) != memcg:
                    return EBUSY
        return 0

    def cache_add(self, op, entry, nr, folio):
        """__swap_cache_alloc() for one order: check, allocate the folio, recheck, add."""
        self._c(op, "cluster_lock")
        err = self._add_check(op, entry, nr, False)
        if err:
            return err
        self._c(op, "cluster_lock")
        err = self._add_check(op, entry, nr, True)
        if err:
            return err
        start = entry // nr * nr
        for x in range(start, start + nr):
            self._c(op, "table_read")
            self._c(op, "table_write")
            self.slots[x].folio = folio
        self.folio_swap[folio] = start
        self.folio_order[folio] = nr.bit_length() - 1
        if nr > 1 and self._zswap_is_present(op, start, nr):
            # zswap_is_present(): undo the add under the lock (__swap_cache_do_del_folio
            # of a folio whose slots all keep their counts), -EBUSY
            self._c(op, "cluster_lock")
            for x in range(start, start + nr):
                self._c(op, "table_read")
                self._c(op, "table_write")
                self.slots[x].folio = None
            del self.folio_swap[folio]
            return EBUSY
        self._c(op, "memcg_charge")  # mem_cgroup_swapin_charge_folio
        return 0

    def cache_del(self, op, entry, nr):
        """swap_cache_del_folio()."""
        self._c(op, "cluster_lock")
        self._cache_del_locked(op, entry, nr)
        return 0

    def cache_free(self, op, entry, nr):
        """folio_free_swap(): drop the folio if no slot of it is counted."""
        for x in range(entry, entry + nr):
            self._c(op, "table_read")  # folio_maybe_swapped
            if self.slots[x].count:
                return 0
        self.cache_del(op, entry, nr)
        return 1

    def writeout(self, op, entry, nr, backend):
        """swap_writeout()."""
        if self.cache_free(op, entry, nr):
            return BACKEND_NONE
        self._c(op, "cluster_lock")  # swap_zeromap_folio_set / _clear
        for x in range(entry, entry + nr):
            self._c(op, "table_read")
            self._c(op, "table_write")
            self.slots[x].zero = backend == BACKEND_ZERO
        if backend == BACKEND_ZERO:
            return BACKEND_ZERO
        if backend == BACKEND_ZSWAP:
            for x in range(entry, entry + nr):
                self._zswap_store(op, x)
            return BACKEND_ZSWAP
        if self.zswap_enabled:  # zswap_store()'s check_old
            for x in range(entry, entry + nr):
                self._zswap_invalidate(op, x)
        return BACKEND_DISK

    def read_backend(self, op, entry):
        """swap_read_folio(): the zero flag, then zswap, else the device."""
        self._c(op, "table_read")
        if self.slots[entry].zero:
            return BACKEND_ZERO
        if self._zswap_load(op, entry):
            return BACKEND_ZSWAP
        return BACKEND_DISK

    def zswap_writeback(self, op, entry, folio):
        """zswap_writeback_entry()."""
        err = self.cache_add(op, entry, 1, folio)
        if err:
            return err
        if not self._xa_load(op, entry):
            self.cache_del(op, entry, 1)
            return ENOMEM
        self._zswap_invalidate(op, entry)  # xa_erase + zswap_entry_free
        self.cache_del("cache_del", entry, 1)  # the written folio is reclaimed
        return 0

    # ------------------------------------------------------------------ swapoff

    def unuse_entry(self, op, off):
        """find_next_to_unuse(): one table read; the slot's entry, 0 if free or bad."""
        self._c(op, "table_read")
        s = self.slots[off]
        if s is None or s is BAD:
            return 0
        return off

    def unuse(self, op, entry, folio):
        """swapoff's folio_free_swap() of the folio caching ``entry``: 1 when the entry
        went, -EBUSY if a count still holds it (or the folio does not cache it)."""
        start = self.folio_swap.get(folio, 0)
        nr = 1 << self.folio_order.get(folio, 0)
        if not start or not start <= entry < start + nr:
            return EBUSY
        return 1 if self.cache_free(op, start, nr) else EBUSY

    def swap_count(self, entry):
        s = self.slots[entry]
        if s is None or s is BAD:
            return -1
        return s.count

    def metadata_bytes(self):
        nodes = sum(len(t.nodes()) for t in self.trees)
        return {
            "swap_map": 0,
            "swap_cgroup": 0,
            "zeromap": 0,
            "cluster_info": 0 if self.off else self.ncl * 48,
            "swap_table": self.tables * self.csize * 8,
            "memcg_table": self.tables * self.csize * 2,
            "extend_table": self.ext_tables() * self.csize * 4,
            "zswap_trees": self.ntrees * 16,
            "zswap_xa_nodes": nodes * 576,
            "zswap_entry": self.zswap_entries() * 56,
        }
