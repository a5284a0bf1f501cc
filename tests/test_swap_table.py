"""The ``swap_table`` design against the plain-Python reference ``NaiveSwapTable``.

* Random operation sequences (hypothesis stateful tests) drive both models and compare,
  after every verb call, the return value and the whole state: the counter matrix, every
  table word (kind, COUNT, Z, PFN), extend-table words, memcg ids, each cluster's
  count / flags / order / list / tables, the order of every cluster list, the per-CPU
  offsets, the device words, the zswap trees (entries, heights, nodes), the folio side
  of ``Ctx`` and ``metadata_bytes``.
* Hand-computed unit tests pin specific behaviours with exact counters.
* ``test_kernel_*`` tests pin kernel behaviours the first design draft lacked (found
  by this reference model), each naming the kernel source it follows.

Operations are kept valid the way the mm would: dup/put only live entries, cache
operations only on cached folios (entry = folio->swap, nr = folio_nr_pages), distinct
folio ids (a PFN is reused only after its folio left the swap cache), large swap-ins
only over ranges of real swap entries.
"""
from __future__ import annotations

import harness
import numpy as np
from harness import (
    BAD_WORD,
    SlotMachine,
    compare_device,
    compare_folios,
    compare_metadata,
    compare_words,
    compare_zswap_trees,
    delta,
    device_configs,
    dict_array,
    machine_settings,
    row,
    swapoff_walk,
)
from naive_swap_table import BAD, COUNT_MAX, NaiveSwapTable, Slot

from vswap_nb.core import device as D
from vswap_nb.core import radix, verbs
from vswap_nb.core.counters import (
    OP_ALLOC,
    OP_CACHE_DEL,
    OP_DUP,
    OP_FREE,
    OP_RECLAIM_SCAN,
    OP_SWAPIN,
    OP_WRITEOUT,
    OP_ZSWAP_WB,
    PRIMITIVES,
)
from vswap_nb.core.metadata import N_STRUCTURES, STRUCTURES
from vswap_nb.core.verbs import (
    BACKEND_DISK,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    C_CACHE_DROPS,
    F_ORDER,
    F_SWAP,
    FOLIO_MAPPED,
)
from vswap_nb.designs import swap_table as st_design


# --------------------------------------------------------------------------- the pair


def table_words(slots):
    """The table word (kind, inline COUNT, Z flag, PFN) and the extend-table word (the
    count from 15 up, else 0) of each naive slot, as two arrays (one loop: this runs
    over every slot after every verb call)."""
    words, ext = [], []
    app, app_ext = words.append, ext.append
    for s in slots:
        if s is None:
            app(0)
            app_ext(0)
        elif s is BAD:
            app(BAD_WORD)
            app_ext(0)
        else:
            c = s.count
            app(((c if c < COUNT_MAX else COUNT_MAX) << 60) | (int(s.zero) << 59)
                | (1 if s.folio is None else (s.folio << 2) | 2))
            app_ext(c if c >= COUNT_MAX else 0)
    return np.array(words, dtype=np.uint64), np.array(ext, dtype=np.int64)


