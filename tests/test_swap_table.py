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
from naive_swap_table import BAD, COUNT_MAX, NaiveSwapTable, Slot

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
    F_FLAGS,
    F_ORDER,
    F_SWAP,
    FOLIO_MAPPED,
)
from vswap_nb.designs import swap_table as st_design

try:  # the flag appeared while this file was written; absent = always enabled
    from vswap_nb.core.verbs import C_ZSWAP_ENABLED
except ImportError:  # pragma: no cover
    C_ZSWAP_ENABLED = None

ZSWAP_SPAN = 1 << 14


# --------------------------------------------------------------------------- the pair


class Pair:
    """The Numba design and the naive model, driven together; every verb call is
    followed by assert_same() unless ``check=False``."""

    def __init__(self, nslots, *, csize, ncpu=1, solidstate=True, discard=False,
                 blkdev=True, zswap_on=False):
        self.dst = st_design.new_state(
            nslots, ncpu=ncpu, cluster_size=csize, solidstate=solidstate,
            discard=discard, blkdev=blkdev,
        )
        self.total = self.dst.dev.table.shape[0]
        self.nfolios = 2 * self.total + 8
        self.ctx = verbs.new_ctx(self.nfolios)
        self.naive = NaiveSwapTable(
            nslots, ncpu=ncpu, cluster_size=csize, solidstate=solidstate,
            discard=discard, blkdev=blkdev,
        )
        self.csize = csize
        self.ncpu = ncpu
        if zswap_on:  # the mm marks zswap enabled up front when the system has it
            self.set_zswap_enabled()

    def set_zswap_enabled(self):
        self.naive.zswap_enabled = True
        if C_ZSWAP_ENABLED is not None:
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

    def _both(self, name, nb_args, nv_args, check=True):
        """Run verb ``name`` on both; compare the return values and then the whole
        state (``check=True``), the counter matrix only (``"light"``, inside long loops
        that end with a full check) or nothing (``False``)."""
        got = getattr(verbs, name)(self.dst, self.ctx, *nb_args)
        want = getattr(self.naive, name)(*nv_args)
        assert int(got) == want, f"{name}{nv_args}: numba returned {int(got)}, naive {want}"
        if check == "light":
            assert_same_counters(self, f"after {name}{nv_args}")
        elif check:
            assert_same(self, f"after {name}{nv_args}")
        return want

    # one method per verb, same arguments as the verbs (minus dst/ctx)
    def alloc(self, cpu, order, folio, memcg, check=True):
        return self._both("alloc", (cpu, order, folio, memcg), (cpu, order, folio, memcg), check)

    def dup(self, op, entry, nr, check=True):
        return self._both("dup", (op, entry, nr), (op, entry, nr), check)

    def pte_batch(self, op, entry, nr, check=True):
        return self._both("pte_batch", (op, entry, nr), (op, entry, nr), check)

    def put(self, op, entry, nr, reclaim_cache, check=True):
        return self._both("put", (op, entry, nr, bool(reclaim_cache)), (op, entry, nr, bool(reclaim_cache)), check)

    def cache_lookup(self, op, entry, check=True):
        return self._both("cache_lookup", (op, entry), (op, entry), check)

    def cache_add(self, op, entry, nr, folio, check=True):
        return self._both("cache_add", (op, entry, nr, folio), (op, entry, nr, folio), check)

    def cache_del(self, op, entry, nr, check=True):
        return self._both("cache_del", (op, entry, nr), (op, entry, nr), check)

    def cache_free(self, op, entry, nr, check=True):
        return self._both("cache_free", (op, entry, nr), (op, entry, nr), check)

    def try_reclaim(self, op, entry, flags, check=True):
        return self._both("try_reclaim", (op, entry, flags), (op, entry, flags), check)

    def writeout(self, op, entry, nr, backend, check=True):
        return self._both("writeout", (op, entry, nr, backend), (op, entry, nr, backend), check)

    def read_backend(self, op, entry, check=True):
        return self._both("read_backend", (op, entry), (op, entry), check)

    def zswap_writeback(self, op, entry, folio, check=True):
        return self._both("zswap_writeback", (op, entry, folio), (op, entry, folio), check)

    def reclaim_full(self, force, check=True):
        return self._both("reclaim_full", (bool(force),), (bool(force),), check)

    def unuse_entry(self, op, off, check=True):
        return self._both("unuse_entry", (op, off), (op, off), check)

    def unuse(self, op, entry, folio, check=True):
        return self._both("unuse", (op, entry, folio), (op, entry, folio), check)

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


