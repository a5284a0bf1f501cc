"""The memory-management engine on small workloads: what happens, and that it is the
same in every design where the kernel's behaviour does not depend on the design.

The runs are small (a few MiB of RAM, tens of thousands of page events) so the suite
stays fast; the designs compared are ``classic``, ``vswap_v5`` and ``vswap_v6`` (one
engine compile each)."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import vswap_nb as v
from vswap_nb.mm import engine as E
from vswap_nb.mm import reclaim
from vswap_nb.mm import state as MS
from vswap_nb.core.vmstat import VM_CONTENT_ERRORS, VM_PSWPOUT
from vswap_nb.mm.cost import cost_vectors
from vswap_nb.workloads import events as ev
from vswap_nb.mm.run import EngineError, run

DESIGNS = ("classic", "vswap_v5", "vswap_v6")
MIB = 1 << 20


@pytest.fixture(scope="module")
def memcg_runs():
    """usemem writing twice memory.max, reading everything back, then freeing."""
    w = v.usemem("64M", read_back=True)
    s = v.System("256M", memory_max="32M", swap=v.Device("ssd", "256M"), nr_cpus=2)
    return {d: v.simulate(d, w, s) for d in DESIGNS}


@pytest.mark.parametrize("design", DESIGNS)
def test_usemem_twice_memory_max_swaps_the_difference_and_checks_every_page(memcg_runs, design):
    ds = memcg_runs[design]
    pages = 64 * MIB // 4096
    limit = 32 * MIB // 4096
    assert int(ds.pswpout) + int(ds.zswpout) >= pages - limit
    # every page the read pass found swapped came back through a checked mapping
    assert int(ds.content_checks) >= pages - limit
    assert int(ds.content_errors) == 0
    # memory.max reclaim happens in the task: no allocstall, all steals direct
    assert int(ds.memcg_reclaim) > 0
    assert int(ds.allocstall) == 0
    assert int(ds.pgsteal_direct) >= pages - limit
    # everything freed at exit
    assert int(ds.live_entries) == 0
    assert int(ds.metadata_bytes_final.sel(structure="zswap_entry")) == 0


def test_designs_agree_on_what_happens_when_timing_and_memory_cannot_differ():
    """Reclaim by memory.max (so no kswapd and no timing feedback; the swap metadata is
    not charged to the memcg, so the designs' different metadata sizes do not move the
    limit) on an asynchronous device (so every design takes readahead the same way): the
    mm does the same thing in every design: same faults, swap-ins, swap-outs, readahead
    and reclaim."""
    w = v.usemem("48M", nr_tasks=2, read_back=True)
    s = v.System("256M", memory_max="64M", swap=v.Device("ssd", "256M"), nr_cpus=2)
    ds = v.compare(DESIGNS, w, s)
    for name in ("pswpout", "pswpin", "swap_ra", "swap_ra_hit", "pgfault", "pgmajfault", "pgsteal_direct",
                 "memcg_reclaim", "content_checks"):
        vals = ds[name].values
        assert (vals == vals[0]).all(), (name, dict(zip(DESIGNS, vals)))
    assert int(ds.pswpout[0]) > 0 and int(ds.swap_ra[0]) > 0
    assert (ds.content_errors.values == 0).all()
    assert (ds.live_entries.values == 0).all()


def test_swap_metadata_comes_out_of_free_memory_in_global_reclaim():
    """The same run under global reclaim (no memcg, kswapd off so timing cannot differ):
    the metadata each design keeps (classic's swap_map and tables, the virtual designs'
    descriptors and clusters on top) is taken from free memory, so a design with a larger
    metadata peak reclaims more pages to run the same workload."""
    w = v.usemem("48M", nr_tasks=2, read_back=True)
    s = v.System("64M", swap=v.Device("ssd", "256M"), nr_cpus=2, kswapd=False)
    ds = v.compare(DESIGNS, w, s)
    peak = ds.metadata_bytes_peak.sum("structure").values
    steal = ds.pgsteal_direct.values
    order = np.argsort(peak)
    assert (np.diff(peak[order]) > 4096).all(), dict(zip(DESIGNS, peak))  # at least a page apart
    assert (np.diff(steal[order]) > 0).all(), (dict(zip(DESIGNS, peak)), dict(zip(DESIGNS, steal)))
    assert (ds.pswpout.values == ds.pswpout.values[0]).all()  # every page is written out once either way
    assert (ds.content_errors.values == 0).all()


def test_zero_pages_on_zram_take_readahead_in_virtual_swap():
    """Half the pages zero-filled, on zram: 6.19 keeps them on the synchronous device
    (zeromap) and reads them without readahead; virtual swap's zero backend is not a
    device, so their faults go through swapin_readahead()."""
    w = v.usemem("48M", nr_tasks=2, read_back=True, fill={"zero": 0.5, "sequence": 0.5})
    s = v.System("64M", swap=v.Device("zram", "256M"), nr_cpus=2)
    ds = v.compare(DESIGNS, w, s)
    ra = dict(zip(DESIGNS, ds.swap_ra.values.tolist()))
    assert ra["vswap_v5"] > 1000
    assert ra["vswap_v5"] >= 10 * max(ra["classic"], 1)
    assert ra["vswap_v6"] >= 10 * max(ra["classic"], 1)
    assert (ds.content_errors.values == 0).all()


def test_free_phase_costs_more_in_v5_and_v6_comes_back():
    """The posted v5 frees a range cluster by cluster (one cluster-map lookup each, as
    v6); what it adds is swap_pte_batch()'s per-PTE check that the next entry is in the
    same virtual cluster (an xa_load per swap PTE), which v6's lookup cache absorbs."""
    w = v.usemem("48M", nr_tasks=2, sync_free=True)
    s = v.System("64M", swap=v.Device("zram", "128M"), nr_cpus=2)
    ds = v.compare(DESIGNS, w, s)
    free = dict(zip(DESIGNS, ds.model_time.sel(phase="free").values.tolist()))
    assert free["classic"] < free["vswap_v6"] < free["vswap_v5"], free
    xa = {d: int(ds.counters.sel(design=d, op="free", primitive="xa_lookup")) for d in DESIGNS}
    zapped = int(ds.pswpout.sel(design="vswap_v5"))  # every swapped page's PTE is zapped once
    assert xa["classic"] == 0
    # about one per swap PTE (plus per cluster and per folio the second pass reclaims)
    assert zapped <= xa["vswap_v5"] <= 1.1 * zapped, (xa, zapped)
    assert xa["vswap_v6"] < 0.05 * xa["vswap_v5"], xa


