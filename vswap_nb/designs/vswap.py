"""``vswap_v5`` and ``vswap_v6``: Nhat Pham's virtual swap space, v5 and v6 (on 6.19).

Facts (``reference/swap-designs.md`` sections 2.1-2.4, 3 and 4; vswap.c of the v6
series [S5], the v6 cover letter and patches 13 and 22 [S19-S21], Nhat's regression
analysis [S28]):

* Page tables hold *virtual* entries: ``(cluster id << 9) | slot``.  A virtual cluster
  (512 slots) has a lock, an id, count/order bits, a refcount, a 512-bit allocation
  bitmap and 512 descriptors of 24 bytes (backend slot or zswap entry; swap-cache folio
  or shadow; 32-bit count; memcg id; in_swapcache bit; 2-bit type SWAPFILE / ZERO /
  ZSWAP / FOLIO).  Clusters are found through ``vswap_cluster_map``, an XArray with
  dense ids from ``xa_alloc`` (lowest free id), so every lookup of a virtual entry is an
  ``xa_load`` walk; cluster 0 reserves the first ``nr`` slots of its order (entry 0 is
  invalid), so a whole-cluster folio never uses it.
* Allocation: the CPU's cached cluster for the order (no lookup), then
  ``partial_clusters_lists[order]`` under the XArray lock, then a new cluster
  (allocation + ``xa_alloc``).  The folio enters the swap cache with count 0.  Each
  cluster serves one order for its life; it is freed when its refcount reaches 0, the
  memory after an RCU grace period (modelled as a delay of ``RCU_DELAY`` verb calls).
* Backends: zero (type ZERO, no storage), zswap (the descriptor points at the entry; no
  zswap tree), a physical slot (allocated lazily at writeout when the page goes to disk,
  or at zswap writeback, through the shared physical allocator with a reverse map
  Pointer in the physical swap table), or the folio itself.  Only physical slots are
  charged to memcg swap.  The physical device keeps 2 bits per slot statically (the
  allocated and bad bitmaps) instead of ``swap_map``; no ``swap_cgroup``, no zeromap.
* The three fixes of the thread and v6's batching are switches (``vswap_v6`` has them
  on, ``vswap_v5`` off; with all four off v6 counts exactly as v5):

  ``rmap_cache_only_bit``  bit 63 of the reverse-map entry says "swap-cache only", so
      the physical allocator reads the rmap word alone; without it, every allocated
      slot met in a scanned range costs a reverse-map read plus a vswap lookup
      (``xa_load`` + cluster lock + descriptor read).  The bit is set when a count drops
      to 0 on a cached SWAPFILE entry and cleared on dup.
  ``defer_cgroup_check``   ``swap_pte_batch()`` on the free path does no per-PTE cgroup
      lookup; the free loop splits runs at memcg changes under the held lock.  Without
      it, each PTE of a batch costs a vswap lookup + lock + descriptor read.
  ``cluster_lookup_cache`` a per-CPU most-recently-used cluster: a lookup of the same
      cluster id skips ``xa_load`` (``lookup_cache_hit``); the cluster lock is still
      taken.  The cache holds a cluster reference, dropped when another cluster is
      looked up or when the cluster is empty at the end of an operation.
  ``lookup_cache_ways``    (an integer, not in the kernel: a what-if of the thread's
      "TLB-like" cache) how many clusters the per-CPU lookup cache holds, most recent
      first, least recent evicted (1..16; v6 is 1).  Ignored without
      ``cluster_lookup_cache``.  A hit costs ``lookup_cache_hit`` at any way.
  ``batch_ops``            v6's batching: the free path takes one lookup + lock per
      cluster chunk and releases backing per run (one physical lock per contiguous
      physical range, one uncharge per memcg run); writeout's backing check and store
      share one lock section (``vswap_prepare_writeout``); swap-in's backend read and
      cache add do not repeat lookups.  Without it (v5 [I]): one lookup + lock per
      entry on the free path and per-entry release; separate lookups for each step.

What is inferred [I] (v5's source was not read; v6's only in part): the exact per-step
lookups of v5 beyond those listed in the reference; that v5 frees entry by entry; the
refcount model (allocated slots + one per CPU cache or lookup cache holding the
cluster); v5's cluster object being a 16 KiB slab object (12392 B rounded).  The RCU
delay is 64 verb calls.  Swapoff (``unuse``) repoints each physically backed entry at its swap-cache folio
[S16, S23]: no page-table walk.  Left out: shmem, multiple physical devices, races.
"""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from ..core import metadata as md
from ..core import swp_tb, verbs
from ..core.counters import (
    BITMAP_OP,
    CLUSTER_LOCK,
    DESC_READ,
    DESC_WRITE,
    LOOKUP_CACHE_HIT,
    LOOKUP_CACHE_MISS,
    MAP_READ,
    MAP_WRITE,
    MEM_ALLOC,
    MEM_FREE,
    MEMCG_CHARGE,
    MEMCG_UNCHARGE,
    OP_ALLOC,
    OP_CACHE_DEL,
    OP_RECLAIM_SCAN,
    RMAP_READ,
    RMAP_WRITE,
    SI_LOCK,
    SLOT_FREE_NOTIFY,
    XA_NODE_VISIT,
)
from ..core.device import (
    D_CLUSTER_SHIFT,
    D_FLAGS,
    D_MAX,
    D_NCLUSTERS,
    D_OFF,
    D_TABLES,
    KERNEL_619,
    N_ORDERS,
    SWP_FREE_NOTIFY,
    SWP_SYNCHRONOUS_IO,
    dev_alloc,
    dev_deferred_work,
    dev_free_range,
    dev_reclaim_full,
    new_device,
    vm_swap_full,
)
from ..core.jit import njit
from ..core.radix import (
    M_NR_NODES,
    xa_erase_counted,
    xa_height,
    xa_load_counted,
    xa_new,
    xa_store_counted,
    xa_walk,
)
from ..core.verbs import (
    BACKEND_DISK,
    BACKEND_FOLIO,
    BACKEND_NONE,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    C_CPU,
    EBUSY,
    EEXIST,
    ENOENT,
    ENOMEM,
    F_FLAGS,
    F_ORDER,
    F_SWAP,
    FOLIO_MAPPED,
    RA_READAHEAD,
    RA_SYNC,
    SLOT_BUSY,
    SLOT_CACHE_ONLY,
    SLOT_FREE,
    TTRS_ANYWAY,
    TTRS_FULL,
    TTRS_UNMAPPED,
    folio_add_swap,
)

SWITCHES = ("rmap_cache_only_bit", "defer_cgroup_check", "cluster_lookup_cache", "batch_ops")
SETTINGS = ("lookup_cache_ways",)  # integer options (a switch is True/False)
RCU_DELAY = 64

# descriptor types
T_SWAPFILE = 0
T_ZERO = 1
T_ZSWAP = 2
T_FOLIO = 3

# descriptor words (desc[i, :]): backend, swap cache folio + 1, packed meta
DW_BACKEND = 0
DW_CACHE = 1
DW_META = 2
COUNT_MASK = (1 << 32) - 1
MEMCG_SHIFT = 32
TYPE_SHIFT = 48
INCACHE_BIT = 1 << 50

# virtual cluster rows (vc[row, :])
VC_ID = 0
VC_COUNT = 1  # allocated slots (cluster 0's reserved slots included)
VC_ORDER = 2
VC_REF = 3  # allocated slots + per-CPU caches holding the cluster
VC_FLAGS = 4
VC_NEXT = 5  # partial list links
VC_PREV = 6
VC_WORDS = 8

VF_LIVE = 1
VF_PARTIAL = 2

# per-CPU words (vpcpu[cpu, :]): the alloc cluster row per order, then the lookup cache
# (way w: cluster id at P_MRU_ID + 2w, row at P_MRU_ROW + 2w, most recent first)
LC_MAX_WAYS = 16
P_MRU_ID = N_ORDERS
P_MRU_ROW = N_ORDERS + 1
P_WORDS = N_ORDERS + 2 * LC_MAX_WAYS

