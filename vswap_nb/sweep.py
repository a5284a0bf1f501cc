"""Parameter sweeps: many :func:`vswap_nb.simulate` runs on a grid, as one Dataset.

:func:`sweep` runs every design in ``designs`` at every combination of the values in
``over`` (a dict parameter name -> list of values) and returns an ``xarray.Dataset``
with a ``design`` dimension followed by one dimension per swept parameter, in the order
of ``over``, followed by the dimensions of a single run (``op``, ``primitive``,
``phase``, ...).  At each grid point the variables are exactly those of
:func:`vswap_nb.compare` for the same inputs.

>>> ds = sweep(["classic", "vswap_v6"], usemem("16M"),
...            System("64M", memory_max="16M", swap=Device("ssd", "256M")),
...            over={"memory_max": ["12M", "16M"], "cluster_lookup_cache": [True, False]})
>>> ds.pswpout.dims
('design', 'memory_max', 'cluster_lookup_cache')

How a name in ``over`` is resolved (first match wins)
-----------------------------------------------------
1. **design option**: a switch in the ``OPTIONS`` of one of ``designs`` (e.g.
   ``cluster_lookup_cache`` of ``vswap_v6``).  It applies to the designs that have
   it; a design without it does not depend on it, so that design runs once per
   combination of the *other* parameters and its result is repeated along the
   option's dimension (``classic`` with ``cluster_lookup_cache=[True, False]`` is
   computed once, not twice).  Values as the option takes them: True/False for a
   switch, an integer for a setting such as ``lookup_cache_ways``.  An option may not
   be both swept and fixed in ``options``.
2. **workload parameter**: a key of ``workload.params`` (``size``, ``nr_tasks``,
   ``read_back``, ... for usemem; ``size`` for memhog; ``jobs``, ``ram_per_job``, ...
   for kbuild; ``rounds``, ``free_fraction``, ... for churn).  The workload is rebuilt
   as ``usemem(**{**workload.params, name: value})`` (memhog, kbuild, churn alike), so
   only workloads named ``usemem``, ``memhog``, ``kbuild`` or ``churn`` that are what
   their builder makes of their ``params`` can be swept
   (a trace written from such a workload and read back can; an edited one cannot).
3. **System field**: a top-level field of :class:`vswap_nb.System` (``ram``,
   ``memory_max``, ``nr_cpus``, ``swap``, ``zswap``, ``page_cluster``,
   ``vma_readahead``, ``swappiness``, ``min_free_kbytes``, ``kswapd``), a field of the
   swap device as ``"swap.<field>"`` (``swap.kind``, ``swap.size``, ``swap.read_ns``,
   ...) or of zswap as ``"zswap.<field>"`` (the base system must have zswap).  When
   ``swap.kind`` changes, the device's kind-dependent values (``read_ns``,
   ``write_ns``, ``synchronous``, zram's ``ratio``) follow the new kind unless the
   base device set them to something other than its own kind's default.

A name that is none of these raises ValueError listing the sweepable names.

Plan, then run
--------------
:func:`sweep` is :func:`plan_sweep` followed by :func:`run_plan`.  The planner is pure:
it checks everything (every System and Workload of the grid is built, every value
checked) and returns a :class:`SweepPlan`, the distinct runs (:class:`SweepRun`: the
design, its workload, System and switches, the swept values) with the sweep's ``dims``
and ``coords``, running nothing; so a typo in the last value of a long sweep costs
nothing (errors name the parameter and the value), and a plan can be looked at (how
many runs, which points share one) before it is run.  :func:`run_plan` runs a plan
here or on a cluster and assembles the Dataset.

Coordinates
-----------
Each swept dimension's coordinate holds the values *as the model uses them*: sizes in
bytes (``memory_max=["12M", "16M"]`` gives ``[12582912, 16777216]`` with
``units="bytes"``), booleans as booleans, numbers as numbers, names as strings.  Where
the values are not all of one scalar kind (``memory_max=[None, "16M"]``, a ``fill``
dict, a ``swap`` Device spelling), the coordinate holds the values as the user gave
them, as strings (JSON for non-strings: ``None`` -> ``"null"``).  Values that are the
same once normalised (``"16M"`` and ``16777216``) are an error.  Each coordinate has
``long_name="swept parameter <name>"`` and ``units`` ("bytes", "ns", "KiB",
"percent" or "1").  The dataset attribute ``parameters`` (JSON) holds ``over`` as
given, the order of the swept names, the designs and their fixed options, the base
system and workload, the seed and the cost table; the Dataset round-trips through
netCDF (``ds.to_netcdf(path, engine="h5netcdf")``).

When the swept values change the shape of a run (``read_back`` adds a ``read``
phase; ``nr_tasks`` changes the ``task`` dimension), the per-run dimension is the
union of the labels (the longest run's order, then any others) and the points
without a label hold NaN there.  Only float variables have such dimensions today
(``model_time``, ``task_time``, ...); ``counters`` and the vmstat counters stay int64.

Where the runs happen
---------------------
``client=None`` runs in this process, one run after another, design by design.
With dask.distributed (``pip install 'vswap_nb[distributed]'``):

* ``client="local"``: a ``LocalCluster`` of two single-threaded worker processes on
  127.0.0.1 (no dashboard; the scheduler's HTTP routes on a free loopback port, not
  8787) and a Client are started for the sweep and closed after it.
  ``VSWAP_NB_CACHE_DIR`` and ``VSWAP_NB_CACHE`` are passed to the workers when set
  here (spawned workers inherit the environment anyway; passing them makes it
  explicit).  With the ``spawn`` start method the workers import your ``__main__``
  script: guard a script that calls this with ``if __name__ == "__main__":``.
* a ``distributed.Client``: used as is, and left open.
* an address such as ``"tcp://10.0.0.5:8786"``: a Client is connected for the sweep
  and closed after it (the scheduler and workers are left running).

Each run is one task: the module-level :func:`_run_one` called with plain, picklable
arguments (the design name, the Workload, the System as a dict, the design options,
the seed, the cost table); each distinct Workload is scattered to the cluster once and
shared by its runs.  Results (small Datasets) come back to the caller, which builds
the sweep's Dataset exactly as it does in-process; so results are the same however the
sweep runs, except ``wall_time`` (the measured kernel time).  An error in a run
cancels the rest and is raised here as a :class:`SweepError` naming the design and the
parameter values of the run, with the run's exception as its ``__cause__``; the error
is also of the run's exception type where possible, so ``except EngineError`` still
catches a run that ran out of memory (the same holds in-process).

Compile once
------------
The first run of a design in a process compiles that design's engine (a minute or
more); later processes load it from the on-disk cache (:mod:`vswap_nb.core.jit`,
``~/.cache/vswap_nb`` or ``$VSWAP_NB_CACHE_DIR``) in a few seconds.  So that no two
workers compile the same engine at once, a cluster sweep runs in two steps: first
*one* run per design, each on a different worker (at most one of these per worker at
a time; with more designs than workers the next starts on whichever worker finishes
first), waiting until they are all done; only then the rest, which load the engines
from the cache wherever they land.  This assumes the workers share a file system for
the cache (true for a LocalCluster); workers on other machines each compile once.
Running a small sweep in-process first (or :func:`vswap_nb.simulate` once per
design) fills the cache before a cluster starts.  The in-process path needs no such
care: runs are ordered design by design, so each engine is compiled or loaded once.

``progress(done, total)`` is called with ``done=0`` before the first run and after
each finished run; ``total`` is the number of distinct runs (after the broadcasting
of design options described above).
"""
from __future__ import annotations

