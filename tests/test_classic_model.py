"""The ``classic`` design (6.19 baseline) against the plain-Python reference ``NaiveClassic``.

* Random operation sequences (hypothesis stateful tests) drive both models and compare,
  after every verb call, the return value and the whole state: the counter matrix, every
  swap_map byte, the continuation counts and pages, the swap_cgroup ids, the zeromap
  bits, every swap-table word, each cluster's count / flags / order / list / table, the
  order of every cluster list, the per-CPU offsets, the device words, the zswap trees
  (entries, heights, nodes), the folio side of ``Ctx`` and ``metadata_bytes``.
* Hand-counted unit tests pin specific paths with exact counters (the behaviour tests
  are in ``test_classic.py``).
* ``test_kernel_*`` tests pin, each on a sequence that shows it, a kernel detail the
  design once missed (found by the model; each names the kernel source it follows).

Inside long loops of one verb (a fill, dozens of dups of one slot) the state is
compared in full around the interesting steps (the 62 <-> 63 carry and borrow, the
last reference) and at the end of the loop, and the return value and counter matrix
after every call.

Operations are kept valid the way the mm keeps them: dup/put only live entries, a put
of several entries only over one swap_pte_batch() (one swap_cgroup id), cache operations
only on cached folios (entry = folio->swap, nr = folio_nr_pages), distinct folio ids, a
large swap-in only over a range of one swap_cgroup id (can_swapin_thp()).
"""
from __future__ import annotations

import harness
import numpy as np
from harness import (
    BAD_WORD,
    SlotMachine,
    assert_same,
    compare_device,
    compare_folios,
    compare_metadata,
    compare_words,
    compare_zswap_trees,
    delta,
    dict_array,
    first_bad,
    device_configs,
    machine_settings,
    row,
    swapoff_walk,
)
from hypothesis import strategies as st
from naive_classic import (
    COUNT_CONTINUED,
    SWAP_HAS_CACHE,
    SWAP_MAP_MAX,
    MapSlot,
    NaiveClassic,
    cont_value,
    map_byte,
)
from naive_swap_table import BAD

from vswap_nb.core import device as D
from vswap_nb.core import verbs
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
    FOLIO_MAPPED,
)
from vswap_nb.designs import classic

HAS_RA_PROBE = "ra_probe" in verbs.VERB_SIGNATURES


# --------------------------------------------------------------------------- the pair


def _table_word(s):
    if s is None:
        return 0
    if s is BAD:
        return BAD_WORD
    if s.folio is None:
        return 1  # an (empty) shadow: xa_value 0
    return (s.folio << 2) | 2  # PFN entry, flags 0


class Pair(harness.Pair):
    """``classic`` and ``NaiveClassic`` driven together (``harness.Pair``)."""

    def __init__(self, nslots, *, csize, ncpu=1, solidstate=True, discard=False,
                 blkdev=True, synchronous=False, zswap_on=False):
        kw = {"ncpu": ncpu, "cluster_size": csize, "solidstate": solidstate,
              "discard": discard, "blkdev": blkdev, "synchronous": synchronous}
        dst = classic.new_state(nslots, **kw)
        super().__init__(dst, NaiveClassic(nslots, **kw), 2 * dst.dev.table.shape[0] + 8,
                         csize=csize, ncpu=ncpu, zswap_on=zswap_on)

    def compare(self, where):
        n, dst = self.naive, self.dst
        # swap_map bytes, continuation counts, table words (one pass over the naive slots)
        smap, cont, words = [], [], []
        for s in n.slots:
            smap.append(map_byte(s))
            cont.append(cont_value(s))
            words.append(_table_word(s))
        compare_words(where, "swap_map bytes", dst.swap_map.astype(np.int64),
                      np.array(smap, dtype=np.int64), lambda i: n.slots[i])
        compare_words(where, "continuation counts", dst.cont.astype(np.int64),
                      np.array(cont, dtype=np.int64), lambda i: cont[i])
        pages = dict_array(n.cont_pages, dst.cont_pages.shape[0])
        assert np.array_equal(dst.cont_pages.astype(np.int64), pages), (
            f"{where}: continuation pages per swap_map page: numba {dst.cont_pages.tolist()}, "
            f"naive {pages.tolist()}")
        assert int(dst.meta[classic.K_CONT_PAGES]) == n.total_cont_pages(), f"{where}: continuation pages"
        compare_words(where, "table words", dst.dev.table.view(np.uint64),
                      np.array(words, dtype=np.uint64), lambda i: n.slots[i])
        compare_words(where, "swap_cgroup ids", dst.cgroup.astype(np.int64),
                      dict_array(n.memcg, self.total), lambda i: n.memcg.get(i, 0))
        bits = np.unpackbits(dst.zeromap.view(np.uint8), bitorder="little")[: self.total]
        zero = np.zeros(self.total, dtype=np.uint8)
        zero[sorted(n.zeromap)] = 1
        assert np.array_equal(bits, zero), f"{where}: zeromap bits differ at {first_bad(bits, zero)}"
        compare_device(where, "device", dst.dev, n, self.ncpu, kernel=D.KERNEL_619)
        compare_zswap_trees(where, dst.zswap, n.trees, self.total)
        compare_folios(where, self.ctx, n)
        compare_metadata(where, self)