# pool rows (pool[k, :]): free-id min-heap, free-row stack, RCU ring of rows, due times
PL_IDS = 0
PL_ROWS = 1
PL_RCU_ROW = 2
PL_RCU_DUE = 3

# meta words
V_RMAP_BIT = 0
V_DEFER_CG = 1
V_LOOKUP_CACHE = 2
V_BATCH = 3
V_LAYOUT_V6 = 4
V_OPS = 5  # verb calls so far (the clock of the RCU delay)
V_NEXT_ID = 6
V_HEAP_N = 7
V_ROWS_FREE_N = 8
V_RCU_HEAD = 9
V_RCU_TAIL = 10
V_LIVE_ROWS = 11
V_ZSWAP_ENTRIES = 12
V_VSHIFT = 13  # log2 of the virtual cluster size
V_NROWS = 14
V_NEXT_ZSWAP = 15  # zswap entries stored so far (their ids)
V_V5_OBJECT = 16  # v5: bytes of the slab object holding a cluster with its descriptors
V_LC_WAYS = 17  # ways of the per-CPU lookup cache (v6: 1)
V_PARTIAL = 18  # + 2 * order: head, tail of partial[order]
N_VMETA = V_PARTIAL + 2 * N_ORDERS

VswapState = namedtuple("VswapState", ["dev", "vc", "vbits", "desc", "cmap", "vpcpu", "pool", "meta"])
VswapState.__doc__ = """State of the vswap_v5 / vswap_v6 design.

dev    SwapDev            the physical device; ``dev.table`` holds reverse-map Pointers
vc     int64[rows, 8]     virtual cluster rows (id, count, order, refcount, flags, links)
vbits  uint64[rows, 8]    each cluster's 512-bit allocation bitmap
desc   int64[rows*512, 3] descriptors: backend, swap-cache folio + 1, packed count /
                          memcg / type / in_swapcache (24 bytes, as struct swp_desc)
cmap   XAPool             vswap_cluster_map: cluster id -> row
vpcpu  int64[ncpu, 42]    per-CPU allocation cluster per order, lookup-cache ids and rows
pool   int64[4, rows+1]   free-id heap, free-row stack, RCU ring of freed rows and due times
meta   int64[N_VMETA]     switches, clocks, counts, partial list heads
"""


class _Variant:
    """A registered name for the module with preset switches."""

    VIRTUAL_SLOTS = True  # new_state takes virtual_slots (room for entries without a slot)

    def __init__(self, name, summary, defaults, layout_v6):
        self.NAME = name
        self.SUMMARY = summary
        self.OPTIONS = dict(defaults) if layout_v6 else {}
        self._defaults = dict(defaults)
        self._layout_v6 = layout_v6

    def new_state(self, nslots, **kw):
        opts = dict(self._defaults)
        for k in list(kw):
            if k in SWITCHES or k in SETTINGS:
                if not self._layout_v6:
                    raise ValueError(
                        f"{self.NAME} has no switch {k!r} (v5 has none of the fixes); "
                        f"use vswap_v6 with {k}=False/True to ablate"
                    )
                opts[k] = kw.pop(k)
        return new_state(nslots, layout_v6=self._layout_v6, **opts, **kw)

    @staticmethod
    def check_option(name, value):
        return check_option(name, value)


def check_option(name, value):
    """The value of option ``name`` as new_state takes it; TypeError/ValueError naming
    the option and its valid values otherwise."""
    if name in SWITCHES:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r}")
        return bool(value)
    if name == "lookup_cache_ways":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"lookup_cache_ways must be an integer in [1, {LC_MAX_WAYS}], got {value!r}")
        if not 1 <= int(value) <= LC_MAX_WAYS:
            raise ValueError(
                f"lookup_cache_ways must be in [1, {LC_MAX_WAYS}] (clusters each CPU's lookup "
                f"cache holds), got {value}"
            )
        return int(value)
    raise ValueError(f"unknown vswap option {name!r}; valid: {', '.join(SWITCHES + SETTINGS)}")


