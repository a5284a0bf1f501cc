"""The ``vswap_v5`` / ``vswap_v6`` designs against the plain-Python reference ``NaiveVswap``.

* Random operation sequences (hypothesis stateful tests) drive both models and compare,
  after every verb call, the return value and the whole state: the counter matrix,
  every live virtual cluster (id, count, order, refcount, partial flag, bitmap, every
  descriptor), the partial lists in order, the per-CPU allocation clusters and lookup
  cache, the cluster map (entries, node count, height), the slab objects,
  the physical device (every table word with the C bit, cluster rows and lists,
  per-CPU offsets, device words), the folio side of ``Ctx``, ``C_CPU`` and
  ``metadata_bytes`` (in the long loops of a few rules, return values and counters
  after every call and the rest at the end of the loop).  Designs: ``vswap_v5`` and ``vswap_v6`` with each switch drawn.
* ``vswap_v6`` with every switch off against ``vswap_v5`` on the same sequences: the
  same counters and state (only the metadata layout differs).
* Hand-counted unit tests pin the mechanics the thread argued about and the verb frame
  (freed cluster memory back at once, the lookup cache's end-of-operation release, cluster 0's
  reserved slots, the rmap C bit, zswap ids, v5's slab object).
* Tests at the end of the file pin design bugs the model found (now fixed).

Operations are kept valid the way the mm would: dup/put only live entries, cache
operations on cached folios (entry = folio->swap, nr = folio_nr_pages), a folio leaves
the cache without writeout only when it is clean (no entry whose only copy is the folio
itself), distinct folio ids, ``C_CPU`` set before every non-alloc verb.
"""
from __future__ import annotations

import harness
import numpy as np
import pytest
from harness import (
    VerbMachine,
    assert_same,
    compare_device,
    compare_folios,
    compare_metadata,
    compare_words,
    counters_diff,
    delta,
    machine_settings,
    row,
    swapoff_walk,
)
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from naive_vswap import BAD, FOLIO, SWITCHES, ZSWAP, NaiveVswap

from vswap_nb.core import device as D
from vswap_nb.core import radix, verbs
from vswap_nb.core.counters import (
    OP_ALLOC,
    OP_CACHE_DEL,
    OP_DUP,
    OP_FREE,
    OP_READAHEAD,
    OP_RECLAIM_SCAN,
    OP_SWAPIN,
    OP_WRITEOUT,
    OP_ZSWAP_WB,
    OPS,
    PRIMITIVES,
)
from vswap_nb.core.verbs import (
    BACKEND_DISK,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    C_CPU,
    C_ZSWAP_ENABLED,
    F_FLAGS,
    FOLIO_MAPPED,
    FOLIO_SYNC_BYPASS,
)
from vswap_nb.designs import get_design
from vswap_nb.designs import vswap as V

NFOLIOS = 1024


def _fresh(design="vswap_v6"):
    return get_design(design).new_state(64, cluster_size=16, virtual_cluster_size=16), verbs.new_ctx(8)


# --------------------------------------------------------------------------- the pair


def _partial_list(dst, order):
    out = []
    r = int(dst.meta[V.V_PARTIAL + 2 * order])
    while r >= 0 and len(out) <= dst.vc.shape[0]:
        out.append(r)
        r = int(dst.vc[r, V.VC_NEXT])
    return out


def _rmap_word(s):
    if s is None:
        return 0
    if s is BAD:
        return -8
    w = (s.entry << 3) | 4
    if s.cache_only:
        w -= 1 << 63  # bit 63 of the signed word
    return w


_MS, _TS, _IB = V.MEMCG_SHIFT, V.TYPE_SHIFT, V.INCACHE_BIT
assert (V.DW_BACKEND, V.DW_CACHE, V.DW_META) == (0, 1, 2)


def _desc_words(cl):
    """The three int64 words the design keeps per descriptor."""
    return np.array([(d.backend, 0 if d.folio is None else d.folio + 1,
                      d.count | (d.memcg << _MS) | (d.type << _TS) | (_IB if d.in_cache else 0))
                     for d in cl.desc], dtype=np.int64)


def _bits(dst, row):
    return set(np.flatnonzero(np.unpackbits(dst.vbits[row].view(np.uint8), bitorder="little")).tolist())


def _arrays(state, prefix=""):
    """Every array of a (nested) state namedtuple, by dotted name."""
    out = {}
    for name, v in zip(state._fields, state):
        if isinstance(v, np.ndarray):
            out[prefix + name] = v
        else:
            out.update(_arrays(v, prefix + name + "."))
    return out


_LAYOUT_COLUMNS = [PRIMITIVES.index(n) for n in ("mem_zero_line", "vmalloc", "vfree")]


class Pair(harness.Pair):
    """``vswap_v5`` / ``vswap_v6`` and ``NaiveVswap`` driven together (``harness.Pair``);
    non-alloc verbs run on ``Ctx.meta[C_CPU]``.  With ``twin=True`` (only for vswap_v6
    with every switch off) a vswap_v5 state is driven too and must stay identical to the
    v6 one, counters included (``assert_twins_same``)."""

    tracks_cpu = True
    keep_flags = FOLIO_SYNC_BYPASS  # the design's own flag: the mm's |= / &= ~ keep it

    def __init__(self, nslots, *, csize, vsize, ncpu=1, solidstate=True, discard=False,
                 blkdev=True, synchronous=False, design="vswap_v6", switches=None, virtual_slots=None,
                 twin=False, ways=1, zswap_on=False):
        switches = dict(switches or {})
        common = {"ncpu": ncpu, "cluster_size": csize, "solidstate": solidstate, "discard": discard,
                  "blkdev": blkdev, "synchronous": synchronous, "virtual_cluster_size": vsize,
                  "virtual_slots": virtual_slots}
        if design == "vswap_v5":
            assert not any(switches.values())
            dst = get_design("vswap_v5").new_state(nslots, **common)
        else:
            dst = get_design("vswap_v6").new_state(
                nslots, **common, **{k: bool(switches.get(k, False)) for k in SWITCHES},
                lookup_cache_ways=ways)
        naive = NaiveVswap(
            nslots, **common, layout_v6=design == "vswap_v6",
            **{k: bool(switches.get(k, False)) for k in SWITCHES}, lookup_cache_ways=ways,
        )
        # enough folios to fill every virtual slot with order-1 folios (512-entry clusters)
        super().__init__(dst, naive, max(NFOLIOS, 2 * nslots + 8), csize=csize, ncpu=ncpu)
        self.twin = None
        if twin:
            assert design == "vswap_v6" and not any(switches.values())
            self.twin = get_design("vswap_v5").new_state(nslots, **common)
            self.twin_ctx = verbs.new_ctx(NFOLIOS)
        if zswap_on:
            self.set_zswap_enabled()
        self.vsize = vsize

    def naive_args(self, name, args):
        """The reference names the operation of a verb (its first argument)."""
        if name in ("alloc", "reclaim_full"):
            return args
        return (OPS[args[0]],) + tuple(args[1:])

    def after_verb(self, name, args, got):
        if self.twin is not None:
            got5 = int(getattr(verbs, name)(self.twin, self.twin_ctx, *args))
            assert got5 == got, f"{name}{args}: vswap_v5 returned {got5}, vswap_v6 (switches off) {got}"
            assert_twins_same(self, f"after {name}{args}")

    def set_zswap_enabled(self):
        super().set_zswap_enabled()
        if self.twin is not None:
            self.twin_ctx.meta[C_ZSWAP_ENABLED] = 1

    def set_cpu(self, cpu):
        super().set_cpu(cpu)
        if self.twin is not None:
            self.twin_ctx.meta[C_CPU] = cpu

    def set_flags(self, folio, flags):
        super().set_flags(folio, flags)
        if self.twin is not None:
            self.twin_ctx.folio[folio, F_FLAGS] = self.ctx.folio[folio, F_FLAGS]

    def phys_naive(self):
        return self.naive.dev

    def phys_states(self):
        out = [(self.dst, self.ctx)]
        if self.twin is not None:
            out.append((self.twin, self.twin_ctx))
        return out

    def compare(self, where):
        n, dst, vsize = self.naive, self.dst, self.vsize

        # ---- virtual clusters: id, count, order, refcount, partial flag, bitmap, descriptors
        vc = dst.vc
        live = np.flatnonzero(vc[:, V.VC_FLAGS] & V.VF_LIVE)
        row_of = {int(vc[r, V.VC_ID]): int(r) for r in live}
        assert len(row_of) == live.size, f"{where}: two live rows share an id"
        assert set(row_of) == set(n.clusters), (
            f"{where}: live cluster ids: numba {sorted(row_of)}, naive {sorted(n.clusters)}")
        id_of = {r: cid for cid, r in row_of.items()}
        if n.clusters:
            ids = sorted(n.clusters)
            rows = np.array([row_of[c] for c in ids])
            got = np.column_stack([vc[rows, V.VC_COUNT], vc[rows, V.VC_ORDER], vc[rows, V.VC_REF],
                                   (vc[rows, V.VC_FLAGS] & V.VF_PARTIAL) != 0])
            cls = [n.clusters[c] for c in ids]
            exp = np.array([(cl.count, cl.order, cl.ref, n.on_partial(cl)) for cl in cls], dtype=np.int64)
            bad = np.flatnonzero((got != exp).any(axis=1))
            assert bad.size == 0, (
                f"{where}: cluster {ids[bad[0]]} (count, order, ref, partial): numba "
                f"{got[bad[0]].tolist()}, naive {exp[bad[0]].tolist()}")
            bits = np.unpackbits(dst.vbits[rows].view(np.uint8), axis=1, bitorder="little")
            exp_bits = np.zeros_like(bits)
            for k, cl in enumerate(cls):
                exp_bits[k, list(cl.bits)] = 1
            bad = np.flatnonzero((bits != exp_bits).any(axis=1))
            assert bad.size == 0, (
                f"{where}: cluster {ids[bad[0]]} bitmap: numba {np.flatnonzero(bits[bad[0]]).tolist()}, "
                f"naive {sorted(cls[bad[0]].bits)}")
            got_d = dst.desc.reshape(-1, vsize, 3)[rows]
            exp_d = np.stack([_desc_words(cl) for cl in cls])
            bad = np.argwhere((got_d != exp_d).any(axis=2))
            if bad.size:
                k, i = bad[0]
                raise AssertionError(
                    f"{where}: cluster {ids[k]} descriptor {i}: numba {got_d[k, i].tolist()} "
                    f"(backend, folio + 1, meta), naive {cls[k].desc[i]}")
        heads = dst.meta[V.V_PARTIAL:V.V_PARTIAL + 2 * D.N_ORDERS:2]
        for o in range(D.N_ORDERS):
            if heads[o] < 0 and not n.partial[o]:
                continue
            got = [id_of.get(r, ("dead row", r)) for r in _partial_list(dst, o)]
            assert got == n.partial[o], f"{where}: partial[{o}]: numba {got}, naive {n.partial[o]}"
            tail = int(dst.meta[V.V_PARTIAL + 2 * o + 1])
            assert id_of.get(tail) == n.partial[o][-1], f"{where}: partial[{o}] tail"

        # ---- the cluster map
        cmap = dst.cmap
        for cid in n.clusters:
            word, _ = radix.xa_walk(cmap, 0, cid)
            assert word & 1 and (word >> 1) == row_of[cid], f"{where}: cluster map entry {cid}"
        got = (int(cmap.aux[radix.M_ENTRIES]), int(cmap.aux[radix.M_NR_NODES]), int(radix.xa_height(cmap, 0)))
        exp = (len(n.clusters), len(n.cmap.nodes()), n.cmap.height())
        assert got == exp, f"{where}: cluster map (entries, nodes, height): numba {got}, naive {exp}"

        # ---- per-CPU words: allocation cluster per order, lookup cache
        exp = np.full((self.ncpu, V.P_WORDS), -1, dtype=np.int64)
        for cpu in range(self.ncpu):
            for o, cl in enumerate(n.alloc_cache[cpu]):
                if cl is not None:
                    exp[cpu, o] = row_of[cl.id]
            for w, cid in enumerate(n.mru[cpu]):
                exp[cpu, V.P_MRU_ID + 2 * w] = cid
                exp[cpu, V.P_MRU_ROW + 2 * w] = row_of[cid]
        if not np.array_equal(dst.vpcpu, exp):
            def ids(a):
                return [[id_of.get(int(r), r) if 0 <= k < D.N_ORDERS else int(r) for k, r in enumerate(row)]
                        for row in a]
            raise AssertionError(f"{where}: per-CPU words (cluster ids; MRU id, row): numba "
                                 f"{ids(dst.vpcpu)}, naive {ids(exp)}")

        # ---- design words
        got = (int(dst.meta[V.V_LIVE_ROWS]), int(dst.meta[V.V_ROWS_FREE_N]),
               int(dst.meta[V.V_ZSWAP_ENTRIES]), int(dst.meta[V.V_NEXT_ZSWAP]))
        exp = (n.live_rows(), n.nrows - n.live_rows(), n.zswap_entries, n.zswap_stored)
        assert got == exp, (f"{where}: design words (slab objects, free objects, zswap entries, "
                            f"zswap entries stored): numba {got}, naive {exp}")

        # ---- the physical device: table words with the C bit, clusters, lists, words
        words = np.array([_rmap_word(s) for s in n.dev.slots], dtype=np.int64)
        compare_words(where, "physical table words", dst.dev.table, words, lambda i: n.dev.slots[i])
        compare_device(where, "physical", dst.dev, n.dev, self.ncpu)

        compare_folios(where, self.ctx, n, cpu=True)
        compare_metadata(where, self)