def test_costlier_reclaim_verbs_push_reclaim_to_direct():
    """kswapd's reclaim rate comes from the cost of what it does: make the same
    design's reclaim primitives cost more and kswapd falls behind, so more of the
    reclaim happens in the allocating task."""
    w = v.usemem("96M")
    s = v.System("64M", swap=v.Device("brd", "256M"), nr_cpus=1)
    cheap = v.simulate("vswap_v5", w, s)
    dear = v.simulate("vswap_v5", w, s, cost={"xa_node_visit": 400.0, "xa_lookup": 200.0})
    assert float(dear.direct_reclaim_share) > float(cheap.direct_reclaim_share) + 0.05
    assert int(dear.allocstall) > int(cheap.allocstall)


def test_same_seed_same_counters_and_trace_replay(tmp_path):
    w = v.usemem("16M", nr_tasks=2, random=True, read_back=True)
    s = v.System("64M", memory_max="16M", swap=v.Device("ssd", "64M"), nr_cpus=2)
    a = v.simulate("classic", w, s, seed=3)
    path = tmp_path / "w.npz"
    v.write_trace(w, path)
    b = v.simulate("classic", v.read_trace(path), s, seed=3)
    # identical except the measured wall time of the kernel
    xr.testing.assert_identical(a.drop_vars("wall_time"), b.drop_vars("wall_time"))
    assert int(a.pswpout) > 0


