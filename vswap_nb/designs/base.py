"""What a design is to the rest of the package: one small class, :class:`Design`.

A design is its state (a namedtuple of NumPy arrays, the ``STATE`` type its verbs are
registered for with :func:`vswap_nb.core.verbs.register`), a constructor for that state
and the hooks code outside the design needs.  ``mm/run.py``, ``check.py``, the API and
the command call these hooks; none of them tests a design's type.

=====================  ================================================================
``NAME``               lower-case name the API and the command take
``SUMMARY``            one line: what the design is
``OPTIONS``            option name -> default (plain True/False switches unless
                       ``check_option`` says otherwise)
``STATES``             the state types ``new_state`` returns (one, or two for a design
                       that builds another's state in some configurations)
``VIRTUAL_SLOTS``      ``new_state`` takes ``virtual_slots`` (room for entries that have
                       no physical slot); the run sizes it to the swapped pages and
                       swap-cache folios it may hold
``new_state(nslots, *, ncpu, cluster_size, solidstate, discard, blkdev, synchronous,
zswap_enabled, free_notify, **options)``
                       a fresh state over a device of ``nslots`` slots
``check_option(name, value)``
                       the value as ``new_state`` takes it; TypeError/ValueError naming
                       the option otherwise
``entry_space(dst)``   one more than the largest entry value ``dst`` can hand out
``check_state(design, dst, counts)``
                       the invariants of the design's own structures (``counts``: swap
                       count per entry, -1 where not allocated); raises
                       :class:`~vswap_nb.core.invariants.InvariantError`
=====================  ================================================================

The default ``entry_space`` is the physical device's slot space (``dst.dev``), the
default ``check_state`` checks nothing beyond what :mod:`vswap_nb.check` checks of
every design (devices, XArrays, entries against the mm).
"""
from __future__ import annotations

import re

import numpy as np

from ..core.device import D_MAX

__all__ = ["Design"]


def _device_entry_space(dst) -> int:
    return int(dst.dev.meta[D_MAX])


def _nothing_more(design, dst, counts) -> None:
    return None


class Design:
    """One design; see the module docstring for what each attribute and hook is."""

    def __init__(
        self,
        name: str,
        summary: str,
        states,
        new_state,
        *,
        options=None,
        check_option=None,
        virtual_slots: bool = False,
        entry_space=None,
        check_state=None,
    ):
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError(f"design name must be lower-case letters, digits and _, got {name!r}")
        if not isinstance(summary, str):
            raise TypeError(f"summary must be a one-line description (str), got {summary!r}")
        states = tuple(states) if isinstance(states, (tuple, list)) else (states,)
        for s in states:
            if not (isinstance(s, type) and issubclass(s, tuple) and hasattr(s, "_fields")):
                raise TypeError(f"states must be the design's state namedtuple type(s), got {s!r}")
        for hook, fn in (("new_state", new_state), ("check_option", check_option),
                         ("entry_space", entry_space), ("check_state", check_state)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{hook} must be callable, got {fn!r}")
        if new_state is None:
            raise TypeError("new_state is required: a function (nslots, **kw) -> state")
        self.NAME = name
        self.SUMMARY = summary
        self.STATES = states
        self.OPTIONS = dict(options or {})
        self.VIRTUAL_SLOTS = bool(virtual_slots)
        self._new_state = new_state
        self._check_option = check_option
        self.entry_space = entry_space or _device_entry_space
        self.check_state = check_state or _nothing_more

    def new_state(self, nslots, **kw):
        """A fresh state of this design over a device of ``nslots`` slots."""
        return self._new_state(nslots, **kw)

    def check_option(self, name, value):
        """``value`` of option ``name`` as :meth:`new_state` takes it."""
        if name not in self.OPTIONS:
            hint = f"valid options: {', '.join(self.OPTIONS)}" if self.OPTIONS else f"{self.NAME} has no options"
            raise ValueError(f"unknown option {name}={value!r} for design {self.NAME!r}; {hint}")
        if self._check_option is not None:
            return self._check_option(name, value)
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r}")
        return bool(value)

    def preset(self, name: str, summary: str, **presets) -> "Design":
        """A new design on this one's code (its state types, hooks and compiled verbs)
        with some options preset: their defaults in the new design, e.g.
        ``get_design("vswap_v6").preset("vswap_v6_lc4", "v6, 4-way lookup cache",
        lookup_cache_ways=4)``; add it with :func:`vswap_nb.designs.register`."""
        fixed = {k: self.check_option(k, v) for k, v in presets.items()}
        base = self.new_state

        def new_state(nslots, **kw):
            return base(nslots, **{**fixed, **kw})

        return Design(
            name,
            summary,
            self.STATES,
            new_state,
            options={**self.OPTIONS, **fixed},
            check_option=self._check_option,
            virtual_slots=self.VIRTUAL_SLOTS,
            entry_space=self.entry_space,
            check_state=self.check_state,
        )

    def __repr__(self) -> str:
        return f"<design {self.NAME}: {self.SUMMARY}>"

