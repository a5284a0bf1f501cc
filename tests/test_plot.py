"""vswap_nb.plot on small synthetic Datasets shaped like the package's results
(no simulation runs: those compile for minutes)."""
from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
import xarray as xr

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.colors  # noqa: E402
import matplotlib.image  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vswap_nb import plot  # noqa: E402
from vswap_nb.core.counters import OPS, PRIMITIVES  # noqa: E402
from vswap_nb.core.metadata import N_STRUCTURES  # noqa: E402
from vswap_nb.core.vmstat import VMSTAT_DESCRIPTIONS  # noqa: E402
from vswap_nb.mm.cost import FAMILIES, PRIMITIVE_FAMILY  # noqa: E402
from vswap_nb.results import metadata_dataset  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DESIGNS = ["classic", "vswap_v5"]


def _coord(name, values, long_name):
    return (name, values, {"long_name": long_name, "units": "1"})


def compare_ds(seed=0):
    """Like compare(): counters (design, op, primitive) and per-design vmstat scalars."""
    rng = np.random.default_rng(seed)
    # sparse, as in real runs: each op touches a few primitives
    counters = rng.integers(0, 1000, size=(len(DESIGNS), len(OPS), len(PRIMITIVES)), dtype=np.int64)
    counters *= rng.random(counters.shape) < 0.15
    counters[:, :, PRIMITIVES.index("xa_lookup")] += 1
    counters[:, :, PRIMITIVES.index("desc_read")] += 1
    counters[:, OPS.index("swapoff")] = 0  # an op no design touched: no subplot
    counters[:, :, PRIMITIVES.index("pte_read")] = 0  # a primitive nobody touched: no segment
    data = {
        "counters": (
            ("design", "op", "primitive"),
            counters,
            {"long_name": "metadata accesses by operation and primitive", "units": "count"},
        ),
    }
    for name, desc in VMSTAT_DESCRIPTIONS.items():
        data[name] = (("design",), rng.integers(1, 50, size=len(DESIGNS)), {"long_name": desc, "units": "count"})
    data["pswpout"] = (("design",), np.array([100_000, 200_000]), {"long_name": "pages written", "units": "count"})
    return xr.Dataset(
        data,
        coords={
            "design": _coord("design", DESIGNS, "metadata design"),
            "op": _coord("op", list(OPS), "kernel operation"),
            "primitive": _coord("primitive", list(PRIMITIVES), "metadata primitive"),
        },
        attrs={"designs": ",".join(DESIGNS)},
    )


def simulate_ds():
    """Like simulate(): no design dimension, the design in the attributes."""
    ds = compare_ds().isel(design=0, drop=True)
    ds.attrs = {"design": "classic"}
    return ds


def metadata_ds():
    """Built by the same constructor as metadata_overhead(), on made-up bytes."""
    rng = np.random.default_rng(1)
    usage = [0.0, 0.5, 1.0]
    by = rng.integers(0, 10_000, size=(len(DESIGNS), 2, len(usage), N_STRUCTURES), dtype=np.int64)
    by[..., 3] = 0  # a structure no design keeps
    used = np.zeros((len(DESIGNS), 2, len(usage)), dtype=np.int64)
    return metadata_dataset(
        DESIGNS, ["disk", "zswap"], usage, by, used, nslots=4096, swap_size=16 << 20, parameters={}
    )


def sweep_ds():
    """Like a sweep over memory_max: model_time (design, memory_max, phase)."""
    rng = np.random.default_rng(2)
    mm = np.array([256, 512, 1024]) << 20
    return xr.Dataset(
        {
            "model_time": (
                ("design", "memory_max", "phase"),
                rng.random((len(DESIGNS), mm.size, 2)) * 1e9,
                {"long_name": "model time of the phase (slowest task)", "units": "ns"},
            ),
            "live_entries": (
                ("design", "memory_max"),
                rng.integers(0, 100, size=(len(DESIGNS), mm.size)),
                {"long_name": "swap entries still allocated at the end", "units": "entries"},
            ),
        },
        coords={
            "design": _coord("design", DESIGNS, "metadata design"),
            "memory_max": ("memory_max", mm, {"long_name": "memory.max of the cgroup", "units": "bytes"}),
            "phase": _coord("phase", ["write", "free"], "workload phase"),
        },
    )


