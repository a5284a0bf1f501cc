"""Counters the kernel keeps, read around a run, and how they map onto the model's.

``/proc/vmstat`` is machine-wide: other processes move it too.  Where the workload's
cgroup has its own count (``pgfault``, ``pgmajfault`` in ``memory.stat``, on v1 and
v2), that count is used (summed over the cgroups of a workload with several,
:func:`memcg_total`), and the difference to the machine-wide delta is reported as
background activity.  Reclaim by a cgroup limit is not counted in the global
``pgsteal_kswapd``/``pgsteal_direct`` (``shrink_inactive_list`` counts those only when
``!cgroup_reclaim(sc)``) but is in ``pgsteal_anon``/``pgsteal_file``; the model's
``pgsteal_direct`` ("pages reclaimed in the allocating task, global and memcg") is
therefore ``pgsteal_anon + pgsteal_file - pgsteal_kswapd - pgsteal_khugepaged -
pgsteal_proactive``, and ``pgscan_direct`` likewise (checked on this kernel: a run in a
128 MiB v1 cgroup moved ``pgsteal_anon`` by ~98k with ``pgsteal_direct`` at 0).

What the kernel has no counter for stays None (NaN in the Dataset): the model's
``memcg_reclaim`` (reclaim *entries*; the kernel counts failed charges instead, in
v1's ``memory.failcnt`` and v2's ``memory.events`` ``max``, which are kept with the
cgroup's other counters), ``swap_alloc_fail``, the injected-fault counters, and
swapoff's page and PTE counts.  ``zswap_reject`` comes from zswap's debugfs files when
debugfs is mounted.
"""
from __future__ import annotations

import os
import pathlib

from .machine import _read

__all__ = [
    "kswapd_cpu_ns", "memcg_counters", "memcg_extra", "memcg_total", "model_vmstat", "read_mthp_stats", "read_vmstat",
    "zswap_debug",
]

DIRECT_EXCLUDED = ("kswapd", "khugepaged", "proactive")


def read_vmstat() -> dict:
    out = {}
    for line in (_read("/proc/vmstat", "") or "").splitlines():
        k, _, v = line.partition(" ")
        if v.strip().lstrip("-").isdigit():
            out[k] = int(v)
    return out


def read_mthp_stats() -> dict:
    """The per-size mTHP counters (``hugepages-<size>kB/stats/*``), as
    ``"hugepages-64kB.swpout"``; gauges such as ``nr_anon`` are left out."""
    out = {}
    base = pathlib.Path("/sys/kernel/mm/transparent_hugepage")
    for d in base.glob("hugepages-*kB/stats"):
        for p in d.iterdir():
            if p.name.startswith("nr_"):
                continue
            v = _read(p)
            if v is not None and v.isdigit():
                out[f"{d.parent.name}.{p.name}"] = int(v)
    return out


def zswap_debug() -> dict:
    """zswap's debugfs counters (empty when debugfs is not mounted)."""
    d = pathlib.Path("/sys/kernel/debug/zswap")
    out = {}
    if d.is_dir():
        for p in d.iterdir():
            v = _read(p)
            if v is not None and v.isdigit():
                out[p.name] = int(v)
    return out


