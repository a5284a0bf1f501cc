"""Verbs shared by the designs whose swap cache is the physical swap table
(``classic`` and ``swap_table``): both keep the cached folio's PFN in the slot's table
word (phase I onwards), reclaim cache-only slots with ``__try_to_reclaim_swap``, own
the physical slot before zswap sees the page, and keep zswap's per-64 MiB trees in
``dst.zswap``.

They are written against the verb set, so the design-specific parts stay in the design:
``only_has_cache`` (swap_map bytes or table counts), ``cache_add`` and ``cache_del``.
A design using them has the fields ``dev`` (its :class:`~vswap_nb.core.device.SwapDev`)
and ``zswap`` (its zswap trees).
"""
from __future__ import annotations

import numpy as np

from ..core import swp_tb, verbs
from ..core.counters import CLUSTER_LOCK, OP_CACHE_DEL, TABLE_READ
from ..core.device import dev_reclaim_full, try_to_reclaim_wanted
from ..core.jit import njit
from ..core.verbs import (
    EBUSY,
    ENOMEM,
    F_ORDER,
    F_SWAP,
    TTRS_ANYWAY,
)
from ..core.zswap import zswap_invalidate, zswap_present


@njit
def table_cache_lookup(dst, ctx, op, entry):
    """swap_cache_get_folio(): one RCU table read; the folio or -1."""
    verbs.cluster_lookup(dst, ctx, op, dst.dev, entry)
    ctx.counters[op, TABLE_READ] += 1
    tb = dst.dev.table[entry]
    if swp_tb.tb_is_folio(tb):
        return swp_tb.tb_pfn(tb)
    return -1


@njit
def table_try_reclaim(dst, ctx, op, entry, flags):
    """__try_to_reclaim_swap(): +nr if the folio left the cache, -nr if it stays, 0 if
    no folio is cached at ``entry``.  ``mem_cgroup_swap_full()`` is taken to be
    ``vm_swap_full()`` [I]."""
    verbs.cluster_lookup(dst, ctx, op, dst.dev, entry)
    ctx.counters[op, TABLE_READ] += 1
    tb = dst.dev.table[entry]
    if not swp_tb.tb_is_folio(tb):
        return 0
    folio = swp_tb.tb_pfn(tb)
    start = ctx.folio[folio, F_SWAP]
    nr = np.int64(1) << ctx.folio[folio, F_ORDER]
    if not try_to_reclaim_wanted(dst.dev, ctx, folio, flags):
        return -nr
    verbs.cluster_lookup(dst, ctx, op, dst.dev, start)
    ctx.counters[op, CLUSTER_LOCK] += 1
    if not verbs.only_has_cache(dst, ctx, op, start, nr):
        return -nr
    verbs.cache_del(dst, ctx, op, start, nr)
    verbs.note_cache_drop(ctx, folio)
    return nr


@njit
def phys_slot_reclaim(dst, ctx, op, dev, off):
    """The allocator's reclaim of a cache-only slot: __try_to_reclaim_swap(ANYWAY)."""
    return verbs.try_reclaim(dst, ctx, op, off, TTRS_ANYWAY)


@njit
def phys_reclaim_full(dst, ctx, force):
    return dev_reclaim_full(dst.dev, dst, ctx, force)


@njit
def owned_slot_zswap_writeback(dst, ctx, op, entry, folio):
    """zswap_writeback_entry() when the page already owns its slot: read it into the
    swap cache, check the entry is still there (-ENOMEM if not, as the kernel), drop
    the zswap entry, write to the slot; the written folio is then reclaimed."""
    err = verbs.cache_add(dst, ctx, op, entry, 1, folio)
    if err != 0:
        return err
    if not zswap_present(dst.zswap, ctx, op, entry):
        verbs.cache_del(dst, ctx, op, entry, 1)
        return ENOMEM
    zswap_invalidate(dst.zswap, ctx, op, entry)  # xa_erase + zswap_entry_free
    verbs.cache_del(dst, ctx, OP_CACHE_DEL, entry, 1)
    return 0


@njit
def table_unuse(dst, ctx, op, entry, folio):
    """swapoff's folio_free_swap() after the page-table walk put every PTE's count:
    the entry goes (1), or -EBUSY if something still holds it."""
    start = ctx.folio[folio, F_SWAP]
    nr = np.int64(1) << ctx.folio[folio, F_ORDER]
    if start == 0 or not start <= entry < start + nr:
        return EBUSY
    if verbs.cache_free(dst, ctx, op, start, nr) > 0:
        return 1
    return EBUSY
