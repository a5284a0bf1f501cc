"""The mechanics the linux-mm thread argued over, pinned at counter level on small
hand-built sequences (issue 3): the per-PTE cgroup check on the free path, the
cluster-map lookups of virtual swap and the fixes that remove them, the cache-only check
in the physical allocator, and zero pages leaving the physical device alone."""
import pytest

from vswap_nb.core import verbs
from vswap_nb.core.counters import (
    CLUSTER_LOCK,
    DESC_READ,
    LOOKUP_CACHE_HIT,
    LOOKUP_CACHE_MISS,
    MAP_READ,
    MEMCG_READ,
    OP_CACHE_DEL,
    OP_DUP,
    OP_FREE,
    OP_READAHEAD,
    OP_SWAPIN,
    OP_WRITEOUT,
    OP_ZSWAP_WB,
    RMAP_READ,
    XA_LOOKUP,
)
from vswap_nb.core.device import D_INUSE
from vswap_nb.designs import get_design
from vswap_nb.inputs import check_options

N = 32  # PTEs in the batch, all in one cluster


def make(name, **kw):
    dst = get_design(name).new_state(4096, cluster_size=64, zswap_enabled=True, **kw)
    ctx = verbs.new_ctx(4 * N + 8)
    return dst, ctx


def swapped_batch(dst, ctx, backend):
    """N consecutive order-0 entries, each unmapped once and written out."""
    entries = []
    for i in range(N):
        e = verbs.alloc(dst, ctx, 0, 0, i + 1, 1)
        verbs.dup(dst, ctx, OP_DUP, e, 1)
        assert verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, backend) == backend
        verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
        entries.append(e)
    assert entries == list(range(entries[0], entries[0] + N))
    return entries[0]


def zap(dst, ctx, first):
    """zap_pte_range(): swap_pte_batch() then one put of the batch.  Returns the free
    row's counters; ``zap.batch`` keeps the swap_pte_batch() part."""
    ctx.counters[:] = 0
    n = verbs.pte_batch(dst, ctx, OP_FREE, first, N)
    assert n == N
    zap.batch = ctx.counters[OP_FREE].copy()
    verbs.put(dst, ctx, OP_FREE, first, n, True)
    return ctx.counters[OP_FREE]


@pytest.mark.parametrize("backend", [verbs.BACKEND_DISK, verbs.BACKEND_ZERO])
def test_batch_free_costs(backend):
    dst, ctx = make("classic")
    row = zap(dst, ctx, swapped_batch(dst, ctx, backend))
    assert zap.batch[MEMCG_READ] == N  # lookup_swap_cgroup_id() of every PTE
    assert row[XA_LOOKUP] == 0

    dst, ctx = make("swap_table")
    row = zap(dst, ctx, swapped_batch(dst, ctx, backend))
    assert not zap.batch.any()  # P4: no cgroup lookup in swap_pte_batch()
    assert row[XA_LOOKUP] == 0

    dst, ctx = make("vswap_v5")
    row = zap(dst, ctx, swapped_batch(dst, ctx, backend))
    # one cluster-map lookup per PTE in swap_pte_batch(); the free itself (V5p21, v5's
    # 21/21 batched it: this pin was 2 * N while the model freed entry by entry) looks
    # the cluster up once, plus lookup_swap_cgroup_id() once per physical run it uncharges
    assert zap.batch[XA_LOOKUP] == N
    assert row[XA_LOOKUP] == N + 1 + (backend == verbs.BACKEND_DISK)

    dst, ctx = make("vswap_v6", rmap_cache_only_bit=False, batch_ops=False,
                    defer_cgroup_check=True, cluster_lookup_cache=True)
    row = zap(dst, ctx, swapped_batch(dst, ctx, backend))
    assert not zap.batch.any()  # the cgroup check is deferred into the free loop
    assert row[XA_LOOKUP] <= 1  # at most one per cluster touched

    dst, ctx = make("vswap_v6")
    row = zap(dst, ctx, swapped_batch(dst, ctx, backend))
    assert row[XA_LOOKUP] <= 1


