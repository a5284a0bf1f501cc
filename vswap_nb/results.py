"""Results as xarray Datasets.  The only module that knows xarray.

Conventions: one dimension per swept parameter; ``long_name`` and ``units`` on every
variable and coordinate; global attributes are netCDF-safe (strings and numbers), with
the run parameters as a JSON string, the package and Numba versions and the seed.
Counters stay ``int64``.
"""
from __future__ import annotations

import json
import time

import numba
import numpy as np
import xarray as xr

from .core.counters import N_OPS, N_PRIMITIVES, OPS, PRIMITIVES
from .core.metadata import S_CLUSTER_MAP_NODES, S_ZSWAP_XA_NODES, STRUCTURE_DESCRIPTIONS, STRUCTURES
from .core.version import __version__
from .mm.state import MC_STATS, MC_SWAP_PEAK, MC_USAGE_PEAK
from .core.vmstat import MEMCG, MTHP, N_ORDERS, VMSTAT, VMSTAT_DESCRIPTIONS

__all__ = ["base_attrs", "compare_dataset", "fill_missing", "kernel_dataset", "metadata_dataset", "run_dataset"]


def base_attrs(kind: str, parameters: dict) -> dict:
    return {
        "title": f"vswap_nb {kind}",
        "vswap_nb_version": __version__,
        "numba_version": numba.__version__,
        "parameters": json.dumps(parameters, sort_keys=True),
    }


def metadata_dataset(
    design_names,
    backends,
    usage,
    bytes_by_structure: np.ndarray,
    used_entries: np.ndarray,
    *,
    nslots: int,
    swap_size: int,
    parameters: dict,
) -> xr.Dataset:
    """Dataset of :func:`vswap_nb.metadata_overhead`.

    ``bytes_by_structure`` is ``int64[design, backend, usage, structure]`` and
    ``used_entries`` ``int64[design, backend, usage]``.
    """
    total = bytes_by_structure.sum(axis=-1)
    pages = nslots - 1
    ds = xr.Dataset(
        data_vars={
            "metadata_bytes": (
                ("design", "backend", "usage"),
                total,
                {"long_name": "swap metadata in use", "units": "bytes"},
            ),
            "metadata_bytes_by_structure": (
                ("design", "backend", "usage", "structure"),
                bytes_by_structure,
                {"long_name": "swap metadata in use, by structure", "units": "bytes"},
            ),
            "bytes_per_slot": (
                ("design", "backend", "usage"),
                total / float(pages),
                {
                    "long_name": "swap metadata per usable swap slot",
                    "units": "bytes/slot",
                },
            ),
            "swapped_entries": (
                ("design", "backend", "usage"),
                used_entries,
                {"long_name": "swapped-out entries", "units": "pages"},
            ),
        },
        coords={
            "design": ("design", list(design_names), {"long_name": "metadata design", "units": "1"}),
            "backend": (
                "backend",
                list(backends),
                {"long_name": "where swapped pages go (disk: a device slot, zswap: compressed in RAM)", "units": "1"},
            ),
            "usage": (
                "usage",
                np.asarray(usage, dtype=np.float64),
                {"long_name": "fraction of the swap device's slots swapped out", "units": "1"},
            ),
            "structure": (
                "structure",
                list(STRUCTURES),
                {"long_name": "metadata structure", "units": "1"},
            ),
            "structure_description": (
                "structure",
                [STRUCTURE_DESCRIPTIONS[s] for s in STRUCTURES],
                {"long_name": "what the structure is", "units": "1"},
            ),
        },
        attrs=base_attrs("metadata_overhead", parameters)
        | {"swap_size_bytes": int(swap_size), "swap_slots": int(nslots)},
    )
    return ds


# --------------------------------------------------------------------------- runs

XA_NODE_BYTES = 576


