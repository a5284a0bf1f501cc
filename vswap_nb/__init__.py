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

from .api import designs, metadata_overhead  # noqa: E402
from .core.radix import XArray  # noqa: E402
from .core.units import parse_size  # noqa: E402

__all__ = ["designs", "metadata_overhead", "XArray", "parse_size", "__version__"]
