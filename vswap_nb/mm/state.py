"""The engine's state (:class:`MmState`), its layout constants and the hashes that
draw injected faults, content classes and random vpns.

Page tables.  Per mm, one word triple per page: state (none / present / swapped), the
folio or the swap entry, and the content tag the page must hold.  A write gives the
page a fresh tag (a global generation number); a page that comes back from swap must
carry the tag its PTE expects, or ``content_errors`` counts it.

The state lives in NumPy arrays: row tables (page tables, folios, tasks, the swap
store) and two headers, one int64 (vmstat, meta, metadata now/peak) and one float64
(clocks, parameters, cost tables, fill), indexed at the offsets defined here.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..core import verbs
from ..core.counters import N_PRIMITIVES
from ..core.jit import njit
from ..core.metadata import N_STRUCTURES
from ..core.verbs import splitmix64
from ..core.vmstat import N_MEMCG, N_MTHP, N_ORDERS, N_VM
from .config import N_PARAMS, P_DEV_SYNC, P_SWAP_SLOTS, P_ZSWAP_ON
from .cost import N_MM


__all__ = ["MmState", "new_mm_state"]

PAGE_SIZE = 4096
SWAP_CLUSTER_MAX = 32
QUANTUM = 32
PMD_PAGES = 512
SWAP_RA_ORDER_CEILING = 5
ZSWAP_ACCEPT_THR = 90  # zswap.accept_threshold_percent default
MEMCG_ID = 1  # the swap cgroup id of the workload's first memcg; memcg m records id m + 1


OK = 0
ERR_OOM = 1
ERR_VERB = 2

# page-table words
PT_STATE, PT_VAL, PT_TAG = 0, 1, 2
PTE_NONE, PTE_PRESENT, PTE_SWAP = 0, 1, 2

# folio words.  A large folio of order k is 2**k rows (its pages) chained by FO_LINK
# from its head; the head holds the folio's flags, LRU links, first entry, order and
# mapped-page count, each row its own page, content tag and class, and its head.
# FO_MEMCG is the memcg the folio is charged to (-1: not charged, zswap writeback's
# temporary folio).
FO_PAGE, FO_FLAGS, FO_TAG, FO_NEXT, FO_PREV, FO_ENTRY, FO_CLASS, FO_ORDER, FO_HEAD, FO_LINK, FO_NMAP, FO_MEMCG = range(12)
FO_WORDS = 12
FL_USED = 1
FL_DIRTY = 2
FL_YOUNG = 4
FL_REFERENCED = 8
FL_ACTIVE = 16
FL_READAHEAD = 32
FL_RO = 64
FL_ONLRU = 128
FL_PARTIAL = 256  # a large folio that became partially mapped (queued for deferred split)

# LRU rows (one pair of lists per memcg: lru[memcg, list]): head, tail, pages
LRU_HEAD, LRU_TAIL, LRU_COUNT = 0, 1, 2
INACTIVE, ACTIVE = 0, 1

# per-memcg words (MmState.mc[memcg]): the charge and swap charge in pages, their peaks,
# then the memcg's own counters, in MEMCG_TABLE's order (core/vmstat.py)
MC_USAGE, MC_SWAP, MC_USAGE_PEAK, MC_SWAP_PEAK = range(4)
MC_STATS = 4  # + MEMCG_* index
MC_WORDS = MC_STATS + N_MEMCG

# swap store (indexed by the entry value): tag, info (class | where << 4), folio, and
# the memcg the entry is charged to (the swap cgroup record)
SV_TAG, SV_INFO, SV_FOLIO, SV_MEMCG = 0, 1, 2, 3
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
    TK_MEMCG,
) = range(12)
TK_WORDS = 12

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
M_DROPS_SEEN = M_ZSWAP_FULL + 3  # ctx's drops log is drained up to here (memory.drain_drops)
M_RECLAIM_CURSOR = M_ZSWAP_FULL + 4  # the memcg global reclaim starts at next (mem_cgroup_iter)
N_META = M_ZSWAP_FULL + 5

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


H_VM, H_META, H_MD_NOW, H_MD_PEAK, H_MD_PEAK_TOTAL, H_MTHP, N_HI = _offsets(
    N_VM, N_META, N_STRUCTURES, N_STRUCTURES, 1, N_ORDERS * N_MTHP
)
F_FMETA, F_PARAMS, F_PRIM_NS, F_MM_NS, F_FILL, N_HF = _offsets(N_FMETA, N_PARAMS, N_PRIMITIVES, N_MM, 3)


class MmState(namedtuple(
    "MmState",
    [
        "pt",  # int64[total pages, 3]
        "mm_base",  # int64[nmm + 1] first page of each mm
        "fo",  # int64[nfolios, FO_WORDS]
        "free_stack",  # int64[nfolios]
        "lru",  # int64[nmemcg, 2, 3]
        "mc",  # int64[nmemcg, MC_WORDS]
        "mcz",  # float64[nmemcg] zswap bytes charged to each memcg
        "store_key",  # int64[cap]
        "store_val",  # int64[cap, 3]
        "zq",  # int64[zq cap] zswap entries in store order (the shrinker's LRU)
        "task",  # int64[ntasks, TK_WORDS]
        "barrier_t",  # float64[ntasks] arrival clock at the current barrier
        "cpu_clock",  # float64[ncpu]
        "phase_t",  # float64[ntasks, nphases, 2] start and end clock of each phase
        "phase_cpu",  # float64[ntasks, nphases] ns of work each task did per phase
        "hi",  # int64[N_HI]: vm, meta, md_now, md_peak, md_peak_total, mthp
        "hf",  # float64[N_HF]: fmeta, params, prim_ns, mm_ns, fill
    ],
)):
    """The engine's state.  In Python the header vectors read by name (views, so a
    write through one is a write to the state): ``st.vm``, ``st.meta``, ``st.fmeta``,
    ``st.params``, ``st.prim_ns``, ``st.mm_ns``, ``st.md_now``, ``st.md_peak``,
    ``st.md_peak_total``, ``st.mthp`` (``[order, MTHP_*]``), ``st.fill``.  Kernels
    index the headers at the offsets (:func:`count_mthp` for the mTHP block)."""

    __slots__ = ()

    vm = property(lambda self: self.hi[H_VM:H_META])
    meta = property(lambda self: self.hi[H_META:H_MD_NOW])
    md_now = property(lambda self: self.hi[H_MD_NOW:H_MD_PEAK])
    md_peak = property(lambda self: self.hi[H_MD_PEAK:H_MD_PEAK_TOTAL])
    md_peak_total = property(lambda self: self.hi[H_MD_PEAK_TOTAL:H_MTHP])
    mthp = property(lambda self: self.hi[H_MTHP:N_HI].reshape(N_ORDERS, N_MTHP))
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
    task[:, TK_MEMCG] = workload.task_memcg
    for t in range(ntasks):
        c = int(workload.task_cpu[t])
        task[t, TK_CPU] = (c if c >= 0 else t) % ncpu
    fo = np.zeros((nfolios, FO_WORDS), dtype=np.int64)
    fo[:, FO_PAGE] = -1
    fo[:, FO_NEXT] = -1
    fo[:, FO_PREV] = -1
    fo[:, FO_HEAD] = np.arange(nfolios)
    fo[:, FO_LINK] = -1
    fo[:, FO_MEMCG] = -1
    hi = np.zeros(N_HI, dtype=np.int64)
    hi[H_META + M_FREE_TOP] = nfolios
    hi[H_META + M_SEED] = seed
    hf = np.zeros(N_HF, dtype=np.float64)
    hf[F_PARAMS:F_PRIM_NS] = params
    hf[F_PRIM_NS:F_MM_NS] = prim_ns
    hf[F_MM_NS:F_FILL] = mm_ns
    hf[F_FILL:N_HF] = workload.fill
    ncg = workload.nmemcg
    lru = np.full((ncg, 2, 3), -1, dtype=np.int64)
    lru[:, :, LRU_COUNT] = 0
    nph = max(len(workload.phases), 1)
    return MmState(
        pt=np.zeros((total, 3), dtype=np.int64),
        mm_base=mm_base,
        fo=fo,
        free_stack=np.arange(nfolios - 1, -1, -1, dtype=np.int64),
        lru=lru,
        mc=np.zeros((ncg, MC_WORDS), dtype=np.int64),
        mcz=np.zeros(ncg, dtype=np.float64),
        store_key=np.zeros(cap, dtype=np.int64),
        store_val=np.zeros((cap, 4), dtype=np.int64),
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
def injected_fault(st, p, kind):
    """Whether injected fault ``kind`` (rate ``params[p]``) hits this attempt: a hash of
    the seed, the kind and the attempt number, so a seed fails the same attempts."""
    rate = st.hf[F_PARAMS + p]
    if rate <= 0.0:
        return False
    n = st.hi[H_META + M_FAULT_DRAWS + kind]
    st.hi[H_META + M_FAULT_DRAWS + kind] = n + 1
    return np.float64(verbs.fault_draw(st.hi[H_META + M_SEED], kind, n)) * (1.0 / 9007199254740992.0) < rate


@njit(inline="always")
def content_class(st, mm, vpn):
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
def random_vpn(seed, task, ev_index, i, start, span):
    h = splitmix64(
        splitmix64(np.uint64(seed) ^ (np.uint64(task) * np.uint64(0x9E3779B97F4A7C15)))
        + np.uint64(ev_index) * np.uint64(0xD1B54A32D192ED03)
        + np.uint64(i)
    )
    return start + np.int64(h % np.uint64(span))


@njit(inline="always")
def count_mthp(st, order, stat, n=1):
    """The per-size counter ``stat`` (MTHP_*) of ``order`` goes up by ``n``."""
    st.hi[H_MTHP + order * N_MTHP + stat] += n


@njit(inline="always")
def dev_sync(st):
    """The swap device is SWP_SYNCHRONOUS_IO (and still there)."""
    return st.hf[F_PARAMS + P_DEV_SYNC] != 0 and st.hi[H_META + M_SWAPOFF] == 0


