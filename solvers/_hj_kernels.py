"""Numba kernels of the finite-difference Hamilton-Jacobi solver (1-D, 2-D and 3-D).

Every kernel works on ghost-padded arrays passed *flattened* (C order) together
with the padded shape, so one per-cell routine serves every axis through its
stride.  The ghost cells must be filled beforehand (:mod:`solvers.boundary`);
kernels never branch on the domain edge.

* ``stage_{1,2,3}d[_par]`` write one Runge-Kutta stage on the interior,
  ``O = a W + b (V + dt L(V))`` with ``L(u) = -H_hat(p^-, p^+) + nu Lap u``
  (``a = 0`` drops the ``W`` term: forward Euler / first RK3 stage).
* ``slopes_{1,2,3}d[_par]`` return per-axis ``max |D^+- u|`` (first-order
  differences) and a non-finite flag, used for the CFL time step.

The ``_par`` variants thread over the outermost interior axis with ``prange``
(chunks of the line in 1-D); :func:`stage` and :func:`max_slopes` pick one with
:func:`solvers._jit.use_parallel`.  The NumPy twins are
:func:`solvers.schemes.stage_numpy` and :func:`solvers.schemes.max_slopes_numpy`.
Integer codes: ``deriv`` 0 first / 1 ENO2 / 2 WENO5; ``ham`` 0 Godunov /
1 Rouy-Tourin / 2 local Lax-Friedrichs / 3 Engquist-Osher; ``lap`` 2 or 4.
"""
from __future__ import annotations

import numpy as np

from ._jit import njit, pnjit, prange, use_parallel

_CHUNK = 4096


# ----------------------------------------------------------------------------- per-cell pieces
@njit
def _weno(v1, v2, v3, v4, v5):
    phi1 = v1 / 3.0 - 7.0 * v2 / 6.0 + 11.0 * v3 / 6.0
    phi2 = -v2 / 6.0 + 5.0 * v3 / 6.0 + v4 / 3.0
    phi3 = v3 / 3.0 + 5.0 * v4 / 6.0 - v5 / 6.0
    t1 = v1 - 2.0 * v2 + v3
    t2 = v1 - 4.0 * v2 + 3.0 * v3
    s1 = 13.0 / 12.0 * (t1 * t1) + 0.25 * (t2 * t2)
    t1 = v2 - 2.0 * v3 + v4
    t2 = v2 - v4
    s2 = 13.0 / 12.0 * (t1 * t1) + 0.25 * (t2 * t2)
    t1 = v3 - 2.0 * v4 + v5
    t2 = 3.0 * v3 - 4.0 * v4 + v5
    s3 = 13.0 / 12.0 * (t1 * t1) + 0.25 * (t2 * t2)
    vmax = max(max(max(v1 * v1, v2 * v2), max(v3 * v3, v4 * v4)), v5 * v5)
    eps = 1e-6 * vmax + 1e-99
    e1 = s1 + eps
    e2 = s2 + eps
    e3 = s3 + eps
    a1 = 0.1 / (e1 * e1)
    a2 = 0.6 / (e2 * e2)
    a3 = 0.3 / (e3 * e3)
    return (a1 * phi1 + a2 * phi2 + a3 * phi3) / (a1 + a2 + a3)


@njit
def _minabs(a, b):
    return a if abs(a) <= abs(b) else b


@njit
def _ham(ham, pm, pp):
    if ham == 0:  # Godunov
        a = max(pm, 0.0)
        b = min(pp, 0.0)
        return 0.5 * max(a * a, b * b)
    elif ham == 1:  # Rouy-Tourin, literal form of the figure script
        q = min(0.0, min(-pm, pp))
        return 0.5 * q * q
    elif ham == 2:  # local Lax-Friedrichs
        alpha = max(abs(pm), abs(pp))
        s = 0.5 * (pm + pp)
        return 0.5 * s * s - 0.5 * alpha * (pp - pm)
    else:  # Engquist-Osher
        a = max(pm, 0.0)
        b = min(pp, 0.0)
        return 0.5 * (a * a + b * b)


