"""vswap_nb: the Linux swap metadata designs (swap table vs. virtual swap), side by side.

Public API
----------
designs()            names of the designs that work
simulate()           one design on one workload and system (a Dataset)
compare()            several designs on the same workload stream (a Dataset)
sweep()              every combination of swept parameters, here or on a dask cluster
plan_sweep()         a sweep's runs laid out and checked, nothing run; run_plan() runs them
System, Device, Zswap, Thp  the machine a run models (Thp: large folios)
usemem(), memhog(), kbuild(), churn()  workloads; read_trace()/write_trace() record and replay
with_swapoff()       a workload that swaps the device off at the start of a phase
calibrate()          a cost table measured here (kernel=True: fitted on the running kernel)
load_cost()          a cost table from a JSON file (calibrate(out=...) writes one)
metadata_overhead()  bytes of swap metadata per design, backend and usage (a Dataset)
XArray               the emulated Linux XArray (lib/xarray.c), for exploring lookups
parse_size()         "32G" -> bytes
check_invariants()   the invariants of a run's state (simulate(..., check="phase") runs it)
InvariantError       what a broken invariant raises
"""
from __future__ import annotations

from .core.version import __version__

from .api import compare, designs, metadata_overhead, simulate
from .check import InvariantError, check_invariants
from .core.radix import XArray
from .core.units import parse_size
from .mm.config import Device, System, Thp, Zswap
from .calibration import calibrate
from .mm.cost import load_cost
from .sweep import plan_sweep, run_plan, sweep
from .workloads import (
    Workload,
    churn,
    kbuild,
    memhog,
    read_trace,
    usemem,
    with_swapoff,
    write_trace,
)

__all__ = [
    "Device",
    "InvariantError",
    "System",
    "Thp",
    "Workload",
    "XArray",
    "Zswap",
    "__version__",
    "calibrate",
    "check_invariants",
    "churn",
    "compare",
    "designs",
    "kbuild",
    "load_cost",
    "memhog",
    "metadata_overhead",
    "parse_size",
    "plan_sweep",
    "read_trace",
    "run_plan",
    "simulate",
    "sweep",
    "usemem",
    "with_swapoff",
    "write_trace",
]
