"""metadata_overhead(): bytes measured from each design's state, the Dataset it returns,
and its input checks."""
import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import vswap_nb
from vswap_nb.core.metadata import STRUCTURES

SLOTS_64M = 16384  # 64 MiB of 4 KiB slots: 32 clusters of 512, one zswap tree


@pytest.fixture(scope="module")
def ds64():
    return vswap_nb.metadata_overhead(swap_size="64M", usage=(0, 0.5, 1))


def by(ds, design, backend, usage):
    sel = ds.metadata_bytes_by_structure.sel(design=design, backend=backend, usage=usage)
    return {s: int(v) for s, v in zip(ds.structure.values, sel.values) if int(v)}


def test_designs_lists_what_works():
    assert vswap_nb.designs() == ("classic", "swap_table", "vswap_v5", "vswap_v6", "vswap_ste", "ghost")


def test_swap_table_bytes_by_structure(ds64):
    # empty: 48 B of cluster_info per cluster, and cluster 0 (holding the header slot)
    # has its table and memcg table from swapon
    assert by(ds64, "swap_table", "disk", 0.0) == {
        "cluster_info": 32 * 48,
        "swap_table": 4096,
        "memcg_table": 1024,
        "zswap_trees": 16,
    }
    # full: every cluster populated
    assert by(ds64, "swap_table", "disk", 1.0) == {
        "cluster_info": 32 * 48,
        "swap_table": 32 * 4096,
        "memcg_table": 32 * 1024,
        "zswap_trees": 16,
    }
    # zswap: plus a 56-byte entry per page and the tree's nodes (256 leaves over
    # offsets 1..16383, 4 nodes above them, one root)
    z = by(ds64, "swap_table", "zswap", 1.0)
    assert z["zswap_entry"] == 56 * (SLOTS_64M - 1)
    assert z["zswap_xa_nodes"] == 576 * (256 + 4 + 1)


def test_classic_bytes_by_structure(ds64):
    assert by(ds64, "classic", "disk", 1.0) == {
        "swap_map": SLOTS_64M,
        "swap_cgroup": 2 * SLOTS_64M,
        "zeromap": SLOTS_64M // 8,
        "cluster_info": 32 * 32,
        "swap_table": 32 * 4096,
        "zswap_trees": 16,
    }
    # the static arrays are there before anything is swapped out
    empty = by(ds64, "classic", "disk", 0.0)
    assert empty["swap_map"] == SLOTS_64M and empty["swap_table"] == 4096


def test_per_slot_figures_match_the_thread(ds64):
    full = ds64.bytes_per_slot.sel(backend="disk", usage=1.0)
    # Kairui: mm-stable uses 11 bytes per slot (8 dynamic + 3 static); P4 about 10
    assert full.sel(design="classic") == pytest.approx(11.19, abs=0.01)
    assert full.sel(design="swap_table") == pytest.approx(10.09, abs=0.01)
    # P4's static overhead is 48 B per 512-slot cluster: 0.094 B/slot
    static = ds64.metadata_bytes_by_structure.sel(design="swap_table", structure="cluster_info")
    assert float(static.isel(backend=0, usage=0)) / SLOTS_64M == pytest.approx(0.09375)


def test_usage_counts_and_monotonic_growth(ds64):
    used = ds64.swapped_entries.sel(design="swap_table", backend="disk").values
    assert list(used) == [0, round(0.5 * (SLOTS_64M - 1)), SLOTS_64M - 1]
    for d in ds64.design.values:
        for b in ds64.backend.values:
            assert np.all(np.diff(ds64.metadata_bytes.sel(design=d, backend=b).values) > 0)
    assert np.array_equal(ds64.metadata_bytes.values, ds64.metadata_bytes_by_structure.sum("structure").values)


def test_dataset_shape_and_attributes(ds64):
    assert ds64.metadata_bytes.dims == ("design", "backend", "usage")
    assert ds64.metadata_bytes_by_structure.dims == ("design", "backend", "usage", "structure")
    assert list(ds64.structure.values) == list(STRUCTURES)
    assert ds64.metadata_bytes.dtype == np.int64
    for name in list(ds64.data_vars) + list(ds64.coords):
        assert ds64[name].attrs.get("long_name"), name
        assert "units" in ds64[name].attrs, name
    params = json.loads(ds64.attrs["parameters"])
    assert params["swap_size"] == 64 << 20 and params["backend"] == ["disk", "zswap"]
    assert ds64.attrs["vswap_nb_version"] == vswap_nb.__version__


def test_unsorted_usage_is_measured_in_the_order_given():
    ds = vswap_nb.metadata_overhead(["swap_table"], "16M", usage=(1, 0), backend="disk")
    assert list(ds.usage.values) == [1.0, 0.0]
    b = ds.metadata_bytes.sel(design="swap_table", backend="disk").values
    assert b[0] > b[1]


def test_netcdf_round_trip(tmp_path):
    ds = vswap_nb.metadata_overhead(["classic"], "16M", usage=(0, 1))
    path = tmp_path / "m.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    back = xr.load_dataset(path, engine="h5netcdf")
    assert back.metadata_bytes.dtype == np.int64
    xr.testing.assert_identical(back, ds)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"swap_size": "12Q"}, ValueError, "swap_size"),
        ({"swap_size": -5}, ValueError, "swap_size"),
        ({"swap_size": "4k"}, ValueError, "swap_size"),
        ({"swap_size": "2P"}, ValueError, "2\\*\\*50"),
        ({"swap_size": [1]}, TypeError, "swap_size"),
        ({"usage": (0, 1.5)}, ValueError, "usage"),
        ({"usage": (-0.1,)}, ValueError, "usage"),
        ({"usage": ()}, ValueError, "usage"),
        ({"usage": ("half",)}, TypeError, "usage"),
        ({"backend": "nvme"}, ValueError, "backend"),
        ({"designs": "vswap_v9"}, ValueError, "valid names"),
        ({"designs": 3}, TypeError, "designs"),
        ({"designs": ["classic", "classic"]}, ValueError, "twice"),
        ({"cluster_size": 500}, ValueError, "cluster_size"),
    ],
)
def test_bad_input_names_the_argument(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        vswap_nb.metadata_overhead(**kwargs)


def test_cli_overhead_table_json_and_errors(tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "vswap_nb", *args], capture_output=True, text=True, timeout=600
        )

    r = run("overhead", "--swap-size", "16M", "--usage", "0,1")
    assert r.returncode == 0, r.stderr
    assert "classic" in r.stdout and "swap_table" in r.stdout and "100%" in r.stdout
    r = run("overhead", "--swap-size", "16M", "--usage", "1", "--backend", "disk", "--json")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert data["bytes_per_slot"]["classic"]["disk"][0] > 11
    out = tmp_path / "o.nc"
    r = run("overhead", "--swap-size", "16M", "--usage", "1", "--out", str(out))
    assert r.returncode == 0 and out.stat().st_size > 0
    for bad, words in [
        (["overhead", "--swap-size", "12Q"], "swap_size"),
        (["overhead", "--designs", "vswap_v9"], "vswap_v9"),
        (["overhead", "--usage", "0,x"], "--usage"),
        (["overhead", "--backend", "tape"], "backend"),
        (["frobnicate"], "invalid choice"),
    ]:
        r = run(*bad)
        assert r.returncode == 2, (bad, r.stderr)
        assert words in r.stderr and "Traceback" not in r.stderr
