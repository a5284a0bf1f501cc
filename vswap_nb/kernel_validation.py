"""``classic`` against ``kernel`` on a matrix of small cases: the table in
``docs/kernel-validation.md`` and notebook ``06_model_vs_kernel``.

It runs :func:`vswap_nb.compare` on each case (and :func:`vswap_nb.calibrate` with
``--calibrate``), so it sits above the public API, beside the sweeps, not in
:mod:`vswap_nb.kernel` (which the public API imports).

Each case is usemem in a memory cgroup on this machine (one task of 128 MiB, or four
of 32 MiB, in a 64 MiB cgroup), varied one way at a time from a base case (zram,
sequence data, write then read back, sequential, one task, zswap off): the device
(zram or a loop device), the fill (sequence, half zero, all zero), write only, random
access (``-R``), four tasks, zswap on.  The model runs with the machine's RAM, CPUs
and cgroup version, so that both sides describe the same machine.

With ``--calibrate`` it also fits the cost table on this machine's kernel
(:func:`vswap_nb.calibrate`, ``kernel=True``) and adds the time tables: ``classic`` with
the fitted table against the kernel, phase by phase, on the held-out cases (target:
model / kernel within 0.8-1.25 on each phase) and on the training cases, and the fitted
table next to the default one; ``--cost-out`` writes the fitted table as a cost file.

Regenerate the document (root, on a machine that can run ``kernel``; zswap cases enable
zswap, which turns mTHP swap-in off until the next boot)::

    python -m vswap_nb.kernel_validation --repeat 3 --calibrate \
        --cost-out docs/fitted-cost.json --out docs/kernel-validation.md
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace

from . import calibration
from . import kernel as kernel_design  # the running kernel (the design `kernel`)
from .api import compare
from .kernel.machine import DEVICE_SIZE, machine_system
from .mm.config import Thp
from .results import cases_dataset
from .workloads import usemem

__all__ = [
    "CASES", "CGROUP_CASES", "CGROUP_FIGURES", "FIGURES", "MTHP_CASES", "MTHP_FIGURES", "MTHP_ONE_SIDED", "MTHP_TOLERANCE", "case_system", "case_workload", "main",
    "cgroup_markdown", "markdown", "mthp_agrees", "mthp_markdown", "mthp_system", "run_cases", "run_cgroup_cases",
    "run_mthp_cases",
]

# name -> (device, usemem keyword arguments, zswap on)
BASE = dict(size="128M", read_back=True)
CASES = {
    "zram": ("zram", BASE, False),
    "loop": ("ssd", BASE, False),
    "zram write only": ("zram", dict(size="128M"), False),
    "loop write only": ("ssd", dict(size="128M"), False),
    "zram half zero": ("zram", dict(BASE, fill={"sequence": 0.5, "zero": 0.5}), False),
    "loop half zero": ("ssd", dict(BASE, fill={"sequence": 0.5, "zero": 0.5}), False),
    "zram all zero": ("zram", dict(BASE, fill="zero"), False),
    "loop all zero": ("ssd", dict(BASE, fill="zero"), False),
    "zram random": ("zram", dict(BASE, random=True), False),
    "loop random": ("ssd", dict(BASE, random=True), False),
    "zram 4 tasks": ("zram", dict(size="32M", read_back=True, nr_tasks=4, sync_free=True), False),
    "loop 4 tasks": ("ssd", dict(size="32M", read_back=True, nr_tasks=4, sync_free=True), False),
    "zram zswap": ("zram", BASE, True),
    "loop zswap": ("ssd", BASE, True),
}
MEMORY_MAX = "64M"
# the figures compared (the kernel's name where the model has one)
FIGURES = ("pswpout", "pswpin", "pgmajfault", "swap_ra", "swap_ra_hit", "zswpout", "zswpin", "pgsteal_direct")
PHASES = ("write", "read", "free")
TARGET = (0.8, 1.25)  # model / kernel per phase, with the fitted cost table


# Large folios: usemem 256M (write only, or write then read back) in a 128 MiB cgroup
# with 64K folios always on, as the issue measured.  name -> (device, usemem kwargs)
MTHP_CASES = {
    "zram 64K write only": ("zram", dict(size="256M")),
    "loop 64K write only": ("ssd", dict(size="256M")),
    "zram 64K read back": ("zram", dict(size="256M", read_back=True)),
    "loop 64K read back": ("ssd", dict(size="256M", read_back=True)),
}
MTHP_MEMORY_MAX = "128M"
MTHP_ORDER = 4  # 64K
# per-size counters of the 64K folios compared, then whole-run figures
MTHP_FIGURES = ("anon_fault_alloc", "anon_fault_fallback", "anon_fault_fallback_charge", "swpout",
                "swpout_fallback", "split", "swpin", "swpin_fallback")
MTHP_TOLERANCE = (0.05, 16)
"""The model agrees with the kernel on a 64K figure when ``|model - kernel| <= 5% of the
kernel + 16``; 16 is one 64K folio's pages, the step of the memcg charge.  The kernel's
per-size counters are machine-wide, and 64K=always holds for every process during the
run: other processes' 64K faults add to ``anon_fault_alloc`` (measured: 3,070 on a
quiet machine, up to 4,559 while tests ran beside it), so that figure is one-sided
(``model <= kernel + tolerance``), and the workload's own fault count, its cgroup's
``pgfault`` (64K faults + 16 per fallback range + the helper's few), is compared
both ways instead.  Other processes do not swap or reach a memcg limit here, so the
fallbacks and swap-outs are the workload's."""
MTHP_ONE_SIDED = ("anon_fault_alloc",)


def mthp_system(device: str, machine):
    """The System of the mTHP cases on ``machine``: 64K folios always, zswap off, and
    ``zswap_was_enabled`` as this boot's state (mTHP swap-in is off once it was)."""
    was = str(machine.zswap_ever_enabled).startswith("yes")
    return replace(machine_system(machine, device, False, MTHP_MEMORY_MAX),
                   thp=Thp({"64K": "always"}, zswap_was_enabled=was))


def mthp_figures(ds, design: str) -> dict:
    """The 64K per-size figures of ``design`` in a compare Dataset."""
    m = ds.mthp.sel(design=design, order=MTHP_ORDER)
    return {f: float(m.sel(mthp_stat=f)) for f in MTHP_FIGURES}


def mthp_agrees(model: float, kern: float, figure: str = "") -> bool:
    """Whether ``model`` is within :data:`MTHP_TOLERANCE` of ``kern`` (only from above
    for a machine-wide figure other processes add to, :data:`MTHP_ONE_SIDED`)."""
    rel, absolute = MTHP_TOLERANCE
    if figure in MTHP_ONE_SIDED:
        return model <= kern + rel * kern + absolute
    return abs(model - kern) <= rel * kern + absolute


# Several cgroups: two usemem tasks, each in its own 32 MiB cgroup, write then read back.
CGROUP_CASES = {
    "zram 2 cgroups": ("zram", dict(size="64M", nr_tasks=2, cgroups=2, read_back=True)),
    "loop 2 cgroups": ("ssd", dict(size="64M", nr_tasks=2, cgroups=2, read_back=True)),
}
CGROUP_MEMORY_MAX = "32M"
# per-cgroup figures both sides have on cgroup v1 (v2 adds pswpout, pswpin, swap_peak)
CGROUP_FIGURES = ("pgfault", "pgmajfault", "usage_peak")


def _run_table(table: dict, system_of, names, repeat, progress, what) -> dict:
    """``compare(["kernel", "classic"])`` on each case of ``table`` (name -> (device,
    usemem kwargs)), the System from ``system_of(device, machine)``: name -> Dataset."""
    m = kernel_design.kernel_info()
    names = list(table) if names is None else list(names)
    for n in names:
        if n not in table:
            raise ValueError(f"unknown {what} case {n!r}; cases: {', '.join(table)}")
    out = {}
    for i, n in enumerate(names):
        if progress is not None:
            progress(i, len(names), n)
        dev, kw = table[n]
        out[n] = compare(["kernel", "classic"], usemem(**kw), system_of(dev, m), options={"kernel": {"repeat": repeat}})
    return out


def run_cgroup_cases(names=None, repeat: int = 3, progress=None) -> dict:
    """``compare(["kernel", "classic"])`` on each several-cgroup case: name -> Dataset."""
    return _run_table(CGROUP_CASES, lambda dev, m: machine_system(m, dev, False, CGROUP_MEMORY_MAX),
                      names, repeat, progress, "cgroup")


def cgroup_markdown(runs: dict) -> list:
    """The several-cgroup section of the validation document."""
    rel, absolute = MTHP_TOLERANCE
    lines = [
        "",
        "## Several cgroups",
        "",
        f"usemem 64M x 2 tasks, each in its own {CGROUP_MEMORY_MAX} cgroup, write then read back, zswap "
        "off.  Per cgroup: page faults, major faults and the charge's peak (pages), then the run's "
        f"pages written and read.  Tolerance as above: |classic - kernel| <= {rel:.0%} of the kernel + "
        f"{absolute}.  cgroup v1 has no per-cgroup swap-out count or swap peak.",
        "",
        "| case | cgroup | figure | kernel | classic | ratio | within |",
        "|---|---|---|---|---|---|---|",
    ]
    for case, ds in runs.items():
        for cg in ds.memcg.values:
            for f in CGROUP_FIGURES:
                kv = float(ds.memcg_counters.sel(design="kernel", memcg=cg, memcg_stat=f))
                mv = float(ds.memcg_counters.sel(design="classic", memcg=cg, memcg_stat=f))
                lines.append(f"| {case} | {int(cg)} | {f} | {_fmt(kv)} | {_fmt(mv)} | {_ratio(mv, kv)} | "
                             f"{'yes' if mthp_agrees(mv, kv) else 'no'} |")
        for f in ("pswpout", "pswpin"):
            kv, mv = float(ds[f].sel(design="kernel")), float(ds[f].sel(design="classic"))
            lines.append(f"| {case} | all | {f} | {_fmt(kv)} | {_fmt(mv)} | {_ratio(mv, kv)} | "
                         f"{'yes' if mthp_agrees(mv, kv) else 'no'} |")
    return lines


def run_mthp_cases(names=None, repeat: int = 3, progress=None) -> dict:
    """``compare(["kernel", "classic"])`` on each mTHP case: name -> Dataset."""
    return _run_table(MTHP_CASES, mthp_system, names, repeat, progress, "mTHP")


def mthp_markdown(runs: dict) -> list:
    """The large-folio section of the validation document."""
    rel, absolute = MTHP_TOLERANCE
    lines = [
        "",
        "## Large folios (64K)",
        "",
        f"usemem 256M in a {MTHP_MEMORY_MAX} cgroup, `hugepages-64kB/enabled = always`, defrag madvise, "
        "zswap off; the per-size counters of the 64K folios, the workload cgroup's page faults and "
        "the pages written and read.  The kernel's per-size counters are machine-wide (other "
        "processes' 64K faults add to `anon_fault_alloc`, so the model is only held below it there; "
        "the cgroup's `pgfault` counts the workload alone); "
        f"tolerance: |classic - kernel| <= {rel:.0%} of the kernel + {absolute}.",
        "",
        "| case | figure | kernel | classic | ratio | within |",
        "|---|---|---|---|---|---|",
    ]
    for case, ds in runs.items():
        k, c = mthp_figures(ds, "kernel"), mthp_figures(ds, "classic")
        for f in MTHP_FIGURES:
            one = " (machine-wide: model <= kernel)" if f in MTHP_ONE_SIDED else ""
            lines.append(f"| {case} | {f}{one} | {_fmt(k[f])} | {_fmt(c[f])} | {_ratio(c[f], k[f])} | "
                         f"{'yes' if mthp_agrees(c[f], k[f], f) else 'no'} |")
        for f in ("pgfault", "pswpout", "pswpin"):
            kv, mv = float(ds[f].sel(design="kernel")), float(ds[f].sel(design="classic"))
            lines.append(f"| {case} | {f} | {_fmt(kv)} | {_fmt(mv)} | {_ratio(mv, kv)} | "
                         f"{'yes' if mthp_agrees(mv, kv) else 'no'} |")
        attrs = json.loads(ds.attrs["kernel"])
        was = attrs["settings"]["thp"].get("zswap_was_enabled")
        lines.append(f"| {case} | (zswap was enabled this boot: mTHP swap-in {'off' if was else 'on'}) | | | | |")
    return lines


def case_workload(name: str):
    return usemem(**CASES[name][1])


def case_system(name: str, machine):
    """The System of case ``name`` on ``machine`` (its RAM, CPUs and cgroup version)."""
    kind, _, zswap = CASES[name]
    return machine_system(machine, kind, zswap, MEMORY_MAX)


def run_cases(names=None, repeat: int = 3, progress=None):
    """``compare(["kernel", "classic"])`` on each case; a Dataset with a ``case``
    dimension (see :func:`vswap_nb.results.cases_dataset`)."""
    m = kernel_design.kernel_info()
    names = list(CASES) if names is None else list(names)
    for n in names:
        if n not in CASES:
            raise ValueError(f"unknown case {n!r}; cases: {', '.join(CASES)}")
    out = []
    for i, n in enumerate(names):
        if progress is not None:
            progress(i, len(names), n)
        out.append(compare(["kernel", "classic"], case_workload(n), case_system(n, m), options={"kernel": {"repeat": repeat}}))
    return cases_dataset(out, names)


def _fmt(x):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.0f}"


