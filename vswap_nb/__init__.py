"""vswap_nb: the Linux swap metadata designs (swap table vs. virtual swap), side by side.

Public API
----------
designs()            names of the designs that work
metadata_overhead()  bytes of swap metadata per design, backend and usage (a Dataset)
XArray               the emulated Linux XArray (lib/xarray.c), for exploring lookups
parse_size()         "32G" -> bytes
"""
from __future__ import annotations

__version__ = "0.1.0"

from .api import designs, metadata_overhead
from .core.radix import XArray
from .core.units import parse_size

__all__ = ["XArray", "__version__", "designs", "metadata_overhead", "parse_size"]
