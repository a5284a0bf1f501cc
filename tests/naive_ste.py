"""Slow, obviously correct reference model of ``vswap_ste`` (and ``ghost`` with zswap).

Plain Python on top of :class:`naive_swap_table.NaiveSwapTable` (the swap table P4
model) and its allocator, :class:`naive_allocator.NaiveDevice`:

* :class:`NaiveSte` *is* the vswap (ghost) device: a ``NaiveSwapTable`` whose clusters
  are dynamic (every table allocation/free also stores/erases the cluster in the
  ``cluster_info_pool`` XArray at index ``c + 1``, a :class:`NaiveXArray`), whose every
  cluster lookup is an ``xa_load`` of that pool, and whose per-slot free work is
  ``vswap_release_backing`` instead of ``zswap_invalidate``.  On top of it: the
  ``virtual_table`` (``vt``: slot -> word, the Numba bit pattern ``PHYS | p << 3`` /
  ``ZSWAP | id << 3``), the zswap entry count and ids, ghost's per-cluster forward
  table (present while at least one entry of the cluster is PHYS), and the verbs of
  the Swap Table Edition (writeout, read_backend, ra_probe, zswap writeback,
  reclaim_full on the physical device, metadata bytes).
* :class:`PhysDev` is the physical device: a ``naive_allocator.NaiveDevice`` (the P4
  allocator, as the swap table's) whose slots hold
  ``None`` / ``BAD`` / :class:`Ptr` (the reverse-map Pointer word: vswap offset + the
  cache-only bit C), whose allocator probe reads only that word (``rmap_read``) and
  whose reclaim of a C slot is ``try_to_reclaim_vswap_backing``.

Both devices charge the same counter dict.  ``cpu`` mirrors ``Ctx.meta[C_CPU]`` (the
CPU a non-alloc verb runs on: the physical allocation of ``folio_realloc_swap`` uses
its per-CPU offsets).

How this differs from the kernel's formulation: the virtual_table is a dict of the
non-NONE words (``vt``), the cluster pool and ghost's zswap trees are ``NaiveXArray``
dicts, ghost's forward table is "present" while ``aux`` counts a PHYS word in its
cluster, the physical reverse map is a :class:`Ptr` per used slot; everything else is
the swap table model's formulation (true counts, see naive_swap_table.py) and the
shared allocator's (naive_allocator.py).

Counting conventions (from ste.py's docstring and code; see also naive_swap_table.py)
-------------------------------------------------------------------------------------
* vswap cluster lookup (``__swap_offset_to_cluster``): one ``xa_lookup`` plus the nodes
  the walk visits, before each lock of a vswap cluster found from an offset: the
  allocation fast path, the memcg record at allocation, dup / put per cluster chunk,
  cache lookup / add / del / free, ``__try_to_reclaim_swap`` (at the entry, before
  ``swap_only_has_cache``, and in the cache delete), the zero flag, every ``_vlock`` of
  ste.py.  Clusters isolated from a list are not looked up.  Physical clusters are
  array arithmetic (no counter).
* a new vswap cluster: ``mem_alloc`` 4 (STE: ci_dyn, table, memcg table, virtual_table)
  or 3 (ghost), ``xa_node_visit`` += tree height (finding the free index), then a
  counted ``xa_store`` (``xa_store`` 1, the walk's visits, ``xa_node_alloc``); freed:
  ``mem_free`` 4/3 and a counted ``xa_erase``.  Clusters populated at swapon (the
  header's) are stored in the pool uncounted.  A physical cluster: ``mem_alloc`` /
  ``mem_free`` 1 (its memcg table is deferred).
* virtual_table words: ``vt_read`` / ``vt_write`` per word.  ``ghost=True`` here is
  ghost's tree reading (``lazy_forward_table=True``; the default ghost counts what
  vswap_ste counts): the forward table exists while some entry of the cluster is PHYS
  (``mem_alloc`` 1 when the first becomes PHYS, before the write is counted;
  ``mem_free`` 1 when the last stops being PHYS, after it), reads are counted while it
  exists, and writes only when the old or the new word is PHYS (zswap is not in it).
  zswap's entries are in the inherited per-64 MiB trees over the ghost offsets:
  ``xa_store`` at a store, ``xa_load`` + ``xa_erase`` at a load, an ``xa_load`` per page
  for presence (until one is found) and for writeback's verification (``xa_erase``
  when it succeeds), and a ``zswap_invalidate`` (skip an empty tree, else ``xa_erase``)
  of every slot the free releases and every page a writeout prepares.  zswap
  writeback's clear and restore of the ZSWAP tag are not counted.
* physical Pointer words: ``rmap_read`` / ``rmap_write`` (never ``table_*``).
* ``memcg`` (swap charge): the vswap id is recorded (cluster lookup + ``cluster_lock``
  + ``memcg_write``) but a vswap slot is never charged, so freeing it uncharges nothing
  (its id is still read, and cleared with a ``memcg_write`` when non-zero).  The swap
  charge belongs to the physical backing: ``folio_realloc_swap`` reads the entry's id
  (``memcg_read``, the first page's) for every new allocation, also at zswap writeback,
  and charges once (``memcg_charge``) when it is non-zero; every physical release
  (``__swap_cluster_free_phys_backing``) uncharges once (``memcg_uncharge``) when the
  released slots' vswap entries have a non-zero id.  The vswap free releases physical
  runs split at physical-cluster and memcg changes, one uncharge per run.
* ``slot_free_notify``: one per freed *physical* slot; freed vswap slots count none
  (ste.py's ``slot_release`` hook replaces swap_table's, which counted one).
* ``zswap_entry``: ``mem_alloc`` at store, ``mem_free`` at free / load / drop.

Whole-folio backing (ste.py's docstring, commit 9c95a16):

* ``try_to_reclaim_vswap_backing(off)``: phys ``cluster_lock`` + ``rmap_read`` (Pointer
  with C, else 0); ``swap_cache_get_folio`` of the vswap entry (no folio: 0); the
  folio's first page and size nr come from the folio; ``vswap_to_phys`` (lock + one
  ``vt_read``: the entry must still be PHYS at ``off``, else -nr); every page of the
  folio cache-only (``table_read`` per page until a counted one: -nr); then
  ``vswap_store_folio`` (lock at the folio's first page) drops the backing of every
  page: per page a ``vt_read``, and for a PHYS page a ``vt_write`` (NONE) and a
  physical release of its one slot with that page's memcg.  Returns +nr.
* ``folio_realloc_swap``: lock + a ``vt_read`` of every page; all PHYS at consecutive
  physical slots: that slot, nothing else; some PHYS: those are dropped as above first,
  then nr new slots for the whole folio.  A Pointer written for a page whose swap
  count is 0 has the C bit at once.

Swapoff of the physical device: ``swapoff_begin`` clears its SWP_WRITEOK (every later
physical allocation fails and counts an allocation failure: a disk writeout or a zswap
writeback that needs a slot gets -ENOMEM); ``unuse_entry(off)`` is one ``rmap_read`` of
the Pointer word (its vswap slot, 0 for a free or bad slot); ``unuse(entry, folio)``
needs the cached folio to hold the entry (else -EBUSY) and is ``vswap_store_folio``
(lock at the folio's first page, its PHYS pages' slots released as above);
``swapoff_end`` says how many physical slots are still in use, and at 0 the device is
off: its cluster_info is no longer in ``metadata_bytes``.

Undocumented conventions followed from the code: the vswap device's own full-cluster
reclaim (inside a vswap allocation) uses the swap-table layer's ``__try_to_reclaim_swap``
with its three cluster lookups; a zswap store over a PHYS backing writes the ZSWAP word
before the physical slot is released (and uncharges it with the page's memcg); the
vswap free releases the backing before the table words and memcg ids are cleared;
the physical reclaim's return value (the vswap folio's nr) is what the physical
allocator's scan skips, whether or not the folio's physical slots are consecutive.
"""
from __future__ import annotations