def _ratio(model, kern):
    if kern is None or model is None or math.isnan(model) or math.isnan(kern):
        return "-"
    if kern == 0:
        return "1.00" if model == 0 else "inf"
    return f"{model / kern:.2f}"


NOTES = """
## Where they disagree, and what would close the gap

* **Sequential cases agree within 3%, most within 1%.**  On zram the kernel swaps out a
  few dozen to a hundred pages more than the model: the cgroup's charge also holds the
  page tables of the mapped range (one page per 512 pages mapped) and the pages charged
  ahead to each CPU's stock (up to `MEMCG_CHARGE_BATCH` = 64 pages per CPU), so the
  kernel reaches the limit a little earlier.  To close: charge page tables and the
  per-CPU stock to the memcg in the model.
* **Major faults on the loop device: the model takes 2 more per 512-page PMD** (ratio
  1.03).  The kernel's VMA readahead windows (8 pages at page-cluster 3) tile each PMD
  exactly, 64 windows per PMD; the model's window placement at a PMD boundary costs it
  two more faults there.  `swap_ra` itself agrees within 0.5%.  To close: check the
  engine's window placement against `swap_vma_ra_win()` at a PMD boundary.
* **Random access on the loop device: the kernel writes ~6% more pages than it
  reclaims** (its `pswpout` exceeds its `pgsteal`; `pgrotated` is about `pswpout`).  On
  an asynchronous device a folio under writeback stays on the LRU, rotated to the tail,
  until a later scan frees it; a write to it in between dirties it again and frees its
  swap copy, so the page is written twice.  The model writes synchronously and frees the
  folio at once, so it has no such window; random writes fall into it, sequential ones
  do not.  To close: on an asynchronous device keep a written folio on the inactive list
  until the next scan reaches it.
* **Random access on zram: the kernel swaps 1-2% more** with the same `pgactivate`;
  the kernel also scans more (`pgscan_direct`).  The model's aging (young bit, then
  PG_referenced, then activation) is a simplification of `folio_check_references()`,
  and random access re-references pages while they age, where the two differ most.
* **Zero-filled pages** are written to no device in either (the swap zeromap); both
  count them in `swpout_zero` and `swpin_zero` (the model's are result variables, the
  kernel's are in its `kernel_vmstat`).
* **zswap on cgroup v1**: the pool is not charged to the cgroup there, and with
  `System(cgroup_version=1)` the model does the same; every swapped page fits in the
  pool (20% of this machine's RAM) on both sides.  Charging the pool as v2 does makes
  the model store 14% more pages: usemem -W 256M in a 128 MiB cgroup with zswap, measured
  on the development machine (6.18, cgroup v1), gave `zswpout` 98,441 on the kernel,
  98,304 on `classic` with `cgroup_version=1` and 112,352 with `cgroup_version=2`.
* **Four tasks**: the model runs every phase to its end before the next starts, the
  kernel's tasks overlap; the counts agree all the same.
* **Time**: the tables below set `classic` with this machine's fitted cost table against
  the kernel's measured phase times.
"""