def assert_twins_same(pair, where=""):
    """vswap_v5 and vswap_v6 with every switch off: the same counters, context and
    state, but for the layout: how a cluster is allocated (v5 one kvzalloc'd object, v6
    a cluster and a vzalloc'd descriptor array: the mem_zero_line, vmalloc and vfree
    columns, and the layout and zeroed-lines words)."""
    c6, c5 = pair.ctx.counters.copy(), pair.twin_ctx.counters.copy()
    c6[:, _LAYOUT_COLUMNS] = c5[:, _LAYOUT_COLUMNS] = 0
    assert np.array_equal(c6, c5), (
        f"{where}: v5 / v6-all-off counters differ {{cell: (v6, v5)}}: {counters_diff(c6, c5)}")
    assert np.array_equal(pair.ctx.folio, pair.twin_ctx.folio), f"{where}: v5 / v6 folio side"
    assert np.array_equal(pair.ctx.meta, pair.twin_ctx.meta), f"{where}: v5 / v6 context meta"
    a6, a5 = _arrays(pair.dst), _arrays(pair.twin)
    for name, arr in a6.items():
        other = a5[name]
        if name == "meta":
            arr, other = arr.copy(), other.copy()
            assert arr[V.V_LAYOUT_V6] == 1 and other[V.V_LAYOUT_V6] == 0
            arr[V.V_LAYOUT_V6] = other[V.V_LAYOUT_V6] = 0
            arr[V.V_CLUSTER_ZERO] = other[V.V_CLUSTER_ZERO] = 0
        assert np.array_equal(arr, other), f"{where}: v5 / v6-all-off state {name} differs"


# --------------------------------------------------------------------------- random tests