def new_state(
    nslots: int,
    *,
    ncpu: int = 1,
    cluster_size: int = 512,
    solidstate: bool = True,
    discard: bool = False,
    blkdev: bool = True,
    synchronous: bool = False,
    zswap_enabled: bool = False,
    virtual_slots: int | None = None,
    virtual_cluster_size: int = 512,
    rmap_cache_only_bit: bool = False,
    defer_cgroup_check: bool = False,
    cluster_lookup_cache: bool = False,
    batch_ops: bool = False,
    lookup_cache_ways: int = 1,
    layout_v6: bool = False,
    free_notify: bool = True,
) -> VswapState:
    """A virtual swap design over a fresh physical device of ``nslots`` slots, with room
    for ``virtual_slots`` virtual entries (default: twice the device, plus a cluster per
    CPU and order for partly used clusters)."""
    for name, val in (
        ("rmap_cache_only_bit", rmap_cache_only_bit),
        ("defer_cgroup_check", defer_cgroup_check),
        ("cluster_lookup_cache", cluster_lookup_cache),
        ("batch_ops", batch_ops),
    ):
        check_option(name, val)
    lookup_cache_ways = check_option("lookup_cache_ways", lookup_cache_ways)
    if virtual_cluster_size & (virtual_cluster_size - 1) or not 2 <= virtual_cluster_size <= 512:
        raise ValueError(f"virtual_cluster_size must be a power of two in [2, 512], got {virtual_cluster_size}")
    dev = new_device(
        nslots,
        cluster_size=cluster_size,
        ncpu=ncpu,
        solidstate=solidstate,
        discard=discard,
        blkdev=blkdev,
        synchronous=synchronous,
        table_sizes=(8 * cluster_size,),  # the swap table (a zeroed page at 512 slots)
        kernel=KERNEL_619,
        free_notify=free_notify,
    )
    vsize = int(virtual_cluster_size)
    vshift = vsize.bit_length() - 1
    if virtual_slots is None:
        virtual_slots = 2 * int(nslots)
    rows = -(-int(virtual_slots) // vsize) + ncpu * N_ORDERS + RCU_DELAY + 2
    meta = np.zeros(N_VMETA, dtype=np.int64)
    meta[V_RMAP_BIT] = bool(rmap_cache_only_bit)
    meta[V_DEFER_CG] = bool(defer_cgroup_check)
    meta[V_LOOKUP_CACHE] = bool(cluster_lookup_cache)
    meta[V_BATCH] = bool(batch_ops)
    meta[V_LC_WAYS] = lookup_cache_ways
    meta[V_LAYOUT_V6] = bool(layout_v6)
    meta[V_VSHIFT] = vshift
    meta[V_NROWS] = rows
    meta[V_V5_OBJECT] = md.kmalloc_size(md.vswap_cluster_v5_bytes(vsize))
    meta[V_PARTIAL:] = -1
    pool = np.zeros((4, rows + 1), dtype=np.int64)
    pool[PL_ROWS, :rows] = np.arange(rows - 1, -1, -1)  # pop gives row 0 first
    meta[V_ROWS_FREE_N] = rows
    vc = np.zeros((rows, VC_WORDS), dtype=np.int64)
    vc[:, VC_NEXT] = -1
    vc[:, VC_PREV] = -1
    vpcpu = np.full((ncpu, P_WORDS), -1, dtype=np.int64)
    levels = max(1, -(-max(rows, 2).bit_length() // 6))
    return VswapState(
        dev=dev,
        vc=vc,
        vbits=np.zeros((rows, 8), dtype=np.uint64),
        desc=np.zeros((rows * vsize, 3), dtype=np.int64),
        cmap=xa_new(1, rows + 2 * levels + 8),
        vpcpu=vpcpu,
        pool=pool,
        meta=meta,
    )


# --------------------------------------------------------------------------- descriptors


@njit(inline="always")
def _d_count(dst, i):
    return dst.desc[i, DW_META] & COUNT_MASK


@njit(inline="always")
def _d_type(dst, i):
    return (dst.desc[i, DW_META] >> TYPE_SHIFT) & 3


@njit(inline="always")
def _d_memcg(dst, i):
    return (dst.desc[i, DW_META] >> MEMCG_SHIFT) & 0xFFFF


@njit(inline="always")
def _d_incache(dst, i):
    return (dst.desc[i, DW_META] & INCACHE_BIT) != 0


@njit(inline="always")
def _d_set(dst, i, count, memcg, typ, incache):
    m = count | (memcg << MEMCG_SHIFT) | (typ << TYPE_SHIFT)
    if incache:
        m |= INCACHE_BIT
    dst.desc[i, DW_META] = m


@njit(inline="always")
def _d_set_count(dst, i, count):
    dst.desc[i, DW_META] = (dst.desc[i, DW_META] & ~COUNT_MASK) | count


@njit(inline="always")
def _d_set_type(dst, i, typ):
    dst.desc[i, DW_META] = (dst.desc[i, DW_META] & ~(3 << TYPE_SHIFT)) | (typ << TYPE_SHIFT)


@njit(inline="always")
def _d_set_incache(dst, i, on):
    if on:
        dst.desc[i, DW_META] |= INCACHE_BIT
    else:
        dst.desc[i, DW_META] &= ~INCACHE_BIT


@njit(inline="always")
def _vshift(dst):
    return dst.meta[V_VSHIFT]


@njit(inline="always")
def _bit_test(dst, row, idx):
    return (dst.vbits[row, idx >> 6] >> np.uint64(idx & 63)) & np.uint64(1) != 0


@njit(inline="always")
def _bit_set(dst, row, idx, on):
    b = np.uint64(1) << np.uint64(idx & 63)
    if on:
        dst.vbits[row, idx >> 6] |= b
    else:
        dst.vbits[row, idx >> 6] &= ~b


# --------------------------------------------------------------------------- pools


@njit
def _heap_push(dst, v):
    pool = dst.pool
    i = dst.meta[V_HEAP_N]
    dst.meta[V_HEAP_N] += 1
    pool[PL_IDS, i] = v
    while i > 0:
        p = (i - 1) // 2
        if pool[PL_IDS, p] <= pool[PL_IDS, i]:
            break
        t = pool[PL_IDS, p]
        pool[PL_IDS, p] = pool[PL_IDS, i]
        pool[PL_IDS, i] = t
        i = p


@njit
def _heap_pop(dst):
    pool = dst.pool
    n = dst.meta[V_HEAP_N] - 1
    top = pool[PL_IDS, 0]
    pool[PL_IDS, 0] = pool[PL_IDS, n]
    dst.meta[V_HEAP_N] = n
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        c = left
        if left + 1 < n and pool[PL_IDS, left + 1] < pool[PL_IDS, left]:
            c = left + 1
        if pool[PL_IDS, i] <= pool[PL_IDS, c]:
            break
        t = pool[PL_IDS, c]
        pool[PL_IDS, c] = pool[PL_IDS, i]
        pool[PL_IDS, i] = t
        i = c
    return top


@njit(inline="always")
def _rcu_tick(dst):
    """One verb call passes: rows whose grace period ended become reusable."""
    dst.meta[V_OPS] += 1
    now = dst.meta[V_OPS]
    rows = dst.meta[V_NROWS]
    while dst.meta[V_RCU_HEAD] != dst.meta[V_RCU_TAIL]:
        h = dst.meta[V_RCU_HEAD]
        if dst.pool[PL_RCU_DUE, h] > now:
            break
        row = dst.pool[PL_RCU_ROW, h]
        dst.meta[V_RCU_HEAD] = (h + 1) % (rows + 1)
        dst.pool[PL_ROWS, dst.meta[V_ROWS_FREE_N]] = row
        dst.meta[V_ROWS_FREE_N] += 1
        dst.meta[V_LIVE_ROWS] -= 1


# --------------------------------------------------------------------------- clusters


@njit(inline="always")
def _lookup(dst, ctx, op, cid):
    """vswap_iter()'s cluster lookup: the lookup cache, else xa_load.  Returns the row
    or -1.

    The cache is the CPU's ``meta[V_LC_WAYS]`` most recently used clusters, most recent
    first (v6: one).  A hit moves the cluster to the front; a miss that finds the
    cluster puts it at the front with a reference, and the least recent one falls out
    when all ways are in use; a miss that finds no cluster gives up the front way (with
    one way: the cache is emptied, as v6 does)."""
    if dst.meta[V_LOOKUP_CACHE]:
        cpu = ctx.meta[C_CPU]
        ways = dst.meta[V_LC_WAYS]
        for w in range(ways):
            if dst.vpcpu[cpu, P_MRU_ID + 2 * w] == cid:
                ctx.counters[op, LOOKUP_CACHE_HIT] += 1
                row = dst.vpcpu[cpu, P_MRU_ROW + 2 * w]
                _lc_push_front(dst, cpu, w, cid, row)
                return row
        ctx.counters[op, LOOKUP_CACHE_MISS] += 1
        row = xa_load_counted(dst.cmap, 0, cid, ctx.counters, op)
        if row >= 0:
            old = dst.vpcpu[cpu, P_MRU_ROW + 2 * (ways - 1)]
            _lc_push_front(dst, cpu, ways - 1, cid, row)
            dst.vc[row, VC_REF] += 1
        else:
            old = dst.vpcpu[cpu, P_MRU_ROW]
            _lc_remove(dst, cpu, 0, ways)
        if old >= 0:
            _put_ref(dst, ctx, op, old, 1)
        return row
    return xa_load_counted(dst.cmap, 0, cid, ctx.counters, op)


@njit(inline="always")
def _lc_push_front(dst, cpu, w, cid, row):
    """Put (cid, row) in way 0 of the CPU's lookup cache, moving ways 0..w-1 one down
    (way ``w`` is overwritten: the hit's old place, or the evicted least recent way)."""
    for k in range(w, 0, -1):
        dst.vpcpu[cpu, P_MRU_ID + 2 * k] = dst.vpcpu[cpu, P_MRU_ID + 2 * k - 2]
        dst.vpcpu[cpu, P_MRU_ROW + 2 * k] = dst.vpcpu[cpu, P_MRU_ROW + 2 * k - 2]
    dst.vpcpu[cpu, P_MRU_ID] = cid
    dst.vpcpu[cpu, P_MRU_ROW] = row


@njit(inline="always")
def _lc_remove(dst, cpu, w, ways):
    """Drop way ``w`` of the CPU's lookup cache, closing the gap."""
    for k in range(w, ways - 1):
        dst.vpcpu[cpu, P_MRU_ID + 2 * k] = dst.vpcpu[cpu, P_MRU_ID + 2 * k + 2]
        dst.vpcpu[cpu, P_MRU_ROW + 2 * k] = dst.vpcpu[cpu, P_MRU_ROW + 2 * k + 2]
    dst.vpcpu[cpu, P_MRU_ID + 2 * (ways - 1)] = -1
    dst.vpcpu[cpu, P_MRU_ROW + 2 * (ways - 1)] = -1


@njit
def _lookup_lock(dst, ctx, op, entry):
    """Find and lock the cluster of ``entry``; returns its row (or -1)."""
    row = _lookup(dst, ctx, op, entry >> _vshift(dst))
    if row >= 0:
        ctx.counters[op, CLUSTER_LOCK] += 1
    return row


@njit(inline="always")
def _mru_settle(dst, ctx, op):
    """End of an operation: the lookup cache drops the clusters that are now empty
    (most recent first)."""
    if dst.meta[V_LOOKUP_CACHE] == 0:
        return
    cpu = ctx.meta[C_CPU]
    ways = dst.meta[V_LC_WAYS]
    w = 0
    while w < ways:
        row = dst.vpcpu[cpu, P_MRU_ROW + 2 * w]
        if row >= 0 and dst.vc[row, VC_COUNT] == 0:
            _lc_remove(dst, cpu, w, ways)
            _put_ref(dst, ctx, op, row, 1)
        else:
            w += 1


@njit
def _partial_del(dst, ctx, op, row):
    order = dst.vc[row, VC_ORDER]
    p = dst.vc[row, VC_PREV]
    n = dst.vc[row, VC_NEXT]
    if p >= 0:
        dst.vc[p, VC_NEXT] = n
    else:
        dst.meta[V_PARTIAL + 2 * order] = n
    if n >= 0:
        dst.vc[n, VC_PREV] = p
    else:
        dst.meta[V_PARTIAL + 2 * order + 1] = p
    dst.vc[row, VC_NEXT] = -1
    dst.vc[row, VC_PREV] = -1
    dst.vc[row, VC_FLAGS] &= ~VF_PARTIAL


@njit
def _partial_add(dst, ctx, op, row):
    ctx.counters[op, SI_LOCK] += 1  # the XArray lock protects the partial lists
    order = dst.vc[row, VC_ORDER]
    t = dst.meta[V_PARTIAL + 2 * order + 1]
    dst.vc[row, VC_PREV] = t
    dst.vc[row, VC_NEXT] = -1
    if t >= 0:
        dst.vc[t, VC_NEXT] = row
    else:
        dst.meta[V_PARTIAL + 2 * order] = row
    dst.meta[V_PARTIAL + 2 * order + 1] = row
    dst.vc[row, VC_FLAGS] |= VF_PARTIAL


@njit
def _put_ref(dst, ctx, op, row, n):
    """refcount_sub(); at 0 the cluster leaves the map and its memory is RCU-freed."""
    dst.vc[row, VC_REF] -= n
    if dst.vc[row, VC_REF] > 0:
        return
    if dst.vc[row, VC_FLAGS] & VF_PARTIAL:
        ctx.counters[op, SI_LOCK] += 1
        _partial_del(dst, ctx, op, row)
    cid = dst.vc[row, VC_ID]
    xa_erase_counted(dst.cmap, 0, cid, ctx.counters, op)
    _heap_push(dst, cid)
    ctx.counters[op, MEM_FREE] += 1  # call_rcu(): freed after the grace period
    dst.vc[row, VC_FLAGS] = 0
    dst.vbits[row, :] = 0
    rows = dst.meta[V_NROWS]
    t = dst.meta[V_RCU_TAIL]
    dst.pool[PL_RCU_ROW, t] = row
    dst.pool[PL_RCU_DUE, t] = dst.meta[V_OPS] + RCU_DELAY
    dst.meta[V_RCU_TAIL] = (t + 1) % (rows + 1)


@njit
def _new_cluster(dst, ctx, op, order):
    """kmem_cache_zalloc + (v6) vzalloc of the descriptors + xa_alloc: the new row."""
    if dst.meta[V_ROWS_FREE_N] == 0:
        return -1
    dst.meta[V_ROWS_FREE_N] -= 1
    row = dst.pool[PL_ROWS, dst.meta[V_ROWS_FREE_N]]
    dst.meta[V_LIVE_ROWS] += 1
    ctx.counters[op, MEM_ALLOC] += 1
    if dst.meta[V_HEAP_N] > 0:
        cid = _heap_pop(dst)
    else:
        cid = dst.meta[V_NEXT_ID]
        dst.meta[V_NEXT_ID] += 1
    # xa_alloc(): find the lowest free index through the free mark, then store
    ctx.counters[op, XA_NODE_VISIT] += xa_height(dst.cmap, 0)
    xa_store_counted(dst.cmap, 0, cid, row, ctx.counters, op)
    vsize = np.int64(1) << _vshift(dst)
    dst.vc[row, VC_ID] = cid
    dst.vc[row, VC_COUNT] = 0
    dst.vc[row, VC_ORDER] = order
    dst.vc[row, VC_REF] = 0
    dst.vc[row, VC_FLAGS] = VF_LIVE
    dst.vbits[row, :] = 0
    base = row * vsize
    dst.desc[base : base + vsize, :] = 0
    if cid == 0:
        # entry 0 is invalid: cluster 0 reserves the first nr slots of its order (all
        # of them for a whole-cluster order, which therefore cannot use cluster 0)
        nr = min(np.int64(1) << order, vsize)
        for i in range(nr):
            _bit_set(dst, row, i, True)
        dst.vc[row, VC_COUNT] = nr
        dst.vc[row, VC_REF] = nr
    return row


@njit
def _find_area(dst, ctx, op, row, nr):
    """bitmap_find_next_zero_area() aligned to nr: the slot index, or -1.

    Word by word, as find_next_zero_bit() does: a group of ``nr`` (a power of two)
    aligned bits is free when its bits OR to zero, so the word is folded onto the
    first bit of each group and the lowest free group is the lowest set bit of the
    complement.  Same answer as testing bit by bit from slot 0."""
    ctx.counters[op, BITMAP_OP] += 1
    vsize = np.int64(1) << _vshift(dst)
    if nr > vsize:
        return -1
    nwords = (vsize + 63) >> 6
    if nr >= 64:
        wn = nr >> 6
        for w0 in range(0, nwords - wn + 1, wn):
            ok = True
            for w in range(w0, w0 + wn):
                if dst.vbits[row, w] != 0:
                    ok = False
                    break
            if ok:
                return w0 << 6
        return -1
    full = ~np.uint64(0)
    # bit k*nr set for every k: the first bit of each aligned group
    firsts = full // ((np.uint64(1) << np.uint64(nr)) - np.uint64(1))
    if vsize < 64:
        firsts &= (np.uint64(1) << np.uint64(vsize - nr + 1)) - np.uint64(1)
    for w in range(nwords):
        word = dst.vbits[row, w]
        if word == full:
            continue
        s = np.int64(1)
        while s < nr:
            word |= word >> np.uint64(s)
            s <<= 1
        free = ~word & firsts
        if free != 0:
            return (w << 6) + np.int64(trailing_zeros(free))
    return -1


# --------------------------------------------------------------------------- physical side


@njit
def _phys_free(dst, ctx, op, start, n):
    """Release physical slots (one physical cluster): rmap word cleared, allocated bit
    cleared, per-slot hooks, cluster bookkeeping."""
    ctx.counters[op, CLUSTER_LOCK] += 1
    for s in range(start, start + n):
        ctx.counters[op, RMAP_WRITE] += 1
        dst.dev.table[s] = swp_tb.NULL
        ctx.counters[op, MAP_WRITE] += 1
        if dst.dev.meta[D_FLAGS] & SWP_FREE_NOTIFY:  # zram: zs_free of the slot's object
            ctx.counters[op, SLOT_FREE_NOTIFY] += 1
    dev_free_range(dst.dev, dst, ctx, op, start, n)


@njit
def _release_backing(dst, ctx, op, row, idx, n):
    """release_backing() of descriptors [idx, idx + n) of one cluster whose count and
    cache pin are gone: physical slots (contiguous ranges batched with batch_ops),
    zswap entries freed, one uncharge per run (per slot without batch_ops)."""
    vsize = np.int64(1) << _vshift(dst)
    base = row * vsize
    batch = dst.meta[V_BATCH] != 0
    pstart = -1
    plen = 0
    charged = 0
    for i in range(idx, idx + n):
        d = base + i
        ctx.counters[op, DESC_READ] += 1
        typ = _d_type(dst, d)
        if typ == T_SWAPFILE:
            p = dst.desc[d, DW_BACKEND]
            charged += 1
            if batch:
                pc = p >> dst.dev.meta[D_CLUSTER_SHIFT]
                if pstart >= 0 and p == pstart + plen and (pstart >> dst.dev.meta[D_CLUSTER_SHIFT]) == pc:
                    plen += 1
                else:
                    if pstart >= 0:
                        _phys_free(dst, ctx, op, pstart, plen)
                    pstart = p
                    plen = 1
            else:
                _phys_free(dst, ctx, op, p, 1)
                ctx.counters[op, MEMCG_UNCHARGE] += 1
        elif typ == T_ZSWAP:
            ctx.counters[op, MEM_FREE] += 1
            dst.meta[V_ZSWAP_ENTRIES] -= 1
        ctx.counters[op, DESC_WRITE] += 1
        dst.desc[d, DW_BACKEND] = 0
        dst.desc[d, DW_CACHE] = 0
        dst.desc[d, DW_META] = 0
    if batch:
        if pstart >= 0:
            _phys_free(dst, ctx, op, pstart, plen)
        if charged > 0:
            ctx.counters[op, MEMCG_UNCHARGE] += 1
    # release_vswap_slot_nr(): bitmap_clear + refcount_sub
    for i in range(idx, idx + n):
        _bit_set(dst, row, i, False)
    if batch:
        ctx.counters[op, BITMAP_OP] += 1
    else:
        ctx.counters[op, BITMAP_OP] += n
    was_full = dst.vc[row, VC_COUNT] == vsize
    dst.vc[row, VC_COUNT] -= n
    if was_full and dst.vc[row, VC_FLAGS] & VF_PARTIAL == 0 and dst.vc[row, VC_REF] > n and not _cpu_holds(dst, row):
        _partial_add(dst, ctx, op, row)
    _put_ref(dst, ctx, op, row, n)


@njit(inline="always")
def _cpu_holds(dst, row):
    order = dst.vc[row, VC_ORDER]
    for cpu in range(dst.vpcpu.shape[0]):
        if dst.vpcpu[cpu, order] == row:
            return True
    return False


@njit
def _free_run(dst, ctx, op, row, idx, n):
    """Free descriptors whose last reference is gone, per run (batch_ops) or singly."""
    if dst.meta[V_BATCH]:
        _release_backing(dst, ctx, op, row, idx, n)
    else:
        for i in range(idx, idx + n):
            _release_backing(dst, ctx, op, row, i, 1)


@njit
def _rmap_mark(dst, ctx, op, d, on):
    """The reverse map's cache-only bit (rmap_cache_only_bit switch)."""
    if dst.meta[V_RMAP_BIT] == 0 or _d_type(dst, d) != T_SWAPFILE:
        return
    p = dst.desc[d, DW_BACKEND]
    ctx.counters[op, RMAP_WRITE] += 1
    dst.dev.table[p] = swp_tb.tb_mk_pointer(swp_tb.tb_pointer_offset(dst.dev.table[p]), on)


@njit
def _alloc_phys(dst, ctx, op, entry, nr, d0):
    """vswap_alloc_swap_slot() after the descriptor check: the physical allocator with
    reverse-map writes, the memcg swap charge, the descriptors become SWAPFILE.  With
    ``rmap_cache_only_bit`` a slot backing an entry that is already cache-only (count
    0: a large folio's unreferenced pages) gets the bit at once [I: taken from the
    descriptor written in the same lock section, so not counted apart]."""
    cpu = ctx.meta[C_CPU]
    order = 0
    while (1 << order) < nr:
        order += 1
    p = dev_alloc(dst.dev, dst, ctx, op, cpu, order)
    if p == 0:
        return ENOMEM
    mark = dst.meta[V_RMAP_BIT] != 0
    for i in range(nr):
        ctx.counters[op, RMAP_WRITE] += 1
        cache_only = mark and _d_count(dst, d0 + i) == 0
        dst.dev.table[p + i] = swp_tb.tb_mk_pointer(entry + i, cache_only)
        ctx.counters[op, MAP_WRITE] += 1  # the allocated bitmap
    ctx.counters[op, MEMCG_CHARGE] += 1
    dev_deferred_work(dst.dev, dst, ctx)
    ctx.counters[op, CLUSTER_LOCK] += 1  # lock the virtual cluster again for the store
    return p


# --------------------------------------------------------------------------- verbs


@njit
def vs_alloc(dst, ctx, cpu, order, folio, memcg):
    op = OP_ALLOC
    _rcu_tick(dst)
    ctx.meta[C_CPU] = cpu
    nr = np.int64(1) << order
    vsize = np.int64(1) << _vshift(dst)
    if nr > vsize:
        return ENOMEM
    row = dst.vpcpu[cpu, order]
    idx = -1
    if row >= 0:
        ctx.counters[op, CLUSTER_LOCK] += 1
        idx = _find_area(dst, ctx, op, row, nr)
        if idx < 0:  # nothing left for this order: the CPU lets the cluster go
            dst.vpcpu[cpu, order] = -1
            if dst.vc[row, VC_COUNT] < vsize and dst.vc[row, VC_REF] > 1:
                _partial_add(dst, ctx, op, row)
            _put_ref(dst, ctx, op, row, 1)
            row = -1
    if row < 0:
        ctx.counters[op, SI_LOCK] += 1  # walk partial_clusters_lists[order] under xa_lock
        cand = dst.meta[V_PARTIAL + 2 * order]
        while cand >= 0:
            nxt = dst.vc[cand, VC_NEXT]
            ctx.counters[op, CLUSTER_LOCK] += 1
            idx = _find_area(dst, ctx, op, cand, nr)
            if idx >= 0:
                _partial_del(dst, ctx, op, cand)
                row = cand
                break
            cand = nxt
        if row < 0:
            row = _new_cluster(dst, ctx, op, order)
            if row < 0:
                return ENOMEM
            ctx.counters[op, CLUSTER_LOCK] += 1
            idx = _find_area(dst, ctx, op, row, nr)
            if idx < 0:  # cluster 0 cannot serve a whole-cluster folio: take another
                row = _new_cluster(dst, ctx, op, order)
                if row < 0:
                    return ENOMEM
                ctx.counters[op, CLUSTER_LOCK] += 1
                idx = _find_area(dst, ctx, op, row, nr)
        dst.vpcpu[cpu, order] = row
        dst.vc[row, VC_REF] += 1
    ctx.counters[op, BITMAP_OP] += 1  # bitmap_set
    for i in range(idx, idx + nr):
        _bit_set(dst, row, i, True)
    dst.vc[row, VC_COUNT] += nr
    dst.vc[row, VC_REF] += nr
    base = row * vsize
    for i in range(idx, idx + nr):
        ctx.counters[op, DESC_WRITE] += 1
        dst.desc[base + i, DW_BACKEND] = 0
        dst.desc[base + i, DW_CACHE] = folio + 1
        _d_set(dst, base + i, 0, memcg, T_FOLIO, True)
    entry = (dst.vc[row, VC_ID] << _vshift(dst)) + idx
    folio_add_swap(ctx, folio, entry, nr)
    return entry


@njit(inline="always")
def _vs_dup(dst, ctx, op, entry, nr):
    """swap_duplicate(): per PTE a lookup, the lock, a descriptor read and write."""
    vsize = np.int64(1) << _vshift(dst)
    for e in range(entry, entry + nr):
        row = _lookup_lock(dst, ctx, op, e)
        if row < 0:
            return ENOENT
        d = row * vsize + (e & (vsize - 1))
        ctx.counters[op, DESC_READ] += 1
        c = _d_count(dst, d)
        if c == 0 and not _d_incache(dst, d):
            return ENOENT
        if c == 0:
            _rmap_mark(dst, ctx, op, d, False)
        ctx.counters[op, DESC_WRITE] += 1
        _d_set_count(dst, d, c + 1)
    return 0


@njit(inline="always")
def _vs_pte_batch(dst, ctx, op, entry, nr):
    """swap_pte_batch(): without defer_cgroup_check, each PTE's cgroup through a vswap
    lookup + lock + descriptor read; the batch stops at a change."""
    if dst.meta[V_DEFER_CG]:
        return nr
    vsize = np.int64(1) << _vshift(dst)
    first = -1
    for k in range(nr):
        e = entry + k
        row = _lookup_lock(dst, ctx, op, e)
        ctx.counters[op, DESC_READ] += 1
        m = _d_memcg(dst, row * vsize + (e & (vsize - 1)))
        if k == 0:
            first = m
        elif m != first:
            _mru_settle(dst, ctx, op)
            return k
    _mru_settle(dst, ctx, op)
    return nr


@njit(inline="always")
def _vs_put(dst, ctx, op, entry, nr, reclaim_cache):
    """The free path: count - 1 on each entry; entries reaching 0 are freed (runs split
    at cluster and memcg changes), cached ones become cache-only and are reclaimed
    afterwards when ``reclaim_cache``."""
    vsize = np.int64(1) << _vshift(dst)
    batch = dst.meta[V_BATCH] != 0
    freed = 0
    any_cache_only = False
    off = entry
    end = entry + nr
    while off < end:
        cend = min(((off >> _vshift(dst)) + 1) << _vshift(dst), end)
        row = -1
        if batch:
            row = _lookup_lock(dst, ctx, op, off)
        run = -1
        run_memcg = -1
        for e in range(off, cend):
            if not batch:
                row = _lookup_lock(dst, ctx, op, e)
            i = e & (vsize - 1)
            d = row * vsize + i
            ctx.counters[op, DESC_READ] += 1
            c = _d_count(dst, d) - 1
            ctx.counters[op, DESC_WRITE] += 1
            _d_set_count(dst, d, c)
            m = _d_memcg(dst, d)
            if c == 0 and not _d_incache(dst, d):
                if batch:
                    if run >= 0 and m != run_memcg:
                        _free_run(dst, ctx, op, row, run, i - run)
                        run = -1
                    if run < 0:
                        run = i
                        run_memcg = m
                else:
                    _free_run(dst, ctx, op, row, i, 1)
                freed += 1
            else:
                if c == 0:
                    _rmap_mark(dst, ctx, op, d, True)
                    any_cache_only = True
                if run >= 0:
                    _free_run(dst, ctx, op, row, run, i - run)
                    run = -1
        if run >= 0:
            _free_run(dst, ctx, op, row, run, ((cend - 1) & (vsize - 1)) + 1 - run)
        off = cend
    if any_cache_only and reclaim_cache:
        e = entry
        while e < end:
            r = _vs_try_reclaim(dst, ctx, op, e, TTRS_UNMAPPED | TTRS_FULL)
            e += 1
            if r != 0:
                step = abs(r)
                e = ((e + step - 1) // step) * step
    _mru_settle(dst, ctx, op)
    return freed


@njit
def _folio_of(dst, ctx, op, entry):
    """swap_cache_get_folio() through the vswap layer: (row, folio or -1)."""
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, entry)
    if row < 0:
        return row, -1
    d = row * vsize + (entry & (vsize - 1))
    ctx.counters[op, DESC_READ] += 1
    if not _d_incache(dst, d):
        return row, -1
    return row, dst.desc[d, DW_CACHE] - 1


@njit(inline="always")
def _only_has_cache(dst, ctx, op, start, nr):
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, start)
    for e in range(start, start + nr):
        ctx.counters[op, DESC_READ] += 1
        if _d_count(dst, row * vsize + (e & (vsize - 1))) != 0:
            return False
    return True


@njit
def _cache_del(dst, ctx, op, start, nr):
    """swap_cache_del_folio(): clear in_swapcache; slots with count 0 are freed."""
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, start)
    base = row * vsize
    folio = dst.desc[base + (start & (vsize - 1)), DW_CACHE] - 1
    run = -1
    i0 = start & (vsize - 1)
    for i in range(i0, i0 + nr):
        d = base + i
        ctx.counters[op, DESC_WRITE] += 1
        _d_set_incache(dst, d, False)
        dst.desc[d, DW_CACHE] = 0
        if _d_count(dst, d) == 0:
            if run < 0:
                run = i
        elif run >= 0:
            _free_run(dst, ctx, op, row, run, i - run)
            run = -1
    if run >= 0:
        _free_run(dst, ctx, op, row, run, i0 + nr - run)
    if folio >= 0:
        ctx.folio[folio, F_SWAP] = 0


@njit
def _vs_try_reclaim(dst, ctx, op, entry, flags):
    """__try_to_reclaim_swap() on a virtual entry."""
    row, folio = _folio_of(dst, ctx, op, entry)
    if folio < 0:
        return 0
    start = ctx.folio[folio, F_SWAP]
    nr = np.int64(1) << ctx.folio[folio, F_ORDER]
    need = (flags & TTRS_ANYWAY) != 0
    if not need and (flags & TTRS_UNMAPPED) and (ctx.folio[folio, F_FLAGS] & FOLIO_MAPPED) == 0:
        need = True
    if not need and (flags & TTRS_FULL) and vm_swap_full(dst.dev):
        need = True
    if not need:
        return -nr
    if not _only_has_cache(dst, ctx, op, start, nr):
        return -nr
    _cache_del(dst, ctx, op, start, nr)
    verbs.note_cache_drop(ctx, folio)
    return nr


@njit(inline="always")
def _vs_cache_lookup(dst, ctx, op, entry):
    row, folio = _folio_of(dst, ctx, op, entry)
    _mru_settle(dst, ctx, op)
    return folio


@njit
def _vs_cache_add(dst, ctx, op, entry, nr, folio):
    """Swap-in's cache insert: check the range, then add the folio (one lookup for both
    with batch_ops, two without)."""
    vsize = np.int64(1) << _vshift(dst)
    start = (entry // nr) * nr
    row = _lookup_lock(dst, ctx, op, start)
    if row < 0:
        return ENOENT
    base = row * vsize
    d0 = base + (entry & (vsize - 1))
    ctx.counters[op, DESC_READ] += 1
    if not _bit_test(dst, row, entry & (vsize - 1)):
        return ENOENT
    if _d_incache(dst, d0):
        return EEXIST
    if _d_count(dst, d0) == 0:
        return ENOENT
    typ = _d_type(dst, d0)
    memcg = _d_memcg(dst, d0)
    if nr > 1:
        if typ == T_ZSWAP:
            return EBUSY  # zswap cannot hand back a large folio
        for e in range(start, start + nr):
            d = base + (e & (vsize - 1))
            ctx.counters[op, DESC_READ] += 1
            if (
                not _bit_test(dst, row, e & (vsize - 1))
                or _d_incache(dst, d)
                or _d_count(dst, d) == 0
                or _d_type(dst, d) != typ
                or _d_memcg(dst, d) != memcg
            ):
                return EBUSY
    if dst.meta[V_BATCH]:
        ctx.counters[op, CLUSTER_LOCK] += 1
    else:
        _lookup_lock(dst, ctx, op, start)
    for e in range(start, start + nr):
        d = base + (e & (vsize - 1))
        ctx.counters[op, DESC_WRITE] += 1
        _d_set_incache(dst, d, True)
        dst.desc[d, DW_CACHE] = folio + 1
    folio_add_swap(ctx, folio, start, nr)
    ctx.counters[op, MEMCG_CHARGE] += 1  # mem_cgroup_swapin_charge_folio()
    return 0


@njit(inline="always")
def _vs_cache_del(dst, ctx, op, entry, nr):
    _cache_del(dst, ctx, op, entry, nr)
    _mru_settle(dst, ctx, op)
    return 0


@njit(inline="always")
def _vs_cache_free(dst, ctx, op, entry, nr):
    """folio_free_swap()."""
    if not _only_has_cache(dst, ctx, op, entry, nr):
        return 0
    _cache_del(dst, ctx, op, entry, nr)
    _mru_settle(dst, ctx, op)
    return 1


@njit(inline="always")
def _drop_stale_backend(dst, ctx, op, base, i0, nr, keep_phys):
    """Release a previous swap-out's backend before a new one (zswap entries, zero;
    a physical slot is kept when the page goes to disk again)."""
    for i in range(i0, i0 + nr):
        d = base + i
        typ = _d_type(dst, d)
        if typ == T_ZSWAP:
            ctx.counters[op, MEM_FREE] += 1
            dst.meta[V_ZSWAP_ENTRIES] -= 1
            dst.desc[d, DW_BACKEND] = 0
            _d_set_type(dst, d, T_FOLIO)
        elif typ == T_ZERO:
            _d_set_type(dst, d, T_FOLIO)
        elif typ == T_SWAPFILE and not keep_phys:
            p = dst.desc[d, DW_BACKEND]
            _phys_free(dst, ctx, op, p, 1)
            ctx.counters[op, MEMCG_UNCHARGE] += 1
            dst.desc[d, DW_BACKEND] = 0
            _d_set_type(dst, d, T_FOLIO)


@njit(inline="always")
def _vs_writeout(dst, ctx, op, entry, nr, backend):
    """swap_writeout() of a cached folio whose PTEs hold the entries."""
    vsize = np.int64(1) << _vshift(dst)
    if _only_has_cache(dst, ctx, op, entry, nr):  # folio_free_swap()
        _cache_del(dst, ctx, op, entry, nr)
        _mru_settle(dst, ctx, op)
        return BACKEND_NONE
    batch = dst.meta[V_BATCH] != 0
    i0 = entry & (vsize - 1)
    # the backing check (vswap_prepare_writeout with batch_ops: check and store in one
    # lock section)
    row = _lookup_lock(dst, ctx, op, entry)
    base = row * vsize
    ctx.counters[op, DESC_READ] += 1
    phys_backed = _d_type(dst, base + i0) == T_SWAPFILE
    _drop_stale_backend(dst, ctx, op, base, i0, nr, backend == BACKEND_DISK)
    result = backend
    if backend == BACKEND_ZERO:
        if not batch:
            _lookup_lock(dst, ctx, op, entry)
        for i in range(i0, i0 + nr):
            ctx.counters[op, DESC_WRITE] += 1
            _d_set_type(dst, base + i, T_ZERO)
    elif backend == BACKEND_ZSWAP:
        for i in range(i0, i0 + nr):
            ctx.counters[op, MEM_ALLOC] += 1  # zswap_entry
            _lookup_lock(dst, ctx, op, entry)  # zswap_entry_store()
            ctx.counters[op, DESC_WRITE] += 1
            dst.meta[V_ZSWAP_ENTRIES] += 1
            dst.meta[V_NEXT_ZSWAP] += 1  # the zswap_entry's identity
            dst.desc[base + i, DW_BACKEND] = dst.meta[V_NEXT_ZSWAP]
            _d_set_type(dst, base + i, T_ZSWAP)
    elif not phys_backed:
        # vswap_alloc_swap_slot(): read the first descriptor, then the allocator
        _lookup_lock(dst, ctx, op, entry)
        ctx.counters[op, DESC_READ] += 1
        p = _alloc_phys(dst, ctx, op, entry, nr, base + i0)
        if p < 0:
            result = ENOMEM
        else:
            for i in range(i0, i0 + nr):
                ctx.counters[op, DESC_WRITE] += 1
                dst.desc[base + i, DW_BACKEND] = p + (i - i0)
                _d_set_type(dst, base + i, T_SWAPFILE)
    _mru_settle(dst, ctx, op)
    return result


@njit(inline="always")
def _vs_read_backend(dst, ctx, op, entry):
    """swap_read_folio(): v5 asks the zero check, zswap and the slot lookup in turn
    (a lookup each); with batch_ops one lookup reads the type.  A zswap load drops the
    compressed copy: the folio becomes the backend."""
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, entry)
    d = row * vsize + (entry & (vsize - 1))
    ctx.counters[op, DESC_READ] += 1
    typ = _d_type(dst, d)
    batch = dst.meta[V_BATCH] != 0
    result = BACKEND_FOLIO
    if typ == T_ZERO:
        result = BACKEND_ZERO
    else:
        if not batch:
            _lookup_lock(dst, ctx, op, entry)  # zswap_entry_load()
            ctx.counters[op, DESC_READ] += 1
        if typ == T_ZSWAP:
            ctx.counters[op, DESC_WRITE] += 1
            ctx.counters[op, MEM_FREE] += 1
            dst.meta[V_ZSWAP_ENTRIES] -= 1
            dst.desc[d, DW_BACKEND] = 0
            _d_set_type(dst, d, T_FOLIO)
            result = BACKEND_ZSWAP
        else:
            if not batch:
                _lookup_lock(dst, ctx, op, entry)  # swp_entry_to_swp_slot()
                ctx.counters[op, DESC_READ] += 1
            if typ == T_SWAPFILE:
                result = BACKEND_DISK
    _mru_settle(dst, ctx, op)
    return result


@njit(inline="always")
def _vs_ra_probe(dst, ctx, op, entry):
    """do_swap_page() after a cache miss: the backend's SWP_SYNCHRONOUS_IO, found
    through ``swp_entry_to_swp_slot()`` (a vswap lookup, the cluster lock, a
    descriptor read).  Only an entry backed by a physical slot on a synchronous device
    skips readahead; zero, zswap and folio-backed entries take swapin_readahead()
    (the readahead rise on zram the thread measured)."""
    if vs_swap_count(dst, entry) < 0:
        return ENOENT
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, entry)
    ctx.counters[op, DESC_READ] += 1
    typ = _d_type(dst, row * vsize + (entry & (vsize - 1)))
    _mru_settle(dst, ctx, op)
    if typ == T_SWAPFILE and (dst.dev.meta[D_FLAGS] & SWP_SYNCHRONOUS_IO):
        return RA_SYNC
    return RA_READAHEAD


