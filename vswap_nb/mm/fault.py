"""Faults [mm/memory.c do_swap_page].  A swapped PTE: swap-cache lookup (hit: map it;
a readahead folio counts swap_ra_hit and feeds the VMA window's hits); on a miss the
design's ``ra_probe`` decides between the synchronous path (read this page only) and
swapin_readahead().  VMA readahead (default) sizes the window with
__swapin_nr_pages() (hits + 2, rounded up to a power of two at least 4, capped at
1 << min(page_cluster, 5), never below half the previous window; 1 or 2 when there
were no hits), places it forward, backward or centred by the direction of the last
fault, clips it to the mm's mapped range and to the PMD of the fault, and reads every
PTE of the window that holds a swap entry not in the swap cache (swap_ra counts the
pages read ahead).  Cluster readahead (``vma_readahead=False``) reads the aligned
block of 1 << page_cluster entries around the fault's entry value, skipping entries
with no swap count [I: the count test is free here, the kernel's costs a table read].
After mapping, the PTE's swap count is put (``put`` without cache reclaim,
folio_put_swap), and the folio leaves the swap cache (``cache_free``) when
should_try_to_free_swap() says so: the device is SWP_SYNCHRONOUS_IO, more than half of
the physical swap slots are in use (vm_swap_full, as the allocator reads it: a virtual
design's zero and zswap entries hold no slot), or the fault is a write (exclusive).  [I: for a virtual
entry the physical device's flag is used.]  A read fault that keeps the folio in the
swap cache maps it read-only; a later write frees the swap copy (wp fault ->
folio_free_swap).  A folio read from zswap is dirty (zswap loads are exclusive).

A page access (:func:`touch`) is here too: a present page's young bit and
write-protect fault, a missing page's allocation and zeroing, a swapped page's fault.
"""
from __future__ import annotations

import numpy as np

from ..core import verbs
from ..core.counters import OP_READAHEAD, OP_SWAPIN
from ..core.device import vm_swap_full
from ..core.jit import njit
from ..core.verbs import (
    BACKEND_DISK,
    BACKEND_ZERO,
    BACKEND_ZSWAP,
    FOLIO_MAPPED,
    F_FLAGS,
    RA_SYNC,
)
from ..core.vmstat import (
    MEMCG_PGFAULT,
    MEMCG_PGMAJFAULT,
    MEMCG_PSWPIN,
    MEMCG_ZSWPIN,
    MTHP_ANON_FAULT_ALLOC,
    MTHP_ANON_FAULT_FALLBACK,
    MTHP_ANON_FAULT_FALLBACK_CHARGE,
    MTHP_SWPIN,
    MTHP_SWPIN_FALLBACK,
    MTHP_SWPIN_FALLBACK_CHARGE,
    VM_CONTENT_CHECKS,
    VM_CONTENT_ERRORS,
    VM_FAULT_READAHEAD,
    VM_PGFAULT,
    VM_PGMAJFAULT,
    VM_PSWPIN,
    VM_SWAP_RA,
    VM_SWAP_RA_HIT,
    VM_SWPIN_ZERO,
    VM_ZSWPIN,
)
from .config import (
    PMD_ORDER,
    P_DEV_READ_NS,
    P_FAULT_READAHEAD,
    P_MEMCG_SWAP_MAX_PAGES,
    P_MTHP_SWAPIN,
    P_PAGE_CLUSTER,
    P_THP_ORDERS,
    P_VMA_RA,
    P_ZSWAP_DECOMPRESS_NS,
)
from .cost import M_FAULT, M_LRU_OP, M_PAGE_TOUCH, M_PAGE_ZERO, M_PTE_ZAP
from .memory import drain_drops, folio_free, folio_member, folio_nr, lru_add_head
from .reclaim import alloc_folio, alloc_folio_large
from .state import (
    ERR_VERB,
    FL_DIRTY,
    FL_READAHEAD,
    FL_RO,
    FL_YOUNG,
    FL_PARTIAL,
    FO_CLASS,
    FO_ENTRY,
    FO_FLAGS,
    FO_HEAD,
    FO_LINK,
    FO_MEMCG,
    FO_NMAP,
    FO_ORDER,
    FO_PAGE,
    FO_TAG,
    F_MM_NS,
    F_PARAMS,
    H_META,
    H_VM,
    INACTIVE,
    MC_STATS,
    MC_SWAP,
    M_GEN,
    M_STATUS,
    M_SWAPOFF,
    OK,
    PMD_PAGES,
    PTE_NONE,
    PTE_PRESENT,
    PTE_SWAP,
    PT_STATE,
    PT_TAG,
    PT_VAL,
    SV_FOLIO,
    SV_INFO,
    SV_MEMCG,
    SV_TAG,
    SWAP_RA_ORDER_CEILING,
    TK_MEMCG,
    TK_MM,
    TK_RA_HITS,
    TK_RA_PREV,
    TK_RA_WIN,
    W_NONE,
    W_ZERO,
    W_ZSWAP,
    content_class,
    count_mthp,
    dev_sync,
    injected_fault,
)
from .store import entry_dead, store_drop_data, store_find


