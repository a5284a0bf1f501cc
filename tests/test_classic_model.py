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

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
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
from vswap_nb.core import radix, verbs
from vswap_nb.core.counters import (
    OP_ALLOC,
    OP_CACHE_DEL,
    OP_DUP,
    OP_FREE,
    OP_READAHEAD,
    OP_RECLAIM_SCAN,
    OP_SWAPIN,
    OP_SWAPOFF,
    OP_WRITEOUT,
    OP_ZSWAP_WB,
    OPS,
    PRIMITIVES,
)
from vswap_nb.core.metadata import N_STRUCTURES, STRUCTURES
from vswap_nb.core.verbs import (
    BACKEND_DISK,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    C_CACHE_DROPS,
    C_ZSWAP_ENABLED,
    F_FLAGS,
    F_ORDER,
    F_SWAP,
    FOLIO_MAPPED,
)
from vswap_nb.designs import classic

ZSWAP_SPAN = 1 << 14
_CI_AUX = getattr(D, "CI_AUX", None)  # a second design word of newer devices (0 here)
HAS_RA_PROBE = "ra_probe" in verbs.VERB_SIGNATURES
_BAD_WORD = ((1 << 64) - 1) & ~7  # SWP_TB_BAD as the device writes it for bad slots


# --------------------------------------------------------------------------- the pair


class Pair:
    """The Numba design and the naive model, driven together; every verb call is
    followed by assert_same() unless ``check=False``."""

    def __init__(self, nslots, *, csize, ncpu=1, solidstate=True, discard=False,
                 blkdev=True, synchronous=False, zswap_on=False):
        kw = {"ncpu": ncpu, "cluster_size": csize, "solidstate": solidstate,
              "discard": discard, "blkdev": blkdev, "synchronous": synchronous}
        self.dst = classic.new_state(nslots, **kw)
        self.naive = NaiveClassic(nslots, **kw)
        self.total = self.dst.dev.table.shape[0]
        self.nfolios = 2 * self.total + 8
        self.ctx = verbs.new_ctx(self.nfolios)
        self.csize = csize
        self.ncpu = ncpu
        if zswap_on:  # the mm marks zswap enabled up front when the system has it
            self.naive.zswap_enabled = True
            self.ctx.meta[C_ZSWAP_ENABLED] = 1

    def set_flags(self, folio, flags):
        self.ctx.folio[folio, F_FLAGS] = flags
        self.naive.folio_flags[folio] = flags

    def free_folios(self, limit=24):
        """The first ``limit`` folio ids not in the swap cache (0 is never used)."""
        cached = self.naive.folio_swap
        out = []
        for f in range(1, self.nfolios):
            if f not in cached:
                out.append(f)
                if len(out) == limit:
                    break
        return out

    def _both(self, name, args, check=True):
        """Run verb ``name`` on both; compare the return values and then the whole
        state (``check=True``), the counter matrix only (``"light"``, used inside
        long loops that end with a full check) or nothing (``False``)."""
        got = getattr(verbs, name)(self.dst, self.ctx, *args)
        want = getattr(self.naive, name)(*args)
        assert int(got) == want, f"{name}{args}: numba returned {int(got)}, naive {want}"
        if check == "light":
            assert_same_counters(self, f"after {name}{args}")
        elif check:
            assert_same(self, f"after {name}{args}")
        return want

    def alloc(self, cpu, order, folio, memcg, check=True):
        return self._both("alloc", (cpu, order, folio, memcg), check)

    def dup(self, op, entry, nr, check=True):
        return self._both("dup", (op, entry, nr), check)

    def pte_batch(self, op, entry, nr, check=True):
        return self._both("pte_batch", (op, entry, nr), check)

    def put(self, op, entry, nr, reclaim_cache, check=True):
        return self._both("put", (op, entry, nr, bool(reclaim_cache)), check)

    def cache_lookup(self, op, entry, check=True):
        return self._both("cache_lookup", (op, entry), check)

    def cache_add(self, op, entry, nr, folio, check=True):
        return self._both("cache_add", (op, entry, nr, folio), check)

    def cache_del(self, op, entry, nr, check=True):
        return self._both("cache_del", (op, entry, nr), check)

    def cache_free(self, op, entry, nr, check=True):
        return self._both("cache_free", (op, entry, nr), check)

    def try_reclaim(self, op, entry, flags, check=True):
        return self._both("try_reclaim", (op, entry, flags), check)

    def writeout(self, op, entry, nr, backend, check=True):
        return self._both("writeout", (op, entry, nr, backend), check)

    def read_backend(self, op, entry, check=True):
        return self._both("read_backend", (op, entry), check)

    def ra_probe(self, op, entry, check=True):
        return self._both("ra_probe", (op, entry), check)

    def zswap_writeback(self, op, entry, folio, check=True):
        return self._both("zswap_writeback", (op, entry, folio), check)

    def reclaim_full(self, force, check=True):
        return self._both("reclaim_full", (bool(force),), check)

    def unuse_entry(self, op, off, check=True):
        return self._both("unuse_entry", (op, off), check)

    def unuse(self, op, entry, folio, check=True):
        return self._both("unuse", (op, entry, folio), check)

    # swapoff's device steps (core.device on the design's physical device)
    def swapoff_begin(self):
        D.dev_swapoff_begin(verbs.phys_dev(self.dst))
        self.naive.swapoff_begin()
        assert_same(self, "after swapoff_begin")

    def next_used(self, off):
        got = int(D.dev_next_used(verbs.phys_dev(self.dst), off))
        want = self.naive.next_used(off)
        assert got == want, f"dev_next_used({off}): numba {got}, naive {want}"
        return want

    def swapoff_end(self):
        got = int(D.dev_swapoff_end(verbs.phys_dev(self.dst), self.dst, self.ctx, OP_SWAPOFF))
        want = self.naive.swapoff_end()
        assert got == want, f"dev_swapoff_end(): numba {got}, naive {want}"
        assert_same(self, "after swapoff_end")
        return want

    def swap_count(self, entry):
        got = int(verbs.swap_count(self.dst, entry))
        want = self.naive.swap_count(entry)
        assert got == want, f"swap_count({entry}): numba {got}, naive {want}"
        return want


