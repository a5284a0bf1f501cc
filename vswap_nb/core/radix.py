"""XArray emulation: the radix tree of lib/xarray.c, node for node, in NumPy arrays.

What is modelled (facts from lib/xarray.c and include/linux/xarray.h, see
``reference/xarray.md``):

* 64-way nodes (``XA_CHUNK_SHIFT`` 6; 16-way with ``chunk_shift=4`` as under
  CONFIG_BASE_SMALL).  A node is one row of ``int64`` words laid out like
  ``struct xa_node``: header words (shift, parent, array, offset, count) in the first
  40 bytes, ``slots[]`` from byte 40, the three mark words at the end, so a row is
  576 bytes (192 bytes for chunk_shift 4) and a walk touches the same cache lines the
  kernel's walk touches.
* Entry words use the kernel's tagging: ``0`` is NULL, a value ``v`` is stored as
  ``(v << 1) | 1`` (``xa_mk_value``), a node ``n`` as ``(n << 2) | 2`` (an internal
  entry).
* The head: an empty tree has head 0; a lone entry at index 0 lives in the head with no
  node; otherwise the head is the root node.
* Store (``xas_store`` -> ``xas_create`` -> ``xas_expand``): for an empty head the root
  shift is the smallest that covers the index and nodes are allocated from the root
  down; for a non-empty head new roots are pushed on top (old head in slot 0) until the
  index fits, then missing nodes are allocated on the way down.
* Erase: the slot is cleared, emptied nodes are freed bottom-up
  (``xas_delete_node``), and when the root is left with a single entry in slot 0 the
  tree shrinks (``xas_shrink``), so erasing every entry frees every node.
* Load (``xas_load``): a head that is not a node answers index 0 only and visits no
  node; an index above the root's range visits no node; otherwise one visit per level
  walked, stopping at a NULL slot or at the leaf.  Visits of loads are counted in
  ``aux[M_LOAD_VISITS]``.

Node memory is a pool: a bump pointer over never-used rows plus a stack of freed rows
that are reused first.  The pool lives in one preallocated array (``np.zeros`` pages are
only committed when touched); a store that could run out of rows returns ``-ENOMEM``
before changing anything, and :class:`XArray` grows the pool and retries.  Several trees
can share one pool (one head word per tree): the classic design keeps one zswap
tree per 64 MiB of swap in a single pool.

Not modelled: marks (no design here searches by mark yet), multi-index entries,
``xa_lock`` and RCU (a store's cost is in the caller's counters), and the RCU delay on
node frees (a freed node is reusable at once).
"""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np
from llvmlite import ir as _ir
from numba import types as _types
from numba.core import cgutils as _cgutils
from numba.extending import intrinsic as _intrinsic

from .counters import (
    XA_ERASE,
    XA_LOOKUP,
    XA_NODE_ALLOC,
    XA_NODE_FREE,
    XA_NODE_VISIT,
    XA_STORE,
)
from .jit import njit

__all__ = ["ENOMEM", "XAPool", "XArray", "node_bytes", "xa_grow", "xa_new"]

ENOMEM = -12

# header words of a node row (the slots start at byte 40 as in struct xa_node)
W_SHIFT = 0
W_PARENT = 1
W_ARRAY = 2
W_OFFSET = 3
W_COUNT = 4
W_SLOTS = 5

# meta words of a pool
M_CHUNK_SHIFT = 0
M_NR_NODES = 1
M_BUMP = 2
M_FREE_TOP = 3
M_LOADS = 4
M_LOAD_VISITS = 5
M_PEAK_NODES = 6
M_NODE_ALLOCS = 7
M_NODE_FREES = 8
M_ENTRIES = 9
M_WALK_VISITS = 10  # nodes visited by store and erase walks
M_NTREES = 11
N_META = 12

MAX_VALUE = (1 << 62) - 1

