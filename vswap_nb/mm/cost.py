"""The cost table: nanoseconds per counted primitive and per mm event.

A run's modelled time is ``counters[op, primitive] @ prim_ns`` plus the mm engine's event
counts times ``mm_ns`` (faults, page allocations, reclaim batches, ...).  Two tables:

* ``DEFAULT_COST``: one entry per name in :data:`vswap_nb.core.counters.PRIMITIVES`, the
  metadata primitives the design verbs count;
* ``MM_COST``: the memory-management events the engine counts (``MM_NAMES``).

Each entry is ``(ns, rationale)``.  The default table describes **a server core**: an
order-of-magnitude figure for one uncontended operation on a current x86 server core,
from what the operation does (its rationale says what), except where a rationale names
a measurement.  Override any subset with ``cost={"xa_node_visit": 25.0, ...}``
wherever a cost is accepted, or use a table fitted on a kernel:
``vswap_nb.calibrate(kernel=True)`` (:mod:`vswap_nb.calibration`) runs a set of
cases on the machine's own kernel and fits the mm-level costs, a scale on the
primitives, zram's per-slot free and the devices' page times to the measured phase
times; ``vswap-nb calibrate --kernel --out FILE`` writes it for ``--cost FILE``.

:func:`calibrate` measures, on this machine, what the *emulation's* own primitives cost
(an XArray walk in the emulated node pool, a NumPy table read/write, a read+write pair on
a lock word) and returns a dict usable as ``cost=``.  Those are costs of the emulation,
not of the kernel: a calibrated ``cluster_lock`` has no lock prefix, for instance.  Use
them to ask "what does my replay pay", and the defaults to ask "what would the kernel pay".

:func:`cost_vectors` turns ``None`` / a dict / a calibration into the two float64 vectors
the kernels take; :func:`cost_to_dict` / :func:`cost_from_dict` give a JSON-friendly
form for Dataset attributes.
"""
from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping

import numpy as np

from ..core.counters import N_PRIMITIVES, PRIMITIVES
from ..core.jit import njit
from ..core.radix import XArray

__all__ = [
    "CALIBRATED",
    "DEFAULT_COST",
    "DEVICE_COST_NAMES",
    "FAMILIES",
    "MM_COST",
    "MM_NAMES",
    "N_MM",
    "PRIMITIVE_FAMILY",
    "calibrate",
    "cost_from_dict",
    "cost_to_dict",
    "cost_vectors",
    "device_costs",
    "load_cost",
]

# --------------------------------------------------------------------------- primitives

