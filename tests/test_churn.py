"""The churn workload on the mm engine with large folios: it does what it is for (64K
folios faulted, swapped out, swapped in on zram, split by its holes, and falling back
to order 0 at swap-out once the device is nearly full), and a leak it found.

Small runs on ``classic`` (one engine compile)."""
from __future__ import annotations

import pytest

import vswap_nb as v
from vswap_nb.workloads import K_EXIT, K_MMAP, K_TOUCH, K_UNMAP, make_workload

THP = {"64K": "always"}


def mthp4(ds):
    m = ds.mthp.sel(order=4)
    return {str(k): int(m.sel(mthp_stat=k)) for k in m.mthp_stat.values}


@pytest.fixture(scope="module")
def runs():
    """2 tasks keeping 32 MiB each in a 24 MiB memcg: at least 40 MiB always in swap."""
    w = v.churn("32M", nr_tasks=2, rounds=6)
    out = {}
    for dev in ("48M", "42M"):
        s = v.System("1G", memory_max="24M", swap=v.Device("zram", dev), nr_cpus=2, thp=THP)
        out[dev] = v.simulate("classic", w, s)
    return out


def test_churn_drives_64k_folios_through_swap(runs):
    m = mthp4(runs["48M"])
    assert m["anon_fault_alloc"] > 1000  # the first write and every round's new VMA
    assert m["swpout"] > 500
    assert m["swpin"] > 100  # read-back on zram, zswap never on: 64K swap-ins
    assert m["split_deferred"] > 50  # holes through mapped 64K folios
    assert m["swpout_fallback"] == 0  # 48 MiB of device: room for whole folios


def test_churn_on_a_nearly_full_device_falls_back_to_order_0(runs):
    roomy, tight = mthp4(runs["48M"]), mthp4(runs["42M"])
    assert tight["swpout_fallback"] > 0 and roomy["swpout_fallback"] == 0
    # a fallback splits the folio: its pages go out one by one
    assert tight["split"] >= tight["swpout_fallback"]


# A hole through 64K folios read back from zram (classic and vswap_v5/v6 keep them in
# the swap cache) used to leave the store holding data for entries the design had
# freed when the partially mapped folio left the swap cache.  Found by churn; this is
# the smallest stream found; every design now ends with nothing left.
LEAK_ROWS = [
    (K_MMAP, 0, 6144), (K_TOUCH, 0, 6144, 1),  # write 24 MiB in a 16 MiB memcg
    (K_TOUCH, 922, 84, 0),  # read 84 pages back: 64K swap-ins on zram
    (K_MMAP, 6144, 1536), (K_TOUCH, 6144, 1536, 1),  # write 6 MiB more
    (K_UNMAP, 951, 43),  # a hole through the read-back folios
    (K_MMAP, 7680, 1536), (K_TOUCH, 7680, 1536, 1),
    (K_MMAP, 10752, 1536), (K_TOUCH, 10752, 1536, 1),
    (K_EXIT,),
]


@pytest.mark.parametrize("design", ["classic", "vswap_v6"])
def test_a_hole_through_64k_swapins_leaves_no_entry_behind(design):
    w = make_workload("leak", {}, ("p",), [LEAK_ROWS])
    s = v.System("1G", memory_max="16M", swap=v.Device("zram", "128M"), nr_cpus=2, thp=THP)
    ds = v.simulate(design, w, s, check="every")
    assert int(ds.live_entries) == 0
    assert int(ds.mthp.sel(order=4, mthp_stat="swpin")) > 0