XAPool = namedtuple("XAPool", ["nodes", "aux"])
XAPool.__doc__ = """A pool of XArray nodes shared by ``ntrees`` trees.

nodes  int64[capacity, node_words]   node rows (see module docstring for the layout)
aux    int64[N_META + ntrees + capacity]
       ``aux[:N_META]`` meta words (chunk shift, node counts, walk statistics),
       ``aux[N_META + t]`` the xa_head word of tree t, then the stack of freed node ids.
Two arrays rather than four: every array in a state namedtuple costs unpacking and
reference counting at each kernel call boundary.
"""


def node_words(chunk_shift: int) -> int:
    """Words per node row: 5 header words, the slots, 3 mark words."""
    return W_SLOTS + (1 << chunk_shift) + 3


def node_bytes(chunk_shift: int = 6) -> int:
    """sizeof(struct xa_node): 576 bytes for chunk_shift 6, 192 for chunk_shift 4."""
    return 8 * node_words(chunk_shift)


def xa_new(ntrees: int = 1, capacity: int = 64, chunk_shift: int = 6) -> XAPool:
    """An empty pool for ``ntrees`` trees with room for ``capacity`` nodes."""
    if chunk_shift not in (4, 6):
        raise ValueError(f"chunk_shift must be 4 or 6 (XA_CHUNK_SHIFT), got {chunk_shift!r}")
    capacity = max(int(capacity), 1)
    ntrees = max(int(ntrees), 1)
    aux = np.zeros(N_META + ntrees + capacity, dtype=np.int64)
    aux[M_CHUNK_SHIFT] = chunk_shift
    aux[M_NTREES] = ntrees
    return XAPool(
        nodes=np.zeros((capacity, node_words(chunk_shift)), dtype=np.int64),
        aux=aux,
    )


def xa_meta(xa: XAPool) -> np.ndarray:
    """The meta words of a pool (a view)."""
    return xa.aux[:N_META]


def xa_heads(xa: XAPool) -> np.ndarray:
    """The head word of each tree (a view)."""
    return xa.aux[N_META : N_META + int(xa.aux[M_NTREES])]


def xa_grow(xa: XAPool, capacity: int) -> XAPool:
    """A copy of ``xa`` with room for ``capacity`` nodes (never shrinks)."""
    old = xa.nodes.shape[0]
    if capacity <= old:
        return xa
    nodes = np.zeros((capacity, xa.nodes.shape[1]), dtype=np.int64)
    nodes[:old] = xa.nodes
    aux = np.zeros(xa.aux.shape[0] - old + capacity, dtype=np.int64)
    aux[: xa.aux.shape[0]] = xa.aux
    return XAPool(nodes=nodes, aux=aux)


