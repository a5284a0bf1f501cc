"""Metadata byte accounting: the structures a design keeps and their sizes.

Each design's ``metadata_bytes`` verb fills an ``int64[N_STRUCTURES]`` array with the
bytes each structure occupies in its current state, counted from what the state has
really allocated (tables of populated clusters, XArray nodes in the pool, entries
stored), never from a formula of the usage.  The sizes (x86-64, 4 KiB pages, no debug
options) and where they come from:

===================  ======================  ===================================================
structure            size                    source
===================  ======================  ===================================================
swap_map             1 B per slot, static    6.19 ``si->swap_map`` (count | HAS_CACHE | CONT)
swap_map_continua-   4096 B per page and     6.19 ``add_swap_count_continuation``: one page per
tion                 level, never freed      4096-slot page of swap_map per count "digit";
                     before swapoff          freed only by swapoff
swap_cgroup          2 B per slot, static    6.19 swap_cgroup ids (two u16 per atomic_t)
zeromap              1 bit per slot, static  6.19 ``si->zeromap`` (bitmap_zalloc: whole longs)
cluster_info         per cluster, static     P4 cover letter: 48 B; 6.19 struct: lock, count,
                                             flags, order, table pointer, list = 32 B [I]
swap_table           4096 B per populated    512 x 8 B ``atomic_long_t`` entries: one page
                     cluster                 (SWP_TABLE_USE_PAGE)
memcg_table          1024 B per populated    P4 ``struct swap_memcg_table`` (u16 id[512]),
                     cluster                 kzalloc'd with the table
extend_table         2048 B per cluster      P3/P4 ``extend_table`` (u32[512]) while any slot
                     with an overflow        of the cluster has count > 14
zswap_trees          16 B per 64 MiB         ``struct xarray`` heads of ``zswap_trees[type]``
                     of swap, static         (one per SWAP_ADDRESS_SPACE_PAGES = 16384 slots)
zswap_xa_nodes       576 B per node          ``radix_tree_node`` slab objects of those trees
zswap_entry          56 B per entry          ``struct zswap_entry``: swpentry 8, length 4,
                                             referenced 1 (+3 pad), pool 8, handle 8, objcg 8,
                                             lru 16 (mm/zswap.c)
===================  ======================  ===================================================

Virtual swap (v5/v6, Swap Table Edition, ghost) adds:

===================  ======================  ===================================================
phys_bitmaps         2 bits per physical     v3+: swap_map replaced by "allocated" and "bad"
                     slot, static            bitmaps
rmap_table           4096 B per populated    the physical swap table holding the reverse map
                     physical cluster        (virtual entry per physical slot)
vswap_cluster        per live cluster        v6: struct vswap_cluster (lock, rcu/list, id,
                                             count/order/flags, refcount, bitmap[512], pointer)
                                             = 112 B; v5: the same with descriptors embedded,
                                             12392 B, in a 16 KiB slab object [I: slab rounding]
vswap_desc           24 B per slot of a      struct swp_desc (pahole: 24 B); v6 vzalloc's
                     live cluster            512 x 24 B = 12 KiB per cluster
cluster_map_nodes    576 B per node          the vswap_cluster_map XArray
virtual_table        8 B per slot of a       STE: kcalloc(512, 8) per vswap cluster
                     live vswap cluster
===================  ======================  ===================================================

Not counted: ``swap_info_struct`` and per-CPU structures (a few hundred bytes per
device or CPU, the same in every design), the compressed data itself, page tables.

RCU grace periods: freed metadata returns at once in every design.  The kernel delays
some frees by a grace period (swap table pages: ``call_rcu``; XArray nodes:
``call_rcu``; vswap v6 clusters and descriptors: ``call_rcu``; v5 clusters:
``kvfree_rcu``; STE clusters: ``kfree_rcu``) and not others (the P4 memcg table,
zswap entries, slab-cached swap tables: freed at once).  A grace period is a matter of
milliseconds of wall time, which the counters cannot place, so rather than give one
design a delay the others lack, none has one: a metadata peak here is a lower bound,
short by at most what a design frees within one grace period.

Metadata is memory: the mm subtracts the current total from free memory (sampled
after every reclaim batch), so a design with more metadata reclaims more under global
pressure.  No memcg is charged for it (none of these allocations is ``__GFP_ACCOUNT``).
"""
from __future__ import annotations

PAGE_SIZE = 4096
PAGE_SHIFT = 12

