"""The cost table fitted on a kernel (:mod:`vswap_nb.calibration`), without a
kernel: the kernel's phase times are replaced by ``classic``'s own with a known cost
table, so the fit must find a table that reproduces them.  No root, nothing on the
machine changes (``_kernel_times``, the machine probe and the kernel check are
monkeypatched); the cases are tiny usemem runs on ``classic`` (its engine is in the
on-disk cache)."""
from __future__ import annotations

import itertools
import json
import types

import numpy as np
import pytest

import vswap_nb as v
import vswap_nb.kernel as kernel_pkg
from vswap_nb import cli
from vswap_nb.core.counters import PRIMITIVES
from vswap_nb import calibration as C
from vswap_nb import kernel_validation as V
from vswap_nb.mm.cost import DEFAULT_COST, MM_COST, MM_NAMES

# ----------------------------------------------------------------------------- nnls


def _nnls_brute_force(A, b):
    """The NNLS optimum by enumerating every support set (small n only)."""
    n = A.shape[1]
    best, best_x = np.inf, None
    for k in range(n + 1):
        for S in itertools.combinations(range(n), k):
            x = np.zeros(n)
            if S:
                x[list(S)] = np.linalg.lstsq(A[:, list(S)], b, rcond=None)[0]
            if (x >= 0).all():
                r = np.linalg.norm(A @ x - b)
                if r < best:
                    best, best_x = r, x
    return best, best_x


def _assert_kkt(A, b, x, tol=1e-9):
    g = A.T @ (A @ x - b)  # gradient of 0.5 * ||A x - b||^2
    scale = np.linalg.norm(A.T @ b) + 1.0
    assert (x >= 0).all(), x
    assert (g[x == 0] >= -tol * scale).all(), (x, g)  # no zero component wants to grow
    assert np.allclose(g[x > 0], 0.0, atol=tol * scale), (x, g)  # free components at a stationary point


def test_nnls_recovers_an_exact_nonnegative_solution_and_clamps_where_lstsq_goes_negative():
    rng = np.random.default_rng(7)
    A = rng.standard_normal((20, 5))
    x_true = np.array([1.5, 0.0, 2.0, 0.25, 3.0])  # one component exactly zero
    x = C.nnls(A, A @ x_true)
    np.testing.assert_allclose(x, x_true, rtol=0, atol=1e-8)
    _assert_kkt(A, A @ x_true, x)

    # b whose unconstrained least-squares solution has a negative component
    x_ls_target = np.array([1.0, -2.0, 0.5, 1.0, 2.0])
    b = A @ x_ls_target + 0.01 * rng.standard_normal(20)
    x_ls = np.linalg.lstsq(A, b, rcond=None)[0]
    assert (x_ls < 0).any()
    x = C.nnls(A, b)
    assert (x >= 0).all(), x
    assert x[1] == 0.0  # lstsq's negative component clamped
    _assert_kkt(A, b, x)
    best, _ = _nnls_brute_force(A, b)
    assert np.linalg.norm(A @ x - b) == pytest.approx(best, rel=1e-10, abs=1e-12)
    assert np.linalg.norm(A @ x - b) > np.linalg.norm(A @ x_ls - b)  # the constraint was active

    # and on a batch of random problems with correlated columns (so that adding one to
    # the passive set often drives another negative: the back-off step): the true optimum
    for seed in range(20):
        r = np.random.default_rng(100 + seed)
        common = r.standard_normal((12, 1))
        A = common + 0.3 * r.standard_normal((12, 5))
        b = 2 * common[:, 0] + r.standard_normal(12)
        x = C.nnls(A, b)
        _assert_kkt(A, b, x)
        best, _ = _nnls_brute_force(A, b)
        assert np.linalg.norm(A @ x - b) == pytest.approx(best, rel=1e-9, abs=1e-12), seed


# ----------------------------------------------------------------------------- the fit

MACHINE = types.SimpleNamespace(ram=256 << 20, cpus=2, cgroup_version=2, release="6.0-test")

