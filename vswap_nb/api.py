"""Public API: validate -> build arrays -> call the kernel -> wrap the result."""
from __future__ import annotations

import numbers

import numpy as np

from .core import verbs
from .core.counters import OP_CACHE_DEL, OP_DUP, OP_WRITEOUT
from .core.jit import njit
from .core.ref import ref
from .core.metadata import N_STRUCTURES, PAGE_SIZE
from .core.units import parse_size
from .check import CHECK_MODES, check_invariants
from .designs import design_names, get_design
from .kernel import KERNEL, KernelError
from .kernel import check as kernel_check
from .kernel import run as kernel_run
from .results import compare_dataset, kernel_dataset, metadata_dataset

__all__ = ["BACKENDS", "compare", "design_spec", "designs", "metadata_overhead", "simulate"]

BACKENDS = ("disk", "zswap")
_BACKEND_CODES = {"disk": verbs.BACKEND_DISK, "zswap": verbs.BACKEND_ZSWAP}
MAX_SWAP_BYTES = 1 << 50  # far above any swap device the model is meant for


def designs() -> tuple:
    """Names of the model's metadata designs.  ``"kernel"`` (the running kernel, see
    :mod:`vswap_nb.kernel`) is accepted wherever a design name is, but is not listed:
    it is not a model and has no metadata to measure."""
    return design_names()


def design_spec(name):
    """What the package knows of design ``name``: its module (or design object), or the
    ``kernel`` design's description; ValueError listing the valid names otherwise."""
    if name == KERNEL.NAME:
        return KERNEL
    try:
        return get_design(name)
    except ValueError as exc:
        raise ValueError(f"{exc} (and {KERNEL.NAME!r}, the running kernel)") from None


# --------------------------------------------------------------------------- checks


def _as_tuple(value, name):
    if isinstance(value, str):
        return (value,)
    try:
        out = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a name or a list of names, got {value!r}") from None
    if not out:
        raise ValueError(f"{name} must not be empty; valid values: {', '.join(_valid(name))}")
    return out


def _valid(name):
    return designs() if name == "designs" else BACKENDS


def check_designs(value) -> tuple:
    names = _as_tuple(value, "designs")
    for n in names:
        design_spec(n)
    if len(set(names)) != len(names):
        raise ValueError(f"designs lists a design twice: {list(names)}; give each once")
    return names