@njit
def _check_tag(st, f, expect):
    st.hi[H_VM + VM_CONTENT_CHECKS] += 1
    if st.fo[f, FO_TAG] != expect:
        st.hi[H_VM + VM_CONTENT_ERRORS] += 1


@njit
def _read_into(st, ctx, dst, op, cpu, e, f, wait):
    """swap_read_folio() of entry e into folio f (already in the swap cache; a large
    folio reads its 2**order entries from e in one read): the data comes from the
    design's backend; returns mm ns: decompression, and the device read when the device
    is synchronous or the task waits for it (``wait``: the faulting page; read-ahead
    pages on an asynchronous device are in flight meanwhile)."""
    b = verbs.read_backend(dst, ctx, op, e)
    ns = 0.0
    row = f
    k = 0
    while row >= 0:
        x = e + k
        i = store_find(st, x)
        if i < 0:
            st.fo[row, FO_TAG] = -1  # nothing was stored: the check will fail
            st.fo[row, FO_CLASS] = 0
        else:
            st.fo[row, FO_TAG] = st.store_val[i, SV_TAG]
            cls = st.store_val[i, SV_INFO] & 15
            where = st.store_val[i, SV_INFO] >> 4
            st.fo[row, FO_CLASS] = cls
            st.store_val[i, SV_FOLIO] = f
            if b == BACKEND_ZSWAP:
                st.hi[H_VM + VM_ZSWPIN] += 1
                st.mc[st.fo[f, FO_MEMCG], MC_STATS + MEMCG_ZSWPIN] += 1
                ns += st.hf[F_PARAMS + P_ZSWAP_DECOMPRESS_NS]
                if where == W_ZSWAP:
                    store_drop_data(st, i)  # zswap loads are exclusive: the folio is the copy
                st.fo[f, FO_FLAGS] |= FL_DIRTY
            elif b == BACKEND_DISK:
                st.hi[H_VM + VM_PSWPIN] += 1
                st.mc[st.fo[f, FO_MEMCG], MC_STATS + MEMCG_PSWPIN] += 1
                if wait or dev_sync(st):
                    ns += st.hf[F_PARAMS + P_DEV_READ_NS]
            elif b == BACKEND_ZERO:
                st.hi[H_VM + VM_SWPIN_ZERO] += 1
            if where == W_NONE and b != BACKEND_ZSWAP:
                st.fo[row, FO_TAG] = -1  # the design read a backend the data never went to
        row = st.fo[row, FO_LINK]
        k += 1
    return ns


@njit(inline="always")
def entry_memcg(st, e):
    """The memcg entry e is charged to (its swap cgroup record), which a swap-in
    charges (mem_cgroup_swapin_charge_folio); 0 for an entry without a record."""
    i = store_find(st, e)
    if i >= 0 and st.store_val[i, SV_MEMCG] >= 0:
        return st.store_val[i, SV_MEMCG]
    return np.int64(0)


