r"""The built-in losses' one source: a per-point body per kind, compiled for every target.

Every built-in :class:`deeprelax.losses.Loss` carries ``nb_kind`` (a ``KIND_*`` code below) and
``nb_params`` (a 1-D float64 array holding everything the formulas need).  Each kind is written
**once**, as two plain-Python functions of one point::

    value(params, x, S) -> float          grad(params, x, out, S)    (writes out[:d])

``x``/``out`` have shape ``(d,)``; ``S`` is scratch of length :func:`scratch_len` (the number of
wells of the soft-min and mixture kinds; the bodies never allocate, raise or call numpy array
methods, so that the same source compiles for the CPU and as a CUDA device function).  From these
bodies come

* the CPU forms (:mod:`numba`, bodies inlined at the IR level): the per-point dispatchers
  :func:`loss_value` / :func:`loss_grad`, the row form :func:`loss_grad_rows` (one kind dispatch per
  block of rows; calling the inlined body on row views costs nothing over hand-written row loops:
  7.6e7 vs 7.2e7 2-D Langevin particle-steps/s on one core), the minibatch row form
  :func:`loss_grad_batch_rows` (finite sums), and the batch forms behind
  :meth:`Loss.value <deeprelax.losses.Loss.value>` / ``grad`` of the built-ins (:func:`value`, :func:`grad`);
* the CUDA device functions (:func:`retarget`: the same bodies compiled with ``cuda.jit(device=True)``,
  helpers re-bound to their device twins; :func:`deeprelax._cuda_dyn.loss_funcs`).

The dispatchers between the ``generated`` markers below are written by :func:`generate` from
:data:`KINDS` (and :data:`FS_KINDS`, the built-in finite sums of :mod:`deeprelax.finite_sum`, whose
per-point forms ``fs_value``/``fs_grad_full``/``fs_grad_idx`` are defined here too); these dispatchers
are what the kernels call (:mod:`deeprelax._kernel_loss`); ``tests/deeprelax/test_loss_sources.py``
fails when they are stale. Adding a loss kind: its two bodies plus a line in :data:`KINDS`, then
``python -m deeprelax._nbloss`` rewrites the dispatch; its :class:`~deeprelax.losses.Loss` class
(parameters, Hessian, exact relaxations) goes in :mod:`deeprelax.losses.analytic`.

The Python-callback kind
------------------------
:data:`KIND_PYTHON` is not a formula: its dispatch calls back into Python (``numba.objmode``, about
2 us per call) with all the rows of a block at once.  ``params = [n_samples or 0, token]``; the token
names the callbacks registered with :func:`register_callbacks`.  It is how plain Python/NumPy losses
(and finite-sum objects) run through the same compiled kernels: one Python gradient call per step on
all chains (see :mod:`deeprelax._kernel_loss`).

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
import types
from typing import Callable, NamedTuple

import numba
import numpy as np
from numba import objmode

from solvers.jit import njit

KIND_QUADRATIC = 0
KIND_ABS = 1
KIND_DOUBLE_WELL = 2
KIND_SOFTMIN = 3
KIND_DRFIG1 = 4
KIND_RASTRIGIN = 5
KIND_COSINE = 6
KIND_GAUSSMIX = 7
#: Not a formula: call back into Python with all rows at once (``params = [n_samples or 0, token]``).
KIND_PYTHON = -2

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
    """Fill ``L[i] = log w_i + log N(x; m_i, s_i^2 I)``; return ``max_i L[i]``."""
    d = int(params[0])
    k = int(params[1])
    ow = 2
    om = ow + k
    osd = om + k * d
    mx = -math.inf
    for i in range(k):
        s = 0.0
        for j in range(d):
            r = x[j] - params[om + i * d + j]
            s += r * r
        var = params[osd + i] * params[osd + i]
        L[i] = math.log(params[ow + i]) - 0.5 * d * (_LOG_2PI + math.log(var)) - s / (2.0 * var)
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


# ============================================================================= finite sums
#: Built-in finite sums (:mod:`deeprelax.finite_sum`): ``params = [N, d, lam, A (N*d), y (N)]``.
KIND_LSQ = 100
KIND_LOGISTIC = 101
_FS_MIN_KIND = 100
#: Finite-sum kinds the dispatch covers: full gradients (``fs_grad_full``) and minibatches (``fs_grad_idx``).
FS_KINDS = {KIND_LSQ: "least-squares", KIND_LOGISTIC: "logistic"}


@njit
def _sample_grad_acc(kind, params, x, k, d, oa, oy, out, w):
    """``out += w * grad f_k(x)`` for sample ``k``."""
    s = 0.0
    for j in range(d):
        s += params[oa + k * d + j] * x[j]
    yk = params[oy + k]
    if kind == KIND_LSQ:
        c = s - yk
    else:
        m = yk * s
        # -y sigmoid(-m), written stably
        if m >= 0:
            e = math.exp(-m)
            c = -yk * e / (1.0 + e)
        else:
            c = -yk / (1.0 + math.exp(m))
    c *= w
    for j in range(d):
        out[j] += c * params[oa + k * d + j]


@njit
def fs_grad_idx(kind, params, x, idx, b, out):
    """Minibatch gradient ``(1/b) sum_{i<b} grad f_{idx[i]}(x) + lam x`` into ``out`` (shape ``(d,)``)."""
    N = int(params[0])
    d = int(params[1])
    lam = params[2]
    oa = 3
    oy = 3 + N * d
    for j in range(d):
        out[j] = 0.0
    w = 1.0 / b
    for i in range(b):
        _sample_grad_acc(kind, params, x, idx[i], d, oa, oy, out, w)
    for j in range(d):
        out[j] += lam * x[j]


@njit
def fs_grad_full(kind, params, x, out):
    """Full gradient ``(1/N) sum_k grad f_k(x) + lam x`` into ``out`` (shape ``(d,)``)."""
    N = int(params[0])
    d = int(params[1])
    lam = params[2]
    oa = 3
    oy = 3 + N * d
    for j in range(d):
        out[j] = 0.0
    w = 1.0 / N
    for k in range(N):
        _sample_grad_acc(kind, params, x, k, d, oa, oy, out, w)
    for j in range(d):
        out[j] += lam * x[j]


@njit
def fs_value(kind, params, x):
    """``f(x)`` at one point ``x`` (shape ``(d,)``)."""
    N = int(params[0])
    d = int(params[1])
    lam = params[2]
    oa = 3
    oy = 3 + N * d
    tot = 0.0
    for k in range(N):
        s = 0.0
        for j in range(d):
            s += params[oa + k * d + j] * x[j]
        yk = params[oy + k]
        if kind == KIND_LSQ:
            tot += 0.5 * (s - yk) ** 2
        else:
            m = yk * s
            tot += (math.log1p(math.exp(-m)) if m >= 0 else -m + math.log1p(math.exp(m)))
    r = 0.0
    for j in range(d):
        r += x[j] * x[j]
    return tot / N + 0.5 * lam * r


class Kind(NamedTuple):
    """One built-in loss kind: its registry name, the two bodies, and where ``params`` holds the
    number of wells (the scratch length; ``-1``: no scratch)."""
    name: str
    value: Callable
    grad: Callable
    wells_at: int = -1


#: The built-in kinds.  Adding one: two bodies above, one entry here, then ``python -m deeprelax._nbloss``.
KINDS = {
    KIND_QUADRATIC: Kind("quadratic", _quadratic_value, _quadratic_grad),
    KIND_ABS: Kind("abs", _abs_value, _abs_grad),
    KIND_DOUBLE_WELL: Kind("double-well", _double_well_value, _double_well_grad),
    KIND_SOFTMIN: Kind("softmin-quadratics", _softmin_value, _softmin_grad, 1),
    KIND_DRFIG1: Kind("dr-fig1", _drfig1_value, _drfig1_grad),
    KIND_RASTRIGIN: Kind("rastrigin", _rastrigin_value, _rastrigin_grad),
    KIND_COSINE: Kind("cosine", _cosine_value, _cosine_grad),
    KIND_GAUSSMIX: Kind("gaussian-mixture", _gaussmix_value, _gaussmix_grad, 1),
}


def scratch_len(kind: int, params) -> int:
    """Length of the scratch ``S`` the bodies of ``kind`` need (number of wells, else 1)."""
    k = KINDS.get(int(kind))
    return int(params[k.wells_at]) if k is not None and k.wells_at >= 0 else 1


# ============================================================================= Python callbacks
#: token -> dict of Python callables (``grad_rows(X) -> G``, ``value_rows(X) -> v``,
#: ``grad_batch_rows(X, IDX) -> G``) for :data:`KIND_PYTHON`; see :func:`register_callbacks`.
CALLBACKS: dict = {}


def register_callbacks(token: int, **fns) -> None:
    """Make ``fns`` the callbacks of :data:`KIND_PYTHON` with ``params[1] = token`` (until :func:`drop_callbacks`)."""
    CALLBACKS[int(token)] = fns


def drop_callbacks(token: int) -> None:
    CALLBACKS.pop(int(token), None)


def _call_grad_rows(token, X, G, r0, r1):
    G[r0:r1] = CALLBACKS[token]["grad_rows"](X[r0:r1])


def _call_grad_batch_rows(token, X, IDX, G, r0, r1):
    G[r0:r1] = CALLBACKS[token]["grad_batch_rows"](X[r0:r1], IDX[r0:r1])


def _call_value(token, x):
    return float(CALLBACKS[token]["value_rows"](x[None, :])[0])


def _call_value_rows(token, X, F, r0, r1):
    """Values of the finite rows of ``X[r0:r1]`` into ``F[r0:r1]`` (NaN for the others)."""
    Xr = X[r0:r1]
    ok = np.isfinite(Xr).all(-1)
    v = np.full(Xr.shape[0], np.nan)
    if ok.any():
        v[ok] = np.asarray(CALLBACKS[token]["value_rows"](Xr if ok.all() else Xr[ok]), dtype=np.float64).reshape(-1)
    F[r0:r1] = v


#: The callback functions hold the GIL around the Python call (``objmode``), so they are not ``nogil``.
_pyjit = numba.njit(cache=True)


@_pyjit
def py_grad_rows(params, X, G, r0, r1):
    """:data:`KIND_PYTHON` gradients of rows ``r0 .. r1-1``: one Python call for all of them."""
    with objmode():
        _call_grad_rows(int(params[1]), X, G, r0, r1)


@_pyjit
def py_grad_batch_rows(params, X, IDX, G, r0, r1):
    """:data:`KIND_PYTHON` minibatch gradients of rows ``r0 .. r1-1`` (row ``r`` on samples ``IDX[r]``)."""
    with objmode():
        _call_grad_batch_rows(int(params[1]), X, IDX, G, r0, r1)


@_pyjit
def py_value_rows(params, X, F, r0, r1):
    """:data:`KIND_PYTHON` values of rows ``r0 .. r1-1`` of ``X`` into ``F``: one Python call for all of them."""
    with objmode():
        _call_value_rows(int(params[1]), X, F, r0, r1)


@_pyjit
def py_value(params, x):
    with objmode(v="float64"):
        v = _call_value(int(params[1]), x)
    return v


@_pyjit
def py_grad(params, x, out):
    X = x.reshape((1, x.shape[0]))
    G = out.reshape((1, out.shape[0]))
    py_grad_rows(params, X, G, 0, 1)


# ============================================================================= dispatch (generated)
def generate() -> str:
    """The source of the dispatchers, from :data:`KINDS` and :data:`FS_KINDS` (what sits between the
    markers of this file)."""
    fs = " or ".join(f"kind == {c}" for c in FS_KINDS)

    def branches(call, unknown):
        out = []
        for i, (code, k) in enumerate(KINDS.items()):
            kw = "if" if i == 0 else "elif"
            name = (k.value if call == "value" else k.grad).py_func.__name__
            out.append(f"    {kw} kind == {code}:  # {k.name}")
            if call == "value":
                out.append(f"        return {name}(params, x, S)")
            elif call == "grad":
                out.append(f"        {name}(params, x, out, S)")
            else:
                out += ["        for r in range(r0, r1):", f"            {name}(params, X[r], G[r], S)"]
        out.append(f"    elif {fs}:  # finite sums: {', '.join(FS_KINDS.values())}")
        out += {"value": ["        return fs_value(kind, params, x)"],
                "grad": ["        fs_grad_full(kind, params, x, out)"],
                "rows": ["        for r in range(r0, r1):", "            fs_grad_full(kind, params, X[r], G[r])"]}[call]
        out += ["    elif kind == KIND_PYTHON:", f"        {unknown[0]}", "    else:"]
        out += [f"        {line}" for line in unknown[1:]]
        return out

    src = ["@njit", "def loss_value(kind, params, x, S):",
           '    """Value of loss ``kind`` at one point ``x`` (d,); ``S`` scratch (:func:`scratch_len`); NaN for an',
           '    unknown kind."""']
    src += branches("value", ["return py_value(params, x)", "return math.nan"])
    src += ["", "", "@njit", "def loss_grad(kind, params, x, out, S):",
            '    """Gradient of loss ``kind`` at one point ``x`` (d,) into ``out`` (d,); NaN for an unknown kind."""']
    src += branches("grad", ["py_grad(params, x, out)", "for j in range(out.shape[0]):",
                             "    out[j] = math.nan"])
    src += ["", "", "@njit", "def loss_grad_rows(kind, params, X, G, r0, r1, S):",
            '    """Gradients at rows ``r0 .. r1-1`` of ``X`` (n, d) into the same rows of ``G``: the kind is',
            '    dispatched once per call, the inlined body runs on each row.  NaN for an unknown kind."""']
    src += branches("rows", ["py_grad_rows(params, X, G, r0, r1)", "for r in range(r0, r1):",
                             "    for j in range(G.shape[1]):", "        G[r, j] = math.nan"])
    src += ["", "", "@njit", "def loss_grad_batch_rows(kind, params, X, IDX, b, G, r0, r1):",
            '    """Minibatch gradients of rows ``r0 .. r1-1``: row ``r`` on the samples ``IDX[r, :b]`` (finite sums',
            '    and the Python callback; NaN otherwise)."""',
            f"    if {fs}:", "        for r in range(r0, r1):",
            "            fs_grad_idx(kind, params, X[r], IDX[r], b, G[r])",
            "    elif kind == KIND_PYTHON:", "        py_grad_batch_rows(params, X, IDX, G, r0, r1)", "    else:",
            "        for r in range(r0, r1):", "            for j in range(G.shape[1]):",
            "                G[r, j] = math.nan"]
    src += ["", "", "@njit", "def loss_scratch_len(kind, params):",
            '    """Compiled :func:`scratch_len`."""']
    for c, k in KINDS.items():
        if k.wells_at >= 0:
            src += [f"    if kind == {c}:", f"        return max(1, int(params[{k.wells_at}]))"]
    src += ["    return 1"]
    src += ["", "", "@njit", "def is_known_kind(kind):",
            '    """Whether ``kind`` is a built-in kind (analytic or finite sum) or :data:`KIND_PYTHON`."""',
            "    if kind == KIND_PYTHON:", "        return True"]
    for c in list(KINDS) + list(FS_KINDS):
        src += [f"    if kind == {c}:", "        return True"]
    src += ["    return False"]
    return "\n".join(src) + "\n"


