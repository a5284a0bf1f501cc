"""``vswap_ste`` (the Swap Table Edition RFC v2) and ``ghost`` (the optional route).

``vswap_ste`` — Nhat Pham's "Virtual Swap Space (Swap Table Edition)", RFC v2
(2026-06-12), on mm-unstable with swap table P4 (``reference/swap-designs.md`` 2.5, 3.7,
4; [S22]-[S24], [S31]):

* A vswap device whose clusters are dynamic: held in an XArray (``cluster_info_pool``,
  index from 1), so every cluster lookup on a vswap entry is an ``xa_load`` (no per-CPU
  lookup cache yet), allocation included.  Each vswap cluster has the usual swap table
  (PFN / shadow, count, Z flag, extend table on overflow) and memcg table, plus an
  8-byte ``virtual_table`` word per slot: NONE, PHYS (physical entry) or ZSWAP (the
  zswap entry).  A zero page is the Z flag; a cached folio is the PFN entry.
* The vswap device reuses the swap table's allocator, lists and verbs (this module
  registers the swap_table layer's verbs for it, with the hooks below) and has its own
  per-CPU cluster offsets.  A new vswap cluster costs four allocations
  (``swap_cluster_info_dynamic``, table page, memcg table, virtual_table) and an
  ``xa_alloc``.
* Lazy physical backing (``folio_realloc_swap``): at writeout to disk, or at zswap
  writeback, a physical slot is allocated through the physical allocator and its table
  entry becomes a reverse-map Pointer (vswap offset, bit 63 = cache-only).
  ``vswap_mark_cache_only`` sets the bit when a cached PHYS-backed vswap slot's count
  drops to 0 (and clears it on dup); a page already cache-only when it gets its slot
  has the bit at once [I].  The physical allocator reads the Pointer and its bit only;
  reclaiming such a slot (``try_to_reclaim_vswap_backing``) needs every page of the
  cached folio cache-only, then moves the whole folio's backing back to the folio and
  frees its physical slots, leaving the vswap entries cached.  A folio written out
  again with only part of it still backed gives those slots back and is backed anew
  as a whole [I].
* memcg: vswap slots are recorded but not charged to swap (no uncharge when they are
  freed); a physical slot backing a vswap entry is charged (when the entry has a memcg)
  and uncharged when the backing goes, but does not record the memcg in the physical
  memcg table, whose allocation is deferred to the first directly mapped slot — so
  physical clusters here carry only their table page.
* Free (``swap_put_entries_direct`` on the vswap device): the swap table layer's batch
  free with ``vswap_release_backing`` per freed slot (virtual_table read and reset;
  physical runs freed under one physical cluster lock; zswap entries freed).

``ghost`` — Kairui Song's proposal to make the virtual layer optional: swap table P4 for
physical swap, and a dynamic "ghost" swap device only for entries that have no physical
slot (zswap, zero), with a reverse map only for entries that later get one.  Two
published texts bear on it, and they read differently, so the design has a switch:

* Without zswap in the system the ghost design *is* ``swap_table`` (no virtual layer,
  no cost): ``new_state(..., zswap_enabled=False)`` returns a swap_table state.
* ``lazy_forward_table=False`` (the default; the P4 RFC cover, "swap table phase IV with
  dynamic ghost swapfile", 2026-02-20 [S9], as quoted in the thread at
  lkml.iu.edu/hypermail/linux/kernel/2602.2/08585.html): "16 bytes per slot memory
  usage, when using ghost / virtual zswap", and "Zswap can just use
  ci_dyn->virtual_table": every ghost cluster has its 8-byte ``virtual_table`` beside
  the 8-byte swap table, and zswap finds its entries there (a ghost-cluster lookup and
  a table read), not in an XArray of its own; 24 bytes with the reverse map of a
  physical slot.  That is the STE vswap device above, which adapted this code, so with
  zswap this reading counts what ``vswap_ste`` counts.
* ``lazy_forward_table=True`` (the reading this module took before: a ghost cluster's
  forward table exists only while at least one of its entries has a physical slot,
  allocated when the first gets one and freed when the last gives it up).  zswap then
  cannot keep its entries in that table; it keeps them as it does for any swap device,
  in its own XArray per 64 MiB of the (ghost) device, indexed by the ghost offset, as
  in Chris Li's header-only "ghost swapfile" RFC (2025-11-21, quoted at
  lkml.iu.edu/hypermail/linux/kernel/2511.3/00940.html): stores, loads, presence
  checks and a ``zswap_invalidate`` of every freed ghost slot are counted on those
  trees (``core/zswap.py``'s rules), and the table holds PHYS words only.
* Not synchronous, in both readings: the ghost swapfile RFC sets the bdev to NULL and
  only the SSD flag ("Ghost swapfile will also set the SSD flag because there is no
  rotation disk access"), and ``SWP_SYNCHRONOUS_IO`` comes from the bdev; so a
  ghost-device entry without a physical slot takes swapin_readahead() on a fault, as
  an STE vswap entry does.

Choices [I]: the vswap/ghost device is sized for ``virtual_slots`` entries (default
twice the physical device) and never reaches ``vm_swap_full``; vswap cluster ids are
reused in free-list order rather than lowest-free order; ``swap_cluster_info_dynamic``
(80 bytes) is a 96-byte kmalloc object; zswap storing over a PHYS backing frees the
physical slot; a zero page keeps an existing PHYS backing; the RCU delay of freed vswap
clusters is not modelled; if the vswap device runs out, allocation fails instead of
falling back to the physical device.  Swapoff of the physical device repoints
each PHYS-backed slot at its swap-cache folio (``unuse``, vswap_store_folio), as
the vswap designs do; ghost without zswap is swap_table and walks the page tables.
Left out: multiple physical devices.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..core import metadata as md
from ..core import swp_tb, verbs
from ..core.counters import (
    CLUSTER_LOCK,
    MEM_ALLOC,
    MEM_FREE,
    MEM_ZERO_LINE,
    MEMCG_CHARGE,
    MEMCG_READ,
    MEMCG_UNCHARGE,
    OP_CACHE_DEL,
    RMAP_READ,
    RMAP_WRITE,
    SLOT_FREE_NOTIFY,
    TABLE_READ,
    VT_READ,
    VT_WRITE,
    XA_NODE_VISIT,
)
from ..core.device import (
    CI_AUX,
    CI_TABLE,
    D_CLUSTER_SHIFT,
    D_FLAGS,
    D_ID,
    D_NCLUSTERS,
    D_OFF,
    D_TABLES,
    KERNEL_P4,
    SWP_FREE_NOTIFY,
    SWP_SYNCHRONOUS_IO,
    dev_alloc,
    dev_deferred_work,
    dev_free_range,
    dev_reclaim_full,
    new_device,
)
from ..core.invariants import check_rmap, fail
from ..core.jit import njit
from ..core.metadata import ZSWAP_TREE_SHIFT
from ..core.radix import (
    M_ENTRIES,
    M_NR_NODES,
    M_NTREES,
    xa_empty,
    xa_erase_counted,
    xa_height,
    xa_load_counted,
    xa_new,
    xa_store,
    xa_store_counted,
)
from ..core.verbs import (
    BACKEND_DISK,
    BACKEND_FOLIO,
    BACKEND_NONE,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    C_CPU,
    EBUSY,
    ENOENT,
    ENOMEM,
    F_ORDER,
    F_SWAP,
    RA_READAHEAD,
    RA_SYNC,
    SLOT_BUSY,
    SLOT_CACHE_ONLY,
    SLOT_FREE,
)
from ..core.zswap import new_zswap_trees
from . import swap_table
from .base import Design
from ._table_cache import phys_slot_reclaim as _vswap_slot_reclaim
from ._table_cache import table_cache_lookup, table_try_reclaim

# virtual_table words (RFC v2 tags in the low 3 bits)
VT_NONE = 0
VT_PHYS = 1
VT_ZSWAP = 2

# meta words (word 0 is the swap table layer's extend-table count)
E_EXT_TABLES = 0
E_ZSWAP_ENTRIES = 1
E_LAZY_VT = 2  # ghost, tree reading: forward table only while an entry is PHYS; zswap's own trees
E_VTABLES = 3  # forward tables allocated now
E_NEXT_ZSWAP = 4
N_EMETA = 8

VSWAP_DEV = 1
CI_DYN_BYTES = 96  # swap_cluster_info_dynamic: 80 bytes in a 96-byte kmalloc object [I]

SteState = namedtuple("SteState", ["dev", "ext", "memcg", "vt", "cmap", "pdev", "meta", "zs"])
SteState.__doc__ = """State of the vswap_ste / ghost design (with zswap).

