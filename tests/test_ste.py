"""``vswap_ste`` and ``ghost`` against the plain-Python reference ``NaiveSte``.

* Random valid operation sequences (hypothesis stateful tests) drive both models and
  compare, after every verb call, the return value and the whole state: the counter
  matrix; the vswap device's table words, extend-table words, memcg ids, cluster rows,
  lists, per-CPU offsets and device words; every virtual_table word; the cluster pool
  XArray (entries, height, nodes); the physical device's Pointer words (vswap offset and
  cache-only bit), cluster rows, lists, per-CPU offsets and device words; the design's
  meta words; ``Ctx.folio`` and the cache drops; ``metadata_bytes``.
* Hand-counted unit tests pin the costs the thread argued about (every vswap cluster
  lookup an xa_load, the physical allocator's C-bit check, lazy backing, ghost's lazy
  forward table) with exact counters.
* Whole-folio backing and swap-charge regression tests (the ``test_bug_*`` tests
  before 9c95a16): no physical slot leaked, no swapped-out page left unbacked, swap
  charges and uncharges balancing over full lifecycles.
* After every rule the machine checks the invariants that tie the two devices
  together: each Pointer names a vswap slot whose word is PHYS at that physical slot
  and back, the C bit is set exactly for count-0 pages, the physical device's usage is
  the number of Pointers, the zswap entry count the number of ZSWAP words, ghost's
  per-cluster PHYS counts the PHYS words.

Operations are kept valid the way the mm would: dup/put only live entries, cache
operations only on cached folios (entry = folio->swap, nr = folio_nr_pages), distinct
folio ids, ``Ctx.meta[C_CPU]`` set before every non-alloc verb.
"""
from __future__ import annotations

import random

import harness
import numpy as np
import pytest
from harness import (
    BAD_WORD,
    M64,
    SlotMachine,
    assert_same,
    compare_device,
    compare_folios,
    compare_metadata,
    compare_words,
    counters_diff,
    delta,
    dict_array,
    machine_settings,
    row,
    swapoff_walk,
)
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from naive_ste import VT_PHYS, VT_ZSWAP, NaiveSte, Ptr
from naive_swap_table import BAD, Slot
from test_swap_table import Pair as SwapTablePair
from test_swap_table import SwapTableMachine, table_words

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
    BACKEND_FOLIO,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    C_CPU,
    F_SWAP,
    FOLIO_MAPPED,
)
from vswap_nb.designs import get_design
from vswap_nb.designs import ste as ste_mod
from vswap_nb.designs import swap_table as st_design


# --------------------------------------------------------------------------- the pair


def _populated_ranges(n):
    """(start, end) slot ranges of the clusters whose table is allocated; every slot
    outside them is a NULL word in both models."""
    return [(c * n.csize, (c + 1) * n.csize) for c, cl in enumerate(n.clusters) if cl.has_table]


def _populated(n):
    """The slots of the clusters whose table is allocated (every slot outside them is a
    NULL word in both models): their indices and the naive slots."""
    ranges = _populated_ranges(n)
    if not ranges:
        return np.zeros(0, dtype=np.int64), []
    return (np.concatenate([np.arange(lo, hi) for lo, hi in ranges]),
            [s for lo, hi in ranges for s in n.slots[lo:hi]])


def _check_words(where, name, got, n, idx, exp):
    """The words ``exp`` of the populated slots ``idx``, and the rest zeros."""
    got = got.view(np.uint64)
    compare_words(where, f"{name} words", got[idx], exp, lambda i: (int(idx[i]), n.slots[idx[i]]))
    mask = np.ones(got.size, dtype=bool)
    mask[idx] = False
    if n.off:
        return  # swapped off: every table is freed, the words left (bad slots) are garbage
    bad = np.flatnonzero(got[mask] != 0)
    assert bad.size == 0, f"{where}: {name}: non-NULL words in unpopulated clusters"


def _rmap_words(slots):
    """The Pointer word of each physical slot: vswap offset, the C bit."""
    out = []
    app = out.append
    for s in slots:
        if s is None:
            app(0)
        elif s is BAD:
            app(BAD_WORD)
        else:
            assert isinstance(s, Ptr), s
            app(((s.v << 3) | 4 | (int(s.cache_only) << 63)) & M64)
    return np.array(out, dtype=np.uint64)


class StePair(harness.Pair):
    """``vswap_ste`` (or ``ghost`` with zswap) and ``NaiveSte`` driven together
    (``harness.Pair``); non-alloc verbs run on ``Ctx.meta[C_CPU]`` (``set_cpu``)."""

    tracks_cpu = True

    def __init__(self, nslots, *, csize, vcs, vslots=None, ncpu=1, ghost=False,
                 solidstate=True, discard=False, blkdev=True, synchronous=False):
        design = get_design("ghost" if ghost else "vswap_ste")
        dst = design.new_state(
            nslots, ncpu=ncpu, cluster_size=csize, solidstate=solidstate, discard=discard,
            blkdev=blkdev, synchronous=synchronous, zswap_enabled=True, virtual_slots=vslots,
            virtual_cluster_size=vcs, **({"lazy_forward_table": True} if ghost else {}),
        )
        assert isinstance(dst, ste_mod.SteState)
        naive = NaiveSte(
            nslots, ncpu=ncpu, cluster_size=csize, solidstate=solidstate, discard=discard,
            blkdev=blkdev, synchronous=synchronous, virtual_slots=vslots, virtual_cluster_size=vcs,
            ghost=ghost,
        )
        super().__init__(dst, naive, 2 * dst.dev.table.shape[0] + 8, csize=csize, ncpu=ncpu)
        self.vtotal = self.total
        self.ptotal = dst.pdev.table.shape[0]
        self.vcs, self.ghost = vcs, ghost

    def phys_naive(self):
        return self.naive.pdev

    def unuse_entry(self, op, off, check="light", cpu=None):
        """A read of the physical device: the return value and the counters are all
        it can change, so only they are compared by default."""
        return self._both("unuse_entry", (op, off), check, cpu)

    def compare(self, where):
        n, dst = self.naive, self.dst
        # the vswap device: table words, extend table, memcg ids, virtual_table
        idx, slots = _populated(n)
        words, ext = table_words(slots)
        _check_words(where, "vswap table", dst.dev.table, n, idx, words)
        ext_all = np.zeros(self.vtotal, dtype=np.int64)
        ext_all[idx] = ext
        compare_words(where, "extend-table words", dst.ext.astype(np.int64), ext_all, lambda i: n.slots[i])
        compare_words(where, "memcg ids", dst.memcg.astype(np.int64), dict_array(n.memcg, self.vtotal),
                      lambda i: n.memcg.get(i, 0))
        compare_words(where, "virtual_table words", dst.vt, dict_array(n.vt, self.vtotal),
                      lambda i: n.vt.get(i, 0))
        compare_device(where, "vswap", dst.dev, n, self.ncpu, aux=lambda c: n.aux.get(c, 0))

        # the physical device: Pointer words with the C bit
        idx, slots = _populated(n.pdev)
        _check_words(where, "physical", dst.pdev.table, n.pdev, idx, _rmap_words(slots))
        compare_device(where, "phys", dst.pdev, n.pdev, self.ncpu)

        # the cluster pool: entries (on a copy of the stats words), height, nodes
        cm = dst.cmap
        idx = np.arange(0, dst.dev.ci.shape[0] + 2, dtype=np.int64)
        out = np.empty(idx.size, dtype=np.int64)
        radix._load_many(radix.XAPool(nodes=cm.nodes, aux=cm.aux.copy()), 0, idx, out)
        got = {int(i): int(v) for i, v in zip(idx, out) if v >= 0}
        assert got == n.cmap.d, f"{where}: cluster pool entries: numba {got}, naive {n.cmap.d}"
        assert int(radix.xa_height(cm, 0)) == n.cmap.height(), f"{where}: cluster pool height"
        assert int(cm.aux[radix.M_NR_NODES]) == len(n.cmap.nodes()), f"{where}: cluster pool nodes"
        assert int(cm.aux[radix.M_ENTRIES]) == len(n.cmap.d), f"{where}: cluster pool entry count"

        # ghost's tree reading: zswap's own trees over the ghost offsets (empty otherwise)
        zs = dst.zs
        keys = np.array(sorted(k for t in n.trees for k in t.d) or [0], dtype=np.int64)
        vals = np.empty(keys.size, dtype=np.int64)
        for i, k in enumerate(keys):
            radix._load_many(radix.XAPool(nodes=zs.nodes, aux=zs.aux.copy()), int(k) >> 14,
                             keys[i:i + 1], vals[i:i + 1])
        got = sum(int(v >= 0) for v in vals)
        exp = sum(len(t.d) for t in n.trees)
        assert got == exp == int(zs.aux[radix.M_ENTRIES]), f"{where}: zswap tree entries: numba {got}, naive {exp}"
        assert int(zs.aux[radix.M_NR_NODES]) == sum(len(t.nodes()) for t in n.trees), f"{where}: zswap tree nodes"

        # design words
        m = dst.meta
        got = {"ext_tables": int(m[ste_mod.E_EXT_TABLES]), "zswap_entries": int(m[ste_mod.E_ZSWAP_ENTRIES]),
               "lazy_vt": int(m[ste_mod.E_LAZY_VT]), "vtables": int(m[ste_mod.E_VTABLES]),
               "next_zswap": int(m[ste_mod.E_NEXT_ZSWAP])}
        exp = {"ext_tables": n.ext_tables(), "zswap_entries": n.zswap_entries_n, "lazy_vt": int(n.ghost),
               "vtables": n.vtables, "next_zswap": n.next_zswap}
        assert got == exp, f"{where}: design words: numba {got}, naive {exp}"

        compare_folios(where, self.ctx, n, zswap_enabled=False)
        compare_metadata(where, self)


