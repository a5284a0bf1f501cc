"""Memory.  Every anonymous page in RAM belongs to a folio: order 0, or a large folio
of 2**order pages (System.thp), one row per page chained from the head (see
mm/state.py).  Memory is counted in pages.  Free memory = RAM pages - folios in use - pages of the zswap pool - pages
of zram's compressed store (zram keeps its data in RAM) - the design's swap metadata
(static and dynamic, sampled after every reclaim batch, so a design with more metadata
reclaims more under global pressure).  No memcg is charged for swap metadata: the
swap tables, memcg tables, XArray nodes, zswap entries and vswap clusters and
descriptors are allocated without __GFP_ACCOUNT in 6.18/6.19, P4 and vswap v6.
Fragmentation of the buddy allocator and compaction are not modelled.  The watermarks min/low/high
come from :class:`vswap_nb.mm.config.System`.  An optional memcg ``memory.max`` limits
the workload's charge: its folios plus its zswap pool pages on cgroup v2 (zswap memory
is charged to the memcg there, not on v1; zram's is not charged on either).

This module owns the folio pool and the two LRU lists, the drops log (folios a design
dropped from the swap cache, which the engine frees) and the cost clock: the model
ns of an operation (counters x cost table plus mm costs) added to a CPU's clock.
"""
from __future__ import annotations

import numpy as np

from ..core.counters import N_OPS, N_PRIMITIVES
from ..core.jit import njit
from ..core.verbs import C_CACHE_DROPS, DROP_RING, FOLIO_MAPPED, F_FLAGS
from .config import P_MEMCG_CHARGES_ZSWAP, P_RAM_PAGES
from .state import (
    ACTIVE,
    FL_PARTIAL,
    FO_HEAD,
    FO_LINK,
    FO_MEMCG,
    FO_NMAP,
    FO_ORDER,
    MC_USAGE,
    MC_USAGE_PEAK,
    FL_ACTIVE,
    FL_ONLRU,
    FL_RO,
    FL_USED,
    FM_ACCOUNTED,
    FM_ZRAM_BYTES,
    FM_ZSWAP_BYTES,
    FO_ENTRY,
    FO_FLAGS,
    FO_NEXT,
    FO_PAGE,
    FO_PREV,
    F_FMETA,
    F_PARAMS,
    F_PRIM_NS,
    H_META,
    INACTIVE,
    LRU_COUNT,
    LRU_HEAD,
    LRU_TAIL,
    M_DROPS_SEEN,
    M_FREE_TOP,
    M_MD_PAGES,
    M_USED_FOLIOS,
    PAGE_SIZE,
)
from .store import entry_dead


@njit(inline="always")
def _pool_pages(st):
    b = st.hf[F_FMETA + FM_ZSWAP_BYTES] + st.hf[F_FMETA + FM_ZRAM_BYTES]
    return np.int64(np.ceil(b / PAGE_SIZE))


@njit(inline="always")
def avail(st):
    """Free pages: RAM less the folios, zswap's pool and zram's store, and the swap
    metadata (sampled after every reclaim batch; no memcg is charged for it)."""
    return np.int64(st.hf[F_PARAMS + P_RAM_PAGES]) - st.hi[H_META + M_USED_FOLIOS] - _pool_pages(st) - st.hi[H_META + M_MD_PAGES]


@njit(inline="always")
def memcg_usage(st, m):
    """Pages charged to memcg ``m``: its folios, plus its part of zswap's pool on v2."""
    if st.hf[F_PARAMS + P_MEMCG_CHARGES_ZSWAP] == 0:  # cgroup v1: zswap's pool is not charged
        return st.mc[m, MC_USAGE]
    return st.mc[m, MC_USAGE] + np.int64(np.ceil(st.mcz[m] / PAGE_SIZE))


@njit(inline="always")
def memcg_charge(st, f, m, nr):
    """Folio ``f`` (``nr`` pages, every row) is charged to memcg ``m``."""
    r = f
    while r >= 0:
        st.fo[r, FO_MEMCG] = m
        r = st.fo[r, FO_LINK]
    u = st.mc[m, MC_USAGE] + nr
    st.mc[m, MC_USAGE] = u
    if u > st.mc[m, MC_USAGE_PEAK]:
        st.mc[m, MC_USAGE_PEAK] = u


