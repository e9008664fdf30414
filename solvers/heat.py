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

:func:`heat_spectral` (periodic grids) applies ``exp((tau_a + tau_b) Lap_h)`` with one real FFT pair and
returns the gradient energies after ``tau_a`` and ``tau_a + tau_b`` by Parseval: the merged heat
half-steps of the split march.  In 2-D and 3-D it runs the low-level transforms of ``rocket-fft`` on
work space kept in its tables, so a step allocates nothing (here a fresh array of a few hundred kB
costs more in page faults than its FFT).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.fft as sfft

try:  # registers scipy.fft for Numba (pocketfft inside compiled code)
    import rocket_fft  # noqa: F401
    from rocket_fft import c2c, c2r, r2c  # transforms into caller-provided arrays (no temporaries)
    from rocket_fft import dst as dst_ll
except ImportError as exc:  # pragma: no cover - a dependency of the package
    raise ImportError("solvers.heat needs the rocket-fft package, version >= 0.4.1 (a dependency of deeprelax: "
                      "pip install 'rocket-fft>=0.4.1', or reinstall the package)") from exc

from .jit import njit

__all__ = ["heat_semigroup", "heat_tables", "heat_apply", "heat_apply_into", "heat_work", "spectral_tables",
           "no_spectral_tables", "heat_spectral", "heat_spectral_1d", "heat_spectral_nd", "exp_scaled"]


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
    size = 1
    mc = 1
    for k in range(src.ndim):
        size *= src.shape[k]
    for k in range(src.ndim):
        if periodic[k]:
            mc = max(mc, size // src.shape[k] * (src.shape[k] // 2 + 1))
    heat_apply_into(src, dst, tables, periodic, tau, np.empty(size), np.empty(mc, np.complex128))


def heat_work(shape, periodic) -> tuple:
    """Work space of :func:`heat_apply_into` for a grid of shape ``shape``: ``(rwork, cwork)``, float64 of
    ``prod(shape)`` entries and complex128 of the largest half spectrum of a periodic axis (at least 1)."""
    size = math.prod(int(n) for n in shape)
    mc = max([1] + [size // int(n) * (int(n) // 2 + 1) for n, p in zip(shape, periodic) if p])
    return np.empty(size), np.empty(mc, np.complex128)


@njit
def heat_apply_into(src, dst, tables, periodic, tau, rwork, cwork):
    """:func:`heat_apply` on caller-provided work space (:func:`heat_work`), axis by axis in ``rwork``
    with the low-level transforms of rocket-fft: it allocates only the factors ``exp(tau lam_k)``.
    The arithmetic of the former allocating form, operation for operation (same results bit for bit)."""
    size = src.size
    u = rwork[:size].reshape(src.shape)
    u[...] = src
    if tau != 0.0:
        ax = np.ones(1, np.int64)  # the transformed axis of the (outer, n, inner) view
        for k in range(src.ndim):
            outer, n, inner = _axis_sizes(src.shape, k)
            u3 = rwork[:size].reshape((outer, n, inner))
            ef = np.exp(tau * tables[k])
            if periodic[k]:
                mh = n // 2 + 1
                f = cwork[:outer * mh * inner].reshape((outer, mh, inner))
                r2c(u3, f, ax, True, 1.0, 1)
                for i in range(outer):
                    for m in range(mh):
                        e = ef[m]
                        for l in range(inner):
                            f[i, m, l] *= e
                c2r(f, u3, ax, False, 1.0 / n, 1)
            elif n >= 3:
                # u = lin + w: the affine interpolant of the end values and the rest, evolved in place
                # with the type-I sine transform (scipy's dst / idst, type 1)
                for i in range(outer):
                    for m in range(1, n - 1):
                        c = m / (n - 1)
                        for l in range(inner):
                            first = u3[i, 0, l]
                            u3[i, m, l] -= first + c * (u3[i, n - 1, l] - first)
                w = u3[:, 1:n - 1, :]
                dst_ll(w, w, ax, 1, 1.0, False, 1)
                for i in range(outer):
                    for m in range(n - 2):
                        e = ef[m]
                        for l in range(inner):
                            w[i, m, l] *= e
                dst_ll(w, w, ax, 1, 1.0 / (2.0 * (n - 1)), False, 1)
                for i in range(outer):
                    for m in range(1, n - 1):
                        c = m / (n - 1)
                        for l in range(inner):
                            first = u3[i, 0, l]
                            u3[i, m, l] += first + c * (u3[i, n - 1, l] - first)
                    for l in range(inner):  # the ends: the interpolant's values there, as before
                        first = u3[i, 0, l]
                        last = u3[i, n - 1, l]
                        u3[i, 0, l] = first + 0.0 * (last - first)
                        u3[i, n - 1, l] = first + 1.0 * (last - first)
    dst[...] = u


def spectral_tables(shape, spacing, laplacian_order: int = 2) -> tuple:
    """Tables of :func:`heat_spectral` for a periodic grid of shape ``shape`` (1-3 axes, every axis periodic).

    ``shape``, ``spacing``: d-tuples (an int and a float for one axis).  Returns
    ``(lam, sig, cache, ctau, work, axes_c, axes_r, unused)``:

    * 1-D (``n`` nodes): the ``n // 2 + 1`` real-FFT eigenvalues of the Laplacian (:func:`heat_tables`),
      the weights ``sig_m = w_m 4 sin^2(pi m / n) / (n h)^2`` that turn the squared moduli of the
      real-FFT coefficients into the mean squared forward difference ``G = mean_i ((u_{i+1} - u_i) / h)^2``
      (Parseval; ``w_m = 2`` for the modes that stand for a conjugate pair, 1 for the mean and the
      Nyquist mode);
    * d = 2, 3: per axis ``k``, concatenated (axis 0 first): the eigenvalues ``lam_k(m)`` of the
      spectral indices ``m`` of ``rfftn`` (``0 .. n_k - 1`` on the complex axes, ``0 .. n_k // 2`` on the
      last, halved one) and ``4 sin^2(pi m / n_k) / (h_k^2 N^2)`` (``N = prod n_k``), whose sum over the
      axes times ``w_m`` of the last axis turns ``|u_hat|^2`` into ``G`` (the sum over axes of the mean
      squared forward differences, as :func:`solvers._hj_march.grad_energy`);

    a cache of two rows of factors ``exp(tau lam)`` (rows 0 and 1; rows 2 and 3 are work space) and
    their ``tau`` (``ctau``, NaN: empty); for d >= 2 the half spectrum's work space (complex128, flat,
    ``prod(n_0 .. n_{d-2}) (n_{d-1} // 2 + 1)``) and the complex and halved axes (int64 arrays); an
    unused float64 entry (the place of :func:`no_spectral_tables`' real work space).
    """
    if not isinstance(shape, tuple):
        shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)
        spacing = (float(spacing),) if np.ndim(spacing) == 0 else tuple(float(h) for h in spacing)
    d = len(shape)
    if d == 1:
        n, h = int(shape[0]), float(spacing[0])
        lam = heat_tables((n,), (h,), (True,), laplacian_order)[0]
        m = np.arange(n // 2 + 1)
        w = np.where((m == 0) | (2 * m == n), 1.0, 2.0)
        sig = w * 4.0 * np.sin(np.pi * m / n) ** 2 / (n * h) ** 2
        work, axes_c, axes_r = _NO_WORK[:3]  # never written in 1-D
    else:
        big = float(np.prod(shape))
        lams, sigs = [], []
        for k, (n, h) in enumerate(zip(shape, spacing)):
            s2 = np.sin((np.pi / n) * np.arange(n // 2 + 1 if k == d - 1 else n)) ** 2  # sin^2(theta / 2)
            if laplacian_order == 2:
                lams.append(-(4.0 / (h * h)) * s2)
            else:  # cos(theta) = 1 - 2 sin^2(theta / 2)
                lams.append((-8.0 / (12.0 * h * h)) * s2 * (6.0 + 2.0 * s2))
            sigs.append((4.0 / (h * h * big * big)) * s2)
        lam, sig = np.concatenate(lams), np.concatenate(sigs)
        work = np.zeros(int(np.prod(shape[:-1])) * (shape[-1] // 2 + 1), np.complex128)
        axes_c, axes_r = np.arange(d - 1, dtype=np.int64), np.array([d - 1], np.int64)
    lam = np.ascontiguousarray(lam, dtype=np.float64)
    return (lam, np.ascontiguousarray(sig, dtype=np.float64), np.zeros((4, lam.shape[0])), np.full(2, np.nan),
            work, axes_c, axes_r, _NO_WORK[3])


#: Placeholders of the work entries of :func:`spectral_tables` where they are never written (1-D).
_NO_WORK = (np.zeros(1, np.complex128), np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(1))


def no_spectral_tables(shape=None, periodic=None) -> tuple:
    """Tables of the types of :func:`spectral_tables` for grids where :func:`heat_spectral` does not run
    (some axis not periodic): in entries 7 and 4 the work space ``(rwork, cwork)`` of
    :func:`heat_apply_into` for a grid of shape ``shape`` (none: runs without heat substeps)."""
    if shape is None:
        rwork, cwork = np.zeros(1), np.zeros(1, np.complex128)
    else:
        rwork, cwork = heat_work(tuple(int(n) for n in shape), tuple(bool(p) for p in periodic))
    return (np.zeros(1), np.zeros(1), np.zeros((4, 1)), np.full(2, np.nan), cwork,
            np.zeros(0, np.int64), np.zeros(1, np.int64), rwork)


_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (fdlibm): k * _LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_MAGIC = 6755399441055744.0  # 1.5 * 2^52: x + _MAGIC rounds x to an integer kept in the low mantissa bits
_MAGIC_BITS = int(np.array([_MAGIC]).view(np.int64)[0])
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13 = (1.0 / math.factorial(j) for j in range(14))


@njit
def exp_scaled(lam, tau, out, work):
    """``out[m] = exp(tau lam[m])`` for ``tau lam[m] <= 0``, within 1 ulp of ``exp`` (0 below ``-708``).

    Loops that LLVM vectorises, unlike calls of ``exp`` (3 ns each here): ``x = k ln2 + r`` with
    ``|r| <= ln2 / 2`` (Cody-Waite), ``exp(r)`` by its Taylor polynomial of degree 13 (truncation
    ``r^14 / 14! < 5e-18``), and ``2^k`` written into the exponent bits.  ``work``: float64, same length.
    """
    n = lam.shape[0]
    for m in range(n):
        x = tau * lam[m]
        x = x if x > -708.0 else -708.0
        t = x * _INV_LN2 + _MAGIC
        k = t - _MAGIC
        r = (x - k * _LN2_HI) - k * _LN2_LO
        p = _C13 * r + _C12
        p = p * r + _C11
        p = p * r + _C10
        p = p * r + _C9
        p = p * r + _C8
        p = p * r + _C7
        p = p * r + _C6
        p = p * r + _C5
        p = p * r + _C4
        p = p * r + _C3
        p = p * r + _C2
        p = p * r + _C1
        out[m] = p * r + _C0
        work[m] = t
    bits = work.view(np.int64)
    for m in range(n):
        bits[m] = (bits[m] - _MAGIC_BITS + 1023) << 52  # 2^k
    for m in range(n):
        out[m] = out[m] * work[m] if tau * lam[m] > -708.0 else 0.0


@njit
def _factor_row(lam, cache, ctau, tau, keep):
    """The row of ``cache`` holding ``exp(tau lam)``, computed into the row other than ``keep`` if absent."""
    for r in range(2):
        if ctau[r] == tau:
            return r
    r = 1 if keep == 0 else 0
    exp_scaled(lam, tau, cache[r], cache[2])
    ctau[r] = tau
    return r


@njit(inline="always")
def _sum4(a):
    """Sum of a 1-D array with four running sums (independent adds: 4x the throughput of one)."""
    s0 = s1 = s2 = s3 = 0.0
    n4 = a.shape[0] - a.shape[0] % 4
    for j in range(0, n4, 4):
        s0 += a[j]
        s1 += a[j + 1]
        s2 += a[j + 2]
        s3 += a[j + 3]
    for j in range(n4, a.shape[0]):
        s0 += a[j]
    return (s0 + s1) + (s2 + s3)


@njit
def heat_spectral(src3, dst3, spec, tau_a, tau_b):
    """``dst = exp((tau_a + tau_b) Lap_h) src`` on a periodic grid with one real FFT pair, and the
    gradient energies ``(G(tau_a), G(tau_a + tau_b))`` of the states ``exp(tau Lap_h) src``.

    ``src3``, ``dst3``: arrays of shape ``(n_0, n_1, n_2)``, the grid's axes followed by length-1 ones
    (may be the same array, or strided views); ``spec``: :func:`spectral_tables` of the grid.  ``G`` is
    the sum over axes of the mean squared forward difference (the ``grad_energy`` of
    :mod:`solvers._hj_march`, here by Parseval, equal to round-off).  The factors ``exp(tau lam)`` of
    the last two ``tau`` values are cached in ``spec``: a Strang march whose heat half-steps are merged
    (``tau_a`` = the previous step's ``tau_b``) computes one set per step.  The factor is
    ``exp(tau_a lam) exp(tau_b lam)``, the semigroup property, exact up to round-off.
    """
    if spec[6][0] > 0:
        return heat_spectral_nd(src3, dst3, spec, tau_a, tau_b)
    return heat_spectral_1d(src3, dst3, spec, tau_a, tau_b)


@njit
def heat_spectral_1d(src3, dst3, spec, tau_a, tau_b):
    """:func:`heat_spectral` on a 1-D grid (``src3``, ``dst3``: shape ``(n, 1, 1)``; only ``[:, 0, 0]`` is used)."""
    lam, sig, cache, ctau = spec[0], spec[1], spec[2], spec[3]
    n = src3.shape[0]
    f = sfft.rfft(src3[:, 0, 0])
    ra = _factor_row(lam, cache, ctau, tau_a, -1)
    rb = _factor_row(lam, cache, ctau, tau_b, ra)
    ea = cache[ra]
    eb = cache[rb]
    wa = cache[2]
    wb = cache[3]
    fr = f.view(np.float64)  # (re, im) pairs: real arithmetic, vectorised
    for m in range(f.shape[0]):
        re = fr[2 * m]
        im = fr[2 * m + 1]
        pw = (re * re + im * im) * sig[m]
        fa = ea[m]
        fab = fa * eb[m]
        wa[m] = pw * (fa * fa)
        wb[m] = pw * (fab * fab)
        fr[2 * m] = re * fab
        fr[2 * m + 1] = im * fab
    g_a = _sum4(wa)
    g_b = _sum4(wb)
    dst3[:, 0, 0] = sfft.irfft(f, n)
    return g_a, g_b


@njit
def heat_spectral_nd(src3, dst3, spec, tau_a, tau_b):
    """:func:`heat_spectral` on a 2-D or 3-D grid (``src3``, ``dst3``: shape ``(n_0, n_1, n_2)``, ``n_2 = 1`` in 2-D): ``rfftn`` (a real FFT along the last axis, complex
    ones along the others, in place) into the work space of ``spec``, the factors and the energies in
    one pass over the half spectrum, the inverse written straight into ``dst3``: no temporaries."""
    lam, sig, cache, ctau, work, axes_c, axes_r = spec[0], spec[1], spec[2], spec[3], spec[4], spec[5], spec[6]
    r = axes_r[0]  # the halved axis: 1 (2-D) or 2 (3-D); trailing axes have length 1
    n0, n1, n2 = src3.shape
    nr = n1 if r == 1 else n2
    mr = nr // 2 + 1
    f = work.reshape((n0, mr, 1) if r == 1 else (n0, n1, mr))
    r2c(src3, f, axes_r, True, 1.0, 1)
    c2c(f, f, axes_c, True, 1.0, 1)
    ra = _factor_row(lam, cache, ctau, tau_a, -1)
    rb = _factor_row(lam, cache, ctau, tau_b, ra)
    ea = cache[ra]
    eb = cache[rb]
    wa = cache[2][:mr]
    wb = cache[3][:mr]
    wa[:] = 0.0
    wb[:] = 0.0
    off = n0 if r == 1 else n0 + n1  # the last axis' entries in lam, sig
    rows = n0 if r == 1 else n0 * n1
    fr = work.view(np.float64)
    for row in range(rows):
        if r == 1:
            fa_row, fb_row, s_row = ea[row], eb[row], sig[row]
        else:
            i = row // n1
            j = n0 + row - i * n1
            fa_row, fb_row, s_row = ea[i] * ea[j], eb[i] * eb[j], sig[i] + sig[j]
        base = 2 * row * mr
        for m in range(mr):
            re = fr[base + 2 * m]
            im = fr[base + 2 * m + 1]
            pw = (re * re + im * im) * (s_row + sig[off + m])
            fa = fa_row * ea[off + m]
            fab = fa * (fb_row * eb[off + m])
            wa[m] += pw * (fa * fa)
            wb[m] += pw * (fab * fab)
            fr[base + 2 * m] = re * fab
            fr[base + 2 * m + 1] = im * fab
    for m in range(mr):  # conjugate pairs of the halved axis count twice (not the mean, nor Nyquist)
        if m != 0 and 2 * m != nr:
            wa[m] *= 2.0
            wb[m] *= 2.0
    g_a = _sum4(wa)
    g_b = _sum4(wb)
    c2c(f, f, axes_c, False, 1.0, 1)
    c2r(f, dst3, axes_r, False, 1.0 / (n0 * n1 * n2), 1)
    return g_a, g_b


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