def test_content_check_catches_a_lost_page():
    """Corrupt the swap store between phases: the read-back finds it."""
    w = v.usemem("8M", read_back=True)
    s = v.System("64M", memory_max="16M", swap=v.Device("ssd", "64M"), nr_cpus=1)
    prim, mm = cost_vectors()
    raw = run("classic", v.usemem("1M"), s, s.to_params(), prim, mm, seed=0, options={})  # compile
    assert raw["live_entries"] == 0
    from vswap_nb.core import verbs
    from vswap_nb.designs import entry_space, get_design
    from vswap_nb.mm.run import design_state

    nf = int(s.ram_pages) + 64
    dst = design_state(get_design("classic"), s, nf, {})
    ctx = verbs.new_ctx(nf)
    st = MS.new_mm_state(w, s.to_params(), prim, mm, 1, nf, 0, entry_space(dst))
    ends = np.ascontiguousarray(w.task_start[1:])
    assert E.run_phase(st, ctx, dst, w.events, ends, 0, 1 << 30) == MS.OK
    assert st.vm[VM_PSWPOUT] == 0 and st.vm[VM_CONTENT_ERRORS] == 0  # 8M fits in 16M
    # squeeze: a second task's worth is not there, so make swap happen by hand instead:
    w2 = v.usemem("24M", read_back=True)
    dst = design_state(get_design("classic"), s, nf, {})
    st = MS.new_mm_state(w2, s.to_params(), prim, mm, 1, nf, 0, entry_space(dst))
    ctx = verbs.new_ctx(nf)
    ends = np.ascontiguousarray(w2.task_start[1:])
    assert E.run_phase(st, ctx, dst, w2.events, ends, 0, 1 << 30) == MS.OK
    assert st.vm[VM_PSWPOUT] > 0
    live = st.store_key != 0
    k = np.flatnonzero(live)[0]
    st.store_val[k, MS.SV_TAG] += 1  # one stored page now holds other data
    assert E.run_phase(st, ctx, dst, w2.events, ends, 1, 1 << 30) == MS.OK
    assert st.vm[VM_CONTENT_ERRORS] == 1


def test_out_of_memory_is_a_clear_error():
    w = v.usemem("64M")
    s = v.System("64M", memory_max="16M", swap=v.Device("ssd", "16M"), nr_cpus=1)
    with pytest.raises(EngineError, match="out of memory"):
        v.simulate("classic", w, s)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda w, s: v.simulate("nope", w, s), ValueError, "unknown design 'nope'"),
        (lambda w, s: v.simulate("classic", "usemem 1G", s), TypeError, "workload must be a vswap_nb Workload"),
        (lambda w, s: v.simulate("classic", w, {"ram": "1G"}), TypeError, "system must be a vswap_nb.System"),
        (lambda w, s: v.simulate("classic", w, s, seed=-1), ValueError, "seed must be in"),
        (lambda w, s: v.simulate("classic", w, s, seed=1.5), TypeError, "seed must be a non-negative integer"),
        (lambda w, s: v.simulate("vswap_v6", w, s, lookup_cache=True), ValueError, "valid switches: "),
        (lambda w, s: v.simulate("classic", w, s, rmap_cache_only_bit=True), ValueError, "classic has no switches"),
        (lambda w, s: v.simulate("vswap_v6", w, s, batch_ops=1), TypeError, "batch_ops must be True or False"),
        (lambda w, s: v.simulate("classic", w, s, cost={"xa_lookupp": 1.0}), ValueError, "xa_lookupp"),
        (lambda w, s: v.simulate(["classic", "vswap_v5"], w, s), ValueError, "use compare"),
        (lambda w, s: v.compare(["classic"], w, s, options={"vswap_v6": {}}), ValueError, "not among designs"),
    ],
)
def test_bad_inputs_are_named_before_any_kernel(call, exc, match):
    w = v.usemem("1M")
    s = v.System("64M", swap=v.Device("ssd", "64M"))
    with pytest.raises(exc, match=match):
        call(w, s)


def test_dataset_round_trips_through_netcdf(memcg_runs, tmp_path):
    ds = memcg_runs["classic"]
    p = tmp_path / "run.nc"
    ds.to_netcdf(p, engine="h5netcdf")
    back = xr.load_dataset(p, engine="h5netcdf")
    xr.testing.assert_identical(ds, back)
    assert back.counters.dtype == np.int64


def test_zswap_pool_fills_writes_back_and_loses_nothing():
    """zswap with a pool of 10% of RAM: stores until full, rejected stores go to the
    device, the shrinker writes the oldest entries back, loads are exclusive."""
    w = v.usemem("48M", nr_tasks=2, read_back=True)
    s = v.System("64M", swap=v.Device("ssd", "256M"), zswap=v.Zswap(max_pool_percent=10), nr_cpus=2)
    ds = v.compare(DESIGNS, w, s)
    for d in DESIGNS:
        r = ds.sel(design=d)
        assert int(r.zswpout) > 0 and int(r.zswpin) > 0, d
        assert int(r.zswap_reject) > 0 and int(r.zswpwb) > 0, d
        assert int(r.pswpout) >= int(r.zswpwb), d
        assert int(r.content_errors) == 0 and int(r.live_entries) == 0, d
        assert int(r.metadata_bytes_final.sel(structure="zswap_entry")) == 0, d
    # zswap_entry metadata was really used along the way
    assert (ds.metadata_bytes_peak.sel(structure="zswap_entry").values > 0).all()


