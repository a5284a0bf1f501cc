"""One run of the mm engine: build the design's state and the engine's state, call the
engine kernel once per workload phase (timing each call), and hand the raw results to
:mod:`vswap_nb.results`.  Inputs are checked by :mod:`vswap_nb.api` before this runs."""
from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
from numba import typeof

from ..core import verbs
from ..core.jit import cache_dir
from ..core.events import K_EXIT, K_MMAP, K_PHASE, K_TOUCH, K_UNMAP
from ..designs import entry_space, get_design
from ..workloads.events import make_workload
from . import engine as E
from . import state as MS
from .config import P_RAM_PAGES

__all__ = ["design_state", "precompile", "run"]

FOLIO_SLACK = 64  # folio ids beyond RAM: the zswap shrinker's temporary pages
CHUNK_QUANTA = 1 << 15  # scheduling quanta per kernel call (~1M page events, ~1 s)


def design_state(module, system, nfolios: int, options: dict):
    """The design's state for ``system``'s swap device."""
    dev = system.swap
    kw = dict(
        ncpu=int(system.nr_cpus),
        synchronous=bool(dev.synchronous),
        solidstate=dev.kind != "hdd",
        zswap_enabled=bool(system.zswap_on),
        free_notify=dev.kind == "zram",  # swap_slot_free_notify: zram's alone frees per slot
    )
    if module.VIRTUAL_SLOTS:
        # every swapped page and every swap-cache folio may hold a virtual entry
        kw["virtual_slots"] = int(dev.nslots) + int(nfolios)
    kw.update(options)
    return module.new_state(int(dev.nslots), **kw)


class EngineError(RuntimeError):
    """The engine stopped: memory exhausted, or a design verb failed."""


CHECK_QUANTA = 64  # scheduling quanta between invariant checks with check="every"


def run(
    design: str, workload, system, params, prim_ns, mm_ns, *, seed: int, options: dict, progress=None, check=None,
    check_every: bool = False,
) -> dict:
    """Run ``workload`` on ``system`` with ``design``; returns the raw arrays and times.
    ``progress(done, total)`` (page events) is called between kernel calls.  ``check``
    (``check(run_state, design=..., final=...)``, :func:`vswap_nb.check.check_invariants`
    as ``simulate(check=...)`` passes it, or None) runs after each phase, also after
    every ``CHECK_QUANTA`` quanta with ``check_every``, and at the end (then with
    ``final=True`` when no page is mapped any more).  Checking reads the state only, so
    the counters are the same with or without it."""
    every = check is not None and check_every
    module = get_design(design)
    nfolios = int(params[P_RAM_PAGES]) + FOLIO_SLACK
    dst = design_state(module, system, nfolios, options)
    ctx = verbs.new_ctx(nfolios)
    st = MS.new_mm_state(workload, params, prim_ns, mm_ns, int(system.nr_cpus), nfolios, int(seed), entry_space(dst))
    task_end = np.ascontiguousarray(workload.task_start[1:], dtype=np.int64)
    events = np.ascontiguousarray(workload.events, dtype=np.int64)
    _warm(module, system, params, prim_ns, mm_ns, workload, options)
    nph = max(len(workload.phases), 1)
    wall = np.zeros(nph, dtype=np.float64)
    status = MS.OK
    total = max(int(workload.page_events), 1)
    quanta = CHECK_QUANTA if every else CHUNK_QUANTA
    for p in range(nph):
        while status == MS.OK and st.meta[MS.M_PHASE_DONE] != -(p + 1):
            t0 = time.perf_counter()
            status = int(E.run_phase(st, ctx, dst, events, task_end, p, quanta))
            wall[p] += time.perf_counter() - t0
            if progress is not None:
                progress(min(int(st.meta[MS.M_PAGE_EVENTS]), total), total)
            if every and status == MS.OK:
                check((st, ctx, dst), design=design)
        if status != MS.OK:
            break
        if check is not None and p < nph - 1:  # the last phase gets the final check below
            check((st, ctx, dst), design=design)
    if check is not None and status == MS.OK:
        final = not (st.pt[:, MS.PT_STATE] != MS.PTE_NONE).any()
        check((st, ctx, dst), design=design, final=final)
    if status == MS.ERR_OOM and st.meta[MS.M_SWAPOFF]:
        raise EngineError(
            f"{design}: out of memory after swapoff: without the swap device only memory (and, for "
            f"a virtual design, zswap and the zero backend) can hold the workload's pages; swap off "
            f"at a phase where the pages the workload keeps fit in RAM and memory.max"
        )
    if status == MS.ERR_OOM:
        raise EngineError(
            f"{design}: out of memory: reclaim found nothing more to reclaim (swap and "
            f"zswap full, or memory.max too small for what the workload keeps mapped); "
            f"give the system a larger swap device or less workload"
        )
    if status != MS.OK:
        raise EngineError(
            f"{design}: a design verb failed where the mm expected success (status {status}); "
            f"this is a bug in vswap_nb, please report it with the workload and system"
        )
    final = np.zeros_like(st.md_now)
    verbs.metadata_bytes(dst, final)
    return {
        "design": design,
        "options": dict(options),
        "counters": ctx.counters.copy(),
        "vmstat": st.vm.copy(),
        "mthp": st.mthp.copy(),
        "memcg": st.mc.copy(),
        "phase_t": st.phase_t.copy(),
        "phase_cpu": st.phase_cpu.copy(),
        "wall": wall,
        "md_peak": st.md_peak.copy(),
        "md_peak_total": int(st.md_peak_total[0]),
        "md_final": final,
        "kswapd_busy_ns": float(st.fmeta[MS.FM_KSWAPD_BUSY]),
        "zswap_shrink_ns": float(st.fmeta[MS.FM_ZSWAP_WB_BUSY]),
        "swapoff_ns": float(st.fmeta[MS.FM_SWAPOFF_NS]),
        "live_entries": int(st.meta[MS.M_LIVE_SWAP]),
        "used_folios": int(st.meta[MS.M_USED_FOLIOS]),
        "state": (st, ctx, dst),
    }


