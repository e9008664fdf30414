"""Numba twins of the analytic losses, for compiled particle dynamics.

Every :class:`deeprelax.losses.Loss` carries ``nb_kind`` (an int code below)
and ``nb_params`` (a 1-D float64 array holding everything the kernel needs).
:func:`nb_value` and :func:`nb_grad` work on one point ``x`` of shape ``(d,)``
and dispatch with ``if/elif`` on ``kind``, so they are cacheable and can be
called from other ``@njit`` kernels::

    @njit
    def step(kind, params, X, eta):
        g = np.empty(X.shape[1])
        for n in range(X.shape[0]):
            nb_grad(kind, params, X[n], g)
            X[n] -= eta * g

Parameter layouts (``d`` = dimension, ``k`` = number of wells)
----------------------------------------------------------------
* kind 0, quadratic: ``[d, A (d*d, row-major)]``
* kind 1, abs: ``[d]``
* kind 2, double-well: ``[d]``
* kind 3, softmin-quadratics and wide-sharp: ``[d, k, beta_f (inf = hard min), a (k), m (k*d), c (k)]``
* kind 4, dr-fig1: ``[n, knots (n), coef (4*(n-1), the (4, n-1) local power-basis spline
  coefficients row-major), f2 at the last knot, ell (extension length)]``
* kind 5, rastrigin: ``[d, A, scale]``
* kind 6, cosine: ``[d]``
* kind 7, gaussian-mixture: ``[d, k, w (k), m (k*d), s (k)]``
"""
from __future__ import annotations

import math

import numpy as np

from solvers._jit import njit

KIND_QUADRATIC = 0
KIND_ABS = 1
KIND_DOUBLE_WELL = 2
KIND_SOFTMIN = 3
KIND_DRFIG1 = 4
KIND_RASTRIGIN = 5
KIND_COSINE = 6
KIND_GAUSSMIX = 7

_LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------- per-kind kernels
@njit
def _softmin_logits(params, x, L):
    """Fill ``L[i] = q_i(x)``; return (d, k, beta, a offset, m offset, c offset)."""
    d = int(params[0])
    k = int(params[1])
    oa = 3
    om = oa + k
    oc = om + k * d
    for i in range(k):
        s = 0.0
        for j in range(d):
            r = x[j] - params[om + i * d + j]
            s += r * r
        L[i] = 0.5 * params[oa + i] * s + params[oc + i]
    return d, k, params[2], oa, om, oc


@njit
def _gaussmix_logits(params, x, L):
    """Fill ``L[i] = log w_i + log N(x; m_i, s_i^2 I)``."""
    d = int(params[0])
    k = int(params[1])
    ow = 2
    om = ow + k
    osd = om + k * d
    for i in range(k):
        s = 0.0
        for j in range(d):
            r = x[j] - params[om + i * d + j]
            s += r * r
        var = params[osd + i] * params[osd + i]
        L[i] = math.log(params[ow + i]) - 0.5 * d * (_LOG_2PI + math.log(var)) - s / (2.0 * var)
    return d, k, ow, om, osd


