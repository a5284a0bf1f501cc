"""The physical cluster allocator (core/device.py), driven through the swap_table design."""
import numpy as np
import pytest

from vswap_nb.core.counters import (
    CLUSTER_LOCK,
    MEM_ALLOC,
    MEM_FREE,
    OP_ALLOC,
    OP_DUP,
    OP_FREE,
    OP_RECLAIM_SCAN,
    SI_LOCK,
)
from vswap_nb.core import device as D
from vswap_nb.core import verbs
from vswap_nb.designs import swap_table


def members(dev, lst):
    out = []
    c = dev.lists[lst, D.LS_HEAD]
    while c >= 0:
        out.append(int(c))
        c = dev.ci[c, D.CI_NEXT]
    assert len(out) == dev.lists[lst, D.LS_LEN]
    return out


def new(nslots, **kw):
    st = swap_table.new_state(nslots, **kw)
    ctx = verbs.new_ctx(4096)
    return st, ctx


class Folios:
    """Hands out distinct folio ids."""

    def __init__(self):
        self.next = 0

    def __call__(self):
        self.next += 1
        return self.next


def alloc(st, ctx, f, cpu=0, order=0):
    return verbs.alloc(st, ctx, cpu, order, f(), 1)


def swap_out(st, ctx, e, nr=1):
    """unmap (count 1) and drop the folio from the cache: a plain swapped-out entry."""
    assert verbs.dup(st, ctx, OP_DUP, e, nr) == 0
    verbs.cache_del(st, ctx, 6, e, nr)


def test_fresh_device_lists():
    st, _ = new(4000)  # 8 clusters; slot 0 and slots 4000..4095 are bad
    dev = st.dev
    assert members(dev, D.L_NONFULL + 0) == [0, 7]
    assert members(dev, D.L_FREE) == [1, 2, 3, 4, 5, 6]
    assert dev.ci[0, D.CI_COUNT] == 1 and dev.ci[7, D.CI_COUNT] == 96
    assert dev.ci[0, D.CI_FLAGS] == D.CF_NONFULL and dev.ci[1, D.CI_FLAGS] == D.CF_FREE
    # clusters holding bad slots have their table from swapon, the others none yet
    assert list(dev.ci[:, D.CI_TABLE]) == [1, 0, 0, 0, 0, 0, 0, 1]
    assert dev.meta[D.D_INUSE] == 0


def test_first_allocations_use_the_per_cpu_cluster():
    st, ctx = new(4096, ncpu=2)
    f = Folios()
    e1 = alloc(st, ctx, f)
    assert e1 == 1  # slot 0 is the header
    assert st.dev.pcpu[0, 0] == 2
    assert members(st.dev, D.L_FRAG + 0) == [0]
    slow = ctx.counters[OP_ALLOC, SI_LOCK]
    assert slow == 2  # isolate from nonfull[0], then move to frag[0]
    e2 = alloc(st, ctx, f)
    assert e2 == 2
    assert ctx.counters[OP_ALLOC, SI_LOCK] == slow  # fast path: no list lock
    # another CPU gets its own cluster from the free list (and populates its table)
    before = ctx.counters[OP_ALLOC, MEM_ALLOC]
    e3 = alloc(st, ctx, f, cpu=1)
    assert e3 == 512
    assert ctx.counters[OP_ALLOC, MEM_ALLOC] - before == 2  # swap table + memcg table
    assert st.dev.ci[1, D.CI_TABLE] == 1
    assert members(st.dev, D.L_FRAG + 0) == [0, 1]
    assert st.dev.pcpu[1, 0] == 513 and st.dev.pcpu[0, 0] == 3


def test_a_filled_cluster_moves_to_full_and_the_cpu_offset_is_cleared():
    st, ctx = new(2048)
    f = Folios()
    entries = [alloc(st, ctx, f) for _ in range(511)]
    assert entries == list(range(1, 512))
    assert members(st.dev, D.L_FULL) == [0]
    assert st.dev.ci[0, D.CI_FLAGS] == D.CF_FULL
    assert st.dev.pcpu[0, 0] == 0
    assert alloc(st, ctx, f) == 512  # next cluster from the free list