def check_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert img.shape[0] > 100 and img.shape[1] > 100


def axis_labels(fig):
    return [a.get_xlabel() for a in fig.axes] + [a.get_ylabel() for a in fig.axes]


# --------------------------------------------------------------------------- label


def test_label_formats_long_name_and_units():
    ds = sweep_ds()
    assert plot.label(ds["model_time"]) == "model time of the phase (slowest task) [ns]"
    assert plot.label(ds["memory_max"]) == "memory.max of the cgroup [bytes]"
    assert plot.label(xr.DataArray([1], name="x")) == "x"
    with pytest.raises(TypeError, match="label"):
        plot.label(np.zeros(3))


def test_plot_imports_matplotlib_only_inside_functions():
    # so that `import vswap_nb.plot` stays light (a subprocess import check costs ~2 s);
    # xarray is imported by `import vswap_nb` anyway (results.py)
    tree = ast.parse(pathlib.Path(plot.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top for a in n.names] + [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.startswith("matplotlib")]
    # and every import inside a function is matplotlib's
    inner = [
        n for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
        for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))
    ]
    assert inner and all(
        (n.module if isinstance(n, ast.ImportFrom) else n.names[0].name).startswith("matplotlib") for n in inner
    )


# --------------------------------------------------------------------------- cost_breakdown


def test_cost_breakdown_one_axis_per_costly_op(tmp_path):
    ds = compare_ds()
    path = tmp_path / "cost.png"
    fig = plot.cost_breakdown(ds, path=path)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(OPS) - 1  # swapoff costs nothing anywhere
    assert [a.get_title() for a in fig.axes] == [o for o in OPS if o != "swapoff"]
    assert all(a.get_ylabel() == "model cost [ns]" for a in fig.axes)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == DESIGNS
    legend_names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(fig.legends) == 1
    assert fig.legends[0].get_title().get_text() == "primitive family"
    assert "XArray" in legend_names and "xa_lookup" not in legend_names
    check_png(path)


def _hue(color):
    return float(matplotlib.colors.rgb_to_hsv(matplotlib.colors.to_rgb(color))[0])


def _hue_distance(a, b):
    d = abs(a - b) % 1.0
    return min(d, 1.0 - d)


def test_cost_breakdown_groups_primitives_by_family_one_hue_each():
    ds = compare_ds()
    fig = plot.cost_breakdown(ds)
    # the legend names the families that cost anything, in FAMILIES order
    legend = fig.legends[0]
    names = [t.get_text() for t in legend.get_texts()]
    paid = {PRIMITIVE_FAMILY[p] for p in PRIMITIVES if p != "pte_read"}  # pte_read is never counted here
    assert names == [f for f in FAMILIES if f in paid] and len(names) >= 5
    family_color = dict(zip(names, (h.get_facecolor() for h in legend.legend_handles)))
    grey = {f for f, c in family_color.items() if matplotlib.colors.rgb_to_hsv(matplotlib.colors.to_rgb(c))[1] < 0.05}
    assert grey == ({"device"} & paid)
    hues = {f: _hue(c) for f, c in family_color.items() if f not in grey}
    assert min(_hue_distance(hues[a], hues[b]) for a in hues for b in hues if a < b) > 0.05
    seen = {}
    for ax in fig.axes:
        segments = [(c.get_label(), c.patches[0].get_facecolor()) for c in ax.containers]
        assert segments, ax.get_title()
        fams = [PRIMITIVE_FAMILY[name] for name, _ in segments]
        # a family's members are stacked together, families in FAMILIES order
        assert [FAMILIES.index(f) for f in fams] == sorted(FAMILIES.index(f) for f in fams), fams
        for (name, color), fam in zip(segments, fams):
            seen.setdefault(name, color)
            assert seen[name] == color  # a primitive keeps its colour in every subplot
            if fam in grey:
                assert matplotlib.colors.rgb_to_hsv(matplotlib.colors.to_rgb(color))[1] < 0.05
            else:  # a shade of its family's hue, nearer it than any other family's
                h = _hue(color)
                assert min(hues, key=lambda f: _hue_distance(h, hues[f])) == fam, (name, fam, h)
    # the members of a family are told apart by their shade
    for fam in FAMILIES:
        cols = [seen[n] for n in seen if PRIMITIVE_FAMILY[n] == fam]
        assert len(set(cols)) == len(cols), fam


