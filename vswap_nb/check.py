"""Invariants of a run's state: what must hold between any two kernel calls.

``check_invariants(run_state)`` takes the state of a run (the ``(mm state, ctx,
design state)`` triple :func:`vswap_nb.mm.run.run` keeps, or a design state alone with
its ``Ctx``) and raises :class:`InvariantError` naming the design, the structure, the
index and what differs at the first violation.  ``simulate(..., check="phase")`` runs it
after every phase of the workload and at the end; ``check="every"`` also after every
chunk of 64 scheduling quanta (about 2000 page events).

What is checked
---------------
Entries, against the mm (needs the mm state):

* every swap PTE's entry is allocated, and its swap count equals the number of swap
  PTEs holding it (the count is PTE references; the swap cache is not a count);
* every allocated entry is held by a swap PTE or by a folio in the swap cache (no
  entry leaks);
* the mm's record of where each swapped page's data is sits on an allocated entry,
  every entry a swap PTE holds has its data somewhere (zero, zswap, the device or a
  cached folio), and the pages the mm stored in zswap are exactly the design's zswap
  entries;
* the swap cache agrees on both sides: a used folio's entry in the mm (``FO_ENTRY``)
  equals the design side's ``folio->swap`` (``Ctx.folio[:, F_SWAP]``), a free folio has
  neither, every entry of a cached folio is allocated, and a cached folio's order is
  the design's folio_order().

Folios (mm state): every present PTE maps a used row naming its page; a large folio
is one chain of 2**order rows from its head, and its mapped-page count equals the
present PTEs mapping it; the pages in use add up, and per memcg its LRU sizes (pages),
its charge and its swap charge (the swap records charged to it).

Every swap device in the design state (found by walking the state's fields, so the
physical device and a virtual design's own device alike):

* each cluster list is a well-formed doubly linked list whose length word is right,
  and every cluster sits on the list its ``list`` word names, with the flags of that
  list (free: FREE, full: FULL, discard: DISCARD, nonfull[o]: NONFULL of order o,
  frag[o]: FRAG of order o); no cluster is left isolated between operations;
* each cluster's count is within [0, cluster size]; a FREE cluster has count 0 and no
  table; the number of clusters with a table equals the device's table count;
* the device's in-use count equals the sum of the cluster counts less the bad slots
  (slot 0 and the tail past the last slot);
* each per-CPU offset is 0 (invalid) or inside the device's clusters (the last
  cluster's tail past ``si->max`` included: the scan that sets it stops at the
  cluster's end, and the next scan finds the tail's bad slots).

Every XArray pool (``XAPool``) in the design state: the nodes reachable from the tree
heads are exactly the pool's node count, each node's count word equals its non-NULL
slots and its parent/offset words point back where it hangs, and the values reachable
equal the pool's entry count.

Virtual swap (``vswap_v5`` / ``vswap_v6``): each live virtual cluster's count equals
the allocated slots in its bitmap (cluster 0's slots reserved with entry 0 included); a descriptor of type SWAPFILE points at a physical
slot whose reverse map points back at the descriptor's entry (forward and reverse maps
agree), and every reverse-map word of the physical device points at such a descriptor.

The Swap Table Edition (``vswap_ste``, and ``ghost`` with zswap): no free vswap slot
keeps a backend word; every PHYS word of the virtual_table points at a physical slot
whose reverse map points back, and every reverse-map word at a PHYS slot that points
at it; ghost's per-cluster forward-table counts equal the cluster's PHYS slots and the
number of clusters with a table equals the design's count.

At the end of a run (``final=True``): no entry is allocated and every device is empty
(in-use 0).  The vswap designs keep empty clusters referenced by their per-CPU caches;
those are not counted as left over.

These checks read NumPy arrays only (one small Numba kernel collects swap counts), so
they add no counters and change nothing in the state: a checked run counts exactly as
an unchecked one.
"""
from __future__ import annotations

import numpy as np