def swapoff_pair(p):
    """swapoff(2) of a physical device (``harness.swapoff_walk``): every PTE's count
    through the page-table walk, then the cache-only slots through the device walk."""
    def counted(x):
        s = p.naive.slots[x]
        return isinstance(s, MapSlot) and s.count >= 1

    swapoff_walk(p, ptes=counted)


# --------------------------------------------------------------------------- random tests


class ClassicMachine(SlotMachine):
    """The generic machine (``harness.VerbMachine``) on ``classic``: counts carry into
    continuation digits at 63, a put or dup of several entries is one swap_pte_batch()
    (one swap_cgroup id), and long loops compare the whole state around the carry."""

    configs = device_configs([16, 32], 8)
    swapoff_from_step = 12
    swapoff_needs_inuse = True
    times = st.sampled_from([1, 2, 3, 60, 61, 62, 63, 64, 66, 130])  # around the 62/63 carry
    ups, downs = (60, 66), (1, 8)
    dup_in_cluster = False
    runs_by_memcg = True
    fill_check = False
    read_at_start = False
    probe_on_swapin = HAS_RA_PROBE
    zswap_wb_shadows = True
    ra_probe = SlotMachine.ra_probe if HAS_RA_PROBE else None

    slot_type, bad = MapSlot, BAD

    def make_pair(self, config):
        return Pair(**config)

    def dupable(self):
        return self._slots(lambda s: True)  # count >= 1 or SWAP_HAS_CACHE

    def memcg_of(self, x):
        return self.p.naive.memcg.get(x, 0)

    def batchable(self, start, nr):
        """can_swapin_thp(): one swap_cgroup id over the range."""
        return len({self.memcg_of(y) for y in range(start, start + nr)}) == 1

    def check_at(self, x):
        """A full check around the carry and borrow of the swap_map digit (count
        62 <-> 63) and the last reference, the counters only elsewhere (the loop ends
        with a full check)."""
        c = self.p.naive.swap_count(x)
        return True if c <= 2 or c % 63 in (0, 62) else "light"

    def do_swapoff(self, data):
        swapoff_pair(self.p)


TestClassicSmallClusters = ClassicMachine.TestCase
TestClassicSmallClusters.settings = machine_settings(50, 30)


class BigClusterMachine(ClassicMachine):
    """512-slot clusters (the kernel's SWAPFILE_CLUSTER): orders up to 9."""

    configs = device_configs([512], 3)
    swapoff_from_step = 8

    def fill_orders(self):  # order-0 fills run in the small machine (1535 steps here)
        return [3, 5, self.max_order(), self.max_order()]


TestClassicBigClusters = BigClusterMachine.TestCase
TestClassicBigClusters.settings = machine_settings(20, 20)


# --------------------------------------------------------------------------- unit tests


def _swapped(p, n, memcg=1, folio0=1, order=0):
    """``n`` folios of ``order`` swapped out (count 1 per page, shadows)."""
    out = []
    for i in range(n):
        off = p.alloc(0, order, folio0 + i, memcg)
        for j in range(1 << order):
            p.dup(OP_DUP, off + j, 1)
        p.cache_del(OP_CACHE_DEL, off, 1 << order)
        out.append(off)
    return out


def test_first_alloc_scans_swap_map_and_caches_the_folio():
    """Cluster 0 holds the header, so it starts on nonfull[0]: the slow path isolates
    it (no table allocation), reads swap_map bytes 0 (bad) and 1, memsets HAS_CACHE,
    records the swap_cgroup id, then swap_cache_add_folio()."""
    p = Pair(64, csize=16)
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 5, 7) == 1
    assert delta(p, before) == {
        ("alloc", "pcpu_access"): 1,
        ("alloc", "si_lock"): 2,  # isolate from nonfull[0] + relocate to frag[0]
        ("alloc", "cluster_lock"): 2,  # the isolated cluster + swap_cache_add_folio
        ("alloc", "map_read"): 2,
        ("alloc", "map_write"): 1,
        ("alloc", "memcg_charge"): 1,
        ("alloc", "memcg_read"): 1,  # swap_cgroup_record() exchanges the id
        ("alloc", "memcg_write"): 1,
        ("alloc", "table_read"): 1,
        ("alloc", "table_write"): 1,
    }
    assert int(p.dst.swap_map[1]) == SWAP_HAS_CACHE and int(p.dst.cgroup[1]) == 7
    # an empty cluster is taken without reading swap_map (cluster_scan_range)
    before = p.ctx.counters.copy()
    assert p.alloc(0, 2, 6, 0) == 16
    d = row(delta(p, before), OP_ALLOC)
    assert "map_read" not in d and d["mem_alloc"] == 1 and d["map_write"] == 4