@njit(inline="always")
def _vs_zswap_writeback(dst, ctx, op, entry, folio):
    """zswap writeback: the folio through the swap cache, verify the zswap backend, a
    physical slot now (vswap_alloc_swap_slot), write, drop the zswap entry, reclaim."""
    err = _vs_cache_add(dst, ctx, op, entry, 1, folio)
    if err != 0:
        return err
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, entry)  # zswap_entry_load() verify
    d = row * vsize + (entry & (vsize - 1))
    ctx.counters[op, DESC_READ] += 1
    if _d_type(dst, d) != T_ZSWAP:
        _cache_del(dst, ctx, op, entry, 1)
        return ENOMEM
    _lookup_lock(dst, ctx, op, entry)  # vswap_alloc_swap_slot()
    ctx.counters[op, DESC_READ] += 1
    p = _alloc_phys(dst, ctx, op, entry, 1, d)
    if p < 0:
        _cache_del(dst, ctx, op, entry, 1)
        return ENOMEM
    ctx.counters[op, DESC_WRITE] += 1
    ctx.counters[op, MEM_FREE] += 1  # zswap_entry_free()
    dst.meta[V_ZSWAP_ENTRIES] -= 1
    dst.desc[d, DW_BACKEND] = p
    _d_set_type(dst, d, T_SWAPFILE)
    _cache_del(dst, ctx, OP_CACHE_DEL, entry, 1)
    _mru_settle(dst, ctx, op)
    return 0