def fill_then_rescan(name, **kw):
    """Fill physical cluster 0 (16 slots, slot 0 is the header) with disk-backed
    entries, free the last one, and write one more page out: the allocator takes
    cluster 0 off nonfull[0] and scans it from the start, meeting 14 allocated slots.
    Returns the writeout's counters minus the same writeout's on a fresh state."""
    dst = get_design(name).new_state(64, cluster_size=16, **kw)
    ctx = verbs.new_ctx(64)
    entries = []
    for i in range(15):
        e = verbs.alloc(dst, ctx, 0, 0, i + 1, 1)
        verbs.dup(dst, ctx, OP_DUP, e, 1)
        assert verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, verbs.BACKEND_DISK) == verbs.BACKEND_DISK
        verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
        entries.append(e)
    verbs.put(dst, ctx, OP_FREE, entries[-1], 1, True)
    ctx.counters[:] = 0
    e = verbs.alloc(dst, ctx, 0, 0, 30, 1)
    verbs.dup(dst, ctx, OP_DUP, e, 1)
    assert verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, verbs.BACKEND_DISK) == verbs.BACKEND_DISK
    return ctx.counters[OP_WRITEOUT].copy()


def test_cache_only_check_in_the_physical_allocator():
    v5 = fill_then_rescan("vswap_v5")
    v6 = fill_then_rescan("vswap_v6", cluster_lookup_cache=False, defer_cgroup_check=False,
                          batch_ops=False, rmap_cache_only_bit=True)
    # both read the reverse-map word of the 14 allocated slots they meet
    assert v5[RMAP_READ] == 14 and v6[RMAP_READ] == 14
    # v5 then looks the virtual entry up for each (xa_load + lock + descriptor read);
    # with the rmap bit v6 reads nothing more
    assert v5[XA_LOOKUP] - v6[XA_LOOKUP] == 14
    assert v5[DESC_READ] - v6[DESC_READ] == 14
    # the Swap Table Edition reads the Pointer word and its bit only
    ste = fill_then_rescan("vswap_ste")
    assert ste[RMAP_READ] >= 14


@pytest.mark.parametrize("name", ["vswap_v5", "vswap_v6", "vswap_ste", "ghost"])
def test_zero_pages_take_no_physical_slot(name):
    dst, ctx = make(name)
    swapped_batch(dst, ctx, verbs.BACKEND_ZERO)
    phys = dst.pdev if hasattr(dst, "pdev") else dst.dev
    assert phys.meta[D_INUSE] == 0


@pytest.mark.parametrize("name", ["classic", "swap_table"])
def test_zero_pages_hold_a_slot_without_a_virtual_layer(name):
    dst, ctx = make(name)
    swapped_batch(dst, ctx, verbs.BACKEND_ZERO)
    assert dst.dev.meta[D_INUSE] == N


def test_v6_with_every_switch_off_counts_as_v5():
    off = dict(rmap_cache_only_bit=False, defer_cgroup_check=False,
               cluster_lookup_cache=False, batch_ops=False)
    a, actx = make("vswap_v5")
    b, bctx = make("vswap_v6", **off)
    for dst, ctx in ((a, actx), (b, bctx)):
        first = swapped_batch(dst, ctx, verbs.BACKEND_DISK)
        zap(dst, ctx, first)
    assert (actx.counters == bctx.counters).all()


def test_v5_has_no_switches():
    with pytest.raises(ValueError, match="vswap_v6"):
        get_design("vswap_v5").new_state(4096, batch_ops=True)
    with pytest.raises(TypeError, match="batch_ops"):
        get_design("vswap_v6").new_state(4096, batch_ops="yes")


ALL = ("classic", "swap_table", "vswap_v5", "vswap_v6", "vswap_ste", "ghost")