@njit
def _spline_f2(params, x0, deriv):
    """Natural cubic spline of dr-fig1's f2 (deriv = 0 value, 1 slope), linear outside the knots."""
    n = int(params[0])
    ok = 1
    oc = 1 + n
    m = n - 1
    lo = params[ok]
    hi = params[ok + n - 1]
    ell = params[oc + 4 * m + 1]
    if x0 < lo:
        # slope at the left end is c2[0]; extension f2(lo) + slope * ell * tanh((x - lo) / ell)
        th = math.tanh((x0 - lo) / ell)
        slope = params[oc + 2 * m + 0]
        if deriv == 0:
            return params[oc + 3 * m + 0] + slope * ell * th
        return slope * (1.0 - th * th)
    if x0 >= hi:
        hl = hi - params[ok + n - 2]
        i = m - 1
        c0 = params[oc + i]
        c1 = params[oc + m + i]
        c2 = params[oc + 2 * m + i]
        slope = (3.0 * c0 * hl + 2.0 * c1) * hl + c2
        th = math.tanh((x0 - hi) / ell)
        if deriv == 0:
            # value at the last knot is the last sample (stored after the coefficients)
            return params[oc + 4 * m] + slope * ell * th
        return slope * (1.0 - th * th)
    h = (hi - lo) / m
    i = int((x0 - lo) / h)
    if i > m - 1:
        i = m - 1
    if i < 0:
        i = 0
    while i < m - 1 and x0 >= params[ok + i + 1]:
        i += 1
    while i > 0 and x0 < params[ok + i]:
        i -= 1
    s = x0 - params[ok + i]
    c0 = params[oc + i]
    c1 = params[oc + m + i]
    c2 = params[oc + 2 * m + i]
    c3 = params[oc + 3 * m + i]
    if deriv == 0:
        return ((c0 * s + c1) * s + c2) * s + c3
    return (3.0 * c0 * s + 2.0 * c1) * s + c2


# ----------------------------------------------------------------------------- dispatch
@njit
def nb_value(kind, params, x):
    """Loss value at one point ``x`` (shape ``(d,)``) for loss ``kind`` with ``params``."""
    if kind == KIND_QUADRATIC:
        d = int(params[0])
        s = 0.0
        for i in range(d):
            r = 0.0
            for j in range(d):
                r += params[1 + i * d + j] * x[j]
            s += x[i] * r
        return 0.5 * s
    elif kind == KIND_ABS:
        s = 0.0
        for i in range(int(params[0])):
            s += abs(x[i])
        return s
    elif kind == KIND_DOUBLE_WELL:
        d = int(params[0])
        r = x[0] * x[0] - 1.0
        s = 0.25 * r * r
        for i in range(1, d):
            s += 0.5 * x[i] * x[i]
        return s
    elif kind == KIND_SOFTMIN:
        k = int(params[1])
        L = np.empty(k)
        d, k, beta, oa, om, oc = _softmin_logits(params, x, L)
        qmin = L[0]
        for i in range(1, k):
            if L[i] < qmin:
                qmin = L[i]
        if math.isinf(beta):
            return qmin
        s = 0.0
        for i in range(k):
            s += math.exp(-beta * (L[i] - qmin))
        return qmin - math.log(s) / beta
    elif kind == KIND_DRFIG1:
        x0 = x[0]
        return x0 ** 2 + 1.5 * math.sin(2 * math.pi * x0) + _spline_f2(params, x0, 0)
    elif kind == KIND_RASTRIGIN:
        d = int(params[0])
        A = params[1]
        s = 0.0
        for i in range(d):
            s += x[i] * x[i] + A * (1.0 - math.cos(2.0 * math.pi * x[i]))
        return s / params[2]
    elif kind == KIND_COSINE:
        s = 0.0
        for i in range(int(params[0])):
            s -= math.cos(math.pi * x[i])
        return s
    elif kind == KIND_GAUSSMIX:
        k = int(params[1])
        L = np.empty(k)
        _gaussmix_logits(params, x, L)
        mx = L.max()
        s = 0.0
        for i in range(k):
            s += math.exp(L[i] - mx)
        return -(mx + math.log(s))
    raise ValueError("nb_value: unknown loss kind")