def test_dup_past_62_adds_a_continuation_page_and_put_borrows_back():
    p = Pair(64, csize=16)
    (e,) = _swapped(p, 1)
    for _ in range(61):
        p.dup(OP_DUP, e, 1, check=False)
    assert p.swap_count(e) == 62 and int(p.dst.swap_map[e]) == SWAP_MAP_MAX
    before = p.ctx.counters.copy()
    assert p.dup(OP_DUP, e, 1) == 0
    assert delta(p, before) == {
        # __swap_duplicate -> -ENOMEM, add_swap_count_continuation, __swap_duplicate
        ("dup", "cluster_lock"): 3,
        ("dup", "map_read"): 2 + 1 + 2,
        ("dup", "mem_alloc"): 1,
        ("dup", "ext_read"): 1,
        ("dup", "ext_write"): 1,
        ("dup", "map_write"): 1,
    }
    assert int(p.dst.swap_map[e]) == COUNT_CONTINUED and int(p.dst.cont[e]) == 1
    before = p.ctx.counters.copy()
    p.dup(OP_DUP, e, 1)  # 64: the low digit only
    assert delta(p, before) == {("dup", "cluster_lock"): 1, ("dup", "map_read"): 2, ("dup", "map_write"): 1}
    p.put(OP_FREE, e, 1, True)  # 63
    before = p.ctx.counters.copy()
    p.put(OP_FREE, e, 1, True)  # 62: the low digit 0 borrows from the continuation
    assert delta(p, before) == {
        ("free", "cluster_lock"): 1, ("free", "map_read"): 1, ("free", "map_write"): 1,
        ("free", "ext_read"): 1, ("free", "ext_write"): 1,
    }
    assert int(p.dst.swap_map[e]) == SWAP_MAP_MAX and int(p.dst.cont[e]) == 0
    assert p.naive.total_cont_pages() == 1  # kept until swapoff


def test_continuation_pages_are_per_page_of_swap_map_and_per_digit():
    """One continuation page serves the 4096 slots of a swap_map page for one digit; a
    slot in the next page needs its own; a count of 63 * 128 needs a second digit."""
    p = Pair(8192, csize=512)
    a = p.alloc(0, 0, 1, 0)
    b = p.alloc(0, 0, 2, 0)
    p.alloc(0, 9, 3, 0)  # cluster 1 ... fill up to the second page of swap_map
    offs = [p.alloc(0, 9, 4 + i, 0, check=False) for i in range(7)]
    assert offs[-1] == 4096
    c = offs[-1]
    for x in (a, b, c):
        for _ in range(63):
            p.dup(OP_DUP, x, 1, check=False)
    assert_same(p)
    assert p.naive.cont_pages == {0: 1, 1: 1}
    assert int(p.dst.meta[classic.K_CONT_PAGES]) == 2
    for _ in range(63 * 128 - 64):
        p.dup(OP_DUP, a, 1, check=False)
    assert_same(p)
    assert p.swap_count(a) == 63 * 128 - 1 and p.naive.cont_pages == {0: 1, 1: 1}
    before = p.ctx.counters.copy()
    p.dup(OP_DUP, a, 1)  # 63 * 128: the continuation digit carries into a second one
    d = row(delta(p, before), OP_DUP)
    assert d["mem_alloc"] == 1 and d["ext_read"] == 2 and d["ext_write"] == 2
    assert p.naive.cont_pages == {0: 2, 1: 1} and int(p.dst.cont[a]) == 128
    p.put(OP_FREE, a, 1, True)
    assert p.swap_count(a) == 63 * 128 - 1 and int(p.dst.cont[a]) == 127