# --------------------------------------------------------------------------- random tests


@st.composite
def ste_configs(draw, big=False):
    csize = draw(st.sampled_from([512] if big else [16, 32, 64]))
    ncl = draw(st.integers(2, 3 if big else 4))
    tail = draw(st.sampled_from([0, 0, 1, csize // 2]))
    nslots = ncl * csize - tail
    vcs = 512 if big else draw(st.sampled_from([16, 32]))
    # default (2 x physical), small (the vswap device fills and reclaims itself), or
    # more than 63 vswap clusters (a two-level cluster pool once index 64 is used)
    vslots = draw(st.sampled_from([None, None, 3 * vcs] if big else [None, None, 3 * vcs, 3 * vcs + 5, 70 * vcs]))
    return {
        "nslots": nslots,
        "csize": csize,
        "vcs": vcs,
        "vslots": vslots,
        "ncpu": draw(st.integers(1, 3)),
        "ghost": draw(st.booleans()),
        "solidstate": draw(st.sampled_from([True, True, False])),
        "discard": draw(st.sampled_from([False, False, True])),
        "blkdev": draw(st.sampled_from([True, True, True, False])),
        "synchronous": draw(st.booleans()),
    }


class SteMachine(SlotMachine):
    """The generic machine (``harness.VerbMachine``) on ``vswap_ste`` / ``ghost``: a
    CPU drawn for every rule, counts overflowing into the extend table at 15; plus the
    rules of a virtual device over a physical one (``fill_phys``, ``piecewise_backing``,
    ``exit_all``) and, after every rule, the invariants of ``check_backing``."""

    configs = ste_configs()
    slot_type, bad = Slot, BAD
    backends = st.sampled_from([BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_DISK, BACKEND_DISK])
    dup_whole_folio = True  # try_to_unmap(): folio_dup_swap over the folio's entries
    probe_on_swapin = True

    def make_pair(self, config):
        return StePair(**config)

    def span(self):
        return self.p.vcs

    def zswapped(self):
        return sorted(x for x, w in self.p.naive.vt.items() if w & 7 == VT_ZSWAP)

    def fill_orders(self):
        if self.p.vtotal > 16 * self.p.vcs:  # the 70-cluster device: whole clusters
            return [self.max_order()]
        return [0, 1, self.max_order()]

    def fill_limit(self):
        return min(self.p.vtotal, 100)

    def do_swapoff(self, data):
        """swapoff(8) of the physical device: the mm's device loop (``_swapoff``)."""
        swapoff_device(self.p, self.cpu(data))
        n = self.p.naive
        self.writeout_after_swapoff(data, [(s, nr) for _, s, nr in self.cached()
                                           if any(n.slots[x].count for x in range(s, s + nr))])

    # ---- the rules of this design only

    @rule(data=st.data())
    def fill_phys(self, data):
        """Fill the physical device with disk-backed entries, leaving some cache-only
        (mapped again after writeout: count 0, folio cached, rmap C bit set), so the
        physical allocator meets C slots, past half full, and reclaims their backing."""
        order = data.draw(st.sampled_from([0, 0, 1, 2]), label="order")
        nr = 1 << order
        for _ in range(self.p.ptotal // nr + 1):
            cpu = self.cpu(data)
            off, folio = self._swapout(data, cpu, order, data.draw(self.memcgs, label="memcg"), True)
            if off < 0:
                break
            ret = self.p.writeout(OP_WRITEOUT, off, nr, BACKEND_DISK)
            if ret < 0:
                self.p.cache_del(OP_CACHE_DEL, off, nr)
                break
            kind = data.draw(st.sampled_from(["cache_only", "cache_only", "partial", "swapped"]), label="kind")
            if kind == "cache_only":  # the folio is mapped again: folio_put_swap per PTE
                self.p.set_flags(folio, FOLIO_MAPPED)
                self.p.put(OP_SWAPIN, off, nr, False)
            elif kind == "partial":  # one PTE faulted back in
                self.p.put(OP_SWAPIN, off + data.draw(st.integers(0, nr - 1), label="page"), 1, False)
            else:
                self.p.cache_del(OP_CACHE_DEL, off, nr)

    @rule(data=st.data())
    def piecewise_backing(self, data):
        """See piecewise_backing() below."""
        piecewise_backing(self.p, lambda label, opts: data.draw(st.sampled_from(opts), label=label))

    @precondition(lambda self: self.live() or self.cached())
    @rule(data=st.data())
    def exit_all(self, data):
        """Every task exits: zap all live entries cluster by cluster, then drop every
        cached folio (clusters, forward tables and physical backing all go)."""
        self.cpu(data)
        n = self.p.naive
        while self.live():  # one pass per reference still held (counts may exceed 1)
            x = 0
            while x < len(n.slots):
                if n.swap_count(x) < 1:
                    x += 1
                    continue
                nr = 1
                cend = (x // self.p.vcs + 1) * self.p.vcs
                while x + nr < cend and n.swap_count(x + nr) >= 1:
                    nr += 1
                self.p.put(OP_FREE, x, nr, True)
                x += nr
        for folio, start, nr in self.cached():
            if n.folio_swap.get(folio) == start:
                self.p.cache_free(OP_SWAPIN, start, nr)
        assert not n.cached_folios() and not n.vt and not n.zswap_entries_n
        # no physical slot outlives its vswap entry (a leak before 9c95a16)
        leaked = [(i, s) for i, s in enumerate(n.pdev.slots) if isinstance(s, Ptr)]
        assert n.pdev.inuse == 0 and not leaked, leaked
        assert int(self.p.dst.pdev.meta[D.D_INUSE]) == 0

    @invariant()
    def backing_is_consistent(self):
        if hasattr(self, "p"):
            check_backing(self.p.naive)


def swapoff_device(p, cpu):
    """The mm's swapoff of the physical device (``engine._swapoff``; ``ptes_hold_slots``
    is false, so no page-table walk) on both models (``harness.swapoff_walk``): each
    used physical slot's vswap entry gets its page into the swap cache and its folio
    becomes the backend (``unuse``: the physical slots freed), compared after every
    call; the device is then empty and off."""
    def unbacked(e, folio):
        assert p.naive.vt.get(e, 0) & 7 != VT_PHYS

    swapoff_walk(p, cpu=cpu, unused=0, every_call=True, unused_check=unbacked)
    assert not any(isinstance(s, Ptr) for s in p.naive.pdev.slots)


def check_backing(n):
    """The reverse map and the forward words agree (checked on the reference, which
    assert_same() ties to the design word for word): each Pointer names a live vswap
    slot whose word is PHYS at that physical slot and back, with the C bit exactly when
    the slot's count is 0; the physical usage is the number of Pointers, the zswap
    entries the ZSWAP words, ghost's per-cluster counts the PHYS words."""
    ptrs = {i: s for i, s in enumerate(n.pdev.slots) if isinstance(s, Ptr)}
    phys = {x: w >> 3 for x, w in n.vt.items() if w & 7 == VT_PHYS}
    assert {s.v: i for i, s in ptrs.items()} == phys, (ptrs, phys)
    for i, s in ptrs.items():
        slot = n.slots[s.v]
        assert isinstance(slot, Slot), (i, s, slot)
        assert s.cache_only == (slot.count == 0), (i, s, slot)
        assert slot.count or slot.folio is not None, (i, s, slot)
    assert n.pdev.inuse == len(ptrs)
    assert n.zswap_entries_n == sum(1 for w in n.vt.values() if w & 7 == VT_ZSWAP)
    assert all(isinstance(n.slots[x], Slot) for x in n.vt), "a backend word on a free slot"
    if n.ghost:
        per = {}
        for x in phys:
            per[x // n.csize] = per.get(x // n.csize, 0) + 1
        assert per == n.aux, (per, n.aux)


def piecewise_backing(p, choose):
    """A large folio whose pages get their backing one by one, then are swapped in and
    written out together.  The folio goes to zswap; each page is then written back to
    the physical device (zswap writeback: a slot of its own) and/or read in alone and
    written out alone: as a zero page (a page written back keeps its slot), or to disk.
    Then the whole folio is swapped in (a large cache add: same zero flag everywhere),
    perhaps a page is mapped again (count 0: its new Pointer is cache-only at once), and
    the folio is written to disk: a partly backed or out-of-order backed folio gives its
    slots back and is backed anew as a whole.  ``choose(label, options)`` picks."""
    cpu = choose("cpu", list(range(p.ncpu)))
    p.set_cpu(cpu)
    order = choose("order", [1, 2] if p.vcs >= 4 else [1])
    nr = 1 << order
    folio = choose("folio", p.free_folios())
    off = p.alloc(cpu, order, folio, choose("memcg", [0, 1, 2, 3]))
    if off < 0:
        return
    p.dup(OP_DUP, off, nr)
    if p.writeout(OP_WRITEOUT, off, nr, BACKEND_ZSWAP) != BACKEND_ZSWAP:
        p.cache_del(OP_CACHE_DEL, off, nr)
        return
    p.cache_del(OP_CACHE_DEL, off, nr)
    zero = choose("zero pages", [False, True])
    for x in range(off, off + nr):
        how = choose("page", ["wb+zero", "zero"] if zero else ["wb", "wb", "disk"])
        if how.startswith("wb"):
            p.zswap_writeback(OP_ZSWAP_WB, x, choose("folio", p.free_folios()))
        if how != "wb":
            f = choose("folio", p.free_folios())
            if p.cache_add(OP_SWAPIN, x, 1, f) != 0:
                continue
            p.read_backend(OP_SWAPIN, x)
            p.writeout(OP_WRITEOUT, x, 1, BACKEND_ZERO if zero else BACKEND_DISK)
            if p.naive.folio_swap.get(f) == x:
                p.cache_del(OP_CACHE_DEL, x, 1)
    f = choose("folio", p.free_folios())
    if p.cache_add(OP_SWAPIN, off, nr, f) != 0:
        return
    if choose("map a page", [False, True]):
        p.set_flags(f, FOLIO_MAPPED)
        p.put(OP_SWAPIN, off + choose("page", list(range(nr))), 1, False)
        p.set_flags(f, 0)
    p.writeout(OP_WRITEOUT, off, nr, BACKEND_DISK)
    if choose("drop", [False, True]) and p.naive.folio_swap.get(f) == off:
        p.cache_del(OP_CACHE_DEL, off, nr)


TestSteMachine = SteMachine.TestCase
TestSteMachine.settings = machine_settings(50, 30)


class BigClusterSteMachine(SteMachine):
    """512-entry vswap clusters over 512-slot physical ones (vswap_ste and ghost):
    orders up to 9 (the PMD size), of several memcgs."""

    configs = ste_configs(big=True)

    def fill_orders(self):  # order-0 fills run in the small machine
        return [2, 4, self.max_order(), self.max_order()]


TestSteBigClusters = BigClusterSteMachine.TestCase
TestSteBigClusters.settings = machine_settings(15, 20)


class GhostNoZswapMachine(SwapTableMachine):
    """ghost without zswap is swap_table: the swap_table machine and its reference
    model, with the Numba state built by ``ghost.new_state(zswap_enabled=False)``."""

    def make_pair(self, config):
        config = dict(config, zswap_on=False)  # the system has no zswap
        p = SwapTablePair(**config)
        ghost = get_design("ghost").new_state(
            config["nslots"], ncpu=config["ncpu"], cluster_size=config["csize"],
            solidstate=config["solidstate"], discard=config["discard"], blkdev=config["blkdev"],
            zswap_enabled=False,
        )
        assert type(ghost) is st_design.SwapTableState
        p.dst = ghost
        return p


TestGhostWithoutZswap = GhostNoZswapMachine.TestCase
TestGhostWithoutZswap.settings = machine_settings(25, 30)


# --------------------------------------------------------------------------- unit tests


def _pair(ghost=False, **kw):
    kw.setdefault("csize", 16)
    kw.setdefault("vcs", 16)
    return StePair(kw.pop("nslots", 64), ghost=ghost, **kw)


def _swapped_out(p, folio, memcg=0, order=0, backend=None):
    """alloc + unmap (+ writeout + drop from the cache): the entry."""
    off = p.alloc(0, order, folio, memcg)
    assert off > 0
    for i in range(1 << order):
        p.dup(OP_DUP, off + i, 1)
    if backend is not None:
        assert p.writeout(OP_WRITEOUT, off, 1 << order, backend) == backend
        p.cache_del(OP_CACHE_DEL, off, 1 << order)
    return off


def test_swapon_state():
    """The header cluster of the vswap device is populated at swapon and sits at index
    1 of the cluster pool (no counters); STE counts its virtual_table, ghost does not."""
    for ghost in (False, True):
        p = _pair(ghost)
        assert p.naive.cmap.d == {1: 0} and p.naive.pdev.slots[0] is BAD
        out = np.zeros(N_STRUCTURES, dtype=np.int64)
        verbs.metadata_bytes(p.dst, out)
        md = dict(zip(STRUCTURES, out.tolist()))
        assert md["virtual_table"] == (0 if ghost else 16 * 8)
        assert md["cluster_info"] == 96 + 4 * 48 and md["rmap_table"] == 16 * 8
        assert not p.ctx.counters.any()


def test_every_vswap_cluster_lookup_is_an_xa_lookup():
    """[S31]: "even if the cached cluster still have slots ... we look up the cluster":
    the allocation fast path, the memcg record, dup, put, cache lookup/add/del."""
    p = _pair()
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 1, 0) == 1  # slow path: cluster 0 isolated from nonfull[0]
    assert delta(p, before) == {
        ("alloc", "pcpu_access"): 1, ("alloc", "si_lock"): 2, ("alloc", "cluster_lock"): 1,
        ("alloc", "table_read"): 3, ("alloc", "table_write"): 1,
    }
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 2, 0) == 2  # fast path: the per-CPU cluster is looked up
    assert delta(p, before) == {
        ("alloc", "pcpu_access"): 1, ("alloc", "xa_lookup"): 1, ("alloc", "xa_node_visit"): 1,
        ("alloc", "cluster_lock"): 1, ("alloc", "table_read"): 2, ("alloc", "table_write"): 1,
    }
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 3, 7) == 3  # the memcg record looks the cluster up again
    assert row(delta(p, before), OP_ALLOC) == {
        "pcpu_access": 1, "xa_lookup": 2, "xa_node_visit": 2, "cluster_lock": 2,
        "table_read": 2, "table_write": 1, "memcg_write": 1,  # recorded, not charged
    }
    before = p.ctx.counters.copy()
    p.dup(OP_DUP, 1, 1)
    assert delta(p, before) == {
        ("dup", "xa_lookup"): 1, ("dup", "xa_node_visit"): 1, ("dup", "cluster_lock"): 1,
        ("dup", "table_read"): 1, ("dup", "table_write"): 1,
        ("dup", "vt_read"): 1,  # vswap_mark_cache_only(off): count 0 -> 1 while cached
    }
    before = p.ctx.counters.copy()
    assert p.cache_lookup(OP_SWAPIN, 1) == 1
    assert delta(p, before) == {
        ("swapin", "xa_lookup"): 1, ("swapin", "xa_node_visit"): 1, ("swapin", "table_read"): 1,
    }
    before = p.ctx.counters.copy()
    p.cache_del(OP_CACHE_DEL, 1, 1)
    assert delta(p, before) == {
        ("cache_del", "xa_lookup"): 1, ("cache_del", "xa_node_visit"): 1,
        ("cache_del", "cluster_lock"): 1, ("cache_del", "table_read"): 1, ("cache_del", "table_write"): 1,
    }
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, 1, 1, True) == 1
    assert delta(p, before) == {
        ("free", "xa_lookup"): 1, ("free", "xa_node_visit"): 1, ("free", "cluster_lock"): 1,
        ("free", "table_read"): 2, ("free", "table_write"): 1, ("free", "memcg_read"): 1,
        ("free", "vt_read"): 1, ("free", "vt_write"): 1,  # vswap_release_backing
        ("free", "si_lock"): 1,  # frag[0] -> nonfull[0]
    }


def test_two_level_cluster_pool_lookups_visit_two_nodes():
    """Cluster index 64 needs a second XArray level: each lookup then visits two
    nodes, and the pool grows to a root and two leaves."""
    p = _pair(vslots=70 * 16, nslots=64)
    for f in range(1, 64):  # fill cluster pool indices 1..63 (vswap clusters 0..62)
        p.alloc(0, 4 if f > 1 else 0, f, 0, check=False)
    assert_same(p)
    assert p.naive.cmap.height() == 1 and len(p.naive.cmap.d) == 63
    off = p.alloc(0, 4, 100, 0)  # vswap cluster 63 -> pool index 64
    assert off == 63 * 16 and p.naive.cmap.height() == 2 and len(p.naive.cmap.nodes()) == 3
    before = p.ctx.counters.copy()
    p.dup(OP_DUP, off, 1)
    assert row(delta(p, before), OP_DUP)["xa_node_visit"] == 2


def test_zero_page_takes_no_physical_slot():
    p = _pair()
    off = _swapped_out(p, 1)
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZERO) == BACKEND_ZERO
    assert delta(p, before) == {
        ("writeout", "xa_lookup"): 3,  # folio_free_swap, prepare_writeout, the Z flag
        ("writeout", "xa_node_visit"): 3,
        ("writeout", "table_read"): 2,  # folio_maybe_swapped, Z
        ("writeout", "cluster_lock"): 2,
        ("writeout", "vt_read"): 1,  # no stale zswap backing
        ("writeout", "table_write"): 1,
    }
    assert p.naive.pdev.inuse == 0 and all(s is None for s in p.naive.pdev.slots[1:])
    p.cache_del(OP_CACHE_DEL, off, 1)
    p.cache_add(OP_SWAPIN, off, 1, 2)
    assert p.read_backend(OP_SWAPIN, off) == BACKEND_ZERO


def test_disk_writeout_allocates_one_physical_slot_with_a_pointer():
    p = _pair()
    off = _swapped_out(p, 1, memcg=3)
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 1, BACKEND_DISK) == BACKEND_DISK
    assert delta(p, before) == {
        # folio_free_swap, prepare_writeout, Z flag, folio_realloc_swap x2
        ("writeout", "xa_lookup"): 5,
        ("writeout", "xa_node_visit"): 5,
        ("writeout", "cluster_lock"): 5,  # 4 vswap + the isolated physical cluster
        ("writeout", "table_read"): 2,
        ("writeout", "table_write"): 1,
        ("writeout", "vt_read"): 2,  # prepare_writeout + vswap_to_phys
        ("writeout", "vt_write"): 1,  # PHYS
        ("writeout", "pcpu_access"): 1,
        ("writeout", "si_lock"): 2,  # isolate physical cluster 0, relocate to frag
        ("writeout", "rmap_read"): 2,  # the allocator probes slot 0 (bad) and 1
        ("writeout", "rmap_write"): 1,  # the Pointer
        # 9c95a16: the backing is charged to the entry's memcg, read from the vswap
        # memcg table first (memcg_read: new), charged only when non-zero (3 here)
        ("writeout", "memcg_read"): 1,
        ("writeout", "memcg_charge"): 1,
    }
    assert p.naive.pdev.inuse == 1 and p.naive.vt[off] == (1 << 3) | VT_PHYS
    assert int(p.dst.pdev.table[1]) == (off << 3) | 4  # Pointer, C clear
    p.cache_del(OP_CACHE_DEL, off, 1)
    p.cache_add(OP_SWAPIN, off, 1, 2)
    assert p.read_backend(OP_SWAPIN, off) == BACKEND_DISK
    # mapping it makes the slot cache-only: the rmap C bit is set, no lock
    before = p.ctx.counters.copy()
    p.put(OP_SWAPIN, off, 1, False)
    assert delta(p, before) == {
        ("swapin", "xa_lookup"): 1, ("swapin", "xa_node_visit"): 1, ("swapin", "cluster_lock"): 1,
        ("swapin", "table_read"): 2, ("swapin", "table_write"): 1,
        ("swapin", "vt_read"): 1, ("swapin", "rmap_write"): 1,
    }
    assert int(p.dst.pdev.table[1]) < 0
    # and freeing it releases the physical slot under one physical lock
    before = p.ctx.counters.copy()
    assert p.cache_free(OP_SWAPIN, off, 1) == 1
    d = row(delta(p, before), OP_SWAPIN)
    # the one uncharge is now the backing's (_phys_release, memcg 3), not the vswap slot's
    assert d["rmap_write"] == 1 and d["slot_free_notify"] == 1 and d["memcg_uncharge"] == 1
    assert d["vt_read"] == 1 and d["vt_write"] == 1 and "mem_free" not in d  # cluster 0 keeps the header
    assert p.naive.pdev.inuse == 0 and p.naive.pdev.lists[("nonfull", 0)] == [0]