@njit
def nb_grad(kind, params, x, out):
    """Write the gradient at one point ``x`` (shape ``(d,)``) into ``out`` (shape ``(d,)``).

    :func:`nb_grad_rows` repeats this arithmetic in row form for the blocked particle kernels;
    ``tests/test_dyn_blocks.py`` checks that the two agree bit for bit for every kind.
    """
    if kind == KIND_QUADRATIC:
        d = int(params[0])
        for i in range(d):
            r = 0.0
            for j in range(d):
                r += params[1 + i * d + j] * x[j]
            out[i] = r
    elif kind == KIND_ABS:
        for i in range(int(params[0])):
            out[i] = 1.0 if x[i] > 0 else (-1.0 if x[i] < 0 else 0.0)
    elif kind == KIND_DOUBLE_WELL:
        d = int(params[0])
        out[0] = x[0] * (x[0] * x[0] - 1.0)
        for i in range(1, d):
            out[i] = x[i]
    elif kind == KIND_SOFTMIN:
        k = int(params[1])
        L = np.empty(k)
        d, k, beta, oa, om, oc = _softmin_logits(params, x, L)
        imin = 0
        for i in range(1, k):
            if L[i] < L[imin]:
                imin = i
        if math.isinf(beta):
            for i in range(k):
                L[i] = 1.0 if i == imin else 0.0
        else:
            qmin = L[imin]
            s = 0.0
            for i in range(k):
                L[i] = math.exp(-beta * (L[i] - qmin))
                s += L[i]
            for i in range(k):
                L[i] /= s
        for j in range(d):
            out[j] = 0.0
        for i in range(k):
            wa = L[i] * params[oa + i]
            if wa != 0.0:
                for j in range(d):
                    out[j] += wa * (x[j] - params[om + i * d + j])
    elif kind == KIND_DRFIG1:
        x0 = x[0]
        out[0] = 2.0 * x0 + 3.0 * math.pi * math.cos(2 * math.pi * x0) + _spline_f2(params, x0, 1)
    elif kind == KIND_RASTRIGIN:
        d = int(params[0])
        A = params[1]
        for i in range(d):
            out[i] = (2.0 * x[i] + 2.0 * math.pi * A * math.sin(2.0 * math.pi * x[i])) / params[2]
    elif kind == KIND_COSINE:
        for i in range(int(params[0])):
            out[i] = math.pi * math.sin(math.pi * x[i])
    elif kind == KIND_GAUSSMIX:
        k = int(params[1])
        L = np.empty(k)
        d, k, ow, om, osd = _gaussmix_logits(params, x, L)
        mx = L.max()
        s = 0.0
        for i in range(k):
            L[i] = math.exp(L[i] - mx)
            s += L[i]
        for j in range(d):
            out[j] = 0.0
        for i in range(k):
            wv = L[i] / s / (params[osd + i] * params[osd + i])
            for j in range(d):
                out[j] += wv * (x[j] - params[om + i * d + j])
    else:
        raise ValueError("nb_grad: unknown loss kind")


