"""Public API: validate -> build arrays -> call the kernel -> wrap the result."""
from __future__ import annotations

import numbers

import numpy as np

from .core import verbs
from .core.counters import OP_CACHE_DEL, OP_DUP, OP_WRITEOUT
from .core.jit import njit
from .core.metadata import N_STRUCTURES, PAGE_SIZE
from .core.units import parse_size
from .designs import design_names, get_design
from .results import metadata_dataset

__all__ = ["BACKENDS", "designs", "metadata_overhead"]

BACKENDS = ("disk", "zswap")
_BACKEND_CODES = {"disk": verbs.BACKEND_DISK, "zswap": verbs.BACKEND_ZSWAP}
MAX_SWAP_BYTES = 1 << 50  # far above any swap device the model is meant for


def designs() -> tuple:
    """Names of the metadata designs that work so far."""
    return design_names()


# --------------------------------------------------------------------------- checks


def _as_tuple(value, name):
    if isinstance(value, str):
        return (value,)
    try:
        out = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a name or a list of names, got {value!r}") from None
    if not out:
        raise ValueError(f"{name} must not be empty; valid values: {', '.join(_valid(name))}")
    return out


def _valid(name):
    return designs() if name == "designs" else BACKENDS


def check_designs(value) -> tuple:
    names = _as_tuple(value, "designs")
    for n in names:
        get_design(n)
    if len(set(names)) != len(names):
        raise ValueError(f"designs lists a design twice: {list(names)}; give each once")
    return names


def check_backends(value) -> tuple:
    names = _as_tuple(value, "backend")
    for n in names:
        if n not in BACKENDS:
            raise ValueError(f"unknown backend {n!r}; valid backends: {', '.join(BACKENDS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"backend lists a backend twice: {list(names)}; give each once")
    return names


def check_usage(value) -> np.ndarray:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = (value,)
    try:
        arr = np.asarray(list(value), dtype=object)
    except TypeError:
        raise TypeError(f"usage must be a fraction or a list of fractions in [0, 1], got {value!r}") from None
    if arr.size == 0:
        raise ValueError("usage must hold at least one fraction in [0, 1], e.g. usage=(0, 0.5, 1)")
    out = []
    for u in arr:
        if isinstance(u, bool) or not isinstance(u, numbers.Real):
            raise TypeError(f"usage values must be numbers in [0, 1], got {u!r}")
        u = float(u)
        if not 0.0 <= u <= 1.0:
            raise ValueError(f"usage values must be in [0, 1] (fractions of the device), got {u}")
        out.append(u)
    if len(set(out)) != len(out):
        raise ValueError(f"usage lists a value twice: {out}; give each once")
    return np.asarray(out, dtype=np.float64)


def check_swap_size(value, name="swap_size") -> int:
    nbytes = parse_size(value, name)
    if nbytes < 2 * PAGE_SIZE:
        raise ValueError(
            f"{name}={value!r} is too small: a swap device needs at least two pages "
            f"(the header and one slot), e.g. '64M'"
        )
    if nbytes > MAX_SWAP_BYTES:
        raise ValueError(f"{name}={value!r} is above 2**50 bytes (1 PiB); the model stops there")
    return nbytes


# --------------------------------------------------------------------------- kernels


@njit
def _swap_out(dst, ctx, n, backend, memcg):
    """Swap out ``n`` order-0 pages the way reclaim does: allocate (the folio enters the
    swap cache), unmap its one PTE (dup), write it out to ``backend``, and drop the
    folio from the swap cache (it becomes a shadow).  Returns the pages swapped out
    (fewer than ``n`` when the device fills), or ``-1 - i`` if page ``i`` could not be
    written out (a model error)."""
    nfolios = ctx.folio.shape[0]
    for i in range(n):
        folio = i % nfolios
        e = verbs.alloc(dst, ctx, 0, 0, folio, memcg)
        if e < 0:
            return i
        verbs.dup(dst, ctx, OP_DUP, e, 1)
        if verbs.writeout(dst, ctx, OP_WRITEOUT, e, 1, backend) != backend:
            return -1 - i
        verbs.cache_del(dst, ctx, OP_CACHE_DEL, e, 1)
    return n


@njit
def _metadata_bytes(dst, out):
    verbs.metadata_bytes(dst, out)


# --------------------------------------------------------------------------- public


def metadata_overhead(
    designs=None,
    swap_size="32G",
    usage=(0, 0.25, 0.5, 0.75, 1),
    backend=BACKENDS,
    *,
    cluster_size: int = 512,
):
    """Metadata bytes each design keeps for a swap device of ``swap_size`` when a
    fraction ``usage`` of its slots holds swapped-out pages.

    The bytes are measured from each design's own state: a fresh design swaps out
    ``usage * (slots - 1)`` order-0 pages one by one through its verbs (allocate, unmap,
    write out to the backend, drop from the swap cache), and its structures are summed
    at each usage level.  ``backend="disk"`` writes each page to a device slot;
    ``"zswap"`` stores it compressed in zswap (the designs differ in what that costs in
    metadata).

    Returns an ``xarray.Dataset`` with ``metadata_bytes`` (design, backend, usage),
    ``metadata_bytes_by_structure`` (plus a ``structure`` dimension),
    ``bytes_per_slot`` and ``swapped_entries``.
    """
    names = check_designs(design_names() if designs is None else designs)
    usage_arr = check_usage(usage)
    backends = check_backends(backend)
    nbytes = check_swap_size(swap_size)
    if isinstance(cluster_size, bool) or not isinstance(cluster_size, numbers.Integral):
        raise TypeError(f"cluster_size must be an integer power of two, got {cluster_size!r}")
    if cluster_size < 2 or cluster_size & (cluster_size - 1) or cluster_size > (1 << 20):
        raise ValueError(f"cluster_size must be a power of two in [2, 2**20], got {cluster_size}")
    nslots = nbytes // PAGE_SIZE
    pages = nslots - 1
    order = np.argsort(usage_arr, kind="stable")
    targets = np.round(usage_arr * pages).astype(np.int64)

    by_struct = np.zeros((len(names), len(backends), usage_arr.size, N_STRUCTURES), dtype=np.int64)
    used = np.zeros((len(names), len(backends), usage_arr.size), dtype=np.int64)
    for di, name in enumerate(names):
        module = get_design(name)
        for bi, b in enumerate(backends):
            dst = module.new_state(nslots, cluster_size=int(cluster_size), zswap_enabled=(b == "zswap"))
            ctx = verbs.new_ctx(64)
            done = 0
            for ui in order:
                want = int(targets[ui]) - done
                if want > 0:
                    got = int(_swap_out(dst, ctx, want, _BACKEND_CODES[b], 1))
                    if got < 0:
                        raise RuntimeError(
                            f"{name}: writing page {done - got - 1} out to {b} failed; "
                            f"this is a bug in vswap_nb, please report it"
                        )
                    done += got
                _metadata_bytes(dst, by_struct[di, bi, ui])
                used[di, bi, ui] = done
    return metadata_dataset(
        names,
        backends,
        usage_arr,
        by_struct,
        used,
        nslots=nslots,
        swap_size=nbytes,
        parameters={
            "designs": list(names),
            "swap_size": nbytes,
            "usage": usage_arr.tolist(),
            "backend": list(backends),
            "cluster_size": int(cluster_size),
        },
    )
