"""The classic (6.19) design: swap_map counts and continuation, the per-PTE cgroup check,
batch frees and the swap cache."""
import numpy as np
import pytest

from vswap_nb.core import metadata as md
from vswap_nb.core import verbs
from vswap_nb.core.counters import (
    CLUSTER_LOCK,
    EXT_READ,
    MAP_WRITE,
    MEM_ALLOC,
    MEMCG_READ,
    MEMCG_UNCHARGE,
    OP_ALLOC,
    OP_CACHE_DEL,
    OP_DUP,
    OP_FREE,
    OP_SWAPIN,
    OP_WRITEOUT,
    XA_STORE,
    ZEROMAP_WRITE,
)
from vswap_nb.designs import classic
from vswap_nb.designs.classic import COUNT_CONTINUED, SWAP_HAS_CACHE


def fresh(nslots=4096):
    return classic.new_state(nslots), verbs.new_ctx(256)


def swapped(st, ctx, n, memcg=1, start_folio=1):
    """n order-0 pages swapped out (count 1, no cache); returns their entries."""
    out = []
    for i in range(n):
        e = verbs.alloc(st, ctx, 0, 0, start_folio + i, memcg)
        assert verbs.dup(st, ctx, OP_DUP, e, 1) == 0
        verbs.cache_del(st, ctx, OP_CACHE_DEL, e, 1)
        out.append(e)
    return out


def test_allocation_marks_has_cache_records_the_cgroup_and_caches_the_folio():
    st, ctx = fresh()
    e = verbs.alloc(st, ctx, 0, 0, 7, 3)
    assert e == 1
    assert st.swap_map[e] == SWAP_HAS_CACHE
    assert st.cgroup[e] == 3
    assert verbs.cache_lookup(st, ctx, OP_SWAPIN, e) == 7
    assert ctx.folio[7, verbs.F_SWAP] == e
    assert verbs.swap_count(st, e) == 0


def test_pte_batch_reads_every_ptes_cgroup_and_stops_at_a_change():
    st, ctx = fresh()
    es = swapped(st, ctx, 6, memcg=1) + swapped(st, ctx, 2, memcg=2, start_folio=10)
    assert es == list(range(1, 9))
    assert verbs.pte_batch(st, ctx, OP_FREE, 1, 8) == 6
    assert ctx.counters[OP_FREE, MEMCG_READ] == 7  # the first, five equal, one different
    ctx.counters[:] = 0
    assert verbs.pte_batch(st, ctx, OP_FREE, 1, 5) == 5
    assert ctx.counters[OP_FREE, MEMCG_READ] == 5


def test_batch_free_in_one_cluster_takes_one_lock_and_one_uncharge():
    st, ctx = fresh()
    es = swapped(st, ctx, 32)
    ctx.counters[:] = 0
    assert verbs.put(st, ctx, OP_FREE, es[0], 32, True) == 32
    c = ctx.counters[OP_FREE]
    assert c[CLUSTER_LOCK] == 1
    assert c[MEMCG_UNCHARGE] == 1
    assert c[MAP_WRITE] == 32 and c[ZEROMAP_WRITE] == 32
    assert np.all(st.swap_map[es[0]:es[0] + 32] == 0)
    assert np.all(st.cgroup[es[0]:es[0] + 32] == 0)


def test_free_of_mixed_counts_falls_back_slot_by_slot():
    st, ctx = fresh()
    es = swapped(st, ctx, 4)
    verbs.dup(st, ctx, OP_DUP, es[1], 1)  # count 2 on the second slot
    ctx.counters[:] = 0
    assert verbs.put(st, ctx, OP_FREE, es[0], 4, True) == 3
    assert verbs.swap_count(st, es[1]) == 1
    assert ctx.counters[OP_FREE, CLUSTER_LOCK] == 1
    assert ctx.counters[OP_FREE, MEMCG_UNCHARGE] == 3  # one per freed slot


def test_count_continuation_beyond_62():
    st, ctx = fresh()
    (e,) = swapped(st, ctx, 1)
    for _ in range(61):
        assert verbs.dup(st, ctx, OP_DUP, e, 1) == 0
    assert st.swap_map[e] == 62 and ctx.counters[OP_DUP, MEM_ALLOC] == 0
    assert verbs.dup(st, ctx, OP_DUP, e, 1) == 0  # 63 needs a continuation page
    assert ctx.counters[OP_DUP, MEM_ALLOC] == 1
    assert st.swap_map[e] == COUNT_CONTINUED and verbs.swap_count(st, e) == 63
    for _ in range(100):
        verbs.dup(st, ctx, OP_DUP, e, 1)
    assert verbs.swap_count(st, e) == 163
    assert ctx.counters[OP_DUP, MEM_ALLOC] == 1  # one page per 4096 slots and digit
    assert ctx.counters[OP_DUP, EXT_READ] > 0
    for _ in range(163):
        verbs.put(st, ctx, OP_FREE, e, 1, True)
    assert verbs.swap_count(st, e) == -1 and st.swap_map[e] == 0
    # continuation pages are only freed by swapoff
    out = np.zeros(md.N_STRUCTURES, np.int64)
    verbs.metadata_bytes(st, out)
    assert out[md.S_SWAP_MAP_CONT] == 4096