def test_every_primitive_has_one_family():
    assert tuple(PRIMITIVE_FAMILY) == PRIMITIVES
    assert set(PRIMITIVE_FAMILY.values()) == set(FAMILIES)
    assert PRIMITIVE_FAMILY["xa_node_visit"] == "XArray" and PRIMITIVE_FAMILY["cluster_lock"] == "locks"
    assert PRIMITIVE_FAMILY["memcg_charge"] == "memcg" and PRIMITIVE_FAMILY["vmalloc"] == "allocation"
    assert PRIMITIVE_FAMILY["desc_read"] == "tables and maps" and PRIMITIVE_FAMILY["slot_free_notify"] == "device"


def test_cost_breakdown_bar_heights_are_counters_times_cost():
    ds = compare_ds()
    cost = {name: 0.0 for name in PRIMITIVES} | {"xa_lookup": 2.0, "desc_read": 3.0}
    fig = plot.cost_breakdown(ds, op="alloc", cost=cost)
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "alloc"
    c = ds["counters"].sel(op="alloc")
    want = 2.0 * c.sel(primitive="xa_lookup").values + 3.0 * c.sel(primitive="desc_read").values
    bars = fig.axes[0].patches
    assert len(bars) == 2 * len(DESIGNS)  # two primitives cost anything, one bar each per design
    tops = [max(b.get_y() + b.get_height() for b in bars if abs(b.get_x() + b.get_width() / 2 - i) < 0.5)
            for i in range(len(DESIGNS))]
    np.testing.assert_allclose(tops, want)


def test_cost_breakdown_single_simulate_run(tmp_path):
    fig = plot.cost_breakdown(simulate_ds(), op="free", path=tmp_path / "one.png")
    assert len(fig.axes) == 1
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["classic"]
    check_png(tmp_path / "one.png")


def test_cost_breakdown_all_zero_still_draws_one_axis():
    ds = compare_ds()
    ds["counters"][:] = 0
    assert len(plot.cost_breakdown(ds).axes) == 1


def test_cost_breakdown_bad_input():
    ds = compare_ds()
    with pytest.raises(TypeError, match="ds must be an xarray.Dataset"):
        plot.cost_breakdown(ds["counters"])
    with pytest.raises(ValueError, match="no variable 'counters'"):
        plot.cost_breakdown(ds.drop_vars("counters"))
    with pytest.raises(ValueError, match="unknown op 'fork'.*alloc"):
        plot.cost_breakdown(ds, op="fork")
    with pytest.raises(TypeError, match="op must be"):
        plot.cost_breakdown(ds, op=3)
    with pytest.raises(ValueError, match="cost has an unknown name"):
        plot.cost_breakdown(ds, cost={"nonsense": 1.0})
    with pytest.raises(ValueError, match="'seed'.*select one value"):
        plot.cost_breakdown(ds.expand_dims(seed=[1, 2]))
    with pytest.raises(TypeError, match="path"):
        plot.cost_breakdown(ds, path=3)


# --------------------------------------------------------------------------- metadata


def test_metadata_vs_usage(tmp_path):
    ds = metadata_ds()
    path = tmp_path / "md.png"
    fig = plot.metadata_vs_usage(ds, backend="zswap", path=path)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    left, right = fig.axes
    assert left.get_xlabel() == "fraction of the swap device's slots swapped out [1]"
    assert left.get_ylabel() == "swap metadata per usable swap slot [bytes/slot]"
    assert right.get_ylabel() == "swap metadata in use, by structure [bytes]"
    assert len(left.get_lines()) == len(DESIGNS)
    want = ds["bytes_per_slot"].sel(backend="zswap").values[1]
    np.testing.assert_allclose(left.get_lines()[1].get_ydata(), want)
    # one segment per design for each structure kept somewhere; structure 3 is all zero
    top = ds["metadata_bytes_by_structure"].sel(backend="zswap").isel(usage=-1).values  # [design, structure]
    kept = int(np.any(top != 0, axis=0).sum())
    assert len(right.patches) == kept * len(DESIGNS)
    assert str(ds["structure"].values[3]) not in [t.get_text() for t in right.get_legend().get_texts()]
    check_png(path)