def _cache_only_backed(p, folio, order=0):
    """A disk-backed entry mapped again: count 0, cached, rmap C bit set."""
    off = _swapped_out(p, folio, order=order)
    assert p.writeout(OP_WRITEOUT, off, 1 << order, BACKEND_DISK) == BACKEND_DISK
    p.set_flags(folio, FOLIO_MAPPED)
    for i in range(1 << order):
        p.put(OP_SWAPIN, off + i, 1, False)
    return off


def _restart_pcpu(p, off, cpu=0):
    """Point the physical per-CPU offset of order 0 at ``off`` in both models."""
    p.dst.pdev.pcpu[cpu, 0] = off
    p.naive.pdev.pcpu[(cpu, 0)] = off


def test_physical_cache_only_check_reads_only_the_rmap_word():
    """At most half full, the physical allocator skips C slots after reading only
    their Pointer word: no vswap lookup, no reclaim."""
    p = _pair(nslots=64, csize=16, vslots=64)  # physical pages = 63
    offs = [_cache_only_backed(p, 10 + i) for i in range(3)]  # physical 1, 2, 3
    assert [p.naive.pdev.slots[i].cache_only for i in (1, 2, 3)] == [True] * 3
    _restart_pcpu(p, 1)
    off = _swapped_out(p, 20)
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 1, BACKEND_DISK) == BACKEND_DISK
    d = row(delta(p, before), OP_WRITEOUT)
    assert d["rmap_read"] == 4  # 1, 2, 3 (C: skipped), 4 taken
    assert d["xa_lookup"] == 5  # only the writeout's own lookups
    assert p.naive.vt[off] >> 3 == 4 and all(o in p.naive.vt for o in offs)
    assert p.naive.cache_drops == 0


