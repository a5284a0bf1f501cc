"""Slow, obviously correct reference model of the ``vswap_v5`` / ``vswap_v6`` designs.

Plain Python objects, dicts and lists, written from the facts and conventions of
``vswap_nb/designs/vswap.py``'s module docstring and ``reference/swap-designs.md``
sections 2.1-2.4 and 4 (virtual swap), and from ``vswap_nb/core/device.py``'s
docstring for the 6.19 physical allocator.  The Numba code was read for the counter
conventions (which primitive a step is charged as and to which row), because those are
the model's own definitions, not kernel facts.

Virtual side
------------
* ``clusters[id]``: the live virtual clusters (those in ``vswap_cluster_map``), each a
  :class:`VCluster`: id, order (fixed for its life), count (allocated slots; the
  reserved slots of cluster 0 included), refcount, the allocation bitmap (a set of
  slot indices) and ``vsize`` descriptors (:class:`Desc`; a free slot's descriptor is
  all zeros, which reads as type SWAPFILE with backend 0, exactly like zeroed memory).
* Cluster id 0 reserves the first ``nr = min(2**order, vsize)`` slots of the order it
  serves (reference 2.3: "Cluster id 0 reserves the first nr slots (entry 0 is
  invalid); PMD-order allocations cannot use cluster 0"): they are set in its bitmap
  and counted in its count and refcount from its creation, so cluster 0 is never
  freed.  A whole-cluster order cannot use it at all: that allocation takes another
  new cluster and cluster 0, full of reserved slots, belongs to no list.  Reserved
  entries are not allocated: ``swap_count`` says -1 and ``ra_probe`` -ENOENT.
* The cluster map is a :class:`NaiveXArray` keyed by cluster id; node counts and walk
  visits come from its shape.  New clusters take the lowest id not in the map
  (``xa_alloc``); a new cluster costs the walk of the current tree height (finding the
  free index) plus the store walk.
* Refcount = allocated slots + one per CPU allocation cache holding the cluster + one
  per lookup cache holding it.  At 0 the cluster leaves the partial list and the map
  (its id is reusable at once) and its memory is freed at once (no grace period, as in
  every design): ``mem_free`` 1, and in v6 a ``vfree`` of the descriptors.  A new
  cluster: ``mem_alloc`` 1 and the 64-byte lines it zeroes: v5's kvzalloc of the
  header, bitmap and descriptors (40 + 8 * ceil(vsize / 64) + 24 * vsize bytes); v6's
  112-byte cluster plus its 24 * vsize-byte descriptors, and a ``vmalloc`` for them.
  The object budget ``nrows`` is the live clusters' room.  A physical table:
  ``mem_alloc`` 1 and 8 * csize bytes zeroed.
* ``alloc_cache[cpu][order]``: the CPU's allocation cluster; ``mru[cpu]``: the lookup
  cache (cluster ids, most recent first, at most ``lookup_cache_ways``), with ``cpu`` the CPU the current operation runs on
  (``Ctx.meta[C_CPU]``; alloc sets it).  Every verb but alloc (which does no lookup)
  ends by letting the running CPU's lookup cache go of a cluster that is empty then
  ("dropped ... when the cluster is empty at the end of an operation"), on every
  return path; reclaim_full charges that to ``reclaim_scan``.
* ``partial[order]``: the partial cluster lists (ids, in list order).
* zswap entries are counted (``zswap_entries``); each stored zswap entry has an
  identity of its own, the descriptor's backend word: 1, 2, 3, ... in store order
  (``zswap_stored``), never reused.
* With ``rmap_cache_only_bit`` the rmap C bit says "swap-cache only": set when a count
  drops to 0 on a cached SWAPFILE entry, cleared on dup (a rmap write each).  A
  physical slot allocated for an entry that is already cache-only gets the plain value
  (v6's vswap_rmap_set), so the allocator sees it busy; with the bit on, the
  allocator's scan and __try_to_reclaim_swap's swap_only_has_cache read the bit.
* Swapoff: ``swapoff_begin`` clears the device's SWP_WRITEOK (every later physical
  allocation fails and counts an allocation failure; a freed cluster no longer goes
  to the discard list; the device never comes back on the available list);
  ``unuse_entry(off)`` reads the allocated bit (``map_read``) and, for a used slot, the
  reverse map (``rmap_read``) naming the virtual entry; ``unuse(entry, folio)``
  (lookup + lock, ``desc_read``) needs ``folio`` in the swap cache for the entry and
  turns a SWAPFILE descriptor into a FOLIO one: the physical slot freed, one
  ``memcg_uncharge``, ``desc_write``; ``swapoff_end`` says how many slots are still
  in use, and at 0 the device is off: no physical bitmaps and no cluster_info in
  ``metadata_bytes`` any more.
* ``metadata_bytes``: v6 has a 112-byte cluster header and a separate descriptor array
  (24 bytes per slot); v5 one slab object per cluster holding a 40-byte header, the
  allocation bitmap (whole longs) and the descriptors, in the kmalloc size class that
  fits it (powers of two from 8, plus 96 and 192: 16 KiB for 512 slots).

Physical side (:class:`Phys619`)
--------------------------------
The 6.19 cluster allocator over one device (:class:`naive_allocator.NaiveDevice` with
``KERNEL_619``, the allocator every reference model shares): slots are ``None`` (free),
``BAD`` or an :class:`Rmap` (the virtual entry and the cache-only C bit).  How a slot looks to the allocator is the virtual
layer's answer (``phys_slot_scan`` / ``phys_slot_reclaim``).  On a discard device the
slow path's restart step runs ``swap_do_scheduled_discard()`` (taking ``si->lock``)
even when no discard is pending.

How this differs from the kernel's formulation
----------------------------------------------
The verbs follow the posted code's steps (each one is counted); the state is the simple
one: a dict of live clusters instead of slab rows, a set of allocated slot indices
instead of the bitmap, a :class:`Desc` object per slot instead of three packed words
(the comparison packs them), the cluster map a ``NaiveXArray`` (a dict, nodes derived
from its keys), the lookup cache a most-recent-first list of ids per CPU, the
partial lists Python lists, and the physical side the shared allocator
(``naive_allocator``).

Counter conventions (the design's; see its module docstring)
-------------------------------------------------------------
* a cluster lookup is ``lookup_cache_hit``, or ``lookup_cache_miss`` + ``xa_lookup`` +
  the node visits (without the lookup cache: ``xa_lookup`` + visits); a found cluster
  is locked (``cluster_lock``);
* descriptor reads / writes: ``desc_read`` / ``desc_write``; bitmap search, set or
  clear: ``bitmap_op``; the partial lists (under the XArray lock): ``si_lock``;
* physical slots: the allocated bitmap ``map_read`` / ``map_write``, reverse-map words
  ``rmap_read`` / ``rmap_write``, ``slot_free_notify`` per freed slot, one
  ``cluster_lock`` per physical free range;
* ``mem_alloc`` / ``mem_free``: a cluster object, a zswap entry, a physical table;
* ``memcg_charge`` per physical allocation and per swap-in cache add,
  ``memcg_uncharge``: with batch_ops (v6) one per release_backing() call that released
  physical slots (a free run, or a store that replaces the backend); without (v5) one
  per contiguous physical run, found through lookup_swap_cgroup_id() (a lookup, the
  lock, a descriptor read) with the vswap lock dropped and retaken (a cluster_lock).

The operations follow the v5 / v6 posted code as ``vswap_nb/designs/vswap.py``'s
docstring lists them verb by verb (v5 = batch_ops off): the lookups, locks and
descriptor reads / writes of each kernel function, the lookup cache of v6 patch 22
(``_lookup``'s modes: vswap_iter / swap_cache_lock / add evict a cached cluster under
its lock and cache the new one, folio_free_swap only evicts, __vswap_remove_mapping
only reads, swap_cache_unlock empties on a hit, v6 swap_cache_del_folio always
empties, tryget / put_swap_entry never use it), the fault's tryget_swap_entry (in
cache_lookup of op swapin) and put_swap_entry (in put of op swapin without cache
reclaim), the synchronous swap-in path (cache_add of op swapin on a count-1 SWAPFILE
entry of a synchronous device: no swap-cache insert, the folio marked
FOLIO_SYNC_BYPASS, released by swapcache_clear in cache_free), free_after_fault
(should_try_to_free_swap with vswap_swapfile_backed), and zswap "ever enabled"
(``zswap_enabled``, Ctx.meta[C_ZSWAP_ENABLED], set by a zswap store) for the read.
"""
from __future__ import annotations

