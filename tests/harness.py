"""One harness for the design-vs-reference tests: a design's Numba state and its plain-Python
reference model driven together, verb by verb, by one hypothesis state machine.

* :class:`Pair` runs a verb on both (the design through ``vswap_nb.core.verbs``, the
  reference through the method of the same name), compares the return values and then,
  after every call, the whole state: the counter matrix (:meth:`Pair.assert_counters`)
  and everything else the design keeps (:meth:`Pair.compare`, one per design, in the
  design's test file).  ``check="light"`` (and every call inside :meth:`Pair.bulk`)
  compares the return value and the counters only; such a loop ends with a full check.
* :class:`VerbMachine` is the generic state machine: random valid operation sequences
  (as the mm keeps them valid: dup/put only live entries, cache operations only on
  cached folios, entry = folio->swap and nr = folio_nr_pages, distinct folio ids), one
  rule per verb or mm path.  A design's machine subclasses it with its configurations,
  its candidate sets (read from the reference model) and the few switches below; rules
  that exist for one design only are extensions in that design's file, and a rule a
  design does not run is set to ``None`` there.
* :func:`swapoff_walk` is swapoff(2) at verb level, as the mm's ``_swapoff`` runs it.
* Shared helpers: :func:`counters_diff`, :func:`delta`, :func:`row`, :func:`dev_list`,
  :func:`compare_device`, :func:`compare_zswap_trees`, :func:`compare_folios`,
  :func:`compare_metadata`, :func:`machine_settings`.
"""
from __future__ import annotations

import contextlib

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

from vswap_nb.core import device as D
from vswap_nb.core import radix, verbs
from vswap_nb.core.counters import (
    OP_CACHE_DEL,
    OP_DUP,
    OP_FREE,
    OP_READAHEAD,
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
    C_CPU,
    C_ZSWAP_ENABLED,
    ENOMEM,
    F_FLAGS,
    F_ORDER,
    F_SWAP,
    FOLIO_MAPPED,
)

BAD_WORD = ((1 << 64) - 1) & ~7  # SWP_TB_BAD as the device writes it for bad slots
M64 = (1 << 64) - 1
ZSWAP_SPAN = 1 << 14  # slots per zswap tree

LIST_IDS = {"free": D.L_FREE, "full": D.L_FULL, "discard": D.L_DISCARD}
for _o in range(D.N_ORDERS):
    LIST_IDS[("nonfull", _o)] = D.L_NONFULL + _o
    LIST_IDS[("frag", _o)] = D.L_FRAG + _o

_OP_ROW = {name: i for i, name in enumerate(OPS)}
_PRIM_COL = {name: j for j, name in enumerate(PRIMITIVES)}

HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


def machine_settings(max_examples, stateful_step_count, **kw):
    """The settings of a state machine's TestCase (derandomized by tests/conftest.py)."""
    return settings(max_examples=max_examples, stateful_step_count=stateful_step_count,
                    deadline=None, suppress_health_check=HEALTH, **kw)


# --------------------------------------------------------------------------- helpers


def counters_diff(got, want):
    """{(op, primitive): (got, want)} of the cells that differ."""
    return {(OPS[i], PRIMITIVES[j]): (int(got[i, j]), int(want[i, j]))
            for i, j in np.argwhere(got != want)}


def delta(pair, before):
    """Counter cells that changed since ``before``, by name."""
    d = pair.ctx.counters - before
    return {(OPS[i], PRIMITIVES[j]): int(d[i, j]) for i, j in np.argwhere(d)}


def row(delta_, op):
    """One operation's row of a :func:`delta`, by primitive."""
    name = OPS[op]
    return {p: v for (o, p), v in delta_.items() if o == name}


def dev_list(dev, lid):
    """The clusters on list ``lid`` of a device, head to tail."""
    out = []
    c = int(dev.lists[lid, D.LS_HEAD])
    while c >= 0 and len(out) <= dev.ci.shape[0]:
        out.append(c)
        c = int(dev.ci[c, D.CI_NEXT])
    return out


def dict_array(d, size):
    """A dict {index: value} as an int64 array of ``size`` (0 elsewhere)."""
    a = np.zeros(size, dtype=np.int64)
    if d:
        a[np.fromiter(d.keys(), np.int64, len(d))] = np.fromiter(d.values(), np.int64, len(d))
    return a


def first_bad(got, want, k=8):
    return np.flatnonzero(got != want)[:k].tolist()


def compare_words(where, name, got, want, show):
    """Two word arrays equal, else the first differing indices with ``show(i)``."""
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (
        f"{where}: {name} differ at {bad[:8].tolist()}: numba "
        f"{[hex(int(got[i]) & M64) for i in bad[:8]]}, naive {[show(int(i)) for i in bad[:8]]}"
    )