# the "kernel": classic with this table (every fitted cost a different multiple of its default)
KNOWN = {n: DEFAULT_COST[n][0] * 1.3 for n in PRIMITIVES}  # primitives scale 1.3
KNOWN["slot_free_notify"] = DEFAULT_COST["slot_free_notify"][0] * 2.25
KNOWN.update({n: MM_COST[n][0] * (0.6 + 0.15 * i) for i, n in enumerate(MM_NAMES)})
KNOWN.update(zram_read=1500.0 * 1.6, zram_write=5000.0 * 1.4, ssd_read=80_000.0 * 0.625)
KNOWN_FITTED = {C.PRIM_SCALE: 1.3, **{n: KNOWN[n] for n in C.FITTED if n != C.PRIM_SCALE}}

# tiny cases in the TRAIN/TEST tuple format: (device kind, usemem kwargs, zswap, memory_max)
TINY_TRAIN = {
    "zram 24M in 16M": ("zram", dict(size="24M", read_back=True), False, "16M"),
    "loop 24M in 16M": ("ssd", dict(size="24M", read_back=True), False, "16M"),
    "fits 8M in 16M": ("zram", dict(size="8M", read_back=True), False, "16M"),
    # zswap's compression is not fitted: the time the fit must subtract first
    "zswap 24M in 16M": ("zram", dict(size="24M", read_back=True), True, "16M"),
}
TINY_TEST = {"zram 32M in 16M": ("zram", dict(size="32M", read_back=True), False, "16M")}


def _fake_kernel(mp, calls=None):
    """No kernel: a fixed machine, a check that passes, and classic with KNOWN as the kernel's times.
    ``calls`` records ("check", system) and ("run", system, repeat) in order."""
    log = [] if calls is None else calls

    def check(workload, system, options, machine=None):
        log.append(("check", system))
        return MACHINE

    def kernel_times(workload, system, repeat):
        log.append(("run", system, repeat))
        return C._phase_times(v.simulate("classic", workload, system, cost=KNOWN))

    mp.setattr(kernel_pkg, "kernel_info", lambda: MACHINE)
    mp.setattr(kernel_pkg, "check", check)
    mp.setattr(C, "_kernel_times", kernel_times)
    mp.setattr(C, "TRAIN", TINY_TRAIN)
    mp.setattr(C, "TEST", TINY_TEST)


@pytest.fixture(scope="module")
def fitted():
    steps = []
    with pytest.MonkeyPatch.context() as mp:
        calls = []
        _fake_kernel(mp, calls)
        table = C.calibrate_on_kernel(
            repeat=1, train=list(TINY_TRAIN), test=list(TINY_TEST), progress=lambda *a: steps.append(a)
        )
    return table, steps, calls


def _ratios(report):
    return {(n, p): t["fitted_ms"] / t["kernel_ms"] for n, c in report["cases"].items() for p, t in c["phases"].items()}


def test_calibration_recovers_a_known_table_within_a_few_percent(fitted):
    table, steps, calls = fitted
    assert isinstance(table, C.FittedCost)
    rep = table.report
    # every case checked before the first kernel run, then run once, on the machine's CPUs
    n = len(TINY_TRAIN) + len(TINY_TEST)
    assert [c[0] for c in calls] == ["check"] * n + ["run"] * n
    assert [c[1] for c in calls[:n]] == [c[1] for c in calls[n:]]
    assert all(c[2] == 1 and c[1].nr_cpus == MACHINE.cpus for c in calls[n:])
    assert steps[0] == (0, n, "zram 24M in 16M") and steps[-1] == (n - 1, n, "done")
    assert {n: c["set"] for n, c in rep["cases"].items()} == {
        **{n: "train" for n in TINY_TRAIN}, **{n: "test" for n in TINY_TEST}
    }
    ratios = _ratios(rep)
    # each case has its write, read and free phase
    assert {p for (n, p) in ratios} == {"write", "read", "free"} and len(ratios) == 3 * n
    # the known table is far from the default one, so the fit had something to find ...
    dflt = [t["default_ms"] / t["kernel_ms"] for c in rep["cases"].values() for t in c["phases"].values()]
    assert max(abs(r - 1) for r in dflt) > 0.3
    # ... and it predicts every phase, training and held-out, within a few percent (the
    # ridge's pull towards the default table is all that keeps it from exact)
    for key, r in ratios.items():
        assert abs(r - 1) < 0.07, (key, r)
    for which in ("train", "test"):
        e = rep["error"][which]
        mine = [r for (n, _), r in ratios.items() if rep["cases"][n]["set"] == which]
        assert e["min_ratio"] == pytest.approx(min(mine)) and e["max_ratio"] == pytest.approx(max(mine))
    # the table is complete and non-negative, built from the fitted values
    assert set(table) == set(PRIMITIVES) | set(MM_NAMES) | {"zram_read", "zram_write", "ssd_read"}
    assert all(x >= 0 for x in table.values())
    scale = rep["fitted"][C.PRIM_SCALE]
    assert table["xa_lookup"] == pytest.approx(DEFAULT_COST["xa_lookup"][0] * scale)
    for n in C.FITTED[1:]:
        assert table[n] == rep["fitted"][n]
    assert rep["defaults"][C.PRIM_SCALE] == 1.0 and rep["defaults"]["fault"] == MM_COST["fault"][0]