class Pair(harness.Pair):
    """``swap_table`` and ``NaiveSwapTable`` driven together (``harness.Pair``)."""

    def __init__(self, nslots, *, csize, ncpu=1, solidstate=True, discard=False,
                 blkdev=True, zswap_on=False):
        kw = {"ncpu": ncpu, "cluster_size": csize, "solidstate": solidstate,
              "discard": discard, "blkdev": blkdev}
        dst = st_design.new_state(nslots, **kw)
        super().__init__(dst, NaiveSwapTable(nslots, **kw), 2 * dst.dev.table.shape[0] + 8,
                         csize=csize, ncpu=ncpu, zswap_on=zswap_on)

    def compare(self, where):
        n, dst = self.naive, self.dst
        # every table word, extend-table word and memcg id (one pass over the naive slots)
        words, ext = table_words(n.slots)
        compare_words(where, "table words", dst.dev.table.view(np.uint64), words, lambda i: n.slots[i])
        compare_words(where, "extend-table words", dst.ext.astype(np.int64), ext, lambda i: n.slots[i])
        compare_words(where, "memcg ids", dst.memcg.astype(np.int64),
                      dict_array(n.memcg, self.total), lambda i: n.memcg.get(i, 0))
        compare_device(where, "device", dst.dev, n, self.ncpu)
        got, exp = int(dst.meta[st_design.T_EXT_TABLES]), n.ext_tables()
        assert got == exp, f"{where}: extend tables: numba {got}, naive {exp}"
        compare_zswap_trees(where, dst.zswap, n.trees, self.total)
        compare_folios(where, self.ctx, n)
        compare_metadata(where, self)


def swapoff_pair(p):
    """swapoff(2) of a physical device (``harness.swapoff_walk``): every PTE's count
    through the page-table walk, then the cache-only slots through the device walk."""
    def counted(x):
        s = p.naive.slots[x]
        return isinstance(s, Slot) and s.count >= 1

    swapoff_walk(p, ptes=counted)


# --------------------------------------------------------------------------- random tests


class SwapTableMachine(SlotMachine):
    """The generic machine (``harness.VerbMachine``) on ``swap_table``: counts overflow
    into the extend table at 15, a dup of several entries stays in one cluster, a large
    swap-in covers real entries only."""

    configs = device_configs([16, 32], 8, synchronous=False)
    swapoff_from_step = 14
    swapoff_needs_inuse = True
    ra_probe = None  # no sync-or-readahead verb in the swap table model

    slot_type, bad = Slot, BAD

    def make_pair(self, config):
        return Pair(**config)

    def do_swapoff(self, data):
        swapoff_pair(self.p)


TestSwapTableSmallClusters = SwapTableMachine.TestCase
TestSwapTableSmallClusters.settings = machine_settings(75, 35)


class BigClusterMachine(SwapTableMachine):
    """512-slot clusters (the kernel's SWAPFILE_CLUSTER): orders up to 9, 512-word
    extend-table scans."""

    configs = device_configs([512], 3, synchronous=False)
    swapoff_from_step = 8

    def fill_orders(self):  # order-0 fills run in the small machine (1535 steps here)
        return [3, 5, self.max_order(), self.max_order()]


TestSwapTableBigClusters = BigClusterMachine.TestCase
TestSwapTableBigClusters.settings = machine_settings(20, 20)


# --------------------------------------------------------------------------- unit tests


def test_first_alloc_takes_cluster_0_from_nonfull():
    """Slot 0 is bad, so cluster 0 starts on nonfull[0]; the first order-0 allocation
    isolates it from there (no table allocation: the bad slot already made one) and
    returns entry 1."""
    p = Pair(64, csize=16)
    assert p.naive.lists[("nonfull", 0)] == [0] and p.naive.lists["free"] == [1, 2, 3]
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 5, 0) == 1
    assert delta(p, before) == {
        ("alloc", "pcpu_access"): 1,  # swap_alloc_fast: no per-CPU cluster yet
        ("alloc", "si_lock"): 2,  # isolate from nonfull[0] + relocate to frag[0]
        ("alloc", "cluster_lock"): 1,  # the isolated cluster
        ("alloc", "table_read"): 3,  # scan slot 0 (bad), slot 1, then the cache add
        ("alloc", "table_write"): 1,
    }
    assert p.naive.clusters[0].flags == D.CF_FRAG and p.naive.lists[("frag", 0)] == [0]
    assert int(p.dst.dev.pcpu[0, 0]) == 2
    assert int(p.ctx.folio[5, F_SWAP]) == 1
    # the next allocation takes the per-CPU cluster: lock, scan one slot, add
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 6, 9) == 2
    assert delta(p, before) == {
        ("alloc", "pcpu_access"): 1, ("alloc", "cluster_lock"): 2, ("alloc", "table_read"): 2,
        ("alloc", "table_write"): 1, ("alloc", "memcg_charge"): 1, ("alloc", "memcg_write"): 1,
    }


