"""``vswap_v5`` and ``vswap_v6``: Nhat Pham's virtual swap space, v5 and v6 (on 6.19).

Facts (``reference/swap-designs.md`` sections 2.1-2.4, 3 and 4; vswap.c of the v6
series [S5], the v6 cover letter and patches 13 and 22 [S19-S21], Nhat's regression
analysis [S28]); every per-operation count below comes from the posted code as the
team's inventory (``vswap_inventory.md``, issue 16) established it, cited by its
source keys:

  V5c    mm/vswap.c of v5 patches 1-20 (intel-lab-lkp/linux 977bfed4)
  V5p21  "[PATCH v5 21/21] vswap: batch contiguous vswap free calls" (v5's free path)
  V6c    mm/vswap.c of v6 patches 1-21 (intel-lab-lkp/linux 03fb548d)
  V6p22  "[PATCH v6 22/22] vswap: cache cluster lookup"
  V5p14 / V6p14  "mm: swap: decouple virtual swap slot from backing store"
         (do_swap_page, swap_writeout, swap_read_folio, zswap, should_try_to_free_swap)
  V4p13 / V6p13  "swap: manage swap entry lifecycle at the virtual swap layer"
         (swapfile.c: swap_cache_only, __try_to_reclaim_swap, folio_free_swap of v5,
         __remove_mapping; v5's 13/21 taken as v4's text [I])
  P03    zswap writeback through tryget_swap_entry / put_swap_entry
  P10    __read_swap_cache_async and __remove_mapping on the descriptor's swap cache
  P16    "swap: do not unnecessarily pin readahead swap entries" (vswap_same_cluster)
  P18    "memcg: swap: only charge physical swap slots" (lookup_swap_cgroup_id in the
         v5 charge and uncharge)
  V6p20  "swapfile: replace the swap map with bitmaps" (cluster_scan_range)

Where 6.19 code outside the posted hunks is assumed, or a total is derived, it is
marked [I].

The design
----------
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
  cluster serves one order for its life; it is freed when its refcount reaches 0
  (call_rcu in v6, kvfree_rcu in v5; the grace period is not modelled, in this design
  as in every other: freed metadata returns at once, see ``core/metadata.py``).
* Backends: zero (type ZERO, no storage), zswap (the descriptor points at the entry; no
  zswap tree), a physical slot (allocated lazily at writeout when the page goes to disk,
  or at zswap writeback, through the shared physical allocator with a reverse map
  Pointer in the physical swap table), or the folio itself.  Only physical slots are
  charged to memcg swap.  The physical device keeps 2 bits per slot statically (the
  allocated and bad bitmaps) instead of ``swap_map``; no ``swap_cgroup``, no zeromap.

Counting conventions: a *lookup* is ``xa_load`` on the cluster map (``xa_lookup`` and
its node visits) or, with the lookup cache, a ``lookup_cache_hit`` / ``_miss``; a
*lock* is one ``cluster_lock`` (lock + unlock) of a vswap cluster, and the physical
cluster lock is a ``cluster_lock`` too.  Within one kernel call vswap_iter() keeps the
cluster it holds, so a call costs one lookup + lock per cluster it touches (V5c, V6c).

Switches
--------
``vswap_v6`` has all four on, ``vswap_v5`` all off; ``vswap_v6`` with all four off
counts exactly as ``vswap_v5`` but for the layout's allocations (v6 zeroes a 112-byte
cluster and vzallocs its descriptors, v5 kvzallocs one object: ``mem_zero_line``,
``vmalloc``, ``vfree``).

``rmap_cache_only_bit``  bit 63 of the reverse-map entry says "swap-cache only" (V6c,
    V6p13): the physical allocator's swap_cache_only() (the scan, V6p20
    cluster_scan_range, and __try_to_reclaim_swap's swap_only_has_cache()) reads the
    rmap word alone; without it every allocated slot asked costs the rmap word plus
    vswap_only_has_cache() (a lookup, the lock, a descriptor read; V4p13).  The bit is
    set when a count drops 1 -> 0 on a cached SWAPFILE entry (vswap_free_nr_any_
    cache_only) and cleared on dup (swap_duplicate_nr: one rmap write each).
    vswap_alloc_swap_slot() writes the plain value (vswap_rmap_set, V6c): a page whose
    count is already 0 when it gets a slot has no bit.
``defer_cgroup_check``   swap_pte_batch() on the free path reads PTEs only (V6p13,
    V6p14); without it each PTE of the batch costs lookup_swap_cgroup_id() (a lookup,
    the lock, a descriptor read) and the batch stops at a memcg change.
``cluster_lookup_cache`` V6p22, a per-CPU cache of the last cluster: vswap_iter(),
    swap_cache_lock(_irq), swap_cache_add_folio() read it before ``xa_load``; a hit
    skips ``xa_load``, the cluster lock is still taken.  A miss while another cluster is
    cached evicts it under its own lock (one more ``cluster_lock``, and its reference
    dropped), then caches the new one (with a reference).  folio_free_swap() (v6)
    reads the cache and a miss evicts, but it never caches; __vswap_remove_mapping()
    reads it only (the lock is held from swap_cache_lock_irq()).
    swap_cache_unlock(_irq) empties the cache on a hit; swap_cache_del_folio() (v6)
    always empties it; the end of an operation empties it of a cluster whose count is
    0 (vswap_iter_break and friends).  tryget_swap_entry() and put_swap_entry() never
    use it (always ``xa_load``).  [I: vswap_iter() caches a found cluster only when the
    slot's bit is set; the model caches it whenever the cluster is found.]
``lookup_cache_ways``    (an integer, not in the kernel: a what-if of the thread's
    "TLB-like" cache) how many clusters the per-CPU lookup cache holds, most recent
    first (1..16; v6 is 1).  Ignored without ``cluster_lookup_cache``.  The same rules
    apply to the way that holds the cluster: a hit at any way; a miss evicts (under
    its lock) the least recent way only when every way is in use; unlock and
    swap_cache_del_folio() empty the way holding the cluster.
``batch_ops``            every other v5 -> v6 difference the posted code shows: the free
    path's runs cut at memcg changes with the lock held and one uncharge per run
    (V5p21 vs V6c vswap_free_nr / release_backing); vswap_prepare_writeout;
    __vswap_remove_mapping; folio_free_swap with one lookup (vswap.c, V6c, instead of
    swapfile.c's, V4p13); swap_cache_del_folio without __swap_cache_del_folio and
    swap_cache_unlock_irq; allocation without vswap_cgroup_record and
    swap_cache_add_folio (V6c folio_alloc_swap); vswap_alloc_swap_slot without the
    cgroup-id lookup and the physical lock (P18 vs V6c); __swap_writepage without its
    two slot lookups and swap_read_folio's I/O helper without its second one (V6p14);
    zswap_store() without check_old (V6p14).  Nothing in v6 merges the swap-in cache
    add or reads the backend with one lookup: those count as in v5.

Verb by verb (v5 = batch_ops off, v6 = on; order-0 totals in the inventory's terms)
-----------------------------------------------------------------------------------
* alloc (folio_alloc_swap): both take the CPU's cluster (a lock, no lookup) and write
  nr descriptors; v5 then vswap_cgroup_record() (a lookup, the lock, nr writes) and
  swap_cache_add_folio() (a lookup, the lock, nr writes): v5 2 lookups / 3 locks, v6
  0 / 1 (V5c + P18, V6c).
* dup (swap_duplicate per PTE): a lookup, the lock, a read, a write; v6's rmap bit
  cleared on a count 0 -> 1 of a SWAPFILE entry (V5c, V6c).
* pte_batch: see ``defer_cgroup_check``.
* put (free_swap_and_cache_nr / swap_free_nr): vswap_free_nr_any_cache_only(), one
  lookup + lock per cluster (V5p21, V6c), a read and a write per entry; freed entries
  in runs cut at cluster boundaries and at entries that stay (v6 also at memcg
  changes).  Per run, vswap_free_nr(): v5 clears the shadows in a loop of its own (a
  read and a write each), v6 reads the run's memcg id once; release_backing() (a read
  and a write each; zswap entries freed; per contiguous physical run one physical lock
  per physical cluster, and v5 there drops and retakes the vswap lock (a lock) and
  uncharges through lookup_swap_cgroup_id() (a lookup, the lock, a read), P18; v6 one
  uncharge per run); __vswap_swap_cgroup_clear() (a write each; the memcg id
  references' put is not counted); bitmap_clear.  512 contiguous disk-backed PTEs in
  one cluster: v5 2 lookups, 3 vswap locks, 1 physical lock, 1 uncharge; v6 1, 1, 1, 1.
  Then, when some cached entry's count went 1 -> 0 and the caller reclaims
  (free_swap_and_cache_nr), a second pass over every entry, no TTRS gate (a mapped
  folio goes too): v5 vswap_only_has_cache(entry, 1) per entry (a lookup, the lock, a
  read), then for a cache-only one swap_cache_get_folio() and v5's folio_free_swap()
  (~7 lookups, 5 locks per folio); v6 vswap_get_swap_cache(entry, true) per entry,
  then folio_free_swap() (2 lookups, 2 locks per folio) (V5c, V6c).  The fault's put
  (op swapin, no cache reclaim) also pays put_swap_entry() of the fault's
  tryget_swap_entry(): ``xa_load`` + the lock (V5p14/V6p14, V6p22).
* cache_lookup: swap_cache_get_folio() (a lookup, the lock, a read).  The fault's
  (op swapin) starts with tryget_swap_entry(): ``xa_load`` (no lock; never through the
  lookup cache) and swp_entry_to_swp_slot() (a lookup, the lock, a read) (V5p14/V6p14,
  V6c).  On a cache hit too.
* ra_probe: the synchronous path only when tryget_swap_entry() found a swap device (a
  SWAPFILE entry; that lookup was counted with the fault's cache_lookup), the device
  is SWP_SYNCHRONOUS_IO and __swap_count() (a lookup, the lock, a read) is 1
  (V5p14/V6p14 do_swap_page, 6.19 context [I]).  Zero, zswap and folio entries, and
  shared ones, read ahead.
* cache_add: the fault's own page (op swapin) on the synchronous path: the charge's
  lookup_swap_cgroup_id(), swapcache_prepare() (in_swapcache written),
  vswap_can_swapin_thp() and swap_cache_get_shadow(): 4 lookups, 4 locks, one charge,
  and no swap-cache insert: the folio is recorded against the descriptor (uncounted)
  and marked ``FOLIO_SYNC_BYPASS``.  Otherwise __read_swap_cache_async() (P10, V6p13):
  swap_cache_get_folio(), swap_entry_swapped(), swapcache_prepare(),
  vswap_folio_backed(), the charge's lookup_swap_cgroup_id(), swap_cache_add_folio():
  6 lookups, 6 locks.  The same in v5 and v6.
* read_backend (swap_read_folio): swap_zeromap_batch() (1 lookup: zero is done); when
  zswap was ever enabled (``ctx.meta[C_ZSWAP_ENABLED]``, set by a zswap store)
  zswap_entry_load(), and a hit vswap_store_folio() (zswap 3 lookups);
  swp_entry_to_swp_slot(), and v5's I/O helper (swap_folio_sector /
  swap_read_folio_fs) looks the slot up again: disk v5 4 (3 without zswap), v6 3 (2)
  (V5p14, V6p14).
* free_after_fault: a synchronous-path folio is released (swapcache_clear through
  cache_free).  Otherwise should_try_to_free_swap() with V5p14/V6p14's test: swap full
  frees; vswap_swapfile_backed() (a lookup, the lock, nr reads) frees anything not
  backed by contiguous physical slots; a physical one only on a write fault.  6.19 has
  no SWP_SYNCHRONOUS_IO rule here.
* cache_free: folio_free_swap(): v5 (swapfile.c, V4p13) folio_swapped() (a lookup, the
  lock, the counts) then swap_cache_del_folio() (swap_cache_lock_irq,
  __swap_cache_del_folio, swap_cache_unlock_irq: 3 lookups, a lock; put_swap_folio ->
  swapcache_clear: a lookup, the lock): 5 lookups, 3 locks, plus a lookup and 2 locks
  per physical run it frees; v6 (vswap.c, V6c) 1 lookup, 1 lock.  A
  ``FOLIO_SYNC_BYPASS`` folio: swapcache_clear() (a lookup, the lock, then the run
  freed as in put).  One synchronous-path fault on zram (page on the device, zswap
  never enabled), cache_lookup to cache_free: v5 15 lookups, 15 vswap locks, 1
  physical lock (the free's physical run accounts for a lookup and 2 of the locks);
  v6 13 lookups, 12 vswap locks, 1 physical lock [I: totals].
* writeout (swap_writeout, V5p14/V6p14): folio_free_swap() first (v5 folio_swapped: a
  lookup, the lock; v6 a lookup + lock); zero: swap_zeromap_folio_set() (a lookup, the
  lock, release_backing, nr writes): 2 lookups in both.  Otherwise v5
  vswap_swapfile_backed() (a lookup) and, unless contiguous physical slots back the
  folio, vswap_store_folio() (a lookup); v6 vswap_prepare_writeout() (one lookup).
  zswap: zswap_entry_store() per page (a lookup): v5 4, v6 3.  Disk: v5 zswap_store()'s
  check_old (vswap_swapfile_backed, vswap_store_folio), vswap_alloc_swap_slot() (v5:
  vswap_swapfile_backed, swap_slot_alloc, mem_cgroup_try_charge_swap with
  lookup_swap_cgroup_id, the physical lock around vswap_rmap_set, a vswap_iter for the
  store; v6: one vswap_iter, the charge with the memcg known, vswap_rmap_set with no
  physical lock, the same cluster locked again), v5's __swap_writepage()
  (swp_entry_to_swp_slot, swap_folio_sector): v5 10 lookups, 10 locks + 1 physical
  lock; v6 3 lookups, 4 locks (both + the physical allocator's own cluster lock).
* cache_del (__remove_mapping): v5 swap_cache_lock_irq, __swap_cache_del_folio,
  swap_cache_unlock_irq, put_swap_folio -> swapcache_clear: 4 lookups, 2 locks
  (memcg1_swapout's lookup is cgroup v1 only, not counted); v6 swap_cache_lock_irq and
  __vswap_remove_mapping: 2 lookups, 1 lock (V6p13, P10, V6c).
* zswap_writeback (zswap_writeback_entry, P03, V5p14, V6p14): tryget_swap_entry()
  (``xa_load`` + swp_entry_to_swp_slot), __read_swap_cache_async() (6 lookups),
  put_swap_entry(), zswap_entry_load() to verify, vswap_alloc_swap_slot(),
  zswap_entry_free(), v5's __swap_writepage() (2 lookups): v5 ~15 lookups, 14 locks +
  1 physical lock; v6 ~11, 11 [I: totals].  The kernel leaves the folio in the swap
  cache (folio_set_reclaim) for a later __remove_mapping(); the mm drops it at once,
  so this verb does that __remove_mapping() itself, charged to the cache_del row (v5 4
  lookups, v6 2).  A failed verify or allocation deletes the folio
  (swap_cache_del_folio).
* phys_slot_scan (the allocator's swap_cache_only, V6p20 cluster_scan_range): see
  ``rmap_cache_only_bit``.
* phys_slot_reclaim / try_reclaim (__try_to_reclaim_swap, V4p13/V6p13):
  swap_cache_get_folio() (a lookup, the lock), the TTRS flags, swp_entry_to_swp_slot(
  folio->swap) (a lookup, the lock; folio_matches_swap_slot() not counted [I]), the
  physical lock, swap_only_has_cache() per page (the rmap word; without the rmap bit
  also vswap_only_has_cache: a lookup, the lock, a read), swap_cache_del_folio() (v5
  4 lookups / 2 locks, v6 2 / 2): order 0, v5 7 lookups, v6 4 (the inventory's ~8 for
  v5 counts the scan's own lookup of the slot as well).
* unuse (swapoff) repoints each physically backed entry at its swap-cache folio [S16,
  S23]: no page-table walk (not part of the inventory; counted as before).

Left out, and why
-----------------
* The readahead window's tryget_swap_entry() / put_swap_entry() pair (3 lookups, 2
  locks) for each window entry outside the target's cluster (P16, inventory row 9):
  cache_lookup(op readahead) is not told the fault's entry, so the verb cannot tell a
  window entry's cluster from the target's without engine changes or state carried
  between verbs.
* A window page costs the engine's cache_lookup(op readahead) and then cache_add's own
  swap_cache_get_folio(): one lookup more than __read_swap_cache_async() does [I: the
  engine's split of the window step, not changed here].
* Large (mTHP) swap-in's per-range helpers (swap_pte_batch with vswap_cgroup_batch and
  vswap_can_swapin_thp for non-free callers), cgroup v1 (memcg1_swapout,
  __swap_cgroup_record), zswap_store's partial-store path and a failed zswap writeback
  write (zswap_entry_store back): not driven by the mm.
* shmem, multiple physical devices, races, folio_trylock failures, CPU hotplug.

Also inferred [I]: the refcount model (allocated slots + one per CPU cache or lookup
cache holding the cluster; tryget/put references are not kept, they cancel); v5's
cluster object being a 16 KiB slab object (12392 B rounded).  Allocation by size: v5's
kvzalloc of that object is one slab call that zeroes its 12392 bytes (194 lines); v6's
kmem_cache_zalloc of the 112-byte cluster (2 lines) plus a vzalloc of the 512 x 24-byte
descriptors (one vmalloc, 192 lines), and at the free a vfree beside the kmem_cache_free.
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
    MEM_ZERO_LINE,
    MEMCG_CHARGE,
    MEMCG_UNCHARGE,
    OP_ALLOC,
    OP_CACHE_DEL,
    OP_RECLAIM_SCAN,
    OP_SWAPIN,
    RMAP_READ,
    RMAP_WRITE,
    SI_LOCK,
    SLOT_FREE_NOTIFY,
    VFREE,
    VMALLOC,
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
    try_to_reclaim_wanted,
)
from ..core.invariants import check_rmap, fail
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
    C_ZSWAP_ENABLED,
    EBUSY,
    EEXIST,
    ENOENT,
    ENOMEM,
    F_FLAGS,
    F_ORDER,
    F_SWAP,
    FOLIO_SYNC_BYPASS,
    RA_READAHEAD,
    RA_SYNC,
    SLOT_BUSY,
    SLOT_CACHE_ONLY,
    SLOT_FREE,
    TTRS_ANYWAY,
    folio_add_swap,
)
from .base import Design

SWITCHES = ("rmap_cache_only_bit", "defer_cgroup_check", "cluster_lookup_cache", "batch_ops")
SETTINGS = ("lookup_cache_ways",)  # integer options (a switch is True/False)

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

# pool rows (pool[k, :]): free-id min-heap, free-row stack
PL_IDS = 0
PL_ROWS = 1

# meta words
V_RMAP_BIT = 0
V_DEFER_CG = 1
V_LOOKUP_CACHE = 2
V_BATCH = 3
V_LAYOUT_V6 = 4
V_NEXT_ID = 5
V_HEAP_N = 6
V_ROWS_FREE_N = 7
V_LIVE_ROWS = 8
V_ZSWAP_ENTRIES = 9
V_VSHIFT = 10  # log2 of the virtual cluster size
V_NROWS = 11
V_NEXT_ZSWAP = 12  # zswap entries stored so far (their ids)
V_V5_OBJECT = 13  # v5: bytes of the slab object holding a cluster with its descriptors
V_LC_WAYS = 14  # ways of the per-CPU lookup cache (v6: 1)
V_CLUSTER_ZERO = 15  # 64-byte lines a new cluster's zeroing allocations clear
V_PARTIAL = 16  # + 2 * order: head, tail of partial[order]
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
pool   int64[2, rows+1]   free-id heap, free-row stack
meta   int64[N_VMETA]     switches, counts, partial list heads
"""


