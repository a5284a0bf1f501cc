"""Slow, obviously correct reference model of the ``classic`` design (the 6.19 baseline).

Plain Python, written from the kernel (mm/swapfile.c at torvalds 07adc4cf, the 6.18/6.19
mm/swap_state.c, mm/page_io.c, mm/zswap.c, mm/swap_cgroup.c, swap_pte_batch() in
mm/internal.h), not from the Numba code; only the counting conventions (which primitive
a step is charged as, and to which row) are taken from the Numba design, because they
are the model's own definitions.

The cluster allocator is :class:`naive_allocator.NaiveDevice` in its 6.19 generation
(``KERNEL_619``, as :mod:`vswap_nb.core.device` has it), through the swap table model
it subclasses; this model only says how a slot looks to it (a ``swap_map`` byte read)
and that a populated cluster allocates one object (the swap table; swap_cgroup is
static).

State
-----
* ``slots[off]``: ``None`` for a free slot (``swap_map`` 0, table NULL), ``BAD`` for
  the header and the tail of the last cluster (``SWAP_MAP_BAD``), else a
  :class:`MapSlot` with the *true* swap count, ``has_cache`` (``SWAP_HAS_CACHE``) and
  the cached folio (the table holds its PFN; ``None`` = a shadow entry).
  The kernel keeps the count in digits: the low digit in ``swap_map`` (0..62, base
  ``SWAP_MAP_MAX + 1`` = 63) and higher digits in continuation pages (0..127 each, base
  ``SWAP_CONT_MAX + 1`` = 128), ``COUNT_CONTINUED`` set on a digit while a higher one
  is non-zero.  Incrementing past 62 carries, decrementing 0 borrows
  (swap_count_continued), so for a true count ``c`` the low digit is ``c % 63``, the
  higher digits hold ``c // 63`` and ``COUNT_CONTINUED`` is set iff ``c >= 63``
  (:func:`map_byte`, :func:`cont_value`).
* ``cont_pages[p]``: continuation pages attached to page ``p`` of ``swap_map`` (4096
  slots per page); they are only freed by swapoff.  A carry into digit ``k`` needs
  ``k`` pages (``-ENOMEM`` from __swap_duplicate, then add_swap_count_continuation).
* ``memcg[off]``: the swap_cgroup id (absent = 0); ``zeromap``: the set of offsets
  whose bit is set.
* cluster lists, per-CPU offsets, zswap trees and the folio side: as in
  :class:`NaiveSwapTable`.

How this differs from the kernel's formulation
----------------------------------------------
The verbs take the kernel's steps in order (each one is counted); the state is the
simple one: the *true* count and ``has_cache`` per slot instead of the swap_map byte
and the continuation digits (:func:`map_byte` and :func:`cont_value` derive them, so
the carry and borrow of swap_count_continued() are arithmetic, not a page walk), the
number of continuation pages per swap_map page instead of the pages, a set for the
zeromap, a dict for swap_cgroup; the allocator's simplifications are
``naive_allocator``'s.

Counting conventions (the design's)
-----------------------------------
Everything in the swap_table model's list, and:

* ``swap_map`` bytes: ``map_read`` / ``map_write`` per byte read / written (memset
  per byte, a ``READ_ONCE`` test per byte);
* continuation digits: ``ext_read`` + ``ext_write`` once per digit of the higher count
  (the new higher count on a carry, the old one on a borrow); the list walk of
  add_swap_count_continuation reads nothing, the page costs ``mem_alloc`` 1 +
  ``cluster_lock`` 1 + ``map_read`` 1;
* swap_cgroup: ``memcg_read`` + ``memcg_write`` per slot for an xchg (record at
  allocation, clear at free), ``memcg_read`` per PTE in swap_pte_batch and one for the
  swap-in charge; ``memcg_charge`` once at allocation (with a memcg) and at every
  successful cache add; ``memcg_uncharge`` once per freed batch with a non-zero id;
* zeromap: ``zeromap_write`` per slot set or cleared (writeout, free), ``zeromap_read``
  per read_backend;
* swap table (the swap cache): ``table_read`` + ``table_write`` per slot for an xchg
  (swap_cache_add_folio, __swap_cache_del_folio, __swap_cache_clear_shadow at free);
* the model's verbs return what the design's do; ``put`` returns the slots the put
  itself freed (not those its cache reclaim frees after it).

Validity (what the mm guarantees; the model asserts it)
-------------------------------------------------------
A batch freed in one go (swap_entries_free of more than one slot) holds one swap_cgroup
id: swap_pte_batch() stops at a change and a folio has one memcg.
"""
from __future__ import annotations