def test_without_the_ridge_the_fit_reproduces_the_training_phases_exactly(monkeypatch):
    """The model is linear in the fitted costs (one task in a memory cgroup): with the
    ridge near 0 the training phases are fitted to rounding, and the held-out case
    follows closely."""
    _fake_kernel(monkeypatch)
    monkeypatch.setattr(C, "RIDGE", 1e-12)
    rep = C.calibrate_on_kernel(repeat=1, train=list(TINY_TRAIN), test=list(TINY_TEST)).report
    for (n, p), r in _ratios(rep).items():
        tol = 1e-6 if rep["cases"][n]["set"] == "train" else 5e-3
        assert abs(r - 1) < tol, (n, p, r)
    # the costs the cases pin down are the known ones (zram's write is in every reclaim)
    assert rep["fitted"]["zram_write"] == pytest.approx(KNOWN_FITTED["zram_write"], rel=1e-4)
    assert rep["fitted"][C.PRIM_SCALE] == pytest.approx(1.3, rel=0.05)


def test_unknown_case_names_are_refused_before_any_run(monkeypatch):
    calls = []
    _fake_kernel(monkeypatch, calls)
    with pytest.raises(ValueError, match="unknown training case 'nope'"):
        C.calibrate_on_kernel(repeat=1, train=["nope"], test=[])
    with pytest.raises(ValueError, match="unknown held-out case 'nope'"):
        C.calibrate_on_kernel(repeat=1, train=list(TINY_TRAIN), test=["nope"])
    assert calls == []


# ----------------------------------------------------------------------------- cost files

RUN = ["run", "--design", "classic", "--workload", "usemem -W 24M", "--ram", "256M", "--memory-max", "16M",
       "--swap", f"zram:{C.DEVICE_SIZE}", "--nr-cpus", "2", "--json"]


def test_fitted_cost_file_round_trips_through_load_cost_and_the_cli(fitted, tmp_path, monkeypatch, capsys):
    table = fitted[0]
    path = tmp_path / "fitted.json"
    body = table.to_file_dict()
    path.write_text(json.dumps(body, indent=1))
    assert body["about"]["fitted"] == table.report["fitted"] and "cases" in body["about"]
    loaded = v.load_cost(path)
    assert loaded == dict(table)

    # api.calibrate(kernel=True, out=...) writes the same table
    monkeypatch.setattr(C, "calibrate_on_kernel", lambda **kw: table)
    out = tmp_path / "api.json"
    assert v.calibrate(1, kernel=True, out=out) is table
    assert v.load_cost(out) == dict(table)

    w = v.usemem("24M", read_back=True)
    s = v.System("256M", memory_max="16M", swap=v.Device("zram", C.DEVICE_SIZE), nr_cpus=2)
    ds_fit = v.simulate("classic", w, s, cost=dict(table))
    ds_load = v.simulate("classic", w, s, cost=loaded)
    np.testing.assert_array_equal(ds_load.model_time.values, ds_fit.model_time.values)
    ds_dflt = v.simulate("classic", w, s)
    assert not np.allclose(ds_dflt.model_time.values, ds_fit.model_time.values)  # the table matters

    # the command takes it, and its times are the fitted table's
    capsys.readouterr()
    assert cli.main([*RUN, "--cost", str(path)]) == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out)["model_time_ns"]
    want = {str(p): float(t) for p, t in zip(ds_fit.phase.values, ds_fit.model_time.values)}
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize(
    "content, named",
    [
        (None, "does not exist"),
        ("{not json", "is not JSON"),
        (json.dumps({"mm": {"fault": 700.0, "teleport": 5.0}}), "teleport"),
        (json.dumps({"fault": 700.0, "warp_drive": 1.0}), "warp_drive"),
        (json.dumps({"primitives": {"xa_lookup": -1.0}}), "xa_lookup"),
        (json.dumps({"fault": -3.0}), ">= 0"),
    ],
)
def test_a_bad_cost_file_is_exit_2_with_one_line_naming_cost(tmp_path, capsys, content, named):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    rc = cli.main([*RUN, "--cost", str(path)])
    cap = capsys.readouterr()
    assert rc == 2, cap
    err = cap.err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("vswap-nb: error: --cost:") and str(path) in err and named in err, err
    assert "Traceback" not in cap.err and cap.out == ""