dev    SwapDev          the vswap (ghost) device: dynamic clusters, P4 swap table
ext    uint32[vmax]     its extend-table storage
memcg  uint16[vmax]     its memcg tables
vt     int64[vmax]      the virtual_table: NONE, PHYS | offset << 3, ZSWAP | id << 3
cmap   XAPool           cluster_info_pool: vswap cluster index (from 1) -> cluster
pdev   SwapDev          the physical device; its table holds reverse-map Pointers
meta   int64[N_EMETA]   extend tables, zswap entries, forward tables, ghost flag
zs     XAPool           ghost's tree reading: zswap's trees over the ghost device (one per
                        64 MiB of it, as for any swap device); two empty nodes otherwise
"""


def _new(nslots, *, virtual_slots, virtual_cluster_size, lazy_vt, cluster_size=512, **device):
    if virtual_cluster_size & (virtual_cluster_size - 1) or not 2 <= virtual_cluster_size <= (1 << 20):
        raise ValueError(f"virtual_cluster_size must be a power of two, got {virtual_cluster_size}")
    ncpu = int(device.get("ncpu", 1))
    # the memcg table is deferred to directly mapped slots
    pdev = new_device(nslots, cluster_size=cluster_size, table_sizes=(8 * cluster_size,), kernel=KERNEL_P4, **device)
    if virtual_slots is None:
        virtual_slots = 2 * int(nslots)
    vslots = max(int(virtual_slots), 2 * int(virtual_cluster_size))
    vdev = new_device(
        vslots,
        cluster_size=virtual_cluster_size,
        ncpu=ncpu,
        solidstate=True,
        blkdev=True,
        # swap_cluster_info_dynamic, table page, memcg table (+ virtual_table in STE)
        table_sizes=((CI_DYN_BYTES, 8 * virtual_cluster_size, 2 * virtual_cluster_size) if lazy_vt
                     else (CI_DYN_BYTES, 8 * virtual_cluster_size, 2 * virtual_cluster_size, 8 * virtual_cluster_size)),
        dev_id=VSWAP_DEV,
        kernel=KERNEL_P4,
        free_notify=False,  # the vswap device has no driver
    )
    n = vdev.table.shape[0]
    nclusters = vdev.ci.shape[0]
    levels = max(1, -(-max(nclusters + 1, 2).bit_length() // 6))
    meta = np.zeros(N_EMETA, dtype=np.int64)
    meta[E_LAZY_VT] = bool(lazy_vt)
    state = SteState(
        dev=vdev,
        ext=np.zeros(n, dtype=np.uint32),
        memcg=np.zeros(n, dtype=np.uint16),
        vt=np.zeros(n, dtype=np.int64),
        cmap=xa_new(1, nclusters + 2 * levels + 8),
        pdev=pdev,
        meta=meta,
        zs=new_zswap_trees(vslots if lazy_vt else 2),
    )
    # clusters populated at swapon (the header slot) are in the cluster pool too
    for c in np.flatnonzero(vdev.ci[:, CI_TABLE]):
        xa_store(state.cmap, 0, int(c) + 1, int(c))
        if not lazy_vt:
            meta[E_VTABLES] += 1
    return state


# --------------------------------------------------------------------------- hooks


@njit(inline="always")
def ste_cluster_lookup(dst, ctx, op, dev, off):
    """__swap_offset_to_cluster(): an xa_load for the vswap device, arithmetic for the
    physical one."""
    if dev.meta[D_ID] == VSWAP_DEV:
        xa_load_counted(dst.cmap, 0, (off >> dev.meta[D_CLUSTER_SHIFT]) + 1, ctx.counters, op)
    return 0


@njit
def ste_cluster_populated(dst, ctx, op, dev, c, on):
    """A vswap cluster comes (xa_alloc) or goes (xa_erase)."""
    if dev.meta[D_ID] != VSWAP_DEV:
        return 0
    if on:
        ctx.counters[op, XA_NODE_VISIT] += xa_height(dst.cmap, 0)  # find the free index
        xa_store_counted(dst.cmap, 0, c + 1, c, ctx.counters, op)
        if dst.meta[E_LAZY_VT] == 0:
            dst.meta[E_VTABLES] += 1
    else:
        xa_erase_counted(dst.cmap, 0, c + 1, ctx.counters, op)
        if dst.meta[E_LAZY_VT] == 0:
            dst.meta[E_VTABLES] -= 1
    return 0


@njit(inline="always")
def _fw_present(dst, slot):
    """Whether the slot's cluster has its forward table: always in STE; in ghost only
    while some entry of the cluster has a physical slot (``CI_AUX`` counts them)."""
    if dst.meta[E_LAZY_VT] == 0:
        return True
    return dst.dev.ci[slot >> dst.dev.meta[D_CLUSTER_SHIFT], CI_AUX] > 0


@njit(inline="always")
def _fw_read(dst, ctx, op, slot):
    """The slot's backend word; a virtual_table read where the table exists (ghost
    finds zswap entries through zswap itself [I])."""
    if _fw_present(dst, slot):
        ctx.counters[op, VT_READ] += 1
    return dst.vt[slot]


@njit
def _fw_write(dst, ctx, op, slot, word):
    """Set the slot's backend word, keeping ghost's per-cluster forward table: it is
    allocated when an entry of the cluster first becomes PHYS and freed when the last
    one stops being PHYS."""
    old = dst.vt[slot]
    if dst.meta[E_LAZY_VT]:
        c = slot >> dst.dev.meta[D_CLUSTER_SHIFT]
        if (word & 7) == VT_PHYS and (old & 7) != VT_PHYS:
            if dst.dev.ci[c, CI_AUX] == 0:
                ctx.counters[op, MEM_ALLOC] += 1  # kcalloc(csize, 8)
                ctx.counters[op, MEM_ZERO_LINE] += ((8 << dst.dev.meta[D_CLUSTER_SHIFT]) + 63) // 64
                dst.meta[E_VTABLES] += 1
            dst.dev.ci[c, CI_AUX] += 1
    if _fw_present(dst, slot) and (dst.meta[E_LAZY_VT] == 0 or (old & 7) == VT_PHYS or (word & 7) == VT_PHYS):
        ctx.counters[op, VT_WRITE] += 1  # the tree reading keeps zswap out of the table
    dst.vt[slot] = word
    if dst.meta[E_LAZY_VT] and (old & 7) == VT_PHYS and (word & 7) != VT_PHYS:
        c = slot >> dst.dev.meta[D_CLUSTER_SHIFT]
        dst.dev.ci[c, CI_AUX] -= 1
        if dst.dev.ci[c, CI_AUX] == 0:
            ctx.counters[op, MEM_FREE] += 1
            dst.meta[E_VTABLES] -= 1


@njit(inline="always")
def _vlock(dst, ctx, op, slot):
    """Look the vswap cluster up and lock it."""
    ste_cluster_lookup(dst, ctx, op, dst.dev, slot)
    ctx.counters[op, CLUSTER_LOCK] += 1


@njit
def _phys_release(dst, ctx, op, p, n, memcg):
    """__swap_cluster_free_phys_backing(): one physical cluster lock for the run, the
    Pointer words cleared, the physical swap_range_free(), and the swap uncharge of the
    backing (its memcg is the vswap entry's: the physical memcg table does not record
    it)."""
    ctx.counters[op, CLUSTER_LOCK] += 1
    if memcg != 0:
        ctx.counters[op, MEMCG_UNCHARGE] += 1
    for s in range(p, p + n):
        ctx.counters[op, RMAP_WRITE] += 1
        dst.pdev.table[s] = swp_tb.NULL
        if dst.pdev.meta[D_FLAGS] & SWP_FREE_NOTIFY:  # zram: zs_free of the slot's object
            ctx.counters[op, SLOT_FREE_NOTIFY] += 1
    dev_free_range(dst.pdev, dst, ctx, op, p, n)


@njit(inline="always")
def _zswap_new(dst):
    dst.meta[E_NEXT_ZSWAP] += 1
    dst.meta[E_ZSWAP_ENTRIES] += 1
    return (dst.meta[E_NEXT_ZSWAP] << 3) | VT_ZSWAP


@njit
def _zswap_free(dst, ctx, op):
    ctx.counters[op, MEM_FREE] += 1
    dst.meta[E_ZSWAP_ENTRIES] -= 1


@njit
def _zs_invalidate(dst, ctx, op, s):
    """The tree reading: zswap_invalidate() of a ghost slot (nothing on an empty tree,
    else an xa_erase); True if an entry was there."""
    t = s >> ZSWAP_TREE_SHIFT
    if xa_empty(dst.zs, t):
        return False
    return xa_erase_counted(dst.zs, t, s, ctx.counters, op) >= 0


@njit
def _zs_load(dst, ctx, op, s):
    """The tree reading: an xa_load of the slot's zswap tree; True if an entry is there."""
    return xa_load_counted(dst.zs, s >> ZSWAP_TREE_SHIFT, s, ctx.counters, op) >= 0


