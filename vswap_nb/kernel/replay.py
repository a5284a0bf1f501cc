"""A workload's event stream replayed on real anonymous memory.

One helper process per address space (mm) of the workload, in the memory cgroup of the
mm's tasks, one thread per task of it (usemem ``-t``'s threads share an mm), each
running its task's events in compiled code: ``touch.c``, built with the machine's C
compiler on first use and kept in the cache directory
(``~/.cache/vswap_nb/touch-<hash>``).  Python only starts the helpers, releases barriers
and collects phase times; it never runs per page.

Why a C helper and not a Numba kernel in a Python worker: a forked or freshly started
Python process carries tens of MB of interpreter, NumPy and Numba pages, and every page
it touches after joining the workload's cgroup (refcount updates copy-on-write pages
after a fork, the allocator's arenas) would be charged to that cgroup and compete with
the workload for its limit.  The helper's own memory is its program (the task's event
rows), a bitmap of one bit per page (which pages were written, so a read can check
them) and its thread stacks; it allocates and touches all of them *before* it writes
its pid to the cgroup's ``cgroup.procs``, and cgroups do not move charges with a task
(v1's ``move_charge_at_immigrate`` is left at 0), so the cgroup is charged with the
workload's pages and the page tables that map them, and nothing else.

Content follows the fill class of each page (the hash in
:mod:`vswap_nb.workloads.events`, bit for bit): sequence pages hold word ``i = vpn *
512 + i`` (usemem's ``vp[i] = i``), zero pages zeros, same-filled pages 0xff.  Every
read checks the whole page against what was last written there (zero if never), so a
page the kernel lost shows up as a content error.  A TOUCH_RANDOM access writes or
reads a whole page, as the model's access does (usemem ``-R`` writes single words at
random; per page it is the same fault).

Timing: each task reports, on CLOCK_MONOTONIC and its thread's CPU clock, when it
enters each phase, arrives at a barrier and exits; a phase ends when the task enters the
next one or exits (so the free phase is the munmap plus the exit, as usemem's "free
latency" is the munmap).  The kernel's own tasks run as they do in reality: unlike the
model (which runs each phase to its end before the next starts), a task goes on to its
next phase as soon as it gets there, unless a barrier (usemem -y/-x/-W) holds it.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import selectors
import struct
import subprocess
import tempfile
import time

import numpy as np

from ..core.jit import cache_root
from ..core.events import EV_B, EV_D, EV_KIND, K_TOUCH, K_TOUCH_RANDOM
from .host import state_dir
from .machine import KernelError

__all__ = ["build_helper", "run_workload"]

MAGIC = 0x31424E5041575356  # "VSWAPNB1"
VERSION = 1
SOURCE = pathlib.Path(__file__).with_name("touch.c")


def build_helper(cc: str) -> pathlib.Path:
    """The compiled helper (built once per source and compiler, then reused)."""
    src = SOURCE.read_bytes()
    ver = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    key = hashlib.sha1(src + "".join(ver).encode()).hexdigest()[:12]
    d = cache_root() / f"touch-{key}"
    exe = d / "vswap-nb-touch"
    if exe.exists():
        return exe
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".build-{os.getpid()}"
    r = subprocess.run(
        [cc, "-O2", "-pthread", "-o", str(tmp), str(SOURCE)], capture_output=True, text=True
    )
    if r.returncode != 0:
        raise KernelError(f"building the page-touching helper with {cc} failed:\n{r.stderr}")
    os.replace(tmp, exe)  # atomic: a concurrent build just replaces it with the same program
    return exe


def _program(workload, mm: int, seed: int, ncpu: int) -> bytes:
    """The helper's program for address space ``mm`` (see touch.c for the layout)."""
    f = workload.fill
    f0 = struct.unpack("<q", struct.pack("<d", float(f[0])))[0]
    f01 = struct.unpack("<q", struct.pack("<d", float(f[0] + f[1])))[0]
    tasks = np.flatnonzero(workload.task_mm == mm)
    head = [MAGIC, VERSION, seed, mm, int(workload.mm_pages[mm]), f0, f01, ncpu, len(tasks)]
    parts = [np.array(head, dtype=np.int64)]
    ev = workload.events
    for t in tasks.tolist():
        s, e = int(workload.task_start[t]), int(workload.task_start[t + 1])
        c = int(workload.task_cpu[t])
        parts.append(np.array([t, c % ncpu if c >= 0 else -1, e - s], dtype=np.int64))
        rows = np.empty((e - s, 6), dtype=np.int64)
        rows[:, 0] = np.arange(s, e)
        rows[:, 1:] = ev[s:e, 1:]
        parts.append(rows.ravel())
    return np.concatenate(parts).astype("<i8").tobytes()