def test_freeing_a_cluster_returns_it_and_its_table():
    st, ctx = new(2048)
    f = Folios()
    alloc(st, ctx, f)  # keep cluster 0 busy
    first = [alloc(st, ctx, f, cpu=0) for _ in range(510)]
    second = [alloc(st, ctx, f) for _ in range(5)]  # cluster 1
    assert second[0] == 512
    for e in second:
        swap_out(st, ctx, e)
    # partial free of a frag cluster: nonfull[order]
    assert verbs.put(st, ctx, OP_FREE, second[0], 1, True) == 1
    assert st.dev.ci[1, D.CI_FLAGS] == D.CF_NONFULL
    assert members(st.dev, D.L_NONFULL + 0) == [1]
    freed_tables = ctx.counters[OP_FREE, MEM_FREE]
    assert verbs.put(st, ctx, OP_FREE, second[1], 4, True) == 4
    assert st.dev.ci[1, D.CI_FLAGS] == D.CF_FREE and st.dev.ci[1, D.CI_TABLE] == 0
    assert members(st.dev, D.L_FREE)[-1] == 1  # appended at the tail
    assert ctx.counters[OP_FREE, MEM_FREE] - freed_tables == 2
    # one lock for the batch of 4 in one cluster
    assert first[-1] == 511


def test_order_4_allocation_is_aligned_and_claims_the_cluster():
    st, ctx = new(4096)
    f = Folios()
    e0 = alloc(st, ctx, f)  # order-0 cluster 0
    e = alloc(st, ctx, f, order=4)
    assert e % 16 == 0 and e == 512
    assert st.dev.ci[1, D.CI_ORDER] == 4 and st.dev.ci[1, D.CI_COUNT] == 16
    e2 = alloc(st, ctx, f, order=4)
    assert e2 == 528
    assert members(st.dev, D.L_FRAG + 4) == [1]
    assert alloc(st, ctx, f) == e0 + 1  # order 0 stays in its own cluster


def test_large_orders_fail_on_fragmented_clusters_while_order_0_succeeds():
    st, ctx = new(1024, cluster_size=64)  # 16 clusters of 64
    f = Folios()
    entries = []
    while True:
        e = alloc(st, ctx, f)
        if e < 0:
            break
        swap_out(st, ctx, e)  # count 1: not reclaimable as cache-only
        entries.append(e)
    assert sorted(entries) == list(range(1, 1024))
    for e in entries[::2]:  # free every other slot: no aligned pair is free
        verbs.put(st, ctx, OP_FREE, e, 1, True)
    assert alloc(st, ctx, f, order=1) == verbs.ENOMEM
    assert alloc(st, ctx, f, order=0) > 0


def test_order_0_steals_from_higher_order_clusters():
    # 5 clusters of 64: cluster 0 holds the header, cluster 4 slot 256 and 63 bad slots
    st, ctx = new(257, cluster_size=64)
    f = Folios()
    for _ in range(64):  # fill the two order-0 clusters (0 and 4)
        swap_out(st, ctx, alloc(st, ctx, f))
    assert st.dev.lists[D.L_NONFULL + 0, D.LS_LEN] == 0
    got = []
    for _ in range(40):  # order-2 folios take clusters 1, 2 and part of 3
        e = alloc(st, ctx, f, order=2)
        swap_out(st, ctx, e, 4)
        got.append(e)
    assert all(e % 4 == 0 for e in got)
    assert st.dev.lists[D.L_FREE, D.LS_LEN] == 0
    assert members(st.dev, D.L_FRAG + 2) == [3]
    # no order-0 cluster and no free cluster left: order 0 steals from frag[2]
    e = alloc(st, ctx, f, order=0)
    assert e // 64 == 3 and st.dev.ci[3, D.CI_ORDER] == 2


def test_full_device_fails_then_recovers_after_a_free():
    st, ctx = new(129, cluster_size=32)  # 128 usable slots
    f = Folios()
    entries = []
    for _ in range(128):
        e = alloc(st, ctx, f)
        swap_out(st, ctx, e)
        entries.append(e)
    assert sorted(entries) == list(range(1, 129))
    assert st.dev.meta[D.D_AVAIL] == 0
    assert alloc(st, ctx, f) == verbs.ENOMEM
    verbs.put(st, ctx, OP_FREE, entries[50], 1, True)
    assert st.dev.meta[D.D_AVAIL] == 1
    assert alloc(st, ctx, f) == entries[50]


def test_rotational_devices_share_one_global_cluster():
    st, ctx = new(4096, ncpu=2, solidstate=False)
    f = Folios()
    a = alloc(st, ctx, f, cpu=0)
    b = alloc(st, ctx, f, cpu=1)
    assert (a, b) == (1, 2)  # same cluster, whichever CPU asks
    ncpu = st.dev.meta[D.D_NCPU]
    assert st.dev.pcpu[ncpu, 0] == 3
    assert st.dev.pcpu[0, 0] == 0 and st.dev.pcpu[1, 0] == 0


