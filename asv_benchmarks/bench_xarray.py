"""XArray emulation: lookups, stores and erases on dense, sparse and 512-strided keys."""
import numpy as np

from vswap_nb import XArray

from .common import dense_keys, sparse_keys, strided_keys

BUILDERS = {"dense": dense_keys, "sparse": sparse_keys, "strided512": strided_keys}


class XArrayLoad:
    params = (["dense", "sparse", "strided512"], [1 << 16, 1 << 20])
    param_names = ["keys", "n"]
    timeout = 300

    def setup(self, keys, n):
        self.keys = BUILDERS[keys](n)
        self.xa = XArray()
        self.xa.store_many(self.keys, np.arange(n))
        self.queries = np.random.default_rng(1).permutation(self.keys)
        self.xa.load_many(self.queries[:10])  # compile

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
        return self.xa.memory_bytes

    track_memory_bytes.unit = "bytes"


class XArrayStoreErase:
    params = (["dense", "sparse", "strided512"], [1 << 16, 1 << 20])
    param_names = ["keys", "n"]
    timeout = 300

    def setup(self, keys, n):
        self.keys = BUILDERS[keys](n)
        self.values = np.arange(n)
        warm = XArray()
        warm.store_many(self.keys[:10], self.values[:10])
        warm.erase_many(self.keys[:10])

    def time_store_many(self, keys, n):
        XArray().store_many(self.keys, self.values)

    def peakmem_store_many(self, keys, n):
        XArray().store_many(self.keys, self.values)

    def time_store_then_erase_all(self, keys, n):
        xa = XArray()
        xa.store_many(self.keys, self.values)
        xa.erase_many(self.keys)
