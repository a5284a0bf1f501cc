"""LRU [mm/vmscan.c].  Two lists, inactive and active.  New anonymous folios go to the
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
"""
from __future__ import annotations

import numpy as np

from ..core import verbs
from ..core.counters import OP_CACHE_DEL, OP_DUP, OP_WRITEOUT, OP_ZSWAP_WB
from ..core.jit import njit
from ..core.metadata import N_STRUCTURES
from ..core.verbs import (
    BACKEND_DISK,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    C_CPU,
    ENOMEM,
    ENOSPC,
    FOLIO_MAPPED,
    F_FLAGS,
)
from ..core.vmstat import (
    MEMCG_MEMCG_RECLAIM,
    MEMCG_PGSTEAL,
    MEMCG_PSWPOUT,
    MEMCG_SWAP_MAX_FAIL,
    MEMCG_ZSWPOUT,
    MTHP_SPLIT,
    MTHP_SWPOUT,
    MTHP_SWPOUT_FALLBACK,
    MTHP_ZSWPOUT,
    VM_ALLOCSTALL,
    VM_FAULT_SWAP_ALLOC,
    VM_FAULT_ZSWAP_REJECT,
    VM_MEMCG_RECLAIM,
    VM_OOM,
    VM_PGACTIVATE,
    VM_PGDEACTIVATE,
    VM_PGSCAN_DIRECT,
    VM_PGSCAN_KSWAPD,
    VM_PGSTEAL_DIRECT,
    VM_PGSTEAL_KSWAPD,
    VM_PSWPOUT,
    VM_SWAP_ALLOC_FAIL,
    VM_SWPOUT_ZERO,
    VM_ZSWAP_REJECT,
    VM_ZSWPOUT,
    VM_ZSWPWB,
)
from .config import (
    P_DEV_WRITE_NS,
    P_FAULT_SWAP_ALLOC,
    P_FAULT_ZSWAP_REJECT,
    P_KSWAPD,
    P_MEMCG_MAX_PAGES,
    P_MEMCG_SWAP_MAX_PAGES,
    P_WMARK_HIGH,
    P_WMARK_LOW,
    P_WMARK_MIN,
    P_ZSWAP_COMPRESS_NS,
    P_ZSWAP_DECOMPRESS_NS,
    P_ZSWAP_MAX_POOL_PAGES,
    P_ZSWAP_ON,
    P_ZSWAP_SHRINKER,
    P_ZSWAP_WRITEBACK,
)
from .cost import M_LRU_OP, M_PAGE_ALLOC, M_PAGE_FREE, M_RECLAIM_BATCH, M_SAME_FILLED_CHECK, M_UNMAP_PTE
from .memory import (
    avail,
    drain_drops,
    flush_cost,
    folio_free,
    folio_pop,
    folio_pop_large,
    folio_split,
    memcg_charge,
    lru_add_head,
    lru_del,
    memcg_usage,
)
from .state import (
    ACTIVE,
    ERR_OOM,
    ERR_VERB,
    FL_DIRTY,
    FL_REFERENCED,
    FL_RO,
    FL_USED,
    FL_YOUNG,
    FM_KSWAPD_BUSY,
    FM_KSWAPD_CLOCK,
    FM_NOW,
    FM_PENDING,
    FM_ZRAM_BYTES,
    FM_ZSWAP_BYTES,
    FM_ZSWAP_WB_BUSY,
    FM_ZSWAP_WB_CLOCK,
    FO_CLASS,
    FO_ENTRY,
    FO_FLAGS,
    FO_LINK,
    FO_MEMCG,
    FO_NMAP,
    FO_ORDER,
    MC_STATS,
    MC_SWAP,
    FO_PAGE,
    FO_TAG,
    F_FMETA,
    F_MM_NS,
    F_PARAMS,
    H_MD_NOW,
    H_MD_PEAK,
    H_MD_PEAK_TOTAL,
    H_META,
    H_VM,
    INACTIVE,
    LRU_COUNT,
    LRU_TAIL,
    MEMCG_ID,
    M_BATCHES,
    M_KSWAPD_AWAKE,
    M_LIVE_SWAP,
    M_MD_PAGES,
    M_RECLAIM_CURSOR,
    M_STATUS,
    M_ZQ_HEAD,
    M_ZQ_TAIL,
    M_ZSWAP_FULL,
    M_ZSWAP_WORK,
    OK,
    PAGE_SIZE,
    PTE_SWAP,
    PT_STATE,
    PT_VAL,
    SV_FOLIO,
    SV_INFO,
    SV_MEMCG,
    SV_TAG,
    SWAP_CLUSTER_MAX,
    W_DISK,
    W_ZERO,
    W_ZSWAP,
    ZSWAP_ACCEPT_THR,
    count_mthp,
    dev_sync,
    injected_fault,
)
from .store import dsize, entry_dead, store_charge, store_drop_data, store_find, store_insert, zsize


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
        i = store_find(st, e)
        if i < 0 or (st.store_val[i, SV_INFO] >> 4) != W_ZSWAP or st.store_val[i, SV_FOLIO] >= 0:
            continue
        tmp = folio_pop(st, ctx)
        if tmp < 0:
            return False, 0.0
        r = verbs.zswap_writeback(dst, ctx, OP_ZSWAP_WB, e, tmp)
        folio_free(st, ctx, tmp)
        # a lazy design allocates the slot here, and its allocator may reclaim
        # cache-only slots: those folios leave the swap cache (tmp is already free)
        drain_drops(st, ctx)
        if r < 0:
            continue
        cls = st.store_val[i, SV_INFO] & 15
        store_drop_data(st, i)
        st.store_val[i, SV_INFO] = cls | (W_DISK << 4)
        st.hf[F_FMETA + FM_ZRAM_BYTES] += dsize(st, cls)
        st.hi[H_VM + VM_ZSWPWB] += 1
        st.hi[H_VM + VM_PSWPOUT] += 1
        ns = st.hf[F_PARAMS + P_ZSWAP_DECOMPRESS_NS]
        if dev_sync(st):
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
    """A worker on its own clock (kswapd, zswap's shrink worker) starts a unit of work
    on CPU 0 [I: both are unbound; CPU 0 is our choice]: the counted work so far is the
    task's, set aside as pending.  Returns the CPU to go back to."""
    st.hf[F_FMETA + FM_PENDING] += flush_cost(st, ctx)
    cpu = ctx.meta[C_CPU]
    ctx.meta[C_CPU] = 0
    return cpu


