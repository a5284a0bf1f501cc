"""The ``vswap-nb`` command.

Subcommands:

``vswap-nb compare [--designs a,b,...] [--workload "usemem -n 4 -x 768M"] [--ram 2G]
[--memory-max 1G] [--swap zram:8G] [--zswap] [--nr-cpus 4] [--option design:switch=on]
[--seed N] [--out FILE.nc] [--plot FILE.png] [--json]``
    the designs on the same workload stream: headline figures per design and the
    ratio to the first design.
``vswap-nb run --design NAME ...`` (same system and workload options)
    one design, the full counter breakdown by operation and primitive.
``vswap-nb sweep --designs a,b --over memory_max=1G,2G --over switch=on,off
[--client local|tcp://host:8786] ...``
    every combination of the swept parameters.
``vswap-nb trace record --workload "..." --out FILE.npz``, ``trace info FILE``,
``trace replay FILE --designs a,b ...``
    record a workload's event stream, describe a trace, or compare designs on it.
``vswap-nb overhead [--swap-size 32G] [--designs a,b] [--usage 0,.25,.5,.75,1]
[--backend disk,zswap] [--by-structure] [--out FILE.nc] [--json]``
    the metadata-overhead table: bytes of swap metadata per usable slot for each
    design and backend at each usage level.
``vswap-nb designs``
    the designs that work, with what each models (and ``kernel``, the running kernel).
``vswap-nb kernel-info [--json]``
    what this machine offers for ``kernel`` runs, and what they can and cannot do here.

``--designs`` takes ``kernel`` too: the workload runs for real on this machine's kernel
(root, a memory cgroup controller and a swap device of its own; see
:mod:`vswap_nb.kernel`), next to the model's designs.

Exit codes: 0 ok, 2 bad arguments (the argument is named and the fix said), 1 anything
else.

Progress bars are tqdm's.  Arguments are argparse's, checked again by
:mod:`vswap_nb.inputs` (one message per mistake).  The tables are printed by hand
(``format_compare_table``, ``format_run_table``, ``format_overhead_table``,
``format_calibration``): the compare table formats by row (a time with two decimals, a
count as an integer, a share with three) and adds a ratio column and a ``-`` for a
figure a design lacks, which a column-formatting printer (pandas' ``to_string``, which
comes with xarray and prints the sweep's flat table) does not do; no other dependency
prints tables.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys

from tqdm import tqdm

from . import api, kernel, plot
from . import workloads as wl
from .calibration import calibrate
from .core.units import format_size
from .core.vmstat import VMSTAT
from .inputs import check_designs, check_options, check_seed, design_spec
from .kernel import KERNEL, KernelError, kernel_info
from .mm.config import System, Thp
from .mm.cost import load_cost
from .mm.run import EngineError
from .sweep import sweep


class _ArgError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: exit 2 without a traceback
        raise _ArgError(message)


def _split(text: str):
    return [t.strip() for t in text.split(",") if t.strip()]


def _floats(text: str, name: str):
    out = []
    for t in _split(text):
        try:
            out.append(float(t))
        except ValueError:
            raise _ArgError(f"--{name}: {t!r} is not a number; give fractions like 0,0.5,1") from None
    return out


def _overhead(args) -> int:
    designs = _split(args.designs) if args.designs else None
    usage = _floats(args.usage, "usage")
    backend = _split(args.backend)
    try:
        ds = api.metadata_overhead(designs, swap_size=args.swap_size, usage=usage, backend=backend)
    except (TypeError, ValueError) as exc:
        raise _ArgError(str(exc)) from None
    if args.out:
        try:
            ds.to_netcdf(args.out, engine="h5netcdf")
        except Exception as exc:  # a file problem, not an argument problem
            print(f"vswap-nb: could not write {args.out}: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(
            json.dumps(
                {
                    "swap_size_bytes": int(ds.attrs["swap_size_bytes"]),
                    "usage": [float(u) for u in ds.usage.values],
                    "bytes_per_slot": {
                        d: {b: [float(x) for x in ds.bytes_per_slot.sel(design=d, backend=b).values] for b in ds.backend.values}
                        for d in ds.design.values
                    },
                    "metadata_bytes": {
                        d: {b: [int(x) for x in ds.metadata_bytes.sel(design=d, backend=b).values] for b in ds.backend.values}
                        for d in ds.design.values
                    },
                },
                indent=2,
            )
        )
        return 0
    print(format_overhead_table(ds, by_structure=args.by_structure))
    return 0


def format_overhead_table(ds, by_structure: bool = False) -> str:
    slots = int(ds.attrs["swap_slots"])
    lines = [
        f"Swap metadata for a {format_size(int(ds.attrs['swap_size_bytes']))} device "
        f"({slots} slots), in bytes per usable slot at each usage level",
        "",
    ]
    usage = [float(u) for u in ds.usage.values]
    head = f"{'design':<12} {'backend':<8}" + "".join(f"{u * 100:>9.0f}%" for u in usage) + f"{'MiB at ' + format(usage[-1] * 100, '.0f') + '%':>16}"
    lines.append(head)
    lines.append("-" * len(head))
    for d in ds.design.values:
        for b in ds.backend.values:
            per = ds.bytes_per_slot.sel(design=d, backend=b).values
            mib = int(ds.metadata_bytes.sel(design=d, backend=b).values[-1]) / 2**20
            lines.append(f"{d:<12} {b:<8}" + "".join(f"{x:>10.3f}" for x in per) + f"{mib:>16.1f}")
    if by_structure:
        lines.append("")
        lines.append(f"By structure at usage {usage[-1]:g} (MiB):")
        for d in ds.design.values:
            for b in ds.backend.values:
                sel = ds.metadata_bytes_by_structure.sel(design=d, backend=b).isel(usage=-1)
                parts = [
                    f"{s}={int(v) / 2**20:.1f}" for s, v in zip(ds.structure.values, sel.values) if int(v)
                ]
                lines.append(f"  {d:<12} {b:<8} " + ", ".join(parts))
    return "\n".join(lines)


def _designs(args) -> int:
    for name in (*api.designs(), KERNEL.NAME):
        m = design_spec(name)
        print(f"{name:<12} {m.SUMMARY}")
        if m.OPTIONS:
            what = "options" if name == KERNEL.NAME else "switches"
            print(" " * 13 + f"{what}: " + ", ".join(f"{k}={v}" for k, v in m.OPTIONS.items()))
    return 0


def _calibrate(args) -> int:
    try:
        repeat = int(args.repeat)
    except ValueError:
        raise _ArgError(f"--repeat {args.repeat!r}: give a whole number of runs") from None
    train = _split(args.train) if args.train else None
    test = _split(args.test) if args.test else None
    try:
        with _Bars("calibrate", unit="cases") as bars:
            table = calibrate(repeat, kernel=args.kernel, out=args.out, train=train, test=test,
                              progress=(lambda i, n, what: bars(i, n)) if args.kernel else None)
    except (TypeError, ValueError) as exc:
        raise _ArgError(str(exc)) from None
    except KernelError as exc:
        print(f"vswap-nb: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(table.to_file_dict() if args.kernel else dict(table), indent=2, sort_keys=True))
        return 0
    if not args.kernel:
        for k, v in table.items():
            print(f"{k:<20} {v:10.2f} ns")
        return 0
    print(format_calibration(table.report))
    if args.out:
        print(f"\nwrote {args.out} (use it with --cost {args.out})")
    return 0


def format_calibration(report) -> str:
    """The fitted costs next to the defaults, and each case's phase times."""
    lines = [f"{'cost':<22}{'default':>12}{'fitted':>12}{'ratio':>8}"]
    for k, v in report["fitted"].items():
        d = report["defaults"][k]
        unit = "" if k.startswith("primitives") else " ns"
        lines.append(f"{k:<22}{d:>12.1f}{v:>12.1f}{(v / d if d else float('nan')):>8.2f}{unit}")
    lines += ["", f"{'case':<22}{'set':<6}{'phase':<7}{'kernel ms':>11}{'default':>9}{'fitted':>9}{'fit/kernel':>12}"]
    for name, c in report["cases"].items():
        for p, v in c["phases"].items():
            ratio = v["fitted_ms"] / v["kernel_ms"] if v["kernel_ms"] else float("nan")
            lines.append(
                f"{name:<22}{c['set']:<6}{p:<7}{v['kernel_ms']:>11.1f}{v['default_ms']:>9.1f}"
                f"{v['fitted_ms']:>9.1f}{ratio:>12.2f}"
            )
    e = report["error"]
    lines.append("")
    for k in ("train", "test"):
        if e.get(k):
            lines.append(f"{k}: fitted / kernel from {e[k]['min_ratio']:.2f} to {e[k]['max_ratio']:.2f} per phase")
    return "\n".join(lines)