@njit
def swapin_one(st, ctx, dst, op, cpu, now, e, for_ra):
    """__read_swap_cache_async(): a new folio for entry e, added to the swap cache and
    read.  Returns (folio or -1, mm ns).  A readahead page may fail; a page the caller
    needs (a fault's, swapoff's) failing stops the run: out of memory if allocating
    the folio said so, else ERR_VERB (the design refused to cache an entry a PTE
    holds)."""
    f, ns = alloc_folio(st, ctx, dst, cpu, now, for_ra, entry_memcg(st, e))
    if f >= 0:
        r = verbs.cache_add(dst, ctx, op, e, 1, f)
        drain_drops(st, ctx)
        if r < 0:
            folio_free(st, ctx, f)
            f = -1
    if f < 0:
        if not for_ra and st.hi[H_META + M_STATUS] == OK:
            st.hi[H_META + M_STATUS] = ERR_VERB
        return -1, ns
    st.fo[f, FO_ENTRY] = e
    ns += _read_into(st, ctx, dst, op, cpu, e, f, not for_ra)
    lru_add_head(st, f, INACTIVE)
    ns += st.hf[F_MM_NS + M_LRU_OP]
    return f, ns


@njit
def swapin_nr_pages(prev, off, hits, max_pages, prev_win):
    pages = hits + 2
    if pages == 2:
        if off != prev + 1 and off != prev - 1:
            pages = 1
    else:
        r = 4
        while r < pages:
            r <<= 1
        pages = r
    pages = min(pages, max_pages)
    last = prev_win // 2
    pages = max(pages, last)
    return pages


@njit
def _ra_page(st, ctx, dst, cpu, now, x):
    """One read-ahead entry: swap-cache lookup, then a new folio read with
    PG_readahead (swap_ra).  Returns mm ns."""
    if verbs.cache_lookup(dst, ctx, OP_READAHEAD, x) >= 0:
        return 0.0
    if injected_fault(st, P_FAULT_READAHEAD, 2):
        st.hi[H_VM + VM_FAULT_READAHEAD] += 1  # the read is not issued; the PTE keeps the entry
        return 0.0
    f, ns = swapin_one(st, ctx, dst, OP_READAHEAD, cpu, now, x, True)
    if f >= 0:
        st.fo[f, FO_FLAGS] |= FL_READAHEAD
        st.hi[H_VM + VM_SWAP_RA] += 1
    return ns


@njit
def _readahead(st, ctx, dst, t, cpu, now, base, mm_pages, vpn, e):
    """swapin_readahead() around the fault at vpn (entry e), the fault's own page
    excluded.  Returns mm ns."""
    ns = 0.0
    pc = np.int64(st.hf[F_PARAMS + P_PAGE_CLUSTER])
    if pc == 0:
        return ns
    if st.hf[F_PARAMS + P_VMA_RA] != 0:
        max_win = np.int64(1) << min(pc, SWAP_RA_ORDER_CEILING)
        prev = st.task[t, TK_RA_PREV]
        win = swapin_nr_pages(prev, vpn, st.task[t, TK_RA_HITS], max_win, st.task[t, TK_RA_WIN])
        st.task[t, TK_RA_PREV] = vpn
        st.task[t, TK_RA_WIN] = win
        st.task[t, TK_RA_HITS] = 0
        return vma_ra_window(st, ctx, dst, cpu, now, base, mm_pages, vpn, prev, win)
    return cluster_ra(st, ctx, dst, cpu, now, e)


@njit
def vma_ra_window(st, ctx, dst, cpu, now, base, mm_pages, vpn, prev, win):
    """Read the ``win``-page VMA readahead window of a fault at vpn (previous fault at
    ``prev``): forward, backward or centred by direction, clipped to the mm's mapped
    range and to the fault's PMD, the fault's own page excluded.  Returns mm ns."""
    ns = 0.0
    if win <= 1:
        return ns
    if vpn == prev + 1:
        lo = vpn
        hi = vpn + win
    elif prev == vpn + 1:
        lo = vpn - win + 1
        hi = vpn + 1
    else:
        left = (win - 1) // 2
        lo = vpn - left
        hi = vpn + win - left
    pmd = vpn - vpn % PMD_PAGES
    lo = max(lo, 0, pmd)
    hi = min(hi, mm_pages, pmd + PMD_PAGES)
    for v in range(lo, hi):
        if v == vpn:
            continue
        g = base + v
        ns += st.hf[F_MM_NS + M_PTE_ZAP]  # the lockless PTE read
        if st.pt[g, PT_STATE] == PTE_SWAP:
            ns += _ra_page(st, ctx, dst, cpu, now + ns, st.pt[g, PT_VAL])
        if st.hi[H_META + M_STATUS] != OK:
            return ns
    return ns