def test_batch_put_of_a_cached_folio_leaves_has_cache_then_reclaims_it():
    """free_swap_and_cache_nr() over a whole cached order-2 folio with count 1 each:
    swap_is_last_map() sees equal bytes (1 | HAS_CACHE), writes HAS_CACHE to all, then
    the reclaim pass drops the unmapped folio (TTRS_UNMAPPED) and frees the slots."""
    p = Pair(64, csize=16)
    off = p.alloc(0, 2, 3, 2)
    for i in range(4):
        p.dup(OP_DUP, off + i, 1)
    p.set_flags(3, 0)
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, off, 4, True) == 0  # the put frees none; its reclaim frees 4
    assert delta(p, before) == {
        # first, last_map, reclaim pass, 2x only_has_cache, put_swap_folio's _swap_info_get
        ("free", "map_read"): 1 + 4 + 1 + 4 + 4 + 1,
        ("free", "map_write"): 4 + 4,  # HAS_CACHE, then 0
        ("free", "cluster_lock"): 1 + 1 + 1 + 1,  # put_map, only_has_cache, del, put_cache
        ("free", "table_read"): 1 + 4 + 4,  # lookup, shadows, clear_shadow's exchange
        ("free", "table_write"): 4 + 4,  # shadows, then cleared
        ("free", "memcg_read"): 4,
        ("free", "memcg_write"): 4,
        ("free", "memcg_uncharge"): 1,
        ("free", "zeromap_write"): 4,
        ("free", "slot_free_notify"): 4,
        ("free", "si_lock"): 1,  # cluster 1 empty -> free list
        ("free", "mem_free"): 1,
    }
    assert p.naive.cache_drops == 1 and p.naive.lists["free"][-1] == 1


def test_zap_stops_batches_at_cgroup_changes():
    """swap_pte_batch() reads every PTE's swap_cgroup id; each batch is one
    swap_entries_free() with one uncharge."""
    p = Pair(64, csize=16)
    es = _swapped(p, 3, memcg=1) + _swapped(p, 2, memcg=2, folio0=10) + _swapped(p, 1, memcg=0, folio0=20)
    assert es == list(range(1, 7))
    before = p.ctx.counters.copy()
    x, batches = 1, []
    while x < 7:
        nr = p.pte_batch(OP_FREE, x, 7 - x)
        batches.append(nr)
        assert p.put(OP_FREE, x, nr, True) == nr
        x += nr
    assert batches == [3, 2, 1]
    d = row(delta(p, before), OP_FREE)
    assert d["memcg_read"] == (4 + 3 + 1) + 6  # pte_batch (incl. the id that stops it) + clear
    assert d["memcg_uncharge"] == 2  # memcg 0 is not uncharged
    assert d["cluster_lock"] == 3 and d["map_write"] == 6


def test_writeout_backends_and_rewrite():
    """Zero: the zeromap bits only (a stale zswap entry stays, and the zeromap wins on
    read); zswap: an entry per page, a re-store frees the old entry; disk: the zeromap
    bits cleared and stale zswap entries erased (check_old)."""
    p = Pair(1024, csize=512, zswap_on=True)
    off = p.alloc(0, 1, 1, 1)
    for i in range(2):
        p.dup(OP_DUP, off + i, 1)
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 2, BACKEND_ZSWAP) == BACKEND_ZSWAP
    d = row(delta(p, before), OP_WRITEOUT)
    assert d["zeromap_write"] == 2 and d["xa_store"] == 2 and d["mem_alloc"] == 2
    # folio_swapped: _swap_info_get, then stops at the first count
    assert d["cluster_lock"] == 1 and d["map_read"] == 2
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 2, BACKEND_ZSWAP) == BACKEND_ZSWAP
    assert row(delta(p, before), OP_WRITEOUT)["mem_free"] == 2
    assert p.writeout(OP_WRITEOUT, off, 2, BACKEND_ZERO) == BACKEND_ZERO
    assert p.naive.zswap_entries() == 2 and p.naive.zeromap == {off, off + 1}
    assert p.read_backend(OP_SWAPIN, off) == BACKEND_ZERO
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 2, BACKEND_DISK) == BACKEND_DISK
    d = row(delta(p, before), OP_WRITEOUT)
    assert d["xa_erase"] == 2 and d["mem_free"] == 2 and d["zeromap_write"] == 2
    assert p.naive.zswap_entries() == 0 and not p.naive.zeromap
    assert p.read_backend(OP_SWAPIN, off) == BACKEND_DISK


