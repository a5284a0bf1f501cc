"""The ``vswap-nb`` command, run as a subprocess the way a user runs it.

Runs use ``classic`` and ``vswap_v6`` on tiny workloads (their engines are compiled
once into the on-disk cache and shared with the other tests).  The progress bars are
tested in this process, where stderr can be made a terminal."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
import xarray as xr

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = ["--workload", "usemem -n 2 -x 48M", "--ram", "64M", "--swap", "ssd:256M", "--nr-cpus", "2"]


def cli(*args, timeout=900):
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "vswap_nb", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.parametrize(
    "args, named",
    [
        (["compare", "--designs", "classic,nope"], "nope"),
        (["compare", "--designs", "classic", "--swap", "zram:12Q"], "12Q"),
        (["compare", "--designs", "classic", "--ram", "1G", "--memory-max", "2G"], "--memory-max"),
        (["compare", "--designs", "vswap_v6", "--option", "vswap_v6:turbo=on"], "turbo"),
        (["trace", "replay", "/nonexistent/trace.npz"], "/nonexistent/trace.npz"),
        (["compare", "--designs", "classic", "--workload", "usemem --frobnicate 1G"], "--frobnicate"),
        (["sweep", "--designs", "classic", "--over", "warp=1,2"], "warp"),
        (["run"], "--design"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(args, named):
    r = cli(*args)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert "Traceback" not in r.stderr
    assert len(err.splitlines()) == 1 or err.startswith("usage:"), err
    assert named in err


def test_unreadable_trace_file_is_named(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a trace")
    r = cli("trace", "info", str(bad))
    assert r.returncode == 2 and str(bad) in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_compare_prints_the_table_writes_netcdf_and_a_plot(tmp_path):
    out = tmp_path / "c.nc"
    png = tmp_path / "c.png"
    r = cli("compare", "--designs", "classic,vswap_v6", *SMALL, "--out", str(out), "--plot", str(png))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "classic" in lines[0] and "vswap_v6" in lines[0] and "(x classic)" in lines[0]
    for label in ("time free (ms)", "xa lookups", "pswpout", "direct reclaim share"):
        assert any(line.startswith(label) for line in lines), label
    ds = xr.load_dataset(out, engine="h5netcdf")
    assert list(ds.design.values) == ["classic", "vswap_v6"]
    assert ds.counters.dtype.kind == "i" and int(ds.pswpout.sel(design="classic")) > 0
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_compare_json_and_run_breakdown():
    r = cli("compare", "--designs", "classic,vswap_v6", *SMALL, "--json")
    assert r.returncode == 0, r.stderr
    table = json.loads(r.stdout)
    # kswapd's pace follows each design's costs, so counts may differ a little
    assert table["pswpout"]["classic"] > 0 and table["pswpout"]["vswap_v6"] > 0
    assert table["xa lookups"]["classic"] == 0 < table["xa lookups"]["vswap_v6"]
    r = cli("run", "--design", "vswap_v6", *SMALL, "--option", "vswap_v6:cluster_lookup_cache=off", "--json")
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)
    assert run["design"] == "vswap_v6"
    assert run["counters"]["free"]["xa_lookup"] > 0
    assert run["counters"]["free"]["lookup_cache_hit"] == 0  # the switch reached the design
    assert run["vmstat"]["content_errors"] == 0


def test_trace_record_info_replay(tmp_path):
    t = tmp_path / "w.npz"
    r = cli("trace", "record", "--workload", "usemem -n 2 -R 16M", "--out", str(t))
    assert r.returncode == 0, r.stderr
    r = cli("trace", "info", str(t), "--json")
    info = json.loads(r.stdout)
    assert info["name"] == "usemem" and info["tasks"] == 2 and info["page_events"] == 2 * 4096
    r = cli("trace", "replay", str(t), "--designs", "classic", "--ram", "64M", "--memory-max", "16M",
            "--swap", "ssd:256M", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["pswpout"]["classic"] > 0


def test_sweep_2x2(tmp_path):
    out = tmp_path / "s.nc"
    r = cli("sweep", "--designs", "classic,vswap_v6", "--workload", "usemem 24M", "--ram", "64M",
            "--memory-max", "16M", "--swap", "ssd:256M", "--over", "memory_max=16M,20M",
            "--over", "cluster_lookup_cache=on,off", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 2 * 2 * 2  # design x memory_max x switch
    ds = xr.load_dataset(out, engine="h5netcdf")
    assert dict(ds.sizes)["memory_max"] == 2 and dict(ds.sizes)["cluster_lookup_cache"] == 2


def test_compare_shows_the_designs_that_finished_when_one_runs_out_of_memory():
    """After swapoff at the free phase one design runs out of memory while the other
    finishes: 80 MiB of pages in 64 MiB of RAM.  classic must bring every page back
    (its zswap entries live on the device's slots); vswap_v6's zswap entries need no
    device, so the pages stay compressed.  The finished design's table is still
    printed, the failure is one line on stderr, and the exit status is 1."""
    r = cli("compare", "--designs", "classic,vswap_v6", "--workload", "usemem -n 2 -W 40M", "--ram", "64M",
            "--swap", "ssd:256M", "--nr-cpus", "2", "--zswap", "--swapoff", "free")
    assert r.returncode == 1, r.stderr
    assert "vswap-nb: classic: out of memory after swapoff" in r.stderr
    assert "vswap_v6" in r.stdout and "pswpout" in r.stdout and "classic" not in r.stdout


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_bars_only_on_a_terminal_and_never_on_stdout(monkeypatch, capsys, terminal):
    """In this process (a subprocess has no terminal): stderr a terminal or not, the
    bar's delay set to 0 so that tiny runs show one.  One bar per design, on stderr;
    stdout is the JSON alone."""
    from vswap_nb import cli as cli_mod

    err = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(cli_mod, "PROGRESS_DELAY", 0.0)
    monkeypatch.setattr(sys, "stderr", err)
    rc = cli_mod.main(["compare", "--designs", "classic,vswap_v6", *SMALL, "--compile-jobs", "1", "--json"])
    out = capsys.readouterr().out
    assert rc == 0, err.getvalue()
    assert set(json.loads(out)["pswpout"]) == {"classic", "vswap_v6"}
    bars = err.getvalue()
    if terminal:
        # tqdm redraws with \r; each design's bar ends at 100%
        assert "classic" in bars and "vswap_v6" in bars and bars.count("100%") >= 2, bars
        assert "vswap-nb:" not in bars
    else:
        assert bars == ""
