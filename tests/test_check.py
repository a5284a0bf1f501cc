"""The invariant checker (issue 7): clean on real runs of every design, and each
invariant caught, with the right message, when a test pokes one array of a live state."""
import numpy as np
import pytest

import vswap_nb as v
from vswap_nb.check import InvariantError, check_invariants
from vswap_nb.core import verbs
from vswap_nb.core.device import (
    CI_COUNT,
    CI_FLAGS,
    D_INUSE,
    D_MAX,
    D_TABLES,
    L_FREE,
    LS_HEAD,
    LS_LEN,
)
from vswap_nb.core.radix import M_NR_NODES, N_META, W_COUNT
from vswap_nb.designs import entry_space, get_design
from vswap_nb.mm import engine as E
from vswap_nb.mm import state as MS
from vswap_nb.core.vmstat import VM_SWAPOFF_PAGES
from vswap_nb.mm.config import P_RAM_PAGES
from vswap_nb.mm.cost import cost_vectors
from vswap_nb.mm.run import CHUNK_QUANTA, FOLIO_SLACK, design_state
from vswap_nb.workloads import events as ev

DESIGNS = list(v.designs())
PAGES = 24 * 256  # 24 MiB per task: twice what fits in RAM with two tasks


def _system(zswap=None):
    return v.System("64M", memory_max="24M", swap=v.Device("ssd", "128M"), nr_cpus=2, zswap=zswap)


@pytest.mark.parametrize("design", DESIGNS)
def test_checker_is_clean_after_every_phase_and_changes_no_counter(design):
    w = v.usemem("40M", nr_tasks=2, read_back=True)
    s = _system()
    checked = v.simulate(design, w, s, check="phase")
    plain = v.simulate(design, w, s)
    assert int(checked.pswpout) > 0 and int(checked.pswpin) > 0
    assert np.array_equal(checked.counters.values, plain.counters.values)
    assert int(checked.content_errors) == 0


def test_checker_every_chunk_on_zswap_and_zero_pages():
    w = v.usemem("40M", nr_tasks=2, read_back=True, fill={"zero": 0.25, "sequence": 0.75})
    s = v.System("64M", memory_max="24M", swap=v.Device("ssd", "128M"), nr_cpus=2, zswap=v.Zswap(max_pool_percent=5))
    ds = v.simulate("vswap_v6", w, s, check="every")
    assert int(ds.zswpout) > 0 and int(ds.pswpout) > 0


def test_check_must_be_a_mode():
    with pytest.raises(ValueError, match="check must be None, 'phase'"):
        v.simulate("classic", v.usemem("4M"), _system(), check="always")


# --------------------------------------------------------------------------- corruption


def _run_phases(design, w, s, phases, options=None):
    """The engine's state for ``w`` on ``s`` after running ``phases`` (each to its end),
    checked clean before a test pokes it."""
    prim, mm = cost_vectors(None)
    params = s.to_params()
    nfolios = int(params[P_RAM_PAGES]) + FOLIO_SLACK
    dst = design_state(get_design(design), s, nfolios, dict(options or {}))
    ctx = verbs.new_ctx(nfolios)
    st = MS.new_mm_state(w, params, prim, mm, s.nr_cpus, nfolios, 0, entry_space(dst))
    events = np.ascontiguousarray(w.events, dtype=np.int64)
    task_end = np.ascontiguousarray(w.task_start[1:], dtype=np.int64)
    for p in phases:
        while st.meta[MS.M_PHASE_DONE] != -(p + 1):
            assert E.run_phase(st, ctx, dst, events, task_end, p, CHUNK_QUANTA) == MS.OK
    check_invariants((st, ctx, dst), design=design)  # clean before the poke
    return st, ctx, dst