def test_zswap_writeback_counts():
    """zswap_writeback_entry(): swapcache_prepare + charge + cache add, xa_load check,
    xa_erase, then the written folio leaves the cache (charged to cache_del)."""
    p = Pair(1024, csize=512)
    off = p.alloc(0, 0, 1, 4)
    p.dup(OP_DUP, off, 1)
    p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZSWAP)
    p.cache_del(OP_CACHE_DEL, off, 1)
    before = p.ctx.counters.copy()
    assert p.zswap_writeback(OP_ZSWAP_WB, off, 2) == 0
    d = delta(p, before)
    # __read_swap_cache_async: swap_cache_get_folio (table_read), swap_entry_swapped
    # (lock + map_read), swapcache_prepare, charge, cache add
    assert row(d, OP_ZSWAP_WB) == {
        "cluster_lock": 3, "map_read": 3, "map_write": 1, "memcg_read": 1, "memcg_charge": 1,
        "table_read": 2, "table_write": 1, "xa_lookup": 1, "xa_node_visit": 2,
        "xa_erase": 1, "xa_node_free": 1, "mem_free": 1,
    }
    assert row(d, OP_CACHE_DEL) == {
        "cluster_lock": 2, "table_read": 1, "table_write": 1, "map_read": 3, "map_write": 1,
    }
    assert p.naive.slots[off].count == 1 and not p.naive.slots[off].has_cache
    assert p.zswap_writeback(OP_ZSWAP_WB, off, 2) == verbs.ENOMEM  # the entry is gone


def test_swapin_put_without_reclaim_then_free_the_cache():
    p = Pair(64, csize=16)
    (e,) = _swapped(p, 1, memcg=5)
    before = p.ctx.counters.copy()
    assert p.cache_add(OP_SWAPIN, e, 1, 9) == 0
    assert row(delta(p, before), OP_SWAPIN) == {
        "cluster_lock": 3, "map_read": 3, "map_write": 1, "memcg_read": 1, "memcg_charge": 1,
        "table_read": 2, "table_write": 1,
    }
    p.set_flags(9, FOLIO_MAPPED)
    assert p.put(OP_SWAPIN, e, 1, False) == 0  # swap_free_nr: HAS_CACHE only now
    assert int(p.dst.swap_map[e]) == SWAP_HAS_CACHE
    assert p.try_reclaim(OP_SWAPIN, e, verbs.TTRS_UNMAPPED) == -1  # still mapped
    assert p.cache_free(OP_SWAPIN, e, 1) == 1
    assert p.naive.slots[e] is None and p.cache_add(OP_SWAPIN, e, 1, 9) == verbs.ENOENT


def test_allocator_reclaims_cache_only_slots_when_swap_is_over_half_full():
    """cluster_scan_range(): a HAS_CACHE-only slot rejects the range until swap is more
    than half full; then cluster_reclaim_range() reclaims it and the slot is reused."""
    p = Pair(64, csize=16)
    for f in (1, 2, 3):  # clusters 1..3 swapped out (count 1): 48 of 63 used
        off = p.alloc(0, 4, f, 0)
        for i in range(16):
            p.dup(OP_DUP, off + i, 1, check=False)
    offs = [p.alloc(0, 0, 10 + i, 0) for i in range(14)]  # 1..14, cache-only
    assert offs == list(range(1, 15)) and p.naive.vm_swap_full()
    assert p.cache_free(OP_SWAPIN, 5, 1) == 1  # a hole at 5
    assert p.alloc(0, 0, 30, 0) == 15  # the per-CPU cluster continues at 15
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 31, 0) == 1  # frag[0]: slot 1 reclaimed, not the hole at 5
    d = delta(p, before)
    assert d[("reclaim_scan", "si_lock")] >= 1  # the slow path scanned one full cluster
    assert int(p.ctx.meta[C_CACHE_DROPS]) == 1 and p.naive.slot_kind(5) == "null"


def test_reclaim_full_scans_swap_map_bytes():
    p = Pair(64, csize=16)
    offs = [p.alloc(0, 0, 1 + i, 0) for i in range(40)]  # 40 of 63, cache-only
    assert all(o > 0 for o in offs) and p.naive.vm_swap_full()
    before = p.ctx.counters.copy()
    assert p.reclaim_full(False) == 15  # cluster 0: slot 0 is bad
    d = row(delta(p, before), OP_RECLAIM_SCAN)
    assert d["map_read"] >= 16 and d["table_read"] >= 15
    assert p.naive.lists[("nonfull", 0)] == [0]


def test_filling_the_device_schedules_reclaim_work():
    p = Pair(64, csize=16)
    folio = 1
    while True:
        off = p.alloc(0, 0, folio, 0, check=False)
        if off < 0:
            break
        p.dup(OP_DUP, off, 1, check=False)
        folio += 1
    assert_same(p)
    assert folio - 1 == 63 and not p.naive.avail and p.naive.alloc_fail == 1
    assert int(p.ctx.counters[OP_RECLAIM_SCAN, PRIMITIVES.index("si_lock")]) > 0
    p.put(OP_FREE, 5, 1, True)
    assert p.naive.avail and p.alloc(0, 0, 100, 0) == 5