@njit(inline="always")
def _worker_end(st, ctx, ns, clock, busy, cpu):
    """... and ends it: its mm ns plus the counted work since ``_worker_begin`` advance
    the worker's clock (fmeta index ``clock``) and its busy time (``busy``); the task's
    ``cpu`` runs on."""
    ctx.meta[C_CPU] = cpu
    spent = ns + flush_cost(st, ctx)
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
        cpu = _worker_begin(st, ctx)
        ok, ns = _zswap_writeback_one(st, ctx, dst)
        _worker_end(st, ctx, ns, FM_ZSWAP_WB_CLOCK, FM_ZSWAP_WB_BUSY, cpu)
        if not ok or st.hi[H_META + M_STATUS] != OK:
            st.hi[H_META + M_ZSWAP_WORK] = 0
            return


@njit(inline="always")
def _writeout(st, ctx, dst, cpu, f, e):
    """pageout() of the dirty swap-cache folio f (entry e, 2**order pages).  A large
    folio goes to one backend: the zeromap only when every page is zero
    (is_folio_zero_filled), else zswap whole (one limit check; a rejection sends all of
    it to the device) or the device.  Returns (ok, mm ns)."""
    order = st.fo[f, FO_ORDER]
    nr = np.int64(1) << order
    cls = st.fo[f, FO_CLASS]
    if nr > 1:
        row = st.fo[f, FO_LINK]
        while row >= 0 and cls == 1:
            if st.fo[row, FO_CLASS] != 1:
                cls = 0
            row = st.fo[row, FO_LINK]
    backend = _choose_backend(st, cls)
    ns = 0.0
    if backend == BACKEND_ZSWAP:
        full = _zswap_check_limits(st)
        injected = not full and injected_fault(st, P_FAULT_ZSWAP_REJECT, 1)
        if not full:
            ns += st.hf[F_PARAMS + P_ZSWAP_COMPRESS_NS] * nr  # a full pool rejects before compressing
        if full or injected:
            st.hi[H_VM + VM_ZSWAP_REJECT] += 1
            if injected:
                st.hi[H_VM + VM_FAULT_ZSWAP_REJECT] += 1
            elif st.hf[F_PARAMS + P_ZSWAP_SHRINKER] != 0 and st.hf[F_PARAMS + P_ZSWAP_WRITEBACK] != 0:
                _zswap_queue_work(st)
            if st.hf[F_PARAMS + P_ZSWAP_WRITEBACK] == 0:
                return False, ns
            backend = BACKEND_DISK
    r = verbs.writeout(dst, ctx, OP_WRITEOUT, e, nr, backend)
    if r != backend:
        if backend == BACKEND_DISK and (r == ENOMEM or r == ENOSPC):
            # a design that allocates the device slot at writeout found none (device
            # full or swapped off): the folio stays, dirty, and is activated
            st.hi[H_VM + VM_SWAP_ALLOC_FAIL] += 1
            return False, ns
        st.hi[H_META + M_STATUS] = ERR_VERB
        return False, ns
    row = f
    for k in range(nr):
        x = e + k
        c = st.fo[row, FO_CLASS]
        i = store_insert(st, x)
        store_drop_data(st, i)
        st.store_val[i, SV_TAG] = st.fo[row, FO_TAG]
        if backend == BACKEND_ZERO:
            st.store_val[i, SV_INFO] = c | (W_ZERO << 4)
            ns += st.hf[F_MM_NS + M_SAME_FILLED_CHECK]
            st.hi[H_VM + VM_SWPOUT_ZERO] += 1
        elif backend == BACKEND_ZSWAP:
            st.store_val[i, SV_INFO] = c | (W_ZSWAP << 4)
            z = zsize(st, c)
            st.hf[F_FMETA + FM_ZSWAP_BYTES] += z
            st.mcz[st.store_val[i, SV_MEMCG]] += z
            cap = st.zq.shape[0]
            if st.hi[H_META + M_ZQ_TAIL] - st.hi[H_META + M_ZQ_HEAD] >= cap:
                st.hi[H_META + M_ZQ_HEAD] += 1  # forget the oldest record (its entry is long gone)
            st.zq[st.hi[H_META + M_ZQ_TAIL] % cap] = x
            st.hi[H_META + M_ZQ_TAIL] += 1
            st.hi[H_VM + VM_ZSWPOUT] += 1
        else:
            st.store_val[i, SV_INFO] = c | (W_DISK << 4)
            st.hf[F_FMETA + FM_ZRAM_BYTES] += dsize(st, c)
            st.hi[H_VM + VM_PSWPOUT] += 1
            if dev_sync(st):
                ns += st.hf[F_PARAMS + P_DEV_WRITE_NS]
        row = st.fo[row, FO_LINK]
    if nr > 1:
        if backend == BACKEND_ZSWAP:
            count_mthp(st, order, MTHP_ZSWPOUT)
        elif backend == BACKEND_DISK:
            count_mthp(st, order, MTHP_SWPOUT)
    m = st.fo[f, FO_MEMCG]
    if backend == BACKEND_ZSWAP:
        st.mc[m, MC_STATS + MEMCG_ZSWPOUT] += nr
    elif backend == BACKEND_DISK:
        st.mc[m, MC_STATS + MEMCG_PSWPOUT] += nr
    st.fo[f, FO_FLAGS] &= ~FL_DIRTY
    return True, ns


