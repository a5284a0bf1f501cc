"""zswap's per-device trees before virtual swap (mm/zswap.c, 6.19 and swap table P4).

``zswap_swapon`` allocates one ``struct xarray`` per 64 MiB of swap
(``ZSWAP_ADDRESS_SPACE_SHIFT`` 14, so 16384 slots each); an entry lives in the tree of
its slot, indexed by the *unmasked* slot offset, so a tree's height follows the absolute
offset (``reference/xarray.md`` 1.11).  The trees of one device share one emulated node
pool here; the number of stored entries is the pool's entry count, and each entry is a
56-byte ``struct zswap_entry``.

* store (``zswap_store_page``): allocate the entry, ``xa_store`` it, and free the
  entry it replaced, if any (a redirtied folio written out again).  A store also
  marks zswap as enabled in the run (``ctx.meta[C_ZSWAP_ENABLED]``); the mm sets the
  flag up front when the system has zswap.
* stale entries (``zswap_store``'s ``check_old`` when a folio goes to disk instead):
  per page an ``xa_erase`` (P4 goes through ``zswap_invalidate`` and checks
  ``xa_empty`` first), freeing an entry that was there; run even while zswap was never
  enabled (``check_old`` has no such test).
* present (``zswap_is_present`` before a large swap-in): an ``xa_load`` per page
  until one is found, nothing while zswap was never enabled [I: one lookup per page].
* load (``zswap_load`` into the swap cache): nothing while zswap was never enabled
  (``zswap_never_enabled()``), else ``xa_load``, and because the swap cache now owns
  the data, ``xa_erase`` + free the entry.
* present (the check in ``zswap_writeback_entry``): ``xa_load``.
* invalidate (``zswap_invalidate`` on every freed slot): nothing if the tree is empty
  (``xa_empty``), else ``xa_erase`` and free the entry if one was there.
"""
from __future__ import annotations

from . import metadata as md
from .counters import MEM_ALLOC, MEM_FREE
from .jit import njit
from .metadata import ZSWAP_TREE_SHIFT, zswap_tree_count
from .radix import (
    M_ENTRIES,
    M_NR_NODES,
    M_NTREES,
    xa_capacity_bound,
    xa_empty,
    xa_erase_counted,
    xa_load_counted,
    xa_new,
    xa_store_counted,
)
from .verbs import C_ZSWAP_ENABLED

__all__ = ["new_zswap_trees", "zswap_entries", "zswap_invalidate", "zswap_load", "zswap_store"]


def new_zswap_trees(nslots: int):
    """A node pool with one tree per 64 MiB of ``nslots``, big enough for an entry in
    every slot at once."""
    ntrees = zswap_tree_count(nslots)
    span = 1 << ZSWAP_TREE_SHIFT
    cap = 0
    for t in range(ntrees):
        cap += xa_capacity_bound(t * span, min((t + 1) * span, nslots))
    # xa_store() wants room for a worst-case walk before it starts
    levels = -(-max(int(nslots), 2).bit_length() // 6)
    return xa_new(ntrees, cap + 2 * levels + 2)


@njit(inline="always")
def _tree(slot):
    return slot >> ZSWAP_TREE_SHIFT


@njit
def zswap_store(zs, ctx, op, slot):
    """zswap_store() of one page at ``slot``: 0, or a negative errno."""
    ctx.meta[C_ZSWAP_ENABLED] = 1
    ctx.counters[op, MEM_ALLOC] += 1
    before = zs.aux[M_ENTRIES]
    err = xa_store_counted(zs, _tree(slot), slot, 1, ctx.counters, op)
    if err == 0 and zs.aux[M_ENTRIES] == before:
        ctx.counters[op, MEM_FREE] += 1  # zswap_entry_free(old)
    return err


@njit
def zswap_load(zs, ctx, op, slot):
    """zswap_load() into the swap cache: True if the page came from zswap (the entry
    is then erased and freed)."""
    if ctx.meta[C_ZSWAP_ENABLED] == 0:
        return False
    t = _tree(slot)
    if xa_load_counted(zs, t, slot, ctx.counters, op) < 0:
        return False
    xa_erase_counted(zs, t, slot, ctx.counters, op)
    ctx.counters[op, MEM_FREE] += 1
    return True


@njit
def zswap_present(zs, ctx, op, slot):
    """An ``xa_load`` of the slot's tree (the writeback's verification)."""
    return xa_load_counted(zs, _tree(slot), slot, ctx.counters, op) >= 0


@njit
def zswap_drop_stale(zs, ctx, op, slot, check_empty):
    """``check_old`` of zswap_store() for a page that went elsewhere (run whether or
    not zswap was ever enabled)."""
    if check_empty:
        return zswap_invalidate(zs, ctx, op, slot)
    if xa_erase_counted(zs, _tree(slot), slot, ctx.counters, op) >= 0:
        ctx.counters[op, MEM_FREE] += 1
        return True
    return False


@njit
def zswap_store_folio(zs, ctx, op, start, nr):
    """zswap_store() of a folio: one entry per page; 0 or a negative errno."""
    for s in range(start, start + nr):
        err = zswap_store(zs, ctx, op, s)
        if err != 0:
            return err
    return 0


@njit
def zswap_drop_stale_folio(zs, ctx, op, start, nr, check_empty):
    for s in range(start, start + nr):
        zswap_drop_stale(zs, ctx, op, s, check_empty)


@njit
def zswap_any_present(zs, ctx, op, start, nr):
    """zswap_is_present() over ``[start, start + nr)``."""
    if ctx.meta[C_ZSWAP_ENABLED] == 0:
        return False
    for s in range(start, start + nr):
        if xa_load_counted(zs, _tree(s), s, ctx.counters, op) >= 0:
            return True
    return False


@njit
def zswap_invalidate(zs, ctx, op, slot):
    """zswap_invalidate(): returns True if an entry was dropped."""
    t = _tree(slot)
    if xa_empty(zs, t):
        return False
    if xa_erase_counted(zs, t, slot, ctx.counters, op) >= 0:
        ctx.counters[op, MEM_FREE] += 1
        return True
    return False


@njit(inline="always")
def zswap_entries(zs):
    """Entries stored in all trees of the pool."""
    return zs.aux[M_ENTRIES]


@njit
def zswap_metadata_bytes(zs, out):
    """The zswap structures' bytes: tree heads, XArray nodes, entries."""
    out[md.S_ZSWAP_TREES] = zs.aux[M_NTREES] * md.XARRAY_HEAD_BYTES
    out[md.S_ZSWAP_XA_NODES] = zs.aux[M_NR_NODES] * md.XA_NODE_BYTES
    out[md.S_ZSWAP_ENTRY] = zswap_entries(zs) * md.ZSWAP_ENTRY_BYTES
