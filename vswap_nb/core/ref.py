"""A state passed between kernels as one pointer: ``ref(state)``.

Numba passes a namedtuple of arrays between compiled functions as flat scalar
arguments, 5 + 2 x ndim words per array.  A design's state is 10 to 18 arrays (78 to
142 words), the run context 4 (32 words), the mm engine's state 15 (~120 words), so
every call of the engine or of a verb pushed and popped a few hundred words, and every
compiled function carried those hundreds of arguments through LLVM.  That was the
measured bound both on run speed (most samples of a perf profile of usemem under
pressure sat on the pushes) and on the first compile.

``ref(x)`` stores a namedtuple once in the stack frame of the kernel that Python
called, and hands out a pointer to it, a :class:`Ref`.  A ``Ref`` reads like the
namedtuple: ``r.field`` loads that field (an array, a scalar) from the stored
tuple, and a field that is itself a namedtuple comes back as a ``Ref`` to it, so
``dst.dev.ci[c, 0]`` is two address computations and one load of the array's
descriptor, whatever the depth.  The design, engine and verb code is the same code
it was; only the entry points Python calls wrap their namedtuple arguments in
``ref`` (``ref`` of a ``Ref`` or of anything that is not a namedtuple is the value
itself, so callees may call it too).

Why this and not the other routes (issue 17):

* an arena per state (one int64 array plus a header of offsets, rows at
  ``base + row * WORDS + col``) passes a handful of words too, but rewrites every
  field access of every design into offset arithmetic, and keeps the per-field
  dtypes (uint8 swap maps, uint16 cgroup ids) only at the price of several arenas;
* ``structref`` needs the Numba runtime, which the package keeps off
  (:mod:`vswap_nb.core.jit`);
* a raw pointer that Python holds cannot travel to a dask worker.  A ``Ref`` never
  reaches Python: it is made inside a compiled call and lives as long as that call's
  frame, and what Python passes (and pickles) stays the namedtuple of NumPy arrays.

The stored tuple never changes while the call runs (a kernel writes into the arrays,
never replaces one), so its loads are marked ``invariant.load``: LLVM may keep an
array's descriptor in registers across stores into array data.
"""
from __future__ import annotations

from numba.core import cgutils, types
from numba.core.typing.templates import AttributeTemplate
from numba.extending import (
    infer_getattr,
    intrinsic,
    lower_getattr_generic,
    models,
    register_model,
)

__all__ = ["Ref", "ref"]


class Ref(types.Type):
    """A pointer to a namedtuple stored in a kernel's frame (see the module docstring)."""

    def __init__(self, tuple_type):
        self.tuple_type = tuple_type
        self.dtype = tuple_type  # for PointerModel
        super().__init__(name=f"Ref({tuple_type})")

    @property
    def key(self):
        return self.tuple_type

    @property
    def instance_class(self):
        # the verb dispatch (core/verbs.py) keys on the state's namedtuple class
        return self.tuple_type.instance_class


register_model(Ref)(models.PointerModel)


def _field_index(tt, attr):
    try:
        return tt.fields.index(attr)
    except ValueError:
        return -1


@infer_getattr
class _RefAttributes(AttributeTemplate):
    key = Ref

    def generic_resolve(self, typ, attr):
        tt = typ.tuple_type
        i = _field_index(tt, attr)
        if i < 0:
            return None
        ft = tt.types[i]
        if isinstance(ft, types.BaseNamedTuple):
            return Ref(ft)
        return ft


def _invariant(builder, load):
    load.set_metadata("invariant.load", builder.module.add_metadata([]))
    return load


@lower_getattr_generic(Ref)
def _ref_getattr(context, builder, typ, val, attr):
    tt = typ.tuple_type
    i = _field_index(tt, attr)
    ptr = cgutils.gep_inbounds(builder, val, 0, i)
    ft = tt.types[i]
    if isinstance(ft, types.BaseNamedTuple):
        return ptr
    dm = context.data_model_manager[ft]
    return dm.from_data(builder, _invariant(builder, builder.load(ptr)))


@intrinsic
def ref(typingctx, x):
    """A :class:`Ref` to the namedtuple ``x`` (stored in the calling kernel's frame);
    anything else, a ``Ref`` included, is returned as it is."""
    if isinstance(x, types.BaseNamedTuple) and not isinstance(x, Ref):
        rt = Ref(x)

        def codegen(context, builder, sig, args):
            dm = context.data_model_manager[x]
            ptr = cgutils.alloca_once(builder, dm.get_data_type())
            builder.store(dm.as_data(builder, args[0]), ptr)
            return ptr

        return rt(x), codegen

    def identity(context, builder, sig, args):
        return args[0]

    return x(x), identity

