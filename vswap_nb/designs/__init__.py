"""Metadata designs.  Each design (a module, or an object for designs sharing a module)
has ``NAME``, ``SUMMARY``, ``OPTIONS`` (switch name -> default) and
``new_state(nslots, *, ncpu, cluster_size, solidstate, discard, blkdev, synchronous,
zswap_enabled, free_notify, **switches)`` (``free_notify``: the device's driver frees
each slot through ``swap_slot_free_notify``, as zram's does); its module registers the verbs with
:mod:`vswap_nb.core.verbs`.  ``zswap_enabled`` describes the system (only ``ghost``
changes its structure with it).  A design may also have ``check_option(name, value)``
for options that are not plain True/False switches.

:func:`register` adds a design at run time (in this process), e.g. a preset of an
existing one made with :func:`vswap_nb.designs.vswap.variant`; import it as ``from
vswap_nb.designs import register`` (the attribute ``vswap_nb.designs`` is the
function that lists the names, not this package); a design whose state
type is already registered with the verbs costs no compilation."""
from __future__ import annotations

import re

from ..core.device import D_MAX
from . import classic, ste, swap_table, vswap

_MODULES = {m.NAME: m for m in (classic, swap_table, vswap.V5, vswap.V6, ste.STE, ste.GHOST)}


def design_names() -> tuple:
    """Names of the designs that work so far, in the order results list them."""
    return tuple(_MODULES)


def register(design) -> str:
    """Add ``design`` (an object with NAME, SUMMARY, OPTIONS and new_state) to the
    designs every function and the command accept, for this process.  Returns its
    name.  Designs run on dask workers must be registered there too (in a module the
    workers import)."""
    for attr in ("NAME", "SUMMARY", "OPTIONS", "new_state"):
        if not hasattr(design, attr):
            raise TypeError(
                f"design must have NAME, SUMMARY, OPTIONS and new_state (like the modules in "
                f"vswap_nb.designs); {design!r} has no {attr}"
            )
    name = design.NAME
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"design NAME must be lower-case letters, digits and _, got {name!r}")
    if name in _MODULES:
        raise ValueError(f"a design named {name!r} is already registered; pick another NAME")
    _MODULES[name] = design
    return name


def entry_space(dst) -> int:
    """One more than the largest entry value the design state ``dst`` can hand out
    (the mm keeps a record per entry value, and the checker a count)."""
    if isinstance(dst, vswap.VswapState):
        return int(dst.meta[vswap.V_NROWS]) << int(dst.meta[vswap.V_VSHIFT])
    return int(dst.dev.meta[D_MAX])


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