def _kernel_info(args) -> int:
    m = kernel_info()
    if args.json:
        print(json.dumps(m.to_dict(), indent=2))
    else:
        print("\n".join(kernel.describe(m)))
    return 0


# --------------------------------------------------------------------------- runs

DEFAULT_DESIGNS = "classic,swap_table,vswap_v5,vswap_v6,vswap_ste"
DEFAULT_WORKLOAD = "usemem -n 4 -x 768M"


def parse_workload(text: str):
    """``"usemem -n 32 -R 1536M"`` (usemem's own flags), ``"memhog 48G"`` or
    ``"kbuild --jobs 52 --files 156 --ram-per-job 60M --seed 0"``."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise _ArgError(f"--workload: {exc}") from None
    if not words:
        raise _ArgError('--workload is empty; e.g. --workload "usemem -n 4 768M"')
    name, rest = words[0], words[1:]
    try:
        if name == "usemem":
            return wl.usemem_from_args(rest)
        if name == "memhog":
            if len(rest) != 1:
                raise _ArgError(f'--workload: memhog takes one size, e.g. "memhog 48G", got {text!r}')
            return wl.memhog(rest[0])
        if name == "kbuild":
            kp = _Parser(prog="kbuild", add_help=False)
            kp.add_argument("--jobs", type=int, default=52)
            kp.add_argument("--files", type=int, default=156)
            kp.add_argument("--ram-per-job", default="60M")
            kp.add_argument("--seed", type=int, default=0)
            try:
                a = kp.parse_args(rest)
            except _ArgError as exc:
                raise _ArgError(f"--workload kbuild: {exc}") from None
            return wl.kbuild(jobs=a.jobs, files=a.files, ram_per_job=a.ram_per_job, seed=a.seed)
    except (TypeError, ValueError) as exc:
        raise _ArgError(f"--workload: {exc}") from None
    raise _ArgError(f"--workload: unknown workload {name!r}; use usemem, memhog or kbuild (or trace replay FILE)")


def _cgroup_version(args, designs) -> int:
    """``--cgroup-version``: 1, 2, or auto (the machine's when ``kernel`` runs, so the
    model charges memory as the kernel does; else 2, so model results do not depend on
    the machine)."""
    v = str(args.cgroup_version).strip().lower()
    if v in ("1", "2"):
        return int(v)
    if v != "auto":
        raise _ArgError(f"--cgroup-version {args.cgroup_version!r}: give 1, 2 or auto")
    if KERNEL.NAME in designs:
        found = kernel_info().cgroup_version
        if found is not None:
            return found
    return 2


def _nr_cpus(args, designs):
    """``--nr-cpus``: a number, or auto: 4, or the machine's CPUs if fewer when
    ``kernel`` runs (it cannot have more CPUs than the machine)."""
    v = str(args.nr_cpus).strip().lower()
    if v != "auto":
        return args.nr_cpus
    n = 4
    if KERNEL.NAME in designs:
        n = min(n, kernel_info().cpus)
    return n


def _thp(args, designs):
    """``--thp``: with ``kernel`` among the designs, zswap_was_enabled is this boot's
    state (mTHP swap-in is off once zswap was enabled), so both sides are comparable."""
    if args.thp is None or KERNEL.NAME not in designs:
        return args.thp
    t = Thp.parse(args.thp, "--thp")
    if t is None:
        return None
    return Thp(t.sizes, enabled=t.enabled, zswap_was_enabled=str(kernel_info().zswap_ever_enabled).startswith("yes"))


def _system(args, designs=()):
    try:
        return System.parse_cli(
            args.ram,
            memory_max=args.memory_max,
            swap=args.swap,
            zswap=args.zswap,
            nr_cpus=_nr_cpus(args, designs),
            page_cluster=args.page_cluster,
            faults=args.faults,
            cgroup_version=_cgroup_version(args, designs),
            thp=_thp(args, designs),
        )
    except (TypeError, ValueError) as exc:
        raise _ArgError(str(exc)) from None


_ON = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


def _switch_value(text: str, where: str) -> bool:
    try:
        return _ON[text.strip().lower()]
    except KeyError:
        raise _ArgError(f"{where}: {text!r} is not on/off; give on or off") from None


def _options(args, designs) -> dict:
    """``--option vswap_v6:cluster_lookup_cache=off`` (repeatable)."""
    out: dict = {}
    for spec in args.option or []:
        head, eq, val = spec.partition("=")
        design, colon, switch = head.partition(":")
        if not eq or not colon:
            raise _ArgError(
                f"--option {spec!r}: write DESIGN:SWITCH=on|off or DESIGN:SETTING=N, "
                f"e.g. vswap_v6:cluster_lookup_cache=off"
            )
        if design not in designs:
            raise _ArgError(f"--option {spec!r}: design {design!r} is not among --designs {','.join(designs)}")
        valid = design_spec(design).OPTIONS
        if switch not in valid:
            hint = ", ".join(valid) if valid else "none"
            raise _ArgError(f"--option {spec!r}: {design} has no switch {switch!r} (its switches: {hint})")
        if isinstance(valid[switch], bool):
            value = _switch_value(val, f"--option {spec}")
        elif valid[switch] is None or isinstance(valid[switch], str):  # a path or a name
            try:
                value = check_options(design, {switch: val})[switch]
            except (TypeError, ValueError) as exc:
                raise _ArgError(f"--option {spec}: {exc}") from None
        else:
            try:
                value = int(val)
            except ValueError:
                raise _ArgError(f"--option {spec}: {switch} takes an integer, e.g. {design}:{switch}=4") from None
            try:
                value = check_options(design, {switch: value})[switch]
            except (TypeError, ValueError) as exc:
                raise _ArgError(f"--option {spec}: {exc}") from None
        out.setdefault(design, {})[switch] = value
    return out


def _designs_arg(text: str) -> tuple:
    names = tuple(_split(text))
    try:
        return check_designs(names)
    except (TypeError, ValueError) as exc:
        raise _ArgError(f"--designs: {exc}") from None


PROGRESS_DELAY = 1.0  # seconds a run goes on before its bar appears


class _Bars:
    """Progress bars (tqdm) on stderr for the ``progress`` callbacks of
    :func:`vswap_nb.simulate` and :func:`vswap_nb.sweep` (``bars(done, total)``) and of
    :func:`vswap_nb.compare` (``bars(design, done, total)``: a new design starts a new
    bar).  A bar shows only when stderr is a terminal (tqdm's ``disable=None``) and the
    run has taken ``PROGRESS_DELAY`` seconds, so stdout (``--json``) is never touched.
    Use it as a context manager: the open bar is closed on the way out."""

    def __init__(self, label: str, unit: str = "events"):
        self.label = label
        self.unit = unit  # page events for a run, runs for a sweep, cases for calibrate
        self.bar = None

    def __call__(self, *args) -> None:
        if len(args) == 3:
            label, done, total = args
            if label != self.label:
                self.close()
                self.label = label
        else:
            done, total = args
        if self.bar is None:
            self.bar = tqdm(
                total=total, desc=self.label, unit=self.unit, unit_scale=self.unit == "events",
                disable=None, delay=PROGRESS_DELAY, file=sys.stderr,
            )
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cost(args):
    """``--cost FILE``: the cost table in FILE, checked (None without the option)."""
    if args.cost is None:
        return None
    try:
        return load_cost(args.cost)
    except (FileNotFoundError, TypeError, ValueError) as exc:
        raise _ArgError(f"--cost: {exc}") from None


def _seed_arg(text):
    try:
        return check_seed(int(text))
    except (TypeError, ValueError) as exc:
        raise _ArgError(f"--seed: {exc}") from None


HEADLINE = (
    # (label, function of one design's Dataset, format); time, throughput and latency are
    # model time for the model's designs and measured time for kernel
    ("time write (ms)", lambda r: _slowest(r, "write") / 1e6, "{:.1f}"),
    ("time free (ms)", lambda r: _slowest(r, "free") / 1e6, "{:.2f}"),
    ("throughput (MB/s)", lambda r: _phase(r, "throughput", "write") / 1024, "{:.0f}"),
    ("free latency (us)", lambda r: _phase(r, "latency", "free"), "{:.0f}"),
    ("xa lookups", lambda r: _total(r.counters.sel(primitive="xa_lookup")), "{:.0f}"),
    ("cluster locks", lambda r: _total(r.counters.sel(primitive="cluster_lock")), "{:.0f}"),
    ("metadata peak (MiB)", lambda r: float(r.metadata_bytes_peak_total) / 2**20, "{:.1f}"),
    ("pswpout", lambda r: float(r.pswpout), "{:.0f}"),
    ("pswpin", lambda r: float(r.pswpin), "{:.0f}"),
    ("swap_ra", lambda r: float(r.swap_ra), "{:.0f}"),
    ("allocstall", lambda r: float(r.allocstall), "{:.0f}"),
    ("direct reclaim share", lambda r: float(r.direct_reclaim_share), "{:.3f}"),
)


def _phase(r, var, phase):
    if phase not in list(r.phase.values):
        return float("nan")
    return float(r[var].sel(phase=phase))


def _slowest(r, phase):
    """The phase's time, slowest task: model time, or measured for kernel."""
    if phase not in list(r.phase.values):
        return float("nan")
    return float(r.task_time.sel(phase=phase).max())


def _total(da):
    """Sum of a counter selection; NaN when the design has no counters (kernel)."""
    return float(da.sum(skipna=False))


def headline(ds) -> dict:
    """{figure: {design: value}} of a compare Dataset (NaN where a design has no such
    figure: the kernel has no counter matrix or metadata)."""
    return {
        label: {str(d): fn(ds.sel(design=d)) for d in ds.design.values} for label, fn, _ in HEADLINE
    }


def format_compare_table(ds) -> str:
    designs = [str(d) for d in ds.design.values]
    table = headline(ds)
    width = max(12, *(len(d) + 2 for d in designs))
    head = f"{'':<24}" + "".join(f"{d:>{width}}" for d in designs) + f"   (x {designs[0]})"
    lines = [head, "-" * len(head)]
    fmts = {label: f for label, _, f in HEADLINE}
    for label, vals in table.items():
        first = vals[designs[0]]
        cells = "".join(f"{_cell(fmts[label], vals[d]):>{width}}" for d in designs)
        ratios = " ".join(
            "-" if not first or math.isnan(first) or math.isnan(vals[d]) else f"{vals[d] / first:.2f}"
            for d in designs[1:]
        )
        lines.append(f"{label:<24}{cells}   {ratios}")
    if KERNEL.NAME in designs:
        lines.append(
            f"(kernel: measured on this machine, {ds.attrs.get('kernel_release', '?')}, cgroup "
            f"v{ds.attrs.get('kernel_cgroup_version', '?')}, {ds.attrs.get('kernel_device', '?')}; "
            f"-: the kernel has no such figure; the model's designs: model time)"
        )
    return "\n".join(lines)


def _cell(fmt, value):
    return "-" if isinstance(value, float) and math.isnan(value) else fmt.format(value)


def format_run_table(ds) -> str:
    if ds.attrs["design"] == KERNEL.NAME:
        lines = [
            f"design kernel: measured on this machine ({ds.attrs.get('kernel_release')}, cgroup "
            f"v{ds.attrs.get('kernel_cgroup_version')}, {ds.attrs.get('kernel_device')}); "
            f"the kernel has no counter matrix"
        ]
        moved = ds.kernel_vmstat.isel(repeat=0) if ds.sizes.get("repeat", 0) == 1 else ds.kernel_vmstat.max("repeat")
        lines.append(
            "other /proc/vmstat counters that moved: "
            + ", ".join(
                f"{k}={int(v)}" for k, v in zip(moved.vmstat_counter.values, moved.values)
                if int(v) and k not in VMSTAT and not k.startswith("nr_")  # events, not gauges
            )
        )
    else:
        lines = [f"design {ds.attrs['design']}: counters by operation (rows) and primitive"]
        c = ds.counters
        used = [str(p) for p in c.primitive.values if int(c.sel(primitive=p).sum())]
        ops = [str(o) for o in c.op.values if int(c.sel(op=o).sum())]
        head = f"{'op':<16}" + "".join(f"{p:>16}" for p in used)
        lines += [head, "-" * len(head)]
        for o in ops:
            lines.append(f"{o:<16}" + "".join(f"{int(c.sel(op=o, primitive=p)):>16d}" for p in used))
    lines.append("")
    lines.append(
        "vmstat: " + ", ".join(f"{n}={int(ds[n])}" for n in VMSTAT if not math.isnan(float(ds[n])) and int(ds[n]))
    )
    what = "measured" if ds.attrs["design"] == KERNEL.NAME else "model"
    lines.append(
        f"{what} time per phase (ms, slowest task): "
        + ", ".join(f"{p}={float(t) / 1e6:.2f}" for p, t in zip(ds.phase.values, ds.task_time.max("task").values))
    )
    return "\n".join(lines)


def _number(x):
    """A JSON value: int for whole numbers, None for NaN (a figure the design lacks)."""
    x = float(x)
    return None if math.isnan(x) else (int(x) if x.is_integer() else x)


def _write_out(ds, args) -> int:
    if args.out:
        try:
            ds.to_netcdf(args.out, engine="h5netcdf")
        except Exception as exc:
            print(f"vswap-nb: could not write {args.out}: {exc}", file=sys.stderr)
            return 1
    return 0


def _plot(ds, args, kind) -> int:
    if not args.plot:
        return 0
    try:
        if kind == "compare":
            plot.cost_breakdown(ds, path=args.plot)
        elif kind == "sweep":
            plot.sweep_lines(ds, "direct_reclaim_share", list(args.over_names)[0], path=args.plot)
        else:
            plot.cost_breakdown(ds, path=args.plot)
    except Exception as exc:
        print(f"vswap-nb: could not write the plot {args.plot}: {exc}", file=sys.stderr)
        return 1
    return 0


def _with_swapoff(args, workload):
    if args.swapoff is None:
        return workload
    try:
        return wl.with_swapoff(workload, args.swapoff)
    except ValueError as exc:
        raise _ArgError(f"--swapoff: {exc}") from None


def _compare_like(args, workload) -> int:
    workload = _with_swapoff(args, workload)
    designs = _designs_arg(args.designs) if args.command != "run" else _designs_arg(args.design)
    system = _system(args, designs)
    options = _options(args, designs)
    seed = _seed_arg(args.seed)
    cost = _cost(args)
    failed = 0
    try:
        with _Bars(designs[0]) as bars:
            if args.command == "run":
                ds = api.simulate(
                    designs[0], workload, system, seed=seed, cost=cost, progress=bars, **options.get(designs[0], {})
                )
            else:
                ds = api.compare(
                    designs, workload, system, seed=seed, cost=cost, options=options, progress=bars,
                    compile_jobs=getattr(args, "compile_jobs", os.cpu_count() or 1),  # trace replay: every CPU
                )
    except (TypeError, ValueError) as exc:
        raise _ArgError(str(exc)) from None
    except (EngineError, KernelError) as exc:
        # a design whose run failed: reported here, the designs that finished still shown
        print(f"vswap-nb: {exc}", file=sys.stderr)
        ds, failed = getattr(exc, "results", None), 1
        if ds is None:
            return 1
    rc = _write_out(ds, args) or _plot(ds, args, "run" if args.command == "run" else "compare")
    if rc:
        return rc
    if args.json:
        if args.command == "run":
            out = {
                "design": ds.attrs["design"],
                "vmstat": {n: _number(ds[n]) for n in VMSTAT},
                "counters": None if ds.attrs["design"] == KERNEL.NAME else {
                    str(o): {str(p): int(ds.counters.sel(op=o, primitive=p)) for p in ds.primitive.values}
                    for o in ds.op.values
                },
                "model_time_ns": {str(p): _number(t) for p, t in zip(ds.phase.values, ds.model_time.values)},
                "phase_time_ns": {
                    str(p): float(t) for p, t in zip(ds.phase.values, ds.task_time.max("task").values)
                },
            }
        else:
            out = {label: {d: _number(x) for d, x in vals.items()} for label, vals in headline(ds).items()}
        print(json.dumps(out, indent=2))
        return 1 if failed else 0
    print(format_run_table(ds) if args.command == "run" else format_compare_table(ds))
    return 1 if failed else 0


def _compare(args) -> int:
    return _compare_like(args, parse_workload(args.workload))


def _trace(args) -> int:
    if args.trace_command == "record":
        w = parse_workload(args.workload)
        try:
            wl.write_trace(w, args.out)
        except ValueError as exc:
            raise _ArgError(f"--out: {exc}") from None
        print(f"wrote {args.out}: {w!r}")
        return 0
    try:
        w = wl.read_trace(args.file)
    except FileNotFoundError:
        raise _ArgError(f"trace file {args.file!r} does not exist") from None
    except ValueError as exc:
        msg = str(exc)
        raise _ArgError(msg if args.file in msg else f"trace file {args.file!r}: {msg}") from None
    if args.trace_command == "info":
        info = {
            "name": w.name,
            "params": w.params,
            "phases": list(w.phases),
            "tasks": w.ntasks,
            "address_spaces": w.nmm,
            "events": w.nevents,
            "page_events": int(w.page_events),
            "pages_mapped": int(w.total_pages),
        }
        print(json.dumps(info, indent=2) if args.json else "\n".join(f"{k:<16}{v}" for k, v in info.items()))
        return 0
    return _compare_like(args, w)


def _parse_over(args):
    over = {}
    for spec in args.over or []:
        name, eq, vals = spec.partition("=")
        name = name.strip()
        if not eq or not name or not vals.strip():
            raise _ArgError(f"--over {spec!r}: write NAME=v1,v2,..., e.g. --over memory_max=1G,2G")
        values = []
        for t in _split(vals):
            low = t.lower()
            if low in _ON:
                values.append(_ON[low])
            else:
                try:
                    values.append(int(t))
                except ValueError:
                    values.append(t)
        if name in over:
            raise _ArgError(f"--over {name} is given twice; give each parameter once")
        over[name] = values
    if not over:
        raise _ArgError("sweep needs at least one --over NAME=v1,v2")
    return over


def _sweep(args) -> int:
    designs = _designs_arg(args.designs)
    workload = _with_swapoff(args, parse_workload(args.workload))
    system = _system(args, designs)
    seed = _seed_arg(args.seed)
    over = _parse_over(args)
    args.over_names = list(over)
    try:
        with _Bars("sweep", unit="runs") as bars:
            ds = sweep(designs, workload, system, over, client=args.client, seed=seed, cost=_cost(args), progress=bars)
    except (TypeError, ValueError) as exc:
        raise _ArgError(str(exc)) from None
    except (EngineError, KernelError) as exc:
        print(f"vswap-nb: {exc}", file=sys.stderr)
        return 1
    rc = _write_out(ds, args) or _plot(ds, args, "sweep")
    if rc:
        return rc
    figs = ["pswpout", "allocstall", "direct_reclaim_share", "swap_ra"]
    flat = ds[figs].to_dataframe().reset_index()
    if args.json:
        print(flat.to_json(orient="records", indent=2))
    else:
        print(flat.to_string(index=False))
    return 0


def _add_run_options(p, designs_default=DEFAULT_DESIGNS, workload=True):
    if workload:
        p.add_argument("--workload", default=DEFAULT_WORKLOAD,
                       help=f'the workload, e.g. "usemem -n 32 -R 1536M", "memhog 48G" (default "{DEFAULT_WORKLOAD}")')
    p.add_argument("--ram", default="2G", help="RAM of the machine (default 2G)")
    p.add_argument("--memory-max", default=None, help="memory.max of the workload's cgroup (default: none)")
    p.add_argument("--swap", default="zram:8G", help="swap device KIND:SIZE, kind zram|pmem|brd|ssd|hdd (default zram:8G)")
    p.add_argument("--zswap", action="store_true", help="enable zswap in front of the device")
    p.add_argument(
        "--nr-cpus", default="auto",
        help="CPUs of the machine (default auto: 4, or this machine's CPUs if fewer when kernel runs)",
    )
    p.add_argument("--page-cluster", default="3", help="vm.page-cluster (default 3)")
    p.add_argument(
        "--faults", default=None,
        help="injected failures KIND=RATE[,KIND=RATE], kinds swap_alloc, zswap_reject, readahead, atomic_alloc",
    )
    p.add_argument("--swapoff", default=None, metavar="PHASE",
                   help="swap the device off at the start of this phase of the workload (e.g. read)")
    p.add_argument(
        "--cgroup-version", default="auto",
        help="cgroup version of the workload's memory cgroup, 1 or 2 (v2 charges zswap's pool to it); "
        "default auto: the machine's when kernel is among the designs, else 2",
    )
    p.add_argument(
        "--thp", default=None, metavar="SIZE=MODE[,...]",
        help="large anonymous folios, e.g. 64K=always (hugepages-<size>kB/enabled: always, inherit, "
        "madvise, never; sizes 16K..2M); default: none (every folio order 0)",
    )
    p.add_argument("--seed", default="0", help="seed of the workload's random choices (default 0)")
    p.add_argument(
        "--cost", default=None, metavar="FILE",
        help="a cost table (JSON, as vswap-nb calibrate --kernel writes it) instead of the defaults",
    )
    p.add_argument("--out", default=None, help="write the Dataset to this netCDF file")
    p.add_argument("--plot", default=None, help="write a figure to this PNG file")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vswap-nb", description="Linux swap metadata designs, side by side.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    o = sub.add_parser("overhead", help="metadata bytes per slot for a swap device")
    o.add_argument("--swap-size", default="32G", help="device size, e.g. 32G (default 32G)")
    o.add_argument("--designs", default=None, help="comma-separated design names (default: all)")
    o.add_argument("--usage", default="0,0.25,0.5,0.75,1", help="fractions of the device swapped out")
    o.add_argument("--backend", default="disk,zswap", help="disk, zswap or both")
    o.add_argument("--by-structure", action="store_true", help="also print the bytes of each structure")
    o.add_argument("--out", default=None, help="write the Dataset to this netCDF file")
    o.add_argument("--json", action="store_true", help="print machine-readable JSON")
    o.set_defaults(func=_overhead)
    d = sub.add_parser("designs", help="list the designs")
    d.set_defaults(func=_designs)
    cal = sub.add_parser("calibrate", help="a cost table measured on this machine (--kernel: fitted on the kernel)")
    cal.add_argument("--kernel", action="store_true",
                     help="fit the model's costs on this machine's kernel (root; ground-truth runs)")
    cal.add_argument("--out", default=None, help="write the cost table to this JSON file (for --cost FILE)")
    cal.add_argument("--repeat", default="3", help="kernel runs per case (default 3)")
    cal.add_argument("--train", default=None, help="comma-separated training cases (default: all)")
    cal.add_argument("--test", default=None, help="comma-separated held-out cases (default: all)")
    cal.add_argument("--json", action="store_true", help="print machine-readable JSON")
    cal.set_defaults(func=_calibrate)
    k = sub.add_parser("kernel-info", help="what this machine offers for kernel (ground-truth) runs")
    k.add_argument("--json", action="store_true", help="print machine-readable JSON")
    k.set_defaults(func=_kernel_info)
    c = sub.add_parser("compare", help="designs side by side on one workload")
    c.add_argument("--designs", default=DEFAULT_DESIGNS, help=f"comma-separated designs (default {DEFAULT_DESIGNS})")
    c.add_argument("--option", action="append", help="DESIGN:SWITCH=on|off, repeatable")
    c.add_argument(
        "--compile-jobs", type=int, default=os.cpu_count() or 1,
        help="processes that compile the designs' engines at once on a first run (default: this machine's CPUs)",
    )
    _add_run_options(c)
    c.set_defaults(func=_compare)
    r = sub.add_parser("run", help="one design: the full counter breakdown")
    r.add_argument("--design", required=True, help="the design")
    r.add_argument("--option", action="append", help="DESIGN:SWITCH=on|off, repeatable")
    _add_run_options(r)
    r.set_defaults(func=_compare)
    w = sub.add_parser("sweep", help="every combination of swept parameters")
    w.add_argument("--designs", default="classic,vswap_v6", help="comma-separated designs (default classic,vswap_v6)")
    w.add_argument("--over", action="append", help="NAME=v1,v2,... (repeatable): a switch, workload or system parameter")
    w.add_argument("--client", default=None, help='run on dask: "local" or a scheduler address tcp://host:8786')
    _add_run_options(w)
    w.set_defaults(func=_sweep)
    t = sub.add_parser("trace", help="record, describe or replay a workload trace")
    tsub = t.add_subparsers(dest="trace_command", parser_class=_Parser)
    tr = tsub.add_parser("record", help="write a workload's event stream to FILE.npz or FILE.csv")
    tr.add_argument("--workload", default=DEFAULT_WORKLOAD, help="the workload to record")
    tr.add_argument("--out", required=True, help="FILE.npz or FILE.csv")
    tr.set_defaults(func=_trace)
    ti = tsub.add_parser("info", help="describe a trace file")
    ti.add_argument("file")
    ti.add_argument("--json", action="store_true", help="print machine-readable JSON")
    ti.set_defaults(func=_trace)
    tp = tsub.add_parser("replay", help="compare designs on a recorded trace")
    tp.add_argument("file")
    tp.add_argument("--designs", default=DEFAULT_DESIGNS, help="comma-separated designs")
    tp.add_argument("--option", action="append", help="DESIGN:SWITCH=on|off, repeatable")
    _add_run_options(tp, workload=False)
    tp.set_defaults(func=_trace)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            raise _ArgError(
                "give a subcommand: compare, run, sweep, trace, overhead, designs, kernel-info or calibrate "
                "(see vswap-nb --help)"
            )
        if args.command == "trace" and not getattr(args, "trace_command", None):
            raise _ArgError("give a trace subcommand: record, info or replay")
        return int(args.func(args))
    except _ArgError as exc:
        print(f"vswap-nb: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 1
    except Exception as exc:  # pragma: no cover - reported, not hidden
        print(f"vswap-nb: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