@njit(inline="always")
def _uncharge_row(st, r):
    m = st.fo[r, FO_MEMCG]
    if m >= 0:
        st.mc[m, MC_USAGE] -= 1
    st.fo[r, FO_MEMCG] = -1


@njit
def lru_del(st, f):
    fl = st.fo[f, FO_FLAGS]
    if (fl & FL_ONLRU) == 0:
        return
    lst = ACTIVE if fl & FL_ACTIVE else INACTIVE
    m = st.fo[f, FO_MEMCG]
    p = st.fo[f, FO_PREV]
    n = st.fo[f, FO_NEXT]
    if p >= 0:
        st.fo[p, FO_NEXT] = n
    else:
        st.lru[m, lst, LRU_HEAD] = n
    if n >= 0:
        st.fo[n, FO_PREV] = p
    else:
        st.lru[m, lst, LRU_TAIL] = p
    st.fo[f, FO_NEXT] = -1
    st.fo[f, FO_PREV] = -1
    st.lru[m, lst, LRU_COUNT] -= np.int64(1) << st.fo[f, FO_ORDER]
    st.fo[f, FO_FLAGS] = fl & ~(FL_ONLRU | FL_ACTIVE)


@njit(inline="always")
def _lru_add(st, f, lst, at_head):
    """``f`` goes to the head (or the tail) of list ``lst`` of the memcg it is charged to."""
    m = st.fo[f, FO_MEMCG]
    if at_head:
        h = st.lru[m, lst, LRU_HEAD]
        st.fo[f, FO_PREV] = -1
        st.fo[f, FO_NEXT] = h
        if h >= 0:
            st.fo[h, FO_PREV] = f
        else:
            st.lru[m, lst, LRU_TAIL] = f
        st.lru[m, lst, LRU_HEAD] = f
    else:
        t = st.lru[m, lst, LRU_TAIL]
        st.fo[f, FO_NEXT] = -1
        st.fo[f, FO_PREV] = t
        if t >= 0:
            st.fo[t, FO_NEXT] = f
        else:
            st.lru[m, lst, LRU_HEAD] = f
        st.lru[m, lst, LRU_TAIL] = f
    st.lru[m, lst, LRU_COUNT] += np.int64(1) << st.fo[f, FO_ORDER]
    fl = st.fo[f, FO_FLAGS] | FL_ONLRU
    if lst == ACTIVE:
        fl |= FL_ACTIVE
    else:
        fl &= ~FL_ACTIVE
    st.fo[f, FO_FLAGS] = fl


@njit
def lru_add_head(st, f, lst):
    _lru_add(st, f, lst, True)


@njit
def lru_add_tail(st, f, lst):
    _lru_add(st, f, lst, False)


@njit
def folio_pop(st, ctx):
    """An order-0 folio (a row off the free stack), or -1."""
    top = st.hi[H_META + M_FREE_TOP]
    if top == 0:
        return -1
    top -= 1
    st.hi[H_META + M_FREE_TOP] = top
    f = st.free_stack[top]
    st.hi[H_META + M_USED_FOLIOS] += 1
    st.fo[f, FO_FLAGS] = FL_USED
    st.fo[f, FO_PAGE] = -1
    st.fo[f, FO_ENTRY] = 0
    st.fo[f, FO_ORDER] = 0
    st.fo[f, FO_HEAD] = f
    st.fo[f, FO_LINK] = -1
    st.fo[f, FO_NMAP] = 0
    st.fo[f, FO_MEMCG] = -1
    ctx.folio[f, F_FLAGS] = 0
    return f


@njit
def folio_pop_large(st, ctx, order):
    """A folio of 2**order pages: that many rows chained from the first (the head), or
    -1.  [I: the buddy allocator's free lists and fragmentation are not modelled; the
    caller checks the watermark.]"""
    nr = np.int64(1) << order
    if st.hi[H_META + M_FREE_TOP] < nr:
        return -1
    h = folio_pop(st, ctx)
    prev = h
    for _ in range(nr - 1):
        r = folio_pop(st, ctx)
        st.fo[r, FO_HEAD] = h
        st.fo[prev, FO_LINK] = r
        prev = r
    st.fo[h, FO_ORDER] = order
    return h


@njit(inline="always")
def folio_nr(st, f):
    return np.int64(1) << st.fo[f, FO_ORDER]


@njit
def folio_member(st, f, i):
    """The row of page ``i`` of folio ``f``."""
    r = f
    for _ in range(i):
        r = st.fo[r, FO_LINK]
    return r


