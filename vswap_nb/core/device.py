"""A physical swap device and its cluster allocator, as mm/swapfile.c has them.

Facts (mm/swapfile.c with swap table phase IV, read from the linux-mm tree; see
``reference/swap-designs.md`` section 1.5):

* Slots are grouped into clusters of ``SWAPFILE_CLUSTER`` = 512 slots (configurable
  here).  Slot 0 (the swap header) and the slots past the end of the last cluster are
  bad slots counted in their cluster; such clusters start on ``nonfull[0]``, all others
  on ``free``.  ``si->pages`` = max - 1.
* Per cluster: ``count`` (allocated slots, bad ones included), ``flags`` (NONE, FREE,
  NONFULL, FRAG, FULL, DISCARD; USABLE = <= FRAG), ``order`` (set by the first
  allocation of an empty cluster) and the swap table, allocated when a FREE cluster is
  isolated by the allocator (``swap_cluster_populate``) and freed when the cluster
  returns to the free list.
* Lists per device: free, full, discard, nonfull[order], frag[order], protected by
  ``si->lock``; ``move_cluster`` appends at the tail; ``isolate_lock_cluster`` takes the
  first cluster off a list (flags NONE) and populates a FREE one.
* Fast path: the per-CPU ``offset[order]`` (one per order per CPU; rotational devices
  use one global ``next[order]`` under a global lock instead), lock that cluster, and if
  it is usable for the order scan it from the offset.
* Scan (``alloc_swap_scan_cluster``): candidates from the offset to the end of the
  cluster in steps of ``nr = 1 << order``; a range is taken when every slot is free; a
  swap-cache-only slot rejects the range unless swap is more than half full
  (``vm_swap_full``), in which case the range is reclaimed (lock dropped, relocked,
  rechecked).  The cluster is then relocated (free / frag[order] / full) and the per-CPU
  offset set to the next candidate or invalid.
* Slow path (``cluster_alloc_swap_entry``): [discard devices: free first], nonfull[order]
  (all, order < 9), free, one full-cluster reclaim when ``vm_swap_full``, one
  frag[order] cluster (order < 9), and for order 0 only, stealing from frag[o] then
  nonfull[o] for o = 1..9.  An order-0 failure syncs pending discards and retries.
* Freeing: ``count -= nr``; an empty cluster goes to the free list (or the discard list
  on discard devices) and loses its table; a partly used one goes to nonfull[order].
  The device leaves the available list when ``inuse == pages`` and comes back when a
  slot is freed.  ``reclaim_work`` (a forced full-cluster reclaim of ``inuse / 512``
  clusters) is scheduled when an allocation fills the device while swap is full.

Two generations of the allocator are modelled, chosen per device with ``kernel=``:
``KERNEL_P4`` (swap table phase IV, read at linux-mm 000bd100) and ``KERNEL_619`` (the
6.18/6.19 allocator with ``swap_map``, read at torvalds 07adc4cf).  They share
everything above except:

* 6.19 ``cluster_scan_range`` answers "free" for an empty cluster without reading a
  slot, and ``alloc_swap_scan_cluster`` stops candidates at ``si->max``;
* 6.19 ``cluster_reclaim_range`` walks the range, stepping over a reclaimed folio's
  pages and stopping at the first slot it cannot free, then rechecks the whole range;
  the caller tests ``cluster_is_usable`` afterwards;
* 6.19's slow path runs pending discards and starts over when nothing else worked
  (before order-0 stealing); P4 instead retries an order-0 ``folio_alloc_swap`` after
  ``swap_sync_discard``.

How slot contents are read is the design's business: the scan and the reclaim call the
hooks ``verbs.phys_slot_scan`` and ``verbs.phys_slot_reclaim`` on the design state, so
the swap table design reads its table entry, the 6.19 baseline its swap_map byte, and
virtual swap its reverse map.  The allocator itself writes no slot contents: it returns
the offset with the cluster's count, order and usage updated, and the design writes its
entries for the allocated range (the kernel does that under the same cluster lock).

Modelling choices:

* No contention: trylocks succeed, so ``isolate_lock_cluster`` takes the list head.
* Deferred work runs at well-defined points: pending discards at the start of the next
  allocation, ``reclaim_work`` when the design calls :func:`dev_deferred_work` after
  writing its entries.
* One physical device: the per-CPU cache and the available list hold this device only.
* The RCU delay before a freed table's memory returns is not modelled (freed at once).
* Swapoff: :func:`dev_swapoff_begin` clears SWP_WRITEOK (every later ``dev_alloc``
  fails), :func:`dev_next_used` walks the clusters that hold slots, and
  :func:`dev_swapoff_end` marks the emptied device off (``D_OFF``: the designs then
  count no static metadata for it).
* The atomic table allocation can fail by injected fault (``verbs.atomic_alloc_fails``);
  the fallback (drop the locks, allocate sleeping, relock) costs one more allocation per
  table object, a cluster lock and a per-CPU lock, and always succeeds (no contention).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import swp_tb, verbs
from .counters import (
    CLUSTER_LOCK,
    MEM_ALLOC,
    MEM_FREE,
    MEM_ZERO_LINE,
    OP_RECLAIM_SCAN,
    PCPU_ACCESS,
    SI_LOCK,
)
from .jit import njit
from .verbs import F_FLAGS, FOLIO_MAPPED, SLOT_BUSY, SLOT_CACHE_ONLY, SLOT_FREE, TTRS_ANYWAY, TTRS_FULL, TTRS_UNMAPPED

__all__ = ["N_ORDERS", "PMD_ORDER", "SwapDev", "dev_next_used", "dev_swapoff_begin", "dev_swapoff_end", "new_device"]

N_ORDERS = 10  # SWAP_NR_ORDERS on x86-64 (PMD_ORDER + 1)
PMD_ORDER = 9

# cluster flags (enum swap_cluster_flags)
CF_NONE = 0
CF_FREE = 1
CF_NONFULL = 2
CF_FRAG = 3
CF_USABLE = 3
CF_FULL = 4
CF_DISCARD = 5

# lists
L_FREE = 0
L_FULL = 1
L_DISCARD = 2
L_NONFULL = 3  # + order
L_FRAG = 3 + N_ORDERS  # + order
N_LISTS = 3 + 2 * N_ORDERS

# device flags (SWP_*)
SWP_SOLIDSTATE = 1
SWP_PAGE_DISCARD = 2
SWP_BLKDEV = 4
SWP_SYNCHRONOUS_IO = 8
SWP_WRITEOK = 16
SWP_FREE_NOTIFY = 32  # not a kernel flag: the bdev has swap_slot_free_notify (zram)

# meta words
D_MAX = 0  # si->max: slots including the header
D_PAGES = 1  # si->pages: usable slots
D_INUSE = 2
D_CLUSTER_SHIFT = 3
D_NCLUSTERS = 4
D_FLAGS = 5
D_NCPU = 6
D_AVAIL = 7  # on the available list
D_RECLAIM_PENDING = 8
D_DISCARD_PENDING = 9
D_TABLE_OBJS = 10  # allocations per populated cluster (table, memcg table, ...)
D_TABLES = 11  # clusters whose table is allocated now
D_PEAK_TABLES = 12
D_ALLOC_FAIL = 13
D_ID = 14
D_KERNEL = 15  # which kernel's allocator: KERNEL_P4 or KERNEL_619
D_OFF = 16  # 1 once swapoff has emptied the device and freed its static metadata
D_TABLE_ZERO = 17  # 64-byte lines zeroed when a cluster's tables are allocated
N_DMETA = 18

# allocator generations (see the module docstring)
KERNEL_P4 = 0
KERNEL_619 = 1

# per-cluster words of ``ci`` (struct swap_cluster_info, one row per cluster)
CI_COUNT = 0
CI_FLAGS = 1
CI_ORDER = 2
CI_LIST = 3  # list the cluster sits on (L_*), -1 when isolated
CI_NEXT = 4  # intrusive list links, -1 terminates
CI_PREV = 5
CI_TABLE = 6  # 1 while the cluster's swap table is allocated
CI_EXT = 7  # design word (swap_table: extend table allocated)
CI_AUX = 8  # a second design word (ghost: forward table allocated)
CI_WORDS = 9

# list words of ``lists``
LS_HEAD = 0
LS_TAIL = 1
LS_LEN = 2

SwapDev = namedtuple("SwapDev", ["ci", "lists", "pcpu", "table", "meta"])
SwapDev.__doc__ = """State of one physical swap device.