@njit
def ste_slot_release(dst, ctx, op, start, n):
    """vswap_release_backing(): read and reset each backend word; contiguous physical
    backing freed per run within a physical cluster; zswap entries freed."""
    pshift = dst.pdev.meta[D_CLUSTER_SHIFT]
    pstart = -1
    plen = 0
    pmemcg = 0
    for s in range(start, start + n):
        w = _fw_read(dst, ctx, op, s)
        tag = w & 7
        if dst.meta[E_LAZY_VT] and _zs_invalidate(dst, ctx, op, s) != (tag == VT_ZSWAP):
            raise AssertionError("ghost: zswap tree and backend word disagree")
        if tag == VT_PHYS:
            p = w >> 3
            m = np.int64(dst.memcg[s])
            if pstart >= 0 and p == pstart + plen and (p >> pshift) == (pstart >> pshift) and m == pmemcg:
                plen += 1
            else:
                if pstart >= 0:
                    _phys_release(dst, ctx, op, pstart, plen, pmemcg)
                pstart = p
                plen = 1
                pmemcg = m
        elif tag == VT_ZSWAP:
            _zswap_free(dst, ctx, op)
        _fw_write(dst, ctx, op, s, VT_NONE)
    if pstart >= 0:
        _phys_release(dst, ctx, op, pstart, plen, pmemcg)