from naive_allocator import BAD, N_ORDERS, NaiveDevice
from naive_xarray import NaiveXArray

from vswap_nb.core.counters import OPS, PRIMITIVES

XA_CHUNK_SHIFT = 6

# descriptor types (enum swap_type); a zeroed descriptor reads as SWAPFILE
SWAPFILE, ZERO, ZSWAP, FOLIO = 0, 1, 2, 3

TTRS_ANYWAY, TTRS_UNMAPPED, TTRS_FULL = 1, 2, 4
FOLIO_MAPPED = 1
BACKEND_NONE, BACKEND_ZERO, BACKEND_ZSWAP, BACKEND_DISK, BACKEND_FOLIO = 0, 1, 2, 3, 4
ENOMEM, ENOENT, EEXIST, EBUSY = -12, -2, -17, -16
RA_READAHEAD, RA_SYNC = 0, 1
FOLIO_SYNC_BYPASS = 4  # verbs.FOLIO_SYNC_BYPASS: pinned by the synchronous swap-in

# how a cluster lookup uses the per-CPU lookup cache (V6p22)
LK_ITER = 0  # vswap_iter, swap_cache_lock(_irq), swap_cache_add_folio: evict, insert
LK_NOINSERT = 1  # folio_free_swap (v6): evict on a miss, never insert
LK_PEEK = 2  # __vswap_remove_mapping, v5's __swap_cache_del_folio: read only
LK_UNLOCK = 3  # swap_cache_unlock(_irq): a hit empties the way

# the allocator's answers (naive_allocator.NaiveDevice._probe)
SLOT_FREE, SLOT_CACHE_ONLY, SLOT_BUSY = "free", "cache_only", "busy"

_OP_ROW = {name: i for i, name in enumerate(OPS)}
_PRIM_COL = {name: j for j, name in enumerate(PRIMITIVES)}

SWITCHES = ("rmap_cache_only_bit", "defer_cgroup_check", "cluster_lookup_cache", "batch_ops")


def kmalloc_size(n):
    """The kmalloc size class of an ``n``-byte object: powers of two from 8, plus 96
    and 192."""
    for size in (8, 16, 32, 64, 96, 128, 192):
        if n <= size:
            return size
    size = 256
    while size < n:
        size *= 2
    return size