@njit
def _split_for_swapout(st, ctx, f, order, fallback):
    """A large folio reclaim cannot swap out whole is split (thp_swpout_fallback when
    no 2**order entries could be allocated; a partially mapped folio's deferred
    split); its pages go to the inactive tail, where reclaim takes them next."""
    if fallback:
        count_mthp(st, order, MTHP_SWPOUT_FALLBACK)
    count_mthp(st, order, MTHP_SPLIT)
    folio_split(st, ctx, f)


@njit
def _all_counts_zero(dst, e, nr):
    for k in range(nr):
        if verbs.swap_count(dst, e + k) != 0:
            return False
    return True


@njit(inline="always")
def _swap_max_refuses(st, m, nr):
    """mem_cgroup_try_charge_swap(): memcg m has no room for nr more swap entries under
    memory.swap.max [I: checked before the allocation; the kernel allocates, fails
    the charge and frees the entries, so the design's alloc and free are not counted]."""
    mx = st.hf[F_PARAMS + P_MEMCG_SWAP_MAX_PAGES]
    if mx >= 0 and st.mc[m, MC_SWAP] + nr > mx:
        st.mc[m, MC_STATS + MEMCG_SWAP_MAX_FAIL] += 1
        return True
    return False


@njit(inline="always")
def _reclaim_folio(st, ctx, dst, cpu, m):
    """shrink_folio_list() on the tail folio of memcg m's inactive list.  Returns
    (pages reclaimed, mm ns)."""
    f = st.lru[m, INACTIVE, LRU_TAIL]
    fl = st.fo[f, FO_FLAGS]
    ns = st.hf[F_MM_NS + M_LRU_OP]
    if fl & FL_YOUNG:
        st.fo[f, FO_FLAGS] = fl & ~FL_YOUNG
        lru_del(st, f)
        if fl & FL_REFERENCED:
            st.fo[f, FO_FLAGS] &= ~FL_REFERENCED
            lru_add_head(st, f, ACTIVE)
            st.hi[H_VM + VM_PGACTIVATE] += np.int64(1) << st.fo[f, FO_ORDER]
        else:
            st.fo[f, FO_FLAGS] |= FL_REFERENCED
            lru_add_head(st, f, INACTIVE)
        return 0, ns
    st.fo[f, FO_FLAGS] = fl & ~FL_REFERENCED
    order = st.fo[f, FO_ORDER]
    nr = np.int64(1) << order
    e = st.fo[f, FO_ENTRY]
    if e == 0:
        if order > 0 and st.fo[f, FO_NMAP] < nr:
            _split_for_swapout(st, ctx, f, order, False)
            return 0, ns
        if injected_fault(st, P_FAULT_SWAP_ALLOC, 0):
            st.hi[H_VM + VM_FAULT_SWAP_ALLOC] += 1
            e = -28  # -ENOSPC: as if the device were full
        elif _swap_max_refuses(st, m, nr):
            e = -12  # -ENOMEM: the swap charge failed
        else:
            e = verbs.alloc(dst, ctx, cpu, order, f, MEMCG_ID + m)
            drain_drops(st, ctx)
        if e < 0:
            if order > 0:
                _split_for_swapout(st, ctx, f, order, True)
                return 0, ns
            st.hi[H_VM + VM_SWAP_ALLOC_FAIL] += 1
            lru_del(st, f)
            lru_add_head(st, f, ACTIVE)
            st.hi[H_VM + VM_PGACTIVATE] += 1
            return 0, ns
        st.fo[f, FO_ENTRY] = e
        st.fo[f, FO_FLAGS] |= FL_DIRTY
        row = f
        for k in range(nr):
            i = store_insert(st, e + k)
            store_charge(st, i, m)
            st.store_val[i, SV_TAG] = st.fo[row, FO_TAG]
            st.store_val[i, SV_INFO] = st.fo[row, FO_CLASS]
            st.store_val[i, SV_FOLIO] = f
            row = st.fo[row, FO_LINK]
        st.hi[H_META + M_LIVE_SWAP] += nr
    if ctx.folio[f, F_FLAGS] & FOLIO_MAPPED:
        # try_to_unmap_one: each mapped PTE takes its page's entry
        if order == 0:
            page = st.fo[f, FO_PAGE]
            verbs.dup(dst, ctx, OP_DUP, e, 1)
            st.pt[page, PT_STATE] = PTE_SWAP
            st.pt[page, PT_VAL] = e
            ns += st.hf[F_MM_NS + M_UNMAP_PTE]
        else:
            row = f
            for k in range(nr):
                page = st.fo[row, FO_PAGE]
                if page >= 0:
                    verbs.dup(dst, ctx, OP_DUP, e + k, 1)
                    st.pt[page, PT_STATE] = PTE_SWAP
                    st.pt[page, PT_VAL] = e + k
                    st.fo[row, FO_PAGE] = -1
                    ns += st.hf[F_MM_NS + M_UNMAP_PTE]
                row = st.fo[row, FO_LINK]
            st.fo[f, FO_NMAP] = 0
        ctx.folio[f, F_FLAGS] &= ~FOLIO_MAPPED
        st.fo[f, FO_PAGE] = -1
        st.fo[f, FO_FLAGS] &= ~FL_RO
    elif _all_counts_zero(dst, e, nr):
        # nobody maps it and no PTE holds the entry: folio_free_swap, then free it
        freed = verbs.cache_free(dst, ctx, OP_CACHE_DEL, e, nr) > 0
        drain_drops(st, ctx)
        if freed:
            for k in range(nr):
                entry_dead(st, e + k)
            st.fo[f, FO_ENTRY] = 0
            folio_free(st, ctx, f)
            return nr, ns + st.hf[F_MM_NS + M_PAGE_FREE]
        if (st.fo[f, FO_FLAGS] & FL_USED) == 0 or st.fo[f, FO_ENTRY] == 0:
            return nr, ns + st.hf[F_MM_NS + M_PAGE_FREE]  # a drop took it
    if st.fo[f, FO_FLAGS] & FL_DIRTY:
        ok, wns = _writeout(st, ctx, dst, cpu, f, e)
        # a lazy design allocates the slot at writeout, and its allocator may reclaim
        # cache-only slots: those folios leave the swap cache
        drain_drops(st, ctx)
        ns += wns
        if (st.fo[f, FO_FLAGS] & FL_USED) == 0 or st.fo[f, FO_ENTRY] == 0:
            return nr, ns + st.hf[F_MM_NS + M_PAGE_FREE]  # a drop took this folio too
        if not ok:
            lru_del(st, f)
            lru_add_head(st, f, ACTIVE)
            st.hi[H_VM + VM_PGACTIVATE] += nr
            return 0, ns
    verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, nr)
    for k in range(nr):
        i = store_find(st, e + k)
        if i >= 0:
            st.store_val[i, SV_FOLIO] = -1
            if nr > 1 and verbs.swap_count(dst, e + k) < 0:
                # a page of a partially mapped folio whose PTE is gone: no count held
                # its entry, and leaving the swap cache freed it
                entry_dead(st, e + k)
    st.fo[f, FO_ENTRY] = 0
    folio_free(st, ctx, f)
    return nr, ns + st.hf[F_MM_NS + M_PAGE_FREE]


