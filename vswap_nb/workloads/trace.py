"""Workloads on disk: write one, read it back, replay it anywhere.

Two formats, chosen by the file name:

``.npz`` (NumPy, compressed): one int64 array per event column (``task``, ``kind``, ``a``,
``b``, ``c``, ``d``), ``task_start``, ``task_mm``, ``mm_pages``, ``task_cpu``, ``task_memcg`` (int64; a trace without it puts every task in cgroup 0),
``fill`` (float64), and ``meta``, a JSON string with ``format`` ("vswap_nb-trace-1"),
``name``, ``params``, ``phases`` and ``nevents``.  Columnar, so a trace converted from
another tool is easy to write with NumPy alone.

``.csv`` (text, for eyes and spreadsheets): a first line ``# {json}`` holding the same
metadata plus ``task_mm``, ``mm_pages``, ``task_cpu``, ``task_memcg`` and ``fill``, a header line
``task,kind,a,b,c,d``, then one event per line.  ``task_start`` is recounted from the
task column.

Reading re-validates the workload; a file that is corrupt, truncated, of another format
version or otherwise not a valid workload raises ValueError naming the file and what is
wrong.  A round trip gives a Workload equal to the one written (floats are written with
``repr``, which reads back bit for bit).
"""
from __future__ import annotations

import io
import json
import os

import numpy as np

from .events import Workload

__all__ = ["FORMAT", "read_trace", "write_trace"]

FORMAT = "vswap_nb-trace-1"
_COLUMNS = ("task", "kind", "a", "b", "c", "d")
_INT_ARRAYS = ("task_start", "task_mm", "mm_pages", "task_cpu")
_OPTIONAL = ("task_memcg",)  # int64 arrays a trace written before them does not have (default: all 0)


def _kind_of(path) -> str:
    p = os.fspath(path)
    if not isinstance(p, str):
        raise TypeError(f"path must be a file name, got {path!r}")
    low = p.lower()
    if low.endswith(".npz"):
        return "npz"
    if low.endswith(".csv"):
        return "csv"
    raise ValueError(f"trace file {p!r}: the name must end in .npz (NumPy) or .csv (text)")


def _meta(w: Workload) -> dict:
    return {"format": FORMAT, "name": w.name, "params": w.params, "phases": list(w.phases), "nevents": w.nevents}


def write_trace(workload: Workload, path) -> None:
    """Write ``workload`` to ``path`` (``.npz`` or ``.csv``, see the module docstring)."""
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload, got {type(workload).__name__}")
    kind = _kind_of(path)
    workload.validate()
    meta = _meta(workload)
    if kind == "npz":
        arrays = {c: np.ascontiguousarray(workload.events[:, i]) for i, c in enumerate(_COLUMNS)}
        arrays.update({k: getattr(workload, k) for k in _INT_ARRAYS + _OPTIONAL + ("fill",)})
        arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))
        with open(path, "wb") as f:  # an open file keeps NumPy from appending ".npz"
            np.savez_compressed(f, **arrays)
        return
    meta.update({k: getattr(workload, k).tolist() for k in _INT_ARRAYS[1:] + _OPTIONAL + ("fill",)})
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("# " + json.dumps(meta, allow_nan=False) + "\n")
        f.write(",".join(_COLUMNS) + "\n")
        if workload.nevents:
            np.savetxt(f, workload.events, fmt="%d", delimiter=",")