import itertools
import json
import numbers
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import NamedTuple

import numpy as np
import xarray as xr

from . import api
from .designs import design_names
from .inputs import (
    check_design_options,
    check_designs,
    check_options,
    check_progress,
    check_seed,
    check_system,
    check_workload,
    check_workload_on,
    design_spec,
)
from .kernel import KERNEL
from .kernel import check as check_kernel
from .mm.config import DEVICE_DEFAULTS, ZRAM_RATIO_DEFAULT, Device, System, Zswap
from .mm.cost import cost_to_dict, cost_vectors
from .results import base_attrs
from .workloads import churn, kbuild, memhog, usemem

__all__ = ["SweepError", "SweepPlan", "SweepRun", "plan_sweep", "run_plan", "sweep"]

KIND_OPTION = "design option"
KIND_WORKLOAD = "workload"
KIND_SYSTEM = "system"

LOCAL_WORKERS = 2
_ENV_PASSED = ("VSWAP_NB_CACHE_DIR", "VSWAP_NB_CACHE")

# units of swept coordinates that are not dimensionless (used when the coordinate is numeric)
_SYSTEM_UNITS = {
    "ram": "bytes",
    "memory_max": "bytes",
    "swap.size": "bytes",
    "swap.read_ns": "ns",
    "swap.write_ns": "ns",
    "zswap.compress_ns": "ns",
    "zswap.decompress_ns": "ns",
    "zswap.max_pool_percent": "percent",
    "min_free_kbytes": "KiB",
}
_WORKLOAD_UNITS = {
    ("usemem", "size"): "bytes",
    ("memhog", "size"): "bytes",
    ("kbuild", "ram_per_job"): "bytes",
    ("churn", "size"): "bytes",
}