@njit
def _shrink_active(st, m):
    """shrink_active_list() of memcg m: up to 32 pages' worth of folios from the active
    tail to the inactive head, young bits cleared."""
    n = 0
    ns = 0.0
    while n < SWAP_CLUSTER_MAX and st.lru[m, ACTIVE, LRU_COUNT] > 0:
        f = st.lru[m, ACTIVE, LRU_TAIL]
        nr = np.int64(1) << st.fo[f, FO_ORDER]
        lru_del(st, f)
        st.fo[f, FO_FLAGS] &= ~(FL_YOUNG | FL_REFERENCED)
        lru_add_head(st, f, INACTIVE)
        st.hi[H_VM + VM_PGDEACTIVATE] += nr
        ns += st.hf[F_MM_NS + M_LRU_OP]
        n += nr
    return ns


@njit
def _shrink_batch(st, ctx, dst, cpu, kswapd, target):
    """One reclaim pass (do_try_to_free_pages / balance_pgdat in miniature) of memcg
    ``target``'s lists, or of every memcg's (``target`` -1: global reclaim, the memcgs
    in turn from the one after the last visited, as mem_cgroup_iter's shared cursor
    does): at priority 12 down to 0, balance each memcg's lists and scan
    ``max(32, its lru size >> priority)`` pages from its inactive tail, stopping once
    32 pages are reclaimed.  Returns (reclaimed, mm ns); 0 reclaimed means a full scan
    found nothing reclaimable."""
    ns = st.hf[F_MM_NS + M_RECLAIM_BATCH]
    reclaimed = 0
    scanned = 0
    prio = 12
    ncg = st.lru.shape[0]
    nvisit = 1 if target >= 0 else ncg
    while prio >= 0 and reclaimed < SWAP_CLUSTER_MAX:
        total = 0
        for j in range(nvisit):
            m = target
            if target < 0:
                m = (st.hi[H_META + M_RECLAIM_CURSOR] + 1) % ncg
                st.hi[H_META + M_RECLAIM_CURSOR] = m
            size = st.lru[m, INACTIVE, LRU_COUNT] + st.lru[m, ACTIVE, LRU_COUNT]
            total += size
            quota = max(np.int64(SWAP_CLUSTER_MAX), size >> prio)
            if st.lru[m, INACTIVE, LRU_COUNT] < st.lru[m, ACTIVE, LRU_COUNT]:
                ns += _shrink_active(st, m)
            n = 0
            while reclaimed < SWAP_CLUSTER_MAX and n < quota:
                if st.lru[m, INACTIVE, LRU_COUNT] == 0:
                    if st.lru[m, ACTIVE, LRU_COUNT] == 0:
                        break
                    ns += _shrink_active(st, m)
                nr = np.int64(1) << st.fo[st.lru[m, INACTIVE, LRU_TAIL], FO_ORDER]
                r, rns = _reclaim_folio(st, ctx, dst, cpu, m)
                if st.hi[H_META + M_STATUS] != OK:
                    break
                reclaimed += r
                st.mc[m, MC_STATS + MEMCG_PGSTEAL] += r
                n += nr
                ns += rns
            scanned += n
            if st.hi[H_META + M_STATUS] != OK or reclaimed >= SWAP_CLUSTER_MAX:
                break
        if st.hi[H_META + M_STATUS] != OK or total == 0:
            break
        prio -= 1
    if kswapd:
        st.hi[H_VM + VM_PGSTEAL_KSWAPD] += reclaimed
        st.hi[H_VM + VM_PGSCAN_KSWAPD] += scanned
    else:
        st.hi[H_VM + VM_PGSTEAL_DIRECT] += reclaimed
        st.hi[H_VM + VM_PGSCAN_DIRECT] += scanned
    st.hi[H_META + M_BATCHES] += 1
    sample_metadata(st, dst)
    return reclaimed, ns


