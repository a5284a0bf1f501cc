"""The vmstat-style counters a run reports: one table of name -> description.

Names are those of ``/proc/vmstat`` where the kernel has one (``pswpout``, ``zswpwb``,
``pgsteal_kswapd``, ...); the others count what the model injects or checks (``fault_*``,
``content_*``) or what swapoff(2) does.  The order of :data:`VMSTAT_TABLE` is the order of
the int64 vector the mm engine keeps (``MmState.vm``), so ``VM_<NAME>`` is the index of
``<name>``; the assert below keeps the two in step.  The run's Dataset carries each
description as the variable's ``long_name``.
"""
from __future__ import annotations

__all__ = ["MEMCG", "MEMCG_DESCRIPTIONS", "MEMCG_TABLE", "N_MEMCG", "MTHP", "MTHP_DESCRIPTIONS", "MTHP_TABLE", "N_MTHP", "N_ORDERS", "N_VM", "VMSTAT", "VMSTAT_DESCRIPTIONS", "VMSTAT_TABLE"]

VMSTAT_TABLE = (
    ("pswpin", "pages read from the swap device"),
    ("pswpout", "pages written to the swap device"),
    ("swap_ra", "pages read ahead into the swap cache"),
    ("swap_ra_hit", "faults that found a read-ahead page"),
    ("pgsteal_kswapd", "pages reclaimed by kswapd"),
    ("pgsteal_direct", "pages reclaimed in the allocating task (global and memcg)"),
    ("pgscan_kswapd", "pages scanned by kswapd"),
    ("pgscan_direct", "pages scanned by direct reclaim"),
    ("allocstall", "global direct reclaim entries"),
    ("zswpout", "pages stored in zswap"),
    ("zswpin", "pages loaded from zswap"),
    ("zswpwb", "zswap entries written back to the device"),
    ("pgfault", "page faults"),
    ("pgmajfault", "faults that had to read from swap"),
    ("pgactivate", "folios moved to the active list"),
    ("pgdeactivate", "folios moved to the inactive list"),
    ("swap_alloc_fail", "swap entry allocations that failed (swap full or an injected fault)"),
    ("zswap_reject", "zswap stores rejected (pool full or an injected fault)"),
    ("oom", "allocations that found nothing to reclaim"),
    ("content_checks", "swapped-in pages whose content tag was checked"),
    ("content_errors", "swapped-in pages whose content tag differed (lost or mixed-up data)"),
    ("memcg_reclaim", "memory.max reclaim entries"),
    ("fault_swap_alloc", "injected swap-slot allocation failures (System faults)"),
    ("fault_zswap_reject", "injected zswap store rejections (System faults)"),
    ("fault_readahead", "injected read-ahead reads not issued (System faults)"),
    ("swapoff_pages", "pages swapoff brought back from the device (to a PTE or the swap cache)"),
    ("swapoff_ptes", "page-table entries swapoff's page-table walk read"),
    ("fault_atomic_alloc",
     "injected atomic swap-table allocation failures that took the sleeping fallback (System faults)"),
    ("swpout_zero", "zero-filled pages swapped out to no device (the swap zeromap or a zero backend)"),
    ("swpin_zero", "zero-filled pages swapped in without a device read"),
)
VMSTAT = tuple(name for name, _ in VMSTAT_TABLE)
VMSTAT_DESCRIPTIONS = dict(VMSTAT_TABLE)
(
    VM_PSWPIN,
    VM_PSWPOUT,
    VM_SWAP_RA,
    VM_SWAP_RA_HIT,
    VM_PGSTEAL_KSWAPD,
    VM_PGSTEAL_DIRECT,
    VM_PGSCAN_KSWAPD,
    VM_PGSCAN_DIRECT,
    VM_ALLOCSTALL,
    VM_ZSWPOUT,
    VM_ZSWPIN,
    VM_ZSWPWB,
    VM_PGFAULT,
    VM_PGMAJFAULT,
    VM_PGACTIVATE,
    VM_PGDEACTIVATE,
    VM_SWAP_ALLOC_FAIL,
    VM_ZSWAP_REJECT,
    VM_OOM,
    VM_CONTENT_CHECKS,
    VM_CONTENT_ERRORS,
    VM_MEMCG_RECLAIM,
    VM_FAULT_SWAP_ALLOC,
    VM_FAULT_ZSWAP_REJECT,
    VM_FAULT_READAHEAD,
    VM_SWAPOFF_PAGES,
    VM_SWAPOFF_PTES,
    VM_FAULT_ATOMIC_ALLOC,
    VM_SWPOUT_ZERO,
    VM_SWPIN_ZERO,
) = range(len(VMSTAT))
N_VM = len(VMSTAT)