_BAD_WORD = ((1 << 64) - 1) & ~7  # SWP_TB_BAD: all ones above 0b1000


def counters_diff(got, want):
    out = {}
    for i, j in np.argwhere(got != want):
        out[(OPS[i], PRIMITIVES[j])] = (int(got[i, j]), int(want[i, j]))
    return out


def _numba_list(dev, lid):
    out = []
    c = int(dev.lists[lid, D.LS_HEAD])
    while c >= 0 and len(out) <= dev.ci.shape[0]:
        out.append(c)
        c = int(dev.ci[c, D.CI_NEXT])
    return out


def assert_same_counters(pair, where=""):
    ctx = pair.ctx
    want = np.array(pair.naive.counter_matrix(), dtype=np.int64)
    if not np.array_equal(ctx.counters, want):
        raise AssertionError(
            f"{where}: counters differ {{cell: (numba, naive)}}: {counters_diff(ctx.counters, want)}"
        )


def assert_same(pair, where=""):
    n, dst, ctx = pair.naive, pair.dst, pair.ctx
    dev = dst.dev
    assert_same_counters(pair, where)

    # every table word, extend-table word and memcg id (one pass over the naive slots;
    # expected_word() spelled out inline, this runs after every verb call)
    words = []
    ext = np.zeros(pair.total, dtype=np.int64)
    for i, s in enumerate(n.slots):
        if s is None:
            words.append(0)
        elif s is BAD:
            words.append(_BAD_WORD)
        else:
            c = s.count
            words.append((min(COUNT_MAX, c) << 60) | (int(s.zero) << 59)
                         | (1 if s.folio is None else (s.folio << 2) | 2))
            if c >= COUNT_MAX:
                ext[i] = c
    words = np.array(words, dtype=np.uint64)
    bad = np.flatnonzero(dev.table.view(np.uint64) != words)
    assert bad.size == 0, (
        f"{where}: table words differ at {bad[:8].tolist()}: numba "
        f"{[hex(int(dev.table[i]) & ((1 << 64) - 1)) for i in bad[:8]]}, naive "
        f"{[n.slots[i] for i in bad[:8]]}"
    )
    bad = np.flatnonzero(dst.ext.astype(np.int64) != ext)
    assert bad.size == 0, f"{where}: extend-table words differ at {bad[:8].tolist()}"
    memcg = np.zeros(pair.total, dtype=np.int64)
    for off, mid in n.memcg.items():
        memcg[off] = mid
    bad = np.flatnonzero(dst.memcg.astype(np.int64) != memcg)
    assert bad.size == 0, f"{where}: memcg ids differ at {bad[:8].tolist()}"

    # clusters and their lists
    for c, cl in enumerate(n.clusters):
        row = dev.ci[c]
        got = (int(row[D.CI_COUNT]), int(row[D.CI_FLAGS]), int(row[D.CI_ORDER]),
               int(row[D.CI_LIST]), int(row[D.CI_TABLE]), int(row[D.CI_EXT]))
        exp = (cl.count, cl.flags, cl.order,
               -1 if cl.on_list is None else _LIST_IDS[cl.on_list],
               int(cl.has_table), int(cl.has_ext))
        assert got == exp, (
            f"{where}: cluster {c} (count, flags, order, list, table, ext): numba {got}, naive {exp}"
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

    # device and design words
    meta = dev.meta
    got = {
        "max": int(meta[D.D_MAX]),
        "pages": int(meta[D.D_PAGES]),
        "inuse": int(meta[D.D_INUSE]),
        "avail": int(meta[D.D_AVAIL]),
        "reclaim_pending": int(meta[D.D_RECLAIM_PENDING]),
        "discard_pending": int(meta[D.D_DISCARD_PENDING]),
        "tables": int(meta[D.D_TABLES]),
        "peak_tables": int(meta[D.D_PEAK_TABLES]),
        "alloc_fail": int(meta[D.D_ALLOC_FAIL]),
        "writeok": int(meta[D.D_FLAGS] & D.SWP_WRITEOK != 0),
        "off": int(meta[D.D_OFF]),
        "ext_tables": int(dst.meta[st_design.T_EXT_TABLES]),
    }
    exp = {
        "max": n.max,
        "pages": n.pages,
        "inuse": n.inuse,
        "avail": int(n.avail),
        "reclaim_pending": int(n.reclaim_pending),
        "discard_pending": int(n.discard_pending),
        "tables": n.tables,
        "peak_tables": n.peak_tables,
        "alloc_fail": n.alloc_fail,
        "writeok": int(n.writeok),
        "off": int(n.off),
        "ext_tables": n.ext_tables(),
    }
    assert got == exp, f"{where}: device words: numba {got}, naive {exp}"

    # zswap trees: entries of every tree, heights, node count
    zs = dst.zswap
    for t, xa in enumerate(n.trees):
        idx = np.arange(t * ZSWAP_SPAN, min((t + 1) * ZSWAP_SPAN, pair.total), dtype=np.int64)
        out = np.empty(idx.size, dtype=np.int64)
        radix._load_many(zs, t, idx, out)
        got_keys = set((idx[out >= 0]).tolist())
        assert got_keys == set(xa.d), (
            f"{where}: zswap tree {t}: numba {sorted(got_keys)}, naive {sorted(xa.d)}"
        )
        assert int(radix.xa_height(zs, t)) == xa.height(), f"{where}: zswap tree {t} height"
    nodes = sum(len(xa.nodes()) for xa in n.trees)
    assert int(zs.aux[radix.M_NR_NODES]) == nodes, f"{where}: zswap nodes"
    assert int(zs.aux[radix.M_ENTRIES]) == n.zswap_entries(), f"{where}: zswap entries"

    # folio side of the context
    for col, d, name in ((F_SWAP, n.folio_swap, "folio->swap"), (F_ORDER, n.folio_order, "folio order"),
                         (F_FLAGS, n.folio_flags, "folio flags")):
        exp_col = np.zeros(pair.nfolios, dtype=np.int64)
        exp_col[np.fromiter(d.keys(), np.int64, len(d))] = np.fromiter(d.values(), np.int64, len(d))
        bad = np.flatnonzero(ctx.folio[:, col] != exp_col)
        assert bad.size == 0, (
            f"{where}: {name} differs for folios {bad[:8].tolist()}: numba "
            f"{ctx.folio[bad[:8], col].tolist()}, naive {exp_col[bad[:8]].tolist()}"
        )
    assert int(ctx.meta[C_CACHE_DROPS]) == n.cache_drops, f"{where}: cache drops"
    if C_ZSWAP_ENABLED is not None:
        assert int(ctx.meta[C_ZSWAP_ENABLED]) == int(n.zswap_enabled), f"{where}: zswap enabled"

    out = np.zeros(N_STRUCTURES, dtype=np.int64)
    verbs.metadata_bytes(dst, out)
    exp_md = n.metadata_bytes()
    got_md = {name: int(out[i]) for i, name in enumerate(STRUCTURES)}
    # structures the swap table design does not have (other designs' rows) are 0
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
    a device of 1536 slots may have over a thousand entries to unuse."""
    p.swapoff_begin()
    dirty = None  # the cluster changed since the last full check
    for x in range(p.total):  # unuse_mm() over every swap PTE
        if dirty is not None and x // p.csize != dirty:
            assert_same(p, f"after unuse_pte() of cluster {dirty}")
            dirty = None
        s = p.naive.slots[x]
        if not isinstance(s, Slot) or s.count < 1:
            continue
        dirty = x // p.csize
        folio = p.cache_lookup(OP_SWAPOFF, x, check="light")
        if folio < 0:  # __read_swap_cache_async() of this page
            folio = p.free_folios(1)[0]
            assert p.cache_add(OP_SWAPOFF, x, 1, folio, check="light") == 0, (
                f"swapoff: cache add of live entry {x}")
            p.read_backend(OP_SWAPOFF, x, check="light")
        while p.naive.swap_count(x) >= 1:  # unuse_pte() per PTE: folio_put_swap()
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
        "zswap_on": draw(st.booleans()),
    }


OPS_PUT = st.sampled_from([OP_FREE, OP_SWAPIN])
TIMES = st.sampled_from([1, 2, 3, 13, 14, 15, 16, 20])  # around the 14/15 overflow
BACKENDS = st.sampled_from([BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_ZSWAP, BACKEND_DISK])
MEMCGS = st.sampled_from([0, 1, 1, 2, 3])


class SwapTableMachine(RuleBasedStateMachine):
    """Random valid operation sequences on both models, compared after every call."""

    configs = device_configs([16, 32], 8)
    swapoff_from_step = 14  # swapoff ends a run's use of the device: not before this step

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
        return [x for x, s in enumerate(self.p.naive.slots) if isinstance(s, Slot) and pred(s)]

    def live(self):
        return self._slots(lambda s: s.count >= 1)

    def dupable(self):
        return self._slots(lambda s: s.count >= 1 or s.folio is not None)

    def shadows(self):
        return self._slots(lambda s: s.count >= 1 and s.folio is None)

    def cached(self):
        return sorted(self.p.naive.cached_folios().items())

    def zswapped(self):
        return sorted(k for xa in self.p.naive.trees for k in xa.d)

    def real_slots(self):
        return [x for x, s in enumerate(self.p.naive.slots) if s is not BAD]

    def max_order(self):
        return min(self.p.csize.bit_length() - 1, D.PMD_ORDER)

    def fill_orders(self):
        return [0, 0, 1, self.max_order()]

    def draw_folio(self, data):
        return data.draw(st.sampled_from(self.p.free_folios()), label="folio")

    def draw_cached(self, data):
        folio, (start, order) = data.draw(st.sampled_from(self.cached()), label="cached folio")
        return folio, start, 1 << order

    # ---- allocation and unmap

    def _swapout(self, data, cpu, order, memcg, unmap):
        """folio_alloc_swap() and, if ``unmap``, try_to_unmap(): (entry or errno, folio)."""
        folio = self.draw_folio(data)
        off = self.p.alloc(cpu, order, folio, memcg)
        if off < 0:
            return off, folio
        self.p.set_flags(folio, FOLIO_MAPPED)
        if unmap:
            # try_to_unmap_one(): folio_dup_swap() once per PTE
            for i in range(1 << order):
                self.p.dup(OP_DUP, off + i, 1)
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
        """Allocate until the device says no (alloc failure returns a negative errno)."""
        order = data.draw(st.sampled_from(self.fill_orders()), label="order")
        memcg = data.draw(MEMCGS, label="memcg")
        unmap = data.draw(st.booleans(), label="unmap")
        for _ in range(self.p.total):
            cpu = data.draw(st.integers(0, self.p.ncpu - 1), label="cpu")
            if self._swapout(data, cpu, order, memcg, unmap)[0] < 0:
                break

    @rule(data=st.data())
    def swapout_cycle(self, data):
        """Reclaim of one folio: allocate, unmap, write out, drop from the cache."""
        cpu = data.draw(st.integers(0, self.p.ncpu - 1), label="cpu")
        order = data.draw(st.integers(0, self.max_order()), label="order")
        off, folio = self._swapout(data, cpu, order, data.draw(MEMCGS, label="memcg"), True)
        if off < 0:
            return
        nr = 1 << order
        backend = data.draw(BACKENDS, label="backend")
        self.p.writeout(OP_WRITEOUT, off, nr, backend)
        if self.p.naive.folio_swap.get(folio):  # still cached (writeout did not free it)
            self.p.cache_del(OP_CACHE_DEL, off, nr)

    # ---- swap counts

    @precondition(lambda self: self.dupable())
    @rule(data=st.data())
    def dup(self, data):
        x = data.draw(st.sampled_from(self.dupable()), label="slot")
        want = data.draw(st.integers(1, 4), label="nr")
        cend = (x // self.p.csize + 1) * self.p.csize
        ok = set(self.dupable())
        nr = 1
        while nr < want and x + nr < cend and x + nr in ok:
            nr += 1
        self.p.dup(OP_DUP, x, nr)

    @precondition(lambda self: self.dupable())
    @rule(data=st.data())
    def dup_many(self, data):
        """Push one slot's count past 14 (extend table) or near it."""
        x = data.draw(st.sampled_from(self.dupable()), label="slot")
        for _ in range(data.draw(TIMES, label="times")):
            self.p.dup(OP_DUP, x, 1)

    @precondition(lambda self: self.dupable())
    @rule(data=st.data())
    def overflow_roundtrip(self, data):
        """Counts up past 14 (extend table allocated) and back down (freed at 14/13)."""
        x = data.draw(st.sampled_from(self.dupable()), label="slot")
        for _ in range(data.draw(st.integers(13, 18), label="ups")):
            self.p.dup(OP_DUP, x, 1)
        for _ in range(data.draw(st.integers(1, 6), label="downs")):
            self.p.put(OP_FREE, x, 1, True)

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def put(self, data):
        x = data.draw(st.sampled_from(self.live()), label="slot")
        want = data.draw(st.sampled_from([1, 1, 2, 3, 8, 40]), label="nr")
        ok = set(self.live())
        nr = 1
        while nr < want and x + nr in ok:
            nr += 1
        self.p.put(data.draw(OPS_PUT, label="op"), x, nr, data.draw(st.booleans(), label="reclaim_cache"))

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def put_many(self, data):
        x = data.draw(st.sampled_from(self.live()), label="slot")
        reclaim = data.draw(st.booleans(), label="reclaim_cache")
        for _ in range(data.draw(TIMES, label="times")):
            if self.p.naive.swap_count(x) < 1:
                break
            self.p.put(OP_FREE, x, 1, reclaim)

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def zap(self, data):
        """munmap/exit: swap_put_entries_direct() over every run of live entries of a
        range of clusters, then the folios left cache-only are dropped."""
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
        """A swap-in order whose aligned range holds only real swap entries (the PTE
        batch the mm passes); over zswap entries a large one is refused (-EBUSY)."""
        k = data.draw(st.sampled_from([0, 0, 1, 2, self.max_order()]), label="swapin order")
        nr = 1 << k
        start = x // nr * nr
        rng = range(start, start + nr)
        if nr > 1 and any(self.p.naive.slots[y] is BAD for y in rng):
            return 1
        return nr

    @precondition(lambda self: self.shadows())
    @rule(data=st.data())
    def swapin(self, data):
        """do_swap_page() on a swapped-out entry: cache add, read, map, put, free."""
        x = data.draw(st.sampled_from(self.shadows()), label="slot")
        nr = self._swapin_nr(data, x)
        folio = self.draw_folio(data)
        if self.p.cache_add(OP_SWAPIN, x, nr, folio) != 0:
            return
        start = x // nr * nr
        if data.draw(st.booleans(), label="read"):
            self.p.read_backend(OP_SWAPIN, start)
        if data.draw(st.booleans(), label="map"):
            self.p.set_flags(folio, FOLIO_MAPPED)
            self.p.put(OP_SWAPIN, x, 1, False)  # folio_put_swap() for the faulting PTE
            if data.draw(st.booleans(), label="free cache"):
                self.p.cache_free(OP_SWAPIN, start, nr)

    @rule(data=st.data())
    def cache_add_any(self, data):
        """Cache adds on arbitrary real slots (ENOENT / EEXIST / EBUSY paths)."""
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
        backend = data.draw(BACKENDS, label="backend")
        self.p.writeout(OP_WRITEOUT, start, nr, backend)

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
        off, folio = self._swapout(data, 0, order, data.draw(MEMCGS, label="memcg"), True)
        if off < 0:
            return
        nr = 1 << order
        if self.p.writeout(OP_WRITEOUT, off, nr, BACKEND_ZSWAP) != BACKEND_ZSWAP:
            return
        self.p.cache_del(OP_CACHE_DEL, off, nr)
        x = off + data.draw(st.integers(0, nr - 1), label="page")
        if data.draw(st.booleans(), label="writeback"):
            self.p.zswap_writeback(OP_ZSWAP_WB, x, self.draw_folio(data))
        folio = self.draw_folio(data)
        if self.p.cache_add(OP_SWAPIN, x, 1, folio) == 0:
            self.p.read_backend(OP_SWAPIN, x)

    @rule(data=st.data())
    def zswap_writeback(self, data):
        z = [x for x in self.zswapped() if self.p.naive.slot_kind(x) == "shadow"] or self.zswapped()
        if z and data.draw(st.sampled_from([True, True, True, False]), label="zswapped slot"):
            x = data.draw(st.sampled_from(z), label="slot")
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


SMALL = settings(max_examples=75, stateful_step_count=35, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                        HealthCheck.data_too_large])
TestSwapTableSmallClusters = SwapTableMachine.TestCase
TestSwapTableSmallClusters.settings = SMALL