def test_zswap_without_writeback_keeps_everything_in_the_pool_or_runs_out():
    """memory.zswap.writeback=0: pages go to zswap and never to the device; once the
    pool is full a rejected page stays in memory, so a workload that needs more than
    the pool can hold runs out of memory, as in the kernel."""
    w = v.usemem("40M", read_back=True)

    def system(pct):
        return v.System("256M", memory_max="32M", swap=v.Device("ssd", "256M"), nr_cpus=1,
                        zswap=v.Zswap(max_pool_percent=pct, writeback=False, shrinker=False))

    ds = v.simulate("classic", w, system(2))
    assert int(ds.zswpout) > 2000 and int(ds.zswpin) > 0
    assert int(ds.pswpout) == 0 and int(ds.zswpwb) == 0 and int(ds.zswap_reject) == 0
    assert int(ds.content_errors) == 0 and int(ds.live_entries) == 0
    with pytest.raises(EngineError, match="out of memory"):
        v.simulate("classic", w, system(1))


@pytest.mark.parametrize("design", ["classic", "vswap_v6"])
def test_kbuild_and_memhog_run_clean(design):
    """Many short-lived mappings with re-reads (kbuild) and same-filled pages (memhog
    on zram: stored in no memory) leave nothing behind."""
    k = v.kbuild(jobs=4, files=12, ram_per_job="8M", seed=1)
    s = v.System("64M", memory_max="24M", swap=v.Device("zram", "256M"), nr_cpus=2)
    ds = v.simulate(design, k, s)
    assert int(ds.pswpout) > 0 and int(ds.content_errors) == 0 and int(ds.live_entries) == 0
    assert int(ds.content_checks) > 0
    m = v.simulate(design, v.memhog("96M"), v.System("64M", swap=v.Device("zram", "256M")))
    assert int(m.pswpout) > 0 and int(m.content_errors) == 0 and int(m.live_entries) == 0


def test_threads_share_one_address_space():
    w = v.usemem("24M", nr_tasks=3, threads=True, read_back=True)
    assert w.nmm == 1
    s = v.System("64M", swap=v.Device("ssd", "256M"), nr_cpus=2)
    ds = v.simulate("classic", w, s)
    assert int(ds.pswpout) > 0 and int(ds.content_errors) == 0 and int(ds.live_entries) == 0
    # three tasks, each with its own time in each phase
    assert ds.task_time.shape == (3, 3)
    assert (ds.task_time.sel(phase="write").values > 0).all()


@pytest.mark.parametrize("vma_readahead, page_cluster", [(True, 0), (False, 3), (True, 3)])
def test_readahead_modes(vma_readahead, page_cluster):
    """page_cluster=0 turns readahead off; cluster readahead (vma_readahead=False) reads
    the aligned block of entries around the fault; VMA readahead the window around the
    address.  Sequential read-back hits what was read ahead."""
    w = v.usemem("48M", nr_tasks=2, read_back=True)
    s = v.System("64M", swap=v.Device("ssd", "256M"), nr_cpus=2, vma_readahead=vma_readahead,
                 page_cluster=page_cluster)
    ds = v.simulate("classic", w, s)
    assert int(ds.content_errors) == 0 and int(ds.live_entries) == 0
    if page_cluster == 0:
        assert int(ds.swap_ra) == 0 and int(ds.swap_ra_hit) == 0
    else:
        assert int(ds.swap_ra) > 1000
        assert int(ds.swap_ra_hit) > int(ds.swap_ra) // 2
        assert int(ds.pgmajfault) < int(ds.pswpin)