BEGIN = "# --- generated by deeprelax._nbloss.generate(): do not edit by hand ---\n"
END = "# --- end of generated code ---\n"


def _write_generated(path=__file__) -> bool:
    """Rewrite the generated section of this file; returns whether it changed."""
    with open(path) as fh:
        text = fh.read()
    a, rest = text.split(BEGIN, 1)
    _, b = rest.split(END, 1)
    new = a + BEGIN + generate() + END + b
    if new != text:
        with open(path, "w") as fh:
            fh.write(new)
    return new != text


# --- generated by deeprelax._nbloss.generate(): do not edit by hand ---
@njit
def loss_value(kind, params, x, S):
    """Value of loss ``kind`` at one point ``x`` (d,); ``S`` scratch (:func:`scratch_len`); NaN for an
    unknown kind."""
    if kind == 0:  # quadratic
        return _quadratic_value(params, x, S)
    elif kind == 1:  # abs
        return _abs_value(params, x, S)
    elif kind == 2:  # double-well
        return _double_well_value(params, x, S)
    elif kind == 3:  # softmin-quadratics
        return _softmin_value(params, x, S)
    elif kind == 4:  # dr-fig1
        return _drfig1_value(params, x, S)
    elif kind == 5:  # rastrigin
        return _rastrigin_value(params, x, S)
    elif kind == 6:  # cosine
        return _cosine_value(params, x, S)
    elif kind == 7:  # gaussian-mixture
        return _gaussmix_value(params, x, S)
    elif kind == 100 or kind == 101:  # finite sums: least-squares, logistic
        return fs_value(kind, params, x)
    elif kind == KIND_PYTHON:
        return py_value(params, x)
    else:
        return math.nan


