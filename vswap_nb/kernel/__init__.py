"""The running kernel as one more design: ``kernel``.

``vswap_nb.compare(["kernel", "classic", "vswap_v6"], workload, system)`` runs the
workload for real on this machine's kernel, next to the model's designs, and puts the
kernel's counters in the same Dataset.  What it does:

1. **Checks** (:mod:`.machine`), before anything changes: root, a memory cgroup
   controller (v1 or v2), the swap device's pieces (zram's ``hot_add``, loop devices
   and ``losetup``, or a loadable brd), a C compiler for the helper, no swap already
   active, and a System a real kernel can honour (no injected faults, kswapd on, no
   ``min_free_kbytes`` of its own, no more CPUs or RAM than the machine, the machine's
   cgroup version, a ``memory_max`` unless ``allow_global_pressure``, every address
   space's tasks in one cgroup of the workload's).
2. **The system, set up** (:mod:`.host`, which journals every change and undoes it on
   every exit path, SIGTERM included, and after a SIGKILL on the next run): a fresh
   memory cgroup per cgroup of the workload (``Workload.task_memcg``; one unless e.g.
   ``usemem(..., cgroups=N)``) and repetition, each with ``memory_max`` as its limit
   (``memory.max`` on v2, and ``memory.swap.max`` with ``swap_max``;
   ``memory.limit_in_bytes`` on v1, plus v1's per-cgroup ``memory.swappiness``);
   the swap device (``zram:SIZE``: a new zram device by ``hot_add``, ``disksize``,
   ``mkswap``, ``swapon``; ``ssd``/``hdd``: a loop device with direct I/O over a
   sparse file in ``swap_dir``, its ``queue/rotational`` set to 0 or 1 before swapon;
   ``pmem``/``brd``: a brd ramdisk, where the kernel has the module); zswap's
   ``enabled`` and ``max_pool_percent``, ``shrinker_enabled`` off (the proactive memcg
   shrinker, which the model does not have; the pool-full shrink worker always runs)
   (and v2's
   ``memory.zswap.writeback``); ``vm.page-cluster``, ``vma_ra_enabled``, and on v2
   ``vm.swappiness``.  Large folios: with ``System(thp=None)`` transparent huge pages
   are turned off for the workload's processes only (``PR_SET_THP_DISABLE``; order-0
   folios, as the model) and no THP setting is touched; with ``thp=Thp(...)`` the
   workload may fault large folios, and the run sets THP's ``enabled``, ``defrag``
   (``madvise``, what the model assumes) and each ``hugepages-<size>kB/enabled`` to
   the System's values (journalled like every other value).  The check refuses a size
   the machine lacks, and a Thp that says zswap was never enabled on a machine where it
   was this boot (the kernel then swaps large folios in as order-0 pages until reboot).
3. **The workload** (:mod:`.replay`): one helper process per address space, in the
   cgroup of its tasks, one thread per task, each replaying its events in compiled C,
   checking every page it reads.
4. **The counters** (:mod:`.stats`): /proc/vmstat deltas (with the per-size mTHP
   counters, ``hugepages-<size>kB.<stat>``), each cgroup's own counts (and their sum
   over the workload's cgroups), kswapd's CPU time, the swap entries still in use at
   the end.  With ``repeat=N`` the workload runs N times (fresh cgroups each, the same
   device); the Dataset's figures are the lower median of the N runs (an observed
   value), and every run's raw counts are kept (``kernel_vmstat``, ``kernel_memcg``).

Options of the ``kernel`` design (``--option kernel:NAME=VALUE``):

``repeat``                 runs of the workload (1..100, default 1)
``allow_global_pressure``  run without ``memory_max`` (default False: refused)
``swap_dir``               directory of the loop device's sparse file (ssd/hdd;
                           default ``/var/tmp``)
"""
from __future__ import annotations

import contextlib
import numbers
import os
import signal
import sys
import threading
import time

