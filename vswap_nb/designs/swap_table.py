"""``swap_table``: swap table phase IV (Kairui Song), the current mm-unstable design.

What it models (mm/swapfile.c, mm/swap_state.c, mm/swap_table.h, mm/page_io.c with
P4 v5 applied; ``reference/swap-designs.md`` sections 1.2-1.8 and 4):

* One 8-byte swap-table word per slot (:mod:`vswap_nb.core.swp_tb`): NULL, Shadow or
  PFN, each carrying a 4-bit COUNT and the zero flag Z.  Counts 1..14 inline; a dup past
  14 needs the cluster's extend table (u32[512], allocated GFP_ATOMIC outside the lock,
  freed when no slot overflows), with COUNT 15 as the overflow marker.
* Count 0 + PFN is the swap-cache-only state.  A fresh allocation adds the folio to the
  swap cache with count 0; each unmapped PTE adds one (``folio_dup_swap``).
* Per populated cluster: the table page and a 1 KiB memcg table (u16 id[512]) allocated
  together when the allocator isolates a free cluster, freed when it becomes free; 48 B
  of static ``swap_cluster_info`` per cluster and nothing else per slot.
* The memcg id is recorded at allocation (``mem_cgroup_try_charge_swap`` ->
  ``__swap_cgroup_set`` under the cluster lock), read back on swap-in and cleared on free
  with one uncharge per run of equal ids (``__swap_cluster_free_entries``).
* Free (``swap_put_entries_direct``): per cluster chunk one lock; count-1 uncached slots
  are batched and freed together; others are decremented and flush the batch; slots
  whose count went 1 -> 0 while cached are reclaimed after unlock with
  ``TTRS_UNMAPPED | TTRS_FULL``.  Each freed slot pays ``zswap_invalidate`` (an
  ``xa_empty`` check, then ``xa_erase`` in its 64 MiB zswap tree) and the per-slot
  free hooks.  ``swap_pte_batch`` does no cgroup lookup in P4.
* Zero pages: Z set under the cluster lock at writeout (cleared for non-zero pages).
  zswap: one ``xa_store`` per page in the 64 MiB tree of the slot (one XArray per 16384
  slots, indexed by the unmasked offset) and a 56-byte ``zswap_entry``.
* Swap-cache lookups are one RCU table read; adds check the range twice
  (``__swap_cache_add_check``, before and after the folio allocation).

Cost conventions: a cluster lookup is arithmetic (no counter); every lock of a cluster
is one ``cluster_lock``; every table word read or written is one ``table_read`` /
``table_write``.  The swap charge and uncharge calls are counted, not the page counter
work behind them.  ``mem_cgroup_swap_full`` is taken to be ``vm_swap_full`` [I].

Left out: multiple swap devices and priorities, hibernation slots, shmem, the RCU delay
on freed tables, and concurrency (trylocks always succeed).
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
    MEM_ALLOC,
    MEM_FREE,
    MEM_ZERO_LINE,
    MEMCG_CHARGE,
    MEMCG_READ,
    MEMCG_UNCHARGE,
    MEMCG_WRITE,
    OP_ALLOC,
    SLOT_FREE_NOTIFY,
    TABLE_READ,
    TABLE_WRITE,
)
from ..core.device import (
    CI_EXT,
    CI_TABLE,
    D_CLUSTER_SHIFT,
    D_FLAGS,
    D_ID,
    D_NCLUSTERS,
    D_OFF,
    D_TABLES,
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
    EBUSY,
    EEXIST,
    EINVAL,
    ENOENT,
    ENOMEM,
    F_SWAP,
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
    zswap_any_present,
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


# meta words
T_EXT_TABLES = 0
N_TMETA = 4

SwapTableState = namedtuple(
    "SwapTableState", ["dev", "ext", "memcg", "zswap", "meta"]
)
SwapTableState.__doc__ = """State of the swap_table design.

dev        SwapDev        the physical device; ``dev.table`` is the swap table
ext        uint32[max]    extend-table storage (meaningful where the cluster's
                          ``dev.ci[c, CI_EXT]`` word says the table is allocated)