def markdown(ds, command: str, fitted=None) -> str:
    """The validation document for a Dataset of :func:`run_cases`; with ``fitted`` (a
    :class:`~vswap_nb.calibration.FittedCost`, or its ``report`` dict), the time
    tables of the calibration too."""
    k0 = json.loads(ds.attrs["kernel"])
    m = k0["machine"]
    lines = [
        "# classic against the running kernel",
        "",
        "Counts of the model's `classic` design next to the same workload run for real on the "
        "`kernel` design, on a matrix of small cases (usemem in a "
        f"{MEMORY_MAX} memory cgroup on a {DEVICE_SIZE} swap device: one task of 128 MiB, "
        "or four of 32 MiB with `-x`; varied one way at a time from zram, sequence data, write "
        "then read back, sequential, one task, zswap off).  Each kernel figure is the lower "
        f"median of {ds.sizes.get('repeat', 1)} runs, with the spread over those runs (max - min) "
        "in brackets; the model is deterministic.  `ratio` is model / kernel.",
        "",
        f"Machine: Linux {m['release']}, {m['cpus']} CPUs, {m['ram'] / 2**30:.1f} GiB RAM, memory cgroup "
        f"v{m['cgroup_version']}, MGLRU {'off' if m['mglru'] in (None, '0x0000') else m['mglru']}, "
        f"zram compressor {k0['settings'].get('zram_compressor') or m['zram_comp']}; THP off for the "
        "workload (`PR_SET_THP_DISABLE`); zswap ever enabled this boot (as the last case left the machine): "
        f"{m['zswap_ever_enabled']}.  Regenerated by:",
        "",
        "```sh",
        command,
        "```",
        "",
        "## Counts",
        "",
        "| case | figure | kernel | classic | ratio |",
        "|---|---|---|---|---|",
    ]
    for case in ds.case.values:
        c = ds.sel(case=case)
        zs = CASES[str(case)][2]
        for f in FIGURES:
            if f.startswith("zswp") and not zs:
                continue
            kv, mv = float(c[f].sel(design="kernel")), float(c[f].sel(design="classic"))
            spread = ""
            if f in list(c.vmstat_counter.values) and f not in ("pgmajfault", "pgfault"):
                runs = c.kernel_vmstat.sel(design="kernel", vmstat_counter=f).values
                spread = f" ({runs.max() - runs.min():,.0f})"
            lines.append(f"| {case} | {f} | {_fmt(kv)}{spread} | {_fmt(mv)} | {_ratio(mv, kv)} |")
    lines += NOTES.splitlines()
    report = getattr(fitted, "report", fitted)
    if report:
        lines += time_tables(report)
    else:
        lines += [
            "",
            "## Phase times with the default cost table",
            "",
            "Time of each phase, slowest task, in ms: the kernel's measured on this machine, the "
            "model's in model time from the default cost table (a server core).  Run with "
            "`--calibrate` for the fitted table.",
            "",
            "| case | " + " | ".join(f"{p} kernel | {p} classic | {p} ratio" for p in PHASES) + " |",
            "|---|" + "---|" * (3 * len(PHASES)),
        ]
        for case in ds.case.values:
            c = ds.sel(case=case)
            cells = []
            for p in PHASES:
                if p not in list(c.phase.values) or math.isnan(float(c.task_time.sel(design="kernel", phase=p).max())):
                    cells += ["-", "-", "-"]
                    continue
                kt = float(c.task_time.sel(design="kernel", phase=p).max()) / 1e6
                mt = float(c.task_time.sel(design="classic", phase=p).max()) / 1e6
                cells += [f"{kt:.1f}", f"{mt:.1f}", f"{mt / kt:.2f}" if kt else "-"]
            lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# Why a phase misses the 0.8-1.25 target, by case (a case not here gets "no reason