class SweepError(RuntimeError):
    """A run of a sweep failed.  ``design`` and ``point`` (parameter -> value as given)
    say which; the run's own exception is ``__cause__``.

    The exception raised is also an instance of the run's exception type where that
    type allows it (``except EngineError`` and ``except SweepError`` both catch a run
    that ran out of memory), see :func:`_sweep_error`."""

    def __init__(self, message, design=None, point=None):
        super().__init__(message)
        self.design = design
        self.point = dict(point or {})

    def __reduce__(self):
        return (SweepError, (str(self.args[0]) if self.args else "", self.design, self.point))


_ERROR_CLASSES: dict = {}


def _sweep_error(exc, message, design, point) -> SweepError:
    """A SweepError for ``exc``: of a class derived from both ``type(exc)`` and SweepError
    (named and shown like ``type(exc)``), or a plain SweepError when the two cannot be
    combined (e.g. OSError's instance layout) or the type is not built from a message."""
    cls = type(exc)
    err = None
    if not isinstance(exc, SweepError):
        try:
            sub = _ERROR_CLASSES.get(cls)
            if sub is None:
                sub = type(
                    cls.__name__,
                    (cls, SweepError),
                    {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__reduce__": SweepError.__reduce__},
                )
                _ERROR_CLASSES[cls] = sub
            err = sub(message)
        except Exception:  # noqa: BLE001 - layout clash, other __init__ arguments: fall back
            err = None
    if err is None:
        err = SweepError(message)
    err.design = design
    err.point = dict(point)
    return err


_BUILDERS = {"usemem": usemem, "memhog": memhog, "kbuild": kbuild, "churn": churn}


# --------------------------------------------------------------------------- the task


def _run_one(design, workload, system, options, seed, cost):
    """One run of a sweep (a dask task): :func:`vswap_nb.simulate` of ``design`` on
    ``workload`` and the System made from the dict ``system``."""
    return api.simulate(design, workload, System.from_dict(system), seed=seed, cost=cost, **options)


# --------------------------------------------------------------------------- resolving


@dataclass
class _Param:
    name: str
    kind: str
    values: list  # as given (JSON-safe)
    designs: tuple = ()  # design options: the designs that have the switch
    normalised: list = field(default_factory=list)  # as the model uses them


def _json_safe(value, name):
    if isinstance(value, np.generic):
        value = value.item()
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ValueError(
            f"over[{name!r}] holds {value!r} ({type(value).__name__}), which is not a "
            f"JSON value; use numbers, strings, True/False, None, or lists/dicts of them"
        ) from None
    if isinstance(value, tuple):
        value = list(value)
    return value


def _check_values(name, values) -> list:
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"over[{name!r}] must be a list of values, got {type(values).__name__} {values!r}; "
            f"e.g. over={{{name!r}: [{values!r}]}}"
        )
    out = [_json_safe(v, name) for v in values]
    if not out:
        raise ValueError(f"over[{name!r}] is empty; give at least one value")
    seen = {}
    for v in out:
        key = json.dumps(v, sort_keys=True)
        if key in seen:
            raise ValueError(f"over[{name!r}] lists {v!r} twice; give each value once")
        seen[key] = v
    return out


def _system_names() -> dict:
    """Sweepable System names -> (top-level field, sub-field or None)."""
    out = {f.name: (f.name, None) for f in fields(System) if f.name != "_"}
    for f in fields(Device):
        if f.name != "_":
            out[f"swap.{f.name}"] = ("swap", f.name)
    for f in fields(Zswap):
        out[f"zswap.{f.name}"] = ("zswap", f.name)
    return out


def _rebuildable(workload) -> bool:
    return workload.name in _BUILDERS


def _sweepable(names, workload) -> list:
    opts = []
    for n in names:
        opts += [k for k in design_spec(n).OPTIONS if k not in opts]
    wl = list(workload.params) if _rebuildable(workload) else []
    return opts + [k for k in wl if k not in opts] + [k for k in _system_names() if k not in opts + wl]


