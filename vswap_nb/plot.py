"""Figures of the package's Datasets (matplotlib, no display needed).

Each function takes a Dataset made by :func:`vswap_nb.simulate`, :func:`vswap_nb.compare`,
:func:`vswap_nb.metadata_overhead` or a sweep, checks it, and returns a
``matplotlib.figure.Figure`` built without pyplot (so it draws with the Agg renderer on
a machine with no display and leaves no global figure state behind).  Given ``path``,
a function also writes the figure there as a PNG at 100 dpi.  Axis labels are each
variable's ``long_name`` and ``units`` attributes, as ``"long_name [units]"``.

cost_breakdown(ds, op=None, cost=None)
    Model cost of each kernel operation (alloc, free, swapin, ...) split by the
    primitive paid for: counters x ns per primitive from the cost table
    (:func:`vswap_nb.mm.cost.cost_vectors`).  One subplot per operation that costs
    anything in some design (or only ``op``), one stacked bar per design, one segment
    per primitive.  The primitives are grouped in families
    (:data:`vswap_nb.mm.cost.PRIMITIVE_FAMILY`: XArray, locks, tables and maps, memcg,
    allocation, device), each family one hue and its members shades of it, stacked
    together and named in the legend by family, so the stacks show at a glance *where*
    a design spends its time; the per-primitive figures are in the Dataset's
    ``counters`` and in ``vswap-nb run``'s table.
metadata_vs_usage(ds, backend="disk")
    Left: metadata bytes per usable swap slot against the fraction of the device
    swapped out, one line per design (static arrays show as a flat floor, on-demand
    tables as a slope).  Right: the metadata at the highest usage, one stacked bar per
    design, one segment per structure (swap_map, swap_table, descriptors, XArray
    nodes, ...).
vmstat(ds, names=(...))
    The /proc/vmstat-style counters of a run (pswpout, pswpin, swap_ra, allocstall,
    zswpwb, ...) as grouped bars, one bar per design within each counter's group, on a
    log scale when the counters span more than a factor of 100.
sweep_lines(ds, var, over)
    ``var`` against the swept dimension ``over`` (memory_max, a switch, ...), one line
    per design and per value of the other swept dimensions.

Nothing here is imported by ``import vswap_nb``; matplotlib is imported inside the
functions, after the input checks (it is a heavy import that only figures need).
"""
from __future__ import annotations

import itertools
import os

import numpy as np
import xarray as xr

from .core.counters import OPS, PRIMITIVES
from .inputs import check_names
from .mm.cost import FAMILIES, PRIMITIVE_FAMILY, cost_vectors

__all__ = ["cost_breakdown", "family_colors", "label", "metadata_vs_usage", "sweep_lines", "vmstat"]

VMSTAT_NAMES = (
    "pswpout",
    "pswpin",
    "swap_ra",
    "swap_ra_hit",
    "allocstall",
    "pgsteal_direct",
    "pgsteal_kswapd",
    "zswpout",
    "zswpwb",
)

# Dimensions a single run's variables have (results.run_dataset); any other dimension
# of a Dataset is a design or a swept parameter, which sweep_lines draws as lines.
RUN_DIMS = ("op", "primitive", "phase", "task", "structure")

DPI = 100
# the hue of each primitive family in cost_breakdown (a matplotlib sequential colormap;
# hues far apart: blue, magenta, green, purple, orange, grey)
FAMILY_COLORMAPS = {
    "XArray": "Blues",
    "locks": "PuRd",
    "tables and maps": "Greens",
    "memcg": "Purples",
    "allocation": "Oranges",
    "device": "Greys",
}
assert tuple(FAMILY_COLORMAPS) == FAMILIES, "one colormap per primitive family, in FAMILIES order"
SHADES = (0.4, 0.9)  # the part of a family's colormap its members' shades come from
LOG_RATIO = 100.0  # vmstat switches to a log y axis when max/min nonzero exceeds this


# --------------------------------------------------------------------------- helpers