from .core import verbs
from .core.device import (
    CF_DISCARD,
    CF_FRAG,
    CF_FREE,
    CF_FULL,
    CF_NONFULL,
    CI_COUNT,
    CI_FLAGS,
    CI_LIST,
    CI_NEXT,
    CI_ORDER,
    CI_PREV,
    CI_TABLE,
    D_CLUSTER_SHIFT,
    D_INUSE,
    D_MAX,
    D_NCLUSTERS,
    D_OFF,
    D_TABLES,
    L_DISCARD,
    L_FRAG,
    L_FREE,
    L_FULL,
    L_NONFULL,
    LS_HEAD,
    LS_LEN,
    LS_TAIL,
    N_LISTS,
    N_ORDERS,
    SwapDev,
)
from .core.jit import njit
from .core.ref import ref
from .core.metadata import N_STRUCTURES, S_ZSWAP_ENTRY, ZSWAP_ENTRY_BYTES
from .core.radix import (
    M_ENTRIES,
    M_NR_NODES,
    M_NTREES,
    N_META,
    W_COUNT,
    W_OFFSET,
    W_PARENT,
    W_SHIFT,
    W_SLOTS,
    XAPool,
)
from .core.verbs import F_ORDER, F_SWAP
from .core.invariants import InvariantError, fail
from .designs import design_of, entry_space
from .mm import state as MS

__all__ = ["InvariantError", "check_invariants"]

CHECK_MODES = (None, "phase", "every")


@njit
def _swap_counts(dst, out):
    d = ref(dst)
    for e in range(1, out.shape[0]):
        out[e] = verbs.swap_count(d, e)


def swap_counts(dst) -> np.ndarray:
    """The swap count of every entry value of the design (-1: not allocated)."""
    out = np.full(entry_space(dst), -1, dtype=np.int64)
    _swap_counts(dst, out)
    return out


def _walk(obj, path, found):
    if isinstance(obj, (SwapDev, XAPool)):
        found.append((path, obj))
    elif isinstance(obj, tuple) and hasattr(obj, "_fields"):
        for name in obj._fields:
            _walk(getattr(obj, name), f"{path}.{name}" if path else name, found)


# --------------------------------------------------------------------------- devices

_LIST_FLAGS = {L_FREE: CF_FREE, L_FULL: CF_FULL, L_DISCARD: CF_DISCARD}


def _list_name(lst):
    if lst == L_FREE:
        return "free"
    if lst == L_FULL:
        return "full"
    if lst == L_DISCARD:
        return "discard"
    if lst < L_FRAG:
        return f"nonfull[{lst - L_NONFULL}]"
    return f"frag[{lst - L_FRAG}]"