def compare_device(where, name, dev, n, ncpu, *, aux=None, kernel=None):
    """A cluster device (``core.device``) against a reference device: every cluster row
    (count, flags, order, list, table, extend table, design word), every list in order
    with its length and tail (empty lists unlinked), the per-CPU offsets (last row: the
    rotational global cluster) and the device words."""
    exp = np.array([(cl.count, cl.flags, cl.order,
                     -1 if cl.on_list is None else LIST_IDS[cl.on_list],
                     int(cl.has_table), int(cl.has_ext), int(aux(c)) if aux else 0)
                    for c, cl in enumerate(n.clusters)], dtype=np.int64)
    cols = [D.CI_COUNT, D.CI_FLAGS, D.CI_ORDER, D.CI_LIST, D.CI_TABLE, D.CI_EXT, D.CI_AUX]
    got = dev.ci[:, cols]
    bad = np.flatnonzero((got != exp).any(axis=1))
    assert bad.size == 0, (
        f"{where}: {name} cluster {int(bad[0])} (count, flags, order, list, table, ext, aux): "
        f"numba {got[bad[0]].tolist()}, naive {exp[bad[0]].tolist()}"
    )
    lens = np.zeros(D.N_LISTS, dtype=np.int64)
    for key, lst in n.lists.items():
        lid = LIST_IDS[key]
        lens[lid] = len(lst)
        if lst:
            got = dev_list(dev, lid)
            assert got == lst, f"{where}: {name} list {key}: numba {got}, naive {lst}"
            assert int(dev.lists[lid, D.LS_TAIL]) == lst[-1], f"{where}: {name} list {key} tail"
    assert np.array_equal(dev.lists[:, D.LS_LEN], lens), f"{where}: {name} list lengths"
    empty = lens == 0
    assert (dev.lists[empty, D.LS_HEAD] == -1).all() and (dev.lists[empty, D.LS_TAIL] == -1).all(), (
        f"{where}: {name} empty lists with links"
    )
    pcpu = np.zeros_like(dev.pcpu)
    for (r, order), off in n.pcpu.items():
        pcpu[ncpu if r == "global" else r, order] = off
    bad = np.argwhere(dev.pcpu != pcpu)
    assert bad.size == 0, (
        f"{where}: {name} next offsets (cpu, order) {bad[:4].tolist()}: numba "
        f"{[int(dev.pcpu[r, o]) for r, o in bad[:4]]}, naive {[int(pcpu[r, o]) for r, o in bad[:4]]}"
    )
    meta = dev.meta
    got = {k: int(meta[i]) for k, i in (
        ("max", D.D_MAX), ("pages", D.D_PAGES), ("inuse", D.D_INUSE), ("avail", D.D_AVAIL),
        ("reclaim_pending", D.D_RECLAIM_PENDING), ("discard_pending", D.D_DISCARD_PENDING),
        ("tables", D.D_TABLES), ("peak_tables", D.D_PEAK_TABLES), ("alloc_fail", D.D_ALLOC_FAIL),
        ("off", D.D_OFF))}
    got["writeok"] = int(meta[D.D_FLAGS] & D.SWP_WRITEOK != 0)
    exp = {"max": n.max, "pages": n.pages, "inuse": n.inuse, "avail": int(n.avail),
           "reclaim_pending": int(n.reclaim_pending), "discard_pending": int(n.discard_pending),
           "tables": n.tables, "peak_tables": n.peak_tables, "alloc_fail": n.alloc_fail,
           "off": int(n.off), "writeok": int(n.writeok)}
    if kernel is not None:
        got["kernel"], exp["kernel"] = int(meta[D.D_KERNEL]), kernel
    assert got == exp, f"{where}: {name} device words: numba {got}, naive {exp}"


def compare_zswap_trees(where, zs, trees, total):
    """The per-64 MiB zswap trees: every tree's entries and height, node and entry counts."""
    for t, xa in enumerate(trees):
        idx = np.arange(t * ZSWAP_SPAN, min((t + 1) * ZSWAP_SPAN, total), dtype=np.int64)
        out = np.empty(idx.size, dtype=np.int64)
        radix._load_many(zs, t, idx, out)
        got_keys = set(idx[out >= 0].tolist())
        assert got_keys == set(xa.d), f"{where}: zswap tree {t}: numba {sorted(got_keys)}, naive {sorted(xa.d)}"
        assert int(radix.xa_height(zs, t)) == xa.height(), f"{where}: zswap tree {t} height"
    assert int(zs.aux[radix.M_NR_NODES]) == sum(len(xa.nodes()) for xa in trees), f"{where}: zswap nodes"
    assert int(zs.aux[radix.M_ENTRIES]) == sum(len(xa.d) for xa in trees), f"{where}: zswap entries"


def compare_folios(where, ctx, n, *, zswap_enabled=True, cpu=False):
    """The folio side of ``Ctx`` (folio->swap, order, flags), the cache drops and, if
    asked, the zswap-enabled flag and the running CPU."""
    nfolios = ctx.folio.shape[0]
    for col, d, name in ((F_SWAP, n.folio_swap, "folio->swap"), (F_ORDER, n.folio_order, "folio order"),
                         (F_FLAGS, n.folio_flags, "folio flags")):
        exp_col = dict_array(d, nfolios)
        bad = np.flatnonzero(ctx.folio[:, col] != exp_col)
        assert bad.size == 0, (
            f"{where}: {name} differs for folios {bad[:8].tolist()}: numba "
            f"{ctx.folio[bad[:8], col].tolist()}, naive {exp_col[bad[:8]].tolist()}"
        )
    assert int(ctx.meta[C_CACHE_DROPS]) == n.cache_drops, f"{where}: cache drops"
    if zswap_enabled:
        assert int(ctx.meta[C_ZSWAP_ENABLED]) == int(n.zswap_enabled), f"{where}: zswap enabled"
    if cpu:
        assert int(ctx.meta[C_CPU]) == n.cpu, f"{where}: C_CPU"


def compare_metadata(where, pair):
    """``metadata_bytes`` of the design against the reference's (absent = 0)."""
    got_md = pair.metadata()
    exp_md = pair.naive.metadata_bytes()
    assert got_md == {name: exp_md.get(name, 0) for name in STRUCTURES}, (
        f"{where}: metadata_bytes: numba {got_md}, naive {exp_md}"
    )


# --------------------------------------------------------------------------- the pair


