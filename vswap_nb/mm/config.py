"""The machine a run models: RAM and its watermarks, an optional memcg limit, CPUs, one swap
device, optional zswap, and the reclaim/readahead sysctls.

Three frozen dataclasses, checked when they are made (errors name the argument and say how
to fix it), turned into one float64 vector by :meth:`System.to_params` for the mm engine's
kernel, and into JSON-friendly dicts for Dataset attributes.

>>> s = System("16G", memory_max="4G", swap=Device("zram", "64G"), zswap=True)
>>> s
System('16G', memory_max='4G', swap=Device('zram', '64G'), zswap=Zswap())
>>> s.watermarks            # (min, low, high) free pages, as the kernel computes them
(4096, 8290, 12484)

What is modelled, and the kernel facts behind it
------------------------------------------------
Swap devices (``Device``).

* ``SWP_SYNCHRONOUS_IO``: ``swapon`` (mm/swapfile.c) sets it when
  ``bdev_synchronous(si->bdev)``, i.e. when the queue has ``BLK_FEAT_SYNCHRONOUS``
  ("always completes in submit context", include/linux/blkdev.h).  The drivers that set
  it are zram (drivers/block/zram/zram_drv.c), brd (drivers/block/brd.c), pmem
  (drivers/nvdimm/pmem.c, ``BLK_FEAT_WRITE_CACHE | BLK_FEAT_SYNCHRONOUS``) and btt
  (drivers/nvdimm/btt.c): seen in brd's queue limits and in the diff context of the 2024
  linux-mm patch "mm: Split BLK_FEAT_SYNCHRONOUS and SWP_SYNCHRONOUS_IO into separate read
  and write flags" (Qun-Wei Lin), which touches exactly those four drivers; David
  Hildenbrand says the same on linux-mm ("BLK_FEAT_SYNCHRONOUS is also set for pmem and
  brd devices").  So **pmem and brd are synchronous**: a swap-cache miss on them takes
  the synchronous swap-in path with no readahead, like zram.  The issue text calls
  pmem/brd "the fast, asynchronous path"; that is right about speed (no compression)
  and wrong about the flag.  ``Device.synchronous`` follows the kernel, and
  ``synchronous=False`` models a fast device whose driver lacks the flag.
* ssd and hdd are asynchronous: swap-in misses go through swap readahead.
* zram stores a page that is one repeated word (``page_same_filled``) as the word itself
  in the slot's handle, allocating nothing (``ZRAM_SAME``); its compressed pages live in
  zsmalloc pages taken from RAM, so they count against RAM.  zram's memory is not charged
  to the memcg of the task that swapped out [I: zram allocates without a memcg; not
  re-read here], so it counts against global RAM only.  Since the swap zeromap
  (6.12-era, ``si->zeromap``), zero-filled pages are recorded in a bitmap at writeout
  and reach no device and no zswap at all; zram's same-filled path matters for
  non-zero fills (memhog's 0xff).
* brd's pages are also allocated from system RAM in the kernel.  The model treats brd
  (and pmem) as memory outside the RAM it models, as benchmarks do when they size RAM
  for the workload and put swap elsewhere: an assumption, not a kernel fact.
* ``nslots`` = size // 4096 - 1: page 0 is the swap header (``si->pages = max - 1``).

zswap (``Zswap``).

* The pool limit is ``totalram_pages * max_pool_percent / 100`` (``zswap_max_pages``,
  default 20 %).  In 6.18/6.19 (mm/zswap.c) a store while the pool is marked full is
  rejected (the page goes to the device) and queues the shrink worker, which writes the
  LRU-oldest entries back until the pool is under ``accept_threshold_percent`` (90 %);
  the mark clears at a store attempt under that threshold (see the mm engine).
  ``shrinker=True`` is that worker (the kernel always has it; ``False`` is a what-if).
  The kernel's separate, proactive memcg shrinker (``zswap.shrinker_enabled``, off by
  default) is not modelled.  ``memory.zswap.writeback=0`` (``writeback=False``) forbids
  writeback: a rejected page stays in memory.
* Zero-filled pages never reach zswap (the zeromap above); zswap no longer special-cases
  same-filled pages, so a non-zero same-filled page is compressed like any other and
  comes out tiny [I].
* zswap in front of zram is allowed (people run it); nothing stops it in the kernel.

RAM and reclaim (``System``).

* Watermarks, mm/page_alloc.c.  ``calculate_min_free_kbytes`` (called from
  ``init_per_zone_wmark_min``): ``new = int_sqrt(lowmem_kbytes * 16)``, and unless the
  user set a larger value, ``min_free_kbytes = clamp(new, 128, 262144)``; the clamp
  bounds were read from the function as quoted in public copies of page_alloc.c and in
  the 2023 patch that replaced the explicit ``< 128`` / ``> 262144`` tests with
  ``clamp()``.  ``__setup_per_zone_wmarks``: ``pages_min = min_free_kbytes >> 2``
  shared among lowmem zones by managed pages; ``tmp = max(min >> 2,
  mult_frac(managed, watermark_scale_factor, 10000))`` with ``watermark_scale_factor``
  = 10; ``WMARK_LOW = min + tmp``; ``WMARK_HIGH = low + tmp``.  Assumptions: one zone
  whose managed pages are all of ``ram`` (the kernel's own reservations, DMA/DMA32
  zones and ``nr_free_buffer_pages``' subtraction of high watermarks are ignored;
  they move the numbers by well under 1 %), no watermark boost, no WMARK_PROMO.
* ``vm.page-cluster``: default 3, at most 31 (sysctl bound); VMA readahead's window is
  ``1 << min(page_cluster, 5)`` (``SWAP_RA_ORDER_CEILING``), see
  ``reference/swap-designs.md`` 1.7.  ``vm.swappiness``: 0..200.
* ``memory_max`` is the limit of the workload's cgroup (``memory.max`` on cgroup v2,
  ``memory.limit_in_bytes`` on v1): reclaim starts when the cgroup's charge reaches
  it, independent of the global watermarks.  The charge is the workload's pages, plus
  zswap's compressed pool on cgroup v2 only (``cgroup_version``).

Default device latencies are modelling assumptions (see ``DEVICE_DEFAULTS``).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, fields

import numpy as np

from ..core.units import PAGE_SIZE, format_size, parse_size
from .cost import DEVICE_COST_NAMES

__all__ = [
    "THP_MODES",
    "THP_SIZES",
    "Thp",
    "CONTENT_CLASSES",
    "DEVICE_DEFAULTS",
    "DEVICE_KINDS",
    "N_PARAMS",
    "PARAM_NAMES",
    "Device",
    "System",
    "Zswap",
    "default_min_free_kbytes",
]

# --------------------------------------------------------------------------- constants

DEVICE_KINDS = ("zram", "pmem", "brd", "ssd", "hdd")
assert DEVICE_COST_NAMES == tuple(f"{k}_{rw}" for k in DEVICE_KINDS for rw in ("read", "write"))
CONTENT_CLASSES = ("sequence", "zero", "same")

MAX_BYTES = 1 << 50  # 1 PiB: far above anything the model is meant for
MIN_RAM = 64 << 20
MAX_RAM = 1 << 40  # 1 TiB: the engine keeps ~90 bytes per page of RAM (folio table, LRU)
MIN_MEMORY_MAX = 16 << 20
MAX_CPUS = 4096
MAX_PAGE_CLUSTER = 31
MAX_SWAPPINESS = 200
WATERMARK_SCALE_FACTOR = 10  # vm.watermark_scale_factor default
MIN_FREE_KBYTES_LO = 128  # calculate_min_free_kbytes clamp bounds
MIN_FREE_KBYTES_HI = 262144

# kind -> (synchronous, stores_in_ram, dedup_same_filled,
#          read_ns, write_ns, read rationale, write rationale)
# The latencies are assumptions: per 4 KiB page, one request at a time, no queueing.
DEVICE_DEFAULTS = {
    "zram": (True, True, True, 1500.0, 5000.0,
             "decompress 4 KiB with lzo-rle/lz4 at ~3 GB/s plus zsmalloc map: ~1.5 us",
             "compress 4 KiB at ~1 GB/s plus a zsmalloc allocation and copy: ~5 us"),
    "pmem": (True, False, False, 800.0, 1000.0,
             "memcpy 4 KiB from Optane-class persistent memory (~5-6 GB/s) + bio: ~0.8 us",
             "memcpy 4 KiB to pmem with cache-line flushes (~4 GB/s) + bio: ~1 us"),
    "brd": (True, False, False, 500.0, 600.0,
            "brd page lookup + memcpy 4 KiB from DRAM (~10 GB/s) through the bio path",
            "as the read, plus the brd page lookup/insert on first write"),
    "ssd": (False, False, False, 80_000.0, 20_000.0,
            "NVMe 4 KiB random read at queue depth 1 incl. block layer and IRQ: ~80 us",
            "NVMe write absorbed by the drive's DRAM/SLC cache: ~20 us"),
    "hdd": (False, False, False, 5_000_000.0, 5_000_000.0,
            "average seek + half a rotation of a 7200 rpm disk: ~5 ms",
            "as the read: swap writes to a disk are seek-bound too"),
}

# compressed size as a fraction of a page, per content class (assumptions)
ZSWAP_RATIO_DEFAULT = {"sequence": 0.30, "zero": 0.0, "same": 0.01}
ZRAM_RATIO_DEFAULT = {"sequence": 0.30, "zero": 0.0, "same": 0.0}

# --------------------------------------------------------------------------- params layout
# The mm engine's kernel reads System.to_params() by these indices.  Append new ones at
# the end, before N_PARAMS; never insert in the middle.

P_RAM_PAGES = 0
P_MEMCG_MAX_PAGES = 1  # -1 = no memory.max
P_NR_CPUS = 2
P_WMARK_MIN = 3
P_WMARK_LOW = 4
P_WMARK_HIGH = 5
P_SWAP_SLOTS = 6
P_DEV_SYNC = 7  # 0/1 SWP_SYNCHRONOUS_IO
P_DEV_IN_RAM = 8  # 0/1 the device's data counts against RAM (zram)
P_DEV_DEDUP_SAME = 9  # 0/1 same-filled pages stored in 0 bytes (zram)
P_DEV_READ_NS = 10
P_DEV_WRITE_NS = 11
P_ZSWAP_ON = 12  # 0/1
P_ZSWAP_MAX_POOL_PAGES = 13  # floor(ram_pages * max_pool_percent / 100); 0 when off
P_ZSWAP_WRITEBACK = 14  # 0/1
P_ZSWAP_SHRINKER = 15  # 0/1
P_ZSWAP_COMPRESS_NS = 16
P_ZSWAP_DECOMPRESS_NS = 17
P_ZSWAP_RATIO_SEQ = 18
P_ZSWAP_RATIO_ZERO = 19
P_ZSWAP_RATIO_SAME = 20
P_ZRAM_RATIO_SEQ = 21  # devices other than zram: 1.0 (a page takes a page)
P_ZRAM_RATIO_ZERO = 22
P_ZRAM_RATIO_SAME = 23
P_PAGE_CLUSTER = 24
P_VMA_RA = 25  # 0/1
P_SWAPPINESS = 26
P_KSWAPD = 27  # 0/1
P_FAULT_SWAP_ALLOC = 28  # probability a swap-slot allocation fails (injected)
P_FAULT_ZSWAP_REJECT = 29  # probability zswap rejects a store (injected)
P_FAULT_READAHEAD = 30  # probability a read-ahead page's I/O is not issued (injected)
P_FAULT_ATOMIC_ALLOC = 31  # probability the atomic swap-table allocation fails (injected)
P_MEMCG_CHARGES_ZSWAP = 32  # 0/1 zswap's pool is charged to the memcg (cgroup v2 only)
P_THP_ORDERS = 33  # bit k: anonymous faults may allocate order-k folios (Thp.orders)
P_MTHP_SWAPIN = 34  # 0/1 large folios may be swapped in (synchronous device, zswap never enabled)
P_MEMCG_SWAP_MAX_PAGES = 35  # memory.swap.max of each workload cgroup in pages; -1 = max
N_PARAMS = 36

FAULT_KINDS = ("swap_alloc", "zswap_reject", "readahead", "atomic_alloc")
FAULT_DOC = {
    "swap_alloc": "folio_alloc_swap() fails as on a full device: the folio stays in memory "
    "(swap_alloc_fail)",
    "zswap_reject": "zswap_store() rejects the page (an allocation or compression failure): it "
    "goes to the device, or stays in memory without writeback (zswap_reject)",
    "readahead": "a read-ahead page's read is not issued: the page stays in swap until its "
    "own fault reads it",
    "atomic_alloc": "the atomic allocation of a cluster's swap table (and its memcg/virtual "
    "tables) fails under the cluster lock: the allocator drops the locks, allocates sleeping "
    "and relocks (swap_cluster_populate's fallback; counted as one more allocation, cluster "
    "lock and per-CPU lock)",
}

PARAM_NAMES = (
    "ram_pages", "memcg_max_pages", "nr_cpus", "wmark_min", "wmark_low", "wmark_high",
    "swap_slots", "dev_sync", "dev_in_ram", "dev_dedup_same", "dev_read_ns", "dev_write_ns",
    "zswap_on", "zswap_max_pool_pages", "zswap_writeback", "zswap_shrinker",
    "zswap_compress_ns", "zswap_decompress_ns", "zswap_ratio_seq", "zswap_ratio_zero",
    "zswap_ratio_same", "zram_ratio_seq", "zram_ratio_zero", "zram_ratio_same",
    "page_cluster", "vma_ra", "swappiness", "kswapd",
    "fault_swap_alloc", "fault_zswap_reject", "fault_readahead", "fault_atomic_alloc",
    "memcg_charges_zswap", "thp_orders", "mthp_swapin", "memcg_swap_max_pages",
)
assert len(PARAM_NAMES) == N_PARAMS

# --------------------------------------------------------------------------- checks


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def _check_bool(value, name: str) -> bool:
    if not _is_bool(value):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def _check_int(value, name: str, lo: int, hi: int, what: str = "") -> int:
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer in [{lo}, {hi}]{what}, "
            f"got {type(value).__name__} {value!r}"
        )
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}]{what}, got {v}")
    return v


def _check_real(value, name: str, unit: str) -> float:
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number ({unit}), got {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number ({unit}), got {value!r}")
    return v


def _check_ns(value, name: str) -> float:
    v = _check_real(value, name, "nanoseconds")
    if v < 0:
        raise ValueError(f"{name} must be >= 0 nanoseconds, got {value!r}")
    return v


def _check_size(value, name: str, lo: int, hi: int, why: str, why_hi: str = "") -> int:
    n = parse_size(value, name)
    if n < lo:
        raise ValueError(f"{name}={value!r} is below {format_size(lo)}: {why}")
    if n > hi:
        raise ValueError(
            f"{name}={value!r} is above {format_size(hi)}, the largest size the model takes"
            + (f": {why_hi}" if why_hi else "")
        )
    return n


class FrozenDict(Mapping):
    """A read-only, hashable dict (the per-class ratios of a frozen dataclass)."""

    __slots__ = ("_d",)

    def __init__(self, *args, **kw):
        self._d = dict(*args, **kw)

    def __getitem__(self, key):
        return self._d[key]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def __hash__(self):
        return hash(tuple(self._d.items()))

    def __repr__(self):
        return repr(self._d)


def _check_ratio(value, name: str, defaults: dict, fixed_zero: tuple = ()) -> FrozenDict:
    """Per-content-class fractions merged over ``defaults``, in CONTENT_CLASSES order."""
    out = dict(defaults)
    if value is not None:
        if not isinstance(value, Mapping):
            raise TypeError(
                f"{name} must be a dict content class -> compressed fraction of a page, "
                f"e.g. {{'sequence': 0.3}}, got {type(value).__name__} {value!r}"
            )
        for key, frac in value.items():
            if key not in CONTENT_CLASSES:
                raise ValueError(
                    f"{name} has an unknown content class {key!r}; valid classes: "
                    f"{', '.join(CONTENT_CLASSES)}"
                )
            f = _check_real(frac, f"{name}[{key!r}]", "a fraction of a page")
            if not 0.0 <= f <= 1.0:
                raise ValueError(
                    f"{name}[{key!r}] must be a fraction of a page in [0, 1], got {frac!r}"
                )
            if key in fixed_zero and f != 0.0:
                raise ValueError(
                    f"{name}[{key!r}] must be 0: zram stores {key}-filled pages in no "
                    f"memory at all (ZRAM_SAME); drop the key"
                )
            out[key] = f
    return FrozenDict((k, float(out[k])) for k in CONTENT_CLASSES)


def _fmt_num(x):
    x = float(x)
    return repr(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _check_keys(d, name: str, allowed) -> None:
    if not isinstance(d, Mapping):
        raise TypeError(f"{name} must be a dict (as made by to_dict()), got {type(d).__name__}")
    extra = [k for k in d if k not in allowed]
    if extra:
        raise ValueError(
            f"{name} has unknown keys {extra}; valid keys: {', '.join(allowed)}"
        )


# --------------------------------------------------------------------------- Device


@dataclass(frozen=True, repr=False)
class Device:
    """A swap device: ``Device("zram", "64G")``, ``Device("ssd", "256G", read_ns=50_000)``.

    Parameters
    ----------
    kind : {"zram", "pmem", "brd", "ssd", "hdd"}
        zram, pmem and brd are synchronous (``SWP_SYNCHRONOUS_IO``, no swap readahead);
        ssd and hdd are asynchronous (swap readahead on a swap-cache miss).
    size : int or str
        Bytes or a size string ("64G"); at least two pages (header + one slot), at most
        2**50 bytes.
    read_ns, write_ns : float, optional
        Time to read / write one 4 KiB page; default per kind (``DEVICE_DEFAULTS``,
        assumptions with a rationale each).  After construction these hold the value in
        use.
    synchronous : bool, optional
        Override of the kernel's ``SWP_SYNCHRONOUS_IO`` for the kind.  After construction
        it holds the value in use (the kind's unless overridden).
    ratio : dict, optional
        zram only: content class -> compressed size as a fraction of a page, merged over
        ``{"sequence": 0.30, "zero": 0.0, "same": 0.0}`` (zero and same-filled pages
        take no memory in zram, so those two must stay 0).  After construction: the full
        mapping for zram, None for other kinds.
    """

    kind: str
    size: int
    _: KW_ONLY
    read_ns: float | None = None
    write_ns: float | None = None
    synchronous: bool | None = None
    ratio: Mapping | None = None

    def __post_init__(self):
        kind = self.kind
        if not isinstance(kind, str):
            raise TypeError(
                f"kind must be one of {', '.join(DEVICE_KINDS)}, got "
                f"{type(kind).__name__} {kind!r}"
            )
        kind = kind.strip().lower()
        if kind not in DEVICE_KINDS:
            raise ValueError(
                f"kind={self.kind!r} is not a swap device kind; valid kinds: "
                f"{', '.join(DEVICE_KINDS)}"
            )
        size = _check_size(
            self.size, "size", 2 * PAGE_SIZE, MAX_BYTES,
            "a swap device needs at least two pages (the header and one slot)",
        )
        sync, _in_ram, _dedup, rd, wr, _, _ = DEVICE_DEFAULTS[kind]
        read_ns = rd if self.read_ns is None else _check_ns(self.read_ns, "read_ns")
        write_ns = wr if self.write_ns is None else _check_ns(self.write_ns, "write_ns")
        if self.synchronous is not None:
            sync = _check_bool(self.synchronous, "synchronous")
        if kind == "zram":
            ratio = _check_ratio(self.ratio, "ratio", ZRAM_RATIO_DEFAULT, ("zero", "same"))
        elif self.ratio is not None:
            raise ValueError(
                f"ratio applies to zram only: a {kind} device stores whole pages; drop ratio "
                f"(zswap's ratios are set with Zswap(ratio=...))"
            )
        else:
            ratio = None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "read_ns", read_ns)
        object.__setattr__(self, "write_ns", write_ns)
        object.__setattr__(self, "synchronous", bool(sync))
        object.__setattr__(self, "ratio", ratio)

    # -- derived ------------------------------------------------------------------
    @property
    def nslots(self) -> int:
        """Usable slots: pages minus the header page."""
        return self.size // PAGE_SIZE - 1

    @property
    def stores_in_ram(self) -> bool:
        """Whether what the device stores counts against RAM (zram's zsmalloc pool)."""
        return DEVICE_DEFAULTS[self.kind][1]

    @property
    def dedup_same_filled(self) -> bool:
        """Whether same-filled pages are stored in 0 bytes (zram's ZRAM_SAME)."""
        return DEVICE_DEFAULTS[self.kind][2]

    # -- spellings ----------------------------------------------------------------
    @classmethod
    def parse(cls, spec, name: str = "swap") -> Device:
        """``"zram:64G"`` -> ``Device("zram", "64G")``; a Device is returned as is."""
        if isinstance(spec, Device):
            return spec
        if not isinstance(spec, str):
            raise TypeError(
                f"{name} must be a Device such as Device('zram', '64G') or a KIND:SIZE "
                f"string such as 'zram:64G', got {type(spec).__name__} {spec!r}"
            )
        kind, sep, size = spec.partition(":")
        kind = kind.strip().lower()
        if not sep or not size.strip():
            raise ValueError(
                f"{name}={spec!r} is not a swap device; write it as KIND:SIZE, e.g. "
                f"'zram:64G' (kinds: {', '.join(DEVICE_KINDS)})"
            )
        if kind not in DEVICE_KINDS:
            raise ValueError(
                f"{name}={spec!r}: unknown device kind {kind!r}; valid kinds: "
                f"{', '.join(DEVICE_KINDS)} (e.g. 'zram:64G')"
            )
        nbytes = _check_size(
            size.strip(), f"{name} size", 2 * PAGE_SIZE, MAX_BYTES,
            "a swap device needs at least two pages (the header and one slot)",
        )
        return cls(kind, nbytes)

    def to_dict(self) -> dict:
        """JSON-friendly dict; ``Device.from_dict(d.to_dict()) == d``."""
        return {
            "kind": self.kind,
            "size": self.size,
            "read_ns": self.read_ns,
            "write_ns": self.write_ns,
            "synchronous": self.synchronous,
            "ratio": None if self.ratio is None else dict(self.ratio),
        }

    @classmethod
    def from_dict(cls, d) -> Device:
        names = [f.name for f in fields(cls) if f.name != "_"]
        _check_keys(d, "Device dict", names)
        if "kind" not in d or "size" not in d:
            raise ValueError("a Device dict needs 'kind' and 'size', e.g. {'kind': 'zram', 'size': '64G'}")
        d = dict(d)
        return cls(d.pop("kind"), d.pop("size"), **d)

    def __repr__(self) -> str:
        sync, _, _, rd, wr, _, _ = DEVICE_DEFAULTS[self.kind]
        parts = [repr(self.kind), repr(format_size(self.size))]
        if self.read_ns != rd:
            parts.append(f"read_ns={_fmt_num(self.read_ns)}")
        if self.write_ns != wr:
            parts.append(f"write_ns={_fmt_num(self.write_ns)}")
        if self.synchronous != sync:
            parts.append(f"synchronous={self.synchronous}")
        if self.ratio is not None and dict(self.ratio) != ZRAM_RATIO_DEFAULT:
            changed = {k: v for k, v in self.ratio.items() if v != ZRAM_RATIO_DEFAULT[k]}
            parts.append(f"ratio={changed!r}")
        return f"Device({', '.join(parts)})"


# --------------------------------------------------------------------------- Zswap


@dataclass(frozen=True, repr=False)
class Zswap:
    """zswap in front of the swap device.

    Parameters
    ----------
    enabled : bool
        ``False`` keeps the configuration but runs without zswap.
    max_pool_percent : int or float in (0, 100]
        Pool limit as a percentage of RAM (kernel default 20).
    ratio : dict, optional
        Content class -> compressed size as a fraction of a page, merged over the
        defaults ``{"sequence": 0.30, "zero": 0.0, "same": 0.01}``.  These are
        assumptions: usemem writes incrementing 64-bit words (``vp[i] = i``), which
        lzo/lz4 compress to roughly a third of a page (the high bytes of each word repeat);
        a same-filled page compresses to a few tens of bytes (~1 %); zero pages never
        reach zswap in 6.19 (the swap zeromap catches them at writeout) but the
        fraction is kept for completeness and for designs that send them elsewhere.
    writeback : bool
        Whether entries may be written back to the device (``memory.zswap.writeback``).
    shrinker : bool
        The pool-full shrink worker: a store rejected because the pool is full queues
        it, and it writes the oldest entries back to the device until the pool is under
        90 % of its limit.  The kernel always has it (``False`` is a what-if).  Needs
        ``writeback=True``: ``shrinker=True, writeback=False`` is an error.
    compress_ns, decompress_ns : float
        Time to compress / decompress one page (assumptions: ~5 us and ~1.5 us, lzo-rle
        class compressors on a server core, as for zram).
    """

    enabled: bool = True
    max_pool_percent: float = 20
    ratio: Mapping | None = None
    writeback: bool = True
    shrinker: bool = True
    compress_ns: float = 5000.0
    decompress_ns: float = 1500.0

    def __post_init__(self):
        enabled = _check_bool(self.enabled, "enabled")
        mpp = self.max_pool_percent
        if _is_bool(mpp) or not isinstance(mpp, numbers.Real):
            raise TypeError(
                f"max_pool_percent must be a number in (0, 100], got "
                f"{type(mpp).__name__} {mpp!r}"
            )
        if not (math.isfinite(float(mpp)) and 0 < float(mpp) <= 100):
            raise ValueError(
                f"max_pool_percent must be in (0, 100] (percent of RAM; kernel default 20), "
                f"got {mpp!r}"
            )
        mpp = int(mpp) if isinstance(mpp, numbers.Integral) else float(mpp)
        ratio = _check_ratio(self.ratio, "ratio", ZSWAP_RATIO_DEFAULT)
        writeback = _check_bool(self.writeback, "writeback")
        shrinker = _check_bool(self.shrinker, "shrinker")
        if shrinker and not writeback:
            raise ValueError(
                "shrinker=True needs writeback=True: the shrinker makes room by writing the "
                "oldest entries back to the device; pass shrinker=False with writeback=False"
            )
        object.__setattr__(self, "enabled", enabled)
        object.__setattr__(self, "max_pool_percent", mpp)
        object.__setattr__(self, "ratio", ratio)
        object.__setattr__(self, "writeback", writeback)
        object.__setattr__(self, "shrinker", shrinker)
        object.__setattr__(self, "compress_ns", _check_ns(self.compress_ns, "compress_ns"))
        object.__setattr__(self, "decompress_ns", _check_ns(self.decompress_ns, "decompress_ns"))

    def max_pool_pages(self, ram_pages: int) -> int:
        """``floor(ram_pages * max_pool_percent / 100)`` (``zswap_max_pages``)."""
        p = self.max_pool_percent
        if isinstance(p, int):
            return ram_pages * p // 100
        return math.floor(ram_pages * p / 100.0)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["ratio"] = dict(self.ratio)
        return d

    @classmethod
    def from_dict(cls, d) -> Zswap:
        _check_keys(d, "Zswap dict", [f.name for f in fields(cls)])
        return cls(**d)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "ratio":
                changed = {k: x for k, x in v.items() if x != ZSWAP_RATIO_DEFAULT[k]}
                if changed:
                    parts.append(f"ratio={changed!r}")
            elif v != f.default:
                parts.append(f"{f.name}={_fmt_num(v) if not _is_bool(v) else v}")
        return f"Zswap({', '.join(parts)})"


# --------------------------------------------------------------------------- THP

# The anonymous large-folio sizes a 4 KiB-page x86-64 kernel offers
# (/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB): order 2 (16K) to the PMD
# order 9 (2M); order 1 has no anonymous control (hugepages-8kB has no ``enabled``).
THP_SIZES = {"16K": 2, "32K": 3, "64K": 4, "128K": 5, "256K": 6, "512K": 7, "1M": 8, "2M": 9}
THP_MODES = ("always", "inherit", "madvise", "never")
PMD_ORDER = 9


def _thp_mode(value, name: str, modes=THP_MODES) -> str:
    if not isinstance(value, str) or value.strip().lower() not in modes:
        raise ValueError(f"{name} must be one of {', '.join(modes)}, got {value!r}")
    return value.strip().lower()


def _thp_size(key, name: str) -> str:
    try:
        nbytes = parse_size(key)
    except (TypeError, ValueError):
        nbytes = None
    for size in THP_SIZES:
        if nbytes == parse_size(size):
            return size
    raise ValueError(
        f"{name} has no anonymous folio size {key!r}; the sizes are {', '.join(THP_SIZES)} "
        f"(hugepages-16kB .. hugepages-2048kB)"
    )


@dataclass(frozen=True, repr=False)
class Thp:
    """Transparent huge pages for anonymous memory: which folio sizes a fault may
    allocate, as ``/sys/kernel/mm/transparent_hugepage`` sets them.

    Parameters
    ----------
    sizes : dict or str, optional
        Size -> mode of ``hugepages-<size>kB/enabled`` ("always", "inherit", "madvise",
        "never"), e.g. ``{"64K": "always"}`` or ``"64K=always,2M=inherit"``.  Sizes not
        given keep the kernel's boot default: "inherit" for 2M (the PMD size), "never"
        for the others.
    enabled : str
        The top-level ``enabled`` ("always", "madvise", "never"; default "madvise", the
        distribution default and this machine's), which "inherit" follows.
    zswap_was_enabled : bool
        zswap was enabled at some time since boot: ``zswap_never_enabled()`` is false,
        and the kernel then swaps every large folio in as order-0 pages until the next
        reboot.  A run with zswap on is such a run whatever this says.

    A size is used by a fault when its mode is "always", or "inherit" with
    ``enabled="always"``.  "madvise" sizes are not used: no workload here calls
    madvise(MADV_HUGEPAGE) [I].  ``defrag`` is taken at its default ("madvise"): a
    large folio of a VMA that is not madvised is allocated and charged without
    reclaim (GFP_TRANSHUGE_LIGHT), so it fails (and the fault tries the next smaller
    size, then order 0) when free memory would fall to the min watermark or the memcg
    has no room for it.
    """

    sizes: Mapping | str | None = None
    enabled: str = "madvise"
    zswap_was_enabled: bool = False

    def __post_init__(self):
        raw = self.sizes
        if raw is None:
            raw = {}
        if isinstance(raw, str):
            spec, raw = raw, {}
            for part in (x.strip() for x in spec.split(",") if x.strip()):
                k, eq, m = part.partition("=")
                if not eq:
                    raise ValueError(f"sizes={spec!r}: write SIZE=MODE[,SIZE=MODE], e.g. '64K=always,2M=inherit'")
                raw[k.strip()] = m.strip()
        if not isinstance(raw, Mapping):
            raise TypeError(
                f"sizes must be a dict size -> mode, e.g. {{'64K': 'always'}}, got {type(raw).__name__} {raw!r}"
            )
        sizes = {s: ("inherit" if o == PMD_ORDER else "never") for s, o in THP_SIZES.items()}
        for k, m in raw.items():
            size = _thp_size(k, "sizes")
            sizes[size] = _thp_mode(m, f"sizes[{k!r}]")
        object.__setattr__(self, "sizes", FrozenDict(sizes))
        object.__setattr__(self, "enabled", _thp_mode(self.enabled, "enabled", ("always", "madvise", "never")))
        object.__setattr__(self, "zswap_was_enabled", _check_bool(self.zswap_was_enabled, "zswap_was_enabled"))

    @property
    def orders(self) -> tuple:
        """The folio orders an anonymous fault may allocate, highest first (0 always)."""
        on = [o for s, o in THP_SIZES.items()
              if self.sizes[s] == "always" or (self.sizes[s] == "inherit" and self.enabled == "always")]
        return tuple(sorted(on, reverse=True)) + (0,)

    @classmethod
    def parse(cls, spec, name: str = "thp") -> Thp | None:
        """None/False (no THP), a Thp, a dict of its fields or sizes, or a string of sizes."""
        if spec is None or spec is False:
            return None
        if isinstance(spec, Thp):
            return spec
        if isinstance(spec, str):
            if spec.strip().lower() in ("", "none", "off", "never"):
                return None
            return cls(spec)
        if isinstance(spec, Mapping):
            if set(spec) <= {f.name for f in fields(cls)}:
                return cls(**spec)
            return cls(dict(spec))
        raise TypeError(
            f"{name} must be None (no large folios), a Thp(...), a dict size -> mode such as "
            f"{{'64K': 'always'}} or a string such as '64K=always', got {type(spec).__name__} {spec!r}"
        )

    def to_dict(self) -> dict:
        return {"sizes": dict(self.sizes), "enabled": self.enabled, "zswap_was_enabled": self.zswap_was_enabled}

    @classmethod
    def from_dict(cls, d) -> Thp:
        _check_keys(d, "Thp dict", [f.name for f in fields(cls)])
        return cls(**d)

    def __repr__(self) -> str:
        changed = {s: m for s, m in self.sizes.items()
                   if m != ("inherit" if THP_SIZES[s] == PMD_ORDER else "never")}
        parts = [repr(",".join(f"{s}={m}" for s, m in changed.items()))] if changed else []
        if self.enabled != "madvise":
            parts.append(f"enabled={self.enabled!r}")
        if self.zswap_was_enabled:
            parts.append("zswap_was_enabled=True")
        return f"Thp({', '.join(parts)})"


# --------------------------------------------------------------------------- System


def default_min_free_kbytes(ram_bytes: int) -> int:
    """The kernel's boot-time ``min_free_kbytes`` for ``ram_bytes`` of (lowmem) RAM.

    ``calculate_min_free_kbytes``: ``clamp(int_sqrt(lowmem_kbytes * 16), 128, 262144)``,
    with ``lowmem_kbytes`` taken as all of RAM (one zone; see the module docstring).
    """
    lowmem_kbytes = (int(ram_bytes) // PAGE_SIZE) * (PAGE_SIZE >> 10)
    return min(max(math.isqrt(lowmem_kbytes * 16), MIN_FREE_KBYTES_LO), MIN_FREE_KBYTES_HI)


def _watermarks(ram_pages: int, min_free_kbytes: int) -> tuple:
    wmin = min_free_kbytes >> 2  # pages_min = min_free_kbytes >> (PAGE_SHIFT - 10)
    gap = max(wmin >> 2, ram_pages * WATERMARK_SCALE_FACTOR // 10000)
    low = wmin + gap
    return (wmin, low, low + gap)


_SYSTEM_FIELDS = (
    "ram", "memory_max", "nr_cpus", "swap", "zswap", "page_cluster", "vma_readahead",
    "swappiness", "min_free_kbytes", "kswapd", "faults", "cgroup_version", "thp", "swap_max",
)
_PY_NAMES = {f: f for f in _SYSTEM_FIELDS}
_CLI_NAMES = {f: "--" + f.replace("_", "-") for f in _SYSTEM_FIELDS}
_SYSTEM_DEFAULTS = {
    "memory_max": None, "nr_cpus": 4, "swap": None, "zswap": None, "page_cluster": 3,
    "vma_readahead": True, "swappiness": 60, "min_free_kbytes": None, "kswapd": True,
    "faults": None, "cgroup_version": 2, "thp": None, "swap_max": None,
}


def _check_faults(value, name):
    """None, or a mapping fault kind -> probability in [0, 1]; returns None when every
    rate is 0, else a dict with every kind."""
    if value is None:
        return None
    if isinstance(value, str):
        spec, value = value, {}
        for part in (x.strip() for x in spec.split(",") if x.strip()):
            k, eq, r = part.partition("=")
            if not eq:
                raise ValueError(
                    f"{name}={spec!r}: write KIND=RATE[,KIND=RATE], e.g. 'swap_alloc=0.01,readahead=0.1'"
                )
            try:
                value[k.strip()] = float(r)
            except ValueError:
                raise ValueError(f"{name}={spec!r}: {r!r} is not a probability") from None
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name} must be None or a dict fault kind -> probability, e.g. "
            f"{{'swap_alloc': 0.01}}, got {type(value).__name__} {value!r}"
        )
    out = {}
    for k, r in value.items():
        if k not in FAULT_KINDS:
            raise ValueError(f"{name} has an unknown fault kind {k!r}; valid kinds: {', '.join(FAULT_KINDS)}")
        if _is_bool(r) or not isinstance(r, numbers.Real) or not 0.0 <= float(r) <= 1.0:
            raise ValueError(f"{name}[{k!r}] must be a probability in [0, 1], got {r!r}")
        out[k] = float(r)
    if not any(out.values()):
        return None
    return {k: out.get(k, 0.0) for k in FAULT_KINDS}


def _normalise_system(v: dict, n: dict) -> dict:
    """Check every System argument (``n`` maps field -> the name errors use)."""
    ram = _check_size(
        v["ram"], n["ram"], MIN_RAM, MAX_RAM,
        "a system needs at least 64M, or the watermarks (min/low/high free pages that wake "
        "kswapd and trigger direct reclaim) are a handful of pages and the reclaim model "
        "means nothing; use at least '64M'",
        "the simulator keeps a row per page of RAM (~90 bytes each); model a smaller "
        "machine with the same ratio of workload to RAM",
    )
    memory_max = v["memory_max"]
    if memory_max is not None:
        memory_max = _check_size(
            memory_max, n["memory_max"], MIN_MEMORY_MAX, MAX_BYTES,
            "a cgroup limit below 16M leaves the workload no room to run; raise it "
            "or drop it",
        )
        if memory_max > ram:
            raise ValueError(
                f"{n['memory_max']}={format_size(memory_max)} is above "
                f"{n['ram']}={format_size(ram)}: memory_max above ram has no effect; "
                f"drop it or lower it"
            )
    nr_cpus = _check_int(v["nr_cpus"], n["nr_cpus"], 1, MAX_CPUS, " (CPUs)")
    swap = v["swap"]
    if swap is None:
        raise ValueError(
            f"{n['swap']} is required: a system without swap cannot swap; pass "
            f"swap=Device('zram', '64G') (on the command line: --swap zram:64G)"
        )
    swap = Device.parse(swap, n["swap"])
    zswap = v["zswap"]
    if zswap is None or zswap is False or (_is_bool(zswap) and not zswap):
        zswap = None
    elif zswap is True or (_is_bool(zswap) and zswap):
        zswap = Zswap()
    elif isinstance(zswap, Mapping):
        zswap = Zswap.from_dict(zswap)
    elif not isinstance(zswap, Zswap):
        raise TypeError(
            f"{n['zswap']} must be None/False (off), True (zswap with defaults) or a "
            f"Zswap(...), got {type(zswap).__name__} {zswap!r}"
        )
    page_cluster = _check_int(
        v["page_cluster"], n["page_cluster"], 0, MAX_PAGE_CLUSTER,
        " (vm.page-cluster: readahead of 2**page_cluster pages; kernel default 3)",
    )
    vma_readahead = _check_bool(v["vma_readahead"], n["vma_readahead"])
    swappiness = _check_int(
        v["swappiness"], n["swappiness"], 0, MAX_SWAPPINESS, " (vm.swappiness; default 60)"
    )
    mfk = v["min_free_kbytes"]
    ram_pages = ram // PAGE_SIZE
    if mfk is not None:
        mfk = _check_int(mfk, n["min_free_kbytes"], 0, 2**62, " (vm.min_free_kbytes)")
        high = _watermarks(ram_pages, mfk)[2]
        if high >= ram_pages:
            raise ValueError(
                f"{n['min_free_kbytes']}={mfk} puts the high watermark at {high} pages, "
                f"at or above the {ram_pages} pages of RAM; lower it or leave it None for "
                f"the kernel default ({default_min_free_kbytes(ram)})"
            )
    kswapd = _check_bool(v["kswapd"], n["kswapd"])
    faults = _check_faults(v.get("faults"), n["faults"])
    if faults is not None and faults["zswap_reject"] > 0 and not (zswap is not None and zswap.enabled):
        raise ValueError(
            f"{n['faults']}['zswap_reject'] needs zswap on; enable it or drop the fault"
        )
    cgroup_version = _check_int(
        v["cgroup_version"], n["cgroup_version"], 1, 2,
        " (the cgroup version of the workload's memory cgroup: 2 charges zswap's pool to "
        "it, 1 does not)",
    )
    thp = Thp.parse(v.get("thp"), n["thp"])
    swap_max = v.get("swap_max")
    if swap_max is not None:
        swap_max = _check_size(swap_max, n["swap_max"], 0, MAX_BYTES, "")
        if cgroup_version != 2:
            raise ValueError(
                f"{n['swap_max']} is memory.swap.max, which cgroup v1 does not have (v1's "
                f"memory.memsw.limit_in_bytes limits memory and swap together); use "
                f"cgroup_version=2 or drop it"
            )
        if memory_max is None:
            raise ValueError(f"{n['swap_max']} limits the workload's cgroups, which need {n['memory_max']} too; give both")
    return {
        "swap_max": swap_max,
        "thp": thp,
        "ram": ram, "memory_max": memory_max, "nr_cpus": nr_cpus, "swap": swap,
        "zswap": zswap, "page_cluster": page_cluster, "vma_readahead": vma_readahead,
        "swappiness": swappiness, "min_free_kbytes": mfk, "kswapd": kswapd, "faults": faults,
        "cgroup_version": cgroup_version,
    }


def _cli_bool(value, name):
    if isinstance(value, str):
        s = value.strip().lower()
        if s in ("1", "true", "yes", "on", "y"):
            return True
        if s in ("0", "false", "no", "off", "n", "none", ""):
            return False
        raise ValueError(f"{name}={value!r} is not on/off; write on, off, yes, no, true or false")
    return value


def _cli_int(value, name):
    if isinstance(value, str):
        s = value.strip()
        try:
            return int(s, 10)
        except ValueError:
            raise ValueError(f"{name}={value!r} is not a whole number") from None
    return value


@dataclass(frozen=True, repr=False)
class System:
    """The modelled machine.

    Parameters
    ----------
    ram : int or str
        RAM in bytes or as "16G"; at least 64M.
    memory_max : int or str, optional
        cgroup v2 ``memory.max`` of each of the workload's cgroups (one by default; a
        workload may put its tasks in several, ``usemem(..., cgroups=N)``); at least
        16M and not above ``ram``.  None: no cgroup limit (global pressure only).
    nr_cpus : int
        1..4096.
    swap : Device or "kind:size"
        The swap device (required).
    zswap : None, bool or Zswap
        None/False: off; True: ``Zswap()``; or a ``Zswap``.  Stored as None or a Zswap.
    page_cluster : int
        ``vm.page-cluster``, 0..31 (default 3).
    vma_readahead : bool
        ``/sys/kernel/mm/swap/vma_ra_enabled`` (default True).
    swappiness : int
        ``vm.swappiness``, 0..200 (default 60).
    min_free_kbytes : int, optional
        ``vm.min_free_kbytes``; None: the kernel's boot default
        (:func:`default_min_free_kbytes`).
    kswapd : bool
        Whether background reclaim runs (False: direct reclaim only, a modelling switch).
    faults : dict, optional
        Injected failures, kind -> probability per attempt (``FAULT_KINDS``):
        ``swap_alloc`` (a swap-slot allocation fails as on a full device),
        ``zswap_reject`` (zswap rejects a store), ``readahead`` (a read-ahead page's
        I/O is not issued).  Each decision is a hash of the run's seed, the kind and the
        attempt number, so a seed gives the same failures every time.  On the command
        line ``--faults swap_alloc=0.01,readahead=0.1``.
    cgroup_version : {1, 2}
        The cgroup version of the workload's memory cgroup (default 2), where the two
        behave differently: on v2 zswap's compressed pool is charged to the cgroup (and
        counts against ``memory_max``), on v1 it is not (``obj_cgroup_charge_zswap``
        returns early on cgroup v1, from the 2022 "zswap: memcg accounting" patch).
        Measured on a 6.18 kernel with cgroup v1, usemem -W 256M in a 128 MiB cgroup
        with zswap: ``zswpout`` 98,441 on the kernel, 98,304 in ``classic`` with
        ``cgroup_version=1``, 112,352 with 2.  The ``kernel`` design refuses a System
        whose version is not the machine's.
    """

    ram: int
    _: KW_ONLY
    memory_max: int | None = None
    nr_cpus: int = 4
    swap: Device | None = None
    zswap: Zswap | None = None
    page_cluster: int = 3
    vma_readahead: bool = True
    swappiness: int = 60
    min_free_kbytes: int | None = None
    kswapd: bool = True
    faults: Mapping | None = None
    cgroup_version: int = 2
    thp: Thp | None = None
    swap_max: int | None = None

    def __post_init__(self):
        values = _normalise_system({f: getattr(self, f) for f in _SYSTEM_FIELDS}, _PY_NAMES)
        for k, val in values.items():
            object.__setattr__(self, k, val)

    # -- derived ------------------------------------------------------------------
    @property
    def ram_pages(self) -> int:
        return self.ram // PAGE_SIZE

    @property
    def memory_max_pages(self) -> int | None:
        return None if self.memory_max is None else self.memory_max // PAGE_SIZE

    @property
    def min_free_kbytes_effective(self) -> int:
        """``min_free_kbytes`` in use: the given value or the kernel's boot default."""
        if self.min_free_kbytes is not None:
            return self.min_free_kbytes
        return default_min_free_kbytes(self.ram)

    @property
    def watermarks(self) -> tuple:
        """``(min, low, high)`` in pages, as ``__setup_per_zone_wmarks`` sets them.

        min = min_free_kbytes >> 2; gap = max(min >> 2, ram_pages * 10 // 10000);
        low = min + gap; high = low + gap (one zone, watermark_scale_factor 10).
        """
        return _watermarks(self.ram_pages, self.min_free_kbytes_effective)

    @property
    def zswap_on(self) -> bool:
        return self.zswap is not None and self.zswap.enabled

    # -- the engine's vector ------------------------------------------------------
    def to_params(self) -> np.ndarray:
        """float64[N_PARAMS] for the mm engine kernel; indices are the ``P_*`` constants."""
        p = np.zeros(N_PARAMS, dtype=np.float64)
        ram_pages = self.ram_pages
        p[P_RAM_PAGES] = ram_pages
        mm = self.memory_max_pages
        p[P_MEMCG_MAX_PAGES] = -1 if mm is None else mm
        p[P_NR_CPUS] = self.nr_cpus
        p[P_WMARK_MIN], p[P_WMARK_LOW], p[P_WMARK_HIGH] = self.watermarks
        dev = self.swap
        p[P_SWAP_SLOTS] = dev.nslots
        p[P_DEV_SYNC] = dev.synchronous
        p[P_DEV_IN_RAM] = dev.stores_in_ram
        p[P_DEV_DEDUP_SAME] = dev.dedup_same_filled
        p[P_DEV_READ_NS] = dev.read_ns
        p[P_DEV_WRITE_NS] = dev.write_ns
        z = self.zswap if self.zswap is not None else Zswap()
        on = self.zswap_on
        p[P_ZSWAP_ON] = on
        p[P_ZSWAP_MAX_POOL_PAGES] = z.max_pool_pages(ram_pages) if on else 0
        p[P_ZSWAP_WRITEBACK] = z.writeback
        p[P_ZSWAP_SHRINKER] = z.shrinker
        p[P_ZSWAP_COMPRESS_NS] = z.compress_ns
        p[P_ZSWAP_DECOMPRESS_NS] = z.decompress_ns
        p[P_ZSWAP_RATIO_SEQ] = z.ratio["sequence"]
        p[P_ZSWAP_RATIO_ZERO] = z.ratio["zero"]
        p[P_ZSWAP_RATIO_SAME] = z.ratio["same"]
        zr = dev.ratio if dev.ratio is not None else {c: 1.0 for c in CONTENT_CLASSES}
        p[P_ZRAM_RATIO_SEQ] = zr["sequence"]
        p[P_ZRAM_RATIO_ZERO] = zr["zero"]
        p[P_ZRAM_RATIO_SAME] = zr["same"]
        p[P_PAGE_CLUSTER] = self.page_cluster
        p[P_VMA_RA] = self.vma_readahead
        p[P_SWAPPINESS] = self.swappiness
        p[P_KSWAPD] = self.kswapd
        if self.faults is not None:
            p[P_FAULT_SWAP_ALLOC] = self.faults["swap_alloc"]
            p[P_FAULT_ZSWAP_REJECT] = self.faults["zswap_reject"]
            p[P_FAULT_READAHEAD] = self.faults["readahead"]
            p[P_FAULT_ATOMIC_ALLOC] = self.faults["atomic_alloc"]
        p[P_MEMCG_CHARGES_ZSWAP] = self.cgroup_version == 2
        if self.thp is not None:
            p[P_THP_ORDERS] = sum(1 << o for o in self.thp.orders if o > 0)
            p[P_MTHP_SWAPIN] = not (self.thp.zswap_was_enabled or self.zswap_on)
        p[P_MEMCG_SWAP_MAX_PAGES] = -1 if self.swap_max is None else self.swap_max // PAGE_SIZE
        return p

    # -- dicts and spellings ------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-friendly dict; ``System.from_dict(s.to_dict()) == s``."""
        d = {f: getattr(self, f) for f in _SYSTEM_FIELDS}
        d["swap"] = self.swap.to_dict()
        d["zswap"] = None if self.zswap is None else self.zswap.to_dict()
        d["faults"] = None if self.faults is None else dict(self.faults)
        d["thp"] = None if self.thp is None else self.thp.to_dict()
        return d

    @classmethod
    def from_dict(cls, d) -> System:
        _check_keys(d, "System dict", _SYSTEM_FIELDS)
        if "ram" not in d:
            raise ValueError("a System dict needs 'ram' (and 'swap'), as made by System.to_dict()")
        d = dict(d)
        swap = d.get("swap")
        if isinstance(swap, Mapping):
            d["swap"] = Device.from_dict(swap)
        return cls(d.pop("ram"), **d)

    @classmethod
    def parse_cli(cls, ram, *, memory_max=None, swap=None, zswap=False, nr_cpus=4,
                  page_cluster=3, vma_readahead=True, swappiness=60, min_free_kbytes=None,
                  kswapd=True, faults=None, cgroup_version=2, thp=None, swap_max=None) -> System:
        """A System from command-line spellings; errors name the option (``--swap``).

        ``ram="16G"``, ``memory_max="4G"`` (or None / "max" / "none": no limit),
        ``swap="zram:64G"``, ``zswap`` True/False or on/off/yes/no, numbers as ints or
        digit strings, switches as bools or on/off strings.
        """
        n = _CLI_NAMES
        if isinstance(memory_max, str) and memory_max.strip().lower() in ("", "max", "none"):
            memory_max = None
        if isinstance(min_free_kbytes, str) and min_free_kbytes.strip().lower() in ("", "none", "default"):
            min_free_kbytes = None
        values = {
            "ram": ram,
            "memory_max": memory_max,
            "nr_cpus": _cli_int(nr_cpus, n["nr_cpus"]),
            "swap": swap,
            "zswap": _cli_bool(zswap, n["zswap"]),
            "page_cluster": _cli_int(page_cluster, n["page_cluster"]),
            "vma_readahead": _cli_bool(vma_readahead, n["vma_readahead"]),
            "swappiness": _cli_int(swappiness, n["swappiness"]),
            "min_free_kbytes": (None if min_free_kbytes is None
                                else _cli_int(min_free_kbytes, n["min_free_kbytes"])),
            "kswapd": _cli_bool(kswapd, n["kswapd"]),
            "faults": faults,
            "cgroup_version": _cli_int(cgroup_version, n["cgroup_version"]),
            "thp": thp,
            "swap_max": None if isinstance(swap_max, str) and swap_max.strip().lower() in ("", "max", "none") else swap_max,
        }
        values = _normalise_system(values, n)
        return cls(values.pop("ram"), **values)

    def __repr__(self) -> str:
        parts = [repr(format_size(self.ram))]
        for f in _SYSTEM_FIELDS[1:]:
            v = getattr(self, f)
            if f in ("memory_max", "swap_max"):
                if v is not None:
                    parts.append(f"{f}={format_size(v)!r}")
            elif f in ("swap", "zswap", "thp"):
                if v is not None:
                    parts.append(f"{f}={v!r}")
            elif v != _SYSTEM_DEFAULTS[f] or _is_bool(v) != _is_bool(_SYSTEM_DEFAULTS[f]):
                parts.append(f"{f}={v!r}")
        return f"System({', '.join(parts)})"