@pytest.mark.parametrize("name", ALL)
def test_readahead_on_a_synchronous_device(name):
    """On zram (SWP_SYNCHRONOUS_IO) a fault on a page written to the device skips
    readahead in every design; a zero-filled or zswap page skips it only where the
    entry is the device's (classic, swap_table, ghost without zswap), while the
    virtual designs send it through swapin_readahead() — the swap_ra rise on zram."""
    virtual = name.startswith("vswap") or name == "ghost"
    for backend in (verbs.BACKEND_DISK, verbs.BACKEND_ZERO, verbs.BACKEND_ZSWAP):
        for zswap in (False, True):
            if backend == verbs.BACKEND_ZSWAP and not zswap:
                continue
            dst = get_design(name).new_state(4096, cluster_size=64, synchronous=True,
                                             zswap_enabled=zswap)
            ctx = verbs.new_ctx(8)
            e = verbs.alloc(dst, ctx, 0, 0, 1, 1)
            verbs.dup(dst, ctx, OP_DUP, e, 1)
            assert verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, backend) == backend
            verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
            ctx.counters[:] = 0
            got = verbs.ra_probe(dst, ctx, OP_SWAPIN, e)
            has_layer = virtual and (zswap or name != "ghost")
            want = verbs.RA_READAHEAD if has_layer and backend != verbs.BACKEND_DISK else verbs.RA_SYNC
            assert got == want, (backend, zswap)
            row = ctx.counters[OP_SWAPIN]
            if name == "vswap_v5":
                # the backend was resolved by the fault's tryget_swap_entry() (counted with
                # its cache_lookup); the probe asks __swap_count() (a lookup) only for an
                # entry on the synchronous device (V5p14; the pin was 1 for every backend)
                assert row[XA_LOOKUP] == (backend == verbs.BACKEND_DISK)
            if name == "vswap_ste" or (name == "ghost" and zswap):
                assert row[XA_LOOKUP] == 1  # resolving the backend is a cluster-map lookup
            if name == "classic":
                assert row[MAP_READ] == 1  # 6.19 checks __swap_count(entry) == 1
            if name == "swap_table" or (name == "ghost" and not zswap):
                assert not row.any()  # only si->flags
            # the entry stays swapped: the probe changes nothing
            assert verbs.swap_count(dst, e) == 1
            # a second reference sends 6.19 through readahead, not phase II designs
            verbs.dup(dst, ctx, OP_DUP, e, 1)
            shared = verbs.ra_probe(dst, ctx, OP_SWAPIN, e)
            if name in ("classic", "vswap_v5", "vswap_v6"):
                # 6.19's __swap_count() == 1 rule; vswap v5/v6 are on 6.19 (V5p14/V6p14
                # do_swap_page), so a shared entry reads ahead there too (the pin had
                # them take the synchronous path)
                assert shared == verbs.RA_READAHEAD
            else:
                assert shared == want


@pytest.mark.parametrize("name", ALL)
def test_readahead_probe_of_a_free_entry_or_slow_device(name):
    dst = get_design(name).new_state(4096, cluster_size=64, zswap_enabled=True)
    ctx = verbs.new_ctx(8)
    e = verbs.alloc(dst, ctx, 0, 0, 1, 1)
    verbs.dup(dst, ctx, OP_DUP, e, 1)
    assert verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, verbs.BACKEND_DISK) == verbs.BACKEND_DISK
    verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
    assert verbs.ra_probe(dst, ctx, OP_SWAPIN, e) == verbs.RA_READAHEAD  # an SSD
    verbs.put(dst, ctx, OP_FREE, e, 1, True)
    assert verbs.ra_probe(dst, ctx, OP_SWAPIN, e) == verbs.ENOENT