def test_large_alloc_is_aligned_and_takes_a_free_cluster():
    p = Pair(128, csize=16)
    assert p.alloc(0, 0, 1, 0) == 1
    before = p.ctx.counters.copy()
    assert p.alloc(0, 2, 2, 0) == 16  # nonfull[2] empty, then the free list: cluster 1
    d = row(delta(p, before), OP_ALLOC)
    assert d["mem_alloc"] == 2  # table + memcg table of the populated cluster
    assert d["table_read"] == 4 + 4 and d["table_write"] == 4
    assert p.alloc(0, 2, 3, 0) == 20  # fast path, next aligned range
    assert p.naive.clusters[1].order == 2
    # order 1 cannot use the order-2 cluster 1 or cluster 0 (order 0): next free cluster
    assert p.alloc(0, 1, 4, 0) == 32


def test_put_batches_one_lock_and_one_uncharge_per_memcg_run():
    p = Pair(64, csize=16)
    memcgs = [1, 1, 2, 2, 2, 1]
    for i, m in enumerate(memcgs):
        off = p.alloc(0, 0, 10 + i, m)
        assert off == 1 + i
        p.dup(OP_DUP, off, 1)
        p.cache_del(OP_CACHE_DEL, off, 1)  # swapped out: shadow, count 1
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, 1, 6, True) == 6
    assert delta(p, before) == {
        ("free", "cluster_lock"): 1,
        ("free", "table_read"): 12,  # the put loop + __swap_cluster_free_entries
        ("free", "table_write"): 6,
        ("free", "memcg_read"): 6,
        ("free", "memcg_write"): 6,
        ("free", "memcg_uncharge"): 3,  # runs 1,1 | 2,2,2 | 1
        ("free", "slot_free_notify"): 6,
        ("free", "si_lock"): 1,  # partial_free_cluster: frag[0] -> nonfull[0]
    }
    assert p.naive.lists[("nonfull", 0)] == [0]


def test_put_of_a_cached_slot_reclaims_the_folio_after_unlock():
    p = Pair(64, csize=16)
    off = p.alloc(0, 0, 3, 0)
    p.dup(OP_DUP, off, 1)
    p.set_flags(3, 0)  # unmapped: TTRS_UNMAPPED reclaims it
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, off, 1, True) == 0  # freed by the reclaim, not the put
    assert delta(p, before) == {
        ("free", "cluster_lock"): 3,  # put, swap_only_has_cache, cache del
        ("free", "table_read"): 6,
        ("free", "table_write"): 3,
        ("free", "memcg_read"): 1,
        ("free", "slot_free_notify"): 1,
        ("free", "si_lock"): 1,
    }
    assert p.naive.slots[off] is None and int(p.ctx.meta[C_CACHE_DROPS]) == 1