@njit
def ste_slot_cache_only(dst, ctx, op, slot, on):
    """vswap_mark_cache_only(): a PHYS-backed slot's rmap C bit follows its count."""
    w = _fw_read(dst, ctx, op, slot)
    if (w & 7) == VT_PHYS:
        ctx.counters[op, RMAP_WRITE] += 1
        dst.pdev.table[w >> 3] = swp_tb.tb_mk_pointer(slot, on)
    return 0


@njit
def ste_range_has_zswap(dst, ctx, op, start, nr):
    if dst.meta[E_LAZY_VT]:  # zswap_is_present(): an xa_load per page until one is found
        for s in range(start, start + nr):
            if _zs_load(dst, ctx, op, s):
                return True
        return False
    _vlock(dst, ctx, op, start)
    for s in range(start, start + nr):
        if (_fw_read(dst, ctx, op, s) & 7) == VT_ZSWAP:
            return True
    return False


@njit
def ste_phys_slot_scan(dst, ctx, op, dev, off):
    """The vswap device's own allocator sees swap-table words; the physical one sees
    Pointer words and their cache-only bit."""
    if dev.meta[D_ID] == VSWAP_DEV:
        return swap_table.st_phys_slot_scan(dst, ctx, op, dev, off)
    ctx.counters[op, RMAP_READ] += 1
    tb = dev.table[off]
    if tb == swp_tb.NULL:
        return SLOT_FREE
    if swp_tb.tb_is_pointer(tb) and swp_tb.tb_pointer_cache_only(tb):
        return SLOT_CACHE_ONLY
    return SLOT_BUSY