from vswap_nb.core.counters import OPS

from naive_swap_table import (
    BACKEND_DISK,
    BACKEND_NONE,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    BAD,
    EEXIST,
    ENOENT,
    ENOMEM,
    FOLIO_MAPPED,
    TTRS_ANYWAY,
    TTRS_FULL,
    TTRS_UNMAPPED,
    NaiveSwapTable,
)

SWAP_HAS_CACHE = 0x40
COUNT_CONTINUED = 0x80
SWAP_MAP_MAX = 0x3E
SWAP_MAP_BAD = 0x3F
SWAP_CONT_MAX = 0x7F
LOW_BASE = SWAP_MAP_MAX + 1  # 63: values of the swap_map digit
CONT_BASE = SWAP_CONT_MAX + 1  # 128: values of a continuation digit
CONT_PAGE_SLOTS = 4096  # slots per page of swap_map (one byte each)
RA_READAHEAD, RA_SYNC = 0, 1  # ra_probe answers
FOLIO_SYNC_BYPASS = 4  # verbs.FOLIO_SYNC_BYPASS: pinned by 6.19's synchronous swap-in
OP_SWAPIN = OPS.index("swapin")

__all__ = [
    "COUNT_CONTINUED",
    "SWAP_HAS_CACHE",
    "SWAP_MAP_BAD",
    "SWAP_MAP_MAX",
    "MapSlot",
    "NaiveClassic",
    "cont_value",
    "digits",
    "map_byte",
]


class MapSlot:
    """An allocated slot: true swap count, SWAP_HAS_CACHE, cached folio (None = shadow)."""

    __slots__ = ("count", "folio", "has_cache")

    def __init__(self, count=0, has_cache=False, folio=None):
        self.count = count
        self.has_cache = has_cache
        self.folio = folio

    def __repr__(self):
        kind = "shadow" if self.folio is None else f"folio={self.folio}"
        return f"MapSlot(count={self.count}, has_cache={self.has_cache}, {kind})"


def digits(v):
    """Continuation digits (base 128) needed to hold the higher count ``v``."""
    n = 0
    while v > 0:
        v //= CONT_BASE
        n += 1
    return n


def map_byte(s):
    """The swap_map byte of slot record ``s``."""
    if s is None:
        return 0
    if s is BAD:
        return SWAP_MAP_BAD
    b = s.count % LOW_BASE
    if s.count >= LOW_BASE:
        b |= COUNT_CONTINUED
    if s.has_cache:
        b |= SWAP_HAS_CACHE
    return b


def cont_value(s):
    """The count held in the continuation digits of slot record ``s``."""
    if s is None or s is BAD:
        return 0
    return s.count // LOW_BASE


def _p4_only(name):
    def fail(self, *args, **kwargs):
        raise AssertionError(f"{name} is the swap table model's; the 6.19 model does not use it")

    return fail


