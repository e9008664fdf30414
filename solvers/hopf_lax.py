"""Exact non-viscous Hamilton-Jacobi solution (Hopf-Lax formula / Moreau envelope).

For ``u_t = -1/2 |grad u|^2``, ``u(x, 0) = f(x)``:

.. math::  u(x, t) = \\min_y\\, f(y) + \\frac{|x - y|^2}{2t},\\qquad
           \\mathrm{prox}(x) = \\arg\\min_y,\\qquad \\nabla u = (x - \\mathrm{prox}) / t .

Algorithm (numerics.md B.2).  The kernel factorises, ``|x - y|^2 = sum_k (x_k - y_k)^2``,
so the d-dimensional minimum is d successive 1-D minima along the axes.  Each 1-D
minimum ``min_j g_j + (x - y_j)^2 / (2t)`` over a line of n nodes is the lower
envelope of n parabolas, built and queried in O(n) by the Felzenszwalb-Huttenlocher
algorithm (Numba, lines in parallel; a non-periodic 1-D problem runs straight on the
data without line copies).  Total cost O(d N).

Prox tracking.  Pass k returns, for every (x_0..x_k, y_{k+1}..y_{d-1}), the argmin
``y_k*`` and carries along the argmins of the earlier axes, evaluated at ``y_k*``
(``P_m <- P_m(..., y_k*, ...)`` for m < k).  After the last pass this is the
composition ``y_{d-1}* = a_{d-1}(x)``, ``y_{d-2}* = a_{d-2}(x, y_{d-1}*)``, ..., i.e.
a global minimiser; with ``refine="none"`` it equals the brute-force argmin over
the grid nodes whenever that argmin is unique.

Sub-grid refinement (``refine="quadratic"``, default).  In each 1-D pass, on each
of the two cells next to the discrete argmin the data are replaced by an ENO
quadratic (of the two 3-node stencils containing the cell, the one with the
smaller second difference) and ``model(y) + (x - y)^2/(2t)`` is minimised exactly
on the cell.  A cell counts only when that function is strictly convex and its
vertex lies inside the open cell; the smallest value (discrete one included) wins,
so the refined u is never above the discrete u (and u <= f still holds).
Kinks lying on nodes (e.g. ``|x|`` on a grid containing 0) stay exact because the
ENO stencil is then the straight side; at convex kinks between nodes the refined
error is never larger than the discrete one (tested).  Earlier-axis prox
coordinates are interpolated linearly at the sub-grid ``y_k*`` (nearest node when
the two bracketing values differ by more than two cells: a jump across a kink).
f itself is only used at the nodes (also for callables).  The refinement is local
(two cells per target), so for rough data the refined u is semiconcave only up to
the refinement correction; ``refine="none"`` is exactly semiconcave
(``D^2 u <= h^2/t``: a minimum of parabolas).

Observed accuracy against the continuum (``tests/test_hopf_lax.py``,
``f = -cos(pi x)`` periodic, ``t = 0.7/pi^2``, n = 32..512):
``refine="none"``: order 2.0 in u (error <= d (h/2)^2 (1/(2t) + C/2) for f'' <= C),
order 1.0 in the prox; ``refine="quadratic"``: order 3.0 in u (1.2e-7 at n = 512
vs 4.4e-5 for "none"), order ~1.9 in the prox.  A quadratic f (any SPD matrix, any
d) is reproduced to round-off: the ENO model is exact and every partial minimum
stays quadratic.  A min of quadratics converges faster than order 3 away from
the switching set.

Domain.  A callable f is sampled on the grid padded by
``sqrt(2 t osc f) / h + 2`` cells per side (``solvers._domain.padded_values``), so
the returned values are the whole-space solution.  An array is used as given: the
minimum runs over the grid only (non-periodic axes) or over all periodic images
(periodic axes; as many images as the reach ``sqrt(2 t osc f)`` needs).  On
periodic axes the prox is the unwrapped minimiser (it may lie outside [lo, hi)),
so that ``grad = (x - prox) / t`` holds.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Union

import numpy as np

from . import _envelope as _env
from ._domain import padded_values
from ._jit import use_parallel
from ._memory import check_grid_memory
from .errors import NonFiniteError, SchemeError, check_finite_array, check_real
from .grid import Grid
from .result import HopfLaxResult

__all__ = ["hopf_lax"]

_REFINE = ("none", "quadratic")


def _check_t(t) -> float:
    check_real("t", t)
    try:
        tv = float(t)
    except (TypeError, ValueError):
        raise TypeError(f"`t` must be a real number; got {t!r}.") from None
    if not (math.isfinite(tv) and tv > 0):
        raise ValueError(f"`t` must be positive and finite (t > 0); got {t!r}.")
    return tv


def _checked_callable(f: Callable) -> Callable:
    """Wrap a loss so that a wrong output shape or a non-finite value is reported clearly."""

    def fw(pts):
        vals = np.asarray(check_real("f", f(pts)), dtype=np.float64)
        want = pts.shape[:-1]
        if vals.shape != want and vals.shape != want + (1,):
            raise ValueError(f"`f` returned values of shape {vals.shape} for points of shape {pts.shape}; "
                             f"expected shape {want} (points (..., d) in, values (...) out).")
        vals = vals.reshape(want)
        if not np.all(np.isfinite(vals)):
            bad = np.argwhere(~np.isfinite(vals))[0]
            raise ValueError(f"`f` must be finite; it returned {vals[tuple(bad)]!r} at the point "
                             f"{pts[tuple(bad)].tolist()} ({int(np.count_nonzero(~np.isfinite(vals)))} "
                             f"non-finite values on the padded grid).")
        return vals

    return fw


def prepare_values(f, grid: Grid, t: float, beta: float = math.inf):
    """Grid values of f (padding the domain for callables).

    Returns ``(work_grid, values, interior_slices, pad_cells)``.
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a solvers.Grid; got {type(grid).__name__}.")
    if callable(f):
        pgrid, vals, sl = padded_values(_checked_callable(f), grid, t, beta)
        pad = tuple((m - n) // 2 for m, n in zip(pgrid.shape, grid.shape))
        return pgrid, np.ascontiguousarray(vals, dtype=np.float64), sl, pad
    arr = np.asarray(f)
    if arr.shape != grid.shape:
        raise ValueError(f"`f` has shape {arr.shape}, but the grid needs shape {grid.shape}.")
    vals = check_finite_array("f", arr, shape=grid.shape)
    return grid, vals, tuple(slice(None) for _ in grid.shape), (0,) * grid.dim


def _views3(shape, k):
    a = math.prod(shape[:k])
    c = math.prod(shape[k + 1:])
    return (a, int(shape[k]), c)


def _shape3(shape):
    return tuple(shape) + (1,) * (3 - len(shape))


def hopf_lax(f: Union[Callable, np.ndarray], grid: Grid, t: float, *, refine: str = "quadratic") -> HopfLaxResult:
    """Exact Hopf-Lax solution ``u(x,t) = min_y f(y) + |x-y|^2/(2t)`` on a grid.

    Parameters
    ----------
    f : callable or ndarray
        A loss mapping points ``(..., d)`` to values ``(...)`` (the domain is padded
        automatically so that the result is the whole-space solution), or the grid
        values, shape ``grid.shape`` (the minimum runs over the grid as given;
        periodic axes use all periodic images).
    grid : Grid
        Output grid (1-3 axes).
    t : float
        Time, ``t > 0`` finite.
    refine : {"quadratic", "none"}
        ``"none"``: the exact discrete envelope ``min over nodes y``; equals brute
        force to round-off, prox is a node (observed order 2 vs the continuum).
        ``"quadratic"``: ENO-quadratic sub-cell refinement per 1-D pass (observed
        order ~3-4 for smooth f; never above the discrete value; see module doc).

    Returns
    -------
    HopfLaxResult
        ``u`` (grid.shape), ``prox`` and ``grad = (x - prox)/t`` (grid.shape + (d,)),
        ``method="lower-envelope"``, ``params`` with ``refine``, ``pad_cells``,
        ``periodic_images`` (extension cells per pass) and ``parallel``.
        ``compile_time`` is the JIT compile/cache-load time if it happened in this
        call (else 0); ``wall_time`` excludes it.

    Examples
    --------
    >>> g = Grid.uniform([(-2, 2)], 401)
    >>> r = hopf_lax(lambda x: np.abs(x).sum(-1), g, 0.5)   # Huber function
    """
    tv = _check_t(t)
    if refine not in _REFINE:
        raise SchemeError(f"`refine` must be one of {_REFINE}; got {refine!r}.")
    d = grid.dim if isinstance(grid, Grid) else 0
    if d:  # values, u, prox and grad on the (padded) grid: 8 (2 + 2d) bytes per node
        check_grid_memory("hopf_lax", grid, per_node=8.0 * (2 + 2 * d))
    pgrid, vals, sl, pad = prepare_values(f, grid, tv)
    if pgrid is not grid:
        check_grid_memory("hopf_lax", grid, pgrid, per_node=8.0 * (2 + 2 * d))
    par = use_parallel(pgrid.size) and pgrid.dim > 1      # 1-D: a single line, nothing to share
    direct = d == 1 and not pgrid.periodic[0]
    compile_time = _env.warm_up("hl1" if direct else "hl", par)
    t0 = time.perf_counter()
    shape = pgrid.shape
    h = pgrid.spacing
    if direct:
        n = shape[0]
        u = np.empty(n)
        P = np.empty((n, 1))
        grad = np.empty((n, 1))
        _env.hl_line_direct(vals, float(h[0] * h[0] / (2.0 * tv)), refine == "quadratic", float(pgrid.lo[0]),
                            float(h[0]), 1.0 / tv, u, P.reshape(n), grad.reshape(n), np.empty(n, np.int32),
                            np.empty(n + 1))
        return _finish(u, P, grad, grid, pgrid, sl, tv, refine, pad, [0], False, compile_time, t0)
    pas = _env.hl_pass_parallel if par else _env.hl_pass_serial
    u = np.empty(shape)
    P = np.empty(shape + (d,))
    src = vals
    images = []
    grad = np.empty(shape + (d,))
    lo = np.asarray(pgrid.lo, dtype=np.float64)
    hh = np.asarray(h, dtype=np.float64)
    dummy_x = np.zeros((1, d))
    for k in range(d):
        a3 = _views3(shape, k)
        a = h[k] * h[k] / (2.0 * tv)
        e = 0
        if pgrid.periodic[k]:
            osc = float(src.max() - src.min())
            e = int(math.ceil(math.sqrt(osc / a))) + 2
        images.append(e)
        final = k == d - 1
        if final and d > 1:
            # coordinates of the other axes of every line (lines run along the last axis)
            xo = np.zeros((a3[0], d))
            xo[:, :-1] = np.stack(np.meshgrid(*pgrid.axes[:-1], indexing="ij"), -1).reshape(-1, d - 1)
        else:
            xo = dummy_x
        pas(src.reshape(a3), u.reshape(a3), P.reshape(a3 + (d,)), k, e, bool(pgrid.periodic[k]), float(a),
            refine == "quadratic", final, lo, hh, 1.0 / tv, xo, grad.reshape(a3 + (d,)))
        src = u
    return _finish(u, P, grad, grid, pgrid, sl, tv, refine, pad, images, par, compile_time, t0)


def _finish(u, P, grad, grid, pgrid, sl, tv, refine, pad, images, par, compile_time, t0):
    if pgrid is not grid:
        u = np.ascontiguousarray(u[sl])
        P = np.ascontiguousarray(P[sl])
        grad = np.ascontiguousarray(grad[sl])
    wall = time.perf_counter() - t0
    if not np.all(np.isfinite(u)):
        raise NonFiniteError("hopf_lax produced non-finite values; check that f is finite and t is not tiny "
                             f"(t={tv:g}, h={min(pgrid.spacing):g}).")
    params = {"refine": refine, "pad_cells": list(pad), "periodic_images": images, "parallel": bool(par)}
    return HopfLaxResult(u=u, prox=P, grad=grad, grid=grid, t=tv, method="lower-envelope", wall_time=wall,
                         compile_time=compile_time, params=params)
