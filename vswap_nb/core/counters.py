"""The counter matrix ``counters[op, primitive]`` and its named indices.

Every design verb adds what it touches to one ``int64`` matrix.  A row is the operation
the work was done for (the kernel path that triggered it); a column is the primitive
touched.  The index constants below are module-level integers, so Numba freezes them into
the kernels as compile-time constants; the name tuples are what results and tests use.

Rows (operations)
-----------------
alloc            folio_alloc_swap(): slot allocation, swap-cache add, memcg record
dup              folio_dup_swap() at unmap, swap_dup_entry_direct() at fork
free             swap_put_entries_direct() from zap/exit, including swap_pte_batch()
swapin           do_swap_page(): swap-cache lookup, cache add, read, put, cache free
readahead        swap readahead probes and the folios it adds to the swap cache
writeout         swap_writeout(): zero flag, zswap store or bio
cache_del        removing a folio from the swap cache after writeout (__remove_mapping)
zswap_writeback  zswap_writeback_entry(): moving a compressed page to the device
reclaim_scan     scans for swap-cache-only slots (allocator reclaim, full-cluster reclaim)
swapoff          try_to_unuse() and friends

Columns (primitives)
--------------------
xa_lookup / xa_node_visit     xa_load() calls; nodes visited by any XArray walk
xa_store / xa_erase           xa_store()/xa_erase() calls
xa_node_alloc / xa_node_free  XArray nodes allocated / freed (576 B each)
cluster_lock                  spin_lock of one cluster (physical or virtual)
si_lock                       the device lock around cluster list moves and isolation
pcpu_access                   per-CPU cluster cache read/update under local_lock
table_read / table_write      8-byte swap-table entries
map_read / map_write          1-byte swap_map entries (6.19 baseline)
ext_read / ext_write          extend-table (overflow count) entries
memcg_read / memcg_write      memcg ids (swap_cgroup array or per-cluster memcg table)
zeromap_read / zeromap_write  the 6.19 per-device zeromap bitmap
desc_read / desc_write        24-byte virtual-swap descriptors
vt_read / vt_write            Swap Table Edition virtual_table entries
rmap_read / rmap_write        reverse-map entries (physical slot -> virtual entry)
bitmap_op                     bitmap set/clear/search on a virtual cluster
lookup_cache_hit / _miss      the per-CPU most-recently-used cluster lookup cache
mem_alloc / mem_free          dynamic metadata allocations (tables, descriptors, entries):
                              slab / kmalloc calls, whatever their size
mem_zero_line                 64-byte lines a zeroing allocation clears (kzalloc, vzalloc,
                              __GFP_ZERO pages): a 4 KiB table is 64, a 12 KiB vzalloc 192
vmalloc / vfree               vmalloc()/vzalloc() and vfree() calls (vmap area, one page
                              allocation per page, kernel PTEs), on top of the above
memcg_charge / memcg_uncharge swap charge / uncharge calls
slot_free_notify              zram's swap_slot_free_notify -> zs_free, per freed slot holding data on zram
pte_read                      PTE reads done on behalf of swap (swap_pte_batch, readahead)
"""
from __future__ import annotations

import numpy as np

OPS = (
    "alloc",
    "dup",
    "free",
    "swapin",
    "readahead",
    "writeout",
    "cache_del",
    "zswap_writeback",
    "reclaim_scan",
    "swapoff",
)

PRIMITIVES = (
    "xa_lookup",
    "xa_node_visit",
    "xa_store",
    "xa_erase",
    "xa_node_alloc",
    "xa_node_free",
    "cluster_lock",
    "si_lock",
    "pcpu_access",
    "table_read",
    "table_write",
    "map_read",
    "map_write",
    "ext_read",
    "ext_write",
    "memcg_read",
    "memcg_write",
    "zeromap_read",
    "zeromap_write",
    "desc_read",
    "desc_write",
    "vt_read",
    "vt_write",
    "rmap_read",
    "rmap_write",
    "bitmap_op",
    "lookup_cache_hit",
    "lookup_cache_miss",
    "mem_alloc",
    "mem_free",
    "memcg_charge",
    "memcg_uncharge",
    "slot_free_notify",
    "pte_read",
    "mem_zero_line",
    "vmalloc",
    "vfree",
)

# operations (rows)
OP_ALLOC = 0
OP_DUP = 1
OP_FREE = 2
OP_SWAPIN = 3
OP_READAHEAD = 4
OP_WRITEOUT = 5
OP_CACHE_DEL = 6
OP_ZSWAP_WB = 7
OP_RECLAIM_SCAN = 8
OP_SWAPOFF = 9
N_OPS = 10

# primitives (columns)
XA_LOOKUP = 0
XA_NODE_VISIT = 1
XA_STORE = 2
XA_ERASE = 3
XA_NODE_ALLOC = 4
XA_NODE_FREE = 5
CLUSTER_LOCK = 6
SI_LOCK = 7
PCPU_ACCESS = 8
TABLE_READ = 9
TABLE_WRITE = 10
MAP_READ = 11
MAP_WRITE = 12
EXT_READ = 13
EXT_WRITE = 14
MEMCG_READ = 15
MEMCG_WRITE = 16
ZEROMAP_READ = 17
ZEROMAP_WRITE = 18
DESC_READ = 19
DESC_WRITE = 20
VT_READ = 21
VT_WRITE = 22
RMAP_READ = 23
RMAP_WRITE = 24
BITMAP_OP = 25
LOOKUP_CACHE_HIT = 26
LOOKUP_CACHE_MISS = 27
MEM_ALLOC = 28
MEM_FREE = 29
MEMCG_CHARGE = 30
MEMCG_UNCHARGE = 31
SLOT_FREE_NOTIFY = 32
PTE_READ = 33
MEM_ZERO_LINE = 34
VMALLOC = 35
VFREE = 36
N_PRIMITIVES = 37


def new_counters() -> np.ndarray:
    """A zeroed ``int64[N_OPS, N_PRIMITIVES]`` counter matrix."""
    return np.zeros((N_OPS, N_PRIMITIVES), dtype=np.int64)


def counters_dict(counters: np.ndarray) -> dict:
    """``{(op, primitive): count}`` for the non-zero cells (handy in tests and notes)."""
    out = {}
    nz = np.argwhere(counters)
    for i, j in nz:
        out[(OPS[i], PRIMITIVES[j])] = int(counters[i, j])
    return out