@pytest.mark.parametrize("ways, misses", [(1, 30), (2, 30), (3, 3), (4, 3)])
def test_lookup_cache_ways_is_least_recently_used(ways, misses):
    """Lookups cycling over three virtual clusters: an LRU cache of fewer than three
    ways misses every time (one xa_load each), three ways or more miss only the first
    round."""
    dst, ctx = make("vswap_v6", virtual_cluster_size=16, lookup_cache_ways=ways)
    assert [verbs.alloc(dst, ctx, 0, 0, f, 1) for f in range(1, 49)] == list(range(1, 49))
    ctx.counters[:] = 0
    for _ in range(10):
        for e in (2, 18, 34):  # virtual clusters 0, 1 and 2
            assert verbs.cache_lookup(dst, ctx, OP_SWAPIN, e) == e
    row = ctx.counters[OP_SWAPIN]
    # a fault's cache_lookup is tryget_swap_entry() (an xa_load the lookup cache never
    # serves, V6p22), swp_entry_to_swp_slot() (the cached lookup counted here as
    # misses) and swap_cache_get_folio() (then a hit): the pins were misses, 30 - misses
    assert row[LOOKUP_CACHE_MISS] == misses and row[XA_LOOKUP] == misses + 30
    assert row[LOOKUP_CACHE_HIT] == 60 - misses


def test_lookup_cache_ways_is_validated():
    assert check_options("vswap_v6", {"lookup_cache_ways": 4}) == {"lookup_cache_ways": 4}
    with pytest.raises(ValueError, match=r"lookup_cache_ways must be in \[1, 16\]"):
        check_options("vswap_v6", {"lookup_cache_ways": 0})
    with pytest.raises(TypeError, match="lookup_cache_ways must be an integer"):
        check_options("vswap_v6", {"lookup_cache_ways": True})
    with pytest.raises(ValueError, match="vswap_v5 has no switches"):
        check_options("vswap_v5", {"lookup_cache_ways": 2})


def test_a_registered_preset_runs_as_v6_with_its_presets():
    """designs.register(get_design("vswap_v6").preset(...)): the new name is accepted
    everywhere and counts exactly as vswap_v6 with the same option given by hand."""
    import vswap_nb as v
    from vswap_nb.designs import get_design, register, unregister

    var = get_design("vswap_v6").preset("test_v6_lc3", "v6 with a 3-way lookup cache", lookup_cache_ways=3)
    assert register(var) == "test_v6_lc3"
    try:
        with pytest.raises(ValueError, match="already registered"):
            register(var)
        assert "test_v6_lc3" in v.designs()
        assert var.OPTIONS["lookup_cache_ways"] == 3 and var.VIRTUAL_SLOTS
        w = v.usemem("48M", nr_tasks=2, read_back=True)
        s = v.System("64M", swap=v.Device("zram", "128M"), nr_cpus=2)
        a = v.simulate("test_v6_lc3", w, s)
        b = v.simulate("vswap_v6", w, s, lookup_cache_ways=3)
        assert (a.counters.values == b.counters.values).all() and int(a.pswpout) > 0
        assert int(a.counters.sel(op="free", primitive="lookup_cache_hit")) > 0
    finally:
        unregister("test_v6_lc3")
    assert "test_v6_lc3" not in v.designs()
    with pytest.raises(ValueError, match="unknown option lookup_cache=2 for design 'vswap_v6'"):
        get_design("vswap_v6").preset("x", "y", lookup_cache=2)
    with pytest.raises(ValueError, match="lookup_cache_ways must be in"):
        get_design("vswap_v6").preset("x", "y", lookup_cache_ways=99)
    with pytest.raises(TypeError, match="must be a vswap_nb.designs.Design"):
        register(object())
    with pytest.raises(ValueError, match="one of the package's designs"):
        unregister("classic")


def test_design_hooks_are_what_outside_code_calls():
    """Every design answers the hooks run, check and the API call, and design_of finds
    the design of a state by its registered state types."""
    from vswap_nb.designs import Design, design_of, get_design

    for name in ("classic", "swap_table", "vswap_v5", "vswap_v6", "vswap_ste", "ghost"):
        d = get_design(name)
        assert isinstance(d, Design) and d.NAME == name
        st = d.new_state(256, cluster_size=16, zswap_enabled=True)
        assert isinstance(st, d.STATES) and isinstance(st, design_of(st).STATES)
        assert design_of(st).entry_space(st) == d.entry_space(st)
        assert d.entry_space(st) >= 256
        assert d.VIRTUAL_SLOTS == name.startswith(("vswap", "ghost"))
    with pytest.raises(ValueError, match="classic has no options"):
        get_design("classic").check_option("batch_ops", True)
    with pytest.raises(TypeError, match="batch_ops must be True or False"):
        get_design("vswap_v6").check_option("batch_ops", 1)
    with pytest.raises(TypeError, match="states must be the design's state namedtuple"):
        Design("x", "y", dict, lambda n, **kw: None)
    with pytest.raises(TypeError, match="is not the state of any registered design"):
        design_of((1, 2))