# --------------------------------------------------------------------------- comparison

_LIST_IDS = {"free": D.L_FREE, "full": D.L_FULL, "discard": D.L_DISCARD}
for _o in range(D.N_ORDERS):
    _LIST_IDS[("nonfull", _o)] = D.L_NONFULL + _o
    _LIST_IDS[("frag", _o)] = D.L_FRAG + _o


def counters_diff(got, want):
    return {(OPS[i], PRIMITIVES[j]): (int(got[i, j]), int(want[i, j]))
            for i, j in np.argwhere(got != want)}


def _numba_list(dev, lid):
    out = []
    c = int(dev.lists[lid, D.LS_HEAD])
    while c >= 0 and len(out) <= dev.ci.shape[0]:
        out.append(c)
        c = int(dev.ci[c, D.CI_NEXT])
    return out


def _table_word(s):
    if s is None:
        return 0
    if s is BAD:
        return _BAD_WORD
    if s.folio is None:
        return 1  # an (empty) shadow: xa_value 0
    return (s.folio << 2) | 2  # PFN entry, flags 0


def _first_bad(got, want):
    return np.flatnonzero(got != want)[:8].tolist()


_OP_ROW = {name: i for i, name in enumerate(OPS)}
_PRIM_COL = {name: j for j, name in enumerate(PRIMITIVES)}


def _slot_arrays(pair):
    """swap_map bytes, continuation counts and table words of the naive slots (one pass)."""
    smap, cont, words = [], [], []
    for s in pair.naive.slots:
        if s is None:
            smap.append(0)
            cont.append(0)
            words.append(0)
        else:
            smap.append(map_byte(s))
            cont.append(cont_value(s))
            words.append(_table_word(s))
    return (np.array(smap, dtype=np.int64), np.array(cont, dtype=np.int64),
            np.array(words, dtype=np.uint64))


def assert_same_counters(pair, where=""):
    ctx = pair.ctx
    want = np.zeros_like(ctx.counters)
    for (op, prim), v in pair.naive.counters.items():
        want[_OP_ROW[op], _PRIM_COL[prim]] = v
    if not np.array_equal(ctx.counters, want):
        raise AssertionError(
            f"{where}: counters differ {{cell: (numba, naive)}}: {counters_diff(ctx.counters, want)}"
        )