def _resolve(over, names, workload, system, options) -> list:
    if not isinstance(over, Mapping):
        raise TypeError(
            f"over must be a dict parameter name -> list of values, got {type(over).__name__}; "
            f"e.g. over={{'memory_max': ['12M', '16M']}}"
        )
    sys_names = _system_names()
    params = []
    for name, values in over.items():
        if not isinstance(name, str):
            raise TypeError(f"over's keys must be parameter names (str), got {name!r}")
        have = tuple(d for d in names if name in design_spec(d).OPTIONS)
        if have:
            kind = KIND_OPTION
            for d in have:
                if name in options.get(d, {}):
                    raise ValueError(
                        f"{name} is both swept (over[{name!r}]) and fixed in options[{d!r}]; "
                        f"drop one of them"
                    )
        elif name in workload.params:
            if not _rebuildable(workload):
                raise ValueError(
                    f"cannot sweep workload parameter {name!r}: the workload is named "
                    f"{workload.name!r}, and sweep can only rebuild "
                    f"{', '.join(_BUILDERS)} workloads from their parameters"
                )
            kind = KIND_WORKLOAD
        elif name in sys_names:
            kind = KIND_SYSTEM
        else:
            others = [d for d in design_names() if d not in names and name in design_spec(d).OPTIONS]
            hint = (
                f"; {name} is a switch of {', '.join(others)}, which is not among the designs {list(names)}"
                if others
                else ""
            )
            raise ValueError(
                f"unknown sweep parameter {name!r}{hint}; sweepable names here: "
                f"{', '.join(_sweepable(names, workload))}"
            )
        params.append(_Param(name, kind, _check_values(name, values), designs=have))
    by_name = {p.name for p in params}
    for top in ("swap", "zswap"):
        subs = sorted(n for n in by_name if n.startswith(top + "."))
        if top in by_name and subs:
            raise ValueError(f"sweep {top} or {', '.join(subs)}, not both: they set the same device")
    if any(n.startswith("zswap.") for n in by_name) and system.zswap is None:
        raise ValueError(
            "cannot sweep zswap.* fields: the base system has no zswap; give it "
            "zswap=True (or a Zswap(...)), or sweep 'zswap' itself"
        )
    return params


def _device_spec(dev) -> dict:
    """A Device as a dict without the values that are its kind's defaults, so that
    changing ``kind`` brings the new kind's defaults."""
    sync, _, _, rd, wr = DEVICE_DEFAULTS[dev.kind][:5]
    d = dev.to_dict()
    if d["read_ns"] == rd:
        del d["read_ns"]
    if d["write_ns"] == wr:
        del d["write_ns"]
    if d["synchronous"] == sync:
        del d["synchronous"]
    if d["ratio"] is None or d["ratio"] == ZRAM_RATIO_DEFAULT:
        del d["ratio"]
    return d


def _describe(point: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in point.items())


def _build_all(grid_params, build, what):
    """Build one object per combination of ``grid_params``' values.  Returns
    (dict value-index tuple -> object).  Errors name the combination."""
    out = {}
    for idx in itertools.product(*(range(len(p.values)) for p in grid_params)):
        point = {p.name: p.values[i] for p, i in zip(grid_params, idx)}
        try:
            out[idx] = build(point)
        except (TypeError, ValueError) as e:
            raise type(e)(f"invalid {what} in the sweep at {_describe(point)}: {e}") from e
    return out


def _set_normalised(param, objs, grid_params, get):
    pos = grid_params.index(param)
    norm = [None] * len(param.values)
    for idx, obj in objs.items():
        norm[idx[pos]] = get(obj)
    param.normalised = norm


# --------------------------------------------------------------------------- coordinates


def _scalar_array(values):
    """The values as a bool, int64, float64 or str array, or None if they are not all
    scalars of one of those kinds."""

    def isbool(v):
        return isinstance(v, (bool, np.bool_))

    if all(isbool(v) for v in values):
        return np.asarray(values, dtype=bool)
    if all(isinstance(v, numbers.Integral) and not isbool(v) for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, numbers.Real) and not isbool(v) for v in values):
        return np.asarray(values, dtype=np.float64)
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str)
    return None


