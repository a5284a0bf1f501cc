"""swapoff (issue 7): every design swaps the device off in the middle of a run without
losing a page; the classic designs walk the page tables, the virtual ones repoint their
entries at the swap cache; the cost is in the ``swapoff`` counters and model time, and
the device is gone afterwards."""
import numpy as np
import pytest

import vswap_nb as v
from vswap_nb.mm.run import EngineError
from vswap_nb.workloads import events as ev
from vswap_nb.workloads.trace import read_trace, write_trace

A, B = 10_000, 12_000  # pages of the kept mm and of the one that pushes it out (64M RAM)
WALKS = ("classic", "swap_table")  # page tables hold device entries
REPOINTS = ("vswap_v5", "vswap_v6", "vswap_ste")  # page tables hold virtual entries


def two_mms(more=0):
    """Task 0 writes A pages; task 1 then writes B more in its own mm (pushing A's out to
    swap) and exits; in phase ``read`` task 0 reads A back and rewrites it, then
    optionally maps and writes ``more`` pages (needing reclaim without the device)."""
    t0 = [(ev.K_MMAP, 0, A + more), (ev.K_PHASE, "fill"), (ev.K_TOUCH, 0, A, ev.F_WRITE), (ev.K_BARRIER, 0), (ev.K_BARRIER, 1),
          (ev.K_PHASE, "read"), (ev.K_TOUCH, 0, A, 0), (ev.K_TOUCH, 0, A, ev.F_WRITE)]
    if more:
        t0.append((ev.K_TOUCH, A, more, ev.F_WRITE))
    t0.append((ev.K_EXIT,))
    t1 = [(ev.K_MMAP, 0, B), (ev.K_PHASE, "fill"), (ev.K_BARRIER, 0), (ev.K_TOUCH, 0, B, ev.F_WRITE), (ev.K_EXIT,)]
    return ev.make_workload("two_mms", {}, ("fill", "read"), [t0, t1], fill={"zero": 0.1, "sequence": 0.9})


WORK = v.with_swapoff(two_mms(), "read")


def _system(zswap=False):
    return v.System("64M", swap=v.Device("ssd", "256M"), nr_cpus=2,
                    zswap=v.Zswap(max_pool_percent=10) if zswap else None)


@pytest.mark.parametrize("design", list(v.designs()))
def test_swapoff_loses_nothing(design):
    ds = v.simulate(design, WORK, _system(), check="every")
    swapped = int(ds.pswpout)
    assert swapped > 3000  # B pushed a good part of A out before swapoff
    # every page on the device was read back once, by swapoff, and every one was
    # checked against its content tag (at swapoff, or at its later fault)
    assert int(ds.swapoff_pages) >= int(ds.pswpin) == swapped
    assert int(ds.content_errors) == 0 and int(ds.content_checks) >= swapped
    assert int(ds.live_entries) == 0
    assert float(ds.swapoff_time) > 0
    so = ds.counters.sel(op="swapoff")
    assert int(so.sum()) > 0
    if design in WALKS or design == "ghost":  # ghost without zswap is swap_table
        # the walk read every populated PTE (A's, task 1 has exited), and mapped the
        # swapped ones back in place: nothing read from the device after swapoff
        assert int(ds.swapoff_ptes) == A == int(so.sel(primitive="pte_read"))
        assert int(ds.pgmajfault) == 0  # every page is mapped again
    else:
        assert int(ds.swapoff_ptes) == 0 == int(so.sel(primitive="pte_read"))
        assert int(so.sel(primitive="rmap_read")) > 0


@pytest.mark.parametrize("design", ["classic", "vswap_v6"])
def test_swapoff_frees_the_device_metadata(design):
    ds = v.simulate(design, WORK, _system())
    final = ds.metadata_bytes_final
    static = {"classic": ["swap_map", "swap_cgroup", "zeromap", "cluster_info"],
              "vswap_v6": ["phys_bitmaps", "cluster_info"]}[design]
    for s in static:
        assert int(final.sel(structure=s)) == 0, s
    assert int(ds.metadata_bytes_peak.sel(structure=static[0])) > 0


def test_swapoff_with_zswap_virtual_keeps_zswap():
    """A virtual design leaves zswap and zero entries alone; classic brings its zswap
    pages back too (they are entries of the device)."""
    cl = v.simulate("classic", WORK, _system(zswap=True), check="phase")
    vs = v.simulate("vswap_v6", WORK, _system(zswap=True), check="phase")
    for ds in (cl, vs):
        assert int(ds.zswpout) > 0 and int(ds.content_errors) == 0 and int(ds.live_entries) == 0
    assert int(cl.swapoff_pages) >= int(cl.zswpout) - int(cl.zswpwb)
    assert int(vs.swapoff_pages) < int(cl.swapoff_pages)