def _new_state_v5(nslots, **kw):
    for k in kw:
        if k in SWITCHES or k in SETTINGS:
            raise ValueError(
                f"vswap_v5 has no switch {k!r} (v5 has none of the fixes); "
                f"use vswap_v6 with {k}=False/True to ablate"
            )
    return new_state(nslots, layout_v6=False, **kw)  # every switch off: new_state's defaults


def _new_state_v6(nslots, **kw):
    return new_state(nslots, layout_v6=True, **{**V6_DEFAULTS, **kw})


def _entry_space(dst) -> int:
    """Entry values run up to the virtual cluster rows' reach (not the device's)."""
    return int(dst.meta[V_NROWS]) << int(dst.meta[V_VSHIFT])


def _check_state(design, dst, counts):
    """Each live virtual cluster's count equals the allocated slots in its bitmap
    (cluster 0's slots reserved with entry 0 included); a SWAPFILE descriptor points at a
    physical slot whose reverse map points back at the descriptor's entry, and every
    reverse-map word of the physical device points at such a descriptor."""
    vshift = int(dst.meta[V_VSHIFT])
    vsize = 1 << vshift
    live = np.flatnonzero(dst.vc[:, VC_FLAGS] & VF_LIVE)
    bits = np.unpackbits(dst.vbits[live].view(np.uint8), axis=1, bitorder="little")[:, :vsize].sum(axis=1)
    wrong = np.flatnonzero(bits != dst.vc[live, VC_COUNT])
    if wrong.size:
        row = int(live[wrong[0]])
        fail(design, "vc", row, f"count {int(dst.vc[row, VC_COUNT])}, {int(bits[wrong[0]])} slots allocated in "
             f"its bitmap (cluster id {int(dst.vc[row, VC_ID])})")
    # forward map (descriptor -> physical slot) against the reverse map (slot -> entry)
    ids = dst.vc[live, VC_ID]
    row_of = np.full(int(ids.max(initial=0)) + 2, -1, dtype=np.int64)
    row_of[ids] = live
    ents = np.flatnonzero(counts >= 0)
    cid = ents >> vshift
    rows = np.where(cid < row_of.shape[0], row_of[np.minimum(cid, row_of.shape[0] - 1)], -1)
    if (rows < 0).any():
        e = int(ents[np.flatnonzero(rows < 0)[0]])
        fail(design, "cmap", f"cluster {e >> vshift}", f"entry {e} is allocated but its cluster is not live")
    d = rows * vsize + (ents & (vsize - 1))
    sw = np.flatnonzero(((dst.desc[d, DW_META] >> TYPE_SHIFT) & 3) == T_SWAPFILE)
    check_rmap(design, "dev.table", dst.dev.table, "desc", d[sw], ents[sw], dst.desc[d[sw], DW_BACKEND],
               "entry", "descriptor")


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
    cluster_size: int = 512,
    zswap_enabled: bool = False,
    virtual_slots: int | None = None,
    virtual_cluster_size: int = 512,
    rmap_cache_only_bit: bool = False,
    defer_cgroup_check: bool = False,
    cluster_lookup_cache: bool = False,
    batch_ops: bool = False,
    lookup_cache_ways: int = 1,
    layout_v6: bool = False,
    **device,
) -> VswapState:
    """A virtual swap design over a fresh physical device of ``nslots`` slots, with room
    for ``virtual_slots`` virtual entries (default: twice the device, plus a cluster per
    CPU and order for partly used clusters).  ``device``: the physical device's keywords
    of :func:`~vswap_nb.core.device.new_device` (ncpu, solidstate, discard, blkdev,
    synchronous, free_notify)."""
    ncpu = int(device.get("ncpu", 1))
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
    # the physical table holds the reverse map (a zeroed page per cluster at 512 slots)
    dev = new_device(nslots, cluster_size=cluster_size, table_sizes=(8 * cluster_size,), kernel=KERNEL_619, **device)
    vsize = int(virtual_cluster_size)
    vshift = vsize.bit_length() - 1
    if virtual_slots is None:
        virtual_slots = 2 * int(nslots)
    rows = -(-int(virtual_slots) // vsize) + ncpu * N_ORDERS + 2
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
    if layout_v6:  # kmem_cache_zalloc of the cluster, vzalloc of the descriptors
        meta[V_CLUSTER_ZERO] = -(-md.VSWAP_CLUSTER_V6_BYTES // 64) + -(-vsize * md.SWP_DESC_BYTES // 64)
    else:  # kvzalloc of the cluster with its descriptors (the requested size is zeroed)
        meta[V_CLUSTER_ZERO] = -(-md.vswap_cluster_v5_bytes(vsize) // 64)
    meta[V_PARTIAL:] = -1
    pool = np.zeros((2, rows + 1), dtype=np.int64)
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


# --------------------------------------------------------------------------- clusters

# How a cluster lookup uses the per-CPU lookup cache (cluster_lookup_cache, V6p22)
LK_ITER = 0  # vswap_iter(), swap_cache_lock(_irq), swap_cache_add_folio: evict, insert
LK_NOINSERT = 1  # folio_free_swap(): evict on a miss, never insert
LK_PEEK = 2  # __vswap_remove_mapping() (and v5's __swap_cache_del_folio [I]): read only
LK_UNLOCK = 3  # swap_cache_unlock(_irq): a hit empties the way that holds the cluster


@njit
def _lookup(dst, ctx, op, cid, mode):
    """A cluster lookup: the lookup cache (cluster_lookup_cache), else ``xa_load``.
    Returns the row or -1.

    The cache is the CPU's ``meta[V_LC_WAYS]`` most recently used clusters, most recent
    first (v6 +22: one).  A hit skips ``xa_load`` and moves the cluster to the front
    (``LK_UNLOCK``: swap_cache_unlock() clears it from the cache instead).  A miss loads
    the map; then (``LK_ITER``, ``LK_NOINSERT``) when every way is in use (one way: a
    cluster is cached) the least recent one is evicted under its own lock, a
    ``cluster_lock`` (V6p22 vswap_iter(): ``spin_lock(&cached->lock);
    try_to_clear_local_vswap_iter_cache(cached)``), and (``LK_ITER`` only) a found
    cluster goes to the front with a reference (try_to_cache_local_vswap_iter_cache).
    ``LK_PEEK`` and ``LK_UNLOCK`` misses change nothing."""
    if dst.meta[V_LOOKUP_CACHE]:
        cpu = ctx.meta[C_CPU]
        ways = dst.meta[V_LC_WAYS]
        for w in range(ways):
            if dst.vpcpu[cpu, P_MRU_ID + 2 * w] == cid:
                ctx.counters[op, LOOKUP_CACHE_HIT] += 1
                row = dst.vpcpu[cpu, P_MRU_ROW + 2 * w]
                if mode == LK_UNLOCK:
                    _lc_remove(dst, cpu, w, ways)
                    _put_ref(dst, ctx, op, row, 1)
                else:
                    _lc_push_front(dst, cpu, w, cid, row)
                return row
        ctx.counters[op, LOOKUP_CACHE_MISS] += 1
        row = xa_load_counted(dst.cmap, 0, cid, ctx.counters, op)
        if mode == LK_ITER or mode == LK_NOINSERT:
            old = dst.vpcpu[cpu, P_MRU_ROW + 2 * (ways - 1)]
            if old >= 0:
                ctx.counters[op, CLUSTER_LOCK] += 1  # the evicted cluster's lock
                _lc_remove(dst, cpu, ways - 1, ways)
                _put_ref(dst, ctx, op, old, 1)
            if mode == LK_ITER and row >= 0:
                _lc_push_front(dst, cpu, ways - 1, cid, row)
                dst.vc[row, VC_REF] += 1
        return row
    return xa_load_counted(dst.cmap, 0, cid, ctx.counters, op)


@njit(inline="always")
def _lc_push_front(dst, cpu, w, cid, row):
    """Put (cid, row) in way 0 of the CPU's lookup cache, moving ways 0..w-1 one down
    (way ``w`` is overwritten: the hit's old place, or a free last way)."""
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
    """vswap_iter() (also swap_cache_lock(_irq), swap_cache_add_folio): find and lock
    the cluster of ``entry``; returns its row (or -1)."""
    row = _lookup(dst, ctx, op, entry >> _vshift(dst), LK_ITER)
    if row >= 0:
        ctx.counters[op, CLUSTER_LOCK] += 1
    return row


@njit
def _lookup_peek(dst, ctx, op, entry):
    """A lookup under a lock already held (__vswap_remove_mapping, v5's
    __swap_cache_del_folio): the cache is read, nothing more."""
    return _lookup(dst, ctx, op, entry >> _vshift(dst), LK_PEEK)


@njit
def _cache_unlock(dst, ctx, op, entry):
    """swap_cache_unlock(_irq): a lookup to find the lock to drop; a lookup-cache hit
    empties that way (V6p22)."""
    return _lookup(dst, ctx, op, entry >> _vshift(dst), LK_UNLOCK)


@njit
def _lc_drop(dst, ctx, op, entry):
    """try_to_clear_local_vswap_iter_cache() under the cluster lock (v6
    swap_cache_del_folio: always): the way holding the cluster is emptied."""
    if dst.meta[V_LOOKUP_CACHE] == 0:
        return
    cid = entry >> _vshift(dst)
    cpu = ctx.meta[C_CPU]
    ways = dst.meta[V_LC_WAYS]
    for w in range(ways):
        if dst.vpcpu[cpu, P_MRU_ID + 2 * w] == cid:
            row = dst.vpcpu[cpu, P_MRU_ROW + 2 * w]
            _lc_remove(dst, cpu, w, ways)
            _put_ref(dst, ctx, op, row, 1)
            return


@njit
def _tryget(dst, ctx, op, entry):
    """tryget_swap_entry()'s ``xa_load`` (a cluster reference, no lock; never through
    the lookup cache, V6p22): the row or -1."""
    return xa_load_counted(dst.cmap, 0, entry >> _vshift(dst), ctx.counters, op)


@njit
def _put_swap_entry(dst, ctx, op, entry):
    """put_swap_entry(): ``xa_load`` + the cluster lock to drop the reference (never
    through the lookup cache)."""
    row = xa_load_counted(dst.cmap, 0, entry >> _vshift(dst), ctx.counters, op)
    if row >= 0:
        ctx.counters[op, CLUSTER_LOCK] += 1


@njit
def _mru_settle(dst, ctx, op):
    """End of an operation: the lookup cache drops the clusters that are now empty
    (most recent first; vswap_iter_break() and friends, V6p22)."""
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
    """refcount_sub(); at 0 the cluster leaves the map and its memory is freed (the RCU
    grace period is not modelled)."""
    dst.vc[row, VC_REF] -= n
    if dst.vc[row, VC_REF] > 0:
        return
    if dst.vc[row, VC_FLAGS] & VF_PARTIAL:
        ctx.counters[op, SI_LOCK] += 1
        _partial_del(dst, ctx, op, row)
    cid = dst.vc[row, VC_ID]
    xa_erase_counted(dst.cmap, 0, cid, ctx.counters, op)
    _heap_push(dst, cid)
    ctx.counters[op, MEM_FREE] += 1  # v6 call_rcu -> kmem_cache_free, v5 kvfree_rcu
    if dst.meta[V_LAYOUT_V6]:
        ctx.counters[op, VFREE] += 1  # the descriptors' vfree in the RCU callback
    dst.vc[row, VC_FLAGS] = 0
    dst.vbits[row, :] = 0
    dst.pool[PL_ROWS, dst.meta[V_ROWS_FREE_N]] = row
    dst.meta[V_ROWS_FREE_N] += 1
    dst.meta[V_LIVE_ROWS] -= 1


@njit
def _new_cluster(dst, ctx, op, order):
    """v6: kmem_cache_zalloc of the cluster + vzalloc of the descriptors; v5: kvzalloc of
    the cluster with its descriptors; then xa_alloc: the new row."""
    if dst.meta[V_ROWS_FREE_N] == 0:
        return -1
    dst.meta[V_ROWS_FREE_N] -= 1
    row = dst.pool[PL_ROWS, dst.meta[V_ROWS_FREE_N]]
    dst.meta[V_LIVE_ROWS] += 1
    ctx.counters[op, MEM_ALLOC] += 1
    ctx.counters[op, MEM_ZERO_LINE] += dst.meta[V_CLUSTER_ZERO]
    if dst.meta[V_LAYOUT_V6]:
        ctx.counters[op, VMALLOC] += 1  # the descriptors' vzalloc
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
def _phys_run_free(dst, ctx, op, row, start, n):
    """release_backing()'s swap_slot_free_nr() of one contiguous physical run: a
    physical cluster lock per physical cluster it spans.  v5 (V5p21 release_backing,
    P18): the vswap cluster lock is dropped around it and taken again (a
    ``cluster_lock``), and mem_cgroup_uncharge_swap(entry, n) finds the memcg again
    through lookup_swap_cgroup_id() (a lookup, the lock, a descriptor read), then
    uncharges.  v6 uncharges once per release_backing() call instead (the caller)."""
    shift = dst.dev.meta[D_CLUSTER_SHIFT]
    s = start
    end = start + n
    while s < end:
        cend = min(((s >> shift) + 1) << shift, end)
        _phys_free(dst, ctx, op, s, cend - s)
        s = cend
    if dst.meta[V_BATCH] == 0:
        _lookup_lock(dst, ctx, op, dst.vc[row, VC_ID] << _vshift(dst))  # lookup_swap_cgroup_id
        ctx.counters[op, DESC_READ] += 1
        ctx.counters[op, MEMCG_UNCHARGE] += 1
        ctx.counters[op, CLUSTER_LOCK] += 1  # spin_lock() again


@njit
def _release_old(dst, ctx, op, row, i0, nr):
    """release_backing() of live descriptors [i0, i0 + nr) whose data now lives
    elsewhere (vswap_store_folio, vswap_prepare_writeout, swap_zeromap_folio_set,
    zswap_entry_store; V5c/V6c): zswap entries freed, physical slots released per
    contiguous run (:func:`_phys_run_free`), v6 one uncharge for the call when it
    released physical slots; the descriptors become FOLIO-backed (their reads and
    writes are counted by the caller)."""
    nphys = _release_backends(dst, ctx, op, row, i0, nr, False)
    if dst.meta[V_BATCH] and nphys > 0:
        ctx.counters[op, MEMCG_UNCHARGE] += 1


@njit
def _release_backends(dst, ctx, op, row, i0, nr, free_descs):
    """release_backing()'s loop over descriptors [i0, i0 + nr) of cluster ``row``: zswap
    entries freed, physical slots released per contiguous run (:func:`_phys_run_free`).
    ``free_descs``: the descriptors are being freed (each read and cleared here,
    counted); else they stay live and become FOLIO-backed (their reads and writes are
    the caller's).  Returns how many held a physical slot."""
    base = row * (np.int64(1) << _vshift(dst))
    pstart = -1
    plen = 0
    nphys = 0
    for i in range(i0, i0 + nr):
        d = base + i
        if free_descs:
            ctx.counters[op, DESC_READ] += 1
        typ = _d_type(dst, d)
        if typ == T_SWAPFILE:
            p = dst.desc[d, DW_BACKEND]
            nphys += 1
            if pstart >= 0 and p == pstart + plen:
                plen += 1
            else:
                if pstart >= 0:
                    _phys_run_free(dst, ctx, op, row, pstart, plen)
                pstart = p
                plen = 1
        else:
            if pstart >= 0:  # another backend ends the physical run
                _phys_run_free(dst, ctx, op, row, pstart, plen)
                pstart = -1
            if typ == T_ZSWAP:
                ctx.counters[op, MEM_FREE] += 1  # zswap_entry_free()
                dst.meta[V_ZSWAP_ENTRIES] -= 1
        if free_descs:
            ctx.counters[op, DESC_WRITE] += 1
            dst.desc[d, DW_BACKEND] = 0
            dst.desc[d, DW_CACHE] = 0
            dst.desc[d, DW_META] = 0
        elif typ != T_FOLIO:
            dst.desc[d, DW_BACKEND] = 0
            _d_set_type(dst, d, T_FOLIO)
    if pstart >= 0:
        _phys_run_free(dst, ctx, op, row, pstart, plen)
    return nphys


@njit
def _release_backing(dst, ctx, op, row, idx, n):
    """vswap_free_nr() of descriptors [idx, idx + n) of one cluster whose count and
    cache pin are gone (one run).

    v5 (V5p21): a loop clearing the shadows (a descriptor read and write each), then
    release_backing(); v6 (V6c): the run's memcg id read once (the shadows were cleared
    in the caller's pass).  release_backing(): each descriptor read and its backend
    cleared (a write), zswap entries freed, physical slots per contiguous run
    (:func:`_phys_run_free`; v5 uncharges there), v6 one uncharge for the run when it
    held physical slots; __vswap_swap_cgroup_clear(): a descriptor write each (the
    memcg id reference drop, mem_cgroup_id_put_many, is not counted);
    release_vswap_slot_nr(): bitmap_clear, refcount_sub, the partial list."""
    vsize = np.int64(1) << _vshift(dst)
    batch = dst.meta[V_BATCH] != 0
    if batch:
        ctx.counters[op, DESC_READ] += 1  # swp_desc_memcgid() of the run
    else:
        ctx.counters[op, DESC_READ] += n  # the shadow-clearing loop
        ctx.counters[op, DESC_WRITE] += n
    nphys = _release_backends(dst, ctx, op, row, idx, n, True)
    if batch and nphys > 0:
        ctx.counters[op, MEMCG_UNCHARGE] += 1
    ctx.counters[op, DESC_WRITE] += n  # __vswap_swap_cgroup_clear()
    # release_vswap_slot_nr(): bitmap_clear + refcount_sub
    for i in range(idx, idx + n):
        _bit_set(dst, row, i, False)
    ctx.counters[op, BITMAP_OP] += 1
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
def _rmap_mark(dst, ctx, op, d, on):
    """The reverse map's cache-only bit (rmap_cache_only_bit switch)."""
    if dst.meta[V_RMAP_BIT] == 0 or _d_type(dst, d) != T_SWAPFILE:
        return
    p = dst.desc[d, DW_BACKEND]
    ctx.counters[op, RMAP_WRITE] += 1
    dst.dev.table[p] = swp_tb.tb_mk_pointer(swp_tb.tb_pointer_offset(dst.dev.table[p]), on)


@njit
def _backing(dst, base, i0, nr):
    """vswap_check_backing() on state alone (the caller counts the reads): the first
    descriptor's type, and whether all ``nr`` share it (SWAPFILE: contiguous slots)."""
    t0 = _d_type(dst, base + i0)
    p0 = dst.desc[base + i0, DW_BACKEND]
    for k in range(1, nr):
        d = base + i0 + k
        if _d_type(dst, d) != t0:
            return t0, False
        if t0 == T_SWAPFILE and dst.desc[d, DW_BACKEND] != p0 + k:
            return t0, False
    return t0, True


@njit
def _alloc_swap_slot(dst, ctx, op, entry, nr):
    """vswap_alloc_swap_slot(): the folio's physical slot, allocated now unless it has
    one; the first slot or -ENOMEM.

    v5 (V5c, P18): vswap_swapfile_backed() (a lookup, nr descriptor reads; backed:
    done), swap_slot_alloc(), mem_cgroup_try_charge_swap(folio, entry) with
    lookup_swap_cgroup_id() (a lookup, a descriptor read) and the charge,
    swap_cluster_lock() (a physical ``cluster_lock``) around vswap_rmap_set(), then a
    vswap_iter() (a lookup) for the nr descriptor writes.  v6 (V6c): one vswap_iter()
    (a lookup, the first descriptor: SWAPFILE means done), unlock, swap_slot_alloc(),
    the charge with the memcg already known, vswap_rmap_set() without the physical
    lock, the same cluster locked again (a ``cluster_lock``, no lookup), the writes.
    vswap_rmap_set() writes the plain entry value: no cache-only bit, even for a page
    whose count is already 0 (V6c; 6.19's allocator then sees it as busy)."""
    vsize = np.int64(1) << _vshift(dst)
    batch = dst.meta[V_BATCH] != 0
    i0 = entry & (vsize - 1)
    row = _lookup_lock(dst, ctx, op, entry)
    base = row * vsize
    t0, same = _backing(dst, base, i0, nr)
    if batch:
        ctx.counters[op, DESC_READ] += 1
        backed = t0 == T_SWAPFILE
    else:
        ctx.counters[op, DESC_READ] += nr
        backed = t0 == T_SWAPFILE and same
    if backed:
        return dst.desc[base + i0, DW_BACKEND]
    cpu = ctx.meta[C_CPU]
    order = 0
    while (1 << order) < nr:
        order += 1
    p = dev_alloc(dst.dev, dst, ctx, op, cpu, order)
    if p == 0:
        return ENOMEM
    if not batch:
        _lookup_lock(dst, ctx, op, entry)  # lookup_swap_cgroup_id() for the charge
        ctx.counters[op, DESC_READ] += 1
    ctx.counters[op, MEMCG_CHARGE] += 1
    if not batch:
        ctx.counters[op, CLUSTER_LOCK] += 1  # swap_cluster_lock() around vswap_rmap_set()
    for i in range(nr):
        ctx.counters[op, RMAP_WRITE] += 1
        dst.dev.table[p + i] = swp_tb.tb_mk_pointer(entry + i, False)
        ctx.counters[op, MAP_WRITE] += 1  # the allocated bitmap
    dev_deferred_work(dst.dev, dst, ctx)
    if batch:
        ctx.counters[op, CLUSTER_LOCK] += 1  # the same cluster locked again
    else:
        _lookup_lock(dst, ctx, op, entry)  # vswap_iter() for the store
    for i in range(i0, i0 + nr):
        ctx.counters[op, DESC_WRITE] += 1
        dst.desc[base + i, DW_BACKEND] = p + (i - i0)
        _d_set_type(dst, base + i, T_SWAPFILE)
    return p


# --------------------------------------------------------------------------- verbs


@njit
def vs_alloc(dst, ctx, cpu, order, folio, memcg):
    """folio_alloc_swap().  Both versions: the CPU's cluster for the order (a lock, no
    lookup), the bitmap, nr descriptor writes.  v5 then records the memcg
    (mem_cgroup_record_swap -> vswap_cgroup_record: a lookup, the lock, nr descriptor
    writes; the first pass wrote memcg id 0) and adds the folio to the swap cache
    (swap_cache_add_folio: a lookup, the lock, nr writes) [V5c, P18]; v6 writes the
    memcg id and the swap-cache fields in the first pass and calls neither [V6c]."""
    op = OP_ALLOC
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
    if dst.meta[V_BATCH] == 0:
        _lookup_lock(dst, ctx, op, entry)  # vswap_cgroup_record()
        ctx.counters[op, DESC_WRITE] += nr
        _lookup_lock(dst, ctx, op, entry)  # swap_cache_add_folio()
        ctx.counters[op, DESC_WRITE] += nr
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
    """The free path, vswap_free_nr_any_cache_only() (V5p21, V6c): one lookup + lock per
    cluster touched, each entry's count read and written; entries reaching 0 outside
    the swap cache are freed in runs (cut at cluster boundaries and at entries that
    stay; v6 also at memcg changes), each run by :func:`_release_backing`.  Cached
    entries whose count reaches 0 become cache-only (v6 marks the rmap bit) and, with
    ``reclaim_cache`` (free_swap_and_cache_nr), are reclaimed by a second pass
    (:func:`_free_cache_only`).  The fault's put (op swapin, no cache reclaim) also
    pays put_swap_entry() of the fault's tryget_swap_entry()."""
    vsize = np.int64(1) << _vshift(dst)
    batch = dst.meta[V_BATCH] != 0
    if op == OP_SWAPIN and not reclaim_cache:
        _put_swap_entry(dst, ctx, op, entry)
    freed = 0
    any_cache_only = False
    off = entry
    end = entry + nr
    while off < end:
        cend = min(((off >> _vshift(dst)) + 1) << _vshift(dst), end)
        row = _lookup_lock(dst, ctx, op, off)
        run = -1
        run_memcg = -1
        for e in range(off, cend):
            i = e & (vsize - 1)
            d = row * vsize + i
            ctx.counters[op, DESC_READ] += 1
            c = _d_count(dst, d) - 1
            ctx.counters[op, DESC_WRITE] += 1
            _d_set_count(dst, d, c)
            m = _d_memcg(dst, d)
            if c == 0 and not _d_incache(dst, d):
                if run >= 0 and batch and m != run_memcg:
                    _release_backing(dst, ctx, op, row, run, i - run)
                    run = -1
                if run < 0:
                    run = i
                    run_memcg = m
                freed += 1
            else:
                if run >= 0:
                    _release_backing(dst, ctx, op, row, run, i - run)
                    run = -1
                if c == 0:
                    _rmap_mark(dst, ctx, op, d, True)
                    any_cache_only = True
        if run >= 0:
            _release_backing(dst, ctx, op, row, run, ((cend - 1) & (vsize - 1)) + 1 - run)
        off = cend
    if any_cache_only and reclaim_cache:
        _free_cache_only(dst, ctx, op, entry, end)
    _mru_settle(dst, ctx, op)
    return freed


@njit
def _free_cache_only(dst, ctx, op, entry, end):
    """free_swap_and_cache_nr()'s second pass over every entry of the range, stepping
    over a folio it finds; no TTRS_UNMAPPED | TTRS_FULL test (a mapped folio goes too).
    v5 (V5c, V4p13): vswap_only_has_cache(entry, 1) (a lookup, the lock, a descriptor
    read), then for a cache-only entry swap_cache_get_folio() (the same again) and
    v5's folio_free_swap(); v6 (V6c): vswap_get_swap_cache(entry, true) (a lookup, the
    lock, a descriptor read) then v6's folio_free_swap() (:func:`_folio_free_swap`)."""
    vsize = np.int64(1) << _vshift(dst)
    batch = dst.meta[V_BATCH] != 0
    e = entry
    while e < end:
        step = np.int64(1)
        row = _lookup_lock(dst, ctx, op, e)
        folio = -1
        if row >= 0:
            d = row * vsize + (e & (vsize - 1))
            ctx.counters[op, DESC_READ] += 1
            if _d_incache(dst, d) and _d_count(dst, d) == 0:
                folio = dst.desc[d, DW_CACHE] - 1
                if not batch:
                    _, folio = _folio_of(dst, ctx, op, e)  # swap_cache_get_folio()
        if folio >= 0:
            start = ctx.folio[folio, F_SWAP]
            fnr = np.int64(1) << ctx.folio[folio, F_ORDER]
            step = ((e + fnr) // fnr) * fnr - e  # ALIGN(entry + 1, nr) - entry
            if _folio_free_swap(dst, ctx, op, start, fnr):
                verbs.note_cache_drop(ctx, folio)
        e += step


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


@njit
def _swapcache_clear_locked(dst, ctx, op, row, start, nr):
    """__swapcache_clear() under the held cluster lock: in_swapcache off on each entry
    (a descriptor write), count-0 runs freed (vswap_free_nr); the folio leaves the
    swap cache."""
    vsize = np.int64(1) << _vshift(dst)
    base = row * vsize
    i0 = start & (vsize - 1)
    folio = dst.desc[base + i0, DW_CACHE] - 1
    run = -1
    for i in range(i0, i0 + nr):
        d = base + i
        ctx.counters[op, DESC_WRITE] += 1
        _d_set_incache(dst, d, False)
        dst.desc[d, DW_CACHE] = 0
        if _d_count(dst, d) == 0:
            if run < 0:
                run = i
        elif run >= 0:
            _release_backing(dst, ctx, op, row, run, i - run)
            run = -1
    if run >= 0:
        _release_backing(dst, ctx, op, row, run, i0 + nr - run)
    if folio >= 0:
        ctx.folio[folio, F_SWAP] = 0
        ctx.folio[folio, F_FLAGS] &= ~FOLIO_SYNC_BYPASS


@njit
def _swapcache_clear(dst, ctx, op, start, nr):
    """swapcache_clear() (put_swap_folio): a lookup + lock, then __swapcache_clear()."""
    row = _lookup_lock(dst, ctx, op, start)
    _swapcache_clear_locked(dst, ctx, op, row, start, nr)


@njit
def _swap_cache_del_folio(dst, ctx, op, start, nr):
    """swap_cache_del_folio().  v5 (V4p13/V6p13 "before" side, P10):
    swap_cache_lock_irq() (a lookup, the lock), __swap_cache_del_folio() (a lookup, nr
    shadow writes), swap_cache_unlock_irq() (a lookup), put_swap_folio() ->
    swapcache_clear() (a lookup, the lock): 4 lookups, 2 locks.  v6 (V6c): lock_irq,
    the nr writes, unlock (+22: the lookup cache emptied of the cluster), then
    swapcache_clear(): 2 lookups, 2 locks."""
    _lookup_lock(dst, ctx, op, start)  # swap_cache_lock_irq()
    if dst.meta[V_BATCH]:
        ctx.counters[op, DESC_WRITE] += nr
        _lc_drop(dst, ctx, op, start)
    else:
        _lookup_peek(dst, ctx, op, start)  # __swap_cache_del_folio()
        ctx.counters[op, DESC_WRITE] += nr
        _cache_unlock(dst, ctx, op, start)  # swap_cache_unlock_irq()
    _swapcache_clear(dst, ctx, op, start, nr)


@njit
def _remove_mapping(dst, ctx, op, start, nr):
    """__remove_mapping() of a swap-cache folio after writeout.  v5: as
    swap_cache_del_folio() (4 lookups, 2 locks; memcg1_swapout's lookup is cgroup v1
    only, not counted).  v6 (V6p13, V6c): swap_cache_lock_irq() (a lookup, the lock),
    __vswap_remove_mapping() (a lookup with the lock held, +22 a lookup-cache read that
    neither evicts nor inserts; nr shadow writes; __swapcache_clear()): 2 lookups, 1
    lock."""
    if dst.meta[V_BATCH] == 0:
        _swap_cache_del_folio(dst, ctx, op, start, nr)
        return
    row = _lookup_lock(dst, ctx, op, start)  # swap_cache_lock_irq()
    _lookup_peek(dst, ctx, op, start)  # __vswap_remove_mapping()
    ctx.counters[op, DESC_WRITE] += nr
    _swapcache_clear_locked(dst, ctx, op, row, start, nr)


@njit
def _folio_free_swap(dst, ctx, op, start, nr):
    """folio_free_swap(): True when no PTE holds any entry of the folio and it left the
    swap cache (its entries freed).  v5 (V4p13, swapfile.c): folio_swapped() (a lookup,
    the lock, a descriptor read per entry up to the first counted one), then
    :func:`_swap_cache_del_folio`: 5 lookups, 3 locks.  v6 (V6c, V6p22): one lookup
    (+22: read the cache, a miss evicts but does not insert) and the lock, the counts
    read, nr writes, vswap_free_nr(): 1 lookup, 1 lock."""
    vsize = np.int64(1) << _vshift(dst)
    batch = dst.meta[V_BATCH] != 0
    # v6 reads the lookup cache and a miss evicts, but the cluster is not cached (V6p22);
    # v5's folio_swapped() is vswap_iter()'s lookup; then the lock
    row = _lookup(dst, ctx, op, start >> _vshift(dst), LK_NOINSERT if batch else LK_ITER)
    if row >= 0:
        ctx.counters[op, CLUSTER_LOCK] += 1
    for e in range(start, start + nr):
        ctx.counters[op, DESC_READ] += 1
        if _d_count(dst, row * vsize + (e & (vsize - 1))) != 0:
            return False
    if batch:
        _swapcache_clear_locked(dst, ctx, op, row, start, nr)
    else:
        _swap_cache_del_folio(dst, ctx, op, start, nr)
    return True


@njit
def _vs_try_reclaim(dst, ctx, op, entry, flags):
    """__try_to_reclaim_swap() of the virtual entry a physical slot's reverse map names
    (V4p13, V6p13): swap_cache_get_folio() (a lookup, the lock), the TTRS flags, the
    folio's slot through swp_entry_to_swp_slot(folio->swap) (a lookup, the lock;
    folio_matches_swap_slot() is not counted [I]), the physical cluster lock, then
    swap_only_has_cache() per page: the rmap word, and the rmap bit with
    rmap_cache_only_bit, else vswap_only_has_cache() (a lookup, the lock, a
    descriptor read); then :func:`_swap_cache_del_folio`.  A page with no physical slot
    (not a kernel path) is asked through the descriptor (a lookup, the lock, a read)."""
    row, folio = _folio_of(dst, ctx, op, entry)
    if folio < 0:
        return 0
    start = ctx.folio[folio, F_SWAP]
    nr = np.int64(1) << ctx.folio[folio, F_ORDER]
    if not try_to_reclaim_wanted(dst.dev, ctx, folio, flags):
        return -nr
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, start)  # swp_entry_to_swp_slot(folio->swap)
    base = row * vsize
    i0 = start & (vsize - 1)
    ctx.counters[op, DESC_READ] += 1
    if _d_type(dst, base + i0) == T_SWAPFILE:
        ctx.counters[op, CLUSTER_LOCK] += 1  # swap_cluster_lock()
    rbit = dst.meta[V_RMAP_BIT] != 0
    for k in range(nr):
        d = base + i0 + k
        if _d_type(dst, d) == T_SWAPFILE:
            ctx.counters[op, RMAP_READ] += 1
            if rbit:
                if not swp_tb.tb_pointer_cache_only(dst.dev.table[dst.desc[d, DW_BACKEND]]):
                    return -nr
                continue
        _lookup_lock(dst, ctx, op, start + k)  # vswap_only_has_cache(entry, 1)
        ctx.counters[op, DESC_READ] += 1
        if _d_count(dst, d) != 0:
            return -nr
    _swap_cache_del_folio(dst, ctx, op, start, nr)
    verbs.note_cache_drop(ctx, folio)
    return nr


@njit(inline="always")
def _vs_cache_lookup(dst, ctx, op, entry):
    """swap_cache_get_folio() (a lookup, the lock, a descriptor read).  A fault's first
    look (op swapin) starts with tryget_swap_entry() (V5p14/V6p14 do_swap_page):
    ``xa_load`` without lock or lookup cache, then swp_entry_to_swp_slot() (a lookup,
    the lock, a descriptor read) for the backend's swap device; no cluster: the fault
    ends there."""
    if op == OP_SWAPIN:
        if _tryget(dst, ctx, op, entry) < 0:
            return -1
        row = _lookup_lock(dst, ctx, op, entry)  # swp_entry_to_swp_slot()
        if row >= 0:
            ctx.counters[op, DESC_READ] += 1
    row, folio = _folio_of(dst, ctx, op, entry)
    _mru_settle(dst, ctx, op)
    return folio


@njit(inline="always")
def _sync_candidate(dst, entry):
    """do_swap_page()'s synchronous path (on state alone): the entry is backed by a
    physical slot (tryget_swap_entry() found its swap device), the device is
    SWP_SYNCHRONOUS_IO, and its count is 1 (not in the swap cache)."""
    if (dst.dev.meta[D_FLAGS] & SWP_SYNCHRONOUS_IO) == 0 or vs_swap_count(dst, entry) != 1:
        return False
    vsize = np.int64(1) << _vshift(dst)
    row = _row_of(dst, entry >> _vshift(dst))
    d = row * vsize + (entry & (vsize - 1))
    return _d_type(dst, d) == T_SWAPFILE and not _d_incache(dst, d)


@njit
def _sync_swapin_add(dst, ctx, op, entry, folio):
    """The synchronous path of do_swap_page() (V5p14/V6p14, 6.19 context [I]): the
    folio is charged (mem_cgroup_swapin_charge_folio -> lookup_swap_cgroup_id: a
    lookup, the lock, a descriptor read), swapcache_prepare() sets in_swapcache (a
    lookup, the lock, a read and a write), vswap_can_swapin_thp() (a lookup, the lock,
    a read, also for one page) and swap_cache_get_shadow() (a lookup, the lock, a read):
    4 lookups, 4 locks.  The folio is *not* added to the swap cache: the model records
    it against the descriptor (uncounted) and marks it FOLIO_SYNC_BYPASS, so that
    cache_free does swapcache_clear() for it."""
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, entry)  # lookup_swap_cgroup_id() for the charge
    ctx.counters[op, DESC_READ] += 1
    ctx.counters[op, MEMCG_CHARGE] += 1
    _lookup_lock(dst, ctx, op, entry)  # swapcache_prepare()
    ctx.counters[op, DESC_READ] += 1
    ctx.counters[op, DESC_WRITE] += 1
    _lookup_lock(dst, ctx, op, entry)  # vswap_can_swapin_thp()
    ctx.counters[op, DESC_READ] += 1
    _lookup_lock(dst, ctx, op, entry)  # swap_cache_get_shadow()
    ctx.counters[op, DESC_READ] += 1
    d = row * vsize + (entry & (vsize - 1))
    _d_set_incache(dst, d, True)
    dst.desc[d, DW_CACHE] = folio + 1
    folio_add_swap(ctx, folio, entry, 1)
    ctx.folio[folio, F_FLAGS] |= FOLIO_SYNC_BYPASS
    return 0


@njit
def _vs_cache_add(dst, ctx, op, entry, nr, folio):
    """Swap-in's cache insert.  The fault's own page (op swapin, one page) on the
    synchronous path: :func:`_sync_swapin_add`.  Otherwise __read_swap_cache_async()
    (P10, V6p13): swap_cache_get_folio() (stops at a cached entry: -EEXIST),
    swap_entry_swapped() (count 0 or no entry: -ENOENT), swapcache_prepare() (nr reads
    and in_swapcache writes; the model's range checks of a large folio: -EBUSY),
    vswap_folio_backed() (nr reads), the charge (lookup_swap_cgroup_id + the charge),
    swap_cache_add_folio() (a lookup, the lock, nr writes): 6 lookups, 6 locks, the same
    in v5 and v6."""
    if op == OP_SWAPIN and nr == 1 and _sync_candidate(dst, entry):
        return _sync_swapin_add(dst, ctx, op, entry, folio)
    vsize = np.int64(1) << _vshift(dst)
    start = (entry // nr) * nr
    i = entry & (vsize - 1)
    row = _lookup_lock(dst, ctx, op, entry)  # swap_cache_get_folio()
    if row >= 0:
        ctx.counters[op, DESC_READ] += 1
        if _bit_test(dst, row, i) and _d_incache(dst, row * vsize + i):
            return EEXIST
    r2 = _lookup_lock(dst, ctx, op, entry)  # swap_entry_swapped()
    if r2 >= 0:
        ctx.counters[op, DESC_READ] += 1
    if row < 0 or not _bit_test(dst, row, i) or _d_count(dst, row * vsize + i) == 0:
        return ENOENT
    base = row * vsize
    d0 = base + i
    typ = _d_type(dst, d0)
    memcg = _d_memcg(dst, d0)
    _lookup_lock(dst, ctx, op, entry)  # swapcache_prepare()
    if nr > 1 and typ == T_ZSWAP:
        return EBUSY  # zswap cannot hand back a large folio
    for e in range(start, start + nr):
        d = base + (e & (vsize - 1))
        ctx.counters[op, DESC_READ] += 1
        if nr > 1 and (
            not _bit_test(dst, row, e & (vsize - 1))
            or _d_incache(dst, d)
            or _d_count(dst, d) == 0
            or _d_type(dst, d) != typ
            or _d_memcg(dst, d) != memcg
        ):
            return EBUSY
    ctx.counters[op, DESC_WRITE] += nr
    _lookup_lock(dst, ctx, op, entry)  # vswap_folio_backed()
    ctx.counters[op, DESC_READ] += nr
    _lookup_lock(dst, ctx, op, entry)  # lookup_swap_cgroup_id() for the charge
    ctx.counters[op, DESC_READ] += 1
    ctx.counters[op, MEMCG_CHARGE] += 1  # mem_cgroup_swapin_charge_folio()
    _lookup_lock(dst, ctx, op, entry)  # swap_cache_add_folio()
    for e in range(start, start + nr):
        d = base + (e & (vsize - 1))
        ctx.counters[op, DESC_WRITE] += 1
        _d_set_incache(dst, d, True)
        dst.desc[d, DW_CACHE] = folio + 1
    folio_add_swap(ctx, folio, start, nr)
    return 0


@njit(inline="always")
def _vs_cache_del(dst, ctx, op, entry, nr):
    _remove_mapping(dst, ctx, op, entry, nr)
    _mru_settle(dst, ctx, op)
    return 0


@njit(inline="always")
def _vs_cache_free(dst, ctx, op, entry, nr):
    """folio_free_swap() (:func:`_folio_free_swap`); for a folio the synchronous path
    pinned (FOLIO_SYNC_BYPASS), swapcache_clear() instead (a lookup, the lock, then the
    count-0 run freed)."""
    if nr == 1:
        vsize = np.int64(1) << _vshift(dst)
        row = _row_of(dst, entry >> _vshift(dst))
        if row >= 0:
            d = row * vsize + (entry & (vsize - 1))
            f = dst.desc[d, DW_CACHE] - 1
            if _d_incache(dst, d) and f >= 0 and (ctx.folio[f, F_FLAGS] & FOLIO_SYNC_BYPASS) != 0:
                _swapcache_clear(dst, ctx, op, entry, 1)
                _mru_settle(dst, ctx, op)
                return 1
    r = 0
    if _folio_free_swap(dst, ctx, op, entry, nr):
        r = 1
    _mru_settle(dst, ctx, op)
    return r


@njit(inline="always")
def _vs_free_after_fault(dst, ctx, op, entry, folio, sync_dev, full, write):
    """After the fault's put: a folio the synchronous path pinned is always released
    (swapcache_clear, through cache_free).  Otherwise 6.19's should_try_to_free_swap()
    with V5p14/V6p14's test: swap full (mem_cgroup_swap_full) frees; else
    vswap_swapfile_backed() (a lookup, the lock, nr descriptor reads) frees anything
    not backed by contiguous physical slots (zero, zswap, folio); a physical slot is
    kept unless the fault writes.  There is no SWP_SYNCHRONOUS_IO rule (``sync_dev``
    is not read)."""
    if ctx.folio[folio, F_FLAGS] & FOLIO_SYNC_BYPASS:
        return True
    if full:
        return True
    start = ctx.folio[folio, F_SWAP]
    if start == 0:
        return False  # not in the swap cache
    nr = np.int64(1) << ctx.folio[folio, F_ORDER]
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, start)  # vswap_swapfile_backed()
    if row < 0:
        return False
    ctx.counters[op, DESC_READ] += nr
    t0, same = _backing(dst, row * vsize, start & (vsize - 1), nr)
    if not (same and t0 == T_SWAPFILE):
        return True
    return write


@njit
def _store_folio(dst, ctx, op, entry, row, i0, nr):
    """vswap_store_folio(): a lookup, the lock, release_backing(), the folio becomes
    the backend (nr descriptor writes)."""
    _lookup_lock(dst, ctx, op, entry)
    _release_old(dst, ctx, op, row, i0, nr)
    ctx.counters[op, DESC_WRITE] += nr


@njit(inline="always")
def _vs_writeout(dst, ctx, op, entry, nr, backend):
    """swap_writeout() of a cached folio whose PTEs hold the entries (V5p14, V6p14).

    folio_free_swap() first (:func:`_folio_free_swap`; no PTE left: the folio is
    dropped, BACKEND_NONE).  Zero: swap_zeromap_folio_set() (a lookup, the lock,
    release_backing, nr writes).  Otherwise the backend is prepared: v5
    vswap_swapfile_backed() (a lookup, nr reads) and, unless contiguous physical slots
    back the folio, vswap_store_folio() (a lookup, release, nr writes); v6
    vswap_prepare_writeout() (one lookup: FOLIO or contiguous SWAPFILE kept, anything
    else released and the folio stored under the same lock).  zswap: per page
    zswap_entry_store() (a lookup, release, a write).  Disk (zswap off or rejected): v5
    zswap_store()'s check_old (vswap_swapfile_backed, maybe vswap_store_folio),
    vswap_alloc_swap_slot() (:func:`_alloc_swap_slot`) and __swap_writepage()'s two slot
    lookups (swp_entry_to_swp_slot, swap_folio_sector); v6 vswap_alloc_swap_slot()
    only (the slot is passed down)."""
    vsize = np.int64(1) << _vshift(dst)
    if _folio_free_swap(dst, ctx, op, entry, nr):
        _mru_settle(dst, ctx, op)
        return BACKEND_NONE
    batch = dst.meta[V_BATCH] != 0
    i0 = entry & (vsize - 1)
    result = backend
    row = _lookup_lock(dst, ctx, op, entry)  # zeromap_set / prepare_writeout / swapfile_backed
    base = row * vsize
    if backend == BACKEND_ZERO:
        _release_old(dst, ctx, op, row, i0, nr)
        for i in range(i0, i0 + nr):
            ctx.counters[op, DESC_WRITE] += 1
            _d_set_type(dst, base + i, T_ZERO)
        _mru_settle(dst, ctx, op)
        return result
    ctx.counters[op, DESC_READ] += nr
    t0, same = _backing(dst, base, i0, nr)
    if batch:
        if not (same and (t0 == T_SWAPFILE or t0 == T_FOLIO)):
            _release_old(dst, ctx, op, row, i0, nr)
            ctx.counters[op, DESC_WRITE] += nr
    elif not (same and t0 == T_SWAPFILE):
        _store_folio(dst, ctx, op, entry, row, i0, nr)
    if backend == BACKEND_ZSWAP:
        ctx.meta[C_ZSWAP_ENABLED] = 1
        for i in range(i0, i0 + nr):
            ctx.counters[op, MEM_ALLOC] += 1  # zswap_entry
            _lookup_lock(dst, ctx, op, entry)  # zswap_entry_store()
            _release_old(dst, ctx, op, row, i, 1)
            ctx.counters[op, DESC_WRITE] += 1
            dst.meta[V_ZSWAP_ENTRIES] += 1
            dst.meta[V_NEXT_ZSWAP] += 1  # the zswap_entry's identity
            dst.desc[base + i, DW_BACKEND] = dst.meta[V_NEXT_ZSWAP]
            _d_set_type(dst, base + i, T_ZSWAP)
    else:
        if not batch:
            _lookup_lock(dst, ctx, op, entry)  # check_old: vswap_swapfile_backed()
            ctx.counters[op, DESC_READ] += nr
            t0, same = _backing(dst, base, i0, nr)
            if not (same and t0 == T_SWAPFILE):
                _store_folio(dst, ctx, op, entry, row, i0, nr)
        p = _alloc_swap_slot(dst, ctx, op, entry, nr)
        if p < 0:
            result = ENOMEM
        elif not batch:
            _lookup_lock(dst, ctx, op, entry)  # __swap_writepage(): swp_entry_to_swp_slot()
            ctx.counters[op, DESC_READ] += 1
            _lookup_lock(dst, ctx, op, entry)  # swap_folio_sector()
            ctx.counters[op, DESC_READ] += 1
    _mru_settle(dst, ctx, op)
    return result


@njit(inline="always")
def _vs_read_backend(dst, ctx, op, entry):
    """swap_read_folio() (V5p14, V6p14): swap_zeromap_batch() (a lookup, the lock, a
    read: zero is done); zswap_load() when zswap was ever enabled
    (``ctx.meta[C_ZSWAP_ENABLED]``): zswap_entry_load() (a lookup, the lock, a read),
    and a hit stores the folio as the backend (vswap_store_folio: a lookup, the lock,
    the zswap entry freed, a write); otherwise swp_entry_to_swp_slot() (a lookup, the
    lock, a read), and v5's I/O helper looks the slot up once more (swap_folio_sector
    or swap_read_folio_fs), which v6 passes down."""
    vsize = np.int64(1) << _vshift(dst)
    row = _lookup_lock(dst, ctx, op, entry)  # swap_zeromap_batch()
    d = row * vsize + (entry & (vsize - 1))
    ctx.counters[op, DESC_READ] += 1
    typ = _d_type(dst, d)
    result = BACKEND_FOLIO
    if typ == T_ZERO:
        result = BACKEND_ZERO
    elif typ == T_ZSWAP or ctx.meta[C_ZSWAP_ENABLED] != 0:
        _lookup_lock(dst, ctx, op, entry)  # zswap_entry_load()
        ctx.counters[op, DESC_READ] += 1
    if typ == T_ZSWAP:
        _lookup_lock(dst, ctx, op, entry)  # vswap_store_folio()
        ctx.counters[op, DESC_WRITE] += 1
        ctx.counters[op, MEM_FREE] += 1
        dst.meta[V_ZSWAP_ENTRIES] -= 1
        dst.desc[d, DW_BACKEND] = 0
        _d_set_type(dst, d, T_FOLIO)
        result = BACKEND_ZSWAP
    elif typ != T_ZERO:
        _lookup_lock(dst, ctx, op, entry)  # swp_entry_to_swp_slot()
        ctx.counters[op, DESC_READ] += 1
        if typ == T_SWAPFILE:
            result = BACKEND_DISK
            if dst.meta[V_BATCH] == 0:
                _lookup_lock(dst, ctx, op, entry)  # the I/O helper's slot lookup
                ctx.counters[op, DESC_READ] += 1
    _mru_settle(dst, ctx, op)
    return result


@njit(inline="always")
def _vs_ra_probe(dst, ctx, op, entry):
    """do_swap_page() after a cache miss (V5p14/V6p14): the synchronous path only when
    tryget_swap_entry() found a swap device (a physical slot backs the entry; counted
    with the fault's cache_lookup), the device is SWP_SYNCHRONOUS_IO and __swap_count()
    is 1 (a lookup, the lock, a descriptor read, only asked in that case).  Zero, zswap
    and folio-backed entries take swapin_readahead() (the readahead rise on zram the
    thread measured); so does a shared (count > 1) physical one."""
    if vs_swap_count(dst, entry) < 0:
        return ENOENT
    vsize = np.int64(1) << _vshift(dst)
    row = _row_of(dst, entry >> _vshift(dst))
    d = row * vsize + (entry & (vsize - 1))
    if _d_type(dst, d) == T_SWAPFILE and (dst.dev.meta[D_FLAGS] & SWP_SYNCHRONOUS_IO):
        _lookup_lock(dst, ctx, op, entry)  # __swap_count()
        ctx.counters[op, DESC_READ] += 1
        if _d_count(dst, d) == 1:
            _mru_settle(dst, ctx, op)
            return RA_SYNC
    _mru_settle(dst, ctx, op)
    return RA_READAHEAD


@njit(inline="always")
def _vs_zswap_writeback(dst, ctx, op, entry, folio):
    """zswap_writeback_entry() (P03, V5p14, V6p14): tryget_swap_entry() (``xa_load`` +
    swp_entry_to_swp_slot), __read_swap_cache_async() (:func:`_vs_cache_add`, 6
    lookups), put_swap_entry(), zswap_entry_load() to verify (not zswap any more: the
    folio leaves, swap_cache_del_folio, -ENOMEM), vswap_alloc_swap_slot() (no slot:
    the same), zswap_entry_free(), v5's __swap_writepage() slot lookups (2).  The
    folio would stay in the swap cache until a later __remove_mapping(); the mm drops
    it at once, so that __remove_mapping() (:func:`_remove_mapping`) is done here and
    charged to the cache_del row."""
    if _tryget(dst, ctx, op, entry) < 0:
        return ENOENT
    vsize = np.int64(1) << _vshift(dst)
    r = _lookup_lock(dst, ctx, op, entry)  # swp_entry_to_swp_slot()
    if r >= 0:
        ctx.counters[op, DESC_READ] += 1
    err = _vs_cache_add(dst, ctx, op, entry, 1, folio)
    _put_swap_entry(dst, ctx, op, entry)
    if err != 0:
        return err
    row = _lookup_lock(dst, ctx, op, entry)  # zswap_entry_load() verify
    d = row * vsize + (entry & (vsize - 1))
    ctx.counters[op, DESC_READ] += 1
    if _d_type(dst, d) != T_ZSWAP:
        _swap_cache_del_folio(dst, ctx, op, entry, 1)
        return ENOMEM
    p = _alloc_swap_slot(dst, ctx, op, entry, 1)
    if p < 0:
        _swap_cache_del_folio(dst, ctx, op, entry, 1)
        return ENOMEM
    ctx.counters[op, MEM_FREE] += 1  # zswap_entry_free()
    dst.meta[V_ZSWAP_ENTRIES] -= 1
    if dst.meta[V_BATCH] == 0:
        _lookup_lock(dst, ctx, op, entry)  # __swap_writepage(): swp_entry_to_swp_slot()
        ctx.counters[op, DESC_READ] += 1
        _lookup_lock(dst, ctx, op, entry)  # swap_folio_sector()
        ctx.counters[op, DESC_READ] += 1
    _remove_mapping(dst, ctx, OP_CACHE_DEL, entry, 1)
    _mru_settle(dst, ctx, op)
    return 0


@njit
def vs_reclaim_full(dst, ctx, force):
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
# Every verb that looks clusters up ends by letting the lookup cache drop an emptied
# cluster: _mru_settle is the design's op_end (core/verbs.py), run after each of the
# verbs that are whole operations (alloc does no lookup, so it is not one of them).


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


@njit(inline="always")
def vs_ptes_hold_slots(dst):
    return False


verbs.register(
    VswapState,
    op_end=_mru_settle,
    alloc=vs_alloc,
    dup=_vs_dup,
    pte_batch=_vs_pte_batch,
    put=_vs_put,
    cache_lookup=_vs_cache_lookup,
    cache_add=_vs_cache_add,
    cache_del=_vs_cache_del,
    cache_free=_vs_cache_free,
    try_reclaim=_vs_try_reclaim,
    writeout=_vs_writeout,
    read_backend=_vs_read_backend,
    ra_probe=_vs_ra_probe,
    zswap_writeback=_vs_zswap_writeback,
    reclaim_full=vs_reclaim_full,
    swap_count=vs_swap_count,
    metadata_bytes=vs_metadata_bytes,
    phys_slot_scan=vs_phys_slot_scan,
    phys_slot_reclaim=vs_phys_slot_reclaim,
    unuse_entry=vs_unuse_entry,
    unuse=_vs_unuse,
    ptes_hold_slots=vs_ptes_hold_slots,
    free_after_fault=_vs_free_after_fault,
)

V6_DEFAULTS = {**{name: True for name in SWITCHES}, "lookup_cache_ways": 1}
_HOOKS = dict(virtual_slots=True, entry_space=_entry_space, check_state=_check_state)
V5 = Design(
    "vswap_v5",
    "virtual swap v5: 24-byte descriptors in 512-slot virtual clusters found through an "
    "XArray cluster map; lazy physical backing; rmap in the physical table; no fixes",
    VswapState,
    _new_state_v5,
    **_HOOKS,
)
V6 = Design(
    "vswap_v6",
    "v5 plus the fixes, each a switch: rmap cache-only bit, deferred cgroup check, "
    "per-CPU MRU cluster lookup cache, batched frees and writeout",
    VswapState,
    _new_state_v6,
    options=V6_DEFAULTS,
    check_option=check_option,
    **_HOOKS,
)