def check_device(design, name, dev):
    ci, lists = dev.ci, dev.lists
    ncl = int(dev.meta[D_NCLUSTERS])
    csize = 1 << int(dev.meta[D_CLUSTER_SHIFT])
    nmax = int(dev.meta[D_MAX])
    seen = np.zeros(ncl, dtype=bool)
    for lst in range(N_LISTS):
        where = f"{name}.lists"
        c, prev, n = int(lists[lst, LS_HEAD]), -1, 0
        while c >= 0:
            if c >= ncl:
                fail(design, where, _list_name(lst), f"links to cluster {c}, past the {ncl} clusters")
            if seen[c]:
                fail(design, where, _list_name(lst), f"reaches cluster {c} twice (a loop or a cluster on two lists)")
            seen[c] = True
            if int(ci[c, CI_PREV]) != prev:
                fail(design, f"{name}.ci", c, f"prev link is {int(ci[c, CI_PREV])}, expected {prev} on list {_list_name(lst)}")
            if int(ci[c, CI_LIST]) != lst:
                fail(design, f"{name}.ci", c, f"list word says {int(ci[c, CI_LIST])}, but it sits on list {_list_name(lst)} ({lst})")
            flags = int(ci[c, CI_FLAGS])
            want = _LIST_FLAGS.get(lst, CF_NONFULL if lst < L_FRAG else CF_FRAG)
            if flags != want:
                fail(design, f"{name}.ci", c, f"flags {flags} on list {_list_name(lst)}, expected {want}")
            if lst >= L_NONFULL and int(ci[c, CI_ORDER]) != (lst - L_NONFULL) % N_ORDERS:
                fail(design, f"{name}.ci", c, f"order {int(ci[c, CI_ORDER])} on list {_list_name(lst)}")
            prev, n = c, n + 1
            c = int(ci[c, CI_NEXT])
        if int(lists[lst, LS_TAIL]) != prev:
            fail(design, where, _list_name(lst), f"tail word {int(lists[lst, LS_TAIL])}, but the last cluster is {prev}")
        if int(lists[lst, LS_LEN]) != n:
            fail(design, where, _list_name(lst), f"length word {int(lists[lst, LS_LEN])}, but {n} clusters are on it")
    if not seen.all():
        c = int(np.flatnonzero(~seen)[0])
        fail(design, f"{name}.ci", c, f"on no list (list word {int(ci[c, CI_LIST])}, flags {int(ci[c, CI_FLAGS])}): left isolated")
    counts = ci[:ncl, CI_COUNT]
    bad = np.flatnonzero((counts < 0) | (counts > csize))
    if bad.size:
        c = int(bad[0])
        fail(design, f"{name}.ci", c, f"count {int(counts[c])} outside [0, {csize}]")
    free = np.flatnonzero((ci[:ncl, CI_FLAGS] == CF_FREE) & ((counts != 0) | (ci[:ncl, CI_TABLE] != 0)))
    if free.size:
        c = int(free[0])
        fail(design, f"{name}.ci", c, f"FREE with count {int(counts[c])} and table {int(ci[c, CI_TABLE])}; expected 0 and none")
    tables = int(np.count_nonzero(ci[:ncl, CI_TABLE]))
    if tables != int(dev.meta[D_TABLES]):
        fail(design, f"{name}.meta", "D_TABLES", f"{int(dev.meta[D_TABLES])} tables counted, {tables} clusters have one")
    nbad = 1 + ncl * csize - nmax  # slot 0 and the tail past si->max
    inuse = int(counts.sum()) - nbad
    if inuse != int(dev.meta[D_INUSE]):
        fail(design, f"{name}.meta", "D_INUSE", f"{int(dev.meta[D_INUSE])} slots in use, the clusters count {inuse}")
    if int(dev.meta[D_OFF]) and inuse != 0:
        fail(design, f"{name}.meta", "D_OFF", f"swapped off with {inuse} slots still in use")
    off = dev.pcpu
    # the next offset may point into the last cluster's tail past si->max: the scan that
    # set it stops at the cluster's end, not at si->max, and finds the tail's bad slots
    wrong = np.argwhere((off < 0) | (off >= ncl * csize))
    if wrong.size:
        cpu, order = (int(x) for x in wrong[0])
        fail(design, f"{name}.pcpu", f"{cpu}, {order}", f"offset {int(off[cpu, order])} outside the device's "
             f"clusters [0, {ncl * csize})")


# --------------------------------------------------------------------------- XArrays