@njit
def _row_free(st, ctx, r):
    _uncharge_row(st, r)
    st.fo[r, FO_FLAGS] = 0
    st.fo[r, FO_PAGE] = -1
    st.fo[r, FO_ENTRY] = 0
    st.fo[r, FO_ORDER] = 0
    st.fo[r, FO_HEAD] = r
    st.fo[r, FO_LINK] = -1
    st.fo[r, FO_NMAP] = 0
    ctx.folio[r, F_FLAGS] = 0
    st.free_stack[st.hi[H_META + M_FREE_TOP]] = r
    st.hi[H_META + M_FREE_TOP] += 1
    st.hi[H_META + M_USED_FOLIOS] -= 1


@njit
def folio_free(st, ctx, f):
    """Free folio ``f`` (all its pages)."""
    lru_del(st, f)
    r = f
    while r >= 0:
        nxt = st.fo[r, FO_LINK]
        _row_free(st, ctx, r)
        r = nxt


@njit
def folio_split(st, ctx, f):
    """split_folio() of the large folio ``f``, not in the swap cache: every page becomes
    an order-0 folio with the head's flags; the mapped ones go to the tail of the
    head's LRU list in page order (reclaim takes them next, as split_folio_to_list()
    puts them on the list it reclaims), the unmapped ones are freed (the split's
    folio_put of unmapped tails).  Returns the number of pages still mapped."""
    fl = st.fo[f, FO_FLAGS]
    lst = ACTIVE if fl & FL_ACTIVE else INACTIVE
    on_lru = (fl & FL_ONLRU) != 0
    lru_del(st, f)
    keep = (fl & ~(FL_ONLRU | FL_ACTIVE | FL_PARTIAL)) | FL_USED
    r = f
    mapped = 0
    while r >= 0:
        nxt = st.fo[r, FO_LINK]
        st.fo[r, FO_ORDER] = 0
        st.fo[r, FO_HEAD] = r
        st.fo[r, FO_LINK] = -1
        st.fo[r, FO_NMAP] = 0
        st.fo[r, FO_ENTRY] = 0
        if st.fo[r, FO_PAGE] >= 0:
            st.fo[r, FO_FLAGS] = keep
            ctx.folio[r, F_FLAGS] = FOLIO_MAPPED
            if on_lru:
                lru_add_tail(st, r, lst)
            mapped += 1
        else:
            _row_free(st, ctx, r)
        r = nxt
    return mapped


@njit
def drain_drops(st, ctx):
    """After a verb call that may drop folios from the swap cache (``put`` with cache
    reclaim, ``cache_free``, an allocation or a writeback that reclaims cache-only
    slots): the folios the design dropped since the last drain lose their entries, and
    an unmapped one is freed.  The drain mark lives in the state, so every call site is
    the verb call and this."""
    n = ctx.meta[C_CACHE_DROPS]
    for k in range(st.hi[H_META + M_DROPS_SEEN], n):
        f = ctx.drops[k % DROP_RING]
        e = st.fo[f, FO_ENTRY]
        if e != 0:
            for i in range(folio_nr(st, f)):
                entry_dead(st, e + i)
            st.fo[f, FO_ENTRY] = 0
        st.fo[f, FO_FLAGS] &= ~FL_RO
        if (st.fo[f, FO_FLAGS] & FL_USED) and (ctx.folio[f, F_FLAGS] & FOLIO_MAPPED) == 0:
            folio_free(st, ctx, f)
    st.hi[H_META + M_DROPS_SEEN] = n


# --------------------------------------------------------------------------- cost


@njit(inline="always")
def add_op_cost(st, ctx, op, c):
    """``c`` plus the model ns of counter row ``op`` (counters x cost table)."""
    for p in range(N_PRIMITIVES):
        v = ctx.counters[op, p]
        if v != 0:
            c += v * st.hf[F_PRIM_NS + p]
    return c


@njit
def _cost_now(st, ctx):
    c = 0.0
    for op in range(N_OPS):
        c = add_op_cost(st, ctx, op, c)
    return c


@njit
def flush_cost(st, ctx):
    """Model ns the verbs spent since the last flush."""
    c = _cost_now(st, ctx)
    d = c - st.hf[F_FMETA + FM_ACCOUNTED]
    st.hf[F_FMETA + FM_ACCOUNTED] = c
    return d
