"""vm-scalability's usemem as a page-event stream.

usemem (vm-scalability, ``usemem.c``) maps ``size`` bytes per task and writes the word
index into every 8-byte word (``vp[i] = i``), so its pages are never zero and never
same-filled: content class ``CONTENT_SEQUENCE``.  Swap developers run it in a memcg or
under global pressure so the write pass swaps out, and time the munmap at the end (the
"free latency").  Every task here does, in order::

    MMAP(0, pages)
    [BARRIER]                         -y/--sync-rw: rendezvous after mmap, before the writes
    PHASE(write)
    repeat x TOUCH(0, pages, F_WRITE)  (or TOUCH_RANDOM(0, pages, F_WRITE, count=pages) with -R)
    [BARRIER, PHASE(read), TOUCH(0, pages, read)]   -W: wait, then read everything back
    [BARRIER]                         -x/--sync-free: rendezvous before the free
    PHASE(free)
    UNMAP(0, pages)
    EXIT

Readings of usemem.c that the events rest on:

* ``-r N`` (``repeat``): ``do_unit`` calls ``do_rw_once`` N times with the same access
  mode.  Later passes first compare each word with its index ("verify last write") and
  then store it again, so at page level every pass is a write pass: N TOUCH writes.
  With ``-R`` the verification is skipped and the pass is N random writes.
* ``-R`` (``random``): each of the ``size/8`` word accesses picks a random word.  Page by
  page that is ~512 accesses per page, most of them to a page just faulted in; the model
  makes ``pages`` accesses to whole pages at random (one per page on average), so about
  63% of the pages are written at least once and the rest stay unfaulted.  The accesses
  are drawn by the engine with :func:`~vswap_nb.workloads.events.random_vpn`.
* ``-W`` (``read_back``, the ``case-swapin`` pattern): usemem writes, waits for SIGUSR1
  (sent once other usemems have pushed its pages to swap), then reads the whole area once
  (randomly with ``-R``), whatever ``-r`` says.  The signal becomes a barrier of all
  tasks; the read has a phase of its own.
* ``-y``: usemem always rendezvouses its tasks once; without ``-y`` that happens before
  the mmap, which in the engine (all tasks start at time 0) is the start itself, so only
  ``-y`` adds a BARRIER, after the MMAP.  ``-x`` adds one before the free.
* ``-t M`` (``threads=True``): M threads of one process, all in mm 0; each thread maps its
  own area (``do_units`` runs per thread), thread ``i`` at vpns ``[i*pages, (i+1)*pages)``.
* ``-b N`` (``bind``): task ``i`` is pinned to CPU ``i*N % nr_cpu``; ``task_cpu`` stores
  ``i*N`` and the engine takes it modulo its CPU count.  ``-b 0`` (or ``bind=None``)
  binds nothing, as in usemem.
* ``-O`` (anonymous memory) is what the model always does; ``--init-time`` only changes
  which clock usemem prints, so both are accepted and change nothing.
* Time before the first PHASE (the mmap and the ``-y`` wait) is setup, outside every
  phase.
"""
from __future__ import annotations

import getopt
import os
import shlex

import numpy as np

from .events import (
    F_WRITE,
    K_BARRIER,
    K_EXIT,
    K_MMAP,
    K_PHASE,
    K_TOUCH,
    K_TOUCH_RANDOM,
    K_UNMAP,
    MAX_VPN,
    Workload,
    build_workload,
    check_flag,
    check_int,
    check_pages,
    fill_param,
    parse_fill,
)

__all__ = ["parse_usemem_args", "usemem", "usemem_from_args"]

MAX_TASKS = 1 << 20
MAX_REPEAT = 1 << 20


