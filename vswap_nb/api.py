"""Public API: validate -> build arrays -> call the kernel -> wrap the result.

The checks of the inputs are :mod:`vswap_nb.inputs` (shared with the sweeps and the
command); :func:`vswap_nb.calibrate` is :mod:`vswap_nb.calibration` (it runs
:func:`simulate` many times, so it sits above this module)."""
from __future__ import annotations

import dataclasses

import numpy as np

from .core import verbs
from .core.counters import OP_CACHE_DEL, OP_DUP, OP_WRITEOUT
from .core.events import EV_A, EV_B, EV_C, EV_D, EV_KIND, EV_TASK, F_WRITE, K_PHASE, K_TOUCH, K_TOUCH_RANDOM
from .core.jit import njit
from .core.metadata import N_STRUCTURES, PAGE_SIZE
from .core.ref import ref
from .check import check_invariants
from .designs import design_names, get_design
from .inputs import (
    BACKENDS,
    check_backends,
    check_cluster_size,
    check_compile_jobs,
    check_design_options,
    check_designs,
    check_invariant_mode,
    check_kernel,
    check_options,
    check_progress,
    check_seed,
    check_swap_size,
    check_system,
    check_workload_on,
    check_usage,
    check_workload,
    design_spec,
)
from .kernel import KERNEL, KernelError
from .kernel import run as kernel_run
from .mm.config import DEVICE_DEFAULTS
from .mm.cost import cost_to_dict, cost_vectors, device_costs
from .mm.run import EngineError, precompile, run
from .results import compare_dataset, kernel_dataset, metadata_dataset, run_dataset

__all__ = ["BACKENDS", "compare", "design_spec", "designs", "metadata_overhead", "simulate"]

_BACKEND_CODES = {"disk": verbs.BACKEND_DISK, "zswap": verbs.BACKEND_ZSWAP}


def designs() -> tuple:
    """Names of the model's metadata designs.  ``"kernel"`` (the running kernel, see
    :mod:`vswap_nb.kernel`) is accepted wherever a design name is, but is not listed:
    it is not a model and has no metadata to measure."""
    return design_names()


# --------------------------------------------------------------------------- kernels


@njit
def _swap_out(dst, ctx, n, backend, memcg):
    """Swap out ``n`` order-0 pages the way reclaim does: allocate (the folio enters the
    swap cache), unmap its one PTE (dup), write it out to ``backend``, and drop the
    folio from the swap cache (it becomes a shadow).  Returns the pages swapped out
    (fewer than ``n`` when the device fills), or ``-1 - i`` if page ``i`` could not be
    written out (a model error)."""
    dst = ref(dst)
    ctx = ref(ctx)
    nfolios = ctx.folio.shape[0]
    for i in range(n):
        folio = i % nfolios
        e = verbs.alloc(dst, ctx, 0, 0, folio, memcg)
        if e < 0:
            return i
        verbs.dup(dst, ctx, OP_DUP, e, 1)
        if verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, backend) != backend:
            return -1 - i
        verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
    return n


@njit
def _metadata_bytes(dst, out):
    verbs.metadata_bytes(ref(dst), out)


# --------------------------------------------------------------------------- public