def _xa_nodes(md) -> int:
    return int((md[S_CLUSTER_MAP_NODES] + md[S_ZSWAP_XA_NODES]) // XA_NODE_BYTES)


def _elapsed(phase_t) -> np.ndarray:
    """[task, phase] time from each phase's start to its end, NaN where a task did not
    run the phase."""
    started = phase_t[:, :, 0] >= 0
    ended = phase_t[:, :, 1] >= 0
    return np.where(started & ended, phase_t[:, :, 1] - phase_t[:, :, 0], np.nan)


def _lower_median(values, axis=0):
    """The lower median along ``axis`` (an observed value, not an average of two)."""
    a = np.sort(np.asarray(values), axis=axis)
    return np.take(a, (a.shape[axis] - 1) // 2, axis=axis)


def run_dataset(raw: dict, *, workload, system, seed: int, cost: dict, write_pages) -> xr.Dataset:
    """Dataset of one :func:`vswap_nb.simulate` run (raw: :func:`vswap_nb.mm.run.run`).

    ``write_pages[t, phase]`` is the number of page writes task t does in each phase
    (for usemem's throughput)."""
    vm = {name: int(raw["vmstat"][i]) for i, name in enumerate(VMSTAT)}
    return _dataset(
        design=raw["design"],
        options=raw["options"],
        elapsed=_elapsed(raw["phase_t"]),
        model=True,
        cpu_time=raw["phase_cpu"].sum(axis=0),
        wall_time=raw["wall"],
        vm=vm,
        counters=raw["counters"],
        md_peak=raw["md_peak"],
        md_final=raw["md_final"],
        md_peak_total=raw["md_peak_total"],
        kswapd_ns=raw["kswapd_busy_ns"],
        zswap_shrink_ns=raw["zswap_shrink_ns"],
        swapoff_ns=raw["swapoff_ns"],
        live_entries=raw["live_entries"],
        mthp=raw["mthp"],
        memcg=_model_memcg(raw["memcg"]),
        workload=workload,
        system=system,
        seed=seed,
        cost=cost,
        write_pages=write_pages,
        extra_attrs={},
        extra_vars={},
        n_ops=N_OPS,
        n_prims=N_PRIMITIVES,
    )


def kernel_dataset(raw: dict, *, workload, system, seed: int, write_pages) -> xr.Dataset:
    """Dataset of a ``kernel`` run (raw: :func:`vswap_nb.kernel.run`): the variables of
    :func:`run_dataset`, those the kernel also has taken from it (the lower median over
    ``repeat`` runs) and the model's own ones (counter matrix, model time, metadata,
    XArray nodes) NaN; plus every run's raw counts (``kernel_vmstat``,
    ``kernel_memcg``, ``background_pgfault``) along a ``repeat`` dimension."""
    runs = raw["runs"]
    names = VMSTAT
    vm = {}
    for n in names:
        vals = [r["vmstat"][n] for r in runs]
        vm[n] = None if any(v is None for v in vals) else int(_lower_median(vals))
    phase_t = np.stack([r["phase_t"] for r in runs])  # [repeat, task, phase, 2]
    elapsed = _lower_median(np.stack([_elapsed(pt) for pt in phase_t]))
    span = []
    for pt in phase_t:
        with np.errstate(invalid="ignore"):
            s0 = np.where(pt[:, :, 0] >= 0, pt[:, :, 0], np.inf).min(axis=0)
            s1 = np.where(pt[:, :, 1] >= 0, pt[:, :, 1], -np.inf).max(axis=0)
        span.append(np.where(np.isfinite(s0) & np.isfinite(s1), (s1 - s0) * 1e-9, 0.0))
    always = ("pswpin", "pswpout", "swap_ra", "swap_ra_hit", "pgfault", "pgmajfault", "swpout_zero", "swpin_zero", "zswpout", "zswpin", "zswpwb")
    vkeys = sorted({k for r in runs for k in r["vmstat_delta"]} | set(always))
    mkeys = sorted({k for r in runs for k in r["memcg"]})
    rep = np.arange(1, len(runs) + 1)
    extra_vars = {
        "kernel_vmstat": (
            ("repeat", "vmstat_counter"),
            np.array([[r["vmstat_delta"].get(k, 0) for k in vkeys] for r in runs], dtype=np.int64).reshape(len(runs), len(vkeys)),
            {"long_name": "change of each /proc/vmstat counter (and per-size mTHP counter, hugepages-<size>kB.<stat>) over the run (kernel only)", "units": "count"},
        ),
        "kernel_memcg": (
            ("repeat", "memcg_counter"),
            np.array([[r["memcg"].get(k, 0) for k in mkeys] for r in runs], dtype=np.int64).reshape(len(runs), len(mkeys)),
            {"long_name": "the workload cgroup's own counters at the end of the run (kernel only)", "units": "count"},
        ),
        "background_pgfault": (
            ("repeat",),
            np.array([r["background_pgfault"] for r in runs], dtype=np.int64),
            {"long_name": "page faults on the machine outside the workload's cgroup during the run (kernel only)", "units": "count"},
        ),
    }
    coords = {
        "repeat": ("repeat", rep, {"long_name": "run of the workload on the kernel", "units": "1"}),
        "vmstat_counter": ("vmstat_counter", vkeys, {"long_name": "/proc/vmstat counter", "units": "1"}),
        "memcg_counter": ("memcg_counter", mkeys, {"long_name": "memory cgroup counter", "units": "1"}),
    }
    info = {
        "machine": raw["machine"],
        "settings": raw["settings"],
        "recovered": raw["recovered"],
        "lock_wait_s": raw["lock_wait_s"],
        "lock_held": raw["lock_held"],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(raw["started"])),
        "ended": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(raw["ended"])),
    }
    m = raw["machine"]
    attrs = {
        "kernel": json.dumps(info, sort_keys=True),
        "kernel_release": m["release"],
        "kernel_cgroup_version": int(m["cgroup_version"]),
        "kernel_device": f"{raw['settings']['device']} ({raw['settings']['device_kind']})",
        "kernel_zswap_ever_enabled": m["zswap_ever_enabled"],
        "kernel_machine_ram_bytes": int(m["ram"]),
        "kernel_machine_cpus": int(m["cpus"]),
    }
    return _dataset(
        design=raw["design"],
        options=raw["options"],
        elapsed=elapsed,
        model=False,
        cpu_time=_lower_median([r["phase_cpu"].sum(axis=0) for r in runs]).astype(np.float64),
        wall_time=_lower_median(span),
        vm=vm,
        counters=None,
        md_peak=None,
        md_final=None,
        md_peak_total=None,
        kswapd_ns=float(_lower_median([r["kswapd_ns"] for r in runs])),
        zswap_shrink_ns=float("nan"),  # a kworker's time: not measured
        swapoff_ns=float(_lower_median([r["swapoff_ns"] for r in runs])),
        live_entries=int(_lower_median([r["live_entries"] for r in runs])),
        mthp=_lower_median([_kernel_mthp(r["vmstat_delta"]) for r in runs]),
        memcg=_lower_median([_kernel_memcg(r.get("memcg_by_cgroup"), workload.nmemcg) for r in runs]),
        workload=workload,
        system=system,
        seed=seed,
        cost=None,
        write_pages=write_pages,
        extra_attrs=attrs,
        extra_vars=extra_vars,
        extra_coords=coords,
        n_ops=N_OPS,
        n_prims=N_PRIMITIVES,
    )