# recorded", never a silent pass).  Each reason is a mechanism the model lacks, with the
# figures from the calibration in docs/kernel-validation.md that point to it.
MISS_REASONS = {
    "loop": ("write: the model charges a write to an asynchronous device nothing (the "
             "reclaimer submits the bio and goes on); on this machine the loop device's "
             "worker does the direct I/O on the backing file on the same two CPUs as the "
             "workload, 3-4 us of CPU per page written that the model has no term for.  "
             "free: within the spread of the kernel's free times between sessions"),
    "loop write only": "as `loop`: asynchronous writes cost the writer nothing in the model",
    "loop 256M in 128M": "as `loop`: asynchronous writes cost the writer nothing in the model",
    "loop random": ("read: the fitted `ssd_read` is the wait for a whole readahead request "
                    "(8 pages merged into one I/O), fitted on sequential cases where every "
                    "major fault waits for one; a random fault reads one page (swap_ra 0), "
                    "which the loop device serves in about half that time.  The model has "
                    "one read time per request, not a latency plus a per-page transfer.  "
                    "free: within the spread of the kernel's free times between sessions"),
    "zram half zero": ("a zero page's reclaim costs the kernel ~0.7 us more than the "
                       "fitted unmap + batch + same-filled check; the fit shares those "
                       "terms with sequence pages, whose zram compression dominates"),
    "zram all zero": "as `zram half zero`",
    "fits in memory": ("no reclaim at all, so the fault term (fitted at ~1.9 us on "
                       "cases that reclaim, where a fault's memcg charge takes the "
                       "try_charge slow path) over-counts a first-touch fault that only "
                       "charges"),
    "zram 4 tasks": ("four tasks on two CPUs: the kernel's phase time is the slowest "
                     "task's wall time, with the tasks time-sharing the CPUs and "
                     "contending on the lruvec lock and zsmalloc's class locks; the model "
                     "gives each task its own time and has no lock contention (a stated "
                     "modelling choice)"),
    "zram zswap": ("zswap's compression time is the Zswap default (5 us, a server "
                   "core) and is not fitted (zswap is held out); this machine's zram "
                   "compression, the same compressor, fitted at ~2x that"),
    "zram": "write or free near the edge: the kernel's times vary by 10-20% between sessions",
    "zram write only": "as `zram`",
}


