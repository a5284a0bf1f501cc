"""``classic``: the 6.19 baseline the virtual-swap benchmarks compare against.

What it models (mm/swapfile.c as of the swap table phase I kernels, read at torvalds
07adc4cf; ``reference/swap-designs.md`` sections 1.3-1.8 and 4):

* ``swap_map``: one static byte per slot holding the swap count (up to
  ``SWAP_MAP_MAX`` = 0x3e), ``SWAP_HAS_CACHE`` (0x40) while a folio is in the swap cache,
  and ``COUNT_CONTINUED`` (0x80) when higher "digits" of the count live in
  continuation pages: one 4 KiB page per 4096-slot page of ``swap_map`` per digit
  (each digit up to ``SWAP_CONT_MAX`` = 0x7f), allocated with GFP_ATOMIC when a dup
  needs a new digit and kept until swapoff.  Bad slots hold ``SWAP_MAP_BAD`` (0x3f).
* ``swap_cgroup``: a static u16 memcg id per slot, written at allocation
  (``swap_cgroup_record``), cleared at free with one uncharge per freed batch.
* ``zeromap``: a static bit per slot, set at writeout of a zero-filled folio, cleared
  for other folios and on free.
* The per-cluster swap table (phase I) holds only the swap cache: the folio's PFN
  while cached, a shadow after reclaim, NULL otherwise; 4 KiB allocated when the
  allocator isolates a free cluster, freed with it.  Static ``swap_cluster_info`` is
  32 bytes (lock, count, flags, order, table pointer, list) [I: from the fields].
* zswap entries in one XArray per 64 MiB of swap (:mod:`vswap_nb.core.zswap`).
* ``swap_pte_batch()`` reads the swap_cgroup id of every PTE of a batch and stops at
  a change (the 6.19 per-PTE cgroup check): :func:`cl_pte_batch`.
* The allocator is the 6.19 generation (``KERNEL_619`` in
  :mod:`vswap_nb.core.device`): it scans ``swap_map`` bytes, a slot holding only
  ``SWAP_HAS_CACHE`` being the swap-cache-only state.

Verb by verb (counted as the functions named):

* alloc: ``folio_alloc_swap`` = allocator (``swap_map`` = HAS_CACHE for the range),
  ``mem_cgroup_try_charge_swap`` (charge + ``swap_cgroup_record``, no lock),
  ``swap_cache_add_folio`` (lock + a table read and write per slot).
* dup: ``swap_duplicate`` = ``__swap_duplicate(entry, 1, nr)`` (lock, a check pass and
  an update pass over ``swap_map``), with ``add_swap_count_continuation`` on -ENOMEM.
* put: ``free_swap_and_cache_nr`` (or ``swap_free_nr`` without cache reclaim): per
  cluster ``swap_entries_put_map`` (whole-batch free when every slot holds count 1,
  else slot by slot), then a ``swap_map`` pass reclaiming slots left with only
  HAS_CACHE.  ``swap_entries_free`` clears ``swap_map``, the cgroup ids (one uncharge),
  the zeromap bits, zswap, the per-slot hooks and the table shadows.
* ra_probe: the 6.19 fault takes the synchronous path (no readahead) on a
  SWP_SYNCHRONOUS_IO device only for an entry whose ``__swap_count`` is 1.
* The synchronous path in 6.18/6.19 (mm/memory.c do_swap_page(), read in the v6.18.0
  and v6.19 sources) bypasses the swap cache: the folio is charged,
  ``swapcache_prepare`` pins the slot with SWAP_HAS_CACHE (lock + the swap_map byte),
  the shadow is read, the page is read synchronously, ``swap_free_nr`` drops the count
  (the slot keeps HAS_CACHE) and ``swapcache_clear`` frees the slot after mapping; no
  swap-table entry is written (``cache_add`` on the fault's own page, ``cache_free``).
  The swap table phase II series later removed this bypass (``swap_table``).
* free_after_fault: 6.19's should_try_to_free_swap() has no SWP_SYNCHRONOUS_IO test:
  a swap-cache folio is freed after a fault only when swap is full
  (mem_cgroup_swap_full, by default vm_swap_full) or on an exclusive write fault
  (VM_LOCKED and mlocked folios are not modelled); a shared (count > 1) entry on zram
  goes through readahead and stays cached.
* cache_del: ``__remove_mapping`` = lock + table PFN -> shadow, then
  ``put_swap_folio`` (lock + HAS_CACHE dropped, slots freed when nothing else holds
  them).

Continuation pages are counted as ``ext_read`` / ``ext_write`` per digit touched [I:
the walk order inside ``swap_count_continued`` is simplified to one access per digit].
Left out: shmem's ``SWAP_MAP_SHMEM``, hibernation, multiple devices, concurrency.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..core import metadata as md
from ..core import swp_tb, verbs
from ..core.counters import (
    CLUSTER_LOCK,
    EXT_READ,
    EXT_WRITE,
    MAP_READ,
    MAP_WRITE,
    MEM_ALLOC,
    MEMCG_CHARGE,
    MEMCG_READ,
    MEMCG_UNCHARGE,
    MEMCG_WRITE,
    OP_ALLOC,
    OP_SWAPIN,
    SLOT_FREE_NOTIFY,
    TABLE_READ,
    TABLE_WRITE,
    ZEROMAP_READ,
    ZEROMAP_WRITE,
)
from ..core.device import (
    D_CLUSTER_SHIFT,
    D_FLAGS,
    D_INUSE,
    D_MAX,
    D_NCLUSTERS,
    D_OFF,
    D_TABLES,
    KERNEL_619,
    SWP_FREE_NOTIFY,
    SWP_SYNCHRONOUS_IO,
    dev_alloc,
    dev_deferred_work,
    dev_free_range,
    new_device,
)
from ..core.jit import njit
from ..core.verbs import (
    BACKEND_DISK,
    BACKEND_NONE,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    EEXIST,
    EINVAL,
    ENOENT,
    ENOMEM,
    F_FLAGS,
    F_SWAP,
    FOLIO_SYNC_BYPASS,
    RA_READAHEAD,
    RA_SYNC,
    SLOT_BUSY,
    SLOT_CACHE_ONLY,
    SLOT_FREE,
    TTRS_FULL,
    TTRS_UNMAPPED,
    folio_add_swap,
)
from ..core.zswap import (
    new_zswap_trees,
    zswap_drop_stale_folio,
    zswap_invalidate,
    zswap_load,
    zswap_metadata_bytes,
    zswap_store_folio,
)
from .base import Design
from ._table_cache import (
    owned_slot_zswap_writeback,
    phys_reclaim_full,
    phys_slot_reclaim,
    table_cache_lookup,
    table_try_reclaim,
    table_unuse,
)


SWAP_HAS_CACHE = 0x40
COUNT_CONTINUED = 0x80
SWAP_MAP_MAX = 0x3E
SWAP_MAP_BAD = 0x3F
SWAP_CONT_MAX = 0x7F
COUNT_MASK = 0x3F  # the low count digit
CONT_SHIFT = 12  # one continuation page per 4096 slots of swap_map

# meta words
K_CONT_PAGES = 0
N_KMETA = 4

ClassicState = namedtuple(
    "ClassicState", ["dev", "swap_map", "cgroup", "zeromap", "cont", "cont_pages", "zswap", "meta"]
)
ClassicState.__doc__ = """State of the classic (6.19) design.

