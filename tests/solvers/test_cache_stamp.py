"""Numba's on-disk cache of the package's kernels is invalidated by an edit of any module they call.

The scenario of solvers._cache_stamp: kernel ``g`` (module a) calls ``f`` (module b); ``f`` changes, ``a``
does not.  Plain Numba caching then keeps running the old ``f`` inside the cached ``g``; under a registered
tree the cached ``g`` is recompiled.  Each run is a fresh process (the cache is what is on disk).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import solvers._cache_stamp as cs
from solvers import jit
from solvers import _hl_kernels

ROOT = Path(__file__).resolve().parents[2]

RUN = """
import sys
sys.path.insert(0, {tmp!r})
import solvers._cache_stamp as cs
if {register}:
    cs.register_tree({pkg!r})
from pkgx.a import g
print(g(), sum(g.stats.cache_hits.values()), sum(g.stats.cache_misses.values()))
"""


def _write_pkg(tmp: Path, value: float) -> Path:
    pkg = tmp / "pkgx"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "b.py").write_text(textwrap.dedent(f"""
        from solvers.jit import njit

        @njit(inline="always")
        def f():
            return {value!r}
    """))
    (pkg / "a.py").write_text(textwrap.dedent("""
        from solvers.jit import njit
        from .b import f

        @njit
        def g():
            return f() + 1.0
    """))
    return pkg


def _run(tmp: Path, pkg: Path, register: bool):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", RUN.format(tmp=str(tmp), pkg=str(pkg), register=register)],
                         capture_output=True, text=True, env=env, cwd=str(tmp), timeout=300)
    assert out.returncode == 0, out.stderr
    value, hits, misses = out.stdout.split()
    return float(value), int(hits), int(misses)


def test_an_edited_callee_recompiles_the_cached_kernel(tmp_path):
    pkg = _write_pkg(tmp_path, 1.0)
    assert _run(tmp_path, pkg, True) == (2.0, 0, 1)         # compiled and saved
    assert _run(tmp_path, pkg, True) == (2.0, 1, 0)         # loaded from the cache
    _write_pkg(tmp_path, 5.25)                              # b.py edited, a.py not
    assert _run(tmp_path, pkg, True) == (6.25, 0, 1)         # stale cache entry refused, recompiled


def test_plain_numba_caching_runs_the_stale_callee(tmp_path):
    # the hazard the stamp removes (if Numba starts tracking callees, this test says so)
    pkg = _write_pkg(tmp_path, 1.0)
    assert _run(tmp_path, pkg, False) == (2.0, 0, 1)
    _write_pkg(tmp_path, 5.25)
    assert _run(tmp_path, pkg, False) == (2.0, 1, 0)        # the old f, from the cache


def test_the_package_kernels_use_the_stamped_locator():
    assert cs.INSTALLED
    roots = [os.path.realpath(ROOT / "solvers"), os.path.realpath(ROOT / "deeprelax")]
    import deeprelax  # noqa: F401  (registers its tree)
    assert cs._TREES[:2] == roots
    loc = _hl_kernels.finite_absmax._cache._impl._locator
    assert type(loc).__name__ == "TreeStampLocator" and loc._index == 0
    from deeprelax import _dyn_kernels
    kern = next(v for v in vars(_dyn_kernels).values() if hasattr(v, "_cache") and hasattr(v, "py_func"))
    assert kern._cache._impl._locator._index == 1           # deeprelax kernels: both trees' hash
    stamp = loc.get_source_stamp()
    assert stamp[1] == cs.tree_stamp(0) and len(stamp[1]) == 32
    assert jit.njit.keywords["cache"] is True