@njit
def cluster_ra(st, ctx, dst, cpu, now, e):
    """Cluster readahead: the aligned block of 1 << page_cluster entries around e."""
    ns = 0.0
    mask = (np.int64(1) << np.int64(st.hf[F_PARAMS + P_PAGE_CLUSTER])) - 1
    for x in range((e & ~mask), (e | mask) + 1):
        if x != e and x > 0 and verbs.swap_count(dst, x) > 0:
            ns += _ra_page(st, ctx, dst, cpu, now + ns, x)
        if st.hi[H_META + M_STATUS] != OK:
            return ns
    return ns


@njit
def _swap_full(st, dst):
    """vm_swap_full(): more than half of the *physical* swap slots in use
    (``nr_swap_pages * 2 < total_swap_pages``, include/linux/swap.h), as the allocator
    reads it (:func:`vswap_nb.core.device.vm_swap_full` on the design's physical device).
    A virtual design's zero and zswap entries hold no slot, so they do not count.  After
    swapoff there is no swap space, and it is false."""
    return st.hi[H_META + M_SWAPOFF] == 0 and vm_swap_full(verbs.phys_dev(dst))


@njit(inline="always")
def _memcg_swap_full(st, m):
    """mem_cgroup_swap_full(): memcg m uses at least half of its memory.swap.max
    (cgroup v2; false without a limit)."""
    mx = st.hf[F_PARAMS + P_MEMCG_SWAP_MAX_PAGES]
    return mx >= 0 and st.mc[m, MC_SWAP] * 2 >= mx


@njit
def pte_map_cached(st, ctx, dst, op, cpu, g, f, e):
    """The swap PTE at page g holding entry e becomes a present PTE of folio f (in the
    swap cache for e; of a large folio, its page for e): the content check,
    folio_put_swap of the PTE's count, the folio mapped (no longer a read-ahead page)."""
    row = f
    if st.fo[f, FO_ORDER] != 0:
        row = folio_member(st, f, e - st.fo[f, FO_ENTRY])
        st.fo[f, FO_NMAP] += 1
    _check_tag(st, row, st.pt[g, PT_TAG])
    verbs.put(dst, ctx, op, e, 1, False)
    st.pt[g, PT_STATE] = PTE_PRESENT
    st.pt[g, PT_VAL] = row
    st.fo[row, FO_PAGE] = g
    ctx.folio[f, F_FLAGS] |= FOLIO_MAPPED
    st.fo[f, FO_FLAGS] &= ~FL_READAHEAD
    drain_drops(st, ctx)


@njit
def pte_map_range(st, ctx, dst, op, g0, f, e0):
    """Every page of the large folio f (in the swap cache for e0 ..) is mapped at
    g0 .. whose PTE holds its entry, with one folio_put_swap of the range (do_swap_page
    maps a whole large folio at once)."""
    nr = folio_nr(st, f)
    row = f
    for k in range(nr):
        g = g0 + k
        _check_tag(st, row, st.pt[g, PT_TAG])
        st.pt[g, PT_STATE] = PTE_PRESENT
        st.pt[g, PT_VAL] = row
        st.fo[row, FO_PAGE] = g
        row = st.fo[row, FO_LINK]
    verbs.put(dst, ctx, op, e0, nr, False)
    st.fo[f, FO_NMAP] = nr
    ctx.folio[f, F_FLAGS] |= FOLIO_MAPPED
    st.fo[f, FO_FLAGS] &= ~(FL_READAHEAD | FL_PARTIAL)
    drain_drops(st, ctx)