MEMCG_EXTRA = ("usage_peak", "swap_peak")  # pages, after the counters of MEMCG_TABLE


def _model_memcg(mc) -> np.ndarray:
    """int64[memcg, memcg_stat] from the engine's per-memcg words (mm/state.py MC_*):
    the counters of MEMCG_TABLE, then the charge's and the swap charge's peaks."""
    stats = mc[:, MC_STATS:MC_STATS + len(MEMCG)]
    return np.concatenate([stats, mc[:, [MC_USAGE_PEAK, MC_SWAP_PEAK]]], axis=1)


def _kernel_memcg(by_cgroup, ncg) -> np.ndarray:
    """float64[memcg, memcg_stat] from a kernel run's per-cgroup counters (the kernel
    runner's ``memcg_by_cgroup``): what the cgroup version offers, NaN for the rest.
    v1 has no per-cgroup swap-out or swap-in count and no swap peak (its memsw counts a
    page in memory and in swap once, so ``memsw peak - memory peak`` is not one)."""
    names = list(MEMCG) + list(MEMCG_EXTRA)
    out = np.full((ncg, len(names)), np.nan)
    for m, d in enumerate(by_cgroup or []):
        for k in ("pswpout", "pswpin", "zswpout", "zswpin", "pgfault", "pgmajfault"):
            if d.get(k) is not None:
                out[m, names.index(k)] = d[k]
        if d.get("peak_bytes") is not None:
            out[m, names.index("usage_peak")] = d["peak_bytes"] // 4096
        if d.get("swap_peak_bytes") is not None:
            out[m, names.index("swap_peak")] = d["swap_peak_bytes"] // 4096
    return out