def check_xarray(design, name, xa):
    nodes, aux = xa.nodes, xa.aux
    nslots = nodes.shape[1] - W_SLOTS - 3
    reach, values = 0, 0
    for t in range(int(aux[M_NTREES])):
        head = int(aux[N_META + t])
        if head & 3 == 1:
            values += 1
            continue
        if head == 0:
            continue
        stack = [(head >> 2, -1, 0)]
        while stack:
            nd, parent, offset = stack.pop()
            reach += 1
            where = f"{name}.nodes"
            if int(nodes[nd, W_PARENT]) != parent or (parent >= 0 and int(nodes[nd, W_OFFSET]) != offset):
                fail(design, where, nd, f"parent/offset words ({int(nodes[nd, W_PARENT])}, {int(nodes[nd, W_OFFSET])}), "
                      f"but it hangs at slot {offset} of {parent}")
            slots = nodes[nd, W_SLOTS : W_SLOTS + nslots]
            used = int(np.count_nonzero(slots))
            if used != int(nodes[nd, W_COUNT]):
                fail(design, where, nd, f"count word {int(nodes[nd, W_COUNT])}, {used} slots in use")
            if int(nodes[nd, W_SHIFT]) == 0:
                values += used  # a leaf holds values only
                continue
            for k in np.flatnonzero(slots):
                w = int(slots[k])
                if w & 3 == 2:
                    stack.append((w >> 2, nd, int(k)))
                else:
                    values += 1
    if reach != int(aux[M_NR_NODES]):
        fail(design, f"{name}.aux", "M_NR_NODES", f"{int(aux[M_NR_NODES])} nodes counted, {reach} reachable from the heads")
    if values != int(aux[M_ENTRIES]):
        fail(design, f"{name}.aux", "M_ENTRIES", f"{int(aux[M_ENTRIES])} entries counted, {values} reachable")


# --------------------------------------------------------------------------- designs


def _check_store(design, st, dst, counts, pte, cached):
    """The mm's record of where each swapped page's data is (its store, keyed by
    entry) against the design: every record is on an allocated entry, every entry a
    swap PTE holds has its data somewhere (zero, zswap, device, or a cached folio), and
    the records in zswap are exactly the design's zswap entries."""
    keys = st.store_key
    live = np.flatnonzero(keys != MS.EMPTY_KEY)
    if live.size != int(st.meta[MS.M_STORE_LIVE]):
        fail(design, "mm store", "M_STORE_LIVE", f"{int(st.meta[MS.M_STORE_LIVE])} records counted, {live.size} present")
    k = keys[live]
    off = np.flatnonzero((k >= counts.shape[0]) | (counts[np.minimum(k, counts.shape[0] - 1)] < 0))
    if off.size:
        e = int(k[off[0]])
        fail(design, "mm store", f"entry {e}", "holds a page's data for an entry the design has not allocated")
    where = st.store_val[live, MS.SV_INFO] >> 4
    has_data = np.zeros(counts.shape[0], dtype=bool)
    has_data[k[where != MS.W_NONE]] = True
    lost = np.flatnonzero(pte & ~cached & ~has_data[: pte.shape[0]])
    if lost.size:
        e = int(lost[0])
        fail(design, "mm store", f"entry {e}", f"a swap PTE holds it but its data is nowhere: lost ({lost.size} entries)")
    if st.meta[MS.M_SWAPOFF] and (where == MS.W_DISK).any():
        e = int(k[np.flatnonzero(where == MS.W_DISK)[0]])
        fail(design, "mm store", f"entry {e}", "its data is recorded on the swap device after swapoff")
    md = np.zeros(N_STRUCTURES, dtype=np.int64)
    verbs.metadata_bytes(dst, md)
    zs = int(md[S_ZSWAP_ENTRY]) // ZSWAP_ENTRY_BYTES
    if zs != int(np.count_nonzero(where == MS.W_ZSWAP)):
        fail(design, "zswap", "entries", f"the design holds {zs} zswap entries, the mm stored "
              f"{int(np.count_nonzero(where == MS.W_ZSWAP))} pages in zswap")