def time_tables(report: dict) -> list:
    """The calibration's Markdown: held-out and training phase times (kernel, classic
    with the default table, classic with the fitted table, model / kernel) and the
    fitted costs against the defaults."""
    lo, hi = TARGET
    out = [
        "",
        "## Phase times: classic with the fitted cost table",
        "",
        "The cost table fitted on this machine's kernel (`vswap_nb.calibrate(kernel=True)`, "
        "see `vswap_nb/calibration.py`): each case is usemem in a memory cgroup run "
        f"{report.get('repeat', 1)} times on the kernel (the lower median of each phase's "
        "slowest task) and once on `classic`.  The fit saw the training cases only; the "
        f"held-out cases (another size, random access, four tasks, zswap) test it.  Target: "
        f"model / kernel within {lo}-{hi} on each phase.  Times in ms; `default` is the "
        "default table (a server core), `fitted` this machine's.",
        "",
    ]
    for which, title in (("test", "Held-out cases"), ("train", "Training cases")):
        out += [f"### {title}", "", "| case | phase | kernel | default | ratio | fitted | ratio | in target |",
                "|---|---|---|---|---|---|---|---|"]
        for name, c in report["cases"].items():
            if c["set"] != which:
                continue
            for p in PHASES:
                if p not in c["phases"]:
                    continue
                t = c["phases"][p]
                k, d, f = t["kernel_ms"], t["default_ms"], t["fitted_ms"]
                rf = f / k if k else float("nan")
                ok = "yes" if lo <= rf <= hi else "**no**"
                out.append(f"| {name} | {p} | {k:.1f} | {d:.1f} | {d / k:.2f} | {f:.1f} | {rf:.2f} | {ok} |")
        out.append("")
    misses = {}
    for name, c in report["cases"].items():
        for p in PHASES:
            t = c["phases"].get(p)
            if t and t["kernel_ms"] and not lo <= t["fitted_ms"] / t["kernel_ms"] <= hi:
                misses.setdefault(name, []).append(p)
    if misses:
        out += ["### Why a phase misses", ""]
        for name, phases in misses.items():
            why = MISS_REASONS.get(name, "no reason recorded")
            out.append(f"* **{name}** ({', '.join(phases)}): {why}.")
        out.append("")
    out += ["### The fitted table against the default", "",
            "| cost | default | fitted | fitted / default |", "|---|---|---|---|"]
    for name, v in report["fitted"].items():
        d = report["defaults"][name]
        unit = "" if name.startswith("primitives") else " ns"
        out.append(f"| {name} | {d:,.1f}{unit} | {v:,.1f}{unit} | {v / d:.2f} |")
    r = {n: v / report["defaults"][n] for n, v in report["fitted"].items() if report["defaults"][n]}
    geo = math.exp(sum(math.log(x) for x in r.values() if x > 0) / max(1, sum(x > 0 for x in r.values())))
    lo_n, hi_n = min(r, key=r.get), max(r, key=r.get)
    out += ["", f"How far this machine is from the default table (a server core): the fitted costs "
            f"are {r[lo_n]:.2f}x ({lo_n}) to {r[hi_n]:.2f}x ({hi_n}) the defaults, {geo:.2f}x "
            "in geometric mean.", ""]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vswap_nb.kernel_validation", description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="kernel runs per case (default 3)")
    p.add_argument("--cases", default=None, help="comma-separated case names (default: all)")
    p.add_argument("--out", default=None, help="write the Markdown here (default: print it)")
    p.add_argument("--nc", default=None, help="also write the Dataset to this netCDF file")
    p.add_argument("--calibrate", action="store_true",
                   help="also fit the cost table on this kernel and add the time tables")
    p.add_argument("--cost-out", default=None, help="with --calibrate: write the fitted cost table here (JSON)")
    p.add_argument("--mthp", action="store_true",
                   help="also run the large-folio (64K) and several-cgroup cases and add their tables")
    a = p.parse_args(argv)
    if a.cost_out and not a.calibrate:
        p.error("--cost-out needs --calibrate (it writes the fitted table)")
    names = None if a.cases is None else [c.strip() for c in a.cases.split(",")]
    ds = run_cases(names, repeat=a.repeat, progress=lambda i, n, c: print(f"[{i + 1}/{n}] {c}", file=sys.stderr))
    fitted = None
    if a.calibrate:
        fitted = calibration.calibrate_on_kernel(
            repeat=a.repeat, progress=lambda i, n, c: print(f"[calibrate {i + 1}/{n}] {c}", file=sys.stderr)
        )
        if a.cost_out:
            with open(a.cost_out, "w") as f:
                json.dump(fitted.to_file_dict(), f, indent=1)
                f.write("\n")
    cmd = "python -m vswap_nb.kernel_validation --repeat %d%s%s --out docs/kernel-validation.md" % (
        a.repeat, "" if a.cases is None else f" --cases '{a.cases}'",
        (" --calibrate" + (f" --cost-out {a.cost_out}" if a.cost_out else "")) if a.calibrate else "",
    ).replace(" --out", " --mthp --out" if a.mthp else " --out")
    text = markdown(ds, cmd, fitted)
    if a.mthp:
        runs = run_mthp_cases(repeat=a.repeat,
                              progress=lambda i, n, c: print(f"[mthp {i + 1}/{n}] {c}", file=sys.stderr))
        text += "\n".join(mthp_markdown(runs)) + "\n"
        cg = run_cgroup_cases(repeat=a.repeat,
                              progress=lambda i, n, c: print(f"[cgroups {i + 1}/{n}] {c}", file=sys.stderr))
        text += "\n".join(cgroup_markdown(cg)) + "\n"
    if a.nc:
        ds.to_netcdf(a.nc, engine="h5netcdf")
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
