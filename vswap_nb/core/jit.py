"""One jit policy for the whole package.

Every kernel in vswap_nb is compiled through :func:`njit` from this module:

* ``cache=True`` by default, switched off with the environment variable
  ``VSWAP_NB_CACHE=0``.  Compiled code goes to an on-disk cache directory keyed by a
  hash of the package's source files (``VSWAP_NB_CACHE_DIR`` or
  ``~/.cache/vswap_nb/numba-<version>-<hash>``).  Numba's own cache only notices edits
  to the file a kernel lives in; our kernels inline verbs from other modules (the design
  verbs are dispatched statically, see :mod:`vswap_nb.core.verbs`), so a change anywhere
  in the package must start a fresh cache.  Keying the directory by the source hash does
  exactly that, and lets dask workers on one machine share one cache.  Modules that
  hold no jitted code and no constant a kernel compiles in (``NOT_COMPILED``: the
  command line, results, sweeps, plots, the kernel design, the run driver, the design
  registry and protocol, the invariant helpers) are left out of the hash, so editing
  them does not throw the cache away (``tests/test_layering.py`` checks that none of
  them holds a kernel or a name a kernel uses).
* one writer at a time in the cache directory.  Numba saves a new compiled version of a
  function by reading the function's index, picking the first free data-file name,
  and writing both back; two processes (pytest-xdist workers, dask workers, the
  command's compile workers) saving two versions of one function at the same moment
  could pick the same name and leave an index entry pointing at the other version's
  machine code.  Every cache save and load of our kernels therefore holds an
  exclusive ``flock`` on ``<cache dir>/.lock`` (a few microseconds each).
* ``nogil=True`` so kernels can run in threads (dask's threaded workers).
* no ``fastmath``: counters are integers and the float cost model must be reproducible.
* no ``parallel``: each run is sequential by nature (the kernel's operations happen in
  order); parallelism comes from running many runs at once (:func:`vswap_nb.sweep`).
* one compiled version per argument *type*: Numba normally specialises a jitted callee
  on literal arguments (``op=OP_ALLOC`` and ``op=OP_FREE`` would be two compilations,
  ``True`` and ``False`` two more); our dispatchers drop the literal types first, which
  cut the first-call compile of the allocator path by more than half.
* tiny helpers (entry encoding, bit tests) use ``inline="always"`` so they are not
  compiled, linked and optimised as functions of their own.  ``@overload(...,
  inline="always")`` is *not* used: inlining the verb dispatch shims at the IR level
  miscompiled an inlined function that followed one (Numba 0.68; an early return taken
  wrongly), which the reference-model tests caught.
* no Numba runtime (``_nrt=False``): kernels never allocate; every array is made by a
  Python constructor and passed in.  With the runtime on, each call between kernels
  increments and decrements the reference count of every array in the state
  namedtuples (a dozen atomic operations through function pointers per call), which
  made a swap-count increment cost ~200 ns instead of ~5 ns.  A kernel that really
  must allocate can ask for ``njit(nrt=True)``.
* calls between kernels pass each state as one pointer.  Numba passes a namedtuple of
  arrays as flat scalar arguments, 5 + 2 x ndim words per array: an engine call
  carrying ``(st, ctx, dst)`` pushed about 255 words and a verb call about 140, and a
  perf profile of usemem under pressure had most of the engine's samples on those
  pushes.  So the kernels Python calls (the engine's ``run_phase``, the Python verbs'
  trampolines, the metadata and checker kernels) store their namedtuples once in
  their own frame and pass a ``ref`` of each down (:mod:`vswap_nb.core.ref`), which
  reads like the namedtuple.  Measured (usemem 2G on 1 GiB, 4 GiB zram, best of 3, two
  alternating rounds): ``classic`` sequential 0.080 s against 0.156-0.164 s,
  ``vswap_v6`` 0.104-0.109 s against 0.314-0.325 s; a cold ``classic`` compile 53 s
  against 74 s.  ``inline="always"`` remains for tiny helpers and functions with one
  call site; each inlined copy costs Numba a copy and a re-typing of the callee's IR
  (about a quarter of a cold compile in a profile), so a helper with several call
  sites, or one that inlines others, is a call: the cluster-list moves and links of
  the allocator, the XArray walk, and ``vswap``'s lookup, backing and lookup-cache
  settle (29 call sites) were inlined until the states became pointers; as calls they
  took a cold ``vswap_v6`` compile from 108 s to 85 s, and since a helper that takes
  only the device (``Ref(SwapDev)``, one type for every design) is now compiled once
  for all designs, ``classic`` compiled after it took 46 s (56 s alone before); run
  time unchanged (usemem 2G on 1G: ``classic`` 0.077-0.080 s, ``vswap_v6`` 0.111-0.112
  s, both rounds).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import shutil
import time

try:
    import fcntl as _fcntl
except ImportError:  # not POSIX: no lock (one process per cache directory)
    _fcntl = None

import numba
from numba.core import config as _numba_config
from numba.core import types as _types
from numba.core.registry import CPUDispatcher as _CPUDispatcher

__all__ = ["CACHE_ENABLED", "cache_dir", "cache_lock", "cache_root", "njit"]

_PKG_ROOT = pathlib.Path(__file__).resolve().parent.parent

CACHE_ENABLED = os.environ.get("VSWAP_NB_CACHE", "1").strip().lower() not in (
    "0",
    "false",
    "no",
    "off",
)


# Modules no kernel reads: they hold no jitted code and no constant a kernel compiles in
# (the command line, the Dataset builder, sweeps, plots, the kernel design, which runs C).
# Editing them keeps the compiled cache; tests/test_jit_policy.py checks they stay free of
# jitted code.
NOT_COMPILED = (
    "__main__.py", "cli.py", "results.py", "sweep.py", "plot.py", "kernel/", "mm/run.py", "designs/__init__.py",
    "designs/base.py", "core/invariants.py", "inputs.py", "calibration.py", "kernel_validation.py",
)


def _hashed_sources() -> list:
    """The package's source files the compiled cache depends on."""
    out = []
    for path in sorted(_PKG_ROOT.rglob("*.py")):
        rel = path.relative_to(_PKG_ROOT).as_posix()
        if not any(rel == n or (n.endswith("/") and rel.startswith(n)) for n in NOT_COMPILED):
            out.append(path)
    return out