@njit
def vs_reclaim_full(dst, ctx, force):
    _rcu_tick(dst)
    r = dev_reclaim_full(dst.dev, dst, ctx, force)
    _mru_settle(dst, ctx, OP_RECLAIM_SCAN)
    return r


@njit(inline="always")
def _row_of(dst, cid):
    """The row of cluster ``cid`` without counting (a state query, not a kernel path)."""
    word, _ = xa_walk(dst.cmap, 0, cid)
    if word == 0:
        return -1
    return word >> 1


@njit
def vs_swap_count(dst, entry):
    """Swap count of a virtual entry: -1 when not allocated, 0 when cache-only."""
    vsize = np.int64(1) << _vshift(dst)
    row = _row_of(dst, entry >> _vshift(dst))
    i = entry & (vsize - 1)
    if row < 0 or not _bit_test(dst, row, i):
        return -1
    if entry >> _vshift(dst) == 0 and i < min(np.int64(1) << dst.vc[row, VC_ORDER], vsize):
        return -1  # reserved with entry 0
    return _d_count(dst, row * vsize + i)


@njit
def vs_metadata_bytes(dst, out):
    out[:] = 0
    dev = dst.dev
    nmax = dev.meta[D_MAX] * (1 - dev.meta[D_OFF])  # swapoff frees the static arrays
    out[md.S_PHYS_BITMAPS] = 2 * ((nmax + 63) // 64) * 8
    out[md.S_CLUSTER_INFO] = dev.meta[D_NCLUSTERS] * md.CLUSTER_INFO_619_BYTES * (1 - dev.meta[D_OFF])
    csize = np.int64(1) << dev.meta[D_CLUSTER_SHIFT]
    out[md.S_RMAP_TABLE] = dev.meta[D_TABLES] * csize * md.SWAP_TABLE_ENTRY_BYTES
    rows = dst.meta[V_LIVE_ROWS]
    vsize = np.int64(1) << _vshift(dst)
    if dst.meta[V_LAYOUT_V6]:
        out[md.S_VSWAP_CLUSTER] = rows * md.VSWAP_CLUSTER_V6_BYTES
        out[md.S_VSWAP_DESC] = rows * vsize * md.SWP_DESC_BYTES
    else:
        # v5: header and descriptors in one slab object
        desc = rows * vsize * md.SWP_DESC_BYTES
        out[md.S_VSWAP_DESC] = desc
        out[md.S_VSWAP_CLUSTER] = rows * dst.meta[V_V5_OBJECT] - desc
    out[md.S_CLUSTER_MAP_NODES] = dst.cmap.aux[M_NR_NODES] * md.XA_NODE_BYTES
    out[md.S_ZSWAP_ENTRY] = dst.meta[V_ZSWAP_ENTRIES] * md.ZSWAP_ENTRY_BYTES


@njit
def vs_phys_slot_scan(dst, ctx, op, dev, off):
    """The physical allocator's look at a slot: the allocated bit, then for an
    allocated slot the cache-only question: the rmap bit (rmap_cache_only_bit) or
    the rmap word plus a vswap lookup of the descriptor."""
    ctx.counters[op, MAP_READ] += 1
    tb = dev.table[off]
    if tb == swp_tb.NULL:
        return SLOT_FREE
    if swp_tb.tb_is_bad(tb):
        return SLOT_BUSY
    ctx.counters[op, RMAP_READ] += 1
    if dst.meta[V_RMAP_BIT]:
        if swp_tb.tb_pointer_cache_only(tb):
            return SLOT_CACHE_ONLY
        return SLOT_BUSY
    v = swp_tb.tb_pointer_offset(tb)
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, v)
    d = row * vsize + (v & (vsize - 1))
    ctx.counters[op, DESC_READ] += 1
    if _d_count(dst, d) == 0 and _d_incache(dst, d):
        return SLOT_CACHE_ONLY
    return SLOT_BUSY