def test_cgroup_v1_does_not_charge_the_zswap_pool_to_the_memcg():
    """cgroup v2 charges zswap's compressed pool to the workload's memcg, v1 does not:
    under the same memory.max a v1 workload keeps more pages resident, so it stores
    fewer pages in zswap; without zswap the two versions count the same."""
    w = v.usemem("48M", read_back=True)
    z = dict(ram="256M", swap=v.Device("ssd", "256M"), memory_max="32M", nr_cpus=2)
    runs = {cg: v.simulate("classic", w, v.System(zswap=True, cgroup_version=cg, **z)) for cg in (1, 2)}
    assert int(runs[1].zswpout) < int(runs[2].zswpout)
    assert int(runs[1].content_errors) == int(runs[2].content_errors) == 0
    plain = [v.simulate("classic", w, v.System(cgroup_version=cg, **z)) for cg in (1, 2)]
    assert (plain[0].counters.values == plain[1].counters.values).all()
    assert int(plain[0].pswpout) == int(plain[1].pswpout)


def test_vm_swap_full_counts_physical_slots_only():
    """should_try_to_free_swap() drops a read fault's swap-cache copy when more than half of
    the *physical* swap slots are in use (vm_swap_full).  A zero-filled page holds a slot in
    classic (its zeromap bit is per slot) and none in a virtual design (a ZERO descriptor).
    All-zero pages whose entries fill more than half of an asynchronous device: classic
    drops each read page's cache copy, so reclaiming it again writes it out again
    (swpout_zero counts both rounds); vswap_ste keeps the clean copy (the P2 rule: a read
    fault on an asynchronous device frees it only when swap is full) and reclaims it with
    no writeout, so only the pages still dirty from the write phase are written in the
    read phase.  (vswap v5/v6 are no witness: their own rule, V6p14, drops the copy of
    every folio not backed by a physical slot.)"""
    w = v.usemem("48M", read_back=True, fill="zero")
    s = v.System("256M", memory_max="16M", swap=v.Device("ssd", "40M"), nr_cpus=1)
    c, v6 = (v.simulate(d, w, s) for d in ("classic", "vswap_ste"))
    pages = 48 << 8
    assert int(c.pswpout) == int(v6.pswpout) == 0
    assert int(v6.swpout_zero) <= pages + 64  # write phase + the pages resident after it, once each
    assert int(c.swpout_zero) > int(v6.swpout_zero) + 4000
    assert int(c.swpin_zero) == int(v6.swpin_zero) > 0
    assert int(c.content_errors) == int(v6.content_errors) == 0


def _fresh_mm_state(w, s):
    """The engine's state for workload ``w`` on system ``s`` before anything ran."""
    from vswap_nb.core import verbs
    from vswap_nb.designs import entry_space, get_design
    from vswap_nb.mm.config import P_RAM_PAGES
    from vswap_nb.mm.run import FOLIO_SLACK, design_state

    prim, mm = cost_vectors(None)
    params = s.to_params()
    nfolios = int(params[P_RAM_PAGES]) + FOLIO_SLACK
    dst = design_state(get_design("classic"), s, nfolios, {})
    return MS.new_mm_state(w, params, prim, mm, s.nr_cpus, nfolios, 0, entry_space(dst)), params


def test_zswap_pool_stays_full_until_it_is_back_under_the_accept_threshold():
    """zswap_check_limits(): the pool counts as full from the store that finds it at its
    limit until a store finds it at or under accept_threshold_percent (90%) of it; in
    between, every store is rejected (the hysteresis)."""
    from vswap_nb.mm.config import P_ZSWAP_MAX_POOL_PAGES

    st, params = _fresh_mm_state(v.usemem("4M"), v.System("256M", swap=v.Device("ssd", "64M"),
                                                          zswap=v.Zswap(max_pool_percent=10)))
    mx = int(params[P_ZSWAP_MAX_POOL_PAGES])
    assert mx == 6553  # floor(65536 pages * 10 / 100)

    def full_at(pages):
        st.fmeta[MS.FM_ZSWAP_BYTES] = pages * 4096
        return bool(reclaim._zswap_check_limits(st))

    accept = mx * 90 // 100  # 5897
    assert [full_at(p) for p in (accept + 1, mx - 1)] == [False, False]  # filling up
    assert full_at(mx) is True  # the limit: full
    assert [full_at(p) for p in (mx - 1, accept + 1)] == [True, True]  # still full
    assert full_at(accept) is False  # back at the threshold: accepting again
    assert full_at(accept + 1) is False