# ----------------------------------------------------------------------------- validation


def test_validation_cost_out_without_calibrate_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys):
    def boom(*a, **k):
        raise AssertionError("ran before the arguments were checked")

    monkeypatch.setattr(V, "run_cases", boom)
    monkeypatch.setattr(C, "calibrate_on_kernel", boom)
    monkeypatch.setattr(kernel_pkg, "kernel_info", boom)
    out = tmp_path / "x.json"
    with pytest.raises(SystemExit) as exc:
        V.main(["--cost-out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--cost-out needs --calibrate" in err
    assert not out.exists()


def _phase(kernel, fitted, default=None):
    return {"kernel_ms": kernel, "default_ms": kernel if default is None else default, "fitted_ms": fitted}


REPORT = {
    "repeat": 2,
    "cases": {
        # held out: write at the low edge (in), read high (out), free at the high edge (in)
        "zram": {"set": "test", "phases": {"write": _phase(10.0, 8.0), "read": _phase(10.0, 13.0),
                                           "free": _phase(10.0, 12.5)}},
        "all in": {"set": "test", "phases": {"write": _phase(4.0, 4.2), "read": _phase(4.0, 3.6)}},
        "my odd case": {"set": "test", "phases": {"write": _phase(10.0, 7.9)}},
        # training: write in, free far out
        "loop": {"set": "train", "phases": {"write": _phase(20.0, 21.0), "free": _phase(2.0, 1.0)}},
    },
    "fitted": {C.PRIM_SCALE: 1.5, "fault": 1400.0, "zram_read": 750.0},
    "defaults": {C.PRIM_SCALE: 1.0, "fault": 700.0, "zram_read": 1500.0},
    "error": {},
}


def _rows(lines, section):
    """{(case, phase): "in target" cell} of the table under the heading ``section``."""
    i = lines.index(section)
    out = {}
    for line in lines[i + 1:]:
        if line.startswith("### "):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 8 and cells[0] != "case":
            out[(cells[0], cells[1])] = cells[-1]
    return out


def test_time_tables_mark_misses_and_give_every_miss_a_reason():
    lines = V.time_tables(REPORT)
    test = _rows(lines, "### Held-out cases")
    train = _rows(lines, "### Training cases")
    assert test == {
        ("zram", "write"): "yes", ("zram", "read"): "**no**", ("zram", "free"): "yes",
        ("all in", "write"): "yes", ("all in", "read"): "yes",
        ("my odd case", "write"): "**no**",
    }
    assert train == {("loop", "write"): "yes", ("loop", "free"): "**no**"}
    why = [line for line in lines[lines.index("### Why a phase misses"):] if line.startswith("* **")]
    assert why == [
        f"* **zram** (read): {V.MISS_REASONS['zram']}.",
        "* **my odd case** (write): no reason recorded.",
        f"* **loop** (free): {V.MISS_REASONS['loop']}.",
    ]
    text = "\n".join(lines)
    assert "| primitives (scale) | 1.0 | 1.5 | 1.50 |" in text
    assert "0.50x (zram_read) to 2.00x (fault)" in text


def test_time_tables_without_a_miss_have_no_miss_list():
    rep = dict(REPORT, cases={"all in": REPORT["cases"]["all in"]})
    lines = V.time_tables(rep)
    assert "### Why a phase misses" not in lines
    assert set(_rows(lines, "### Held-out cases").values()) == {"yes"}