DEFAULT_COST = {
    "xa_lookup": (15.0, ("xa_load() call itself: rcu_read_lock, xas setup, entry decode; "
                         "node visits are charged separately")),
    "xa_node_visit": (20.0, ("one 576-byte xa_node: its slot line (the shift comes from the "
                             "parent); reclaim and munmap stream other data between walks, so "
                             "a tree of more than a few nodes is not L1-resident: an L2/LLC hit "
                             "(~15-40 cycles on a server core) rather than 4")),
    "xa_store": (40.0, ("xa_store(): xa_lock spin lock/unlock + xas_store bookkeeping, "
                        "without the walk and node allocations")),
    "xa_erase": (40.0, ("xa_erase(): xa_lock + clearing the slot and counts, without walk "
                        "and node frees")),
    "xa_node_alloc": (120.0, "kmem_cache_alloc of a 576-byte radix_tree_node + zeroing it"),
    "xa_node_free": (60.0, "kmem_cache_free via call_rcu, the RCU callback amortised"),
    "cluster_lock": (8.0, ("uncontended spin_lock/unlock pair of a queued spinlock: one "
                           "locked cmpxchg (~20 cycles on a line in L1/L2) and a release "
                           "store (queued_spin_unlock is smp_store_release, not an atomic)")),
    "si_lock": (40.0, ("device-wide spin lock: the line usually comes from another core "
                       "(~40 ns transfer) even without contention")),
    "pcpu_access": (5.0, "this_cpu read/update under local_lock (preempt off), L1 hit"),
    "table_read": (1.0, "8-byte swap-table entry load, L1 hit in a 4 KiB cluster table"),
    "table_write": (2.0, "8-byte swap-table entry store to a line just read"),
    "map_read": (1.0, "1-byte swap_map load, L1 hit"),
    "map_write": (2.0, "1-byte swap_map store to a line just read"),
    "ext_read": (2.0, "extend-table entry: a separate allocation, usually L2"),
    "ext_write": (3.0, "extend-table store, separate line from the main table"),
    "memcg_read": (2.0, "2-byte memcg id from swap_cgroup / memcg_table, L1/L2"),
    "memcg_write": (5.0, "memcg id record: swap_cgroup_record is an xchg-style update"),
    "zeromap_read": (1.0, "test_bit on the per-device zeromap, L1/L2"),
    "zeromap_write": (5.0, "set_bit/clear_bit: a locked read-modify-write"),
    "desc_read": (3.0, "24-byte vswap descriptor in its virtual cluster, often its own line"),
    "desc_write": (3.0, "descriptor store (several fields of one 24-byte descriptor)"),
    "vt_read": (1.0, "8-byte STE virtual_table entry, L1 hit like a table entry"),
    "vt_write": (2.0, "8-byte virtual_table store"),
    "rmap_read": (2.0, "8-byte reverse-map entry in a per-physical-cluster array, L1/L2"),
    "rmap_write": (3.0, "reverse-map store (entry and cache-only bit)"),
    "bitmap_op": (3.0, "find_next_zero_bit / set / clear on a 64-byte cluster bitmap"),
    "lookup_cache_hit": (3.0, "per-CPU MRU cluster compare: one L1 load and compare"),
    "lookup_cache_miss": (5.0, ("MRU compare + updating the per-CPU slot (the xa_load "
                                "it causes is counted separately)")),
    "mem_alloc": (100.0, ("one slab allocation call (kmalloc / kmem_cache_alloc fast path with "
                          "occasional slow-path refills), whatever its size: zeroing is "
                          "mem_zero_line, a vmalloc area is vmalloc")),
    "mem_free": (60.0, "kfree / kmem_cache_free fast path, RCU-deferred frees amortised"),
    "memcg_charge": (50.0, "page_counter_charge: atomics up the cgroup hierarchy"),
    "memcg_uncharge": (50.0, "page_counter_uncharge: atomics up the hierarchy"),
    "slot_free_notify": (200.0, ("zram_slot_free_notify() per freed slot holding data on zram: "
                                 "bit trylock, zram_free_page() -> zs_free() (pool read lock, "
                                 "size-class spinlock, object and handle freed): ~200 ns on a "
                                 "server core.  A zero-page or zswap slot has no zram object: "
                                 "the hook returns at zram's flag check (not counted)")),
    "pte_read": (1.0, "a PTE read in a page-table page already in cache (swap_pte_batch)"),
    "mem_zero_line": (4.7, ("64 bytes cleared by a zeroing allocation, at clear_page's rate "
                            "(page_zero's 300 ns / 64 lines): a 4 KiB table page 300 ns, a "
                            "12 KiB descriptor array 900 ns")),
    "vmalloc": (1500.0, ("vzalloc() of a few pages beyond its zeroing: alloc_vmap_area (a "
                         "vmap_area and vm_struct from slab, an rb-tree search under a "
                         "spin lock), one order-0 page allocation per page and the kernel "
                         "PTEs (3 pages: ~1.5 us) [I]")),
    "vfree": (1000.0, ("vfree() of a few pages: unmapping the kernel PTEs, the lazy TLB "
                       "purge amortised, the pages and the vmap area freed [I]")),
}
assert tuple(DEFAULT_COST) == PRIMITIVES, "DEFAULT_COST must follow counters.PRIMITIVES"

