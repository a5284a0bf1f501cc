"""The page-event format every workload is written in, and the hashes that expand it.

A workload is a short table of *range* events per task, not a list of pages: "map 14
million pages", "write them in order", "wait for the others", "unmap them".  The mm
engine walks these rows in a Numba kernel and expands each range into page accesses
itself, so a 56 GiB usemem is a few dozen int64 rows and builds in microseconds.

The rows, kinds, columns and flags are defined in :mod:`vswap_nb.core.events` (the
format alone, which the mm engine reads too) and re-exported here.

The content of a page (what zswap or the zero-page check would find in it) is not in the
events: the engine draws it from ``(seed, mm, vpn)`` with :func:`content_class` and the
workload's ``fill`` fractions, so the same stream can be replayed with any content mix and
every design sees the same pages.

Hashes (copy them bit for bit; all arithmetic is on uint64 and wraps modulo 2**64;
in Numba cast every operand to ``np.uint64`` first, since ``int64 * uint64`` promotes
to float64 there)::

    G = 0x9E3779B97F4A7C15        M = 0xD1B54A32D192ED03
    splitmix64(x):  x += G; z = x
                    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
                    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
                    return z ^ (z >> 31)
    content_class:  h = splitmix64(seed*G + mm*M + vpn); u = (h >> 11) * 2**-53 (float64)
                    0 if u < fill[0], 1 if u < fill[0] + fill[1], else 2
    random_vpn:     start + splitmix64(splitmix64(seed ^ (task*G)) + event_index*M + i) % span

``event_index`` is the row of the TOUCH_RANDOM event in ``Workload.events`` (the global
row, not the row within the task) and ``i`` counts its accesses from 0.  Negative inputs
are taken modulo 2**64 (two's complement), as a C or Numba cast to uint64 does.

Invariants (checked by :meth:`Workload.validate`):

* ``events`` is int64 (n, 6), C-contiguous, grouped by task in task order; within a task
  rows are in the order the task performs them; ``task_start`` delimits the groups.
* every task ends with its only ``K_EXIT``.
* VMAs mapped in one mm never overlap one another (a workload that reuses addresses gives
  the new mapping fresh vpns), and ``mm_pages[m]`` is the highest end of mm ``m``'s VMAs.
* every TOUCH, TOUCH_RANDOM and UNMAP range lies inside one VMA of the task's mm; when the
  task mapped that VMA itself, the MMAP comes first, and the task never accesses pages it
  has already unmapped.  Across tasks (threads of one mm) order is only what barriers
  impose, so it is not checked.
* each task's barrier ids are 0, 1, 2, ... in order (a task may stop early by exiting).
"""
from __future__ import annotations

import bisect
import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..core import events as _format
from ..core.events import *  # noqa: F403  the event format, re-exported (its names: core.events.__all__)
from ..core.units import PAGE_SIZE, parse_size

__all__ = [
    *_format.__all__,
    "Workload",
    "content_class",
    "make_workload",
    "parse_fill",
    "random_vpn",
    "splitmix64",
    "with_swapoff",
]

_MASK = (1 << 64) - 1
_G = np.uint64(0x9E3779B97F4A7C15)
_M = np.uint64(0xD1B54A32D192ED03)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = (np.uint64(s) for s in (11, 27, 30, 31))

# which of columns a, b, c, d each kind uses; the others must be 0
_USED = {
    K_MMAP: (True, True, False, False),
    K_TOUCH: (True, True, True, False),
    K_TOUCH_RANDOM: (True, True, True, True),
    K_BARRIER: (True, False, False, False),
    K_UNMAP: (True, True, False, False),
    K_EXIT: (False, False, False, False),
    K_PHASE: (True, False, False, False),
    K_SWAPOFF: (False, False, False, False),
}


# --------------------------------------------------------------------------- hashes


def _u64(x, name):
    """``x`` as a uint64 array (0-d for a scalar), wrapping negatives like a C cast."""
    if isinstance(x, np.ndarray):
        if x.dtype == np.uint64:
            return x
        if x.dtype.kind in "iu":
            return x.astype(np.uint64)
        raise TypeError(f"{name} must hold integers, got an array of {x.dtype}")
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        if isinstance(x, (list, tuple)):
            return _u64(np.asarray(x), name)
        raise TypeError(f"{name} must be an integer or an integer array, got {x!r}")
    return np.array(int(x) & _MASK, dtype=np.uint64)


