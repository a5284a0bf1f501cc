"""Metadata designs.  Each design is a :class:`Design` (``designs/base.py``: its name,
summary, options, state types, ``new_state`` and the hooks outside code calls); its
module also registers the design's verbs for its state type with
:mod:`vswap_nb.core.verbs`.

Adding a design to the package touches its own module and one line here (the
``_DESIGNS`` list).  :func:`register` adds one at run time, in this process: e.g. a
preset of an existing design, ``get_design("vswap_v6").preset(name, summary,
lookup_cache_ways=4)``, which shares that design's compiled kernels.  Import it as
``from vswap_nb.designs import register`` (the attribute ``vswap_nb.designs`` is the
function that lists the names, not this package)."""
from __future__ import annotations

from . import classic, ste, swap_table, vswap
from .base import Design

__all__ = ["Design", "design_names", "design_of", "entry_space", "get_design", "register", "unregister"]

_DESIGNS = {d.NAME: d for d in (classic.DESIGN, swap_table.DESIGN, vswap.V5, vswap.V6, ste.STE, ste.GHOST)}
_BUILT_IN = frozenset(_DESIGNS)


def design_names() -> tuple:
    """Names of the designs that work so far, in the order results list them."""
    return tuple(_DESIGNS)


def register(design: Design) -> str:
    """Add ``design`` to the designs every function and the command accept, for this
    process.  Returns its name.  Designs run on dask workers must be registered there
    too (in a module the workers import)."""
    if not isinstance(design, Design):
        raise TypeError(
            f"design must be a vswap_nb.designs.Design (Design(name, summary, state_type, "
            f"new_state, ...), or get_design(name).preset(...)); got {design!r}"
        )
    if design.NAME in _DESIGNS:
        raise ValueError(f"a design named {design.NAME!r} is already registered; pick another name")
    _DESIGNS[design.NAME] = design
    return design.NAME


def unregister(name: str) -> None:
    """Remove a design :func:`register` added (the package's own designs stay)."""
    if name in _BUILT_IN:
        raise ValueError(f"{name!r} is one of the package's designs; only registered ones can be removed")
    get_design(name)
    del _DESIGNS[name]


def get_design(name) -> Design:
    """The design called ``name``; ValueError listing the valid names otherwise."""
    if not isinstance(name, str):
        raise TypeError(
            f"design must be a design name (str), got {type(name).__name__} {name!r}; "
            f"valid names: {', '.join(_DESIGNS)}"
        )
    try:
        return _DESIGNS[name]
    except KeyError:
        raise ValueError(f"unknown design {name!r}; valid names: {', '.join(_DESIGNS)}") from None


def design_of(dst) -> Design:
    """The first registered design whose state type ``dst`` is (designs sharing a state
    type share its hooks)."""
    for d in _DESIGNS.values():
        if isinstance(dst, d.STATES):
            return d
    raise TypeError(f"{type(dst).__name__} is not the state of any registered design")


def entry_space(dst) -> int:
    """One more than the largest entry value the design state ``dst`` can hand out
    (the mm keeps a record per entry value, and the checker a count)."""
    return design_of(dst).entry_space(dst)