memcg      uint16[max]    memcg-table storage (allocated with the cluster's table)
zswap      XAPool         one zswap XArray per 64 MiB of swap, sharing a node pool
meta       int64[N_TMETA] extend tables allocated
"""


def new_state(nslots: int, *, cluster_size: int = 512, zswap_enabled: bool = False, **device) -> SwapTableState:
    """A swap_table design over a fresh device of ``nslots`` slots.  ``device``: the physical
    device's keywords of :func:`~vswap_nb.core.device.new_device` (ncpu, solidstate,
    discard, blkdev, synchronous, free_notify)."""
    # a populated cluster allocates the table page and the memcg table
    dev = new_device(nslots, cluster_size=cluster_size, table_sizes=(8 * cluster_size, 2 * cluster_size), **device)
    n = dev.table.shape[0]
    return SwapTableState(
        dev=dev,
        ext=np.zeros(n, dtype=np.uint32),
        memcg=np.zeros(n, dtype=np.uint16),
        zswap=new_zswap_trees(nslots),
        meta=np.zeros(N_TMETA, dtype=np.int64),
    )


# --------------------------------------------------------------------------- helpers


@njit(inline="always")
def _cluster(dst, off):
    return off >> dst.dev.meta[D_CLUSTER_SHIFT]


@njit(inline="always")
def _ext_try_free(dst, ctx, op, c):
    """swap_extend_table_try_free(): free the extend table when no slot overflows."""
    if dst.dev.ci[c, CI_EXT] == 0:
        return
    csize = 1 << dst.dev.meta[D_CLUSTER_SHIFT]
    start = c * csize
    ctx.counters[op, EXT_READ] += csize
    for s in range(start, start + csize):
        if dst.ext[s] != 0:
            return
    dst.dev.ci[c, CI_EXT] = 0
    dst.meta[T_EXT_TABLES] -= 1
    ctx.counters[op, MEM_FREE] += 1


@njit(inline="always")
def _put_one(dst, ctx, op, s):
    """__swap_cluster_put_entry(): count - 1 without freeing."""
    table = dst.dev.table
    ctx.counters[op, TABLE_READ] += 1
    tb = table[s]
    count = swp_tb.tb_count(tb)
    if count == swp_tb.COUNT_MAX:
        ctx.counters[op, EXT_READ] += 1
        count = np.int64(dst.ext[s]) - 1
        ctx.counters[op, EXT_WRITE] += 1
        if count == swp_tb.COUNT_MAX - 1:
            dst.ext[s] = 0
            ctx.counters[op, TABLE_WRITE] += 1
            table[s] = swp_tb.tb_set_count(tb, count)
        else:
            dst.ext[s] = count
    else:
        count -= 1
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.tb_set_count(tb, count)
    if count == swp_tb.COUNT_MAX - 2 or count == swp_tb.COUNT_MAX - 1:
        _ext_try_free(dst, ctx, op, _cluster(dst, s))


@njit(inline="always")
def _dup_one(dst, ctx, op, s):
    """__swap_cluster_dup_entry(): 0, or ENOMEM when an extend table is needed."""
    table = dst.dev.table
    ctx.counters[op, TABLE_READ] += 1
    tb = table[s]
    if swp_tb.tb_is_bad(tb) or swp_tb.tb_is_pointer(tb):
        return EINVAL
    count = swp_tb.tb_count(tb)
    if count == 0 and not swp_tb.tb_is_folio(tb):
        return ENOENT
    if count == 0:
        verbs.slot_cache_only(dst, ctx, op, s, False)
    if count < swp_tb.COUNT_MAX - 1:
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.tb_set_count(tb, count + 1)
    elif count == swp_tb.COUNT_MAX - 1:
        if dst.dev.ci[_cluster(dst, s), CI_EXT] == 0:
            return ENOMEM
        ctx.counters[op, EXT_WRITE] += 1
        dst.ext[s] = swp_tb.COUNT_MAX
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.tb_set_count(tb, swp_tb.COUNT_MAX)
    else:
        ctx.counters[op, EXT_READ] += 1
        ctx.counters[op, EXT_WRITE] += 1
        dst.ext[s] += 1
    return 0


@njit
def _free_entries(dst, ctx, op, start, n):
    """__swap_cluster_free_entries() for ``n`` slots of one cluster (lock held): the
    per-slot release of backing first (the Swap Table Edition's vswap_release_backing;
    zswap and the free hooks here), then the table words and memcg ids, one swap
    uncharge per memcg run on a physical device (vswap slots are not charged)."""
    verbs.slot_release(dst, ctx, op, start, n)
    charged = dst.dev.meta[D_ID] == 0
    table = dst.dev.table
    batch_id = 0
    for s in range(start, start + n):
        ctx.counters[op, TABLE_READ] += 1
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.NULL
        ctx.counters[op, MEMCG_READ] += 1
        cur = np.int64(dst.memcg[s])
        if cur != 0:
            ctx.counters[op, MEMCG_WRITE] += 1
            dst.memcg[s] = 0
        if cur != batch_id:
            if batch_id != 0 and charged:
                ctx.counters[op, MEMCG_UNCHARGE] += 1
            batch_id = cur
    if batch_id != 0 and charged:
        ctx.counters[op, MEMCG_UNCHARGE] += 1
    dev_free_range(dst.dev, dst, ctx, op, start, n)


@njit
def _cache_del_locked(dst, ctx, op, start, nr):
    """__swap_cache_do_del_folio(): PFN -> shadow, free the slots nobody counts."""
    table = dst.dev.table
    swapped = False
    need_free = False
    folio = swp_tb.tb_pfn(table[start])
    for s in range(start, start + nr):
        ctx.counters[op, TABLE_READ] += 1
        tb = table[s]
        if swp_tb.tb_count(tb) != 0:
            swapped = True
        else:
            need_free = True
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.tb_mk_shadow(0, swp_tb.tb_flags(tb))
    ctx.folio[folio, F_SWAP] = 0
    if not swapped:
        _free_entries(dst, ctx, op, start, nr)
    elif need_free:
        for s in range(start, start + nr):
            ctx.counters[op, TABLE_READ] += 1
            if swp_tb.tb_count(table[s]) == 0:
                _free_entries(dst, ctx, op, s, 1)


# --------------------------------------------------------------------------- verbs


@njit
def st_alloc(dst, ctx, cpu, order, folio, memcg):
    op = OP_ALLOC
    dev = dst.dev
    off = dev_alloc(dev, dst, ctx, op, cpu, order)
    if off == 0:
        return ENOMEM
    nr = np.int64(1) << order
    table = dev.table
    for s in range(off, off + nr):
        ctx.counters[op, TABLE_READ] += 1
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.tb_mk_pfn(folio, swp_tb.tb_flags(table[s]))
    folio_add_swap(ctx, folio, off, nr)
    if memcg != 0:
        # mem_cgroup_try_charge_swap(): charge (physical slots only), then record the
        # id under the lock
        if dev.meta[D_ID] == 0:
            ctx.counters[op, MEMCG_CHARGE] += 1
        verbs.cluster_lookup(dst, ctx, op, dev, off)
        ctx.counters[op, CLUSTER_LOCK] += 1
        for s in range(off, off + nr):
            ctx.counters[op, MEMCG_WRITE] += 1
            dst.memcg[s] = memcg
    dev_deferred_work(dev, dst, ctx)
    return off


@njit
def st_dup(dst, ctx, op, entry, nr):
    """swap_dup_entries_cluster() for each cluster the range touches."""
    csize = np.int64(1) << dst.dev.meta[D_CLUSTER_SHIFT]
    off = entry
    end = entry + nr
    while off < end:
        cend = min((off // csize + 1) * csize, end)
        verbs.cluster_lookup(dst, ctx, op, dst.dev, off)
        ctx.counters[op, CLUSTER_LOCK] += 1
        s = off
        while s < cend:
            err = _dup_one(dst, ctx, op, s)
            if err == ENOMEM:
                # swap_extend_table_alloc(): allocate outside the lock, install under
                # it, then relock and restart at this slot; the u32 per slot starts at
                # zero (a zeroing allocation [I])
                ctx.counters[op, MEM_ALLOC] += 1
                ctx.counters[op, MEM_ZERO_LINE] += (csize * 4 + 63) // 64
                ctx.counters[op, CLUSTER_LOCK] += 2
                dst.dev.ci[_cluster(dst, s), CI_EXT] = 1
                dst.meta[T_EXT_TABLES] += 1
                continue
            if err != 0:
                while s > off:
                    s -= 1
                    _put_one(dst, ctx, op, s)
                _ext_try_free(dst, ctx, op, _cluster(dst, off))
                return err
            s += 1
        off = cend
    return 0


@njit
def st_pte_batch(dst, ctx, op, entry, nr):
    """P4's swap_pte_batch() does no cgroup lookup: the whole run goes to one put."""
    return nr


