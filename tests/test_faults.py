"""Fault injection (issue 7): System(faults=...) fails swap-slot allocations, zswap
stores and read-ahead reads at seeded rates; nothing is lost, the failures show in the
counters, and the invariant checker passes."""
import numpy as np
import pytest

import vswap_nb as v

FAULTS = {"swap_alloc": 0.05, "zswap_reject": 0.2, "readahead": 0.3, "atomic_alloc": 0.3}


def _system(faults=FAULTS):
    return v.System("64M", swap=v.Device("ssd", "256M"), zswap=v.Zswap(max_pool_percent=10),
                    nr_cpus=2, faults=faults)


WORK = v.usemem("48M", nr_tasks=2, read_back=True, fill={"zero": 0.1, "sequence": 0.9})


@pytest.mark.parametrize("design", list(v.designs()))
def test_faults_lose_nothing_and_show_in_the_counters(design):
    ds = v.simulate(design, WORK, _system(), check="phase")
    assert int(ds.fault_swap_alloc) > 0 and int(ds.swap_alloc_fail) >= int(ds.fault_swap_alloc)
    assert int(ds.fault_zswap_reject) > 0 and int(ds.zswap_reject) >= int(ds.fault_zswap_reject)
    assert int(ds.fault_readahead) > 0
    assert int(ds.fault_atomic_alloc) > 0
    # every page swapped out came back with its content tag, and nothing is left
    assert int(ds.content_errors) == 0
    assert int(ds.content_checks) >= int(ds.pswpout) + int(ds.zswpout) - int(ds.zswpwb) > 0
    assert int(ds.live_entries) == 0


def test_faults_are_seeded():
    a = v.simulate("vswap_v6", WORK, _system(), seed=1)
    b = v.simulate("vswap_v6", WORK, _system(), seed=1)
    c = v.simulate("vswap_v6", WORK, _system(), seed=2)
    names = ["fault_swap_alloc", "fault_zswap_reject", "fault_readahead", "pswpout", "zswpout"]
    assert [int(a[n]) for n in names] == [int(b[n]) for n in names]
    assert np.array_equal(a.counters.values, b.counters.values)
    assert [int(a[n]) for n in names[:3]] != [int(c[n]) for n in names[:3]]


def test_zero_rates_are_no_faults():
    a = v.simulate("classic", WORK, _system(faults={"readahead": 0.0}))
    b = v.simulate("classic", WORK, _system(faults=None))
    assert _system(faults={"readahead": 0.0}).faults is None
    assert np.array_equal(a.counters.values, b.counters.values)
    assert int(a.pswpout) == int(b.pswpout) and int(a.fault_readahead) == 0


def test_readahead_faults_turn_readahead_into_faults():
    """Pages whose read-ahead is dropped are read by their own fault: fewer swap_ra,
    more major faults, the same data."""
    s = v.System("64M", swap=v.Device("ssd", "256M"), nr_cpus=2)
    w = v.usemem("48M", nr_tasks=2, read_back=True)
    base = v.simulate("swap_table", w, s)
    hit = v.simulate("swap_table", w, v.System("64M", swap=v.Device("ssd", "256M"), nr_cpus=2,
                                                faults={"readahead": 0.5}))
    assert int(hit.fault_readahead) > 0
    assert int(hit.swap_ra) < int(base.swap_ra)
    assert int(hit.pgmajfault) > int(base.pgmajfault)
    assert int(hit.content_errors) == 0


@pytest.mark.parametrize("design", ["swap_table", "vswap_v6", "vswap_ste"])
def test_atomic_alloc_fallback_costs_but_changes_nothing(design):
    """A failed atomic table allocation takes the sleeping fallback: one more allocation
    per table object, one more cluster lock and per-CPU lock each time, and otherwise
    the very same run (one task, no kswapd and no zswap shrink worker: a full pool's
    rejected stores go to the device, so time decides nothing)."""
    w = v.usemem("96M", read_back=True, fill={"zero": 0.1, "sequence": 0.9})
    kw = dict(swap=v.Device("ssd", "256M"), zswap=v.Zswap(max_pool_percent=10, shrinker=False), kswapd=False)
    base = v.simulate(design, w, v.System("64M", **kw))
    hit = v.simulate(design, w, v.System("64M", faults={"atomic_alloc": 0.5}, **kw), check="phase")
    n = int(hit.fault_atomic_alloc)
    assert int(base.pswpout) > 0 and n > 0 and int(base.fault_atomic_alloc) == 0
    assert int(base.zswpout) > 0 and int(base.zswpwb) == 0
    for name in ("pswpout", "pswpin", "zswpout", "swap_ra", "pgmajfault", "content_checks", "allocstall"):
        assert int(hit[name]) == int(base[name]), name
    diff = (hit.counters - base.counters).sum("op")
    assert int(diff.sel(primitive="cluster_lock")) == n == int(diff.sel(primitive="pcpu_access"))
    assert int(diff.sel(primitive="mem_alloc")) >= n
    others = diff.drop_sel(primitive=["cluster_lock", "pcpu_access", "mem_alloc"])
    assert not others.values.any()