def test_discard_devices_park_empty_clusters_until_the_next_allocation():
    st, ctx = new(2048, discard=True)
    f = Folios()
    e0 = alloc(st, ctx, f, cpu=0)  # discard devices take a free cluster first
    assert e0 == 512
    swap_out(st, ctx, e0)
    verbs.put(st, ctx, OP_FREE, e0, 1, True)
    assert st.dev.ci[1, D.CI_FLAGS] == D.CF_DISCARD
    assert members(st.dev, D.L_DISCARD) == [1]
    alloc(st, ctx, f, cpu=0)  # the discard work ran first
    assert members(st.dev, D.L_DISCARD) == []


def test_allocation_reuses_cache_only_slots_once_swap_is_more_than_half_full():
    # slots that only the swap cache holds (count 0) are reclaimed by the allocator
    # when vm_swap_full(); a device of cache-only slots therefore never fills
    st, ctx = new(65, cluster_size=16)  # 64 usable slots
    f = Folios()
    for _ in range(104):
        assert alloc(st, ctx, f) > 0
    assert ctx.meta[verbs.C_CACHE_DROPS] >= 104 - 64
    assert st.dev.meta[D.D_INUSE] <= 64
    in_cache = int(np.count_nonzero(ctx.folio[1:105, verbs.F_SWAP]))
    assert in_cache == st.dev.meta[D.D_INUSE] == 104 - ctx.meta[verbs.C_CACHE_DROPS]


def test_cache_only_slots_are_reclaimed_when_swap_is_full():
    # 3 clusters of 16: cluster 2 holds slot 32 and 15 bad tail slots
    st, ctx = new(33, cluster_size=16)
    f = Folios()
    cached = [alloc(st, ctx, f) for _ in range(20)]  # count 0 + folio: cache-only
    folios = [int(ctx.folio[i, verbs.F_SWAP] != 0) for i in range(1, 21)]
    assert sum(folios) == 20
    assert st.dev.ci[0, D.CI_FLAGS] == D.CF_FULL  # slots 0..15 (0 is bad)
    # more than half of 32 pages used: a forced full-cluster scan drops them
    n = verbs.reclaim_full(st, ctx, True)
    assert n == 15
    assert ctx.counters[OP_RECLAIM_SCAN, CLUSTER_LOCK] > 0
    assert st.dev.ci[0, D.CI_COUNT] == 1  # only the header left
    assert all(ctx.folio[i, verbs.F_SWAP] == 0 for i in range(1, 16))
    # the 16th folio went to slot 32 (nonfull[0] is tried before the free list) and
    # cluster 2 was not scanned: one cluster per 16 slots in use (to_scan = 20 // 16)
    assert cached[15] == 32 and ctx.folio[16, verbs.F_SWAP] == 32


def test_cluster_flags_match_the_list_they_sit_on():
    st, ctx = new(8192, ncpu=3, cluster_size=128)
    f = Folios()
    rng = np.random.default_rng(1)
    live = []
    for step in range(3000):
        if live and rng.random() < 0.45:
            e = live.pop(rng.integers(len(live)))
            verbs.put(st, ctx, OP_FREE, e, 1, True)
        else:
            e = alloc(st, ctx, f, cpu=int(rng.integers(3)))
            if e > 0:
                swap_out(st, ctx, e)
                live.append(e)
    dev = st.dev
    expect = {D.L_FREE: D.CF_FREE, D.L_FULL: D.CF_FULL, D.L_DISCARD: D.CF_DISCARD}
    for o in range(10):
        expect[D.L_NONFULL + o] = D.CF_NONFULL
        expect[D.L_FRAG + o] = D.CF_FRAG
    seen = set()
    for lst, flag in expect.items():
        for c in members(dev, lst):
            assert dev.ci[c, D.CI_FLAGS] == flag
            seen.add(c)
    for c in range(dev.ci.shape[0]):
        if c not in seen:
            assert dev.ci[c, D.CI_FLAGS] == D.CF_NONE
    # counts equal allocated (and bad) slots
    for c in range(dev.ci.shape[0]):
        lo, hi = c * 128, (c + 1) * 128
        used = int(np.count_nonzero(dev.table[lo:hi]))
        assert dev.ci[c, D.CI_COUNT] == used
    assert dev.meta[D.D_INUSE] == len(live)


@pytest.mark.parametrize("cluster_size", [3, 0, 1 << 21])
def test_bad_cluster_size(cluster_size):
    with pytest.raises(ValueError, match="cluster_size"):
        swap_table.new_state(4096, cluster_size=cluster_size)
