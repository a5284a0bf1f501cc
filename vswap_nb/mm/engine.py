"""The memory-management engine: which swap metadata operations happen, when, and in what
order, for a page-event stream under memory pressure.  One Numba kernel call per
workload phase; the design's verbs are called through :mod:`vswap_nb.core.verbs`, so
one engine serves every design and each design's engine compiles once and caches.

The engine is in rooms, each module owning one subsystem (read them in this order;
each imports only the ones before it):

=========================  ==============================================================
:mod:`~.state`             the state's layout, ``new_mm_state``, the hashes
:mod:`~.store`             where each swapped page's data is (zero, zswap, device)
:mod:`~.memory`            folio pool, LRU lists, the drops log, the cost clock
:mod:`~.reclaim`           shrink_folio_list, kswapd, direct and memcg reclaim, zswap's
                           limits and shrink worker, page allocation
:mod:`~.fault`             page accesses, swap faults, readahead
:mod:`~.unmap`             munmap and exit (zap_pte_range)
:mod:`~.swapoff`           swapoff(2)
:mod:`~.engine` (here)     the scheduler and the phase kernel ``run_phase``
=========================  ==============================================================

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

import numpy as np

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
from ..core.jit import njit
from ..core.ref import ref
from ..core.verbs import C_CPU, C_FAULT_ATOMIC_HITS, C_FAULT_ATOMIC_RATE, C_SEED, C_ZSWAP_ENABLED
from ..core.vmstat import VM_FAULT_ATOMIC_ALLOC
from .config import P_FAULT_ATOMIC_ALLOC, P_ZSWAP_ON
from .fault import touch
from .memory import flush_cost
from .reclaim import sample_metadata
from .state import (
    FM_PENDING,
    F_FMETA,
    F_PARAMS,
    H_META,
    H_VM,
    M_MD_PAGES,
    M_PAGE_EVENTS,
    M_PHASE_DONE,
    M_SEED,
    M_STATUS,
    M_STEP,
    OK,
    PARKED,
    PMD_PAGES,
    QUANTUM,
    TK_CPU,
    TK_DONE,
    TK_EV,
    TK_LAST_RUN,
    TK_MM,
    TK_PHASE,
    TK_PROG,
    TK_WAIT,
    random_vpn,
)
from .swapoff import swapoff
from .unmap import zap


__all__ = ["run_phase"]

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
    return zap(st, ctx, dst, t, cpu, mm, 0, st.mm_base[mm + 1] - st.mm_base[mm])


@njit
def _charge_task(st, ctx, t, cpu, ns):
    """Task t's work since its last charge (mm ns, plus the verb costs) goes on its
    CPU's clock and its phase's CPU time."""
    spent = ns + st.hf[F_FMETA + FM_PENDING] + flush_cost(st, ctx)
    st.hf[F_FMETA + FM_PENDING] = 0.0
    st.cpu_clock[cpu] += spent
    ph = st.task[t, TK_PHASE]
    if ph >= 0:
        st.phase_cpu[t, ph] += spent


@njit
def _run_quantum(st, ctx, dst, events, task_end, t, phase):
    """Run task t for up to QUANTUM page events.  Returns mm ns not yet charged."""
    cpu = st.task[t, TK_CPU]
    ctx.meta[C_CPU] = cpu  # this task's CPU runs the quantum's verbs (their this_cpu)
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
                    vpn = random_vpn(st.hi[H_META + M_SEED], t, ev, p, a, b)
                ns += touch(st, ctx, dst, t, cpu, now + ns, vpn, write)
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
            ns += zap(st, ctx, dst, t, cpu, st.task[t, TK_MM], a + p, chunk)
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
            ns += swapoff(st, ctx, dst, cpu, now + ns)
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
        sample_metadata(st, dst)  # the static metadata is there from swapon
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
    sample_metadata(st, dst)
    st.hi[H_VM + VM_FAULT_ATOMIC_ALLOC] = ctx.meta[C_FAULT_ATOMIC_HITS]
    st.hi[H_META + M_PHASE_DONE] = -(phase + 1)  # finished
    return st.hi[H_META + M_STATUS]
