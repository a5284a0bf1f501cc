"""core/ref.py: a namedtuple state passed between kernels as one pointer."""
from collections import namedtuple

import numpy as np
import pytest

from vswap_nb.core import verbs
from vswap_nb.core.jit import njit
from vswap_nb.core.ref import Ref, ref
from vswap_nb.designs import get_design

Inner = namedtuple("Inner", ["a", "b"])
Outer = namedtuple("Outer", ["inner", "grid", "meta"])


@njit(cache=False)  # not cached: the test reads the signatures compiled in this process
def _bump(r, i):
    # reads and writes through nested fields of a Ref, returns what it read
    r.inner.a[i] += 1
    r.grid[i, 1] = r.inner.b[i] * 2
    return r.inner.a.shape[0] * 100 + r.meta[0]


@njit(cache=False)
def _drive(o, n):
    r = ref(o)
    same = ref(r)  # ref of a Ref is the Ref
    s = 0
    for i in range(n):
        s += _bump(same, i)
    return s + ref(7)  # ref of a scalar is the scalar


def _outer():
    return Outer(
        Inner(np.zeros(4, np.int64), np.arange(4, dtype=np.uint8)),
        np.zeros((4, 3)),
        np.array([5], dtype=np.int64),
    )


def test_fields_read_and_write_through_a_ref():
    o = _outer()
    assert _drive(o, 4) == 4 * 405 + 7
    np.testing.assert_array_equal(o.inner.a, [1, 1, 1, 1])
    np.testing.assert_array_equal(o.grid[:, 1], [0, 2, 4, 6])
    np.testing.assert_array_equal(o.grid[:, [0, 2]], 0)


def test_callee_compiles_for_the_ref_type_and_nested_fields_are_refs():
    o = _outer()
    _drive(o, 1)
    (sig,) = _bump.signatures
    assert isinstance(sig[0], Ref)
    assert sig[0].instance_class is Outer


def test_python_verbs_reach_the_design_through_refs():
    # a verb called from Python goes through a compiled trampoline that passes Refs
    d = get_design("swap_table")
    dst = d.new_state(1 << 12)
    ctx = verbs.new_ctx(8)
    e = verbs.alloc(dst, ctx, 0, 0, 3, 1)
    assert e > 0 and verbs.swap_count(dst, e) == 0
    assert ctx.folio[3, verbs.F_SWAP] == e
    # phys_dev from Python returns the device's namedtuple (a view of the state's
    # arrays), never a pointer into a finished call
    dev = verbs.phys_dev(dst)
    assert type(dev) is type(dst.dev)
    assert all(np.shares_memory(a, b) for a, b in zip(dev, dst.dev))


def test_unregistered_verb_is_named_before_compiling():
    Fake = namedtuple("Fake", ["x"])
    with pytest.raises(TypeError, match="verb 'alloc' is not implemented for Fake"):
        verbs.alloc(Fake(np.zeros(1)), verbs.new_ctx(1), 0, 0, 0, 1)


def test_cache_saves_and_loads_wait_for_the_directory_lock():
    import threading
    import time

    from vswap_nb.core import jit

    if jit.cache_dir() is None:
        pytest.skip("the Numba cache is off (VSWAP_NB_CACHE=0)")
    # every cached kernel of the package saves and loads under the lock
    cache_file = verbs._py_alloc._cache._cache_file
    assert cache_file.save.__name__ == "locked_save" and cache_file.load.__name__ == "locked_load"
    # and the lock excludes another holder (a thread here, another process alike)
    got = []

    def other():
        with jit.cache_lock():
            got.append(1)

    with jit.cache_lock():
        t = threading.Thread(target=other)
        t.start()
        time.sleep(0.2)
        assert got == []
    t.join(5)
    assert got == [1]
