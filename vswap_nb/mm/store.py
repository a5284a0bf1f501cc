"""The swap store: for each swapped entry, where its page's data is (zero, zswap, the
device) with its content tag and class, and the zswap LRU the shrink worker
writes back from.  :func:`entry_dead` is what the engine does when an entry
stops holding data (its zswap or zram bytes leave memory).
"""
from __future__ import annotations

from ..core.jit import njit
from .config import P_DEV_DEDUP_SAME, P_DEV_IN_RAM, P_ZRAM_RATIO_SEQ, P_ZSWAP_RATIO_SEQ
from .state import (
    EMPTY_KEY,
    FM_ZRAM_BYTES,
    FM_ZSWAP_BYTES,
    F_FMETA,
    F_PARAMS,
    H_META,
    M_LIVE_SWAP,
    MC_SWAP,
    MC_SWAP_PEAK,
    M_STORE_LIVE,
    PAGE_SIZE,
    SV_FOLIO,
    SV_INFO,
    SV_MEMCG,
    SV_TAG,
    W_DISK,
    W_ZSWAP,
)


# The store is indexed by the entry value itself: the design's entry space is known
# when the run starts (designs.entry_space), entries are handed out cluster by cluster,
# so neighbouring pages' records are neighbours in memory (a hash table here cost a
# cache miss per swap-out and per free).  ``store_key[e]`` is ``e`` while entry e holds
# a record, EMPTY_KEY otherwise.


@njit(inline="always")
def store_find(st, key):
    if st.store_key[key] == key:
        return key
    return -1


@njit(inline="always")
def store_insert(st, key):
    if st.store_key[key] != key:
        st.store_key[key] = key
        st.store_val[key, SV_TAG] = 0
        st.store_val[key, SV_INFO] = 0
        st.store_val[key, SV_FOLIO] = -1
        st.store_val[key, SV_MEMCG] = -1
        st.hi[H_META + M_STORE_LIVE] += 1
    return key


@njit(inline="always")
def store_charge(st, key, m):
    """The new record ``key`` is charged to memcg ``m``'s swap (the swap cgroup record)."""
    st.store_val[key, SV_MEMCG] = m
    u = st.mc[m, MC_SWAP] + 1
    st.mc[m, MC_SWAP] = u
    if u > st.mc[m, MC_SWAP_PEAK]:
        st.mc[m, MC_SWAP_PEAK] = u


@njit(inline="always")
def _store_delete_at(st, i):
    st.hi[H_META + M_STORE_LIVE] -= 1
    m = st.store_val[i, SV_MEMCG]
    if m >= 0:
        st.mc[m, MC_SWAP] -= 1
    st.store_key[i] = EMPTY_KEY


@njit(inline="always")
def zsize(st, cls):
    return st.hf[F_PARAMS + P_ZSWAP_RATIO_SEQ + cls] * PAGE_SIZE


@njit(inline="always")
def dsize(st, cls):
    if st.hf[F_PARAMS + P_DEV_IN_RAM] == 0:
        return 0.0
    if cls != 0 and st.hf[F_PARAMS + P_DEV_DEDUP_SAME] != 0:
        return 0.0
    return st.hf[F_PARAMS + P_ZRAM_RATIO_SEQ + cls] * PAGE_SIZE


@njit
def store_drop_data(st, i):
    """The data of the store slot i goes away (pool accounting)."""
    info = st.store_val[i, SV_INFO]
    cls = info & 15
    where = info >> 4
    if where == W_ZSWAP:
        z = zsize(st, cls)
        st.hf[F_FMETA + FM_ZSWAP_BYTES] -= z
        m = st.store_val[i, SV_MEMCG]
        if m >= 0:
            st.mcz[m] -= z
    elif where == W_DISK:
        st.hf[F_FMETA + FM_ZRAM_BYTES] -= dsize(st, cls)
    st.store_val[i, SV_INFO] = cls


@njit
def entry_dead(st, entry):
    """The design freed ``entry``: forget its data."""
    i = store_find(st, entry)
    if i >= 0:
        store_drop_data(st, i)
        _store_delete_at(st, i)
        st.hi[H_META + M_LIVE_SWAP] -= 1