@njit
def ste_phys_slot_reclaim(dst, ctx, op, dev, off):
    """Physical slot whose vswap entry is cache-only: try_to_reclaim_vswap_backing()
    finds the vswap folio, checks every page of it is cache-only, and
    vswap_store_folio() makes the folio the backend of all its pages, freeing their
    physical slots; the vswap entries stay cached.  +nr, -nr (kept) or 0."""
    if dev.meta[D_ID] == VSWAP_DEV:
        return _vswap_slot_reclaim(dst, ctx, op, dev, off)
    ctx.counters[op, CLUSTER_LOCK] += 1
    ctx.counters[op, RMAP_READ] += 1
    tb = dev.table[off]
    if not (swp_tb.tb_is_pointer(tb) and swp_tb.tb_pointer_cache_only(tb)):
        return 0
    v = swp_tb.tb_pointer_offset(tb)
    folio = table_cache_lookup(dst, ctx, op, v)  # swap_cache_get_folio(vswap entry)
    if folio < 0:
        return 0
    start = ctx.folio[folio, F_SWAP]
    nr = np.int64(1) << ctx.folio[folio, F_ORDER]
    _vlock(dst, ctx, op, v)  # vswap_to_phys(): verify the backing
    w = _fw_read(dst, ctx, op, v)
    if (w & 7) != VT_PHYS or (w >> 3) != off:
        return -nr
    if not swap_table.st_only_has_cache(dst, ctx, op, start, nr):
        return -nr
    _vlock(dst, ctx, op, start)  # vswap_store_folio(): the folio is the backend now
    _drop_phys(dst, ctx, op, start, nr)
    return nr


@njit
def _drop_phys(dst, ctx, op, start, nr):
    """Reset the PHYS words of ``[start, start + nr)`` (vswap lock held), releasing
    their physical slots run by run."""
    for s in range(start, start + nr):
        w = _fw_read(dst, ctx, op, s)
        if (w & 7) == VT_PHYS:
            _fw_write(dst, ctx, op, s, VT_NONE)
            _phys_release(dst, ctx, op, w >> 3, 1, np.int64(dst.memcg[s]))


@njit
def _realloc_phys(dst, ctx, op, entry, nr):
    """folio_realloc_swap(): vswap_to_phys, a physical allocation writing Pointer
    words, then the backend words become PHYS.  Returns the physical slot or
    -ENOMEM."""
    _vlock(dst, ctx, op, entry)
    nphys = 0
    first = -1
    for i in range(nr):
        w = _fw_read(dst, ctx, op, entry + i)
        if (w & 7) == VT_PHYS:
            nphys += 1
            if i == 0:
                first = w >> 3
            elif first >= 0 and (w >> 3) != first + i:
                first = -1
        elif i == 0:
            first = -1
    if nphys == nr and first >= 0:
        return first
    if nphys > 0:
        # part of the folio kept a slot (its other pages' backing was reclaimed):
        # give those back and back the folio as a whole [I]
        _drop_phys(dst, ctx, op, entry, nr)
    order = 0
    while (1 << order) < nr:
        order += 1
    p = dev_alloc(dst.pdev, dst, ctx, op, ctx.meta[C_CPU], order)
    if p == 0:
        return ENOMEM
    for i in range(nr):
        ctx.counters[op, RMAP_WRITE] += 1
        # a page already cache-only (count 0) gets the bit at once [I]
        cache_only = swp_tb.tb_count(dst.dev.table[entry + i]) == 0
        dst.pdev.table[p + i] = swp_tb.tb_mk_pointer(entry + i, cache_only)
    ctx.counters[op, MEMCG_READ] += 1
    if dst.memcg[entry] != 0:
        ctx.counters[op, MEMCG_CHARGE] += 1  # the backing is charged, the vswap slot not
    dev_deferred_work(dst.pdev, dst, ctx)
    _vlock(dst, ctx, op, entry)
    for i in range(nr):
        _fw_write(dst, ctx, op, entry + i, (np.int64(p + i) << 3) | VT_PHYS)
    return p