# The family of each primitive: where a design pays, at a glance (the cost plot gives
# each family one hue, its members shades of it; the counter matrix keeps every
# primitive).  A per-CPU lookup cache is in XArray: it exists to skip a cluster-map
# xa_load.  pte_read is a page-table read, so a table.
FAMILIES = ("XArray", "locks", "tables and maps", "memcg", "allocation", "device")
PRIMITIVE_FAMILY = {
    "xa_lookup": "XArray",
    "xa_node_visit": "XArray",
    "xa_store": "XArray",
    "xa_erase": "XArray",
    "xa_node_alloc": "XArray",
    "xa_node_free": "XArray",
    "cluster_lock": "locks",
    "si_lock": "locks",
    "pcpu_access": "locks",  # under local_lock, preemption off
    "table_read": "tables and maps",
    "table_write": "tables and maps",
    "map_read": "tables and maps",
    "map_write": "tables and maps",
    "ext_read": "tables and maps",
    "ext_write": "tables and maps",
    "memcg_read": "memcg",
    "memcg_write": "memcg",
    "zeromap_read": "tables and maps",
    "zeromap_write": "tables and maps",
    "desc_read": "tables and maps",
    "desc_write": "tables and maps",
    "vt_read": "tables and maps",
    "vt_write": "tables and maps",
    "rmap_read": "tables and maps",
    "rmap_write": "tables and maps",
    "bitmap_op": "tables and maps",
    "lookup_cache_hit": "XArray",
    "lookup_cache_miss": "XArray",
    "mem_alloc": "allocation",
    "mem_free": "allocation",
    "memcg_charge": "memcg",
    "memcg_uncharge": "memcg",
    "slot_free_notify": "device",  # zram's per-slot free (zs_free)
    "pte_read": "tables and maps",
    "mem_zero_line": "allocation",
    "vmalloc": "allocation",
    "vfree": "allocation",
}
# every primitive has exactly one family (a dict key each, in counters.PRIMITIVES order)
assert tuple(PRIMITIVE_FAMILY) == PRIMITIVES, "PRIMITIVE_FAMILY must follow counters.PRIMITIVES"
assert set(PRIMITIVE_FAMILY.values()) == set(FAMILIES), "every family has members, every member a known family"

# --------------------------------------------------------------------------- mm events

MM_NAMES = (
    "fault",
    "page_alloc",
    "page_zero",
    "page_touch",
    "page_free",
    "lru_op",
    "unmap_pte",
    "pte_zap",
    "reclaim_batch",
    "same_filled_check",
)
M_FAULT = 0
M_PAGE_ALLOC = 1
M_PAGE_ZERO = 2
M_PAGE_TOUCH = 3
M_PAGE_FREE = 4
M_LRU_OP = 5
M_UNMAP_PTE = 6
M_PTE_ZAP = 7
M_RECLAIM_BATCH = 8
M_SAME_FILLED_CHECK = 9
N_MM = 10

MM_COST = {
    "fault": (700.0, "page fault entry/exit (exception, handle_mm_fault walk) + PTE update"),
    "page_alloc": (150.0, "buddy/pcp allocation of one order-0 page"),
    "page_zero": (300.0, "clear_page of 4 KiB (~14 GB/s with rep stosb)"),
    "page_touch": (250.0, "usemem writing/reading 4 KiB it already has, ~16 GB/s"),
    "page_free": (100.0, "freeing one page to the pcp list"),
    "lru_op": (30.0, "add/move one folio on an LRU list (folio batch amortised)"),
    "unmap_pte": (300.0, ("try_to_unmap_one() per page: the anon rmap walk (anon_vma read "
                          "lock, the VMA, page_vma_mapped_walk), PTE get-and-clear, the TLB "
                          "flush batched, the swap PTE set, rss counters and the rmap "
                          "removal; folio_dup_swap() is the design's dup")),
    "pte_zap": (10.0, "one PTE in zap_pte_range (read, clear, rss counter)"),
    "reclaim_batch": (2000.0, ("per SWAP_CLUSTER_MAX (32-page) batch, beyond each folio's own "
                               "work: isolate_lru_folios (lruvec lock, 32 list moves of ~30 ns "
                               "on lines shared with the LRU's other users: ~1 us), the "
                               "putback (~0.5 us) and shrink_folio_list's per-call setup and "
                               "accounting (~0.5 us); shrink_slab and the memcg walk are not "
                               "in it (the kernel-fitted table absorbs them)")),
    "same_filled_check": (200.0, ("scanning a 4 KiB page for a repeated word "
                                  "(stops early on the first difference)")),
}
assert tuple(MM_COST) == MM_NAMES and len(MM_NAMES) == N_MM