def _kernel_mthp(delta: dict) -> np.ndarray:
    """int64[order, mthp_stat] from a kernel run's counter changes
    (``hugepages-<size>kB.<stat>``; a counter that did not move is 0)."""
    out = np.zeros((N_ORDERS, len(MTHP)), dtype=np.int64)
    for order in range(N_ORDERS):
        for j, stat in enumerate(MTHP):
            out[order, j] = delta.get(f"hugepages-{4 << order}kB.{stat}", 0)
    return out


def _dataset(
    *, design, options, elapsed, model, cpu_time, wall_time, vm, counters, md_peak, md_final,
    md_peak_total, kswapd_ns, zswap_shrink_ns, swapoff_ns, live_entries, mthp, memcg, workload, system, seed, cost,
    write_pages, extra_attrs, extra_vars, n_ops, n_prims, extra_coords=None,
):
    """The one place a run's Dataset is built (model or kernel)."""
    phases = list(workload.phases) or ["run"]
    has = ~np.isnan(elapsed)
    n_has = has.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        slowest = np.where(has, elapsed, 0.0).max(axis=0)
        bytes_w = write_pages * 4096.0
        tput = np.where(elapsed > 0, bytes_w / 1024.0 / (elapsed * 1e-9), np.nan)  # KB/s per task
    nan = float("nan")
    nstruct = len(STRUCTURES)
    steal = None
    if vm["pgsteal_kswapd"] is not None and vm["pgsteal_direct"] is not None:
        steal = vm["pgsteal_kswapd"] + vm["pgsteal_direct"]
    measured = " (kernel: measured on the machine)"
    data = {
        "counters": (
            ("op", "primitive"),
            counters if counters is not None else np.full((n_ops, n_prims), nan),
            {"long_name": "metadata accesses by operation and primitive", "units": "count"},
        ),
        "model_time": (
            ("phase",),
            slowest if model else np.full(len(phases), nan),
            {"long_name": "model time of the phase (slowest task)", "units": "ns"},
        ),
        "cpu_time": (
            ("phase",),
            cpu_time,
            {"long_name": "CPU time of all tasks in the phase (model; kernel: the tasks' thread CPU time)", "units": "ns"},
        ),
        "task_time": (
            ("task", "phase"),
            np.nan_to_num(elapsed, nan=0.0),
            {"long_name": "time each task spent in each phase (model time; kernel: measured)", "units": "ns"},
        ),
        "wall_time": (
            ("phase",),
            wall_time,
            {"long_name": "wall time of the phase (model: the engine kernel's; kernel: first start to last end)", "units": "s"},
        ),
        "throughput": (
            ("phase",),
            np.where(n_has > 0, np.nansum(np.where(has, tput, 0.0), axis=0), 0.0),
            {"long_name": "sum over tasks of written KB per second (usemem's Sum Throughput)" + measured, "units": "KB/s"},
        ),
        "latency": (
            ("phase",),
            np.where(n_has > 0, np.nansum(np.where(has, elapsed, 0.0), axis=0) / np.maximum(n_has, 1) / 1e3, 0.0),
            {"long_name": "mean time per task in the phase (usemem's free latency for 'free')" + measured, "units": "us"},
        ),
        "metadata_bytes_peak": (
            ("structure",),
            md_peak if md_peak is not None else np.full(nstruct, nan),
            {"long_name": "peak swap metadata by structure (sampled after every reclaim batch)", "units": "bytes"},
        ),
        "metadata_bytes_final": (
            ("structure",),
            md_final if md_final is not None else np.full(nstruct, nan),
            {"long_name": "swap metadata by structure at the end of the run", "units": "bytes"},
        ),
        "metadata_bytes_peak_total": (
            (),
            md_peak_total if md_peak_total is not None else nan,
            {"long_name": "peak swap metadata, all structures together", "units": "bytes"},
        ),
        "xa_nodes_peak": (
            (),
            _xa_nodes(md_peak) if md_peak is not None else nan,
            {"long_name": "XArray nodes (cluster map and zswap trees) at the peak", "units": "nodes"},
        ),
        "xa_nodes_final": (
            (),
            _xa_nodes(md_final) if md_final is not None else nan,
            {"long_name": "XArray nodes (cluster map and zswap trees) at the end", "units": "nodes"},
        ),
        "kswapd_time": (
            (),
            kswapd_ns,
            {"long_name": "time kswapd spent reclaiming (model time; kernel: kswapd threads' CPU time)", "units": "ns"},
        ),
        "zswap_shrink_time": (
            (),
            zswap_shrink_ns,
            {"long_name": "time zswap's shrink worker spent writing entries back (model time, its own "
                          "clock; kernel: not measured)", "units": "ns"},
        ),
        "direct_reclaim_share": (
            (),
            (float(vm["pgsteal_direct"]) / steal if steal else 0.0) if steal is not None else nan,
            {"long_name": "share of reclaimed pages reclaimed in the allocating task", "units": "1"},
        ),
        "swapoff_time": (
            (),
            swapoff_ns,
            {"long_name": "time of swapoff (0 without one)", "units": "ns"},
        ),
        "live_entries": (
            (),
            live_entries,
            {"long_name": "swap entries still allocated at the end", "units": "entries"},
        ),
    }
    for name, value in vm.items():
        data[name] = ((), nan if value is None else int(value), {"long_name": VMSTAT_DESCRIPTIONS[name], "units": "count"})
    data["mthp"] = (
        ("order", "mthp_stat"),
        np.asarray(mthp, dtype=np.int64),
        {"long_name": "per-size large-folio counters (hugepages-<size>kB/stats; kernel: machine-wide)", "units": "count"},
    )
    ncg = workload.nmemcg
    data["memcg_counters"] = (
        ("memcg", "memcg_stat"),
        np.asarray(memcg, dtype=np.int64) if model else np.asarray(memcg, dtype=np.float64),
        {"long_name": "each workload memory cgroup's own counters (usage_peak and swap_peak in pages; "
                      "kernel: what the cgroup version offers, NaN for the rest)", "units": "count"},
    )
    data.update(extra_vars)
    coords = {
        "op": ("op", list(OPS), {"long_name": "kernel operation", "units": "1"}),
        "primitive": ("primitive", list(PRIMITIVES), {"long_name": "metadata primitive", "units": "1"}),
        "phase": ("phase", phases, {"long_name": "workload phase", "units": "1"}),
        "task": ("task", np.arange(elapsed.shape[0]), {"long_name": "workload task", "units": "1"}),
        "structure": ("structure", list(STRUCTURES), {"long_name": "metadata structure", "units": "1"}),
        "order": ("order", np.arange(N_ORDERS), {"long_name": "folio order (2**order pages)", "units": "1"}),
        "folio_kb": ("order", 4 << np.arange(N_ORDERS), {"long_name": "folio size", "units": "KiB"}),
        "mthp_stat": ("mthp_stat", list(MTHP), {"long_name": "per-size large-folio counter", "units": "1"}),
        "memcg": ("memcg", np.arange(ncg), {"long_name": "the workload's memory cgroup", "units": "1"}),
        "memcg_stat": ("memcg_stat", list(MEMCG) + list(MEMCG_EXTRA),
                               {"long_name": "memory cgroup counter", "units": "1"}),
    }
    coords.update(extra_coords or {})
    return xr.Dataset(
        data_vars=data,
        coords=coords,
        attrs=base_attrs(
            "simulate",
            {
                "design": design,
                "design_options": options,
                "system": system.to_dict(),
                "workload": {"name": workload.name, "params": workload.params, "phases": list(workload.phases)},
                "cost": cost,
            },
        )
        | {"design": design, "seed": int(seed)}
        | extra_attrs,
    )


