r"""The built-in analytic losses' one source: a per-point body per kind, compiled for every target.

Every built-in :class:`deeprelax.losses.Loss` carries ``nb_kind`` (a ``KIND_*`` code below) and
``nb_params`` (a 1-D float64 array holding everything the formulas need).  Each kind is written
**once**, as two plain-Python functions of one point::

    value(params, x, S) -> float          grad(params, x, out, S)    (writes out[:d])

and, where the two share work (the soft-min and the mixture: the logits), a third that does both::

    value_grad(params, x, out, S) -> float    (writes out[:d], returns the value; the same operations
                                                 in the same order as the two apart, bit for bit)

``x``/``out`` have shape ``(d,)``; ``S`` is scratch of length :func:`scratch_len` (the number of
wells of the soft-min and mixture kinds; the bodies never allocate, raise or call numpy array
methods, so that the same source compiles for the CPU and as a CUDA device function).  The module
name of each body is its CPU form (``numba.njit(inline="always")``, inlined at the IR level by the
dispatchers of :mod:`deeprelax._nbloss`); :func:`retarget` compiles the same sources for another
target (the CUDA device functions of :func:`deeprelax._cuda_dyn.loss_funcs`).

Adding a loss kind: its two bodies here plus a line in :data:`KINDS`, then ``python -m
deeprelax._nbloss`` rewrites the dispatch; its :class:`~deeprelax.losses.Loss` class (parameters,
Hessian, exact relaxations) goes in :mod:`deeprelax.losses.analytic`.

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
* kind 7, gaussian-mixture: ``[d, k, w (k), m (k*d), s (k), n (k)]`` with the log normalisers
  ``n_i = log w_i - d/2 (log 2 pi + log s_i^2)`` of :func:`gaussmix_log_norms`

The dispatchers of :mod:`deeprelax._nbloss` (and through them the particle kernels) inline these
bodies; an edit of this file alone still recompiles them (the on-disk cache is stamped with a hash
of the package's sources: :mod:`solvers._cache_stamp`).
"""
from __future__ import annotations

import math
import types
from typing import Callable, NamedTuple, Optional

import numpy as np

from solvers.jit import njit

KIND_QUADRATIC = 0
KIND_ABS = 1
KIND_DOUBLE_WELL = 2
KIND_SOFTMIN = 3
KIND_DRFIG1 = 4
KIND_RASTRIGIN = 5
KIND_COSINE = 6
KIND_GAUSSMIX = 7

_LOG_2PI = math.log(2.0 * math.pi)

_inline = njit(inline="always")
#: Every body and helper below, by name (the plain-Python functions are ``.py_func``).
BODIES: dict = {}


def _body(f):
    """Keep ``f`` as a source for every target; the module name is bound to its inlined CPU form."""
    disp = _inline(f)
    BODIES[f.__name__] = disp
    return disp


# ============================================================================= helpers
@_body
def _softmin_logits(params, x, L):
    """Fill ``L[i] = q_i(x) = a_i |x - m_i|^2 / 2 + c_i``."""
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


@_body
def _gaussmix_logits(params, x, L):
    """Fill ``L[i] = log w_i + log N(x; m_i, s_i^2 I)``; return ``max_i L[i]``.  The constant part
    ``log w_i - d/2 (log 2 pi + log s_i^2)`` is read from the parameters (:func:`gaussmix_log_norms`)."""
    d = int(params[0])
    k = int(params[1])
    ow = 2
    om = ow + k
    osd = om + k * d
    on = osd + k
    mx = -math.inf
    for i in range(k):
        s = 0.0
        for j in range(d):
            r = x[j] - params[om + i * d + j]
            s += r * r
        var = params[osd + i] * params[osd + i]
        L[i] = params[on + i] - s / (2.0 * var)
        if L[i] > mx or i == 0:
            mx = L[i]
    return mx


@_body
def _spline_f2(params, x0, deriv):
    """Natural cubic spline of dr-fig1's f2 (deriv = 0 value, 1 slope), levelled off outside the knots."""
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


# ============================================================================= the bodies
# quadratic: f = x^T A x / 2, grad = A x
@_body
def _quadratic_value(params, x, S):
    d = int(params[0])
    s = 0.0
    for i in range(d):
        r = 0.0
        for j in range(d):
            r += params[1 + i * d + j] * x[j]
        s += x[i] * r
    return 0.5 * s


@_body
def _quadratic_grad(params, x, out, S):
    d = int(params[0])
    for i in range(d):
        r = 0.0
        for j in range(d):
            r += params[1 + i * d + j] * x[j]
        out[i] = r


# abs: f = |x|_1, grad = sign(x) (0 at the kink)
@_body
def _abs_value(params, x, S):
    s = 0.0
    for i in range(int(params[0])):
        s += abs(x[i])
    return s


