"""The ``vswap-nb`` command.

Subcommands so far:

``vswap-nb overhead [--swap-size 32G] [--designs a,b] [--usage 0,.25,.5,.75,1]
[--backend disk,zswap] [--by-structure] [--out FILE.nc] [--json]``
    the metadata-overhead table: bytes of swap metadata per usable slot for each
    design and backend at each usage level.
``vswap-nb designs``
    the designs that work, with what each models.

Exit codes: 0 ok, 2 bad arguments (the argument is named and the fix said), 1 anything
else.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import api
from .core.units import format_size
from .designs import get_design


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
    for name in api.designs():
        m = get_design(name)
        print(f"{name:<12} {m.SUMMARY}")
        if m.OPTIONS:
            print(" " * 13 + "switches: " + ", ".join(f"{k}={v}" for k, v in m.OPTIONS.items()))
    return 0


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
    return p


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            raise _ArgError("give a subcommand: overhead or designs (see vswap-nb --help)")
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