def usemem(
    size,
    nr_tasks=1,
    threads=False,
    random=False,
    read_back=False,
    repeat=1,
    sync_rw=False,
    sync_free=False,
    fill="sequence",
    bind=None,
    cgroups=1,
) -> Workload:
    """usemem: ``nr_tasks`` tasks each write ``size`` bytes of fresh anonymous memory,
    then free it (see the module docstring for the exact events).

    size        bytes per task ("1536M", "56G" or an int), rounded up to 4 KiB pages
    nr_tasks    processes (``-n``), or threads of one process when ``threads`` (``-t``)
    random      ``-R``: random page order (``pages`` random writes per pass)
    read_back   ``-W``: after writing, wait for all tasks, then read every page back
    repeat      ``-r N``: write passes (later ones verify and rewrite)
    sync_rw     ``-y``: all tasks wait for each other after mmap, before writing
    sync_free   ``-x``: all tasks wait for each other before the free
    fill        content of the pages: "sequence" (usemem's data), "zero", "same", or
                fractions like ``{"sequence": 0.5, "zero": 0.5}``
    bind        ``-b N``: task i runs on CPU ``i*N % nr_cpus``; None or 0 leaves it to
                the engine
    cgroups     memory cgroups the tasks run in, task i in cgroup ``i % cgroups``
                (usemem instances started in different cgroups), each with the
                System's ``memory_max`` and ``swap_max``; at most ``nr_tasks``, and 1
                with ``threads`` (a process is in one cgroup)

    Phases: ("write", "free"), or ("write", "read", "free") with ``read_back``.
    """
    nbytes, pages = check_pages(size, "size")
    nr_tasks = check_int(nr_tasks, "nr_tasks", 1, MAX_TASKS, "; usemem -n N runs N tasks, e.g. nr_tasks=32")
    threads = check_flag(threads, "threads")
    random = check_flag(random, "random")
    read_back = check_flag(read_back, "read_back")
    repeat = check_int(repeat, "repeat", 1, MAX_REPEAT, "; usemem -r N makes N write passes, 1 by default")
    sync_rw = check_flag(sync_rw, "sync_rw")
    sync_free = check_flag(sync_free, "sync_free")
    fractions = parse_fill(fill)
    if bind is not None:
        bind = check_int(bind, "bind", 0, 1 << 20, "; usemem -b N pins task i to CPU i*N, or use bind=None")
    cgroups = check_int(cgroups, "cgroups", 1, nr_tasks,
                        f"; the {nr_tasks} task(s) can fill at most {nr_tasks} cgroups (cgroups <= nr_tasks)")
    if threads and cgroups > 1:
        raise ValueError(
            f"cgroups={cgroups} with threads=True: the threads share one process, which is in one cgroup; "
            f"use processes (threads=False) or cgroups=1"
        )
    if threads and nr_tasks * pages > MAX_VPN:
        raise ValueError(
            f"nr_tasks * size = {nr_tasks} x {nbytes} bytes does not fit one address space of "
            f"128 PiB; use fewer threads or a smaller size"
        )

    phases = ("write", "read", "free") if read_back else ("write", "free")
    barrier = iter(range(3))
    access = (K_TOUCH_RANDOM, 0, pages, F_WRITE, pages) if random else (K_TOUCH, 0, pages, F_WRITE, 0)
    rows = [(K_MMAP, 0, pages, 0, 0)]
    if sync_rw:
        rows.append((K_BARRIER, next(barrier), 0, 0, 0))
    rows.append((K_PHASE, phases.index("write"), 0, 0, 0))
    rows += [access] * repeat
    if read_back:
        rows.append((K_BARRIER, next(barrier), 0, 0, 0))
        rows.append((K_PHASE, phases.index("read"), 0, 0, 0))
        rows.append(access[:3] + (0,) + access[4:])
    if sync_free:
        rows.append((K_BARRIER, next(barrier), 0, 0, 0))
    rows.append((K_PHASE, phases.index("free"), 0, 0, 0))
    rows.append((K_UNMAP, 0, pages, 0, 0))
    rows.append((K_EXIT, 0, 0, 0, 0))

    template = np.array(rows, dtype=np.int64)
    k = template.shape[0]
    task = np.arange(nr_tasks, dtype=np.int64)
    events = np.empty((nr_tasks * k, 6), dtype=np.int64)
    events[:, 0] = np.repeat(task, k)
    events[:, 1:] = np.tile(template, (nr_tasks, 1))
    if threads:
        ranged = np.isin(template[:, 0], (K_MMAP, K_TOUCH, K_TOUCH_RANDOM, K_UNMAP))
        events[:, 2] += np.outer(task * pages, ranged).ravel()
    task_start = np.arange(nr_tasks + 1, dtype=np.int64) * k
    task_mm = np.zeros(nr_tasks, dtype=np.int64) if threads else task.copy()
    task_cpu = task * bind if bind else np.full(nr_tasks, -1, dtype=np.int64)
    params = {
        "size": nbytes,
        "nr_tasks": nr_tasks,
        "threads": threads,
        "random": random,
        "read_back": read_back,
        "repeat": repeat,
        "sync_rw": sync_rw,
        "sync_free": sync_free,
        "fill": fill_param(fill),
        "bind": bind,
    }
    if cgroups != 1:
        params["cgroups"] = cgroups
    return build_workload("usemem", params, phases, events, task_start, task_mm, task_cpu, fractions,
                          task_memcg=task % cgroups)