@njit
def sample_metadata(st, dst):
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
        if avail(st) >= low:
            return
        st.hi[H_META + M_KSWAPD_AWAKE] = 1
        st.hf[F_FMETA + FM_KSWAPD_CLOCK] = max(st.hf[F_FMETA + FM_KSWAPD_CLOCK], now)
    while st.hf[F_FMETA + FM_KSWAPD_CLOCK] < now:
        if avail(st) >= high:
            st.hi[H_META + M_KSWAPD_AWAKE] = 0
            return
        cpu = _worker_begin(st, ctx)
        st.hf[F_FMETA + FM_NOW] = st.hf[F_FMETA + FM_KSWAPD_CLOCK]
        r, ns = _shrink_batch(st, ctx, dst, 0, True, -1)
        _worker_end(st, ctx, ns, FM_KSWAPD_CLOCK, FM_KSWAPD_BUSY, cpu)
        if r == 0 or st.hi[H_META + M_STATUS] != OK:
            return


@njit
def _direct_reclaim(st, ctx, dst, cpu, memcg):
    """Reclaim in the allocating task's context: of memcg ``memcg``'s lists when it is
    at its limit, of every memcg's (``memcg`` -1) under global pressure.  Returns
    (reclaimed, mm ns)."""
    if memcg >= 0:
        st.hi[H_VM + VM_MEMCG_RECLAIM] += 1
        st.mc[memcg, MC_STATS + MEMCG_MEMCG_RECLAIM] += 1
    else:
        st.hi[H_VM + VM_ALLOCSTALL] += 1
    return _shrink_batch(st, ctx, dst, cpu, False, memcg)