@njit
def _axis_ham(Vf, k, s, ih, deriv, ham):
    """h(p^-, p^+) along the axis of stride ``s`` at flat index ``k``."""
    c = Vf[k]
    if deriv == 0:
        pm = (c - Vf[k - s]) * ih
        pp = (Vf[k + s] - c) * ih
    elif deriv == 1:
        um2 = Vf[k - 2 * s]
        um1 = Vf[k - s]
        up1 = Vf[k + s]
        up2 = Vf[k + 2 * s]
        a = um2 - 2.0 * um1 + c
        b = um1 - 2.0 * c + up1
        cc = c - 2.0 * up1 + up2
        pm = ((c - um1) + 0.5 * _minabs(a, b)) * ih
        pp = ((up1 - c) - 0.5 * _minabs(b, cc)) * ih
    else:
        um3 = Vf[k - 3 * s]
        um2 = Vf[k - 2 * s]
        um1 = Vf[k - s]
        up1 = Vf[k + s]
        up2 = Vf[k + 2 * s]
        up3 = Vf[k + 3 * s]
        d0 = (um2 - um3) * ih
        d1 = (um1 - um2) * ih
        d2 = (c - um1) * ih
        d3 = (up1 - c) * ih
        d4 = (up2 - up1) * ih
        d5 = (up3 - up2) * ih
        pm = _weno(d0, d1, d2, d3, d4)
        pp = _weno(d5, d4, d3, d2, d1)
    return _ham(ham, pm, pp)


@njit
def _axis_lap(Vf, k, s, q, lap):
    """Central second difference along stride ``s`` times ``q = 1/h^2``."""
    if lap == 2:
        return (Vf[k - s] - 2.0 * Vf[k] + Vf[k + s]) * q
    return (-Vf[k - 2 * s] + 16.0 * Vf[k - s] - 30.0 * Vf[k] + 16.0 * Vf[k + s]
            - Vf[k + 2 * s]) * (q / 12.0)


@njit
def _update(Vf, Wf, Of, k, nd, s0, s1, s2, ih0, ih1, ih2, q0, q1, q2, nu, deriv, ham, lap, a, b, dt):
    hs = _axis_ham(Vf, k, s0, ih0, deriv, ham)
    if nd > 1:
        hs += _axis_ham(Vf, k, s1, ih1, deriv, ham)
    if nd > 2:
        hs += _axis_ham(Vf, k, s2, ih2, deriv, ham)
    r = -hs
    if nu != 0.0:
        lp = _axis_lap(Vf, k, s0, q0, lap)
        if nd > 1:
            lp += _axis_lap(Vf, k, s1, q1, lap)
        if nd > 2:
            lp += _axis_lap(Vf, k, s2, q2, lap)
        r += nu * lp
    val = Vf[k] + dt * r
    if a != 0.0:
        Of[k] = a * Wf[k] + b * val
    else:
        Of[k] = b * val


# ----------------------------------------------------------------------------- stage kernels
@njit
def _range1d(Vf, Wf, Of, lo, hi, g, ih, q, nu, deriv, ham, lap, a, b, dt):
    for i in range(lo, hi):
        _update(Vf, Wf, Of, i + g, 1, 1, 0, 0, ih, 0.0, 0.0, q, 0.0, 0.0, nu, deriv, ham, lap, a, b, dt)


@njit
def stage_1d(Vf, Wf, Of, n0, g, ih, q, nu, deriv, ham, lap, a, b, dt):
    """One stage on a 1-D padded line of ``n0 + 2 g`` values (serial)."""
    _range1d(Vf, Wf, Of, 0, n0, g, ih, q, nu, deriv, ham, lap, a, b, dt)


@pnjit
def stage_1d_par(Vf, Wf, Of, n0, g, ih, q, nu, deriv, ham, lap, a, b, dt):
    """Threaded twin of :func:`stage_1d` (chunks of the line)."""
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for c in prange(nch):
        lo = c * _CHUNK
        hi = min(n0, lo + _CHUNK)
        _range1d(Vf, Wf, Of, lo, hi, g, ih, q, nu, deriv, ham, lap, a, b, dt)


@njit
def _row2d(Vf, Wf, Of, i, n1, m1, g, ih0, ih1, q0, q1, nu, deriv, ham, lap, a, b, dt):
    base = (i + g) * m1 + g
    for j in range(n1):
        _update(Vf, Wf, Of, base + j, 2, m1, 1, 0, ih0, ih1, 0.0, q0, q1, 0.0,
                nu, deriv, ham, lap, a, b, dt)


@njit
def stage_2d(Vf, Wf, Of, n0, n1, g, ih0, ih1, q0, q1, nu, deriv, ham, lap, a, b, dt):
    """One stage on a 2-D padded array of shape ``(n0 + 2g, n1 + 2g)`` passed flat (serial)."""
    m1 = n1 + 2 * g
    for i in range(n0):
        _row2d(Vf, Wf, Of, i, n1, m1, g, ih0, ih1, q0, q1, nu, deriv, ham, lap, a, b, dt)


