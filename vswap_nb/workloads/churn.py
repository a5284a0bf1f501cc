"""A fragmenting churn: large regions written to swap, then read back in parts and
punched full of holes of mixed lengths and alignments, round after round.

The question it is for (the large-folio issue): with mixed folio orders, read-back and
frees going on for hours of modelled time, can each design still place a large folio's
2**order contiguous swap entries as the device fills and churns?  Frees in holes all
over the device are what breaks the device's clusters into fragments; dynamic cluster
allocation and RCU-delayed frees are where the thread suspected trouble.

Every task (its own mm) does::

    MMAP(0, P), PHASE(write), TOUCH(0, P, F_WRITE)       write its region: under a memory
                                                         limit most of it goes to swap
    BARRIER(0), PHASE(churn)
    repeat ``rounds`` times:
        TOUCH(a, n, read) ...       read back ranges covering ``read_fraction`` of the
                                    live pages (swap-ins; ranges may overlap)
        UNMAP(a, n) ...             punch holes covering ``free_fraction`` of the live
                                    pages (their swap entries are freed where they are)
        MMAP(e, F), TOUCH(e, F, F_WRITE)
                                    map as many pages as the holes took, at fresh vpns
                                    after the mm's last VMA, and write them (new faults,
                                    which reclaim then swaps out into the fragments)
    BARRIER(1), PHASE(free)
    UNMAP(a, n) ...                 every range still mapped
    EXIT

so each task keeps ``P`` pages mapped throughout, and each round moves ``F`` of them.

Ranges (read ranges and holes) have lengths ``floor(2**(10*u))`` pages for ``u``
uniform in [0, 1): log-uniform from 1 page to 1023 pages (4 KiB to just under 4 MiB),
so most are shorter than a 64 KiB folio and some span many 2 MiB ones; a range starts
at any page of a live stretch (weighted by the positions a range of its length has
there), so starts have every alignment.  A hole never covers a page already unmapped
(a stretch too short for the drawn length is used whole).  The uniforms come from
splitmix64 of ``(seed, task, round, stream)``, so a workload does not depend on the
NumPy version, and round ``r`` of a task is the same whatever ``rounds`` is:
``churn(..., rounds=k)`` is a prefix of ``churn(..., rounds=k+1)`` up to the free.

Modelling choices, and what the event format imposes:

* The format never maps a vpn twice in one mm and never touches a page its task has
  unmapped, so a hole is not mapped again at its own addresses: the new pages of a
  round go to a fresh VMA.  A hole therefore decides the order of no fault; what the
  holes do to folio orders is on the swap side (freed entries scattered over the
  device, partial unmaps of large folios, swap-ins next to a hole that find fewer
  contiguous swap PTEs).  Mixed fault orders come from the sizes the ``System``
  enables and from memory pressure (a large folio allocated without reclaim falls
  back to the next enabled size, then order 0).
* The mm engine takes a fault's VMA to be the whole mm (its large-folio order checks
  look at the aligned range in the mm, not in the VMA).  So that no folio spans two
  mappings or pages no VMA has, ``size`` is rounded up to whole 2 MiB and every VMA
  (the first one and each round's) starts on a 2 MiB boundary and is a whole number
  of 2 MiB: ``F`` is ``free_fraction * P`` rounded to whole 2 MiB (at least 2 MiB when
  ``free_fraction > 0``), and the holes of a round add up to exactly ``F``.
* Pages hold usemem's data by default (``fill="sequence"``: never zero, never
  same-filled), so every swapped page goes to the device.

Phases: ("write", "churn", "free").
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .events import (
    F_WRITE,
    K_BARRIER,
    K_EXIT,
    K_MMAP,
    K_PHASE,
    K_TOUCH,
    K_UNMAP,
    MAX_VPN,
    Workload,
    _splitmix64,
    _u64,
    build_workload,
    check_int,
    check_pages,
    fill_param,
    parse_fill,
)

__all__ = ["churn"]

PMD_PAGES = 512  # pages of 2 MiB: the unit of every mapping
MAX_RANGE_LOG2 = 10  # ranges are floor(2**(10*u)) pages: 1 .. 1023
MAX_TASKS = 1 << 16
MAX_ROUNDS = 1 << 16
PHASES = ("write", "churn", "free")
_G = np.uint64(0x9E3779B97F4A7C15)
_M = np.uint64(0xD1B54A32D192ED03)
_READS, _HOLES = 0, 1  # random streams of a round


class _Uniforms:
    """Floats in [0, 1) from splitmix64, one stream per (seed, task, round, stream):
    value ``i`` is ``splitmix64(key + i*M) >> 11`` scaled by 2**-53, with ``key =
    splitmix64(splitmix64(splitmix64(seed) + task*G) + (round*2 + stream)*G)``."""

    def __init__(self, seed, task, rnd, stream):
        with np.errstate(over="ignore"):
            k = _splitmix64(_u64(seed, "seed"))
            k = _splitmix64(k + np.uint64(task) * _G)
            self.key = _splitmix64(k + np.uint64(rnd * 2 + stream) * _G)
        self.i = 0
        self.buf = np.empty(0)
        self.pos = 0

    def next(self) -> float:
        if self.pos == self.buf.size:
            with np.errstate(over="ignore"):
                h = _splitmix64(self.key + (np.arange(self.i, self.i + 256, dtype=np.uint64) * _M))
            self.buf = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
            self.i += 256
            self.pos = 0
        self.pos += 1
        return float(self.buf[self.pos - 1])


def _length(u: float) -> int:
    return int(2.0 ** (MAX_RANGE_LOG2 * u))


def _place(starts, lens, h, u):
    """A range of ``h`` pages inside one stretch (start of stretch i, length): stretch
    i is drawn with weight ``lens[i] - h + 1`` (its positions for the range) and the
    position uniformly, both from the one uniform ``u``.  A stretch too short for
    ``h`` is only drawn when none is long enough; then the longest is used whole.
    Returns (stretch index, start, length)."""
    w = lens - (h - 1)
    np.maximum(w, 0, out=w)
    total = int(w.sum())
    if total == 0:
        i = int(np.argmax(lens))
        return i, int(starts[i]), int(lens[i])
    x = min(int(u * total), total - 1)
    cum = np.cumsum(w)
    i = int(np.searchsorted(cum, x, side="right"))
    off = x - (int(cum[i]) - int(w[i]))
    return i, int(starts[i]) + off, h


def _task_rows(seed, task, pages, rounds, freed, read_fraction):
    """The rows of one task and its stretches still mapped at the free."""
    rows = [(K_MMAP, 0, pages, 0, 0), (K_PHASE, 0, 0, 0, 0), (K_TOUCH, 0, pages, F_WRITE, 0)]
    rows += [(K_BARRIER, 0, 0, 0, 0), (K_PHASE, 1, 0, 0, 0)]
    # live stretches (start, length) in address order, each inside one VMA (a hole
    # splits a stretch; stretches are never merged, so none spans two VMAs)
    starts = np.array([0], dtype=np.int64)
    lens = np.array([pages], dtype=np.int64)
    end = pages
    for r in range(rounds):
        live = int(lens.sum())
        # read back: ranges until read_fraction of the live pages are covered
        want = round(read_fraction * live)
        u = _Uniforms(seed, task, r, _READS)
        while want > 0:
            h = min(_length(u.next()), want)
            _, a, n = _place(starts, lens, h, u.next())
            rows.append((K_TOUCH, a, n, 0, 0))
            want -= n
        # holes: exactly `freed` pages, never twice the same page
        want = freed
        u = _Uniforms(seed, task, r, _HOLES)
        while want > 0:
            h = min(_length(u.next()), want)
            i, a, n = _place(starts, lens, h, u.next())
            rows.append((K_UNMAP, a, n, 0, 0))
            want -= n
            s, ln = int(starts[i]), int(lens[i])
            left, right = a - s, s + ln - (a + n)
            new_s = [x for x, keep in ((s, left), (a + n, right)) if keep > 0]
            new_l = [x for x in (left, right) if x > 0]
            starts = np.concatenate([starts[:i], np.array(new_s, dtype=np.int64), starts[i + 1 :]])
            lens = np.concatenate([lens[:i], np.array(new_l, dtype=np.int64), lens[i + 1 :]])
        if freed:
            rows.append((K_MMAP, end, freed, 0, 0))
            rows.append((K_TOUCH, end, freed, F_WRITE, 0))
            starts = np.append(starts, end)
            lens = np.append(lens, freed)
            end += freed
    rows += [(K_BARRIER, 1, 0, 0, 0), (K_PHASE, 2, 0, 0, 0)]
    rows += [(K_UNMAP, int(a), int(n), 0, 0) for a, n in zip(starts, lens)]
    rows.append((K_EXIT, 0, 0, 0, 0))
    return rows


def _fraction(value, name, hi, hint):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, {hi}], got {type(value).__name__} {value!r}{hint}")
    v = float(value)
    if not (math.isfinite(v) and 0.0 <= v <= hi):
        raise ValueError(f"{name} must be in [0, {hi}], got {value!r}{hint}")
    return v


def churn(size, nr_tasks=2, rounds=8, free_fraction=0.25, read_fraction=0.25, seed=0, fill="sequence") -> Workload:
    """A fragmenting churn: ``nr_tasks`` tasks each write ``size`` bytes, then, ``rounds``
    times, read back parts of it, unmap holes of mixed lengths and alignments and map and
    write as much again elsewhere (see the module docstring for the exact events).

    size           bytes each task keeps mapped ("1G" or an int), rounded up to 2 MiB
    nr_tasks       tasks, one mm each
    rounds         rounds of read-back, holes and remapping after the first write
    free_fraction  share of ``size`` unmapped in holes (and mapped again elsewhere) each
                   round, in [0, 0.5]; rounded to whole 2 MiB (at least 2 MiB if > 0)
    read_fraction  share of the live pages read back each round, in [0, 1]
    seed           draws the ranges
    fill           page contents, as for :func:`~vswap_nb.workloads.usemem`

    Phases: ("write", "churn", "free").  Run it with a memory limit below
    ``nr_tasks * size`` and large folios on (``System(thp=...)``) to see each design's
    large-folio swap-out fallbacks (``mthp``'s ``swpout_fallback``).
    """
    nbytes, pages = check_pages(size, "size")
    pages = -(-pages // PMD_PAGES) * PMD_PAGES
    nr_tasks = check_int(nr_tasks, "nr_tasks", 1, MAX_TASKS, "; nr_tasks is the number of tasks, e.g. nr_tasks=2")
    rounds = check_int(rounds, "rounds", 0, MAX_ROUNDS, "; rounds=0 writes and frees only")
    free_fraction = _fraction(free_fraction, "free_fraction", 0.5, "; e.g. free_fraction=0.25 unmaps a quarter a round")
    read_fraction = _fraction(read_fraction, "read_fraction", 1, "; e.g. read_fraction=0.25 reads a quarter a round")
    seed = check_int(seed, "seed", 0, (1 << 63) - 1)
    fractions = parse_fill(fill)
    freed = 0
    if free_fraction > 0:
        freed = max(1, round(free_fraction * pages / PMD_PAGES)) * PMD_PAGES
    if freed > pages // 2:
        raise ValueError(
            f"free_fraction={free_fraction} of size={size!r} ({pages} pages) frees {freed} pages a round "
            f"(whole 2 MiB), more than half of size; give a size of at least {2 * freed * 4096 // (1 << 20)} MiB "
            f"or free_fraction=0"
        )
    if pages + rounds * freed > MAX_VPN:
        raise ValueError(
            f"size + rounds * free_fraction * size = {pages + rounds * freed} pages does not fit one "
            f"address space of 128 PiB; use fewer rounds or a smaller size"
        )

    per_task = [_task_rows(seed, t, pages, rounds, freed, read_fraction) for t in range(nr_tasks)]
    counts = np.array([len(r) for r in per_task], dtype=np.int64)
    task_start = np.zeros(nr_tasks + 1, dtype=np.int64)
    np.cumsum(counts, out=task_start[1:])
    events = np.empty((int(task_start[-1]), 6), dtype=np.int64)
    events[:, 0] = np.repeat(np.arange(nr_tasks, dtype=np.int64), counts)
    events[:, 1:] = np.array([row for rows in per_task for row in rows], dtype=np.int64)
    params = {
        "size": nbytes,
        "nr_tasks": nr_tasks,
        "rounds": rounds,
        "free_fraction": free_fraction,
        "read_fraction": read_fraction,
        "seed": seed,
        "fill": fill_param(fill),
    }
    task = np.arange(nr_tasks, dtype=np.int64)
    return build_workload(
        "churn", params, PHASES, events, task_start, task, np.full(nr_tasks, -1, dtype=np.int64), fractions
    )
