"""CPU kernels of the finite-difference Hamilton-Jacobi solver (1-D, 2-D and 3-D): lookup and dispatch.

Every kernel works on a ghost-padded C-contiguous float64 array (``g`` cells per side, filled
beforehand by :mod:`solvers.boundary` or the compiled ghost fill); kernels never branch on the
domain edge.  Where the code comes from:

* :mod:`solvers._hj_cell`: the per-cell mathematics (one-sided derivatives first order / ENO2 /
  WENO5, the numerical Hamiltonians, the Laplacians, the CFL slope), one source compiled for the
  CPU here and for CUDA by :mod:`solvers._cuda_hj`;
* :mod:`solvers._hj_stages_1d`, ``_2d``, ``_3d``: the loop nests, one per (dimension, derivative family), serial and
  threaded, written out by :mod:`solvers._hj_template` from its one template (the reason and the
  measurements are in that module's docstring);
* :mod:`solvers._hj_march`: the compiled time loop over those kernels.

The kernels (see :mod:`solvers._hj_stages_1d` and its siblings):

* ``stage(V, W, O, cb, ih, q, nu, ham, a, b, dt, want)`` writes one Runge-Kutta stage on the
  interior, ``O = a W + b (V + dt L(V))`` with ``L(u) = -H_hat(p^-, p^+) + nu Lap u`` (``a = 0``
  drops the ``W`` term: forward Euler / first RK3 stage), and records the CFL slopes of ``V`` in the
  buffer ``cb`` (fused, no extra pass over memory); ``ih``/``q`` are d-tuples of ``1/h``, ``1/h^2``;
* ``slopes(V, ih, buf)``: running maxima of ``|D^+- u|`` per axis (first-order differences,
  NaN-sticky) per block of rows and column of the innermost axis (a scalar running max is a
  loop-carried chain that does not vectorise without fast-math), reduced by :func:`max_slopes`.

:func:`stage_kernel`, :func:`slopes_kernel` and :func:`march_kernel` pick the compiled function of
a (dimension, derivative family, threading) choice (the march: serial kernels only); :func:`stage` and :func:`max_slopes` are the
NumPy-facing entry points (threading chosen by :func:`solvers.jit.use_parallel`).  The NumPy twins
are :func:`solvers.schemes.stage_numpy` and :func:`solvers.schemes.max_slopes_numpy`.  Integer codes:
``deriv`` 0 first / 1 ENO2 / 2 WENO5; ``ham`` 0 Godunov / 1 Rouy-Tourin / 2 local Lax-Friedrichs /
3 Engquist-Osher.  The Laplacian is the 3-point one for first-order and ENO2 kernels and the
5-point one for WENO5.
"""
from __future__ import annotations

import numpy as np

from . import _hj_stages_1d, _hj_stages_2d, _hj_stages_3d
from ._hj_cell import GHOST
from ._hj_stage_base import _ROWS_PER_BLOCK
from .jit import use_parallel

DERIV_NAMES = ("first", "eno2", "weno5")
_GHOST = dict(enumerate(GHOST))
#: The generated kernel module of each dimension.
_STAGES = {1: _hj_stages_1d, 2: _hj_stages_2d, 3: _hj_stages_3d}


def _sfx(parallel) -> str:
    return "_par" if parallel else ""


def stage_kernel(d: int, deriv: int, parallel: bool):
    """The compiled stage kernel for ``d`` dimensions and derivative code ``deriv``."""
    return getattr(_STAGES[d], f"stage_{d}d_{DERIV_NAMES[deriv]}{_sfx(parallel)}")


def slopes_kernel(d: int, g: int, parallel: bool):
    """The compiled slope kernel for ``d`` dimensions and ghost width ``g``."""
    return getattr(_STAGES[d], f"slopes_{d}d_g{g}{_sfx(parallel)}")


def ghost_kernel(d: int):
    """The compiled ghost fill ``fill(V, g, periodic)`` for ``d`` dimensions."""
    return getattr(_STAGES[d], f"fill_ghosts_{d}d")