@pnjit
def stage_2d_par(Vf, Wf, Of, n0, n1, g, ih0, ih1, q0, q1, nu, deriv, ham, lap, a, b, dt):
    """Threaded twin of :func:`stage_2d` (``prange`` over the first axis)."""
    m1 = n1 + 2 * g
    for i in prange(n0):
        _row2d(Vf, Wf, Of, i, n1, m1, g, ih0, ih1, q0, q1, nu, deriv, ham, lap, a, b, dt)


@njit
def _plane3d(Vf, Wf, Of, i, n1, n2, m1, m2, g, ih0, ih1, ih2, q0, q1, q2, nu, deriv, ham, lap, a, b, dt):
    for j in range(n1):
        base = ((i + g) * m1 + (j + g)) * m2 + g
        for l in range(n2):
            _update(Vf, Wf, Of, base + l, 3, m1 * m2, m2, 1, ih0, ih1, ih2, q0, q1, q2,
                    nu, deriv, ham, lap, a, b, dt)


@njit
def stage_3d(Vf, Wf, Of, n0, n1, n2, g, ih0, ih1, ih2, q0, q1, q2, nu, deriv, ham, lap, a, b, dt):
    """One stage on a 3-D padded array passed flat (serial)."""
    m1 = n1 + 2 * g
    m2 = n2 + 2 * g
    for i in range(n0):
        _plane3d(Vf, Wf, Of, i, n1, n2, m1, m2, g, ih0, ih1, ih2, q0, q1, q2, nu, deriv, ham, lap, a, b, dt)


@pnjit
def stage_3d_par(Vf, Wf, Of, n0, n1, n2, g, ih0, ih1, ih2, q0, q1, q2, nu, deriv, ham, lap, a, b, dt):
    """Threaded twin of :func:`stage_3d` (``prange`` over the first axis)."""
    m1 = n1 + 2 * g
    m2 = n2 + 2 * g
    for i in prange(n0):
        _plane3d(Vf, Wf, Of, i, n1, n2, m1, m2, g, ih0, ih1, ih2, q0, q1, q2, nu, deriv, ham, lap, a, b, dt)


# ----------------------------------------------------------------------------- slope reduction
@njit
def _slope_cell(Vf, k, s, ih, cur):
    c = Vf[k]
    dm = abs(c - Vf[k - s]) * ih
    dp = abs(Vf[k + s] - c) * ih
    return max(cur, max(dm, dp)), (dm + dp) * 0.0


@njit
def _slopes_range1d(Vf, lo, hi, g, ih, out, r):
    m0 = 0.0
    bad = 0.0
    for i in range(lo, hi):
        m0, z = _slope_cell(Vf, i + g, 1, ih, m0)
        bad += z
    out[r, 0] = m0
    out[r, 3] = bad


@njit
def slopes_1d(Vf, n0, g, ih):
    """Per-row ``[max|D u|, 0, 0, nan-flag]``; the flag is NaN iff a value is non-finite."""
    out = np.zeros((1, 4))
    _slopes_range1d(Vf, 0, n0, g, ih, out, 0)
    return out


@pnjit
def slopes_1d_par(Vf, n0, g, ih):
    nch = (n0 + _CHUNK - 1) // _CHUNK
    out = np.zeros((nch, 4))
    for c in prange(nch):
        lo = c * _CHUNK
        _slopes_range1d(Vf, lo, min(n0, lo + _CHUNK), g, ih, out, c)
    return out


@njit
def _slopes_row2d(Vf, i, n1, m1, g, ih0, ih1, out):
    base = (i + g) * m1 + g
    m0 = 0.0
    mm1 = 0.0
    bad = 0.0
    for j in range(n1):
        k = base + j
        m0, z0 = _slope_cell(Vf, k, m1, ih0, m0)
        mm1, z1 = _slope_cell(Vf, k, 1, ih1, mm1)
        bad += z0 + z1
    out[i, 0] = m0
    out[i, 1] = mm1
    out[i, 3] = bad


@njit
def slopes_2d(Vf, n0, n1, g, ih0, ih1):
    out = np.zeros((n0, 4))
    m1 = n1 + 2 * g
    for i in range(n0):
        _slopes_row2d(Vf, i, n1, m1, g, ih0, ih1, out)
    return out


@pnjit
def slopes_2d_par(Vf, n0, n1, g, ih0, ih1):
    out = np.zeros((n0, 4))
    m1 = n1 + 2 * g
    for i in prange(n0):
        _slopes_row2d(Vf, i, n1, m1, g, ih0, ih1, out)
    return out


