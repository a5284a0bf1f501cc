"""A synthetic stand-in for a kernel build (``make -jN``) in a memory-limited cgroup.

The virtual swap v6 report builds a kernel with 52 workers in a ``memory.max=3G`` cgroup:
many short-lived compiler processes, each allocating a working set of tens of MB, using
it, and exiting, with at most ``jobs`` of them alive at once.  This is not a trace of a
real build; it keeps what matters to swap metadata: a steady churn of anonymous memory
that is written, partly re-read, and freed while other jobs push it towards swap.

Modelling choice: the format has no "spawn a task later", so each of the ``jobs`` make
slots is one long-lived task with its own mm, and each compile the slot runs is a
map/unmap cycle in that mm: ``MMAP`` a fresh region (at new vpns after the previous
compile's), ``TOUCH`` it all for writing (the compiler filling its heap), ``TOUCH`` a
prefix of it again for reading (walking its trees), ``UNMAP`` it (the process exits).
Compiles are dealt to slots round-robin (compile ``j`` runs on slot ``j % jobs``), so the
slots start together and drift apart as their working sets differ.  Per slot::

    PHASE(build), {MMAP(b, w), TOUCH(b, w, F_WRITE), TOUCH(b, r, read), UNMAP(b, w)} x compiles, EXIT

Compile ``j``'s working set ``w`` is ``ram_per_job`` times a factor uniform in
[0.5, 1.5) and its re-read prefix ``r`` a fraction uniform in [0.25, 0.75) of ``w``
(at least one page each); the uniforms come from splitmix64 of ``seed``, so they do not
depend on the NumPy version.  Page contents default to 80% sequence-like data and 20%
zero pages (``fill``), a rough guess at compiler heaps (zeroed, partly unused arrays).

The defaults (52 jobs x 60M is about the 3G limit; 156 compiles, 3 per slot) give about
3.6 million page events, a few seconds of engine time.
"""
from __future__ import annotations

from types import MappingProxyType

import numpy as np

from .events import (
    F_WRITE,
    K_EXIT,
    K_MMAP,
    K_PHASE,
    K_TOUCH,
    K_UNMAP,
    Workload,
    _splitmix64,
    _u64,
    build_workload,
    check_int,
    check_pages,
    fill_param,
    parse_fill,
)

__all__ = ["KBUILD_FILL", "kbuild"]

KBUILD_FILL = MappingProxyType({"sequence": 0.8, "zero": 0.2})
MAX_FILES = 1 << 24
_G = np.uint64(0x9E3779B97F4A7C15)


def _uniform(seed, n):
    """``n`` floats in [0, 1) from splitmix64(seed*G + k), k = 0..n-1."""
    with np.errstate(over="ignore"):
        h = _splitmix64(_u64(seed, "seed") * _G + np.arange(n, dtype=np.uint64))
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def kbuild(jobs=52, files=156, ram_per_job="60M", seed=0, fill=KBUILD_FILL, cgroups=1) -> Workload:
    """A kernel-build-like churn: ``files`` compiles of about ``ram_per_job`` each, at most
    ``jobs`` at once (see the module docstring for the model).

    jobs         parallel make slots (``make -j``); one task and one mm each
    files        compiles in the whole build
    ram_per_job  mean working set of one compile ("60M" or bytes)
    seed         draws the working-set sizes
    fill         page contents, as for :func:`~vswap_nb.workloads.usemem`
    cgroups      memory cgroups the make slots run in, slot i in cgroup ``i % cgroups``
                 (several builds side by side, each in its own cgroup with the System's
                 ``memory_max``); at most the number of slots

    Phases: ("build",).
    """
    jobs = check_int(jobs, "jobs", 1, 1 << 16, "; jobs is make's -j, e.g. jobs=52")
    files = check_int(files, "files", 1, MAX_FILES, "; files is the number of compiles, e.g. files=156")
    nbytes, pages = check_pages(ram_per_job, "ram_per_job")
    seed = check_int(seed, "seed", 0, (1 << 63) - 1)
    fractions = parse_fill(fill)

    nslots = min(jobs, files)
    cgroups = check_int(cgroups, "cgroups", 1, nslots,
                        f"; the {nslots} make slot(s) can fill at most {nslots} cgroups")
    u = _uniform(seed, 2 * files)
    ws = np.maximum(1, np.rint(pages * (0.5 + u[0::2]))).astype(np.int64)
    rr = np.maximum(1, np.floor(ws * (0.25 + 0.5 * u[1::2]))).astype(np.int64)

    j = np.arange(files, dtype=np.int64)
    slot, order = j % nslots, j // nslots
    idx = np.lexsort((order, slot))  # compiles slot by slot, in the order each slot runs them
    s, o, w, r = slot[idx], order[idx], ws[idx], rr[idx]
    per_slot = np.bincount(slot, minlength=nslots).astype(np.int64)
    task_start = np.zeros(nslots + 1, dtype=np.int64)
    np.cumsum(2 + 4 * per_slot, out=task_start[1:])
    first = np.zeros(nslots, dtype=np.int64)
    np.cumsum(per_slot[:-1], out=first[1:])
    excl = np.cumsum(w) - w
    base = excl - excl[first][s]  # each slot's regions follow one another from vpn 0

    events = np.zeros((int(task_start[-1]), 6), dtype=np.int64)
    t = np.arange(nslots, dtype=np.int64)
    events[task_start[:-1], 0] = t
    events[task_start[:-1], 1] = K_PHASE
    events[task_start[1:] - 1, 0] = t
    events[task_start[1:] - 1, 1] = K_EXIT
    row = task_start[s] + 1 + 4 * o
    for off, kind, length, flags in (
        (0, K_MMAP, w, 0),
        (1, K_TOUCH, w, F_WRITE),
        (2, K_TOUCH, r, 0),
        (3, K_UNMAP, w, 0),
    ):
        events[row + off, 0] = s
        events[row + off, 1] = kind
        events[row + off, 2] = base
        events[row + off, 3] = length
        events[row + off, 4] = flags
    params = {
        "jobs": jobs,
        "files": files,
        "ram_per_job": nbytes,
        "seed": seed,
        "fill": fill_param(fill),
    }
    if cgroups != 1:
        params["cgroups"] = cgroups
    return build_workload(
        "kbuild", params, ("build",), events, task_start, t.copy(), np.full(nslots, -1, dtype=np.int64), fractions,
        task_memcg=t % cgroups,
    )