class NaiveClassic(NaiveSwapTable):
    KERNEL_619 = True

    def table_bytes(self):
        return (8 * self.csize,)  # the swap table only (swap_cgroup is static in 6.19)

    # P4 helpers of the base class with no meaning here
    _free_entries = _p4_only("_free_entries")
    _cache_del_locked = _p4_only("_cache_del_locked")
    _ext_try_free = _p4_only("_ext_try_free")
    _put_one = _p4_only("_put_one")
    _dup_one = _p4_only("_dup_one")
    _put_cluster = _p4_only("_put_cluster")
    _add_check = _p4_only("_add_check")
    _zswap_is_present = _p4_only("_zswap_is_present")

    def __init__(self, nslots, *, ncpu=1, cluster_size=512, solidstate=True,
                 discard=False, blkdev=True, synchronous=False):
        super().__init__(nslots, ncpu=ncpu, cluster_size=cluster_size,
                         solidstate=solidstate, discard=discard, blkdev=blkdev)
        self.synchronous = synchronous  # SWP_SYNCHRONOUS_IO: no effect on these verbs
        self.zeromap = set()
        self.cont_pages = {}  # page of swap_map -> continuation pages attached

    # ------------------------------------------------------------------ views

    def byte(self, off):
        return map_byte(self.slots[off])

    def cont_page_count(self, off):
        return self.cont_pages.get(off // CONT_PAGE_SLOTS, 0)

    def total_cont_pages(self):
        return sum(self.cont_pages.values())

    # ------------------------------------------------------------------ the allocator's probe

    def _probe(self, op, off):
        """READ_ONCE(si->swap_map[off]): 'free' (0), 'cache_only' (SWAP_HAS_CACHE) or 'busy'."""
        self._c(op, "map_read")
        b = self.byte(off)
        if b == 0:
            return "free"
        if b == SWAP_HAS_CACHE:
            return "cache_only"
        return "busy"

    # ------------------------------------------------------------------ swap_map internals

    def _entries_free(self, op, start, n):
        """swap_entries_free(): the last reference of ``n`` slots of one cluster."""
        for x in range(start, start + n):
            self._c(op, "map_write")  # *map = 0 (the record goes below)
        # mem_cgroup_uncharge_swap() -> swap_cgroup_clear(): xchg every id to 0, one
        # uncharge of the (common) id
        ids = []
        for x in range(start, start + n):
            self._c(op, "memcg_read")
            self._c(op, "memcg_write")
            ids.append(self.memcg.pop(x, 0))
        assert len(set(ids)) == 1, f"swap_entries_free of mixed swap_cgroup ids {ids}: invalid input"
        if ids[-1]:
            self._c(op, "memcg_uncharge")
        # swap_range_free(): zeromap bit, zswap, per-slot hooks, table shadows cleared
        for x in range(start, start + n):
            self._c(op, "zeromap_write")
            was_zero = x in self.zeromap
            self.zeromap.discard(x)
            in_zswap = self._zswap_invalidate(op, x)
            # swap_slot_free_notify: zram's hook, whose zs_free has an object to free
            # only where the data went to the device (not a zero or zswap slot)
            if self.blkdev and not in_zswap and not was_zero:
                self._c(op, "slot_free_notify")
        for x in range(start, start + n):
            self._c(op, "table_read")  # the xchg's old entry
            self._c(op, "table_write")  # __swap_cache_clear_shadow
            self.slots[x] = None
        c = self.cluster_of(start)
        cl = self.clusters[c]
        cl.count -= n
        self.inuse -= n
        if self.inuse < self.pages and self.writeok:
            self.avail = True  # swap_usage_sub -> add_to_avail_list (not during swapoff)
        if cl.count == 0:
            self._free_cluster(op, c)
        else:
            self._partial_free_cluster(op, c)

    def _put_locked(self, op, x, usage_cache):
        """swap_entry_put_locked(): drop one count, or the cache pin when
        ``usage_cache``; frees the slot when nothing is left.  Returns the new
        swap_map byte (0 when freed)."""
        self._c(op, "map_read")
        s = self.slots[x]
        if usage_cache:
            s.has_cache = False
        else:
            if s.count % LOW_BASE == 0 and s.count >= LOW_BASE:
                # low digit 0 with COUNT_CONTINUED: swap_count_continued() borrows
                n = digits(s.count // LOW_BASE)
                self._c(op, "ext_read", n)
                self._c(op, "ext_write", n)
            s.count -= 1
        b = map_byte(s)
        if b:
            self._c(op, "map_write")
        else:
            self._entries_free(op, x, 1)
        return b

    def _put_cache(self, op, start, nr):
        """swap_entries_put_cache() (put_swap_folio): drop the folio's cache pins."""
        self._c(op, "cluster_lock")
        if self._only_has_cache(op, start, nr):
            self._entries_free(op, start, nr)
        else:
            for x in range(start, start + nr):
                self._put_locked(op, x, True)

    def _only_has_cache(self, op, start, nr):
        """swap_only_has_cache(): every byte is exactly SWAP_HAS_CACHE."""
        for x in range(start, start + nr):
            self._c(op, "map_read")
            if self.byte(x) != SWAP_HAS_CACHE:
                return False
        return True

    def _put_map(self, op, start, nr):
        """swap_entries_put_map() within one cluster: True if a slot was left holding
        only SWAP_HAS_CACHE."""
        has_cache = False
        if nr > 1:
            self._c(op, "map_read")  # swap_count(data_race(si->swap_map[offset]))
            first = self.byte(start)
            if (first & ~SWAP_HAS_CACHE) == 1:
                self._c(op, "cluster_lock")
                # swap_is_last_map(): every byte equals the first
                last = True
                self._c(op, "map_read")
                for x in range(start + 1, start + nr):
                    self._c(op, "map_read")
                    if self.byte(x) != first:
                        last = False
                        break
                if last:
                    if not (first & SWAP_HAS_CACHE):
                        self._entries_free(op, start, nr)
                        return False
                    for x in range(start, start + nr):
                        self._c(op, "map_write")  # WRITE_ONCE(.., SWAP_HAS_CACHE)
                        self.slots[x].count = 0
                    return True
                # locked_fallback: the lock is held already
                for x in range(start, start + nr):
                    if self._put_locked(op, x, False) == SWAP_HAS_CACHE:
                        has_cache = True
                return has_cache
        self._c(op, "cluster_lock")  # fallback:
        for x in range(start, start + nr):
            if self._put_locked(op, x, False) == SWAP_HAS_CACHE:
                has_cache = True
        return has_cache

    def _swap_duplicate(self, op, entry, nr, usage_cache):
        """__swap_duplicate(entry, usage, nr): 0 or -ENOENT / -EEXIST / -ENOMEM."""
        self._c(op, "cluster_lock")
        for x in range(entry, entry + nr):
            self._c(op, "map_read")
            s = self.slots[x]
            if s is BAD:
                return ENOENT
            if s is None:  # count 0 and no cache
                return ENOENT
            if usage_cache and s.has_cache:
                return EEXIST
        for x in range(entry, entry + nr):
            self._c(op, "map_read")
            s = self.slots[x]
            if usage_cache:
                s.has_cache = True
            elif s.count % LOW_BASE < SWAP_MAP_MAX:
                s.count += 1
            else:
                # swap_count_continued(): carry into the continuation digits if this
                # page of swap_map has enough pages for the new higher count
                need = digits(s.count // LOW_BASE + 1)
                if need > self.cont_page_count(x):
                    return ENOMEM
                self._c(op, "ext_read", need)
                self._c(op, "ext_write", need)
                s.count += 1
            self._c(op, "map_write")
        return 0

    def _swap_info_get(self, op, entry):
        """_swap_info_get(): the entry's swap_map byte must be in use."""
        self._c(op, "map_read")

    def _folio_swapped(self, op, entry, nr):
        """folio_swapped(): under the lock, does any slot have a swap count?"""
        self._swap_info_get(op, entry)
        self._c(op, "cluster_lock")
        for x in range(entry, entry + nr):
            self._c(op, "map_read")
            if self.slots[x].count:
                return True
        return False

    # ------------------------------------------------------------------ verbs

    def alloc(self, cpu, order, folio, memcg):
        """folio_alloc_swap(): allocate (swap_map = SWAP_HAS_CACHE), charge and record
        the swap_cgroup id, swap_cache_add_folio()."""
        op = "alloc"
        off = self._dev_alloc(op, cpu, order)
        if not off:
            return ENOMEM
        nr = 1 << order
        for x in range(off, off + nr):  # cluster_alloc_range(): memset(HAS_CACHE)
            self._c(op, "map_write")
            self.slots[x] = MapSlot(count=0, has_cache=True)
        if memcg:
            # mem_cgroup_try_charge_swap(): charge, swap_cgroup_record()
            self._c(op, "memcg_charge")
            for x in range(off, off + nr):
                self._c(op, "memcg_read")  # the xchg's old id
                self._c(op, "memcg_write")
                self.memcg[x] = memcg
        self._c(op, "cluster_lock")  # swap_cache_add_folio()
        for x in range(off, off + nr):
            self._c(op, "table_read")
            self._c(op, "table_write")
            self.slots[x].folio = folio
        self._added(folio, off, 1 << order)
        if self.reclaim_pending:
            self.reclaim_pending = False
            self.reclaim_full(True)  # reclaim_work
        return off

    def dup(self, op, entry, nr):
        """swap_duplicate() of each entry, adding continuation pages on -ENOMEM."""
        for x in range(entry, entry + nr):
            while True:
                err = self._swap_duplicate(op, x, 1, False)
                if err != ENOMEM:
                    break
                # add_swap_count_continuation(GFP_ATOMIC): a page, the lock, the byte
                self._c(op, "mem_alloc")
                self._c(op, "cluster_lock")
                self._c(op, "map_read")
                page = x // CONT_PAGE_SLOTS
                self.cont_pages[page] = self.cont_pages.get(page, 0) + 1
            if err:
                return err
        return 0

    def pte_batch(self, op, entry, nr):
        """swap_pte_batch(): lookup_swap_cgroup_id() of each PTE, stop at a change."""
        self._c(op, "memcg_read")
        first = self.memcg.get(entry, 0)
        for i in range(1, nr):
            self._c(op, "memcg_read")
            if self.memcg.get(entry + i, 0) != first:
                return i
        return nr

    def put(self, op, entry, nr, reclaim_cache):
        """free_swap_and_cache_nr() (``reclaim_cache``) or swap_free_nr()."""
        before = self.inuse
        end = entry + nr
        if not reclaim_cache:
            self._swap_info_get(op, entry)  # swap_free_nr()
        any_only_cache = False
        off = entry
        while off < end:
            cend = min((off // self.csize + 1) * self.csize, end)
            if self._put_map(op, off, cend - off):
                any_only_cache = True
            off = cend
        freed = before - self.inuse
        if any_only_cache and reclaim_cache:
            off = entry
            while off < end:
                step = 1
                self._c(op, "map_read")
                if self.byte(off) == SWAP_HAS_CACHE:
                    r = self.try_reclaim(op, off, TTRS_UNMAPPED | TTRS_FULL)
                    r = 1 if r == 0 else abs(r)
                    step = -(-(off + 1) // r) * r - off  # ALIGN(offset + 1, nr) - offset
                off += step
        return freed

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
            need = True  # mem_cgroup_swap_full() taken as vm_swap_full()
        if not need:
            return -nr
        self._c(op, "cluster_lock")
        if not self._only_has_cache(op, start, nr):
            return -nr
        self.cache_del(op, start, nr)  # swap_cache_del_folio()
        self.cache_drops += 1
        return nr

    def cache_lookup(self, op, entry):
        """swap_cache_get_folio(): one table read."""
        self._c(op, "table_read")
        s = self.slots[entry]
        if isinstance(s, MapSlot) and s.folio is not None:
            return s.folio
        return -1

    def _added(self, folio, start, nr):
        """folio->swap and the order of a folio that enters the swap cache (and it is no
        longer a bypass folio)."""
        self.folio_swap[folio] = start
        self.folio_order[folio] = nr.bit_length() - 1
        if self.folio_flags.get(folio, 0) & FOLIO_SYNC_BYPASS:
            self.folio_flags[folio] &= ~FOLIO_SYNC_BYPASS

    def cache_add(self, op, entry, nr, folio):
        """Swap-in's cache insert: swapcache_prepare(), the charge (with the
        swap_cgroup id), swap_cache_add_folio().  The fault's own page of a count-1
        entry on a synchronous device takes 6.19's bypass: charge (memcg id read),
        swapcache_prepare() (HAS_CACHE), the shadow read; no table write."""
        if (op == OP_SWAPIN and nr == 1 and self.synchronous and isinstance(self.slots[entry], MapSlot)
                and (self.byte(entry) & ~SWAP_HAS_CACHE) == 1):
            self._c(op, "memcg_read")
            self._c(op, "memcg_charge")
            err = self._swap_duplicate(op, entry, 1, True)
            if err:
                return err
            self._c(op, "table_read")  # swap_cache_get_shadow()
            self.slots[entry].folio = folio
            self._added(folio, entry, 1)
            self.folio_flags[folio] = self.folio_flags.get(folio, 0) | FOLIO_SYNC_BYPASS
            return 0
        start = entry // nr * nr
        if nr == 1:
            self._c(op, "table_read")  # swap_cache_get_folio()
            s = self.slots[entry]
            if isinstance(s, MapSlot) and s.folio is not None:
                return EEXIST  # the cached folio is returned, nothing allocated
            self._c(op, "cluster_lock")  # swap_entry_swapped()
            self._c(op, "map_read")
            if (self.byte(entry) & ~SWAP_HAS_CACHE) == 0:
                return ENOENT  # "skip allocation for unused swap slot"
        err = self._swap_duplicate(op, start, nr, True)
        if err:
            return err
        self._c(op, "memcg_read")  # lookup_swap_cgroup_id()
        self._c(op, "memcg_charge")  # mem_cgroup_swapin_charge_folio()
        self._c(op, "cluster_lock")
        for x in range(start, start + nr):
            self._c(op, "table_read")
            self._c(op, "table_write")
            self.slots[x].folio = folio
        self._added(folio, start, nr)
        return 0

    def cache_del(self, op, entry, nr):
        """__remove_mapping() / swap_cache_del_folio(): the table entries become
        shadows under the lock, then put_swap_folio()."""
        self._c(op, "cluster_lock")
        folio = self.slots[entry].folio
        for x in range(entry, entry + nr):
            self._c(op, "table_read")
            self._c(op, "table_write")
            self.slots[x].folio = None
        del self.folio_swap[folio]
        self._swap_info_get(op, entry)  # put_swap_folio()
        self._put_cache(op, entry, nr)
        return 0

    def cache_free(self, op, entry, nr):
        """folio_free_swap(); swapcache_clear() for a folio 6.19's synchronous swap-in
        pinned (lock, then the slot freed once only SWAP_HAS_CACHE holds it)."""
        s = self.slots[entry]
        if (nr == 1 and isinstance(s, MapSlot) and s.folio is not None
                and self.folio_flags.get(s.folio, 0) & FOLIO_SYNC_BYPASS):
            folio = s.folio
            self.folio_flags[folio] &= ~FOLIO_SYNC_BYPASS
            del self.folio_swap[folio]
            s.folio = None
            self._c(op, "cluster_lock")
            if self._only_has_cache(op, entry, 1):
                self._entries_free(op, entry, 1)
            else:
                self._put_locked(op, entry, True)
            return 1
        if self._folio_swapped(op, entry, nr):
            return 0
        self.cache_del(op, entry, nr)
        return 1

    def writeout(self, op, entry, nr, backend):
        """swap_writeout(): folio_free_swap(), zeromap set or clear, zswap or bio."""
        if self.cache_free(op, entry, nr):
            return BACKEND_NONE
        for x in range(entry, entry + nr):
            self._c(op, "zeromap_write")
            if backend == BACKEND_ZERO:
                self.zeromap.add(x)
            else:
                self.zeromap.discard(x)
        if backend == BACKEND_ZERO:
            return BACKEND_ZERO  # no zswap_store(): a stale zswap entry stays
        if backend == BACKEND_ZSWAP:
            for x in range(entry, entry + nr):
                self._zswap_store(op, x)
            return BACKEND_ZSWAP
        # zswap_store()'s check_old: xa_erase per page, zswap ever enabled or not
        for x in range(entry, entry + nr):
            if self._xa_erase(op, x):
                self._c(op, "mem_free")
        return BACKEND_DISK

    def read_backend(self, op, entry):
        """swap_read_folio(): the zeromap bit, then zswap_load(), else the device."""
        self._c(op, "zeromap_read")
        if entry in self.zeromap:
            return BACKEND_ZERO
        if self._zswap_load(op, entry):
            return BACKEND_ZSWAP
        return BACKEND_DISK

    def ra_probe(self, op, entry):
        """do_swap_page() after a swap-cache miss (6.19): the synchronous path when
        ``data_race(si->flags & SWP_SYNCHRONOUS_IO) && __swap_count(entry) == 1`` (one
        swap_map read; COUNT_CONTINUED counts as not 1), else swapin_readahead()."""
        s = self.slots[entry] if 0 < entry < len(self.slots) else None
        if s is None or s is BAD:
            return ENOENT
        if not self.synchronous:
            return RA_READAHEAD
        self._c(op, "map_read")
        if (self.byte(entry) & ~SWAP_HAS_CACHE) == 1:
            return RA_SYNC
        return RA_READAHEAD

    def zswap_writeback(self, op, entry, folio):
        """zswap_writeback_entry()."""
        err = self.cache_add(op, entry, 1, folio)
        if err:
            if err == ENOENT:
                return ENOMEM  # swap_cache_alloc_folio() gave no folio
            return err
        if not self._xa_load(op, entry):
            self.cache_del(op, entry, 1)
            return ENOMEM
        self._zswap_invalidate(op, entry)  # xa_erase + zswap_entry_free
        self.cache_del("cache_del", entry, 1)  # the written folio is reclaimed
        return 0

    def unuse_entry(self, op, off):
        """find_next_to_unuse(): one swap_map byte read; the slot's entry, 0 if free or
        bad (the walk, swapoff_begin / unuse / swapoff_end are the base class's)."""
        self._c(op, "map_read")
        b = self.byte(off)
        if b == 0 or b & 0x3F == SWAP_MAP_BAD:
            return 0
        return off

    def swap_count(self, entry):
        s = self.slots[entry]
        if s is None or s is BAD:
            return -1
        return s.count

    def metadata_bytes(self):
        nodes = sum(len(t.nodes()) for t in self.trees)
        static = 0 if self.off else 1  # swapoff frees the static per-device structures
        return {
            "swap_map": self.max * static,
            "swap_map_continuation": self.total_cont_pages() * 4096 * static,
            "swap_cgroup": self.max * 2 * static,
            "zeromap": -(-self.max // 64) * 8 * static,
            "cluster_info": self.ncl * 32 * static,
            "swap_table": self.tables * self.csize * 8,
            "zswap_trees": self.ntrees * 16,
            "zswap_xa_nodes": nodes * 576,
            "zswap_entry": self.zswap_entries() * 56,
        }