# --------------------------------------------------------------------------- devices
# A cost table may also carry a device kind's page read and write times (``zram_read``,
# ``ssd_write``, ...): what a calibration on a kernel measures for its zram or loop
# device.  They replace the System's device latencies where the Device left its kind's
# default in place (a Device(read_ns=...) of the caller's own wins); the defaults and
# their rationale are in :data:`vswap_nb.mm.config.DEVICE_DEFAULTS`.
_DEVICE_KINDS = ("zram", "pmem", "brd", "ssd", "hdd")  # mm.config.DEVICE_KINDS (asserted there)
DEVICE_COST_NAMES = tuple(f"{k}_{rw}" for k in _DEVICE_KINDS for rw in ("read", "write"))

_ALL_NAMES = PRIMITIVES + MM_NAMES + DEVICE_COST_NAMES
_PRIM_INDEX = {n: i for i, n in enumerate(PRIMITIVES)}
_MM_INDEX = {n: i for i, n in enumerate(MM_NAMES)}

# --------------------------------------------------------------------------- vectors


def _check_cost_value(name, value) -> float:
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[1], str):
        value = value[0]  # a (ns, rationale) pair, as in DEFAULT_COST
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"cost[{name!r}] must be a number of nanoseconds, got {type(value).__name__} "
            f"{value!r}"
        )
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"cost[{name!r}] must be a finite number of nanoseconds >= 0, got {value!r}")
    return v


def cost_vectors(cost=None) -> tuple:
    """``(prim_ns float64[N_PRIMITIVES], mm_ns float64[N_MM])`` for the kernels.

    ``cost`` is None (the default tables), or a dict name -> ns (or name -> (ns, text))
    overriding any subset of either table, e.g. the dict :func:`calibrate` returns or
    one made by :func:`cost_from_dict`.  Unknown names and negative or non-finite values
    raise ValueError.
    """
    prim = np.array([DEFAULT_COST[n][0] for n in PRIMITIVES], dtype=np.float64)
    mm = np.array([MM_COST[n][0] for n in MM_NAMES], dtype=np.float64)
    assert prim.shape == (N_PRIMITIVES,)
    if cost is None:
        return prim, mm
    if not isinstance(cost, Mapping):
        raise TypeError(
            f"cost must be None, a dict name -> nanoseconds or the result of calibrate(), "
            f"got {type(cost).__name__}"
        )
    for name, value in cost.items():
        if name in _PRIM_INDEX:
            prim[_PRIM_INDEX[name]] = _check_cost_value(name, value)
        elif name in _MM_INDEX:
            mm[_MM_INDEX[name]] = _check_cost_value(name, value)
        elif name in DEVICE_COST_NAMES:
            _check_cost_value(name, value)  # applied to the System (device_costs)
        else:
            raise ValueError(
                f"cost has an unknown name {name!r}; valid names: primitives "
                f"{', '.join(PRIMITIVES)}; mm events {', '.join(MM_NAMES)}; device page "
                f"times {', '.join(DEVICE_COST_NAMES)}"
            )
    return prim, mm