def test_physical_allocator_reclaims_cache_only_backing_when_swap_is_full():
    """More than half full: the allocator meets a C slot, reclaims its backing
    (try_to_reclaim_vswap_backing) and takes it; the vswap entry stays cached."""
    p = _pair(nslots=32, csize=16, vslots=96)  # physical pages = 31
    for i in range(15):  # physical cluster 0 full of swapped-out entries
        _swapped_out(p, 1 + i, backend=BACKEND_DISK)
    c_offs = [_cache_only_backed(p, 20 + i) for i in range(2)]  # physical 16, 17: C
    assert p.naive.pdev.vm_swap_full() and p.naive.vt[c_offs[0]] >> 3 == 16
    _restart_pcpu(p, 16)
    off = _swapped_out(p, 40)
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 1, BACKEND_DISK) == BACKEND_DISK
    d = row(delta(p, before), OP_WRITEOUT)
    assert p.naive.vt[off] == (16 << 3) | VT_PHYS  # slot 16 reused
    assert c_offs[0] not in p.naive.vt and p.naive.folio_swap[20] == c_offs[0]  # still cached
    # scan 16 (C) + the range reclaim's probe + the reclaim's own read + the recheck
    assert d["rmap_read"] == 4
    # the reclaim: swap cache lookup + vswap_to_phys + vswap_store_folio
    assert d["xa_lookup"] == 5 + 3
    assert d["rmap_write"] == 2 and d["slot_free_notify"] == 1 and d["vt_write"] == 2
    # 9c95a16: the reclaim also checks that the whole folio is cache-only (one more
    # table_read) and drops each page's word with a read (vt_read 4 = prepare_writeout,
    # vswap_to_phys of the writeout, of the reclaim, vswap_store_folio)
    assert d["table_read"] == 4 and d["vt_read"] == 4
    assert d["memcg_read"] == 1 and "memcg_charge" not in d and "memcg_uncharge" not in d  # memcg 0
    assert p.naive.cache_drops == 0
    p.cache_del(OP_CACHE_DEL, off, 1)
    p.cache_add(OP_SWAPIN, off, 1, 41)
    assert p.read_backend(OP_SWAPIN, off) == BACKEND_DISK
    assert p.read_backend(OP_SWAPIN, c_offs[0]) == BACKEND_FOLIO