class BigClusterMachine(SwapTableMachine):
    """512-slot clusters (the kernel's SWAPFILE_CLUSTER): orders up to 9, 512-word
    extend-table scans."""

    configs = device_configs([512], 3)

    swapoff_from_step = 8

    def fill_orders(self):  # order-0 fills run in the small machine (1535 steps here)
        return [3, 5, self.max_order(), self.max_order()]


TestSwapTableBigClusters = BigClusterMachine.TestCase
TestSwapTableBigClusters.settings = settings(
    max_examples=20, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------- unit tests


def _delta(pair, before):
    """Counter cells that changed since ``before``, by name."""
    d = pair.ctx.counters - before
    return {(OPS[i], PRIMITIVES[j]): int(d[i, j]) for i, j in np.argwhere(d)}


def _row(delta, op):
    name = OPS[op]
    return {p: v for (o, p), v in delta.items() if o == name}


def test_first_alloc_takes_cluster_0_from_nonfull():
    """Slot 0 is bad, so cluster 0 starts on nonfull[0]; the first order-0 allocation
    isolates it from there (no table allocation: the bad slot already made one) and
    returns entry 1."""
    p = Pair(64, csize=16)
    assert p.naive.lists[("nonfull", 0)] == [0] and p.naive.lists["free"] == [1, 2, 3]
    before = p.ctx.counters.copy()
    assert p.alloc(0, 0, 5, 0) == 1
    assert _delta(p, before) == {
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
    assert _delta(p, before) == {
        ("alloc", "pcpu_access"): 1, ("alloc", "cluster_lock"): 2, ("alloc", "table_read"): 2,
        ("alloc", "table_write"): 1, ("alloc", "memcg_charge"): 1, ("alloc", "memcg_write"): 1,
    }


def test_large_alloc_is_aligned_and_takes_a_free_cluster():
    p = Pair(128, csize=16)
    assert p.alloc(0, 0, 1, 0) == 1
    before = p.ctx.counters.copy()
    assert p.alloc(0, 2, 2, 0) == 16  # nonfull[2] empty, then the free list: cluster 1
    d = _row(_delta(p, before), OP_ALLOC)
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
    assert _delta(p, before) == {
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
    assert _delta(p, before) == {
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
    assert _delta(p, before) == {
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
    assert _delta(p, before) == {
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
    assert _delta(p, before) == {
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
    assert _delta(p, before) == {
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
    d = _row(_delta(p, before), OP_FREE)
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
    assert _row(_delta(p, before), OP_SWAPIN) == {
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
    d = _delta(p, before)
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
    assert _row(_delta(p, before), OP_ALLOC)["mem_free"] == 2


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


def _kernel_pair(**kw):
    kw.setdefault("csize", 512)
    return Pair(kw.pop("nslots", 1024), **kw)


def test_kernel_disk_writeout_invalidates_stale_zswap_entry():
    """swap_writeout() to disk drops the folio's stale zswap entry.

    mm/zswap.c zswap_store(): when the folio is not stored (zswap disabled, rejected,
    or the store failed: the BACKEND_DISK case), ``check_old:`` runs
    ``zswap_invalidate(swp_type(swp), swp_offset(swp), nr_pages)``: per page an
    ``xa_empty`` check and an ``xa_erase`` (freeing a stale entry).  Sequence: alloc,
    dup, writeout ZSWAP, (the folio is redirtied) writeout DISK.  The kernel ends with
    no zswap entry (a stale one would make a later read return the old data)."""
    p = _kernel_pair()
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
    p = _kernel_pair()
    off = p.alloc(0, 0, 1, 0)
    p.dup(OP_DUP, off, 1)
    p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZSWAP)
    p.writeout(OP_WRITEOUT, off, 1, BACKEND_ZSWAP)
    row = p.ctx.counters[OP_WRITEOUT]
    assert int(row[PRIMITIVES.index("mem_alloc")]) == 2 and int(row[PRIMITIVES.index("mem_free")]) == 1
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
    p = _kernel_pair(nslots=32, csize=16)
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
    p = _kernel_pair()
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
    assert _delta(p, before) == {
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
