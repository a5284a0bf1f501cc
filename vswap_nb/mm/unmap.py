"""Unmap and exit [zap_pte_range].  Present pages free their folio (a folio still in the
swap cache first leaves it, free_swap_cache; a large folio when its last page goes,
queued for a deferred split while some stay mapped); swapped PTEs are put in runs of
consecutive entries within one PMD, each run through the design's ``pte_batch`` and
one ``put`` with cache reclaim (swap_put_entries_direct).
"""
from __future__ import annotations

from ..core import verbs
from ..core.counters import OP_FREE
from ..core.jit import njit
from ..core.verbs import FOLIO_MAPPED, F_FLAGS
from ..core.vmstat import MTHP_SPLIT_DEFERRED
from .cost import M_PAGE_FREE, M_PTE_ZAP
from .memory import drain_drops, folio_free, folio_nr
from .state import (
    FL_PARTIAL,
    FO_ENTRY,
    FO_FLAGS,
    FO_HEAD,
    FO_NMAP,
    FO_ORDER,
    FO_PAGE,
    F_MM_NS,
    PMD_PAGES,
    PTE_NONE,
    PTE_PRESENT,
    PTE_SWAP,
    PT_STATE,
    PT_VAL,
    SV_FOLIO,
    count_mthp,
)
from .store import entry_dead, store_find


@njit
def _zap_large(st, ctx, dst, g, end, f):
    """The present PTEs from page g (before ``end``) that map the large folio f are
    zapped as one batch (zap_present_ptes with folio_pte_batch).  When none of its
    pages stays mapped the folio is freed (after folio_free_swap if it is in the swap
    cache); the first batch that leaves some mapped queues it for a deferred split
    (split_deferred), which reclaim carries out if it gets there first.  Returns
    (PTEs zapped, mm ns)."""
    k = 0
    while g + k < end and st.pt[g + k, PT_STATE] == PTE_PRESENT and st.fo[st.pt[g + k, PT_VAL], FO_HEAD] == f:
        st.fo[st.pt[g + k, PT_VAL], FO_PAGE] = -1
        st.pt[g + k, PT_STATE] = PTE_NONE
        k += 1
    ns = st.hf[F_MM_NS + M_PTE_ZAP] * (k - 1)  # the caller counted the first
    st.fo[f, FO_NMAP] -= k
    if st.fo[f, FO_NMAP] > 0:
        if (st.fo[f, FO_FLAGS] & FL_PARTIAL) == 0:
            st.fo[f, FO_FLAGS] |= FL_PARTIAL
            count_mthp(st, st.fo[f, FO_ORDER], MTHP_SPLIT_DEFERRED)
        return k, ns
    _release(st, ctx, dst, f)
    return k, ns + st.hf[F_MM_NS + M_PAGE_FREE]


@njit
def _release(st, ctx, dst, f):
    """The folio f's last PTE is gone: it is freed, after folio_free_swap if it is in
    the swap cache (where it stays, unmapped, if a swap PTE still holds an entry)."""
    ctx.folio[f, F_FLAGS] &= ~FOLIO_MAPPED
    e = st.fo[f, FO_ENTRY]
    if e != 0:
        nr = folio_nr(st, f)
        if verbs.cache_free(dst, ctx, OP_FREE, e, nr) > 0:
            for j in range(nr):
                entry_dead(st, e + j)
            st.fo[f, FO_ENTRY] = 0
            folio_free(st, ctx, f)
        else:
            st.fo[f, FO_PAGE] = -1  # stays in the swap cache, unmapped
        drain_drops(st, ctx)
    else:
        folio_free(st, ctx, f)


@njit
def zap(st, ctx, dst, t, cpu, mm, start, n):
    """zap_pte_range() over [start, start+n) of mm.  Returns mm ns."""
    base = st.mm_base[mm]
    ns = 0.0
    v = start
    end = start + n
    while v < end:
        g = base + v
        s = st.pt[g, PT_STATE]
        ns += st.hf[F_MM_NS + M_PTE_ZAP]
        if s == PTE_NONE:
            v += 1
            continue
        if s == PTE_PRESENT:
            f = st.fo[st.pt[g, PT_VAL], FO_HEAD]
            if st.fo[f, FO_ORDER] != 0:
                k, kns = _zap_large(st, ctx, dst, g, base + end, f)
                ns += kns
                v += k
                continue
            st.pt[g, PT_STATE] = PTE_NONE
            _release(st, ctx, dst, f)
            ns += st.hf[F_MM_NS + M_PAGE_FREE]
            v += 1
            continue
        # swapped: a run of consecutive entries within the PMD
        e = st.pt[g, PT_VAL]
        pmd_end = min(end, v - v % PMD_PAGES + PMD_PAGES)
        k = 1
        while v + k < pmd_end and st.pt[g + k, PT_STATE] == PTE_SWAP and st.pt[g + k, PT_VAL] == e + k:
            k += 1
        m = verbs.pte_batch(dst, ctx, OP_FREE, e, k)
        if m <= 0:
            m = 1
        verbs.put(dst, ctx, OP_FREE, e, m, True)
        for j in range(m):
            st.pt[g + j, PT_STATE] = PTE_NONE
            x = e + j
            i = store_find(st, x)
            if i >= 0 and st.store_val[i, SV_FOLIO] < 0:
                entry_dead(st, x)
        drain_drops(st, ctx)
        v += m
    return ns