def test_dup_past_14_allocates_extend_table_and_put_frees_it():
    p = Pair(1024, csize=512)
    off = p.alloc(0, 0, 1, 0)
    for _ in range(14):
        p.dup(OP_DUP, off, 1)
    assert p.swap_count(off) == 14
    before = p.ctx.counters.copy()
    assert p.dup(OP_DUP, off, 1) == 0
    assert delta(p, before) == {
        ("dup", "cluster_lock"): 3,  # lock, relock inside swap_extend_table_alloc, relock
        ("dup", "mem_alloc"): 1,
        ("dup", "mem_zero_line"): 32,  # u32[512] = 2 KiB, zeroed
        ("dup", "table_read"): 2,  # -ENOMEM, then the restart
        ("dup", "table_write"): 1,
        ("dup", "ext_write"): 1,
    }
    assert int(p.dst.dev.table[off]) >> 60 & 15 == COUNT_MAX and int(p.dst.ext[off]) == 15
    p.dup(OP_DUP, off, 1)  # 16: extend table only
    assert int(p.dst.ext[off]) == 16
    p.put(OP_FREE, off, 1, True)  # 15
    before = p.ctx.counters.copy()
    p.put(OP_FREE, off, 1, True)  # 14: inline again, extend table scanned and freed
    assert delta(p, before) == {
        ("free", "cluster_lock"): 1,
        ("free", "table_read"): 2,
        ("free", "table_write"): 1,
        ("free", "ext_read"): 1 + 512,
        ("free", "ext_write"): 1,
        ("free", "mem_free"): 1,
    }
    assert not p.naive.clusters[0].has_ext
    before = p.ctx.counters.copy()
    p.put(OP_FREE, off, 1, True)  # 13: no extend table left to scan
    assert delta(p, before) == {
        ("free", "cluster_lock"): 1, ("free", "table_read"): 2, ("free", "table_write"): 1,
    }


def test_extend_table_stays_while_another_slot_overflows():
    p = Pair(64, csize=16)
    a = p.alloc(0, 0, 1, 0)
    b = p.alloc(0, 0, 2, 0)
    for _ in range(16):
        p.dup(OP_DUP, a, 1)
        p.dup(OP_DUP, b, 1)
    for _ in range(3):
        p.put(OP_FREE, a, 1, True)  # a: 16 -> 13, the table is still needed for b
    assert p.naive.clusters[0].has_ext
    for _ in range(2):
        p.put(OP_FREE, b, 1, True)
    assert not p.naive.clusters[0].has_ext


def test_zswap_writeout_read_and_free():
    p = Pair(1024, csize=512)
    off = p.alloc(0, 0, 1, 4)
    p.dup(OP_DUP, off, 1)
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZSWAP) == BACKEND_ZSWAP
    assert delta(p, before) == {
        ("writeout", "table_read"): 2,  # folio_maybe_swapped + clearing Z
        ("writeout", "cluster_lock"): 1,
        ("writeout", "table_write"): 1,
        ("writeout", "mem_alloc"): 1,  # the zswap_entry
        ("writeout", "xa_store"): 1,
        ("writeout", "xa_node_visit"): 1,
        ("writeout", "xa_node_alloc"): 1,
    }
    p.cache_del(OP_CACHE_DEL, off, 1)
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, off, 1, True) == 1  # the free erases the zswap entry
    d = row(delta(p, before), OP_FREE)
    assert d["xa_erase"] == 1 and d["xa_node_free"] == 1 and d["mem_free"] == 1
    assert d["memcg_uncharge"] == 1
    assert p.naive.zswap_entries() == 0 and int(p.dst.zswap.aux[radix.M_NR_NODES]) == 0


def test_zswap_writeback_moves_entry_to_disk():
    p = Pair(1024, csize=512)
    off = p.alloc(0, 0, 1, 0)
    p.dup(OP_DUP, off, 1)
    p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZSWAP)
    p.cache_del(OP_CACHE_DEL, off, 1)
    assert p.zswap_writeback(OP_ZSWAP_WB, off, 2) == 0
    assert p.naive.zswap_entries() == 0 and p.naive.slot_kind(off) == "shadow"
    assert p.zswap_writeback(OP_ZSWAP_WB, off, 2) == verbs.ENOMEM  # entry gone: -ENOMEM as in the kernel
    p.cache_add(OP_SWAPIN, off, 1, 3)
    assert p.read_backend(OP_SWAPIN, off) == BACKEND_DISK


