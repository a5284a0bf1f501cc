"""Swap table entry encoding (mm/swap_table.h, swap table phase IV, x86-64).

One 8-byte word per slot::

    NULL:     |------------------ 0 -------------------|      free slot
    Shadow:   |COUNT|Z|------- SHADOW_VAL -----------|1|      swapped out, not cached
    PFN:      |COUNT|Z|----------- PFN -------------|10|      in the swap cache
    Pointer:  |C|------- vswap offset --------------|100|     physical slot -> vswap rmap
    Bad:      |------------ all 1 ----------------|1000|      header / hole

On x86-64 the flags field is 5 bits wide (``min(5, 64 - SWP_TB_PFN_BITS)``): the zero
flag Z at bit 59 and a 4-bit COUNT at bits 60..63, so ``SWP_TB_COUNT_MAX`` is 15.  Counts
1..14 live inline; 15 marks an overflow whose real count is in the cluster's extend
table.  In the Pointer form bit 63 is ``SWP_RMAP_CACHE_ONLY``.

Words are kept in ``int64`` arrays with the kernel's bit pattern: NumPy and Numba
promote mixed ``uint64``/``int64`` arithmetic to float64, so signed words with wrapping
shifts are the safe carrier.  ``BAD`` is therefore ``-8`` and the C bit is ``INT64_MIN``.
"""
from __future__ import annotations

from .jit import njit

COUNT_SHIFT = 60
COUNT_MAX = 15
ZERO_FLAG = 1 << 59
FLAGS_SHIFT = 59
FLAGS_MASK_INV = (1 << 59) - 1  # clears Z and COUNT
COUNT_MASK_INV = (1 << 60) - 1  # clears COUNT only
NULL = 0
BAD = -8  # ~0UL << 3
SHADOW_MARK = 1
PFN_MARK = 2
PTR_MARK = 4
RMAP_CACHE_ONLY = -(1 << 63)  # bit 63 of a Pointer entry
PTR_OFFSET_MASK = (1 << 60) - 1  # offsets are below 2^60 here


@njit(inline="always")
def tb_is_null(tb):
    return tb == 0


@njit(inline="always")
def tb_is_bad(tb):
    return tb == BAD


@njit(inline="always")
def tb_is_folio(tb):
    return (tb & 3) == PFN_MARK


@njit(inline="always")
def tb_is_shadow(tb):
    return (tb & 1) == SHADOW_MARK


@njit(inline="always")
def tb_is_pointer(tb):
    return (tb & 7) == PTR_MARK


@njit(inline="always")
def tb_count(tb):
    """The inline COUNT field of a NULL, shadow or PFN entry."""
    return (tb >> COUNT_SHIFT) & 15


@njit(inline="always")
def tb_flags(tb):
    """The 5-bit flags field (Z | COUNT << 1)."""
    return (tb >> FLAGS_SHIFT) & 31


@njit(inline="always")
def tb_set_count(tb, count):
    return (tb & COUNT_MASK_INV) | (count << COUNT_SHIFT)


@njit(inline="always")
def tb_is_zero(tb):
    return (tb & ZERO_FLAG) != 0


@njit(inline="always")
def tb_mk_pfn(pfn, flags):
    return (pfn << 2) | PFN_MARK | (flags << FLAGS_SHIFT)


@njit(inline="always")
def tb_mk_shadow(shadow, flags):
    """A shadow entry; ``shadow`` is the workingset value (0 when absent)."""
    return (shadow << 1) | SHADOW_MARK | (flags << FLAGS_SHIFT)


@njit(inline="always")
def tb_pfn(tb):
    return (tb & FLAGS_MASK_INV) >> 2


@njit(inline="always")
def tb_mk_pointer(voff, cache_only):
    tb = (voff << 3) | PTR_MARK
    if cache_only:
        tb |= RMAP_CACHE_ONLY
    return tb


@njit(inline="always")
def tb_pointer_offset(tb):
    return (tb >> 3) & PTR_OFFSET_MASK


@njit(inline="always")
def tb_pointer_cache_only(tb):
    return tb < 0