@pytest.mark.parametrize("name", ["classic", "swap_table", "vswap_v5", "vswap_v6", "vswap_ste", "ghost"])
def test_slot_free_hook_only_where_the_device_has_one(name):
    """swap_range_free() calls swap_slot_free_notify for each freed slot of a block device
    whose driver has it: zram (zs_free of the slot's object).  A disk or pmem device has no
    hook, so its frees count none."""
    from vswap_nb.core.counters import SLOT_FREE_NOTIFY

    for hook in (True, False):
        dst, ctx = make(name, free_notify=hook)
        row = zap(dst, ctx, swapped_batch(dst, ctx, verbs.BACKEND_DISK))
        assert row[SLOT_FREE_NOTIFY] == (N if hook else 0), (name, hook)


# --------------------------------------------------------------------------- issue 16
# vswap_v5 / vswap_v6 per operation as the posted v5 and v6 code does it (the inventory
# of issue 16; vswap.py's docstring cites the sources verb by verb).  "Lookups" are
# xa_load plus lookup-cache hits; "locks" are cluster_lock (vswap and physical).


def _lookups(row):
    return int(row[XA_LOOKUP] + row[LOOKUP_CACHE_HIT])


def _swapped_one(dst, ctx, folio, backend):
    e = verbs.alloc(dst, ctx, 0, 0, folio, 1)
    verbs.dup(dst, ctx, OP_DUP, e, 1)
    assert verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, backend) == backend
    verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
    return e


@pytest.mark.parametrize("name, lookups, locks", [("vswap_v5", 15, 16), ("vswap_v6", 13, 13)])
def test_vswap_fault_on_zram_takes_the_synchronous_path(name, lookups, locks):
    """One fault on zram of a page on the device (count 1, zswap never enabled), as the
    mm drives it: tryget_swap_entry + swap_cache_get_folio, __swap_count, the
    synchronous path's four lookups and no swap-cache insert (the folio is marked
    FOLIO_SYNC_BYPASS), the read (v5's I/O helper looks the slot up again), the PTE's
    put with put_swap_entry, swapcache_clear.  v5: 15 lookups, 15 vswap locks (2 of
    them and a lookup for the physical run's uncharge) + 1 physical; v6: 13 lookups
    (11 lookup-cache hits, tryget and put always xa_load), 12 + 1 locks."""
    dst = get_design(name).new_state(4096, cluster_size=64, synchronous=True)
    ctx = verbs.new_ctx(16)
    e = _swapped_one(dst, ctx, 1, verbs.BACKEND_DISK)
    _swapped_one(dst, ctx, 2, verbs.BACKEND_DISK)
    ctx.counters[:] = 0
    assert verbs.cache_lookup(dst, ctx, OP_SWAPIN, e) == -1
    assert verbs.ra_probe(dst, ctx, OP_SWAPIN, e) == verbs.RA_SYNC
    assert verbs.cache_add(dst, ctx, OP_SWAPIN, e, 1, 9) == 0
    assert ctx.folio[9, verbs.F_FLAGS] & verbs.FOLIO_SYNC_BYPASS
    assert verbs.read_backend(dst, ctx, OP_SWAPIN, e) == verbs.BACKEND_DISK
    verbs.put(dst, ctx, OP_SWAPIN, e, 1, False)
    assert verbs.free_after_fault(dst, ctx, OP_SWAPIN, e, 9, True, False, False)
    assert verbs.cache_free(dst, ctx, OP_SWAPIN, e, 1) == 1
    assert verbs.swap_count(dst, e) == -1 and ctx.folio[9, verbs.F_FLAGS] == 0
    row = ctx.counters[OP_SWAPIN]
    assert (_lookups(row), int(row[CLUSTER_LOCK])) == (lookups, locks)
    if name == "vswap_v6":
        assert row[XA_LOOKUP] == 2  # tryget_swap_entry, put_swap_entry (V6p22)


