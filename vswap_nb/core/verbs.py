"""The verb set every design implements, dispatched statically on the design's state.

A design is a state namedtuple plus njit functions (its verbs).  It registers them
here with :func:`register`; kernels anywhere in the package then call the generic verb
(``verbs.alloc(dst, ctx, ...)``) and Numba resolves it at compile time to the design's
implementation from the type of ``dst`` (an ``@overload`` keyed on the state's
namedtuple class).  One engine kernel therefore serves every design, each compiled
once per design, and all of it caches to disk (a design passed as a function argument
would not: Numba keys such signatures on object identity).

The same names are callable from Python (they look the design up by ``type(dst)``),
which the tests use to drive a design verb by verb.

Conventions
-----------
* ``dst`` is the design state, ``ctx`` the run context (:class:`Ctx`: counters and the
  folio side).  ``op`` is the counter row the work is charged to.
* Entries are ``int64`` swap entry values, never 0.  Folios are ``int64`` ids
  (the model's PFNs).  Functions return negative errno values on failure, never raise.

Verbs
-----
alloc(dst, ctx, cpu, order, folio, memcg) -> entry or -errno
    folio_alloc_swap(): allocate 2**order slots, add the folio to the swap cache with
    count 0, record the memcg.
dup(dst, ctx, op, entry, nr) -> 0 or -errno
    swap count +1 on each of ``nr`` entries (folio_dup_swap / swap_dup_entry_direct).
pte_batch(dst, ctx, op, entry, nr) -> n <= nr
    the design's part of swap_pte_batch(): ``nr`` PTEs hold consecutive entries from
    ``entry``; returns how many of them may be put together (the 6.19 baseline stops
    at a change of swap cgroup, reading each PTE's id; P4 reads nothing).
put(dst, ctx, op, entry, nr, reclaim_cache) -> number of slots freed
    swap count -1 on each of ``nr`` consecutive entries, freeing what drops to zero
    (swap_put_entries_direct; folio_put_swap with reclaim_cache=False).  The count
    returned is the slots the put itself freed; cached slots it left cache-only and
    then reclaimed (``reclaim_cache``) are not in it.
cache_lookup(dst, ctx, op, entry) -> folio or -1
cache_add(dst, ctx, op, entry, nr, folio) -> 0 or -errno  (swap-in's cache insert)
cache_del(dst, ctx, op, entry, nr) -> 0  (folio leaves the cache after writeout)
cache_free(dst, ctx, op, entry, nr) -> 1 if freed else 0  (folio_free_swap)
try_reclaim(dst, ctx, op, entry, flags) -> +nr reclaimed, -nr kept, 0 no folio
writeout(dst, ctx, op, entry, nr, backend) -> backend used or -errno
    swap_writeout() of a cached folio whose PTEs hold the entries: BACKEND_ZERO for a
    zero-filled folio, BACKEND_ZSWAP when zswap takes it, BACKEND_DISK otherwise (the
    mm decides which); BACKEND_NONE when no PTE references it any more and the folio
    was simply dropped from the cache.
read_backend(dst, ctx, op, entry) -> backend the data is read from
ra_probe(dst, ctx, op, entry) -> RA_SYNC, RA_READAHEAD or -errno
    do_swap_page()'s choice after a swap-cache miss on a swapped ``entry``: RA_SYNC when
    the entry's data sits on a SWP_SYNCHRONOUS_IO device (zram, pmem, brd: read it
    directly, no readahead), RA_READAHEAD when the fault goes through
    swapin_readahead().  The classic designs read the device's flag; a virtual design
    resolves the entry's backend first (swap_entry_backend_has_flag()), and its zero,
    zswap and unbacked entries always take readahead.  -ENOENT when the entry is not
    allocated.  The per-entry work of the readahead window itself is cache_lookup
    then cache_add and read_backend.
zswap_writeback(dst, ctx, op, entry, folio) -> 0 or -errno
    zswap_writeback_entry(): read the compressed page into ``folio`` through the swap
    cache, write it to the device, drop the zswap entry and the folio.
reclaim_full(dst, ctx, force) -> slots reclaimed by a full-cluster scan
unuse_entry(dst, ctx, op, off) -> entry or 0
    swapoff's look at physical slot ``off`` (find_next_to_unuse): the entry the page
    tables and the swap cache know for it (the slot itself, or the virtual entry its
    reverse map names), 0 when the slot is free or bad
unuse(dst, ctx, op, entry, folio) -> 1, 0 or -errno
    swapoff's last step for an entry whose data is now in ``folio`` (in the swap
    cache): 1 when the entry is gone (folio_free_swap: no PTE holds it any more),
    0 when the entry lives on with the folio as its backend and its physical slot
    freed (a virtual design repointing the entry at the swap cache)
swap_count(dst, entry) -> count (-1 if not allocated), no counters touched
metadata_bytes(dst, out) -> fills ``out[structure]`` with bytes in use

Hooks (called by shared code while it works on a design's state)
phys_slot_scan(dst, ctx, op, dev, off) -> SLOT_FREE / SLOT_CACHE_ONLY / SLOT_BUSY
    how the physical allocator sees a slot (:mod:`vswap_nb.core.device`)
phys_slot_reclaim(dst, ctx, op, dev, off) -> +nr reclaimed, -nr kept, 0 no folio
    __try_to_reclaim_swap(TTRS_ANYWAY) of a cache-only physical slot
only_has_cache(dst, ctx, op, start, nr) -> True if no slot of the range is counted
    swap_only_has_cache() under the cluster lock (:mod:`vswap_nb.designs._table_cache`)
slot_release(dst, ctx, op, start, n)
    the per-slot work of swap_range_free() beyond the table (zswap invalidation, the
    Swap Table Edition's release of the virtual entry's backing, the free hooks)
range_has_zswap(dst, ctx, op, start, nr) -> True if any page of the range is in zswap
    (zswap_is_present before a large swap-in)

Hooks with a default (a design registers its own only where it differs):
phys_dev(dst) -> SwapDev   the physical swap device (default ``dst.dev``)
ptes_hold_slots(dst) -> True when page tables hold physical entries, so swapoff
    walks every page table (default); False for a virtual design, whose page tables
    hold virtual entries that swapoff leaves alone
cluster_lookup(dst, ctx, op, dev, off)   finding the cluster of ``off`` before locking
    it: array arithmetic (default, no cost) or an XArray walk for a device whose
    clusters are dynamic
cluster_populated(dst, ctx, op, dev, c, on)   a cluster's table was allocated (on) or
    freed: no extra cost by default; a dynamic device adds or erases the cluster in its
    XArray
slot_cache_only(dst, ctx, op, slot, on)   a cached slot's count went 1 -> 0 (on) or
    0 -> 1 (off): nothing by default; the Swap Table Edition marks the physical rmap
free_after_fault(dst, ctx, op, entry, folio, sync_dev, full, write) -> True to free
    after a fault mapped ``folio`` (in the swap cache for ``entry``) and put the PTE's
    count: whether the mm then calls ``cache_free`` (folio_free_swap).  Default: the
    swap table phase II rule, always on a SWP_SYNCHRONOUS_IO device (``sync_dev``),
    else when swap is full (``full``: vm_swap_full) or on a write fault; 6.19 (classic)
    has no device rule in should_try_to_free_swap() but frees what its synchronous path
    pinned (swapcache_clear)
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba.core.errors import TypingError
from numba.extending import overload

from .counters import new_counters
from .metadata import N_STRUCTURES
from .jit import njit
from .ref import ref

__all__ = ["Ctx", "new_ctx", "register", "registered"]

# --------------------------------------------------------------------------- context

Ctx = namedtuple("Ctx", ["counters", "folio", "meta", "drops"])
Ctx.__doc__ = """Run context shared by every verb of one run.

