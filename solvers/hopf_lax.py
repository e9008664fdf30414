"""Exact non-viscous Hamilton-Jacobi solution (Hopf-Lax formula / Moreau envelope).

For ``u_t = -1/2 |grad u|^2``, ``u(x, 0) = f(x)``:

.. math::  u(x, t) = \\min_y\\, f(y) + \\frac{|x - y|^2}{2t},\\qquad
           \\mathrm{prox}(x) = \\arg\\min_y,\\qquad \\nabla u = (x - \\mathrm{prox}) / t .

Algorithm (numerics.md B.2).  The kernel factorises, ``|x - y|^2 = sum_k (x_k - y_k)^2``,
so the d-dimensional minimum is d successive 1-D minima along the axes.  Each 1-D
minimum ``min_j g_j + (x - y_j)^2 / (2t)`` over a line of n nodes is the lower
envelope of n parabolas, built and queried in O(n) by the Felzenszwalb-Huttenlocher
algorithm (Numba, lines in parallel; a non-periodic 1-D problem runs straight on the
data without line copies).  Total cost O(d N).  Passes along a non-last axis work on
tiles of 16 neighbouring lines, gathered row by row (contiguous reads) into contiguous
work lines, so no pass walks a strided column; all passes after the first run in place
on ``u``, so the memory is the outputs plus one tile of work lines per thread
(``solvers._hl_kernels``).  ``outputs=("u",)`` skips the prox tracking below.

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

Observed accuracy against the continuum (``tests/solvers/test_hopf_lax.py``,
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
import os
import time
from typing import Callable, Union

import numpy as np

from . import _hl_kernels as _hk
from . import _memory
from ._domain import padded_values, views3
from .jit import use_parallel
from ._memory import check_grid_memory
from .errors import NonFiniteError, SchemeError, check_finite_array, check_positive, check_real
from .grid import Grid
from .result import HopfLaxResult, fast_result

__all__ = ["hopf_lax"]

_REFINE = ("none", "quadratic")
_OUTPUTS = ("u", "prox", "grad")


#: Largest scale factor the envelope kernels take (they multiply the data by t / (beta h^2)).
ENVELOPE_SCALE_MAX = 1e290


def check_envelope_scale(where: str, vals: np.ndarray, spacing, t: float, beta: float = math.inf, *,
                         absmax: float = None) -> None:
    """Raise ``ValueError`` if the lower-envelope arithmetic would overflow.

    The kernels compute ``g / (2a)`` with ``g = beta f`` and ``a = beta h^2 / (2t)`` (Hopf-Lax: ``g = f``,
    ``a = h^2 / (2t)``), i.e. ``f t / h^2`` and ``t / (beta h^2)``; beyond ~1e308 they are inf/NaN and
    the kernels index out of bounds.  There the quadratic ``|x - y|^2 / (2t)`` is below the float64
    resolution of ``f`` over the whole grid (or, viscous, the heat kernel is > 1e145 cells wide).
    ``absmax``: ``max|vals|`` when the caller has it already.
    """
    w = 1.0 if math.isinf(beta) else beta
    fmax = float(np.max(np.abs(vals))) if absmax is None else absmax
    scale = t / (w * min(spacing) ** 2) * max(1.0, w * fmax)
    if not scale <= ENVELOPE_SCALE_MAX:
        raise ValueError(f"{where}: `t` = {t:g} is too large for the grid and data (max|f| = "
                         f"{fmax:.3g}, h = {min(spacing):.3g}"
                         + ("" if math.isinf(beta) else f", beta = {beta:g}") + f"): the kernel arithmetic needs "
                         f"{scale:.3g} > {ENVELOPE_SCALE_MAX:g}, where |x - y|^2 / (2t) is below float64 resolution "
                         f"over the whole grid. Use a smaller t" + ("" if math.isinf(beta) else " (or t/beta)")
                         + " or rescale f.")


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
    if (type(f) is np.ndarray and f.dtype == np.float64 and f.flags.c_contiguous and isinstance(grid, Grid)
            and f.shape == grid.shape and not math.isnan(_hk.finite_absmax(f.reshape(-1)))):
        # the common case, checked in one compiled read: a finite float64 C array of the grid's shape (what
        # check_finite_array returns unchanged); anything else takes the general path and its messages
        return grid, f, (slice(None),) * grid.dim, (0,) * grid.dim
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


def _check_outputs(outputs) -> tuple:
    if outputs is _OUTPUTS:
        return _OUTPUTS
    if isinstance(outputs, str):
        outputs = (outputs,)
    try:
        outs = tuple(outputs)
    except TypeError:
        raise TypeError(f"`outputs` must be a tuple of names from {_OUTPUTS}; got {outputs!r}.") from None
    bad = [o for o in outs if o not in _OUTPUTS]
    if bad or "u" not in outs:
        raise ValueError(f"`outputs` must contain 'u' and only names from {_OUTPUTS}; got {outputs!r}.")
    return tuple(o for o in _OUTPUTS if o in outs)


# The environment as CPython's os.environ stores it (what os.environ.get reads, 10x cheaper: 0.05 us instead of
# 0.55, 2% of a 1-D solve of 4096 nodes); os.environ itself where that storage is not there.
try:
    _ENV, _ENV_KEY = os.environ._data, os.environ.encodekey(_memory.ENV_VAR)
except AttributeError:                            # pragma: no cover - other Python implementations
    _ENV, _ENV_KEY = os.environ, _memory.ENV_VAR


def _check_memory(grid: Grid, work_grid: Grid, per_node: float) -> None:
    # check_grid_memory's own early return, without building its messages (~2 us, a tenth of a 1-D solve)
    if (per_node * work_grid.size >= _memory.SMALL_REQUEST or _memory._override is not None
            or _ENV.get(_ENV_KEY)):
        check_grid_memory("hopf_lax", grid, None if work_grid is grid else work_grid, per_node=per_node)


def _check_out(out, outs: tuple, grid: Grid, vals: np.ndarray) -> tuple:
    """The arrays of ``out`` for ``outs`` as ``(u, prox or None, grad or None)``, checked."""
    try:
        arrs = [out[name] if name in outs else None for name in _OUTPUTS]
    except (TypeError, KeyError, IndexError):
        raise TypeError(f"`out` must be a mapping with the keys {list(outs)} (the outputs asked for) to arrays, "
                        f"e.g. dict(u=..., prox=..., grad=...) or an earlier result's .to_dict(); got "
                        f"{type(out).__name__} without them.") from None
    d = grid.dim
    seen = []
    for name, arr in zip(_OUTPUTS, arrs):
        if name not in outs:
            continue
        want = grid.shape if name == "u" else grid.shape + (d,)
        if not (type(arr) is np.ndarray and arr.dtype == np.float64 and arr.shape == want
                and arr.flags.c_contiguous and arr.flags.writeable):
            got = (f"{type(arr).__name__}" if not isinstance(arr, np.ndarray) else
                   f"array of shape {arr.shape}, dtype {arr.dtype}, C-contiguous {arr.flags.c_contiguous}, "
                   f"writeable {arr.flags.writeable}")
            raise ValueError(f"`out['{name}']` must be a writeable C-contiguous float64 array of shape {want}; "
                             f"got {got}.")
        for other, a in [("f", vals)] + seen:
            if np.may_share_memory(arr, a):
                raise ValueError(f"`out['{name}']` overlaps `{other if other == 'f' else f'out[{other!r}]'}`: "
                                 f"the outputs must be separate arrays, apart from f.")
        seen.append((name, arr))
    return tuple(arrs)


def hopf_lax(f: Union[Callable, np.ndarray], grid: Grid, t: float, *, refine: str = "quadratic",
             outputs=_OUTPUTS, out=None) -> HopfLaxResult:
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
    outputs : tuple of {"u", "prox", "grad"}
        What to compute; must contain ``"u"``.  ``("u",)`` skips the prox tracking (about
        half the work and two ``grid.shape + (d,)`` arrays); the fields not asked for are
        ``None``.  ``u`` is the same bit for bit whatever is asked.
    out : mapping, optional
        Arrays to write the outputs into, for repeated calls on one grid: ``out[name]`` for
        every name in ``outputs`` (other keys are ignored, so an earlier result's
        ``.to_dict()`` works), shapes ``grid.shape`` (``"u"``) and ``grid.shape + (d,)``,
        float64, C-contiguous, writeable, not overlapping ``f`` or each other.  The result
        holds these arrays (same numbers as without ``out``).  Saves the allocation and the
        first-touch page faults of fresh outputs (for a callable ``f`` the padded solve
        still allocates; its interior is copied into ``out``).

    Returns
    -------
    HopfLaxResult
        ``u`` (grid.shape), ``prox`` and ``grad = (x - prox)/t`` (grid.shape + (d,), or
        ``None`` when not in ``outputs``), ``method="lower-envelope"``, ``params`` with
        ``refine``, ``outputs``, ``pad_cells``, ``periodic_images`` (extension cells per
        pass) and ``parallel``.  ``compile_time`` is the JIT compile/cache-load time if it
        happened in this call (else 0); ``wall_time`` excludes it.

    Notes
    -----
    Memory: the outputs only (the passes work in place) plus one tile of work lines
    per thread (``solvers._hl_kernels``).  Without ``out``, ``prox`` and ``grad`` are two
    halves of one allocation (one block is reused by the allocator from call to call; two
    separate arrays of >= 4 MiB were returned to the system after every call and touched
    afresh, ~1200 page faults per call at 512^2), so keeping only one of them keeps both.

    Examples
    --------
    >>> g = Grid.uniform([(-2, 2)], 401)
    >>> r = hopf_lax(lambda x: np.abs(x).sum(-1), g, 0.5)   # Huber function
    >>> u = hopf_lax(lambda x: np.abs(x).sum(-1), g, 0.5, outputs=("u",)).u
    >>> r2 = hopf_lax(np.abs(g.axes[0]), g, 0.25, out=r.to_dict())   # r's arrays, overwritten
    """
    tv = t if type(t) is float and 0.0 < t < math.inf else check_positive("t", t)
    if refine not in _REFINE:
        raise SchemeError(f"`refine` must be one of {_REFINE}; got {refine!r}.")
    outs = _check_outputs(outputs)
    track = "prox" in outs or "grad" in outs
    want_grad = "grad" in outs
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a solvers.Grid; got {type(grid).__name__}.")
    d = grid.dim
    # values, u, prox and grad (as asked) on the (padded) grid; the passes need no other array but
    # the envelope's scratch, which is one line long (the whole grid in 1-D: 20 bytes per node, or 52 with
    # the refinement's cell tables, which take the place of 8 of them)
    per_node = 8.0 * (2 + d * track + d * want_grad) + ((52.0 if refine == "quadratic" else 20.0) if d == 1
                                                        else 0.0)
    _check_memory(grid, grid, per_node)
    compile_time = _hk.warm_up_checks()
    absmax = math.nan
    if (type(f) is np.ndarray and f.dtype == np.float64 and f.flags.c_contiguous and f.shape == grid.shape):
        # the common case, checked in one compiled read: a finite float64 C array of the grid's shape (what
        # check_finite_array returns unchanged); anything else takes the general path and its messages
        absmax = _hk.finite_absmax(f if d == 1 else f.reshape(-1))
    if absmax == absmax:
        pgrid, vals, sl, pad = grid, f, None, (0,) * d
    else:
        pgrid, vals, sl, pad = prepare_values(f, grid, tv)
        if pgrid is not grid:
            _check_memory(grid, pgrid, per_node)
        absmax = _hk.finite_absmax(vals.reshape(-1))
    h = pgrid.spacing
    if not tv / min(h) ** 2 * max(1.0, absmax) <= ENVELOPE_SCALE_MAX:     # check_envelope_scale's test
        check_envelope_scale("hopf_lax", vals, h, tv, absmax=absmax)
    bufs = None
    if out is not None:
        bufs = _check_out(out, outs, grid, vals)
    par = d > 1 and use_parallel(pgrid.size)      # 1-D: a single line, nothing to share
    compile_time += _hk.warm_up(par)
    t0 = time.perf_counter()
    u, P, grad, images, uabs = _solve(vals, pgrid, tv, refine == "quadratic", track, want_grad, par, _hk.TILE, h,
                                      bufs if pgrid is grid else None)
    if pgrid is not grid:
        if bufs is None:
            u = np.ascontiguousarray(u[sl])
            P = None if P is None else np.ascontiguousarray(P[sl])
            grad = None if grad is None else np.ascontiguousarray(grad[sl])
        else:
            for dst, src in zip(bufs, (u, P, grad)):
                if dst is not None:
                    np.copyto(dst, src[sl])
            u, P, grad = bufs
    wall = time.perf_counter() - t0
    if uabs is None:
        uabs = _hk.finite_absmax(u if d == 1 else u.reshape(-1))
    if math.isnan(uabs):
        raise NonFiniteError("hopf_lax produced non-finite values; check that f is finite and t is not tiny "
                             f"(t={tv:g}, h={min(h):g}).")
    params = {"refine": refine, "outputs": list(outs), "pad_cells": list(pad), "periodic_images": images,
              "parallel": par}
    return fast_result(HopfLaxResult, u=u, prox=P if "prox" in outs else None, grad=grad, grid=grid, t=tv,
                       method="lower-envelope", wall_time=wall, compile_time=compile_time, params=params)