def assert_same(pair, where=""):
    n, dst, ctx = pair.naive, pair.dst, pair.ctx
    dev = dst.dev
    assert_same_counters(pair, where)

    # swap_map bytes, continuation counts, table words, swap_cgroup ids, zeromap bits
    slots = n.slots
    smap, cont, words = _slot_arrays(pair)
    got = dst.swap_map.astype(np.int64)
    if not np.array_equal(got, smap):
        bad = _first_bad(got, smap)
        raise AssertionError(f"{where}: swap_map differs at {bad}: numba "
                             f"{[hex(int(dst.swap_map[i])) for i in bad]}, naive {[slots[i] for i in bad]}")
    got = dst.cont.astype(np.int64)
    if not np.array_equal(got, cont):
        bad = _first_bad(got, cont)
        raise AssertionError(f"{where}: continuation counts differ at {bad}: numba "
                             f"{got[bad].tolist()}, naive {cont[bad].tolist()}")
    pages = np.zeros(dst.cont_pages.shape[0], dtype=np.int64)
    for p, k in n.cont_pages.items():
        pages[p] = k
    assert np.array_equal(dst.cont_pages.astype(np.int64), pages), (
        f"{where}: continuation pages per swap_map page: numba {dst.cont_pages.tolist()}, naive {pages.tolist()}"
    )
    assert int(dst.meta[classic.K_CONT_PAGES]) == n.total_cont_pages(), f"{where}: continuation pages"
    got = dev.table.view(np.uint64)
    if not np.array_equal(got, words):
        bad = _first_bad(got, words)
        raise AssertionError(f"{where}: table words differ at {bad}: numba "
                             f"{[hex(int(got[i])) for i in bad]}, naive {[slots[i] for i in bad]}")
    memcg = np.zeros(pair.total, dtype=np.int64)
    for off, mid in n.memcg.items():
        memcg[off] = mid
    got = dst.cgroup.astype(np.int64)
    assert np.array_equal(got, memcg), f"{where}: swap_cgroup ids differ at {_first_bad(got, memcg)}"
    bits = np.unpackbits(dst.zeromap.view(np.uint8), bitorder="little")[: pair.total]
    zero = np.zeros(pair.total, dtype=np.uint8)
    zero[sorted(n.zeromap)] = 1
    assert np.array_equal(bits, zero), f"{where}: zeromap bits differ at {_first_bad(bits, zero)}"

    # clusters and their lists
    for c, cl in enumerate(n.clusters):
        row = dev.ci[c]
        got = (int(row[D.CI_COUNT]), int(row[D.CI_FLAGS]), int(row[D.CI_ORDER]),
               int(row[D.CI_LIST]), int(row[D.CI_TABLE]), int(row[D.CI_EXT]),
               int(row[_CI_AUX]) if _CI_AUX is not None else 0)
        exp = (cl.count, cl.flags, cl.order,
               -1 if cl.on_list is None else _LIST_IDS[cl.on_list], int(cl.has_table), 0, 0)
        assert got == exp, (
            f"{where}: cluster {c} (count, flags, order, list, table, design words): numba {got}, naive {exp}"
        )
    for key, lst in n.lists.items():
        lid = _LIST_IDS[key]
        got = _numba_list(dev, lid)
        assert got == lst, f"{where}: list {key}: numba {got}, naive {lst}"
        assert int(dev.lists[lid, D.LS_LEN]) == len(lst), f"{where}: list {key} length"
        assert int(dev.lists[lid, D.LS_TAIL]) == (lst[-1] if lst else -1), f"{where}: list {key} tail"

    # per-CPU next offsets (row ncpu = the rotational global cluster)
    for (row, order), off in n.pcpu.items():
        r = pair.ncpu if row == "global" else row
        assert int(dev.pcpu[r, order]) == off, (
            f"{where}: next offset cpu={row} order={order}: numba {int(dev.pcpu[r, order])}, naive {off}"
        )

    meta = dev.meta
    got = {
        "max": int(meta[D.D_MAX]), "pages": int(meta[D.D_PAGES]), "inuse": int(meta[D.D_INUSE]),
        "avail": int(meta[D.D_AVAIL]), "reclaim_pending": int(meta[D.D_RECLAIM_PENDING]),
        "discard_pending": int(meta[D.D_DISCARD_PENDING]), "tables": int(meta[D.D_TABLES]),
        "peak_tables": int(meta[D.D_PEAK_TABLES]), "alloc_fail": int(meta[D.D_ALLOC_FAIL]),
        "kernel": int(meta[D.D_KERNEL]),
        "writeok": int(meta[D.D_FLAGS] & D.SWP_WRITEOK != 0), "off": int(meta[D.D_OFF]),
    }
    exp = {
        "max": n.max, "pages": n.pages, "inuse": n.inuse, "avail": int(n.avail),
        "reclaim_pending": int(n.reclaim_pending), "discard_pending": int(n.discard_pending),
        "tables": n.tables, "peak_tables": n.peak_tables, "alloc_fail": n.alloc_fail,
        "kernel": D.KERNEL_619, "writeok": int(n.writeok), "off": int(n.off),
    }
    assert got == exp, f"{where}: device words: numba {got}, naive {exp}"

    # zswap trees: entries of every tree, heights, node count
    zs = dst.zswap
    for t, xa in enumerate(n.trees):
        idx = np.arange(t * ZSWAP_SPAN, min((t + 1) * ZSWAP_SPAN, pair.total), dtype=np.int64)
        out = np.empty(idx.size, dtype=np.int64)
        radix._load_many(zs, t, idx, out)
        got_keys = set(idx[out >= 0].tolist())
        assert got_keys == set(xa.d), f"{where}: zswap tree {t}: numba {sorted(got_keys)}, naive {sorted(xa.d)}"
        assert int(radix.xa_height(zs, t)) == xa.height(), f"{where}: zswap tree {t} height"
    nodes = sum(len(xa.nodes()) for xa in n.trees)
    assert int(zs.aux[radix.M_NR_NODES]) == nodes, f"{where}: zswap nodes"
    assert int(zs.aux[radix.M_ENTRIES]) == n.zswap_entries(), f"{where}: zswap entries"

    # folio side of the context
    for col, d, name in ((F_SWAP, n.folio_swap, "folio->swap"), (F_ORDER, n.folio_order, "folio order"),
                         (F_FLAGS, n.folio_flags, "folio flags")):
        exp_col = np.zeros(pair.nfolios, dtype=np.int64)
        exp_col[np.fromiter(d.keys(), np.int64, len(d))] = np.fromiter(d.values(), np.int64, len(d))
        if not np.array_equal(ctx.folio[:, col], exp_col):
            bad = _first_bad(ctx.folio[:, col], exp_col)
            raise AssertionError(f"{where}: {name} differs for folios {bad}: numba "
                                 f"{ctx.folio[bad, col].tolist()}, naive {exp_col[bad].tolist()}")
    assert int(ctx.meta[C_CACHE_DROPS]) == n.cache_drops, f"{where}: cache drops"
    assert int(ctx.meta[C_ZSWAP_ENABLED]) == int(n.zswap_enabled), f"{where}: zswap enabled"

    out = np.zeros(N_STRUCTURES, dtype=np.int64)
    verbs.metadata_bytes(dst, out)
    exp_md = n.metadata_bytes()
    got_md = {name: int(out[i]) for i, name in enumerate(STRUCTURES)}
    assert got_md == {name: exp_md.get(name, 0) for name in STRUCTURES}, (
        f"{where}: metadata_bytes: numba {got_md}, naive {exp_md}"
    )


# --------------------------------------------------------------------------- random tests