@njit
def _map_swapped(st, ctx, dst, cpu, g, f, e, write):
    """Map folio f (in the swap cache for entry e) at page g after a swap fault:
    folio_put_swap, then should_try_to_free_swap.  A large folio is mapped whole when
    every PTE of its range still holds its entry (do_swap_page's large swap-cache
    folio), else only at g [I: the kernel maps one page then too; the folio is then
    partially mapped, and if it later reaches reclaim still in the swap cache the model
    swaps it out whole instead of splitting it].  Returns mm ns."""
    order = st.fo[f, FO_ORDER]
    nr = np.int64(1) << order
    e0 = e
    row = f
    if order == 0:
        pte_map_cached(st, ctx, dst, OP_SWAPIN, cpu, g, f, e)
    else:
        e0 = st.fo[f, FO_ENTRY]
        g0 = g - (e - e0)
        whole = st.fo[f, FO_NMAP] == 0 and g0 >= 0 and g0 + nr <= st.pt.shape[0] and _ptes_hold(st, g0, e0, nr)
        row = folio_member(st, f, e - e0)
        if whole:
            pte_map_range(st, ctx, dst, OP_SWAPIN, g0, f, e0)
        else:
            pte_map_cached(st, ctx, dst, OP_SWAPIN, cpu, g, f, e)
    st.fo[f, FO_FLAGS] |= FL_YOUNG
    full = _swap_full(st, dst) or _memcg_swap_full(st, st.fo[f, FO_MEMCG])
    if verbs.free_after_fault(dst, ctx, OP_SWAPIN, e0, f, dev_sync(st), full, write):
        if verbs.cache_free(dst, ctx, OP_SWAPIN, e0, nr) > 0:
            for k in range(nr):
                entry_dead(st, e0 + k)
            st.fo[f, FO_ENTRY] = 0
            st.fo[f, FO_FLAGS] |= FL_DIRTY
        drain_drops(st, ctx)
    if st.fo[f, FO_ENTRY] != 0 and not write:
        st.fo[f, FO_FLAGS] |= FL_RO
    if write:
        st.hi[H_META + M_GEN] += 1
        st.fo[row, FO_TAG] = st.hi[H_META + M_GEN]
        st.pt[g, PT_TAG] = st.hi[H_META + M_GEN]
        st.fo[f, FO_FLAGS] |= FL_DIRTY
    return st.hf[F_MM_NS + M_FAULT]


@njit
def _ptes_hold(st, g0, e0, nr):
    """The PTEs of pages g0 .. g0+nr-1 hold the swap entries e0 .. e0+nr-1."""
    for k in range(nr):
        if st.pt[g0 + k, PT_STATE] != PTE_SWAP or st.pt[g0 + k, PT_VAL] != e0 + k:
            return False
    return True


@njit
def _range_empty(st, g0, nr):
    for k in range(nr):
        if st.pt[g0 + k, PT_STATE] != PTE_NONE:
            return False
    return True


@njit
def _anon_folio(st, ctx, dst, cpu, now, mm, base, vpn, m):
    """alloc_anon_folio(): the highest enabled order whose aligned range lies in the
    mm [I: the VMA is taken as the mm's whole range; anonymous mappings of a multiple
    of 2M are 2M-aligned] and is all pte_none, allocated without reclaim; each order
    that cannot be allocated or charged counts anon_fault_fallback and the next one is
    tried; order 0 last, with reclaim.  Returns (folio, first page, mm ns)."""
    orders = np.int64(st.hf[F_PARAMS + P_THP_ORDERS])
    mm_pages = st.mm_base[mm + 1] - base
    ns = 0.0
    order = PMD_ORDER
    while orders != 0 and order > 0:
        if orders & (np.int64(1) << order):
            nr = np.int64(1) << order
            a = vpn - vpn % nr
            if a + nr <= mm_pages and _range_empty(st, base + a, nr):
                f, fns = alloc_folio_large(st, ctx, dst, now + ns, order,
                                           MTHP_ANON_FAULT_FALLBACK, MTHP_ANON_FAULT_FALLBACK_CHARGE, m)
                ns += fns
                if f >= 0:
                    count_mthp(st, order, MTHP_ANON_FAULT_ALLOC)
                    return f, base + a, ns
                if st.hi[H_META + M_STATUS] != OK:
                    return -1, 0, ns
        order -= 1
    f, fns = alloc_folio(st, ctx, dst, cpu, now + ns, False, m)
    return f, base + vpn, ns + fns