STRUCTURES = (
    "swap_map",
    "swap_map_continuation",
    "swap_cgroup",
    "zeromap",
    "cluster_info",
    "swap_table",
    "memcg_table",
    "extend_table",
    "zswap_trees",
    "zswap_xa_nodes",
    "zswap_entry",
    "phys_bitmaps",
    "rmap_table",
    "vswap_cluster",
    "vswap_desc",
    "cluster_map_nodes",
    "virtual_table",
)

S_SWAP_MAP = 0
S_SWAP_MAP_CONT = 1
S_SWAP_CGROUP = 2
S_ZEROMAP = 3
S_CLUSTER_INFO = 4
S_SWAP_TABLE = 5
S_MEMCG_TABLE = 6
S_EXTEND_TABLE = 7
S_ZSWAP_TREES = 8
S_ZSWAP_XA_NODES = 9
S_ZSWAP_ENTRY = 10
S_PHYS_BITMAPS = 11
S_RMAP_TABLE = 12
S_VSWAP_CLUSTER = 13
S_VSWAP_DESC = 14
S_CLUSTER_MAP_NODES = 15
S_VIRTUAL_TABLE = 16
N_STRUCTURES = 17

STRUCTURE_DESCRIPTIONS = {
    "swap_map": "static swap_map, 1 byte per slot (6.19)",
    "swap_map_continuation": "swap count continuation pages, 4 KiB each, kept until swapoff (6.19)",
    "swap_cgroup": "static swap_cgroup ids, 2 bytes per slot (6.19)",
    "zeromap": "static zeromap bitmap, 1 bit per slot (6.19)",
    "cluster_info": "static struct swap_cluster_info, one per cluster",
    "swap_table": "dynamic swap table, 4 KiB per populated cluster",
    "memcg_table": "dynamic memcg table, 1 KiB per populated cluster (P4)",
    "extend_table": "dynamic extend table, 2 KiB per cluster with an overflowed count",
    "zswap_trees": "static zswap XArray heads, 16 bytes per 64 MiB of swap",
    "zswap_xa_nodes": "XArray nodes of the zswap trees, 576 bytes each",
    "zswap_entry": "struct zswap_entry, 56 bytes per compressed page",
    "phys_bitmaps": "static allocated + bad bitmaps of a physical device under virtual swap, 2 bits per slot",
    "rmap_table": "dynamic physical swap table used as the reverse map, 4 KiB per populated cluster",
    "vswap_cluster": "virtual swap cluster headers (v5: with the embedded descriptors' slab rounding)",
    "vswap_desc": "virtual swap descriptors, 24 bytes per slot of each live virtual cluster",
    "cluster_map_nodes": "XArray nodes of the virtual cluster map, 576 bytes each",
    "virtual_table": "Swap Table Edition virtual_table, 8 bytes per slot of each live vswap cluster",
}

SWAP_TABLE_ENTRY_BYTES = 8
MEMCG_ID_BYTES = 2
EXTEND_ENTRY_BYTES = 4
CLUSTER_INFO_P4_BYTES = 48
CLUSTER_INFO_619_BYTES = 32
XARRAY_HEAD_BYTES = 16
XA_NODE_BYTES = 576
ZSWAP_ENTRY_BYTES = 56
ZSWAP_TREE_SHIFT = 14  # SWAP_ADDRESS_SPACE_SHIFT / ZSWAP_ADDRESS_SPACE_SHIFT: 64 MiB
SWP_DESC_BYTES = 24
VSWAP_CLUSTER_V6_BYTES = 112
VSWAP_CLUSTER_V5_SLAB_BYTES = 16384
VSWAP_CLUSTER_HEADER_BYTES = 40  # struct vswap_cluster without its bitmap


def vswap_cluster_v5_bytes(nslots: int = 512) -> int:
    """v5's cluster object: header, allocation bitmap and ``nslots`` embedded
    descriptors (12392 B for 512 slots)."""
    return VSWAP_CLUSTER_HEADER_BYTES + bitmap_bytes(nslots) + int(nslots) * SWP_DESC_BYTES


def kmalloc_size(nbytes: int) -> int:
    """The kmalloc size class an object of ``nbytes`` lands in: powers of two from 8,
    plus 96 and 192."""
    n = int(nbytes)
    size = 8
    while size < n:
        if size == 64 and n <= 96:
            return 96
        if size == 128 and n <= 192:
            return 192
        size *= 2
    return size


def zswap_tree_count(nslots: int) -> int:
    """Number of zswap trees zswap_swapon() allocates for a device of ``nslots``."""
    return -(-int(nslots) // (1 << ZSWAP_TREE_SHIFT))


def bitmap_bytes(nbits: int) -> int:
    """bitmap_zalloc(nbits): whole unsigned longs."""
    return -(-int(nbits) // 64) * 8