def metadata_overhead(
    designs=None,
    swap_size="32G",
    usage=(0, 0.25, 0.5, 0.75, 1),
    backend=BACKENDS,
    *,
    cluster_size: int = 512,
):
    """Metadata bytes each design keeps for a swap device of ``swap_size`` when a
    fraction ``usage`` of its slots holds swapped-out pages.

    The bytes are measured from each design's own state: a fresh design swaps out
    ``usage * (slots - 1)`` order-0 pages one by one through its verbs (allocate, unmap,
    write out to the backend, drop from the swap cache), and its structures are summed
    at each usage level.  ``backend="disk"`` writes each page to a device slot;
    ``"zswap"`` stores it compressed in zswap (the designs differ in what that costs in
    metadata).

    Returns an ``xarray.Dataset`` with ``metadata_bytes`` (design, backend, usage),
    ``metadata_bytes_by_structure`` (plus a ``structure`` dimension),
    ``bytes_per_slot`` and ``swapped_entries``.
    """
    names = check_designs(design_names() if designs is None else designs)
    if KERNEL.NAME in names:
        raise ValueError(
            "metadata_overhead measures the model's designs; the running kernel ('kernel') "
            "has no metadata model to measure: leave it out"
        )
    usage_arr = check_usage(usage)
    backends = check_backends(backend)
    nbytes = check_swap_size(swap_size)
    cluster_size = check_cluster_size(cluster_size)
    nslots = nbytes // PAGE_SIZE
    pages = nslots - 1
    order = np.argsort(usage_arr, kind="stable")
    targets = np.round(usage_arr * pages).astype(np.int64)

    by_struct = np.zeros((len(names), len(backends), usage_arr.size, N_STRUCTURES), dtype=np.int64)
    used = np.zeros((len(names), len(backends), usage_arr.size), dtype=np.int64)
    for di, name in enumerate(names):
        module = get_design(name)
        for bi, b in enumerate(backends):
            dst = module.new_state(nslots, cluster_size=int(cluster_size), zswap_enabled=(b == "zswap"))
            ctx = verbs.new_ctx(64)
            done = 0
            for ui in order:
                want = int(targets[ui]) - done
                if want > 0:
                    got = int(_swap_out(dst, ctx, want, _BACKEND_CODES[b], 1))
                    if got < 0:
                        raise RuntimeError(
                            f"{name}: writing page {done - got - 1} out to {b} failed; "
                            f"this is a bug in vswap_nb, please report it"
                        )
                    done += got
                _metadata_bytes(dst, by_struct[di, bi, ui])
                used[di, bi, ui] = done
    return metadata_dataset(
        names,
        backends,
        usage_arr,
        by_struct,
        used,
        nslots=nslots,
        swap_size=nbytes,
        parameters={
            "designs": list(names),
            "swap_size": nbytes,
            "usage": usage_arr.tolist(),
            "backend": list(backends),
            "cluster_size": int(cluster_size),
        },
    )


# --------------------------------------------------------------------------- simulate


def _write_pages(workload) -> np.ndarray:
    """Page writes per task and phase (usemem's throughput counts written bytes)."""
    nph = max(len(workload.phases), 1)
    out = np.zeros((workload.ntasks, nph), dtype=np.float64)
    ev = workload.events
    phase = np.full(workload.ntasks, -1)
    for row in ev:
        t = row[EV_TASK]
        k = row[EV_KIND]
        if k == K_PHASE:
            phase[t] = row[EV_A]
        elif k in (K_TOUCH, K_TOUCH_RANDOM) and row[EV_C] & F_WRITE and phase[t] >= 0:
            out[t, phase[t]] += row[EV_B] if k == K_TOUCH else row[EV_D]
    return out


def simulate(design, workload, system, *, seed=0, cost=None, progress=None, check=None, **design_options):
    """Run ``workload`` on ``system`` with the metadata design ``design``.

    The mm engine (:mod:`vswap_nb.mm`, its rooms listed in :mod:`vswap_nb.mm.engine`) turns the workload's page events into the
    kernel's swap operations (reclaim by kswapd and in the allocating task, faults with
    readahead, unmap in PTE batches, zswap stores and writeback) and calls the design's
    verbs for each.  ``cost`` overrides the cost table (a dict of primitive or mm cost
    names to ns, or what :func:`vswap_nb.calibrate` returns); ``design_options`` are the
    design's switches (e.g. ``cluster_lookup_cache=False`` for ``vswap_v6``).
    ``progress(done, total)`` is called between chunks of about a million page events.
    ``check="phase"`` checks the run's invariants (:func:`vswap_nb.check_invariants`)
    after every phase and at the end, ``check="every"`` also every ~2000 page events;
    a violation raises :class:`vswap_nb.InvariantError`.  Checking changes no counter.

    Returns an ``xarray.Dataset``: the vmstat-style counters, the ``counters``
    matrix (op x primitive), model time, CPU time and wall time per phase, usemem-style
    throughput and latency per phase, metadata bytes (peak and final, by structure) and
    XArray node counts, with the inputs as JSON attributes.
    """
    names = check_designs(design)
    if len(names) != 1:
        raise ValueError(f"simulate takes one design, got {list(names)}; use compare() for several")
    name = names[0]
    options = check_options(name, design_options)
    workload = check_workload(workload)
    system = check_system(system)
    check_workload_on(workload, system)
    seed = check_seed(seed)
    check = check_invariant_mode(check)
    check_progress(progress, "progress(done, total)")
    system = with_device_costs(system, cost)
    if name == KERNEL.NAME:
        if check is not None:
            raise ValueError(
                "check= checks the model's state; the kernel design has none (it checks every "
                "page it reads back instead): drop check for 'kernel'"
            )
        return _simulate_kernel(workload, system, seed, options, progress)
    prim_ns, mm_ns = cost_vectors(cost)
    params = system.to_params()
    raw = run(
        name, workload, system, params, prim_ns, mm_ns, seed=seed, options=options, progress=progress,
        check=None if check is None else check_invariants, check_every=check == "every",
    )
    return run_dataset(
        raw, workload=workload, system=system, seed=seed, cost=cost_to_dict(cost), write_pages=_write_pages(workload)
    )


