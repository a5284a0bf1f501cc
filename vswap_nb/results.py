"""Results as xarray Datasets.  The only module that knows xarray.

Conventions: one dimension per swept parameter; ``long_name`` and ``units`` on every
variable and coordinate; global attributes are netCDF-safe (strings and numbers), with
the run parameters as a JSON string, the package and Numba versions and the seed.
Counters stay ``int64``.
"""
from __future__ import annotations

import json

import numba
import numpy as np
import xarray as xr

from .core.metadata import STRUCTURE_DESCRIPTIONS, STRUCTURES

__all__ = ["base_attrs", "metadata_dataset"]


def base_attrs(kind: str, parameters: dict) -> dict:
    from . import __version__

    return {
        "title": f"vswap_nb {kind}",
        "vswap_nb_version": __version__,
        "numba_version": numba.__version__,
        "parameters": json.dumps(parameters, sort_keys=True),
    }


def metadata_dataset(
    design_names,
    backends,
    usage,
    bytes_by_structure: np.ndarray,
    used_entries: np.ndarray,
    *,
    nslots: int,
    swap_size: int,
    parameters: dict,
) -> xr.Dataset:
    """Dataset of :func:`vswap_nb.metadata_overhead`.

    ``bytes_by_structure`` is ``int64[design, backend, usage, structure]`` and
    ``used_entries`` ``int64[design, backend, usage]``.
    """
    total = bytes_by_structure.sum(axis=-1)
    pages = nslots - 1
    ds = xr.Dataset(
        data_vars={
            "metadata_bytes": (
                ("design", "backend", "usage"),
                total,
                {"long_name": "swap metadata in use", "units": "bytes"},
            ),
            "metadata_bytes_by_structure": (
                ("design", "backend", "usage", "structure"),
                bytes_by_structure,
                {"long_name": "swap metadata in use, by structure", "units": "bytes"},
            ),
            "bytes_per_slot": (
                ("design", "backend", "usage"),
                total / float(pages),
                {
                    "long_name": "swap metadata per usable swap slot",
                    "units": "bytes/slot",
                },
            ),
            "swapped_entries": (
                ("design", "backend", "usage"),
                used_entries,
                {"long_name": "swapped-out entries", "units": "pages"},
            ),
        },
        coords={
            "design": ("design", list(design_names), {"long_name": "metadata design", "units": "1"}),
            "backend": (
                "backend",
                list(backends),
                {"long_name": "where swapped pages go (disk: a device slot, zswap: compressed in RAM)", "units": "1"},
            ),
            "usage": (
                "usage",
                np.asarray(usage, dtype=np.float64),
                {"long_name": "fraction of the swap device's slots swapped out", "units": "1"},
            ),
            "structure": (
                "structure",
                list(STRUCTURES),
                {"long_name": "metadata structure", "units": "1"},
            ),
            "structure_description": (
                "structure",
                [STRUCTURE_DESCRIPTIONS[s] for s in STRUCTURES],
                {"long_name": "what the structure is", "units": "1"},
            ),
        },
        attrs=base_attrs("metadata_overhead", parameters)
        | {"swap_size_bytes": int(swap_size), "swap_slots": int(nslots)},
    )
    return ds