def test_reclaim_full_scans_the_physical_device():
    p = _pair(nslots=32, csize=16, vslots=96)
    offs = [_cache_only_backed(p, 1 + i) for i in range(15)]  # physical cluster 0 full
    assert p.naive.pdev.lists["full"] == [0]
    assert p.reclaim_full(False) == 15
    assert all(o not in p.naive.vt for o in offs) and p.naive.pdev.inuse == 0
    assert int(p.ctx.counters[OP_RECLAIM_SCAN, PRIMITIVES.index("xa_lookup")]) == 15 * 3


def test_zswap_writeback_gets_a_physical_slot():
    p = _pair()
    off = _swapped_out(p, 1, backend=BACKEND_ZSWAP)
    assert p.naive.vt[off] & 7 == VT_ZSWAP and p.naive.zswap_entries_n == 1
    p.set_cpu(0)
    before = p.ctx.counters.copy()
    assert p.zswap_writeback(OP_ZSWAP_WB, off, 2) == 0
    d = delta(p, before)
    # 9c95a16: the new backing's swap charge needs a memcg; this entry has none, so the
    # one memcg_charge left is mem_cgroup_swapin_charge_folio() of the cache add (it
    # was 2), and folio_realloc_swap() reads the id (memcg_read 2 = cache add + it)
    assert row(d, OP_ZSWAP_WB)["rmap_write"] == 1 and row(d, OP_ZSWAP_WB)["memcg_charge"] == 1
    assert row(d, OP_ZSWAP_WB)["memcg_read"] == 2
    assert row(d, OP_ZSWAP_WB)["mem_free"] == 1  # the zswap entry
    assert row(d, OP_CACHE_DEL) == {
        "xa_lookup": 1, "xa_node_visit": 1, "cluster_lock": 1, "table_read": 1, "table_write": 1,
    }
    assert p.naive.vt[off] & 7 == VT_PHYS and p.naive.zswap_entries_n == 0
    assert p.zswap_writeback(OP_ZSWAP_WB, off, 2) == verbs.ENOMEM
    # with a memcg the backing is charged too (and uncharged when it goes)
    p = _pair()
    off = _swapped_out(p, 1, memcg=3, backend=BACKEND_ZSWAP)
    p.set_cpu(0)
    before = p.ctx.counters.copy()
    assert p.zswap_writeback(OP_ZSWAP_WB, off, 2) == 0
    assert row(delta(p, before), OP_ZSWAP_WB)["memcg_charge"] == 2
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, off, 1, True) == 1
    d = row(delta(p, before), OP_FREE)
    assert d["memcg_uncharge"] == 1 and d["slot_free_notify"] == 1 and p.naive.pdev.inuse == 0


def test_ghost_forward_table_only_with_a_physical_slot():
    """ghost's tree reading (lazy_forward_table=True): zswap and zero entries need no
    forward table (no vt_read / vt_write), zswap keeps its entries in its own trees over
    the ghost offsets; a cluster's table is allocated (mem_alloc 1, its 16 x 8 bytes
    zeroed: 2 lines) when its first entry gets a physical slot and freed (mem_free 1)
    when its last one gives it up."""
    p = _pair(ghost=True, nslots=64, vslots=96)

    def vt_bytes():
        out = np.zeros(N_STRUCTURES, dtype=np.int64)
        verbs.metadata_bytes(p.dst, out)
        return int(out[STRUCTURES.index("virtual_table")])

    before = p.ctx.counters.copy()
    offs = [_swapped_out(p, 1 + i, order=4, backend=b)
            for i, b in enumerate([BACKEND_ZERO, BACKEND_ZSWAP])]  # vswap clusters 1, 2
    assert offs == [16, 32]
    assert vt_bytes() == 0 and not p.naive.aux
    vt_cols = [PRIMITIVES.index("vt_read"), PRIMITIVES.index("vt_write")]
    assert not p.ctx.counters[:, vt_cols].any()
    d = row(delta(p, before), OP_WRITEOUT)
    assert d["xa_store"] == 16 and d["xa_node_alloc"] == 1  # one tree node for offsets 32..47
    assert sum(len(t.d) for t in p.naive.trees) == 16
    off = _swapped_out(p, 3, order=4)  # vswap cluster 3
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 16, BACKEND_DISK) == BACKEND_DISK
    d = row(delta(p, before), OP_WRITEOUT)
    assert d["mem_alloc"] == 1 + 1  # physical table + forward table
    assert d["mem_zero_line"] == 2 + 2  # 16 slots x 8 B each
    assert d["vt_write"] == 16 and "vt_read" not in d  # vswap_to_phys ran before the table existed
    assert d["xa_erase"] == 16  # check_old: zswap_invalidate of each page (the tree is not empty)
    assert vt_bytes() == 16 * 8 and p.naive.aux == {3: 16}
    p.cache_del(OP_CACHE_DEL, off, 16)
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, off, 16, True) == 16
    d = row(delta(p, before), OP_FREE)
    assert d["mem_free"] == 3 + 1 + 1  # cluster, forward table, physical table
    assert d["vt_read"] == 16 and d["vt_write"] == 16
    assert d["xa_erase"] == 16 + 1  # zswap_invalidate of every freed slot (finding nothing), the cluster
    assert vt_bytes() == 0 and not p.naive.aux
    # zswap-backed entries are found and freed through zswap's tree, without the table
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, offs[1], 16, True) == 16
    d = row(delta(p, before), OP_FREE)
    assert d["mem_free"] == 3 + 16 and "vt_read" not in d and p.naive.zswap_entries_n == 0
    assert d["xa_erase"] == 16 + 1 and d["xa_node_free"] == 1  # the tree's node
    assert not any(t.d for t in p.naive.trees)