def test_swapin_reads_zswap_once_and_zero_pages_from_the_flag():
    p = Pair(1024, csize=512, zswap_on=True)
    a = p.alloc(0, 0, 1, 0)
    b = p.alloc(0, 0, 2, 0)
    for x, backend in ((a, BACKEND_ZSWAP), (b, BACKEND_ZERO)):
        p.dup(OP_DUP, x, 1)
        p.writeout(OP_WRITEOUT, x, 1, backend)
        p.cache_del(OP_CACHE_DEL, x, 1)
    p.cache_add(OP_SWAPIN, a, 1, 3)
    assert p.read_backend(OP_SWAPIN, a) == BACKEND_ZSWAP  # zswap_load erases the entry
    assert p.read_backend(OP_SWAPIN, a) == BACKEND_DISK
    p.cache_add(OP_SWAPIN, b, 1, 4)
    assert p.read_backend(OP_SWAPIN, b) == BACKEND_ZERO


def test_large_swapin_checks_the_whole_range():
    p = Pair(128, csize=16)
    off = p.alloc(0, 2, 1, 5)  # 4 slots at 16
    for i in range(4):
        p.dup(OP_DUP, off + i, 1)
    p.writeout(OP_WRITEOUT, off, 4, BACKEND_DISK)
    p.cache_del(OP_CACHE_DEL, off, 4)
    before = p.ctx.counters.copy()
    assert p.cache_add(OP_SWAPIN, off + 2, 4, 2) == 0
    assert row(delta(p, before), OP_SWAPIN) == {
        "cluster_lock": 2, "table_read": 1 + 4 + 1 + 4 + 4, "table_write": 4,
        "memcg_read": 1 + 4, "memcg_charge": 1,
    }
    assert int(p.ctx.folio[2, F_SWAP]) == off and int(p.ctx.folio[2, F_ORDER]) == 2
    p.put(OP_SWAPIN, off + 2, 1, False)
    assert p.cache_free(OP_SWAPIN, off, 4) == 0  # three PTEs still count
    p.put(OP_FREE, off, 2, True)
    p.put(OP_FREE, off + 3, 1, True)  # the last count: TTRS_UNMAPPED reclaims the folio
    assert all(p.naive.slots[off + i] is None for i in range(4))


def test_cache_only_slots_are_reclaimed_when_swap_is_full():
    """Cache-only slots (count 0) block allocation until swap is over half full; then
    the scan reclaims them, and a full-cluster scan reclaims them too."""
    p = Pair(64, csize=16)
    offs = [p.alloc(0, 0, 1 + i, 0) for i in range(40)]  # 40 of 63 slots, cache-only
    assert all(o > 0 for o in offs) and p.naive.vm_swap_full()
    assert p.reclaim_full(False) == 15  # the head of the full list: cluster 0
    assert p.naive.clusters[0].count == 1 and p.naive.lists[("nonfull", 0)] == [0]
    # allocate more than is free: the allocator reclaims cache-only slots on the way
    offs = [p.alloc(0, 0, 41 + i, 0) for i in range(40)]
    assert all(o > 0 for o in offs) and p.naive.cache_drops > 15


def test_allocator_reclaims_cache_only_slots_it_meets_when_full():
    """cluster_scan_range(): with swap over half full, a cache-only slot on the way is
    reclaimed (cluster_reclaim_range) and reused, even with a free slot further on."""
    p = Pair(64, csize=16)
    for f in (1, 2, 3):  # clusters 1..3, swapped out (count 1)
        off = p.alloc(0, 4, f, 0)
        for i in range(16):
            p.dup(OP_DUP, off + i, 1)
    offs = [p.alloc(0, 0, 10 + i, 0) for i in range(14)]  # 1..14, cache-only
    assert offs == list(range(1, 15))
    assert p.cache_free(OP_SWAPIN, 5, 1) == 1  # a hole at 5
    assert p.alloc(0, 0, 30, 0) == 15  # the per-CPU cluster continues at 15
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 31, 0) == 1  # frag[0]: slot 1 is reclaimed, not the hole at 5
    d = delta(p, before)
    assert d[("alloc", "cluster_lock")] >= 3 and int(p.ctx.meta[C_CACHE_DROPS]) == 1
    assert d[("reclaim_scan", "si_lock")] >= 1  # the slow path scanned one full cluster
    assert p.naive.slot_kind(5) == "null"