dev         SwapDev          the physical device; ``dev.table`` is the swap cache table
swap_map    uint8[max]       count | SWAP_HAS_CACHE | COUNT_CONTINUED, or SWAP_MAP_BAD
cgroup      uint16[max]      swap_cgroup ids
zeromap     uint64[words]    one bit per slot
cont        uint32[max]      the count held in continuation pages (higher digits)
cont_pages  uint8[max/4096]  continuation pages attached to each page of swap_map
zswap       XAPool           one zswap XArray per 64 MiB
meta        int64[N_KMETA]   continuation pages in all
"""


def new_state(nslots: int, *, cluster_size: int = 512, zswap_enabled: bool = False, **device) -> ClassicState:
    """A classic design over a fresh device of ``nslots`` slots.  ``device``: the physical
    device's keywords of :func:`~vswap_nb.core.device.new_device` (ncpu, solidstate,
    discard, blkdev, synchronous, free_notify)."""
    # the swap table: a zeroed page per cluster at 512 slots
    dev = new_device(nslots, cluster_size=cluster_size, table_sizes=(8 * cluster_size,), kernel=KERNEL_619, **device)
    n = dev.table.shape[0]
    swap_map = np.zeros(n, dtype=np.uint8)
    swap_map[0] = SWAP_MAP_BAD
    swap_map[nslots:] = SWAP_MAP_BAD
    return ClassicState(
        dev=dev,
        swap_map=swap_map,
        cgroup=np.zeros(n, dtype=np.uint16),
        zeromap=np.zeros(-(-n // 64), dtype=np.uint64),
        cont=np.zeros(n, dtype=np.uint32),
        cont_pages=np.zeros(-(-n >> CONT_SHIFT) + 1, dtype=np.uint8),
        zswap=new_zswap_trees(nslots),
        meta=np.zeros(N_KMETA, dtype=np.int64),
    )


# --------------------------------------------------------------------------- helpers


@njit(inline="always")
def _zero_set(dst, s, on):
    w = s >> 6
    bit = np.uint64(1) << np.uint64(s & 63)
    if on:
        dst.zeromap[w] |= bit
    else:
        dst.zeromap[w] &= ~bit


@njit(inline="always")
def _zero_test(dst, s):
    return (dst.zeromap[s >> 6] >> np.uint64(s & 63)) & np.uint64(1) != 0


@njit(inline="always")
def _digits(v):
    """Continuation pages needed to hold the higher count ``v`` (base SWAP_CONT_MAX+1)."""
    n = 0
    while v > 0:
        v //= SWAP_CONT_MAX + 1
        n += 1
    return n


@njit
def _entries_free(dst, ctx, op, start, n):
    """swap_entries_free(): the last reference of ``n`` slots of one cluster is gone."""
    for s in range(start, start + n):
        ctx.counters[op, MAP_WRITE] += 1
        dst.swap_map[s] = 0
    # mem_cgroup_uncharge_swap(): swap_cgroup_clear() over the range, one uncharge
    memcg = 0
    for s in range(start, start + n):
        ctx.counters[op, MEMCG_READ] += 1
        ctx.counters[op, MEMCG_WRITE] += 1
        if memcg == 0:
            memcg = np.int64(dst.cgroup[s])
        dst.cgroup[s] = 0
    if memcg != 0:
        ctx.counters[op, MEMCG_UNCHARGE] += 1
    # swap_range_free(): zeromap bit, zswap, per-slot hooks, then the table shadows
    for s in range(start, start + n):
        ctx.counters[op, ZEROMAP_WRITE] += 1
        was_zero = _zero_test(dst, s)  # zram's own slot state, read by its hook
        _zero_set(dst, s, False)
        in_zswap = zswap_invalidate(dst.zswap, ctx, op, s)
        # zram: zs_free of the slot's object; a zero or zswap slot has none on zram
        if dst.dev.meta[D_FLAGS] & SWP_FREE_NOTIFY and not was_zero and not in_zswap:
            ctx.counters[op, SLOT_FREE_NOTIFY] += 1
    table = dst.dev.table
    for s in range(start, start + n):  # __swap_cache_clear_shadow(): an exchange
        ctx.counters[op, TABLE_READ] += 1
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.NULL
    dev_free_range(dst.dev, dst, ctx, op, start, n)


@njit
def _put_locked(dst, ctx, op, s, usage):
    """swap_entry_put_locked(): drop one count (``usage`` 1) or the cache pin
    (``usage`` SWAP_HAS_CACHE); frees the slot when nothing is left.  Returns the new
    swap_map value."""
    ctx.counters[op, MAP_READ] += 1
    count = np.int64(dst.swap_map[s])
    has_cache = count & SWAP_HAS_CACHE
    count &= ~SWAP_HAS_CACHE
    if usage == SWAP_HAS_CACHE:
        has_cache = 0
    elif (count & ~COUNT_CONTINUED) <= SWAP_MAP_MAX:
        if count == COUNT_CONTINUED:
            # swap_count_continued() decrementing: borrow from the higher digits
            levels = _digits(np.int64(dst.cont[s]))
            ctx.counters[op, EXT_READ] += levels
            ctx.counters[op, EXT_WRITE] += levels
            dst.cont[s] -= 1
            if dst.cont[s] > 0:
                count = SWAP_MAP_MAX | COUNT_CONTINUED
            else:
                count = SWAP_MAP_MAX
        else:
            count -= 1
    usage = count | has_cache
    if usage != 0:
        ctx.counters[op, MAP_WRITE] += 1
        dst.swap_map[s] = usage
    else:
        _entries_free(dst, ctx, op, s, 1)
    return usage


@njit
def cl_only_has_cache(dst, ctx, op, start, nr):
    """swap_only_has_cache(): every slot holds exactly SWAP_HAS_CACHE."""
    for s in range(start, start + nr):
        ctx.counters[op, MAP_READ] += 1
        if dst.swap_map[s] != SWAP_HAS_CACHE:
            return False
    return True


@njit
def _put_cache(dst, ctx, op, start, nr):
    """put_swap_folio(): ``_swap_info_get()`` (a swap_map read), then
    swap_entries_put_cache(): drop the cache pin of a folio's slots."""
    ctx.counters[op, MAP_READ] += 1
    ctx.counters[op, CLUSTER_LOCK] += 1
    if cl_only_has_cache(dst, ctx, op, start, nr):
        _entries_free(dst, ctx, op, start, nr)
    else:
        for s in range(start, start + nr):
            _put_locked(dst, ctx, op, s, SWAP_HAS_CACHE)