# --------------------------------------------------------------------------- verbs


@njit
def ste_writeout(dst, ctx, op, entry, nr, backend):
    """swap_writeout() of a cached vswap folio: vswap_prepare_writeout (drop a stale
    zswap backing, keep a physical one), the Z flag, then zswap store or the physical
    backing."""
    if swap_table.st_cache_free(dst, ctx, op, entry, nr):
        return BACKEND_NONE
    _vlock(dst, ctx, op, entry)
    for s in range(entry, entry + nr):
        w = _fw_read(dst, ctx, op, s)
        if dst.meta[E_LAZY_VT]:
            _zs_invalidate(dst, ctx, op, s)  # zswap_store()'s check_old
        if (w & 7) == VT_ZSWAP:
            _zswap_free(dst, ctx, op)
            _fw_write(dst, ctx, op, s, VT_NONE)
    swap_table._set_zero(dst, ctx, op, entry, nr, backend == BACKEND_ZERO)
    if backend == BACKEND_ZERO:
        return BACKEND_ZERO
    if backend == BACKEND_ZSWAP:
        for s in range(entry, entry + nr):
            ctx.counters[op, MEM_ALLOC] += 1  # zswap_entry
            _vlock(dst, ctx, op, s)  # vswap_zswap_store()
            w = _fw_read(dst, ctx, op, s)
            _fw_write(dst, ctx, op, s, _zswap_new(dst))
            if dst.meta[E_LAZY_VT]:
                xa_store_counted(dst.zs, s >> ZSWAP_TREE_SHIFT, s, 1, ctx.counters, op)
            if (w & 7) == VT_PHYS:
                _phys_release(dst, ctx, op, w >> 3, 1, np.int64(dst.memcg[s]))
        return BACKEND_ZSWAP
    if _realloc_phys(dst, ctx, op, entry, nr) < 0:
        return ENOMEM
    return BACKEND_DISK


@njit
def ste_read_backend(dst, ctx, op, entry):
    """swap_read_folio(): the Z flag (an RCU table read), vswap_zswap_load, then
    vswap_to_phys; each a vswap cluster lookup.  A zswap load drops the entry."""
    ste_cluster_lookup(dst, ctx, op, dst.dev, entry)
    ctx.counters[op, TABLE_READ] += 1
    if swp_tb.tb_is_zero(dst.dev.table[entry]):
        return BACKEND_ZERO
    if dst.meta[E_LAZY_VT]:  # zswap_load() on its own tree
        if _zs_load(dst, ctx, op, entry):
            xa_erase_counted(dst.zs, entry >> ZSWAP_TREE_SHIFT, entry, ctx.counters, op)
            _zswap_free(dst, ctx, op)
            _fw_write(dst, ctx, op, entry, VT_NONE)
            return BACKEND_ZSWAP
    else:
        _vlock(dst, ctx, op, entry)  # vswap_zswap_load()
        if (_fw_read(dst, ctx, op, entry) & 7) == VT_ZSWAP:
            _zswap_free(dst, ctx, op)
            _fw_write(dst, ctx, op, entry, VT_NONE)
            return BACKEND_ZSWAP
    _vlock(dst, ctx, op, entry)
    if (_fw_read(dst, ctx, op, entry) & 7) == VT_PHYS:
        return BACKEND_DISK
    return BACKEND_FOLIO


@njit
def ste_ra_probe(dst, ctx, op, entry):
    """do_swap_page() after a cache miss: ``swap_entry_backend_has_flag(si, entry,
    SWP_SYNCHRONOUS_IO)`` = ``vswap_to_phys`` (cluster xa_load, lock, virtual_table
    read) then the physical device's flag; zero, zswap and unbacked entries answer
    false, so their faults take swapin_readahead()."""
    if swap_table.st_ra_probe(dst, ctx, op, entry) < 0:  # nothing counted
        return ENOENT
    _vlock(dst, ctx, op, entry)
    w = _fw_read(dst, ctx, op, entry)
    if (w & 7) == VT_PHYS and (dst.pdev.meta[D_FLAGS] & SWP_SYNCHRONOUS_IO):
        return RA_SYNC
    return RA_READAHEAD