def test_filling_the_device_fails_and_schedules_reclaim_work():
    p = Pair(64, csize=16)
    folio = 1
    while True:
        off = p.alloc(0, 0, folio, 0)
        if off < 0:
            break
        p.dup(OP_DUP, off, 1)  # swapped out: not reclaimable
        folio += 1
    assert off == verbs.ENOMEM and folio - 1 == 63
    assert not p.naive.avail and p.naive.alloc_fail == 1
    # reclaim_work ran when the last slot was taken (forced scan of full clusters)
    assert int(p.ctx.counters[OP_RECLAIM_SCAN, PRIMITIVES.index("si_lock")]) > 0
    p.put(OP_FREE, 5, 1, True)
    assert p.naive.avail and p.alloc(0, 0, 100, 0) == 5


def test_discard_device_frees_through_the_discard_list():
    p = Pair(64, csize=16, discard=True)
    off = p.alloc(0, 0, 1, 0)  # discard devices try the free list first: cluster 1
    assert off == 16
    p.dup(OP_DUP, off, 1)
    p.cache_del(OP_CACHE_DEL, off, 1)
    p.put(OP_FREE, off, 1, True)
    assert p.naive.lists["discard"] == [1] and p.naive.discard_pending
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 2, 0) == 32  # the discard runs first, then the free list
    assert p.naive.lists["free"][-1] == 1 and not p.naive.discard_pending
    assert row(delta(p, before), OP_ALLOC)["mem_free"] == 2


def test_vm_swap_full_is_strictly_more_than_half():
    """vm_swap_full(): nr_swap_pages * 2 < total_swap_pages; TTRS_FULL reclaims a
    mapped cache-only folio only past half."""
    p = Pair(33, csize=16)  # si->pages = 32
    offs = [p.alloc(0, 0, 1 + i, 0) for i in range(16)]
    p.set_flags(1, FOLIO_MAPPED)
    assert p.try_reclaim(OP_SWAPIN, offs[0], verbs.TTRS_FULL) == -1  # 16 of 32 used
    p.alloc(0, 0, 17, 0)
    assert p.try_reclaim(OP_SWAPIN, offs[0], verbs.TTRS_FULL) == 1  # 17 of 32


def test_rotational_device_uses_the_global_cluster():
    p = Pair(64, csize=16, solidstate=False, ncpu=2)
    assert p.alloc(0, 0, 1, 0) == 1
    assert p.alloc(1, 0, 2, 0) == 2  # the other CPU continues the same global cluster
    assert int(p.dst.dev.pcpu[2, 0]) == 3 and int(p.dst.dev.pcpu[0, 0]) == 0


# --------------------------------------------------------------------------- kernel checks
#
# Kernel behaviours the first draft of the design lacked; each test compares the design
# with the reference model on the sequence that showed the difference.


def test_zswap_store_on_a_small_device():
    """Regression: the zswap node pool must leave xa_store() its walk headroom.

    The pool was sized by xa_capacity_bound() alone (the exact node count of a full
    tree) while radix.xa_store() refuses to start with fewer than 2 * levels + 1 free
    nodes: on a 64-slot device no page ever reached zswap (-ENOMEM), and on larger
    devices the last few hundred stores failed.  The kernel's xa_store() allocates
    nodes as needed.  Fixed in new_zswap_trees() (cap + 2 * levels + 2)."""
    p = Pair(64, csize=16)
    for f in range(1, 64):
        off = p.alloc(0, 0, f, 0)
        p.dup(OP_DUP, off, 1)
        assert p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZSWAP) == BACKEND_ZSWAP
    assert p.naive.zswap_entries() == 63


