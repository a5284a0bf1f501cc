"""vswap_nb.sweep: grids of runs, in-process and on dask.distributed.

Only the designs ``classic`` and ``vswap_v6`` and tiny workloads are used.  The
in-process sweep (the module fixture ``inproc``) is what every cluster test compares
against, so it runs before any worker starts: the engines are then in the on-disk cache
and the workers load them instead of compiling them.
"""
import dataclasses
import importlib
import json
import pathlib

import numpy as np
import pytest
import xarray as xr

from vswap_nb import Device, System, kbuild, memhog, simulate, usemem
from vswap_nb.mm.run import EngineError

sweep_mod = importlib.import_module("vswap_nb.sweep")
sweep = sweep_mod.sweep
SweepError = sweep_mod.SweepError

DESIGNS = ["classic", "vswap_v6"]
# memory.max must be at least 16M (System's floor), so the brief's ["12M", "16M"] becomes
# ["16M", "20M"] with a 24M usemem: both limits make it swap
OVER = {"memory_max": ["16M", "20M"], "cluster_lookup_cache": [True, False]}
WORKLOAD = "24M"
M = 1 << 20


def _system(**kw):
    return System("64M", **{"memory_max": "16M", "swap": Device("ssd", "256M"), **kw})


def _no_wall(ds):
    return ds.drop_vars("wall_time")


def _bare(ds):
    ds = ds.copy()
    ds.attrs = {}
    return ds


@pytest.fixture(scope="module")
def inproc():
    calls = []
    ds = sweep(DESIGNS, usemem(WORKLOAD), _system(), OVER, progress=lambda d, t: calls.append((d, t)))
    return ds, calls


# --------------------------------------------------------------------------- in-process


def test_layout_coordinates_and_attrs(inproc):
    ds, calls = inproc
    # classic runs once per memory_max (it has no cluster_lookup_cache), vswap_v6 4 times
    assert calls == [(i, 6) for i in range(7)]
    assert ds.pswpout.dims == ("design", "memory_max", "cluster_lookup_cache")
    assert ds.counters.dims == ("design", "memory_max", "cluster_lookup_cache", "op", "primitive")
    assert ds.counters.dtype == np.int64 and ds.pswpout.dtype == np.int64
    assert ds.design.values.tolist() == DESIGNS
    assert ds.memory_max.values.tolist() == [16 * M, 20 * M]
    assert ds.memory_max.attrs == {"long_name": "swept parameter memory_max", "units": "bytes"}
    assert ds.cluster_lookup_cache.dtype == bool
    assert ds.cluster_lookup_cache.values.tolist() == [True, False]
    assert ds.cluster_lookup_cache.attrs == {"long_name": "swept parameter cluster_lookup_cache", "units": "1"}
    params = json.loads(ds.attrs["parameters"])
    assert params["over"] == OVER and params["swept"] == list(OVER)
    assert params["designs"] == DESIGNS and params["seed"] == 0
    assert params["option_designs"] == {"cluster_lookup_cache": ["vswap_v6"]}
    assert params["system"] == _system().to_dict()
    assert params["workload"]["params"] == usemem(WORKLOAD).params
    assert ds.attrs["swept"] == "memory_max,cluster_lookup_cache"
    # the limit matters, and the switch matters to vswap_v6 only
    assert (ds.pswpout.sel(memory_max=16 * M) > ds.pswpout.sel(memory_max=20 * M)).all()
    v6 = ds.counters.sel(design="vswap_v6")
    assert not v6.isel(cluster_lookup_cache=0).equals(v6.isel(cluster_lookup_cache=1))
    # classic was computed once per memory_max and repeated: even the wall time is equal
    c = ds.sel(design="classic", drop=True)
    xr.testing.assert_identical(c.isel(cluster_lookup_cache=0, drop=True), c.isel(cluster_lookup_cache=1, drop=True))


def test_points_are_simulate_runs(inproc):
    ds, _ = inproc
    for design, opts in (("classic", {}), ("vswap_v6", {"cluster_lookup_cache": False})):
        one = simulate(design, usemem(WORKLOAD), _system(memory_max="20M"), **opts)
        point = ds.sel(design=design, memory_max=20 * M, cluster_lookup_cache=False, drop=True)
        xr.testing.assert_identical(_bare(_no_wall(point)), _bare(_no_wall(one)))


