"""The grid methods of the local entropy: ``"quadrature"`` (Cole-Hopf), ``"pde"`` (the viscous HJ
equation) and ``"prox"`` (Hopf-Lax on a grid, or the meshfree proximal point), on a grid that holds the
points' domain of dependence (:func:`_auto_shape`), with a self-check at the cell cap
(:class:`ResolutionWarning`).  :mod:`deeprelax.local_entropy` documents the methods and dispatches to
:func:`_grid_method`.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from solvers._domain import LOG_CUTOFF
from solvers.errors import GridError, StabilityError
from solvers.grid import Grid

from ._le_base import curvature_bound

__all__ = ["ResolutionWarning"]

_MAX_CELLS = {1: 8001, 2: 401, 3: 97}
#: Warn when the cell cap leaves the grid this many times coarser than the spacing the loss, t and beta need.
_COARSE_WARN = 4.0
#: ... and the answer on a grid of 0.7x the cells differs by more than this (relative to max(1, |u|)).
_COARSE_TOL = 1e-3


class ResolutionWarning(RuntimeWarning):
    """A grid method ran at its cell cap, coarser than the scales of the loss, ``t`` and ``beta`` need:
    its answer may be off by more than its usual error (``cells=``, closer points or ``method="sgld"``)."""


_MAX_CELLS_PDE = {1: 1601, 2: 161, 3: 49}


def _reach_box(loss, pts, t, beta, fmin):
    """Box holding, for every point x, the ball where the Gibbs weight of y is not negligible.

    ``exp(-beta [f(y) + |x-y|^2/(2t)]) >= exp(-LOG_CUTOFF) exp(-beta f(x))`` needs
    ``|x - y| <= R(x) = sqrt(2 t (f(x) - min f + LOG_CUTOFF / beta))`` (``solvers._domain``), so
    the union of these balls is the whole quadrature domain, whatever the spread of the points.
    """
    extra = 0.0 if not math.isfinite(beta) else LOG_CUTOFF / beta
    fx = np.asarray(loss.value(pts), dtype=np.float64).reshape(-1)
    R = np.sqrt(2.0 * t * (np.maximum(fx - fmin, 0.0) + extra))
    return (pts - R[:, None]).min(0), (pts + R[:, None]).max(0), fx


def _auto_shape(loss, X, t, beta, cells, cap=None):
    """Grid and loss values for the grid methods: the domain comes from the loss, ``t`` and ``beta``.

    The box is the union over the points of the balls of radius
    ``R(x) = sqrt(2 t (f(x) - min f + 40/beta))`` (:func:`_reach_box`) plus 4 cells, so the
    values at the points are whole-space exact for any set of points (a single point, clustered
    points, large t, small or large beta; issue 13).  The spacing resolves ``sqrt(t/beta)``,
    ``1/sqrt(beta C)`` and ``1/sqrt(C)`` (``C`` a curvature bound of f), within the cell cap; the
    minimum of f over the box is refined from the sampled values until the box is stable.

    Returns
    -------
    grid : Grid
    values : ndarray, ``grid.shape`` (f on the grid; the solvers use the box as given)
    coarse : float
        How many times coarser than the wanted spacing the cell cap left the grid (1 if not capped
        or if ``cells`` was given).
    """
    d = loss.dim
    pts = X.reshape(-1, d)
    cap = (cap or _MAX_CELLS)[d]
    C = None if cells is not None else curvature_bound(loss)
    coarse = 1.0
    fmin = float(np.min(loss.value(pts)))
    for _ in range(8):
        lo, hi, fx = _reach_box(loss, pts, t, beta, fmin)
        width = hi - lo
        if cells is not None:
            n = np.broadcast_to(np.asarray(cells, dtype=int), (d,))
            if np.any(n < 12):
                raise ValueError(f"`cells` must be >= 12 per axis; got {cells!r}.")
            h = width / (n - 9)
        else:
            scales = [math.sqrt(t / beta) if math.isfinite(beta) else math.inf,
                      1.0 / math.sqrt(beta * C) if math.isfinite(beta) else math.inf,
                      1.0 / math.sqrt(C) if C > 0 else math.inf, 0.1 * max(float(np.max(width)), 1.0)]
            r = 8.0 if d == 1 else 4.0
            h0 = min(scales[0] / r, scales[1] / 4.0, scales[2] / r, scales[3] / 4.0)
            if not math.isfinite(beta):
                h0 = min(h0, float(np.max(width)) / (2000.0 if d == 1 else 300.0 if d == 2 else 60.0))
            width = np.maximum(width, h0)
            n = np.minimum(np.ceil(width / h0).astype(int) + 9, cap)
            h = width / (n - 9)
            coarse = float(np.max(h)) / h0
        b = [(float(lo[k] - 4 * h[k]), float(lo[k] - 4 * h[k] + (n[k] - 1) * h[k])) for k in range(d)]
        grid = Grid.uniform(b, tuple(int(v) for v in n))
        vals = grid.sample(loss.value, name="loss")
        vmin = float(vals.min())
        if vmin >= fmin - 1e-12 * max(1.0, abs(fmin)):
            break
        fmin = vmin  # a lower minimum inside the box: the reach grows, resample
    return grid, vals, coarse


def _grows_outward(vals: np.ndarray, depth: int = 5) -> bool:
    """Whether f is non-decreasing outward over the ``depth`` outermost nodes of every face of the box."""
    for k in range(vals.ndim):
        v = np.moveaxis(vals, k, 0)
        if v.shape[0] < 2 * depth:
            return False
        if np.any(np.diff(v[:depth], axis=0) > 0) or np.any(np.diff(v[-depth:], axis=0) < 0):
            return False
    return True


def _interp(grid: Grid, values: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Cubic interpolation of grid values at points ``(P, d)`` -> ``(P,)``."""
    from scipy import interpolate as si

    d = grid.dim
    if d == 1:
        s = si.make_interp_spline(grid.axes[0], values, k=3)
        return s(pts[:, 0])
    if d == 2:
        s = si.RectBivariateSpline(grid.axes[0], grid.axes[1], values, kx=3, ky=3, s=0)
        return s.ev(pts[:, 0], pts[:, 1])
    r = si.RegularGridInterpolator(grid.axes, values, method="cubic")
    return r(pts)