@st.composite
def configs(draw, *, twin=False, big=False):
    csize = draw(st.sampled_from([512] if big else [16, 32, 64]))
    ncl = draw(st.integers(2, {16: 4, 32: 3, 64: 2, 512: 3}[csize]))
    tail = draw(st.sampled_from([0, 0, 1, csize // 2]))
    if twin:
        design, switches = "vswap_v6", {k: False for k in SWITCHES}
    else:
        design = draw(st.sampled_from(["vswap_v5", "vswap_v6", "vswap_v6"]))
        if design == "vswap_v5":
            switches = {k: False for k in SWITCHES}
        else:
            switches = {k: draw(st.booleans(), label=k) for k in SWITCHES}
    return {
        "nslots": ncl * csize - tail,
        "csize": csize,
        "vsize": 512 if big else draw(st.sampled_from([16, 32])),
        "ncpu": draw(st.integers(1, 3)),
        "solidstate": draw(st.booleans()),
        "discard": draw(st.booleans()),
        "blkdev": draw(st.sampled_from([True, True, False])),
        "synchronous": draw(st.booleans()),
        "design": design,
        "switches": switches,
        "twin": twin,
        "ways": 1 if design == "vswap_v5" or twin else draw(st.sampled_from([1, 1, 2, 3])),
        "zswap_on": draw(st.booleans(), label="zswap_on"),
    }


class VswapMachine(VerbMachine):
    """The generic machine (``harness.VerbMachine``) on ``vswap_v5`` / ``vswap_v6``:
    entries are virtual (any cluster id), a CPU is drawn for every rule, a folio leaves
    the cache without writeout only when clean, long loops compare the whole state at
    their end; plus the rules of a virtual design (``alloc_burst``, ``swapin_rewrite``,
    ``cache_only_on_disk``, ``swapout_partly_mapped``, ``idle``) and its own ``fill``
    and ``swapin`` (through the fault's lookup, probe and free_after_fault)."""

    twin = False
    memcgs = st.sampled_from([0, 1, 1, 2])
    backends = st.sampled_from([BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_DISK, BACKEND_DISK])
    drop_limit = 32
    drop_in_bulk = True
    zap_reclaim = None
    zap_drops_cache = False
    drop_after_failed_writeout = False

    def make_pair(self, config):
        return Pair(**config)

    @property
    def configs(self):
        return configs(twin=self.twin)

    @property
    def n(self):
        return self.p.naive

    def span(self):
        return self.p.vsize

    def entries(self, pred):
        out = []
        for e in self.n.live_entries():
            d = self.n.desc_of(e)
            if pred(d):
                out.append(e)
        return out

    def live(self):
        return self.entries(lambda d: d.count >= 1)

    def dupable(self):
        return self.entries(lambda d: d.count >= 1 or d.in_cache)

    def shadows(self):
        return self.entries(lambda d: d.count >= 1 and not d.in_cache)

    def draw_shadow(self, data):
        """A swapped-out entry, its backend type drawn first (disk-backed entries
        outnumber the others after a fill)."""
        by_type = {}
        for e in self.shadows():
            by_type.setdefault(self.n.desc_of(e).type, []).append(e)
        typ = data.draw(st.sampled_from(sorted(by_type)), label="backend type")
        return data.draw(st.sampled_from(by_type[typ]), label="entry")

    def zswapped(self):
        return self.entries(lambda d: d.type == ZSWAP and not d.in_cache)

    def wb_candidates(self):
        return self.zswapped()

    def cached(self):
        return sorted((f, s, 1 << self.n.folio_order[f]) for f, s in self.n.folio_swap.items())

    def droppable(self, start, nr):
        """Clean: no page of the folio lives only in the folio (a fresh or zswap-loaded
        page that PTEs still reference)."""
        return not any(self.n.desc_of(e).type == FOLIO and self.n.desc_of(e).count
                       for e in range(start, start + nr))

    def entry_end(self):
        return (max(self.n.clusters, default=0) + 2) * self.p.vsize

    def any_entry(self, data):
        return data.draw(st.integers(1, self.entry_end() - 1), label="entry")

    def draw_real(self, data):
        return self.any_entry(data)

    def orders(self):
        return [0, 0, 0, 1, 2, self.n.vshift]

    def do_swapoff(self, data):
        """swapoff(8) of the physical device: the mm's device loop (``_swapoff``)."""
        swapoff_device(self.p, self.cpu(data))
        self.writeout_after_swapoff(data, [(s, nr) for _, s, nr in self.cached()
                                           if any(self.n.desc_of(e).count for e in range(s, s + nr))])

    # ---- the rules of this design only, and its own fill and swap-in

    @rule(data=st.data())
    def alloc_burst(self, data):
        """Many folios of one order on one CPU: clusters are used up, let go, parked."""
        cpu = self.cpu(data)
        order = data.draw(st.sampled_from([1, 2, self.n.vshift]), label="order")
        unmap = data.draw(st.booleans(), label="unmap")
        with self.p.bulk("alloc_burst"):
            for _ in range(data.draw(st.integers(1, 2 * (self.p.vsize >> order) + 1), label="folios")):
                if self._swapout(data, cpu, order, 1, unmap)[0] < 0:
                    break

    @precondition(lambda self: self.shadows())
    @rule(data=st.data())
    def swapin_rewrite(self, data):
        """A swapped-in folio (maybe read, maybe partly mapped again) is reclaimed again:
        writeout to a backend, possibly another one than before, then dropped."""
        cpu = self.cpu(data)
        x = self.draw_shadow(data)
        nr = self.swapin_nr(data, x)
        folio = self.draw_folio(data)
        if self.p.cache_add(OP_SWAPIN, x, nr, folio, cpu=cpu) != 0:
            return
        start = x // nr * nr
        if data.draw(st.booleans(), label="read"):
            self.p.read_backend(OP_SWAPIN, start + data.draw(st.integers(0, nr - 1), label="page"), cpu=cpu)
        if data.draw(st.booleans(), label="one PTE gone"):
            self.p.put(OP_FREE, x, 1, False, cpu=cpu)
        for _ in range(data.draw(st.integers(1, 2), label="writeouts")):
            r = self.p.writeout(OP_WRITEOUT, start, nr, data.draw(self.backends, label="backend"), cpu=cpu)
            if r <= 0 or self.n.folio_swap.get(folio) != start:
                return
        if self.droppable(start, nr) and data.draw(st.booleans(), label="drop"):
            self.p.cache_del(OP_CACHE_DEL, start, nr, cpu=cpu)

    @rule(data=st.data())
    def cache_only_on_disk(self, data):
        """A folio written to disk whose PTEs all went away while it stayed in the swap
        cache: its physical slots are swap-cache-only (C bit set with the switch)."""
        cpu = self.cpu(data)
        order = data.draw(st.sampled_from([0, 0, 1]), label="order")
        off, _ = self._swapout(data, cpu, order, data.draw(self.memcgs, label="memcg"), True)
        if off < 0:
            return
        nr = 1 << order
        if self.p.writeout(OP_WRITEOUT, off, nr, BACKEND_DISK, cpu=cpu) == BACKEND_DISK:
            self.p.put(OP_FREE, off, nr, False, cpu=cpu)

    @rule(data=st.data())
    def swapout_partly_mapped(self, data):
        """A large folio some of whose PTEs were zapped before reclaim: only the pages
        still mapped are counted, the others are swap-cache-only from the start (a
        physical slot for one carries the rmap C bit at once with the switch)."""
        cpu = self.cpu(data)
        order = data.draw(st.sampled_from([1, 2]), label="order")
        folio = self.draw_folio(data)
        off = self.p.alloc(cpu, order, folio, data.draw(self.memcgs, label="memcg"))
        if off < 0:
            return
        nr = 1 << order
        mapped = data.draw(st.sets(st.integers(0, nr - 1), min_size=1, max_size=nr - 1), label="mapped")
        for i in sorted(mapped):
            self.p.dup(OP_DUP, off + i, 1, cpu=cpu)
        self.p.writeout(OP_WRITEOUT, off, nr, data.draw(self.backends, label="backend"), cpu=cpu)

    @rule(data=st.data())
    def fill(self, data):
        """Swap out to disk until the physical device says no; some folios stay in the
        cache with no PTE left (cache-only), which the allocator meets once swap is more
        than half full."""
        order = data.draw(st.sampled_from([0, 0, 1, 2]), label="order")
        cache_only = data.draw(st.sampled_from([0.0, 0.3, 0.6]), label="cache-only share")
        rnd = data.draw(st.randoms(use_true_random=False), label="random")
        nr = 1 << order
        with self.p.bulk("fill"):
            for _ in range(self.p.total // nr + 2):
                cpu = rnd.randrange(self.p.ncpu)
                self.p.set_cpu(cpu)
                off, folio = self._swapout(data, cpu, order, rnd.choice([1, 1, 1, 2]), True)
                if off < 0:
                    break
                r = self.p.writeout(OP_WRITEOUT, off, nr, BACKEND_DISK, cpu=cpu)
                if r < 0:
                    break
                if rnd.random() < cache_only:
                    self.p.put(OP_FREE, off, nr, False, cpu=cpu)
                elif self.n.folio_swap.get(folio) == off:
                    self.p.cache_del(OP_CACHE_DEL, off, nr, cpu=cpu)

    @precondition(lambda self: self.shadows())
    @rule(data=st.data())
    def swapin(self, data):
        """do_swap_page() as the mm drives it: the fault's swap-cache look (with
        tryget_swap_entry) and the synchronous-or-readahead probe, the cache add
        (possibly large; one page of a count-1 entry on a synchronous device takes the
        synchronous path, no swap-cache insert), the read, the put of the faulting PTE
        (with put_swap_entry), then should_try_to_free_swap (free_after_fault) and
        folio_free_swap / swapcache_clear (cache_free), or a free regardless."""
        cpu = self.cpu(data)
        x = self.draw_shadow(data)
        nr = self.swapin_nr(data, x)
        folio = self.draw_folio(data)
        if data.draw(st.booleans(), label="probe first"):
            assert self.p.cache_lookup(OP_SWAPIN, x, cpu=cpu) == -1
            self.p.ra_probe(OP_SWAPIN, x, cpu=cpu)
        if self.p.cache_add(OP_SWAPIN, x, nr, folio, cpu=cpu) != 0:
            return
        start = x // nr * nr
        if data.draw(st.booleans(), label="read"):
            self.p.read_backend(OP_SWAPIN, start + data.draw(st.integers(0, nr - 1), label="page"), cpu=cpu)
        if data.draw(st.booleans(), label="map"):
            self.p.set_flags(folio, FOLIO_MAPPED)
            self.p.put(OP_SWAPIN, x, 1, False, cpu=cpu)  # folio_put_swap() of the faulting PTE
            how = data.draw(st.sampled_from(["mm", "mm", "free", "keep"]), label="free cache")
            if how == "mm":
                if self.p.free_after_fault(OP_SWAPIN, x, folio, data.draw(st.booleans(), label="sync_dev"),
                                           data.draw(st.booleans(), label="full"),
                                           data.draw(st.booleans(), label="write"), cpu=cpu):
                    self.p.cache_free(OP_SWAPIN, start, nr, cpu=cpu)
            elif how == "free":
                self.p.cache_free(OP_SWAPIN, start, nr, cpu=cpu)

    @rule(data=st.data())
    def idle(self, data):
        """Lookups only (the lookup cache settles at the end of each)."""
        cpu = self.cpu(data)
        with self.p.bulk("idle"):
            for _ in range(data.draw(st.sampled_from([1, 1, 8, 64]), label="lookups")):
                self.p.cache_lookup(OP_SWAPIN, 1, cpu=cpu)


def swapoff_device(p, cpu):
    """The mm's swapoff of the physical device (``engine._swapoff``, no page-table walk
    for a virtual design) on both models (``harness.swapoff_walk``): each used slot's
    virtual entry gets its page into the swap cache and is repointed at it (``unuse``:
    the physical slot freed); the device is then empty."""
    def repointed(e, folio):
        d = p.naive.desc_of(e)
        assert d.type == FOLIO and d.folio == folio and d.in_cache

    swapoff_walk(p, cpu=cpu, unused=0, unused_check=repointed)
    assert all(s is None or s is BAD for s in p.naive.dev.slots)


TestVswapRandom = VswapMachine.TestCase
TestVswapRandom.settings = machine_settings(60, 30)


class BigClusterVswapMachine(VswapMachine):
    """512-entry virtual clusters over 512-slot physical ones: orders up to 9
    (the PMD size), of several memcgs."""

    @property
    def configs(self):
        return configs(big=True)

    def fill_orders(self):  # order-0 fills run in the small machine
        return [2, 4, self.max_order(), self.max_order()]


TestVswapBigClusters = BigClusterVswapMachine.TestCase
TestVswapBigClusters.settings = machine_settings(15, 20)


class TwinMachine(VswapMachine):
    """vswap_v6 with every switch off, vswap_v5 and the naive model on one sequence."""

    twin = True


TestVswapV6AllOffIsV5 = TwinMachine.TestCase
TestVswapV6AllOffIsV5.settings = machine_settings(30, 30)


# --------------------------------------------------------------------------- unit tests

V5 = {"design": "vswap_v5"}
V6 = {"design": "vswap_v6", "switches": {k: True for k in SWITCHES}}


def _swapped_out(p, n, *, backend=BACKEND_ZERO, memcg=1, cpu=0, first_folio=100):
    """n order-0 pages swapped out on ``cpu``: alloc, unmap, writeout, drop the folio."""
    out = []
    for k in range(n):
        e = p.alloc(cpu, 0, first_folio + k, memcg)
        p.dup(OP_DUP, e, 1, cpu=cpu)
        assert p.writeout(OP_WRITEOUT, e, 1, backend, cpu=cpu) == backend
        p.cache_del(OP_CACHE_DEL, e, 1, cpu=cpu)
        out.append(e)
    return out


def _free_fixture(design):
    """Virtual cluster 0 full of cache-only entries 1..15, then 8 zero-filled pages
    swapped out at entries 16..23 of cluster 1; the lookup cache (if any) last
    looked at cluster 0."""
    p = Pair(64, csize=16, vsize=16, **design)
    assert [p.alloc(0, 0, f, 1) for f in range(1, 16)] == list(range(1, 16))
    assert _swapped_out(p, 8) == list(range(16, 24))
    p.cache_lookup(OP_SWAPIN, 1, cpu=0)
    return p


def test_batch_free_v5_looks_up_every_pte_then_once_per_cluster():
    """v5: swap_pte_batch() checks each PTE's cgroup through the vswap layer (lookup +
    lock + descriptor read per PTE); then vswap_free_nr_any_cache_only() looks the
    cluster up once (V5p21: 21/21 batched the free, the pin said 8 lookups and 8
    single releases before) and frees the 8 entries as one run.  The cluster map holds
    ids 0 and 1: one node, one visit per lookup."""
    p = _free_fixture(V5)
    before = p.ctx.counters.copy()
    assert p.pte_batch(OP_FREE, 16, 8, cpu=0) == 8
    assert delta(p, before) == {
        ("free", "xa_lookup"): 8, ("free", "xa_node_visit"): 8,
        ("free", "cluster_lock"): 8, ("free", "desc_read"): 8,
    }
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, 16, 8, True, cpu=0) == 8
    assert delta(p, before) == {
        ("free", "xa_lookup"): 1, ("free", "xa_node_visit"): 1, ("free", "cluster_lock"): 1,
        # the count, v5's shadow-clearing loop, release_backing (+ the cgroup clear)
        ("free", "desc_read"): 8 + 8 + 8,
        ("free", "desc_write"): 8 + 8 + 8 + 8,
        ("free", "bitmap_op"): 1,  # one bitmap_clear for the run
    }


def test_batch_free_v6_one_lookup_per_cluster():
    """v6 (all switches): no cgroup lookups in swap_pte_batch(); the free loop takes one
    lookup (a lookup-cache miss: the cache held cluster 0, whose eviction costs its
    lock, V6p22) and one lock for the cluster, releases the whole memcg run at once
    (the run's memcg id read once; the cgroup-clear writes counted), and the cache
    lets go of the emptied cluster at the end."""
    p = _free_fixture(V6)
    before = p.ctx.counters.copy()
    assert p.pte_batch(OP_FREE, 16, 8, cpu=0) == 8
    assert delta(p, before) == {}
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, 16, 8, True, cpu=0) == 8
    assert delta(p, before) == {
        ("free", "lookup_cache_miss"): 1, ("free", "xa_lookup"): 1, ("free", "xa_node_visit"): 1,
        ("free", "cluster_lock"): 1 + 1,  # + evicting cluster 0 from the lookup cache
        ("free", "desc_read"): 8 + 1 + 8, ("free", "desc_write"): 8 + 8 + 8,
        ("free", "bitmap_op"): 1,
    }
    assert p.naive.mru[0] == [] and p.naive.clusters[1].ref == 1  # the CPU's alloc cluster


def test_batch_free_deferred_cgroup_check_and_lookup_cache_alone():
    """defer_cgroup_check + cluster_lookup_cache without batch_ops: the v5 free loop,
    one lookup (a miss, evicting cluster 0 under its lock) and one lock for the
    cluster (the pin had v5 freeing entry by entry before), v5's descriptor work."""
    p = _free_fixture({"design": "vswap_v6",
                       "switches": {"defer_cgroup_check": True, "cluster_lookup_cache": True}})
    before = p.ctx.counters.copy()
    assert p.pte_batch(OP_FREE, 16, 8, cpu=0) == 8
    assert p.put(OP_FREE, 16, 8, True, cpu=0) == 8
    assert delta(p, before) == {
        ("free", "lookup_cache_miss"): 1,
        ("free", "xa_lookup"): 1, ("free", "xa_node_visit"): 1,
        ("free", "cluster_lock"): 1 + 1, ("free", "desc_read"): 24, ("free", "desc_write"): 32,
        ("free", "bitmap_op"): 1,
    }


def test_pte_batch_v5_stops_at_a_memcg_change():
    p = Pair(64, csize=16, vsize=16, **V5)
    es = _swapped_out(p, 3, memcg=1) + _swapped_out(p, 2, memcg=2, first_folio=200)
    assert es == [1, 2, 3, 4, 5]
    before = p.ctx.counters.copy()
    assert p.pte_batch(OP_FREE, 1, 5, cpu=0) == 3
    assert row(delta(p, before), OP_FREE) == {"xa_lookup": 4, "cluster_lock": 4, "desc_read": 4}


def test_batch_free_v6_splits_runs_at_memcg_changes_and_batches_physical_ranges():
    """v6: one lookup + lock for the chunk; the run is flushed when the memcg changes;
    each run's physical slots (contiguous) cost one physical lock and one uncharge."""
    p = Pair(64, csize=16, vsize=16, **V6)
    es = (_swapped_out(p, 3, backend=BACKEND_DISK, memcg=1)
          + _swapped_out(p, 2, backend=BACKEND_DISK, memcg=2, first_folio=200))
    assert es == [1, 2, 3, 4, 5] and [p.naive.desc_of(e).backend for e in es] == [1, 2, 3, 4, 5]
    before = p.ctx.counters.copy()
    assert p.pte_batch(OP_FREE, 1, 5, cpu=0) == 5  # no cgroup check: one batch
    assert p.put(OP_FREE, 1, 5, True, cpu=0) == 5
    assert delta(p, before) == {
        ("free", "lookup_cache_hit"): 1,  # the swap-out left cluster 0 in the cache
        ("free", "cluster_lock"): 1 + 2,  # the virtual cluster, one physical lock per run
        # the count; one memcg id per run; release_backing; the cgroup clear (now counted)
        ("free", "desc_read"): 5 + 2 + 5, ("free", "desc_write"): 5 + 5 + 5,
        ("free", "rmap_write"): 5, ("free", "map_write"): 5, ("free", "slot_free_notify"): 5,
        ("free", "memcg_uncharge"): 2, ("free", "bitmap_op"): 2,
        ("free", "si_lock"): 1,  # the physical cluster: frag[0] -> nonfull[0]
    }


def test_batch_free_v5_one_run_per_cluster_and_a_memcg_lookup_per_physical_run():
    """v5 (V5p21): the same five pages (memcg 1, 1, 1, 2, 2 on slots 1..5).  The run is
    not cut at the memcg change; release_backing() frees the contiguous physical run
    with the vswap lock dropped and retaken (a cluster_lock) and uncharges through
    lookup_swap_cgroup_id() (a lookup, the lock, a descriptor read): the inventory's
    2 lookups, 3 vswap locks, 1 physical lock, 1 uncharge."""
    p = Pair(64, csize=16, vsize=16, **V5)
    es = (_swapped_out(p, 3, backend=BACKEND_DISK, memcg=1)
          + _swapped_out(p, 2, backend=BACKEND_DISK, memcg=2, first_folio=200))
    assert es == [1, 2, 3, 4, 5] and [p.naive.desc_of(e).backend for e in es] == [1, 2, 3, 4, 5]
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, 1, 5, True, cpu=0) == 5
    assert delta(p, before) == {
        ("free", "xa_lookup"): 2,  # cluster 0 alone sits in the map's root: no node visit
        ("free", "cluster_lock"): 1 + 1 + 1 + 1,  # the cluster, the physical run, re-lock, memcg lookup
        ("free", "desc_read"): 5 + 5 + 5 + 1, ("free", "desc_write"): 5 + 5 + 5 + 5,
        ("free", "rmap_write"): 5, ("free", "map_write"): 5, ("free", "slot_free_notify"): 5,
        ("free", "memcg_uncharge"): 1, ("free", "bitmap_op"): 1,
        ("free", "si_lock"): 1,  # the physical cluster: frag[0] -> nonfull[0]
    }


def _scan_fixture(design):
    """Physical slots 1..5 written on CPU 0; slot 1's page then lost its last PTE while
    the folio stayed cached (swap-cache only), slots 2, 3, 5 hold swapped-out pages,
    slot 4 was freed (physical cluster 0 back on nonfull[0]).  CPU 1 then allocates a
    virtual entry (16, a new virtual cluster) and unmaps it."""
    p = Pair(32, csize=16, vsize=16, ncpu=2, **design)
    for f in range(1, 6):
        e = p.alloc(0, 0, f, 1)
        p.dup(OP_DUP, e, 1, cpu=0)
        p.writeout(OP_WRITEOUT, e, 1, BACKEND_DISK, cpu=0)
    assert [p.naive.desc_of(e).backend for e in range(1, 6)] == [1, 2, 3, 4, 5]
    p.put(OP_FREE, 1, 1, False, cpu=0)  # slot 1: cache-only
    for e in (2, 3, 4, 5):
        p.cache_del(OP_CACHE_DEL, e, 1, cpu=0)
    p.put(OP_FREE, 4, 1, True, cpu=0)  # slot 4 free
    assert p.naive.dev.lists[("nonfull", 0)] == [0]
    assert p.alloc(1, 0, 50, 1) == 16
    p.dup(OP_DUP, 16, 1, cpu=1)
    return p


def test_allocator_cache_only_check_v5_costs_a_vswap_lookup_per_allocated_slot():
    """CPU 1 has no physical cluster: the slow path isolates cluster 0 from nonfull[0]
    and scans it from slot 0: slot 0 is bad (bitmap only), slots 1-3 are allocated and
    each needs the reverse map plus a vswap lookup (xa_load + lock + descriptor) to tell
    cache-only from busy (swap is not full, so the cache-only slot 1 rejects its range
    too), slot 4 is free and taken."""
    p = _scan_fixture(V5)
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, 16, 1, BACKEND_DISK, cpu=1) == BACKEND_DISK
    assert p.naive.desc_of(16).backend == 4
    assert delta(p, before) == {
        # writeout itself (v5, V5p14): folio_free_swap's folio_swapped, swapfile_backed,
        # store_folio, check_old (swapfile_backed, store_folio), vswap_alloc_swap_slot
        # (swapfile_backed, the charge's lookup_swap_cgroup_id, the store's vswap_iter),
        # __swap_writepage (2): 10 lookups (3 before this inventory); + the 3 scan lookups
        ("writeout", "xa_lookup"): 10 + 3, ("writeout", "xa_node_visit"): 10 + 3,
        # + isolate, the 3 scan lookups, the physical lock around vswap_rmap_set
        ("writeout", "cluster_lock"): 10 + 1 + 3 + 1,
        ("writeout", "desc_read"): 7 + 3,
        ("writeout", "map_read"): 5, ("writeout", "rmap_read"): 3,
        ("writeout", "pcpu_access"): 1, ("writeout", "si_lock"): 2,
        ("writeout", "rmap_write"): 1, ("writeout", "map_write"): 1,
        ("writeout", "memcg_charge"): 1, ("writeout", "desc_write"): 3,  # 2 store_folio + the slot
    }