def _solve(vals, pgrid: Grid, tv: float, refine: bool, track: bool, want_grad: bool, par: bool, tile: int,
           h: tuple = None, bufs: tuple = None):
    """The passes: ``vals`` (pgrid.shape) -> ``(u, P or None, grad or None, images per pass, max |u| or None)``
    (``max |u|``, NaN if some value is not finite, where a kernel computed it: the 1-D direct line).

    Axes are done in the order 0 .. d-1; every pass but the last is a tiled pass (``tile`` lines at
    a time), the last one runs along contiguous rows; all passes after the first work in place on ``u``.
    ``h``: ``pgrid.spacing`` when the caller has it; ``bufs``: ``(u, P, grad)`` arrays to write into
    (``None`` entries allocated here; ``P`` is also needed as the pass's work array when only the
    gradient is asked for).
    """
    shape = pgrid.shape
    d = len(shape)
    h = pgrid.spacing if h is None else h
    u, P, grad = (None, None, None) if bufs is None else bufs
    if u is None:
        u = np.empty(shape)
    need_p = track and P is None
    need_g = want_grad and grad is None
    if need_p or need_g:
        # prox and grad as two halves of one block (see hopf_lax's Notes)
        blk = np.empty((need_p + need_g,) + shape + (d,))
        if need_p:
            P = blk[0]
        if need_g:
            grad = blk[1 if need_p else 0]
    if d == 1 and not pgrid.periodic[0]:
        n = shape[0]
        uabs = _hk.hl_line_direct(vals, h[0], float(pgrid.lo[0]), tv, refine, track, want_grad, u,
                                  _hk.DUMMY2 if P is None else P, _hk.DUMMY2 if grad is None else grad,
                                  np.empty(_hk.direct_scratch_size(n, refine)))
        return u, P, grad, [0], uabs
    dummy = np.empty((1, 1, 1))
    lo = np.asarray(pgrid.lo, dtype=np.float64)
    hh = np.asarray(h, dtype=np.float64)
    images = []
    src = vals
    for k in range(d):
        a = h[k] * h[k] / (2.0 * tv)
        e = 0
        if pgrid.periodic[k]:
            osc = float(src.max() - src.min())
            # images beyond half a period never win (the nearest image of the best node is closer), so a
            # huge osc / t (which asked for 1e8+ images: OOM) is capped at one period
            e = int(math.ceil(math.sqrt(min(osc / a, (0.5 * shape[k] + 1.0) ** 2)))) + 2
        images.append(e)
        A, n, C = views3(shape, k)
        if k < d - 1:
            ntiles = A * ((C + tile - 1) // tile)
            pas = _hk.hl_strided_parallel if par else _hk.hl_strided_serial
            pas(src.reshape(A, n, C), u.reshape(A, n, C), P.reshape(A, n, C, d) if track else dummy[..., None],
                k, e, bool(pgrid.periodic[k]), float(a), refine, track, tile, _hk.chunks(ntiles, par))
        else:
            pas = _hk.hl_contig_parallel if par else _hk.hl_contig_serial
            pas(src.reshape(A, n), u.reshape(A, n), P.reshape(A, n, d) if track else dummy,
                grad.reshape(A, n, d) if want_grad else dummy, k, e, bool(pgrid.periodic[k]), float(a), refine,
                track, want_grad, lo, hh, 1.0 / tv, int(shape[1]) if d == 3 else 1, _hk.chunks(A, par))
        src = u
    return u, P, grad, images, None