def _twin_run(g, s, seed, choices, same_tables, pick_cpu=False):
    """Drive two states with the same seeded random verb sequence (600 steps: allocations
    of random order, then ``choices(rng, x, start, nr)`` on a cached folio), asserting
    after every call the same return, the same counters and ``same_tables(g, s)``.
    Returns (folios allocated, the second state's ctx)."""
    cg, cs = verbs.new_ctx(1024), verbs.new_ctx(1024)
    rng = random.Random(seed)
    cached = {}
    folio = 1
    for _ in range(600):
        if rng.random() < 0.3 or not cached:
            args = ("alloc", rng.randrange(2), rng.choice([0, 0, 1, 2]), folio, rng.choice([0, 1, 2]))
        else:
            f, (start, nr) = rng.choice(sorted(cached.items()))
            x = start + rng.randrange(nr)
            args = rng.choice(choices(rng, x, start, nr))
            if args[0] == "put" and int(verbs.swap_count(s, x)) < 1:
                continue
        name, rest = args[0], args[1:]
        if pick_cpu:
            cg.meta[C_CPU] = cs.meta[C_CPU] = rng.randrange(2)
        a = int(getattr(verbs, name)(g, cg, *rest))
        b = int(getattr(verbs, name)(s, cs, *rest))
        assert a == b, (args, a, b)
        if name == "alloc" and a > 0:
            cached[folio] = (a, 1 << rest[1])
            folio += 1
        for f in list(cached):
            if int(cs.folio[f, F_SWAP]) == 0:
                del cached[f]
        assert np.array_equal(cg.counters, cs.counters), (args, counters_diff(cg.counters, cs.counters))
        assert same_tables(g, s), args
    return folio, cs


def test_ghost_by_default_counts_what_vswap_ste_counts():
    """ghost's default reading (the P4 RFC cover: a virtual_table in every ghost cluster,
    zswap's entries in it) is the STE vswap device: the same verbs on both states give
    the same returns, counters and tables, call for call."""
    kw = {"ncpu": 2, "cluster_size": 16, "virtual_cluster_size": 16, "zswap_enabled": True}
    g = get_design("ghost").new_state(128, **kw)
    s = get_design("vswap_ste").new_state(128, **kw)
    assert type(g) is type(s) is ste_mod.SteState and int(g.meta[ste_mod.E_LAZY_VT]) == 0

    def choices(rng, x, start, nr):
        return [
            ("dup", OP_DUP, x, 1), ("dup", OP_DUP, x, 1), ("put", OP_FREE, x, 1, True),
            ("cache_lookup", OP_SWAPIN, x), ("cache_del", OP_CACHE_DEL, start, nr),
            ("writeout", OP_WRITEOUT, start, nr, rng.choice([BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_DISK])),
            ("read_backend", OP_SWAPIN, x), ("reclaim_full", rng.random() < 0.5),
        ]

    folio, cs = _twin_run(
        g, s, 5, choices, lambda g, s: np.array_equal(g.vt, s.vt) and np.array_equal(g.pdev.table, s.pdev.table),
        pick_cpu=True,
    )
    assert folio > 50 and cs.counters.sum() > 1000 and cs.counters[:, PRIMITIVES.index("vt_read")].sum() > 0


def test_ghost_without_zswap_is_swap_table():
    """ghost(zswap_enabled=False) is a swap_table state and counts exactly like it on a
    seeded random sequence, verb for verb (the stateful GhostNoZswapMachine does the
    same against the reference model)."""
    kw = {"ncpu": 2, "cluster_size": 16}
    g = get_design("ghost").new_state(128, zswap_enabled=False, **kw)
    s = st_design.new_state(128, **kw)
    assert type(g) is type(s) is st_design.SwapTableState

    def choices(rng, x, start, nr):
        return [
            ("dup", OP_DUP, x, 1), ("dup", OP_DUP, x, 1), ("put", OP_FREE, x, 1, True),
            ("put", OP_SWAPIN, x, 1, False), ("cache_lookup", OP_SWAPIN, x),
            ("cache_free", OP_SWAPIN, start, nr), ("cache_del", OP_CACHE_DEL, start, nr),
            ("writeout", OP_WRITEOUT, start, nr, rng.choice([BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_DISK])),
            ("try_reclaim", OP_SWAPIN, x, rng.randrange(8)), ("read_backend", OP_SWAPIN, x),
            ("reclaim_full", rng.random() < 0.5),
        ]

    folio, cs = _twin_run(
        g, s, 7, choices, lambda g, s: np.array_equal(g.dev.table, s.dev.table) and np.array_equal(g.dev.ci, s.dev.ci),
    )
    assert folio > 50 and cs.counters.sum() > 1000


def test_ra_probe_resolves_the_backend():
    """do_swap_page() after a cache miss: swap_entry_backend_has_flag() is
    vswap_to_phys (xa_load + lock + virtual_table read) and the physical device's
    flag; zero and zswap entries take readahead even over a synchronous (zram) device
    [S23, S28]; a free entry is -ENOENT with nothing counted."""
    p = _pair(synchronous=True)
    z = _swapped_out(p, 1, backend=BACKEND_ZERO)
    d = _swapped_out(p, 2, backend=BACKEND_DISK)
    q = _swapped_out(p, 3, backend=BACKEND_ZSWAP)
    before = p.ctx.counters.copy()
    assert p.ra_probe(OP_SWAPIN, z) == verbs.RA_READAHEAD
    assert delta(p, before) == {
        ("swapin", "xa_lookup"): 1, ("swapin", "xa_node_visit"): 1,
        ("swapin", "cluster_lock"): 1, ("swapin", "vt_read"): 1,
    }
    assert p.ra_probe(OP_SWAPIN, d) == verbs.RA_SYNC
    assert p.ra_probe(OP_SWAPIN, q) == verbs.RA_READAHEAD
    before = p.ctx.counters.copy()
    assert p.ra_probe(OP_SWAPIN, 40) == verbs.ENOENT and not delta(p, before)
    p = _pair(synchronous=False)
    d = _swapped_out(p, 2, backend=BACKEND_DISK)
    assert p.ra_probe(OP_SWAPIN, d) == verbs.RA_READAHEAD


# --------------------------------------------------------------------------- whole-folio backing
#
# Regression tests for the bugs fixed in 9c95a16 (they were test_bug_*): the physical
# reclaim took the backing of one page of a large folio and folio_realloc_swap() checked
# only the first page, so a rewrite leaked a physical slot or left a page unbacked; the
# backing's swap charge was taken whatever the memcg and never dropped, while the vswap
# free uncharged slots that were never charged.


def _large_folio_half_cache_only(k, memcg=0):
    """An order-1 folio at v, v+1 written to disk (physical 16, 17, an order-1 physical
    cluster), page ``k`` faulted back in (count 0, C bit), the physical cluster filled
    and reclaim_full run: the folio is not all cache-only, so its backing stays (it
    used to lose page k's alone); then page k is unmapped again (dup) and the dirty
    folio is written out again."""
    p = _pair(nslots=64, csize=16, vslots=128)
    v = p.alloc(0, 1, 1, memcg)
    p.dup(OP_DUP, v, 2)
    assert p.writeout(OP_WRITEOUT, v, 2, BACKEND_DISK) == BACKEND_DISK
    assert [p.naive.vt[x] >> 3 for x in (v, v + 1)] == [16, 17]
    p.set_flags(1, FOLIO_MAPPED)
    p.put(OP_SWAPIN, v + k, 1, False)  # folio_put_swap(): count 0, rmap C bit
    assert [p.naive.pdev.slots[16 + i].cache_only for i in (0, 1)] == [k == 0, k == 1]
    others = [_swapped_out(p, 10 + i, order=1, backend=BACKEND_DISK) for i in range(7)]
    assert p.naive.pdev.lists["full"] == [1]
    assert p.reclaim_full(False) == 0  # page 1 - k is still mapped by a PTE: kept
    assert [p.naive.vt[x] >> 3 for x in (v, v + 1)] == [16, 17]
    p.dup(OP_DUP, v + k, 1)  # unmapped again: the C bit goes
    assert not any(p.naive.pdev.slots[16 + i].cache_only for i in (0, 1))
    assert p.writeout(OP_WRITEOUT, v, 2, BACKEND_DISK) == BACKEND_DISK
    assert [p.naive.vt[x] >> 3 for x in (v, v + 1)] == [16, 17]  # the same backing
    return p, v, others