def test_allocator_cache_only_check_v6_reads_the_rmap_bit_only():
    """The same scan with rmap_cache_only_bit: the reverse-map word of slots 1-3 and its
    C bit answer, no vswap lookup (the writeout's own lookups hit the lookup cache)."""
    p = _scan_fixture(V6)
    assert int(p.dst.dev.table[1]) < 0  # slot 1 carries the C bit
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, 16, 1, BACKEND_DISK, cpu=1) == BACKEND_DISK
    assert delta(p, before) == {
        ("writeout", "lookup_cache_hit"): 3,
        ("writeout", "cluster_lock"): 3 + 1 + 1,
        ("writeout", "desc_read"): 3,
        ("writeout", "map_read"): 5, ("writeout", "rmap_read"): 3,
        ("writeout", "pcpu_access"): 1, ("writeout", "si_lock"): 2,
        ("writeout", "rmap_write"): 1, ("writeout", "map_write"): 1,
        ("writeout", "memcg_charge"): 1, ("writeout", "desc_write"): 1,
    }


def test_zero_filled_page_takes_no_physical_slot():
    for design in (V5, V6):
        p = Pair(64, csize=16, vsize=16, **design)
        e = p.alloc(0, 0, 1, 1)
        p.dup(OP_DUP, e, 1, cpu=0)
        before = p.ctx.counters.copy()
        assert p.writeout(OP_WRITEOUT, e, 1, BACKEND_ZERO, cpu=0) == BACKEND_ZERO
        wo = row(delta(p, before), OP_WRITEOUT)
        for prim in ("map_read", "map_write", "rmap_write", "memcg_charge", "pcpu_access", "si_lock"):
            assert prim not in wo, prim
        assert p.naive.dev.inuse == 0 and int(p.dst.dev.meta[D.D_INUSE]) == 0
        assert not np.any(p.dst.dev.table[1:p.dst.dev.meta[D.D_MAX]])
        p.cache_del(OP_CACHE_DEL, e, 1, cpu=0)
        assert p.cache_add(OP_SWAPIN, e, 1, 2, cpu=0) == 0
        assert p.read_backend(OP_SWAPIN, e, cpu=0) == BACKEND_ZERO
        # the same page going to disk takes slot 1
        e2 = p.alloc(0, 0, 3, 1)
        p.dup(OP_DUP, e2, 1, cpu=0)
        assert p.writeout(OP_WRITEOUT, e2, 1, BACKEND_DISK, cpu=0) == BACKEND_DISK
        assert p.naive.dev.inuse == 1 and p.naive.dev.slots[1].entry == e2