def _splitmix64(x):
    with np.errstate(over="ignore"):
        z = x + _G
        z = (z ^ (z >> _S30)) * _C1
        z = (z ^ (z >> _S27)) * _C2
        return z ^ (z >> _S31)


def _out(arr, scalar):
    return int(arr) if scalar else arr


def splitmix64(x):
    """The splitmix64 finaliser of ``x`` (uint64 wrapping arithmetic).

    An int gives an int in ``[0, 2**64)``; an integer array gives a uint64 array."""
    u = _u64(x, "x")
    return _out(_splitmix64(u), u.ndim == 0)


def content_class(seed, mm, vpn, fill):
    """Content class (``CONTENT_SEQUENCE``, ``CONTENT_ZERO`` or ``CONTENT_SAME``) of page
    ``vpn`` of address space ``mm`` in a run with ``seed``, for content fractions ``fill``.

    ``h = splitmix64(seed*G + mm*M + vpn)``, ``u = (h >> 11) * 2**-53``: class 0 if
    ``u < fill[0]``, 1 if ``u < fill[0] + fill[1]``, else 2 (see the module docstring).
    ``vpn`` may be an int (an int is returned) or an integer array (int64 array)."""
    f = np.asarray(fill, dtype=np.float64)
    if f.shape != (3,):
        raise ValueError(f"fill must hold 3 fractions (sequence, zero, same), got shape {f.shape}")
    s, m, v = _u64(seed, "seed"), _u64(mm, "mm"), _u64(vpn, "vpn")
    with np.errstate(over="ignore"):
        h = _splitmix64(s * _G + m * _M + v)
    u = (h >> _S11).astype(np.float64) * 2.0**-53
    f0 = f[0]
    f01 = f[0] + f[1]
    cls = np.where(u < f0, CONTENT_SEQUENCE, np.where(u < f01, CONTENT_ZERO, CONTENT_SAME)).astype(np.int64)
    return _out(cls, np.ndim(vpn) == 0 and np.ndim(mm) == 0 and np.ndim(seed) == 0)


def random_vpn(seed, task, event_index, i, start, span):
    """The vpn of access ``i`` of the TOUCH_RANDOM event in row ``event_index`` of
    ``Workload.events`` (task ``task``, range ``[start, start+span)``)::

        start + splitmix64(splitmix64(seed ^ (task*G)) + event_index*M + i) % span

    over uint64 (``G = 0x9E3779B97F4A7C15``, ``M = 0xD1B54A32D192ED03``).  ``i`` may be an
    int (an int is returned) or an integer array (an int64 array is returned)."""
    if isinstance(span, bool) or not isinstance(span, numbers.Integral) or span < 1:
        raise ValueError(f"span must be a positive integer, got {span!r}")
    if isinstance(start, bool) or not isinstance(start, numbers.Integral) or start < 0:
        raise ValueError(f"start must be a non-negative integer, got {start!r}")
    s, t, e, k = _u64(seed, "seed"), _u64(task, "task"), _u64(event_index, "event_index"), _u64(i, "i")
    with np.errstate(over="ignore"):
        base = _splitmix64(s ^ (t * _G))
        h = _splitmix64(base + e * _M + k)
    r = (h % np.uint64(span)).astype(np.int64) + np.int64(start)
    return _out(r, np.ndim(i) == 0)


# --------------------------------------------------------------------------- fill


def parse_fill(fill, name: str = "fill") -> np.ndarray:
    """Fractions of pages per content class as a float64 array (sequence, zero, same).

    ``fill`` is a class name (``"sequence"``, ``"zero"``, ``"same"``: every page of that
    class), a mapping of class names to fractions (``{"zero": 0.5, "sequence": 0.5}``;
    missing classes are 0), or three fractions in class order.  Fractions must be >= 0 and
    sum to 1 within 1e-6; they are divided by their sum."""
    if isinstance(fill, str):
        if fill not in CONTENT_NAMES:
            raise ValueError(f"{name}={fill!r} is not a content class; use one of {', '.join(CONTENT_NAMES)}")
        out = np.zeros(3, dtype=np.float64)
        out[CONTENT_NAMES.index(fill)] = 1.0
        return out
    if isinstance(fill, Mapping):
        values = [0.0, 0.0, 0.0]
        for key, v in fill.items():
            if key not in CONTENT_NAMES:
                raise ValueError(
                    f"{name} has an unknown content class {key!r}; use keys from {', '.join(CONTENT_NAMES)}"
                )
            values[CONTENT_NAMES.index(key)] = v
        label = lambda i: f"{name}[{CONTENT_NAMES[i]!r}]"
    elif isinstance(fill, (list, tuple, np.ndarray)):
        values = list(np.asarray(fill, dtype=object).ravel()) if isinstance(fill, np.ndarray) else list(fill)
        if len(values) != 3:
            raise ValueError(f"{name} must hold 3 fractions (sequence, zero, same), got {len(values)}")
        label = lambda i: f"{name}[{i}]"
    else:
        raise TypeError(
            f"{name} must be a content class name ({', '.join(CONTENT_NAMES)}), a dict of "
            f"fractions like {{'sequence': 0.8, 'zero': 0.2}}, or 3 fractions; got {fill!r}"
        )
    out = np.zeros(3, dtype=np.float64)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{label(i)} must be a number in [0, 1], got {v!r}")
        v = float(v)
        if not (math.isfinite(v) and v >= 0.0):
            raise ValueError(f"{label(i)} must be a fraction >= 0, got {v}")
        out[i] = v
    total = math.fsum(out.tolist())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{name} fractions must sum to 1, they sum to {total!r}: {fill!r}")
    return out / total