def _check_folios(design, st, ctx) -> None:
    """The mm's folios: every present PTE maps a used row that names its page; a large
    folio's rows hang from its head in one chain of 2**order rows, and its mapped-page
    count is the present PTEs mapping it; the LRU sizes (in pages) and the pages in use
    add up; a cached folio's order is the design's folio_order()."""
    fo = st.fo
    used = (fo[:, MS.FO_FLAGS] & MS.FL_USED) != 0
    if int(used.sum()) != int(st.meta[MS.M_USED_FOLIOS]):
        fail(design, "folios", "pages in use", f"{int(used.sum())} used rows, the mm counts {int(st.meta[MS.M_USED_FOLIOS])}")
    present = np.flatnonzero(st.pt[:, MS.PT_STATE] == MS.PTE_PRESENT)
    rows = st.pt[present, MS.PT_VAL]
    bad = np.flatnonzero(~used[rows] | (fo[rows, MS.FO_PAGE] != present))
    if bad.size:
        g = int(present[bad[0]])
        fail(design, "page tables", f"page {g}", f"present PTE maps row {int(rows[bad[0]])}, which is not a used "
             f"row naming this page (its page word: {int(fo[rows[bad[0]], MS.FO_PAGE])})")
    heads = np.flatnonzero(used & (fo[:, MS.FO_HEAD] == np.arange(fo.shape[0])))
    nmapped = np.bincount(fo[rows, MS.FO_HEAD], minlength=fo.shape[0])
    for h in heads[fo[heads, MS.FO_ORDER] > 0]:
        h = int(h)
        nr = 1 << int(fo[h, MS.FO_ORDER])
        r, k = h, 0
        while r >= 0 and k <= nr:
            if fo[r, MS.FO_HEAD] != h or not used[r]:
                fail(design, "folios", f"folio {h}", f"row {r} of its chain is not a used row of it")
            r, k = int(fo[r, MS.FO_LINK]), k + 1
        if k != nr:
            fail(design, "folios", f"folio {h}", f"order {nr.bit_length() - 1} but {k} rows in its chain")
        if fo[h, MS.FO_NMAP] != nmapped[h]:
            fail(design, "folios", f"folio {h}", f"mapped-page count {int(fo[h, MS.FO_NMAP])}, {int(nmapped[h])} PTEs map it")
    cached = heads[ctx.folio[heads, F_SWAP] != 0]
    wrong = cached[ctx.folio[cached, F_ORDER] != fo[cached, MS.FO_ORDER]]
    if wrong.size:
        f = int(wrong[0])
        fail(design, "swap cache", f"folio {f}", f"order {int(fo[f, MS.FO_ORDER])} in the mm, "
             f"{int(ctx.folio[f, F_ORDER])} in the design's swap cache")
    nr_of = np.int64(1) << fo[:, MS.FO_ORDER]
    memcg = fo[:, MS.FO_MEMCG]
    for m in range(st.lru.shape[0]):
        charged = int(used[memcg == m].sum())
        if charged != int(st.mc[m, MS.MC_USAGE]):
            fail(design, "memcg", f"memcg {m}", f"{charged} pages charged to it, its usage says {int(st.mc[m, MS.MC_USAGE])}")
        for lst, name in ((MS.INACTIVE, "inactive"), (MS.ACTIVE, "active")):
            on = (used & (memcg == m) & ((fo[:, MS.FO_FLAGS] & MS.FL_ONLRU) != 0)
                  & (((fo[:, MS.FO_FLAGS] & MS.FL_ACTIVE) != 0) == (lst == MS.ACTIVE)))
            pages = int(nr_of[on].sum())
            if pages != int(st.lru[m, lst, MS.LRU_COUNT]):
                fail(design, "LRU", f"memcg {m} {name}", f"{pages} pages of folios on the list, its size says "
                     f"{int(st.lru[m, lst, MS.LRU_COUNT])}")
    swp = np.bincount(st.store_val[st.store_key != MS.EMPTY_KEY, MS.SV_MEMCG] + 1, minlength=st.lru.shape[0] + 1)[1:]
    bad = np.flatnonzero(swp != st.mc[:, MS.MC_SWAP])
    if bad.size:
        m = int(bad[0])
        fail(design, "memcg", f"memcg {m}", f"{int(swp[m])} swap records charged to it, its swap usage says "
             f"{int(st.mc[m, MS.MC_SWAP])}")