# --------------------------------------------------------------------------- usemem's own flags

_SHORT = "n:t:RWr:yxOb:"
_LONG = ["random", "sync-rw", "sync-free", "init-time", "bind=", "write-signal-read"]
_SUPPORTED = (
    "-n N, -t N, -R/--random, -W/--write-signal-read, -r N, -y/--sync-rw, "
    "-x/--sync-free, -O, --init-time, -b N/--bind N, and the size"
)


def _int_arg(flag, value):
    try:
        return int(value, 10)
    except ValueError:
        raise ValueError(f"usemem {flag} needs a whole number, got {value!r}") from None


def parse_usemem_args(args) -> dict:
    """usemem's command line (a string, or a list of arguments) as keyword arguments
    of :func:`usemem` (every one but ``fill``, which usemem cannot set).

    Accepts the flags the linux-mm swap threads use: ``-n N``, ``-t N``, ``-R``/``--random``,
    ``-W``/``--write-signal-read``, ``-r N``, ``-y``/``--sync-rw``, ``-x``/``--sync-free``,
    ``-b N``/``--bind N``, and ``-O`` and ``--init-time``, which change nothing in the
    model (anonymous memory is all it models; the init time is only a printed clock).
    A leading program name (``usemem``, ``./usemem``) is skipped.  Short flags combine
    as with getopt (``-Oyx``, ``-n32``)::

        >>> parse_usemem_args("--init-time -O -R -n 32 622M")["random"]
        True
    """
    if isinstance(args, str):
        try:
            argv = shlex.split(args)
        except ValueError as exc:
            raise ValueError(f"cannot split usemem arguments {args!r}: {exc}") from None
    else:
        argv = list(args)
        if not all(isinstance(a, str) for a in argv):
            raise TypeError(f"usemem arguments must be a string or a list of strings, got {args!r}")
    if argv and os.path.basename(argv[0]) == "usemem":
        argv = argv[1:]
    try:
        opts, positional = getopt.gnu_getopt(argv, _SHORT, _LONG)
    except getopt.GetoptError as exc:
        flag = ("--" if len(exc.opt) > 1 else "-") + exc.opt if exc.opt else "?"
        problem = "needs a value" if "requires argument" in exc.msg else "is not supported by the model"
        raise ValueError(f"usemem flag {flag} {problem} ({exc.msg}); supported flags: {_SUPPORTED}") from None
    out = {
        "size": None,
        "nr_tasks": 1,
        "threads": False,
        "random": False,
        "read_back": False,
        "repeat": 1,
        "sync_rw": False,
        "sync_free": False,
        "bind": None,
    }
    nr_task = nr_thread = None
    for flag, value in opts:
        if flag == "-n":
            nr_task = _int_arg(flag, value)
        elif flag == "-t":
            nr_thread = _int_arg(flag, value)
        elif flag in ("-R", "--random"):
            out["random"] = True
        elif flag in ("-W", "--write-signal-read"):
            out["read_back"] = True
        elif flag == "-r":
            out["repeat"] = _int_arg(flag, value)
        elif flag in ("-y", "--sync-rw"):
            out["sync_rw"] = True
        elif flag in ("-x", "--sync-free"):
            out["sync_free"] = True
        elif flag in ("-b", "--bind"):
            out["bind"] = _int_arg(flag, value)
        # -O and --init-time: accepted, nothing to model
    if nr_thread:  # usemem: -t 0 means no threads
        if nr_task not in (None, 1):
            raise ValueError(
                f"usemem -n {nr_task} -t {nr_thread} ({nr_task} processes of {nr_thread} threads each) "
                f"is not supported; use -n N for processes or -t N for threads of one process"
            )
        out["nr_tasks"], out["threads"] = nr_thread, True
    elif nr_task is not None:
        out["nr_tasks"] = nr_task
    if len(positional) != 1:
        what = "no size" if not positional else f"{len(positional)} positional arguments {positional}"
        raise ValueError(f"usemem needs exactly one size (bytes per task, like 1536M) and got {what}")
    out["size"] = positional[0]
    return out


def usemem_from_args(args, **overrides) -> Workload:
    """:func:`usemem` from its command line, e.g. ``usemem_from_args("-n 32 -R 1536M")``;
    keyword ``overrides`` (such as ``fill="zero"``) replace what the flags say."""
    kwargs = parse_usemem_args(args)
    kwargs.update(overrides)
    return usemem(**kwargs)