def _central_grad(u, spacing):
    """4th-order central differences (2nd order one-sided at the two edge rows): ``grid.shape + (d,)``."""
    out = np.empty(u.shape + (u.ndim,))
    for k in range(u.ndim):
        g = np.gradient(u, spacing[k], axis=k, edge_order=2)
        sl = [slice(None)] * u.ndim
        n = u.shape[k]
        if n >= 5:
            def s(a, b):
                q = list(sl)
                q[k] = slice(a, n + b if b <= 0 else b)
                return tuple(q)
            inner = (u[s(0, -4)] - 8 * u[s(1, -3)] + 8 * u[s(3, -1)] - u[s(4, 0)]) / (12 * spacing[k])
            q = list(sl)
            q[k] = slice(2, n - 2)
            g[tuple(q)] = inner
        out[..., k] = g
    return out


def _grid_method(loss, X, t, beta, method, cells=None, scheme="weno5", solver=None, prox_method="auto"):
    from solvers.cole_hopf import cole_hopf
    from solvers.hj import solve_hj
    from solvers.hopf_lax import hopf_lax

    d = loss.dim
    pts = X.reshape(-1, d)
    if method == "prox" and (solver or ("grid" if d <= 2 else "meshfree")) == "meshfree":
        from .prox import prox as _prox

        pm = prox_method
        if pm == "auto":
            pm = "newton" if loss.has_hess else "gd"
        r = _prox(loss, pts, t, method=pm)
        P = r.prox
        return r.value, (pts - P) / t, P, {"solver": "meshfree", "prox_method": r.method}
    if d > 3:
        raise ValueError(f"method {method!r} needs a grid: loss.dim must be <= 3; got {d}. Use 'sgld' "
                         f"(or 'prox' with solver='meshfree' at beta = inf).")
    grid, vals, coarse = _auto_shape(loss, X, t, beta, cells, _MAX_CELLS_PDE if method == "pde" else None)
    # the box already holds every point's domain of dependence: the solvers use it as given
    if method == "quadrature":
        res = cole_hopf(vals, grid, t, beta)
        info = {"solver": "cole_hopf", "cole_hopf_method": res.method}
        U, G = res.u, res.grad
    elif method == "prox":
        res = hopf_lax(vals, grid, t)
        U, G = res.u, res.grad
        info = {"solver": "hopf_lax"}
    else:
        # The box covers the points' exact domain of dependence, but a PDE on it is exact only if its
        # extrapolated boundary values do not travel inward.  Where f grows outward on every face the
        # characteristics leave the box and it is used as given; elsewhere (an oscillating loss) the
        # boundary error travels inward at speed |grad u| (rastrigin, t=0.3, beta=1e4: grad 42.7 instead
        # of 1.65), so solve_hj gets the loss as a callable and pads the box by its own reach.
        try:
            res = solve_hj(vals if _grows_outward(vals) else loss.value, grid, t, beta=beta, scheme=scheme)
        except (GridError, StabilityError) as e:
            why = ("the padding its boundary needs exceeds 64x the grid" if isinstance(e, GridError) else
                   "the explicit time steps would be below 1e-9 of t")
            raise type(e)(f"method='pde' cannot solve this case (t={t:g}, beta={beta:g}, loss "
                          f"{getattr(loss, 'name', type(loss).__name__)!r}): the loss grows too steeply over "
                          f"the domain these t and beta reach, so {why}. Use method='quadrature' (Cole-Hopf "
                          f"quadrature), which works for any t and beta.") from e
        U = res.u
        G = _central_grad(U, grid.spacing)
        info = {"solver": "solve_hj", "scheme": res.scheme, "padded": bool(res.params.get("padded"))}
    u = _interp(grid, U, pts)
    g = np.stack([_interp(grid, G[..., k], pts) for k in range(d)], axis=-1)
    info.update({"grid_shape": list(grid.shape), "grid_bounds": [list(b) for b in zip(grid.lo, grid.hi)]})
    if coarse > _COARSE_WARN:
        # At the cell cap the spacing is coarser than the loss, t and beta ask for: estimate the error by
        # solving again on a grid of ~0.7x the cells and say so when the two disagree.
        n2 = tuple(max(12, int(round(0.7 * (n - 9))) + 9) for n in grid.shape)
        u2 = _grid_method(loss, X, t, beta, method, cells=n2, scheme=scheme, solver=solver,
                          prox_method=prox_method)[0]
        diff = float(np.max(np.abs(u - u2)))
        info["coarse_factor"], info["coarse_check"] = coarse, {"cells": list(n2), "max_abs_diff": diff}
        if diff > _COARSE_TOL * max(1.0, float(np.max(np.abs(u)))):
            name = getattr(loss, "name", type(loss).__name__)
            warnings.warn(
                f"local entropy ({method!r}) of loss {name!r} at t={t:g}, beta={beta:g}: the grid is at its cell "
                f"cap {tuple(grid.shape)}, {coarse:.0f}x coarser than these scales ask for, and a grid of {n2} "
                f"cells differs by up to {diff:.2g} in u: the answer may be off by about that much. Evaluate "
                f"fewer or closer points (one grid spans all of them), pass cells= finer, or use "
                f"method='sgld'.", ResolutionWarning, stacklevel=_user_stacklevel())
    return u, g, pts - t * g, info


def _user_stacklevel() -> int:
    """``stacklevel`` that points a warning at the first frame outside deeprelax and solvers."""
    import os
    import sys

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pkgs = (os.path.join(here, "deeprelax") + os.sep, os.path.join(here, "solvers") + os.sep)
    f, level = sys._getframe(1), 1
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(pkgs):
        f, level = f.f_back, level + 1
    return level