def test_freed_cluster_memory_returns_at_once():
    """A cluster whose last slot goes leaves the map and gives its memory back in the
    same call (no grace period is modelled, in any design).  v5's kvzalloc'd object with
    16 descriptors: 40 + 8 + 16 * 24 = 432 bytes (7 zeroed lines), a 512-byte kmalloc
    object; v6: a 112-byte cluster (2 lines) and a vzalloc of 16 * 24 = 384 bytes (6
    lines), freed with a vfree."""
    for design, per_cluster, zero, vm in ((V5, 512, 7, 0), (V6, 112 + 16 * 24, 2 + 6, 1)):
        p = Pair(64, csize=16, vsize=16, **design)
        before = p.ctx.counters.copy()
        for f in range(1, 33):  # clusters 0 and 1 full, the CPU moves to cluster 2
            p.alloc(0, 0, f, 1)
        d = row(delta(p, before), OP_ALLOC)
        assert sorted(p.naive.clusters) == [0, 1, 2]
        assert d["mem_zero_line"] == 3 * zero and d.get("vmalloc", 0) == 3 * vm  # no physical slot yet
        md = p.metadata()
        assert md["vswap_cluster"] + md["vswap_desc"] == 3 * per_cluster
        for f in range(16, 32):  # folios of entries 16..31: drop them, cluster 1 empties
            assert p.cache_free(OP_SWAPIN, f, 1, cpu=0) == 1
        assert sorted(p.naive.clusters) == [0, 2]
        sw = p.ctx.counters[OP_SWAPIN]
        assert sw[PRIMITIVES.index("xa_erase")] == 1 and sw[PRIMITIVES.index("mem_free")] == 1
        assert sw[PRIMITIVES.index("vfree")] == vm
        md = p.metadata()
        assert md["vswap_cluster"] + md["vswap_desc"] == 2 * per_cluster


def test_objects_run_out_and_a_freed_cluster_gives_its_back():
    """With 2-slot virtual clusters the slab budget (virtual_slots / size + one per CPU
    and order + 2 objects) runs out: alloc returns -ENOMEM.  A cluster freed later gives
    its object back at once."""
    p = Pair(16, csize=16, vsize=2, virtual_slots=8, **V5)
    nrows = p.naive.nrows
    assert nrows == 4 + 10 + 2
    entries = []
    for f in range(1, 2 * nrows + 4):
        e = p.alloc(0, 0, f, 1, check=False)
        if e < 0:
            break
        entries.append((f, e))
    assert e == verbs.ENOMEM and len(p.naive.clusters) == nrows
    assert_same(p, "after running out")
    assert [e for _, e in entries[:5]] == [1, 2, 3, 4, 5]
    for f, e in entries[1:5]:  # entries 2..5: clusters 1 and 2 empty
        p.cache_free(OP_SWAPIN, e, 1, cpu=0)
    assert len(p.naive.clusters) == nrows - 2
    assert_same(p, "after the frees")
    assert p.alloc(0, 0, 500, 1) == 1 << 1  # the lowest free id: cluster 1


