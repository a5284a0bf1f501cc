"""Every design's verbs on the same sequence: allocate n order-0 entries; swap out n
order-0 pages (alloc, unmap, write out to disk, drop from the cache), look each entry up
in the swap cache, free them in 512-PTE batches (swap_pte_batch + put)."""
import time

import numpy as np

from vswap_nb import designs
from vswap_nb.core import verbs
from vswap_nb.core.counters import OP_FREE, XA_LOOKUP
from vswap_nb.designs import get_design

from .common import alloc_all, lookup_all, swap_out_all, zap_in_batches

N = 1 << 18


def _fresh(name, n):
    return get_design(name).new_state(n + 1024), verbs.new_ctx(64)


class DesignVerbs:
    params = [list(designs())]
    param_names = ["design"]
    timeout = 600

    def setup(self, design):
        self.out = np.zeros(N, dtype=np.int64)
        dst, ctx = _fresh(design, 4096)  # compile every driver for this design
        alloc_all(dst, ctx, 100, self.out)
        dst, ctx = _fresh(design, 4096)
        k = swap_out_all(dst, ctx, 100, self.out)
        lookup_all(dst, ctx, self.out, k)
        zap_in_batches(dst, ctx, self.out, k, 512)
        self.dst, self.ctx = _fresh(design, N)
        self.k = swap_out_all(self.dst, self.ctx, N, self.out)

    def time_alloc(self, design):
        """folio_alloc_swap() alone, n order-0 folios (the entries stay in the cache)."""
        dst, ctx = _fresh(design, N)
        alloc_all(dst, ctx, N, self.out)

    def time_swap_out(self, design):
        dst, ctx = _fresh(design, N)
        swap_out_all(dst, ctx, N, self.out)

    def time_cache_lookup(self, design):
        lookup_all(self.dst, self.ctx, self.out, self.k)

    def time_swap_out_and_free(self, design):
        dst, ctx = _fresh(design, N)
        k = swap_out_all(dst, ctx, N, self.out)
        zap_in_batches(dst, ctx, self.out, k, 512)

    def track_free_ns_per_page(self, design):
        """Wall time of the free phase alone (zap in 512-PTE batches), per page."""
        dst, ctx = _fresh(design, N)
        k = swap_out_all(dst, ctx, N, self.out)
        t = time.perf_counter()
        zap_in_batches(dst, ctx, self.out, k, 512)
        return (time.perf_counter() - t) / k * 1e9

    track_free_ns_per_page.unit = "ns"

    def peakmem_swap_out(self, design):
        dst, ctx = _fresh(design, N)
        swap_out_all(dst, ctx, N, self.out)

    def track_xa_lookups_per_free(self, design):
        dst, ctx = _fresh(design, 1 << 14)
        k = swap_out_all(dst, ctx, 1 << 14, self.out)
        zap_in_batches(dst, ctx, self.out, k, 512)
        return int(ctx.counters[OP_FREE, XA_LOOKUP]) / k

    track_xa_lookups_per_free.unit = "lookups"
