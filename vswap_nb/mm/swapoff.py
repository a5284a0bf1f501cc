"""Swapoff [mm/swapfile.c try_to_unuse; vswap: [S16], [S23]].  A SWAPOFF event runs
swapoff(8) in the task's context (see ``swapoff``): the device stops taking
allocations; a design whose page tables hold device entries has every page table
walked and each swapped page mapped back in place (unuse_pte, folio_free_swap); then
every slot still in use is resolved through the design's ``unuse_entry`` / ``unuse``:
freed, or, for a virtual design, its virtual entry repointed at the page now in the
swap cache.  After it, a design that allocates the device slot at writeout (the
virtual ones) gets -ENOMEM there: the folio stays dirty and is activated
(``swap_alloc_fail``), as the kernel's failed swap_writeout does.  vm_swap_full() is
false (no swap space) and the device is no longer SWP_SYNCHRONOUS_IO.
"""
from __future__ import annotations

import numpy as np

from ..core import verbs
from ..core.counters import OP_SWAPOFF, PTE_READ
from ..core.device import dev_next_used, dev_swapoff_begin, dev_swapoff_end
from ..core.jit import njit
from ..core.verbs import FOLIO_MAPPED, F_FLAGS
from ..core.vmstat import VM_SWAPOFF_PAGES, VM_SWAPOFF_PTES
from .config import P_PAGE_CLUSTER, P_VMA_RA
from .cost import M_PAGE_FREE, M_UNMAP_PTE
from .fault import cluster_ra, pte_map_cached, swapin_nr_pages, swapin_one, vma_ra_window
from .memory import add_op_cost, drain_drops, folio_free
from .reclaim import sample_metadata
from .state import (
    ERR_VERB,
    FL_DIRTY,
    FL_RO,
    FM_SWAPOFF_NS,
    FO_ENTRY,
    FO_FLAGS,
    F_FMETA,
    F_MM_NS,
    F_PARAMS,
    H_META,
    H_VM,
    M_STATUS,
    M_SWAPOFF,
    OK,
    PTE_NONE,
    PTE_SWAP,
    PT_STATE,
    PT_VAL,
    SV_FOLIO,
    SWAP_RA_ORDER_CEILING,
)
from .store import entry_dead, store_drop_data, store_find


@njit
def _unuse_pte(st, ctx, dst, cpu, g, f, e):
    """unuse_pte(): the swap PTE at page g becomes a present PTE of folio f (in the swap
    cache for entry e) and puts its count; then folio_free_swap().  Returns mm ns."""
    pte_map_cached(st, ctx, dst, OP_SWAPOFF, cpu, g, f, e)
    if verbs.cache_free(dst, ctx, OP_SWAPOFF, e, 1) > 0:
        entry_dead(st, e)
        st.fo[f, FO_ENTRY] = 0
        st.fo[f, FO_FLAGS] |= FL_DIRTY
        st.fo[f, FO_FLAGS] &= ~FL_RO
    elif st.fo[f, FO_ENTRY] != 0:
        st.fo[f, FO_FLAGS] |= FL_RO
    drain_drops(st, ctx)
    return st.hf[F_MM_NS + M_UNMAP_PTE]


