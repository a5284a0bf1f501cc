"""Seeded data builders and small driver kernels shared by the benchmarks."""
import numpy as np

import vswap_nb
from vswap_nb.core import verbs
from vswap_nb.core.counters import OP_CACHE_DEL, OP_DUP, OP_FREE, OP_SWAPIN, OP_WRITEOUT
from vswap_nb.core.jit import njit
try:
    from vswap_nb.core.ref import ref
except ImportError:  # a commit before issue 17 (asv runs these benchmarks on old commits too)

    @njit(inline="always")
    def ref(x):
        return x

SEED = 20261127


class OneRunPerDesign:
    """The attributes of a long benchmark parametrised by design: one run per sample."""

    params = [list(vswap_nb.designs())]
    param_names = ["design"]
    timeout = 3600
    number = 1
    repeat = 1


def warm_simulate(design):
    """Compile (or load) the mm engine for ``design`` on a tiny run, so a benchmark's
    timed simulate does not include it."""
    v = vswap_nb
    v.simulate(design, v.usemem("1M"), v.System("64M", swap=v.Device("zram", "64M")))


def dense_keys(n, seed=SEED):
    """0..n-1 in random order."""
    return np.random.default_rng(seed).permutation(n).astype(np.int64)


def sparse_keys(n, span=1 << 32, seed=SEED):
    """n distinct keys spread over [0, span), in random order."""
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, span, size=int(n * 1.1)))[:n]
    return rng.permutation(keys).astype(np.int64)


def strided_keys(n, stride=512, seed=SEED):
    """0, 512, 1024, ... (one key per virtual-swap cluster), in random order."""
    return (dense_keys(n, seed) * stride).astype(np.int64)


@njit
def _fill(dst, ctx, n, out, swap_out):
    dst, ctx = ref(dst), ref(ctx)  # the engine's calling convention (core/ref.py)
    nfolios = ctx.folio.shape[0]
    for i in range(n):
        e = verbs.alloc(dst, ctx, 0, 0, i % nfolios, 1)
        if e < 0:
            return i
        out[i] = e
        if swap_out:
            verbs.dup(dst, ctx, OP_DUP, e, 1)
            verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, verbs.BACKEND_DISK)
            verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
    return n


def alloc_all(dst, ctx, n, out):
    """folio_alloc_swap() of n order-0 folios on CPU 0 and nothing else; entries go to
    ``out``.  Returns how many succeeded."""
    return _fill(dst, ctx, n, out, False)


def swap_out_all(dst, ctx, n, out):
    """Swap out n order-0 pages on CPU 0 the way reclaim does: allocate, unmap the one
    PTE (count 1), write the folio out to disk and drop it from the swap cache; entries
    go to ``out``.  Returns how many succeeded."""
    return _fill(dst, ctx, n, out, True)


@njit
def zap_in_batches(dst, ctx, entries, n, batch):
    """zap_pte_range() over entries[:n]: runs of consecutive entries up to ``batch``
    long, each through swap_pte_batch() and one put."""
    dst, ctx = ref(dst), ref(ctx)  # the engine's calling convention (core/ref.py)
    i = 0
    while i < n:
        j = i + 1
        while j < n and j - i < batch and entries[j] == entries[j - 1] + 1:
            j += 1
        k = verbs.pte_batch(dst, ctx, OP_FREE, entries[i], j - i)
        verbs.put(dst, ctx, OP_FREE, entries[i], k, True)
        i += k


@njit
def lookup_all(dst, ctx, entries, n):
    """swap_cache_get_folio() of each entry (all swapped out: every lookup misses)."""
    dst, ctx = ref(dst), ref(ctx)  # the engine's calling convention (core/ref.py)
    misses = 0
    for i in range(n):
        if verbs.cache_lookup(dst, ctx, OP_SWAPIN, entries[i]) < 0:
            misses += 1
    return misses


@njit
def dup_all(dst, ctx, entries, n):
    """swap_dup_entry_direct() of each entry once (fork() copying one swap PTE)."""
    dst, ctx = ref(dst), ref(ctx)  # the engine's calling convention (core/ref.py)
    bad = 0
    for i in range(n):
        if verbs.dup(dst, ctx, OP_DUP, entries[i], 1) != 0:
            bad += 1
    return bad


@njit
def ra_probe_all(dst, ctx, entries, n):
    """do_swap_page()'s readahead choice for each entry after a swap-cache miss.
    Returns how many would take readahead."""
    dst, ctx = ref(dst), ref(ctx)  # the engine's calling convention (core/ref.py)
    ra = 0
    for i in range(n):
        if verbs.ra_probe(dst, ctx, OP_SWAPIN, entries[i]) == verbs.RA_READAHEAD:
            ra += 1
    return ra


@njit
def alloc_order(dst, ctx, order, nfolios, out):
    """folio_alloc_swap() of ``nfolios`` folios of ``order`` on CPU 0; first entries to
    ``out``.  Returns how many succeeded."""
    dst, ctx = ref(dst), ref(ctx)  # the engine's calling convention (core/ref.py)
    for i in range(nfolios):
        e = verbs.alloc(dst, ctx, 0, order, i, 1)
        if e < 0:
            return i
        out[i] = e
    return nfolios


@njit
def free_order(dst, ctx, order, entries, n):
    """folio_free_swap() of each of the n folios (count 0, only in the swap cache):
    the slots go back to the allocator."""
    dst, ctx = ref(dst), ref(ctx)  # the engine's calling convention (core/ref.py)
    freed = 0
    for i in range(n):
        freed += verbs.cache_free(dst, ctx, OP_FREE, entries[i], 1 << order)
    return freed
