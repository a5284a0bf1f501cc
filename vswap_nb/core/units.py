"""Sizes as users write them: ``"32G"``, ``"512M"``, ``"4k"``, ``"1.5G"`` or a number of
bytes.  Suffixes are binary (K = 1024), as in usemem's memparse and ``swapon``.

Why a hand-written parser: none of the package's dependencies reads sizes the way the
kernel and its tools do.  numpy, xarray and matplotlib have no size parser;
``dask.utils.parse_bytes`` (dask.distributed, an optional extra) reads one-letter
suffixes as decimal (``"32G"`` is 32,000,000,000 bytes, ``"4k"`` 4,000) and wants
``"32GiB"`` for 2**35, where ``memparse()``, usemem, ``swapon`` and memory.max all read
``32G`` as 2**35; and ``format_bytes`` prints ``"32.00 GiB"``, which memparse would not
read back.  So ``parse_size``/``format_size`` stay: K/M/G/T/P powers of 1024, an
optional ``iB``/``B`` after them, exact fractions (``"1.5G"``) when they are whole
bytes, and errors naming the argument."""
from __future__ import annotations

import numbers
import re
from fractions import Fraction

__all__ = ["PAGE_SIZE", "format_size", "parse_size"]

PAGE_SIZE = 4096
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKmMgGtTpP]?)(?:i?[bB])?\s*$")


def parse_size(value, name: str = "size") -> int:
    """Bytes in ``value`` (int, float of whole bytes, or a string like "32G").

    Raises TypeError/ValueError naming ``name`` when the value is not a size.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a size like '32G', '512M' or a number of bytes, got {value!r}")
    if isinstance(value, numbers.Integral):
        n = int(value)
    elif isinstance(value, numbers.Real):
        if value != value or value in (float("inf"), float("-inf")) or value != int(value):
            raise ValueError(f"{name} must be a whole number of bytes, got {value!r}")
        n = int(value)
    elif isinstance(value, str):
        m = _RE.match(value)
        if not m:
            raise ValueError(
                f"{name}={value!r} is not a size; write it like '32G', '512M', '4K' or "
                f"a number of bytes (suffixes K, M, G, T, P are powers of 1024)"
            )
        number, unit = m.groups()
        exact = Fraction(number) * _UNITS[unit.upper()]
        if exact.denominator != 1:
            raise ValueError(f"{name}={value!r} is not a whole number of bytes")
        n = int(exact)
    else:
        raise TypeError(
            f"{name} must be a size like '32G', '512M' or a number of bytes, "
            f"got {type(value).__name__} {value!r}"
        )
    if n < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return n


def format_size(nbytes: int) -> str:
    """``34359738368`` -> ``'32G'`` (exact binary units when possible)."""
    n = int(nbytes)
    for unit in ("P", "T", "G", "M", "K"):
        f = _UNITS[unit]
        if n >= f and n % f == 0:
            return f"{n // f}{unit}"
    return f"{n}B"