def with_device_costs(system, cost):
    """``system`` with the device page times of the cost table ``cost`` (``zram_read``,
    ``ssd_write``, ...) for its device's kind, where the Device has its kind's default
    (a Device(read_ns=...) of the caller's own wins)."""
    dev = device_costs(cost).get(system.swap.kind)
    if not dev:
        return system
    d = system.swap
    default_read, default_write = DEVICE_DEFAULTS[d.kind][3:5]
    kw = {}
    if "read_ns" in dev and d.read_ns == default_read:
        kw["read_ns"] = dev["read_ns"]
    if "write_ns" in dev and d.write_ns == default_write:
        kw["write_ns"] = dev["write_ns"]
    if not kw:
        return system
    return dataclasses.replace(system, swap=dataclasses.replace(d, **kw))


def _simulate_kernel(workload, system, seed, options, progress):
    raw = kernel_run(workload, system, seed=seed, options=options, progress=progress)
    return kernel_dataset(raw, workload=workload, system=system, seed=seed, write_pages=_write_pages(workload))


def compare(designs, workload, system, *, seed=0, cost=None, options=None, check=None, progress=None, compile_jobs=1):
    """:func:`simulate` for each design on the same workload stream, along a ``design``
    dimension.  ``options`` maps a design name to its switches; ``check`` as in
    :func:`simulate` (for the model's designs; ``kernel`` checks every page it reads
    instead).  ``progress(design, done, total)`` is called as each run goes on.
    Everything is checked before the first run, ``kernel``'s machine included; a design
    that fails (out of memory, a failed kernel run) does not lose the others: they are
    on the error's ``.results``.  ``compile_jobs`` > 1 compiles the engines the Numba
    cache does not hold yet in that many processes at once before the runs (one per
    design state type; ``vswap-nb compare`` uses every CPU)."""
    names = check_designs(designs)
    options = check_design_options(names, options)
    check_workload(workload)
    check_system(system)
    check_workload_on(workload, system)
    check_seed(seed)
    check_invariant_mode(check)
    cost_vectors(cost)
    check_progress(progress, "progress(design, done, total)")
    compile_jobs = check_compile_jobs(compile_jobs)
    check_kernel(names, workload, system, options)
    model = [n for n in names if n != KERNEL.NAME]
    if compile_jobs > 1 and len(model) > 1:
        prim_ns, mm_ns = cost_vectors(cost)
        precompile(model, system, system.to_params(), prim_ns, mm_ns, options, int(compile_jobs))

    runs, failed = [], []
    for n in names:
        bar = None if progress is None else (lambda done, total, n=n: progress(n, done, total))
        try:
            runs.append(
                simulate(
                    n, workload, system, seed=seed, cost=cost, progress=bar,
                    check=None if n == KERNEL.NAME else check, **options.get(n, {}),
                )
            )
        except (EngineError, KernelError) as exc:
            failed.append(exc)
    if failed:
        # the designs that finished are kept on the error, not lost with it
        cls = EngineError if all(isinstance(e, EngineError) for e in failed) else KernelError
        err = cls(
            "; ".join(str(e) for e in failed)
            + (f" (the {len(runs)} designs that finished are in the error's .results)" if runs else "")
        )
        err.results = compare_dataset(runs) if runs else None
        raise err from failed[0]
    return compare_dataset(runs)