_WARMED: set = set()


def _warm_args(module, system, params, prim_ns, mm_ns, options) -> tuple:
    """The arguments of a one-task, one-page engine run of the design's types."""
    tiny = make_workload(
        "warmup",
        {},
        ("p",),
        [[(K_MMAP, 0, 1), (K_PHASE, 0), (K_TOUCH, 0, 1, 1), (K_UNMAP, 0, 1), (K_EXIT,)]],
    )
    nfolios = int(params[P_RAM_PAGES]) + FOLIO_SLACK
    small = min(nfolios, 4096)
    p = params.copy()
    p[P_RAM_PAGES] = small - FOLIO_SLACK
    dst = design_state(module, system, small, options)
    ctx = verbs.new_ctx(small)
    st = MS.new_mm_state(tiny, p, prim_ns, mm_ns, int(system.nr_cpus), small, 0, entry_space(dst))
    return (st, ctx, dst, tiny.events, np.ascontiguousarray(tiny.task_start[1:]), 0, CHUNK_QUANTA)


# What a first, cold compile of a design's engine and verbs takes (import and first
# simulate with an empty cache; asv FirstCall.timeraw_cold_simulate at 79ecb0d on the
# 2-core machine, rounded), by the state type the engine is compiled for.
FIRST_COMPILE_S = {"ClassicState": 50, "SwapTableState": 50, "VswapState": 80, "SteState": 60}
_ANNOUNCED: set = set()


def announce_compile(pairs, jobs: int = 1) -> None:
    """Say on stderr, once per state type and process, that the engines of ``pairs``
    (design name, state type name) are about to be compiled, with the usual time."""
    new = {}
    for name, t in pairs:
        if t not in _ANNOUNCED and t not in new:
            new[t] = name
    if not new:
        return
    _ANNOUNCED.update(new)
    names = list(new.values())
    secs = [FIRST_COMPILE_S.get(t, 60) for t in new]
    procs = min(jobs, len(new))
    about = max(max(secs), -(-sum(secs) // procs))
    when = "first run only" if cache_dir() is not None else "first run in this process (the disk cache is off)"
    what = f"the {names[0]} engine" if len(names) == 1 else f"the engines of {', '.join(names)}"
    where = f" in {procs} processes" if procs > 1 else ""
    print(f"vswap_nb: compiling {what}{where}, {when}, about {about} s", file=sys.stderr, flush=True)


def _warm(module, system, params, prim_ns, mm_ns, workload, options):
    """Compile (or load from the cache) the engine for this design before the timed
    phases, on a one-task, one-page run of the same types."""
    key = (module.NAME, tuple(sorted(options.items())), bool(system.zswap_on))
    if key in _WARMED:
        return
    args = _warm_args(module, system, params, prim_ns, mm_ns, options)
    if not _engine_ready(args):
        announce_compile([(module.NAME, type(args[2]).__name__)])
    E.run_phase(*args)
    _WARMED.add(key)


def _engine_ready(args) -> bool:
    """Whether the engine for these argument types is compiled in this process or is in
    the disk cache (nothing is compiled or loaded)."""
    disp = E.run_phase
    sig = tuple(disp.typeof_pyval(a) for a in args)
    if sig in disp.overloads:
        return True
    try:  # the cache's index, without loading the machine code (Numba's cache internals)
        cache = disp._cache
        return cache._index_key(sig, disp.targetctx.codegen()) in cache._cache_file._load_index()
    except Exception:  # a Numba without these internals: let the workers find out
        return False


def _compile_engine(design, system, params, prim_ns, mm_ns, options):
    """In a worker process: compile the design's engine into the shared disk cache."""
    E.run_phase(*_warm_args(get_design(design), system, params, prim_ns, mm_ns, options))
    return design


def precompile(designs, system, params, prim_ns, mm_ns, options, jobs: int) -> tuple:
    """Compile the engines of several designs in ``jobs`` processes at once, before the
    runs (which then load them from the disk cache).  One worker per state type not yet
    compiled (``vswap_v5`` and ``vswap_v6`` share one; ``ghost`` without zswap shares
    ``swap_table``'s); nothing happens with one such type, one job, or the cache off.  A worker
    that fails (a design registered in this process only) leaves the compile to the
    run.  Returns the designs compiled in workers."""
    if jobs < 2 or cache_dir() is None:
        return ()
    todo = {}
    for name in designs:
        opts = options.get(name, {})
        args = _warm_args(get_design(name), system, params, prim_ns, mm_ns, opts)
        if not _engine_ready(args):
            todo.setdefault(typeof(args[2]), (name, opts))
    if len(todo) < 2:
        return ()
    announce_compile([(n, t.instance_class.__name__) for t, (n, _) in todo.items()], jobs)
    done = []
    with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_compile_engine, n, system, params, prim_ns, mm_ns, o) for n, o in todo.values()]
        for f in futures:
            try:
                done.append(f.result())
            except Exception:  # the run compiles it in this process (see the docstring)
                continue
    return tuple(done)