@njit
def _cache_del_locked(dst, ctx, op, start, nr):
    """__swap_cache_del_folio() under the lock, then put_swap_folio()."""
    table = dst.dev.table
    folio = swp_tb.tb_pfn(table[start])
    for s in range(start, start + nr):
        ctx.counters[op, TABLE_READ] += 1
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.tb_mk_shadow(0, 0)
    ctx.folio[folio, F_SWAP] = 0
    _put_cache(dst, ctx, op, start, nr)


@njit
def _put_map(dst, ctx, op, start, nr):
    """swap_entries_put_map() within one cluster; True if a slot was left holding only
    the swap cache."""
    has_cache = False
    fallback = True
    if nr > 1:
        ctx.counters[op, MAP_READ] += 1
        first = np.int64(dst.swap_map[start])
        if (first & ~SWAP_HAS_CACHE) == 1:
            ctx.counters[op, CLUSTER_LOCK] += 1
            # swap_is_last_map(): every slot holds the same count-1 value
            last = True
            ctx.counters[op, MAP_READ] += 1
            for s in range(start + 1, start + nr):
                ctx.counters[op, MAP_READ] += 1
                if dst.swap_map[s] != first:
                    last = False
                    break
            if last:
                if (first & SWAP_HAS_CACHE) == 0:
                    _entries_free(dst, ctx, op, start, nr)
                else:
                    for s in range(start, start + nr):
                        ctx.counters[op, MAP_WRITE] += 1
                        dst.swap_map[s] = SWAP_HAS_CACHE
                    has_cache = True
                return has_cache
            fallback = False  # locked_fallback: the lock is already held
    if fallback:
        ctx.counters[op, CLUSTER_LOCK] += 1
    for s in range(start, start + nr):
        if _put_locked(dst, ctx, op, s, 1) == SWAP_HAS_CACHE:
            has_cache = True
    return has_cache