def _live(design, zswap=None, options=None):
    """A run stopped after its first phase with every page still mapped: two tasks
    wrote 24 MiB each under memory.max=24M, so about half the pages sit in swap."""
    tasks = [[(ev.K_MMAP, 0, PAGES), (ev.K_PHASE, 0), (ev.K_TOUCH, 0, PAGES, ev.F_WRITE), (ev.K_PHASE, 1), (ev.K_EXIT,)]
             for _ in range(2)]
    w = ev.make_workload("live", {}, ("write", "exit"), tasks)
    return _run_phases(design, w, _system(zswap), (0,), options)


def _swap_ptes(st):
    return np.flatnonzero(st.pt[:, MS.PT_STATE] == MS.PTE_SWAP)


def _caught(state, design, *parts, final=False):
    with pytest.raises(InvariantError) as exc:
        check_invariants(state, design=design, final=final)
    msg = str(exc.value)
    assert msg.startswith(f"{design}: "), msg
    for p in parts:
        assert p in msg, msg
    return msg


_LIVE = {}


def _state(design, zswap=None):
    key = (design, zswap is not None)
    if key not in _LIVE:
        _LIVE[key] = _live(design, zswap)
    return _LIVE[key]


@pytest.fixture(params=["swap_table", "vswap_v6", "vswap_ste"])
def live(request):
    return request.param, _state(request.param)


def _copy(state):
    st, ctx, dst = state

    def deep(x):
        if isinstance(x, np.ndarray):
            return x.copy()
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return type(x)(*(deep(y) for y in x))
        return x

    return deep(st), deep(ctx), deep(dst)


def test_a_second_pte_on_an_entry_breaks_its_count(live):
    design, state = live
    st, ctx, dst = _copy(state)
    swp = _swap_ptes(st)
    assert swp.size > 1000
    none = np.flatnonzero(st.pt[:, MS.PT_STATE] == MS.PTE_NONE)
    e = int(st.pt[swp[0], MS.PT_VAL])
    if none.size == 0:  # every page is mapped: make a present page point at the entry
        none = np.flatnonzero(st.pt[:, MS.PT_STATE] == MS.PTE_PRESENT)
    st.pt[none[0], MS.PT_STATE] = MS.PTE_SWAP
    st.pt[none[0], MS.PT_VAL] = e
    _caught((st, ctx, dst), design, "swap count[entry", f"{e}]", "count 1, 2 swap PTEs hold it")


def test_a_lost_pte_is_a_leaked_entry(live):
    design, state = live
    st, ctx, dst = _copy(state)
    page = _swap_ptes(st)[0]
    e = int(st.pt[page, MS.PT_VAL])
    st.pt[page, MS.PT_STATE] = MS.PTE_NONE
    _caught((st, ctx, dst), design, f"swap count[entry {e}]", "leaked")


def test_the_two_sides_of_the_swap_cache_must_agree(live):
    design, state = live
    st, ctx, dst = _copy(state)
    e = int(st.pt[_swap_ptes(st)[0], MS.PT_VAL])
    f = int(np.flatnonzero(ctx.folio[:, verbs.F_SWAP] == 0)[0])
    ctx.folio[f, verbs.F_SWAP] = e  # the design says folio f caches e; the mm does not
    _caught((st, ctx, dst), design, f"swap cache[folio {f}]", f"the design's folio->swap is {e}")


def test_final_check_finds_what_is_still_allocated(live):
    design, state = live
    _caught(_copy(state), design, "swap count[entry", "still allocated (count 1) after every task exited", final=True)


@pytest.mark.parametrize("poke, parts", [
    ("list_len", ("dev.lists[free]", "length word")),
    ("list_flags", ("dev.ci[", "on list free")),
    ("inuse", ("dev.meta[D_INUSE]", "slots in use")),
    ("tables", ("dev.meta[D_TABLES]", "tables counted")),
])
def test_device_corruption_is_caught(live, poke, parts):
    design, state = live
    st, ctx, dst = _copy(state)
    dev = dst.dev
    if poke == "list_len":
        dev.lists[L_FREE, LS_LEN] += 1
    elif poke == "list_flags":
        dev.ci[dev.lists[L_FREE, LS_HEAD], CI_FLAGS] = 4  # FULL
    elif poke == "inuse":
        dev.meta[D_INUSE] += 1
    else:
        dev.meta[D_TABLES] += 1
    _caught((st, ctx, dst), design, *parts)


