"""Cost tables measured on this machine: :func:`calibrate`, and the one fitted on its
kernel (``calibrate(kernel=True)``, :func:`calibrate_on_kernel`).

``calibrate()`` without ``kernel`` measures what the *emulation's* own primitives cost
here (:func:`vswap_nb.mm.cost.calibrate`).  With ``kernel=True`` it fits the model's
costs on the running kernel, as follows.  This module runs :func:`vswap_nb.simulate`
on both sides (the ``kernel`` design and ``classic``), so it sits above the public API,
beside the sweeps, and :func:`calibrate` is here rather than in ``api``.

The model's time is a sum of counts times costs.  For a run in a memory cgroup with one
task, every reclaim happens in that task and no cost changes what happens, only how
long it takes, so each phase's model time is *linear* in the cost table:
``T = s * P + sum_k n_k * c_k``, where ``P`` is the phase's time from the metadata
primitives (the design verbs' counts times the default per-primitive costs), ``s`` a
scale on those primitives, and ``n_k`` the phase's count of each mm event ``k`` (a
fault, a zeroed page, an unmapped PTE, a reclaim batch, ...) and of each device page
read or write.  One model run per fitted cost, with that cost set to 1 us and the
others to 0, gives the ``n_k``; the kernel runs give ``T``.

The fit: the costs ``c >= 0`` that minimise the squared *relative* error of every
phase of every training case, plus a small pull towards the default table
(``RIDGE`` times the squared relative distance of each cost from its default), which
decides between costs the training cases cannot tell apart (a fault and the zeroing of
its page always come together, for instance).  Non-negative least squares
(Lawson-Hanson) on the stacked system.

What is fitted (``FITTED``): a scale on the metadata primitives (the swap-cache
insert and delete, dup, free paths of ``classic``), every mm event of
:data:`vswap_nb.mm.cost.MM_COST` (fault entry, page allocation, zeroing, touching and
freeing, an LRU operation, unmapping a PTE, zapping a PTE, a reclaim batch, the
same-filled check), zram's per-slot free (``slot_free_notify``), zram's page
decompression and compression (``zram_read``, ``zram_write``) and the loop device's
page read (``ssd_read``; its writes are asynchronous in the model, so no phase time
shows them).  The training cases (``TRAIN``) are one task in a 64 MiB cgroup:
zram and loop devices, write only and write + read-back, half and all zero pages,
and a run that fits the cgroup (no swap at all).  The held-out cases (``TEST``) are
what the fit never saw: another size, random access, four tasks, zswap.
"""
from __future__ import annotations

import json
import math

import numpy as np

from . import api
from . import kernel as kernel_design  # the running kernel (the design `kernel`)
from .core.counters import PRIMITIVES
from .kernel.machine import DEVICE_SIZE, machine_system
from .mm.cost import DEFAULT_COST, MM_COST, MM_NAMES, cost_to_dict
from .mm.cost import calibrate as calibrate_emulation
from .workloads import usemem

__all__ = ["DEVICE_SIZE", "FITTED", "TEST", "TRAIN", "FittedCost", "calibrate", "calibrate_on_kernel", "nnls"]

BASE = dict(size="128M", read_back=True)
# name -> (device kind, usemem keyword arguments, zswap on, memory_max)
TRAIN = {
    "zram": ("zram", BASE, False, "64M"),
    "loop": ("ssd", BASE, False, "64M"),
    "zram write only": ("zram", dict(size="128M"), False, "64M"),
    "loop write only": ("ssd", dict(size="128M"), False, "64M"),
    "zram half zero": ("zram", dict(BASE, fill={"sequence": 0.5, "zero": 0.5}), False, "64M"),
    "zram all zero": ("zram", dict(BASE, fill="zero"), False, "64M"),
    "fits in memory": ("zram", dict(size="32M", read_back=True), False, "64M"),
}
TEST = {
    "zram 256M in 128M": ("zram", dict(size="256M", read_back=True), False, "128M"),
    "loop 256M in 128M": ("ssd", dict(size="256M", read_back=True), False, "128M"),
    "zram random": ("zram", dict(BASE, random=True), False, "64M"),
    "loop random": ("ssd", dict(BASE, random=True), False, "64M"),
    "zram 4 tasks": ("zram", dict(size="32M", read_back=True, nr_tasks=4, sync_free=True), False, "64M"),
    "zram zswap": ("zram", BASE, True, "64M"),
}
PHASES = ("write", "read", "free")
RIDGE = 0.01
UNIT = 1000.0  # ns: the cost set in each basis run