def test_discard_device_runs_discards_and_restarts():
    """On a discard device a freed cluster waits on the discard list; the 6.19 slow path
    runs pending discards and starts over when nothing else worked."""
    p = Pair(48, csize=16, discard=True)  # clusters 0 (header), 1, 2
    assert p.alloc(0, 4, 1, 0) == 16  # discard devices take the free list first
    assert p.alloc(0, 4, 2, 0) == 32
    p.cache_free(OP_SWAPIN, 16, 16)  # never mapped: cluster 1 -> discard list
    assert p.naive.lists["discard"] == [1] and p.naive.discard_pending
    assert p.alloc(0, 4, 3, 0) == 16  # the pending discard ran first
    assert not p.naive.discard_pending


def test_rotational_device_uses_the_global_cluster():
    p = Pair(64, csize=16, solidstate=False, ncpu=2)
    assert p.alloc(0, 0, 1, 0) == 1
    assert p.alloc(1, 0, 2, 0) == 2
    assert int(p.dst.dev.pcpu[2, 0]) == 3 and int(p.dst.dev.pcpu[0, 0]) == 0


def test_allocator_reclaim_walk_steps_over_free_slots_and_frees_the_cluster():
    """6.19 cluster_reclaim_range() over an order-2 range [free, cache-only, free,
    cache-only] while swap is over half full: the walk steps over the free slots and
    reclaims both folios; that empties the (isolated) cluster, free_cluster() drops its
    table, so cluster_is_usable() fails and the allocator takes it again from the free
    list (a new table)."""
    p = Pair(64, csize=16, ncpu=2)
    for f in (1, 2):  # clusters 1 and 2 swapped out
        off = p.alloc(0, 4, f, 0)
        for i in range(16):
            p.dup(OP_DUP, off + i, 1, check=False)
    (off,) = _swapped(p, 1, memcg=0, folio0=3, order=2)
    assert off == 48
    for x, folio in ((49, 10), (51, 11)):  # swap-in, map, swap_free: HAS_CACHE only
        p.cache_add(OP_SWAPIN, x, 1, folio)
        p.put(OP_SWAPIN, x, 1, False)
    p.put(OP_FREE, 48, 1, True)
    p.put(OP_FREE, 50, 1, True)
    assert [p.naive.byte(x) for x in range(48, 52)] == [0, SWAP_HAS_CACHE, 0, SWAP_HAS_CACHE]
    assert p.naive.vm_swap_full() and p.naive.lists[("nonfull", 2)] == [3]
    before = p.ctx.counters.copy()
    assert p.alloc(1, 2, 12, 0) == 48  # CPU 1 has no order-2 cluster: the slow path
    d = row(delta(p, before), OP_ALLOC)
    assert int(p.ctx.meta[C_CACHE_DROPS]) == 2
    assert d["mem_free"] == 1 and d["mem_alloc"] == 1  # table dropped, then populated again
    # scan 48..51 (4 reads), walk 48, 49, 50, 51 (4), recheck (4); only_has_cache x 2
    # and put_swap_folio's _swap_info_get and only_has_cache x 2
    assert d["map_read"] == 4 + 4 + 4 + 2 + 2 + 2


def test_order0_stealing_meets_a_has_cache_slot_of_an_unreclaimable_folio():
    """A swapped-in order-2 folio whose first PTE was mapped (swap_free_nr) leaves that
    slot's swap_map byte at exactly SWAP_HAS_CACHE while its other pages keep counts.
    With swap over half full, order-0 stealing from frag[2] takes the byte for a
    cache-only slot, __try_to_reclaim_swap() finds the folio still swapped
    (swap_only_has_cache fails, -4), cluster_reclaim_range() rechecks the slot as busy
    and the scan moves on to the next free slot."""
    p = Pair(64, csize=16)
    for f in (1, 2):
        off = p.alloc(0, 4, f, 0)
        for i in range(16):
            p.dup(OP_DUP, off + i, 1, check=False)
    (off,) = _swapped(p, 1, memcg=0, folio0=3, order=2)
    assert off == 48
    assert p.cache_add(OP_SWAPIN, 48, 4, 4) == 0
    p.put(OP_SWAPIN, 48, 1, False)
    assert p.naive.byte(48) == SWAP_HAS_CACHE and p.naive.byte(49) == 1 | SWAP_HAS_CACHE
    _swapped(p, 15, memcg=0, folio0=10)  # cluster 0 full
    assert p.naive.vm_swap_full() and p.naive.lists[("frag", 2)] == [3]
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 40, 0) == 52
    d = delta(p, before)
    assert int(p.ctx.meta[C_CACHE_DROPS]) == 0 and p.naive.slots[48].folio == 4
    assert d[("alloc", "table_read")] == 1 + 1  # the try_reclaim lookup + the cache add
    assert d[("reclaim_scan", "map_read")] == 16  # one full cluster scanned on the way