def v5_cluster_object_bytes(vsize):
    """v5's struct vswap_cluster with ``vsize`` embedded 24-byte descriptors: a 40-byte
    header, the allocation bitmap in whole longs, the descriptors; its slab object."""
    return kmalloc_size(40 + -(-vsize // 64) * 8 + 24 * vsize)


class Rmap:
    """A physical slot in use: the virtual entry it backs and the cache-only bit."""

    __slots__ = ("cache_only", "entry")

    def __init__(self, entry, cache_only=False):
        self.entry = entry
        self.cache_only = cache_only

    def __repr__(self):
        return f"Rmap({self.entry}{', C' if self.cache_only else ''})"


class Desc:
    """struct swp_desc: backend (slot / zswap entry), swap cache folio, count, memcg,
    in_swapcache, type."""

    __slots__ = ("backend", "count", "folio", "in_cache", "memcg", "type")

    def __init__(self):
        self.clear()

    def clear(self):
        self.backend = 0
        self.folio = None
        self.count = 0
        self.memcg = 0
        self.in_cache = False
        self.type = SWAPFILE

    def __repr__(self):
        return (f"Desc(count={self.count}, memcg={self.memcg}, type={self.type}, "
                f"in_cache={self.in_cache}, folio={self.folio}, backend={self.backend})")


class VCluster:
    __slots__ = ("bits", "count", "desc", "id", "order", "ref")

    def __init__(self, cid, order, vsize):
        self.id = cid
        self.order = order
        self.count = 0
        self.ref = 0
        self.bits = set()
        self.desc = [Desc() for _ in range(vsize)]

    def __repr__(self):
        return f"VCluster(id={self.id}, order={self.order}, count={self.count}, ref={self.ref})"


# --------------------------------------------------------------------------- physical


class Phys619(NaiveDevice):
    """One physical swap device: :class:`naive_allocator.NaiveDevice` in its 6.18/6.19
    generation.  ``owner`` (the virtual layer) answers how a slot looks
    (``phys_slot_scan``) and reclaims cache-only slots (``phys_slot_reclaim``);
    ``owner._c`` counts."""

    KERNEL_619 = True

    def __init__(self, owner, nslots, **kw):
        self.owner = owner
        super().__init__(nslots, **kw)

    def _c(self, op, prim, n=1):
        self.owner._c(op, prim, n)

    def _probe(self, op, off):
        return self.owner.phys_slot_scan(op, off)

    def _reclaim_slot(self, op, off):
        return self.owner.phys_slot_reclaim(op, off)

    def alloc(self, op, cpu, order):
        """The allocation part of folio_alloc_swap(): first offset or 0."""
        return self._dev_alloc(op, cpu, order)


# --------------------------------------------------------------------------- virtual


class NaiveVswap:
    def __init__(self, nslots, *, ncpu=1, cluster_size=512, solidstate=True, discard=False,
                 blkdev=True, synchronous=False, virtual_slots=None, virtual_cluster_size=512,
                 rmap_cache_only_bit=False, defer_cgroup_check=False,
                 cluster_lookup_cache=False, batch_ops=False, lookup_cache_ways=1, layout_v6=False,
                 free_notify=True):
        self.counters = [[0] * len(PRIMITIVES) for _ in OPS]
        self.dev = Phys619(self, nslots, cluster_size=cluster_size, ncpu=ncpu,
                           solidstate=solidstate, discard=discard, blkdev=blkdev)
        self.synchronous = synchronous  # SWP_SYNCHRONOUS_IO (zram, pmem)
        self.free_notify = free_notify and blkdev  # swap_slot_free_notify per freed slot
        self.rmap_bit = rmap_cache_only_bit
        self.defer_cg = defer_cgroup_check
        self.lookup_cache = cluster_lookup_cache
        self.ways = lookup_cache_ways
        self.batch = batch_ops
        self.layout_v6 = layout_v6
        self.vsize = virtual_cluster_size
        self.vshift = virtual_cluster_size.bit_length() - 1
        self.ncpu = ncpu
        if virtual_slots is None:
            virtual_slots = 2 * nslots
        # slab objects the design has room for (live clusters)
        self.nrows = -(-virtual_slots // self.vsize) + ncpu * N_ORDERS + 2

        self.clusters = {}
        self.cmap = NaiveXArray(XA_CHUNK_SHIFT)
        self.partial = {o: [] for o in range(N_ORDERS)}
        self.alloc_cache = [[None] * N_ORDERS for _ in range(ncpu)]
        self.mru = [[] for _ in range(ncpu)]  # cluster ids, most recent first
        self.zswap_entries = 0
        self.zswap_stored = 0  # zswap entries ever stored: the last one's identity
        self.zswap_enabled = False  # Ctx.meta[C_ZSWAP_ENABLED]: a zswap store sets it

        # the folio side of Ctx
        self.folio_swap = {}
        self.folio_order = {}
        self.folio_flags = {}
        self.cache_drops = 0
        self.cpu = 0  # Ctx.meta[C_CPU]

    # ------------------------------------------------------------------ helpers

    def _c(self, op, prim, n=1):
        """Charge ``n`` ``prim`` (a primitive name) to the row of operation ``op``."""
        self.counters[_OP_ROW[op]][_PRIM_COL[prim]] += n

    def counter_matrix(self):
        """The counters as a list of rows, like ``Ctx.counters``."""
        return self.counters

    def counters_by_name(self):
        return {(o, p): v for o, row in zip(OPS, self.counters) for p, v in zip(PRIMITIVES, row) if v}

    def split(self, entry):
        return entry >> self.vshift, entry & (self.vsize - 1)

    def desc_of(self, entry):
        cid, i = self.split(entry)
        cl = self.clusters.get(cid)
        return None if cl is None else cl.desc[i]

    def reserved_nr(self, order):
        """Slots cluster 0 reserves when it serves ``order``: the first nr."""
        return min(1 << order, self.vsize)

    def reserved(self, entry):
        """Entries of cluster 0 that are reserved, not allocated."""
        cid, i = self.split(entry)
        if cid:
            return False
        cl0 = self.clusters.get(0)
        return i == 0 or (cl0 is not None and i < self.reserved_nr(cl0.order))

    def allocated(self, entry):
        cid, i = self.split(entry)
        cl = self.clusters.get(cid)
        return cl is not None and i in cl.bits and not self.reserved(entry)

    def live_entries(self):
        """Every allocated virtual entry (the reserved entries excluded)."""
        out = []
        for cid in sorted(self.clusters):
            cl = self.clusters[cid]
            for i in sorted(cl.bits):
                e = (cid << self.vshift) | i
                if not self.reserved(e):
                    out.append(e)
        return out

    # ---- the cluster map

    def _xa_load(self, op, cid):
        self._c(op, "xa_lookup")
        before = self.cmap.visits
        cl = self.cmap.load(cid)
        self._c(op, "xa_node_visit", self.cmap.visits - before)
        return cl

    def _xa_store(self, op, cid, cl):
        before = len(self.cmap.nodes())
        self.cmap.store(cid, cl)
        self._c(op, "xa_store")
        self._c(op, "xa_node_visit", self.cmap.height())  # the walk down to the leaf
        self._c(op, "xa_node_alloc", len(self.cmap.nodes()) - before)

    def _xa_erase(self, op, cid):
        visits = self.cmap.height()  # the key is present: the walk reaches the leaf
        before = len(self.cmap.nodes())
        self.cmap.erase(cid)
        self._c(op, "xa_erase")
        self._c(op, "xa_node_visit", visits)
        self._c(op, "xa_node_free", before - len(self.cmap.nodes()))

    # ---- clusters

    def _lookup(self, op, cid, mode=LK_ITER):
        """A cluster lookup, through the per-CPU lookup cache when it is on (V6p22):
        a hit skips xa_load and makes the cluster the most recent (LK_UNLOCK, a
        swap_cache_unlock(): empties its way instead); a miss loads the map, and
        (LK_ITER, LK_NOINSERT) evicts the least recent cluster under its lock when
        every way is in use, and (LK_ITER) caches a found cluster."""
        if not self.lookup_cache:
            return self._xa_load(op, cid)
        cache = self.mru[self.cpu]
        if cid in cache:
            self._c(op, "lookup_cache_hit")
            cache.remove(cid)
            if mode == LK_UNLOCK:
                self._put_ref(op, self.clusters[cid], 1)
            else:
                cache.insert(0, cid)
            return self.clusters[cid]
        self._c(op, "lookup_cache_miss")
        cl = self._xa_load(op, cid)
        if mode in (LK_ITER, LK_NOINSERT):
            if len(cache) == self.ways:
                old = cache.pop()
                self._c(op, "cluster_lock")  # the evicted cluster's lock
                self._put_ref(op, self.clusters[old], 1)
            if mode == LK_ITER and cl is not None:
                cache.insert(0, cid)
                cl.ref += 1
        return cl

    def _lookup_lock(self, op, entry, mode=LK_ITER):
        cl = self._lookup(op, entry >> self.vshift, mode)
        if cl is not None:
            self._c(op, "cluster_lock")
        return cl

    def _lc_drop(self, op, entry):
        """The lookup cache lets go of the entry's cluster (v6 swap_cache_del_folio)."""
        if not self.lookup_cache:
            return
        cid = entry >> self.vshift
        cache = self.mru[self.cpu]
        if cid in cache:
            cache.remove(cid)
            self._put_ref(op, self.clusters[cid], 1)

    def _tryget(self, op, entry):
        """tryget_swap_entry(): a bare xa_load (no lock, no lookup cache)."""
        return self._xa_load(op, entry >> self.vshift)

    def _put_swap_entry(self, op, entry):
        """put_swap_entry(): a bare xa_load and the cluster lock."""
        if self._xa_load(op, entry >> self.vshift) is not None:
            self._c(op, "cluster_lock")

    def _settle(self, op):
        """End of an operation: the lookup cache lets go of an emptied cluster."""
        if not self.lookup_cache:
            return
        cache = self.mru[self.cpu]
        for cid in list(cache):
            if self.clusters[cid].count == 0:
                cache.remove(cid)
                self._put_ref(op, self.clusters[cid], 1)

    def on_partial(self, cl):
        return cl.id in self.partial[cl.order]

    def _partial_add(self, op, cl):
        self._c(op, "si_lock")
        self.partial[cl.order].append(cl.id)

    def _put_ref(self, op, cl, n):
        cl.ref -= n
        if cl.ref > 0:
            return
        if self.on_partial(cl):
            self._c(op, "si_lock")
            self.partial[cl.order].remove(cl.id)
        self._xa_erase(op, cl.id)
        del self.clusters[cl.id]
        self._c(op, "mem_free")  # the cluster (v5: with its descriptors)
        if self.layout_v6:
            self._c(op, "vfree")  # the descriptors

    def _new_cluster(self, op, order):
        if len(self.clusters) >= self.nrows:
            return None
        self._c(op, "mem_alloc")
        if self.layout_v6:
            self._c(op, "mem_zero_line", -(-112 // 64) + -(-24 * self.vsize // 64))
            self._c(op, "vmalloc")
        else:
            self._c(op, "mem_zero_line", -(-(40 + -(-self.vsize // 64) * 8 + 24 * self.vsize) // 64))
        cid = 0
        while cid in self.clusters:
            cid += 1
        self._c(op, "xa_node_visit", self.cmap.height())  # xa_alloc finds the free index
        cl = VCluster(cid, order, self.vsize)
        self._xa_store(op, cid, cl)
        self.clusters[cid] = cl
        if cid == 0:  # entry 0 is invalid: the first nr slots of the order are reserved
            nres = self.reserved_nr(order)
            cl.bits.update(range(nres))
            cl.count = nres
            cl.ref = nres
        return cl

    def _find_area(self, op, cl, nr):
        self._c(op, "bitmap_op")
        for start in range(0, self.vsize - nr + 1, nr):
            if not any(i in cl.bits for i in range(start, start + nr)):
                return start
        return None

    def _cpu_holds(self, cl):
        return any(self.alloc_cache[cpu][cl.order] is cl for cpu in range(self.ncpu))

    # ---- physical side

    def _phys_free(self, op, start, n):
        self._c(op, "cluster_lock")
        for s in range(start, start + n):
            self._c(op, "rmap_write")
            self.dev.slots[s] = None
            self._c(op, "map_write")
            if self.free_notify:  # SWP_FREE_NOTIFY: zram's hook, a block device only
                self._c(op, "slot_free_notify")
        self.dev.free_range(op, start, n)

    def _phys_run_free(self, op, cl, start, n):
        """swap_slot_free_nr() of a contiguous physical run: one physical lock per
        physical cluster it spans; v5 drops and retakes the vswap cluster lock around
        it and uncharges through lookup_swap_cgroup_id() (lookup + lock + read)."""
        s, end = start, start + n
        while s < end:
            cend = min((s // self.dev.csize + 1) * self.dev.csize, end)
            self._phys_free(op, s, cend - s)
            s = cend
        if not self.batch:
            self._lookup_lock(op, cl.id << self.vshift)  # lookup_swap_cgroup_id()
            self._c(op, "desc_read")
            self._c(op, "memcg_uncharge")
            self._c(op, "cluster_lock")  # the vswap cluster lock again

    @staticmethod
    def _phys_runs(descs):
        """Contiguous physical runs [(first slot, n)] of the SWAPFILE descriptors of
        ``descs`` (in order); a descriptor of another type ends a run."""
        runs = []
        open_run = False
        for d in descs:
            if d.type != SWAPFILE:
                open_run = False  # another backend ends the run
                continue
            if open_run and d.backend == runs[-1][0] + runs[-1][1]:
                runs[-1][1] += 1
            else:
                runs.append([d.backend, 1])
            open_run = True
        return runs

    def _release_old(self, op, cl, i0, nr):
        """release_backing() of live descriptors whose data moves: zswap entries freed,
        physical runs released (v6: one uncharge for the call), type FOLIO."""
        descs = cl.desc[i0:i0 + nr]
        runs = self._phys_runs(descs)
        for d in descs:
            if d.type == ZSWAP:
                self._c(op, "mem_free")
                self.zswap_entries -= 1
            if d.type != FOLIO:
                d.backend = 0
                d.type = FOLIO
        for p, k in runs:
            self._phys_run_free(op, cl, p, k)
        if self.batch and runs:
            self._c(op, "memcg_uncharge")

    def _release_backing(self, op, cl, idx, n):
        """vswap_free_nr() of descriptors [idx, idx+n): v5 clears the shadows in a loop of
        its own (n reads, n writes), v6 reads the run's memcg id once; release_backing
        (a read and a write each; zswap entries freed; physical runs; v6 one uncharge);
        the cgroup clear (a write each); bitmap_clear; refcount_sub."""
        if self.batch:
            self._c(op, "desc_read")
        else:
            self._c(op, "desc_read", n)
            self._c(op, "desc_write", n)
        descs = cl.desc[idx:idx + n]
        runs = self._phys_runs(descs)
        for d in descs:
            self._c(op, "desc_read")
            if d.type == ZSWAP:
                self._c(op, "mem_free")  # zswap_entry_free
                self.zswap_entries -= 1
            self._c(op, "desc_write")
        for d in descs:
            d.clear()
        for p, k in runs:
            self._phys_run_free(op, cl, p, k)
        if self.batch and runs:
            self._c(op, "memcg_uncharge")
        self._c(op, "desc_write", n)  # __vswap_swap_cgroup_clear
        for i in range(idx, idx + n):
            cl.bits.discard(i)
        self._c(op, "bitmap_op")
        was_full = cl.count == self.vsize
        cl.count -= n
        if was_full and not self.on_partial(cl) and cl.ref > n and not self._cpu_holds(cl):
            self._partial_add(op, cl)
        self._put_ref(op, cl, n)

    def _rmap_mark(self, op, d, cache_only):
        """The reverse map's C bit follows cache-only state of SWAPFILE entries."""
        if not self.rmap_bit or d.type != SWAPFILE:
            return
        self._c(op, "rmap_write")
        self.dev.slots[d.backend].cache_only = cache_only

    def _backing(self, cl, i0, nr):
        """vswap_check_backing(): (first type, all nr the same, SWAPFILE contiguous)."""
        d0 = cl.desc[i0]
        for k in range(1, nr):
            d = cl.desc[i0 + k]
            if d.type != d0.type or (d0.type == SWAPFILE and d.backend != d0.backend + k):
                return d0.type, False
        return d0.type, True

    def _alloc_swap_slot(self, op, entry, nr):
        """vswap_alloc_swap_slot(): the folio's first physical slot, or -ENOMEM."""
        i0 = entry & (self.vsize - 1)
        cl = self._lookup_lock(op, entry)
        t0, same = self._backing(cl, i0, nr)
        if self.batch:
            self._c(op, "desc_read")
            backed = t0 == SWAPFILE
        else:
            self._c(op, "desc_read", nr)
            backed = t0 == SWAPFILE and same
        if backed:
            return cl.desc[i0].backend
        p = self.dev.alloc(op, self.cpu, nr.bit_length() - 1)
        if not p:
            return ENOMEM
        if not self.batch:
            self._lookup_lock(op, entry)  # lookup_swap_cgroup_id() for the charge
            self._c(op, "desc_read")
        self._c(op, "memcg_charge")
        if not self.batch:
            self._c(op, "cluster_lock")  # swap_cluster_lock() around vswap_rmap_set()
        for i in range(nr):
            self._c(op, "rmap_write")
            self.dev.slots[p + i] = Rmap(entry + i)  # the plain value: no C bit
            self._c(op, "map_write")
        self.dev.deferred_work()
        if self.batch:
            self._c(op, "cluster_lock")  # the same cluster locked again
        else:
            self._lookup_lock(op, entry)  # vswap_iter() for the store
        for i in range(i0, i0 + nr):
            self._c(op, "desc_write")
            cl.desc[i].backend = p + (i - i0)
            cl.desc[i].type = SWAPFILE
        return p

    # ---- swap cache internals

    def _added(self, folio, start, nr):
        """The folio side of a swap-cache add (and it is no longer a bypass folio)."""
        self.folio_swap[folio] = start
        self.folio_order[folio] = nr.bit_length() - 1
        if self.folio_flags.get(folio, 0) & FOLIO_SYNC_BYPASS:
            self.folio_flags[folio] &= ~FOLIO_SYNC_BYPASS

    def _left_cache(self, folio):
        if folio is None:
            return
        self.folio_swap.pop(folio, None)
        if self.folio_flags.get(folio, 0) & FOLIO_SYNC_BYPASS:
            self.folio_flags[folio] &= ~FOLIO_SYNC_BYPASS

    def _folio_of(self, op, entry):
        cl = self._lookup_lock(op, entry)
        if cl is None:
            return None
        self._c(op, "desc_read")
        d = cl.desc[entry & (self.vsize - 1)]
        return d.folio if d.in_cache else None

    def _swapcache_clear_locked(self, op, cl, start, nr):
        """__swapcache_clear(): in_swapcache off (a write each), count-0 runs freed."""
        i0 = start & (self.vsize - 1)
        folio = cl.desc[i0].folio
        run = None
        for i in range(i0, i0 + nr):
            d = cl.desc[i]
            self._c(op, "desc_write")
            d.in_cache = False
            d.folio = None
            if d.count == 0:
                if run is None:
                    run = i
            elif run is not None:
                self._release_backing(op, cl, run, i - run)
                run = None
        if run is not None:
            self._release_backing(op, cl, run, i0 + nr - run)
        self._left_cache(folio)

    def _swapcache_clear(self, op, start, nr):
        cl = self._lookup_lock(op, start)
        self._swapcache_clear_locked(op, cl, start, nr)

    def _swap_cache_del_folio(self, op, start, nr):
        """v5: lock_irq, __swap_cache_del_folio (a lookup), unlock_irq (a lookup),
        swapcache_clear: 4 lookups, 2 locks; v6: lock_irq, the cache emptied of the
        cluster, swapcache_clear: 2 lookups, 2 locks."""
        self._lookup_lock(op, start)  # swap_cache_lock_irq
        if self.batch:
            self._c(op, "desc_write", nr)
            self._lc_drop(op, start)
        else:
            self._lookup(op, start >> self.vshift, LK_PEEK)  # __swap_cache_del_folio
            self._c(op, "desc_write", nr)
            self._lookup(op, start >> self.vshift, LK_UNLOCK)  # swap_cache_unlock_irq
        self._swapcache_clear(op, start, nr)

    def _remove_mapping(self, op, start, nr):
        """__remove_mapping(): v5 = swap_cache_del_folio; v6: lock_irq +
        __vswap_remove_mapping (a lookup, nr writes, __swapcache_clear)."""
        if not self.batch:
            self._swap_cache_del_folio(op, start, nr)
            return
        cl = self._lookup_lock(op, start)
        self._lookup(op, start >> self.vshift, LK_PEEK)
        self._c(op, "desc_write", nr)
        self._swapcache_clear_locked(op, cl, start, nr)

    def _folio_free_swap(self, op, start, nr):
        """folio_free_swap(): v5 folio_swapped() + swap_cache_del_folio(); v6 one lookup
        (no insert) + lock, the counts, __swapcache_clear."""
        cl = self._lookup_lock(op, start, LK_NOINSERT if self.batch else LK_ITER)
        for e in range(start, start + nr):
            self._c(op, "desc_read")
            if cl.desc[e & (self.vsize - 1)].count:
                return False
        if self.batch:
            self._swapcache_clear_locked(op, cl, start, nr)
        else:
            self._swap_cache_del_folio(op, start, nr)
        return True

    # ------------------------------------------------------------------ hooks

    def phys_slot_scan(self, op, off):
        self._c(op, "map_read")
        s = self.dev.slots[off]
        if s is None:
            return SLOT_FREE
        if s is BAD:
            return SLOT_BUSY
        self._c(op, "rmap_read")
        if self.rmap_bit:
            return SLOT_CACHE_ONLY if s.cache_only else SLOT_BUSY
        cl = self._lookup_lock(op, s.entry)
        self._c(op, "desc_read")
        d = cl.desc[s.entry & (self.vsize - 1)]
        return SLOT_CACHE_ONLY if d.count == 0 and d.in_cache else SLOT_BUSY

    def phys_slot_reclaim(self, op, off):
        self._c(op, "rmap_read")
        return self._try_reclaim(op, self.dev.slots[off].entry, TTRS_ANYWAY)

    # ------------------------------------------------------------------ verbs

    def alloc(self, cpu, order, folio, memcg):
        op = "alloc"
        self.cpu = cpu
        nr = 1 << order
        if nr > self.vsize:
            return ENOMEM
        cl = self.alloc_cache[cpu][order]
        idx = None
        if cl is not None:
            self._c(op, "cluster_lock")
            idx = self._find_area(op, cl, nr)
            if idx is None:  # used up for this order: the CPU lets it go
                self.alloc_cache[cpu][order] = None
                if cl.count < self.vsize and cl.ref > 1:
                    self._partial_add(op, cl)
                self._put_ref(op, cl, 1)
                cl = None
        if cl is None:
            self._c(op, "si_lock")  # partial_clusters_lists[order] under xa_lock
            for cid in list(self.partial[order]):
                cand = self.clusters[cid]
                self._c(op, "cluster_lock")
                idx = self._find_area(op, cand, nr)
                if idx is not None:
                    self.partial[order].remove(cid)
                    cl = cand
                    break
            if cl is None:
                cl = self._new_cluster(op, order)
                if cl is None:
                    return ENOMEM
                self._c(op, "cluster_lock")
                idx = self._find_area(op, cl, nr)
                if idx is None:  # cluster 0 (all reserved) cannot serve a whole-cluster order
                    cl = self._new_cluster(op, order)
                    if cl is None:
                        return ENOMEM
                    self._c(op, "cluster_lock")
                    idx = self._find_area(op, cl, nr)
            self.alloc_cache[cpu][order] = cl
            cl.ref += 1
        self._c(op, "bitmap_op")
        cl.bits.update(range(idx, idx + nr))
        cl.count += nr
        cl.ref += nr
        for i in range(idx, idx + nr):
            self._c(op, "desc_write")
            d = cl.desc[i]
            d.clear()
            d.folio = folio
            d.memcg = memcg
            d.type = FOLIO
            d.in_cache = True
        entry = (cl.id << self.vshift) + idx
        if not self.batch:  # v5: vswap_cgroup_record(), swap_cache_add_folio()
            self._lookup_lock(op, entry)
            self._c(op, "desc_write", nr)
            self._lookup_lock(op, entry)
            self._c(op, "desc_write", nr)
        self._added(folio, entry, nr)
        return entry

    def _verb(self, op, body, *args):
        """A verb call: the body, then the end of the operation for the lookup cache (on
        every return path)."""
        ret = body(op, *args)
        self._settle(op)
        return ret

    def dup(self, op, entry, nr):
        return self._verb(op, self._dup, entry, nr)

    def _dup(self, op, entry, nr):
        for e in range(entry, entry + nr):
            cl = self._lookup_lock(op, e)
            if cl is None:
                return ENOENT
            d = cl.desc[e & (self.vsize - 1)]
            self._c(op, "desc_read")
            if d.count == 0 and not d.in_cache:
                return ENOENT
            if d.count == 0:
                self._rmap_mark(op, d, False)
            self._c(op, "desc_write")
            d.count += 1
        return 0

    def pte_batch(self, op, entry, nr):
        return self._verb(op, self._pte_batch, entry, nr)

    def _pte_batch(self, op, entry, nr):
        if self.defer_cg:
            return nr
        first = None
        for k in range(nr):
            e = entry + k
            cl = self._lookup_lock(op, e)
            self._c(op, "desc_read")
            m = cl.desc[e & (self.vsize - 1)].memcg
            if k == 0:
                first = m
            elif m != first:
                return k
        return nr

    def put(self, op, entry, nr, reclaim_cache):
        return self._verb(op, self._put, entry, nr, reclaim_cache)

    def _put(self, op, entry, nr, reclaim_cache):
        """vswap_free_nr_any_cache_only(): one lookup + lock per cluster; runs of freed
        entries (v6 also cut at memcg changes); a fault's put also pays
        put_swap_entry(); then, with reclaim_cache, the second pass."""
        mask = self.vsize - 1
        if op == "swapin" and not reclaim_cache:
            self._put_swap_entry(op, entry)
        freed = 0
        any_cache_only = False
        off, end = entry, entry + nr
        while off < end:
            cend = min(((off >> self.vshift) + 1) << self.vshift, end)
            cl = self._lookup_lock(op, off)
            run = None
            run_memcg = None
            for e in range(off, cend):
                i = e & mask
                d = cl.desc[i]
                self._c(op, "desc_read")
                d.count -= 1
                self._c(op, "desc_write")
                if d.count == 0 and not d.in_cache:
                    if run is not None and self.batch and d.memcg != run_memcg:
                        self._release_backing(op, cl, run, i - run)
                        run = None
                    if run is None:
                        run, run_memcg = i, d.memcg
                    freed += 1
                else:
                    if run is not None:
                        self._release_backing(op, cl, run, i - run)
                        run = None
                    if d.count == 0:
                        self._rmap_mark(op, d, True)
                        any_cache_only = True
            if run is not None:
                self._release_backing(op, cl, run, ((cend - 1) & mask) + 1 - run)
            off = cend
        if any_cache_only and reclaim_cache:
            self._free_cache_only(op, entry, end)
        return freed

    def _free_cache_only(self, op, entry, end):
        """free_swap_and_cache_nr()'s second pass: per entry one lookup + lock + read
        (v5 vswap_only_has_cache, v6 vswap_get_swap_cache(entry, true)); a cache-only
        entry's folio (v5: swap_cache_get_folio once more) goes through
        folio_free_swap(), mapped or not; the walk steps over the folio."""
        e = entry
        while e < end:
            step = 1
            cl = self._lookup_lock(op, e)
            folio = None
            if cl is not None:
                d = cl.desc[e & (self.vsize - 1)]
                self._c(op, "desc_read")
                if d.in_cache and d.count == 0:
                    folio = d.folio
                    if not self.batch:
                        folio = self._folio_of(op, e)
            if folio is not None:
                start = self.folio_swap[folio]
                fnr = 1 << self.folio_order[folio]
                step = (e + fnr) // fnr * fnr - e
                if self._folio_free_swap(op, start, fnr):
                    self.cache_drops += 1
            e += step

    def try_reclaim(self, op, entry, flags):
        """The verb: __try_to_reclaim_swap() as an operation of its own."""
        return self._verb(op, self._try_reclaim, entry, flags)

    def _try_reclaim(self, op, entry, flags):
        """__try_to_reclaim_swap(): +nr reclaimed, -nr kept, 0 no folio."""
        folio = self._folio_of(op, entry)
        if folio is None:
            return 0
        start = self.folio_swap[folio]
        nr = 1 << self.folio_order[folio]
        need = bool(flags & TTRS_ANYWAY)
        if not need and flags & TTRS_UNMAPPED and not self.folio_flags.get(folio, 0) & FOLIO_MAPPED:
            need = True
        if not need and flags & TTRS_FULL and self.dev.vm_swap_full():
            need = True
        if not need:
            return -nr
        cl = self._lookup_lock(op, start)  # swp_entry_to_swp_slot(folio->swap)
        i0 = start & (self.vsize - 1)
        self._c(op, "desc_read")
        if cl.desc[i0].type == SWAPFILE:
            self._c(op, "cluster_lock")  # the physical cluster
        for k in range(nr):
            d = cl.desc[i0 + k]
            if d.type == SWAPFILE:
                self._c(op, "rmap_read")
                if self.rmap_bit:
                    if not self.dev.slots[d.backend].cache_only:
                        return -nr
                    continue
            self._lookup_lock(op, start + k)  # vswap_only_has_cache(entry, 1)
            self._c(op, "desc_read")
            if d.count:
                return -nr
        self._swap_cache_del_folio(op, start, nr)
        self.cache_drops += 1
        return nr

    def cache_lookup(self, op, entry):
        return self._verb(op, self._cache_lookup, entry)

    def _cache_lookup(self, op, entry):
        """swap_cache_get_folio(); a fault (swapin) first does tryget_swap_entry():
        xa_load (no lock), then swp_entry_to_swp_slot (lookup + lock + read)."""
        if op == "swapin":
            if self._tryget(op, entry) is None:
                return -1
            if self._lookup_lock(op, entry) is not None:
                self._c(op, "desc_read")
        folio = self._folio_of(op, entry)
        return -1 if folio is None else folio

    def cache_add(self, op, entry, nr, folio):
        return self._verb(op, self._cache_add, entry, nr, folio)

    def _sync_candidate(self, entry):
        if not self.synchronous or self.swap_count(entry) != 1:
            return False
        d = self.desc_of(entry)
        return d.type == SWAPFILE and not d.in_cache

    def _cache_add(self, op, entry, nr, folio):
        mask = self.vsize - 1
        if op == "swapin" and nr == 1 and self._sync_candidate(entry):
            # 6.19's synchronous path: charge lookup, swapcache_prepare,
            # vswap_can_swapin_thp, swap_cache_get_shadow; no swap-cache insert
            cl = self._lookup_lock(op, entry)
            self._c(op, "desc_read")
            self._c(op, "memcg_charge")
            self._lookup_lock(op, entry)
            self._c(op, "desc_read")
            self._c(op, "desc_write")
            self._lookup_lock(op, entry)
            self._c(op, "desc_read")
            self._lookup_lock(op, entry)
            self._c(op, "desc_read")
            d = cl.desc[entry & mask]
            d.in_cache = True
            d.folio = folio
            self._added(folio, entry, 1)
            self.folio_flags[folio] = self.folio_flags.get(folio, 0) | FOLIO_SYNC_BYPASS
            return 0
        start = entry // nr * nr
        i = entry & mask
        cl = self._lookup_lock(op, entry)  # swap_cache_get_folio
        if cl is not None:
            self._c(op, "desc_read")
            if i in cl.bits and cl.desc[i].in_cache:
                return EEXIST
        if self._lookup_lock(op, entry) is not None:  # swap_entry_swapped
            self._c(op, "desc_read")
        if cl is None or i not in cl.bits or cl.desc[i].count == 0:
            return ENOENT
        d0 = cl.desc[i]
        self._lookup_lock(op, entry)  # swapcache_prepare
        if nr > 1 and d0.type == ZSWAP:
            return EBUSY
        for e in range(start, start + nr):
            d = cl.desc[e & mask]
            self._c(op, "desc_read")
            if nr > 1 and ((e & mask) not in cl.bits or d.in_cache or d.count == 0
                           or d.type != d0.type or d.memcg != d0.memcg):
                return EBUSY
        self._c(op, "desc_write", nr)
        self._lookup_lock(op, entry)  # vswap_folio_backed
        self._c(op, "desc_read", nr)
        self._lookup_lock(op, entry)  # lookup_swap_cgroup_id for the charge
        self._c(op, "desc_read")
        self._c(op, "memcg_charge")
        self._lookup_lock(op, entry)  # swap_cache_add_folio
        for e in range(start, start + nr):
            self._c(op, "desc_write")
            d = cl.desc[e & mask]
            d.in_cache = True
            d.folio = folio
        self._added(folio, start, nr)
        return 0

    def cache_del(self, op, entry, nr):
        return self._verb(op, self._cache_del_verb, entry, nr)

    def _cache_del_verb(self, op, entry, nr):
        self._remove_mapping(op, entry, nr)
        return 0

    def cache_free(self, op, entry, nr):
        return self._verb(op, self._cache_free, entry, nr)

    def _cache_free(self, op, entry, nr):
        d = self.desc_of(entry)
        if (nr == 1 and d is not None and d.in_cache and d.folio is not None
                and self.folio_flags.get(d.folio, 0) & FOLIO_SYNC_BYPASS):
            self._swapcache_clear(op, entry, 1)
            return 1
        return int(self._folio_free_swap(op, entry, nr))

    def free_after_fault(self, op, entry, folio, sync_dev, full, write):
        return self._verb(op, self._free_after_fault, entry, folio, sync_dev, full, write)

    def _free_after_fault(self, op, entry, folio, sync_dev, full, write):
        """The synchronous path frees what it pinned; else should_try_to_free_swap():
        swap full; vswap_swapfile_backed() (lookup + lock + nr reads): not backed by
        contiguous physical slots frees; else a write fault."""
        if self.folio_flags.get(folio, 0) & FOLIO_SYNC_BYPASS:
            return True
        if full:
            return True
        start = self.folio_swap.get(folio, 0)
        if not start:
            return False
        nr = 1 << self.folio_order[folio]
        cl = self._lookup_lock(op, start)
        if cl is None:
            return False
        self._c(op, "desc_read", nr)
        t0, same = self._backing(cl, start & (self.vsize - 1), nr)
        if not (same and t0 == SWAPFILE):
            return True
        return bool(write)

    def writeout(self, op, entry, nr, backend):
        return self._verb(op, self._writeout, entry, nr, backend)

    def _store_folio(self, op, entry, cl, i0, nr):
        self._lookup_lock(op, entry)  # vswap_store_folio
        self._release_old(op, cl, i0, nr)
        self._c(op, "desc_write", nr)

    def _writeout(self, op, entry, nr, backend):
        if self._folio_free_swap(op, entry, nr):
            return BACKEND_NONE
        i0 = entry & (self.vsize - 1)
        cl = self._lookup_lock(op, entry)
        if backend == BACKEND_ZERO:  # swap_zeromap_folio_set
            self._release_old(op, cl, i0, nr)
            for i in range(i0, i0 + nr):
                self._c(op, "desc_write")
                cl.desc[i].type = ZERO
            return backend
        # v6 vswap_prepare_writeout / v5 vswap_swapfile_backed (+ vswap_store_folio)
        self._c(op, "desc_read", nr)
        t0, same = self._backing(cl, i0, nr)
        if self.batch:
            if not (same and t0 in (SWAPFILE, FOLIO)):
                self._release_old(op, cl, i0, nr)
                self._c(op, "desc_write", nr)
        elif not (same and t0 == SWAPFILE):
            self._store_folio(op, entry, cl, i0, nr)
        if backend == BACKEND_ZSWAP:
            self.zswap_enabled = True
            for i in range(i0, i0 + nr):
                self._c(op, "mem_alloc")
                self._lookup_lock(op, entry)  # zswap_entry_store()
                self._release_old(op, cl, i, 1)
                self._c(op, "desc_write")
                self.zswap_entries += 1
                self.zswap_stored += 1
                cl.desc[i].backend = self.zswap_stored  # the new entry's identity
                cl.desc[i].type = ZSWAP
            return backend
        if not self.batch:  # zswap_store()'s check_old
            self._lookup_lock(op, entry)
            self._c(op, "desc_read", nr)
            t0, same = self._backing(cl, i0, nr)
            if not (same and t0 == SWAPFILE):
                self._store_folio(op, entry, cl, i0, nr)
        p = self._alloc_swap_slot(op, entry, nr)
        if p < 0:
            return ENOMEM
        if not self.batch:  # __swap_writepage: swp_entry_to_swp_slot, swap_folio_sector
            for _ in range(2):
                self._lookup_lock(op, entry)
                self._c(op, "desc_read")
        return backend

    def read_backend(self, op, entry):
        return self._verb(op, self._read_backend, entry)

    def _read_backend(self, op, entry):
        """swap_read_folio(): zero check; zswap_entry_load when zswap was ever enabled
        (a hit: vswap_store_folio); else swp_entry_to_swp_slot, and v5's I/O helper
        looks the slot up once more."""
        cl = self._lookup_lock(op, entry)
        d = cl.desc[entry & (self.vsize - 1)]
        self._c(op, "desc_read")
        if d.type == ZERO:
            return BACKEND_ZERO
        if d.type == ZSWAP or self.zswap_enabled:
            self._lookup_lock(op, entry)  # zswap_entry_load()
            self._c(op, "desc_read")
        if d.type == ZSWAP:
            self._lookup_lock(op, entry)  # vswap_store_folio()
            self._c(op, "desc_write")
            self._c(op, "mem_free")
            self.zswap_entries -= 1
            d.backend = 0
            d.type = FOLIO
            return BACKEND_ZSWAP
        self._lookup_lock(op, entry)  # swp_entry_to_swp_slot()
        self._c(op, "desc_read")
        if d.type == SWAPFILE:
            if not self.batch:
                self._lookup_lock(op, entry)  # the I/O helper's slot lookup
                self._c(op, "desc_read")
            return BACKEND_DISK
        return BACKEND_FOLIO

    def ra_probe(self, op, entry):
        """do_swap_page()'s choice after a cache miss: the synchronous path only for a
        physically backed entry on a synchronous device whose __swap_count() (lookup +
        lock + read) is 1; -ENOENT for an entry not allocated."""
        return self._verb(op, self._ra_probe, entry)

    def _ra_probe(self, op, entry):
        if self.swap_count(entry) < 0:
            return ENOENT
        d = self.desc_of(entry)
        if d.type == SWAPFILE and self.synchronous:
            self._lookup_lock(op, entry)  # __swap_count()
            self._c(op, "desc_read")
            if d.count == 1:
                return RA_SYNC
        return RA_READAHEAD

    def zswap_writeback(self, op, entry, folio):
        return self._verb(op, self._zswap_writeback, entry, folio)

    def _zswap_writeback(self, op, entry, folio):
        if self._tryget(op, entry) is None:
            return ENOENT
        if self._lookup_lock(op, entry) is not None:  # swp_entry_to_swp_slot
            self._c(op, "desc_read")
        err = self._cache_add(op, entry, 1, folio)
        self._put_swap_entry(op, entry)
        if err:
            return err
        cl = self._lookup_lock(op, entry)  # zswap_entry_load() verify
        d = cl.desc[entry & (self.vsize - 1)]
        self._c(op, "desc_read")
        if d.type != ZSWAP:
            self._swap_cache_del_folio(op, entry, 1)
            return ENOMEM
        p = self._alloc_swap_slot(op, entry, 1)
        if p < 0:
            self._swap_cache_del_folio(op, entry, 1)
            return ENOMEM
        self._c(op, "mem_free")  # zswap_entry_free()
        self.zswap_entries -= 1
        if not self.batch:  # __swap_writepage()
            for _ in range(2):
                self._lookup_lock(op, entry)
                self._c(op, "desc_read")
        self._remove_mapping("cache_del", entry, 1)
        return 0

    def reclaim_full(self, force):
        """The verb: swap_reclaim_full_clusters(); its operation row is reclaim_scan."""
        return self._verb("reclaim_scan", lambda op: self.dev.reclaim_full(force))

    # ---- swapoff

    def swapoff_begin(self):
        self.dev.swapoff_begin()

    def unuse_entry(self, op, off):
        """swapoff's look at physical slot ``off``: the allocated bit, then the reverse
        map names the virtual entry (0 for a free or bad slot).  Not a verb of its own
        for the lookup cache."""
        self._c(op, "map_read")
        s = self.dev.slots[off]
        if s is None or s is BAD:
            return 0
        self._c(op, "rmap_read")
        return s.entry

    def unuse(self, op, entry, folio):
        return self._verb(op, self._unuse, entry, folio)

    def _unuse(self, op, entry, folio):
        """The entry's data is in ``folio`` (in the swap cache): a SWAPFILE entry
        becomes a FOLIO one and its physical slot is freed (and uncharged)."""
        cl = self._lookup_lock(op, entry)
        if cl is None:
            return ENOENT
        d = cl.desc[entry & (self.vsize - 1)]
        self._c(op, "desc_read")
        if not d.in_cache or d.folio != folio:
            return EBUSY
        if d.type == SWAPFILE:
            self._phys_free(op, d.backend, 1)
            self._c(op, "memcg_uncharge")
            self._c(op, "desc_write")
            d.backend = 0
            d.type = FOLIO
        return 0

    def swapoff_end(self):
        return self.dev.swapoff_end()

    def swap_count(self, entry):
        """-1 when not allocated (reserved entries included), else the count."""
        if not self.allocated(entry):
            return -1
        return self.desc_of(entry).count

    def live_rows(self):
        return len(self.clusters)

    def metadata_bytes(self):
        dev = self.dev
        rows = self.live_rows()
        desc = rows * self.vsize * 24
        if self.layout_v6:
            cluster = rows * 112
        else:
            cluster = rows * v5_cluster_object_bytes(self.vsize) - desc
        on = not dev.off  # swapoff freed the static arrays
        return {
            "phys_bitmaps": 2 * (-(-dev.max // 64)) * 8 * on,
            "cluster_info": dev.ncl * 32 * on,
            "rmap_table": dev.tables * dev.csize * 8,
            "vswap_cluster": cluster,
            "vswap_desc": desc,
            "cluster_map_nodes": len(self.cmap.nodes()) * 576,
            "zswap_entry": self.zswap_entries * 56,
        }