# --------------------------------------------------------------------------- verbs


@njit
def cl_alloc(dst, ctx, cpu, order, folio, memcg):
    op = OP_ALLOC
    dev = dst.dev
    off = dev_alloc(dev, dst, ctx, op, cpu, order)
    if off == 0:
        return ENOMEM
    nr = np.int64(1) << order
    for s in range(off, off + nr):  # cluster_alloc_range(): memset(swap_map, HAS_CACHE)
        ctx.counters[op, MAP_WRITE] += 1
        dst.swap_map[s] = SWAP_HAS_CACHE
    if memcg != 0:
        # mem_cgroup_try_charge_swap(): charge, swap_cgroup_record() (no cluster lock)
        ctx.counters[op, MEMCG_CHARGE] += 1
        for s in range(off, off + nr):  # an exchange of each id
            ctx.counters[op, MEMCG_READ] += 1
            ctx.counters[op, MEMCG_WRITE] += 1
            dst.cgroup[s] = memcg
    # swap_cache_add_folio()
    ctx.counters[op, CLUSTER_LOCK] += 1
    table = dev.table
    for s in range(off, off + nr):
        ctx.counters[op, TABLE_READ] += 1
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.tb_mk_pfn(folio, 0)
    folio_add_swap(ctx, folio, off, nr)
    dev_deferred_work(dev, dst, ctx)
    return off


