r"""Exact heat semigroup of the semi-discrete Laplacian, ``exp(tau Lap_h)``, on 1-3 D grids.

This is the diffusion substep of the split (IMEX) viscous HJ step of :func:`solvers.hj.solve_hj`
(``tau = nu dt / 2``), compiled with Numba so that the time march of :mod:`solvers._hj_march` runs
it without returning to Python; the FFTs are pocketfft's, through the ``rocket-fft`` Numba
extension of :mod:`scipy.fft`.

* Periodic axes: FFT with the symbol of the 3-point (``laplacian_order=2``) or 5-point (4) central
  Laplacian, ``lambda(theta) = -4 sin^2(theta/2) / h^2`` or ``4 (cos theta - 1)(7 - cos theta) / (12 h^2)``.
* Non-periodic axes: the end values are held (linear-extrapolation boundary, zero second difference
  there); the affine interpolant of the two end values is removed and the rest is evolved exactly
  with the type-I discrete sine transform that diagonalises the 3-point Dirichlet Laplacian.

The axis factors commute, so the product is exact.  With the 3-point symbol every factor has a
non-negative kernel (maximum principle).
"""
from __future__ import annotations

import numpy as np
import scipy.fft as sfft

try:  # registers scipy.fft for Numba (pocketfft inside compiled code)
    import rocket_fft  # noqa: F401
except ImportError as exc:  # pragma: no cover - a dependency of the package
    raise ImportError("solvers.heat needs the rocket-fft package (a dependency of deeprelax: "
                      "pip install rocket-fft, or reinstall the package)") from exc

from .jit import njit

__all__ = ["heat_semigroup", "heat_tables", "heat_apply"]


def heat_tables(shape, spacing, periodic, laplacian_order: int = 2) -> tuple:
    """Per-axis eigenvalues of the semi-discrete Laplacian for :func:`heat_apply`.

    Returns a tuple of ``d`` float64 arrays: the ``n_k // 2 + 1`` real-FFT eigenvalues of a periodic
    axis, or the ``max(n_k - 2, 0)`` sine-transform eigenvalues ``-4 sin^2(pi j / (2 (n_k - 1))) / h^2``
    of a non-periodic one (3-point Laplacian there whatever ``laplacian_order``).
    """
    out = []
    for n, h, per in zip(shape, spacing, periodic):
        n, h = int(n), float(h)
        if per:
            theta = 2.0 * np.pi * np.arange(n // 2 + 1) / n
            if laplacian_order == 2:
                lam = -(4.0 / (h * h)) * np.sin(0.5 * theta) ** 2
            else:
                c = np.cos(theta)
                lam = 4.0 * (c - 1.0) * (7.0 - c) / (12.0 * h * h)  # = (-2cos2t + 32cos t - 30)/(12h^2)
        else:
            j = np.arange(1, max(n - 1, 1))
            lam = -(4.0 / (h * h)) * np.sin(np.pi * j / (2.0 * (n - 1))) ** 2 if n >= 3 else np.zeros(0)
        out.append(np.ascontiguousarray(lam, dtype=np.float64))
    return tuple(out)


@njit
def _axis_sizes(shape, k):
    outer = 1
    inner = 1
    for i in range(len(shape)):
        if i < k:
            outer *= shape[i]
        elif i > k:
            inner *= shape[i]
    return outer, shape[k], inner


@njit
def heat_apply(src, dst, tables, periodic, tau):
    """``dst[...] = exp(tau Lap_h) src`` (``src``, ``dst``: arrays of one shape, may be the same
    array or strided views; ``tables`` from :func:`heat_tables`; ``periodic`` a tuple of bools)."""
    if tau != 0.0 and src.ndim == 1 and periodic[0]:  # the 1-D periodic case without the generic reshaping
        f = sfft.rfft(np.ascontiguousarray(src))
        ef = np.exp(tau * tables[0])
        for m in range(f.shape[0]):
            f[m] *= ef[m]
        dst[...] = sfft.irfft(f, src.shape[0])
        return
    u = np.ascontiguousarray(src).copy()
    if tau != 0.0:
        for k in range(u.ndim):
            outer, n, inner = _axis_sizes(u.shape, k)
            u3 = u.reshape((outer, n, inner))
            ef = np.exp(tau * tables[k])
            if periodic[k]:
                f = sfft.rfft(u3, None, 1)
                for i in range(outer):
                    for m in range(f.shape[1]):
                        e = ef[m]
                        for l in range(inner):
                            f[i, m, l] *= e
                u3 = sfft.irfft(f, n, 1)
            elif n >= 3:
                lin = np.empty_like(u3)
                w = np.empty((outer, n - 2, inner))
                for i in range(outer):
                    for l in range(inner):
                        first = u3[i, 0, l]
                        last = u3[i, n - 1, l]
                        for m in range(n):
                            lin[i, m, l] = first + (m / (n - 1)) * (last - first)
                        for m in range(1, n - 1):
                            w[i, m - 1, l] = u3[i, m, l] - lin[i, m, l]
                f = sfft.dst(w, 1, None, 1)
                for i in range(outer):
                    for m in range(n - 2):
                        e = ef[m]
                        for l in range(inner):
                            f[i, m, l] *= e
                w = sfft.idst(f, 1, None, 1)
                for i in range(outer):
                    for m in range(1, n - 1):
                        for l in range(inner):
                            lin[i, m, l] += w[i, m - 1, l]
                u3 = lin
            u = np.ascontiguousarray(u3).reshape(u.shape)
    dst[...] = u


def heat_semigroup(u: np.ndarray, spacing, periodic, tau: float, laplacian_order: int = 2) -> np.ndarray:
    """Exact ``exp(tau Lap_h) u`` for the semi-discrete Laplacian (``tau = nu * dt``).

    Periodic axes: FFT with the symbol of the 3-point (``laplacian_order=2``) or 5-point (4)
    central Laplacian.  Non-periodic axes: the end values are held (linear-extrapolation boundary,
    zero second difference there); the affine interpolant of the ends is removed and the rest is
    evolved exactly with the type-I discrete sine transform that diagonalises the 3-point Dirichlet
    Laplacian.  The axis factors commute, so the product is exact.  With the 3-point symbol every
    factor has a non-negative kernel (maximum principle).

    Parameters
    ----------
    u : ndarray, shape (n_0, ..., n_{d-1}), 1 to 3 axes
    spacing : sequence of d floats
    periodic : sequence of d bools
    tau : float >= 0
    laplacian_order : {2, 4}

    Returns
    -------
    ndarray, same shape (a new C-contiguous float64 array)
    """
    u = np.array(u, dtype=np.float64, copy=True)
    if tau == 0.0:
        return u
    per = tuple(bool(p) for p in periodic)
    out = np.empty_like(u)
    heat_apply(u, out, heat_tables(u.shape, spacing, per, laplacian_order), per, float(tau))
    return out