class _Task:
    __slots__ = ("phase", "t_start", "cpu_start", "done", "exit")

    def __init__(self):
        self.phase = -1
        self.t_start = 0
        self.cpu_start = 0
        self.done = False
        self.exit = None


def run_workload(
    workload, seed: int, nr_cpus: int, exe, cgroup_procs, swap_dev: str, on_start=None, progress=None, thp=False
):
    """Run ``workload`` on this machine: one helper process per mm, joined to the cgroup
    whose ``cgroup.procs`` is given (one path for every mm, or a sequence of them
    indexed by mm: each helper joins the cgroup of its tasks).  With ``thp`` False the
    helpers run with PR_SET_THP_DISABLE (order-0 folios only); True leaves large folios to the machine's
    THP settings (and starts each address space on a 2 MiB boundary).  ``on_start()``
    is called once every helper is in the cgroup and waiting, just before they are
    released (to snapshot counters).
    Returns a dict of per-task phase times and checks; raises KernelError when a helper
    fails or dies."""
    nt = workload.ntasks
    nph = max(len(workload.phases), 1)
    phase_t = np.full((nt, nph, 2), -1.0)
    phase_cpu = np.zeros((nt, nph))
    tasks = [_Task() for _ in range(nt)]
    ev = workload.events
    kind = ev[:, EV_KIND]
    total = int(ev[kind == K_TOUCH, EV_B].sum() + ev[kind == K_TOUCH_RANDOM, EV_D].sum())
    if isinstance(cgroup_procs, (str, os.PathLike)):
        cgroup_procs = [cgroup_procs] * workload.nmm
    if len(cgroup_procs) != workload.nmm:
        raise ValueError(f"cgroup_procs names {len(cgroup_procs)} cgroups for the workload's {workload.nmm} mms")
    procs = []
    swapoff = []
    with tempfile.TemporaryDirectory(prefix="prog-", dir=state_dir()) as tmp:
        try:
            for mm in range(workload.nmm):
                path = os.path.join(tmp, f"mm{mm}")
                with open(path, "wb") as f:
                    f.write(_program(workload, mm, seed, nr_cpus))
                p = subprocess.Popen(
                    [str(exe), path, os.fspath(cgroup_procs[mm]), swap_dev, "1" if thp else "0"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True, bufsize=1,
                )
                procs.append(p)
            for p in procs:
                line = _read_line(p.stdout.fileno())
                if line != "R":
                    raise KernelError(f"the helper did not start: {line or p.stderr.read().strip()}")
            if on_start is not None:
                on_start()
            t0 = time.monotonic_ns()
            _send(procs, -1)
            sel = selectors.DefaultSelector()
            for p in procs:
                sel.register(p.stdout.fileno(), selectors.EVENT_READ, bytearray())
            arrived: dict = {}
            released = -1
            touched = {}
            last_progress = 0.0
            open_ = len(procs)
            while open_:
                for key, _ in sel.select(timeout=0.5):
                    # read what the pipe holds (not readline on a buffered file: lines
                    # left in its buffer would never wake the selector again)
                    chunk = os.read(key.fd, 65536)
                    buf = key.data
                    if not chunk:
                        sel.unregister(key.fd)
                        open_ -= 1
                        continue
                    buf += chunk
                    *lines, rest = buf.split(b"\n")
                    buf[:] = rest
                    for line in lines:
                        released = _handle(
                            line.decode(), tasks, t0, phase_t, phase_cpu, arrived, swapoff, touched, released, procs
                        )
                if progress is not None and time.monotonic() - last_progress > 0.5:
                    last_progress = time.monotonic()
                    progress(min(sum(touched.values()), total), total)
            for p in procs:
                p.wait()
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                for s in (p.stdin, p.stdout, p.stderr):
                    if s is not None and not s.closed:
                        try:
                            s.close()
                        except OSError:
                            pass
    dead = [t for t in range(nt) if not tasks[t].done]
    if dead:
        codes = sorted({p.returncode for p in procs})
        raise KernelError(
            f"tasks {dead} of the workload died before they exited (helper exit status {codes}; "
            f"-9 is SIGKILL, which a memory cgroup's OOM killer sends)"
        )
    ex = np.array([tasks[t].exit for t in range(nt)], dtype=np.int64).reshape(nt, 4)
    return {
        "phase_t": phase_t,
        "phase_cpu": phase_cpu,
        "content_checks": int(ex[:, 0].sum()),
        "content_errors": int(ex[:, 1].sum()),
        "first_bad_vpn": [(t, int(ex[t, 2])) for t in range(nt) if ex[t, 1]],
        "pages_touched": int(ex[:, 3].sum()),
        "swapoff": swapoff,
    }


def _handle(line, tasks, t0, phase_t, phase_cpu, arrived, swapoff, touched, released, procs) -> int:
    """One message of a helper (see touch.c); returns the highest barrier released."""
    w = line.split()
    if not w:
        return released
    tag = w[0]
    if tag == "E":
        raise KernelError(f"the workload's task {w[1]} failed: {' '.join(w[2:])}")
    t = int(w[1])
    task = tasks[t]
    if tag == "P":
        now, cpu = int(w[3]) - t0, int(w[4])
        _close_phase(task, t, now, cpu, phase_t, phase_cpu)
        task.phase = int(w[2])
        task.t_start, task.cpu_start = now, cpu
        phase_t[t, task.phase, 0] = now
    elif tag == "B":
        arrived.setdefault(int(w[2]), set()).add(t)
    elif tag == "S":
        swapoff.append((int(w[2]), int(w[4]) - int(w[3])))
    elif tag == "T":
        touched[t] = int(w[2])
    elif tag == "X":
        now, cpu = int(w[2]) - t0, int(w[3])
        _close_phase(task, t, now, cpu, phase_t, phase_cpu)
        task.done = True
        task.exit = (int(w[4]), int(w[5]), int(w[6]), int(w[7]))
        touched[t] = int(w[7])
    # release every barrier all live tasks have reached, in order
    live = {i for i in range(len(tasks)) if not tasks[i].done}
    while released + 1 in arrived and live <= arrived[released + 1]:
        released += 1
        _send(procs, released)
    return released


def _close_phase(task, t, now, cpu, phase_t, phase_cpu):
    if task.phase >= 0 and phase_t[t, task.phase, 1] < 0:
        phase_t[t, task.phase, 1] = now
        phase_cpu[t, task.phase] += cpu - task.cpu_start


def _read_line(fd) -> str:
    """One line from a pipe, a byte at a time (only the ready line "R" is read so, before
    the selector loop reads in bulk)."""
    out = bytearray()
    while True:
        b = os.read(fd, 1)
        if not b or b == b"\n":
            return out.decode().strip()
        out += b


def _send(procs, barrier: int) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                p.stdin.write(f"G {barrier}\n")
                p.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