def test_cluster_0_reserves_entry_0():
    p = Pair(64, csize=16, vsize=16, **V6)
    assert p.alloc(0, 0, 1, 1) == 1
    assert p.swap_count(0) == -1 and p.swap_count(1) == 0
    assert p.cache_lookup(OP_SWAPIN, 0, cpu=0) == -1
    assert p.alloc(0, 2, 2, 1) == 16 + 0  # order 2: a cluster of its own (id 1)
    assert p.alloc(0, 4, 3, 1) == 32  # a whole cluster


def test_lookup_cache_reference_keeps_an_empty_cluster_until_the_end_of_the_operation():
    """With the lookup cache, the cache's reference keeps a cluster alive while a put
    empties it; _settle at the end of the put frees it, in the same call."""
    p = Pair(64, csize=16, vsize=16, design="vswap_v6", switches={"cluster_lookup_cache": True})
    for f in range(1, 33):
        p.alloc(0, 0, f, 1)
    for e in range(16, 32):
        p.dup(OP_DUP, e, 1, cpu=0)
        p.cache_del(OP_CACHE_DEL, e, 1, cpu=0)
    before = p.ctx.counters.copy()
    assert p.put(OP_FREE, 16, 16, True, cpu=0) == 16
    d = row(delta(p, before), OP_FREE)
    assert d["xa_erase"] == 1 and d["mem_free"] == 1 and 1 not in p.naive.clusters
    assert d["si_lock"] == 2  # put on the partial list (the cache still held it), then off


def _to_disk(p, folio, *, order=0, cpu=0, keep=False):
    """Swap a fresh folio out to disk: alloc, unmap, writeout; then either drop it from
    the cache (a swapped-out page) or, with ``keep``, drop its PTEs' counts while it
    stays cached (a swap-cache-only page).  Returns the first physical slot."""
    nr = 1 << order
    e = p.alloc(cpu, order, folio, 1)
    p.dup(OP_DUP, e, nr, cpu=cpu)
    assert p.writeout(OP_WRITEOUT, e, nr, BACKEND_DISK, cpu=cpu) == BACKEND_DISK
    if keep:
        p.put(OP_FREE, e, nr, False, cpu=cpu)
    else:
        p.cache_del(OP_CACHE_DEL, e, nr, cpu=cpu)
    return p.naive.desc_of(e).backend


def test_allocator_reclaims_the_cache_only_slot_it_meets_once_swap_is_more_than_half_full():
    """2 x 16 physical slots (31 pages).  Slots 1-15 hold cache-only pages, 16-30
    swapped-out ones; slot 3 is then freed.  Swap is over half full, so the next
    allocation that scans cluster 0 (from nonfull[0], from slot 0) reclaims the
    cache-only slot 1 it meets (cluster_reclaim_range through the virtual layer) rather
    than going on to the hole at 3."""
    for design in (V5, V6):
        p = Pair(32, csize=16, vsize=16, **design)
        assert [_to_disk(p, f, keep=True) for f in range(1, 16)] == list(range(1, 16))
        assert [_to_disk(p, f) for f in range(16, 31)] == list(range(16, 31))
        assert p.cache_free(OP_SWAPIN, 3, 1, cpu=0) == 1  # the folio of entry/slot 3
        assert p.naive.dev.vm_swap_full() and p.naive.dev.lists[("nonfull", 0)] == [0]
        assert _to_disk(p, 31) == 31  # the per-CPU cluster still had slot 31
        drops = p.naive.cache_drops
        assert _to_disk(p, 32) == 1
        assert p.naive.cache_drops == drops + 1 and p.naive.dev.slots[3] is None


def test_discard_device_restarts_after_running_discards():
    """A discard device of 3 x 16 slots.  Cluster 1 fills with cache-only pages (full
    list head), cluster 2 serves order 1, cluster 0 fills with swapped-out pages.  The
    next order-0 allocation finds no free, nonfull or frag cluster; its full-cluster
    reclaim step empties cluster 1, which goes to the discard list, so the 6.19 slow
    path runs the discard and starts over, taking cluster 1 from the free list."""
    for design in (V5, V6):
        p = Pair(48, csize=16, vsize=16, discard=True, **design)
        assert [_to_disk(p, f, keep=True) for f in range(1, 17)] == list(range(16, 32))
        assert [_to_disk(p, f, order=1) for f in range(17, 21)] == [32, 34, 36, 38]
        assert [_to_disk(p, f) for f in range(21, 36)] == list(range(1, 16))
        assert p.naive.dev.lists["full"] == [1, 0] and p.naive.dev.vm_swap_full()
        before = p.ctx.counters.copy()
        assert _to_disk(p, 40) == 16
        assert p.naive.cache_drops == 16
        d = delta(p, before)
        # the discard: si_lock, then per discarded cluster cluster_lock + move + si_lock
        assert d[("writeout", "si_lock")] >= 3 and d[("reclaim_scan", "si_lock")] >= 1
        assert p.naive.dev.lists["discard"] == [] and p.naive.dev.lists[("frag", 0)] == [1]


def test_rotational_device_uses_the_global_cluster():
    p = Pair(64, csize=16, vsize=16, ncpu=2, solidstate=False, **V6)
    assert _to_disk(p, 1, cpu=0) == 1
    assert _to_disk(p, 2, cpu=1) == 2  # the other CPU continues the same global cluster
    assert p.naive.dev.pcpu[("global", 0)] == 3 and p.naive.dev.pcpu[(0, 0)] == 0


def test_rewriteout_of_a_swapped_in_folio_between_backends():
    """A page swapped out to one backend, swapped in (cache add, read) and written out
    again to another: the stale backend is dropped (zswap entry freed, physical slot
    released and uncharged) except a physical slot kept for another disk writeout."""
    backends = (BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_DISK)
    for design in (V5, V6):
        p = Pair(64, csize=16, vsize=16, **design)
        folio = 1
        for first in backends:
            for second in backends:
                e = p.alloc(0, 0, folio, 1)
                p.dup(OP_DUP, e, 1, cpu=0)
                assert p.writeout(OP_WRITEOUT, e, 1, first, cpu=0) == first
                p.cache_del(OP_CACHE_DEL, e, 1, cpu=0)
                assert p.cache_add(OP_SWAPIN, e, 1, folio + 1, cpu=0) == 0
                if first != BACKEND_ZSWAP:  # a zswap load would make the folio the backend
                    assert p.read_backend(OP_SWAPIN, e, cpu=0) == first
                slot = p.naive.desc_of(e).backend if first == BACKEND_DISK else None
                assert p.writeout(OP_WRITEOUT, e, 1, second, cpu=0) == second
                if first == second == BACKEND_DISK:
                    assert p.naive.desc_of(e).backend == slot  # the slot is kept
                elif first == BACKEND_DISK:
                    assert p.naive.dev.slots[slot] is None
                p.cache_del(OP_CACHE_DEL, e, 1, cpu=0)
                folio += 2
        assert p.naive.zswap_entries == 3 and p.naive.dev.inuse == 3


def test_large_swapin_checks_the_whole_range_and_refuses_zswap():
    p = Pair(64, csize=16, vsize=16, **V6)
    assert p.alloc(0, 2, 1, 3) == 4  # order 2 in cluster 0: 4..7 (slots 0..3 reserved)
    p.dup(OP_DUP, 4, 4, cpu=0)
    assert p.writeout(OP_WRITEOUT, 4, 4, BACKEND_DISK, cpu=0) == BACKEND_DISK
    assert [p.naive.desc_of(e).backend for e in range(4, 8)] == [16, 17, 18, 19]  # order 2: cluster 1
    p.cache_del(OP_CACHE_DEL, 4, 4, cpu=0)
    assert p.cache_add(OP_SWAPIN, 6, 4, 2, cpu=0) == 0  # aligned down to 4
    assert p.naive.folio_swap[2] == 4 and p.naive.folio_order[2] == 2
    p.put(OP_SWAPIN, 6, 1, False, cpu=0)
    assert p.cache_free(OP_SWAPIN, 4, 4, cpu=0) == 0  # three PTEs still count
    # the folio leaves the cache with entry 6 uncounted: it is freed alone, mid-range
    p.cache_del(OP_CACHE_DEL, 4, 4, cpu=0)
    assert p.swap_count(6) == -1 and p.naive.dev.slots[18] is None
    assert p.cache_add(OP_SWAPIN, 4, 4, 3, cpu=0) == verbs.EBUSY  # 6 is gone
    e = p.alloc(0, 1, 4, 3)
    p.dup(OP_DUP, e, 2, cpu=0)
    assert p.writeout(OP_WRITEOUT, e, 2, BACKEND_ZSWAP, cpu=0) == BACKEND_ZSWAP
    p.cache_del(OP_CACHE_DEL, e, 2, cpu=0)
    assert p.cache_add(OP_SWAPIN, e, 2, 5, cpu=0) == verbs.EBUSY  # zswap: no large folio
    assert p.cache_add(OP_SWAPIN, e + 1, 1, 5, cpu=0) == 0
    assert p.cache_add(OP_READAHEAD, e + 1, 1, 6, cpu=0) == verbs.EEXIST