@njit
def _duplicate(dst, ctx, op, entry, nr, usage):
    """__swap_duplicate(): 0, or -ENOENT / -EEXIST / -EINVAL / -ENOMEM."""
    ctx.counters[op, CLUSTER_LOCK] += 1
    for s in range(entry, entry + nr):
        ctx.counters[op, MAP_READ] += 1
        count = np.int64(dst.swap_map[s])
        if (count & ~SWAP_HAS_CACHE) == SWAP_MAP_BAD:
            return ENOENT
        has_cache = count & SWAP_HAS_CACHE
        count &= ~SWAP_HAS_CACHE
        if count == 0 and has_cache == 0:
            return ENOENT
        if usage == SWAP_HAS_CACHE:
            if has_cache:
                return EEXIST
        elif (count & ~COUNT_CONTINUED) > SWAP_MAP_MAX:
            return EINVAL
    for s in range(entry, entry + nr):
        ctx.counters[op, MAP_READ] += 1
        count = np.int64(dst.swap_map[s])
        has_cache = count & SWAP_HAS_CACHE
        count &= ~SWAP_HAS_CACHE
        if usage == SWAP_HAS_CACHE:
            has_cache = SWAP_HAS_CACHE
        elif (count & ~COUNT_CONTINUED) < SWAP_MAP_MAX:
            count += usage
        else:
            # swap_count_continued() incrementing: carry into the higher digits if
            # this page of swap_map has enough continuation pages, else -ENOMEM
            need = _digits(np.int64(dst.cont[s]) + 1)
            if need > dst.cont_pages[s >> CONT_SHIFT]:
                return ENOMEM
            ctx.counters[op, EXT_READ] += need
            ctx.counters[op, EXT_WRITE] += need
            dst.cont[s] += 1
            count = COUNT_CONTINUED
        ctx.counters[op, MAP_WRITE] += 1
        dst.swap_map[s] = count | has_cache
    return 0


@njit
def cl_dup(dst, ctx, op, entry, nr):
    """swap_duplicate() per slot (the kernel dups one PTE at a time)."""
    for s in range(entry, entry + nr):
        while True:
            err = _duplicate(dst, ctx, op, s, 1, 1)
            if err != ENOMEM:
                break
            # add_swap_count_continuation(GFP_ATOMIC): a page for the next digit
            ctx.counters[op, MEM_ALLOC] += 1
            ctx.counters[op, CLUSTER_LOCK] += 1
            ctx.counters[op, MAP_READ] += 1
            dst.cont_pages[s >> CONT_SHIFT] += 1
            dst.meta[K_CONT_PAGES] += 1
        if err != 0:
            return err
    return 0


@njit
def cl_pte_batch(dst, ctx, op, entry, nr):
    """swap_pte_batch()'s cgroup check: lookup_swap_cgroup_id() of every PTE."""
    ctx.counters[op, MEMCG_READ] += 1
    first = dst.cgroup[entry]
    for i in range(1, nr):
        ctx.counters[op, MEMCG_READ] += 1
        if dst.cgroup[entry + i] != first:
            return i
    return nr