@njit
def _swapin_large(st, ctx, dst, cpu, now, base, mm_pages, vpn, e):
    """alloc_swap_folio() on the synchronous path: the highest enabled order below the
    PMD order whose aligned range lies in the mm, with the faulting entry's offset
    aligned as the address is (thp_swap_suitable_orders), every PTE a swap entry,
    consecutive from the range's first (swap_pte_batch) and all or none zero-filled
    (swap_zeromap_batch); the folio allocated and charged without reclaim (a failure
    counts swpin_fallback and tries the next order).  The design's swap-cache insert
    then checks the range its own way (the entries' counts and cache state, zswap, and
    for the virtual designs one backend type and memcg): a refusal tries the next
    order.  Returns (folio, first entry, mm ns); folio -1: swap in order 0."""
    orders = np.int64(st.hf[F_PARAMS + P_THP_ORDERS]) & ((np.int64(1) << PMD_ORDER) - 1)
    ns = 0.0
    order = PMD_ORDER - 1
    while orders != 0 and order > 0:
        if orders & (np.int64(1) << order):
            nr = np.int64(1) << order
            a = vpn - vpn % nr
            e0 = e - (vpn - a)
            ok = a + nr <= mm_pages and e % nr == vpn % nr and e0 > 0
            ok = ok and _ptes_hold(st, base + a, e0, nr)
            if ok:
                zero = 0
                for k in range(nr):
                    i = store_find(st, e0 + k)
                    if i >= 0 and (st.store_val[i, SV_INFO] >> 4) == W_ZERO:
                        zero += 1
                ok = zero == 0 or zero == nr
            if ok:
                f, fns = alloc_folio_large(st, ctx, dst, now + ns, order,
                                           MTHP_SWPIN_FALLBACK, MTHP_SWPIN_FALLBACK_CHARGE, entry_memcg(st, e))
                ns += fns
                if f >= 0:
                    r = verbs.cache_add(dst, ctx, OP_SWAPIN, e0, nr, f)
                    drain_drops(st, ctx)
                    if r >= 0:
                        st.fo[f, FO_ENTRY] = e0
                        return f, e0, ns
                    folio_free(st, ctx, f)
                if st.hi[H_META + M_STATUS] != OK:
                    return -1, 0, ns
        order -= 1
    return -1, 0, ns