from .host import Host, KernelCleanupWarning, KernelInterrupted, active_swaps, swap_used_pages, state_dir
from .machine import (
    DEFAULT_SWAP_DIR,
    KernelError,
    KernelUnavailable,
    Machine,
    _read,
    _selected,
    check_request,
    describe,
    mm_cgroups,
    probe,
    thp_settings,
)
from .replay import build_helper, run_workload
from .stats import (
    kswapd_cpu_ns,
    memcg_counters,
    memcg_extra,
    memcg_total,
    model_vmstat,
    read_mthp_stats,
    read_vmstat,
    zswap_debug,
)

__all__ = [
    "KERNEL",
    "KernelCleanupWarning",
    "KernelError",
    "KernelInterrupted",
    "KernelUnavailable",
    "Machine",
    "check",
    "describe",
    "kernel_info",
    "run",
]

MAX_REPEAT = 100


class _KernelDesign:
    """The ``kernel`` design as the rest of the package sees a design: a name, a summary
    and options (it has no state and no verbs: it runs on the machine)."""

    NAME = "kernel"
    SUMMARY = (
        "the running kernel (ground truth): the workload replayed on real memory in a memory "
        "cgroup with a swap device of its own; vmstat and cgroup counters, measured phase times"
    )
    OPTIONS = {"repeat": 1, "allow_global_pressure": False, "swap_dir": None}

    @staticmethod
    def check_option(name, value):
        if name == "repeat":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"repeat must be a whole number of runs in [1, {MAX_REPEAT}], got {value!r}")
            if not 1 <= int(value) <= MAX_REPEAT:
                raise ValueError(f"repeat must be in [1, {MAX_REPEAT}] runs, got {value}")
            return int(value)
        if name == "allow_global_pressure":
            if not isinstance(value, bool):
                raise TypeError(f"allow_global_pressure must be True or False, got {value!r}")
            return value
        if name == "swap_dir":
            if value is None:
                return None
            if not isinstance(value, (str, os.PathLike)):
                raise TypeError(f"swap_dir must be a directory path or None, got {value!r}")
            return os.fspath(value)
        raise ValueError(f"unknown kernel option {name!r}")


KERNEL = _KernelDesign()


def kernel_info() -> Machine:
    """What this machine offers for ``kernel`` runs (see ``vswap-nb kernel-info``)."""
    return probe()


def _leftover_swaps() -> list:
    """Swap devices a killed earlier run left (its journal names them); the next run
    removes them, so they do not count as someone else's swap."""
    import json

    j = state_dir() / "journal.jsonl"
    out = []
    try:
        for line in j.read_text().splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if rec.get("op") == "swapon":
                    out.append(rec["dev"])
    except OSError:
        pass
    return out


def check(workload, system, options: dict, machine: Machine | None = None) -> Machine:
    """Raise (ValueError, or KernelUnavailable naming what is missing) if ``workload`` on
    ``system`` cannot run on this machine's kernel; returns the machine as probed."""
    m = probe() if machine is None else machine
    check_request(m, system, workload, options, ours=_leftover_swaps())
    return m


