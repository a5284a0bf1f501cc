"""The vmstat-style counters a run reports: one table of name -> description.

Names are those of ``/proc/vmstat`` where the kernel has one (``pswpout``, ``zswpwb``,
``pgsteal_kswapd``, ...); the others count what the model injects or checks (``fault_*``,
``content_*``) or what swapoff(2) does.  The order of :data:`VMSTAT_TABLE` is the order of
the int64 vector the mm engine keeps (``MmState.vm``), so ``VM_<NAME>`` is the index of
``<name>``; the assert below keeps the two in step.  The run's Dataset carries each
description as the variable's ``long_name``.
"""
from __future__ import annotations

__all__ = ["N_VM", "VMSTAT", "VMSTAT_DESCRIPTIONS", "VMSTAT_TABLE"]

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