def test_zswap_writeback_is_the_shrink_workers_time():
    """A rejected store queues the shrink worker, which writes entries back on its own
    clock (as kswapd reclaims on its own): its time holds every writeback's counted work
    (the zswap_writeback row) and decompression, none of it on the task's clock."""
    w = v.usemem("64M", read_back=True)
    s = v.System("256M", memory_max="32M", swap=v.Device("ssd", "256M"), nr_cpus=1,
                 zswap=v.Zswap(max_pool_percent=4))
    ds = v.simulate("vswap_v6", w, s)
    wb = int(ds.zswpwb)
    assert wb > 1000 and int(ds.zswap_reject) > 0
    prim, _ = cost_vectors(None)
    row = float(ds.counters.sel(op="zswap_writeback").values.astype(float) @ prim)
    floor = row + wb * float(s.zswap.decompress_ns)
    shrink = float(ds.zswap_shrink_time)
    assert floor <= shrink <= 1.25 * floor, (shrink, floor)
    off = v.simulate("vswap_v6", w, v.System("256M", memory_max="32M", swap=v.Device("ssd", "256M"), nr_cpus=1))
    assert float(off.zswap_shrink_time) == 0.0


# --------------------------------------------------------------------------- precompile


def _tiny_system():
    return v.System("64M", swap=v.Device("zram", "64M"))


class _PoolHere:
    """A stand-in for ProcessPoolExecutor that records the jobs and runs none (a job for
    the design "broken" fails, as a design registered only in the parent would)."""

    submitted: list = []

    def __init__(self, max_workers, mp_context):
        self.max_workers = max_workers

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, name, *args):
        import concurrent.futures

        _PoolHere.submitted.append(name)
        fut = concurrent.futures.Future()
        if name == "broken":
            fut.set_exception(RuntimeError("no design 'broken' in this process"))
        else:
            fut.set_result(name)
        return fut


def test_precompile_sends_one_job_per_state_type_not_yet_compiled(monkeypatch):
    from vswap_nb.mm import run as R

    s = _tiny_system()
    prim_ns, mm_ns = cost_vectors(None)
    monkeypatch.setattr(R, "ProcessPoolExecutor", _PoolHere)
    _PoolHere.submitted = []
    monkeypatch.setattr(R, "_engine_ready", lambda args: False)
    names = ["classic", "vswap_v5", "vswap_v6", "swap_table", "ghost", "vswap_ste"]
    got = R.precompile(names, s, s.to_params(), prim_ns, mm_ns, {}, 2)
    # v5 and v6 share a state type; without zswap ghost's state is swap_table's
    want = ("classic", "vswap_v5", "swap_table", "vswap_ste")
    assert tuple(_PoolHere.submitted) == want and got == want
    # one job, or a single state type to compile: nothing to share out
    _PoolHere.submitted = []
    assert R.precompile(["classic", "vswap_v5"], s, s.to_params(), prim_ns, mm_ns, {}, 1) == ()
    assert R.precompile(["vswap_v5", "vswap_v6"], s, s.to_params(), prim_ns, mm_ns, {}, 2) == ()
    assert _PoolHere.submitted == []
    # a failing job is left to the run
    real = R.get_design
    monkeypatch.setattr(R, "get_design", lambda n: real("classic" if n == "broken" else n))
    got = R.precompile(["broken", "vswap_v6"], s, s.to_params(), prim_ns, mm_ns, {}, 2)
    assert got == ("vswap_v6",)


def test_precompile_skips_engines_already_compiled_or_cached(monkeypatch):
    from vswap_nb.mm import run as R

    s = _tiny_system()
    prim_ns, mm_ns = cost_vectors(None)
    for d in ("classic", "vswap_v6"):
        v.simulate(d, v.usemem("1M"), s)
        assert R._engine_ready(R._warm_args(R.get_design(d), s, s.to_params(), prim_ns, mm_ns, {}))
    monkeypatch.setattr(R, "ProcessPoolExecutor", _PoolHere)
    _PoolHere.submitted = []
    assert R.precompile(["classic", "vswap_v6"], s, s.to_params(), prim_ns, mm_ns, {}, 2) == ()
    assert _PoolHere.submitted == []