def _source_hash() -> str:
    h = hashlib.sha1()
    h.update(numba.__version__.encode())
    for path in _hashed_sources():
        h.update(str(path.relative_to(_PKG_ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def cache_root() -> pathlib.Path:
    """The directory every cache of the package lives under (``VSWAP_NB_CACHE_DIR``,
    or ``$XDG_CACHE_HOME/vswap_nb``, or ``~/.cache/vswap_nb``); the compiled kernels go
    to a subdirectory keyed by the source hash, the kernel design's helper to another."""
    return _base_cache_dir()


def _base_cache_dir() -> pathlib.Path:
    explicit = os.environ.get("VSWAP_NB_CACHE_DIR")
    if explicit:
        return pathlib.Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".cache"
    return root / "vswap_nb"


def _prune(base: pathlib.Path, keep: pathlib.Path, max_age_days: float = 14.0) -> None:
    """Remove cache directories of other source versions unused for two weeks."""
    cutoff = time.time() - max_age_days * 86400
    try:
        for child in base.iterdir():
            if child == keep or not child.name.startswith("numba-"):
                continue
            try:
                if child.stat().st_mtime < cutoff:
                    shutil.rmtree(child, ignore_errors=True)
            except OSError:
                pass
    except OSError:
        pass


def _make_cache_dir() -> str | None:
    if not CACHE_ENABLED:
        return None
    base = _base_cache_dir()
    d = base / f"numba-{_source_hash()}"
    try:
        d.mkdir(parents=True, exist_ok=True)
        os.utime(d)
    except OSError:
        return None
    _prune(base, d)
    return str(d)


_CACHE_DIR = _make_cache_dir()


def cache_dir() -> str | None:
    """The directory compiled kernels are cached in (None when caching is off)."""
    return _CACHE_DIR


@contextlib.contextmanager
def cache_lock():
    """Hold the cache directory's lock (see the module docstring); no-op without a cache
    directory or without ``fcntl``."""
    if _CACHE_DIR is None or _fcntl is None:
        yield
        return
    with open(os.path.join(_CACHE_DIR, ".lock"), "a+") as f:
        _fcntl.flock(f, _fcntl.LOCK_EX)
        try:
            yield
        finally:
            _fcntl.flock(f, _fcntl.LOCK_UN)


def _lock_cache_file(disp) -> None:
    """Make the dispatcher's cache file save and load under :func:`cache_lock`."""
    cache_file = getattr(getattr(disp, "_cache", None), "_cache_file", None)
    if cache_file is None:
        return
    save, load = cache_file.save, cache_file.load

    def locked_save(key, data):
        with cache_lock():
            return save(key, data)

    def locked_load(key):
        with cache_lock():
            return load(key)

    cache_file.save = locked_save
    cache_file.load = locked_load


class _UnliteralDispatcher(_CPUDispatcher):
    """A CPU dispatcher that compiles callees for argument types, not literal values."""

    def get_call_template(self, args, kws):
        args = tuple(_types.unliteral(a) for a in args)
        kws = {k: _types.unliteral(v) for k, v in kws.items()}
        return super().get_call_template(args, kws)


def njit(fn=None, **options):
    """``numba.njit`` with the package policy (see the module docstring)."""
    options.setdefault("nogil", True)
    options.setdefault("cache", _CACHE_DIR is not None)
    options["_nrt"] = bool(options.pop("nrt", False))

    def _jit(f):
        disp = numba.njit(**options)(f)
        if isinstance(disp, _CPUDispatcher) and options.get("inline", "never") == "never":
            disp.__class__ = _UnliteralDispatcher
        if options["cache"]:
            _lock_cache_file(disp)
        return disp

    def decorate(f):
        if not options["cache"]:
            return _jit(f)
        saved = _numba_config.CACHE_DIR
        _numba_config.CACHE_DIR = _CACHE_DIR
        try:
            return _jit(f)
        finally:
            _numba_config.CACHE_DIR = saved

    if fn is None:
        return decorate
    return decorate(fn)