def _all_freed(p, entries):
    """Every task exits: the entries (order-1 folios, not cached) are put."""
    for o in entries:
        p.put(OP_FREE, o, 2, True)
    leaked = [(i, s) for i, s in enumerate(p.naive.pdev.slots) if isinstance(s, Ptr)]
    assert int(p.dst.pdev.meta[D.D_INUSE]) == 0, f"physical slots leaked: {leaked}"
    assert not p.naive.vt and not leaked


def test_partial_backing_reclaim_then_rewrite_leaks_no_physical_slot():
    """(was test_bug_partial_backing_reclaim_then_rewrite_leaks_a_physical_slot) With
    page 0 cache-only and page 1 mapped, the folio keeps its backing; the rewrite
    reuses slots 16, 17, and once every entry is gone no physical slot is in use."""
    p, v, others = _large_folio_half_cache_only(0)
    p.cache_del(OP_CACHE_DEL, v, 2)
    _all_freed(p, [v] + others)


def test_partial_backing_reclaim_then_rewrite_loses_no_page():
    """(was test_bug_partial_backing_reclaim_then_rewrite_loses_a_page) The same with
    page 1 cache-only: page 1, swapped out again once the folio leaves the cache, is
    read back from its physical slot."""
    p, v, others = _large_folio_half_cache_only(1)
    p.cache_del(OP_CACHE_DEL, v, 2)
    assert p.naive.swap_count(v + 1) == 1 and p.naive.vt[v + 1] == (17 << 3) | VT_PHYS
    assert p.cache_add(OP_SWAPIN, v + 1, 1, 60) == 0
    got = p.read_backend(OP_SWAPIN, v + 1)
    assert got == BACKEND_DISK, f"swapped-out page read from backend {got}"
    p.cache_del(OP_CACHE_DEL, v + 1, 1)
    _all_freed(p, [v] + others)


def test_cache_only_large_folio_gives_its_whole_backing_back():
    """Both pages cache-only: try_to_reclaim_vswap_backing() on slot 16 checks the
    whole folio (one table read per page), vswap_store_folio() drops both PHYS words
    and frees slots 16 and 17 (each with its own physical release, memcg uncharge and
    notify), returns 2 and leaves the folio cached; a later rewrite backs it anew."""
    p = _pair(nslots=64, csize=16, vslots=128)
    v = p.alloc(0, 1, 1, 3)
    p.dup(OP_DUP, v, 2)
    assert p.writeout(OP_WRITEOUT, v, 2, BACKEND_DISK) == BACKEND_DISK
    p.set_flags(1, FOLIO_MAPPED)
    p.put(OP_SWAPIN, v, 2, False)  # both PTEs mapped again: both C
    assert all(p.naive.pdev.slots[16 + i].cache_only for i in (0, 1))
    others = [_swapped_out(p, 10 + i, order=1, backend=BACKEND_DISK) for i in range(7)]
    before = p.ctx.counters.copy()
    assert p.reclaim_full(False) == 2
    d = row(delta(p, before), OP_RECLAIM_SCAN)
    assert v not in p.naive.vt and v + 1 not in p.naive.vt and p.naive.folio_swap[1] == v
    assert p.naive.pdev.slots[16] is None and p.naive.pdev.slots[17] is None
    assert p.naive.cache_drops == 0
    # swap_cache_get_folio + vswap_to_phys + vswap_store_folio: three vswap lookups
    assert d["xa_lookup"] == 3 and d["vt_read"] == 1 + 2 and d["vt_write"] == 2
    # cache lookup + swap_only_has_cache over the two pages
    assert d["table_read"] == 1 + 2
    # one physical release per page (not one for the run: see the report)
    assert d["rmap_write"] == 2 and d["slot_free_notify"] == 2 and d["memcg_uncharge"] == 2
    assert p.read_backend(OP_SWAPIN, v) == BACKEND_FOLIO
    # unmapped again and written out: two new consecutive slots, charged once
    p.dup(OP_DUP, v, 2)
    p.set_flags(1, 0)
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, v, 2, BACKEND_DISK) == BACKEND_DISK
    d = row(delta(p, before), OP_WRITEOUT)
    assert d["memcg_charge"] == 1 and d["rmap_write"] == 2 and "memcg_uncharge" not in d
    new = [p.naive.vt[x] >> 3 for x in (v, v + 1)]
    assert new[1] == new[0] + 1 and new[0] % 2 == 0
    p.cache_del(OP_CACHE_DEL, v, 2)
    _all_freed(p, [v] + others)


@pytest.mark.parametrize("page0", ["zero", "disk"])
def test_partly_backed_folio_is_backed_anew_as_a_whole(page0):
    """An order-1 folio whose pages were backed one by one: page 1 got a slot by zswap
    writeback; page 0 was read from zswap and written out alone, as a zero page (both
    pages zero then, page 1 keeping its slot: the folio is partly backed) or to disk
    (both backed, but not by consecutive slots).  Swapped in as one order-1 folio and
    written to disk, folio_realloc_swap() reads both words, gives the old slots back
    (release + uncharge each) and backs the folio with two new consecutive slots, both
    read back from disk; nothing leaks."""
    p = _pair(nslots=64, csize=16, vslots=128)
    v = _swapped_out(p, 1, memcg=2, order=1, backend=BACKEND_ZSWAP)
    p.set_cpu(0)
    assert p.zswap_writeback(OP_ZSWAP_WB, v + 1, 2) == 0
    w1 = p.naive.vt[v + 1]
    assert w1 & 7 == VT_PHYS and p.naive.vt[v] & 7 == VT_ZSWAP
    if page0 == "zero":  # page 1 becomes a zero page too (it keeps its slot)
        assert p.cache_add(OP_SWAPIN, v + 1, 1, 3) == 0
        assert p.read_backend(OP_SWAPIN, v + 1) == BACKEND_DISK
        assert p.writeout(OP_WRITEOUT, v + 1, 1, BACKEND_ZERO) == BACKEND_ZERO
        p.cache_del(OP_CACHE_DEL, v + 1, 1)
    assert p.cache_add(OP_SWAPIN, v, 1, 4) == 0  # page 0 alone (zswap: no large add)
    assert p.read_backend(OP_SWAPIN, v) == BACKEND_ZSWAP  # the zswap entry is dropped
    backend = BACKEND_ZERO if page0 == "zero" else BACKEND_DISK
    assert p.writeout(OP_WRITEOUT, v, 1, backend) == backend
    p.cache_del(OP_CACHE_DEL, v, 1)
    assert p.naive.vt[v + 1] == w1
    old = [w1 >> 3]
    if page0 == "zero":
        assert v not in p.naive.vt
    else:
        old.insert(0, p.naive.vt[v] >> 3)
        assert old[1] != old[0] + 1
    assert p.cache_add(OP_SWAPIN, v, 2, 5) == 0
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, v, 2, BACKEND_DISK) == BACKEND_DISK
    d = row(delta(p, before), OP_WRITEOUT)
    n = len(old)
    # prepare_writeout 2 + folio_realloc_swap's vswap_to_phys 2 + the drop 2
    assert d["vt_read"] == 6 and d["vt_write"] == n + 2
    # the old Pointers cleared, two new ones; the old slots freed and uncharged
    assert d["rmap_write"] == n + 2 and d["slot_free_notify"] == n
    assert d["memcg_uncharge"] == n and d["memcg_charge"] == 1 and d["memcg_read"] == 1
    new = [p.naive.vt[x] >> 3 for x in (v, v + 1)]
    assert new[1] == new[0] + 1 and new[0] % 2 == 0
    assert p.naive.pdev.inuse == 2 and all(p.naive.pdev.slots[o] is None for o in old if o not in new)
    p.cache_del(OP_CACHE_DEL, v, 2)
    for x, folio in ((v, 6), (v + 1, 7)):
        assert p.cache_add(OP_SWAPIN, x, 1, folio) == 0
        assert p.read_backend(OP_SWAPIN, x) == BACKEND_DISK
        p.cache_del(OP_CACHE_DEL, x, 1)
    _all_freed(p, [v])
    # every backing charged once and uncharged once (n + 1 backings: the old ones and
    # the new pair); the cache adds' mem_cgroup_swapin_charge_folio() taken off
    adds = 5 + (page0 == "zero")
    ch, un = _charges(p)
    assert (ch - adds, un) == (n + 1, n + 1)