@njit
def loss_grad(kind, params, x, out, S):
    """Gradient of loss ``kind`` at one point ``x`` (d,) into ``out`` (d,); NaN for an unknown kind."""
    if kind == 0:  # quadratic
        _quadratic_grad(params, x, out, S)
    elif kind == 1:  # abs
        _abs_grad(params, x, out, S)
    elif kind == 2:  # double-well
        _double_well_grad(params, x, out, S)
    elif kind == 3:  # softmin-quadratics
        _softmin_grad(params, x, out, S)
    elif kind == 4:  # dr-fig1
        _drfig1_grad(params, x, out, S)
    elif kind == 5:  # rastrigin
        _rastrigin_grad(params, x, out, S)
    elif kind == 6:  # cosine
        _cosine_grad(params, x, out, S)
    elif kind == 7:  # gaussian-mixture
        _gaussmix_grad(params, x, out, S)
    elif kind == 100 or kind == 101:  # finite sums: least-squares, logistic
        fs_grad_full(kind, params, x, out)
    elif kind == KIND_PYTHON:
        py_grad(params, x, out)
    else:
        for j in range(out.shape[0]):
            out[j] = math.nan


@njit
def loss_grad_rows(kind, params, X, G, r0, r1, S):
    """Gradients at rows ``r0 .. r1-1`` of ``X`` (n, d) into the same rows of ``G``: the kind is
    dispatched once per call, the inlined body runs on each row.  NaN for an unknown kind."""
    if kind == 0:  # quadratic
        for r in range(r0, r1):
            _quadratic_grad(params, X[r], G[r], S)
    elif kind == 1:  # abs
        for r in range(r0, r1):
            _abs_grad(params, X[r], G[r], S)
    elif kind == 2:  # double-well
        for r in range(r0, r1):
            _double_well_grad(params, X[r], G[r], S)
    elif kind == 3:  # softmin-quadratics
        for r in range(r0, r1):
            _softmin_grad(params, X[r], G[r], S)
    elif kind == 4:  # dr-fig1
        for r in range(r0, r1):
            _drfig1_grad(params, X[r], G[r], S)
    elif kind == 5:  # rastrigin
        for r in range(r0, r1):
            _rastrigin_grad(params, X[r], G[r], S)
    elif kind == 6:  # cosine
        for r in range(r0, r1):
            _cosine_grad(params, X[r], G[r], S)
    elif kind == 7:  # gaussian-mixture
        for r in range(r0, r1):
            _gaussmix_grad(params, X[r], G[r], S)
    elif kind == 100 or kind == 101:  # finite sums: least-squares, logistic
        for r in range(r0, r1):
            fs_grad_full(kind, params, X[r], G[r])
    elif kind == KIND_PYTHON:
        py_grad_rows(params, X, G, r0, r1)
    else:
        for r in range(r0, r1):
            for j in range(G.shape[1]):
                G[r, j] = math.nan