def check_invariants(run_state, *, design=None, final=False) -> None:
    """Raise :class:`InvariantError` at the first broken invariant of ``run_state``
    (``(mm_state, ctx, design_state)`` as kept by a run, or ``(ctx, design_state)``);
    see the module docstring for the list.  ``design`` is the name used in messages
    (default: the state's type name).  ``final=True`` also checks that nothing is left
    allocated (all tasks have exited)."""
    if not isinstance(run_state, tuple) or len(run_state) not in (2, 3):
        raise TypeError(
            "run_state must be (mm_state, ctx, design_state) or (ctx, design_state), "
            f"got {type(run_state).__name__}"
        )
    st = run_state[0] if len(run_state) == 3 else None
    ctx, dst = run_state[-2], run_state[-1]
    if design is None:
        design = type(dst).__name__
    found = []
    _walk(dst, "", found)
    for path, obj in found:
        if isinstance(obj, SwapDev):
            check_device(design, path, obj)
        else:
            check_xarray(design, path, obj)
    counts = swap_counts(dst)
    allocated = counts >= 0
    fsw = ctx.folio[:, F_SWAP]
    cached = np.zeros(counts.shape[0], dtype=bool)
    folios = np.flatnonzero(fsw)
    nr = np.int64(1) << ctx.folio[folios, F_ORDER]
    owner = np.repeat(folios, nr)  # one row per cached entry: its folio, then the entry
    ent = fsw[owner] + np.arange(owner.size) - np.repeat(np.cumsum(nr) - nr, nr)
    bad = np.flatnonzero((ent >= counts.shape[0]) | ~allocated[np.minimum(ent, counts.shape[0] - 1)])
    if bad.size:
        f = int(owner[bad[0]])
        e, k = int(fsw[f]), 1 << int(ctx.folio[f, F_ORDER])
        fail(design, "swap cache", f"folio {f}", f"holds entries {e}..{e + k - 1}, not all allocated")
    cached[ent] = True
    if st is not None:
        swp = st.pt[:, MS.PT_STATE] == MS.PTE_SWAP
        held = np.bincount(st.pt[swp, MS.PT_VAL], minlength=counts.shape[0])
        if held.shape[0] > counts.shape[0]:
            e = int(np.flatnonzero(held[counts.shape[0]:])[0]) + counts.shape[0]
            fail(design, "page tables", f"entry {e}", "a swap PTE holds an entry past the design's entry space")
        pte = held > 0
        wrong = np.flatnonzero(pte & (counts != held))
        if wrong.size:
            e = int(wrong[0])
            fail(design, "swap count", f"entry {e}", f"count {int(counts[e])}, {int(held[e])} swap PTEs hold it")
        used = (st.fo[:, MS.FO_FLAGS] & MS.FL_USED) != 0
        fo_entry = np.where(used, st.fo[:, MS.FO_ENTRY], 0)
        n = min(fo_entry.shape[0], fsw.shape[0])
        diff = np.flatnonzero(fo_entry[:n] != fsw[:n])
        if diff.size:
            f = int(diff[0])
            fail(design, "swap cache", f"folio {f}", f"mm says entry {int(fo_entry[f])} (used {bool(used[f])}), "
                  f"the design's folio->swap is {int(fsw[f])}")
        _check_store(design, st, dst, counts, pte, cached)
        _check_folios(design, st, ctx)
        leak = np.flatnonzero(allocated & ~pte & ~cached)
        if leak.size:
            e = int(leak[0])
            fail(design, "swap count", f"entry {e}", f"allocated (count {int(counts[e])}) but no swap PTE holds it "
                  f"and no folio caches it: leaked ({leak.size} such entries)")
    design_of(dst).check_state(design, dst, counts)
    if final:
        if allocated.any():
            e = int(np.flatnonzero(allocated)[0])
            fail(design, "swap count", f"entry {e}", f"still allocated (count {int(counts[e])}) after every task "
                  f"exited ({int(allocated.sum())} entries)")
        for path, obj in found:
            if isinstance(obj, SwapDev) and int(obj.meta[D_INUSE]) != 0:
                fail(design, f"{path}.meta", "D_INUSE", f"{int(obj.meta[D_INUSE])} slots in use after every task exited")