ci     int64[nclusters, CI_WORDS]  one row per cluster: count (bad slots included),
                                   flags, order, list, links, table allocated, design word
lists  int64[N_LISTS, 3]           head, tail and length of each cluster list
pcpu   int64[ncpu + 1, N_ORDERS]   per-CPU next offset per order (0 = invalid); row
                                   ncpu is the global cluster of rotational devices
table  int64[max]                  the 8-byte swap-table word of every slot (swp_tb)
meta   int64[N_DMETA]              D_* words

Five arrays: every array of a state costs unpacking and reference counting at each
kernel call boundary, so per-cluster fields share one row, as in the kernel's struct.
"""


def new_device(
    nslots: int,
    *,
    cluster_size: int = 512,
    ncpu: int = 1,
    solidstate: bool = True,
    discard: bool = False,
    blkdev: bool = True,
    synchronous: bool = False,
    table_sizes: tuple = (4096,),
    dev_id: int = 0,
    kernel: int = KERNEL_P4,
    free_notify: bool = True,
) -> SwapDev:
    """A freshly swapon'd device of ``nslots`` slots (slot 0 is the header).
    ``free_notify``: its driver has a ``swap_slot_free_notify`` hook, which
    ``swap_range_free()`` calls for every freed slot of a block device (zram's, which
    frees the slot's zsmalloc object); the mm passes it for zram only.
    ``table_sizes``: the bytes of each object a populated cluster allocates (zeroed:
    ``swap_table_alloc`` is ``folio_alloc(__GFP_ZERO)`` for a page-sized table and
    ``kmem_cache_zalloc`` otherwise; the other per-cluster tables are kzalloc'd)."""
    if cluster_size & (cluster_size - 1) or not 2 <= cluster_size <= (1 << 20):
        raise ValueError(f"cluster_size must be a power of two in [2, 2**20], got {cluster_size}")
    if nslots < 2:
        raise ValueError(f"a swap device needs at least 2 slots (header + 1), got {nslots}")
    cshift = cluster_size.bit_length() - 1
    nclusters = -(-nslots // cluster_size)
    flags = SWP_WRITEOK
    if solidstate:
        flags |= SWP_SOLIDSTATE
    if discard:
        flags |= SWP_PAGE_DISCARD
    if blkdev:
        flags |= SWP_BLKDEV
    if synchronous:
        flags |= SWP_SYNCHRONOUS_IO
    if free_notify and blkdev:
        flags |= SWP_FREE_NOTIFY
    meta = np.zeros(N_DMETA, dtype=np.int64)
    meta[D_MAX] = nslots
    meta[D_PAGES] = nslots - 1
    meta[D_CLUSTER_SHIFT] = cshift
    meta[D_NCLUSTERS] = nclusters
    meta[D_FLAGS] = flags
    meta[D_NCPU] = ncpu
    meta[D_AVAIL] = 1
    if not table_sizes or any(int(b) <= 0 for b in table_sizes):
        raise ValueError(f"table_sizes must be one or more positive byte sizes, got {table_sizes!r}")
    meta[D_TABLE_OBJS] = len(table_sizes)
    meta[D_TABLE_ZERO] = sum(-(-int(b) // 64) for b in table_sizes)
    meta[D_ID] = dev_id
    meta[D_KERNEL] = kernel
    ci = np.zeros((nclusters, CI_WORDS), dtype=np.int64)
    ci[:, CI_LIST] = -1
    ci[:, CI_NEXT] = -1
    ci[:, CI_PREV] = -1
    lists = np.zeros((N_LISTS, 3), dtype=np.int64)
    lists[:, LS_HEAD] = -1
    lists[:, LS_TAIL] = -1
    dev = SwapDev(
        ci=ci,
        lists=lists,
        pcpu=np.zeros((ncpu + 1, N_ORDERS), dtype=np.int64),
        table=np.zeros(nclusters * cluster_size, dtype=np.int64),
        meta=meta,
    )
    _setup_clusters(dev)
    return dev


@njit
def _setup_clusters(dev):
    """setup_swap_clusters_info(): bad header and tail slots, then the initial lists."""
    cshift = dev.meta[D_CLUSTER_SHIFT]
    nmax = dev.meta[D_MAX]
    end = dev.meta[D_NCLUSTERS] << cshift
    _mark_bad(dev, 0)
    for off in range(nmax, end):
        _mark_bad(dev, off)
    for c in range(dev.meta[D_NCLUSTERS]):
        if dev.ci[c, CI_COUNT] > 0:
            dev.ci[c, CI_FLAGS] = CF_NONFULL
            _list_add_tail(dev, c, L_NONFULL + 0)
        else:
            dev.ci[c, CI_FLAGS] = CF_FREE
            _list_add_tail(dev, c, L_FREE)


@njit(inline="always")
def _mark_bad(dev, off):
    c = off >> dev.meta[D_CLUSTER_SHIFT]
    if dev.ci[c, CI_COUNT] == 0 and dev.ci[c, CI_TABLE] == 0:
        dev.ci[c, CI_TABLE] = 1
        dev.meta[D_TABLES] += 1
        dev.meta[D_PEAK_TABLES] = max(dev.meta[D_PEAK_TABLES], dev.meta[D_TABLES])
    dev.table[off] = swp_tb.BAD
    dev.ci[c, CI_COUNT] += 1


# --------------------------------------------------------------------------- lists


@njit
def _list_del(dev, c):
    lst = dev.ci[c, CI_LIST]
    p = dev.ci[c, CI_PREV]
    n = dev.ci[c, CI_NEXT]
    if p >= 0:
        dev.ci[p, CI_NEXT] = n
    else:
        dev.lists[lst, LS_HEAD] = n
    if n >= 0:
        dev.ci[n, CI_PREV] = p
    else:
        dev.lists[lst, LS_TAIL] = p
    dev.ci[c, CI_PREV] = -1
    dev.ci[c, CI_NEXT] = -1
    dev.ci[c, CI_LIST] = -1
    dev.lists[lst, LS_LEN] -= 1


@njit
def _list_add_tail(dev, c, lst):
    t = dev.lists[lst, LS_TAIL]
    dev.ci[c, CI_PREV] = t
    dev.ci[c, CI_NEXT] = -1
    if t >= 0:
        dev.ci[t, CI_NEXT] = c
    else:
        dev.lists[lst, LS_HEAD] = c
    dev.lists[lst, LS_TAIL] = c
    dev.ci[c, CI_LIST] = lst
    dev.lists[lst, LS_LEN] += 1


@njit
def _move_cluster(dev, ctx, op, c, lst, flags):
    """move_cluster(): under si->lock, append to ``lst`` and set the flags."""
    ctx.counters[op, SI_LOCK] += 1
    if dev.ci[c, CI_LIST] >= 0:
        _list_del(dev, c)
    _list_add_tail(dev, c, lst)
    dev.ci[c, CI_FLAGS] = flags


# --------------------------------------------------------------------------- helpers


@njit(inline="always")
def dev_cluster_size(dev):
    return 1 << dev.meta[D_CLUSTER_SHIFT]


@njit(inline="always")
def vm_swap_full(dev):
    """More than half of swap in use (nr_swap_pages * 2 < total_swap_pages)."""
    return (dev.meta[D_PAGES] - dev.meta[D_INUSE]) * 2 < dev.meta[D_PAGES]


@njit(inline="always")
def try_to_reclaim_wanted(dev, ctx, folio, flags):
    """__try_to_reclaim_swap()'s test of its flags for a cache-only ``folio``:
    TTRS_ANYWAY; TTRS_UNMAPPED and the folio is not mapped; TTRS_FULL and
    vm_swap_full() of ``dev``."""
    if flags & TTRS_ANYWAY:
        return True
    if (flags & TTRS_UNMAPPED) and (ctx.folio[folio, F_FLAGS] & FOLIO_MAPPED) == 0:
        return True
    return (flags & TTRS_FULL) != 0 and vm_swap_full(dev)


@njit(inline="always")
def _cluster_is_usable(dev, c, order):
    if dev.ci[c, CI_FLAGS] > CF_USABLE:
        return False
    if dev.ci[c, CI_TABLE] == 0:
        return False
    if order == 0:
        return True
    return dev.ci[c, CI_COUNT] == 0 or dev.ci[c, CI_ORDER] == order


@njit(inline="always")
def _alloc_table(dev, dst, ctx, op, c):
    """swap_cluster_populate(): the cluster's tables, allocated atomically under the
    cluster lock; when that fails (an injected fault), the locks are dropped, the
    tables allocated sleeping and the cluster relocked (no contention here, so it is
    still ours)."""
    ctx.counters[op, MEM_ALLOC] += dev.meta[D_TABLE_OBJS]
    ctx.counters[op, MEM_ZERO_LINE] += dev.meta[D_TABLE_ZERO]  # zeroed once, by the call that succeeds
    if verbs.atomic_alloc_fails(ctx):
        ctx.counters[op, MEM_ALLOC] += dev.meta[D_TABLE_OBJS]
        ctx.counters[op, CLUSTER_LOCK] += 1
        ctx.counters[op, PCPU_ACCESS] += 1
    verbs.cluster_populated(dst, ctx, op, dev, c, True)
    dev.ci[c, CI_TABLE] = 1
    dev.meta[D_TABLES] += 1
    dev.meta[D_PEAK_TABLES] = max(dev.meta[D_PEAK_TABLES], dev.meta[D_TABLES])


@njit(inline="always")
def _free_table(dev, dst, ctx, op, c):
    if dev.ci[c, CI_TABLE]:
        ctx.counters[op, MEM_FREE] += dev.meta[D_TABLE_OBJS]
        verbs.cluster_populated(dst, ctx, op, dev, c, False)
        dev.ci[c, CI_TABLE] = 0
        dev.meta[D_TABLES] -= 1


@njit(inline="always")
def _free_cluster_now(dev, dst, ctx, op, c):
    """__free_cluster(): drop the table, back on the free list, order 0."""
    _free_table(dev, dst, ctx, op, c)
    _move_cluster(dev, ctx, op, c, L_FREE, CF_FREE)
    dev.ci[c, CI_ORDER] = 0


@njit(inline="always")
def _free_cluster(dev, dst, ctx, op, c):
    if (dev.meta[D_FLAGS] & (SWP_WRITEOK | SWP_PAGE_DISCARD)) == (SWP_WRITEOK | SWP_PAGE_DISCARD):
        _move_cluster(dev, ctx, op, c, L_DISCARD, CF_DISCARD)
        dev.meta[D_DISCARD_PENDING] = 1
        return
    _free_cluster_now(dev, dst, ctx, op, c)


@njit(inline="always")
def _partial_free_cluster(dev, dst, ctx, op, c):
    if dev.ci[c, CI_FLAGS] != CF_NONFULL:
        _move_cluster(dev, ctx, op, c, L_NONFULL + dev.ci[c, CI_ORDER], CF_NONFULL)


@njit
def _relocate_cluster(dev, dst, ctx, op, c):
    if dev.ci[c, CI_FLAGS] == CF_DISCARD:
        return
    cnt = dev.ci[c, CI_COUNT]
    if cnt == 0:
        if dev.ci[c, CI_FLAGS] != CF_FREE:
            _free_cluster(dev, dst, ctx, op, c)
    elif cnt != dev_cluster_size(dev):
        if dev.ci[c, CI_FLAGS] != CF_FRAG:
            _move_cluster(dev, ctx, op, c, L_FRAG + dev.ci[c, CI_ORDER], CF_FRAG)
    else:
        if dev.ci[c, CI_FLAGS] != CF_FULL:
            _move_cluster(dev, ctx, op, c, L_FULL, CF_FULL)


@njit
def _isolate_lock_cluster(dev, dst, ctx, op, lst):
    """Take the first cluster off ``lst`` (flags NONE, cluster locked); populate a
    FREE cluster's table.  Returns -1 when the list is empty."""
    ctx.counters[op, SI_LOCK] += 1
    c = dev.lists[lst, LS_HEAD]
    if c < 0:
        return -1
    ctx.counters[op, CLUSTER_LOCK] += 1
    flags = dev.ci[c, CI_FLAGS]
    _list_del(dev, c)
    dev.ci[c, CI_FLAGS] = CF_NONE
    if flags == CF_FREE:
        _alloc_table(dev, dst, ctx, op, c)
    return c


@njit
def _do_scheduled_discard(dev, dst, ctx, op):
    """swap_do_scheduled_discard(): discarded clusters go back to the free list."""
    done = False
    ctx.counters[op, SI_LOCK] += 1
    while dev.lists[L_DISCARD, LS_HEAD] >= 0:
        c = dev.lists[L_DISCARD, LS_HEAD]
        _list_del(dev, c)
        ctx.counters[op, CLUSTER_LOCK] += 1
        dev.ci[c, CI_FLAGS] = CF_NONE
        _free_cluster_now(dev, dst, ctx, op, c)
        ctx.counters[op, SI_LOCK] += 1  # si->lock again for the next cluster
        done = True
    dev.meta[D_DISCARD_PENDING] = 0
    return done


# --------------------------------------------------------------------------- scanning


@njit(inline="always")
def _scan_range(dev, dst, ctx, op, c, off, nr):
    """cluster_scan_range(): returns (ok, need_reclaim)."""
    if dev.meta[D_KERNEL] == KERNEL_619 and dev.ci[c, CI_COUNT] == 0:
        return True, False
    need_reclaim = False
    full = vm_swap_full(dev)
    for s in range(off, off + nr):
        st = verbs.phys_slot_scan(dst, ctx, op, dev, s)
        if st == SLOT_FREE:
            continue
        if st == SLOT_CACHE_ONLY:
            if not full:
                return False, False
            need_reclaim = True
            continue
        return False, False
    return True, need_reclaim


@njit(inline="always")
def _reclaim_range(dev, dst, ctx, op, c, start, order):
    """cluster_reclaim_range(): returns (range now free, cluster still usable)."""
    nr = 1 << order
    if dev.meta[D_KERNEL] == KERNEL_619:
        s = start
        while s < start + nr:
            st = verbs.phys_slot_scan(dst, ctx, op, dev, s)
            if st == SLOT_FREE:
                s += 1
            elif st == SLOT_CACHE_ONLY:
                n = verbs.phys_slot_reclaim(dst, ctx, op, dev, s)
                if n <= 0:
                    break
                s += n
            else:
                break
        ctx.counters[op, CLUSTER_LOCK] += 1  # relock after dropping ci->lock
        ret = True
        for s in range(start, start + nr):
            if verbs.phys_slot_scan(dst, ctx, op, dev, s) != SLOT_FREE:
                ret = False
                break
        return ret, _cluster_is_usable(dev, c, order)
    for s in range(start, start + nr):
        st = verbs.phys_slot_scan(dst, ctx, op, dev, s)
        if st == SLOT_BUSY:
            break
        if st == SLOT_CACHE_ONLY:
            if verbs.phys_slot_reclaim(dst, ctx, op, dev, s) < 0:
                break
    ctx.counters[op, CLUSTER_LOCK] += 1  # relock after dropping ci->lock
    if not _cluster_is_usable(dev, c, order):
        return False, False
    if dev.ci[c, CI_COUNT] == 0:
        return True, True
    for s in range(start, start + nr):
        if verbs.phys_slot_scan(dst, ctx, op, dev, s) != SLOT_FREE:
            return False, True
    return True, True


@njit(inline="always")
def _claim(dev, c, order):
    """__swap_cluster_alloc_entries() minus the entry writes (the design's part)."""
    nr = 1 << order
    if dev.ci[c, CI_COUNT] == 0:
        dev.ci[c, CI_ORDER] = order
    dev.ci[c, CI_COUNT] += nr
    dev.meta[D_INUSE] += nr
    if dev.meta[D_INUSE] == dev.meta[D_PAGES]:
        dev.meta[D_AVAIL] = 0
        # swap_range_alloc() tests vm_swap_full() before nr_swap_pages drops by nr
        if (dev.meta[D_PAGES] - dev.meta[D_INUSE] + nr) * 2 < dev.meta[D_PAGES]:
            dev.meta[D_RECLAIM_PENDING] = 1


@njit
def _scan_cluster(dev, dst, ctx, op, row, c, offset, order):
    """alloc_swap_scan_cluster(): returns the allocated offset or 0."""
    csize = dev_cluster_size(dev)
    start = c * csize
    end = start + csize
    if dev.meta[D_KERNEL] == KERNEL_619:
        end = min(end, dev.meta[D_MAX])
    nr = 1 << order
    nxt = 0
    found = 0
    if not (end < nr or dev.ci[c, CI_COUNT] + nr > csize):
        last = end - nr
        off = offset
        while off <= last:
            ok, need_reclaim = _scan_range(dev, dst, ctx, op, c, off, nr)
            if not ok:
                off += nr
                continue
            if need_reclaim:
                ret, usable = _reclaim_range(dev, dst, ctx, op, c, off, order)
                if not usable:
                    break
                if dev.ci[c, CI_COUNT] == 0:
                    off = start
                if not ret:
                    off += nr
                    continue
            if (dev.meta[D_FLAGS] & SWP_WRITEOK) == 0:
                break
            _claim(dev, c, order)
            found = off
            off += nr
            if dev.ci[c, CI_COUNT] < csize and off <= last:
                nxt = off
            break
    _relocate_cluster(dev, dst, ctx, op, c)
    dev.pcpu[row, order] = nxt
    return found


@njit(inline="always")
def _scan_list(dev, dst, ctx, op, row, lst, order, scan_all):
    """alloc_swap_scan_list()."""
    found = 0
    guard = dev.meta[D_NCLUSTERS] + 1
    while guard > 0:
        guard -= 1
        c = _isolate_lock_cluster(dev, dst, ctx, op, lst)
        if c < 0:
            break
        found = _scan_cluster(dev, dst, ctx, op, row, c, c * dev_cluster_size(dev), order)
        if found or not scan_all:
            break
    return found


@njit
def _reclaim_full_clusters(dev, dst, ctx, force):
    """swap_reclaim_full_clusters(): scan full clusters for cache-only slots."""
    op = OP_RECLAIM_SCAN
    csize = dev_cluster_size(dev)
    to_scan = 1
    if force:
        to_scan = dev.meta[D_INUSE] // csize
    reclaimed = 0
    guard = dev.meta[D_NCLUSTERS] + 1
    while guard > 0:
        guard -= 1
        c = _isolate_lock_cluster(dev, dst, ctx, op, L_FULL)
        if c < 0:
            break
        off = c * csize
        end = min(dev.meta[D_MAX], off + csize)
        to_scan -= 1
        while off < end:
            if verbs.phys_slot_scan(dst, ctx, op, dev, off) == SLOT_CACHE_ONLY:
                n = verbs.phys_slot_reclaim(dst, ctx, op, dev, off)
                ctx.counters[op, CLUSTER_LOCK] += 1  # relock
                if n != 0:
                    if n > 0:
                        reclaimed += n
                    off += abs(n)
                    continue
            off += 1
        if dev.ci[c, CI_FLAGS] == CF_NONE:
            _relocate_cluster(dev, dst, ctx, op, c)
        if to_scan <= 0:
            break
    return reclaimed


SCAN_ALL = 1 << 16
STEP_RECLAIM_FULL = -1
STEP_END = -2
STEP_DISCARD_RESTART = -3


@njit(inline="always")
def _slow_step(discard, gen619, order, i):
    """Step ``i`` of cluster_alloc_swap_entry() after the rotational global cluster, in
    the kernel's order: a list id (``| SCAN_ALL`` to try every cluster on it),
    STEP_RECLAIM_FULL, STEP_DISCARD_RESTART (6.19: run pending discards and start
    over) or STEP_END after the last step."""
    k = 0
    if discard:
        if i == k:
            return L_FREE
        k += 1
    if order < PMD_ORDER:
        if i == k:
            return (L_NONFULL + order) | SCAN_ALL
        k += 1
    if not discard:
        if i == k:
            return L_FREE
        k += 1
    if i == k:
        return STEP_RECLAIM_FULL
    k += 1
    if order < PMD_ORDER:
        if i == k:
            return L_FRAG + order
        k += 1
    if gen619 and discard:
        if i == k:
            return STEP_DISCARD_RESTART
        k += 1
    if order == 0:
        j = i - k
        if j < 2 * (N_ORDERS - 1):
            o = 1 + j // 2
            if j % 2 == 0:
                return (L_FRAG + o) | SCAN_ALL
            return (L_NONFULL + o) | SCAN_ALL
    return STEP_END


@njit
def _cluster_alloc_swap_entry(dev, dst, ctx, op, cpu, order):
    """cluster_alloc_swap_entry(): the slow path on one device."""
    flags = dev.meta[D_FLAGS]
    if order > 0 and (flags & SWP_BLKDEV) == 0:
        return 0
    csize = dev_cluster_size(dev)
    row = cpu
    if (flags & SWP_SOLIDSTATE) == 0:
        row = dev.meta[D_NCPU]
        ctx.counters[op, SI_LOCK] += 1  # global_cluster_lock
        off = dev.pcpu[row, order]
        if off != 0:
            c = off // csize
            verbs.cluster_lookup(dst, ctx, op, dev, off)
            ctx.counters[op, CLUSTER_LOCK] += 1
            if _cluster_is_usable(dev, c, order):
                if dev.ci[c, CI_COUNT] == 0:
                    off = c * csize
                found = _scan_cluster(dev, dst, ctx, op, row, c, off, order)
                if found:
                    return found
    discard = (flags & SWP_PAGE_DISCARD) != 0
    gen619 = dev.meta[D_KERNEL] == KERNEL_619
    i = 0
    while True:
        step = _slow_step(discard, gen619, order, i)
        i += 1
        if step == STEP_END:
            return 0
        if step == STEP_DISCARD_RESTART:
            # swap_do_scheduled_discard() takes si->lock even with nothing pending
            if _do_scheduled_discard(dev, dst, ctx, op):
                i = 0
            continue
        if step == STEP_RECLAIM_FULL:
            if vm_swap_full(dev):
                _reclaim_full_clusters(dev, dst, ctx, False)
            continue
        found = _scan_list(dev, dst, ctx, op, row, step & (SCAN_ALL - 1), order, (step & SCAN_ALL) != 0)
        if found:
            return found


@njit(inline="always")
def _alloc_fast(dev, dst, ctx, op, cpu, order):
    """swap_alloc_fast(): the per-CPU cluster."""
    ctx.counters[op, PCPU_ACCESS] += 1
    if (dev.meta[D_FLAGS] & SWP_SOLIDSTATE) == 0:
        return 0
    off = dev.pcpu[cpu, order]
    if off == 0:
        return 0
    csize = dev_cluster_size(dev)
    c = off // csize
    verbs.cluster_lookup(dst, ctx, op, dev, off)
    ctx.counters[op, CLUSTER_LOCK] += 1
    if not _cluster_is_usable(dev, c, order):
        return 0
    if dev.ci[c, CI_COUNT] == 0:
        off = c * csize
    return _scan_cluster(dev, dst, ctx, op, cpu, c, off, order)


@njit
def dev_alloc(dev, dst, ctx, op, cpu, order):
    """The allocation part of folio_alloc_swap(): returns the first offset of
    ``2**order`` free, aligned slots, or 0 when the device cannot provide them.  The
    caller writes its entries for the range and then calls :func:`dev_deferred_work`."""
    if (dev.meta[D_FLAGS] & SWP_WRITEOK) == 0:
        dev.meta[D_ALLOC_FAIL] += 1  # swapoff took the device off the available list
        return 0
    if dev.meta[D_DISCARD_PENDING]:
        _do_scheduled_discard(dev, dst, ctx, op)
    if (1 << order) > dev_cluster_size(dev):
        return 0
    while True:
        found = _alloc_fast(dev, dst, ctx, op, cpu, order)
        if found:
            return found
        if dev.meta[D_AVAIL]:
            found = _cluster_alloc_swap_entry(dev, dst, ctx, op, cpu, order)
            if found:
                return found
        if (
            order == 0
            and dev.meta[D_KERNEL] == KERNEL_P4
            and (dev.meta[D_FLAGS] & SWP_PAGE_DISCARD)
            and dev.lists[L_DISCARD, LS_HEAD] >= 0
        ):
            # swap_sync_discard() and retry
            _do_scheduled_discard(dev, dst, ctx, op)
            continue
        dev.meta[D_ALLOC_FAIL] += 1
        return 0


@njit(inline="always")
def dev_deferred_work(dev, dst, ctx):
    """Run reclaim_work if an allocation scheduled it (device filled while full)."""
    if dev.meta[D_RECLAIM_PENDING]:
        dev.meta[D_RECLAIM_PENDING] = 0
        return _reclaim_full_clusters(dev, dst, ctx, True)
    return 0


@njit
def dev_reclaim_full(dev, dst, ctx, force):
    return _reclaim_full_clusters(dev, dst, ctx, force)


@njit
def dev_free_range(dev, dst, ctx, op, start, nr):
    """The cluster and device bookkeeping of __swap_cluster_free_entries() for ``nr``
    slots of one cluster whose entries the design has already cleared."""
    c = start >> dev.meta[D_CLUSTER_SHIFT]
    dev.ci[c, CI_COUNT] -= nr
    dev.meta[D_INUSE] -= nr
    if dev.meta[D_INUSE] < dev.meta[D_PAGES] and (dev.meta[D_FLAGS] & SWP_WRITEOK):
        dev.meta[D_AVAIL] = 1
    if dev.ci[c, CI_COUNT] == 0:
        _free_cluster(dev, dst, ctx, op, c)
    else:
        _partial_free_cluster(dev, dst, ctx, op, c)


# --------------------------------------------------------------------------- swapoff


@njit
def dev_swapoff_begin(dev):
    """The start of swapoff(2): the device leaves the available list and loses
    SWP_WRITEOK (del_from_avail_list), so no allocation uses it again; the per-CPU
    offsets into it are dropped."""
    dev.meta[D_FLAGS] &= ~SWP_WRITEOK
    dev.meta[D_AVAIL] = 0
    dev.pcpu[:, :] = 0


@njit
def dev_next_used(dev, off):
    """The first slot at or after ``off`` in a cluster that holds any slot (bad slots
    included), or -1: try_to_unuse()'s walk over the device, skipping empty clusters
    [I: their tables are gone, so the kernel's per-slot reads there cost nothing
    either]."""
    shift = dev.meta[D_CLUSTER_SHIFT]
    nmax = dev.meta[D_MAX]
    while off < nmax:
        c = off >> shift
        if dev.ci[c, CI_COUNT] != 0:
            return off
        off = (c + 1) << shift
    return -1


@njit
def dev_swapoff_end(dev, dst, ctx, op):
    """The end of swapoff(2): returns the slots still in use.  When none is, the
    pending discards are flushed (flush_work of the discard work), every cluster's
    table still allocated is freed (free_cluster_info: the clusters holding bad slots
    keep theirs until here), and the device's static metadata (swap_map, cluster
    array, bitmaps) goes with it (D_OFF)."""
    left = dev.meta[D_INUSE]
    if left == 0:
        if dev.meta[D_DISCARD_PENDING]:
            _do_scheduled_discard(dev, dst, ctx, op)
        for c in range(dev.meta[D_NCLUSTERS]):
            _free_table(dev, dst, ctx, op, c)
        dev.meta[D_OFF] = 1
    return left