@njit
def loss_grad_batch_rows(kind, params, X, IDX, b, G, r0, r1):
    """Minibatch gradients of rows ``r0 .. r1-1``: row ``r`` on the samples ``IDX[r, :b]`` (finite sums
    and the Python callback; NaN otherwise)."""
    if kind == 100 or kind == 101:
        for r in range(r0, r1):
            fs_grad_idx(kind, params, X[r], IDX[r], b, G[r])
    elif kind == KIND_PYTHON:
        py_grad_batch_rows(params, X, IDX, G, r0, r1)
    else:
        for r in range(r0, r1):
            for j in range(G.shape[1]):
                G[r, j] = math.nan


@njit
def loss_scratch_len(kind, params):
    """Compiled :func:`scratch_len`."""
    if kind == 3:
        return max(1, int(params[1]))
    if kind == 7:
        return max(1, int(params[1]))
    return 1


@njit
def is_known_kind(kind):
    """Whether ``kind`` is a built-in kind (analytic or finite sum) or :data:`KIND_PYTHON`."""
    if kind == KIND_PYTHON:
        return True
    if kind == 0:
        return True
    if kind == 1:
        return True
    if kind == 2:
        return True
    if kind == 3:
        return True
    if kind == 4:
        return True
    if kind == 5:
        return True
    if kind == 6:
        return True
    if kind == 7:
        return True
    if kind == 100:
        return True
    if kind == 101:
        return True
    return False
