"""Numba's on-disk cache, made to notice edits anywhere in the package.

Numba keys a cached kernel on the source of the *file that defines it* only.  A kernel that calls or
inlines a function of another module (a loss body, a cell function, a row provider) keeps its old
machine code after that other module changes, until its own file changes too: after an update the
cached kernel runs the old callee, silently (slower at best, different numbers at worst).

This module puts a locator in front of Numba's own (``numba.core.caching.CacheImpl``): for a function
defined under a registered source tree it uses the location Numba would have chosen (``__pycache__``
beside the file, else the user-wide cache), but its freshness stamp is the file's own stamp *and* a hash
of every ``.py`` file of its tree and of the trees registered before it.  Any edit of the package then
invalidates every cached kernel of the package (they recompile once); functions outside the registered
trees (users' code) are cached as Numba does.

``solvers`` registers its own tree when :mod:`solvers.jit` is imported; ``deeprelax`` registers its
tree (after ``solvers``, on which it depends) first thing on import.  The hash of the trees is computed
once per process, on the first cache lookup (about 3 ms for the two packages).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_TREES: list = []          # registered source trees (absolute paths, str), in registration order
_STAMPS: dict = {}         # index into _TREES -> hash of trees 0..index


def register_tree(path) -> None:
    """Stamp the cached kernels of every file under the folder ``path`` with the hash of that folder's
    ``.py`` files and of the folders registered before it (call it before the kernels are defined)."""
    p = os.path.realpath(os.fspath(path))
    if p not in _TREES:
        _TREES.append(p)
        _STAMPS.clear()


def _tree_index(py_file: str):
    f = os.path.realpath(py_file)
    for i, root in enumerate(_TREES):
        if f.startswith(root + os.sep):
            return i
    return None


def tree_stamp(index: int) -> bytes:
    """sha256 over the ``.py`` files (relative path and content) of the registered trees ``0 .. index``."""
    if index not in _STAMPS:
        h = hashlib.sha256()
        for root in _TREES[:index + 1]:
            for f in sorted(Path(root).rglob("*.py")):
                h.update(str(f.relative_to(root)).encode())
                h.update(b"\0")
                h.update(f.read_bytes())
        _STAMPS[index] = h.digest()
    return _STAMPS[index]


def _install() -> bool:
    """Put :class:`TreeStampLocator` first among Numba's cache locators; False when this Numba has no
    such list (then caching stays Numba's own)."""
    try:
        from numba.core import caching
    except ImportError:                              # pragma: no cover - a Numba without this layout
        return False
    # CacheImpl (Numba >= 0.61) was _CacheImpl before
    _CacheImpl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    _CacheLocator = getattr(caching, "_CacheLocator", None)
    if _CacheImpl is None or _CacheLocator is None:  # pragma: no cover
        return False
    if not isinstance(getattr(_CacheImpl, "_locator_classes", None), list):   # pragma: no cover
        return False
    if any(getattr(c, "_deeprelax_tree_stamp", False) for c in _CacheImpl._locator_classes):
        return True

    class TreeStampLocator(_CacheLocator):
        """Numba's own locator for the file, with the tree hash added to its freshness stamp."""
        _deeprelax_tree_stamp = True

        def __init__(self, inner, index):
            self._inner = inner
            self._index = index

        def ensure_cache_path(self):
            self._inner.ensure_cache_path()

        def get_cache_path(self):
            return self._inner.get_cache_path()

        def get_disambiguator(self):
            return self._inner.get_disambiguator()

        def get_source_stamp(self):
            return (self._inner.get_source_stamp(), tree_stamp(self._index))

        @classmethod
        def from_function(cls, py_func, py_file):
            index = _tree_index(py_file) if os.path.exists(py_file) else None
            if index is None:
                return None
            for other in _CacheImpl._locator_classes:
                if other is cls:
                    continue
                inner = other.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner, index)
            return None

    _CacheImpl._locator_classes.insert(0, TreeStampLocator)
    return True


INSTALLED = _install()