def march_kernel(d: int, deriv: int):
    """The compiled time march (:func:`solvers._hj_march.march`) bound to the serial kernel set."""
    return getattr(_STAGES[d], f"march_{d}d_{DERIV_NAMES[deriv]}")


def _interior_shape(V, g):
    return tuple(n - 2 * g for n in V.shape)


def slope_buffer(V, g):
    """Zeroed per-block, per-column slope buffer for a stage on padded ``V`` (shape ``(nb, d, n_last)``)."""
    d = V.ndim
    n = _interior_shape(V, g)
    nb = 1 if d == 1 else (n[0] + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    return np.zeros((nb, d, n[-1]))


def stage(V, W, O, g, spacing, nu, deriv, ham, lap, a, b, dt, parallel=None, cbuf=None, slopes=True):
    """Fill the interior of ``O`` with ``a W + b (V + dt L(V))``; return the CFL slopes of ``V``.

    Parameters
    ----------
    V, W, O : ndarray, same padded shape ``interior + 2 g`` per axis, float64, 1 to 3 axes
    g : int, ghost width (1 for deriv 0, 2 for ENO2, 3 for WENO5)
    spacing : tuple of d floats
    nu : float, viscosity of the explicit Laplacian term (0 skips it)
    deriv, ham : int codes (see module doc)
    lap : int, Laplacian order; it is tied to ``deriv`` (2 for first/ENO2, 4 for WENO5)
    a, b, dt : float
    parallel : bool or None (None: :func:`use_parallel` on the interior size)
    cbuf : ndarray from :func:`slope_buffer`, optional (reused; zeroed here)
    slopes : bool, default True
        Record the CFL slopes of ``V``.  ``False`` skips that loop in the ENO2/WENO5
        kernels (first-order kernels fuse it into the stencil loop and always run it)
        and returns ``(None, True)``: for callers that take the slopes elsewhere.

    Returns
    -------
    alpha : ndarray, shape (d,), per-axis ``max |D^+- V|`` (first-order differences)
    finite : bool, whether every value of ``V`` read was finite
    """
    d = V.ndim
    if parallel is None:
        parallel = use_parallel(int(np.prod(_interior_shape(V, g))))
    if lap != (4 if deriv == 2 else 2):
        raise ValueError(f"`lap` must be {4 if deriv == 2 else 2} for deriv code {deriv}; got {lap}.")
    if g != _GHOST[deriv]:
        raise ValueError(f"ghost width `g` must be {_GHOST[deriv]} for deriv code {deriv}; got {g}.")
    if cbuf is None:
        cbuf = slope_buffer(V, g)
    else:
        cbuf[...] = 0.0
    ih = tuple(1.0 / h for h in spacing)
    q = tuple(1.0 / (h * h) for h in spacing)
    stage_kernel(d, deriv, bool(parallel))(V, W, O, cbuf, ih, q, float(nu), int(ham), float(a), float(b),
                                           float(dt), bool(slopes))
    if not slopes:
        return None, True
    alpha = cbuf.max(axis=(0, 2))  # NaN propagates
    return alpha, bool(np.isfinite(alpha).all())


def max_slopes(V, g, spacing, parallel=None):
    """Per-axis ``max |D^+- u|`` on the interior of padded ``V`` and whether all values are finite.

    Returns
    -------
    alpha : ndarray, shape (d,)
    finite : bool
    """
    d = V.ndim
    if parallel is None:
        parallel = use_parallel(int(np.prod(_interior_shape(V, g))))
    if g not in (1, 2, 3):
        raise ValueError(f"ghost width `g` must be 1, 2 or 3; got {g}.")
    ih = tuple(1.0 / h for h in spacing)
    buf = slope_buffer(V, g)
    slopes_kernel(d, g, bool(parallel))(V, ih, buf)
    alpha = buf.max(axis=(0, 2))  # NaN propagates
    return alpha, bool(np.isfinite(alpha).all())