@_body
def _abs_grad(params, x, out, S):
    for i in range(int(params[0])):
        out[i] = 1.0 if x[i] > 0 else (-1.0 if x[i] < 0 else 0.0)


# double well: f = (x_1^2 - 1)^2 / 4 + sum_{k>=2} x_k^2 / 2
@_body
def _double_well_value(params, x, S):
    d = int(params[0])
    r = x[0] * x[0] - 1.0
    s = 0.25 * r * r
    for i in range(1, d):
        s += 0.5 * x[i] * x[i]
    return s


@_body
def _double_well_grad(params, x, out, S):
    d = int(params[0])
    out[0] = x[0] * (x[0] * x[0] - 1.0)
    for i in range(1, d):
        out[i] = x[i]


# soft-min of quadratics: f = -(1/beta) log sum_i exp(-beta q_i), grad = sum_i pi_i a_i (x - m_i)
@_body
def _softmin_value(params, x, S):
    k = int(params[1])
    beta = params[2]
    _softmin_logits(params, x, S)
    qmin = S[0]
    for i in range(1, k):
        if S[i] < qmin:
            qmin = S[i]
    if math.isinf(beta):
        return qmin
    s = 0.0
    for i in range(k):
        s += math.exp(-beta * (S[i] - qmin))
    return qmin - math.log(s) / beta


@_body
def _softmin_grad(params, x, out, S):
    d = int(params[0])
    k = int(params[1])
    beta = params[2]
    oa = 3
    om = oa + k
    _softmin_logits(params, x, S)
    imin = 0
    for i in range(1, k):
        if S[i] < S[imin]:
            imin = i
    if math.isinf(beta):
        for i in range(k):
            S[i] = 1.0 if i == imin else 0.0
    else:
        qmin = S[imin]
        s = 0.0
        for i in range(k):
            S[i] = math.exp(-beta * (S[i] - qmin))
            s += S[i]
        for i in range(k):
            S[i] /= s
    for j in range(d):
        out[j] = 0.0
    for i in range(k):
        wa = S[i] * params[oa + i]
        if wa != 0.0:
            for j in range(d):
                out[j] += wa * (x[j] - params[om + i * d + j])


@_body
def _softmin_value_grad(params, x, out, S):
    """:func:`_softmin_value` and :func:`_softmin_grad` on one evaluation of the logits."""
    d = int(params[0])
    k = int(params[1])
    beta = params[2]
    oa = 3
    om = oa + k
    _softmin_logits(params, x, S)
    imin = 0
    for i in range(1, k):
        if S[i] < S[imin]:
            imin = i
    qmin = S[imin]
    if math.isinf(beta):
        f = qmin
        for i in range(k):
            S[i] = 1.0 if i == imin else 0.0
    else:
        s = 0.0
        for i in range(k):
            S[i] = math.exp(-beta * (S[i] - qmin))
            s += S[i]
        f = qmin - math.log(s) / beta
        for i in range(k):
            S[i] /= s
    for j in range(d):
        out[j] = 0.0
    for i in range(k):
        wa = S[i] * params[oa + i]
        if wa != 0.0:
            for j in range(d):
                out[j] += wa * (x[j] - params[om + i * d + j])
    return f


# DR Fig. 1: f = x^2 + 1.5 sin(2 pi x) + f2(x)
@_body
def _drfig1_value(params, x, S):
    x0 = x[0]
    return x0 ** 2 + 1.5 * math.sin(2 * math.pi * x0) + _spline_f2(params, x0, 0)


@_body
def _drfig1_grad(params, x, out, S):
    x0 = x[0]
    out[0] = 2.0 * x0 + 3.0 * math.pi * math.cos(2 * math.pi * x0) + _spline_f2(params, x0, 1)


# Rastrigin: f = sum_k [x_k^2 + A (1 - cos 2 pi x_k)] / scale
@_body
def _rastrigin_value(params, x, S):
    d = int(params[0])
    A = params[1]
    s = 0.0
    for i in range(d):
        s += x[i] * x[i] + A * (1.0 - math.cos(2.0 * math.pi * x[i]))
    return s / params[2]


@_body
def _rastrigin_grad(params, x, out, S):
    d = int(params[0])
    A = params[1]
    for i in range(d):
        out[i] = (2.0 * x[i] + 2.0 * math.pi * A * math.sin(2.0 * math.pi * x[i])) / params[2]


# cosine: f = -sum_k cos(pi x_k)
@_body
def _cosine_value(params, x, S):
    s = 0.0
    for i in range(int(params[0])):
        s -= math.cos(math.pi * x[i])
    return s


@_body
def _cosine_grad(params, x, out, S):
    for i in range(int(params[0])):
        out[i] = math.pi * math.sin(math.pi * x[i])