class Pair:
    """A design's state and ``Ctx`` and its reference model, driven together: every verb
    call compares the return values, then the whole state (``check=True``), the counters
    only (``"light"``, or any call inside :meth:`bulk`) or nothing (``False``).

    A design's pair builds ``dst``, ``naive`` and ``ctx`` and defines :meth:`compare`."""

    tracks_cpu = False  # the design runs non-alloc verbs on Ctx.meta[C_CPU]
    keep_flags = 0  # folio flag bits the design owns: set_flags keeps them

    def __init__(self, dst, naive, nfolios, *, csize, ncpu, zswap_on=False):
        self.dst = dst
        self.naive = naive
        self.nfolios = nfolios
        self.ctx = verbs.new_ctx(nfolios)
        self.total = dst.dev.table.shape[0]  # slots of the design's first device
        self.csize = csize  # its cluster size
        self.ncpu = ncpu
        self.light = False
        self.dirty = False  # a call since the last whole-state comparison was not followed by one
        if zswap_on:
            self.set_zswap_enabled()

    # ---- what a design's pair provides

    def compare(self, where):
        """Everything but the counters against the reference (a design's pair)."""
        raise NotImplementedError

    def naive_args(self, name, args):
        """The reference's arguments of verb ``name`` (the design's by default)."""
        return args

    def after_verb(self, name, args, got):
        """Called after each verb on both (a pair that drives a third state)."""

    def phys_naive(self):
        """The reference's physical device (swapoff's walk)."""
        return self.naive

    def phys_states(self):
        """(state, ctx) of every design state whose physical device swapoff takes down."""
        return [(self.dst, self.ctx)]

    # ---- comparison

    def assert_counters(self, where=""):
        counters = self.naive.counters
        if isinstance(counters, dict):  # {(op, primitive): n}: the cells that were charged
            want = np.zeros_like(self.ctx.counters)
            for (op, prim), v in counters.items():
                want[_OP_ROW[op], _PRIM_COL[prim]] = v
        else:
            want = np.array(self.naive.counter_matrix(), dtype=np.int64)
        if not np.array_equal(self.ctx.counters, want):
            raise AssertionError(
                f"{where}: counters differ {{cell: (numba, naive)}}: {counters_diff(self.ctx.counters, want)}"
            )

    def assert_same(self, where=""):
        self.assert_counters(where)
        self.compare(where)
        self.dirty = False

    def settle(self, where=""):
        """The whole-state comparison a loop of light calls ends with (none when every
        call since the last one was compared in full)."""
        if self.dirty:
            self.assert_same(where)

    @contextlib.contextmanager
    def bulk(self, what):
        """A long loop of verb calls: return values and counters are compared after
        every call, the whole state once at the end."""
        light, self.light = self.light, True
        try:
            yield
        finally:
            self.light = light
        self.settle(f"after {what}")

    # ---- the mm's side

    def set_cpu(self, cpu):
        """The CPU the next non-alloc verb runs on (Ctx.meta[C_CPU])."""
        if self.tracks_cpu:
            self.ctx.meta[C_CPU] = cpu
            self.naive.cpu = cpu

    def set_zswap_enabled(self):
        """The mm marks zswap enabled up front when the system has it."""
        self.ctx.meta[C_ZSWAP_ENABLED] = 1
        self.naive.zswap_enabled = True

    def set_flags(self, folio, flags):
        """The mm's flags of ``folio`` (FOLIO_MAPPED); the design's own bits are kept."""
        flags |= int(self.ctx.folio[folio, F_FLAGS]) & self.keep_flags
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

    def metadata(self):
        out = np.zeros(N_STRUCTURES, dtype=np.int64)
        verbs.metadata_bytes(self.dst, out)
        return {name: int(out[i]) for i, name in enumerate(STRUCTURES)}

    # ---- the verbs

    def _both(self, name, args, check=True, cpu=None):
        if cpu is not None:
            self.set_cpu(cpu)
        got = int(getattr(verbs, name)(self.dst, self.ctx, *args))
        want = getattr(self.naive, name)(*self.naive_args(name, args))
        assert got == want, f"{name}{args}: numba returned {got}, naive {want}"
        self.after_verb(name, args, got)
        if check == "light" or (check and self.light):
            self.assert_counters(f"after {name}{args}")
            self.dirty = True
        elif check:
            self.assert_same(f"after {name}{args}")
        else:
            self.dirty = True
        return want

    def alloc(self, cpu, order, folio, memcg, check=True):
        return self._both("alloc", (cpu, order, folio, memcg), check)

    def dup(self, op, entry, nr, check=True, cpu=None):
        return self._both("dup", (op, entry, nr), check, cpu)

    def pte_batch(self, op, entry, nr, check=True, cpu=None):
        return self._both("pte_batch", (op, entry, nr), check, cpu)

    def put(self, op, entry, nr, reclaim_cache, check=True, cpu=None):
        return self._both("put", (op, entry, nr, bool(reclaim_cache)), check, cpu)

    def cache_lookup(self, op, entry, check=True, cpu=None):
        return self._both("cache_lookup", (op, entry), check, cpu)

    def cache_add(self, op, entry, nr, folio, check=True, cpu=None):
        return self._both("cache_add", (op, entry, nr, folio), check, cpu)

    def cache_del(self, op, entry, nr, check=True, cpu=None):
        return self._both("cache_del", (op, entry, nr), check, cpu)

    def cache_free(self, op, entry, nr, check=True, cpu=None):
        return self._both("cache_free", (op, entry, nr), check, cpu)

    def try_reclaim(self, op, entry, flags, check=True, cpu=None):
        return self._both("try_reclaim", (op, entry, flags), check, cpu)

    def writeout(self, op, entry, nr, backend, check=True, cpu=None):
        return self._both("writeout", (op, entry, nr, backend), check, cpu)

    def read_backend(self, op, entry, check=True, cpu=None):
        return self._both("read_backend", (op, entry), check, cpu)

    def ra_probe(self, op, entry, check=True, cpu=None):
        return self._both("ra_probe", (op, entry), check, cpu)

    def free_after_fault(self, op, entry, folio, sync_dev, full, write, check=True, cpu=None):
        return self._both("free_after_fault", (op, entry, folio, bool(sync_dev), bool(full), bool(write)),
                          check, cpu)

    def zswap_writeback(self, op, entry, folio, check=True, cpu=None):
        return self._both("zswap_writeback", (op, entry, folio), check, cpu)

    def reclaim_full(self, force, check=True, cpu=None):
        return self._both("reclaim_full", (bool(force),), check, cpu)

    def unuse_entry(self, op, off, check=True, cpu=None):
        return self._both("unuse_entry", (op, off), check, cpu)

    def unuse(self, op, entry, folio, check=True, cpu=None):
        return self._both("unuse", (op, entry, folio), check, cpu)

    # ---- swapoff's device steps (core.device on the design's physical device)

    def swapoff_begin(self):
        for dst, _ in self.phys_states():
            D.dev_swapoff_begin(verbs.phys_dev(dst))
        self.naive.swapoff_begin()
        self.assert_same("after swapoff_begin")

    def next_used(self, off):
        want = self.phys_naive().next_used(off)
        for dst, _ in self.phys_states():
            got = int(D.dev_next_used(verbs.phys_dev(dst), off))
            assert got == want, f"dev_next_used({off}): numba {got}, naive {want}"
        return want

    def swapoff_end(self):
        want = self.naive.swapoff_end()
        for dst, ctx in self.phys_states():
            got = int(D.dev_swapoff_end(verbs.phys_dev(dst), dst, ctx, OP_SWAPOFF))
            assert got == want, f"dev_swapoff_end(): numba {got}, naive {want}"
        self.assert_same("after swapoff_end")
        return want

    def swap_count(self, entry):
        got = int(verbs.swap_count(self.dst, entry))
        want = self.naive.swap_count(entry)
        assert got == want, f"swap_count({entry}): numba {got}, naive {want}"
        return want