def test_kernel_disk_writeout_invalidates_stale_zswap_entry():
    """swap_writeout() to disk drops the folio's stale zswap entry.

    mm/zswap.c zswap_store(): when the folio is not stored (zswap disabled, rejected,
    or the store failed: the BACKEND_DISK case), ``check_old:`` runs
    ``zswap_invalidate(swp_type(swp), swp_offset(swp), nr_pages)``: per page an
    ``xa_empty`` check and an ``xa_erase`` (freeing a stale entry).  Sequence: alloc,
    dup, writeout ZSWAP, (the folio is redirtied) writeout DISK.  The kernel ends with
    no zswap entry (a stale one would make a later read return the old data)."""
    p = Pair(1024, csize=512)
    off = p.alloc(0, 0, 1, 0)
    p.dup(OP_DUP, off, 1)
    p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZSWAP)
    p.writeout(OP_WRITEOUT, off, 1, BACKEND_DISK)  # compares with the kernel behaviour
    assert p.naive.zswap_entries() == 0
    assert int(p.ctx.counters[OP_WRITEOUT, PRIMITIVES.index("xa_erase")]) == 1


def test_kernel_zswap_rewrite_frees_old_entry():
    """An overwriting zswap store frees the entry it replaces.

    mm/zswap.c zswap_store_page(): ``old = xa_store(...); if (old)
    zswap_entry_free(old);``.  Sequence: alloc, dup, writeout ZSWAP twice (the folio
    was redirtied in between).  The kernel charges one mem_free for the stale entry."""
    p = Pair(1024, csize=512)
    off = p.alloc(0, 0, 1, 0)
    p.dup(OP_DUP, off, 1)
    p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZSWAP)
    p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZSWAP)
    wo = p.ctx.counters[OP_WRITEOUT]
    assert int(wo[PRIMITIVES.index("mem_alloc")]) == 2 and int(wo[PRIMITIVES.index("mem_free")]) == 1
    assert p.naive.zswap_entries() == 1


def test_kernel_reclaim_work_uses_nr_swap_pages_before_the_allocation():
    """reclaim_work is scheduled only as the kernel would.

    mm/swapfile.c swap_range_alloc(): ``if (swap_usage_add(si, nr)) { if
    (vm_swap_full()) schedule_work(&si->reclaim_work); } atomic_long_sub(nr,
    &nr_swap_pages);`` -- vm_swap_full() still sees the nr slots of the allocation
    that filled the device as free.  Sequence (2 clusters of 16 slots, pages = 31):
    15 order-0 cache-only allocations fill cluster 0, then an order-4 allocation fills
    cluster 1: the kernel sees nr_swap_pages = 16, 32 < 31 is false, no reclaim (a
    test after the update would reclaim all 15 cache-only slots of cluster 0)."""
    p = Pair(32, csize=16)
    for f in range(1, 16):
        p.alloc(0, 0, f, 0)
    p.alloc(0, 4, 16, 0)
    assert not p.ctx.counters[OP_RECLAIM_SCAN].any()
    assert int(p.ctx.meta[C_CACHE_DROPS]) == 0


def test_kernel_large_swapin_over_zswap():
    """A large swap-in over slots held in zswap is refused with -EBUSY.

    mm/swap_state.c __swap_cache_alloc(): after adding the folio, ``if (order &&
    zswap_is_present(entry, nr_pages)) { err = -EBUSY; goto delete_folio; }`` (zswap
    cannot hand back a large folio from per-page entries; zswap_load() would return
    -EIO).  Sequence: an order-1 folio is written to zswap and dropped from the cache,
    then cache_add of order 1 at its first entry.  The kernel returns -EBUSY and leaves
    the entries as shadows."""
    p = Pair(1024, csize=512)
    off = p.alloc(0, 1, 1, 0)
    for i in range(2):
        p.dup(OP_DUP, off + i, 1)
    p.writeout(OP_WRITEOUT, off, 2, BACKEND_ZSWAP)
    p.cache_del(OP_CACHE_DEL, off, 2)
    got = int(verbs.cache_add(p.dst, p.ctx, OP_SWAPIN, off, 2, 2))
    assert got == verbs.EBUSY, f"large swap-in over zswap entries returned {got}"
    assert int(p.ctx.folio[2, F_SWAP]) == 0