def fill_missing(runs) -> list:
    """The run Datasets with every variable any of them has: a variable a run lacks
    (the kernel's own ``kernel_*`` ones, for a model design) is added as NaN, so runs of
    the model and of the kernel concatenate along ``design``."""
    have = {}
    for r in runs:
        for k, v in r.data_vars.items():
            have.setdefault(k, v)
    out = []
    for r in runs:
        missing = {k: xr.full_like(v, np.nan, dtype=np.float64) for k, v in have.items() if k not in r.data_vars}
        out.append(r.assign(missing) if missing else r)
    return out


def compare_dataset(runs) -> xr.Dataset:
    """Datasets of one workload under several designs, along a ``design`` dimension.
    Variables only some designs have (the kernel's own) are NaN for the others; int64
    variables that are NaN for a design (a kernel's model-only ones) become float64."""
    names = [r.attrs["design"] for r in runs]
    kernel_attrs = {k: v for r in runs for k, v in r.attrs.items() if k.startswith("kernel")}
    options = {r.attrs["design"]: json.loads(r.attrs["parameters"])["design_options"] for r in runs}
    stripped = []
    for r in fill_missing(runs):
        r = r.copy()
        r.attrs = {}
        stripped.append(r)
    ds = xr.concat(stripped, dim="design", data_vars="all", coords="minimal", compat="override")
    ds = ds.assign_coords(design=("design", names, {"long_name": "metadata design", "units": "1"}))
    base = next((r for r in runs if r.attrs["design"] != "kernel"), runs[0])  # the model's cost table
    params = json.loads(base.attrs["parameters"])
    params.pop("design")
    params["design_options"] = options
    ds.attrs = base_attrs("compare", params) | {"designs": ",".join(names), "seed": runs[0].attrs["seed"]} | kernel_attrs
    return ds


def cases_dataset(runs, names) -> xr.Dataset:
    """Compare Datasets of different workloads or systems (the cases of
    :mod:`vswap_nb.kernel_validation`) along a ``case`` dimension; a run's own
    dimensions (phases, tasks, counters) are the union over the cases, NaN where a case
    has no such label."""
    stripped = []
    for r in runs:
        r = r.copy()
        r.attrs = {}
        stripped.append(r)
    ds = xr.concat(stripped, dim="case", data_vars="all", coords="minimal", compat="override", join="outer")
    ds = ds.assign_coords(case=("case", list(names), {"long_name": "validation case", "units": "1"}))
    last = runs[-1].attrs  # the machine as the last case left it (zswap ever enabled, ...)
    ds.attrs = {k: v for k, v in last.items() if k not in ("parameters",)} | {
        "title": "vswap_nb cases",
        "cases": json.dumps(
            {n: json.loads(r.attrs["parameters"]) for n, r in zip(names, runs)}, sort_keys=True
        ),
    }
    return ds