def test_swapin_then_free_the_cache():
    st, ctx = fresh()
    (e,) = swapped(st, ctx, 1)
    assert verbs.cache_add(st, ctx, OP_SWAPIN, e, 1, 20) == 0
    assert st.swap_map[e] == 1 | SWAP_HAS_CACHE
    assert verbs.cache_add(st, ctx, OP_SWAPIN, e, 1, 21) == verbs.EEXIST
    # after mapping, the PTE's count goes (swap_free_nr) and the cache is freed
    verbs.put(st, ctx, OP_SWAPIN, e, 1, False)
    assert st.swap_map[e] == SWAP_HAS_CACHE
    assert verbs.cache_free(st, ctx, OP_SWAPIN, e, 1) == 1
    assert st.swap_map[e] == 0 and ctx.folio[20, verbs.F_SWAP] == 0
    assert verbs.cache_add(st, ctx, OP_SWAPIN, e, 1, 22) == verbs.ENOENT


def test_zero_and_zswap_writeout_and_read_back():
    st, ctx = fresh()
    a = verbs.alloc(st, ctx, 0, 0, 1, 1)
    b = verbs.alloc(st, ctx, 0, 0, 2, 1)
    for e in (a, b):
        verbs.dup(st, ctx, OP_DUP, e, 1)
    assert verbs.writeout(st, ctx, OP_WRITEOUT, a, 1, verbs.BACKEND_ZERO) == verbs.BACKEND_ZERO
    assert verbs.writeout(st, ctx, OP_WRITEOUT, b, 1, verbs.BACKEND_ZSWAP) == verbs.BACKEND_ZSWAP
    assert ctx.counters[OP_WRITEOUT, XA_STORE] == 1
    for e in (a, b):
        verbs.cache_del(st, ctx, OP_CACHE_DEL, e, 1)
    assert verbs.read_backend(st, ctx, OP_SWAPIN, a) == verbs.BACKEND_ZERO
    assert verbs.read_backend(st, ctx, OP_SWAPIN, b) == verbs.BACKEND_ZSWAP
    assert verbs.read_backend(st, ctx, OP_SWAPIN, b) == verbs.BACKEND_DISK  # zswap let go
    verbs.put(st, ctx, OP_FREE, a, 2, True)
    assert st.zeromap[0] == 0


def test_writeout_of_an_unreferenced_folio_just_drops_it():
    st, ctx = fresh()
    e = verbs.alloc(st, ctx, 0, 0, 5, 1)  # never unmapped: only the cache holds it
    assert verbs.writeout(st, ctx, OP_WRITEOUT, e, 1, verbs.BACKEND_DISK) == verbs.BACKEND_NONE
    assert st.swap_map[e] == 0 and ctx.folio[5, verbs.F_SWAP] == 0


def test_allocator_reads_swap_map_not_the_table():
    st, ctx = fresh()
    swapped(st, ctx, 3)
    from vswap_nb.core.counters import MAP_READ, TABLE_READ

    # 6.19 skips the scan of an empty cluster; cluster 0 holds the header, so the
    # first allocation reads swap_map bytes 0 and 1
    st2, ctx2 = fresh()
    verbs.alloc(st2, ctx2, 0, 0, 1, 1)
    assert ctx2.counters[OP_ALLOC, MAP_READ] == 2
    assert ctx2.counters[OP_ALLOC, TABLE_READ] == 1  # swap_cache_add_folio's read


@pytest.mark.parametrize("order", [1, 4])
def test_large_folio_round_trip(order):
    st, ctx = fresh()
    nr = 1 << order
    e = verbs.alloc(st, ctx, 0, order, 3, 1)
    assert e % nr == 0
    assert verbs.dup(st, ctx, OP_DUP, e, nr) == 0
    verbs.cache_del(st, ctx, OP_CACHE_DEL, e, nr)
    assert all(verbs.swap_count(st, e + i) == 1 for i in range(nr))
    assert verbs.put(st, ctx, OP_FREE, e, nr, True) == nr
    assert st.dev.meta[2] == 0


def test_python_verb_calls_check_the_ids_that_index_arrays():
    st, ctx = fresh()
    with pytest.raises(ValueError, match="folio"):
        verbs.alloc(st, ctx, 0, 0, 10_000, 1)
    with pytest.raises(ValueError, match="cpu"):
        verbs.alloc(st, ctx, 1, 0, 1, 1)
    with pytest.raises(ValueError, match="order"):
        verbs.alloc(st, ctx, 0, 10, 1, 1)
    with pytest.raises(ValueError, match="folio"):
        verbs.cache_add(st, ctx, OP_SWAPIN, 1, 1, -1)
    assert st.dev.meta[2] == 0  # nothing was allocated
