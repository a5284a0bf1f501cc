"""The XArray emulation against lib/xarray.c's behaviour and a plain-Python model."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive_xarray import NaiveXArray

from vswap_nb import XArray
from vswap_nb.core.radix import xa_new, xa_reachable_nodes, xa_store


def test_lone_entry_at_index_zero_lives_in_the_head():
    xa = XArray()
    xa.store(0, 5)
    assert (xa.nr_nodes, xa.height, xa.load(0), len(xa)) == (0, 0, 5, 1)
    # any other index misses without visiting a node
    assert xa.load(1) is None
    assert xa.node_visits == 0


def test_first_store_above_zero_allocates_root_to_leaf():
    xa = XArray()
    xa.store(100, 1)  # max 100 needs 2 levels: root (shift 6) + leaf
    assert (xa.height, xa.nr_nodes) == (2, 2)
    xa.store(0, 2)  # index 0's leaf hangs off the same root
    assert (xa.height, xa.nr_nodes) == (2, 3)


def test_head_value_is_pushed_down_when_the_tree_grows():
    # xas_expand: the old head entry goes into slot 0 of each new root
    xa = XArray()
    xa.store(0, 7)
    xa.store(100, 8)
    assert (xa.height, xa.nr_nodes) == (2, 3)
    assert xa.load(0) == 7 and xa.load(100) == 8


@pytest.mark.parametrize(
    "n, height, nodes",
    [
        (64, 1, 1),  # indices 0..63: one leaf, which is the root
        (65, 2, 3),  # 0..64: root + two leaves
        (4096, 2, 64 + 1),
        (4097, 3, 65 + 2 + 1),
        (1 << 16, 3, 1024 + 16 + 1),
    ],
)
def test_dense_keys_heights_and_node_counts(n, height, nodes):
    xa = XArray()
    xa.store_many(np.arange(n), np.arange(n))
    assert xa.height == height
    assert xa.nr_nodes == nodes
    assert xa.memory_bytes == nodes * 576
    assert np.array_equal(xa.load_many(np.arange(n)), np.arange(n))
    # every hit walks the full height
    assert xa.node_visits == n * height


@pytest.mark.parametrize("k", [1, 8, 9, 100, 600])
def test_512_strided_keys(k):
    # keys i * 512: one leaf per key; level-1 nodes cover 4096 indices (8 keys),
    # level-2 nodes cover 262144 (512 keys)
    keys = np.arange(k) * 512
    xa = XArray()
    xa.store_many(keys, keys)
    top = int(keys.max())
    height = max(1, -(-top.bit_length() // 6)) if top else 0
    expected = k if height >= 1 else 0
    if height >= 2:
        expected += -(-k // 8)
    if height >= 3:
        expected += -(-k // 512)
    if height >= 4:
        expected += 1
    if k == 1:
        expected, height = 0, 0  # only index 0: the head
    assert xa.height == height
    assert xa.nr_nodes == expected


def test_sparse_keys_over_2_32():
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(1, 1 << 32, size=2000))
    xa = XArray()
    xa.store_many(keys, np.arange(keys.size))
    naive = NaiveXArray()
    for i, k in enumerate(keys):
        naive.store(int(k), i)
    assert xa.height == naive.height() == 6  # 2^32 needs ceil(32/6) levels
    assert xa.nr_nodes == len(naive.nodes())
    assert xa_reachable_nodes(xa._xa) == xa.nr_nodes


def test_lookups_beyond_the_root_visit_nothing():
    xa = XArray()
    xa.store_many(np.arange(1, 64), np.arange(1, 64))  # one leaf, max index 63
    assert xa.load(64) is None and xa.load(1 << 40) is None
    assert xa.node_visits == 0
    assert xa.load(5) == 5 and xa.node_visits == 1


@pytest.mark.parametrize("chunk_shift, node_bytes", [(6, 576), (4, 192)])
def test_erase_everything_frees_every_node(chunk_shift, node_bytes):
    rng = np.random.default_rng(chunk_shift)
    keys = np.unique(rng.integers(0, 1 << 20, size=5000))
    xa = XArray(chunk_shift=chunk_shift)
    xa.store_many(keys, keys)
    assert xa.memory_bytes == xa.nr_nodes * node_bytes > 0
    old = xa.erase_many(rng.permutation(keys))
    assert np.array_equal(np.sort(old), keys)
    assert (xa.nr_nodes, xa.height, len(xa), xa.memory_bytes) == (0, 0, 0, 0)
    assert xa.load(int(keys[0])) is None


def test_chunk_shift_4_is_16_way():
    xa = XArray(chunk_shift=4)
    xa.store_many(np.arange(256), np.arange(256))  # 16 leaves + root
    assert (xa.height, xa.nr_nodes) == (2, 17)


def test_freed_nodes_are_reused_and_pool_grows():
    xa = XArray()
    assert xa._xa.nodes.shape[0] == 64
    xa.store_many(np.arange(1, 100_000), np.arange(1, 100_000))
    n, capacity = xa.nr_nodes, xa._xa.nodes.shape[0]
    assert capacity >= n > 64  # the pool grew to fit
    xa.erase_many(np.arange(1, 100_000))
    xa.store_many(np.arange(1, 100_000), np.arange(1, 100_000))
    assert xa.nr_nodes == n
    assert xa._xa.nodes.shape[0] == capacity  # freed nodes were reused


def test_pool_store_reports_enomem_without_changing_the_tree():
    pool = xa_new(1, 3)
    assert xa_store(pool, 0, 1, 1) == 0  # one leaf
    before = pool.aux.copy(), pool.nodes.copy()
    assert xa_store(pool, 0, 1 << 20, 2) == -12
    assert np.array_equal(pool.aux, before[0]) and np.array_equal(pool.nodes, before[1])


@settings(max_examples=60, deadline=None)
@given(
    chunk_shift=st.sampled_from([4, 6]),
    ops=st.lists(
        st.tuples(
            st.sampled_from(["store", "erase", "load"]),
            st.one_of(
                st.integers(0, 70),
                st.integers(0, 5000),
                st.integers(0, 1 << 36),
            ),
            st.integers(0, 1 << 20),
        ),
        max_size=120,
    ),
)
def test_matches_naive_model(chunk_shift, ops):
    xa = XArray(chunk_shift)
    naive = NaiveXArray(chunk_shift)
    for op, index, value in ops:
        if op == "store":
            xa.store(index, value)
            naive.store(index, value)
        elif op == "erase":
            assert xa.erase(index) == naive.erase(index)
        else:
            assert xa.load(index) == naive.load(index)
        assert xa.nr_nodes == len(naive.nodes())
        assert xa.height == naive.height()
        assert xa.node_visits == naive.visits
        assert len(xa) == len(naive.d)
    assert xa_reachable_nodes(xa._xa) == xa.nr_nodes


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda xa: xa.store(-1, 1), ValueError, "index"),
        (lambda xa: xa.store(1.5, 1), TypeError, "index"),
        (lambda xa: xa.store("3", 1), TypeError, "index"),
        (lambda xa: xa.store(1, -2), ValueError, "value"),
        (lambda xa: xa.store(1, 1 << 62), ValueError, "value"),
        (lambda xa: xa.load(None), TypeError, "index"),
        (lambda xa: xa.load_many([1.0, 2.5]), TypeError, "indices"),
        (lambda xa: xa.load_many([[1, 2]]), ValueError, "indices"),
        (lambda xa: xa.store_many([1, 2], [1]), ValueError, "same length"),
        (lambda xa: xa.store_many([1, -2], [1, 2]), ValueError, "indices"),
        (lambda xa: xa.erase_many(np.array([1, 2], dtype=np.uint64) << np.uint64(63)), ValueError, "indices"),
    ],
)
def test_bad_input_is_rejected_with_the_argument_named(call, exc, words):
    xa = XArray()
    with pytest.raises(exc, match=words):
        call(xa)
    assert xa.nr_nodes == 0


def test_bad_chunk_shift():
    with pytest.raises(ValueError, match="chunk_shift"):
        XArray(chunk_shift=5)
    with pytest.raises(TypeError, match="chunk_shift"):
        XArray(chunk_shift="6")