def test_netcdf_round_trip(inproc, tmp_path):
    ds, _ = inproc
    path = tmp_path / "sweep.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    back = xr.load_dataset(path, engine="h5netcdf")
    xr.testing.assert_identical(back, ds)
    assert back.counters.dtype == np.int64
    assert back.cluster_lookup_cache.dtype == bool


def test_workload_and_device_parameters(tmp_path):
    """Workload parameters, a device field, and runs whose phases differ."""
    over = {"size": ["8M", "12M"], "swap.kind": ["ssd", "zram"], "read_back": [False, True]}
    ds = sweep("classic", usemem("8M"), _system(), over)
    assert ds.pswpout.dims == ("design", "size", "swap.kind", "read_back")
    assert ds["size"].values.tolist() == [8 * M, 12 * M] and ds["size"].attrs["units"] == "bytes"
    assert ds["swap.kind"].values.tolist() == ["ssd", "zram"] and ds["swap.kind"].attrs["units"] == "1"
    assert ds.read_back.dtype == bool
    # read_back adds a "read" phase: the union, in the longer run's order
    assert ds.phase.values.tolist() == ["write", "read", "free"]
    assert np.isnan(ds.model_time.sel(read_back=False, phase="read")).all()
    assert (ds.model_time.sel(read_back=True, phase="read") > 0).all()
    assert ds.counters.dtype == np.int64
    # the device follows its new kind (zram: synchronous, its own latencies)
    one = simulate("classic", usemem("12M", read_back=True), _system(swap=Device("zram", "256M")))
    point = ds.sel(design="classic", size=12 * M, read_back=True, drop=True).sel({"swap.kind": "zram"}, drop=True)
    xr.testing.assert_identical(_bare(_no_wall(point)), _bare(_no_wall(one)))
    path = tmp_path / "mixed.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    xr.testing.assert_identical(xr.load_dataset(path, engine="h5netcdf"), ds)


def test_swept_names_do_not_collide_with_run_variables(inproc):
    import vswap_nb

    ds, _ = inproc
    taken = set(ds.data_vars) | {"design", "op", "primitive", "phase", "task", "structure"}
    for w in (usemem("8M"), memhog("8M"), kbuild(jobs=2, files=2, ram_per_job="1M")):
        names = sweep_mod._sweepable(vswap_nb.designs(), w)
        assert "memory_max" in names and "swap.kind" in names and "cluster_lookup_cache" in names
        assert not taken & set(names)


# --------------------------------------------------------------------------- errors before any run


def _custom_workload():
    return dataclasses.replace(usemem("8M"), name="mytrace")


ERRORS = [
    ({"over": {"memory_maxx": ["16M"]}}, ValueError, r"unknown sweep parameter 'memory_maxx'.*memory_max, "),
    ({"designs": ["classic"], "over": {"cluster_lookup_cache": [True]}}, ValueError, r"switch of vswap_v6"),
    ({"over": {"memory_max": ["16M", "12M"]}}, ValueError, r"memory_max='12M'.*below 16M"),
    ({"over": {"ram": ["64M"], "memory_max": ["32M", "128M"]}}, ValueError, r"ram='64M', memory_max='128M'"),
    ({"over": {"swap.size": ["4K"]}}, ValueError, r"swap.size='4K'"),
    ({"over": {"memory_max": []}}, ValueError, r"over\['memory_max'\] is empty"),
    ({"over": {"memory_max": "16M"}}, TypeError, r"must be a list"),
    ({"over": {"memory_max": ["16M", "16M"]}}, ValueError, r"lists '16M' twice"),
    ({"over": {"memory_max": ["16M", 16 * M]}}, ValueError, r"'16M' and 16777216 are the same memory_max"),
    ({"over": {"memory_max": [object()]}}, ValueError, r"not a JSON value"),
    ({"over": {"nr_cpus": [1, "2"]}}, TypeError, r"nr_cpus='2'"),
    ({"over": {"cluster_lookup_cache": [True, 0]}}, TypeError, r"cluster_lookup_cache=0"),
    (
        {"over": {"cluster_lookup_cache": [True]}, "options": {"vswap_v6": {"cluster_lookup_cache": False}}},
        ValueError,
        r"both swept",
    ),
    ({"over": {"swap": ["ssd:256M"], "swap.size": ["256M"]}}, ValueError, r"not both"),
    ({"over": {"zswap.max_pool_percent": [10]}}, ValueError, r"has no zswap"),
    ({"workload": _custom_workload(), "over": {"size": ["8M"]}}, ValueError, r"workload is named 'mytrace'"),
    ({"over": {"memory_max": ["16M"]}, "client": "bogus"}, ValueError, r"client='bogus'"),
]


