"""The checks of user inputs that the public functions, the sweeps and the command share.

Each ``check_*`` takes what a user passed, returns it in the form the runs use, and
raises TypeError or ValueError naming the argument and saying how to fix it, before
anything runs (:func:`vswap_nb.simulate`, :func:`vswap_nb.compare`,
:func:`vswap_nb.sweep`, :func:`vswap_nb.metadata_overhead` and ``vswap-nb`` call
them; ``docs/validation.md`` lists the messages and ``tests/test_validation.py`` checks
them).  The checks of a System and of a Workload are their own (``System(...)``,
``Workload.validate()``); here is what no one object owns: the design names and their
switches, the seed, the check mode, the progress callback, and the inputs of
:func:`vswap_nb.metadata_overhead`.

It sits on the public API's layer, below its users: it imports the designs, the
workloads, the mm model and :mod:`vswap_nb.kernel`, and is imported by ``api``,
``sweep``, ``calibration`` and ``cli``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .check import CHECK_MODES
from .core.events import EV_KIND, K_SWAPOFF
from .core.metadata import PAGE_SIZE
from .core.units import parse_size
from .designs import design_names, get_design
from .kernel import KERNEL
from .kernel import check as kernel_check
from .mm.config import System
from .workloads import Workload

__all__ = [
    "BACKENDS",
    "MAX_SWAP_BYTES",
    "check_backends",
    "check_cluster_size",
    "check_compile_jobs",
    "check_design_options",
    "check_designs",
    "check_invariant_mode",
    "check_kernel",
    "check_names",
    "check_options",
    "check_progress",
    "check_seed",
    "check_swap_size",
    "check_system",
    "check_workload_on",
    "check_usage",
    "check_workload",
    "design_spec",
]

BACKENDS = ("disk", "zswap")
MAX_SWAP_BYTES = 1 << 50  # far above any swap device the model is meant for


def design_spec(name):
    """What the package knows of design ``name``: its module (or design object), or the
    ``kernel`` design's description; ValueError listing the valid names otherwise."""
    if name == KERNEL.NAME:
        return KERNEL
    try:
        return get_design(name)
    except ValueError as exc:
        raise ValueError(f"{exc} (and {KERNEL.NAME!r}, the running kernel)") from None


# --------------------------------------------------------------------------- names


def check_names(value, name, valid) -> tuple:
    """``value`` (a name or a list of names) as a non-empty tuple; ``name`` is the
    argument as the message calls it, ``valid`` the names to suggest when it is empty."""
    if isinstance(value, str):
        return (value,)
    try:
        out = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a name or a list of names, got {value!r}") from None
    if not out:
        raise ValueError(f"{name} must not be empty; valid values: {', '.join(valid)}")
    return out


def check_designs(value) -> tuple:
    """Design names (a name or a list of names), each known and given once."""
    names = check_names(value, "designs", design_names())
    for n in names:
        design_spec(n)
    if len(set(names)) != len(names):
        raise ValueError(f"designs lists a design twice: {list(names)}; give each once")
    return names


def check_backends(value) -> tuple:
    """Backend names of :func:`vswap_nb.metadata_overhead` (a name or a list)."""
    names = check_names(value, "backend", BACKENDS)
    for n in names:
        if n not in BACKENDS:
            raise ValueError(f"unknown backend {n!r}; valid backends: {', '.join(BACKENDS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"backend lists a backend twice: {list(names)}; give each once")
    return names


# --------------------------------------------------------------------------- design switches


def check_options(name, options: dict) -> dict:
    """The switches ``options`` of design ``name``, each checked by the design's
    ``check_option`` (True/False for a plain switch)."""
    design = design_spec(name)
    out = {}
    for k, v in options.items():
        if k not in design.OPTIONS:
            hint = f"valid switches: {', '.join(design.OPTIONS)}" if design.OPTIONS else f"{name} has no switches"
            raise ValueError(f"unknown option {k}={v!r} for design {name!r}; {hint}")
        out[k] = design.check_option(k, v)
    return out


def check_design_options(names, options) -> dict:
    """``options`` (None or design name -> switches) for the designs ``names``: every
    design named among ``names``, every switch checked.  Returns {name: switches} for
    each of ``names`` (empty where none is given)."""
    options = {} if options is None else dict(options)
    for k in options:
        if k not in names:
            raise ValueError(f"options names design {k!r}, which is not among designs {list(names)}")
    return {n: check_options(n, options.get(n, {})) for n in names}


# --------------------------------------------------------------------------- a run's inputs


def check_workload(workload) -> Workload:
    if not isinstance(workload, Workload):
        raise TypeError(
            f"workload must be a vswap_nb Workload, got {type(workload).__name__}; "
            f"build one with vswap_nb.usemem(...), vswap_nb.memhog(...), vswap_nb.kbuild(...) "
            f"or vswap_nb.read_trace(path)"
        )
    workload.validate()
    return workload


def check_system(system) -> System:
    if not isinstance(system, System):
        raise TypeError(
            f"system must be a vswap_nb.System, got {type(system).__name__}; "
            f"e.g. System(ram='16G', swap=Device('zram', '64G'))"
        )
    return system


def check_workload_on(workload, system) -> None:
    """What the engine cannot model for this workload on this system."""
    if system.thp is not None and (workload.events[:, EV_KIND] == K_SWAPOFF).any():
        raise ValueError(
            f"workload {workload.name!r} swaps off, and system.thp={system.thp!r} gives large folios: "
            f"swapoff of large folios is not modelled; drop the swapoff or run with thp=None"
        )


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    return int(seed)


def check_invariant_mode(check):
    """``check=`` of simulate and compare: None, "phase" or "every"."""
    if check not in CHECK_MODES:
        raise ValueError(
            f"check must be None, 'phase' (invariants after every phase) or 'every' (also "
            f"every ~2000 page events), got {check!r}"
        )
    return check


def check_progress(progress, signature: str = "progress(done, total)"):
    """None or a callable; ``signature`` is how it is called, for the message."""
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable {signature} or None, got {progress!r}")
    return progress


def check_compile_jobs(compile_jobs) -> int:
    if isinstance(compile_jobs, bool) or not isinstance(compile_jobs, (int, np.integer)) or compile_jobs < 1:
        raise ValueError(
            f"compile_jobs must be an int >= 1 (processes that compile engines at once), got {compile_jobs!r}"
        )
    return int(compile_jobs)


def check_kernel(names, workload, system, options) -> None:
    """If ``kernel`` is among ``names``, check now (before any run) that it can run
    ``workload`` on ``system`` here: ValueError, or KernelUnavailable naming what the
    machine lacks.  ``options``: design name -> switches."""
    if KERNEL.NAME in names:
        kernel_check(workload, system, check_options(KERNEL.NAME, options.get(KERNEL.NAME, {})))


# --------------------------------------------------------------------------- metadata_overhead


def check_usage(value) -> np.ndarray:
    """Fractions of the device in [0, 1] (a number or a list), each given once."""
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


def check_cluster_size(cluster_size) -> int:
    if isinstance(cluster_size, bool) or not isinstance(cluster_size, numbers.Integral):
        raise TypeError(f"cluster_size must be an integer power of two, got {cluster_size!r}")
    if cluster_size < 2 or cluster_size & (cluster_size - 1) or cluster_size > (1 << 20):
        raise ValueError(f"cluster_size must be a power of two in [2, 2**20], got {cluster_size}")
    return int(cluster_size)