def read_trace(path) -> Workload:
    """Read a trace written by :func:`write_trace` and validate it."""
    kind = _kind_of(path)
    p = os.fspath(path)
    try:
        fields = _read_npz(p) if kind == "npz" else _read_csv(p)
        return Workload(**fields).validate()
    except _Bad as exc:
        raise ValueError(f"trace file {p!r}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"trace file {p!r} does not hold a valid workload: {exc}") from None


class _Bad(Exception):
    pass


def _check_meta(meta) -> dict:
    if not isinstance(meta, dict):
        raise _Bad("its metadata is not a JSON object")
    fmt = meta.get("format")
    if fmt != FORMAT:
        raise _Bad(f"format version {fmt!r} is not supported; this vswap_nb reads {FORMAT!r}")
    for key, typ in (("name", str), ("params", dict), ("phases", list), ("nevents", int)):
        if not isinstance(meta.get(key), typ):
            raise _Bad(f"metadata field {key!r} is missing or not a {typ.__name__}")
    return meta


def _as(arr, name, dtype):
    a = np.asarray(arr)
    want = np.dtype(dtype)
    if a.ndim != 1 or (a.size and a.dtype.kind not in ("f" if want.kind == "f" else "iu")):
        raise _Bad(f"array {name!r} must be a 1-D {want.name} array, got {a.ndim}-D {a.dtype}")
    return np.ascontiguousarray(a, dtype=want)


def _fields(meta, columns, arrays) -> dict:
    n = meta["nevents"]
    for c, col in zip(_COLUMNS, columns):
        if col.shape[0] != n:
            raise _Bad(f"column {c!r} has {col.shape[0]} events, the metadata says {n} (truncated?)")
    events = np.empty((n, 6), dtype=np.int64)
    for i, col in enumerate(columns):
        events[:, i] = col
    return {
        "name": meta["name"],
        "params": meta["params"],
        "phases": tuple(meta["phases"]),
        "events": events,
        **arrays,
    }


def _read_npz(path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            missing = [k for k in ("meta",) + _COLUMNS + _INT_ARRAYS + ("fill",) if k not in files]
            if missing:
                raise _Bad(f"missing arrays {missing}; is it a vswap_nb trace?")
            try:
                meta = _check_meta(json.loads(str(z["meta"][()])))
            except json.JSONDecodeError as exc:
                raise _Bad(f"metadata is not valid JSON: {exc}") from None
            columns = [_as(z[c], c, np.int64) for c in _COLUMNS]
            arrays = {k: _as(z[k], k, np.int64) for k in _INT_ARRAYS + _OPTIONAL if k in files}
            arrays["fill"] = _as(z["fill"], "fill", np.float64)
    except _Bad:
        raise
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile, zlib, NumPy: any failure means a bad file
        raise _Bad(f"cannot be read as a .npz archive ({type(exc).__name__}: {exc}); it may be truncated or corrupt") from None
    return _fields(meta, columns, arrays)


def _read_csv(path) -> dict:
    with open(path, encoding="utf-8", newline="") as f:
        try:
            text = f.read()
        except UnicodeDecodeError as exc:
            raise _Bad(f"is not UTF-8 text: {exc}") from None
    first, _, rest = text.partition("\n")
    if not first.startswith("# "):
        raise _Bad("the first line must be '# ' followed by the JSON metadata")
    try:
        meta = _check_meta(json.loads(first[2:]))
    except json.JSONDecodeError as exc:
        raise _Bad(f"the metadata line is not valid JSON ({exc}); the file may be truncated") from None
    header, _, body = rest.partition("\n")
    if header.strip() != ",".join(_COLUMNS):
        raise _Bad(f"the second line must be the header {','.join(_COLUMNS)!r}, got {header.strip()!r}")
    if body and not body.endswith("\n"):
        raise _Bad("the last line is not complete; the file is truncated")
    try:
        table = np.loadtxt(io.StringIO(body), dtype=np.int64, delimiter=",", ndmin=2)
    except ValueError as exc:
        raise _Bad(f"the event lines are not 6 integers each ({exc}); the file may be truncated or corrupt") from None
    if table.size == 0:
        table = np.zeros((0, 6), dtype=np.int64)
    if table.shape[1] != 6:
        raise _Bad(f"event lines have {table.shape[1]} columns, expected 6 ({','.join(_COLUMNS)})")
    if table.shape[0] != meta["nevents"]:
        raise _Bad(f"it has {table.shape[0]} event lines, the metadata says {meta['nevents']} (truncated?)")
    arrays = {}
    for k in _INT_ARRAYS[1:] + _OPTIONAL:
        v = meta.get(k)
        if v is None and k in _OPTIONAL:
            continue
        if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            raise _Bad(f"metadata field {k!r} must be a list of integers")
        arrays[k] = np.array(v, dtype=np.int64)
    fill = meta.get("fill")
    if not isinstance(fill, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in fill):
        raise _Bad("metadata field 'fill' must be a list of numbers")
    arrays["fill"] = np.array(fill, dtype=np.float64)
    columns = [np.ascontiguousarray(table[:, i]) for i in range(6)]
    counts = np.bincount(table[:, 0], minlength=len(arrays["task_mm"])) if table.size and table[:, 0].min() >= 0 else None
    if counts is None or counts.shape[0] != len(arrays["task_mm"]):
        raise _Bad("the task column must hold task ids 0 .. ntasks-1 (ntasks = len(task_mm))")
    ts = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=ts[1:])
    arrays["task_start"] = ts
    return _fields(meta, columns, arrays)