assert len(VMSTAT_DESCRIPTIONS) == N_VM, "a vmstat name is listed twice"
assert all(globals()["VM_" + name.upper()] == i for i, name in enumerate(VMSTAT)), (
    "the VM_* indices must follow VMSTAT_TABLE's order"
)

# The per-size counters of large folios, as the kernel keeps them per order in
# /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/stats/<name> (mm/huge_memory.c,
# 6.18).  The engine keeps int64[N_ORDERS, N_MTHP] (``MmState.mthp``), row = order
# (rows 0 and 1 stay 0: the kernel has no order-0 or anonymous order-1 counters), and
# the Dataset carries it as ``mthp`` with an ``order`` dimension.
MTHP_TABLE = (
    ("anon_fault_alloc", "anonymous faults that allocated a folio of this order"),
    ("anon_fault_fallback", "anonymous faults that could not allocate or charge a folio of this order and tried a smaller one"),
    ("anon_fault_fallback_charge", "of those, the ones whose memcg charge failed"),
    ("zswpout", "folios of this order stored in zswap whole"),
    ("swpin", "folios of this order swapped in whole"),
    ("swpin_fallback", "swap-ins that could not allocate a folio of this order and tried a smaller one"),
    ("swpin_fallback_charge", "of those, the ones whose memcg charge failed"),
    ("swpout", "folios of this order written to the swap device whole"),
    ("swpout_fallback", "folios of this order split before swap-out because no 2^order swap entries could be allocated"),
    ("split", "folios of this order split (swap-out fallback, or reclaim of a partially mapped folio)"),
    ("split_deferred", "folios of this order that became partially mapped and were queued for a deferred split"),
)
MTHP = tuple(name for name, _ in MTHP_TABLE)
MTHP_DESCRIPTIONS = dict(MTHP_TABLE)
(
    MTHP_ANON_FAULT_ALLOC,
    MTHP_ANON_FAULT_FALLBACK,
    MTHP_ANON_FAULT_FALLBACK_CHARGE,
    MTHP_ZSWPOUT,
    MTHP_SWPIN,
    MTHP_SWPIN_FALLBACK,
    MTHP_SWPIN_FALLBACK_CHARGE,
    MTHP_SWPOUT,
    MTHP_SWPOUT_FALLBACK,
    MTHP_SPLIT,
    MTHP_SPLIT_DEFERRED,
) = range(len(MTHP))
N_MTHP = len(MTHP)
N_ORDERS = 10  # orders 0..9 (PMD_ORDER 9 with 4 KiB pages)

assert len(MTHP_DESCRIPTIONS) == N_MTHP, "an mTHP counter name is listed twice"
assert all(globals()["MTHP_" + name.upper()] == i for i, name in enumerate(MTHP)), (
    "the MTHP_* indices must follow MTHP_TABLE's order"
)

# Each memory cgroup's own counters (memory.stat's names where v2 has one), kept per
# memcg by the engine after its charge words (mm/state.py MC_*) and carried by the
# Dataset as ``memcg_stat`` with a ``memcg`` dimension.
MEMCG_TABLE = (
    ("pswpout", "pages of the cgroup written to the swap device"),
    ("pswpin", "pages of the cgroup read from the swap device"),
    ("zswpout", "pages of the cgroup stored in zswap"),
    ("zswpin", "pages of the cgroup loaded from zswap"),
    ("pgfault", "page faults of the cgroup's tasks"),
    ("pgmajfault", "major faults of the cgroup's tasks"),
    ("pgsteal", "pages reclaimed from the cgroup's LRU lists (its limit's reclaim and global reclaim)"),
    ("memcg_reclaim", "reclaim entries because the cgroup reached its memory.max"),
    ("swap_max_fail", "swap-outs refused because the cgroup would go over memory.swap.max"),
)
MEMCG = tuple(name for name, _ in MEMCG_TABLE)
MEMCG_DESCRIPTIONS = dict(MEMCG_TABLE)
(
    MEMCG_PSWPOUT,
    MEMCG_PSWPIN,
    MEMCG_ZSWPOUT,
    MEMCG_ZSWPIN,
    MEMCG_PGFAULT,
    MEMCG_PGMAJFAULT,
    MEMCG_PGSTEAL,
    MEMCG_MEMCG_RECLAIM,
    MEMCG_SWAP_MAX_FAIL,
) = range(len(MEMCG))
N_MEMCG = len(MEMCG)

assert len(MEMCG_DESCRIPTIONS) == N_MEMCG, "a memcg counter name is listed twice"
assert all(globals()["MEMCG_" + name.upper()] == i for i, name in enumerate(MEMCG)), (
    "the MEMCG_* indices must follow MEMCG_TABLE's order"
)
