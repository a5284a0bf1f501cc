"""What a broken invariant raises, and the checks of structures several designs share.

:mod:`vswap_nb.check` checks a whole run's state; each design checks its own structures
through its ``check_state`` hook (:class:`vswap_nb.designs.Design`).  Both raise
:class:`InvariantError` through :func:`fail`, so every message has one shape:
``<design>: <structure>[<index>]: <what differs>``.  These checks read NumPy arrays
only: they count nothing and change nothing.
"""
from __future__ import annotations

import numpy as np

from . import swp_tb

__all__ = ["InvariantError", "check_rmap", "fail"]


class InvariantError(AssertionError):
    """A run's state broke an invariant; the message names the design, the structure,
    the index and what differs."""


def fail(design, structure, index, what):
    """Raise :class:`InvariantError` for ``structure[index]`` of ``design``."""
    raise InvariantError(f"{design}: {structure}[{index}]: {what}")


def check_rmap(design, table_name, table, fwd_name, fwd_index, ents, slot, noun, fwd_what):
    """A forward map (``ents[i]`` backed by physical ``slot[i]``, stored at
    ``fwd_name[fwd_index[i]]``) against the physical device's reverse-map Pointers
    (``table``, swap-table words), both ways: each backing slot's Pointer names its
    entry, and each Pointer is the backing of the entry it names."""
    tb = table[np.clip(slot, 0, table.shape[0] - 1)]
    back = np.where((tb & 7) == swp_tb.PTR_MARK, (tb >> 3) & swp_tb.PTR_OFFSET_MASK, -1)
    bad = np.flatnonzero((slot <= 0) | (slot >= table.shape[0]) | (back != ents))
    if bad.size:
        k = int(bad[0])
        fail(design, fwd_name, int(fwd_index[k]), f"{noun} {int(ents[k])} is backed by physical slot "
             f"{int(slot[k])}, whose reverse map points at {noun} {int(back[k])}")
    ptr = np.flatnonzero((table & 7) == swp_tb.PTR_MARK)
    fwd = np.zeros(table.shape[0], dtype=bool)
    fwd[slot] = True
    orphan = ptr[~fwd[ptr]]
    if orphan.size:
        q = int(orphan[0])
        fail(design, table_name, q, f"reverse map points at {noun} {int((table[q] >> 3) & swp_tb.PTR_OFFSET_MASK)}, "
             f"whose {fwd_what} does not point back at this slot")