@pytest.mark.parametrize("name, wo, cd, wb", [("vswap_v5", 10, 4, 15), ("vswap_v6", 3, 2, 11)])
def test_vswap_writeout_remove_mapping_and_zswap_writeback(name, wo, cd, wb):
    """swap_writeout to disk (v5 10 lookups, v6 3), __remove_mapping (v5 4, v6 2) and a
    zswap writeback (v5 ~15, v6 ~11; its later __remove_mapping is charged to
    cache_del)."""
    dst = get_design(name).new_state(4096, cluster_size=64)
    ctx = verbs.new_ctx(16)
    _swapped_one(dst, ctx, 1, verbs.BACKEND_DISK)
    e = verbs.alloc(dst, ctx, 0, 0, 2, 1)
    verbs.dup(dst, ctx, OP_DUP, e, 1)
    ctx.counters[:] = 0
    assert verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, verbs.BACKEND_DISK) == verbs.BACKEND_DISK
    verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
    assert _lookups(ctx.counters[OP_WRITEOUT]) == wo and _lookups(ctx.counters[OP_CACHE_DEL]) == cd
    z = _swapped_one(dst, ctx, 3, verbs.BACKEND_ZSWAP)
    ctx.counters[:] = 0
    assert verbs.zswap_writeback(dst, ctx, OP_ZSWAP_WB, z, 4) == 0
    assert _lookups(ctx.counters[OP_ZSWAP_WB]) == wb and _lookups(ctx.counters[OP_CACHE_DEL]) == cd


@pytest.mark.parametrize("name", ["vswap_v5", "vswap_v6"])
def test_vswap_free_reclaims_a_mapped_cache_only_folio(name):
    """free_swap_and_cache_nr()'s second pass has no TTRS_UNMAPPED | TTRS_FULL test in
    v5 or v6: a folio still mapped (here: another PTE holds the entry after a fork and
    the page was faulted back in) leaves the swap cache when the last swap PTE goes."""
    dst = get_design(name).new_state(4096, cluster_size=64)
    ctx = verbs.new_ctx(16)
    e = verbs.alloc(dst, ctx, 0, 0, 1, 1)
    verbs.dup(dst, ctx, OP_DUP, e, 1)
    ctx.folio[1, verbs.F_FLAGS] |= verbs.FOLIO_MAPPED
    assert verbs.pte_batch(dst, ctx, OP_FREE, e, 1) == 1
    verbs.put(dst, ctx, OP_FREE, e, 1, True)
    assert verbs.swap_count(dst, e) == -1 and ctx.meta[verbs.C_CACHE_DROPS] == 1


def test_vswap_lookup_cache_miss_evicts_under_the_old_clusters_lock():
    """V6p22 vswap_iter(): a miss while another cluster is cached locks the cached one to
    clear it, then loads the map and locks the new one: 2 cluster locks for the lookup."""
    dst = get_design("vswap_v6").new_state(4096, cluster_size=64, virtual_cluster_size=16)
    ctx = verbs.new_ctx(64)
    assert [verbs.alloc(dst, ctx, 0, 0, f, 1) for f in range(1, 33)] == list(range(1, 33))
    verbs.cache_lookup(dst, ctx, OP_READAHEAD, 2)  # cluster 0 cached
    ctx.counters[:] = 0
    assert verbs.cache_lookup(dst, ctx, OP_READAHEAD, 18) == 18  # cluster 1
    row = ctx.counters[OP_READAHEAD]
    assert (row[LOOKUP_CACHE_MISS], row[XA_LOOKUP], row[CLUSTER_LOCK]) == (1, 1, 2)
    ctx.counters[:] = 0
    assert verbs.cache_lookup(dst, ctx, OP_READAHEAD, 19) == 19
    assert (row[LOOKUP_CACHE_HIT], row[CLUSTER_LOCK]) == (1, 1)