def test_after_swapoff_only_a_virtual_design_can_still_swap():
    """With the device gone, classic cannot reclaim anonymous memory (every swapped page
    needs a device slot, zswap included) and runs out of memory; virtual swap still
    stores pages in zswap."""
    w = v.with_swapoff(two_mms(more=8_000), "read")
    with pytest.raises(EngineError, match="out of memory after swapoff"):
        v.simulate("classic", w, _system(zswap=True))
    ds = v.simulate("vswap_v6", w, _system(zswap=True), check="phase")
    assert int(ds.content_errors) == 0 and int(ds.live_entries) == 0
    assert int(ds.zswpout) > 0


def test_swapoff_cost_differs_by_design_not_meaning():
    runs = {d: v.simulate(d, WORK, _system()) for d in ("classic", "vswap_v6")}
    # the same pages were swapped out and none was lost
    assert int(runs["classic"].pswpout) == int(runs["vswap_v6"].pswpout)
    for ds in runs.values():
        assert int(ds.content_errors) == 0 and int(ds.live_entries) == 0
    # classic's walk reads page tables; v6 reads reverse maps and looks entries up
    c = runs["classic"].counters.sel(op="swapoff")
    s = runs["vswap_v6"].counters.sel(op="swapoff")
    assert int(c.sel(primitive="pte_read")) > 0 and int(c.sel(primitive="rmap_read")) == 0
    assert int(s.sel(primitive="pte_read")) == 0 and int(s.sel(primitive="rmap_read")) > 0


def test_with_swapoff_places_one_event(tmp_path):
    w = WORK
    rows = np.flatnonzero(w.events[:, 1] == ev.K_SWAPOFF)
    assert rows.size == 1 and w.events[rows[0], 0] == 0 and w.events[rows[0] - 1, 1] == ev.K_PHASE
    assert w.params["swapoff"] == "read" and w.page_events == two_mms().page_events
    for name in ("w.npz", "w.csv"):
        write_trace(w, tmp_path / name)
        assert read_trace(tmp_path / name) == w


@pytest.mark.parametrize(
    ("args", "exc", "msg"),
    [
        ((WORK.__class__, "read"), TypeError, "workload must be a Workload"),
        ((two_mms(), "write"), ValueError, r"phase must name one of the workload's phases \['fill', 'read'\]"),
        ((WORK, "read"), ValueError, "already swaps off at phase 'read'"),
    ],
)
def test_with_swapoff_rejects(args, exc, msg):
    with pytest.raises(exc, match=msg):
        v.with_swapoff(*args)


def test_compare_keeps_the_designs_that_finished():
    """One design running out of memory after swapoff does not lose the others' runs:
    they are on the error's ``results``."""
    w = v.with_swapoff(two_mms(more=8_000), "read")
    with pytest.raises(EngineError, match="classic: out of memory after swapoff") as err:
        v.compare(["classic", "vswap_v6"], w, _system(zswap=True))
    ds = err.value.results
    assert list(ds.design.values) == ["vswap_v6"] and int(ds.content_errors.sel(design="vswap_v6")) == 0


def test_swapoff_reads_through_readahead_on_a_block_device():
    """try_to_unuse() reads a swapped page through swapin_readahead() (unuse_pte_range):
    on a block device with page-cluster 3 the walk reads windows ahead of the page, so
    a share of the pages it brings back are read ahead (swap_ra), not one at a time (a
    third here: the walk never calls swap_update_readahead(), so after the first
    windows of 8 the window shrinks); with page-cluster 0 nothing is read ahead.  Either way the same pages come back and the
    read phase after it takes no major fault (nothing is left on the device)."""
    def run(pc):
        s = v.System("64M", swap=v.Device("ssd", "256M"), nr_cpus=2, page_cluster=pc)
        return v.simulate("classic", WORK, s)

    ra, one = run(3), run(0)
    assert int(one.swap_ra) == 0
    assert int(ra.swapoff_pages) == int(one.swapoff_pages) > 1000
    # 2,020 of the 6,048 pages the walk brings back were read ahead
    assert int(ra.swapoff_pages) // 4 < int(ra.swap_ra) < int(ra.swapoff_pages), (
        int(ra.swap_ra), int(ra.swapoff_pages))
    for ds in (ra, one):
        assert int(ds.content_errors) == 0 and int(ds.live_entries) == 0