def test_ra_probe_sync_only_for_a_count_of_one_on_a_synchronous_device():
    """6.19 do_swap_page(): ``if (data_race(si->flags & SWP_SYNCHRONOUS_IO) &&
    __swap_count(entry) == 1)`` -- the synchronous path (no readahead) only for an
    unshared entry; a shared or continued count (COUNT_CONTINUED) reads ahead."""
    if not HAS_RA_PROBE:
        return
    p = Pair(64, csize=16, synchronous=True)
    (e,) = _swapped(p, 1)
    before = p.ctx.counters.copy()
    assert p.ra_probe(OP_SWAPIN, e) == 1  # RA_SYNC
    assert delta(p, before) == {("swapin", "map_read"): 1}
    p.dup(OP_DUP, e, 1)
    assert p.ra_probe(OP_SWAPIN, e) == 0  # shared: readahead
    for _ in range(62):
        p.dup(OP_DUP, e, 1, check=False)
    for _ in range(63):
        p.put(OP_FREE, e, 1, True, check=False)  # back to 1 through the borrow
    assert p.swap_count(e) == 1 and p.ra_probe(OP_SWAPIN, e) == 1
    assert p.ra_probe(OP_SWAPIN, 9) == verbs.ENOENT and p.ra_probe(OP_SWAPIN, 0) == verbs.ENOENT
    q = Pair(64, csize=16)
    (e,) = _swapped(q, 1)
    assert q.ra_probe(OP_SWAPIN, e) == 0 and not q.ctx.counters.any(axis=1)[OP_SWAPIN]


# --------------------------------------------------------------------------- kernel checks
#
# Each test drives the design and the model on a sequence that shows one kernel detail
# the design once missed; the Pair's comparison after each call is the assertion.


def test_kernel_discard_restart_takes_si_lock_on_an_empty_discard_list():
    """Former design bug (counter): mm/swapfile.c (07adc4cf) cluster_alloc_swap_entry():
    ``if ((si->flags & SWP_PAGE_DISCARD) && swap_do_scheduled_discard(si)) goto
    new_cluster;`` and swap_do_scheduled_discard() starts with
    ``spin_lock(&si->lock)`` before looking at the list.  The design (device.py,
    STEP_DISCARD_RESTART) skips the call when the discard list is empty, so an
    allocation on a nearly full discard device is one si_lock short.
    Repro: 32 slots, 16-slot clusters, discard: an order-0 allocation takes the only
    free cluster (1); an order-1 allocation then finds no free, nonfull[1] or frag[1]
    cluster and reaches the restart step with an empty discard list."""
    p = Pair(32, csize=16, discard=True)  # deviation: discard_restart_skips_empty_list
    assert p.alloc(0, 0, 1, 0) == 16
    p.alloc(0, 1, 2, 0)  # the pair compares here


def test_kernel_cache_add_checks_the_cache_and_the_swap_count_first():
    """Former design bug (counter, zswap writeback return code): 6.18/6.19 mm/swap_state.c
    swap_cache_alloc_folio() (order 0: readahead, swapin_readahead, zswap writeback):
    ``folio = swap_cache_get_folio(entry); if (folio) goto got_folio;`` then
    ``if (!swap_entry_swapped(si, entry)) goto put_and_return;`` (swap_cluster_lock +
    one swap_map read) before ``swapcache_prepare(entry, 1)``; zswap_writeback_entry()
    returns -ENOMEM when it gets no folio.  The design's cache_add starts at
    swapcache_prepare(): per swap-in it is one table_read, one cluster_lock and one
    map_read short, and zswap_writeback of a free slot returns -ENOENT.
    Repro: alloc, dup, cache_del (a swapped-out slot), cache_add of order 0."""
    p = Pair(64, csize=16)  # deviation: cache_add_without_alloc_checks
    (e,) = _swapped(p, 1)
    p.cache_add(OP_SWAPIN, e, 1, 9)  # the pair compares here


def test_kernel_zswap_writeback_of_a_free_slot_returns_enomem():
    """The return-code half of the test above: zswap_writeback_entry() on a slot that is
    no longer swapped: swap_cache_alloc_folio() returns NULL, the kernel -ENOMEM."""
    p = Pair(64, csize=16)  # deviation: cache_add_without_alloc_checks
    p.zswap_writeback(OP_ZSWAP_WB, 7, 9)  # the pair compares here


