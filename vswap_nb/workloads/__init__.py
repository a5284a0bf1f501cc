"""Design-independent page-event streams: what the mm engine replays against every design.

A :class:`Workload` is a few int64 rows per task (map a range, touch it in order or at
random, wait at a barrier, unmap, exit, start a phase) plus the content mix of its pages;
the engine expands the ranges into page accesses, so even a 56 GiB usemem is a handful of
rows.  See :mod:`vswap_nb.workloads.events` for the format and its hashes.

usemem()            vm-scalability usemem (-n/-t/-R/-W/-r/-y/-x/-b), the swap threads' benchmark
usemem_from_args()  the same from usemem's own command line, e.g. "-n 32 -R 1536M"
memhog()            numactl memhog: same-filled (0xff) pages
kbuild()            a synthetic kernel-build-like churn of short-lived working sets
churn()             read-back, holes of mixed lengths and remapping, round after round:
                    fragments the swap device under large folios
write_trace()       a workload to .npz or .csv
read_trace()        ... and back, validated
make_workload()     a workload from per-task lists of event tuples
"""
from __future__ import annotations

from . import events
from .churn import churn
from .events import *  # noqa: F403  the format, Workload and its helpers (events.__all__)
from .kbuild import kbuild
from .memhog import memhog
from .trace import read_trace, write_trace
from .usemem import parse_usemem_args, usemem, usemem_from_args

__all__ = [
    *events.__all__,
    "churn",
    "kbuild",
    "memhog",
    "parse_usemem_args",
    "read_trace",
    "usemem",
    "usemem_from_args",
    "write_trace",
]
