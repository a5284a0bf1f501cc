"""Large folios on a device that fills and churns: the ``churn`` workload.

Every task keeps its region mapped, 4 tasks in a memcg of half their total, so the
other half is always in swap; the zram device is sized so that half is 7/8 of it.
Round after round the tasks read parts back (mTHP swap-in: zram, zswap never on),
unmap holes of mixed lengths and alignments (frees all over the device) and write as
much again at fresh addresses (new large folios for reclaim to place).  Per design,
from ``ds.mthp`` over orders >= 1:

* ``track_swpout_fallback_rate``: swpout_fallback / (swpout + zswpout +
  swpout_fallback), the share of large folios reclaim had to split because the
  design's allocator had no 2**order contiguous entries;
* ``track_swpin_fallback_rate``: swpin_fallback / (swpin + swpin_fallback);
* ``track_swap_alloc_fail``: folios reclaim could get no slot for (vmstat's
  ``swap_alloc_fail``).  A virtual design allocates its virtual entries whole, so it
  never counts a swap-out fallback; its physical slots are allocated at writeout,
  where a large folio that finds no 2**order contiguous slots stays dirty and is
  activated, counted here;
* ``track_live_entries_left``: swap entries still allocated once every task has
  unmapped everything and exited (0 unless entries leak).

``ChurnSmall``: 4 x 64 MiB, 16 rounds, ``thp`` 64K alone or 16K and 64K (mixed
orders).  ``ChurnFullSize``: 4 x 4 GiB, 32 rounds, 64K: 71 million page events and
38 million pages mapped over the run (every round maps fresh addresses, so memory
grows with size x rounds), 14-19 s and 2.0-2.2 GiB peak RSS per design at cb9ecd3 on
the 2-core development machine.  Larger is not safer: where a virtual design cannot
place its large folios it retries them (``swap_alloc_fail``), and a tighter or larger
case ran 100x longer than ``classic`` (2 x 512 MiB at 95% full, 64K, ``vswap_v5``:
138 s against 1.0 s at 2dd3607, 13 million ``swap_alloc_fail``).
The counters are deterministic, so the tracks come from one run per design
(``setup_cache``); setup compiles first, as the other suites do.
"""
import vswap_nb as v

from .common import OneRunPerDesign, warm_simulate

THP = {"64K": {"64K": "always"}, "16K+64K": {"16K": "always", "64K": "always"}}


def churn_case(size, rounds, thp, ram):
    """(workload, system): 4 tasks keeping ``size`` each, memory.max half of it all, a
    zram device 8/7 of the other half (to the MiB below), ``nr_cpus`` 4."""
    tasks = 4
    w = v.churn(size, nr_tasks=tasks, rounds=rounds)
    total = tasks * v.parse_size(size)
    need = total - total // 2
    dev = need * 8 // 7 >> 20 << 20
    s = v.System(ram, memory_max=total // 2, swap=v.Device("zram", dev), nr_cpus=tasks, thp=THP[thp])
    return w, s


def large_folio_figures(ds):
    """The tracked figures of one run (see the module docstring)."""
    m = ds.mthp.sel(order=slice(1, None)).sum("order")

    def n(stat):
        return int(m.sel(mthp_stat=stat))

    out, fb = n("swpout") + n("zswpout"), n("swpout_fallback")
    sin, sfb = n("swpin"), n("swpin_fallback")
    return {
        "swpout_fallback_rate": fb / (out + fb) if out + fb else 0.0,
        "swpin_fallback_rate": sfb / (sin + sfb) if sin + sfb else 0.0,
        "swap_alloc_fail": int(ds.swap_alloc_fail),
        "live_entries_left": int(ds.live_entries),
    }


class _Tracks:
    """track_* over the figures setup_cache computed, one run per design."""

    def track_swpout_fallback_rate(self, cache, design, *args):
        return cache[(design, *args)]["swpout_fallback_rate"]

    track_swpout_fallback_rate.unit = "fraction"

    def track_swpin_fallback_rate(self, cache, design, *args):
        return cache[(design, *args)]["swpin_fallback_rate"]

    track_swpin_fallback_rate.unit = "fraction"

    def track_swap_alloc_fail(self, cache, design, *args):
        return cache[(design, *args)]["swap_alloc_fail"]

    track_swap_alloc_fail.unit = "folios"

    def track_live_entries_left(self, cache, design, *args):
        return cache[(design, *args)]["live_entries_left"]

    track_live_entries_left.unit = "entries"


class ChurnSmall(_Tracks):
    params = [list(v.designs()), list(THP)]
    param_names = ["design", "thp"]
    timeout = 900

    def setup_cache(self):
        out = {}
        for thp in THP:
            w, s = churn_case("64M", 16, thp, "1G")
            for design in v.designs():
                out[(design, thp)] = large_folio_figures(v.simulate(design, w, s))
        return out

    setup_cache.timeout = 1800

    def setup(self, cache, design, thp):
        warm_simulate(design)
        self.w, self.s = churn_case("64M", 16, thp, "1G")

    def time_churn(self, cache, design, thp):
        v.simulate(design, self.w, self.s)


class ChurnFullSize(_Tracks, OneRunPerDesign):

    def setup_cache(self):
        w, s = churn_case("4G", 32, "64K", "32G")
        return {(design,): large_folio_figures(v.simulate(design, w, s)) for design in v.designs()}

    setup_cache.timeout = 3600

    def setup(self, cache, design):
        warm_simulate(design)
        self.w, self.s = churn_case("4G", 32, "64K", "32G")

    def time_churn_4x4G(self, cache, design):
        v.simulate(design, self.w, self.s)

    def peakmem_churn_4x4G(self, cache, design):
        v.simulate(design, self.w, self.s)