def swapoff_pair(p):
    """swapoff(2) of ``p``'s device at verb level, as the mm's ``_swapoff`` runs it.

    The device stops taking allocations (dev_swapoff_begin); try_to_unuse() walks the
    page tables (here every swap count is a PTE): each counted entry gets its page in
    the swap cache (the cached folio, else __read_swap_cache_async(): an order-0 cache
    add and the read, as ``_swapin_one``), unuse_pte() puts each PTE's count (no cache
    reclaim) and maps the folio, and folio_free_swap() of the whole folio drops its
    entries once none is counted.  Then the device walk (dev_next_used +
    ``unuse_entry``, find_next_to_unuse) resolves every slot still in use (the
    cache-only ones) through ``unuse``, and dev_swapoff_end() finds the device empty.
    All of it is charged to the ``swapoff`` row.

    Return values and counters are compared after every call, the whole state after
    the entries of each cluster (page-table walk, then device walk) and at both ends:
    a device of 1536 slots may have over a thousand entries to unuse, some with 130 counts."""
    p.swapoff_begin()
    dirty = None  # the cluster changed since the last full check
    for x in range(p.total):  # unuse_mm() over every swap PTE
        if dirty is not None and x // p.csize != dirty:
            assert_same(p, f"after unuse_pte() of cluster {dirty}")
            dirty = None
        s = p.naive.slots[x]
        if not isinstance(s, MapSlot) or s.count < 1:
            continue
        dirty = x // p.csize
        folio = p.cache_lookup(OP_SWAPOFF, x, check="light")
        if folio < 0:  # __read_swap_cache_async() of this page
            folio = p.free_folios(1)[0]
            assert p.cache_add(OP_SWAPOFF, x, 1, folio, check="light") == 0, (
                f"swapoff: cache add of live entry {x}")
            p.read_backend(OP_SWAPOFF, x, check="light")
        while p.naive.swap_count(x) >= 1:  # unuse_pte() per PTE: swap_free()
            p.put(OP_SWAPOFF, x, 1, False, check="light")
        p.set_flags(folio, p.naive.folio_flags.get(folio, 0) | FOLIO_MAPPED)
        start, nr = p.naive.folio_swap[folio], 1 << p.naive.folio_order[folio]
        p.cache_free(OP_SWAPOFF, start, nr, check="light")  # 0 while another page is counted
    if dirty is not None:
        assert_same(p, f"after unuse_pte() of cluster {dirty}")
    off = p.next_used(0)
    while off >= 0:  # find_next_to_unuse(): the slots left (cache-only)
        e = p.unuse_entry(OP_SWAPOFF, off, check="light")
        if e:
            dirty = off // p.csize
            folio = p.cache_lookup(OP_SWAPOFF, e, check="light")
            if folio < 0:
                folio = p.free_folios(1)[0]
                assert p.cache_add(OP_SWAPOFF, e, 1, folio, check="light") == 0, (
                    f"swapoff: cache add of entry {e}")
                p.read_backend(OP_SWAPOFF, e, check="light")
            assert p.unuse(OP_SWAPOFF, e, folio, check="light") == 1, f"swapoff: unuse of entry {e}"
        off = p.next_used(off + 1)
        if dirty is not None and (off < 0 or off // p.csize != dirty):
            assert_same(p, f"after unuse of the entries of cluster {dirty}")
            dirty = None
    assert_same(p, "after the swapoff walk")
    assert p.swapoff_end() == 0


@st.composite
def device_configs(draw, cluster_sizes, max_clusters):
    csize = draw(st.sampled_from(cluster_sizes))
    ncl = draw(st.integers(2, max_clusters))
    tail = draw(st.sampled_from([0, 0, 1, csize // 2, csize - 1]))
    return {
        "nslots": ncl * csize - tail,
        "csize": csize,
        "ncpu": draw(st.integers(1, 3)),
        "solidstate": draw(st.booleans()),
        "discard": draw(st.booleans()),
        "blkdev": draw(st.sampled_from([True, True, True, False])),
        "synchronous": draw(st.booleans()),
        "zswap_on": draw(st.booleans()),
    }


OPS_PUT = st.sampled_from([OP_FREE, OP_SWAPIN])
TIMES = st.sampled_from([1, 2, 3, 60, 61, 62, 63, 64, 66, 130])  # around the 62/63 carry
BACKENDS = st.sampled_from([BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_ZSWAP, BACKEND_DISK])
MEMCGS = st.sampled_from([0, 1, 1, 2, 3])


class ClassicMachine(RuleBasedStateMachine):
    """Random valid operation sequences on both models, compared after every call."""

    configs = device_configs([16, 32], 8)
    swapoff_from_step = 12  # swapoff ends a run's use of the device: not before this step

    def __init__(self):
        super().__init__()
        self.steps = 0
        self.swapped_off = False

    @invariant()
    def count_steps(self):
        """Not a check: counts the steps run (for the swapoff precondition)."""
        self.steps += 1

    @initialize(data=st.data())
    def setup(self, data):
        self.p = Pair(**data.draw(self.configs, label="device"))
        assert_same(self.p, "after setup")

    # ---- candidate sets, from the reference model

    def _slots(self, pred):
        return [x for x, s in enumerate(self.p.naive.slots) if isinstance(s, MapSlot) and pred(s)]

    def live(self):
        return self._slots(lambda s: s.count >= 1)

    def dupable(self):
        return self._slots(lambda s: True)  # count >= 1 or cached

    def shadows(self):
        return self._slots(lambda s: s.count >= 1 and s.folio is None)

    def cached(self):
        return sorted(self.p.naive.cached_folios().items())

    def zswapped(self):
        return sorted(k for xa in self.p.naive.trees for k in xa.d)

    def real_slots(self):
        return [x for x, s in enumerate(self.p.naive.slots) if s is not BAD]

    def memcg_of(self, x):
        return self.p.naive.memcg.get(x, 0)

    def max_order(self):
        return min(self.p.csize.bit_length() - 1, D.PMD_ORDER)

    def fill_orders(self):
        return [0, 0, 1, self.max_order()]

    def draw_folio(self, data):
        return data.draw(st.sampled_from(self.p.free_folios()), label="folio")

    def draw_cached(self, data):
        folio, (start, order) = data.draw(st.sampled_from(self.cached()), label="cached folio")
        return folio, start, 1 << order

    def check_at(self, x):
        """Inside a loop of dups or puts on slot ``x``: a full check around the carry
        and borrow of the swap_map digit (count 62 <-> 63) and the last reference,
        the counters only elsewhere (the loop ends with a full check)."""
        c = self.p.naive.swap_count(x)
        return True if c <= 2 or c % 63 in (0, 62) else "light"

    def run_from(self, x, want, pred):
        """Length (<= want) of the run from ``x`` of slots satisfying ``pred`` with the
        swap_cgroup id of ``x`` (one swap_pte_batch())."""
        m = self.memcg_of(x)
        nr = 1
        while nr < want and x + nr < self.p.total and pred(x + nr) and self.memcg_of(x + nr) == m:
            nr += 1
        return nr

    # ---- allocation and unmap

    def _swapout(self, data, cpu, order, memcg, unmap, check=True):
        """folio_alloc_swap() and, if ``unmap``, try_to_unmap(): (entry or errno, folio)."""
        folio = self.draw_folio(data)
        off = self.p.alloc(cpu, order, folio, memcg, check=check)
        if off < 0:
            return off, folio
        self.p.set_flags(folio, FOLIO_MAPPED)
        if unmap:
            for i in range(1 << order):  # one swap_duplicate() per PTE
                self.p.dup(OP_DUP, off + i, 1, check=check)
            self.p.set_flags(folio, 0)
        return off, folio

    @rule(data=st.data())
    def alloc(self, data):
        cpu = data.draw(st.integers(0, self.p.ncpu - 1), label="cpu")
        order = data.draw(st.integers(0, self.max_order()), label="order")
        self._swapout(data, cpu, order, data.draw(MEMCGS, label="memcg"),
                      data.draw(st.booleans(), label="unmap"))

    @rule(data=st.data())
    def fill(self, data):
        """Allocate until the device says no; without unmapping, the slots stay
        cache-only and the allocator reclaims them once swap is over half full."""
        order = data.draw(st.sampled_from(self.fill_orders()), label="order")
        memcg = data.draw(MEMCGS, label="memcg")
        unmap = data.draw(st.booleans(), label="unmap")
        for _ in range(self.p.total):
            cpu = data.draw(st.integers(0, self.p.ncpu - 1), label="cpu")
            if self._swapout(data, cpu, order, memcg, unmap, check="light")[0] < 0:
                break
        assert_same(self.p, "after fill")

    @rule(data=st.data())
    def swapout_cycle(self, data):
        """Reclaim of one folio: allocate, unmap, write out, drop from the cache."""
        cpu = data.draw(st.integers(0, self.p.ncpu - 1), label="cpu")
        order = data.draw(st.integers(0, self.max_order()), label="order")
        off, folio = self._swapout(data, cpu, order, data.draw(MEMCGS, label="memcg"), True)
        if off < 0:
            return
        nr = 1 << order
        self.p.writeout(OP_WRITEOUT, off, nr, data.draw(BACKENDS, label="backend"))
        if self.p.naive.folio_swap.get(folio):  # still cached
            self.p.cache_del(OP_CACHE_DEL, off, nr)

    # ---- swap counts

    @precondition(lambda self: self.dupable())
    @rule(data=st.data())
    def dup(self, data):
        x = data.draw(st.sampled_from(self.dupable()), label="slot")
        ok = set(self.dupable())
        nr = self.run_from(x, data.draw(st.integers(1, 4), label="nr"), ok.__contains__)
        self.p.dup(OP_DUP, x, nr)

    @precondition(lambda self: self.dupable())
    @rule(data=st.data())
    def dup_many(self, data):
        """Push one slot's count near or past 62 (continuation page) or further."""
        x = data.draw(st.sampled_from(self.dupable()), label="slot")
        times = data.draw(TIMES, label="times")
        for i in range(times):
            self.p.dup(OP_DUP, x, 1, check=True if times - i <= 2 else self.check_at(x))

    @precondition(lambda self: self.dupable())
    @rule(data=st.data())
    def overflow_roundtrip(self, data):
        """Counts up past 62 (carry into a continuation digit) and back down (borrow)."""
        x = data.draw(st.sampled_from(self.dupable()), label="slot")
        ups = data.draw(st.integers(60, 66), label="ups")
        for _ in range(ups):
            self.p.dup(OP_DUP, x, 1, check=self.check_at(x))
        assert_same(self.p, "after the ups")
        for _ in range(data.draw(st.integers(1, 8), label="downs")):
            if self.p.naive.swap_count(x) < 1:
                break
            self.p.put(OP_FREE, x, 1, data.draw(st.booleans(), label="reclaim_cache"))

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def put(self, data):
        """A put of one swap_pte_batch(): consecutive live entries of one memcg."""
        x = data.draw(st.sampled_from(self.live()), label="slot")
        ok = set(self.live())
        nr = self.run_from(x, data.draw(st.sampled_from([1, 1, 2, 3, 8, 40]), label="nr"), ok.__contains__)
        self.p.put(data.draw(OPS_PUT, label="op"), x, nr, data.draw(st.booleans(), label="reclaim_cache"))

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def put_many(self, data):
        x = data.draw(st.sampled_from(self.live()), label="slot")
        reclaim = data.draw(st.booleans(), label="reclaim_cache")
        for _ in range(data.draw(TIMES, label="times")):
            if self.p.naive.swap_count(x) < 1:
                break
            self.p.put(OP_FREE, x, 1, reclaim, check=self.check_at(x))
        assert_same(self.p, "after put_many")

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def zap(self, data):
        """munmap/exit: over every run of live entries of a range of clusters,
        swap_pte_batch() (stopping at a cgroup change) then free_swap_and_cache_nr()."""
        c0 = data.draw(st.sampled_from(self.live()), label="slot") // self.p.csize
        c1 = c0 + data.draw(st.integers(0, 1), label="extra clusters")
        lo, hi = c0 * self.p.csize, min(c1 + 1, self.p.naive.ncl) * self.p.csize
        x = lo
        while x < hi:
            if self.p.naive.swap_count(x) < 1:
                x += 1
                continue
            nr = 1
            while x + nr < hi and self.p.naive.swap_count(x + nr) >= 1:
                nr += 1
            nr = self.p.pte_batch(OP_FREE, x, nr)  # zap_nonpresent_ptes()
            self.p.put(OP_FREE, x, nr, True)
            x += nr
        if data.draw(st.booleans(), label="drop cache"):
            self.drop_cache()

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def pte_batch(self, data):
        """swap_pte_batch() alone over a run of live entries of mixed memcgs."""
        x = data.draw(st.sampled_from(self.live()), label="slot")
        nr = 1
        while x + nr < self.p.total and self.p.naive.swap_count(x + nr) >= 1:
            nr += 1
        self.p.pte_batch(OP_FREE, x, nr)

    @rule()
    def drop_cache(self):
        """Memory pressure: folio_free_swap() on (up to 48) cached folios."""
        for folio, (start, order) in self.cached()[:48]:
            if self.p.naive.folio_swap.get(folio) == start:  # not dropped meanwhile
                self.p.cache_free(OP_SWAPIN, start, 1 << order)

    # ---- swap cache

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def set_mapped(self, data):
        folio, _, _ = self.draw_cached(data)
        self.p.set_flags(folio, FOLIO_MAPPED if data.draw(st.booleans(), label="mapped") else 0)

    @rule(data=st.data())
    def cache_lookup(self, data):
        self.p.cache_lookup(OP_SWAPIN, data.draw(st.integers(0, self.p.total - 1), label="slot"))

    @rule(data=st.data())
    def try_reclaim(self, data):
        x = data.draw(st.integers(0, self.p.total - 1), label="slot")
        self.p.try_reclaim(data.draw(OPS_PUT, label="op"), x, data.draw(st.integers(0, 7), label="flags"))

    def _swapin_nr(self, data, x):
        """A swap-in order whose aligned range holds one swap_cgroup id (the mm's
        can_swapin_thp() batch); else order 0."""
        k = data.draw(st.sampled_from([0, 0, 1, 2, self.max_order()]), label="swapin order")
        nr = 1 << k
        start = x // nr * nr
        if nr > 1 and len({self.memcg_of(y) for y in range(start, start + nr)}) > 1:
            return 1
        return nr

    @precondition(lambda self: self.shadows())
    @rule(data=st.data())
    def swapin(self, data):
        """do_swap_page() on a swapped-out entry: cache add, read, map, put, free."""
        x = data.draw(st.sampled_from(self.shadows()), label="slot")
        if HAS_RA_PROBE:
            self.p.ra_probe(OP_SWAPIN, x)  # after the cache miss: sync or readahead
        nr = self._swapin_nr(data, x)
        folio = self.draw_folio(data)
        if self.p.cache_add(OP_SWAPIN, x, nr, folio) != 0:
            return
        start = x // nr * nr
        if data.draw(st.booleans(), label="read"):
            self.p.read_backend(OP_SWAPIN, x)
        if data.draw(st.booleans(), label="map"):
            self.p.set_flags(folio, FOLIO_MAPPED)
            self.p.put(OP_SWAPIN, x, 1, False)  # swap_free_nr() for the faulting PTE
            if data.draw(st.booleans(), label="free cache"):
                self.p.cache_free(OP_SWAPIN, start, nr)

    @precondition(lambda self: HAS_RA_PROBE)
    @rule(data=st.data())
    def ra_probe(self, data):
        """The sync-or-readahead choice on any slot (free, bad, shared, continued)."""
        self.p.ra_probe(OP_SWAPIN, data.draw(st.integers(0, self.p.total - 1), label="slot"))

    @rule(data=st.data())
    def cache_add_any(self, data):
        """Cache adds on arbitrary real slots (ENOENT / EEXIST paths)."""
        x = data.draw(st.sampled_from(self.real_slots()), label="slot")
        self.p.cache_add(OP_READAHEAD, x, self._swapin_nr(data, x), self.draw_folio(data))

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def read_backend(self, data):
        _, start, nr = self.draw_cached(data)
        self.p.read_backend(OP_SWAPIN, start + data.draw(st.integers(0, nr - 1), label="page"))

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def writeout(self, data):
        _, start, nr = self.draw_cached(data)
        self.p.writeout(OP_WRITEOUT, start, nr, data.draw(BACKENDS, label="backend"))

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def rewrite(self, data):
        """A redirtied folio written out again, possibly to another backend."""
        folio, start, nr = self.draw_cached(data)
        for _ in range(2):
            if self.p.naive.folio_swap.get(folio) != start:
                break
            self.p.writeout(OP_WRITEOUT, start, nr, data.draw(BACKENDS, label="backend"))

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def cache_del(self, data):
        _, start, nr = self.draw_cached(data)
        self.p.cache_del(OP_CACHE_DEL, start, nr)

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def cache_free(self, data):
        _, start, nr = self.draw_cached(data)
        self.p.cache_free(OP_SWAPIN, start, nr)

    # ---- zswap writeback, reclaim scans

    @rule(data=st.data())
    def zswap_cycle(self, data):
        """Swap out to zswap, write back to the device, swap in again."""
        order = data.draw(st.sampled_from([0, 0, 1]), label="order")
        off, _ = self._swapout(data, 0, order, data.draw(MEMCGS, label="memcg"), True)
        if off < 0:
            return
        nr = 1 << order
        if self.p.writeout(OP_WRITEOUT, off, nr, BACKEND_ZSWAP) != BACKEND_ZSWAP:
            return
        self.p.cache_del(OP_CACHE_DEL, off, nr)
        x = off + data.draw(st.integers(0, nr - 1), label="page")
        if data.draw(st.booleans(), label="writeback"):
            self.p.zswap_writeback(OP_ZSWAP_WB, x, self.draw_folio(data))
        if self.p.cache_add(OP_SWAPIN, x, 1, self.draw_folio(data)) == 0:
            self.p.read_backend(OP_SWAPIN, x)

    @rule(data=st.data())
    def zswap_writeback(self, data):
        """Writeback of a zswapped shadow (the usual case), of a shadow whose zswap entry
        is gone (-ENOMEM) or of any slot (-EEXIST / -ENOENT)."""
        z = [x for x in self.zswapped() if self.p.naive.slot_kind(x) == "shadow"] or self.zswapped()
        kind = data.draw(st.sampled_from(["zswap", "zswap", "shadow", "any"]), label="which slot")
        if kind == "zswap" and z:
            x = data.draw(st.sampled_from(z), label="slot")
        elif kind == "shadow" and self.shadows():
            x = data.draw(st.sampled_from(self.shadows()), label="slot")
        else:
            x = data.draw(st.sampled_from(self.real_slots()), label="slot")
        self.p.zswap_writeback(OP_ZSWAP_WB, x, self.draw_folio(data))

    @rule(force=st.booleans())
    def reclaim_full(self, force):
        self.p.reclaim_full(force)

    @rule(data=st.data())
    def swap_counts(self, data):
        for x in data.draw(st.lists(st.integers(0, self.p.total - 1), max_size=6), label="slots"):
            self.p.swap_count(x)

    # ---- swapoff

    @precondition(lambda self: not self.swapped_off and self.steps >= self.swapoff_from_step
                  and self.p.naive.inuse)
    @rule()
    def swapoff(self):
        """swapoff(2), once per run, late in it and on a device in use (``swapoff_pair``);
        the rules after it see every allocation fail on both sides."""
        swapoff_pair(self.p)
        self.swapped_off = True


_HC = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
TestClassicSmallClusters = ClassicMachine.TestCase
TestClassicSmallClusters.settings = settings(max_examples=50, stateful_step_count=30,
                                             deadline=None, suppress_health_check=_HC)


class BigClusterMachine(ClassicMachine):
    """512-slot clusters (the kernel's SWAPFILE_CLUSTER): orders up to 9."""

    configs = device_configs([512], 3)
    swapoff_from_step = 8

    def fill_orders(self):  # order-0 fills run in the small machine (1535 steps here)
        return [3, 5, self.max_order(), self.max_order()]


TestClassicBigClusters = BigClusterMachine.TestCase
TestClassicBigClusters.settings = settings(max_examples=20, stateful_step_count=20,
                                           deadline=None, suppress_health_check=_HC)


# --------------------------------------------------------------------------- unit tests


def _delta(pair, before):
    """Counter cells that changed since ``before``, by name."""
    d = pair.ctx.counters - before
    return {(OPS[i], PRIMITIVES[j]): int(d[i, j]) for i, j in np.argwhere(d)}


def _row(delta, op):
    name = OPS[op]
    return {p: v for (o, p), v in delta.items() if o == name}


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
    assert _delta(p, before) == {
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
    d = _row(_delta(p, before), OP_ALLOC)
    assert "map_read" not in d and d["mem_alloc"] == 1 and d["map_write"] == 4


def test_dup_past_62_adds_a_continuation_page_and_put_borrows_back():
    p = Pair(64, csize=16)
    (e,) = _swapped(p, 1)
    for _ in range(61):
        p.dup(OP_DUP, e, 1, check=False)
    assert p.swap_count(e) == 62 and int(p.dst.swap_map[e]) == SWAP_MAP_MAX
    before = p.ctx.counters.copy()
    assert p.dup(OP_DUP, e, 1) == 0
    assert _delta(p, before) == {
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
    assert _delta(p, before) == {("dup", "cluster_lock"): 1, ("dup", "map_read"): 2, ("dup", "map_write"): 1}
    p.put(OP_FREE, e, 1, True)  # 63
    before = p.ctx.counters.copy()
    p.put(OP_FREE, e, 1, True)  # 62: the low digit 0 borrows from the continuation
    assert _delta(p, before) == {
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
    d = _row(_delta(p, before), OP_DUP)
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
    assert _delta(p, before) == {
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
    d = _row(_delta(p, before), OP_FREE)
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
    d = _row(_delta(p, before), OP_WRITEOUT)
    assert d["zeromap_write"] == 2 and d["xa_store"] == 2 and d["mem_alloc"] == 2
    # folio_swapped: _swap_info_get, then stops at the first count
    assert d["cluster_lock"] == 1 and d["map_read"] == 2
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 2, BACKEND_ZSWAP) == BACKEND_ZSWAP
    assert _row(_delta(p, before), OP_WRITEOUT)["mem_free"] == 2
    assert p.writeout(OP_WRITEOUT, off, 2, BACKEND_ZERO) == BACKEND_ZERO
    assert p.naive.zswap_entries() == 2 and p.naive.zeromap == {off, off + 1}
    assert p.read_backend(OP_SWAPIN, off) == BACKEND_ZERO
    before = p.ctx.counters.copy()
    assert p.writeout(OP_WRITEOUT, off, 2, BACKEND_DISK) == BACKEND_DISK
    d = _row(_delta(p, before), OP_WRITEOUT)
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
    d = _delta(p, before)
    # __read_swap_cache_async: swap_cache_get_folio (table_read), swap_entry_swapped
    # (lock + map_read), swapcache_prepare, charge, cache add
    assert _row(d, OP_ZSWAP_WB) == {
        "cluster_lock": 3, "map_read": 3, "map_write": 1, "memcg_read": 1, "memcg_charge": 1,
        "table_read": 2, "table_write": 1, "xa_lookup": 1, "xa_node_visit": 2,
        "xa_erase": 1, "xa_node_free": 1, "mem_free": 1,
    }
    assert _row(d, OP_CACHE_DEL) == {
        "cluster_lock": 2, "table_read": 1, "table_write": 1, "map_read": 3, "map_write": 1,
    }
    assert p.naive.slots[off].count == 1 and not p.naive.slots[off].has_cache
    assert p.zswap_writeback(OP_ZSWAP_WB, off, 2) == verbs.ENOMEM  # the entry is gone


def test_swapin_put_without_reclaim_then_free_the_cache():
    p = Pair(64, csize=16)
    (e,) = _swapped(p, 1, memcg=5)
    before = p.ctx.counters.copy()
    assert p.cache_add(OP_SWAPIN, e, 1, 9) == 0
    assert _row(_delta(p, before), OP_SWAPIN) == {
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
    d = _delta(p, before)
    assert d[("reclaim_scan", "si_lock")] >= 1  # the slow path scanned one full cluster
    assert int(p.ctx.meta[C_CACHE_DROPS]) == 1 and p.naive.slot_kind(5) == "null"


def test_reclaim_full_scans_swap_map_bytes():
    p = Pair(64, csize=16)
    offs = [p.alloc(0, 0, 1 + i, 0) for i in range(40)]  # 40 of 63, cache-only
    assert all(o > 0 for o in offs) and p.naive.vm_swap_full()
    before = p.ctx.counters.copy()
    assert p.reclaim_full(False) == 15  # cluster 0: slot 0 is bad
    d = _row(_delta(p, before), OP_RECLAIM_SCAN)
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
    d = _row(_delta(p, before), OP_ALLOC)
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
    d = _delta(p, before)
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
    assert _delta(p, before) == {("swapin", "map_read"): 1}
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


def _kernel_pair(deviation, *args, **kw):
    """A pair for the test of one former deviation (named for the reader)."""
    return Pair(*args, **kw)


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
    p = _kernel_pair("discard_restart_skips_empty_list", 32, csize=16, discard=True)
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
    p = _kernel_pair("cache_add_without_alloc_checks", 64, csize=16)
    (e,) = _swapped(p, 1)
    p.cache_add(OP_SWAPIN, e, 1, 9)  # the pair compares here


def test_kernel_zswap_writeback_of_a_free_slot_returns_enomem():
    """The return-code half of the test above: zswap_writeback_entry() on a slot that is
    no longer swapped: swap_cache_alloc_folio() returns NULL, the kernel -ENOMEM."""
    p = _kernel_pair("cache_add_without_alloc_checks", 64, csize=16)
    p.zswap_writeback(OP_ZSWAP_WB, 7, 9)  # the pair compares here


def test_kernel_disk_writeout_erases_zswap_entries_even_if_zswap_never_ran():
    """Former design bug (counter, shared core/zswap.py zswap_drop_stale): mm/zswap.c
    zswap_store(): ``if (!zswap_enabled) goto check_old;`` ... ``check_old: if (!ret)
    { for each page: entry = xa_erase(tree, offset + index); if (entry)
    zswap_entry_free(entry); }`` -- there is no zswap_never_enabled() test on this
    path (only zswap_load() has one), so a system without zswap still pays an
    xa_erase per page of every disk writeout.  The design skips it ([I] in its
    docstring).  Repro: alloc, dup, writeout to disk with zswap never enabled."""
    p = _kernel_pair("check_old_needs_zswap_enabled", 64, csize=16)
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
    p = _kernel_pair("clear_shadow_write_only", 64, csize=16)
    (e,) = _swapped(p, 1)
    p.put(OP_FREE, e, 1, True)  # the pair compares here


def test_kernel_swap_cgroup_record_reads_the_old_id():
    """DESIGN INCONSISTENCY (counter): mm/swap_cgroup.c swap_cgroup_record(): ``old =
    __swap_cgroup_id_xchg(map, offset, id); VM_BUG_ON(old);`` per slot, the same xchg
    swap_cgroup_clear() does, which the design counts as memcg_read + memcg_write; at
    the record it counts the memcg_write only (classic.py cl_alloc).
    Repro: an allocation with a memcg."""
    p = _kernel_pair("cgroup_record_write_only", 64, csize=16)
    p.alloc(0, 0, 1, 3)  # the pair compares here


def test_kernel_swap_info_get_reads_the_swap_map_byte():
    """Former design bug (counter): mm/swapfile.c (07adc4cf) _swap_info_get(): ``if
    (data_race(!si->swap_map[swp_offset(entry)])) goto bad_free;`` -- one swap_map
    read at the start of swap_free_nr() (put without cache reclaim), put_swap_folio()
    (the second half of every swap-cache delete) and folio_swapped()
    (folio_free_swap).  The design counts none of them.
    Repro: alloc, dup, cache_del: the delete is one map_read short."""
    p = _kernel_pair("swap_info_get_read_uncounted", 64, csize=16)
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