def test_first_compile_is_announced_once_per_state_type(monkeypatch, capsys):
    from vswap_nb.mm import run as R

    monkeypatch.setattr(R, "_ANNOUNCED", set())
    R.announce_compile([("classic", "ClassicState")])
    assert capsys.readouterr().err == (
        "vswap_nb: compiling the classic engine, first run only, about "
        f"{R.FIRST_COMPILE_S['ClassicState']} s\n"
    )
    R.announce_compile([("classic", "ClassicState")])  # once per process
    assert capsys.readouterr().err == ""
    # in parallel: the state types not yet announced, the time of the longest job or of
    # the work shared over the processes, whichever is longer
    R.announce_compile([("classic", "ClassicState"), ("vswap_v5", "VswapState"), ("vswap_ste", "SteState")], jobs=2)
    want = max(R.FIRST_COMPILE_S["VswapState"], -(-(R.FIRST_COMPILE_S["VswapState"] + R.FIRST_COMPILE_S["SteState"]) // 2))
    assert capsys.readouterr().err == (
        f"vswap_nb: compiling the engines of vswap_v5, vswap_ste in 2 processes, first run only, about {want} s\n"
    )


def test_a_run_announces_only_an_engine_it_compiles(monkeypatch, capsys):
    from vswap_nb.mm import run as R

    s = _tiny_system()
    monkeypatch.setattr(R, "_ANNOUNCED", set())
    monkeypatch.setattr(R, "_WARMED", set())
    v.simulate("classic", v.usemem("1M"), s)  # compiled or loaded from the cache already
    assert "compiling" not in capsys.readouterr().err
    monkeypatch.setattr(R, "_WARMED", set())
    monkeypatch.setattr(R, "_engine_ready", lambda args: False)  # as with an empty cache
    v.simulate("classic", v.usemem("1M"), s)
    assert "vswap_nb: compiling the classic engine" in capsys.readouterr().err


def test_compile_worker_runs_in_a_fresh_process():
    # the real pool: a spawned interpreter imports the package and compiles (here: loads
    # from the disk cache) the engine of one design
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from vswap_nb.mm import run as R

    s = _tiny_system()
    prim_ns, mm_ns = cost_vectors(None)
    v.simulate("classic", v.usemem("1M"), s)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        assert pool.submit(R._compile_engine, "classic", s, s.to_params(), prim_ns, mm_ns, {}).result(120) == "classic"


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "2"])
def test_compare_names_a_bad_compile_jobs(bad):
    with pytest.raises(ValueError, match="compile_jobs must be an int >= 1"):
        v.compare(["classic", "vswap_v6"], v.usemem("1M"), _tiny_system(), compile_jobs=bad)


def test_designs_agree_on_large_folios_when_timing_and_memory_cannot_differ():
    """The same with 16K, 64K and 2M folios on: every design faults and swaps out the
    same folios of every order (the device is large, so no design's allocator runs out
    of 2**order ranges; an asynchronous device swaps in order 0), and loses no page."""
    w = v.usemem("48M", nr_tasks=2, read_back=True)
    s = v.System("256M", memory_max="64M", swap=v.Device("ssd", "256M"), nr_cpus=2,
                 thp=v.Thp({"16K": "always", "64K": "always", "2M": "always"}))
    ds = v.compare(v.designs(), w, s, check="every")
    for name in ("pswpout", "pswpin", "pgfault", "pgmajfault", "pgsteal_direct", "content_checks"):
        vals = ds[name].values
        assert (vals == vals[0]).all(), (name, dict(zip(ds.design.values, vals)))
    m = ds.mthp.values  # [design, order, stat]
    assert (m == m[0]).all(), ds.mthp.sel(mthp_stat=["anon_fault_alloc", "swpout", "swpout_fallback"]).to_pandas()
    first = ds.mthp.isel(design=0)
    assert int(first.sel(order=4, mthp_stat="anon_fault_alloc")) > 0
    assert int(first.sel(order=4, mthp_stat="swpout")) > 0
    assert (ds.content_errors.values == 0).all()
    assert (ds.live_entries.values == 0).all()


