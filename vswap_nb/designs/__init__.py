"""Metadata designs.  Each design (a module, or an object for designs sharing a module)
has ``NAME``, ``SUMMARY``, ``OPTIONS`` (switch name -> default) and
``new_state(nslots, *, ncpu, cluster_size, solidstate, discard, blkdev, synchronous,
zswap_enabled, **switches)``; its module registers the verbs with
:mod:`vswap_nb.core.verbs`.  ``zswap_enabled`` describes the system (only ``ghost``
changes its structure with it)."""
from __future__ import annotations

from . import classic, ste, swap_table, vswap

_MODULES = {m.NAME: m for m in (classic, swap_table, vswap.V5, vswap.V6, ste.STE, ste.GHOST)}


def design_names() -> tuple:
    """Names of the designs that work so far, in the order results list them."""
    return tuple(_MODULES)


def get_design(name):
    """The module of design ``name``; ValueError listing the valid names otherwise."""
    if not isinstance(name, str):
        raise TypeError(
            f"design must be a design name (str), got {type(name).__name__} {name!r}; "
            f"valid names: {', '.join(_MODULES)}"
        )
    try:
        return _MODULES[name]
    except KeyError:
        raise ValueError(
            f"unknown design {name!r}; valid names: {', '.join(_MODULES)}"
        ) from None