from naive_swap_table import (
    BACKEND_DISK,
    BACKEND_NONE,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    EBUSY,
    ENOENT,
    ENOMEM,
    FOLIO_MAPPED,
    TTRS_ANYWAY,
    TTRS_FULL,
    TTRS_UNMAPPED,
    NaiveSwapTable,
    Slot,
)
from naive_allocator import NaiveDevice
from naive_xarray import NaiveXArray

BACKEND_FOLIO = 4
RA_READAHEAD, RA_SYNC = 0, 1
VT_NONE, VT_PHYS, VT_ZSWAP = 0, 1, 2
CI_DYN_BYTES = 96
_walk_visits = NaiveSwapTable._walk_visits


class Ptr:
    """A physical slot's reverse-map Pointer word: vswap offset ``v``, cache-only bit."""

    __slots__ = ("cache_only", "v")

    def __init__(self, v, cache_only=False):
        self.v = v
        self.cache_only = cache_only

    def __repr__(self):
        return f"Ptr(v={self.v}, C={int(self.cache_only)})"


class PhysDev(NaiveDevice):
    """The physical device under vswap: Pointer rmap words with the cache-only bit."""

    def table_bytes(self):
        return (8 * self.csize,)  # the table page; the memcg table is deferred to direct slots

    def __init__(self, design, nslots, **kw):
        super().__init__(nslots, **kw)
        self.d = design

    def _probe(self, op, off):
        """ste_phys_slot_scan(): the Pointer word and its C bit only."""
        self._c(op, "rmap_read")
        s = self.slots[off]
        if s is None:
            return "free"
        if isinstance(s, Ptr) and s.cache_only:
            return "cache_only"
        return "busy"

    def _reclaim_slot(self, op, off):
        """The allocator's reclaim of a C slot: try_to_reclaim_vswap_backing()."""
        return self.d._phys_slot_reclaim(op, off)

    def alloc_deferred(self, op, cpu, order):
        """dev_alloc() + (after the caller's writes) dev_deferred_work()."""
        return self._dev_alloc(op, cpu, order)

    # swapoff (swapoff_begin, next_used, swapoff_end), free_range, deferred_work and
    # the allocator's SWP_WRITEOK check are NaiveDevice's