def label(da) -> str:
    """``"long_name [units]"`` of a DataArray or coordinate; the name stands in for a
    missing ``long_name``, and the brackets are left out when ``units`` is missing."""
    attrs = getattr(da, "attrs", None)
    if attrs is None:
        raise TypeError(f"label needs an xarray DataArray or coordinate, got {type(da).__name__}")
    name = attrs.get("long_name") or (str(da.name) if da.name is not None else "")
    units = attrs.get("units")
    return f"{name} [{units}]" if units not in (None, "") else name


def _check_dataset(ds, func: str):
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{func}: ds must be an xarray.Dataset from vswap_nb, got {type(ds).__name__}")


def _check_path(path):
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be None or a file path (str or os.PathLike), got {type(path).__name__}")


def _need_var(ds, var: str, func: str, made_by: str):
    if var not in ds.data_vars:
        raise ValueError(
            f"{func}: ds has no variable {var!r}; it needs the Dataset of {made_by} "
            f"(ds has: {', '.join(map(str, ds.data_vars)) or 'no variables'})"
        )
    return ds[var]


def _need_dims(da, dims, func: str, made_by: str):
    missing = [d for d in dims if d not in da.dims]
    if missing:
        raise ValueError(
            f"{func}: ds[{da.name!r}] has no dimension {', '.join(map(repr, missing))} "
            f"(its dimensions: {', '.join(map(str, da.dims)) or 'none'}); "
            f"it needs the Dataset of {made_by}"
        )


def _designs(ds, da) -> list:
    """Design names along ``da``'s design dimension, or the single run's design."""
    if "design" in da.dims:
        return [str(v) for v in ds["design"].values]
    return [str(ds.attrs.get("design", "run"))]


def _colors(n_wanted: int | None = None):
    """A list of distinct colours: tab20's ten dark hues, then its ten light ones, then
    tab20b (40 colours), so neighbours in a stack never share a hue."""
    from matplotlib import colormaps  # heavy: imported when a figure is drawn

    t20 = list(colormaps["tab20"].colors)
    cols = t20[0::2] + t20[1::2] + list(colormaps["tab20b"].colors)
    if n_wanted is not None and n_wanted > len(cols):
        cols = cols * (n_wanted // len(cols) + 1)
    return cols


def family_colors():
    """({primitive: colour}, {family: colour}): each family's members evenly spread
    over ``SHADES`` of its colormap (a primitive keeps its colour in every figure; a
    family of one has the middle shade), the family's own colour the middle shade, for
    the legend."""
    from matplotlib import colormaps  # heavy: imported when a figure is drawn

    prim, fam = {}, {}
    lo, hi = SHADES
    for family, cmap_name in FAMILY_COLORMAPS.items():
        cmap = colormaps[cmap_name]
        members = [n for n in PRIMITIVES if PRIMITIVE_FAMILY[n] == family]
        for i, name in enumerate(members):
            prim[name] = cmap((lo + hi) / 2 if len(members) == 1 else lo + (hi - lo) * i / (len(members) - 1))
        fam[family] = cmap((lo + hi) / 2)
    return prim, fam


def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure  # heavy: imported when a figure is drawn

    return Figure(figsize=(width, height), layout="constrained")


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=DPI, format="png")
    return fig


def _stacked_bars(ax, xlabels, values, names, colors):
    """Stack ``values[segment, bar]`` on bars at x = 0..n-1, one segment per name."""
    x = np.arange(len(xlabels))
    bottom = np.zeros(len(xlabels))
    for i, name in enumerate(names):
        ax.bar(x, values[i], bottom=bottom, color=colors[i], label=name, width=0.7)
        bottom = bottom + values[i]
    if bottom.size and bottom.max() > 0:  # zero-height segments on top would pin the limit to the top
        ax.set_ylim(0, 1.05 * bottom.max())
    slanted = len(xlabels) > 3
    ax.set_xticks(x, xlabels, rotation=30 if slanted else 0, ha="right" if slanted else "center")


# --------------------------------------------------------------------------- cost_breakdown