def test_metadata_vs_usage_bad_input():
    ds = metadata_ds()
    with pytest.raises(ValueError, match="backend 'ssd'.*disk, zswap"):
        plot.metadata_vs_usage(ds, backend="ssd")
    with pytest.raises(ValueError, match="'bytes_per_slot'.*metadata_overhead"):
        plot.metadata_vs_usage(ds.drop_vars("bytes_per_slot"))
    with pytest.raises(ValueError, match="dimension 'backend'"):
        plot.metadata_vs_usage(ds.isel(backend=0, drop=True))
    with pytest.raises(TypeError, match="ds must be"):
        plot.metadata_vs_usage({"bytes_per_slot": 1})


# --------------------------------------------------------------------------- vmstat


def test_vmstat_grouped_bars_log_scale(tmp_path):
    ds = compare_ds()
    path = tmp_path / "vm.png"
    fig = plot.vmstat(ds, path=path)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.patches) == len(plot.VMSTAT_NAMES) * len(DESIGNS)
    assert ax.get_yscale() == "log"  # pswpout is 1e5, the rest below 50
    assert "count" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == list(plot.VMSTAT_NAMES)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == DESIGNS
    check_png(path)


def test_vmstat_one_counter_linear_and_labelled():
    fig = plot.vmstat(compare_ds(), names="zswpwb")
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear"
    assert ax.get_ylabel() == f"{VMSTAT_DESCRIPTIONS['zswpwb']} [count]"
    assert len(ax.patches) == len(DESIGNS)


def test_vmstat_single_run():
    fig = plot.vmstat(simulate_ds(), names=["pswpin", "swap_ra"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["classic"]
    assert len(fig.axes[0].patches) == 2


def test_vmstat_bad_names():
    ds = compare_ds()
    with pytest.raises(ValueError, match="'nope'.*available: .*pswpin"):
        plot.vmstat(ds, names=["pswpin", "nope"])
    with pytest.raises(ValueError, match="'counters'"):  # not a per-design scalar
        plot.vmstat(ds, names=["counters"])
    with pytest.raises(ValueError, match="names must not be empty"):
        plot.vmstat(ds, names=[])
    with pytest.raises(TypeError, match="names must be"):
        plot.vmstat(ds, names=5)


# --------------------------------------------------------------------------- sweeps


def test_sweep_lines(tmp_path):
    ds = sweep_ds()
    path = tmp_path / "sweep.png"
    fig = plot.sweep_lines(ds.sel(phase="free"), "model_time", "memory_max", path=path)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xlabel() == "memory.max of the cgroup [bytes]"
    assert ax.get_ylabel() == "model time of the phase (slowest task) [ns]"
    assert len(ax.get_lines()) == len(DESIGNS)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == DESIGNS
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), ds["model_time"].sel(phase="free").values[1])
    check_png(path)


def test_sweep_lines_one_line_per_combination():
    ds = sweep_ds().expand_dims(seed=[1, 2, 3])
    ds["seed"].attrs = {"long_name": "random seed", "units": "1"}
    fig = plot.sweep_lines(ds, "live_entries", "memory_max")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(labels) == 3 * len(DESIGNS)
    assert "seed=2, classic" in labels
    # sweeping over design itself: x is categorical
    fig = plot.sweep_lines(sweep_ds(), "live_entries", "design")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == DESIGNS
    assert len(fig.axes[0].get_lines()) == 3


def test_sweep_lines_bad_input():
    ds = sweep_ds()
    with pytest.raises(ValueError, match=r"phase \(2 values\).*sel"):
        plot.sweep_lines(ds, "model_time", "memory_max")
    with pytest.raises(ValueError, match="var 'nope'.*model_time"):
        plot.sweep_lines(ds, "nope", "memory_max")
    with pytest.raises(ValueError, match="over 'seed'.*memory_max"):
        plot.sweep_lines(ds, "live_entries", "seed")
    with pytest.raises(ValueError, match="does not vary along over='phase'"):
        plot.sweep_lines(ds, "live_entries", "phase")
    with pytest.raises(TypeError, match="ds must be"):
        plot.sweep_lines(ds["model_time"], "model_time", "memory_max")
    with pytest.raises(TypeError, match="var must be"):
        plot.sweep_lines(ds, 1, "memory_max")