@njit
def ste_zswap_writeback(dst, ctx, op, entry, folio):
    """zswap writeback: the folio through the swap cache, verify the ZSWAP tag, a
    physical slot (folio_realloc_swap), write, free the zswap entry, reclaim."""
    err = swap_table.st_cache_add(dst, ctx, op, entry, 1, folio)
    if err != 0:
        return err
    if dst.meta[E_LAZY_VT]:
        present = _zs_load(dst, ctx, op, entry)  # the tree's entry is still this one
        w = dst.vt[entry]
    else:
        _vlock(dst, ctx, op, entry)  # vswap_zswap_load() verify
        w = _fw_read(dst, ctx, op, entry)
        present = (w & 7) == VT_ZSWAP
    if not present:
        swap_table.st_cache_del(dst, ctx, op, entry, 1)
        return ENOMEM
    dst.vt[entry] = VT_NONE  # folio_realloc_swap() replaces the tag with PHYS
    if _realloc_phys(dst, ctx, op, entry, 1) < 0:
        dst.vt[entry] = w  # vswap_zswap_store() restores the ZSWAP tag
        swap_table.st_cache_del(dst, ctx, op, entry, 1)
        return ENOMEM
    if dst.meta[E_LAZY_VT]:
        xa_erase_counted(dst.zs, entry >> ZSWAP_TREE_SHIFT, entry, ctx.counters, op)
    _zswap_free(dst, ctx, op)
    swap_table.st_cache_del(dst, ctx, OP_CACHE_DEL, entry, 1)
    return 0


@njit
def ste_reclaim_full(dst, ctx, force):
    """Full-cluster reclaim runs where swap can fill: the physical device."""
    return dev_reclaim_full(dst.pdev, dst, ctx, force)


@njit
def ste_metadata_bytes(dst, out):
    out[:] = 0
    vdev = dst.dev
    pdev = dst.pdev
    vsize = np.int64(1) << vdev.meta[D_CLUSTER_SHIFT]
    live = vdev.meta[D_TABLES]
    out[md.S_CLUSTER_INFO] = live * CI_DYN_BYTES + pdev.meta[D_NCLUSTERS] * md.CLUSTER_INFO_P4_BYTES * (1 - pdev.meta[D_OFF])
    out[md.S_SWAP_TABLE] = live * vsize * md.SWAP_TABLE_ENTRY_BYTES
    out[md.S_MEMCG_TABLE] = live * vsize * md.MEMCG_ID_BYTES
    out[md.S_EXTEND_TABLE] = dst.meta[E_EXT_TABLES] * vsize * md.EXTEND_ENTRY_BYTES
    out[md.S_VIRTUAL_TABLE] = dst.meta[E_VTABLES] * vsize * md.SWAP_TABLE_ENTRY_BYTES
    out[md.S_CLUSTER_MAP_NODES] = dst.cmap.aux[M_NR_NODES] * md.XA_NODE_BYTES
    pcsize = np.int64(1) << pdev.meta[D_CLUSTER_SHIFT]
    out[md.S_RMAP_TABLE] = pdev.meta[D_TABLES] * pcsize * md.SWAP_TABLE_ENTRY_BYTES
    out[md.S_ZSWAP_ENTRY] = dst.meta[E_ZSWAP_ENTRIES] * md.ZSWAP_ENTRY_BYTES
    if dst.meta[E_LAZY_VT]:
        out[md.S_ZSWAP_TREES] = dst.zs.aux[M_NTREES] * md.XARRAY_HEAD_BYTES
        out[md.S_ZSWAP_XA_NODES] = dst.zs.aux[M_NR_NODES] * md.XA_NODE_BYTES


@njit
def ste_unuse_entry(dst, ctx, op, off):
    """swapoff's walk of the physical device: the Pointer word names the vswap slot."""
    ctx.counters[op, RMAP_READ] += 1
    tb = dst.pdev.table[off]
    if not swp_tb.tb_is_pointer(tb):
        return 0
    return swp_tb.tb_pointer_offset(tb)


@njit
def ste_unuse(dst, ctx, op, entry, folio):
    """Swapoff without a page-table walk: vswap_store_folio() makes the cached folio
    the backend of its pages and frees their physical slots; the vswap entries stay."""
    start = ctx.folio[folio, F_SWAP]
    nr = np.int64(1) << ctx.folio[folio, F_ORDER]
    if start == 0 or not start <= entry < start + nr:
        return EBUSY
    _vlock(dst, ctx, op, start)
    _drop_phys(dst, ctx, op, start, nr)
    return 0


@njit(inline="always")
def ste_phys_dev(dst):
    return dst.pdev


@njit(inline="always")
def ste_ptes_hold_slots(dst):
    return False