def xa_capacity_bound(lo: int, hi: int, chunk_shift: int = 6) -> int:
    """An upper bound on the nodes a tree needs to hold every index in ``[lo, hi)`` at
    once (used to size design pools up front): at each level one node per
    ``64**level`` indices spanned, plus one for misalignment."""
    lo, hi = int(lo), max(int(hi), int(lo) + 1)
    levels = max(1, -(-(hi - 1).bit_length() // chunk_shift))
    bound = 0
    for level in range(1, levels + 1):
        width = 1 << (chunk_shift * level)
        bound += (hi - 1) // width - lo // width + 1
    return bound


# --------------------------------------------------------------------------- kernels


@njit(inline="always")
def _is_node(e):
    return (e & 3) == 2


@njit(inline="always")
def _node_id(e):
    return e >> 2


@njit(inline="always")
def _mk_node(n):
    return (n << 2) | 2


@njit(inline="always")
def _mk_value(v):
    return (v << 1) | 1


@njit(inline="always")
def _value_of(e):
    return e >> 1


@njit(inline="always")
def xa_free_nodes_available(xa):
    return xa.nodes.shape[0] - xa.aux[M_BUMP] + xa.aux[M_FREE_TOP]


@njit(inline="always")
def _alloc_node(xa, tree, shift, parent, offset):
    meta = xa.aux
    if meta[M_FREE_TOP] > 0:
        meta[M_FREE_TOP] -= 1
        n = meta[N_META + meta[M_NTREES] + meta[M_FREE_TOP]]
    else:
        n = meta[M_BUMP]
        meta[M_BUMP] += 1
    row = xa.nodes[n]
    row[W_SHIFT] = shift
    row[W_PARENT] = parent
    row[W_ARRAY] = tree
    row[W_OFFSET] = offset
    row[W_COUNT] = 0
    meta[M_NR_NODES] += 1
    meta[M_NODE_ALLOCS] += 1
    meta[M_PEAK_NODES] = max(meta[M_PEAK_NODES], meta[M_NR_NODES])
    return n


@njit(inline="always")
def _free_node(xa, n):
    # radix_tree_node_rcu_free zeroes the node before it goes back to the slab
    xa.nodes[n, :] = 0
    meta = xa.aux
    meta[N_META + meta[M_NTREES] + meta[M_FREE_TOP]] = n
    meta[M_FREE_TOP] += 1
    meta[M_NR_NODES] -= 1
    meta[M_NODE_FREES] += 1


@njit(inline="always")
def _levels_for(index, cs):
    """Node levels needed to hold ``index`` (0 for index 0)."""
    levels = 0
    while index > 0:
        index >>= cs
        levels += 1
    return levels


@njit(inline="always")
def _max_index(xa, head, cs):
    if _is_node(head):
        return ((1 << cs) << xa.nodes[_node_id(head), W_SHIFT]) - 1
    return 0


@njit
def xa_walk(xa, tree, index):
    """Return ``(entry word, nodes visited)`` for ``index`` as ``xas_load`` walks."""
    head = xa.aux[N_META + tree]
    if not _is_node(head):
        if index == 0:
            return head, 0
        return 0, 0
    cs = xa.aux[M_CHUNK_SHIFT]
    mask = (1 << cs) - 1
    node = _node_id(head)
    sh = xa.nodes[node, W_SHIFT]
    if (index >> sh) > mask:
        return 0, 0
    visits = 0
    while True:
        visits += 1
        e = xa.nodes[node, W_SLOTS + ((index >> sh) & mask)]
        if sh == 0 or not _is_node(e):
            return e, visits
        node = _node_id(e)
        sh -= cs  # a child's shift is its parent's less one chunk: no header read


@njit
def xa_load(xa, tree, index):
    """xa_load(): the value at ``index`` or -1, counting the walk in the pool's meta."""
    e, visits = xa_walk(xa, tree, index)
    xa.aux[M_LOADS] += 1
    xa.aux[M_LOAD_VISITS] += visits
    if e == 0:
        return -1
    return _value_of(e)


@njit
def xa_load_counted(xa, tree, index, ctr, op):
    """xa_load() that also adds one xa_lookup and its node visits to ``ctr[op]``."""
    e, visits = xa_walk(xa, tree, index)
    xa.aux[M_LOADS] += 1
    xa.aux[M_LOAD_VISITS] += visits
    ctr[op, XA_LOOKUP] += 1
    ctr[op, XA_NODE_VISIT] += visits
    if e == 0:
        return -1
    return _value_of(e)


@njit(inline="always")
def xa_empty(xa, tree):
    return xa.aux[N_META + tree] == 0


@njit
def xa_store(xa, tree, index, value):
    """xa_store(): put ``value`` (>= 0) at ``index``.  Returns 0, or ENOMEM (nothing
    changed) when the pool could run out of nodes."""
    cs = xa.aux[M_CHUNK_SHIFT]
    mask = (1 << cs) - 1
    head = xa.aux[N_META + tree]
    need = _levels_for(index, cs)
    if _is_node(head):
        h = xa.nodes[_node_id(head), W_SHIFT] // cs + 1
        need = max(need, h)
    if xa_free_nodes_available(xa) < 2 * need + 1:
        return ENOMEM
    new_entry = _mk_value(value)

    # xas_expand
    if head == 0:
        if index == 0:
            xa.aux[N_META + tree] = new_entry
            xa.aux[M_ENTRIES] += 1
            return 0
        shift = 0
        while (index >> shift) > mask:
            shift += cs
        shift += cs
    else:
        if _is_node(head):
            shift = xa.nodes[_node_id(head), W_SHIFT] + cs
        else:
            shift = 0
        while index > _max_index(xa, head, cs):
            n = _alloc_node(xa, tree, shift, -1, 0)
            xa.nodes[n, W_COUNT] = 1
            xa.nodes[n, W_SLOTS] = head
            if _is_node(head):
                child = _node_id(head)
                xa.nodes[child, W_PARENT] = n
                xa.nodes[child, W_OFFSET] = 0
            head = _mk_node(n)
            xa.aux[N_META + tree] = head
            shift += cs

    if shift == 0:
        # the entry lives in the head (index 0 of a tree without nodes)
        if xa.aux[N_META + tree] == 0:
            xa.aux[M_ENTRIES] += 1
        xa.aux[N_META + tree] = new_entry
        return 0

    # xas_create: walk down from the head, allocating missing nodes
    entry = xa.aux[N_META + tree]
    parent = -1
    off = 0
    node = -1
    while shift > 0:
        shift -= cs
        if entry == 0:
            node = _alloc_node(xa, tree, shift, parent, off)
            if parent < 0:
                xa.aux[N_META + tree] = _mk_node(node)
            else:
                xa.nodes[parent, W_SLOTS + off] = _mk_node(node)
                xa.nodes[parent, W_COUNT] += 1
        else:
            node = _node_id(entry)
        xa.aux[M_WALK_VISITS] += 1
        off = (index >> xa.nodes[node, W_SHIFT]) & mask
        entry = xa.nodes[node, W_SLOTS + off]
        parent = node
    if entry == 0:
        xa.nodes[node, W_COUNT] += 1
        xa.aux[M_ENTRIES] += 1
    xa.nodes[node, W_SLOTS + off] = new_entry
    return 0


@njit(inline="always")
def _shrink(xa, tree, node):
    while True:
        if xa.nodes[node, W_COUNT] != 1:
            return
        e = xa.nodes[node, W_SLOTS]
        if e == 0:
            return
        if not _is_node(e) and xa.nodes[node, W_SHIFT] != 0:
            return
        xa.aux[N_META + tree] = e
        _free_node(xa, node)
        if not _is_node(e):
            return
        node = _node_id(e)
        xa.nodes[node, W_PARENT] = -1
        xa.nodes[node, W_OFFSET] = 0


@njit(inline="always")
def _delete_node(xa, tree, node):
    while True:
        if xa.nodes[node, W_COUNT] != 0:
            if _mk_node(node) == xa.aux[N_META + tree]:
                _shrink(xa, tree, node)
            return
        parent = xa.nodes[node, W_PARENT]
        off = xa.nodes[node, W_OFFSET]
        _free_node(xa, node)
        if parent < 0:
            xa.aux[N_META + tree] = 0
            return
        xa.nodes[parent, W_SLOTS + off] = 0
        xa.nodes[parent, W_COUNT] -= 1
        node = parent


@njit
def xa_erase(xa, tree, index):
    """xa_erase(): remove the entry at ``index``; returns its value or -1 if absent."""
    head = xa.aux[N_META + tree]
    if not _is_node(head):
        if index == 0 and head != 0:
            xa.aux[N_META + tree] = 0
            xa.aux[M_ENTRIES] -= 1
            return _value_of(head)
        return -1
    cs = xa.aux[M_CHUNK_SHIFT]
    mask = (1 << cs) - 1
    node = _node_id(head)
    if (index >> xa.nodes[node, W_SHIFT]) > mask:
        return -1
    while True:
        xa.aux[M_WALK_VISITS] += 1
        sh = xa.nodes[node, W_SHIFT]
        off = (index >> sh) & mask
        e = xa.nodes[node, W_SLOTS + off]
        if sh == 0 or not _is_node(e):
            break
        node = _node_id(e)
    if e == 0:
        return -1
    xa.nodes[node, W_SLOTS + off] = 0
    xa.nodes[node, W_COUNT] -= 1
    xa.aux[M_ENTRIES] -= 1
    _delete_node(xa, tree, node)
    return _value_of(e)


@njit
def xa_store_counted(xa, tree, index, value, ctr, op):
    """xa_store() that adds the store, its node visits and the nodes it allocated to
    ``ctr[op]``."""
    before = xa.aux[M_NODE_ALLOCS]
    visits = xa.aux[M_WALK_VISITS]
    status = xa_store(xa, tree, index, value)
    ctr[op, XA_STORE] += 1
    ctr[op, XA_NODE_VISIT] += xa.aux[M_WALK_VISITS] - visits
    ctr[op, XA_NODE_ALLOC] += xa.aux[M_NODE_ALLOCS] - before
    return status


@njit
def xa_erase_counted(xa, tree, index, ctr, op):
    """xa_erase() that adds the erase, its node visits and the nodes it freed to
    ``ctr[op]``."""
    before = xa.aux[M_NODE_FREES]
    visits = xa.aux[M_WALK_VISITS]
    old = xa_erase(xa, tree, index)
    ctr[op, XA_ERASE] += 1
    ctr[op, XA_NODE_VISIT] += xa.aux[M_WALK_VISITS] - visits
    ctr[op, XA_NODE_FREE] += xa.aux[M_NODE_FREES] - before
    return old


@njit
def xa_height(xa, tree):
    head = xa.aux[N_META + tree]
    if not _is_node(head):
        return 0
    return xa.nodes[_node_id(head), W_SHIFT] // xa.aux[M_CHUNK_SHIFT] + 1


@njit
def _reachable_nodes(xa, tree, stack):
    head = xa.aux[N_META + tree]
    if not _is_node(head):
        return 0
    chunk = 1 << xa.aux[M_CHUNK_SHIFT]
    top = 0
    stack[top] = _node_id(head)
    top += 1
    count = 0
    while top > 0:
        top -= 1
        n = stack[top]
        count += 1
        if xa.nodes[n, W_SHIFT] == 0:
            continue
        for i in range(chunk):
            e = xa.nodes[n, W_SLOTS + i]
            if _is_node(e):
                stack[top] = _node_id(e)
                top += 1
    return count


def xa_reachable_nodes(xa: XAPool, tree: int = 0) -> int:
    """Count the nodes reachable from a tree's head (for consistency checks)."""
    stack = np.empty(xa.nodes.shape[0] + 1, dtype=np.int64)
    return int(_reachable_nodes(xa, int(tree), stack))


# batch kernels used by the public class and the benchmarks


@njit
def _store_many(xa, tree, indices, values):
    for i in range(indices.shape[0]):
        if xa_store(xa, tree, indices[i], values[i]) != 0:
            return i
    return indices.shape[0]


@_intrinsic
def _prefetch(typingctx, arr, i, j):
    """A hint to bring the cache line of ``arr[i, j]`` in (llvm.prefetch: read, high
    locality); no effect on any value."""
    sig = _types.void(arr, i, j)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = _cgutils.get_item_pointer(context, builder, aryty, ary, [args[1], args[2]], wraparound=False)
        i8p = _ir.IntType(8).as_pointer()
        i32 = _ir.IntType(32)
        fnty = _ir.FunctionType(_ir.VoidType(), [i8p, i32, i32, i32])
        fn = _cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


# walks load_many keeps in flight (2^20 random lookups, 2-core machine: with 8, 25 ns
# dense and 100 ns sparse a lookup; with 64, 18-26 ns and 78-85 ns)
LOAD_BATCH = 64


@njit
def _load_many(xa, tree, indices, out):
    """xa_load() of every index, as ``LOAD_BATCH`` walks advanced level by level in
    turn: the walks are independent, so their node reads overlap in the CPU (one walk
    alone waits for each node before it can read the next).  Results and counts are
    those of one xa_load() per index.  While a walk is under way, ``out`` holds its
    next node as ``-2 - node`` (results are >= -1)."""
    n = indices.shape[0]
    head = xa.aux[N_META + tree]
    xa.aux[M_LOADS] += n
    if not _is_node(head):
        for i in range(n):
            out[i] = _value_of(head) if indices[i] == 0 and head != 0 else -1
        return
    cs = xa.aux[M_CHUNK_SHIFT]
    mask = (1 << cs) - 1
    root = _node_id(head)
    top = xa.nodes[root, W_SHIFT]
    visits = 0
    for b in range(0, n, LOAD_BATCH):
        end = min(b + LOAD_BATCH, n)
        live = 0
        for i in range(b, end):
            if (indices[i] >> top) > mask:
                out[i] = -1
            else:
                out[i] = -2 - root
                live += 1
        sh = top  # the walks go down in step: all live ones are at this shift
        while live > 0:
            live = 0
            for i in range(b, end):
                w = out[i]
                if w > -2:
                    continue
                nd = -2 - w
                visits += 1
                e = xa.nodes[nd, W_SLOTS + ((indices[i] >> sh) & mask)]
                if sh == 0 or not _is_node(e):
                    out[i] = _value_of(e) if e != 0 else -1
                else:
                    child = _node_id(e)
                    out[i] = -2 - child
                    # the slot the next round reads: ask for its line now, a round
                    # ahead (the out-of-order window does not reach that far)
                    _prefetch(xa.nodes, child, W_SLOTS + ((indices[i] >> (sh - cs)) & mask))
                    live += 1
            sh -= cs
    xa.aux[M_LOAD_VISITS] += visits


@njit
def _erase_many(xa, tree, indices, out):
    for i in range(indices.shape[0]):
        out[i] = xa_erase(xa, tree, indices[i])


# --------------------------------------------------------------------------- public


def _check_index(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer, got {type(value).__name__} {value!r}; "
            f"pass an int such as 42"
        )
    value = int(value)
    if value < 0 or value > 2**63 - 1:
        raise ValueError(f"{name} must be in [0, 2**63 - 1], got {value}")
    return value


def _check_value(name: str, value) -> int:
    value = _check_index(name, value)
    if value > MAX_VALUE:
        raise ValueError(
            f"{name} must be in [0, 2**62 - 1] (an xa_mk_value() entry), got {value}"
        )
    return value


def _check_index_array(name: str, arr, max_value: int = 2**63 - 1) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise TypeError(
            f"{name} must hold integers, got dtype {a.dtype}; convert with "
            f"np.asarray({name}, dtype=np.int64) if the values are whole numbers"
        )
    if a.size and a.dtype.kind == "u" and int(a.max()) > max_value:
        raise ValueError(f"{name} holds {int(a.max())}, above the largest allowed {max_value}")
    a = a.astype(np.int64, copy=False)
    if a.size and (int(a.min()) < 0 or int(a.max()) > max_value):
        bad = int(a.min()) if int(a.min()) < 0 else int(a.max())
        raise ValueError(f"{name} must be in [0, {max_value}], got {bad}")
    return np.ascontiguousarray(a)


class XArray:
    """A Linux XArray, emulated node for node (see :mod:`vswap_nb.core.radix`).

    >>> xa = XArray()
    >>> xa.store(0, 7); xa.nr_nodes       # a lone entry at index 0 lives in the head
    0
    >>> xa.store(100, 8); xa.height, xa.nr_nodes
    (2, 3)
    >>> xa.load(100), xa.load(5)
    (8, None)

    Values are integers in ``[0, 2**62)`` (what ``xa_mk_value`` can hold); indices are
    integers in ``[0, 2**63)``.
    """

    def __init__(self, chunk_shift: int = 6):
        if isinstance(chunk_shift, bool) or not isinstance(chunk_shift, numbers.Integral):
            raise TypeError(f"chunk_shift must be the integer 4 or 6, got {chunk_shift!r}")
        self._xa = xa_new(1, 64, int(chunk_shift))

    @property
    def _meta(self):
        return xa_meta(self._xa)

    # -- growth -------------------------------------------------------------------
    def _grow(self, extra: int = 0) -> None:
        cap = self._xa.nodes.shape[0]
        self._xa = xa_grow(self._xa, max(2 * cap, cap + extra))

    # -- single-entry API ---------------------------------------------------------
    def store(self, index, value) -> None:
        """Store ``value`` at ``index`` (replacing what was there)."""
        index = _check_index("index", index)
        value = _check_value("value", value)
        while xa_store(self._xa, 0, index, value) != 0:
            self._grow()

    def load(self, index):
        """The value at ``index``, or None when absent."""
        index = _check_index("index", index)
        v = xa_load(self._xa, 0, index)
        return None if v < 0 else int(v)

    def erase(self, index):
        """Remove the entry at ``index``; returns its value, or None when absent."""
        index = _check_index("index", index)
        v = xa_erase(self._xa, 0, index)
        return None if v < 0 else int(v)

    # -- batch API ----------------------------------------------------------------
    def store_many(self, indices, values) -> None:
        """Store ``values[i]`` at ``indices[i]`` in order."""
        idx = _check_index_array("indices", indices)
        val = _check_index_array("values", values, MAX_VALUE)
        if idx.shape != val.shape:
            raise ValueError(
                f"indices and values must have the same length, got {idx.size} and {val.size}"
            )
        done = 0
        while done < idx.size:
            done += _store_many(self._xa, 0, idx[done:], val[done:])
            if done < idx.size:
                self._grow(extra=(idx.size - done) // 16 + 128)

    def load_many(self, indices) -> np.ndarray:
        """Values at ``indices`` as an int64 array, -1 where absent."""
        idx = _check_index_array("indices", indices)
        out = np.empty(idx.size, dtype=np.int64)
        _load_many(self._xa, 0, idx, out)
        return out

    def erase_many(self, indices) -> np.ndarray:
        """Erase ``indices`` in order; returns the old values, -1 where absent."""
        idx = _check_index_array("indices", indices)
        out = np.empty(idx.size, dtype=np.int64)
        _erase_many(self._xa, 0, idx, out)
        return out

    # -- introspection ------------------------------------------------------------
    @property
    def chunk_shift(self) -> int:
        return int(self._xa.aux[M_CHUNK_SHIFT])

    @property
    def nr_nodes(self) -> int:
        """Nodes currently allocated."""
        return int(self._xa.aux[M_NR_NODES])

    @property
    def height(self) -> int:
        """Levels of nodes (0 when the tree has no node)."""
        return int(xa_height(self._xa, 0))

    @property
    def memory_bytes(self) -> int:
        """Bytes of node memory: 576 per node (192 with chunk_shift 4)."""
        return self.nr_nodes * node_bytes(self.chunk_shift)

    @property
    def node_visits(self) -> int:
        """Cumulative nodes visited by all lookups (load and load_many)."""
        return int(self._xa.aux[M_LOAD_VISITS])

    @property
    def lookups(self) -> int:
        """Cumulative number of lookups."""
        return int(self._xa.aux[M_LOADS])

    def __len__(self) -> int:
        return int(self._xa.aux[M_ENTRIES])

    def __repr__(self) -> str:
        return (
            f"XArray(chunk_shift={self.chunk_shift}, entries={len(self)}, "
            f"height={self.height}, nr_nodes={self.nr_nodes})"
        )