@njit(inline="always")
def _put_cluster(dst, ctx, op, off, n, reclaim_cache):
    """swap_put_entries_cluster()."""
    table = dst.dev.table
    verbs.cluster_lookup(dst, ctx, op, dst.dev, off)
    ctx.counters[op, CLUSTER_LOCK] += 1
    batch = -1
    need_reclaim = False
    freed = 0
    end = off + n
    for s in range(off, end):
        ctx.counters[op, TABLE_READ] += 1
        tb = table[s]
        if swp_tb.tb_count(tb) == 1:
            if not swp_tb.tb_is_folio(tb):
                if batch == -1:
                    batch = s
                continue
            need_reclaim = True
            verbs.slot_cache_only(dst, ctx, op, s, True)
        _put_one(dst, ctx, op, s)
        if batch != -1:
            _free_entries(dst, ctx, op, batch, s - batch)
            freed += s - batch
            batch = -1
    if batch != -1:
        _free_entries(dst, ctx, op, batch, end - batch)
        freed += end - batch
    if need_reclaim and reclaim_cache:
        s = off
        while s < end:
            r = table_try_reclaim(dst, ctx, op, s, TTRS_UNMAPPED | TTRS_FULL)
            s += 1
            if r != 0:
                step = abs(r)
                s = ((s + step - 1) // step) * step
    return freed


@njit
def st_put(dst, ctx, op, entry, nr, reclaim_cache):
    """swap_put_entries_direct(): one swap_put_entries_cluster() per cluster chunk."""
    csize = np.int64(1) << dst.dev.meta[D_CLUSTER_SHIFT]
    off = entry
    end = entry + nr
    freed = 0
    while off < end:
        cend = min((off // csize + 1) * csize, end)
        freed += _put_cluster(dst, ctx, op, off, cend - off, reclaim_cache)
        off = cend
    return freed


@njit(inline="always")
def _add_check(dst, ctx, op, entry, nr, with_memcg):
    """__swap_cache_add_check()."""
    table = dst.dev.table
    if dst.dev.ci[_cluster(dst, entry), CI_TABLE] == 0:
        return ENOENT
    ctx.counters[op, TABLE_READ] += 1
    tb = table[entry]
    if swp_tb.tb_is_folio(tb):
        return EEXIST
    if swp_tb.tb_count(tb) == 0 or not swp_tb.tb_is_shadow(tb):
        return ENOENT
    memcg = 0
    if with_memcg:
        ctx.counters[op, MEMCG_READ] += 1
        memcg = np.int64(dst.memcg[entry])
    if nr == 1:
        return 0
    is_zero = swp_tb.tb_is_zero(tb)
    start = (entry // nr) * nr
    for s in range(start, start + nr):
        ctx.counters[op, TABLE_READ] += 1
        t = table[s]
        if swp_tb.tb_is_folio(t) or swp_tb.tb_count(t) == 0 or swp_tb.tb_is_zero(t) != is_zero:
            return EBUSY
        if with_memcg:
            ctx.counters[op, MEMCG_READ] += 1
            if np.int64(dst.memcg[s]) != memcg:
                return EBUSY
    return 0


@njit
def st_cache_add(dst, ctx, op, entry, nr, folio):
    """__swap_cache_alloc(): check, (allocate the folio), recheck, add."""
    verbs.cluster_lookup(dst, ctx, op, dst.dev, entry)
    ctx.counters[op, CLUSTER_LOCK] += 1
    err = _add_check(dst, ctx, op, entry, nr, False)
    if err != 0:
        return err
    ctx.counters[op, CLUSTER_LOCK] += 1
    err = _add_check(dst, ctx, op, entry, nr, True)
    if err != 0:
        return err
    start = (entry // nr) * nr
    table = dst.dev.table
    for s in range(start, start + nr):
        ctx.counters[op, TABLE_READ] += 1
        ctx.counters[op, TABLE_WRITE] += 1
        table[s] = swp_tb.tb_mk_pfn(folio, swp_tb.tb_flags(table[s]))
    folio_add_swap(ctx, folio, start, nr)
    if nr > 1 and verbs.range_has_zswap(dst, ctx, op, start, nr):
        # a large folio may not cover per-page zswap entries: undo the add
        ctx.counters[op, CLUSTER_LOCK] += 1
        _cache_del_locked(dst, ctx, op, start, nr)
        return EBUSY
    ctx.counters[op, MEMCG_CHARGE] += 1  # mem_cgroup_swapin_charge_folio()
    return 0


@njit
def st_cache_del(dst, ctx, op, entry, nr):
    """swap_cache_del_folio(): lock, PFN -> shadow, free uncounted slots."""
    verbs.cluster_lookup(dst, ctx, op, dst.dev, entry)
    ctx.counters[op, CLUSTER_LOCK] += 1
    _cache_del_locked(dst, ctx, op, entry, nr)
    return 0


@njit
def st_cache_free(dst, ctx, op, entry, nr):
    """folio_free_swap(): drop the folio from the cache if no PTE counts its slots."""
    verbs.cluster_lookup(dst, ctx, op, dst.dev, entry)
    if not st_only_has_cache(dst, ctx, op, entry, nr):  # folio_maybe_swapped()
        return 0
    st_cache_del(dst, ctx, op, entry, nr)
    return 1


@njit
def st_writeout(dst, ctx, op, entry, nr, backend):
    """swap_writeout() of a cached, unmapped folio."""
    if st_cache_free(dst, ctx, op, entry, nr):
        return BACKEND_NONE
    _set_zero(dst, ctx, op, entry, nr, backend == BACKEND_ZERO)
    if backend == BACKEND_ZERO:
        return BACKEND_ZERO
    if backend == BACKEND_ZSWAP:
        if zswap_store_folio(dst.zswap, ctx, op, entry, nr) != 0:
            return ENOMEM
        return BACKEND_ZSWAP
    zswap_drop_stale_folio(dst.zswap, ctx, op, entry, nr, True)  # zswap_store()'s check_old
    return BACKEND_DISK


@njit
def _set_zero(dst, ctx, op, entry, nr, on):
    """swap_zeromap_folio_set() / _clear(): the Z flag of each slot, under the lock."""
    table = dst.dev.table
    verbs.cluster_lookup(dst, ctx, op, dst.dev, entry)
    ctx.counters[op, CLUSTER_LOCK] += 1
    for s in range(entry, entry + nr):
        ctx.counters[op, TABLE_READ] += 1
        ctx.counters[op, TABLE_WRITE] += 1
        if on:
            table[s] = table[s] | swp_tb.ZERO_FLAG
        else:
            table[s] = table[s] & ~swp_tb.ZERO_FLAG


@njit
def st_read_backend(dst, ctx, op, entry):
    """swap_read_folio(): zero flag, then zswap_load (which drops the entry when
    reading into the swap cache), else the device."""
    ctx.counters[op, TABLE_READ] += 1
    if swp_tb.tb_is_zero(dst.dev.table[entry]):
        return BACKEND_ZERO
    if zswap_load(dst.zswap, ctx, op, entry):
        return BACKEND_ZSWAP
    return BACKEND_DISK


@njit
def st_ra_probe(dst, ctx, op, entry):
    """do_swap_page() after a cache miss, swap table phase II on: the device's
    SWP_SYNCHRONOUS_IO flag alone decides (a ``si->flags`` read, nothing counted)."""
    if not 0 < entry < dst.dev.table.shape[0] or st_swap_count(dst, entry) < 0:
        return ENOENT
    if dst.dev.meta[D_FLAGS] & SWP_SYNCHRONOUS_IO:
        return RA_SYNC
    return RA_READAHEAD


@njit
def st_swap_count(dst, entry):
    """Swap count of a slot: -1 when free (or bad), 0 when cache-only."""
    tb = dst.dev.table[entry]
    if tb == swp_tb.NULL or swp_tb.tb_is_bad(tb):
        return -1
    count = swp_tb.tb_count(tb)
    if count == swp_tb.COUNT_MAX:
        return np.int64(dst.ext[entry])
    return count


@njit
def st_metadata_bytes(dst, out):
    out[:] = 0
    dev = dst.dev
    out[md.S_CLUSTER_INFO] = dev.meta[D_NCLUSTERS] * md.CLUSTER_INFO_P4_BYTES * (1 - dev.meta[D_OFF])
    csize = np.int64(1) << dev.meta[D_CLUSTER_SHIFT]
    out[md.S_SWAP_TABLE] = dev.meta[D_TABLES] * csize * md.SWAP_TABLE_ENTRY_BYTES
    out[md.S_MEMCG_TABLE] = dev.meta[D_TABLES] * csize * md.MEMCG_ID_BYTES
    out[md.S_EXTEND_TABLE] = dst.meta[T_EXT_TABLES] * csize * md.EXTEND_ENTRY_BYTES
    zswap_metadata_bytes(dst.zswap, out)


@njit
def st_only_has_cache(dst, ctx, op, start, nr):
    """swap_only_has_cache(): every slot of the folio has count 0."""
    for s in range(start, start + nr):
        ctx.counters[op, TABLE_READ] += 1
        if swp_tb.tb_count(dst.dev.table[s]) != 0:
            return False
    return True


@njit
def st_slot_release(dst, ctx, op, start, n):
    """swap_range_free() per slot: zswap_invalidate and the free hooks."""
    for s in range(start, start + n):
        in_zswap = zswap_invalidate(dst.zswap, ctx, op, s)
        # zram: zs_free of the slot's object; a zero or zswap slot has none on zram
        if (dst.dev.meta[D_FLAGS] & SWP_FREE_NOTIFY and not in_zswap
                and not swp_tb.tb_is_zero(dst.dev.table[s])):
            ctx.counters[op, SLOT_FREE_NOTIFY] += 1


@njit
def st_range_has_zswap(dst, ctx, op, start, nr):
    return zswap_any_present(dst.zswap, ctx, op, start, nr)


@njit
def st_phys_slot_scan(dst, ctx, op, dev, off):
    ctx.counters[op, TABLE_READ] += 1
    tb = dev.table[off]
    if tb == swp_tb.NULL:
        return SLOT_FREE
    if swp_tb.tb_is_folio(tb) and swp_tb.tb_count(tb) == 0:
        return SLOT_CACHE_ONLY
    return SLOT_BUSY


@njit
def st_unuse_entry(dst, ctx, op, off):
    """find_next_to_unuse(): a table read; the slot's entry if in use."""
    ctx.counters[op, TABLE_READ] += 1
    tb = dst.dev.table[off]
    if tb == swp_tb.NULL or swp_tb.tb_is_bad(tb):
        return 0
    return off


verbs.register(
    SwapTableState,
    alloc=st_alloc,
    dup=st_dup,
    pte_batch=st_pte_batch,
    put=st_put,
    cache_lookup=table_cache_lookup,
    cache_add=st_cache_add,
    cache_del=st_cache_del,
    cache_free=st_cache_free,
    try_reclaim=table_try_reclaim,
    writeout=st_writeout,
    read_backend=st_read_backend,
    ra_probe=st_ra_probe,
    zswap_writeback=owned_slot_zswap_writeback,
    reclaim_full=phys_reclaim_full,
    swap_count=st_swap_count,
    metadata_bytes=st_metadata_bytes,
    phys_slot_scan=st_phys_slot_scan,
    phys_slot_reclaim=phys_slot_reclaim,
    only_has_cache=st_only_has_cache,
    slot_release=st_slot_release,
    range_has_zswap=st_range_has_zswap,
    unuse_entry=st_unuse_entry,
    unuse=table_unuse,
)

DESIGN = Design(
    "swap_table",
    "swap table P4: counts, zero flag and cache state in the 8-byte table entry, "
    "extend_table on overflow, per-cluster memcg_table, 48 B static per cluster",
    SwapTableState,
    new_state,
)