def _coordinate(param, workload_name):
    """(name, values, attrs) of a swept dimension's coordinate: the normalised values if
    they are scalars of one kind, else the values as given if they are, else the values
    as given as strings (JSON for non-strings)."""
    arr = _scalar_array(param.normalised)
    normalised = arr is not None
    if arr is None:
        arr = _scalar_array(param.values)
    if arr is None:
        arr = np.asarray([v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in param.values], dtype=str)
    vals = arr.tolist()
    if len(set(vals)) != len(vals):
        dup = next(v for v in vals if vals.count(v) > 1)
        given = [g for g, v in zip(param.values, vals) if v == dup]
        raise ValueError(
            f"over[{param.name!r}] values {' and '.join(map(repr, given))} are the same "
            f"{param.name} ({dup!r}); give each value once"
        )
    units = "1"
    if normalised and arr.dtype.kind in "iuf":
        if param.kind == KIND_SYSTEM:
            units = _SYSTEM_UNITS.get(param.name, "1")
        elif param.kind == KIND_WORKLOAD:
            units = _WORKLOAD_UNITS.get((workload_name, param.name), "1")
    return param.name, arr, {"long_name": f"swept parameter {param.name}", "units": units}


# --------------------------------------------------------------------------- the Dataset


def _ordered_union(seqs) -> list:
    """The longest label sequence, then labels of the others in order of appearance."""
    base = list(max(seqs, key=len))
    seen = set(base)
    for s in seqs:
        for x in s:
            if x not in seen:
                base.append(x)
                seen.add(x)
    return base


def _sweep_dataset(names, params, grid, results, attrs, workload_name) -> xr.Dataset:
    """Assemble the run Datasets: ``grid[design][value-index tuple]`` -> run number,
    ``results[run number]`` -> Dataset of :func:`vswap_nb.simulate`."""
    runs = []
    for r in results:
        r = r.copy()
        r.attrs = {}
        runs.append(r)
    # a run's own dimensions may differ between points (phases, tasks): use the union
    for dim in sorted({d for r in runs for d in r.indexes}):
        labels = [list(r.indexes[dim]) for r in runs if dim in r.indexes]
        if any(lab != labels[0] for lab in labels):
            union = _ordered_union(labels)
            runs = [r.reindex({dim: union}) if dim in r.indexes else r for r in runs]
    shape = tuple(len(p.values) for p in params)

    def nest(d, prefix):
        if len(prefix) == len(shape):
            return runs[grid[d][prefix]]
        return [nest(d, prefix + (i,)) for i in range(shape[len(prefix)])]

    nested = [nest(d, ()) for d in names]
    ds = xr.combine_nested(
        nested,
        concat_dim=["design", *(p.name for p in params)],
        data_vars="all",
        coords="minimal",
        compat="override",
        join="exact",
        combine_attrs="override",
    )
    # coordinates first, in dimension order (so the Dataset lists its dimensions that way)
    coords = {"design": xr.Variable("design", list(names), {"long_name": "metadata design", "units": "1"})}
    for p in params:
        name, arr, cattrs = _coordinate(p, workload_name)
        coords[name] = xr.Variable(name, arr, cattrs)
    coords.update((k, v.variable) for k, v in ds.coords.items() if k not in coords)
    order = ("design", *(p.name for p in params), ...)
    return xr.Dataset(
        {k: v.variable.transpose(*order, missing_dims="ignore") for k, v in ds.data_vars.items()},
        coords=coords,
        attrs=base_attrs("sweep", attrs["parameters"])
        | {"designs": ",".join(names), "swept": ",".join(p.name for p in params), "seed": attrs["seed"]},
    )


# --------------------------------------------------------------------------- running


def _start_local_cluster(n_workers=LOCAL_WORKERS):
    """A LocalCluster of single-threaded worker processes on loopback and its Client."""
    import distributed  # optional (vswap_nb[distributed]): only a cluster sweep needs it

    env = {k: os.environ[k] for k in _ENV_PASSED if k in os.environ}
    cluster = distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # no dashboard; the scheduler's plain HTTP routes (health, metrics) would still
        # take port 8787, or warn when it is taken: a free loopback port instead
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        env=env,
    )
    try:
        client = distributed.Client(cluster)
    except BaseException:
        cluster.close()
        raise
    return cluster, client


def _open_client(client):
    """(Client or None, list of things to close afterwards)."""
    if client is None:
        return None, []
    try:
        import distributed  # optional (vswap_nb[distributed]): only a cluster sweep needs it
    except ImportError:
        raise ImportError(
            "client= needs dask.distributed; install it with "
            "pip install 'vswap_nb[distributed]' (or 'dask[distributed]'), or use client=None"
        ) from None
    if isinstance(client, distributed.Client):
        return client, []
    if isinstance(client, str):
        if client == "local":
            cluster, c = _start_local_cluster()
            return c, [c, cluster]
        if "://" in client:
            c = distributed.Client(client)
            return c, [c]
        raise ValueError(
            f"client={client!r} is not 'local' or a scheduler address like 'tcp://host:8786'"
        )
    raise TypeError(
        f"client must be None (run here), 'local', a scheduler address or a "
        f"distributed.Client, got {type(client).__name__}"
    )