@njit
def _slopes_plane3d(Vf, i, n1, n2, m1, m2, g, ih0, ih1, ih2, out):
    m0 = 0.0
    mm1 = 0.0
    mm2 = 0.0
    bad = 0.0
    for j in range(n1):
        base = ((i + g) * m1 + (j + g)) * m2 + g
        for l in range(n2):
            k = base + l
            m0, z0 = _slope_cell(Vf, k, m1 * m2, ih0, m0)
            mm1, z1 = _slope_cell(Vf, k, m2, ih1, mm1)
            mm2, z2 = _slope_cell(Vf, k, 1, ih2, mm2)
            bad += z0 + z1 + z2
    out[i, 0] = m0
    out[i, 1] = mm1
    out[i, 2] = mm2
    out[i, 3] = bad


@njit
def slopes_3d(Vf, n0, n1, n2, g, ih0, ih1, ih2):
    out = np.zeros((n0, 4))
    m1 = n1 + 2 * g
    m2 = n2 + 2 * g
    for i in range(n0):
        _slopes_plane3d(Vf, i, n1, n2, m1, m2, g, ih0, ih1, ih2, out)
    return out


@pnjit
def slopes_3d_par(Vf, n0, n1, n2, g, ih0, ih1, ih2):
    out = np.zeros((n0, 4))
    m1 = n1 + 2 * g
    m2 = n2 + 2 * g
    for i in prange(n0):
        _slopes_plane3d(Vf, i, n1, n2, m1, m2, g, ih0, ih1, ih2, out)
    return out


# ----------------------------------------------------------------------------- dispatch
def _interior_shape(V, g):
    return tuple(n - 2 * g for n in V.shape)


def stage(V, W, O, g, spacing, nu, deriv, ham, lap, a, b, dt, parallel=None):
    """Fill the interior of ``O`` with ``a W + b (V + dt L(V))`` (all three padded, C-contiguous).

    Parameters
    ----------
    V, W, O : ndarray, same padded shape ``interior + 2 g`` per axis, float64
    g : int, ghost width
    spacing : tuple of d floats
    nu : float, viscosity of the explicit Laplacian term (0 to skip it)
    deriv, ham, lap : int codes (see module doc)
    a, b, dt : float
    parallel : bool or None (None: :func:`use_parallel` on the interior size)
    """
    n = _interior_shape(V, g)
    if parallel is None:
        parallel = use_parallel(int(np.prod(n)))
    ih = [1.0 / h for h in spacing]
    q = [1.0 / (h * h) for h in spacing]
    Vf, Wf, Of = V.reshape(-1), W.reshape(-1), O.reshape(-1)
    d = V.ndim
    if d == 1:
        f = stage_1d_par if parallel else stage_1d
        f(Vf, Wf, Of, n[0], g, ih[0], q[0], nu, deriv, ham, lap, a, b, dt)
    elif d == 2:
        f = stage_2d_par if parallel else stage_2d
        f(Vf, Wf, Of, n[0], n[1], g, ih[0], ih[1], q[0], q[1], nu, deriv, ham, lap, a, b, dt)
    elif d == 3:
        f = stage_3d_par if parallel else stage_3d
        f(Vf, Wf, Of, n[0], n[1], n[2], g, ih[0], ih[1], ih[2], q[0], q[1], q[2],
          nu, deriv, ham, lap, a, b, dt)
    else:  # pragma: no cover - Grid limits d to 3
        raise ValueError(f"arrays must have 1 to 3 axes; got {d}.")


def max_slopes(V, g, spacing, parallel=None):
    """Per-axis ``max |D^+- u|`` on the interior of padded ``V`` and whether all values are finite.

    Returns
    -------
    alpha : ndarray, shape (d,)
    finite : bool
    """
    n = _interior_shape(V, g)
    if parallel is None:
        parallel = use_parallel(int(np.prod(n)))
    ih = [1.0 / h for h in spacing]
    Vf = V.reshape(-1)
    d = V.ndim
    if d == 1:
        out = (slopes_1d_par if parallel else slopes_1d)(Vf, n[0], g, ih[0])
    elif d == 2:
        out = (slopes_2d_par if parallel else slopes_2d)(Vf, n[0], n[1], g, ih[0], ih[1])
    else:
        out = (slopes_3d_par if parallel else slopes_3d)(Vf, n[0], n[1], n[2], g, ih[0], ih[1], ih[2])
    alpha = out[:, :d].max(axis=0)
    finite = bool(np.isfinite(out[:, 3]).all() and np.isfinite(alpha).all())
    return alpha, finite