def test_zswap_writeback_needs_a_zswap_entry_and_a_free_slot():
    for design in (V5, V6):
        p = Pair(32, csize=16, vsize=16, **design)
        z = p.alloc(0, 0, 1, 1)
        p.dup(OP_DUP, z, 1, cpu=0)
        p.writeout(OP_WRITEOUT, z, 1, BACKEND_ZSWAP, cpu=0)
        p.cache_del(OP_CACHE_DEL, z, 1, cpu=0)
        zero = p.alloc(0, 0, 2, 1)
        p.dup(OP_DUP, zero, 1, cpu=0)
        p.writeout(OP_WRITEOUT, zero, 1, BACKEND_ZERO, cpu=0)
        p.cache_del(OP_CACHE_DEL, zero, 1, cpu=0)
        assert p.zswap_writeback(OP_ZSWAP_WB, zero, 3, cpu=0) == verbs.ENOMEM  # not in zswap
        assert p.zswap_writeback(OP_ZSWAP_WB, 40, 3, cpu=0) == verbs.ENOENT
        for f in range(10, 41):  # fill the device with swapped-out pages
            _to_disk(p, f)
        assert p.naive.dev.inuse == 31
        assert p.zswap_writeback(OP_ZSWAP_WB, z, 3, cpu=0) == verbs.ENOMEM  # no slot
        assert p.naive.desc_of(z).type == ZSWAP and 3 not in p.naive.folio_swap
        p.put(OP_FREE, p.naive.dev.slots[7].entry, 1, True, cpu=0)
        assert p.zswap_writeback(OP_ZSWAP_WB, z, 3, cpu=0) == 0
        assert p.naive.desc_of(z).backend == 7 and p.naive.zswap_entries == 0


def test_try_reclaim_flags():
    """__try_to_reclaim_swap(): ANYWAY always; UNMAPPED for an unmapped folio; FULL
    once swap (the physical device) is more than half full."""
    p = Pair(33, csize=16, vsize=16, **V6)  # 32 pages
    e = p.alloc(0, 0, 1, 1)
    p.set_flags(1, FOLIO_MAPPED)
    assert p.try_reclaim(OP_SWAPIN, e, verbs.TTRS_UNMAPPED | verbs.TTRS_FULL, cpu=0) == -1
    for f in range(2, 18):  # 16 pages on disk: exactly half, not "full"
        _to_disk(p, f)
    assert p.try_reclaim(OP_SWAPIN, e, verbs.TTRS_FULL, cpu=0) == -1
    _to_disk(p, 18)
    assert p.try_reclaim(OP_SWAPIN, e, verbs.TTRS_FULL, cpu=0) == 1
    e = p.alloc(0, 0, 19, 1)
    p.dup(OP_DUP, e, 1, cpu=0)
    assert p.try_reclaim(OP_SWAPIN, e, verbs.TTRS_ANYWAY, cpu=0) == -1  # counted
    assert p.try_reclaim(OP_SWAPIN, 500, verbs.TTRS_ANYWAY, cpu=0) == 0  # no folio


def test_put_flushes_a_free_run_at_an_entry_that_stays():
    """Counts 1, 1, 2, 1 put together: the first two are freed as one run (batch_ops),
    the shared third only drops to 1 and ends the run, the fourth starts a new one."""
    for design in (V5, V6):
        p = Pair(64, csize=16, vsize=16, **design)
        es = _swapped_out(p, 4, backend=BACKEND_DISK)
        p.dup(OP_DUP, es[2], 1, cpu=0)
        before = p.ctx.counters.copy()
        assert p.put(OP_FREE, es[0], 4, True, cpu=0) == 3
        assert p.swap_count(es[2]) == 1
        if design is V6:
            d = row(delta(p, before), OP_FREE)
            assert d["memcg_uncharge"] == 2 and d["bitmap_op"] == 2


def test_whole_cluster_allocations_on_a_fresh_state():
    """PMD-order (whole virtual cluster) allocations from the start: cluster 0 reserves
    all its slots for that order and cannot serve them."""
    for design in (V5, V6):
        p = Pair(64, csize=16, vsize=16, **design)
        assert [p.alloc(0, 4, f, 1) for f in (1, 2, 3)] == [16, 32, 48]
        cl0 = p.naive.clusters[0]
        assert (cl0.count, cl0.ref, cl0.order, p.naive.on_partial(cl0)) == (16, 16, 4, False)
        p.dup(OP_DUP, 32, 16, cpu=0)
        assert p.writeout(OP_WRITEOUT, 32, 16, BACKEND_DISK, cpu=0) == BACKEND_DISK
        assert p.alloc(0, 0, 4, 1) == 64  # cluster 0 serves order 4 for life: a new cluster


def test_ra_probe_only_disk_backed_entries_on_a_synchronous_device_skip_readahead():
    """vswap on zram: zero-filled and zswap pages are no longer backed by the device,
    so their faults take swapin_readahead() (the readahead rise the thread measured)."""
    for sync in (True, False):
        p = Pair(64, csize=16, vsize=16, synchronous=sync, **V6)
        zero = _swapped_out(p, 1, backend=BACKEND_ZERO)[0]
        zs = _swapped_out(p, 1, backend=BACKEND_ZSWAP, first_folio=200)[0]
        disk = _swapped_out(p, 1, backend=BACKEND_DISK, first_folio=300)[0]
        assert p.ra_probe(OP_SWAPIN, zero, cpu=0) == verbs.RA_READAHEAD
        assert p.ra_probe(OP_SWAPIN, zs, cpu=0) == verbs.RA_READAHEAD
        assert p.ra_probe(OP_SWAPIN, disk, cpu=0) == (verbs.RA_SYNC if sync else verbs.RA_READAHEAD)
        assert p.ra_probe(OP_SWAPIN, 40, cpu=0) == verbs.ENOENT


# --------------------------------------------------------------------------- the verb frame
#
# Every verb ends by letting the lookup cache go of a cluster that is empty then;
# cluster 0 reserves the first nr slots
# of its order; the rmap C bit of a new slot backing a cache-only entry; zswap ids; v5's
# slab object.


def _live_ids(dst):
    return {int(dst.vc[r, V.VC_ID]) for r in np.flatnonzero(dst.vc[:, V.VC_FLAGS] & V.VF_LIVE)}


def test_lookup_cache_lets_go_of_an_emptied_cluster_at_the_end_of_try_reclaim():
    """vswap.py docstring, cluster_lookup_cache: "The cache holds a cluster reference,
    dropped when another cluster is looked up or when the cluster is empty at the end
    of an operation."

    Sequence (vswap_v6, cluster_lookup_cache only, vsize 16, CPU 0): alloc 32 order-0
    folios (entries 1..32: clusters 0 and 1 full, the CPU moves on to cluster 2), then
    try_reclaim(TTRS_ANYWAY) of entries 16..31, all cache-only.  After the last one,
    cluster 1 is empty and referenced only by the lookup cache: it leaves the map in
    that same try_reclaim (xa_erase and mem_free charged to its row)."""
    p = Pair(64, csize=16, vsize=16, design="vswap_v6", switches={"cluster_lookup_cache": True})
    assert [p.alloc(0, 0, f, 1) for f in range(1, 33)] == list(range(1, 33))
    for e in range(16, 31):
        assert p.try_reclaim(OP_SWAPIN, e, verbs.TTRS_ANYWAY, cpu=0) == 1
    assert 1 in _live_ids(p.dst) and p.naive.mru[0] == [1]
    before = p.ctx.counters.copy()
    assert p.try_reclaim(OP_SWAPIN, 31, verbs.TTRS_ANYWAY, cpu=0) == 1
    d = row(delta(p, before), OP_SWAPIN)
    assert 1 not in _live_ids(p.dst) and 1 not in p.naive.clusters and p.naive.mru[0] == []
    assert d["xa_erase"] == 1 and d["mem_free"] == 1


def _cluster_emptied_by_another_cpu():
    """vswap_v6 (lookup cache, deferred cgroup check), 2 CPUs, vsize 16.  CPU 1 allocates
    entries 1..32 (clusters 0 and 1 full, its allocation cluster is 2); CPU 0 looks up
    entry 16 (its lookup cache takes cluster 1); CPU 1 frees the folios of entries
    16..31.  Cluster 1 is then empty, held only by CPU 0's lookup cache."""
    p = Pair(64, csize=16, vsize=16, ncpu=2, design="vswap_v6",
             switches={"cluster_lookup_cache": True, "defer_cgroup_check": True})
    assert [p.alloc(1, 0, f, 1) for f in range(1, 33)] == list(range(1, 33))
    assert p.cache_lookup(OP_SWAPIN, 16, cpu=0) == 16
    for e in range(16, 32):
        assert p.cache_free(OP_SWAPIN, e, 1, cpu=1) == 1
    cl = p.naive.clusters[1]
    assert (cl.count, cl.ref, p.naive.mru) == (0, 1, [[1], []])
    return p


