"""The physical cluster allocator per folio order (core/device.py), driven through the
swap_table design: folio_alloc_swap() of a whole device's worth of folios of one order,
then folio_free_swap() of each (the slots are only in the swap cache, count 0), so the
clusters go back to the free list.  The swap table's own writes (one table entry per
slot) are part of it, as in the kernel."""
import numpy as np

from vswap_nb.core import verbs
from vswap_nb.core.counters import CLUSTER_LOCK, OP_ALLOC
from vswap_nb.designs import swap_table

from .common import alloc_order, free_order

NSLOTS = 1 << 20


def _fresh(order, extra=1024):
    return swap_table.new_state(NSLOTS + extra), verbs.new_ctx(NSLOTS >> order)


class PhysicalAllocator:
    params = [[0, 2, 4, 9]]
    param_names = ["order"]
    timeout = 600

    def setup(self, order):
        dst, ctx = swap_table.new_state(4096), verbs.new_ctx(64)
        out = np.zeros(64, dtype=np.int64)
        k = alloc_order(dst, ctx, order, 4, out)  # compile
        free_order(dst, ctx, order, out, k)
        self.out = np.zeros(NSLOTS >> order, dtype=np.int64)
        self.nfolios = NSLOTS >> order

    def time_alloc(self, order):
        dst, ctx = _fresh(order)
        alloc_order(dst, ctx, order, self.nfolios, self.out)

    def peakmem_alloc(self, order):
        dst, ctx = _fresh(order)
        alloc_order(dst, ctx, order, self.nfolios, self.out)

    def time_alloc_free(self, order):
        dst, ctx = _fresh(order)
        k = alloc_order(dst, ctx, order, self.nfolios, self.out)
        free_order(dst, ctx, order, self.out, k)

    def track_cluster_locks_per_alloc(self, order):
        dst, ctx = _fresh(order)
        k = alloc_order(dst, ctx, order, self.nfolios, self.out)
        return int(ctx.counters[OP_ALLOC, CLUSTER_LOCK]) / k

    track_cluster_locks_per_alloc.unit = "locks"

    def track_folios_allocated(self, order):
        """Folios of this order a 2^20-slot device holds before allocation fails (slot 0
        is never handed out)."""
        dst, ctx = _fresh(order, extra=0)
        return alloc_order(dst, ctx, order, self.nfolios, self.out)

    track_folios_allocated.unit = "folios"