@njit
def vs_phys_slot_reclaim(dst, ctx, op, dev, off):
    ctx.counters[op, RMAP_READ] += 1
    v = swp_tb.tb_pointer_offset(dev.table[off])
    return _vs_try_reclaim(dst, ctx, op, v, TTRS_ANYWAY)



# --------------------------------------------------------------------------- the verbs
# Every verb is one tick of the RCU clock, and every verb that looks clusters up ends by
# letting the lookup cache drop an emptied cluster (alloc does no lookup, so it does
# not); the bodies above do the work.


@njit
def vs_dup(dst, ctx, op, entry, nr):
    _rcu_tick(dst)
    r = _vs_dup(dst, ctx, op, entry, nr)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_pte_batch(dst, ctx, op, entry, nr):
    _rcu_tick(dst)
    r = _vs_pte_batch(dst, ctx, op, entry, nr)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_put(dst, ctx, op, entry, nr, reclaim_cache):
    _rcu_tick(dst)
    r = _vs_put(dst, ctx, op, entry, nr, reclaim_cache)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_cache_lookup(dst, ctx, op, entry):
    _rcu_tick(dst)
    r = _vs_cache_lookup(dst, ctx, op, entry)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_cache_add(dst, ctx, op, entry, nr, folio):
    _rcu_tick(dst)
    r = _vs_cache_add(dst, ctx, op, entry, nr, folio)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_cache_del(dst, ctx, op, entry, nr):
    _rcu_tick(dst)
    r = _vs_cache_del(dst, ctx, op, entry, nr)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_cache_free(dst, ctx, op, entry, nr):
    _rcu_tick(dst)
    r = _vs_cache_free(dst, ctx, op, entry, nr)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_try_reclaim(dst, ctx, op, entry, flags):
    _rcu_tick(dst)
    r = _vs_try_reclaim(dst, ctx, op, entry, flags)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_writeout(dst, ctx, op, entry, nr, backend):
    _rcu_tick(dst)
    r = _vs_writeout(dst, ctx, op, entry, nr, backend)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_read_backend(dst, ctx, op, entry):
    _rcu_tick(dst)
    r = _vs_read_backend(dst, ctx, op, entry)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_ra_probe(dst, ctx, op, entry):
    _rcu_tick(dst)
    r = _vs_ra_probe(dst, ctx, op, entry)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_zswap_writeback(dst, ctx, op, entry, folio):
    _rcu_tick(dst)
    r = _vs_zswap_writeback(dst, ctx, op, entry, folio)
    _mru_settle(dst, ctx, op)
    return r