# --------------------------------------------------------------------------- Workload


def _kind_name(k):
    return KIND_NAMES.get(int(k), f"unknown kind {int(k)}")


@dataclass(frozen=True, eq=False)
class Workload:
    """A design-independent page-event stream (see the module docstring for the format).

    Build one with a workload function (:func:`~vswap_nb.workloads.usemem`, ...),
    :func:`make_workload` or :func:`~vswap_nb.workloads.read_trace`; they validate it.
    The arrays are shared with whoever holds the workload: do not modify them."""

    name: str
    params: dict
    phases: tuple
    events: np.ndarray
    task_start: np.ndarray
    task_mm: np.ndarray
    mm_pages: np.ndarray
    task_cpu: np.ndarray
    fill: np.ndarray
    task_memcg: np.ndarray = None  # the memory cgroup of each task, 0 .. nmemcg-1 (default: all in 0)

    _ARRAYS = ("events", "task_start", "task_mm", "mm_pages", "task_cpu", "fill", "task_memcg")

    def __post_init__(self):
        if self.task_memcg is None:
            object.__setattr__(self, "task_memcg", np.zeros(self.task_mm.shape[0], dtype=np.int64))

    @property
    def nmemcg(self) -> int:
        """The workload's memory cgroups (each with the System's ``memory_max``)."""
        return int(self.task_memcg.max()) + 1 if self.task_memcg.size else 1

    @property
    def ntasks(self) -> int:
        return int(self.task_mm.shape[0])

    @property
    def nmm(self) -> int:
        return int(self.mm_pages.shape[0])

    @property
    def nevents(self) -> int:
        return int(self.events.shape[0])

    @property
    def total_pages(self) -> int:
        """Pages mapped over the workload's life (sum of MMAP lengths over every mm)."""
        ev = self.events
        return int(ev[ev[:, EV_KIND] == K_MMAP, EV_B].sum())

    @property
    def page_events(self) -> int:
        """Page accesses the stream implies: TOUCH lengths plus TOUCH_RANDOM counts."""
        ev = self.events
        kind = ev[:, EV_KIND]
        return int(ev[kind == K_TOUCH, EV_B].sum() + ev[kind == K_TOUCH_RANDOM, EV_D].sum())

    def __eq__(self, other):
        if not isinstance(other, Workload):
            return NotImplemented
        if (self.name, self.params, tuple(self.phases)) != (other.name, other.params, tuple(other.phases)):
            return False
        for f in self._ARRAYS:
            a, b = getattr(self, f), getattr(other, f)
            if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b):
                return False
        return True

    __hash__ = None

    def __repr__(self):
        return (
            f"Workload({self.name!r}, ntasks={self.ntasks}, nmm={self.nmm}, nevents={self.nevents}, "
            f"total_pages={self.total_pages}, page_events={self.page_events}, phases={self.phases})"
        )

    # ----------------------------------------------------------------------- validate

    def validate(self) -> Workload:
        """Check every invariant of the format; raise ValueError naming the field and the
        problem.  Returns the workload, so ``Workload(...).validate()`` chains."""
        self._check_header()
        ntasks, nmm = self._check_arrays()
        ev = self.events
        if not np.array_equal(ev[:, EV_TASK], np.repeat(np.arange(ntasks, dtype=np.int64), np.diff(self.task_start))):
            bad = _first_row_off(ev[:, EV_TASK], self.task_start)
            raise ValueError(
                f"{self._where('events')}: rows are not grouped by task in task order "
                f"(row {bad} has task {int(ev[bad, EV_TASK])}); sort them by task, stably, and "
                f"make task_start delimit each task's rows"
            )
        self._check_columns()
        self._check_exit(ntasks)
        self._check_barriers()
        self._check_vmas(nmm)
        return self

    def _where(self, field):
        return f"Workload {self.name!r} {field}" if isinstance(self.name, str) else f"Workload {field}"

    def _check_header(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Workload name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.params, dict):
            raise ValueError(f"{self._where('params')} must be a dict, got {type(self.params).__name__}")  # noqa: TRY004 - validate() reports every problem as ValueError
        try:
            again = json.loads(json.dumps(self.params, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{self._where('params')} must be JSON-serialisable: {exc}") from None
        if again != self.params:
            raise ValueError(
                f"{self._where('params')} does not survive a JSON round trip unchanged "
                f"(use lists, not tuples, and string keys): {self.params!r}"
            )
        if not isinstance(self.phases, tuple) or not self.phases:
            raise ValueError(f"{self._where('phases')} must be a non-empty tuple of names, got {self.phases!r}")
        if not all(isinstance(p, str) and p for p in self.phases) or len(set(self.phases)) != len(self.phases):
            raise ValueError(f"{self._where('phases')} must be distinct non-empty strings, got {self.phases!r}")

    def _check_arrays(self):
        for f in self._ARRAYS:
            a = getattr(self, f)
            want = np.float64 if f == "fill" else np.int64
            ndim = 2 if f == "events" else 1
            if not isinstance(a, np.ndarray):
                raise ValueError(f"{self._where(f)} must be a NumPy array, got {type(a).__name__}")  # noqa: TRY004
            if a.dtype != want or a.ndim != ndim or not a.flags.c_contiguous:
                raise ValueError(
                    f"{self._where(f)} must be a C-contiguous {ndim}-D {np.dtype(want).name} array, "
                    f"got {a.ndim}-D {a.dtype}{'' if a.flags.c_contiguous else ' (not C-contiguous)'}"
                )
        ev = self.events
        if ev.shape[1] != 6:
            raise ValueError(f"{self._where('events')} must have 6 columns (task, kind, a, b, c, d), got {ev.shape[1]}")
        ntasks = self.task_mm.shape[0]
        if ntasks < 1:
            raise ValueError(f"{self._where('task_mm')} is empty: a workload needs at least one task")
        if self.task_start.shape[0] != ntasks + 1:
            raise ValueError(
                f"{self._where('task_start')} must have ntasks+1 = {ntasks + 1} entries, got {self.task_start.shape[0]}"
            )
        if self.task_cpu.shape[0] != ntasks:
            raise ValueError(f"{self._where('task_cpu')} must have ntasks = {ntasks} entries, got {self.task_cpu.shape[0]}")
        ts = self.task_start
        if ts[0] != 0 or ts[-1] != ev.shape[0] or np.any(np.diff(ts) < 1):
            raise ValueError(
                f"{self._where('task_start')} must rise strictly from 0 to nevents = {ev.shape[0]} "
                f"(every task has at least its EXIT), got {ts.tolist()[:8]}{' ...' if ts.size > 8 else ''}"
            )
        nmm = self.mm_pages.shape[0]
        tm = self.task_mm
        if nmm < 1 or tm.min() < 0 or tm.max() >= nmm:
            raise ValueError(f"{self._where('task_mm')} must hold mm ids in [0, nmm = {nmm}), got {_span(tm)}")
        unused = np.setdiff1d(np.arange(nmm), tm)
        if unused.size:
            raise ValueError(f"{self._where('mm_pages')}: mm {int(unused[0])} has no task; number mms 0..nmm-1 densely")
        if self.task_memcg.shape != (ntasks,) or (ntasks and self.task_memcg.min() < 0):
            raise ValueError(f"{self._where('task_memcg')} must hold a cgroup number >= 0 for each of the {ntasks} tasks")
        if ntasks:
            lo = np.full(int(self.task_mm.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
            hi = np.full(lo.shape[0], -1, dtype=np.int64)
            np.minimum.at(lo, self.task_mm, self.task_memcg)
            np.maximum.at(hi, self.task_mm, self.task_memcg)
            split = np.flatnonzero((hi >= 0) & (lo != hi))
            if split.size:
                mm = int(split[0])
                tasks = np.flatnonzero(self.task_mm == mm)
                raise ValueError(
                    f"{self._where('task_memcg')}: mm {mm} is shared by tasks {tasks.tolist()} in memory "
                    f"cgroups {np.unique(self.task_memcg[tasks]).tolist()}; an address space is charged to "
                    f"one memory cgroup (its owner's, and a process is in one cgroup), so put every task "
                    f"of an mm in one cgroup (usemem: threads=False with cgroups > 1)"
                )
        if ntasks and set(np.unique(self.task_memcg).tolist()) != set(range(self.nmemcg)):
            raise ValueError(f"{self._where('task_memcg')} must number the cgroups 0, 1, ... without gaps, got {_span(self.task_memcg)}")
        if self.task_cpu.min() < -1:
            raise ValueError(f"{self._where('task_cpu')} must be -1 (unbound) or a CPU number >= 0, got {_span(self.task_cpu)}")
        f = self.fill
        if f.shape != (3,) or not np.all(np.isfinite(f)) or np.any(f < 0) or abs(math.fsum(f.tolist()) - 1.0) > 1e-9:
            raise ValueError(
                f"{self._where('fill')} must be 3 fractions >= 0 (sequence, zero, same) summing to 1 "
                f"within 1e-9, got {f.tolist()}"
            )
        return ntasks, nmm

    def _check_columns(self):
        ev = self.events
        kind = ev[:, EV_KIND]
        known = np.isin(kind, np.fromiter(KIND_NAMES, dtype=np.int64))
        if not known.all():
            r = int(np.flatnonzero(~known)[0])
            raise ValueError(
                f"{self._where('events')}: row {r} has unknown kind {int(kind[r])}; "
                f"kinds are {', '.join(f'{v}={k}' for k, v in KIND_NAMES.items())}"
            )
        for k, used in _USED.items():
            rows = ev[kind == k]
            if not rows.size:
                continue
            for col, u in zip((EV_A, EV_B, EV_C, EV_D), used):
                if not u and np.any(rows[:, col] != 0):
                    r = self._row_of(k, rows[:, col] != 0)
                    raise ValueError(f"{self._where('events')}: row {r} ({KIND_NAMES[k]}) has a non-zero column {'abcd'[col - 2]}; it must be 0")
        ranged = np.isin(kind, (K_MMAP, K_TOUCH, K_TOUCH_RANDOM, K_UNMAP))
        a, b = ev[:, EV_A], ev[:, EV_B]
        bad = ranged & ((a < 0) | (b < 1) | (a >= MAX_VPN) | (b > MAX_VPN - a))
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{self._where('events')}: row {r} ({_kind_name(kind[r])}) has range start {int(a[r])}, "
                f"length {int(b[r])}; ranges need start >= 0, length >= 1 and end <= 2**45"
            )
        touch = np.isin(kind, (K_TOUCH, K_TOUCH_RANDOM))
        bad = touch & ((ev[:, EV_C] & ~np.int64(F_WRITE)) != 0)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{self._where('events')}: row {r} has flags {int(ev[r, EV_C])}; the only flag is F_WRITE = {F_WRITE}")
        bad = (kind == K_TOUCH_RANDOM) & (ev[:, EV_D] < 1)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{self._where('events')}: row {r} (TOUCH_RANDOM) has count {int(ev[r, EV_D])}; it must be >= 1")
        bad = (kind == K_PHASE) & ((a < 0) | (a >= len(self.phases)))
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{self._where('events')}: row {r} (PHASE) names phase {int(a[r])}, but phases has "
                f"{len(self.phases)} entries {self.phases}"
            )

    def _row_of(self, k, mask_within_kind):
        rows = np.flatnonzero(self.events[:, EV_KIND] == k)
        return int(rows[np.flatnonzero(mask_within_kind)[0]])

    def _check_exit(self, ntasks):
        kind = self.events[:, EV_KIND]
        last = self.task_start[1:] - 1
        not_exit = kind[last] != K_EXIT
        if not_exit.any():
            t = int(np.flatnonzero(not_exit)[0])
            raise ValueError(
                f"{self._where('events')}: task {t} does not end with EXIT "
                f"(its last row {int(last[t])} is {_kind_name(kind[last[t]])})"
            )
        n_exit = int(np.count_nonzero(kind == K_EXIT))
        if n_exit != ntasks:
            r = int(np.flatnonzero(kind == K_EXIT)[0])
            raise ValueError(
                f"{self._where('events')}: {n_exit} EXIT rows for {ntasks} tasks; EXIT must be the "
                f"last event of its task only (first EXIT at row {r}, task {int(self.events[r, EV_TASK])})"
            )

    def _check_barriers(self):
        ev = self.events
        rows = np.flatnonzero(ev[:, EV_KIND] == K_BARRIER)
        if not rows.size:
            return
        tasks = ev[rows, EV_TASK]
        # rank of each barrier within its task (rows are grouped by task)
        first = np.searchsorted(tasks, tasks, side="left")
        rank = np.arange(rows.size) - first
        bad = ev[rows, EV_A] != rank
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{self._where('events')}: row {int(rows[i])} is task {int(tasks[i])}'s barrier number "
                f"{int(rank[i])} but has id {int(ev[rows[i], EV_A])}; every task must reach barriers "
                f"0, 1, 2, ... in the same order"
            )

    def _check_vmas(self, nmm):
        ev = self.events
        kind = ev[:, EV_KIND]
        row_mm = self.task_mm[ev[:, EV_TASK]]
        maps = np.flatnonzero(kind == K_MMAP)
        ends = np.zeros(nmm, dtype=np.int64)
        np.maximum.at(ends, row_mm[maps], ev[maps, EV_A] + ev[maps, EV_B])
        if not np.array_equal(ends, self.mm_pages):
            m = int(np.flatnonzero(ends != self.mm_pages)[0])
            raise ValueError(
                f"{self._where('mm_pages')}: mm {m} has {int(self.mm_pages[m])} pages but its VMAs end at "
                f"vpn {int(ends[m])}; mm_pages must be the highest MMAP end of each mm"
            )
        if math.fsum(self.mm_pages.tolist()) + nmm >= 2.0**62:
            raise ValueError(f"{self._where('mm_pages')} sum to more than 2**62 pages")
        # global page key: mm m's vpn v is base[m] + v, so one sorted array covers all mms
        base = np.zeros(nmm, dtype=np.int64)
        np.cumsum(self.mm_pages[:-1] + 1, out=base[1:])
        vstart = base[row_mm[maps]] + ev[maps, EV_A]
        order = np.argsort(vstart, kind="stable")
        maps, vstart = maps[order], vstart[order]
        vend = vstart + ev[maps, EV_B]
        overlap = vstart[1:] < vend[:-1]
        if overlap.any():
            i = int(np.flatnonzero(overlap)[0])
            r1, r2 = sorted((int(maps[i]), int(maps[i + 1])))
            raise ValueError(
                f"{self._where('events')}: MMAP rows {r1} and {r2} map overlapping ranges in mm "
                f"{int(row_mm[r1])}; give every mapping its own vpns"
            )
        acc = np.flatnonzero(np.isin(kind, (K_TOUCH, K_TOUCH_RANDOM, K_UNMAP)))
        if not acc.size:
            return
        qs = base[row_mm[acc]] + ev[acc, EV_A]
        qe = qs + ev[acc, EV_B]
        vi = np.searchsorted(vstart, qs, side="right") - 1
        within_mm = ev[acc, EV_A] + ev[acc, EV_B] <= self.mm_pages[row_mm[acc]]
        if vstart.size:
            inside = within_mm & (vi >= 0) & (qe <= vend[np.maximum(vi, 0)])
        else:
            inside = np.zeros(acc.size, dtype=bool)
        if not inside.all():
            r = int(acc[np.flatnonzero(~inside)[0]])
            raise ValueError(
                f"{self._where('events')}: row {r} ({_kind_name(kind[r])}, task {int(ev[r, EV_TASK])}) covers vpns "
                f"[{int(ev[r, EV_A])}, {int(ev[r, EV_A] + ev[r, EV_B])}) which are not inside one VMA "
                f"mapped in mm {int(row_mm[r])}"
            )
        vma_row = maps[vi]
        same = ev[vma_row, EV_TASK] == ev[acc, EV_TASK]
        early = same & (vma_row > acc)
        if early.any():
            i = int(np.flatnonzero(early)[0])
            raise ValueError(
                f"{self._where('events')}: row {int(acc[i])} ({_kind_name(kind[acc[i]])}) uses a VMA its task "
                f"maps only later, at row {int(vma_row[i])}"
            )
        # accesses after the same task unmapped (part of) the range: group by (task, VMA)
        is_unmap = kind[acc] == K_UNMAP
        if not is_unmap.any():
            return
        group = vi * np.int64(self.ntasks) + ev[acc, EV_TASK]
        # sweep the accesses of the groups that unmap, in row order, holding each group's
        # unmapped ranges sorted by start; they are disjoint (an unmap of a page already
        # unmapped fails here first), so only the last one starting before an access's
        # end can reach into it
        held = {}
        for i in np.flatnonzero(np.isin(group, group[is_unmap])).tolist():
            r = int(acc[i])
            a0 = int(ev[r, EV_A])
            a1 = a0 + int(ev[r, EV_B])
            starts, ends, urows = held.setdefault(int(group[i]), ([], [], []))
            j = bisect.bisect_left(starts, a1) - 1
            if j >= 0 and ends[j] > a0:
                u = min(urows[k] for k in range(j + 1) if a0 < ends[k])  # the first such unmap
                raise ValueError(
                    f"{self._where('events')}: row {r} ({_kind_name(kind[r])}, task {int(ev[r, EV_TASK])}) "
                    f"uses vpns [{a0}, {a1}) that the task unmapped at row {u}"
                )
            if is_unmap[i]:
                k = bisect.bisect_left(starts, a0)
                starts.insert(k, a0)
                ends.insert(k, a1)
                urows.insert(k, r)


def _span(a):
    return f"values from {int(a.min())} to {int(a.max())}" if a.size else "nothing"


def _first_row_off(tasks, task_start):
    diff = np.diff(task_start)
    if diff.size and diff.min() >= 0 and task_start[-1] == tasks.shape[0]:
        want = np.repeat(np.arange(diff.size, dtype=np.int64), diff)
        return int(np.flatnonzero(want != tasks)[0])
    d = np.flatnonzero(np.diff(tasks) < 0)
    return int(d[0] + 1) if d.size else 0


# --------------------------------------------------------------------------- constructor


def make_workload(name, params, phases, tasks, task_mm=None, task_cpu=None, fill="sequence", task_memcg=None) -> Workload:
    """Build and validate a Workload from per-task lists of event tuples.

    ``tasks[t]`` is a sequence of ``(kind, a, b, c, d)`` tuples (trailing zeros may be
    left out; a PHASE's ``a`` may be the phase's name).  ``task_mm`` defaults to one mm
    per task, ``task_cpu`` to -1 (unbound), ``task_memcg`` to every task in cgroup 0;
    ``fill`` is anything :func:`parse_fill` takes.
    ``mm_pages`` is computed from the MMAP rows."""
    phases = tuple(phases)
    try:
        ntasks = len(tasks)
    except TypeError:
        raise TypeError(f"tasks must be a list of per-task event lists, got {type(tasks).__name__}") from None
    if ntasks < 1:
        raise ValueError("tasks must hold at least one task's events")
    rows, counts = [], []
    for t, task in enumerate(tasks):
        counts.append(len(task))
        for j, tup in enumerate(task):
            tup = tuple(tup)
            if not 1 <= len(tup) <= 5:
                raise ValueError(f"tasks[{t}][{j}] must be (kind, a, b, c, d) with trailing zeros optional, got {tup!r}")
            tup = tup + (0,) * (5 - len(tup))
            if tup[0] == K_PHASE and isinstance(tup[1], str):
                if tup[1] not in phases:
                    raise ValueError(f"tasks[{t}][{j}] names phase {tup[1]!r}, not one of {phases}")
                tup = (K_PHASE, phases.index(tup[1])) + tup[2:]
            for v in tup:
                if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                    raise TypeError(f"tasks[{t}][{j}] must hold integers, got {tup!r}")
            rows.append((t,) + tuple(int(v) for v in tup))
    events = np.array(rows, dtype=np.int64).reshape(-1, 6)
    task_start = np.zeros(ntasks + 1, dtype=np.int64)
    np.cumsum(counts, out=task_start[1:])
    tm = np.arange(ntasks, dtype=np.int64) if task_mm is None else np.array(task_mm, dtype=np.int64)
    tc = np.full(ntasks, -1, dtype=np.int64) if task_cpu is None else np.array(task_cpu, dtype=np.int64)
    if tm.shape != (ntasks,):
        raise ValueError(f"task_mm must have one mm id per task ({ntasks}), got shape {tm.shape}")
    tg = None if task_memcg is None else np.array(task_memcg, dtype=np.int64)
    return build_workload(name, params, phases, events, task_start, tm, tc, parse_fill(fill), task_memcg=tg)


def build_workload(name, params, phases, events, task_start, task_mm, task_cpu, fill, *, task_memcg=None) -> Workload:
    """Wrap ready-made arrays into a validated Workload, computing ``mm_pages`` from the
    MMAP rows (the workload modules use this)."""
    nmm = int(task_mm.max()) + 1 if task_mm.size and task_mm.min() >= 0 else 0
    mm_pages = np.zeros(nmm, dtype=np.int64)
    ok = (
        events.ndim == 2
        and events.shape[1] == 6
        and events.shape[0] > 0
        and events[:, EV_TASK].min() >= 0
        and events[:, EV_TASK].max() < task_mm.size
    )
    if ok:
        maps = events[:, EV_KIND] == K_MMAP
        np.maximum.at(mm_pages, task_mm[events[maps, EV_TASK]], events[maps, EV_A] + events[maps, EV_B])
    return Workload(
        name=name,
        params=params,
        phases=tuple(phases),
        events=np.ascontiguousarray(events, dtype=np.int64),
        task_start=np.ascontiguousarray(task_start, dtype=np.int64),
        task_mm=np.ascontiguousarray(task_mm, dtype=np.int64),
        mm_pages=mm_pages,
        task_cpu=np.ascontiguousarray(task_cpu, dtype=np.int64),
        fill=np.ascontiguousarray(fill, dtype=np.float64),
        task_memcg=None if task_memcg is None else np.ascontiguousarray(task_memcg, dtype=np.int64),
    ).validate()


def with_swapoff(workload, phase) -> Workload:
    """``workload`` with a swapoff of the swap device at the start of ``phase`` (a
    phase name): the first task that enters the phase runs swapoff(8) before anything
    else it does there; the other tasks run on meanwhile.  The parameters gain
    ``swapoff=phase``.  After it, nothing can be swapped to the device: a design that
    needs a device slot for every swapped page (classic, swap_table) can no longer
    reclaim anonymous memory, a virtual design still can to zswap and the zero
    backend."""
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload (from usemem(), memhog(), ...), got {type(workload).__name__}")
    if not isinstance(phase, str) or phase not in workload.phases:
        raise ValueError(f"phase must name one of the workload's phases {list(workload.phases)}, got {phase!r}")
    if "swapoff" in workload.params:
        raise ValueError(
            f"workload already swaps off at phase {workload.params['swapoff']!r}; "
            f"the model has one swap device, which can be swapped off once"
        )
    ev = workload.events
    k = workload.phases.index(phase)
    rows = np.flatnonzero((ev[:, EV_KIND] == K_PHASE) & (ev[:, EV_A] == k))
    if rows.size == 0:
        raise ValueError(f"no task of the workload enters phase {phase!r}; choose a phase some task runs")
    r = int(rows[0])
    t = int(ev[r, EV_TASK])
    row = np.array([[t, K_SWAPOFF, 0, 0, 0, 0]], dtype=np.int64)
    events = np.concatenate([ev[: r + 1], row, ev[r + 1 :]])
    task_start = workload.task_start.copy()
    task_start[t + 1 :] += 1
    params = dict(workload.params, swapoff=phase)
    return build_workload(
        workload.name, params, workload.phases, events, task_start, workload.task_mm, workload.task_cpu, workload.fill,
        task_memcg=workload.task_memcg,
    )


# --------------------------------------------------------------------------- argument checks


def check_int(value, name: str, lo: int, hi: int, hint: str = "") -> int:
    """``value`` as an int in ``[lo, hi]``; TypeError/ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, got {type(value).__name__} {value!r}{hint}")
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {v}{hint}")
    return v


def check_flag(value, name: str) -> bool:
    """``value`` as a bool (True/False or a NumPy bool); TypeError naming ``name`` otherwise."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def check_pages(value, name: str) -> tuple:
    """``(bytes, pages)`` of a size argument: at least one byte, rounded up to 4 KiB pages."""
    nbytes = parse_size(value, name)
    if nbytes < 1:
        raise ValueError(f"{name}={value!r} is empty; give a positive size like '1G' or '512M'")
    pages = -(-nbytes // PAGE_SIZE)
    if pages > MAX_VPN:
        raise ValueError(f"{name}={value!r} is above 128 PiB, the largest address space the model has")
    return nbytes, pages


def fill_param(fill):
    """The JSON form of a ``fill`` argument, for ``Workload.params``."""
    if isinstance(fill, str):
        return fill
    if isinstance(fill, Mapping):
        return {str(k): float(v) for k, v in fill.items()}
    return [float(v) for v in np.asarray(fill, dtype=np.float64).ravel()]