@njit
def swapoff(st, ctx, dst, cpu, now):
    """swapoff(2) of the swap device in the context of a task on ``cpu``.  Returns the
    mm ns it spent; its verb work is counted on the ``swapoff`` row.

    1. The device leaves the available list (SWP_WRITEOK off): no allocation uses it.
    2. If page tables hold device entries (``ptes_hold_slots``: classic, swap_table,
       ghost without zswap), try_to_unuse() walks every page table (unuse_mm): each
       populated PTE is read (``pte_read``; a page table with no populated PTE is not
       there to read [I]); a swap PTE's page is found in the swap cache or read in
       through swapin_readahead() (unuse_pte_range(); VMA readahead with a window that
       starts at the VMA's initial state and only shrinks, since the walk never calls
       swap_update_readahead(); cluster readahead without VMA readahead) and mapped
       in place of the entry (unuse_pte), and the entry is freed (folio_free_swap).
    3. Then every slot still in use on the device (find_next_to_unuse, through the
       design's ``unuse_entry``: the slot itself, or the virtual entry its reverse map
       names) gets its page into the swap cache (a lookup, else a read), and the
       design's ``unuse``: folio_free_swap for a classic entry, or, for a virtual
       design, the entry is repointed at the cached folio and the slot freed; the
       page tables keep the virtual entry and the folio is the only copy of the data
       (dirty: reclaim writes it to another backend, or keeps it).
    4. The device is empty; its static metadata is freed."""
    if st.hi[H_META + M_SWAPOFF] != 0:
        return 0.0
    st.hi[H_META + M_SWAPOFF] = 1
    dev = verbs.phys_dev(dst)
    c0 = add_op_cost(st, ctx, OP_SWAPOFF, 0.0)
    dev_swapoff_begin(dev)
    ns = 0.0
    if verbs.ptes_hold_slots(dst):
        mm = 0
        ra_prev, ra_win, ra_hits = np.int64(-1), np.int64(0), np.int64(4)
        pc = np.int64(st.hf[F_PARAMS + P_PAGE_CLUSTER])
        max_win = np.int64(1) << min(pc, SWAP_RA_ORDER_CEILING)
        for g in range(st.pt.shape[0]):
            while g >= st.mm_base[mm + 1]:  # a new mm: its VMAs' readahead state is fresh
                mm += 1
                ra_prev, ra_win, ra_hits = np.int64(-1), np.int64(0), np.int64(4)
            s = st.pt[g, PT_STATE]
            if s == PTE_NONE:
                continue
            ctx.counters[OP_SWAPOFF, PTE_READ] += 1
            st.hi[H_VM + VM_SWAPOFF_PTES] += 1
            if s != PTE_SWAP:
                continue
            e = st.pt[g, PT_VAL]
            f = verbs.cache_lookup(dst, ctx, OP_SWAPOFF, e)
            if f < 0:
                # unuse_pte_range(): swapin_readahead() around the miss; it never calls
                # swap_update_readahead(), so the window only shrinks (8, 4, 2, 1, ...).
                # The window first, then the page itself, as a fault does: the page is
                # read last, so the window's allocations cannot reclaim it before it is
                # mapped (the kernel holds it locked).
                if pc > 0 and st.hf[F_PARAMS + P_VMA_RA] != 0:
                    vpn = g - st.mm_base[mm]
                    ra_win = swapin_nr_pages(ra_prev, vpn, ra_hits, max_win, ra_win)
                    ns += vma_ra_window(
                        st, ctx, dst, cpu, now + ns, st.mm_base[mm], st.mm_base[mm + 1] - st.mm_base[mm],
                        vpn, ra_prev, ra_win,
                    )
                    ra_prev, ra_hits = vpn, np.int64(0)
                elif pc > 0:
                    ns += cluster_ra(st, ctx, dst, cpu, now + ns, e)
                if st.hi[H_META + M_STATUS] != OK:
                    return ns
                f, fns = swapin_one(st, ctx, dst, OP_SWAPOFF, cpu, now + ns, e, False)
                ns += fns
                if f < 0:
                    return ns
            ns += _unuse_pte(st, ctx, dst, cpu, g, f, e)
            st.hi[H_VM + VM_SWAPOFF_PAGES] += 1
    off = dev_next_used(dev, 0)
    while off >= 0:
        e = verbs.unuse_entry(dst, ctx, OP_SWAPOFF, off)
        if e != 0:
            f = verbs.cache_lookup(dst, ctx, OP_SWAPOFF, e)
            if f < 0:
                f, fns = swapin_one(st, ctx, dst, OP_SWAPOFF, cpu, now + ns, e, False)
                ns += fns
                if f < 0:
                    return ns
                st.hi[H_VM + VM_SWAPOFF_PAGES] += 1
            r = verbs.unuse(dst, ctx, OP_SWAPOFF, e, f)
            drain_drops(st, ctx)
            if r == 1:
                entry_dead(st, e)
                st.fo[f, FO_ENTRY] = 0
                st.fo[f, FO_FLAGS] &= ~FL_RO
                st.fo[f, FO_FLAGS] |= FL_DIRTY
                if (ctx.folio[f, F_FLAGS] & FOLIO_MAPPED) == 0:
                    folio_free(st, ctx, f)
                    ns += st.hf[F_MM_NS + M_PAGE_FREE]
            elif r == 0:
                i = store_find(st, e)
                if i >= 0:
                    store_drop_data(st, i)
                    st.store_val[i, SV_FOLIO] = f
                st.fo[f, FO_FLAGS] |= FL_DIRTY
            else:
                st.hi[H_META + M_STATUS] = ERR_VERB
                return ns
        off = dev_next_used(dev, off + 1)
    if dev_swapoff_end(dev, dst, ctx, OP_SWAPOFF) != 0:
        st.hi[H_META + M_STATUS] = ERR_VERB
    st.hf[F_FMETA + FM_SWAPOFF_NS] += ns + add_op_cost(st, ctx, OP_SWAPOFF, 0.0) - c0
    sample_metadata(st, dst)
    return ns