def test_kernel_disk_writeout_erases_zswap_entries_even_if_zswap_never_ran():
    """Former design bug (counter, shared core/zswap.py zswap_drop_stale): mm/zswap.c
    zswap_store(): ``if (!zswap_enabled) goto check_old;`` ... ``check_old: if (!ret)
    { for each page: entry = xa_erase(tree, offset + index); if (entry)
    zswap_entry_free(entry); }`` -- there is no zswap_never_enabled() test on this
    path (only zswap_load() has one), so a system without zswap still pays an
    xa_erase per page of every disk writeout.  The design skips it ([I] in its
    docstring).  Repro: alloc, dup, writeout to disk with zswap never enabled."""
    p = Pair(64, csize=16)  # deviation: check_old_needs_zswap_enabled
    off = p.alloc(0, 0, 1, 0)
    p.dup(OP_DUP, off, 1)
    p.writeout(OP_WRITEOUT, off, 1, BACKEND_DISK)  # the pair compares here


def test_kernel_clear_shadow_reads_the_old_entry():
    """DESIGN INCONSISTENCY (counter): 6.18/6.19 mm/swap_state.c
    __swap_cache_clear_shadow(): ``old = __swap_table_xchg(ci, ci_off,
    null_to_swp_tb()); WARN_ON_ONCE(swp_tb_is_folio(old));`` per slot -- the same
    xchg that the design counts as table_read + table_write in swap_cache_add_folio()
    and __swap_cache_del_folio(), but as a table_write only here (classic.py
    _entries_free).  Repro: alloc, dup, cache_del, put: the free is one table_read
    short per slot."""
    p = Pair(64, csize=16)  # deviation: clear_shadow_write_only
    (e,) = _swapped(p, 1)
    p.put(OP_FREE, e, 1, True)  # the pair compares here


def test_kernel_swap_cgroup_record_reads_the_old_id():
    """DESIGN INCONSISTENCY (counter): mm/swap_cgroup.c swap_cgroup_record(): ``old =
    __swap_cgroup_id_xchg(map, offset, id); VM_BUG_ON(old);`` per slot, the same xchg
    swap_cgroup_clear() does, which the design counts as memcg_read + memcg_write; at
    the record it counts the memcg_write only (classic.py cl_alloc).
    Repro: an allocation with a memcg."""
    p = Pair(64, csize=16)  # deviation: cgroup_record_write_only
    p.alloc(0, 0, 1, 3)  # the pair compares here


def test_kernel_swap_info_get_reads_the_swap_map_byte():
    """Former design bug (counter): mm/swapfile.c (07adc4cf) _swap_info_get(): ``if
    (data_race(!si->swap_map[swp_offset(entry)])) goto bad_free;`` -- one swap_map
    read at the start of swap_free_nr() (put without cache reclaim), put_swap_folio()
    (the second half of every swap-cache delete) and folio_swapped()
    (folio_free_swap).  The design counts none of them.
    Repro: alloc, dup, cache_del: the delete is one map_read short."""
    p = Pair(64, csize=16)  # deviation: swap_info_get_read_uncounted
    off = p.alloc(0, 0, 1, 0)
    p.dup(OP_DUP, off, 1)
    p.cache_del(OP_CACHE_DEL, off, 1)  # the pair compares here


# --------------------------------------------------------------------------- swapoff


def test_swapoff_of_mixed_entries():
    """A partly counted large folio in the cache, a count carried into continuation
    pages, a zswap page, a zero page and cache-only slots (one of them large) on a
    discard device: every entry goes, compared with the reference after every call;
    then the static metadata is freed and allocations fail."""
    p = Pair(128, csize=16, discard=True, zswap_on=True)
    big = p.alloc(0, 2, 1, 1)  # order 2, two of its pages mapped out
    p.dup(OP_DUP, big, 1)
    p.dup(OP_DUP, big + 2, 2)
    ovf = p.alloc(0, 0, 2, 2)
    for _ in range(70):
        p.dup(OP_DUP, ovf, 1, check="light")
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
    assert p.naive.total_cont_pages() == 1 and p.naive.zswap_entries() == 1
    swapoff_pair(p)
    assert p.naive.inuse == 0 and p.naive.zswap_entries() == 0 and not p.naive.folio_swap
    out = np.zeros(N_STRUCTURES, dtype=np.int64)
    verbs.metadata_bytes(p.dst, out)
    for name in ("swap_map", "swap_map_continuation", "swap_cgroup", "zeromap", "cluster_info"):
        assert out[STRUCTURES.index(name)] == 0, name
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 9, 0) == verbs.ENOMEM and p.naive.alloc_fail == 1
    assert not (p.ctx.counters - before).any()