@pytest.mark.parametrize("verb, args, ret", [
    ("dup", (OP_DUP, 16, 1), verbs.ENOENT),
    ("pte_batch", (OP_FREE, 16, 1), 1),  # deferred cgroup check: no lookup at all
    ("cache_lookup", (OP_SWAPIN, 16), -1),
    ("cache_add", (OP_SWAPIN, 16, 1, 900), verbs.ENOENT),
    ("try_reclaim", (OP_SWAPIN, 16, verbs.TTRS_ANYWAY), 0),
    ("ra_probe", (OP_SWAPIN, 16), verbs.ENOENT),
    ("zswap_writeback", (OP_ZSWAP_WB, 16, 900), verbs.ENOENT),
])
def test_every_verb_ends_by_letting_the_lookup_cache_go_of_an_emptied_cluster(verb, args, ret):
    """The next verb on CPU 0, whatever it returns and even when it looks nothing up,
    drops the emptied cluster its lookup cache holds: the cluster leaves the map, the
    release charged to that verb's row."""
    p = _cluster_emptied_by_another_cpu()
    before = p.ctx.counters.copy()
    assert getattr(p, verb)(*args, cpu=0) == ret
    d = row(delta(p, before), args[0])
    assert 1 not in _live_ids(p.dst) and p.naive.mru[0] == []
    assert d["xa_erase"] == 1 and d["mem_free"] == 1


def test_no_rmap_c_bit_for_a_cache_only_entry_that_gets_a_physical_slot():
    """V6c vswap_alloc_swap_slot() -> vswap_rmap_set() writes the plain entry value,
    even for a page whose count is already 0 (inventory 2.8, row 6c; the model set the
    bit at once before).  The bit comes only when a count drops 1 -> 0 on a cached
    SWAPFILE entry, and goes on dup.

    Sequence (vswap_v6, vsize 16, physical clusters of 16): alloc an order-1 folio
    (entries 2, 3; cluster 0 reserves 0 and 1), dup entry 2 only (the PTE of the other
    page was zapped), writeout DISK: physical slots 16, 17, no C bit on either although
    entry 3 is cache-only.  A dup then a put of entry 3 sets it on slot 17."""
    p = Pair(64, csize=16, vsize=16, **V6)
    assert p.alloc(0, 1, 1, 1) == 2
    p.dup(OP_DUP, 2, 1, cpu=0)
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, 2, 2, BACKEND_DISK, cpu=0) == BACKEND_DISK
    assert row(delta(p, before), OP_WRITEOUT)["rmap_write"] == 2
    assert [p.naive.desc_of(e).backend for e in (2, 3)] == [16, 17]
    assert int(p.dst.dev.table[16]) > 0 and int(p.dst.dev.table[17]) > 0
    assert not p.naive.dev.slots[17].cache_only and p.swap_count(3) == 0
    p.dup(OP_DUP, 3, 1, cpu=0)
    p.put(OP_FREE, 3, 1, False, cpu=0)
    assert int(p.dst.dev.table[17]) < 0 and p.naive.dev.slots[17].cache_only


def test_cluster_0_reserves_the_first_nr_slots_of_its_order():
    """reference/swap-designs.md 2.3 [C S5]: "Cluster id 0 reserves the first nr slots
    (entry 0 is invalid); PMD-order allocations cannot use cluster 0."

    Order 2 (vsize 16): cluster 0 reserves 0..3 (count = ref = 4 at creation) and serves
    4, 8, 12; then it is full (count 16 = vsize) and, when the CPU lets it go, belongs
    to no list.  PMD order (16 slots): a fresh cluster 0 is all reserved, the allocation
    takes a new cluster and leaves cluster 0 off the partial list, so the next PMD-order
    allocation costs 2 cluster locks and 3 bitmap ops (its CPU cluster used up, a new
    one), not a vain search of cluster 0 as well."""
    for design in (V5, V6):
        p = Pair(64, csize=16, vsize=16, **design)
        assert [p.alloc(0, 2, f, 1) for f in (1, 2, 3, 4)] == [4, 8, 12, 16]
        cl0 = p.naive.clusters[0]
        assert (cl0.count, cl0.ref, p.naive.on_partial(cl0)) == (16, 16, False)
        assert int(p.dst.meta[V.V_PARTIAL + 2 * 2]) == -1

        p = Pair(64, csize=16, vsize=16, **design)
        assert p.alloc(0, 4, 1, 1) == 16
        before = p.ctx.counters.copy()
        assert p.alloc(0, 4, 2, 1) == 32
        d = row(delta(p, before), OP_ALLOC)
        assert p.naive.partial[4] == [] and int(p.dst.meta[V.V_PARTIAL + 2 * 4]) == -1
        # v5 also records the memcg and adds the folio to the swap cache: 2 more locks
        assert (d["cluster_lock"], d["bitmap_op"]) == (2 if design is V6 else 4, 3)


def test_zswap_entries_have_ids_of_their_own():
    """A zswap-backed descriptor points at its zswap entry: ids are never shared, not
    even after an entry is freed (1 and 2 stored, 1 freed, the next store is 3)."""
    for design in (V5, V6):
        p = Pair(64, csize=16, vsize=16, **design)
        a, b = _swapped_out(p, 2, backend=BACKEND_ZSWAP)
        assert [p.naive.desc_of(e).backend for e in (a, b)] == [1, 2]
        assert p.put(OP_FREE, a, 1, True, cpu=0) == 1
        (c,) = _swapped_out(p, 1, backend=BACKEND_ZSWAP, first_folio=200)
        assert p.naive.desc_of(c).backend == 3 and p.naive.desc_of(b).backend == 2
        assert p.naive.zswap_entries == 2 and int(p.dst.meta[V.V_NEXT_ZSWAP]) == 3


@pytest.mark.parametrize("vsize, obj", [(2, 96), (16, 512), (32, 1024), (128, 4096), (512, 16384)])
def test_v5_cluster_object_is_the_kmalloc_class_of_header_bitmap_and_descriptors(vsize, obj):
    """v5 embeds the descriptors: 40 + bitmap (whole longs) + 24 * vsize bytes, in its
    kmalloc size class (12392 B -> 16 KiB for 512 slots; 96 B for 2)."""
    p = Pair(1024, csize=16, vsize=vsize, **V5)
    assert int(p.dst.meta[V.V_V5_OBJECT]) == obj
    p.alloc(0, 0, 1, 1)
    md = p.metadata()
    assert md["vswap_cluster"] + md["vswap_desc"] == obj and md["vswap_desc"] == 24 * vsize


# --------------------------------------------------------------------------- open design bugs
#
# Where the design still departs from its own contract; these fail until it is fixed.


def test_reserved_entries_of_cluster_0_are_not_allocated():
    """verbs.py: "swap_count(dst, entry) -> count (-1 if not allocated)"; ra_probe:
    "-ENOENT when the entry is not allocated".  Cluster 0 reserves the first nr slots of
    its order (reference 2.3), but vs_swap_count still treats entry 0 alone as reserved
    (``entry >> vshift == 0 and i == 0``): the reserved entries 1..nr-1 of an order > 0
    cluster 0 read as allocated, cache-only (count 0), and ra_probe on them looks the
    cluster up, reads the zeroed descriptor (type SWAPFILE) and answers RA_SYNC on a
    synchronous device.

    Sequence (vswap_v5 and vswap_v6, vsize 16, synchronous device): alloc an order-2
    folio (entries 4..7; cluster 0 reserves 0..3).  Expected swap_count 0..4 = -1, -1,
    -1, -1, 0 and ra_probe(1) = -ENOENT; the design gives 0 for entries 1..3 and RA_SYNC."""
    for design in (V5, V6):
        p = Pair(64, csize=16, vsize=16, synchronous=True, **design)
        assert p.alloc(0, 2, 1, 1) == 4
        got = [int(verbs.swap_count(p.dst, e)) for e in range(5)]
        assert got == [-1, -1, -1, -1, 0], f"{design['design']}: swap_count of entries 0..4: {got}"
        assert p.ra_probe(OP_SWAPIN, 1, cpu=0) == verbs.ENOENT


def test_reclaim_full_verb_lets_the_lookup_cache_go():
    """The reclaim_full verb (it once did not compile: vswap.py used OP_RECLAIM_SCAN
    without importing it).

    Like every verb, the lookup cache lets go of an emptied
    cluster (charged to reclaim_scan); and the scan itself: 2 x 16 physical slots,
    slots 1-15 cache-only, 16-30 swapped out (swap more than half full), reclaim_full
    (not forced) scans the one full cluster and reclaims its 15 cache-only slots."""
    p = _cluster_emptied_by_another_cpu()
    before = p.ctx.counters.copy()
    assert p.reclaim_full(False, cpu=0) == 0
    d = row(delta(p, before), OP_RECLAIM_SCAN)
    assert 1 not in _live_ids(p.dst) and d["xa_erase"] == 1 and d["mem_free"] == 1

    for design in (V5, V6):
        p = Pair(32, csize=16, vsize=16, **design)
        assert [_to_disk(p, f, keep=True) for f in range(1, 16)] == list(range(1, 16))
        assert [_to_disk(p, f) for f in range(16, 31)] == list(range(16, 31))
        assert p.naive.dev.vm_swap_full() and p.naive.dev.lists["full"] == [0]
        assert p.reclaim_full(False, cpu=0) == 15
        assert p.naive.cache_drops == 15 and p.naive.dev.inuse == 15
