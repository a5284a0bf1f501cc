"""Determinism (issue 7): the same inputs and seed give the same run; the number of
simulated CPUs matters only through what runs on them.  (Identical results on any
number of dask workers: tests/test_sweep.py::test_local_cluster_gives_the_same_results.)"""
import numpy as np
import pytest

import vswap_nb as v

VMSTAT = ["pswpout", "pswpin", "swap_ra", "swap_ra_hit", "pgsteal_kswapd", "pgsteal_direct",
          "allocstall", "pgfault", "pgmajfault"]


@pytest.mark.parametrize("design", ["classic", "vswap_v6"])
@pytest.mark.parametrize("kswapd", [False, True])
def test_one_task_counts_the_same_on_any_number_of_cpus(design, kswapd):
    """One task runs on one CPU; the other CPUs' per-CPU caches stay unused, and
    kswapd keeps its own clock, so 1, 2 and 4 CPUs give identical counters, vmstat and
    model time."""
    w = v.usemem("96M", read_back=True)
    runs = [v.simulate(design, w, v.System("64M", swap=v.Device("ssd", "256M"), nr_cpus=n, kswapd=kswapd))
            for n in (1, 2, 4)]
    assert int(runs[0].pswpout) > 20000
    for r in runs[1:]:
        assert np.array_equal(r.counters.values, runs[0].counters.values)
        assert [int(r[n]) for n in VMSTAT] == [int(runs[0][n]) for n in VMSTAT]
        assert np.array_equal(r.model_time.values, runs[0].model_time.values)


def test_same_seed_same_run_other_seed_other_random_pages():
    w = v.usemem("64M", nr_tasks=2, random=True, read_back=True)
    s = v.System("64M", swap=v.Device("ssd", "256M"), nr_cpus=2)
    a, b = v.simulate("vswap_v6", w, s, seed=3), v.simulate("vswap_v6", w, s, seed=3)
    c = v.simulate("vswap_v6", w, s, seed=4)
    assert int(a.pswpout) > 10000
    assert np.array_equal(a.counters.values, b.counters.values)
    assert [int(a[n]) for n in VMSTAT] == [int(b[n]) for n in VMSTAT]
    assert np.array_equal(a.model_time.values, b.model_time.values)
    assert not np.array_equal(a.counters.values, c.counters.values)