def _is_remote_client(client) -> bool:
    """A distributed.Client whose workers may be on other machines (not a LocalCluster)."""
    if client is None or isinstance(client, str):
        return False
    cluster = getattr(client, "cluster", None)
    return cluster is None or type(cluster).__name__ != "LocalCluster"


def _worker_addresses(client) -> list:
    try:
        info = client.scheduler_info(n_workers=-1)  # newer distributed lists 5 by default
    except TypeError:
        info = client.scheduler_info()
    return list(info["workers"])


class _Runner:
    def __init__(self, runs, workloads, seed, cost, progress):
        self.runs = runs  # [(design, workload index, system dict, options, point)]
        self.workloads = workloads
        self.seed = seed
        self.cost = cost
        self.progress = progress
        self.results = [None] * len(runs)
        self.done = 0

    def _finished(self, i, ds):
        self.results[i] = ds
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, len(self.runs))

    def _error(self, i, exc):
        design, _, _, _, point = self.runs[i]
        where = f"design={design!r}" + (f", {_describe(point)}" if point else "")
        return _sweep_error(exc, f"sweep run {i + 1} of {len(self.runs)} failed ({where}): {exc}", design, point)

    def in_process(self):
        for i, (design, wi, sysd, opts, _) in enumerate(self.runs):
            try:
                ds = _run_one(design, self.workloads[wi], sysd, opts, self.seed, self.cost)
            except Exception as exc:
                raise self._error(i, exc) from exc
            self._finished(i, ds)

    def on_cluster(self, client):
        from distributed import as_completed  # optional, as in _open_client

        token = uuid.uuid4().hex[:8]
        wl = [client.scatter(w, hash=False) for w in self.workloads]
        live = {}  # key -> (future, run number)

        def submit(i, worker=None):
            design, wi, sysd, opts, _ = self.runs[i]
            f = client.submit(
                _run_one, design, wl[wi], sysd, opts, self.seed, self.cost,
                key=f"vswap_nb-sweep-{token}-{i}-{design}",
                workers=None if worker is None else [worker],
                allow_other_workers=worker is not None,
            )
            live[f.key] = (f, i)
            return f

        def collect(f):
            _, i = live[f.key]
            try:
                ds = f.result()
            except Exception as exc:
                raise self._error(i, exc) from exc
            del live[f.key]
            self._finished(i, ds)

        try:
            # step 1: one run per design, at most one of them per worker at a time
            first = {}
            for i, run in enumerate(self.runs):
                first.setdefault(run[0], i)
            queue = list(first.values())
            idle = _worker_addresses(client)
            where = {}  # key -> worker of the step-1 runs in flight
            ac = as_completed()

            def start():
                # no worker known yet (an adaptive cluster): one at a time, anywhere
                while queue and (idle or not where):
                    w = idle.pop(0) if idle else None
                    f = submit(queue.pop(0), w)
                    where[f.key] = w
                    ac.add(f)

            start()
            for f in ac:
                w = where.pop(f.key)
                collect(f)
                if w is not None:
                    idle.append(w)
                start()
            # step 2: the rest, which find the engines in the on-disk cache
            rest = [submit(i) for i in range(len(self.runs)) if self.results[i] is None]
            for f in as_completed(rest):
                collect(f)
        finally:
            if live:
                client.cancel([f for f, _ in live.values()])


# --------------------------------------------------------------------------- the plan


class SweepRun(NamedTuple):
    """One run of a sweep: ``design`` on ``SweepPlan.workloads[workload]`` and the System
    of the dict ``system`` with the switches ``options``; ``point`` holds the swept
    values (as given) of the parameters that apply to the design."""

    design: str
    workload: int
    system: dict
    options: dict
    point: dict


@dataclass
class SweepPlan:
    """What a sweep will run, checked and nothing run (:func:`plan_sweep`).

    ``runs`` are the distinct runs in the order they run (design by design);
    ``grid[design][index tuple]`` is the run number of each grid point (one index per
    swept parameter, in ``over``'s order; a design without a swept switch shares one
    run along it); ``dims`` and ``coords`` are the sweep's dimensions and coordinates
    as the Dataset will have them; ``parameters`` its ``parameters`` attribute."""

    designs: tuple
    params: list
    runs: list
    workloads: list
    grid: dict
    coords: dict
    seed: int
    cost: object
    workload_name: str
    parameters: dict

    @property
    def dims(self) -> tuple:
        return ("design", *(p.name for p in self.params))

    @property
    def shape(self) -> tuple:
        return tuple(len(self.coords[d]) for d in self.dims)