def device_costs(cost=None) -> dict:
    """``{kind: {"read_ns": ns, "write_ns": ns}}`` of the device page times in ``cost``
    (only the kinds and directions it names)."""
    out: dict = {}
    if cost is None:
        return out
    cost_vectors(cost)  # validates
    for name, value in cost.items():
        if name in DEVICE_COST_NAMES:
            kind, _, rw = name.rpartition("_")
            out.setdefault(kind, {})[f"{rw}_ns"] = _check_cost_value(name, value)
    return out


def cost_to_dict(cost=None) -> dict:
    """The full cost tables in use as ``{"primitives": {name: ns}, "mm": {name: ns}}``,
    plus ``"devices"`` when ``cost`` names device page times (JSON-friendly, for
    Dataset attributes and cost files)."""
    prim, mm = cost_vectors(cost)
    out = {
        "primitives": {n: float(prim[i]) for i, n in enumerate(PRIMITIVES)},
        "mm": {n: float(mm[i]) for i, n in enumerate(MM_NAMES)},
    }
    dev = device_costs(cost)
    if dev:
        out["devices"] = dev
    return out


_SECTIONS = {"primitives", "mm", "devices", "about"}


def cost_from_dict(d) -> dict:
    """A flat ``{name: ns}`` dict usable as ``cost=`` from :func:`cost_to_dict`'s form
    (sections ``primitives``, ``mm``, ``devices`` as ``{kind: {"read_ns", "write_ns"}}``,
    and ``about``, free text that is ignored) or from a flat dict; the values are checked."""
    if not isinstance(d, Mapping):
        raise TypeError(f"cost dict must be a dict, got {type(d).__name__}")
    if set(d) <= _SECTIONS and any(k in d for k in ("primitives", "mm", "devices")):
        flat = {**d.get("primitives", {}), **d.get("mm", {})}
        for kind, rw in (d.get("devices") or {}).items():
            if not isinstance(rw, Mapping) or not set(rw) <= {"read_ns", "write_ns"}:
                raise ValueError(
                    f"cost devices[{kind!r}] must be a dict with read_ns and/or write_ns, got {rw!r}"
                )
            for k, v in rw.items():
                flat[f"{kind}_{k[:-3]}"] = v
    else:
        flat = dict(d)
    cost_vectors(flat)  # validates names and values
    return {k: _check_cost_value(k, v) for k, v in flat.items()}


def load_cost(path) -> dict:
    """The cost table in the JSON file ``path`` (as :func:`cost_to_dict` writes it, or a
    flat ``{name: ns}``), checked, as a dict for ``cost=``."""
    import json

    try:
        with open(path) as f:
            d = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"cost file {path!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"cost file {path!r} is not JSON: {exc}") from None
    try:
        return cost_from_dict(d)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"cost file {path!r}: {exc}") from None


# --------------------------------------------------------------------------- calibration

CALIBRATED = ("xa_lookup", "xa_node_visit", "table_read", "table_write", "cluster_lock")


@njit
def _table_read_loop(table, idx):
    s = np.uint64(0)
    for i in range(idx.shape[0]):
        s += table[idx[i]]
    return s


@njit
def _table_write_loop(table, idx):
    for i in range(idx.shape[0]):
        table[idx[i]] = np.uint64(i)
    return table[idx[0]]


@njit
def _lock_pair_loop(locks, idx):
    # one compare-and-set style read + write pair on the lock word per iteration
    taken = 0
    for i in range(idx.shape[0]):
        w = idx[i]
        v = locks[w]
        if v >= 0:
            locks[w] = v + 1
            taken += 1
    return taken


def _best(fn, repeat):
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - t0)
    return float(best)


