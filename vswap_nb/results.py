"""Results as xarray Datasets.  The only module that knows xarray.

Conventions: one dimension per swept parameter; ``long_name`` and ``units`` on every
variable and coordinate; global attributes are netCDF-safe (strings and numbers), with
the run parameters as a JSON string, the package and Numba versions and the seed.
Counters stay ``int64``.
"""
from __future__ import annotations

import json

import numba
import numpy as np
import xarray as xr

from .core.metadata import STRUCTURE_DESCRIPTIONS, STRUCTURES

__all__ = ["base_attrs", "metadata_dataset"]


def base_attrs(kind: str, parameters: dict) -> dict:
    from . import __version__

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

VMSTAT_DESCRIPTIONS = {
    "pswpin": "pages read from the swap device",
    "pswpout": "pages written to the swap device",
    "swap_ra": "pages read ahead into the swap cache",
    "swap_ra_hit": "faults that found a read-ahead page",
    "pgsteal_kswapd": "pages reclaimed by kswapd",
    "pgsteal_direct": "pages reclaimed in the allocating task (global and memcg)",
    "pgscan_kswapd": "pages scanned by kswapd",
    "pgscan_direct": "pages scanned by direct reclaim",
    "allocstall": "global direct reclaim entries",
    "zswpout": "pages stored in zswap",
    "zswpin": "pages loaded from zswap",
    "zswpwb": "zswap entries written back to the device",
    "pgfault": "page faults",
    "pgmajfault": "faults that had to read from swap",
    "pgactivate": "folios moved to the active list",
    "pgdeactivate": "folios moved to the inactive list",
    "swap_alloc_fail": "swap entry allocations that failed (swap full or an injected fault)",
    "zswap_reject": "zswap stores rejected (pool full or an injected fault)",
    "oom": "allocations that found nothing to reclaim",
    "content_checks": "swapped-in pages whose content tag was checked",
    "content_errors": "swapped-in pages whose content tag differed (lost or mixed-up data)",
    "memcg_reclaim": "memory.max reclaim entries",
    "fault_swap_alloc": "injected swap-slot allocation failures (System faults)",
    "fault_zswap_reject": "injected zswap store rejections (System faults)",
    "fault_readahead": "injected read-ahead reads not issued (System faults)",
    "swapoff_pages": "pages swapoff brought back from the device (to a PTE or the swap cache)",
    "swapoff_ptes": "page-table entries swapoff's page-table walk read",
    "fault_atomic_alloc": "injected atomic swap-table allocation failures that took the sleeping fallback (System faults)",
}

XA_NODE_BYTES = 576