def test_xarray_node_count_and_node_words_are_checked():
    st, ctx, dst = _copy(_state("vswap_v6"))
    dst.cmap.aux[M_NR_NODES] += 1
    _caught((st, ctx, dst), "vswap_v6", "cmap.aux[M_NR_NODES]", "reachable from the heads")
    st, ctx, dst = _copy(_state("vswap_v6"))
    root = int(dst.cmap.aux[N_META]) >> 2
    dst.cmap.nodes[root, W_COUNT] += 1
    _caught((st, ctx, dst), "vswap_v6", f"cmap.nodes[{root}]", "count word")


def test_vswap_cluster_count_and_reverse_map_are_checked():
    from vswap_nb.core import swp_tb
    from vswap_nb.designs import vswap as V

    st, ctx, dst = _copy(_state("vswap_v6"))
    row = int(np.flatnonzero(dst.vc[:, V.VC_FLAGS] & V.VF_LIVE)[-1])
    dst.vc[row, V.VC_COUNT] += 1
    _caught((st, ctx, dst), "vswap_v6", f"vc[{row}]", "slots allocated in its bitmap")

    st, ctx, dst = _copy(_state("vswap_v6"))
    ptr = np.flatnonzero((dst.dev.table & 7) == swp_tb.PTR_MARK)
    assert ptr.size > 1000
    q = int(ptr[0])
    e = int((dst.dev.table[q] >> 3) & swp_tb.PTR_OFFSET_MASK)
    dst.dev.table[q] = swp_tb.tb_mk_pointer(e + 1, False)
    _caught((st, ctx, dst), "vswap_v6", f"entry {e} is backed by physical slot {q}", f"points at entry {e + 1}")


def test_ste_virtual_table_and_ghost_forward_tables_are_checked():
    from vswap_nb.designs import ste as S

    st, ctx, dst = _copy(_state("vswap_ste"))
    phys = np.flatnonzero((dst.vt & 7) == S.VT_PHYS)
    assert phys.size > 1000
    q = int(phys[0])
    p = int(dst.vt[q] >> 3)
    dst.vt[q] = ((p + 1) << 3) | S.VT_PHYS
    _caught((st, ctx, dst), "vswap_ste", f"vt[{q}]", f"backed by physical slot {p + 1}")

    lazy = _live("ghost", v.Zswap(max_pool_percent=5), {"lazy_forward_table": True})
    st, ctx, dst = _copy(lazy)
    assert int(dst.meta[S.E_LAZY_VT]) == 1
    c = int(np.flatnonzero(dst.dev.ci[:, S.CI_AUX])[0])
    dst.dev.ci[c, S.CI_AUX] += 1
    _caught((st, ctx, dst), "ghost", f"dev.ci[{c}]", "forward-table count")
    # the tree reading keeps zswap's entries in its own trees: one entry too many
    st, ctx, dst = _copy(lazy)
    zs = np.flatnonzero((dst.vt & 7) == S.VT_ZSWAP)
    assert zs.size > 100
    q = int(zs[0])
    from vswap_nb.core.radix import xa_erase

    assert xa_erase(dst.zs, q >> 14, q) >= 0  # the tree stays well formed, one entry short
    _caught((st, ctx, dst), "ghost", "zs[entries]", f"{zs.size - 1} entries in zswap trees, {zs.size} vswap slots")