@pytest.mark.parametrize("kw, exc, match", ERRORS, ids=[e[2][:30] for e in ERRORS])
def test_errors_before_any_run(monkeypatch, kw, exc, match):
    def no_run(*a, **k):
        raise AssertionError("a run started before the sweep was checked")

    monkeypatch.setattr(sweep_mod, "_run_one", no_run)
    args = {"designs": DESIGNS, "workload": usemem("8M"), "system": _system(), **kw}
    with pytest.raises(exc, match=match):
        sweep(args.pop("designs"), args.pop("workload"), args.pop("system"), args.pop("over"), **args)


@pytest.mark.parametrize("kw, exc, match", [e for e in ERRORS if "client" not in e[0]],
                         ids=[e[2][:30] for e in ERRORS if "client" not in e[0]])
def test_the_planner_alone_raises_the_same_errors(monkeypatch, kw, exc, match):
    monkeypatch.setattr(sweep_mod, "_run_one", _no_run)
    args = {"designs": DESIGNS, "workload": usemem("8M"), "system": _system(), **kw}
    with pytest.raises(exc, match=match):
        sweep_mod.plan_sweep(args.pop("designs"), args.pop("workload"), args.pop("system"), args.pop("over"), **args)


# --------------------------------------------------------------------------- the planner alone


def _no_run(*a, **k):
    raise AssertionError("the planner ran something")


@pytest.fixture
def no_runs(monkeypatch):
    import vswap_nb.api

    monkeypatch.setattr(sweep_mod, "_run_one", _no_run)
    monkeypatch.setattr(vswap_nb.api, "simulate", _no_run)


def test_plan_lays_out_the_grid_and_shares_runs_along_a_switch_a_design_lacks(no_runs):
    plan = sweep_mod.plan_sweep(DESIGNS, usemem("8M"), _system(), OVER, seed=3)
    assert plan.dims == ("design", "memory_max", "cluster_lookup_cache")
    assert plan.shape == (2, 2, 2)
    assert list(plan.coords["design"]) == DESIGNS
    assert plan.coords["memory_max"].tolist() == [16 * M, 20 * M]  # bytes, as the model uses them
    assert plan.coords["cluster_lookup_cache"].tolist() == [True, False]
    # classic has no cluster_lookup_cache: 2 runs, not 4; vswap_v6 one per point
    assert [r.design for r in plan.runs] == ["classic"] * 2 + ["vswap_v6"] * 4
    classic = [r for r in plan.runs if r.design == "classic"]
    assert [r.point for r in classic] == [{"memory_max": "16M"}, {"memory_max": "20M"}]
    assert all(r.options == {} for r in classic)
    assert [r.system["memory_max"] for r in classic] == [16 * M, 20 * M]
    g = plan.grid["classic"]
    assert g[(0, 0)] == g[(0, 1)] == 0 and g[(1, 0)] == g[(1, 1)] == 1
    v6 = {(r.point["memory_max"], r.options["cluster_lookup_cache"]) for r in plan.runs if r.design == "vswap_v6"}
    assert v6 == {("16M", True), ("16M", False), ("20M", True), ("20M", False)}
    assert sorted(plan.grid["vswap_v6"].values()) == [2, 3, 4, 5]
    # one workload for all, and what the Dataset's attributes will say
    assert len(plan.workloads) == 1 and {r.workload for r in plan.runs} == {0}
    assert plan.seed == 3 and plan.parameters["swept"] == ["memory_max", "cluster_lookup_cache"]
    assert plan.parameters["option_designs"] == {"cluster_lookup_cache": ["vswap_v6"]}