@njit(inline="always")
def alloc_folio(st, ctx, dst, cpu, now, for_ra, m):
    """A page for a fault (or a readahead page: no reclaim, may fail), charged to memcg
    ``m``.  Returns (folio or -1, mm ns spent)."""
    ns = st.hf[F_MM_NS + M_PAGE_ALLOC]
    memcg_max = st.hf[F_PARAMS + P_MEMCG_MAX_PAGES]
    wmin = st.hf[F_PARAMS + P_WMARK_MIN]
    while True:
        if memcg_max >= 0 and memcg_usage(st, m) + 1 > memcg_max:
            if for_ra:
                return -1, ns
            st.hf[F_FMETA + FM_NOW] = now + ns
            r, rns = _direct_reclaim(st, ctx, dst, cpu, m)
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
        if avail(st) > wmin:
            break
        if for_ra:
            return -1, ns
        r, rns = _direct_reclaim(st, ctx, dst, cpu, -1)
        ns += rns
        if st.hi[H_META + M_STATUS] != OK:
            return -1, ns
        if r == 0:
            if avail(st) > 0:
                break  # below min and nothing reclaimable: dip into the reserve
            st.hi[H_META + M_STATUS] = ERR_OOM
            st.hi[H_VM + VM_OOM] += 1
            return -1, ns
    f = folio_pop(st, ctx)
    if f >= 0:
        memcg_charge(st, f, m, 1)
    return f, ns