def plan_sweep(designs, workload, system, over, *, seed=0, cost=None, options=None) -> SweepPlan:
    """Check a sweep and lay out its runs, running nothing (arguments as for
    :func:`sweep`).  Every System and Workload of the grid is built and every value
    checked here, so an error names the parameter and the value before anything runs.
    Whether the ``kernel`` design can run on this machine is checked by
    :func:`run_plan` (it depends on where the runs go)."""
    names = check_designs(designs)
    fixed = check_design_options(names, options)
    options = {} if options is None else dict(options)
    workload = check_workload(workload)
    system = check_system(system)
    seed = check_seed(seed)
    cost_vectors(cost)

    params = _resolve(over, names, workload, system, options)

    # design options: check every value for every design that has the switch
    for p in params:
        if p.kind == KIND_OPTION:
            norm = []
            for v in p.values:
                try:
                    for d in p.designs:
                        ok = check_options(d, {p.name: v})[p.name]
                except (TypeError, ValueError) as e:
                    raise type(e)(f"invalid value in the sweep at {p.name}={v!r}: {e}") from e
                norm.append(ok)
            p.normalised = norm

    # every workload of the grid
    wparams = [p for p in params if p.kind == KIND_WORKLOAD]
    if wparams:
        build_w = _BUILDERS[workload.name]
        try:
            same = build_w(**workload.params) == workload
        except (TypeError, ValueError):
            same = False
        if not same:
            raise ValueError(
                f"cannot sweep workload parameters {[p.name for p in wparams]}: this workload "
                f"is not what {workload.name}(**workload.params) builds (an edited trace?), so "
                f"it cannot be rebuilt with other parameters"
            )
        wobjs = _build_all(wparams, lambda pt: build_w(**{**workload.params, **pt}), "workload")
        for p in wparams:
            _set_normalised(p, wobjs, wparams, lambda w, n=p.name: w.params[n])
    else:
        wobjs = {(): workload}

    # every system of the grid
    sparams = [p for p in params if p.kind == KIND_SYSTEM]
    if sparams:
        base = system.to_dict()
        base["swap"] = _device_spec(system.swap)
        sys_names = _system_names()

        def build_s(point):
            d = dict(base)
            for n, v in point.items():
                top, sub = sys_names[n]
                if sub is None:
                    d[top] = v
                else:
                    d[top] = {**d[top], sub: v}
            return System.from_dict(d)

        sobjs = _build_all(sparams, build_s, "system")
        for p in sparams:
            top, sub = sys_names[p.name]
            _set_normalised(
                p, sobjs, sparams,
                lambda s, t=top, u=sub: getattr(s, t) if u is None else getattr(getattr(s, t), u),
            )
    else:
        sobjs = {(): system}
    for w in wobjs.values():
        for s in sobjs.values():
            check_workload_on(w, s)
    # coordinates (this checks that the values stay distinct once normalised)
    coords = {"design": np.asarray(names, dtype=str)}
    coords.update((p.name, _coordinate(p, workload.name)[1]) for p in params)

    # the runs: one per design and combination of the parameters that apply to it
    wl_list, wl_index = [], {}
    for idx, w in wobjs.items():
        wl_index[idx] = len(wl_list)
        wl_list.append(w)
    sys_dicts = {idx: s.to_dict() for idx, s in sobjs.items()}
    wpos = [params.index(p) for p in wparams]
    spos = [params.index(p) for p in sparams]
    runs, grid = [], {}
    for d in names:
        applies = [i for i, p in enumerate(params) if p.kind != KIND_OPTION or d in p.designs]
        seen = {}
        grid[d] = {}
        for idx in itertools.product(*(range(len(p.values)) for p in params)):
            key = tuple(idx[i] for i in applies)
            if key not in seen:
                opts = dict(fixed[d])
                for i, p in enumerate(params):
                    if p.kind == KIND_OPTION and d in p.designs:
                        opts[p.name] = p.normalised[idx[i]]
                point = {params[i].name: params[i].values[idx[i]] for i in applies}
                seen[key] = len(runs)
                runs.append(
                    SweepRun(
                        d,
                        wl_index[tuple(idx[i] for i in wpos)],
                        sys_dicts[tuple(idx[i] for i in spos)],
                        opts,
                        point,
                    )
                )
            grid[d][idx] = seen[key]

    parameters = {
        "designs": list(names),
        "design_options": fixed,
        "over": {p.name: p.values for p in params},
        "swept": [p.name for p in params],
        "swept_kinds": {p.name: p.kind for p in params},
        "option_designs": {p.name: list(p.designs) for p in params if p.kind == KIND_OPTION},
        "system": system.to_dict(),
        "workload": {"name": workload.name, "params": workload.params, "phases": list(workload.phases)},
        "seed": seed,
        "cost": cost_to_dict(cost),
    }

    return SweepPlan(
        designs=names, params=params, runs=runs, workloads=wl_list, grid=grid, coords=coords,
        seed=seed, cost=cost, workload_name=workload.name, parameters=parameters,
    )