@njit
def cl_put(dst, ctx, op, entry, nr, reclaim_cache):
    """free_swap_and_cache_nr(), or swap_free_nr() (whose ``_swap_info_get()`` reads
    the first slot's swap_map byte) when ``reclaim_cache`` is False.  Returns the slots
    the put itself freed; those its cache reclaim frees afterwards are cache drops."""
    csize = np.int64(1) << dst.dev.meta[D_CLUSTER_SHIFT]
    if not reclaim_cache:
        ctx.counters[op, MAP_READ] += 1
    inuse_before = dst.dev.meta[D_INUSE]
    any_only_cache = False
    off = entry
    end = entry + nr
    while off < end:
        cend = min((off // csize + 1) * csize, end)
        if _put_map(dst, ctx, op, off, cend - off):
            any_only_cache = True
        off = cend
    freed = inuse_before - dst.dev.meta[D_INUSE]
    if any_only_cache and reclaim_cache:
        off = entry
        while off < end:
            step = 1
            ctx.counters[op, MAP_READ] += 1
            if dst.swap_map[off] == SWAP_HAS_CACHE:
                r = table_try_reclaim(dst, ctx, op, off, TTRS_UNMAPPED | TTRS_FULL)
                if r == 0:
                    r = 1
                elif r < 0:
                    r = -r
                step = ((off + r) // r) * r - off
            off += step
    return freed


@njit
def _sync_bypass_add(dst, ctx, op, entry, folio):
    """6.19's synchronous swap-in of a count-1 entry (do_swap_page(), SWP_SYNCHRONOUS_IO):
    the folio is charged (the memcg id read for it), swapcache_prepare() pins the slot
    with SWAP_HAS_CACHE (lock + the swap_map byte), the workingset shadow is read from the
    swap table; the folio is *not* added to the swap cache.  The model still records it
    against the slot (uncounted: no other path can reach it before the fault ends) and
    marks it, so that ``cl_cache_free`` does swapcache_clear() for it."""
    ctx.counters[op, MEMCG_READ] += 1  # lookup_swap_cgroup_id() for the charge
    ctx.counters[op, MEMCG_CHARGE] += 1
    err = _duplicate(dst, ctx, op, entry, 1, SWAP_HAS_CACHE)
    if err != 0:
        return err
    ctx.counters[op, TABLE_READ] += 1  # swap_cache_get_shadow()
    dst.dev.table[entry] = swp_tb.tb_mk_pfn(folio, 0)
    folio_add_swap(ctx, folio, entry, 1)
    ctx.folio[folio, F_FLAGS] |= FOLIO_SYNC_BYPASS
    return 0


@njit
def _swapcache_clear(dst, ctx, op, entry, folio):
    """swapcache_clear() after a synchronous swap-in: swap_entries_put_cache() under the
    cluster lock frees the slot once only SWAP_HAS_CACHE holds it."""
    ctx.folio[folio, F_FLAGS] &= ~FOLIO_SYNC_BYPASS
    ctx.folio[folio, F_SWAP] = 0
    ctx.counters[op, CLUSTER_LOCK] += 1
    if cl_only_has_cache(dst, ctx, op, entry, 1):
        _entries_free(dst, ctx, op, entry, 1)
    else:
        dst.dev.table[entry] = swp_tb.tb_mk_shadow(0, 0)  # the model's record goes
        _put_locked(dst, ctx, op, entry, SWAP_HAS_CACHE)


@njit
def cl_free_after_fault(dst, ctx, op, entry, folio, sync_dev, full, write):
    """6.19: should_try_to_free_swap() has no device rule (a swap-cache folio is freed
    when mem_cgroup_swap_full(), i.e. vm_swap_full() by default, or on an exclusive write
    fault); the synchronous path frees what it pinned (swapcache_clear)."""
    return (ctx.folio[folio, F_FLAGS] & FOLIO_SYNC_BYPASS) != 0 or full or write


@njit
def cl_cache_add(dst, ctx, op, entry, nr, folio):
    """Swap-in's cache insert (__read_swap_cache_async): swap_cache_get_folio() (a
    table read), swap_entry_swapped() (lock + a swap_map read), swapcache_prepare()
    (HAS_CACHE), the memcg id for the charge, swap_cache_add_folio().  A fault's own
    page on a SWP_SYNCHRONOUS_IO device whose entry has count 1 takes 6.19's bypass
    instead (:func:`_sync_bypass_add`)."""
    if (
        op == OP_SWAPIN
        and nr == 1
        and (dst.dev.meta[D_FLAGS] & SWP_SYNCHRONOUS_IO) != 0
        and (np.int64(dst.swap_map[entry]) & ~SWAP_HAS_CACHE) == 1
    ):
        return _sync_bypass_add(dst, ctx, op, entry, folio)
    start = (entry // nr) * nr
    if nr == 1:  # a large folio comes in through the synchronous path, without them
        ctx.counters[op, TABLE_READ] += 1
        if swp_tb.tb_is_folio(dst.dev.table[entry]):
            return EEXIST
        ctx.counters[op, CLUSTER_LOCK] += 1
        ctx.counters[op, MAP_READ] += 1
        if (np.int64(dst.swap_map[entry]) & ~SWAP_HAS_CACHE) == 0:
            return ENOENT
    err = _duplicate(dst, ctx, op, start, nr, SWAP_HAS_CACHE)
    if err != 0:
        return err
    ctx.counters[op, MEMCG_READ] += 1  # lookup_swap_cgroup_id() for the charge
    ctx.counters[op, MEMCG_CHARGE] += 1
    ctx.counters[op, CLUSTER_LOCK] += 1
    table = dst.dev.table
    for s in range(start, start + nr):
        ctx.counters[op, TABLE_READ] += 1
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.tb_mk_pfn(folio, 0)
    folio_add_swap(ctx, folio, start, nr)
    return 0


@njit
def cl_cache_del(dst, ctx, op, entry, nr):
    """__remove_mapping() of a swap-cache folio / swap_cache_del_folio()."""
    ctx.counters[op, CLUSTER_LOCK] += 1
    _cache_del_locked(dst, ctx, op, entry, nr)
    return 0


@njit
def _folio_swapped(dst, ctx, op, entry, nr):
    """folio_swapped(): ``_swap_info_get()`` (a swap_map read), then lock and any slot
    with a swap count."""
    ctx.counters[op, MAP_READ] += 1
    ctx.counters[op, CLUSTER_LOCK] += 1
    for s in range(entry, entry + nr):
        ctx.counters[op, MAP_READ] += 1
        if (dst.swap_map[s] & ~SWAP_HAS_CACHE) != 0:
            return True
    return False


@njit
def cl_cache_free(dst, ctx, op, entry, nr):
    """folio_free_swap(); swapcache_clear() for a folio the synchronous path pinned."""
    folio = swp_tb.tb_pfn(dst.dev.table[entry])
    if nr == 1 and swp_tb.tb_is_folio(dst.dev.table[entry]) and ctx.folio[folio, F_FLAGS] & FOLIO_SYNC_BYPASS:
        _swapcache_clear(dst, ctx, op, entry, folio)
        return 1
    if _folio_swapped(dst, ctx, op, entry, nr):
        return 0
    cl_cache_del(dst, ctx, op, entry, nr)
    return 1


@njit
def cl_writeout(dst, ctx, op, entry, nr, backend):
    """swap_writeout(): folio_free_swap(), zeromap set or clear, zswap_store or bio."""
    if cl_cache_free(dst, ctx, op, entry, nr):
        return BACKEND_NONE
    for s in range(entry, entry + nr):
        ctx.counters[op, ZEROMAP_WRITE] += 1
        _zero_set(dst, s, backend == BACKEND_ZERO)
    if backend == BACKEND_ZERO:
        return BACKEND_ZERO
    if backend == BACKEND_ZSWAP:
        if zswap_store_folio(dst.zswap, ctx, op, entry, nr) != 0:
            return ENOMEM
        return BACKEND_ZSWAP
    zswap_drop_stale_folio(dst.zswap, ctx, op, entry, nr, False)  # zswap_store()'s check_old
    return BACKEND_DISK


@njit
def cl_read_backend(dst, ctx, op, entry):
    """swap_read_folio(): the zeromap bit, then zswap_load, else the device."""
    ctx.counters[op, ZEROMAP_READ] += 1
    if _zero_test(dst, entry):
        return BACKEND_ZERO
    if zswap_load(dst.zswap, ctx, op, entry):
        return BACKEND_ZSWAP
    return BACKEND_DISK


@njit
def cl_ra_probe(dst, ctx, op, entry):
    """do_swap_page() after a cache miss, 6.19: the synchronous path only when the
    device has SWP_SYNCHRONOUS_IO and ``__swap_count(entry) == 1`` (a swap_map read;
    a shared entry, or one whose count continues, goes through readahead).  Phase II
    of the swap table dropped the count test."""
    if not 0 < entry < dst.swap_map.shape[0] or cl_swap_count(dst, entry) < 0:
        return ENOENT
    if (dst.dev.meta[D_FLAGS] & SWP_SYNCHRONOUS_IO) == 0:
        return RA_READAHEAD
    ctx.counters[op, MAP_READ] += 1
    if (np.int64(dst.swap_map[entry]) & ~SWAP_HAS_CACHE) == 1:
        return RA_SYNC
    return RA_READAHEAD


@njit
def cl_zswap_writeback(dst, ctx, op, entry, folio):
    """zswap_writeback_entry(): 6.19's __read_swap_cache_async() gives no folio for a
    slot that is not swapped, which the caller reports as -ENOMEM."""
    err = owned_slot_zswap_writeback(dst, ctx, op, entry, folio)
    if err == ENOENT:
        return ENOMEM
    return err


@njit
def cl_swap_count(dst, entry):
    m = np.int64(dst.swap_map[entry])
    if m == 0 or (m & COUNT_MASK) == SWAP_MAP_BAD:
        return -1
    count = m & COUNT_MASK
    if m & COUNT_CONTINUED:
        count += np.int64(dst.cont[entry]) * (SWAP_MAP_MAX + 1)
    return count


@njit
def cl_metadata_bytes(dst, out):
    out[:] = 0
    dev = dst.dev
    nmax = dev.meta[D_MAX] * (1 - dev.meta[D_OFF])  # swapoff frees the static arrays
    out[md.S_SWAP_MAP] = nmax
    out[md.S_SWAP_MAP_CONT] = dst.meta[K_CONT_PAGES] * md.PAGE_SIZE * (1 - dev.meta[D_OFF])
    out[md.S_SWAP_CGROUP] = nmax * md.MEMCG_ID_BYTES
    out[md.S_ZEROMAP] = ((nmax + 63) // 64) * 8
    out[md.S_CLUSTER_INFO] = dev.meta[D_NCLUSTERS] * md.CLUSTER_INFO_619_BYTES * (1 - dev.meta[D_OFF])
    csize = np.int64(1) << dev.meta[D_CLUSTER_SHIFT]
    out[md.S_SWAP_TABLE] = dev.meta[D_TABLES] * csize * md.SWAP_TABLE_ENTRY_BYTES
    zswap_metadata_bytes(dst.zswap, out)


@njit
def cl_phys_slot_scan(dst, ctx, op, dev, off):
    ctx.counters[op, MAP_READ] += 1
    m = dst.swap_map[off]
    if m == 0:
        return SLOT_FREE
    if m == SWAP_HAS_CACHE:
        return SLOT_CACHE_ONLY
    return SLOT_BUSY


@njit
def cl_unuse_entry(dst, ctx, op, off):
    """find_next_to_unuse(): a swap_map byte read; the slot's entry if in use."""
    ctx.counters[op, MAP_READ] += 1
    m = np.int64(dst.swap_map[off])
    if m == 0 or (m & COUNT_MASK) == SWAP_MAP_BAD:
        return 0
    return off


verbs.register(
    ClassicState,
    alloc=cl_alloc,
    dup=cl_dup,
    pte_batch=cl_pte_batch,
    put=cl_put,
    cache_lookup=table_cache_lookup,
    cache_add=cl_cache_add,
    cache_del=cl_cache_del,
    cache_free=cl_cache_free,
    try_reclaim=table_try_reclaim,
    writeout=cl_writeout,
    read_backend=cl_read_backend,
    ra_probe=cl_ra_probe,
    zswap_writeback=cl_zswap_writeback,
    reclaim_full=phys_reclaim_full,
    swap_count=cl_swap_count,
    metadata_bytes=cl_metadata_bytes,
    phys_slot_scan=cl_phys_slot_scan,
    phys_slot_reclaim=phys_slot_reclaim,
    only_has_cache=cl_only_has_cache,
    unuse_entry=cl_unuse_entry,
    unuse=table_unuse,
    free_after_fault=cl_free_after_fault,
)

DESIGN = Design(
    "classic",
    "the 6.19 baseline: static swap_map (1 B/slot) + swap_cgroup (2 B/slot) + zeromap "
    "bit, per-cluster swap table as the swap cache, zswap XArrays per 64 MiB, per-PTE "
    "cgroup lookup in swap_pte_batch",
    ClassicState,
    new_state,
)