def test_plan_builds_each_workload_and_device_of_the_grid(no_runs):
    plan = sweep_mod.plan_sweep(
        ["classic"], usemem("8M"), _system(), {"size": ["8M", "12M"], "swap.kind": ["ssd", "zram"]}
    )
    assert plan.shape == (1, 2, 2) and len(plan.runs) == 4
    assert [w.params["size"] for w in plan.workloads] == [8 * M, 12 * M]
    assert plan.coords["size"].tolist() == [8 * M, 12 * M]
    kinds = [(plan.workloads[r.workload].params["size"], r.system["swap"]["kind"]) for r in plan.runs]
    assert kinds == [(8 * M, "ssd"), (8 * M, "zram"), (12 * M, "ssd"), (12 * M, "zram")]
    # the device's kind-dependent values follow the kind
    reads = {r.system["swap"]["kind"]: r.system["swap"]["read_ns"] for r in plan.runs}
    assert reads["ssd"] != reads["zram"]


def test_run_plan_gives_what_sweep_gives(inproc):
    ds, _ = inproc
    plan = sweep_mod.plan_sweep(DESIGNS, usemem(WORKLOAD), _system(), OVER)
    assert plan.dims == ds.pswpout.dims
    for d in plan.dims:
        assert plan.coords[d].tolist() == ds[d].values.tolist()
    xr.testing.assert_identical(_no_wall(sweep_mod.run_plan(plan)), _no_wall(ds))
    with pytest.raises(TypeError, match="plan must be a SweepPlan"):
        sweep_mod.run_plan({"runs": []})


# --------------------------------------------------------------------------- dask.distributed


def test_local_cluster_gives_the_same_results(inproc):
    ds, _ = inproc
    calls = []
    there = sweep(DESIGNS, usemem(WORKLOAD), _system(), OVER, client="local", progress=lambda d, t: calls.append((d, t)))
    xr.testing.assert_identical(_no_wall(there), _no_wall(ds))
    assert calls == [(i, 6) for i in range(7)]


def test_local_cluster_workers_share_the_cache(monkeypatch):
    from vswap_nb.core.jit import cache_dir

    base = str(pathlib.Path(cache_dir()).parent)
    monkeypatch.setenv("VSWAP_NB_CACHE_DIR", base)
    cluster, client = sweep_mod._start_local_cluster()
    try:
        seen = client.run(
            lambda: (__import__("os").environ.get("VSWAP_NB_CACHE_DIR"), __import__("vswap_nb.core.jit").core.jit.cache_dir())
        )
    finally:
        client.close()
        cluster.close()
    assert len(seen) == 2 and all(a.startswith("tcp://127.0.0.1:") for a in seen)
    assert set(seen.values()) == {(base, cache_dir())}


def test_client_instance_address_and_run_errors(monkeypatch):
    from distributed import Client, LocalCluster

    small = {"designs": ["classic"], "workload": usemem("8M"), "system": _system(), "over": {"memory_max": ["16M", "20M"]}}
    here = sweep(**small)
    # threads in this process: the workers find the engines already loaded
    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    ) as cluster, Client(cluster) as client:
        xr.testing.assert_identical(_no_wall(sweep(**small, client=client)), _no_wall(here))
        assert client.status == "running"  # a Client passed in is left open
        xr.testing.assert_identical(_no_wall(sweep(**small, client=cluster.scheduler_address)), _no_wall(here))
        assert client.status == "running"

        api = importlib.import_module("vswap_nb.api")
        real = api.simulate

        def flaky(design, workload, system, **kw):
            if system.memory_max == 20 * M:
                raise EngineError("out of memory")
            return real(design, workload, system, **kw)

        monkeypatch.setattr(api, "simulate", flaky)
        for where in (None, client):
            # a SweepError naming the run, and still the run's own exception type
            with pytest.raises(EngineError, match=r"design='classic', memory_max='20M'\): out of memory") as err:
                sweep(**small, client=where)
            assert isinstance(err.value, SweepError)
            assert err.value.design == "classic" and err.value.point == {"memory_max": "20M"}
            assert type(err.value.__cause__) is EngineError