def test_large_folios_on_zram_swap_in_whole_unless_zswap_was_enabled():
    """On zram, read-back faults swap 64K folios in whole when every entry of the
    aligned range is there with count 1 (swpin), and the charge that finds the memcg
    full falls back (swpin_fallback); once zswap was enabled on the boot, never."""
    w = v.usemem("64M", read_back=True)
    runs = {}
    for was in (False, True):
        s = v.System("256M", memory_max="32M", swap="zram:256M", nr_cpus=1,
                     thp=v.Thp({"64K": "always"}, zswap_was_enabled=was))
        runs[was] = v.simulate("classic", w, s, check="phase").mthp.sel(order=4)
    on, off = runs[False], runs[True]
    assert int(on.sel(mthp_stat="swpin")) > 0 and int(on.sel(mthp_stat="swpin_fallback")) > 0
    assert int(off.sel(mthp_stat="swpin")) == 0 and int(off.sel(mthp_stat="swpin_fallback")) == 0
    # the write pass is the same either way
    assert int(on.sel(mthp_stat="anon_fault_alloc")) == int(off.sel(mthp_stat="anon_fault_alloc")) > 0


def test_swapoff_with_large_folios_is_refused_before_running():
    w = v.with_swapoff(v.usemem("16M"), "free")
    s = v.System("256M", swap="zram:256M", thp={"64K": "always"})
    with pytest.raises(ValueError, match="swapoff of large folios is not modelled"):
        v.simulate("classic", w, s)


def test_designs_agree_with_several_cgroups():
    """Four usemem tasks in two memory cgroups, each cgroup at its own memory.max: every
    design does the same per cgroup (each cgroup reclaims its own pages only)."""
    w = v.usemem("24M", nr_tasks=4, cgroups=2, read_back=True)
    s = v.System("256M", memory_max="32M", swap=v.Device("ssd", "256M"), nr_cpus=2)
    ds = v.compare(v.designs(), w, s, check="every")
    m = ds.memcg_counters.values  # [design, memcg, stat]
    assert (m == m[0]).all(), ds.memcg_counters.sel(memcg_stat=["pswpout", "pswpin", "pgsteal"]).to_pandas()
    first = ds.memcg_counters.isel(design=0)
    limit = 32 * MIB // 4096
    for cg in (0, 1):
        c = first.sel(memcg=cg)
        assert int(c.sel(memcg_stat="memcg_reclaim")) > 0 and int(c.sel(memcg_stat="pswpout")) > 0
        assert int(c.sel(memcg_stat="usage_peak")) <= limit
    # the cgroups' counts add up to the run's
    assert int(first.sel(memcg_stat="pswpout").sum()) == int(ds.pswpout[0])
    assert int(first.sel(memcg_stat="pgfault").sum()) == int(ds.pgfault[0])
    assert int(ds.allocstall[0]) == 0 and (ds.content_errors.values == 0).all()


def test_each_cgroup_reclaims_only_its_own_pages():
    """A task that writes more than its cgroup's memory.max swaps; a task in another
    cgroup that fits in its limit keeps every page in memory."""
    big, small = 48 * MIB // 4096, 8 * MIB // 4096
    tasks = [[(ev.K_MMAP, 0, n), (ev.K_PHASE, "run"), (ev.K_TOUCH, 0, n, ev.F_WRITE), (ev.K_EXIT,)]
             for n in (big, small)]
    w = ev.make_workload("two cgroups", {}, ("run",), tasks, task_memcg=[0, 1])
    s = v.System("256M", memory_max="32M", swap="zram:256M", nr_cpus=2)
    ds = v.simulate("classic", w, s, check="every")
    c = ds.memcg_counters
    assert int(c.sel(memcg=0, memcg_stat="pswpout")) >= big - 32 * MIB // 4096
    assert int(c.sel(memcg=1, memcg_stat="pswpout")) == 0
    assert int(c.sel(memcg=1, memcg_stat="pgsteal")) == 0
    assert int(c.sel(memcg=1, memcg_stat="usage_peak")) == small


def test_swap_max_caps_each_cgroups_swap():
    """memory.swap.max: a cgroup's swap charge never goes over it; a workload that needs
    more swap than it allows runs out of memory, with swap-outs refused on the way."""
    w = v.usemem("48M")
    ok = v.simulate("classic", w, v.System("256M", memory_max="32M", swap_max="24M", swap="zram:256M", nr_cpus=1),
                    check="every")
    assert 0 < int(ok.memcg_counters.sel(memcg=0, memcg_stat="swap_peak")) <= 24 * MIB // 4096
    assert int(ok.memcg_counters.sel(memcg=0, memcg_stat="swap_max_fail")) == 0
    with pytest.raises(EngineError, match="out of memory"):
        v.simulate("classic", w, v.System("256M", memory_max="32M", swap_max="8M", swap="zram:256M", nr_cpus=1))