@contextlib.contextmanager
def _sigterm_raises():
    """SIGTERM raises KernelInterrupted in the main thread for the duration (so the
    machine is restored on the way out); elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KernelInterrupted("the kernel run was stopped by SIGTERM; the machine was restored")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _say(msg: str) -> None:
    print(f"vswap_nb kernel: {msg}", file=sys.stderr, flush=True)


def _set_up(host: Host, m: Machine, system, options) -> dict:
    """The swap device and the settings of ``system``; returns what was set."""
    dev = system.swap
    if dev.kind == "zram":
        path = host.make_zram(dev.size)
    elif dev.kind in ("ssd", "hdd"):
        path = host.make_loop(dev.size, options.get("swap_dir") or DEFAULT_SWAP_DIR, dev.kind == "hdd")
    else:
        path = host.make_brd(dev.size)
    vm = "/proc/sys/vm/"
    host.set(vm + "page-cluster", system.page_cluster)
    host.set("/sys/kernel/mm/swap/vma_ra_enabled", "true" if system.vma_readahead else "false")
    if m.cgroup_version == 2:
        host.set(vm + "swappiness", system.swappiness)
    z = "/sys/module/zswap/parameters/"
    if m.zswap is not None:
        if system.zswap_on:
            host.set(z + "max_pool_percent", int(system.zswap.max_pool_percent))
            # the model's shrinker is the pool-full shrink worker, which the kernel always
            # runs; shrinker_enabled is the proactive memcg shrinker, which it does not model
            host.set(z + "shrinker_enabled", "N")
            host.mark_zswap_enabled()
            host.set(z + "enabled", "Y")
        else:
            host.set(z + "enabled", "N")
    thp = _set_thp(host, m, system.thp)
    host.swapon(path)
    comp = None
    if dev.kind == "zram":
        comp = _selected(_read(f"/sys/block/{os.path.basename(path)}/comp_algorithm"))
    return {
        "device": path,
        "device_kind": dev.kind,
        "device_bytes": dev.size,
        "zram_compressor": comp,
        "page_cluster": system.page_cluster,
        "vma_ra_enabled": system.vma_readahead,
        "swappiness": system.swappiness,
        "zswap": None if m.zswap is None else {
            p: _read(z + p) for p in sorted(os.listdir(z)) if _read(z + p) is not None
        },
        "thp": thp,
    }


def _set_thp(host: Host, m: Machine, thp) -> dict:
    """Set the machine's THP controls to ``thp`` (a Thp) for the run, through the
    host's journal; returns what the run uses (``thp=None``: the workload runs with
    PR_SET_THP_DISABLE and nothing is set)."""
    if thp is None:
        return {"large_folios": False, "pr_set_thp_disable": True}
    out = {"large_folios": True, "pr_set_thp_disable": False, "zswap_was_enabled": thp.zswap_was_enabled}
    for name, path, value in thp_settings(m, thp):
        host.set(path, value)
        out[name] = _selected(_read(path))  # read back: what the kernel took
    return out


def run(workload, system, *, seed: int, options: dict, progress=None, machine: Machine | None = None) -> dict:
    """Run ``workload`` on this machine's kernel as ``system`` describes it; returns the
    raw results for :func:`vswap_nb.results.kernel_dataset`.  Inputs were checked by
    :func:`check`; this probes again and re-checks under the lock.

    ``raw["runs"]`` holds one dict per repetition; its cgroup figures are

    ``memcg_by_cgroup``  a list, index = the workload's cgroup (``task_memcg``), of that
                         cgroup's counters read when its tasks have exited:
                         :func:`.stats.memcg_counters` (every ``memory.stat`` line, e.g.
                         v1's ``pgfault``, ``pgmajfault``, ``pgpgin``, ``pgpgout``,
                         ``swap``, ``total_*``, v2's ``pswpin``, ``pswpout``,
                         ``zswpout``; ``failcnt``, ``oom_kill``, ``peak_bytes``, v2's
                         ``events_*``) and :func:`.stats.memcg_extra` (v1's
                         ``memsw_failcnt``, ``memsw_peak_bytes``; v2's ``swap_events_*``,
                         ``swap_peak_bytes``)
    ``memcg``            the workload's cgroups as one (:func:`.stats.memcg_total` of the
                         :func:`.stats.memcg_counters` dicts): with one cgroup, its
                         counters as they were before several cgroups existed; with
                         several, each count and byte gauge summed over the cgroups, each
                         limit and peak the largest of theirs.  The model's ``pgfault``
                         and ``pgmajfault`` (``vmstat``) come from it."""
    m = check(workload, system, options, machine)
    exe = build_helper(m.tools["cc"])
    mm_cg = mm_cgroups(workload).tolist()  # the cgroup of each mm's helper process
    repeats = int(options.get("repeat", 1))
    runs = []
    t_start = time.time()
    with _sigterm_raises(), Host(m, wait_message=_say) as host:
        foreign = active_swaps()
        if foreign:
            raise KernelUnavailable(
                f"swap is active on this machine ({', '.join(foreign)}); vswap_nb does not touch "
                f"swap it did not create: swapoff it first"
            )
        settings = _set_up(host, m, system, options)
        dev = settings["device"]
        mdict = m.to_dict()
        if system.zswap_on:
            mdict["zswap_ever_enabled"] = "yes (this run enabled zswap: mTHP swap-in is off until reboot)"
        for r in range(repeats):
            if dev not in active_swaps():  # the workload swapped it off in the run before
                host.swapon_again(dev)
            cgs = host.make_cgroups(
                workload.nmemcg, system.memory_max, system.swappiness, swap_max=system.swap_max,
                zswap_writeback=not system.zswap_on or system.zswap.writeback,
            )
            before = {}

            def snap():
                before["vm"] = read_vmstat() | read_mthp_stats()
                before["z"] = zswap_debug()
                before["kswapd"] = kswapd_cpu_ns()

            prog = None
            if progress is not None:
                prog = lambda done, total, r=r: progress(r * total + done, repeats * total)  # noqa: E731
            out = run_workload(
                workload, seed, system.nr_cpus, exe, [str(cgs[c] / "cgroup.procs") for c in mm_cg], dev,
                on_start=snap, progress=prog, thp=system.thp is not None,
            )
            after_vm = read_vmstat() | read_mthp_stats()
            after_z = zswap_debug()
            kswapd = kswapd_cpu_ns() - before["kswapd"]
            used = swap_used_pages(dev)
            base = [memcg_counters(cg, m.cgroup_version) for cg in cgs]
            by_cgroup = [b | memcg_extra(cg, m.cgroup_version) for b, cg in zip(base, cgs)]
            memcg = memcg_total(base)
            for cg in cgs:
                host.remove_cgroup(cg)
            # the counters that moved; a run with large folios keeps every per-size mTHP
            # counter, 0 included, so that each size's table is whole
            keep = "hugepages-" if system.thp is not None else None
            delta = {
                k: v - before["vm"].get(k, 0) for k, v in after_vm.items()
                if v != before["vm"].get(k, 0) or (keep and k.startswith(keep))
            }
            zd = {k: v - before["z"].get(k, 0) for k, v in after_z.items()}
            vm = model_vmstat(delta, memcg, zd)
            vm["content_checks"] = out["content_checks"]
            vm["content_errors"] = out["content_errors"]
            runs.append(
                {
                    "phase_t": out["phase_t"],
                    "phase_cpu": out["phase_cpu"],
                    "vmstat": vm,
                    "vmstat_delta": delta,
                    "memcg": memcg,
                    "memcg_by_cgroup": by_cgroup,
                    "background_pgfault": delta.get("pgfault", 0) - (vm["pgfault"] or 0),
                    "kswapd_ns": kswapd,
                    "live_entries": used if used is not None else 0,
                    "swapoff_ns": sum(t for _, t in out["swapoff"]),
                    "swapoff_errno": [e for e, _ in out["swapoff"] if e],
                    "first_bad_vpn": out["first_bad_vpn"],
                }
            )
        recovered = list(host.recovered)
        lock_wait = host.lock_wait
    t_end = time.time()
    held = list(host.held)
    raw = {
        "design": KERNEL.NAME,
        "options": dict(options),
        "runs": runs,
        "machine": mdict,
        "settings": settings,
        "recovered": recovered,
        "lock_wait_s": lock_wait,
        "lock_held": held,
        "started": t_start,
        "ended": t_end,
    }
    bad = [(i, r) for i, r in enumerate(runs) if r["vmstat"]["content_errors"] or r["swapoff_errno"]]
    if bad:
        i, r = bad[0]
        if r["swapoff_errno"]:
            msg = f"swapoff failed in run {i + 1}: {os.strerror(r['swapoff_errno'][0])}"
        else:
            msg = (
                f"run {i + 1}: {r['vmstat']['content_errors']} pages read back with the wrong content "
                f"(first: task, vpn {r['first_bad_vpn'][0]}): the kernel lost or mixed up data"
            )
        err = KernelError(msg + " (the measured results are on the error's .raw)")
        err.raw = raw
        raise err
    return raw