# --------------------------------------------------------------------------- swapoff


def test_swapoff_of_one_swapped_out_page():
    """try_to_unuse() of one swapped-out page: read into a new folio, the PTE's count
    put, folio_free_swap(); the device walk then reads the 16 slots of the cluster
    that still holds the header; allocations fail afterwards."""
    p = Pair(64, csize=16)
    off = p.alloc(0, 0, 5, 0)
    p.dup(OP_DUP, off, 1)
    p.cache_del(OP_CACHE_DEL, off, 1)
    before = p.ctx.counters.copy()
    swapoff_pair(p)
    assert delta(p, before) == {
        # lookup 1, cache add 3 (check, recheck, add), read 1, put 2,
        # folio_maybe_swapped 1, del 1, free 1, the walk over cluster 0: 16
        ("swapoff", "table_read"): 26,
        ("swapoff", "table_write"): 4,  # add, put, PFN -> shadow, free
        ("swapoff", "cluster_lock"): 4,  # add 2, put, del
        ("swapoff", "memcg_read"): 2,
        ("swapoff", "memcg_charge"): 1,
        ("swapoff", "slot_free_notify"): 1,
        ("swapoff", "si_lock"): 1,  # cluster 0: frag -> nonfull
        ("swapoff", "mem_free"): 2,  # free_cluster_info(): cluster 0's table + memcg table
    }
    assert p.naive.slots[off] is None and int(p.dst.dev.meta[D.D_OFF]) == 1
    out = np.zeros(N_STRUCTURES, dtype=np.int64)
    verbs.metadata_bytes(p.dst, out)
    assert out[STRUCTURES.index("cluster_info")] == 0
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 9, 0) == verbs.ENOMEM and p.naive.alloc_fail == 1
    assert not (p.ctx.counters - before).any()


def test_swapoff_of_mixed_entries():
    """A partly counted large folio in the cache, an overflowed count (extend table),
    a zswap page, a zero page and cache-only slots (one of them large) on a discard
    device: every entry goes, compared with the reference after every call."""
    p = Pair(128, csize=16, discard=True, zswap_on=True)
    big = p.alloc(0, 2, 1, 1)  # order 2, two of its pages mapped out
    p.dup(OP_DUP, big, 1)
    p.dup(OP_DUP, big + 2, 2)
    ovf = p.alloc(0, 0, 2, 2)
    for _ in range(20):
        p.dup(OP_DUP, ovf, 1)
    p.cache_del(OP_CACHE_DEL, ovf, 1)
    for folio, backend in ((3, BACKEND_ZSWAP), (4, BACKEND_ZERO), (5, BACKEND_DISK)):
        x = p.alloc(0, 0, folio, 3)
        p.dup(OP_DUP, x, 1)
        p.writeout(OP_WRITEOUT, x, 1, backend)
        p.cache_del(OP_CACHE_DEL, x, 1)
    p.alloc(0, 0, 6, 0)  # cache-only
    p.alloc(0, 3, 7, 0)  # cache-only, order 3
    freed = p.alloc(0, 0, 8, 0)
    p.cache_free(OP_SWAPIN, freed, 1)
    assert p.naive.ext_tables() == 1 and p.naive.zswap_entries() == 1
    swapoff_pair(p)
    assert p.naive.inuse == 0 and p.naive.zswap_entries() == 0 and not p.naive.folio_swap
    assert p.naive.ext_tables() == 0
    assert p.alloc(0, 0, 9, 0) == verbs.ENOMEM
