"""The one Numba policy of the package.

Every compiled kernel goes through :func:`njit` (serial) or :func:`pnjit`
(threaded with ``prange``).  Both use ``cache=True`` so that a second process
loads the machine code from ``__pycache__`` instead of recompiling (the cache is invalidated by an edit
of any source file of the package, not only of the kernel's own: :mod:`solvers._cache_stamp`), and
``fastmath=False`` so that NaN checks and bit-reproducibility hold.

Threaded kernels are only worth it above a size threshold; callers compare the
work size with :data:`PARALLEL_THRESHOLD` and pick the serial or the threaded
twin.
"""
from __future__ import annotations

import functools
import os

# Threads that spin while idle steal the CPU from the other threads on small (2-core) machines;
# passive waiting made a 400^2 threaded Fokker-Planck sweep 6x faster here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402

from . import _cache_stamp  # noqa: E402

# The cached kernels of this package are stamped with the hash of its sources (a kernel is recompiled
# when any module it may call changes, not only its own file): see solvers._cache_stamp.
_cache_stamp.register_tree(os.path.dirname(os.path.abspath(__file__)))

#: Number of grid cells above which the threaded (``prange``) kernels are used.
PARALLEL_THRESHOLD = 1 << 15

njit = functools.partial(numba.njit, cache=True, fastmath=False, nogil=True)
pnjit = functools.partial(numba.njit, cache=True, fastmath=False, nogil=True, parallel=True)
prange = numba.prange


def use_parallel(n_cells: int) -> bool:
    """Whether a kernel over ``n_cells`` cells should use the threaded variant."""
    return n_cells >= PARALLEL_THRESHOLD and numba.config.NUMBA_NUM_THREADS > 1