def assert_same(pair, where=""):
    pair.assert_same(where)


def assert_counters(pair, where=""):
    pair.assert_counters(where)


# --------------------------------------------------------------------------- swapoff


def swapoff_walk(p, *, ptes=None, cpu=None, unused=1, every_call=False, unused_check=None):
    """swapoff(2) of ``p``'s (physical) device at verb level, as the mm's ``_swapoff``
    runs it; everything is charged to the ``swapoff`` row.

    The device stops taking allocations (dev_swapoff_begin).  With ``ptes`` (whether a
    PTE holds slot x: a physical design, ``ptes_hold_slots``) try_to_unuse() walks the
    page tables first (here every swap count is a PTE): each counted entry gets its page in
    the swap cache (the cached folio, else __read_swap_cache_async(): an order-0 cache
    add and the read, as ``_swapin_one``), unuse_pte() puts each PTE's count (no cache
    reclaim) and maps the folio, and folio_free_swap() of the whole folio drops its
    entries once none is counted.  Then the device walk (dev_next_used +
    ``unuse_entry``, find_next_to_unuse) resolves every slot still in use through
    ``unuse`` (which answers ``unused``; ``unused_check(e, folio)`` then checks the
    reference), and dev_swapoff_end() finds the device empty.

    Return values and counters are compared after every call; the whole state after
    every call too with ``every_call``, else after the entries of each cluster (a device
    of 1536 slots may have over a thousand entries to unuse, some with 130 counts) and
    at both ends."""
    check = True if every_call else "light"
    csize = p.phys_naive().csize
    if cpu is not None:
        p.set_cpu(cpu)
    p.swapoff_begin()
    dirty = None  # the cluster changed since the last full check

    def settle(x, what):
        nonlocal dirty
        if dirty is not None and (x < 0 or x // csize != dirty):
            p.settle(f"after {what} of cluster {dirty}")
            dirty = None

    def folio_for(e):
        folio = p.cache_lookup(OP_SWAPOFF, e, check=check)
        if folio < 0:  # __read_swap_cache_async() of this page
            folio = p.free_folios(1)[0]
            if ptes is None:
                p.set_flags(folio, 0)  # a new folio, not mapped: the PTEs keep the entry
            assert p.cache_add(OP_SWAPOFF, e, 1, folio, check=check) == 0, f"swapoff: cache add of {e}"
            p.read_backend(OP_SWAPOFF, e, check=check)
        return folio

    if ptes is not None:
        for x in range(p.total):  # unuse_mm() over every swap PTE
            settle(x, "unuse_pte()")
            if not ptes(x):
                continue
            dirty = x // csize
            folio = folio_for(x)
            while p.naive.swap_count(x) >= 1:  # unuse_pte() per PTE: swap_free()
                p.put(OP_SWAPOFF, x, 1, False, check=check)
            p.set_flags(folio, p.naive.folio_flags.get(folio, 0) | FOLIO_MAPPED)
            start, nr = p.naive.folio_swap[folio], 1 << p.naive.folio_order[folio]
            p.cache_free(OP_SWAPOFF, start, nr, check=check)  # 0 while another page is counted
        settle(-1, "unuse_pte()")
    off = p.next_used(0)
    while off >= 0:  # find_next_to_unuse(): the slots left
        e = p.unuse_entry(OP_SWAPOFF, off, check="light")  # a read: only counters change
        if e:
            dirty = off // csize
            folio = folio_for(e)
            assert p.unuse(OP_SWAPOFF, e, folio, check=check) == unused, f"swapoff: unuse of entry {e}"
            if unused_check is not None:
                unused_check(e, folio)
        off = p.next_used(off + 1)
        settle(off, "unuse")
    p.settle("after the swapoff walk")
    assert p.swapoff_end() == 0


# --------------------------------------------------------------------------- the machine


@st.composite
def device_configs(draw, cluster_sizes, max_clusters, synchronous=True):
    """A physical device: cluster size, 2..max_clusters clusters less a tail, CPUs,
    SSD or not, discard, block device or not, synchronous I/O (if the design has it),
    zswap on up front."""
    csize = draw(st.sampled_from(cluster_sizes))
    ncl = draw(st.integers(2, max_clusters))
    tail = draw(st.sampled_from([0, 0, 1, csize // 2, csize - 1]))
    cfg = {
        "nslots": ncl * csize - tail,
        "csize": csize,
        "ncpu": draw(st.integers(1, 3)),
        "solidstate": draw(st.booleans()),
        "discard": draw(st.booleans()),
        "blkdev": draw(st.sampled_from([True, True, True, False])),
    }
    if synchronous:
        cfg["synchronous"] = draw(st.booleans())
    cfg["zswap_on"] = draw(st.booleans())
    return cfg



class VerbMachine(RuleBasedStateMachine):
    """Random valid operation sequences on a design and its reference, compared after
    every call.  A design's machine sets ``configs`` and ``make_pair`` and provides the
    candidate sets (``live``, ``dupable``, ``shadows``, ``cached``, ``zswapped``,
    ``real_slots``, ``max_order``) from its reference model; the class attributes below
    say how its mm keeps operations valid and how often the whole state is compared."""

    configs = None  # strategy of configurations (keyword arguments of make_pair)
    swapoff_from_step = 0  # swapoff ends a run's use of the device: not before this step
    swapoff_needs_inuse = False  # ... and only on a device in use

    memcgs = st.sampled_from([0, 1, 1, 2, 3])
    backends = st.sampled_from([BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_ZSWAP, BACKEND_DISK])
    ops_put = st.sampled_from([OP_FREE, OP_SWAPIN])
    times = st.sampled_from([1, 2, 3, 13, 14, 15, 16, 20])  # around the count's overflow
    ups = (13, 18)  # overflow_roundtrip: dups past the overflow and puts back
    downs = (1, 6)
    nrs_put = st.sampled_from([1, 1, 2, 3, 8, 40])

    dup_whole_folio = False  # try_to_unmap dups the folio's entries in one call
    dup_in_cluster = True  # a dup of several entries stays in one cluster
    runs_by_memcg = False  # a put / dup of several entries holds one memcg (swap_pte_batch)
    fill_check = True  # fill compares the whole state after every call (else at the end)
    drop_limit = 48  # folios drop_cache frees
    drop_in_bulk = False  # drop_cache compares the whole state at the end only
    zap_reclaim = True  # zap's puts reclaim the cache (None: drawn)
    zap_drops_cache = True  # zap may end with drop_cache
    read_at_start = True  # swapin reads the folio's first page (else the faulting one)
    probe_on_swapin = False  # swapin probes sync-or-readahead before its cache add
    zswap_wb_shadows = False  # zswap_writeback also picks plain shadows (-ENOMEM path)
    drop_after_failed_writeout = True  # swapout_cycle drops a folio whose writeout failed

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
        self.p = self.make_pair(data.draw(self.configs, label="device"))
        self.p.assert_same("after setup")

    # ---- what a design's machine provides

    def make_pair(self, config):
        raise NotImplementedError

    def live(self):
        """Entries with a swap count."""
        raise NotImplementedError

    def dupable(self):
        """Entries a dup may take (a count, or in the swap cache)."""
        raise NotImplementedError

    def shadows(self):
        """Swapped-out entries: a count, no folio in the cache."""
        raise NotImplementedError

    def cached(self):
        """[(folio, first entry, nr)] of the folios in the swap cache, sorted."""
        raise NotImplementedError

    def zswapped(self):
        raise NotImplementedError

    def real_slots(self):
        """Entries a verb may name (not the header or the tail past si->max)."""
        raise NotImplementedError

    def span(self):
        """Entries per cluster of the entry space (virtual clusters for virtual designs)."""
        return self.p.csize

    def max_order(self):
        return min(self.span().bit_length() - 1, D.PMD_ORDER)

    def orders(self):
        return list(range(self.max_order() + 1))

    def fill_orders(self):
        return [0, 0, 1, self.max_order()]

    def fill_limit(self):
        return self.p.total

    def memcg_of(self, x):
        return 0

    def entry_end(self):
        """One past the last entry a verb may name."""
        return self.p.total

    def droppable(self, start, nr):
        """The cached folio at [start, start + nr) may leave the cache without writeout."""
        return True

    def wb_candidates(self):
        """zswap writeback's usual targets: zswapped shadows (else any zswapped slot)."""
        z = self.zswapped()
        return [x for x in z if self.p.naive.slot_kind(x) == "shadow"] or z

    def any_entry(self, data):
        return data.draw(st.integers(0, self.entry_end() - 1), label="slot")

    def draw_real(self, data):
        return data.draw(st.sampled_from(self.real_slots()), label="slot")

    def draw_shadow(self, data):
        return data.draw(st.sampled_from(self.shadows()), label="slot")

    def batchable(self, start, nr):
        """A large swap-in may take the aligned range [start, start + nr)."""
        return True

    def check_at(self, x):
        """The check of one call inside a loop of dups or puts on ``x``."""
        return True

    # ---- helpers

    def cpu(self, data):
        """Draw the CPU this rule runs on (and set Ctx.meta[C_CPU] for its verbs)."""
        cpu = data.draw(st.integers(0, self.p.ncpu - 1), label="cpu")
        self.p.set_cpu(cpu)
        return cpu

    def draw_folio(self, data):
        return data.draw(st.sampled_from(self.p.free_folios()), label="folio")

    def draw_cached(self, data):
        return data.draw(st.sampled_from(self.cached()), label="cached folio")

    def cached_at(self, folio):
        return self.p.naive.folio_swap.get(folio)

    def run_from(self, x, want, ok, cluster=False):
        """Length (<= want) of the run from ``x`` of entries in ``ok`` (within x's
        cluster if ``cluster``; of one memcg where runs are by memcg)."""
        m = self.memcg_of(x)
        end = (x // self.span() + 1) * self.span() if cluster else self.entry_end()
        nr = 1
        while (nr < want and x + nr < end and x + nr in ok
               and (not self.runs_by_memcg or self.memcg_of(x + nr) == m)):
            nr += 1
        return nr

    def swapin_nr(self, data, x):
        """A swap-in order whose aligned range the mm would swap in at once; else 1."""
        k = data.draw(st.sampled_from([0, 0, 1, 2, self.max_order()]), label="swapin order")
        nr = 1 << k
        start = x // nr * nr
        if nr > 1 and not self.batchable(start, nr):
            return 1
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
            if self.dup_whole_folio:
                self.p.dup(OP_DUP, off, 1 << order, check=check, cpu=cpu)
            else:
                for i in range(1 << order):  # one swap_duplicate() per PTE
                    self.p.dup(OP_DUP, off + i, 1, check=check, cpu=cpu)
            self.p.set_flags(folio, 0)
        return off, folio

    @rule(data=st.data())
    def alloc(self, data):
        cpu = self.cpu(data)
        order = data.draw(st.sampled_from(self.orders()), label="order")
        self._swapout(data, cpu, order, data.draw(self.memcgs, label="memcg"),
                      data.draw(st.booleans(), label="unmap"))

    @rule(data=st.data())
    def fill(self, data):
        """Allocate until the device says no; without unmapping, the slots stay
        cache-only and the allocator reclaims them once swap is over half full."""
        order = data.draw(st.sampled_from(self.fill_orders()), label="order")
        memcg = data.draw(self.memcgs, label="memcg")
        unmap = data.draw(st.booleans(), label="unmap")
        check = True if self.fill_check else "light"
        for _ in range(self.fill_limit()):
            cpu = self.cpu(data)
            if self._swapout(data, cpu, order, memcg, unmap, check=check)[0] < 0:
                break
        if not self.fill_check:
            self.p.settle("after fill")

    @rule(data=st.data())
    def swapout_cycle(self, data):
        """Reclaim of one folio: allocate, unmap, write out, drop from the cache."""
        cpu = self.cpu(data)
        order = data.draw(st.sampled_from(self.orders()), label="order")
        off, folio = self._swapout(data, cpu, order, data.draw(self.memcgs, label="memcg"), True)
        if off < 0:
            return
        nr = 1 << order
        r = self.p.writeout(OP_WRITEOUT, off, nr, data.draw(self.backends, label="backend"), cpu=cpu)
        if (r > 0 or self.drop_after_failed_writeout) and self.cached_at(folio) == off:
            self.p.cache_del(OP_CACHE_DEL, off, nr, cpu=cpu)

    # ---- swap counts

    @precondition(lambda self: self.dupable())
    @rule(data=st.data())
    def dup(self, data):
        cpu = self.cpu(data)
        x = data.draw(st.sampled_from(self.dupable()), label="slot")
        nr = self.run_from(x, data.draw(st.integers(1, 4), label="nr"), set(self.dupable()),
                           cluster=self.dup_in_cluster)
        self.p.dup(OP_DUP, x, nr, cpu=cpu)

    @precondition(lambda self: self.dupable())
    @rule(data=st.data())
    def dup_many(self, data):
        """Push one slot's count near or past its overflow, or further."""
        cpu = self.cpu(data)
        x = data.draw(st.sampled_from(self.dupable()), label="slot")
        times = data.draw(self.times, label="times")
        for i in range(times):
            self.p.dup(OP_DUP, x, 1, check=True if times - i <= 2 else self.check_at(x), cpu=cpu)

    @precondition(lambda self: self.dupable())
    @rule(data=st.data())
    def overflow_roundtrip(self, data):
        """Counts up past the overflow (extend table, continuation digit) and back down."""
        cpu = self.cpu(data)
        x = data.draw(st.sampled_from(self.dupable()), label="slot")
        for _ in range(data.draw(st.integers(*self.ups), label="ups")):
            self.p.dup(OP_DUP, x, 1, check=self.check_at(x), cpu=cpu)
        self.p.settle("after the ups")
        for _ in range(data.draw(st.integers(*self.downs), label="downs")):
            if self.p.naive.swap_count(x) < 1:
                break
            self.p.put(OP_FREE, x, 1, data.draw(st.booleans(), label="reclaim_cache"), cpu=cpu)

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def put(self, data):
        """A put of consecutive live entries (of one memcg where puts are batched by it)."""
        cpu = self.cpu(data)
        x = data.draw(st.sampled_from(self.live()), label="slot")
        nr = self.run_from(x, data.draw(self.nrs_put, label="nr"), set(self.live()))
        self.p.put(data.draw(self.ops_put, label="op"), x, nr,
                   data.draw(st.booleans(), label="reclaim_cache"), cpu=cpu)

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def put_many(self, data):
        cpu = self.cpu(data)
        x = data.draw(st.sampled_from(self.live()), label="slot")
        reclaim = data.draw(st.booleans(), label="reclaim_cache")
        for _ in range(data.draw(self.times, label="times")):
            if self.p.naive.swap_count(x) < 1:
                break
            self.p.put(OP_FREE, x, 1, reclaim, check=self.check_at(x), cpu=cpu)
        self.p.settle("after put_many")

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def zap(self, data):
        """munmap/exit: over every run of live entries of one or two clusters,
        swap_pte_batch() (stopping at a cgroup change) then the put of the batch."""
        cpu = self.cpu(data)
        reclaim = self.zap_reclaim
        if reclaim is None:
            reclaim = data.draw(st.booleans(), label="reclaim")
        cs = self.span()
        c0 = data.draw(st.sampled_from(self.live()), label="slot") // cs
        c1 = c0 + data.draw(st.integers(0, 1), label="extra clusters")
        lo, hi = c0 * cs, min((c1 + 1) * cs, self.entry_end())
        x = lo
        while x < hi:
            if self.p.naive.swap_count(x) < 1:
                x += 1
                continue
            nr = 1
            while x + nr < hi and self.p.naive.swap_count(x + nr) >= 1:
                nr += 1
            nr = self.p.pte_batch(OP_FREE, x, nr, cpu=cpu)  # zap_nonpresent_ptes()
            self.p.put(OP_FREE, x, nr, reclaim, cpu=cpu)
            x += nr
        if self.zap_drops_cache and data.draw(st.booleans(), label="drop cache"):
            self.drop_cache(data)

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def pte_batch(self, data):
        """swap_pte_batch() alone over a run of live entries of mixed memcgs."""
        cpu = self.cpu(data)
        x = data.draw(st.sampled_from(self.live()), label="slot")
        nr = 1
        while x + nr < self.entry_end() and self.p.naive.swap_count(x + nr) >= 1:
            nr += 1
        self.p.pte_batch(OP_FREE, x, nr, cpu=cpu)

    @rule(data=st.data())
    def drop_cache(self, data):
        """Memory pressure: folio_free_swap() on cached folios."""
        cpu = self.cpu(data)
        with self.p.bulk("drop_cache") if self.drop_in_bulk else contextlib.nullcontext():
            for folio, start, nr in self.cached()[:self.drop_limit]:
                if self.cached_at(folio) == start:  # not dropped meanwhile
                    self.p.cache_free(OP_SWAPIN, start, nr, cpu=cpu)

    # ---- the swap cache

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def set_mapped(self, data):
        folio, _, _ = self.draw_cached(data)
        self.p.set_flags(folio, FOLIO_MAPPED if data.draw(st.booleans(), label="mapped") else 0)

    @rule(data=st.data())
    def cache_lookup(self, data):
        cpu = self.cpu(data)
        self.p.cache_lookup(OP_SWAPIN, self.any_entry(data), cpu=cpu)

    @rule(data=st.data())
    def try_reclaim(self, data):
        """__try_to_reclaim_swap() on a cached entry or on any entry."""
        cpu = self.cpu(data)
        cached = [s + i for _, s, nr in self.cached() for i in range(nr)]
        if cached and data.draw(st.booleans(), label="cached entry"):
            x = data.draw(st.sampled_from(cached), label="slot")
        else:
            x = self.any_entry(data)
        self.p.try_reclaim(data.draw(self.ops_put, label="op"), x,
                           data.draw(st.integers(0, 7), label="flags"), cpu=cpu)

    @precondition(lambda self: self.shadows())
    @rule(data=st.data())
    def swapin(self, data):
        """do_swap_page() on a swapped-out entry: cache add, read, map, put, free."""
        cpu = self.cpu(data)
        x = self.draw_shadow(data)
        nr = self.swapin_nr(data, x)
        folio = self.draw_folio(data)
        if self.probe_on_swapin:
            self.p.ra_probe(OP_SWAPIN, x, cpu=cpu)  # after the cache miss: sync or readahead
        if self.p.cache_add(OP_SWAPIN, x, nr, folio, cpu=cpu) != 0:
            return
        start = x // nr * nr
        if data.draw(st.booleans(), label="read"):
            self.p.read_backend(OP_SWAPIN, start if self.read_at_start else x, cpu=cpu)
        if data.draw(st.booleans(), label="map"):
            self.p.set_flags(folio, FOLIO_MAPPED)
            self.p.put(OP_SWAPIN, x, 1, False, cpu=cpu)  # the faulting PTE's put
            if data.draw(st.booleans(), label="free cache"):
                self.p.cache_free(OP_SWAPIN, start, nr, cpu=cpu)

    @rule(data=st.data())
    def ra_probe(self, data):
        """The sync-or-readahead choice on a swapped-out entry or any entry (free, bad,
        shared, continued)."""
        cpu = self.cpu(data)
        if self.shadows() and data.draw(st.booleans(), label="swapped"):
            x = self.draw_shadow(data)
        else:
            x = self.any_entry(data)
        self.p.ra_probe(OP_SWAPIN, x, cpu=cpu)

    @rule(data=st.data())
    def cache_add_any(self, data):
        """Cache adds on arbitrary real slots (ENOENT / EEXIST / EBUSY paths)."""
        cpu = self.cpu(data)
        x = self.draw_real(data)
        self.p.cache_add(OP_READAHEAD, x, self.swapin_nr(data, x), self.draw_folio(data), cpu=cpu)

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def read_backend(self, data):
        cpu = self.cpu(data)
        _, start, nr = self.draw_cached(data)
        self.p.read_backend(OP_SWAPIN, start + data.draw(st.integers(0, nr - 1), label="page"), cpu=cpu)

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def writeout(self, data):
        """Writeout of any cached folio: a first one, or a rewrite after a redirty."""
        cpu = self.cpu(data)
        _, start, nr = self.draw_cached(data)
        self.p.writeout(OP_WRITEOUT, start, nr, data.draw(self.backends, label="backend"), cpu=cpu)

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def rewrite(self, data):
        """A redirtied folio written out again, possibly to another backend."""
        cpu = self.cpu(data)
        folio, start, nr = self.draw_cached(data)
        for _ in range(2):
            if self.cached_at(folio) != start:
                break
            self.p.writeout(OP_WRITEOUT, start, nr, data.draw(self.backends, label="backend"), cpu=cpu)

    @precondition(lambda self: any(self.droppable(s, nr) for _, s, nr in self.cached()))
    @rule(data=st.data())
    def cache_del(self, data):
        cpu = self.cpu(data)
        choices = [(f, s, nr) for f, s, nr in self.cached() if self.droppable(s, nr)]
        _, start, nr = data.draw(st.sampled_from(choices), label="cached folio")
        self.p.cache_del(OP_CACHE_DEL, start, nr, cpu=cpu)

    @precondition(lambda self: self.cached())
    @rule(data=st.data())
    def cache_free(self, data):
        cpu = self.cpu(data)
        _, start, nr = self.draw_cached(data)
        self.p.cache_free(OP_SWAPIN, start, nr, cpu=cpu)

    # ---- zswap writeback, reclaim scans

    @rule(data=st.data())
    def zswap_cycle(self, data):
        """Swap out to zswap, maybe write back to the device, swap in again."""
        cpu = self.cpu(data)
        order = data.draw(st.sampled_from([0, 0, 1]), label="order")
        off, _ = self._swapout(data, cpu, order, data.draw(self.memcgs, label="memcg"), True)
        if off < 0:
            return
        nr = 1 << order
        if self.p.writeout(OP_WRITEOUT, off, nr, BACKEND_ZSWAP, cpu=cpu) != BACKEND_ZSWAP:
            return
        self.p.cache_del(OP_CACHE_DEL, off, nr, cpu=cpu)
        x = off + data.draw(st.integers(0, nr - 1), label="page")
        if data.draw(st.booleans(), label="writeback"):
            self.p.zswap_writeback(OP_ZSWAP_WB, x, self.draw_folio(data), cpu=self.cpu(data))
        if self.p.cache_add(OP_SWAPIN, x, 1, self.draw_folio(data), cpu=cpu) == 0:
            self.p.read_backend(OP_SWAPIN, x, cpu=cpu)

    @rule(data=st.data())
    def zswap_writeback(self, data):
        """Writeback of a zswapped shadow (the usual case), of a shadow whose zswap entry
        is gone (-ENOMEM) or of any slot (-EEXIST / -ENOENT)."""
        cpu = self.cpu(data)
        z = self.wb_candidates()
        kinds = ["zswap", "zswap", "shadow", "any"] if self.zswap_wb_shadows else ["zswap"] * 3 + ["any"]
        kind = data.draw(st.sampled_from(kinds), label="which slot")
        if kind == "zswap" and z:
            x = data.draw(st.sampled_from(z), label="slot")
        elif kind == "shadow" and self.shadows():
            x = data.draw(st.sampled_from(self.shadows()), label="slot")
        else:
            x = self.draw_real(data)
        self.p.zswap_writeback(OP_ZSWAP_WB, x, self.draw_folio(data), cpu=cpu)

    @rule(data=st.data())
    def reclaim_full(self, data):
        cpu = self.cpu(data)
        self.p.reclaim_full(data.draw(st.booleans(), label="force"), cpu=cpu)

    @rule(data=st.data())
    def swap_counts(self, data):
        for x in data.draw(st.lists(st.integers(0, self.entry_end() - 1), max_size=6), label="slots"):
            self.p.swap_count(x)

    # ---- swapoff

    def swapoff_ok(self):
        return (not self.swapped_off and self.steps >= self.swapoff_from_step
                and (not self.swapoff_needs_inuse or self.p.phys_naive().inuse))

    def do_swapoff(self, data):
        """The design's swapoff walk (``swapoff_walk``)."""
        raise NotImplementedError

    @precondition(lambda self: self.swapoff_ok())
    @rule(data=st.data())
    def swapoff(self, data):
        """swapoff(2), once per run; the rules after it see every physical allocation
        fail on both sides."""
        self.swapped_off = True
        self.do_swapoff(data)

    def writeout_after_swapoff(self, data, counted):
        """After swapoff, a disk writeout of a folio PTEs still reference fails (no
        physical slot): ``counted`` = [(start, nr)] of such cached folios."""
        if counted and data.draw(st.booleans(), label="writeout to disk"):
            start, nr = data.draw(st.sampled_from(counted), label="cached folio")
            dev = self.p.phys_naive()
            fails = dev.alloc_fail
            assert self.p.writeout(OP_WRITEOUT, start, nr, BACKEND_DISK, cpu=self.cpu(data)) == ENOMEM
            assert dev.alloc_fail == fails + 1


class SlotMachine(VerbMachine):
    """The candidate sets of a reference that keeps one record per slot of the entry
    space (``naive.slots``: ``None``, ``BAD`` or a record with ``count`` and ``folio``);
    ``slot_type`` is the record's class, ``bad`` the reference's ``BAD``."""

    slot_type = None
    bad = None

    def _slots(self, pred):
        return [x for x, s in enumerate(self.p.naive.slots) if isinstance(s, self.slot_type) and pred(s)]

    def live(self):
        return self._slots(lambda s: s.count >= 1)

    def dupable(self):
        return self._slots(lambda s: s.count >= 1 or s.folio is not None)

    def shadows(self):
        return self._slots(lambda s: s.count >= 1 and s.folio is None)

    def cached(self):
        return sorted((f, start, 1 << order) for f, (start, order) in self.p.naive.cached_folios().items())

    def zswapped(self):
        return sorted(k for xa in self.p.naive.trees for k in xa.d)

    def real_slots(self):
        return [x for x, s in enumerate(self.p.naive.slots) if s is not self.bad]

    def batchable(self, start, nr):
        """The PTE batch the mm passes holds real swap entries only."""
        return not any(self.p.naive.slots[y] is self.bad for y in range(start, start + nr))
