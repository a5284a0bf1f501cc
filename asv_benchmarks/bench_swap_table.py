"""The swap_table design: allocate, swap out and free whole devices' worth of slots."""
import numpy as np

from vswap_nb.core import verbs
from vswap_nb.core.counters import OP_FREE, XA_LOOKUP
from vswap_nb.designs import swap_table

from .common import free_in_batches, swap_out_all


class SwapTableAllocFree:
    """Swap out n order-0 pages (alloc, unmap, write out to disk, drop from cache), then
    free them in PTE batches of 512 (a zap of the whole range)."""

    params = [1 << 16, 1 << 20]
    param_names = ["n"]
    timeout = 300

    def setup(self, n):
        self.out = np.zeros(n, dtype=np.int64)
        st = swap_table.new_state(1024)
        ctx = verbs.new_ctx(64)
        k = swap_out_all(st, ctx, 100, self.out)  # compile
        free_in_batches(st, ctx, self.out, k, 512)

    def _run(self, n):
        st = swap_table.new_state(n + 1024)
        ctx = verbs.new_ctx(64)
        k = swap_out_all(st, ctx, n, self.out)
        free_in_batches(st, ctx, self.out, k, 512)
        return ctx

    def time_alloc_free(self, n):
        self._run(n)

    def peakmem_alloc_free(self, n):
        self._run(n)

    def track_xa_lookups_per_free(self, n):
        ctx = self._run(n)
        return int(ctx.counters[OP_FREE, XA_LOOKUP]) / n

    track_xa_lookups_per_free.unit = "lookups"


class SwapTableSwapOut:
    params = [1 << 20]
    param_names = ["n"]
    timeout = 300

    def setup(self, n):
        self.out = np.zeros(n, dtype=np.int64)
        swap_out_all(swap_table.new_state(1024), verbs.new_ctx(64), 10, self.out)

    def time_swap_out(self, n):
        swap_out_all(swap_table.new_state(n + 1024), verbs.new_ctx(64), n, self.out)
