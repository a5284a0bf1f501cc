"""Every design's verbs on the same sequences, 2^18 order-0 pages.

``DesignVerbs``: allocate n entries (folio_alloc_swap); swap out n pages (alloc, unmap
the one PTE, write out to disk, drop from the cache); swap out then free in 512-PTE
batches (zap_pte_range: swap_pte_batch + one put per run).

``DesignSwappedOut``: one verb over n entries that setup has swapped out (each sample
gets a fresh state): dup (fork copying each swap PTE), batch free, swap-in lookup (a
swap-cache miss for each), readahead probe (do_swap_page's choice after the miss).
The ``track_*`` figures are deterministic counters per page, so the history shows a
fidelity drift as well as a speed change."""
import time

import numpy as np

from vswap_nb import designs
from vswap_nb.core import verbs
from vswap_nb.core.counters import OP_DUP, OP_FREE, OP_SWAPIN, XA_LOOKUP
from vswap_nb.core.metadata import N_STRUCTURES
from vswap_nb.designs import get_design

from .common import (
    alloc_all,
    dup_all,
    lookup_all,
    ra_probe_all,
    swap_out_all,
    zap_in_batches,
)

N = 1 << 18


def _fresh(name, n):
    return get_design(name).new_state(n + 1024), verbs.new_ctx(64)


def _compile(design, out):
    dst, ctx = _fresh(design, 4096)
    alloc_all(dst, ctx, 100, out)
    dst, ctx = _fresh(design, 4096)
    k = swap_out_all(dst, ctx, 100, out)
    lookup_all(dst, ctx, out, k)
    ra_probe_all(dst, ctx, out, k)
    dup_all(dst, ctx, out, k)
    zap_in_batches(dst, ctx, out, k, 512)
    verbs.metadata_bytes(dst, np.zeros(N_STRUCTURES, dtype=np.int64))


class DesignVerbs:
    params = [list(designs())]
    param_names = ["design"]
    timeout = 600

    def setup(self, design):
        self.out = np.zeros(N, dtype=np.int64)
        _compile(design, self.out)

    def time_alloc(self, design):
        """folio_alloc_swap() alone, n order-0 folios (the entries stay in the cache)."""
        dst, ctx = _fresh(design, N)
        alloc_all(dst, ctx, N, self.out)

    def peakmem_alloc(self, design):
        dst, ctx = _fresh(design, N)
        alloc_all(dst, ctx, N, self.out)

    def time_swap_out(self, design):
        dst, ctx = _fresh(design, N)
        swap_out_all(dst, ctx, N, self.out)

    def peakmem_swap_out(self, design):
        dst, ctx = _fresh(design, N)
        swap_out_all(dst, ctx, N, self.out)

    def time_swap_out_and_free(self, design):
        dst, ctx = _fresh(design, N)
        k = swap_out_all(dst, ctx, N, self.out)
        zap_in_batches(dst, ctx, self.out, k, 512)

    def peakmem_swap_out_and_free(self, design):
        dst, ctx = _fresh(design, N)
        k = swap_out_all(dst, ctx, N, self.out)
        zap_in_batches(dst, ctx, self.out, k, 512)

    def track_metadata_bytes_per_page(self, design):
        """Metadata bytes of the design after n pages are swapped out to disk."""
        dst, ctx = _fresh(design, N)
        k = swap_out_all(dst, ctx, N, self.out)
        b = np.zeros(N_STRUCTURES, dtype=np.int64)
        verbs.metadata_bytes(dst, b)
        return int(b.sum()) / k

    track_metadata_bytes_per_page.unit = "bytes"


class DesignSwappedOut:
    params = [list(designs())]
    param_names = ["design"]
    timeout = 600
    number = 1
    repeat = (1, 5, 30.0)

    def setup(self, design):
        self.out = np.zeros(N, dtype=np.int64)
        _compile(design, self.out)
        self.dst, self.ctx = _fresh(design, N)
        self.k = swap_out_all(self.dst, self.ctx, N, self.out)
        self.ctx.counters[:] = 0

    def time_dup(self, design):
        dup_all(self.dst, self.ctx, self.out, self.k)

    def peakmem_dup(self, design):
        dup_all(self.dst, self.ctx, self.out, self.k)

    def time_batch_free(self, design):
        """zap_pte_range() of all n entries in 512-PTE runs (swap_pte_batch + put)."""
        zap_in_batches(self.dst, self.ctx, self.out, self.k, 512)

    def peakmem_batch_free(self, design):
        zap_in_batches(self.dst, self.ctx, self.out, self.k, 512)

    def time_swapin_lookup(self, design):
        """swap_cache_get_folio() of each entry: all miss (the pages are on disk)."""
        lookup_all(self.dst, self.ctx, self.out, self.k)

    def peakmem_swapin_lookup(self, design):
        lookup_all(self.dst, self.ctx, self.out, self.k)

    def time_ra_probe(self, design):
        ra_probe_all(self.dst, self.ctx, self.out, self.k)

    def peakmem_ra_probe(self, design):
        ra_probe_all(self.dst, self.ctx, self.out, self.k)

    def track_free_ns_per_page(self, design):
        """Wall time of the batch free per page (the thread's munmap figure)."""
        t = time.perf_counter()
        zap_in_batches(self.dst, self.ctx, self.out, self.k, 512)
        return (time.perf_counter() - t) / self.k * 1e9

    track_free_ns_per_page.unit = "ns"

    def track_xa_lookups_per_free(self, design):
        zap_in_batches(self.dst, self.ctx, self.out, self.k, 512)
        return int(self.ctx.counters[OP_FREE, XA_LOOKUP]) / self.k

    track_xa_lookups_per_free.unit = "lookups"

    def track_xa_lookups_per_dup(self, design):
        dup_all(self.dst, self.ctx, self.out, self.k)
        return int(self.ctx.counters[OP_DUP, XA_LOOKUP]) / self.k

    track_xa_lookups_per_dup.unit = "lookups"

    def track_xa_lookups_per_swapin_lookup(self, design):
        lookup_all(self.dst, self.ctx, self.out, self.k)
        return int(self.ctx.counters[OP_SWAPIN, XA_LOOKUP]) / self.k

    track_xa_lookups_per_swapin_lookup.unit = "lookups"

    def track_readahead_share(self, design):
        """Share of faults on these disk-backed entries that take readahead (the
        device is not synchronous, so 1.0 for every design)."""
        return ra_probe_all(self.dst, self.ctx, self.out, self.k) / self.k

    track_readahead_share.unit = "fraction"
