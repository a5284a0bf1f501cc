"""The package's layering, read from the sources (no kernel runs): imports of the
package's own modules go one way and sit at module level (a function may still import
an optional heavy dependency, matplotlib or dask.distributed), and the files the Numba
cache leaves out of its hash hold nothing a kernel compiles."""
import ast
import pathlib

import pytest

from vswap_nb.core import jit

PKG = pathlib.Path(jit.__file__).resolve().parents[1]

# lower layers first; a module may import from its own layer and the ones before it
LAYERS = [
    ("core",),
    ("designs", "workloads"),
    ("mm",),
    ("kernel",),
    ("check", "inputs", "results", "api"),
    ("sweep", "calibration", "kernel_validation", "plot"),
    ("cli", "__main__", "__init__"),
]


def _layer(rel: str) -> int:
    top = rel.split("/")[0].removesuffix(".py")
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{rel} is in no layer; add it to LAYERS")


def _imports(path: pathlib.Path):
    """(module imported relative to the package, at module level?, line) per import."""
    tree = ast.parse(path.read_text())
    top = set(id(n) for n in tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            for mod, _, line in _imports_of(path, node):
                yield mod, id(node) in top, line


def _sources():
    return sorted(p for p in PKG.rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(PKG).as_posix())
def test_imports_point_down_and_sit_at_module_level(path):
    rel = path.relative_to(PKG).as_posix()
    mine = _layer(rel)
    for mod, at_top, line in _imports(path):
        theirs = _layer(mod)
        assert theirs <= mine, f"{rel}:{line} imports {mod}, a layer above it"
        assert at_top, f"{rel}:{line} imports {mod} inside a function"


def _kernel_bodies(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any("njit" in ast.unparse(d) for d in node.decorator_list):
            yield node


def test_files_outside_the_cache_hash_hold_no_kernel_and_nothing_kernels_use():
    hashed = {p.relative_to(PKG).as_posix() for p in jit._hashed_sources()}
    skipped = [p for p in _sources() if p.relative_to(PKG).as_posix() not in hashed]
    assert skipped, "NOT_COMPILED leaves nothing out"
    for p in skipped:
        assert "njit" not in p.read_text(), f"{p.name} is left out of the cache hash but holds a kernel"
    names = {p.relative_to(PKG).as_posix().removesuffix(".py").removesuffix("/__init__") for p in skipped}
    for rel in hashed:
        tree = ast.parse((PKG / rel).read_text())
        taken = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level:
                for mod, _, _ in _imports_of(PKG / rel, node):
                    if mod in names:
                        taken |= {a.asname or a.name for a in node.names}
        for fn in _kernel_bodies(tree):
            used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
            assert not used & taken, (
                f"{rel}: kernel {fn.name} uses {sorted(used & taken)}, from a module the cache hash leaves out"
            )


def _imports_of(path, node):
    """The modules (paths relative to the package, no .py) a relative import names."""
    rel_parts = path.relative_to(PKG).parts[:-1]
    base = list(rel_parts[: len(rel_parts) - node.level + 1])
    if node.module:
        yield "/".join(base + node.module.split(".")), True, node.lineno
    else:  # from . import x, y: submodules (or names of the package's __init__)
        for a in node.names:
            yield "/".join(base + [a.name]), True, node.lineno