# Gaussian mixture: f = -log sum_i w_i N(x; m_i, s_i^2 I), grad = sum_i pi_i (x - m_i) / s_i^2
@njit
def gaussmix_log_norms(w, s, d):
    """``n_i = log w_i - d/2 (log 2 pi + log s_i^2)`` (``w``, ``s``: the k weights and widths; ``d`` the
    dimension): the per-well constants of the logits, computed once per loss instead of per point, by the
    same compiled operations in the same order as the logits did (so every value is the same bit for bit)."""
    k = w.shape[0]
    out = np.empty(k)
    for i in range(k):
        var = s[i] * s[i]
        out[i] = math.log(w[i]) - 0.5 * d * (_LOG_2PI + math.log(var))
    return out


@_body
def _gaussmix_value(params, x, S):
    k = int(params[1])
    mx = _gaussmix_logits(params, x, S)
    s = 0.0
    for i in range(k):
        s += math.exp(S[i] - mx)
    return -(mx + math.log(s))


@_body
def _gaussmix_grad(params, x, out, S):
    d = int(params[0])
    k = int(params[1])
    om = 2 + k
    osd = om + k * d
    mx = _gaussmix_logits(params, x, S)
    s = 0.0
    for i in range(k):
        S[i] = math.exp(S[i] - mx)
        s += S[i]
    for j in range(d):
        out[j] = 0.0
    for i in range(k):
        wv = S[i] / s / (params[osd + i] * params[osd + i])
        for j in range(d):
            out[j] += wv * (x[j] - params[om + i * d + j])


@_body
def _gaussmix_value_grad(params, x, out, S):
    """:func:`_gaussmix_value` and :func:`_gaussmix_grad` on one evaluation of the logits."""
    d = int(params[0])
    k = int(params[1])
    om = 2 + k
    osd = om + k * d
    mx = _gaussmix_logits(params, x, S)
    s = 0.0
    for i in range(k):
        S[i] = math.exp(S[i] - mx)
        s += S[i]
    for j in range(d):
        out[j] = 0.0
    for i in range(k):
        wv = S[i] / s / (params[osd + i] * params[osd + i])
        for j in range(d):
            out[j] += wv * (x[j] - params[om + i * d + j])
    return -(mx + math.log(s))


class Kind(NamedTuple):
    """One built-in loss kind: its registry name, the two bodies, where ``params`` holds the number of
    wells (the scratch length; ``-1``: no scratch) and the combined body (None: value, then grad)."""
    name: str
    value: Callable
    grad: Callable
    wells_at: int = -1
    value_grad: Optional[Callable] = None


#: The built-in analytic kinds.  Adding one: two bodies above (and a combined one where they share work), one
#: entry here, then ``python -m deeprelax._nbloss``.
KINDS = {
    KIND_QUADRATIC: Kind("quadratic", _quadratic_value, _quadratic_grad),
    KIND_ABS: Kind("abs", _abs_value, _abs_grad),
    KIND_DOUBLE_WELL: Kind("double-well", _double_well_value, _double_well_grad),
    KIND_SOFTMIN: Kind("softmin-quadratics", _softmin_value, _softmin_grad, 1, _softmin_value_grad),
    KIND_DRFIG1: Kind("dr-fig1", _drfig1_value, _drfig1_grad),
    KIND_RASTRIGIN: Kind("rastrigin", _rastrigin_value, _rastrigin_grad),
    KIND_COSINE: Kind("cosine", _cosine_value, _cosine_grad),
    KIND_GAUSSMIX: Kind("gaussian-mixture", _gaussmix_value, _gaussmix_grad, 1, _gaussmix_value_grad),
}


def scratch_len(kind: int, params) -> int:
    """Length of the scratch ``S`` the bodies of ``kind`` need (number of wells, else 1)."""
    k = KINDS.get(int(kind))
    return int(params[k.wells_at]) if k is not None and k.wells_at >= 0 else 1


# ============================================================================= other targets
def retarget(jit, names=None) -> dict:
    """The bodies and helpers (``names``, default all of :data:`BODIES`) compiled with ``jit`` instead of
    the CPU ``njit``: each plain-Python function is copied with a globals dict in which every body and
    helper name is bound to its ``jit`` form, so calls between them stay on the new target.
    Returns ``{name: compiled}``."""
    names = list(BODIES) if names is None else list(names)
    glb = dict(globals())
    glb["__warningregistry__"] = {}          # present up front: simulated CUDA threads iterate these globals
    out = {}
    for name in BODIES:
        f = BODIES[name].py_func
        copy = types.FunctionType(f.__code__, glb, f.__name__, f.__defaults__, f.__closure__)
        glb[name] = out[name] = jit(copy)
    return {n: out[n] for n in names}