@njit(inline="always")
def touch(st, ctx, dst, t, cpu, now, vpn, write):
    """One page access of task t.  Returns mm ns."""
    mm = st.task[t, TK_MM]
    base = st.mm_base[mm]
    g = base + vpn
    s = st.pt[g, PT_STATE]
    if s == PTE_PRESENT:
        r = st.pt[g, PT_VAL]
        f = st.fo[r, FO_HEAD]
        st.fo[f, FO_FLAGS] |= FL_YOUNG
        ns = st.hf[F_MM_NS + M_PAGE_TOUCH]
        if write:
            if st.fo[f, FO_FLAGS] & FL_RO:
                # write to a read-only swap-cache page: do_wp_page reuses it and frees
                # the swap copy (folio_free_swap)
                st.hi[H_VM + VM_PGFAULT] += 1
                ns += st.hf[F_MM_NS + M_FAULT]
                e = st.fo[f, FO_ENTRY]
                nr = folio_nr(st, f)
                if verbs.cache_free(dst, ctx, OP_SWAPIN, e, nr) > 0:
                    for k in range(nr):
                        entry_dead(st, e + k)
                    st.fo[f, FO_ENTRY] = 0
                drain_drops(st, ctx)
                st.fo[f, FO_FLAGS] &= ~FL_RO
            st.hi[H_META + M_GEN] += 1
            st.fo[r, FO_TAG] = st.hi[H_META + M_GEN]
            st.pt[g, PT_TAG] = st.hi[H_META + M_GEN]
            st.fo[f, FO_FLAGS] |= FL_DIRTY
        return ns
    st.hi[H_VM + VM_PGFAULT] += 1
    m = st.task[t, TK_MEMCG]
    st.mc[m, MC_STATS + MEMCG_PGFAULT] += 1
    if s == PTE_NONE:
        if not write:
            return st.hf[F_MM_NS + M_FAULT]  # the shared zero page is mapped: no folio
        if st.hf[F_PARAMS + P_THP_ORDERS] != 0:
            f, g0, ns = _anon_folio(st, ctx, dst, cpu, now, mm, base, vpn, m)
        else:
            f, ns = alloc_folio(st, ctx, dst, cpu, now, False, m)
            g0 = g
        if f < 0:
            return ns
        ns += st.hf[F_MM_NS + M_FAULT] + st.hf[F_MM_NS + M_PAGE_ZERO] + st.hf[F_MM_NS + M_PAGE_TOUCH] + st.hf[F_MM_NS + M_LRU_OP]
        st.hi[H_META + M_GEN] += 1
        if st.fo[f, FO_ORDER] == 0:
            st.fo[f, FO_TAG] = st.hi[H_META + M_GEN]
            st.fo[f, FO_CLASS] = content_class(st, mm, vpn)
            st.fo[f, FO_PAGE] = g
            st.pt[g, PT_STATE] = PTE_PRESENT
            st.pt[g, PT_VAL] = f
        else:
            # the whole folio is mapped; the pages not written yet hold zeroes (tag 0,
            # as their PTEs expect) [I: each page's content class is the one the
            # workload writes there, so a large folio whose pages are never written is
            # not seen as zero-filled]
            nr = folio_nr(st, f)
            ns += st.hf[F_MM_NS + M_PAGE_ZERO] * (nr - 1)
            row = f
            for k in range(nr):
                gk = g0 + k
                st.fo[row, FO_TAG] = 0
                st.fo[row, FO_CLASS] = content_class(st, mm, gk - base)
                st.fo[row, FO_PAGE] = gk
                st.pt[gk, PT_STATE] = PTE_PRESENT
                st.pt[gk, PT_VAL] = row
                st.pt[gk, PT_TAG] = 0
                row = st.fo[row, FO_LINK]
            st.fo[f, FO_NMAP] = nr
            st.fo[st.pt[g, PT_VAL], FO_TAG] = st.hi[H_META + M_GEN]
        st.fo[f, FO_FLAGS] |= FL_YOUNG | FL_DIRTY
        ctx.folio[f, F_FLAGS] = FOLIO_MAPPED
        st.pt[g, PT_TAG] = st.hi[H_META + M_GEN]
        lru_add_head(st, f, INACTIVE)
        return ns
    # a swapped PTE: do_swap_page
    e = st.pt[g, PT_VAL]
    ns = st.hf[F_MM_NS + M_FAULT] + st.hf[F_MM_NS + M_PAGE_TOUCH]
    f = verbs.cache_lookup(dst, ctx, OP_SWAPIN, e)
    if f >= 0:
        if st.fo[f, FO_FLAGS] & FL_READAHEAD:
            st.hi[H_VM + VM_SWAP_RA_HIT] += 1
            if st.task[t, TK_RA_HITS] < 0xFF:
                st.task[t, TK_RA_HITS] += 1
        st.task[t, TK_RA_PREV] = vpn
        return ns + _map_swapped(st, ctx, dst, cpu, g, f, e, write)
    st.hi[H_VM + VM_PGMAJFAULT] += 1
    st.mc[m, MC_STATS + MEMCG_PGMAJFAULT] += 1
    ra = verbs.ra_probe(dst, ctx, OP_SWAPIN, e)
    if ra < 0:
        st.hi[H_META + M_STATUS] = ERR_VERB
        return ns
    mm_pages = st.mm_base[mm + 1] - base
    if (ra == RA_SYNC and st.hf[F_PARAMS + P_MTHP_SWAPIN] != 0 and st.hf[F_PARAMS + P_THP_ORDERS] != 0
            and dev_sync(st) and verbs.swap_count(dst, e) == 1):
        f, e0, lns = _swapin_large(st, ctx, dst, cpu, now + ns, base, mm_pages, vpn, e)
        ns += lns
        if f >= 0:
            count_mthp(st, st.fo[f, FO_ORDER], MTHP_SWPIN)
            ns += _read_into(st, ctx, dst, OP_SWAPIN, cpu, e0, f, True)
            lru_add_head(st, f, INACTIVE)
            ns += st.hf[F_MM_NS + M_LRU_OP]
            return ns + _map_swapped(st, ctx, dst, cpu, g, f, e, write)
        if st.hi[H_META + M_STATUS] != OK:
            return ns
    if ra != RA_SYNC:
        ns += _readahead(st, ctx, dst, t, cpu, now + ns, base, mm_pages, vpn, e)
        if st.hi[H_META + M_STATUS] != OK:
            return ns
        # the readahead may have freed the page's own entry (never: its PTE holds it)
    f, fns = swapin_one(st, ctx, dst, OP_SWAPIN, cpu, now + ns, e, False)
    ns += fns
    if f < 0:
        return ns
    return ns + _map_swapped(st, ctx, dst, cpu, g, f, e, write)