def cost_breakdown(ds, op=None, cost=None, path=None):
    """Per-operation model cost by primitive, one stacked bar per design.

    ``ds`` is a :func:`vswap_nb.compare` Dataset (``counters`` over design, op,
    primitive) or one :func:`vswap_nb.simulate` Dataset (one bar, named by
    ``ds.attrs["design"]``).  Cost is counters x ns per primitive of ``cost`` (None for
    the default table, or a dict as for ``simulate``).  ``op`` None draws one subplot per
    operation with nonzero cost in any design; an op name draws that one only.
    """
    func = "cost_breakdown"
    made_by = "vswap_nb.compare() or vswap_nb.simulate()"
    _check_dataset(ds, func)
    _check_path(path)
    counters = _need_var(ds, "counters", func, made_by)
    _need_dims(counters, ("op", "primitive"), func, made_by)
    extra = [d for d in counters.dims if d not in ("design", "op", "primitive")]
    if extra:
        raise ValueError(
            f"{func}: ds['counters'] has dimensions {', '.join(map(repr, extra))} besides design, op "
            f"and primitive; select one value of each first, e.g. ds.isel({extra[0]}=0)"
        )
    prims = [str(p) for p in ds["primitive"].values]
    if prims != list(PRIMITIVES):
        raise ValueError(
            f"{func}: ds's primitive coordinate must be vswap_nb.core.counters.PRIMITIVES in order, got {prims}"
        )
    ops = [str(o) for o in ds["op"].values]
    if op is not None:
        if not isinstance(op, str):
            raise TypeError(f"{func}: op must be None or an operation name, got {type(op).__name__}")
        if op not in ops:
            raise ValueError(f"{func}: unknown op {op!r}; ops in ds: {', '.join(ops)} (all ops: {', '.join(OPS)})")
    prim_ns, _ = cost_vectors(cost)

    designs = _designs(ds, counters)
    c = counters.transpose(*(("design",) if "design" in counters.dims else ()), "op", "primitive").values
    c = np.asarray(c, dtype=np.float64).reshape(len(designs), len(ops), len(prims))
    ns = c * prim_ns[None, None, :]  # [design, op, primitive]
    if op is None:
        shown = [i for i in range(len(ops)) if np.any(ns[:, i, :] != 0)]
    else:
        shown = [ops.index(op)]
    shown_prims = [j for j in range(len(prims)) if np.any(ns[:, shown, j] != 0)] if shown else []
    # stacked family by family (FAMILIES order), each family's members in PRIMITIVES order
    shown_prims.sort(key=lambda j: (FAMILIES.index(PRIMITIVE_FAMILY[prims[j]]), j))

    n = max(len(shown), 1)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig = _new_figure(2.0 + 1.2 * ncols * max(len(designs), 2) + 2.5, 3.2 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    from matplotlib.patches import Patch  # heavy: imported when a figure is drawn

    colors, family_color = family_colors()
    if not shown:
        ax = axes[0]
        ax.text(0.5, 0.5, "no modelled cost in any operation", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks(range(len(designs)), designs)
        ax.set_ylabel("model cost [ns]")
    for ax, oi in zip(axes, shown):
        here = [j for j in shown_prims if np.any(ns[:, oi, j] != 0)]  # draw only what this op pays
        _stacked_bars(ax, designs, ns[:, oi, here].T, [prims[j] for j in here], [colors[prims[j]] for j in here])
        ax.set_title(ops[oi])
        ax.set_ylabel("model cost [ns]")
    if shown_prims:
        families = [f for f in FAMILIES if any(PRIMITIVE_FAMILY[prims[j]] == f for j in shown_prims)]
        handles = [Patch(color=family_color[f], label=f) for f in families]
        fig.legend(handles=handles, loc="outside right upper", title="primitive family", fontsize="small")
    fig.suptitle("model cost by operation and primitive (shades of a family's hue)")
    return _finish(fig, path)


# --------------------------------------------------------------------------- metadata


def metadata_vs_usage(ds, backend="disk", path=None):
    """Metadata per slot against usage (left) and by structure at the highest usage
    (right), from a :func:`vswap_nb.metadata_overhead` Dataset, for one ``backend``."""
    func = "metadata_vs_usage"
    made_by = "vswap_nb.metadata_overhead()"
    _check_dataset(ds, func)
    _check_path(path)
    per_slot = _need_var(ds, "bytes_per_slot", func, made_by)
    by_struct = _need_var(ds, "metadata_bytes_by_structure", func, made_by)
    _need_dims(per_slot, ("design", "backend", "usage"), func, made_by)
    _need_dims(by_struct, ("design", "backend", "usage", "structure"), func, made_by)
    backends = [str(b) for b in ds["backend"].values]
    if not isinstance(backend, str):
        raise TypeError(f"{func}: backend must be a backend name, got {type(backend).__name__}")
    if backend not in backends:
        raise ValueError(f"{func}: backend {backend!r} is not in ds; ds has backend {', '.join(backends)}")
    if ds.sizes["usage"] == 0:
        raise ValueError(f"{func}: ds has no usage values; run metadata_overhead with at least one usage")

    designs = [str(d) for d in ds["design"].values]
    usage = np.asarray(ds["usage"].values, dtype=np.float64)
    order = np.argsort(usage, kind="stable")
    ps = per_slot.sel(backend=backend).transpose("design", "usage").values
    top = int(np.argmax(usage))
    bs = by_struct.sel(backend=backend).isel(usage=top).transpose("structure", "design").values
    structures = [str(s) for s in ds["structure"].values]
    keep = [i for i in range(len(structures)) if np.any(bs[i] != 0)]

    fig = _new_figure(11.0, 4.2)
    ax_l, ax_r = fig.subplots(1, 2)
    for di, name in enumerate(designs):
        ax_l.plot(usage[order], ps[di, order], marker="o", label=name)
    ax_l.set_xlabel(label(ds["usage"]))
    ax_l.set_ylabel(label(per_slot))
    ax_l.set_ylim(bottom=0)
    ax_l.legend(title="design", fontsize="small")
    ax_l.set_title(f"backend: {backend}")
    palette = _colors()
    _stacked_bars(ax_r, designs, bs[keep].astype(np.float64), [structures[i] for i in keep],
                  [palette[i % len(palette)] for i in keep])
    ax_r.set_ylabel(label(by_struct))
    ax_r.set_title(f"backend: {backend}, at the highest usage ({usage[top]:g})")
    if keep:
        ax_r.legend(title="structure", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _finish(fig, path)


# --------------------------------------------------------------------------- vmstat


def vmstat(ds, names=VMSTAT_NAMES, path=None):
    """The vmstat-style counters ``names`` of a :func:`vswap_nb.compare` (or one
    :func:`vswap_nb.simulate`) Dataset as grouped bars, one bar per design."""
    func = "vmstat"
    _check_dataset(ds, func)
    _check_path(path)
    available = [
        str(k) for k, v in ds.data_vars.items()
        if set(v.dims) <= {"design"} and np.issubdtype(v.dtype, np.number)
    ]
    names = check_names(names, f"{func}: names", available)
    bad_type = [n for n in names if not isinstance(n, str)]
    if bad_type:
        raise TypeError(f"{func}: names must be strings, got {bad_type!r}")
    missing = [n for n in names if n not in available]
    if missing:
        raise ValueError(
            f"{func}: names {', '.join(map(repr, missing))} are not per-design counters in ds; "
            f"available: {', '.join(available) or 'none (pass a simulate() or compare() Dataset)'}"
        )
    first = ds[names[0]]
    designs = _designs(ds, first)
    values = np.stack([
        np.asarray(ds[n].values, dtype=np.float64).reshape(-1) if "design" in ds[n].dims
        else np.full(len(designs), float(ds[n].values))
        for n in names
    ])  # [name, design]
    units = sorted({str(ds[n].attrs.get("units", "")) for n in names} - {""})

    fig = _new_figure(max(5.0, 0.6 * len(names) * max(len(designs), 2) + 2.0), 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(names))
    width = 0.8 / len(designs)
    for di, name in enumerate(designs):
        ax.bar(x - 0.4 + width * (di + 0.5), values[:, di], width=width, label=name)
    ax.set_xticks(x, names, rotation=30, ha="right")
    nz = values[values > 0]
    if nz.size and nz.max() / nz.min() > LOG_RATIO:
        ax.set_yscale("log")
    if len(names) == 1:
        ax.set_ylabel(label(first))
    else:
        ax.set_ylabel(f"vmstat counters [{', '.join(units) or '1'}]")
    ax.set_xlabel("counter")
    ax.legend(title="design", fontsize="small")
    return _finish(fig, path)


# --------------------------------------------------------------------------- sweeps


def sweep_lines(ds, var, over, path=None):
    """``ds[var]`` against the swept dimension ``over``, one line per design and per
    value of each other swept dimension.

    Dimensions a single run has (phase, task, op, primitive, structure) must be
    selected away first (``ds.sel(phase="write")``) unless they have one value.
    """
    func = "sweep_lines"
    _check_dataset(ds, func)
    _check_path(path)
    if not isinstance(var, str):
        raise TypeError(f"{func}: var must be a variable name, got {type(var).__name__}")
    if not isinstance(over, str):
        raise TypeError(f"{func}: over must be a dimension name, got {type(over).__name__}")
    if var not in ds.data_vars:
        raise ValueError(
            f"{func}: var {var!r} is not a variable of ds; variables: {', '.join(map(str, ds.data_vars))}"
        )
    if over not in ds.dims:
        raise ValueError(
            f"{func}: over {over!r} is not a dimension of ds; dimensions: {', '.join(map(str, ds.dims))}"
        )
    da = ds[var]
    if over not in da.dims:
        raise ValueError(
            f"{func}: var {var!r} does not vary along over={over!r} (its dimensions: "
            f"{', '.join(map(str, da.dims)) or 'none'})"
        )
    if not np.issubdtype(da.dtype, np.number) and da.dtype != bool:
        raise TypeError(f"{func}: var {var!r} must be numeric to plot, it is {da.dtype}")
    extra = [d for d in da.dims if d in RUN_DIMS and d != over and da.sizes[d] > 1]
    if extra:
        raise ValueError(
            f"{func}: var {var!r} has dimensions besides the sweep: "
            f"{', '.join(f'{d} ({da.sizes[d]} values)' for d in extra)}; select one value of each "
            f"first, e.g. ds.sel({extra[0]}={ds[extra[0]].values[0]!r}) or ds.isel({extra[0]}=0)"
        )
    line_dims = [d for d in da.dims if d != over]
    named = [d for d in line_dims if da.sizes[d] > 1]  # the dims that tell lines apart

    if over in ds.coords:
        xcoord = ds[over]
        xlabel = label(xcoord)
        xv = np.asarray(xcoord.values)
    else:
        xlabel = over
        xv = np.arange(ds.sizes[over])
    numeric_x = np.issubdtype(xv.dtype, np.number)
    xpos = xv.astype(np.float64) if numeric_x else np.arange(xv.size)

    fig = _new_figure(7.0, 4.2)
    ax = fig.add_subplot()
    for idx in itertools.product(*(range(da.sizes[d]) for d in line_dims)):
        sel = dict(zip(line_dims, idx))
        y = np.asarray(da.isel(sel).transpose(over).values, dtype=np.float64)
        parts = []
        for d in named:
            v = ds[d].values[sel[d]] if d in ds.coords else sel[d]
            parts.append(str(v) if d == "design" else f"{d}={v}")
        order = np.argsort(xpos, kind="stable") if numeric_x else np.arange(xpos.size)
        ax.plot(xpos[order], y[order], marker="o", label=", ".join(parts) or var)
    if not numeric_x:
        ax.set_xticks(xpos, [str(v) for v in xv])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(label(da))
    if named:
        ax.legend(fontsize="small")
    return _finish(fig, path)
