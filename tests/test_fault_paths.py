"""What a swap fault touches on a synchronous device, per design, pinned on hand-built
sequences: 6.18/6.19 (``classic``) bypasses the swap cache for a count-1 entry on a
SWP_SYNCHRONOUS_IO device (swapcache_prepare() pins the slot with SWAP_HAS_CACHE, no
swap-table entry is written, swapcache_clear() frees it after mapping), while the swap
table phase II series (``swap_table``) sends every swap-in through the swap cache; and
which fault leaves the folio in the swap cache (should_try_to_free_swap())."""
import pytest

from vswap_nb.core import verbs
from vswap_nb.core.counters import (
    CLUSTER_LOCK,
    MAP_WRITE,
    OP_CACHE_DEL,
    OP_DUP,
    OP_SWAPIN,
    OP_WRITEOUT,
    TABLE_WRITE,
)
from vswap_nb.core.device import D_INUSE
from vswap_nb.designs import get_design


def swapped(name, nref=1, synchronous=True):
    """One order-0 page written out to the device, held by ``nref`` PTEs."""
    dst = get_design(name).new_state(1024, cluster_size=64, synchronous=synchronous)
    ctx = verbs.new_ctx(16)
    e = verbs.alloc(dst, ctx, 0, 0, 1, 1)
    for _ in range(nref):
        verbs.dup(dst, ctx, OP_DUP, e, 1)
    assert verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, verbs.BACKEND_DISK) == verbs.BACKEND_DISK
    verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
    return dst, ctx, e


def fault(dst, ctx, e, folio=2, sync_dev=True, full=False, write=False):
    """do_swap_page() as the mm drives it: lookup, decision, cache add + read, the
    PTE's put, then the free decision.  Returns (free decided, the swapin row)."""
    ctx.counters[:] = 0
    assert verbs.cache_lookup(dst, ctx, OP_SWAPIN, e) < 0
    verbs.ra_probe(dst, ctx, OP_SWAPIN, e)
    assert verbs.cache_add(dst, ctx, OP_SWAPIN, e, 1, folio) == 0
    verbs.read_backend(dst, ctx, OP_SWAPIN, e)
    ctx.folio[folio, verbs.F_FLAGS] |= verbs.FOLIO_MAPPED
    verbs.put(dst, ctx, OP_SWAPIN, e, 1, False)
    free = verbs.free_after_fault(dst, ctx, OP_SWAPIN, e, folio, sync_dev, full, write)
    if free:
        verbs.cache_free(dst, ctx, OP_SWAPIN, e, 1)  # folio_free_swap(): not while still swapped
    return free, ctx.counters[OP_SWAPIN].copy()


def test_619_synchronous_swapin_bypasses_the_swap_cache():
    dst, ctx, e = swapped("classic")
    free, row = fault(dst, ctx, e)
    assert free  # swapcache_clear() frees what swapcache_prepare() pinned
    assert row[TABLE_WRITE] == 1  # only swap_range_free()'s shadow clear; no PFN written
    assert row[MAP_WRITE] >= 2  # HAS_CACHE set, the count dropped, the byte cleared
    assert dst.dev.meta[D_INUSE] == 0 and int(ctx.folio[2, verbs.F_SWAP]) == 0
    assert not ctx.folio[2, verbs.F_FLAGS] & verbs.FOLIO_SYNC_BYPASS

    dst, ctx, e = swapped("swap_table")
    free, row = fault(dst, ctx, e)
    assert free  # phase II: always freed after a fault on a synchronous device
    assert row[TABLE_WRITE] >= 2  # the folio enters the swap cache and leaves it
    assert dst.dev.meta[D_INUSE] == 0


def second_fault(dst, ctx, e, folio=2, write=False):
    """The other PTE's fault: a swap-cache hit, its put, the free decision."""
    assert verbs.cache_lookup(dst, ctx, OP_SWAPIN, e) == folio
    verbs.put(dst, ctx, OP_SWAPIN, e, 1, False)
    free = verbs.free_after_fault(dst, ctx, OP_SWAPIN, e, folio, True, False, write)
    if free:
        assert verbs.cache_free(dst, ctx, OP_SWAPIN, e, 1) == 1
    return free


def test_619_shared_entry_on_zram_stays_cached_after_the_last_fault():
    """A count-2 entry on zram goes through readahead in 6.19 (a real swap-cache insert)
    and its folio stays in the swap cache after both PTEs faulted it in, cache-only (no
    device rule in should_try_to_free_swap()), unless swap is full or a fault writes;
    phase II frees it on a synchronous device."""
    dst, ctx, e = swapped("classic", nref=2)
    free, row = fault(dst, ctx, e)
    assert not free and row[TABLE_WRITE] == 1  # the PFN written: in the swap cache
    assert not second_fault(dst, ctx, e)
    assert dst.dev.meta[D_INUSE] == 1 and int(ctx.folio[2, verbs.F_SWAP]) == e  # cache-only
    assert verbs.free_after_fault(dst, ctx, OP_SWAPIN, e, 2, True, True, False)  # swap full
    assert verbs.free_after_fault(dst, ctx, OP_SWAPIN, e, 2, True, False, True)  # write fault

    dst, ctx, e = swapped("swap_table", nref=2)
    fault(dst, ctx, e)
    assert second_fault(dst, ctx, e) and dst.dev.meta[D_INUSE] == 0


@pytest.mark.parametrize("name", ["classic", "swap_table"])
def test_asynchronous_device_keeps_the_read_folio_cached(name):
    dst, ctx, e = swapped(name, synchronous=False)
    free, row = fault(dst, ctx, e, sync_dev=False)
    assert not free and row[CLUSTER_LOCK] >= 1 and dst.dev.meta[D_INUSE] == 1


@pytest.mark.parametrize("name", ["classic", "swap_table", "vswap_v5", "vswap_v6", "vswap_ste", "ghost"])
def test_zram_free_hook_frees_an_object_only_where_the_data_went_to_zram(name):
    """zram's swap_slot_free_notify() runs zs_free() for a slot whose page was written
    to zram; a zero-filled page (the swap zeromap / zero flag / zero backend) and a
    zswap page left nothing on zram, so freeing them counts no slot_free_notify."""
    from vswap_nb.core.counters import OP_FREE, SLOT_FREE_NOTIFY

    dst = get_design(name).new_state(1024, cluster_size=64, synchronous=True, zswap_enabled=True)
    ctx = verbs.new_ctx(16)
    entries = []
    for backend in (verbs.BACKEND_ZERO, verbs.BACKEND_ZSWAP, verbs.BACKEND_DISK):
        e = verbs.alloc(dst, ctx, 0, 0, 1, 1)
        verbs.dup(dst, ctx, OP_DUP, e, 1)
        assert verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, backend) == backend
        verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
        entries.append(e)
    for e, want in zip(entries, (0, 0, 1)):
        ctx.counters[:] = 0
        verbs.put(dst, ctx, OP_FREE, e, 1, False)
        assert ctx.counters[OP_FREE, SLOT_FREE_NOTIFY] == want, (name, e)
