"""XArray emulation: store, load and erase on dense, sparse and 512-strided keys, 2^16
to 2^22 of them (dense: 0..n-1; sparse: spread over 2^32, the cost of a tree of
height 6; strided: one key per 512-slot virtual-swap cluster)."""
import numpy as np

from vswap_nb import XArray

from .common import dense_keys, sparse_keys, strided_keys

BUILDERS = {"dense": dense_keys, "sparse": sparse_keys, "strided512": strided_keys}
KEYS = ["dense", "sparse", "strided512"]
SIZES = [1 << 16, 1 << 18, 1 << 20, 1 << 22]


def _warm():
    xa = XArray()
    xa.store_many(np.arange(10), np.arange(10))
    xa.load_many(np.arange(10))
    xa.erase_many(np.arange(10))


class KeySets:
    """The key layouts and sizes every XArray benchmark runs on; setup builds the keys."""

    params = (KEYS, SIZES)
    param_names = ["keys", "n"]
    timeout = 600

    def setup(self, keys, n):
        _warm()
        self.keys = BUILDERS[keys](n)


class XArrayLoad(KeySets):
    """load_many() of every key, in random order (xa_load per key)."""

    def setup(self, keys, n):
        super().setup(keys, n)
        self.xa = XArray()
        self.xa.store_many(self.keys, np.arange(n))
        self.queries = np.random.default_rng(1).permutation(self.keys)

    def time_load_many(self, keys, n):
        self.xa.load_many(self.queries)

    def peakmem_load_many(self, keys, n):
        self.xa.load_many(self.queries)

    def track_node_visits_per_lookup(self, keys, n):
        before = self.xa.node_visits
        self.xa.load_many(self.queries)
        return (self.xa.node_visits - before) / n

    track_node_visits_per_lookup.unit = "nodes"

    def track_memory_bytes(self, keys, n):
        """Bytes of XArray nodes (576 each) holding the n keys."""
        return self.xa.memory_bytes

    track_memory_bytes.unit = "bytes"


class XArrayStore(KeySets):
    """store_many() of every key into an empty XArray (node allocation included)."""

    def setup(self, keys, n):
        super().setup(keys, n)
        self.values = np.arange(n)

    def time_store_many(self, keys, n):
        XArray().store_many(self.keys, self.values)

    def peakmem_store_many(self, keys, n):
        XArray().store_many(self.keys, self.values)


class XArrayErase(KeySets):
    """erase_many() of every key of a full XArray, in random order, down to empty
    (node frees included).  Each sample erases a tree built in setup."""

    number = 1
    repeat = (1, 5, 20.0)

    def setup(self, keys, n):
        super().setup(keys, n)
        self.xa = XArray()
        self.xa.store_many(self.keys, np.arange(n))
        self.order = np.random.default_rng(2).permutation(self.keys)

    def time_erase_many(self, keys, n):
        self.xa.erase_many(self.order)

    def peakmem_erase_many(self, keys, n):
        self.xa.erase_many(self.order)

    def track_nodes_left(self, keys, n):
        """Nodes left after every key is erased (0: the tree shrinks to nothing)."""
        self.xa.erase_many(self.order)
        return self.xa.nr_nodes

    track_nodes_left.unit = "nodes"