@njit
def nb_grad_rows(kind, params, X, G, r0, r1, L):
    """Gradients at rows ``r0 .. r1-1`` of ``X`` (shape ``(n, d)``) into the same rows of ``G``.

    The same arithmetic as :func:`nb_grad` row by row (a test checks bitwise equality), but the loss
    ``kind`` is dispatched once per call and the row loop sits inside each branch, with no array
    views, allocations or exceptions in the loop: the particle kernels call it once per block of
    chains per step (a per-chain call costs more than a 2-D Langevin step, mostly in Numba's
    reference counting of the array arguments).  ``L`` is scratch of length ``>=`` the number of
    wells (kinds 3 and 7; any length otherwise).  An unknown ``kind`` writes NaN.
    """
    d = X.shape[1]
    if kind == KIND_QUADRATIC:
        for r in range(r0, r1):
            for i in range(d):
                s = 0.0
                for j in range(d):
                    s += params[1 + i * d + j] * X[r, j]
                G[r, i] = s
    elif kind == KIND_ABS:
        for r in range(r0, r1):
            for i in range(d):
                v = X[r, i]
                G[r, i] = 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)
    elif kind == KIND_DOUBLE_WELL:
        for r in range(r0, r1):
            x0 = X[r, 0]
            G[r, 0] = x0 * (x0 * x0 - 1.0)
            for i in range(1, d):
                G[r, i] = X[r, i]
    elif kind == KIND_SOFTMIN:
        k = int(params[1])
        beta = params[2]
        oa = 3
        om = oa + k
        oc = om + k * d
        for r in range(r0, r1):
            for i in range(k):
                s = 0.0
                for j in range(d):
                    q = X[r, j] - params[om + i * d + j]
                    s += q * q
                L[i] = 0.5 * params[oa + i] * s + params[oc + i]
            imin = 0
            for i in range(1, k):
                if L[i] < L[imin]:
                    imin = i
            if math.isinf(beta):
                for i in range(k):
                    L[i] = 1.0 if i == imin else 0.0
            else:
                qmin = L[imin]
                s = 0.0
                for i in range(k):
                    L[i] = math.exp(-beta * (L[i] - qmin))
                    s += L[i]
                for i in range(k):
                    L[i] /= s
            for j in range(d):
                G[r, j] = 0.0
            for i in range(k):
                wa = L[i] * params[oa + i]
                if wa != 0.0:
                    for j in range(d):
                        G[r, j] += wa * (X[r, j] - params[om + i * d + j])
    elif kind == KIND_DRFIG1:
        for r in range(r0, r1):
            x0 = X[r, 0]
            G[r, 0] = 2.0 * x0 + 3.0 * math.pi * math.cos(2 * math.pi * x0) + _spline_f2(params, x0, 1)
    elif kind == KIND_RASTRIGIN:
        A = params[1]
        for r in range(r0, r1):
            for i in range(d):
                G[r, i] = (2.0 * X[r, i] + 2.0 * math.pi * A * math.sin(2.0 * math.pi * X[r, i])) / params[2]
    elif kind == KIND_COSINE:
        for r in range(r0, r1):
            for i in range(d):
                G[r, i] = math.pi * math.sin(math.pi * X[r, i])
    elif kind == KIND_GAUSSMIX:
        k = int(params[1])
        ow = 2
        om = ow + k
        osd = om + k * d
        for r in range(r0, r1):
            mx = -math.inf
            for i in range(k):
                s = 0.0
                for j in range(d):
                    q = X[r, j] - params[om + i * d + j]
                    s += q * q
                var = params[osd + i] * params[osd + i]
                L[i] = math.log(params[ow + i]) - 0.5 * d * (_LOG_2PI + math.log(var)) - s / (2.0 * var)
                if L[i] > mx or i == 0:
                    mx = L[i]
            s = 0.0
            for i in range(k):
                L[i] = math.exp(L[i] - mx)
                s += L[i]
            for j in range(d):
                G[r, j] = 0.0
            for i in range(k):
                wv = L[i] / s / (params[osd + i] * params[osd + i])
                for j in range(d):
                    G[r, j] += wv * (X[r, j] - params[om + i * d + j])
    else:
        for r in range(r0, r1):
            for j in range(d):
                G[r, j] = math.nan


def scratch_len(params_kind: int, params) -> int:
    """Length of the ``L`` scratch :func:`nb_grad_rows` needs for a loss (number of wells, else 1)."""
    return int(params[1]) if params_kind in (KIND_SOFTMIN, KIND_GAUSSMIX) else 1


@njit
def nb_value_batch(kind, params, X):
    """``nb_value`` over the rows of ``X`` (shape ``(n, d)``); returns shape ``(n,)``."""
    n = X.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = nb_value(kind, params, X[i])
    return out


@njit
def nb_grad_batch(kind, params, X):
    """``nb_grad`` over the rows of ``X`` (shape ``(n, d)``); returns shape ``(n, d)``."""
    out = np.empty_like(X)
    for i in range(X.shape[0]):
        nb_grad(kind, params, X[i], out[i])
    return out


def value(loss, x):
    """Compiled value of ``loss`` at points ``x`` of shape ``(..., d)``; returns shape ``(...)``."""
    X = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    flat = X.reshape(-1, X.shape[-1])
    return nb_value_batch(loss.nb_kind, loss.nb_params, flat).reshape(X.shape[:-1])


def grad(loss, x):
    """Compiled gradient of ``loss`` at points ``x`` of shape ``(..., d)``; returns shape ``(..., d)``."""
    X = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    flat = X.reshape(-1, X.shape[-1])
    return nb_grad_batch(loss.nb_kind, loss.nb_params, flat).reshape(X.shape)