# --- end of generated code ---


# ============================================================================= per-point and batch forms
@njit
def nb_value(kind, params, x):
    """Loss value at one point ``x`` (shape ``(d,)``) for loss ``kind`` with ``params`` (ValueError: unknown kind)."""
    if not is_known_kind(kind):
        raise ValueError("nb_value: unknown loss kind")
    return loss_value(kind, params, x, np.empty(loss_scratch_len(kind, params)))


@njit
def nb_grad(kind, params, x, out):
    """Write the gradient at one point ``x`` (shape ``(d,)``) into ``out`` (shape ``(d,)``)."""
    if not is_known_kind(kind):
        raise ValueError("nb_grad: unknown loss kind")
    loss_grad(kind, params, x, out, np.empty(loss_scratch_len(kind, params)))


#: The row form under its historical name (kernels call :func:`loss_grad_rows`).
nb_grad_rows = loss_grad_rows


@njit
def nb_value_batch(kind, params, X):
    """Values at the rows of ``X`` (shape ``(n, d)``); returns shape ``(n,)``."""
    n = X.shape[0]
    out = np.empty(n)
    S = np.empty(loss_scratch_len(kind, params))
    for i in range(n):
        out[i] = loss_value(kind, params, X[i], S)
    return out


@njit
def nb_grad_batch(kind, params, X):
    """Gradients at the rows of ``X`` (shape ``(n, d)``); returns shape ``(n, d)``."""
    G = np.empty_like(X)
    loss_grad_rows(kind, params, X, G, 0, X.shape[0], np.empty(loss_scratch_len(kind, params)))
    return G


def _rows(x):
    X = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    return X, X.reshape(-1, X.shape[-1])


def value(loss, x):
    """Compiled value of ``loss`` at points ``x`` of shape ``(..., d)``; returns shape ``(...)``."""
    X, flat = _rows(x)
    return nb_value_batch(loss.nb_kind, loss.nb_params, flat).reshape(X.shape[:-1])


def grad(loss, x):
    """Compiled gradient of ``loss`` at points ``x`` of shape ``(..., d)``; returns shape ``(..., d)``."""
    X, flat = _rows(x)
    return nb_grad_batch(loss.nb_kind, loss.nb_params, flat).reshape(X.shape)


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


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print("rewrote the generated dispatch" if _write_generated() else "generated dispatch is up to date")