@njit
def alloc_folio_large(st, ctx, dst, now, order, stat_fallback, stat_charge, m):
    """A folio of 2**order pages for a fault or a swap-in, allocated and charged to
    memcg ``m`` without reclaim (GFP_TRANSHUGE_LIGHT, defrag=madvise): it fails when
    free memory would fall below the min watermark (the allocation's slow path without
    reclaim or kswapd [I: free lists and fragmentation not modelled]) or, once
    allocated, when the memcg has no room for it (the charge does not reclaim without
    __GFP_DIRECT_RECLAIM).  A failure counts the order's ``stat_fallback`` (and
    ``stat_charge`` for the charge).  Returns (folio or -1, mm ns)."""
    nr = np.int64(1) << order
    ns = st.hf[F_MM_NS + M_PAGE_ALLOC]
    _kswapd_catch_up(st, ctx, dst, now + ns)
    _zswap_worker_catch_up(st, ctx, dst, now + ns)
    st.hf[F_FMETA + FM_NOW] = now + ns
    if avail(st) - nr < st.hf[F_PARAMS + P_WMARK_MIN]:
        count_mthp(st, order, stat_fallback)
        return -1, ns
    memcg_max = st.hf[F_PARAMS + P_MEMCG_MAX_PAGES]
    if memcg_max >= 0 and memcg_usage(st, m) + nr > memcg_max:
        count_mthp(st, order, stat_charge)
        count_mthp(st, order, stat_fallback)
        return -1, ns
    f = folio_pop_large(st, ctx, order)
    if f < 0:
        count_mthp(st, order, stat_fallback)
    else:
        memcg_charge(st, f, m, nr)
    return f, ns
