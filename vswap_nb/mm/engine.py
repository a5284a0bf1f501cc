"""The memory-management engine: which swap metadata operations happen, when, and in what
order, for a page-event stream under memory pressure.  One Numba kernel call per
workload phase; the design's verbs are called through :mod:`vswap_nb.core.verbs`, so
one engine serves every design and each design's engine compiles once and caches.

What it models (kernel paths in brackets; [I] marks a reading of ours)
---------------------------------------------------------------------
Memory.  Every anonymous page in RAM is a folio (order 0; large folios are not
modelled).  Free memory = RAM pages - folios in use - pages of the zswap pool - pages
of zram's compressed store (zram keeps its data in RAM) - the design's swap metadata
(static and dynamic, sampled after every reclaim batch, so a design with more metadata
reclaims more under global pressure).  No memcg is charged for swap metadata: the
swap tables, memcg tables, XArray nodes, zswap entries and vswap clusters and
descriptors are allocated without __GFP_ACCOUNT in 6.18/6.19, P4 and vswap v6.
Fragmentation of the buddy allocator and compaction are not modelled.  The watermarks min/low/high
come from :class:`vswap_nb.mm.config.System`.  An optional memcg ``memory.max`` limits
the workload's charge: its folios plus its zswap pool pages on cgroup v2 (zswap memory
is charged to the memcg there, not on v1; zram's is not charged on either).

Page tables.  Per mm, one word triple per page: state (none / present / swapped), the
folio or the swap entry, and the content tag the page must hold.  A write gives the
page a fresh tag (a global generation number); a page that comes back from swap must
carry the tag its PTE expects, or ``content_errors`` counts it.

LRU [mm/vmscan.c].  Two lists, inactive and active.  New anonymous folios go to the
inactive list [since 5.9].  The aging rule (a simplified folio_check_references): an
access sets the folio's young bit; reclaim meeting a young folio clears the bit and
keeps it on the inactive list with PG_referenced set the first time, activates it the
second time; a folio without the young bit is reclaimed.  When the inactive list is
shorter than the active list, shrink_active_list moves up to 32 folios from the active
tail to the inactive list, clearing their young bits.

Reclaim in batches of SWAP_CLUSTER_MAX = 32 folios (shrink_folio_list): a folio not
in the swap cache gets an entry (``alloc``, folio_alloc_swap), its PTE is replaced by
the entry (``dup``, folio_dup_swap in try_to_unmap_one), a dirty folio is written out
(``writeout``: zero-filled pages to the zero backend (zeromap / zero flag / vswap zero),
zswap when on and it accepts the page, else the device), and the folio leaves the swap
cache (``cache_del``, __remove_mapping) and is freed.  A clean swap-cache folio (read
back from the device and not written since) skips the writeout.  A failed entry
allocation (swap full) activates the folio.

kswapd wakes when free memory falls below the low watermark and reclaims until it is
above high.  It runs on its own clock: before each page allocation it may run batches
while its clock is behind the allocating task's CPU clock, and each batch advances its
clock by the batch's model cost (counters x cost table, plus the mm costs of the
batch).  A design whose reclaim verbs cost more therefore reclaims fewer pages per unit
of time, free memory reaches the min watermark more often, and allocations do direct
reclaim (allocstall, pgsteal_direct) on the task's own CPU.  kswapd uses CPU 0's
per-CPU swap caches [I: kswapd is not bound; CPU 0 is our choice].  Reaching
``memory.max`` reclaims in the task's context (try_charge -> try_to_free_mem_cgroup_pages,
counted as pgsteal_direct, not allocstall).

Faults [mm/memory.c do_swap_page].  A swapped PTE: swap-cache lookup (hit: map it;
a readahead folio counts swap_ra_hit and feeds the VMA window's hits); on a miss the
design's ``ra_probe`` decides between the synchronous path (read this page only) and
swapin_readahead().  VMA readahead (default) sizes the window with
__swapin_nr_pages() (hits + 2, rounded up to a power of two at least 4, capped at
1 << min(page_cluster, 5), never below half the previous window; 1 or 2 when there
were no hits), places it forward, backward or centred by the direction of the last
fault, clips it to the mm's mapped range and to the PMD of the fault, and reads every
PTE of the window that holds a swap entry not in the swap cache (swap_ra counts the
pages read ahead).  Cluster readahead (``vma_readahead=False``) reads the aligned
block of 1 << page_cluster entries around the fault's entry value, skipping entries
with no swap count [I: the count test is free here, the kernel's costs a table read].
After mapping, the PTE's swap count is put (``put`` without cache reclaim,
folio_put_swap), and the folio leaves the swap cache (``cache_free``) when
should_try_to_free_swap() says so: the device is SWP_SYNCHRONOUS_IO, more than half of
the physical swap slots are in use (vm_swap_full, as the allocator reads it: a virtual
design's zero and zswap entries hold no slot), or the fault is a write (exclusive).  [I: for a virtual
entry the physical device's flag is used.]  A read fault that keeps the folio in the
swap cache maps it read-only; a later write frees the swap copy (wp fault ->
folio_free_swap).  A folio read from zswap is dirty (zswap loads are exclusive).

Unmap and exit [zap_pte_range].  Present pages free their folio (a folio still in the
swap cache first leaves it, free_swap_cache); swapped PTEs are put in runs of
consecutive entries within one PMD, each run through the design's ``pte_batch`` and
one ``put`` with cache reclaim (swap_put_entries_direct).

zswap [mm/zswap.c, 6.18/6.19].  The pool (compressed bytes by content class) is
limited to ``max_pool_percent`` of RAM.  zswap_check_limits() marks the pool full
(zswap_pool_reached_full) when it reaches the limit and clears the mark only at a store
attempt that finds it at or under ``accept_thr_percent`` (90%) of the limit; while
marked, every store is rejected before compressing (the page goes to the device) and
queues the shrink worker (zswap_shrink_work on a workqueue).  The worker runs on its
own clock, as kswapd does: while queued and behind a task's clock it writes back the
oldest entries one at a time, each through the design's ``zswap_writeback`` on CPU 0
[I: an unbound kworker], until the pool is at or under the accept threshold.  So the
lazy designs' physical-slot allocation at writeback is the worker's time, not the
reclaimer's.  The per-entry second chance of the kernel's LRU walk (an entry's
referenced bit) and the proactive memcg shrinker (``shrinker_enabled``, off by
default) are not modelled [I].  With writeback disabled a rejected page stays in
memory, dirty in the swap cache, and is activated.

Swapoff [mm/swapfile.c try_to_unuse; vswap: [S16], [S23]].  A SWAPOFF event runs
swapoff(8) in the task's context (see ``_swapoff``): the device stops taking
allocations; a design whose page tables hold device entries has every page table
walked and each swapped page mapped back in place (unuse_pte, folio_free_swap); then
every slot still in use is resolved through the design's ``unuse_entry`` / ``unuse``:
freed, or, for a virtual design, its virtual entry repointed at the page now in the
swap cache.  After it, a design that allocates the device slot at writeout (the
virtual ones) gets -ENOMEM there: the folio stays dirty and is activated
(``swap_alloc_fail``), as the kernel's failed swap_writeout does.  vm_swap_full() is
false (no swap space) and the device is no longer SWP_SYNCHRONOUS_IO.

Time.  Each CPU has a clock in model ns.  The scheduler runs the runnable task whose
CPU clock is lowest (ties: least recently run, then task id) for a quantum of 32 page
events; a task's work (mm costs plus the counters its verbs add, times the cost table)
advances its CPU's clock.  Barriers (usemem -y/-x) wait for every live task and move
the clocks to the last arrival.  Each phase is run by one kernel call: a task that
reaches the next phase waits for the call to end [I: phases are therefore ordered in
execution, not in model time].

Status codes returned to Python: 0 ok, ERR_OOM (reclaim found nothing to reclaim and
memory is exhausted), ERR_VERB (a design verb failed where the mm expected success).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..core import verbs
from ..core.counters import (
    N_OPS,
    N_PRIMITIVES,
    OP_CACHE_DEL,
    OP_DUP,
    OP_FREE,
    OP_READAHEAD,
    OP_SWAPIN,
    OP_SWAPOFF,
    OP_WRITEOUT,
    OP_ZSWAP_WB,
    PTE_READ,
)
from ..core.device import dev_next_used, dev_swapoff_begin, dev_swapoff_end, vm_swap_full
from ..core.jit import njit
from ..core.metadata import N_STRUCTURES
from ..core.ref import ref
from ..core.verbs import (
    BACKEND_DISK,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    C_CACHE_DROPS,
    C_CPU,
    C_FAULT_ATOMIC_HITS,
    C_FAULT_ATOMIC_RATE,
    C_SEED,
    C_ZSWAP_ENABLED,
    DROP_RING,
    ENOMEM,
    ENOSPC,
    F_FLAGS,
    FOLIO_MAPPED,
    RA_SYNC,
    splitmix64,
)
from ..core.vmstat import (
    N_VM,
    VM_ALLOCSTALL,
    VM_CONTENT_CHECKS,
    VM_CONTENT_ERRORS,
    VM_FAULT_ATOMIC_ALLOC,
    VM_FAULT_READAHEAD,
    VM_FAULT_SWAP_ALLOC,
    VM_FAULT_ZSWAP_REJECT,
    VM_MEMCG_RECLAIM,
    VM_OOM,
    VM_PGACTIVATE,
    VM_PGDEACTIVATE,
    VM_PGFAULT,
    VM_PGMAJFAULT,
    VM_PGSCAN_DIRECT,
    VM_PGSCAN_KSWAPD,
    VM_PGSTEAL_DIRECT,
    VM_PGSTEAL_KSWAPD,
    VM_PSWPIN,
    VM_PSWPOUT,
    VM_SWAPOFF_PAGES,
    VM_SWAPOFF_PTES,
    VM_SWAP_ALLOC_FAIL,
    VM_SWAP_RA,
    VM_SWAP_RA_HIT,
    VM_SWPIN_ZERO,
    VM_SWPOUT_ZERO,
    VM_ZSWAP_REJECT,
    VM_ZSWPIN,
    VM_ZSWPOUT,
    VM_ZSWPWB,
)
from ..core.events import (
    EV_A,
    EV_B,
    EV_C,
    EV_D,
    EV_KIND,
    F_WRITE,
    K_BARRIER,
    K_EXIT,
    K_MMAP,
    K_PHASE,
    K_SWAPOFF,
    K_TOUCH,
    K_TOUCH_RANDOM,
    K_UNMAP,
)
from .config import (
    P_DEV_DEDUP_SAME,
    P_DEV_IN_RAM,
    P_DEV_READ_NS,
    P_DEV_SYNC,
    P_DEV_WRITE_NS,
    P_FAULT_ATOMIC_ALLOC,
    P_FAULT_READAHEAD,
    P_FAULT_SWAP_ALLOC,
    P_FAULT_ZSWAP_REJECT,
    P_KSWAPD,
    P_MEMCG_CHARGES_ZSWAP,
    N_PARAMS,
    P_MEMCG_MAX_PAGES,
    P_PAGE_CLUSTER,
    P_RAM_PAGES,
    P_SWAP_SLOTS,
    P_VMA_RA,
    P_WMARK_HIGH,
    P_WMARK_LOW,
    P_WMARK_MIN,
    P_ZRAM_RATIO_SEQ,
    P_ZSWAP_COMPRESS_NS,
    P_ZSWAP_DECOMPRESS_NS,
    P_ZSWAP_MAX_POOL_PAGES,
    P_ZSWAP_ON,
    P_ZSWAP_RATIO_SEQ,
    P_ZSWAP_SHRINKER,
    P_ZSWAP_WRITEBACK,
)
from .cost import (
    M_FAULT,
    M_LRU_OP,
    M_PAGE_ALLOC,
    M_PAGE_FREE,
    M_PAGE_TOUCH,
    M_PAGE_ZERO,
    M_PTE_ZAP,
    M_RECLAIM_BATCH,
    M_SAME_FILLED_CHECK,
    M_UNMAP_PTE,
    N_MM,
)

__all__ = ["MmState", "new_mm_state", "run_phase"]

PAGE_SIZE = 4096
SWAP_CLUSTER_MAX = 32
QUANTUM = 32
PMD_PAGES = 512
SWAP_RA_ORDER_CEILING = 5
ZSWAP_ACCEPT_THR = 90  # zswap.accept_threshold_percent default
MEMCG_ID = 1  # the workload's memcg (every task runs in it)


OK = 0
ERR_OOM = 1
ERR_VERB = 2

# page-table words
PT_STATE, PT_VAL, PT_TAG = 0, 1, 2
PTE_NONE, PTE_PRESENT, PTE_SWAP = 0, 1, 2

# folio words
FO_PAGE, FO_FLAGS, FO_TAG, FO_NEXT, FO_PREV, FO_ENTRY, FO_CLASS = range(7)
FO_WORDS = 7
FL_USED = 1
FL_DIRTY = 2
FL_YOUNG = 4
FL_REFERENCED = 8
FL_ACTIVE = 16
FL_READAHEAD = 32
FL_RO = 64
FL_ONLRU = 128

# LRU rows: head, tail, count
LRU_HEAD, LRU_TAIL, LRU_COUNT = 0, 1, 2
INACTIVE, ACTIVE = 0, 1

# swap store (open addressing on the entry value): tag, info (class | where << 4), folio
SV_TAG, SV_INFO, SV_FOLIO = 0, 1, 2
W_NONE, W_ZERO, W_ZSWAP, W_DISK = 0, 1, 2, 3
EMPTY_KEY = 0  # entries are never 0
PARKED = -2  # TK_WAIT of a task stopped at the next phase

# task words
(
    TK_EV,
    TK_PROG,
    TK_CPU,
    TK_MM,
    TK_PHASE,
    TK_WAIT,
    TK_DONE,
    TK_RA_PREV,
    TK_RA_WIN,
    TK_RA_HITS,
    TK_LAST_RUN,
) = range(11)
TK_WORDS = 11

# integer meta
(
    M_USED_FOLIOS,
    M_FREE_TOP,
    M_GEN,
    M_STEP,
    M_KSWAPD_AWAKE,
    M_STATUS,
    M_STORE_LIVE,
    M_ZQ_HEAD,
    M_ZQ_TAIL,
    M_SEED,
    M_BATCHES,
    M_LIVE_SWAP,
    M_PAGE_EVENTS,
    M_PHASE_DONE,
    M_SWAPOFF,  # 1 once the swap device was swapped off
    M_FAULT_DRAWS,  # + kind: attempts so far of each injected fault
) = range(16)
M_ZSWAP_FULL = M_FAULT_DRAWS + 3  # zswap_pool_reached_full
M_ZSWAP_WORK = M_ZSWAP_FULL + 1  # the shrink worker is queued
M_MD_PAGES = M_ZSWAP_FULL + 2  # pages of swap metadata at the last sample (taken from RAM)
N_META = M_ZSWAP_FULL + 3

# float meta
(
    FM_KSWAPD_CLOCK,
    FM_ACCOUNTED,
    FM_ZSWAP_BYTES,
    FM_ZRAM_BYTES,
    FM_KSWAPD_BUSY,
    FM_PENDING,
    FM_SWAPOFF_NS,
    FM_NOW,  # the clock of whoever reclaims now (a task's CPU, or kswapd's)
    FM_ZSWAP_WB_CLOCK,  # the zswap shrink worker's clock
    FM_ZSWAP_WB_BUSY,  # model ns the worker spent
) = range(10)
N_FMETA = 10

# The fixed-size vectors of the state live in two headers, one int64 and one float64,
# at these offsets (st.hi[H_VM + VM_PSWPOUT], st.hf[F_PARAMS + P_KSWAPD]): two arrays
# instead of ten in the namedtuple that run_phase receives from Python (core/ref.py).


def _offsets(*sizes):
    """The offsets of consecutive blocks of ``sizes`` in one vector, then its length."""
    out = [0]
    for n in sizes:
        out.append(out[-1] + n)
    return tuple(out)


H_VM, H_META, H_MD_NOW, H_MD_PEAK, H_MD_PEAK_TOTAL, N_HI = _offsets(N_VM, N_META, N_STRUCTURES, N_STRUCTURES, 1)
F_FMETA, F_PARAMS, F_PRIM_NS, F_MM_NS, F_FILL, N_HF = _offsets(N_FMETA, N_PARAMS, N_PRIMITIVES, N_MM, 3)


class MmState(namedtuple(
    "MmState",
    [
        "pt",  # int64[total pages, 3]
        "mm_base",  # int64[nmm + 1] first page of each mm
        "fo",  # int64[nfolios, FO_WORDS]
        "free_stack",  # int64[nfolios]
        "lru",  # int64[2, 3]
        "store_key",  # int64[cap]
        "store_val",  # int64[cap, 3]
        "zq",  # int64[zq cap] zswap entries in store order (the shrinker's LRU)
        "task",  # int64[ntasks, TK_WORDS]
        "barrier_t",  # float64[ntasks] arrival clock at the current barrier
        "cpu_clock",  # float64[ncpu]
        "phase_t",  # float64[ntasks, nphases, 2] start and end clock of each phase
        "phase_cpu",  # float64[ntasks, nphases] ns of work each task did per phase
        "hi",  # int64[N_HI]: vm, meta, md_now, md_peak, md_peak_total
        "hf",  # float64[N_HF]: fmeta, params, prim_ns, mm_ns, fill
    ],
)):
    """The engine's state.  In Python the header vectors read by name (views, so a
    write through one is a write to the state): ``st.vm``, ``st.meta``, ``st.fmeta``,
    ``st.params``, ``st.prim_ns``, ``st.mm_ns``, ``st.md_now``, ``st.md_peak``,
    ``st.md_peak_total``, ``st.fill``.  Kernels index the headers at the offsets."""

    __slots__ = ()

    vm = property(lambda self: self.hi[H_VM:H_META])
    meta = property(lambda self: self.hi[H_META:H_MD_NOW])
    md_now = property(lambda self: self.hi[H_MD_NOW:H_MD_PEAK])
    md_peak = property(lambda self: self.hi[H_MD_PEAK:H_MD_PEAK_TOTAL])
    md_peak_total = property(lambda self: self.hi[H_MD_PEAK_TOTAL:N_HI])
    fmeta = property(lambda self: self.hf[F_FMETA:F_PARAMS])
    params = property(lambda self: self.hf[F_PARAMS:F_PRIM_NS])
    prim_ns = property(lambda self: self.hf[F_PRIM_NS:F_MM_NS])
    mm_ns = property(lambda self: self.hf[F_MM_NS:F_FILL])
    fill = property(lambda self: self.hf[F_FILL:N_HF])


def _pow2_at_least(n: int) -> int:
    p = 1
    while p < n:
        p <<= 1
    return p


def new_mm_state(workload, params, prim_ns, mm_ns, ncpu: int, nfolios: int, seed: int, entry_space: int) -> MmState:
    """Fresh engine state for ``workload`` on the system ``params`` (System.to_params);
    ``entry_space`` bounds the design's entry values (:func:`vswap_nb.designs.entry_space`)."""
    mm_base = np.zeros(workload.nmm + 1, dtype=np.int64)
    mm_base[1:] = np.cumsum(workload.mm_pages)
    total = int(mm_base[-1])
    cap = int(entry_space)
    # the shrinker's queue (a ring that forgets its oldest records when full): live
    # entries never outnumber the workload's pages nor the swap slots plus folios
    live_max = min(total, int(params[P_SWAP_SLOTS]) + nfolios)
    zq_cap = _pow2_at_least((4 * live_max) // 3 + 16) if params[P_ZSWAP_ON] != 0 else 1
    ntasks = workload.ntasks
    task = np.zeros((ntasks, TK_WORDS), dtype=np.int64)
    task[:, TK_EV] = workload.task_start[:-1]
    task[:, TK_MM] = workload.task_mm
    task[:, TK_PHASE] = -1
    task[:, TK_WAIT] = -1
    task[:, TK_RA_PREV] = -1
    task[:, TK_RA_HITS] = 4  # a VMA starts with SWAP_RA_VAL(0, 0, 4)
    for t in range(ntasks):
        c = int(workload.task_cpu[t])
        task[t, TK_CPU] = (c if c >= 0 else t) % ncpu
    fo = np.zeros((nfolios, FO_WORDS), dtype=np.int64)
    fo[:, FO_PAGE] = -1
    fo[:, FO_NEXT] = -1
    fo[:, FO_PREV] = -1
    hi = np.zeros(N_HI, dtype=np.int64)
    hi[H_META + M_FREE_TOP] = nfolios
    hi[H_META + M_SEED] = seed
    hf = np.zeros(N_HF, dtype=np.float64)
    hf[F_PARAMS:F_PRIM_NS] = params
    hf[F_PRIM_NS:F_MM_NS] = prim_ns
    hf[F_MM_NS:F_FILL] = mm_ns
    hf[F_FILL:N_HF] = workload.fill
    lru = np.full((2, 3), -1, dtype=np.int64)
    lru[:, LRU_COUNT] = 0
    nph = max(len(workload.phases), 1)
    return MmState(
        pt=np.zeros((total, 3), dtype=np.int64),
        mm_base=mm_base,
        fo=fo,
        free_stack=np.arange(nfolios - 1, -1, -1, dtype=np.int64),
        lru=lru,
        store_key=np.zeros(cap, dtype=np.int64),
        store_val=np.zeros((cap, 3), dtype=np.int64),
        zq=np.zeros(zq_cap, dtype=np.int64),
        task=task,
        barrier_t=np.zeros(ntasks, dtype=np.float64),
        cpu_clock=np.zeros(ncpu, dtype=np.float64),
        phase_t=np.full((ntasks, nph, 2), -1.0, dtype=np.float64),
        phase_cpu=np.zeros((ntasks, nph), dtype=np.float64),
        hi=hi,
        hf=hf,
    )


# --------------------------------------------------------------------------- hashing

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(inline="always")
def _fault(st, p, kind):
    """Whether injected fault ``kind`` (rate ``params[p]``) hits this attempt: a hash of
    the seed, the kind and the attempt number, so a seed fails the same attempts."""
    rate = st.hf[F_PARAMS + p]
    if rate <= 0.0:
        return False
    n = st.hi[H_META + M_FAULT_DRAWS + kind]
    st.hi[H_META + M_FAULT_DRAWS + kind] = n + 1
    return np.float64(verbs.fault_draw(st.hi[H_META + M_SEED], kind, n)) * (1.0 / 9007199254740992.0) < rate


@njit(inline="always")
def _content_class(st, mm, vpn):
    h = splitmix64(
        np.uint64(st.hi[H_META + M_SEED]) * np.uint64(0x9E3779B97F4A7C15)
        + np.uint64(mm) * np.uint64(0xD1B54A32D192ED03)
        + np.uint64(vpn)
    )
    u = np.float64(h >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    if u < st.hf[F_FILL + 0]:
        return 0
    if u < st.hf[F_FILL + 0] + st.hf[F_FILL + 1]:
        return 1
    return 2


@njit(inline="always")
def _random_vpn(seed, task, ev_index, i, start, span):
    h = splitmix64(
        splitmix64(np.uint64(seed) ^ (np.uint64(task) * np.uint64(0x9E3779B97F4A7C15)))
        + np.uint64(ev_index) * np.uint64(0xD1B54A32D192ED03)
        + np.uint64(i)
    )
    return start + np.int64(h % np.uint64(span))


# --------------------------------------------------------------------------- swap store


# The store is indexed by the entry value itself: the design's entry space is known
# when the run starts (designs.entry_space), entries are handed out cluster by cluster,
# so neighbouring pages' records are neighbours in memory (a hash table here cost a
# cache miss per swap-out and per free).  ``store_key[e]`` is ``e`` while entry e holds
# a record, EMPTY_KEY otherwise.


@njit(inline="always")
def _store_find(st, key):
    if st.store_key[key] == key:
        return key
    return -1


@njit(inline="always")
def _store_insert(st, key):
    if st.store_key[key] != key:
        st.store_key[key] = key
        st.store_val[key, SV_TAG] = 0
        st.store_val[key, SV_INFO] = 0
        st.store_val[key, SV_FOLIO] = -1
        st.hi[H_META + M_STORE_LIVE] += 1
    return key


@njit(inline="always")
def _store_delete_at(st, i):
    st.hi[H_META + M_STORE_LIVE] -= 1
    st.store_key[i] = EMPTY_KEY


@njit(inline="always")
def _zsize(st, cls):
    return st.hf[F_PARAMS + P_ZSWAP_RATIO_SEQ + cls] * PAGE_SIZE


@njit(inline="always")
def _dsize(st, cls):
    if st.hf[F_PARAMS + P_DEV_IN_RAM] == 0:
        return 0.0
    if cls != 0 and st.hf[F_PARAMS + P_DEV_DEDUP_SAME] != 0:
        return 0.0
    return st.hf[F_PARAMS + P_ZRAM_RATIO_SEQ + cls] * PAGE_SIZE


@njit
def _store_drop_data(st, i):
    """The data of the store slot i goes away (pool accounting)."""
    info = st.store_val[i, SV_INFO]
    cls = info & 15
    where = info >> 4
    if where == W_ZSWAP:
        st.hf[F_FMETA + FM_ZSWAP_BYTES] -= _zsize(st, cls)
    elif where == W_DISK:
        st.hf[F_FMETA + FM_ZRAM_BYTES] -= _dsize(st, cls)
    st.store_val[i, SV_INFO] = cls


@njit
def _entry_dead(st, entry):
    """The design freed ``entry``: forget its data."""
    i = _store_find(st, entry)
    if i >= 0:
        _store_drop_data(st, i)
        _store_delete_at(st, i)
        st.hi[H_META + M_LIVE_SWAP] -= 1


# --------------------------------------------------------------------------- memory


@njit(inline="always")
def _pool_pages(st):
    b = st.hf[F_FMETA + FM_ZSWAP_BYTES] + st.hf[F_FMETA + FM_ZRAM_BYTES]
    return np.int64(np.ceil(b / PAGE_SIZE))


@njit(inline="always")
def _avail(st):
    """Free pages: RAM less the folios, zswap's pool and zram's store, and the swap
    metadata (sampled after every reclaim batch; no memcg is charged for it)."""
    return np.int64(st.hf[F_PARAMS + P_RAM_PAGES]) - st.hi[H_META + M_USED_FOLIOS] - _pool_pages(st) - st.hi[H_META + M_MD_PAGES]


@njit(inline="always")
def _memcg_usage(st):
    if st.hf[F_PARAMS + P_MEMCG_CHARGES_ZSWAP] == 0:  # cgroup v1: zswap's pool is not charged
        return st.hi[H_META + M_USED_FOLIOS]
    return st.hi[H_META + M_USED_FOLIOS] + np.int64(np.ceil(st.hf[F_FMETA + FM_ZSWAP_BYTES] / PAGE_SIZE))


@njit
def _lru_del(st, f):
    fl = st.fo[f, FO_FLAGS]
    if (fl & FL_ONLRU) == 0:
        return
    lst = ACTIVE if fl & FL_ACTIVE else INACTIVE
    p = st.fo[f, FO_PREV]
    n = st.fo[f, FO_NEXT]
    if p >= 0:
        st.fo[p, FO_NEXT] = n
    else:
        st.lru[lst, LRU_HEAD] = n
    if n >= 0:
        st.fo[n, FO_PREV] = p
    else:
        st.lru[lst, LRU_TAIL] = p
    st.fo[f, FO_NEXT] = -1
    st.fo[f, FO_PREV] = -1
    st.lru[lst, LRU_COUNT] -= 1
    st.fo[f, FO_FLAGS] = fl & ~(FL_ONLRU | FL_ACTIVE)


@njit
def _lru_add_head(st, f, lst):
    h = st.lru[lst, LRU_HEAD]
    st.fo[f, FO_PREV] = -1
    st.fo[f, FO_NEXT] = h
    if h >= 0:
        st.fo[h, FO_PREV] = f
    else:
        st.lru[lst, LRU_TAIL] = f
    st.lru[lst, LRU_HEAD] = f
    st.lru[lst, LRU_COUNT] += 1
    fl = st.fo[f, FO_FLAGS] | FL_ONLRU
    if lst == ACTIVE:
        fl |= FL_ACTIVE
    else:
        fl &= ~FL_ACTIVE
    st.fo[f, FO_FLAGS] = fl


@njit
def _folio_pop(st, ctx):
    top = st.hi[H_META + M_FREE_TOP]
    if top == 0:
        return -1
    top -= 1
    st.hi[H_META + M_FREE_TOP] = top
    f = st.free_stack[top]
    st.hi[H_META + M_USED_FOLIOS] += 1
    st.fo[f, FO_FLAGS] = FL_USED
    st.fo[f, FO_PAGE] = -1
    st.fo[f, FO_ENTRY] = 0
    ctx.folio[f, F_FLAGS] = 0
    return f


@njit
def _folio_free(st, ctx, f):
    _lru_del(st, f)
    st.fo[f, FO_FLAGS] = 0
    st.fo[f, FO_PAGE] = -1
    st.fo[f, FO_ENTRY] = 0
    ctx.folio[f, F_FLAGS] = 0
    st.free_stack[st.hi[H_META + M_FREE_TOP]] = f
    st.hi[H_META + M_FREE_TOP] += 1
    st.hi[H_META + M_USED_FOLIOS] -= 1


@njit
def _drain_drops(st, ctx, seen):
    """Folios the design dropped from the swap cache since ``seen``: their entries are
    freed; an unmapped one is freed too.  Returns the new mark."""
    n = ctx.meta[C_CACHE_DROPS]
    for k in range(seen, n):
        f = ctx.drops[k % DROP_RING]
        e = st.fo[f, FO_ENTRY]
        if e != 0:
            _entry_dead(st, e)
            st.fo[f, FO_ENTRY] = 0
        st.fo[f, FO_FLAGS] &= ~FL_RO
        if (st.fo[f, FO_FLAGS] & FL_USED) and (ctx.folio[f, F_FLAGS] & FOLIO_MAPPED) == 0:
            _folio_free(st, ctx, f)
    return n


# --------------------------------------------------------------------------- cost


@njit(inline="always")
def _add_op_cost(st, ctx, op, c):
    """``c`` plus the model ns of counter row ``op`` (counters x cost table)."""
    for p in range(N_PRIMITIVES):
        v = ctx.counters[op, p]
        if v != 0:
            c += v * st.hf[F_PRIM_NS + p]
    return c


@njit
def _cost_now(st, ctx):
    c = 0.0
    for op in range(N_OPS):
        c = _add_op_cost(st, ctx, op, c)
    return c


@njit
def _flush_cost(st, ctx):
    """Model ns the verbs spent since the last flush."""
    c = _cost_now(st, ctx)
    d = c - st.hf[F_FMETA + FM_ACCOUNTED]
    st.hf[F_FMETA + FM_ACCOUNTED] = c
    return d


# --------------------------------------------------------------------------- reclaim


@njit
def _choose_backend(st, cls):
    """What swap_writeout() does with a page of content class ``cls``."""
    if cls == 1:
        return BACKEND_ZERO
    if st.hf[F_PARAMS + P_ZSWAP_ON] != 0:
        return BACKEND_ZSWAP
    return BACKEND_DISK


@njit(inline="always")
def _zswap_check_limits(st):
    """zswap_check_limits(): the pool is full from when it reaches its limit until it is
    back at or under ``accept_thr_percent`` (90%) of it, checked at a store attempt."""
    cur = np.ceil(st.hf[F_FMETA + FM_ZSWAP_BYTES] / PAGE_SIZE)
    mx = st.hf[F_PARAMS + P_ZSWAP_MAX_POOL_PAGES]
    if cur >= mx:
        st.hi[H_META + M_ZSWAP_FULL] = 1
    elif st.hi[H_META + M_ZSWAP_FULL] != 0 and cur <= np.floor(mx * ZSWAP_ACCEPT_THR / 100):
        st.hi[H_META + M_ZSWAP_FULL] = 0
    return st.hi[H_META + M_ZSWAP_FULL] != 0


@njit
def _zswap_writeback_one(st, ctx, dst):
    """zswap_writeback_entry() of the oldest zswap entry, on CPU 0 [I: an unbound
    kworker].  Returns (written back?, mm ns); False when nothing is left to write."""
    cap = st.zq.shape[0]
    while st.hi[H_META + M_ZQ_HEAD] < st.hi[H_META + M_ZQ_TAIL]:
        e = st.zq[st.hi[H_META + M_ZQ_HEAD] % cap]
        st.hi[H_META + M_ZQ_HEAD] += 1
        i = _store_find(st, e)
        if i < 0 or (st.store_val[i, SV_INFO] >> 4) != W_ZSWAP or st.store_val[i, SV_FOLIO] >= 0:
            continue
        tmp = _folio_pop(st, ctx)
        if tmp < 0:
            return False, 0.0
        ctx.meta[C_CPU] = 0
        seen = ctx.meta[C_CACHE_DROPS]
        r = verbs.zswap_writeback(dst, ctx, OP_ZSWAP_WB, e, tmp)
        _folio_free(st, ctx, tmp)
        # a lazy design allocates the slot here, and its allocator may reclaim
        # cache-only slots: those folios leave the swap cache (tmp is already free)
        _drain_drops(st, ctx, seen)
        if r < 0:
            continue
        cls = st.store_val[i, SV_INFO] & 15
        _store_drop_data(st, i)
        st.store_val[i, SV_INFO] = cls | (W_DISK << 4)
        st.hf[F_FMETA + FM_ZRAM_BYTES] += _dsize(st, cls)
        st.hi[H_VM + VM_ZSWPWB] += 1
        st.hi[H_VM + VM_PSWPOUT] += 1
        ns = st.hf[F_PARAMS + P_ZSWAP_DECOMPRESS_NS]
        if _dev_sync(st):
            ns += st.hf[F_PARAMS + P_DEV_WRITE_NS]
        return True, ns
    return False, 0.0


@njit(inline="always")
def _zswap_queue_work(st):
    """queue_work(shrink_wq, &zswap_shrink_work): a rejected store while the pool is
    full wakes the shrink worker, which starts when it is queued."""
    if st.hi[H_META + M_ZSWAP_WORK] == 0:
        st.hi[H_META + M_ZSWAP_WORK] = 1
        st.hf[F_FMETA + FM_ZSWAP_WB_CLOCK] = max(st.hf[F_FMETA + FM_ZSWAP_WB_CLOCK], st.hf[F_FMETA + FM_NOW])


@njit(inline="always")
def _worker_begin(st, ctx):
    """A worker on its own clock (kswapd, zswap's shrink worker) starts a unit of work:
    the counted work so far is the task's, set aside as pending."""
    st.hf[F_FMETA + FM_PENDING] += _flush_cost(st, ctx)


@njit(inline="always")
def _worker_end(st, ctx, ns, clock, busy):
    """... and ends it: its mm ns plus the counted work since ``_worker_begin`` advance
    the worker's clock (fmeta index ``clock``) and its busy time (``busy``)."""
    spent = ns + _flush_cost(st, ctx)
    st.hf[F_FMETA + clock] += spent
    st.hf[F_FMETA + busy] += spent


@njit
def _zswap_worker_catch_up(st, ctx, dst, now):
    """shrink_worker() on its own clock, as kswapd runs: while it is queued and behind
    ``now`` it writes back the oldest entries, one at a time, until the pool is at or
    under the accept threshold."""
    if st.hi[H_META + M_ZSWAP_WORK] == 0:
        return
    accept = np.floor(st.hf[F_PARAMS + P_ZSWAP_MAX_POOL_PAGES] * ZSWAP_ACCEPT_THR / 100)
    while st.hf[F_FMETA + FM_ZSWAP_WB_CLOCK] < now:
        if np.ceil(st.hf[F_FMETA + FM_ZSWAP_BYTES] / PAGE_SIZE) <= accept:
            st.hi[H_META + M_ZSWAP_WORK] = 0
            return
        _worker_begin(st, ctx)
        ok, ns = _zswap_writeback_one(st, ctx, dst)
        _worker_end(st, ctx, ns, FM_ZSWAP_WB_CLOCK, FM_ZSWAP_WB_BUSY)
        if not ok or st.hi[H_META + M_STATUS] != OK:
            st.hi[H_META + M_ZSWAP_WORK] = 0
            return


@njit(inline="always")
def _writeout(st, ctx, dst, cpu, f, e):
    """pageout() of the dirty swap-cache folio f (entry e).  Returns (ok, mm ns)."""
    cls = st.fo[f, FO_CLASS]
    backend = _choose_backend(st, cls)
    ns = 0.0
    if backend == BACKEND_ZSWAP:
        full = _zswap_check_limits(st)
        injected = not full and _fault(st, P_FAULT_ZSWAP_REJECT, 1)
        if not full:
            ns += st.hf[F_PARAMS + P_ZSWAP_COMPRESS_NS]  # a full pool rejects before compressing
        if full or injected:
            st.hi[H_VM + VM_ZSWAP_REJECT] += 1
            if injected:
                st.hi[H_VM + VM_FAULT_ZSWAP_REJECT] += 1
            elif st.hf[F_PARAMS + P_ZSWAP_SHRINKER] != 0 and st.hf[F_PARAMS + P_ZSWAP_WRITEBACK] != 0:
                _zswap_queue_work(st)
            if st.hf[F_PARAMS + P_ZSWAP_WRITEBACK] == 0:
                return False, ns
            backend = BACKEND_DISK
    ctx.meta[C_CPU] = cpu
    r = verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, backend)
    if r != backend:
        if backend == BACKEND_DISK and (r == ENOMEM or r == ENOSPC):
            # a design that allocates the device slot at writeout found none (device
            # full or swapped off): the folio stays, dirty, and is activated
            st.hi[H_VM + VM_SWAP_ALLOC_FAIL] += 1
            return False, ns
        st.hi[H_META + M_STATUS] = ERR_VERB
        return False, ns
    i = _store_insert(st, e)
    _store_drop_data(st, i)
    st.store_val[i, SV_TAG] = st.fo[f, FO_TAG]
    if backend == BACKEND_ZERO:
        st.store_val[i, SV_INFO] = cls | (W_ZERO << 4)
        ns += st.hf[F_MM_NS + M_SAME_FILLED_CHECK]
        st.hi[H_VM + VM_SWPOUT_ZERO] += 1
    elif backend == BACKEND_ZSWAP:
        st.store_val[i, SV_INFO] = cls | (W_ZSWAP << 4)
        st.hf[F_FMETA + FM_ZSWAP_BYTES] += _zsize(st, cls)
        cap = st.zq.shape[0]
        if st.hi[H_META + M_ZQ_TAIL] - st.hi[H_META + M_ZQ_HEAD] >= cap:
            st.hi[H_META + M_ZQ_HEAD] += 1  # forget the oldest record (its entry is long gone)
        st.zq[st.hi[H_META + M_ZQ_TAIL] % cap] = e
        st.hi[H_META + M_ZQ_TAIL] += 1
        st.hi[H_VM + VM_ZSWPOUT] += 1
    else:
        st.store_val[i, SV_INFO] = cls | (W_DISK << 4)
        st.hf[F_FMETA + FM_ZRAM_BYTES] += _dsize(st, cls)
        st.hi[H_VM + VM_PSWPOUT] += 1
        if _dev_sync(st):
            ns += st.hf[F_PARAMS + P_DEV_WRITE_NS]
    st.fo[f, FO_FLAGS] &= ~FL_DIRTY
    return True, ns


@njit(inline="always")
def _reclaim_folio(st, ctx, dst, cpu):
    """shrink_folio_list() on the inactive tail folio.  Returns (reclaimed, mm ns)."""
    f = st.lru[INACTIVE, LRU_TAIL]
    fl = st.fo[f, FO_FLAGS]
    ns = st.hf[F_MM_NS + M_LRU_OP]
    if fl & FL_YOUNG:
        st.fo[f, FO_FLAGS] = fl & ~FL_YOUNG
        _lru_del(st, f)
        if fl & FL_REFERENCED:
            st.fo[f, FO_FLAGS] &= ~FL_REFERENCED
            _lru_add_head(st, f, ACTIVE)
            st.hi[H_VM + VM_PGACTIVATE] += 1
        else:
            st.fo[f, FO_FLAGS] |= FL_REFERENCED
            _lru_add_head(st, f, INACTIVE)
        return 0, ns
    st.fo[f, FO_FLAGS] = fl & ~FL_REFERENCED
    seen = ctx.meta[C_CACHE_DROPS]
    e = st.fo[f, FO_ENTRY]
    if e == 0:
        if _fault(st, P_FAULT_SWAP_ALLOC, 0):
            st.hi[H_VM + VM_FAULT_SWAP_ALLOC] += 1
            e = -28  # -ENOSPC: as if the device were full
        else:
            ctx.meta[C_CPU] = cpu
            e = verbs.alloc(dst, ctx, cpu, 0, f, MEMCG_ID)
            _drain_drops(st, ctx, seen)
        if e < 0:
            st.hi[H_VM + VM_SWAP_ALLOC_FAIL] += 1
            _lru_del(st, f)
            _lru_add_head(st, f, ACTIVE)
            st.hi[H_VM + VM_PGACTIVATE] += 1
            return 0, ns
        st.fo[f, FO_ENTRY] = e
        st.fo[f, FO_FLAGS] |= FL_DIRTY
        i = _store_insert(st, e)
        st.store_val[i, SV_TAG] = st.fo[f, FO_TAG]
        st.store_val[i, SV_INFO] = st.fo[f, FO_CLASS]
        st.store_val[i, SV_FOLIO] = f
        st.hi[H_META + M_LIVE_SWAP] += 1
    ctx.meta[C_CPU] = cpu
    if ctx.folio[f, F_FLAGS] & FOLIO_MAPPED:
        # try_to_unmap_one: the PTE takes the entry
        page = st.fo[f, FO_PAGE]
        verbs.dup(dst, ctx, OP_DUP, e, 1)
        st.pt[page, PT_STATE] = PTE_SWAP
        st.pt[page, PT_VAL] = e
        ctx.folio[f, F_FLAGS] &= ~FOLIO_MAPPED
        st.fo[f, FO_PAGE] = -1
        st.fo[f, FO_FLAGS] &= ~FL_RO
        ns += st.hf[F_MM_NS + M_UNMAP_PTE]
    elif verbs.swap_count(dst, e) == 0:
        # nobody maps it and no PTE holds the entry: folio_free_swap, then free it
        seen = ctx.meta[C_CACHE_DROPS]
        freed = verbs.cache_free(dst, ctx, OP_CACHE_DEL, e, 1) > 0
        _drain_drops(st, ctx, seen)
        if freed:
            _entry_dead(st, e)
            st.fo[f, FO_ENTRY] = 0
            _folio_free(st, ctx, f)
            return 1, ns + st.hf[F_MM_NS + M_PAGE_FREE]
        if (st.fo[f, FO_FLAGS] & FL_USED) == 0 or st.fo[f, FO_ENTRY] == 0:
            return 1, ns + st.hf[F_MM_NS + M_PAGE_FREE]  # a drop took it
    if st.fo[f, FO_FLAGS] & FL_DIRTY:
        seen = ctx.meta[C_CACHE_DROPS]
        ok, wns = _writeout(st, ctx, dst, cpu, f, e)
        # a lazy design allocates the slot at writeout, and its allocator may reclaim
        # cache-only slots: those folios leave the swap cache
        _drain_drops(st, ctx, seen)
        ns += wns
        if (st.fo[f, FO_FLAGS] & FL_USED) == 0 or st.fo[f, FO_ENTRY] == 0:
            return 1, ns + st.hf[F_MM_NS + M_PAGE_FREE]  # a drop took this folio too
        if not ok:
            _lru_del(st, f)
            _lru_add_head(st, f, ACTIVE)
            st.hi[H_VM + VM_PGACTIVATE] += 1
            return 0, ns
    ctx.meta[C_CPU] = cpu
    verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
    i = _store_find(st, e)
    if i >= 0:
        st.store_val[i, SV_FOLIO] = -1
    st.fo[f, FO_ENTRY] = 0
    _folio_free(st, ctx, f)
    return 1, ns + st.hf[F_MM_NS + M_PAGE_FREE]


@njit
def _shrink_active(st):
    """shrink_active_list(): up to 32 folios from the active tail to the inactive head,
    young bits cleared."""
    n = 0
    ns = 0.0
    while n < SWAP_CLUSTER_MAX and st.lru[ACTIVE, LRU_COUNT] > 0:
        f = st.lru[ACTIVE, LRU_TAIL]
        _lru_del(st, f)
        st.fo[f, FO_FLAGS] &= ~(FL_YOUNG | FL_REFERENCED)
        _lru_add_head(st, f, INACTIVE)
        st.hi[H_VM + VM_PGDEACTIVATE] += 1
        ns += st.hf[F_MM_NS + M_LRU_OP]
        n += 1
    return ns


@njit
def _shrink_batch(st, ctx, dst, cpu, kswapd):
    """One reclaim pass (do_try_to_free_pages / balance_pgdat in miniature): at priority
    12 down to 0, balance the lists and scan ``max(32, lru size >> priority)`` folios
    from the inactive tail, stopping once 32 folios are reclaimed.  Returns (reclaimed,
    mm ns); 0 reclaimed means a full scan found nothing reclaimable."""
    ns = st.hf[F_MM_NS + M_RECLAIM_BATCH]
    reclaimed = 0
    scanned = 0
    prio = 12
    while prio >= 0 and reclaimed < SWAP_CLUSTER_MAX:
        size = st.lru[INACTIVE, LRU_COUNT] + st.lru[ACTIVE, LRU_COUNT]
        quota = max(np.int64(SWAP_CLUSTER_MAX), size >> prio)
        if st.lru[INACTIVE, LRU_COUNT] < st.lru[ACTIVE, LRU_COUNT]:
            ns += _shrink_active(st)
        n = 0
        while reclaimed < SWAP_CLUSTER_MAX and n < quota:
            if st.lru[INACTIVE, LRU_COUNT] == 0:
                if st.lru[ACTIVE, LRU_COUNT] == 0:
                    break
                ns += _shrink_active(st)
            r, rns = _reclaim_folio(st, ctx, dst, cpu)
            if st.hi[H_META + M_STATUS] != OK:
                break
            reclaimed += r
            n += 1
            ns += rns
        scanned += n
        if st.hi[H_META + M_STATUS] != OK or size == 0:
            break
        prio -= 1
    if kswapd:
        st.hi[H_VM + VM_PGSTEAL_KSWAPD] += reclaimed
        st.hi[H_VM + VM_PGSCAN_KSWAPD] += scanned
    else:
        st.hi[H_VM + VM_PGSTEAL_DIRECT] += reclaimed
        st.hi[H_VM + VM_PGSCAN_DIRECT] += scanned
    st.hi[H_META + M_BATCHES] += 1
    _sample_metadata(st, dst)
    return reclaimed, ns


@njit
def _sample_metadata(st, dst):
    verbs.metadata_bytes(dst, st.hi[H_MD_NOW:H_MD_NOW + N_STRUCTURES])
    tot = 0
    for s in range(N_STRUCTURES):
        v = st.hi[H_MD_NOW + s]
        tot += v
        st.hi[H_MD_PEAK + s] = max(st.hi[H_MD_PEAK + s], v)
    st.hi[H_MD_PEAK_TOTAL + 0] = max(st.hi[H_MD_PEAK_TOTAL + 0], tot)
    st.hi[H_META + M_MD_PAGES] = (tot + PAGE_SIZE - 1) // PAGE_SIZE


@njit(inline="always")
def _kswapd_catch_up(st, ctx, dst, now):
    """kswapd runs batches while it is awake and its clock is behind ``now``."""
    if st.hf[F_PARAMS + P_KSWAPD] == 0:
        return
    low = st.hf[F_PARAMS + P_WMARK_LOW]
    high = st.hf[F_PARAMS + P_WMARK_HIGH]
    if st.hi[H_META + M_KSWAPD_AWAKE] == 0:
        if _avail(st) >= low:
            return
        st.hi[H_META + M_KSWAPD_AWAKE] = 1
        st.hf[F_FMETA + FM_KSWAPD_CLOCK] = max(st.hf[F_FMETA + FM_KSWAPD_CLOCK], now)
    while st.hf[F_FMETA + FM_KSWAPD_CLOCK] < now:
        if _avail(st) >= high:
            st.hi[H_META + M_KSWAPD_AWAKE] = 0
            return
        _worker_begin(st, ctx)
        st.hf[F_FMETA + FM_NOW] = st.hf[F_FMETA + FM_KSWAPD_CLOCK]
        r, ns = _shrink_batch(st, ctx, dst, 0, True)
        _worker_end(st, ctx, ns, FM_KSWAPD_CLOCK, FM_KSWAPD_BUSY)
        if r == 0 or st.hi[H_META + M_STATUS] != OK:
            return


@njit
def _direct_reclaim(st, ctx, dst, cpu, memcg):
    """Reclaim in the allocating task's context.  Returns (reclaimed, mm ns)."""
    if memcg:
        st.hi[H_VM + VM_MEMCG_RECLAIM] += 1
    else:
        st.hi[H_VM + VM_ALLOCSTALL] += 1
    return _shrink_batch(st, ctx, dst, cpu, False)


@njit(inline="always")
def _alloc_folio(st, ctx, dst, cpu, now, for_ra):
    """A page for a fault (or a readahead page: no reclaim, may fail).  Returns
    (folio or -1, mm ns spent)."""
    ns = st.hf[F_MM_NS + M_PAGE_ALLOC]
    memcg_max = st.hf[F_PARAMS + P_MEMCG_MAX_PAGES]
    wmin = st.hf[F_PARAMS + P_WMARK_MIN]
    while True:
        if memcg_max >= 0 and _memcg_usage(st) + 1 > memcg_max:
            if for_ra:
                return -1, ns
            st.hf[F_FMETA + FM_NOW] = now + ns
            r, rns = _direct_reclaim(st, ctx, dst, cpu, True)
            ns += rns
            if r == 0 or st.hi[H_META + M_STATUS] != OK:
                if st.hi[H_META + M_STATUS] == OK:
                    st.hi[H_META + M_STATUS] = ERR_OOM
                    st.hi[H_VM + VM_OOM] += 1
                return -1, ns
            continue
        _kswapd_catch_up(st, ctx, dst, now + ns)
        _zswap_worker_catch_up(st, ctx, dst, now + ns)
        st.hf[F_FMETA + FM_NOW] = now + ns
        if _avail(st) > wmin:
            break
        if for_ra:
            return -1, ns
        r, rns = _direct_reclaim(st, ctx, dst, cpu, False)
        ns += rns
        if st.hi[H_META + M_STATUS] != OK:
            return -1, ns
        if r == 0:
            if _avail(st) > 0:
                break  # below min and nothing reclaimable: dip into the reserve
            st.hi[H_META + M_STATUS] = ERR_OOM
            st.hi[H_VM + VM_OOM] += 1
            return -1, ns
    f = _folio_pop(st, ctx)
    return f, ns


# --------------------------------------------------------------------------- faults


@njit
def _check_tag(st, f, expect):
    st.hi[H_VM + VM_CONTENT_CHECKS] += 1
    if st.fo[f, FO_TAG] != expect:
        st.hi[H_VM + VM_CONTENT_ERRORS] += 1


@njit
def _read_into(st, ctx, dst, op, cpu, e, f, wait):
    """swap_read_folio() of entry e into folio f (already in the swap cache): the data
    comes from the design's backend; returns mm ns: decompression, and the device read
    when the device is synchronous or the task waits for it (``wait``: the faulting
    page; read-ahead pages on an asynchronous device are in flight meanwhile)."""
    ctx.meta[C_CPU] = cpu
    b = verbs.read_backend(dst, ctx, op, e)
    i = _store_find(st, e)
    ns = 0.0
    if i < 0:
        st.fo[f, FO_TAG] = -1  # nothing was stored: the check will fail
        st.fo[f, FO_CLASS] = 0
        return ns
    st.fo[f, FO_TAG] = st.store_val[i, SV_TAG]
    cls = st.store_val[i, SV_INFO] & 15
    where = st.store_val[i, SV_INFO] >> 4
    st.fo[f, FO_CLASS] = cls
    st.store_val[i, SV_FOLIO] = f
    if b == BACKEND_ZSWAP:
        st.hi[H_VM + VM_ZSWPIN] += 1
        ns += st.hf[F_PARAMS + P_ZSWAP_DECOMPRESS_NS]
        if where == W_ZSWAP:
            _store_drop_data(st, i)  # zswap loads are exclusive: the folio is the copy
        st.fo[f, FO_FLAGS] |= FL_DIRTY
    elif b == BACKEND_DISK:
        st.hi[H_VM + VM_PSWPIN] += 1
        if wait or _dev_sync(st):
            ns += st.hf[F_PARAMS + P_DEV_READ_NS]
    elif b == BACKEND_ZERO:
        st.hi[H_VM + VM_SWPIN_ZERO] += 1
    if where == W_NONE and b != BACKEND_ZSWAP:
        st.fo[f, FO_TAG] = -1  # the design read a backend the data never went to
    return ns


@njit
def _swapin_one(st, ctx, dst, op, cpu, now, e, for_ra):
    """__read_swap_cache_async(): a new folio for entry e, added to the swap cache and
    read.  Returns (folio or -1, mm ns)."""
    f, ns = _alloc_folio(st, ctx, dst, cpu, now, for_ra)
    if f < 0:
        return -1, ns
    ctx.meta[C_CPU] = cpu
    seen = ctx.meta[C_CACHE_DROPS]
    r = verbs.cache_add(dst, ctx, op, e, 1, f)
    _drain_drops(st, ctx, seen)
    if r < 0:
        _folio_free(st, ctx, f)
        return -1, ns
    st.fo[f, FO_ENTRY] = e
    ns += _read_into(st, ctx, dst, op, cpu, e, f, not for_ra)
    _lru_add_head(st, f, INACTIVE)
    ns += st.hf[F_MM_NS + M_LRU_OP]
    return f, ns


@njit
def _swapin_nr_pages(prev, off, hits, max_pages, prev_win):
    pages = hits + 2
    if pages == 2:
        if off != prev + 1 and off != prev - 1:
            pages = 1
    else:
        r = 4
        while r < pages:
            r <<= 1
        pages = r
    pages = min(pages, max_pages)
    last = prev_win // 2
    pages = max(pages, last)
    return pages


@njit
def _ra_page(st, ctx, dst, cpu, now, x):
    """One read-ahead entry: swap-cache lookup, then a new folio read with
    PG_readahead (swap_ra).  Returns mm ns."""
    ctx.meta[C_CPU] = cpu
    if verbs.cache_lookup(dst, ctx, OP_READAHEAD, x) >= 0:
        return 0.0
    if _fault(st, P_FAULT_READAHEAD, 2):
        st.hi[H_VM + VM_FAULT_READAHEAD] += 1  # the read is not issued; the PTE keeps the entry
        return 0.0
    f, ns = _swapin_one(st, ctx, dst, OP_READAHEAD, cpu, now, x, True)
    if f >= 0:
        st.fo[f, FO_FLAGS] |= FL_READAHEAD
        st.hi[H_VM + VM_SWAP_RA] += 1
    return ns


@njit
def _readahead(st, ctx, dst, t, cpu, now, base, mm_pages, vpn, e):
    """swapin_readahead() around the fault at vpn (entry e), the fault's own page
    excluded.  Returns mm ns."""
    ns = 0.0
    pc = np.int64(st.hf[F_PARAMS + P_PAGE_CLUSTER])
    if pc == 0:
        return ns
    if st.hf[F_PARAMS + P_VMA_RA] != 0:
        max_win = np.int64(1) << min(pc, SWAP_RA_ORDER_CEILING)
        prev = st.task[t, TK_RA_PREV]
        win = _swapin_nr_pages(prev, vpn, st.task[t, TK_RA_HITS], max_win, st.task[t, TK_RA_WIN])
        st.task[t, TK_RA_PREV] = vpn
        st.task[t, TK_RA_WIN] = win
        st.task[t, TK_RA_HITS] = 0
        return _vma_ra_window(st, ctx, dst, cpu, now, base, mm_pages, vpn, prev, win)
    return _cluster_ra(st, ctx, dst, cpu, now, e)


@njit
def _vma_ra_window(st, ctx, dst, cpu, now, base, mm_pages, vpn, prev, win):
    """Read the ``win``-page VMA readahead window of a fault at vpn (previous fault at
    ``prev``): forward, backward or centred by direction, clipped to the mm's mapped
    range and to the fault's PMD, the fault's own page excluded.  Returns mm ns."""
    ns = 0.0
    if win <= 1:
        return ns
    if vpn == prev + 1:
        lo = vpn
        hi = vpn + win
    elif prev == vpn + 1:
        lo = vpn - win + 1
        hi = vpn + 1
    else:
        left = (win - 1) // 2
        lo = vpn - left
        hi = vpn + win - left
    pmd = vpn - vpn % PMD_PAGES
    lo = max(lo, 0, pmd)
    hi = min(hi, mm_pages, pmd + PMD_PAGES)
    for v in range(lo, hi):
        if v == vpn:
            continue
        g = base + v
        ns += st.hf[F_MM_NS + M_PTE_ZAP]  # the lockless PTE read
        if st.pt[g, PT_STATE] == PTE_SWAP:
            ns += _ra_page(st, ctx, dst, cpu, now + ns, st.pt[g, PT_VAL])
        if st.hi[H_META + M_STATUS] != OK:
            return ns
    return ns


@njit
def _cluster_ra(st, ctx, dst, cpu, now, e):
    """Cluster readahead: the aligned block of 1 << page_cluster entries around e."""
    ns = 0.0
    mask = (np.int64(1) << np.int64(st.hf[F_PARAMS + P_PAGE_CLUSTER])) - 1
    for x in range((e & ~mask), (e | mask) + 1):
        if x != e and x > 0 and verbs.swap_count(dst, x) > 0:
            ns += _ra_page(st, ctx, dst, cpu, now + ns, x)
        if st.hi[H_META + M_STATUS] != OK:
            return ns
    return ns


@njit
def _swap_full(st, dst):
    """vm_swap_full(): more than half of the *physical* swap slots in use
    (``nr_swap_pages * 2 < total_swap_pages``, include/linux/swap.h), as the allocator
    reads it (:func:`vswap_nb.core.device.vm_swap_full` on the design's physical device).
    A virtual design's zero and zswap entries hold no slot, so they do not count.  After
    swapoff there is no swap space, and it is false."""
    return st.hi[H_META + M_SWAPOFF] == 0 and vm_swap_full(verbs.phys_dev(dst))


@njit(inline="always")
def _dev_sync(st):
    """The swap device is SWP_SYNCHRONOUS_IO (and still there)."""
    return st.hf[F_PARAMS + P_DEV_SYNC] != 0 and st.hi[H_META + M_SWAPOFF] == 0


@njit
def _pte_map_cached(st, ctx, dst, op, cpu, g, f, e):
    """The swap PTE at page g holding entry e becomes a present PTE of folio f (in the
    swap cache for e): the content check, folio_put_swap of the PTE's count, the folio
    mapped (no longer a read-ahead page)."""
    _check_tag(st, f, st.pt[g, PT_TAG])
    ctx.meta[C_CPU] = cpu
    seen = ctx.meta[C_CACHE_DROPS]
    verbs.put(dst, ctx, op, e, 1, False)
    st.pt[g, PT_STATE] = PTE_PRESENT
    st.pt[g, PT_VAL] = f
    st.fo[f, FO_PAGE] = g
    ctx.folio[f, F_FLAGS] |= FOLIO_MAPPED
    st.fo[f, FO_FLAGS] &= ~FL_READAHEAD
    _drain_drops(st, ctx, seen)


@njit
def _map_swapped(st, ctx, dst, cpu, g, f, e, write):
    """Map folio f (in the swap cache for entry e) at page g after a swap fault:
    folio_put_swap, then should_try_to_free_swap.  Returns mm ns."""
    _pte_map_cached(st, ctx, dst, OP_SWAPIN, cpu, g, f, e)
    st.fo[f, FO_FLAGS] |= FL_YOUNG
    if verbs.free_after_fault(dst, ctx, OP_SWAPIN, e, f, _dev_sync(st), _swap_full(st, dst), write):
        seen = ctx.meta[C_CACHE_DROPS]
        if verbs.cache_free(dst, ctx, OP_SWAPIN, e, 1) > 0:
            _entry_dead(st, e)
            st.fo[f, FO_ENTRY] = 0
            st.fo[f, FO_FLAGS] |= FL_DIRTY
        _drain_drops(st, ctx, seen)
    if st.fo[f, FO_ENTRY] != 0 and not write:
        st.fo[f, FO_FLAGS] |= FL_RO
    if write:
        st.hi[H_META + M_GEN] += 1
        st.fo[f, FO_TAG] = st.hi[H_META + M_GEN]
        st.pt[g, PT_TAG] = st.hi[H_META + M_GEN]
        st.fo[f, FO_FLAGS] |= FL_DIRTY
    return st.hf[F_MM_NS + M_FAULT]


@njit(inline="always")
def _touch(st, ctx, dst, t, cpu, now, vpn, write):
    """One page access of task t.  Returns mm ns."""
    mm = st.task[t, TK_MM]
    base = st.mm_base[mm]
    g = base + vpn
    s = st.pt[g, PT_STATE]
    if s == PTE_PRESENT:
        f = st.pt[g, PT_VAL]
        st.fo[f, FO_FLAGS] |= FL_YOUNG
        ns = st.hf[F_MM_NS + M_PAGE_TOUCH]
        if write:
            if st.fo[f, FO_FLAGS] & FL_RO:
                # write to a read-only swap-cache page: do_wp_page reuses it and frees
                # the swap copy (folio_free_swap)
                st.hi[H_VM + VM_PGFAULT] += 1
                ns += st.hf[F_MM_NS + M_FAULT]
                e = st.fo[f, FO_ENTRY]
                ctx.meta[C_CPU] = cpu
                seen = ctx.meta[C_CACHE_DROPS]
                if verbs.cache_free(dst, ctx, OP_SWAPIN, e, 1) > 0:
                    _entry_dead(st, e)
                    st.fo[f, FO_ENTRY] = 0
                _drain_drops(st, ctx, seen)
                st.fo[f, FO_FLAGS] &= ~FL_RO
            st.hi[H_META + M_GEN] += 1
            st.fo[f, FO_TAG] = st.hi[H_META + M_GEN]
            st.pt[g, PT_TAG] = st.hi[H_META + M_GEN]
            st.fo[f, FO_FLAGS] |= FL_DIRTY
        return ns
    st.hi[H_VM + VM_PGFAULT] += 1
    if s == PTE_NONE:
        if not write:
            return st.hf[F_MM_NS + M_FAULT]  # the shared zero page is mapped: no folio
        f, ns = _alloc_folio(st, ctx, dst, cpu, now, False)
        if f < 0:
            return ns
        ns += st.hf[F_MM_NS + M_FAULT] + st.hf[F_MM_NS + M_PAGE_ZERO] + st.hf[F_MM_NS + M_PAGE_TOUCH] + st.hf[F_MM_NS + M_LRU_OP]
        st.hi[H_META + M_GEN] += 1
        st.fo[f, FO_TAG] = st.hi[H_META + M_GEN]
        st.fo[f, FO_CLASS] = _content_class(st, mm, vpn)
        st.fo[f, FO_PAGE] = g
        st.fo[f, FO_FLAGS] |= FL_YOUNG | FL_DIRTY
        ctx.folio[f, F_FLAGS] = FOLIO_MAPPED
        st.pt[g, PT_STATE] = PTE_PRESENT
        st.pt[g, PT_VAL] = f
        st.pt[g, PT_TAG] = st.hi[H_META + M_GEN]
        _lru_add_head(st, f, INACTIVE)
        return ns
    # a swapped PTE: do_swap_page
    e = st.pt[g, PT_VAL]
    ns = st.hf[F_MM_NS + M_FAULT] + st.hf[F_MM_NS + M_PAGE_TOUCH]
    ctx.meta[C_CPU] = cpu
    f = verbs.cache_lookup(dst, ctx, OP_SWAPIN, e)
    if f >= 0:
        if st.fo[f, FO_FLAGS] & FL_READAHEAD:
            st.hi[H_VM + VM_SWAP_RA_HIT] += 1
            if st.task[t, TK_RA_HITS] < 0xFF:
                st.task[t, TK_RA_HITS] += 1
        st.task[t, TK_RA_PREV] = vpn
        return ns + _map_swapped(st, ctx, dst, cpu, g, f, e, write)
    st.hi[H_VM + VM_PGMAJFAULT] += 1
    ctx.meta[C_CPU] = cpu
    ra = verbs.ra_probe(dst, ctx, OP_SWAPIN, e)
    if ra < 0:
        st.hi[H_META + M_STATUS] = ERR_VERB
        return ns
    if ra != RA_SYNC:
        ns += _readahead(st, ctx, dst, t, cpu, now + ns, base, st.mm_base[mm + 1] - base, vpn, e)
        if st.hi[H_META + M_STATUS] != OK:
            return ns
        # the readahead may have freed the page's own entry (never: its PTE holds it)
    f, fns = _swapin_one(st, ctx, dst, OP_SWAPIN, cpu, now + ns, e, False)
    ns += fns
    if f < 0:
        if st.hi[H_META + M_STATUS] == OK:
            st.hi[H_META + M_STATUS] = ERR_VERB
        return ns
    return ns + _map_swapped(st, ctx, dst, cpu, g, f, e, write)


# --------------------------------------------------------------------------- unmap


@njit
def _zap(st, ctx, dst, t, cpu, mm, start, n):
    """zap_pte_range() over [start, start+n) of mm.  Returns mm ns."""
    base = st.mm_base[mm]
    ns = 0.0
    v = start
    end = start + n
    while v < end:
        g = base + v
        s = st.pt[g, PT_STATE]
        ns += st.hf[F_MM_NS + M_PTE_ZAP]
        if s == PTE_NONE:
            v += 1
            continue
        if s == PTE_PRESENT:
            f = st.pt[g, PT_VAL]
            st.pt[g, PT_STATE] = PTE_NONE
            ctx.folio[f, F_FLAGS] &= ~FOLIO_MAPPED
            e = st.fo[f, FO_ENTRY]
            if e != 0:
                ctx.meta[C_CPU] = cpu
                seen = ctx.meta[C_CACHE_DROPS]
                if verbs.cache_free(dst, ctx, OP_FREE, e, 1) > 0:
                    _entry_dead(st, e)
                    st.fo[f, FO_ENTRY] = 0
                    _folio_free(st, ctx, f)
                else:
                    st.fo[f, FO_PAGE] = -1  # stays in the swap cache, unmapped
                _drain_drops(st, ctx, seen)
            else:
                _folio_free(st, ctx, f)
            ns += st.hf[F_MM_NS + M_PAGE_FREE]
            v += 1
            continue
        # swapped: a run of consecutive entries within the PMD
        e = st.pt[g, PT_VAL]
        pmd_end = min(end, v - v % PMD_PAGES + PMD_PAGES)
        k = 1
        while v + k < pmd_end and st.pt[g + k, PT_STATE] == PTE_SWAP and st.pt[g + k, PT_VAL] == e + k:
            k += 1
        ctx.meta[C_CPU] = cpu
        m = verbs.pte_batch(dst, ctx, OP_FREE, e, k)
        if m <= 0:
            m = 1
        seen = ctx.meta[C_CACHE_DROPS]
        verbs.put(dst, ctx, OP_FREE, e, m, True)
        for j in range(m):
            st.pt[g + j, PT_STATE] = PTE_NONE
            x = e + j
            i = _store_find(st, x)
            if i >= 0 and st.store_val[i, SV_FOLIO] < 0:
                _entry_dead(st, x)
        _drain_drops(st, ctx, seen)
        v += m
    return ns


# --------------------------------------------------------------------------- swapoff


@njit
def _unuse_pte(st, ctx, dst, cpu, g, f, e):
    """unuse_pte(): the swap PTE at page g becomes a present PTE of folio f (in the swap
    cache for entry e) and puts its count; then folio_free_swap().  Returns mm ns."""
    _pte_map_cached(st, ctx, dst, OP_SWAPOFF, cpu, g, f, e)
    seen = ctx.meta[C_CACHE_DROPS]
    if verbs.cache_free(dst, ctx, OP_SWAPOFF, e, 1) > 0:
        _entry_dead(st, e)
        st.fo[f, FO_ENTRY] = 0
        st.fo[f, FO_FLAGS] |= FL_DIRTY
        st.fo[f, FO_FLAGS] &= ~FL_RO
    elif st.fo[f, FO_ENTRY] != 0:
        st.fo[f, FO_FLAGS] |= FL_RO
    _drain_drops(st, ctx, seen)
    return st.hf[F_MM_NS + M_UNMAP_PTE]


@njit
def _swapoff(st, ctx, dst, cpu, now):
    """swapoff(2) of the swap device in the context of a task on ``cpu``.  Returns the
    mm ns it spent; its verb work is counted on the ``swapoff`` row.

    1. The device leaves the available list (SWP_WRITEOK off): no allocation uses it.
    2. If page tables hold device entries (``ptes_hold_slots``: classic, swap_table,
       ghost without zswap), try_to_unuse() walks every page table (unuse_mm): each
       populated PTE is read (``pte_read``; a page table with no populated PTE is not
       there to read [I]); a swap PTE's page is found in the swap cache or read in
       through swapin_readahead() (unuse_pte_range(); VMA readahead with a window that
       starts at the VMA's initial state and only shrinks, since the walk never calls
       swap_update_readahead(); cluster readahead without VMA readahead) and mapped
       in place of the entry (unuse_pte), and the entry is freed (folio_free_swap).
    3. Then every slot still in use on the device (find_next_to_unuse, through the
       design's ``unuse_entry``: the slot itself, or the virtual entry its reverse map
       names) gets its page into the swap cache (a lookup, else a read), and the
       design's ``unuse``: folio_free_swap for a classic entry, or, for a virtual
       design, the entry is repointed at the cached folio and the slot freed; the
       page tables keep the virtual entry and the folio is the only copy of the data
       (dirty: reclaim writes it to another backend, or keeps it).
    4. The device is empty; its static metadata is freed."""
    if st.hi[H_META + M_SWAPOFF] != 0:
        return 0.0
    st.hi[H_META + M_SWAPOFF] = 1
    dev = verbs.phys_dev(dst)
    c0 = _add_op_cost(st, ctx, OP_SWAPOFF, 0.0)
    dev_swapoff_begin(dev)
    ns = 0.0
    if verbs.ptes_hold_slots(dst):
        mm = 0
        ra_prev, ra_win, ra_hits = np.int64(-1), np.int64(0), np.int64(4)
        pc = np.int64(st.hf[F_PARAMS + P_PAGE_CLUSTER])
        max_win = np.int64(1) << min(pc, SWAP_RA_ORDER_CEILING)
        for g in range(st.pt.shape[0]):
            while g >= st.mm_base[mm + 1]:  # a new mm: its VMAs' readahead state is fresh
                mm += 1
                ra_prev, ra_win, ra_hits = np.int64(-1), np.int64(0), np.int64(4)
            s = st.pt[g, PT_STATE]
            if s == PTE_NONE:
                continue
            ctx.counters[OP_SWAPOFF, PTE_READ] += 1
            st.hi[H_VM + VM_SWAPOFF_PTES] += 1
            if s != PTE_SWAP:
                continue
            e = st.pt[g, PT_VAL]
            ctx.meta[C_CPU] = cpu
            f = verbs.cache_lookup(dst, ctx, OP_SWAPOFF, e)
            if f < 0:
                # unuse_pte_range(): swapin_readahead() around the miss; it never calls
                # swap_update_readahead(), so the window only shrinks (8, 4, 2, 1, ...).
                # The window first, then the page itself, as a fault does: the page is
                # read last, so the window's allocations cannot reclaim it before it is
                # mapped (the kernel holds it locked).
                if pc > 0 and st.hf[F_PARAMS + P_VMA_RA] != 0:
                    vpn = g - st.mm_base[mm]
                    ra_win = _swapin_nr_pages(ra_prev, vpn, ra_hits, max_win, ra_win)
                    ns += _vma_ra_window(
                        st, ctx, dst, cpu, now + ns, st.mm_base[mm], st.mm_base[mm + 1] - st.mm_base[mm],
                        vpn, ra_prev, ra_win,
                    )
                    ra_prev, ra_hits = vpn, np.int64(0)
                elif pc > 0:
                    ns += _cluster_ra(st, ctx, dst, cpu, now + ns, e)
                if st.hi[H_META + M_STATUS] != OK:
                    return ns
                f, fns = _swapin_one(st, ctx, dst, OP_SWAPOFF, cpu, now + ns, e, False)
                ns += fns
                if f < 0:
                    if st.hi[H_META + M_STATUS] == OK:
                        st.hi[H_META + M_STATUS] = ERR_VERB
                    return ns
            ns += _unuse_pte(st, ctx, dst, cpu, g, f, e)
            st.hi[H_VM + VM_SWAPOFF_PAGES] += 1
    off = dev_next_used(dev, 0)
    while off >= 0:
        ctx.meta[C_CPU] = cpu
        e = verbs.unuse_entry(dst, ctx, OP_SWAPOFF, off)
        if e != 0:
            f = verbs.cache_lookup(dst, ctx, OP_SWAPOFF, e)
            if f < 0:
                f, fns = _swapin_one(st, ctx, dst, OP_SWAPOFF, cpu, now + ns, e, False)
                ns += fns
                if f < 0:
                    if st.hi[H_META + M_STATUS] == OK:
                        st.hi[H_META + M_STATUS] = ERR_VERB
                    return ns
                st.hi[H_VM + VM_SWAPOFF_PAGES] += 1
            seen = ctx.meta[C_CACHE_DROPS]
            r = verbs.unuse(dst, ctx, OP_SWAPOFF, e, f)
            _drain_drops(st, ctx, seen)
            if r == 1:
                _entry_dead(st, e)
                st.fo[f, FO_ENTRY] = 0
                st.fo[f, FO_FLAGS] &= ~FL_RO
                st.fo[f, FO_FLAGS] |= FL_DIRTY
                if (ctx.folio[f, F_FLAGS] & FOLIO_MAPPED) == 0:
                    _folio_free(st, ctx, f)
                    ns += st.hf[F_MM_NS + M_PAGE_FREE]
            elif r == 0:
                i = _store_find(st, e)
                if i >= 0:
                    _store_drop_data(st, i)
                    st.store_val[i, SV_FOLIO] = f
                st.fo[f, FO_FLAGS] |= FL_DIRTY
            else:
                st.hi[H_META + M_STATUS] = ERR_VERB
                return ns
        off = dev_next_used(dev, off + 1)
    if dev_swapoff_end(dev, dst, ctx, OP_SWAPOFF) != 0:
        st.hi[H_META + M_STATUS] = ERR_VERB
    st.hf[F_FMETA + FM_SWAPOFF_NS] += ns + _add_op_cost(st, ctx, OP_SWAPOFF, 0.0) - c0
    _sample_metadata(st, dst)
    return ns


# --------------------------------------------------------------------------- scheduler


@njit
def _pick_task(st):
    best = -1
    for t in range(st.task.shape[0]):
        if st.task[t, TK_DONE] != 0 or st.task[t, TK_WAIT] != -1:
            continue
        if best < 0:
            best = t
            continue
        ct = st.cpu_clock[st.task[t, TK_CPU]]
        cb = st.cpu_clock[st.task[best, TK_CPU]]
        if ct < cb or (ct == cb and st.task[t, TK_LAST_RUN] < st.task[best, TK_LAST_RUN]):
            best = t
    return best


@njit
def _release_barrier(st, bid, force):
    """Release barrier ``bid`` when every live task waits at it (or ``force``)."""
    tmax = 0.0
    for t in range(st.task.shape[0]):
        if st.task[t, TK_DONE] != 0:
            continue
        if st.task[t, TK_WAIT] != bid:
            if not force and st.task[t, TK_WAIT] != PARKED:
                return False
            continue
        tmax = max(tmax, st.barrier_t[t])
    for c in range(st.cpu_clock.shape[0]):
        st.cpu_clock[c] = max(st.cpu_clock[c], tmax)
    for t in range(st.task.shape[0]):
        if st.task[t, TK_WAIT] == bid:
            st.task[t, TK_WAIT] = -1
            st.task[t, TK_EV] += 1
    return True


@njit
def _exit_task(st, ctx, dst, t, cpu):
    st.task[t, TK_DONE] = 1
    mm = st.task[t, TK_MM]
    for u in range(st.task.shape[0]):
        if st.task[u, TK_MM] == mm and st.task[u, TK_DONE] == 0:
            return 0.0
    return _zap(st, ctx, dst, t, cpu, mm, 0, st.mm_base[mm + 1] - st.mm_base[mm])


@njit
def _charge_task(st, ctx, t, cpu, ns):
    """Task t's work since its last charge (mm ns, plus the verb costs) goes on its
    CPU's clock and its phase's CPU time."""
    spent = ns + st.hf[F_FMETA + FM_PENDING] + _flush_cost(st, ctx)
    st.hf[F_FMETA + FM_PENDING] = 0.0
    st.cpu_clock[cpu] += spent
    ph = st.task[t, TK_PHASE]
    if ph >= 0:
        st.phase_cpu[t, ph] += spent


@njit
def _run_quantum(st, ctx, dst, events, task_end, t, phase):
    """Run task t for up to QUANTUM page events.  Returns mm ns not yet charged."""
    cpu = st.task[t, TK_CPU]
    now = st.cpu_clock[cpu]
    ns = 0.0
    budget = QUANTUM
    while budget > 0 and st.hi[H_META + M_STATUS] == OK:
        ev = st.task[t, TK_EV]
        if ev >= task_end[t]:
            st.task[t, TK_DONE] = 1
            break
        kind = events[ev, EV_KIND]
        a = events[ev, EV_A]
        b = events[ev, EV_B]
        if kind == K_TOUCH or kind == K_TOUCH_RANDOM:
            write = (events[ev, EV_C] & F_WRITE) != 0
            count = b if kind == K_TOUCH else events[ev, EV_D]
            p = st.task[t, TK_PROG]
            while p < count and budget > 0:
                if kind == K_TOUCH:
                    vpn = a + p
                else:
                    vpn = _random_vpn(st.hi[H_META + M_SEED], t, ev, p, a, b)
                ns += _touch(st, ctx, dst, t, cpu, now + ns, vpn, write)
                st.hi[H_META + M_PAGE_EVENTS] += 1
                p += 1
                budget -= 1
                if st.hi[H_META + M_STATUS] != OK:
                    break
            st.task[t, TK_PROG] = p
            if p >= count:
                st.task[t, TK_PROG] = 0
                st.task[t, TK_EV] = ev + 1
        elif kind == K_UNMAP:
            p = st.task[t, TK_PROG]
            chunk = min(b - p, PMD_PAGES)
            ns += _zap(st, ctx, dst, t, cpu, st.task[t, TK_MM], a + p, chunk)
            p += chunk
            budget -= 1
            if p >= b:
                st.task[t, TK_PROG] = 0
                st.task[t, TK_EV] = ev + 1
            else:
                st.task[t, TK_PROG] = p
        elif kind == K_MMAP:
            st.task[t, TK_EV] = ev + 1
        elif kind == K_PHASE:
            _charge_task(st, ctx, t, cpu, ns)
            ns = 0.0
            now = st.cpu_clock[cpu]
            ph = st.task[t, TK_PHASE]
            if ph >= 0 and st.phase_t[t, ph, 1] < 0:
                st.phase_t[t, ph, 1] = now
            if a > phase:
                st.task[t, TK_WAIT] = PARKED  # the next call runs the next phase
                break
            st.phase_t[t, a, 0] = now
            st.task[t, TK_PHASE] = a
            st.task[t, TK_EV] = ev + 1
        elif kind == K_BARRIER:
            st.task[t, TK_WAIT] = a
            st.barrier_t[t] = now + ns
            break
        elif kind == K_EXIT:
            ns += _exit_task(st, ctx, dst, t, cpu)
            st.task[t, TK_EV] = ev + 1
            break
        elif kind == K_SWAPOFF:
            ns += _swapoff(st, ctx, dst, cpu, now + ns)
            st.task[t, TK_EV] = ev + 1
            break
        else:
            st.task[t, TK_EV] = ev + 1
    return ns


@njit
def run_phase(st, ctx, dst, events, task_end, phase, max_quanta):
    """Run every task until it reaches a phase after ``phase``, exits or the run fails,
    or for ``max_quanta`` scheduling quanta at most (the caller calls again to go on:
    progress is reported between calls).  ``meta[M_PHASE_DONE]`` is ``phase + 1``
    while the phase runs and ``-(phase + 1)`` once it is over.  Returns the status.

    The engine below works on a ``ref`` of each of the three states, one pointer each
    (:mod:`vswap_nb.core.ref`)."""
    return _run_phase(ref(st), ref(ctx), ref(dst), events, task_end, phase, max_quanta)


@njit
def _run_phase(st, ctx, dst, events, task_end, phase, max_quanta):
    ctx.meta[C_SEED] = st.hi[H_META + M_SEED]
    ctx.meta[C_FAULT_ATOMIC_RATE] = np.int64(st.hf[F_PARAMS + P_FAULT_ATOMIC_ALLOC] * 9007199254740992.0)
    if st.hf[F_PARAMS + P_ZSWAP_ON] != 0:
        ctx.meta[C_ZSWAP_ENABLED] = 1  # zswap is on: zswap_never_enabled() is false from the start
    if st.hi[H_META + M_MD_PAGES] == 0:
        _sample_metadata(st, dst)  # the static metadata is there from swapon
    if st.hi[H_META + M_PHASE_DONE] != phase + 1:  # a new phase: tasks parked at it go on
        for t in range(st.task.shape[0]):
            if st.task[t, TK_WAIT] == PARKED:
                st.task[t, TK_WAIT] = -1
        st.hi[H_META + M_PHASE_DONE] = phase + 1
    n = 0
    while st.hi[H_META + M_STATUS] == OK:
        if n >= max_quanta:
            st.hi[H_VM + VM_FAULT_ATOMIC_ALLOC] = ctx.meta[C_FAULT_ATOMIC_HITS]
            return st.hi[H_META + M_STATUS]
        t = _pick_task(st)
        if t < 0:
            # nobody runnable: release a barrier if tasks wait at one, else done
            bid = -1
            for u in range(st.task.shape[0]):
                if st.task[u, TK_DONE] == 0 and st.task[u, TK_WAIT] >= 0:
                    bid = st.task[u, TK_WAIT]
                    break
            if bid < 0:
                break
            _release_barrier(st, bid, True)
            continue
        n += 1
        cpu = st.task[t, TK_CPU]
        st.hi[H_META + M_STEP] += 1
        st.task[t, TK_LAST_RUN] = st.hi[H_META + M_STEP]
        ns = _run_quantum(st, ctx, dst, events, task_end, t, phase)
        _charge_task(st, ctx, t, cpu, ns)
        if st.task[t, TK_WAIT] >= 0:
            st.barrier_t[t] = st.cpu_clock[cpu]
            _release_barrier(st, st.task[t, TK_WAIT], False)
        ph = st.task[t, TK_PHASE]
        if st.task[t, TK_DONE] != 0 and ph >= 0 and st.phase_t[t, ph, 1] < 0:
            st.phase_t[t, ph, 1] = st.cpu_clock[cpu]
    _sample_metadata(st, dst)
    st.hi[H_VM + VM_FAULT_ATOMIC_ALLOC] = ctx.meta[C_FAULT_ATOMIC_HITS]
    st.hi[H_META + M_PHASE_DONE] = -(phase + 1)  # finished
    return st.hi[H_META + M_STATUS]