def kswapd_cpu_ns() -> int:
    """CPU time (user + system) of every kswapd thread so far, ns (clock-tick grain)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        stat = _read(p / "stat")
        if not stat:
            continue
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        if comm.startswith("kswapd"):
            f = stat[stat.rfind(")") + 2 :].split()
            total += int(f[11]) + int(f[12])  # utime, stime (fields 14 and 15)
    return total * 1_000_000_000 // tick


def memcg_counters(path: pathlib.Path, version: int) -> dict:
    """The cgroup's own counters: memory.stat, plus failed charges, OOM kills and the
    peak charge (``failcnt``/``events max``, ``oom_kill``, ``max_usage``/``peak``)."""
    out = {}
    for line in (_read(path / "memory.stat", "") or "").splitlines():
        k, _, v = line.partition(" ")
        if v.strip().isdigit():
            out[k] = int(v)
    if version == 1:
        for name, key in (("memory.failcnt", "failcnt"), ("memory.max_usage_in_bytes", "peak_bytes")):
            v = _read(path / name)
            if v is not None and v.isdigit():
                out[key] = int(v)
        for line in (_read(path / "memory.oom_control", "") or "").splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill" and v.isdigit():
                out["oom_kill"] = int(v)
    else:
        for line in (_read(path / "memory.events", "") or "").splitlines():
            k, _, v = line.partition(" ")
            if v.isdigit():
                out["events_" + k] = int(v)
        v = _read(path / "memory.peak")
        if v is not None and v.isdigit():
            out["peak_bytes"] = int(v)
        if "events_max" in out:
            out["failcnt"] = out["events_max"]
        if "events_oom_kill" in out:
            out["oom_kill"] = out["events_oom_kill"]
    return out


def _int_file(path):
    v = _read(path)
    return int(v) if v is not None and v.isdigit() else None


def memcg_extra(path: pathlib.Path, version: int) -> dict:
    """What the cgroup offers beyond :func:`memcg_counters` (absent files are left out):
    on v1 the memory+swap charge's failed charges and peak (``memsw_failcnt``,
    ``memsw_peak_bytes``: ``memory.memsw.failcnt``, ``memory.memsw.max_usage_in_bytes``;
    only with swap accounting); on v2 ``memory.swap.events`` (``swap_events_high``,
    ``swap_events_max``, ``swap_events_fail``) and the swap charge's peak
    (``swap_peak_bytes``, ``memory.swap.peak``)."""
    out = {}
    if version == 1:
        for name, key in (("memory.memsw.failcnt", "memsw_failcnt"), ("memory.memsw.max_usage_in_bytes", "memsw_peak_bytes")):
            v = _int_file(path / name)
            if v is not None:
                out[key] = v
    else:
        for line in (_read(path / "memory.swap.events", "") or "").splitlines():
            k, _, v = line.partition(" ")
            if v.isdigit():
                out["swap_events_" + k] = int(v)
        v = _int_file(path / "memory.swap.peak")
        if v is not None:
            out["swap_peak_bytes"] = v
    return out


def _not_summed(key: str) -> bool:
    """A cgroup figure whose sum over cgroups means nothing: a limit (v1 memory.stat's
    ``hierarchical_memory_limit``, ``hierarchical_memsw_limit``) or a peak
    (``peak_bytes``, ``memsw_peak_bytes``, ``swap_peak_bytes``: each cgroup's is
    reached at its own moment)."""
    return key.endswith("_limit") or key.endswith("peak_bytes")


def memcg_total(per_cgroup: list) -> dict:
    """The workload's cgroups as one: for one cgroup its dict as it is; for several, per
    key, the sum over the cgroups (counts such as ``pgfault``, ``pgmajfault``,
    ``failcnt``, ``oom_kill`` and v2's ``pswpout``, and byte gauges such as v1's
    ``swap`` and ``rss``: the workload's total when they were read), except limits and
    peaks (:func:`_not_summed`), which are the largest of the cgroups' values."""
    if len(per_cgroup) == 1:
        return dict(per_cgroup[0])
    keys = sorted({k for d in per_cgroup for k in d})
    return {
        k: (max if _not_summed(k) else sum)(d[k] for d in per_cgroup if k in d) for k in keys
    }


def _get(d, k):
    return d.get(k, 0)


def model_vmstat(delta: dict, memcg: dict, zdebug: dict) -> dict:
    """The model's vmstat names (:data:`vswap_nb.core.vmstat.VMSTAT`) from the kernel's:
    ``delta`` is the /proc/vmstat difference over the run, ``memcg`` the cgroup's own
    counters, ``zdebug`` the difference of zswap's debugfs counters.  Values the kernel
    has no counter for are None."""
    steal = _get(delta, "pgsteal_anon") + _get(delta, "pgsteal_file")
    scan = _get(delta, "pgscan_anon") + _get(delta, "pgscan_file")
    for who in DIRECT_EXCLUDED:
        steal -= _get(delta, "pgsteal_" + who)
        scan -= _get(delta, "pgscan_" + who)
    out = {
        "pswpin": _get(delta, "pswpin"),
        "pswpout": _get(delta, "pswpout"),
        "swap_ra": _get(delta, "swap_ra"),
        "swap_ra_hit": _get(delta, "swap_ra_hit"),
        "pgsteal_kswapd": _get(delta, "pgsteal_kswapd"),
        "pgsteal_direct": steal,
        "pgscan_kswapd": _get(delta, "pgscan_kswapd"),
        "pgscan_direct": scan,
        "allocstall": sum(v for k, v in delta.items() if k.startswith("allocstall_")),
        "zswpout": _get(delta, "zswpout"),
        "zswpin": _get(delta, "zswpin"),
        "zswpwb": _get(delta, "zswpwb"),
        "pgfault": memcg.get("pgfault", memcg.get("total_pgfault")),
        "pgmajfault": memcg.get("pgmajfault", memcg.get("total_pgmajfault")),
        "pgactivate": _get(delta, "pgactivate"),
        "pgdeactivate": _get(delta, "pgdeactivate"),
        "swap_alloc_fail": None,
        "zswap_reject": (
            sum(v for k, v in zdebug.items() if k.startswith("reject_") or k == "pool_limit_hit")
            if zdebug
            else None
        ),
        "oom": _get(delta, "oom_kill"),
        "memcg_reclaim": None,
        "fault_swap_alloc": None,
        "fault_zswap_reject": None,
        "fault_readahead": None,
        "swapoff_pages": None,
        "swapoff_ptes": None,
        "fault_atomic_alloc": None,
        "swpout_zero": _get(delta, "swpout_zero"),
        "swpin_zero": _get(delta, "swpin_zero"),
    }
    return out