counters  int64[N_OPS, N_PRIMITIVES]  what each operation touched
folio     int64[nfolios, 3]  the folio side of the swap cache, one row per folio:
          F_SWAP   folio->swap, the first swap entry while the folio is in the swap
                   cache, 0 otherwise (designs set and clear it, as the kernel's swap
                   cache add/delete do)
          F_ORDER  folio_order() (designs set it when they add the folio)
          F_FLAGS  folio state owned by the mm (FOLIO_MAPPED, ...)
meta      int64[N_CTX_META]  run-wide switches and statistics (C_*), among them the CPU
          the current operation runs on (``C_CPU``): verbs read it as kernel code reads
          smp_processor_id(), and the caller sets it where the CPU changes (the mm
          engine: at each task's quantum and around kswapd's and the zswap worker's work)
drops     int64[DROP_RING]  the folios a design dropped from the swap cache on its own
          (``__try_to_reclaim_swap`` from a put or from the allocator), the n-th drop at
          ``n % DROP_RING`` with n = ``meta[C_CACHE_DROPS]`` before it; the mm drains it
          after each verb call that may drop one (mm/memory.py ``drain_drops``) to free
          the pages no PTE maps any more
"""

F_SWAP = 0
F_ORDER = 1
F_FLAGS = 2

FOLIO_MAPPED = 1
FOLIO_DIRTY = 2
FOLIO_SYNC_BYPASS = 4  # 6.19's synchronous swap-in: pinned by SWAP_HAS_CACHE, not in the swap cache

C_CACHE_DROPS = 0  # folios a design dropped from the swap cache on its own (reclaim)
C_ZSWAP_ENABLED = 1  # zswap has been enabled (zswap_never_enabled() is false)
C_CPU = 2  # the CPU the current operation runs on (per-CPU caches of non-alloc verbs)
C_SEED = 3  # the run's seed (injected faults)
C_FAULT_ATOMIC_RATE = 4  # injected atomic-allocation failure rate, in units of 2**-53
C_FAULT_ATOMIC_DRAWS = 5  # atomic allocations tried so far (the fault's attempt number)
C_FAULT_ATOMIC_HITS = 6  # atomic allocations that failed and took the fallback
N_CTX_META = 8
FAULT_ATOMIC_KIND = 3  # the hash's kind number (the mm's injected faults are 0..2)
DROP_RING = 4096  # more than one verb call can drop (a put or a cluster scan: <= 512)


def new_ctx(nfolios: int) -> Ctx:
    return Ctx(
        counters=new_counters(),
        folio=np.zeros((max(int(nfolios), 1), 3), dtype=np.int64),
        meta=np.zeros(N_CTX_META, dtype=np.int64),
        drops=np.zeros(DROP_RING, dtype=np.int64),
    )


@njit(inline="always")
def note_cache_drop(ctx, folio):
    """A design dropped ``folio`` from the swap cache on its own: log it for the mm."""
    n = ctx.meta[C_CACHE_DROPS]
    ctx.drops[n % DROP_RING] = folio
    ctx.meta[C_CACHE_DROPS] = n + 1


@njit(inline="always")
def folio_add_swap(ctx, folio, start, nr):
    """The folio side of a swap-cache add: folio->swap = start, order from nr (and the
    folio is in the swap cache, not pinned by a synchronous swap-in)."""
    order = 0
    while (1 << order) < nr:
        order += 1
    ctx.folio[folio, F_SWAP] = start
    ctx.folio[folio, F_ORDER] = order
    ctx.folio[folio, F_FLAGS] &= ~FOLIO_SYNC_BYPASS


@njit(inline="always")
def splitmix64(x):
    """splitmix64 on uint64 (the hash behind every seeded choice of a run)."""
    x = np.uint64(x) + np.uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def fault_draw(seed, kind, n):
    """The n-th draw of injected fault ``kind`` for ``seed``: uniform in [0, 2**53)."""
    h = splitmix64(splitmix64(np.uint64(seed) ^ (np.uint64(kind + 1) * np.uint64(0xD6E8FEB86659FD93))) + np.uint64(n))
    return np.int64(h >> np.uint64(11))


@njit(inline="always")
def atomic_alloc_fails(ctx):
    """Whether this atomic (GFP_ATOMIC-like, under a spinlock) metadata allocation
    fails, at the run's injected rate (``System(faults={"atomic_alloc": p})``)."""
    rate = ctx.meta[C_FAULT_ATOMIC_RATE]
    if rate <= 0:
        return False
    n = ctx.meta[C_FAULT_ATOMIC_DRAWS]
    ctx.meta[C_FAULT_ATOMIC_DRAWS] = n + 1
    if fault_draw(ctx.meta[C_SEED], FAULT_ATOMIC_KIND, n) < rate:
        ctx.meta[C_FAULT_ATOMIC_HITS] += 1
        return True
    return False


# backends for writeout/read_backend
BACKEND_NONE = 0
BACKEND_ZERO = 1
BACKEND_ZSWAP = 2
BACKEND_DISK = 3
BACKEND_FOLIO = 4

# ra_probe answers
RA_READAHEAD = 0
RA_SYNC = 1

# phys_slot_scan answers
SLOT_FREE = 0
SLOT_CACHE_ONLY = 1
SLOT_BUSY = 2

# __try_to_reclaim_swap flags
TTRS_ANYWAY = 1
TTRS_UNMAPPED = 2
TTRS_FULL = 4

# errno values returned by verbs
EINVAL = -22
ENOMEM = -12
ENOENT = -2
EEXIST = -17
EBUSY = -16
ENOSPC = -28

# --------------------------------------------------------------------------- registry

_REGISTRY: dict = {}

# name -> argument list; each verb is generated below as a plain function (Python
# dispatch on ``type(dst)``) plus an ``@overload`` of the same signature (compile-time
# dispatch on the state's namedtuple class), so kernels and Python call the same name.
VERB_SIGNATURES = {
    "alloc": "dst, ctx, cpu, order, folio, memcg",
    "dup": "dst, ctx, op, entry, nr",
    "pte_batch": "dst, ctx, op, entry, nr",
    "put": "dst, ctx, op, entry, nr, reclaim_cache",
    "cache_lookup": "dst, ctx, op, entry",
    "cache_add": "dst, ctx, op, entry, nr, folio",
    "cache_del": "dst, ctx, op, entry, nr",
    "cache_free": "dst, ctx, op, entry, nr",
    "try_reclaim": "dst, ctx, op, entry, flags",
    "writeout": "dst, ctx, op, entry, nr, backend",
    "read_backend": "dst, ctx, op, entry",
    "ra_probe": "dst, ctx, op, entry",
    "zswap_writeback": "dst, ctx, op, entry, folio",
    "reclaim_full": "dst, ctx, force",
    "unuse_entry": "dst, ctx, op, off",
    "unuse": "dst, ctx, op, entry, folio",
    "phys_dev": "dst",
    "ptes_hold_slots": "dst",
    "swap_count": "dst, entry",
    "metadata_bytes": "dst, out",
    "phys_slot_scan": "dst, ctx, op, dev, off",
    "phys_slot_reclaim": "dst, ctx, op, dev, off",
    "only_has_cache": "dst, ctx, op, start, nr",
    "slot_release": "dst, ctx, op, start, n",
    "range_has_zswap": "dst, ctx, op, start, nr",
    "cluster_lookup": "dst, ctx, op, dev, off",
    "free_after_fault": "dst, ctx, op, entry, folio, sync_dev, full, write",
    "cluster_populated": "dst, ctx, op, dev, c, on",
    "slot_cache_only": "dst, ctx, op, slot, on",
}
VERB_NAMES = tuple(VERB_SIGNATURES)
# The verbs that are whole operations of the mm on entries (the engine calls them; the
# others are an allocation, queries, or hooks shared code calls in the middle of one).
# A design may register an ``op_end(dst, ctx, op)`` that runs after each of them
# (vswap: its per-CPU lookup cache drops the clusters the operation emptied).
OP_VERBS = (
    "dup", "pte_batch", "put", "cache_lookup", "cache_add", "cache_del", "cache_free", "try_reclaim",
    "writeout", "read_backend", "ra_probe", "zswap_writeback", "free_after_fault", "unuse",
)
_OP_END: dict = {}


def register(state_cls, *, op_end=None, **impls) -> None:
    """Register a design's verb implementations for states of type ``state_cls``, and
    optionally its ``op_end(dst, ctx, op)``, run after each verb in :data:`OP_VERBS`."""
    unknown = set(impls) - set(VERB_NAMES)
    if unknown:
        raise ValueError(f"unknown verb names {sorted(unknown)}; valid: {VERB_NAMES}")
    _REGISTRY.setdefault(state_cls, {}).update(impls)
    if op_end is not None:
        _OP_END[state_cls] = op_end


def registered(state_cls) -> dict:
    return dict(_REGISTRY.get(state_cls, {}))


_DEFAULTS: dict = {}


def _impl_for_type(dst_type, name):
    cls = getattr(dst_type, "instance_class", None)
    impl = _REGISTRY.get(cls, {}).get(name, _DEFAULTS.get(name))
    if impl is None:
        raise TypingError(
            f"verb {name!r} is not implemented for design state {dst_type}; "
            f"register it with vswap_nb.core.verbs.register()"
        )
    return impl


def _op_end_for_type(dst_type, name):
    if name not in OP_VERBS:
        return None
    return _OP_END.get(getattr(dst_type, "instance_class", None))


def _impl_for_value(dst, name):
    impl = _REGISTRY.get(type(dst), {}).get(name, _DEFAULTS.get(name))
    if impl is None:
        raise TypeError(
            f"verb {name!r} is not implemented for {type(dst).__name__}; "
            f"register it with vswap_nb.core.verbs.register()"
        )
    return impl


# Called from Python, the verbs first check the ids that index arrays: a kernel does not
# bounds-check, so a bad folio id or CPU would write outside the state.


def _check_folio(ctx, folio):
    n = ctx.folio.shape[0]
    if not 0 <= int(folio) < n:
        raise ValueError(
            f"folio must be in [0, {n}) for this context, got {folio}; "
            f"make the context with new_ctx(nfolios) large enough"
        )


def _check_cpu_order(dst, cpu, order):
    dev = getattr(dst, "dev", None)
    if dev is not None:
        ncpu = dev.pcpu.shape[0] - 1
        if not 0 <= int(cpu) < ncpu:
            raise ValueError(
                f"cpu must be in [0, {ncpu}) for this state, got {cpu}; "
                f"build the state with ncpu={int(cpu) + 1} or more"
            )
    if not 0 <= int(order) <= 9:
        raise ValueError(f"order must be in [0, 9] (up to a PMD folio), got {order}")


def _check_out(out):
    if out.ndim != 1 or out.shape[0] < N_STRUCTURES or out.dtype.kind != "i":
        raise ValueError(f"out must be an int64 array of at least {N_STRUCTURES} structures, got {out.dtype}{out.shape}")


_PYTHON_CHECKS = {
    "metadata_bytes": lambda a: _check_out(a["out"]),
    "alloc": lambda a: (_check_folio(a["ctx"], a["folio"]), _check_cpu_order(a["dst"], a["cpu"], a["order"])),
    "cache_add": lambda a: _check_folio(a["ctx"], a["folio"]),
    "zswap_writeback": lambda a: _check_folio(a["ctx"], a["folio"]),
    "unuse": lambda a: _check_folio(a["ctx"], a["folio"]),
}

_TEMPLATE = """
def {name}({args}):
    check = _PYTHON_CHECKS.get({name!r})
    if check is not None:
        check(dict({kwargs}))
    _impl_for_value(dst, {name!r})  # a clear error for a design without this verb
    return _py_{name}({args})


def _py_{name}({args}):
    return {name}({refs})


def _ol_{name}({args}):
    impl = _impl_for_type(dst, {name!r})
    end = _op_end_for_type(dst, {name!r})
    if end is None:
        return lambda {args}: impl({args})

    def with_end({args}):
        r = impl({args})
        end(dst, ctx, op)
        return r

    return with_end
"""


def _make_verbs(namespace):
    for name, args in VERB_SIGNATURES.items():
        kwargs = ", ".join(f"{a}={a}" for a in args.split(", "))
        refs = ", ".join(f"ref({a})" for a in args.split(", "))
        # compiled under this file's name, so Numba's cache can locate the trampolines
        code = compile(_TEMPLATE.format(name=name, args=args, kwargs=kwargs, refs=refs), __file__, "exec")
        exec(code, namespace)
        namespace[name].__doc__ = f"The ``{name}`` verb of the design ``dst`` (see the module docstring)."
        # called from Python, a verb enters compiled code through a trampoline that
        # passes its namedtuples as Refs (core/ref.py), so a design's verbs compile for
        # one argument type whether the engine or a test calls them.  phys_dev returns
        # part of the state: from Python it returns the namedtuple itself (a Ref would
        # point into a finished call's frame)
        if name == "phys_dev":
            namespace[f"_py_{name}"] = lambda dst: _impl_for_value(dst, "phys_dev")(dst)
        else:
            namespace[f"_py_{name}"] = njit(namespace[f"_py_{name}"])
        # not inline="always": inlining these shims at the Numba IR level miscompiled
        # an inlined callee that followed them (a wrong early return); LLVM inlines
        # the tiny compiled shims anyway
        overload(namespace[name])(namespace[f"_ol_{name}"])


_make_verbs(globals())


@njit(inline="always")
def _no_cluster_lookup(dst, ctx, op, dev, off):
    return 0


@njit(inline="always")
def _no_cluster_populated(dst, ctx, op, dev, c, on):
    return 0


@njit(inline="always")
def _no_slot_cache_only(dst, ctx, op, slot, on):
    return 0


@njit(inline="always")
def _dev_of(dst):
    return dst.dev


@njit(inline="always")
def _p2_free_after_fault(dst, ctx, op, entry, folio, sync_dev, full, write):
    return sync_dev or full or write


@njit(inline="always")
def _ptes_hold_slots(dst):
    return True


_DEFAULTS.update(
    phys_dev=_dev_of,
    ptes_hold_slots=_ptes_hold_slots,
    cluster_lookup=_no_cluster_lookup,
    cluster_populated=_no_cluster_populated,
    slot_cache_only=_no_slot_cache_only,
    free_after_fault=_p2_free_after_fault,
)