@njit
def vs_unuse_entry(dst, ctx, op, off):
    """swapoff's walk of the physical device: the allocated bit, then the reverse map
    names the virtual entry."""
    ctx.counters[op, MAP_READ] += 1
    tb = dst.dev.table[off]
    if tb == swp_tb.NULL or swp_tb.tb_is_bad(tb):
        return 0
    ctx.counters[op, RMAP_READ] += 1
    return swp_tb.tb_pointer_offset(tb)


@njit(inline="always")
def _vs_unuse(dst, ctx, op, entry, folio):
    """Swapoff without a page-table walk: the data is in ``folio`` (in the swap cache),
    so the descriptor becomes a FOLIO entry and its physical slot is freed (and
    uncharged); the page tables keep the virtual entry."""
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, entry)
    if row < 0:
        return ENOENT
    d = row * vsize + (entry & (vsize - 1))
    ctx.counters[op, DESC_READ] += 1
    if not _d_incache(dst, d) or dst.desc[d, DW_CACHE] != folio + 1:
        return EBUSY
    if _d_type(dst, d) == T_SWAPFILE:
        _phys_free(dst, ctx, op, dst.desc[d, DW_BACKEND], 1)
        ctx.counters[op, MEMCG_UNCHARGE] += 1
        ctx.counters[op, DESC_WRITE] += 1
        dst.desc[d, DW_BACKEND] = 0
        _d_set_type(dst, d, T_FOLIO)
    return 0