# --------------------------------------------------------------------------- running the plan


def run_plan(plan: SweepPlan, *, client=None, progress=None) -> xr.Dataset:
    """Run the runs of ``plan`` (:func:`plan_sweep`) here or on a dask cluster
    (``client`` as for :func:`sweep`) and assemble the sweep's Dataset.  Before the
    first run: ``progress`` is checked, and each run of the ``kernel`` design is
    checked against this machine unless the runs go to a remote cluster (whose workers
    check their own machine when their run starts)."""
    if not isinstance(plan, SweepPlan):
        raise TypeError(f"plan must be a SweepPlan from plan_sweep(...), got {type(plan).__name__}")
    check_progress(progress, "progress(done, total)")
    if not (isinstance(client, str) and "://" in client) and not _is_remote_client(client):
        for design, wi, sysd, opts, point in plan.runs:
            if design == KERNEL.NAME:
                try:
                    check_kernel(plan.workloads[wi], System.from_dict(sysd), opts)
                except (TypeError, ValueError) as e:
                    where = f" at {_describe(point)}" if point else ""
                    raise type(e)(f"the kernel design cannot run the sweep{where}: {e}") from e

    runner = _Runner(plan.runs, plan.workloads, plan.seed, plan.cost, progress)
    the_client, to_close = _open_client(client)
    try:
        if progress is not None:
            progress(0, len(plan.runs))
        if the_client is None:
            runner.in_process()
        else:
            runner.on_cluster(the_client)
    finally:
        for c in to_close:
            c.close()
    return _sweep_dataset(
        plan.designs, plan.params, plan.grid, runner.results,
        {"parameters": plan.parameters, "seed": plan.seed}, plan.workload_name,
    )


# --------------------------------------------------------------------------- public


def sweep(designs, workload, system, over, *, client=None, seed=0, cost=None, options=None, progress=None):
    """Run ``designs`` on ``workload`` and ``system`` at every combination of ``over``.

    Parameters
    ----------
    designs : str or list of str
        Design names, as for :func:`vswap_nb.compare`.
    workload : Workload
        The base workload (``usemem(...)``, ``memhog(...)``, ``kbuild(...)``, ``churn(...)`` or a trace).
    system : System
        The base system.
    over : dict
        Parameter name -> list of values (non-empty, distinct, JSON values).  A name is
        a design option, a workload parameter, a System field, ``"swap.<field>"`` or
        ``"zswap.<field>"``, looked up in that order (see the module docstring).
    client : None, "local", str or distributed.Client
        Where to run: None in this process; "local" a two-worker LocalCluster started
        and closed for the sweep; a scheduler address ("tcp://host:port") connected to
        and disconnected from; or a Client, used and left open.
    seed, cost : as for :func:`vswap_nb.simulate`.
    options : dict, optional
        Design name -> fixed switches, as for :func:`vswap_nb.compare`.
    progress : callable, optional
        ``progress(done, total)``, called with 0 before the first run and after each run.

    Returns
    -------
    xarray.Dataset
        The variables of :func:`vswap_nb.compare` with dimensions ``design``, then one
        per swept parameter in ``over``'s order, then each run's own.
        ``run_plan(plan_sweep(designs, workload, system, over, ...), client=client,
        progress=progress)``.

    Raises
    ------
    ValueError, TypeError
        Before anything runs, for an unknown name or an invalid value (naming it).
    SweepError
        When a run fails (naming its design and parameter values); also an instance of
        the run's exception type (e.g. :class:`vswap_nb.mm.run.EngineError`) where possible.
    """
    check_progress(progress, "progress(done, total)")
    return run_plan(
        plan_sweep(designs, workload, system, over, seed=seed, cost=cost, options=options),
        client=client, progress=progress,
    )