verbs.register(
    SteState,
    alloc=swap_table.st_alloc,
    dup=swap_table.st_dup,
    pte_batch=swap_table.st_pte_batch,
    put=swap_table.st_put,
    cache_lookup=table_cache_lookup,
    cache_add=swap_table.st_cache_add,
    cache_del=swap_table.st_cache_del,
    cache_free=swap_table.st_cache_free,
    try_reclaim=table_try_reclaim,
    only_has_cache=swap_table.st_only_has_cache,
    swap_count=swap_table.st_swap_count,
    writeout=ste_writeout,
    read_backend=ste_read_backend,
    ra_probe=ste_ra_probe,
    zswap_writeback=ste_zswap_writeback,
    reclaim_full=ste_reclaim_full,
    metadata_bytes=ste_metadata_bytes,
    phys_slot_scan=ste_phys_slot_scan,
    phys_slot_reclaim=ste_phys_slot_reclaim,
    slot_release=ste_slot_release,
    range_has_zswap=ste_range_has_zswap,
    cluster_lookup=ste_cluster_lookup,
    cluster_populated=ste_cluster_populated,
    slot_cache_only=ste_slot_cache_only,
    unuse_entry=ste_unuse_entry,
    unuse=ste_unuse,
    phys_dev=ste_phys_dev,
    ptes_hold_slots=ste_ptes_hold_slots,
)


def _new_state(ghost: bool):
    def make(
        nslots, *, zswap_enabled=False, virtual_slots=None, virtual_cluster_size=512, lazy_forward_table=False,
        **device,
    ):
        """``device``: the physical device's keywords (cluster_size and those of
        :func:`~vswap_nb.core.device.new_device`)."""
        if lazy_forward_table and not ghost:
            raise ValueError("vswap_ste has no option lazy_forward_table (ghost's reading of its RFCs)")
        if ghost and not zswap_enabled:
            return swap_table.new_state(nslots, **device)
        return _new(
            nslots,
            virtual_slots=virtual_slots,
            virtual_cluster_size=virtual_cluster_size,
            lazy_vt=bool(lazy_forward_table),
            **device,
        )

    return make


def _check_state(design, dst, counts):
    """No free vswap slot keeps a backend word; every PHYS word of the virtual_table
    points at a physical slot whose reverse map points back, and every reverse-map word
    at a PHYS slot that points at it; ghost's per-cluster forward-table counts equal the
    cluster's PHYS slots and the clusters with a table equal the design's count.  (Ghost
    without zswap is swap_table's state: nothing more to check.)"""
    if not isinstance(dst, SteState):
        return
    vt = dst.vt
    n = min(vt.shape[0], counts.shape[0])
    stale = np.flatnonzero((vt[:n] != VT_NONE) & (counts[:n] < 0))
    if stale.size:
        q = int(stale[0])
        fail(design, "vt", q, f"backend word {int(vt[q])} on a free vswap slot")
    phys = np.flatnonzero((vt & 7) == VT_PHYS)
    check_rmap(design, "pdev.table", dst.pdev.table, "vt", phys, phys, vt[phys] >> 3, "vswap slot", "virtual_table")
    if dst.meta[E_LAZY_VT]:
        dev = dst.dev
        ncl = int(dev.meta[D_NCLUSTERS])
        shift = int(dev.meta[D_CLUSTER_SHIFT])
        per = np.bincount(phys >> shift, minlength=ncl)[:ncl]
        aux = dev.ci[:ncl, CI_AUX]
        wrong = np.flatnonzero(per != aux)
        if wrong.size:
            c = int(wrong[0])
            fail(design, "dev.ci", c, f"forward-table count {int(aux[c])}, {int(per[c])} of its slots are PHYS")
        if int(np.count_nonzero(aux)) != int(dst.meta[E_VTABLES]):
            fail(design, "meta", "E_VTABLES", f"{int(dst.meta[E_VTABLES])} forward tables counted, "
                 f"{int(np.count_nonzero(aux))} clusters have one")
        nz = int(np.count_nonzero((vt & 7) == VT_ZSWAP))
        if int(dst.zs.aux[M_ENTRIES]) != nz:
            fail(design, "zs", "entries", f"{int(dst.zs.aux[M_ENTRIES])} entries in zswap trees, "
                 f"{nz} vswap slots are backed by zswap")


STE = Design(
    "vswap_ste",
    "the Swap Table Edition RFC v2: a vswap device reusing swap-table clusters held in an "
    "XArray, an 8-byte virtual_table per slot, Pointer rmap with the cache-only bit",
    SteState,
    _new_state(ghost=False),
    virtual_slots=True,
    check_state=_check_state,
)
GHOST = Design(
    "ghost",
    "the optional route: swap table P4 for physical swap; with zswap, a dynamic ghost "
    "device whose clusters hold a virtual_table for zswap entries and physical backing "
    "(lazy_forward_table=True: the table only while an entry has a slot, zswap on its own trees)",
    (SteState, swap_table.SwapTableState),
    _new_state(ghost=True),
    # ghost's reading of the RFCs (module docstring): False = the P4 RFC cover
    options={"lazy_forward_table": False},
    virtual_slots=True,
    check_state=_check_state,
)