@njit
def vs_unuse(dst, ctx, op, entry, folio):
    _rcu_tick(dst)
    r = _vs_unuse(dst, ctx, op, entry, folio)
    _mru_settle(dst, ctx, op)
    return r


@njit(inline="always")
def vs_ptes_hold_slots(dst):
    return False


verbs.register(
    VswapState,
    alloc=vs_alloc,
    dup=vs_dup,
    pte_batch=vs_pte_batch,
    put=vs_put,
    cache_lookup=vs_cache_lookup,
    cache_add=vs_cache_add,
    cache_del=vs_cache_del,
    cache_free=vs_cache_free,
    try_reclaim=vs_try_reclaim,
    writeout=vs_writeout,
    read_backend=vs_read_backend,
    ra_probe=vs_ra_probe,
    zswap_writeback=vs_zswap_writeback,
    reclaim_full=vs_reclaim_full,
    swap_count=vs_swap_count,
    metadata_bytes=vs_metadata_bytes,
    phys_slot_scan=vs_phys_slot_scan,
    phys_slot_reclaim=vs_phys_slot_reclaim,
    unuse_entry=vs_unuse_entry,
    unuse=vs_unuse,
    ptes_hold_slots=vs_ptes_hold_slots,
)

V6_DEFAULTS = {**{name: True for name in SWITCHES}, "lookup_cache_ways": 1}
V5 = _Variant(
    "vswap_v5",
    "virtual swap v5: 24-byte descriptors in 512-slot virtual clusters found through an "
    "XArray cluster map; lazy physical backing; rmap in the physical table; no fixes",
    {name: False for name in SWITCHES},
    layout_v6=False,
)


def variant(name: str, summary: str, **presets) -> _Variant:
    """A new design on vswap_v6's code with some options preset (their defaults in the
    new design), e.g. ``variant("vswap_v6_lc4", "v6, 4-way lookup cache",
    lookup_cache_ways=4)``; add it with ``from vswap_nb.designs import register;
    register(it)`` (``vswap_nb.designs`` itself is the function listing the names).
    It shares v6's compiled kernels."""
    defaults = dict(V6_DEFAULTS)
    for k, v in presets.items():
        if k not in defaults:
            raise ValueError(f"unknown vswap option {k}={v!r}; valid: {', '.join(defaults)}")
        defaults[k] = check_option(k, v)
    if not isinstance(summary, str):
        raise TypeError(f"summary must be a one-line description (str), got {summary!r}")
    return _Variant(name, summary, defaults, layout_v6=True)


V6 = _Variant(
    "vswap_v6",
    "v5 plus the fixes, each a switch: rmap cache-only bit, deferred cgroup check, "
    "per-CPU MRU cluster lookup cache, batched frees and writeout",
    V6_DEFAULTS,
    layout_v6=True,
)