def _charges(p):
    ch, un = PRIMITIVES.index("memcg_charge"), PRIMITIVES.index("memcg_uncharge")
    return int(p.ctx.counters[:, ch].sum()), int(p.ctx.counters[:, un].sum())


def test_memcg_swap_charges_balance():
    """(was test_bug_memcg_swap_charges_do_not_balance) ste.py's docstring: vswap slots
    are recorded but not charged to swap, and not uncharged when freed; a physical slot
    backing a vswap entry is charged when the entry has a memcg and uncharged when the
    backing goes.  Over full lifecycles of order-0 entries swap charges and uncharges
    match: none without a physical slot or without a memcg, one each per backing
    otherwise (also when zswap takes over a PHYS backing, when the physical allocator
    reclaims it, and for a backing made by zswap writeback, whose cache add's
    mem_cgroup_swapin_charge_folio is not a swap charge and is taken off here)."""
    got = {}
    for memcg, backend in [(3, BACKEND_ZERO), (3, BACKEND_ZSWAP), (0, BACKEND_DISK), (3, BACKEND_DISK)]:
        p = _pair()
        off = _swapped_out(p, 1, memcg=memcg, backend=backend)
        p.put(OP_FREE, off, 1, True)
        got[(memcg, backend)] = _charges(p)
    want = {(3, BACKEND_ZERO): (0, 0), (3, BACKEND_ZSWAP): (0, 0), (0, BACKEND_DISK): (0, 0),
            (3, BACKEND_DISK): (1, 1)}
    assert got == want

    # a disk backing replaced by zswap (the folio redirtied and written again)
    p = _pair()
    off = _swapped_out(p, 1, memcg=3)
    assert p.writeout(OP_WRITEOUT, off, 1, BACKEND_DISK) == BACKEND_DISK
    assert p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZSWAP) == BACKEND_ZSWAP
    assert _charges(p) == (1, 1) and p.naive.pdev.inuse == 0
    p.cache_del(OP_CACHE_DEL, off, 1)
    p.put(OP_FREE, off, 1, True)
    assert _charges(p) == (1, 1)

    # zswap writeback: the cache add charges memory (1), the new backing swap (1)
    p = _pair()
    off = _swapped_out(p, 1, memcg=3, backend=BACKEND_ZSWAP)
    p.set_cpu(0)
    assert p.zswap_writeback(OP_ZSWAP_WB, off, 2) == 0
    p.put(OP_FREE, off, 1, True)
    ch, un = _charges(p)
    assert (ch - 1, un) == (1, 1)

    # backings reclaimed by the physical allocator, then the cached entries freed
    p = _pair(nslots=32, csize=16, vslots=96)
    offs = [_cache_only_backed(p, 1 + i) for i in range(15)]  # memcg 0
    assert p.reclaim_full(False) == 15
    for o in offs:
        p.cache_free(OP_SWAPIN, o, 1)
    assert _charges(p) == (0, 0)  # no memcg: nothing either way
    p = _pair(nslots=32, csize=16, vslots=96)
    offs = []
    for i in range(15):
        o = _swapped_out(p, 1 + i, memcg=1 + i % 3)
        assert p.writeout(OP_WRITEOUT, o, 1, BACKEND_DISK) == BACKEND_DISK
        p.set_flags(1 + i, FOLIO_MAPPED)
        p.put(OP_SWAPIN, o, 1, False)
        offs.append(o)
    assert p.reclaim_full(False) == 15 and p.naive.pdev.inuse == 0
    assert _charges(p) == (15, 15)
    for o in offs:
        p.cache_free(OP_SWAPIN, o, 1)
    assert _charges(p) == (15, 15) and all(p.naive.slots[o] is None for o in offs)


def test_vswap_free_uncharges_per_memcg_run():
    """vswap_release_backing() frees consecutive physical slots in one release, split
    where the vswap entries' memcg changes: two order-0 entries of memcg 1 and one of
    memcg 2 on slots 1, 2, 3, freed together: two releases, two uncharges."""
    p = _pair()
    offs = [_swapped_out(p, 1 + i, memcg=m, backend=BACKEND_DISK) for i, m in enumerate([1, 1, 2])]
    assert offs == [1, 2, 3] and [p.naive.vt[o] >> 3 for o in offs] == [1, 2, 3]
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, 1, 3, True) == 3
    d = row(delta(p, before), OP_FREE)
    assert d["memcg_uncharge"] == 2 and d["slot_free_notify"] == 3 and d["rmap_write"] == 3
    assert d["memcg_read"] == 3 and d["memcg_write"] == 3  # the ids cleared, not uncharged
    assert p.naive.pdev.inuse == 0 and _charges(p) == (3, 2)  # 3 backings, 2 runs


@pytest.mark.parametrize("ghost", [False, True])
def test_piecewise_backing_seeded(ghost):
    """piecewise_backing() (a stateful rule too) on a seeded random choice sequence,
    between disk-backed folios mapped again whole or in part and full-cluster reclaims,
    so partly backed, out-of-order backed and cache-only large folios all meet the
    rewrite and the physical reclaim; design and reference compared after every verb,
    the backing invariants after every round, nothing left once everything is freed."""
    rng = random.Random(11 + ghost)
    p = _pair(ghost=ghost, nslots=48, csize=8, vcs=8, vslots=256, ncpu=2)
    seen = {"disk_folios": 0}
    for _ in range(40):
        piecewise_backing(p, lambda label, opts: rng.choice(opts))
        check_backing(p.naive)
        if rng.random() < 0.5:  # a disk-backed folio, mapped again whole or in part
            order = rng.choice([0, 1, 2])
            nr = 1 << order
            folio = p.free_folios()[0]
            off = p.alloc(rng.randrange(2), order, folio, rng.choice([0, 2]))
            if off > 0:
                p.dup(OP_DUP, off, nr)
                p.set_cpu(rng.randrange(2))
                if p.writeout(OP_WRITEOUT, off, nr, BACKEND_DISK) == BACKEND_DISK:
                    seen["disk_folios"] += 1
                    p.set_flags(folio, FOLIO_MAPPED)
                    for x in range(off, off + nr):
                        if rng.random() < 0.7:
                            p.put(OP_SWAPIN, x, 1, False)
                elif p.naive.folio_swap.get(folio) == off:
                    p.cache_del(OP_CACHE_DEL, off, nr)
        if rng.random() < 0.3:
            p.reclaim_full(rng.random() < 0.5)
        if rng.random() < 0.4:  # a task exits: its entries in one vswap cluster go
            n = p.naive
            c = rng.choice([x for x, s in enumerate(n.slots) if isinstance(s, Slot)]) // p.vcs
            for x in range(c * p.vcs, (c + 1) * p.vcs):
                while n.swap_count(x) > 0:
                    p.put(OP_FREE, x, 1, True)
            for folio, (start, order) in sorted(n.cached_folios().items()):
                if start // p.vcs == c and n.folio_swap.get(folio) == start:
                    p.cache_free(OP_SWAPIN, start, 1 << order)
        check_backing(p.naive)
    n = p.naive
    for x in range(len(n.slots)):
        while n.swap_count(x) > 0:
            p.put(OP_FREE, x, 1, True)
    for folio, (start, order) in sorted(n.cached_folios().items()):
        if n.folio_swap.get(folio) == start:
            p.cache_free(OP_SWAPIN, start, 1 << order)
    check_backing(n)
    assert not n.vt and n.pdev.inuse == 0 and int(p.dst.pdev.meta[D.D_INUSE]) == 0
    assert seen["disk_folios"] > 5, seen