def calibrate(repeat: int = 3) -> dict:
    """Measure what the emulation's primitives cost on this machine; a dict for ``cost=``.

    Returns ``{name: ns}`` for every primitive and mm event: the names in ``CALIBRATED``
    measured, the rest the defaults.  Each measurement is the best of ``repeat`` runs
    after a warm-up call (so compile time is excluded; the first call ever also
    compiles the small kernels below, or loads them from the on-disk cache).

    What is timed:

    * ``xa_lookup`` / ``xa_node_visit``: :meth:`vswap_nb.XArray.load_many` (argument
      checks included), 2**19 lookups per call, on two trees: one holding a lone entry
      at index 0 (it lives in the head: a lookup visits no node) and a sparse L2-sized
      one (64 keys spread over 2**36: six levels, 321 nodes, every lookup visits six
      nodes; queried in random order).  ``xa_lookup`` is the per-lookup time on the
      first; ``xa_node_visit`` is the extra time per node visit on the second, (t6 - t0)
      / 6 with the visits read from ``XArray.node_visits``.  Lookups are independent and
      ``load_many`` keeps 64 walks in flight, so the CPU overlaps them: these are
      throughput costs, not load-to-use latencies.
    * ``table_read``: an njit loop summing ``table[idx[i]]`` over 2**20 random indices
      into a 64K-entry uint64 table (512 KiB, L2-resident), per access (the sequential
      read of ``idx`` included).
    * ``table_write``: the same loop storing ``table[idx[i]] = i``.
    * ``cluster_lock``: an njit loop reading a lock word and writing it back
      incremented (a compare-and-set style read + write pair, no atomic instruction) on
      2048 words one cache line apart (one per cluster), at random clusters, per pair.

    Takes well under a second warm for ``repeat=3``.
    """
    if isinstance(repeat, bool) or not isinstance(repeat, numbers.Integral) or repeat < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat!r}")
    repeat = int(repeat)
    rng = np.random.default_rng(12345)
    n_lookups = 1 << 19

    def tree_point(keys):
        xa = XArray()
        xa.store_many(keys, np.arange(keys.size, dtype=np.int64))
        q = keys[rng.integers(0, keys.size, n_lookups)]
        xa.load_many(q[:1024])  # warm-up (compile or cache load)
        v0 = xa.node_visits
        xa.load_many(q)
        visits = (xa.node_visits - v0) / n_lookups
        t = _best(lambda: xa.load_many(q), repeat) / n_lookups
        return t, visits

    head_only = np.zeros(1, dtype=np.int64)
    sparse = (np.arange(64, dtype=np.int64) << 30) + rng.integers(0, 1 << 30, 64)
    t0, v0 = tree_point(head_only)
    t6, v6 = tree_point(sparse)
    assert v0 == 0 and v6 > 0, (v0, v6)
    a = t0
    b = (t6 - t0) / v6
    if not b > 0:  # noise on a machine where a visit costs next to nothing
        b = t6 / v6

    n_acc = 1 << 20
    table = np.zeros(1 << 16, dtype=np.uint64)
    idx = rng.integers(0, table.size, n_acc).astype(np.int64)
    _table_read_loop(table, idx[:16])
    _table_write_loop(table, idx[:16])
    t_read = _best(lambda: _table_read_loop(table, idx), repeat) / n_acc
    t_write = _best(lambda: _table_write_loop(table, idx), repeat) / n_acc

    locks = np.zeros(2048 * 8, dtype=np.int64)
    lidx = (rng.integers(0, 2048, n_acc) * 8).astype(np.int64)
    _lock_pair_loop(locks, lidx[:16])
    t_lock = _best(lambda: _lock_pair_loop(locks, lidx), repeat) / n_acc

    out = {n: DEFAULT_COST[n][0] for n in PRIMITIVES}
    out.update({n: MM_COST[n][0] for n in MM_NAMES})
    measured = {
        "xa_lookup": a,
        "xa_node_visit": b,
        "table_read": t_read,
        "table_write": t_write,
        "cluster_lock": t_lock,
    }
    assert tuple(measured) == CALIBRATED
    out.update({k: float(v) for k, v in measured.items()})
    return out
