"""The built-in finite sums' compiled per-point forms (:mod:`deeprelax.finite_sum` holds their classes).

``params = [N, d, lam, A (N*d, row-major), y (N)]``; ``kind`` is :data:`KIND_LSQ` (least squares,
``f_k = (a_k . x - y_k)^2 / 2``) or :data:`KIND_LOGISTIC` (``f_k = log(1 + exp(-y_k a_k . x))``).
:func:`fs_value`, :func:`fs_grad_full` (full data) and :func:`fs_grad_idx` (a minibatch of sample
indices) are ``numba.njit`` functions usable inside other kernels; the dispatch of every built-in loss
(:mod:`deeprelax._nbloss`) calls them for the finite-sum kinds.

The dispatchers of :mod:`deeprelax._nbloss` (and through them the particle kernels) compile these
functions into themselves; an edit of this file alone still recompiles them (the on-disk cache is
stamped with a hash of the package's sources: :mod:`solvers._cache_stamp`).
"""
from __future__ import annotations

import math

from solvers.jit import njit

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