def test_the_mm_store_must_hold_every_swapped_page_and_match_zswap():
    st, ctx, dst = _copy(_state("ghost", v.Zswap(max_pool_percent=5)))
    live = np.flatnonzero(st.store_key != MS.EMPTY_KEY)
    where = st.store_val[live, MS.SV_INFO] >> 4
    z = int(live[np.flatnonzero(where == MS.W_ZSWAP)[0]])
    st.store_val[z, MS.SV_INFO] = (st.store_val[z, MS.SV_INFO] & 15) | (MS.W_DISK << 4)
    _caught((st, ctx, dst), "ghost", "zswap[entries]", "the mm stored")

    st, ctx, dst = _copy(_state("vswap_v6"))
    cached = set(int(x) for x in ctx.folio[:, verbs.F_SWAP] if x)
    e = next(int(x) for x in st.pt[_swap_ptes(st), MS.PT_VAL] if int(x) not in cached)
    i = int(np.flatnonzero(st.store_key == e)[0])
    st.store_val[i, MS.SV_INFO] &= 15  # where = W_NONE: the data is gone
    _caught((st, ctx, dst), "vswap_v6", f"mm store[entry {e}]", "its data is nowhere: lost")


def _after_swapoff(design):
    """Task 1 pushes task 0's pages out to swap and exits; task 0 swaps the device off
    and stops there (its pages in memory or, for a virtual design, in the swap cache)."""
    a, b = 10_000, 12_000
    t0 = [(ev.K_MMAP, 0, a), (ev.K_PHASE, 0), (ev.K_TOUCH, 0, a, ev.F_WRITE), (ev.K_BARRIER, 0), (ev.K_BARRIER, 1),
          (ev.K_PHASE, 1), (ev.K_SWAPOFF,), (ev.K_PHASE, 2), (ev.K_EXIT,)]
    t1 = [(ev.K_MMAP, 0, b), (ev.K_PHASE, 0), (ev.K_BARRIER, 0), (ev.K_TOUCH, 0, b, ev.F_WRITE), (ev.K_EXIT,)]
    w = ev.make_workload("swapoff", {}, ("fill", "swapoff", "exit"), [t0, t1])
    st, ctx, dst = _run_phases(design, w, v.System("64M", swap=v.Device("ssd", "256M"), nr_cpus=2), (0, 1))
    assert st.meta[MS.M_SWAPOFF] == 1 and int(st.vm[VM_SWAPOFF_PAGES]) > 0
    return st, ctx, dst


def test_after_swapoff_no_data_is_on_the_device_and_no_slot_in_use():
    st, ctx, dst = _after_swapoff("vswap_v6")
    live = np.flatnonzero(st.store_key != MS.EMPTY_KEY)
    assert live.size > 0  # repointed entries: their pages are in the swap cache
    i = int(live[0])
    st.store_val[i, MS.SV_INFO] = (st.store_val[i, MS.SV_INFO] & 15) | (MS.W_DISK << 4)
    _caught((st, ctx, dst), "vswap_v6", f"mm store[entry {int(st.store_key[i])}]",
            "recorded on the swap device after swapoff")

    st, ctx, dst = _after_swapoff("classic")
    assert not (st.store_key != MS.EMPTY_KEY).any()  # every page is mapped again
    dst.dev.ci[0, CI_COUNT] += 1
    dst.dev.meta[D_INUSE] += 1
    _caught((st, ctx, dst), "classic", "dev.meta[D_OFF]", "swapped off with 1 slots still in use")


def test_a_per_cpu_offset_may_point_into_the_last_clusters_tail_but_not_past_it():
    """The kernel's next offset can land in the last cluster's tail past si->max (the
    scan stops at the cluster's end); past the clusters it is a broken state."""
    dst = get_design("classic").new_state(100, cluster_size=16)
    ctx = verbs.new_ctx(8)
    nmax, ncl = int(dst.dev.meta[D_MAX]), (int(dst.dev.meta[D_MAX]) + 15) // 16
    assert nmax < ncl * 16
    dst.dev.pcpu[0, 0] = nmax  # in the tail: fine
    check_invariants((ctx, dst))
    dst.dev.pcpu[0, 0] = ncl * 16
    with pytest.raises(InvariantError, match="pcpu"):
        check_invariants((ctx, dst))