def check_backends(value) -> tuple:
    names = _as_tuple(value, "backend")
    for n in names:
        if n not in BACKENDS:
            raise ValueError(f"unknown backend {n!r}; valid backends: {', '.join(BACKENDS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"backend lists a backend twice: {list(names)}; give each once")
    return names


def check_usage(value) -> np.ndarray:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = (value,)
    try:
        arr = np.asarray(list(value), dtype=object)
    except TypeError:
        raise TypeError(f"usage must be a fraction or a list of fractions in [0, 1], got {value!r}") from None
    if arr.size == 0:
        raise ValueError("usage must hold at least one fraction in [0, 1], e.g. usage=(0, 0.5, 1)")
    out = []
    for u in arr:
        if isinstance(u, bool) or not isinstance(u, numbers.Real):
            raise TypeError(f"usage values must be numbers in [0, 1], got {u!r}")
        u = float(u)
        if not 0.0 <= u <= 1.0:
            raise ValueError(f"usage values must be in [0, 1] (fractions of the device), got {u}")
        out.append(u)
    if len(set(out)) != len(out):
        raise ValueError(f"usage lists a value twice: {out}; give each once")
    return np.asarray(out, dtype=np.float64)


def check_swap_size(value, name="swap_size") -> int:
    nbytes = parse_size(value, name)
    if nbytes < 2 * PAGE_SIZE:
        raise ValueError(
            f"{name}={value!r} is too small: a swap device needs at least two pages "
            f"(the header and one slot), e.g. '64M'"
        )
    if nbytes > MAX_SWAP_BYTES:
        raise ValueError(f"{name}={value!r} is above 2**50 bytes (1 PiB); the model stops there")
    return nbytes


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
    if isinstance(cluster_size, bool) or not isinstance(cluster_size, numbers.Integral):
        raise TypeError(f"cluster_size must be an integer power of two, got {cluster_size!r}")
    if cluster_size < 2 or cluster_size & (cluster_size - 1) or cluster_size > (1 << 20):
        raise ValueError(f"cluster_size must be a power of two in [2, 2**20], got {cluster_size}")
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


def _check_workload(workload):
    from .workloads import Workload

    if not isinstance(workload, Workload):
        raise TypeError(
            f"workload must be a vswap_nb Workload, got {type(workload).__name__}; "
            f"build one with vswap_nb.usemem(...), vswap_nb.memhog(...), vswap_nb.kbuild(...) "
            f"or vswap_nb.read_trace(path)"
        )
    workload.validate()
    return workload


def _check_system(system):
    from .mm.config import System

    if not isinstance(system, System):
        raise TypeError(
            f"system must be a vswap_nb.System, got {type(system).__name__}; "
            f"e.g. System(ram='16G', swap=Device('zram', '64G'))"
        )
    return system


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    return int(seed)


def _check_options(name, options: dict) -> dict:
    module = design_spec(name)
    valid = dict(getattr(module, "OPTIONS", {}))
    out = {}
    for k, v in options.items():
        if k not in valid:
            hint = f"valid switches: {', '.join(valid)}" if valid else f"{name} has no switches"
            raise ValueError(f"unknown option {k}={v!r} for design {name!r}; {hint}")
        check = getattr(module, "check_option", None)
        if check is not None:
            out[k] = check(k, v)
        elif not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{k} must be True or False, got {v!r}")
        else:
            out[k] = bool(v)
    return out


def _write_pages(workload) -> np.ndarray:
    """Page writes per task and phase (usemem's throughput counts written bytes)."""
    from .workloads.events import (
        EV_A,
        EV_B,
        EV_C,
        EV_D,
        EV_KIND,
        EV_TASK,
        F_WRITE,
        K_PHASE,
        K_TOUCH,
        K_TOUCH_RANDOM,
    )

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


def _check_check(check):
    if check not in CHECK_MODES:
        raise ValueError(
            f"check must be None, 'phase' (invariants after every phase) or 'every' (also "
            f"every ~2000 page events), got {check!r}"
        )
    return check


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
    from .mm.cost import cost_to_dict, cost_vectors
    from .mm.run import run
    from .results import run_dataset

    names = check_designs(design)
    if len(names) != 1:
        raise ValueError(f"simulate takes one design, got {list(names)}; use compare() for several")
    name = names[0]
    options = _check_options(name, design_options)
    workload = _check_workload(workload)
    system = _check_system(system)
    seed = _check_seed(seed)
    check = _check_check(check)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable(done, total) or None, got {progress!r}")
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


def calibrate(repeat: int = 3, *, kernel: bool = False, out=None, train=None, test=None, progress=None):
    """A cost table measured on this machine, usable as ``cost=``.

    ``kernel=False``: what the *emulation's* own primitives cost here
    (:func:`vswap_nb.mm.cost.calibrate`: XArray walks, table reads and writes, a lock
    word), the rest the defaults.  ``kernel=True``: the model's costs fitted on this
    machine's kernel (:mod:`vswap_nb.kernel.calibration`: ground-truth runs of a set of
    training cases, a fit of the mm-level costs, the error on held-out cases in
    ``.report``); root and a machine that can run the ``kernel`` design.  ``out``
    writes the table to a JSON file that ``cost=vswap_nb.load_cost(path)`` and the
    command's ``--cost FILE`` read back."""
    import json

    from .mm.cost import calibrate as calibrate_emulation
    from .mm.cost import cost_to_dict

    if not isinstance(kernel, bool):
        raise TypeError(f"kernel must be True or False, got {kernel!r}")
    if kernel:
        from .kernel.calibration import calibrate_on_kernel

        table = calibrate_on_kernel(repeat=repeat, train=train, test=test, progress=progress)
        body = table.to_file_dict()
    else:
        if train is not None or test is not None:
            raise ValueError("train and test cases apply to calibrate(kernel=True) only")
        table = calibrate_emulation(repeat)
        body = cost_to_dict(table) | {"about": {"what": "the emulation's own primitive costs (calibrate())"}}
    if out is not None:
        with open(out, "w") as f:
            json.dump(body, f, indent=2, sort_keys=True)
    return table


def with_device_costs(system, cost):
    """``system`` with the device page times of the cost table ``cost`` (``zram_read``,
    ``ssd_write``, ...) for its device's kind, where the Device has its kind's default
    (a Device(read_ns=...) of the caller's own wins)."""
    import dataclasses

    from .mm.config import DEVICE_DEFAULTS
    from .mm.cost import device_costs

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


def check_kernel(names, workload, system, options) -> None:
    """If ``kernel`` is among ``names``, check now (before any run) that it can run
    ``workload`` on ``system`` here: ValueError, or KernelUnavailable naming what the
    machine lacks."""
    if KERNEL.NAME in names:
        kernel_check(workload, system, _check_options(KERNEL.NAME, options.get(KERNEL.NAME, {})))


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
    from .mm.cost import cost_vectors
    from .mm.run import EngineError, precompile

    names = check_designs(designs)
    options = {} if options is None else dict(options)
    for k in options:
        if k not in names:
            raise ValueError(f"options names design {k!r}, which is not among designs {list(names)}")
    for n in names:
        _check_options(n, options.get(n, {}))
    _check_workload(workload)
    _check_system(system)
    _check_seed(seed)
    _check_check(check)
    cost_vectors(cost)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable(design, done, total) or None, got {progress!r}")
    if isinstance(compile_jobs, bool) or not isinstance(compile_jobs, (int, np.integer)) or compile_jobs < 1:
        raise ValueError(f"compile_jobs must be an int >= 1 (processes that compile engines at once), got {compile_jobs!r}")
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