PRIM_SCALE = "primitives (scale)"
FITTED = (PRIM_SCALE, *MM_NAMES, "slot_free_notify", "zram_read", "zram_write", "ssd_read")
_DEVICE_DEFAULT = {"zram_read": 1500.0, "zram_write": 5000.0, "ssd_read": 80_000.0}


def _default(name) -> float:
    if name == PRIM_SCALE:
        return 1.0
    if name in MM_COST:
        return MM_COST[name][0]
    if name in DEFAULT_COST:
        return DEFAULT_COST[name][0]
    return _DEVICE_DEFAULT[name]


def nnls(A, b, max_iter=None):
    """min ||A x - b|| subject to x >= 0 (Lawson and Hanson's active-set method)."""
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    m, n = A.shape
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    w = A.T @ (b - A @ x)
    tol = 10 * np.finfo(float).eps * np.linalg.norm(A, 1) * max(m, n)
    it = 0
    max_iter = 3 * n if max_iter is None else max_iter
    while (~passive).any() and w[~passive].max() > tol and it < max_iter:
        j = np.flatnonzero(~passive)[np.argmax(w[~passive])]
        passive[j] = True
        while True:
            it += 1
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(A[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            alpha = np.min(x[neg] / (x[neg] - z[neg]))
            x = x + alpha * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
        w = A.T @ (b - A @ x)
    return x


class FittedCost(dict):
    """A cost table (``{name: ns}``, usable as ``cost=``) fitted on this machine's
    kernel; ``.report`` holds the fitted values next to the defaults, and each case's
    phase times on the kernel, with the default table and with the fitted one."""

    report: dict

    def to_file_dict(self) -> dict:
        d = cost_to_dict(dict(self))
        d["about"] = {
            "what": "vswap_nb cost table fitted on a kernel (vswap_nb.calibrate(kernel=True))",
            **{k: v for k, v in self.report.items() if k in ("machine", "fitted", "defaults", "error", "cases", "repeat")},
        }
        return d


def _case(spec, machine):
    kind, kw, zswap, memory_max = spec
    return usemem(**kw), machine_system(machine, kind, zswap, memory_max)


def _phase_times(ds) -> dict:
    """{phase: ns} of a run's Dataset: the slowest task's time in each phase it has."""
    out = {}
    for p in PHASES:
        if p in list(ds.phase.values):
            t = float(ds.task_time.sel(phase=p).max())
            if t > 0:
                out[p] = t
    return out


def _basis_cost(name, value) -> dict:
    """A cost table with every fitted cost 0 but ``name`` = ``value`` (the other
    primitives at 0 too unless ``name`` is the primitive scale)."""
    cost = {n: 0.0 for n in MM_NAMES}
    cost.update({n: 0.0 for n in PRIMITIVES})
    cost.update({n: 0.0 for n in _DEVICE_DEFAULT})
    if name == PRIM_SCALE:
        cost.update({n: DEFAULT_COST[n][0] * value for n in PRIMITIVES if n != "slot_free_notify"})
    elif name is not None:
        cost[name] = value
    return cost


def _design_matrix(workload, system):
    """{phase: counts per fitted cost} of ``classic`` on ``workload``/``system``, and
    the time that does not depend on the fitted costs (zswap's compress/decompress)."""
    zero = _phase_times(api.simulate("classic", workload, system, cost=_basis_cost(None, 0.0)))
    rows: dict = {}
    for j, name in enumerate(FITTED):
        unit = 1.0 if name == PRIM_SCALE else UNIT
        t = _phase_times(api.simulate("classic", workload, system, cost=_basis_cost(name, unit)))
        for p, v in t.items():
            rows.setdefault(p, np.zeros(len(FITTED)))[j] = (v - zero.get(p, 0.0)) / unit
    return rows, zero


def _kernel_times(workload, system, repeat):
    return _phase_times(api.simulate("kernel", workload, system, repeat=repeat))


def _table(cost_of, scale):
    """The full flat cost table for fitted values ``cost_of`` (name -> ns)."""
    out = {n: DEFAULT_COST[n][0] * scale for n in PRIMITIVES}
    out["slot_free_notify"] = cost_of["slot_free_notify"]
    out.update({n: cost_of[n] for n in MM_NAMES})
    out.update({n: cost_of[n] for n in _DEVICE_DEFAULT})
    return out


def calibrate_on_kernel(repeat: int = 3, train=None, test=None, progress=None) -> FittedCost:
    """Fit the cost table on this machine's kernel (see the module docstring); returns a
    :class:`FittedCost`.  ``train``/``test`` are case names from :data:`TRAIN` and
    :data:`TEST` (default all); ``progress(step, total, what)`` reports each run."""
    machine = kernel_design.kernel_info()
    train = list(TRAIN) if train is None else list(train)
    test = list(TEST) if test is None else list(test)
    for n in train:
        if n not in TRAIN:
            raise ValueError(f"unknown training case {n!r}; cases: {', '.join(TRAIN)}")
    for n in test:
        if n not in TEST:
            raise ValueError(f"unknown held-out case {n!r}; cases: {', '.join(TEST)}")
    cases = [(n, TRAIN[n], True) for n in train] + [(n, TEST[n], False) for n in test]
    for n, spec, _ in cases:  # every case checked before any run
        kernel_design.check(*_case(spec, machine), {"repeat": repeat})
    total = len(cases)
    rows, rhs, weights, seen = [], [], [], []
    kernel_t: dict = {}
    for i, (n, spec, is_train) in enumerate(cases):
        if progress is not None:
            progress(i, total, n)
        w, s = _case(spec, machine)
        kernel_t[n] = _kernel_times(w, s, repeat)
        if is_train:
            a, zero = _design_matrix(w, s)
            for p, t in kernel_t[n].items():
                if p in a:
                    rows.append(a[p] / t)
                    rhs.append((t - zero.get(p, 0.0)) / t)
                    seen.append((n, p))
    d = np.array([_default(n) for n in FITTED])
    A = np.vstack(rows + [math.sqrt(RIDGE) * np.diag(1.0 / d)])
    b = np.concatenate([np.array(rhs), math.sqrt(RIDGE) * np.ones(len(FITTED))])
    x = nnls(A, b)
    fitted = {name: float(v) for name, v in zip(FITTED, x)}
    table = _table(fitted, fitted[PRIM_SCALE])
    result = FittedCost(table)
    per_case = {}
    errs = {"train": [], "test": []}
    for n, spec, is_train in cases:
        w, s = _case(spec, machine)
        dflt = _phase_times(api.simulate("classic", w, s))
        fit = _phase_times(api.simulate("classic", w, s, cost=table))
        per_case[n] = {
            "set": "train" if is_train else "test",
            "phases": {
                p: {"kernel_ms": kt / 1e6, "default_ms": dflt.get(p, 0.0) / 1e6, "fitted_ms": fit.get(p, 0.0) / 1e6}
                for p, kt in kernel_t[n].items()
            },
        }
        for p, kt in kernel_t[n].items():
            errs["train" if is_train else "test"].append(fit.get(p, 0.0) / kt)
    result.report = {
        "machine": {"release": machine.release, "cpus": machine.cpus, "cgroup_version": machine.cgroup_version},
        "fitted": fitted,
        "defaults": {name: float(v) for name, v in zip(FITTED, d)},
        "cases": per_case,
        "error": {
            k: {"min_ratio": float(min(v)), "max_ratio": float(max(v))} if v else {} for k, v in errs.items()
        },
        "repeat": repeat,
    }
    if progress is not None:
        progress(total - 1, total, "done")
    return result


def calibrate(repeat: int = 3, *, kernel: bool = False, out=None, train=None, test=None, progress=None):
    """A cost table measured on this machine, usable as ``cost=``.

    ``kernel=False``: what the *emulation's* own primitives cost here
    (:func:`vswap_nb.mm.cost.calibrate`: XArray walks, table reads and writes, a lock
    word), the rest the defaults.  ``kernel=True``: the model's costs fitted on this
    machine's kernel (:func:`calibrate_on_kernel`: ground-truth runs of a set of
    training cases, a fit of the mm-level costs, the error on held-out cases in
    ``.report``); root and a machine that can run the ``kernel`` design.  ``out``
    writes the table to a JSON file that ``cost=vswap_nb.load_cost(path)`` and the
    command's ``--cost FILE`` read back.  ``progress(step, total, what)`` reports each
    case of ``kernel=True``."""
    if not isinstance(kernel, bool):
        raise TypeError(f"kernel must be True or False, got {kernel!r}")
    if kernel:
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