def _xa_nodes(md) -> int:
    from .core.metadata import S_CLUSTER_MAP_NODES, S_ZSWAP_XA_NODES

    return int((md[S_CLUSTER_MAP_NODES] + md[S_ZSWAP_XA_NODES]) // XA_NODE_BYTES)


def run_dataset(raw: dict, *, workload, system, seed: int, cost: dict, write_pages) -> xr.Dataset:
    """Dataset of one :func:`vswap_nb.simulate` run (raw: :func:`vswap_nb.mm.run.run`).

    ``write_pages[t, phase]`` is the number of page writes task t does in each phase
    (for usemem's throughput)."""
    from .core.counters import OPS, PRIMITIVES
    from .mm.engine import VMSTAT

    phases = list(workload.phases) or ["run"]
    pt = raw["phase_t"]
    started = pt[:, :, 0] >= 0
    ended = pt[:, :, 1] >= 0
    elapsed = np.where(started & ended, pt[:, :, 1] - pt[:, :, 0], np.nan)  # [task, phase]
    with np.errstate(invalid="ignore", divide="ignore"):
        model_time = np.where(started & ended, elapsed, 0.0).max(axis=0)  # slowest task
        bytes_w = write_pages * 4096.0
        tput = np.where(elapsed > 0, bytes_w / 1024.0 / (elapsed * 1e-9), np.nan)  # KB/s per task
    has = started & ended
    n_has = has.sum(axis=0)
    vm = raw["vmstat"]
    steal = vm[VMSTAT.index("pgsteal_kswapd")] + vm[VMSTAT.index("pgsteal_direct")]
    data = {
        "counters": (
            ("op", "primitive"),
            raw["counters"],
            {"long_name": "metadata accesses by operation and primitive", "units": "count"},
        ),
        "model_time": (
            ("phase",),
            model_time,
            {"long_name": "model time of the phase (slowest task)", "units": "ns"},
        ),
        "cpu_time": (
            ("phase",),
            raw["phase_cpu"].sum(axis=0),
            {"long_name": "model CPU time of all tasks in the phase", "units": "ns"},
        ),
        "task_time": (
            ("task", "phase"),
            np.nan_to_num(elapsed, nan=0.0),
            {"long_name": "model time each task spent in each phase", "units": "ns"},
        ),
        "wall_time": (
            ("phase",),
            raw["wall"],
            {"long_name": "wall time of the engine kernel for the phase", "units": "s"},
        ),
        "throughput": (
            ("phase",),
            np.where(n_has > 0, np.nansum(np.where(has, tput, 0.0), axis=0), 0.0),
            {"long_name": "sum over tasks of written KB per model second (usemem's Sum Throughput)", "units": "KB/s"},
        ),
        "latency": (
            ("phase",),
            np.where(n_has > 0, np.nansum(np.where(has, elapsed, 0.0), axis=0) / np.maximum(n_has, 1) / 1e3, 0.0),
            {"long_name": "mean model time per task in the phase (usemem's free latency for 'free')", "units": "us"},
        ),
        "metadata_bytes_peak": (
            ("structure",),
            raw["md_peak"],
            {"long_name": "peak swap metadata by structure (sampled after every reclaim batch)", "units": "bytes"},
        ),
        "metadata_bytes_final": (
            ("structure",),
            raw["md_final"],
            {"long_name": "swap metadata by structure at the end of the run", "units": "bytes"},
        ),
        "metadata_bytes_peak_total": (
            (),
            raw["md_peak_total"],
            {"long_name": "peak swap metadata, all structures together", "units": "bytes"},
        ),
        "xa_nodes_peak": (
            (),
            _xa_nodes(raw["md_peak"]),
            {"long_name": "XArray nodes (cluster map and zswap trees) at the peak", "units": "nodes"},
        ),
        "xa_nodes_final": (
            (),
            _xa_nodes(raw["md_final"]),
            {"long_name": "XArray nodes (cluster map and zswap trees) at the end", "units": "nodes"},
        ),
        "kswapd_time": (
            (),
            raw["kswapd_busy_ns"],
            {"long_name": "model time kswapd spent reclaiming", "units": "ns"},
        ),
        "direct_reclaim_share": (
            (),
            float(vm[VMSTAT.index("pgsteal_direct")]) / steal if steal else 0.0,
            {"long_name": "share of reclaimed pages reclaimed in the allocating task", "units": "1"},
        ),
        "swapoff_time": (
            (),
            raw["swapoff_ns"],
            {"long_name": "model time of swapoff (0 without one)", "units": "ns"},
        ),
        "live_entries": (
            (),
            raw["live_entries"],
            {"long_name": "swap entries still allocated at the end", "units": "entries"},
        ),
    }
    for i, name in enumerate(VMSTAT):
        data[name] = ((), int(vm[i]), {"long_name": VMSTAT_DESCRIPTIONS[name], "units": "count"})
    ds = xr.Dataset(
        data_vars=data,
        coords={
            "op": ("op", list(OPS), {"long_name": "kernel operation", "units": "1"}),
            "primitive": ("primitive", list(PRIMITIVES), {"long_name": "metadata primitive", "units": "1"}),
            "phase": ("phase", phases, {"long_name": "workload phase", "units": "1"}),
            "task": ("task", np.arange(pt.shape[0]), {"long_name": "workload task", "units": "1"}),
            "structure": ("structure", list(STRUCTURES), {"long_name": "metadata structure", "units": "1"}),
        },
        attrs=base_attrs(
            "simulate",
            {
                "design": raw["design"],
                "design_options": raw["options"],
                "system": system.to_dict(),
                "workload": {"name": workload.name, "params": workload.params, "phases": list(workload.phases)},
                "cost": cost,
            },
        )
        | {"design": raw["design"], "seed": int(seed)},
    )
    return ds


def compare_dataset(runs) -> xr.Dataset:
    """Datasets of one workload under several designs, along a ``design`` dimension."""
    names = [r.attrs["design"] for r in runs]
    options = {r.attrs["design"]: json.loads(r.attrs["parameters"])["design_options"] for r in runs}
    stripped = []
    for r in runs:
        r = r.copy()
        r.attrs = {}
        stripped.append(r)
    ds = xr.concat(stripped, dim="design", data_vars="all", coords="minimal", compat="override")
    ds = ds.assign_coords(design=("design", names, {"long_name": "metadata design", "units": "1"}))
    params = json.loads(runs[0].attrs["parameters"])
    params.pop("design")
    params["design_options"] = options
    ds.attrs = base_attrs("compare", params) | {"designs": ",".join(names), "seed": runs[0].attrs["seed"]}
    return ds