class NaiveSte(NaiveSwapTable):
    """The vswap_ste design (``ghost=False``) or ghost with zswap (``ghost=True``)."""

    def table_bytes(self):
        """A vswap cluster: swap_cluster_info_dynamic (a 96-byte kmalloc object), the
        table, the memcg table and (STE; ghost allocates it lazily) the virtual_table."""
        cs = self.csize
        return (96, 8 * cs, 2 * cs) if self.ghost else (96, 8 * cs, 2 * cs, 8 * cs)

    def __init__(self, nslots, *, ncpu=1, cluster_size=512, solidstate=True,
                 discard=False, blkdev=True, synchronous=False, virtual_slots=None,
                 virtual_cluster_size=512, ghost=False):
        self.ghost = ghost
        self.vt = {}  # slot -> virtual_table word (absent = VT_NONE)
        self.aux = {}  # ghost: cluster -> entries that are PHYS (CI_AUX)
        self.vtables = 0
        self.zswap_entries_n = 0
        self.next_zswap = 0
        self.cpu = 0
        self._in_valloc = False
        self.cmap = NaiveXArray(6)
        if virtual_slots is None:
            virtual_slots = 2 * nslots
        vslots = max(int(virtual_slots), 2 * virtual_cluster_size)
        super().__init__(vslots, ncpu=ncpu, cluster_size=virtual_cluster_size,
                         solidstate=True, discard=False, blkdev=True)
        self.pdev = PhysDev(self, nslots, ncpu=ncpu, cluster_size=cluster_size,
                            solidstate=solidstate, discard=discard, blkdev=blkdev)
        self.pdev.synchronous = synchronous
        self.pdev.counters = self.counters  # one counter matrix
        # clusters populated at swapon (the header slot) are in the pool, uncounted
        for c, cl in enumerate(self.clusters):
            if cl.has_table:
                self.cmap.store(c + 1, c)
                if not ghost:
                    self.vtables += 1

    # ------------------------------------------------------------------ helpers

    def _lookup(self, op, off):
        """__swap_offset_to_cluster() on the vswap device: xa_load(c + 1)."""
        self._c(op, "xa_lookup")
        self._c(op, "xa_node_visit", _walk_visits(self.cmap, off // self.csize + 1))

    def _vlock(self, op, off):
        self._lookup(op, off)
        self._c(op, "cluster_lock")

    def _populated(self, op, c, on):
        """ste_cluster_populated(): xa_alloc / xa_erase in the cluster pool (ghost's
        forward table is not tied to the cluster's life)."""
        xa = self.cmap
        if on:
            self._c(op, "xa_node_visit", xa.height())  # finding the free index
            before = len(xa.nodes())
            xa.store(c + 1, c)
            self._c(op, "xa_store")
            self._c(op, "xa_node_visit", xa.height())
            self._c(op, "xa_node_alloc", len(xa.nodes()) - before)
            if not self.ghost:
                self.vtables += 1
        else:
            visits = _walk_visits(xa, c + 1)
            before = len(xa.nodes())
            xa.erase(c + 1)
            self._c(op, "xa_erase")
            self._c(op, "xa_node_visit", visits)
            self._c(op, "xa_node_free", before - len(xa.nodes()))
            if not self.ghost:
                self.vtables -= 1

    def present(self, slot):
        """The slot's forward table exists: always in STE; ghost: while some entry of
        its cluster is PHYS."""
        return not self.ghost or self.aux.get(slot // self.csize, 0) > 0

    def _fw_read(self, op, slot):
        if self.present(slot):
            self._c(op, "vt_read")
        return self.vt.get(slot, VT_NONE)

    def _vt_set(self, slot, word):
        """The raw word (uncounted)."""
        if word == VT_NONE:
            self.vt.pop(slot, None)
        else:
            self.vt[slot] = word

    def _fw_write(self, op, slot, word):
        old = self.vt.get(slot, VT_NONE)
        c = slot // self.csize
        if self.ghost and word & 7 == VT_PHYS and old & 7 != VT_PHYS:
            if not self.aux.get(c, 0):
                self._zalloc(op, (8 * self.csize,))  # the forward table
                self.vtables += 1
            self.aux[c] = self.aux.get(c, 0) + 1
        if self.present(slot) and (not self.ghost or VT_PHYS in (old & 7, word & 7)):
            self._c(op, "vt_write")
        self._vt_set(slot, word)
        if self.ghost and old & 7 == VT_PHYS and word & 7 != VT_PHYS:
            self.aux[c] -= 1
            if not self.aux[c]:
                del self.aux[c]
                self._c(op, "mem_free")
                self.vtables -= 1

    def _tree_invalidate(self, op, off):
        """ghost's zswap_invalidate() of a slot, without the entry free (counted by the
        caller): skip an empty tree, else erase; True if an entry was there."""
        return bool(self._tree(off).d) and self._xa_erase(op, off)

    def _zswap_new(self):
        self.next_zswap += 1
        self.zswap_entries_n += 1
        return (self.next_zswap << 3) | VT_ZSWAP

    def _zswap_free_entry(self, op):
        self._c(op, "mem_free")
        self.zswap_entries_n -= 1

    def _phys_release(self, op, p, n, memcg):
        """__swap_cluster_free_phys_backing(): one physical lock per run, the Pointer
        words cleared, the physical slots freed, and the backing's swap charge dropped
        (one uncharge for the run, when the vswap entries have a memcg)."""
        self._c(op, "cluster_lock")
        if memcg:
            self._c(op, "memcg_uncharge")
        for x in range(p, p + n):
            self._c(op, "rmap_write")
            self.pdev.slots[x] = None
            if self.pdev.blkdev:  # swap_slot_free_notify: block devices only (zram's hook)
                self._c(op, "slot_free_notify")
        self.pdev.free_range(op, p, n)

    def _release_backing(self, op, start, n):
        """vswap_release_backing() (the slot_release hook): physical backing freed per
        run of consecutive physical slots in one physical cluster whose vswap slots
        share a memcg (the run is uncharged with it); zswap entries freed."""
        run = None  # [first physical slot, length, memcg]
        for x in range(start, start + n):
            w = self._fw_read(op, x)
            tag = w & 7
            if self.ghost:
                assert self._tree_invalidate(op, x) == (tag == VT_ZSWAP)
            if tag == VT_PHYS:
                p = w >> 3
                m = self.memcg.get(x, 0)
                if (run is not None and p == run[0] + run[1]
                        and p // self.pdev.csize == run[0] // self.pdev.csize and m == run[2]):
                    run[1] += 1
                else:
                    if run is not None:
                        self._phys_release(op, *run)
                    run = [p, 1, m]
            elif tag == VT_ZSWAP:
                self._zswap_free_entry(op)
            self._fw_write(op, x, VT_NONE)
        if run is not None:
            self._phys_release(op, *run)

    def _slot_cache_only(self, op, slot, on):
        """vswap_mark_cache_only(): the rmap C bit follows a cached slot's count."""
        w = self._fw_read(op, slot)
        if w & 7 == VT_PHYS:
            self._c(op, "rmap_write")
            self.pdev.slots[w >> 3] = Ptr(slot, on)

    def _phys_slot_reclaim(self, op, off):
        """try_to_reclaim_vswap_backing() of physical slot ``off``: +nr when the whole
        cached vswap folio (nr pages) gave its backing back, -nr when it is kept, 0
        when there is nothing to reclaim."""
        self._c(op, "cluster_lock")
        self._c(op, "rmap_read")
        s = self.pdev.slots[off]
        if not (isinstance(s, Ptr) and s.cache_only):
            return 0
        v = s.v
        folio = self.cache_lookup(op, v)  # swap_cache_get_folio(vswap entry)
        if folio < 0:
            return 0
        start = self.folio_swap[folio]
        nr = 1 << self.folio_order[folio]
        self._vlock(op, v)  # vswap_to_phys(): is off still v's backing?
        w = self._fw_read(op, v)
        if w & 7 != VT_PHYS or w >> 3 != off:
            return -nr
        for x in range(start, start + nr):  # swap_only_has_cache(folio)
            self._c(op, "table_read")
            if self.slots[x].count:
                return -nr
        self._vlock(op, start)  # vswap_store_folio(): the folio backs every page
        self._drop_phys(op, start, nr)
        return nr

    def _drop_phys(self, op, start, nr):
        """The PHYS pages of ``[start, start + nr)`` lose their physical slot, one
        physical release per page (the vswap cluster lock is held)."""
        for x in range(start, start + nr):
            w = self._fw_read(op, x)
            if w & 7 == VT_PHYS:
                self._fw_write(op, x, VT_NONE)
                self._phys_release(op, w >> 3, 1, self.memcg.get(x, 0))

    def _realloc_phys(self, op, entry, nr):
        """folio_realloc_swap(): the folio's physical slot or ENOMEM.  A folio whose
        pages are all backed by consecutive physical slots keeps them; a folio only
        partly backed (or backed out of order) gives its slots back first, and the
        whole folio gets nr new slots."""
        self._vlock(op, entry)
        words = [self._fw_read(op, x) for x in range(entry, entry + nr)]
        phys = [w >> 3 for w in words if w & 7 == VT_PHYS]
        if len(phys) == nr and phys == list(range(phys[0], phys[0] + nr)):
            return phys[0]
        if phys:
            self._drop_phys(op, entry, nr)
        order = (nr - 1).bit_length()
        p = self.pdev.alloc_deferred(op, self.cpu, order)
        if not p:
            return ENOMEM
        for i in range(nr):
            self._c(op, "rmap_write")
            # a page no PTE counts any more is cache-only from the start
            self.pdev.slots[p + i] = Ptr(entry + i, self.slots[entry + i].count == 0)
        self._c(op, "memcg_read")  # the entry's memcg: the backing is charged to it
        if self.memcg.get(entry, 0):
            self._c(op, "memcg_charge")
        self.pdev.deferred_work()
        self._vlock(op, entry)
        for i in range(nr):
            self._fw_write(op, entry + i, ((p + i) << 3) | VT_PHYS)
        return p

    def _set_zero(self, op, entry, nr, on):
        self._vlock(op, entry)
        for x in range(entry, entry + nr):
            self._c(op, "table_read")
            self._c(op, "table_write")
            self.slots[x].zero = on

    def zswap_entries(self):
        return self.zswap_entries_n

    # ------------------------------------------------------------------ vswap device

    def _dev_alloc(self, op, cpu, order):
        self._in_valloc = True
        try:
            return super()._dev_alloc(op, cpu, order)
        finally:
            self._in_valloc = False

    def _lock_cluster(self, op, off):
        """swap_alloc_fast() on the vswap device: the cluster is found by an xa_load."""
        self._vlock(op, off)

    def _free_entries(self, op, start, n):
        """__swap_cluster_free_entries() on the vswap device: the backing released
        first (it needs the memcg ids), then the table words and memcg ids; vswap slots
        are not charged, so nothing is uncharged here."""
        self._release_backing(op, start, n)
        for x in range(start, start + n):
            self._c(op, "table_read")
            self._c(op, "table_write")
            self.slots[x] = None
            self._c(op, "memcg_read")
            if self.memcg.pop(x, 0):
                self._c(op, "memcg_write")
        self.free_range(op, start, n)

    def _dup_one(self, op, x):
        s = self.slots[x]
        if isinstance(s, Slot) and s.count == 0 and s.folio is not None:
            self._slot_cache_only(op, x, False)
        return super()._dup_one(op, x)

    def _put_cluster(self, op, off, end, reclaim_cache):
        self._vlock(op, off)
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
                self._slot_cache_only(op, x, True)
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

    # ------------------------------------------------------------------ verbs

    def alloc(self, cpu, order, folio, memcg):
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
            # recorded under the vswap cluster lock, not charged (vswap slot)
            self._vlock(op, off)
            for x in range(off, off + nr):
                self._c(op, "memcg_write")
                self.memcg[x] = memcg
        if self.reclaim_pending:
            self.reclaim_pending = False
            NaiveSwapTable.reclaim_full(self, True)  # the vswap device's reclaim_work
        return off

    def dup(self, op, entry, nr):
        off, end = entry, entry + nr
        while off < end:
            cend = min((off // self.csize + 1) * self.csize, end)
            self._vlock(op, off)
            x = off
            while x < cend:
                err = self._dup_one(op, x)
                if err == ENOMEM:
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

    def try_reclaim(self, op, entry, flags):
        """table_try_reclaim() with the vswap lookups."""
        self._lookup(op, entry)
        self._c(op, "table_read")
        s = self.slots[entry]
        if not isinstance(s, Slot) or s.folio is None:
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
        self._vlock(op, start)
        for x in range(start, start + nr):
            self._c(op, "table_read")
            if self.slots[x].count:
                return -nr
        self.cache_del(op, start, nr)
        self.cache_drops += 1
        return nr

    def reclaim_full(self, force):
        """The verb: full-cluster reclaim of the physical device.  Inside a vswap
        allocation (its own slow path) the vswap device's scan."""
        if self._in_valloc:
            return NaiveSwapTable.reclaim_full(self, force)
        return self.pdev.reclaim_full(force)

    def cache_lookup(self, op, entry):
        self._lookup(op, entry)
        return super().cache_lookup(op, entry)

    def cache_add(self, op, entry, nr, folio):
        self._vlock(op, entry)
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
        if nr > 1 and self._range_has_zswap(op, start, nr):
            self._c(op, "cluster_lock")
            self._cache_del_locked(op, start, nr)
            return EBUSY
        self._c(op, "memcg_charge")  # mem_cgroup_swapin_charge_folio
        return 0

    def _range_has_zswap(self, op, start, nr):
        if self.ghost:
            return any(self._xa_load(op, x) for x in range(start, start + nr))
        self._vlock(op, start)
        return any(self._fw_read(op, x) & 7 == VT_ZSWAP for x in range(start, start + nr))

    def cache_del(self, op, entry, nr):
        self._lookup(op, entry)
        return super().cache_del(op, entry, nr)

    def cache_free(self, op, entry, nr):
        self._lookup(op, entry)
        return super().cache_free(op, entry, nr)

    def writeout(self, op, entry, nr, backend):
        """ste_writeout()."""
        if self.cache_free(op, entry, nr):
            return BACKEND_NONE
        self._vlock(op, entry)  # vswap_prepare_writeout: drop a stale zswap backing
        for x in range(entry, entry + nr):
            w = self._fw_read(op, x)
            if self.ghost:
                self._tree_invalidate(op, x)  # zswap_store()'s check_old
            if w & 7 == VT_ZSWAP:
                self._zswap_free_entry(op)
                self._fw_write(op, x, VT_NONE)
        self._set_zero(op, entry, nr, backend == BACKEND_ZERO)
        if backend == BACKEND_ZERO:
            return BACKEND_ZERO  # an existing PHYS backing stays
        if backend == BACKEND_ZSWAP:
            for x in range(entry, entry + nr):
                self._c(op, "mem_alloc")  # zswap_entry
                self._vlock(op, x)  # vswap_zswap_store()
                w = self._fw_read(op, x)
                self._fw_write(op, x, self._zswap_new())
                if self.ghost:
                    self._xa_store(op, x)
                if w & 7 == VT_PHYS:
                    self._phys_release(op, w >> 3, 1, self.memcg.get(x, 0))
            return BACKEND_ZSWAP
        if self._realloc_phys(op, entry, nr) < 0:
            return ENOMEM
        return BACKEND_DISK

    def read_backend(self, op, entry):
        """ste_read_backend(): Z flag, vswap_zswap_load, vswap_to_phys."""
        self._lookup(op, entry)
        self._c(op, "table_read")
        if self.slots[entry].zero:
            return BACKEND_ZERO
        if self.ghost:  # zswap_load() on its own tree
            if self._xa_load(op, entry):
                self._xa_erase(op, entry)
                self._zswap_free_entry(op)
                self._fw_write(op, entry, VT_NONE)
                return BACKEND_ZSWAP
        else:
            self._vlock(op, entry)
            if self._fw_read(op, entry) & 7 == VT_ZSWAP:  # vswap_zswap_load drops it
                self._zswap_free_entry(op)
                self._fw_write(op, entry, VT_NONE)
                return BACKEND_ZSWAP
        self._vlock(op, entry)
        if self._fw_read(op, entry) & 7 == VT_PHYS:
            return BACKEND_DISK
        return BACKEND_FOLIO

    def ra_probe(self, op, entry):
        """do_swap_page() after a cache miss: swap_entry_backend_has_flag(SYNC_IO) =
        vswap_to_phys, then the physical device's flag; zero, zswap and unbacked
        entries take readahead.  Nothing is counted for a free entry."""
        if not 0 < entry < len(self.slots) or self.swap_count(entry) < 0:
            return ENOENT
        self._vlock(op, entry)
        if self._fw_read(op, entry) & 7 == VT_PHYS and self.pdev.synchronous:
            return RA_SYNC
        return RA_READAHEAD

    def zswap_writeback(self, op, entry, folio):
        """ste_zswap_writeback()."""
        err = self.cache_add(op, entry, 1, folio)
        if err:
            return err
        if self.ghost:
            present = self._xa_load(op, entry)
            w = self.vt.get(entry, VT_NONE)
        else:
            self._vlock(op, entry)  # vswap_zswap_load() verify
            w = self._fw_read(op, entry)
            present = w & 7 == VT_ZSWAP
        if not present:
            self.cache_del(op, entry, 1)
            return ENOMEM
        self._vt_set(entry, VT_NONE)  # uncounted: folio_realloc_swap writes PHYS
        if self._realloc_phys(op, entry, 1) < 0:
            self._vt_set(entry, w)  # vswap_zswap_store() restores the tag (uncounted)
            self.cache_del(op, entry, 1)
            return ENOMEM
        if self.ghost:
            self._xa_erase(op, entry)
        self._zswap_free_entry(op)
        self.cache_del("cache_del", entry, 1)
        return 0

    # ------------------------------------------------------------------ swapoff

    def swapoff_begin(self):
        self.pdev.swapoff_begin()

    def unuse_entry(self, op, off):
        """swapoff's look at physical slot ``off``: the Pointer word names the vswap
        slot (0 for a free or bad slot)."""
        self._c(op, "rmap_read")
        s = self.pdev.slots[off]
        return s.v if isinstance(s, Ptr) else 0

    def unuse(self, op, entry, folio):
        """vswap_store_folio(): the cached ``folio`` (which must hold ``entry``)
        becomes the backend of its pages, whose physical slots are freed."""
        start = self.folio_swap.get(folio, 0)
        nr = 1 << self.folio_order.get(folio, 0)
        if start == 0 or not start <= entry < start + nr:
            return EBUSY
        self._vlock(op, start)
        self._drop_phys(op, start, nr)
        return 0

    def swapoff_end(self):
        return self.pdev.swapoff_end()

    def metadata_bytes(self):
        vcs, pcs = self.csize, self.pdev.csize
        live = self.tables
        return {
            "cluster_info": live * CI_DYN_BYTES + self.pdev.ncl * 48 * (not self.pdev.off),
            "swap_table": live * vcs * 8,
            "memcg_table": live * vcs * 2,
            "extend_table": self.ext_tables() * vcs * 4,
            "virtual_table": self.vtables * vcs * 8,
            "cluster_map_nodes": len(self.cmap.nodes()) * 576,
            "rmap_table": self.pdev.tables * pcs * 8,
            "zswap_entry": self.zswap_entries_n * 56,
            **({"zswap_trees": self.ntrees * 16,
                "zswap_xa_nodes": sum(len(t.nodes()) for t in self.trees) * 576} if self.ghost else {}),
        }
