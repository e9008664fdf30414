r"""Compiled loops of the continuous relaxation: replicated SGD and Entropy-SGD.

Weights :math:`w \in [-1, 1]^N`; stabilities :math:`h^\mu = \sigma^\mu w\cdot\xi^\mu/\sqrt N` computed
at ``w`` (``forward=0``, the true gradient of the relaxation) or at ``sign(w)`` (``forward=1``, the
straight-through / BinaryConnect estimator: the gradient at the binary weights is applied to the
continuous ones).  Per-pattern loss :math:`\ell(h) = \tfrac12 (\kappa - h)_+^2`, so
:math:`\partial_w \ell = -(\kappa - h)_+\, \sigma^\mu \xi^\mu / \sqrt N`.  A minibatch of ``b`` patterns
gives the unbiased estimate :math:`(P/b)\sum_{\mu\in B}\partial_w\ell_\mu` of :math:`\nabla E`,
:math:`E = \sum_\mu \ell_\mu`.
"""
from __future__ import annotations

import math

import numpy as np

from solvers.jit import njit, pnjit, prange

from .. import _rng
from . import _energy


@njit
def minibatch_grad(xs, w, idx, start, b, kappa, forward, g, wsign):
    """``g = (P/b) sum_{mu in idx[start:start+b]} grad l_mu(w)``; returns the minibatch loss (same scale).

    ``wsign`` (int8, N) is scratch for ``sign(w)``: with ``forward=1`` the stabilities are integer dot
    products (vectorised; float reductions are not, since the package compiles without fastmath).
    """
    p, n = xs.shape
    inv = 1.0 / math.sqrt(n)
    for j in range(n):
        g[j] = 0.0
    if forward == 1:
        for j in range(n):
            wsign[j] = 1 if w[j] >= 0.0 else -1
    scale = p / b
    loss = 0.0
    for k in range(start, start + b):
        mu = idx[k]
        if forward == 0:
            h = 0.0
            for j in range(n):
                h += xs[mu, j] * w[j]
        else:
            hi = 0
            for j in range(n):
                hi += xs[mu, j] * wsign[j]
            h = float(hi)
        h *= inv
        m = kappa - h
        if m > 0.0:
            loss += 0.5 * m * m
            c = -m * inv * scale
            for j in range(n):
                g[j] += c * xs[mu, j]
    return loss * scale


@njit
def _shuffle(idx, state, c):
    for k in range(idx.shape[0] - 1, 0, -1):
        u = _rng.randint(state, c, k + 1)
        t = idx[k]
        idx[k] = idx[u]
        idx[u] = t


@njit
def _sign_errors(xsT, w, Wb, h):
    for j in range(w.shape[0]):
        Wb[j] = 1 if w[j] >= 0.0 else -1
    return _energy.errors_of(xsT, Wb, h)


@njit
def rsgd_update(wr, G, lr, gamma, beta, S):
    r"""One replicated step given the replicas' gradients ``G`` (y, N):
    :math:`w^a \leftarrow \mathrm{clip}(w^a - \eta G^a + \eta(\gamma/\beta)(\tanh(\gamma S) - w^a))`,
    :math:`S = \sum_b w^b` taken before the step (Jacobi), i.e. a step of gradient descent on
    :math:`H = \sum_a E(w^a) - \beta^{-1}\sum_j \log(e^{-\gamma\sum_a (w^a_j-1)^2/2} + e^{-\gamma\sum_a (w^a_j+1)^2/2})`.
    """
    y, n = wr.shape
    k = lr * gamma / beta
    for j in range(n):
        s = 0.0
        for a in range(y):
            s += wr[a, j]
        S[j] = s
    for j in range(n):
        t = math.tanh(gamma * S[j])
        for a in range(y):
            v = wr[a, j] - lr * G[a, j] + k * (t - wr[a, j])
            wr[a, j] = -1.0 if v < -1.0 else (1.0 if v > 1.0 else v)


@njit
def _rsgd_chain(xs, xsT, wr, gammas, lr, beta, kappa, b, forward, state, c, tr, centre):
    """Replicated SGD of ``wr`` (y, N) in place over ``gammas.size`` epochs; stop when the sign of the
    centre or of a replica has zero errors.  Returns (pattern-gradient evaluations, records, solved-by)."""
    y, n = wr.shape
    p = xs.shape[0]
    steps = max(1, p // b)
    idx = np.empty((y, p), np.int64)
    for a in range(y):
        for k in range(p):
            idx[a, k] = k
    G = np.empty((y, n))
    S = np.empty(n)
    Wb = np.empty(n, np.int8)
    h = np.empty(p, np.int32)
    evals = 0
    nrec = 0
    solved_by = -1
    for t in range(-1, gammas.shape[0]):
        gamma = gammas[max(t, 0)]
        loss = 0.0
        if t >= 0:
            for a in range(y):
                _shuffle(idx[a], state, c)
            for st in range(steps):
                loss = 0.0
                for a in range(y):
                    loss += minibatch_grad(xs, wr[a], idx[a], st * b, b, kappa, forward, G[a], Wb)
                evals += y * b
                rsgd_update(wr, G, lr, gamma, beta, S)
        # observables after the epoch: errors of sign(centre) and of sign(w^a)
        for j in range(n):
            s = 0.0
            for a in range(y):
                s += wr[a, j]
            S[j] = s
        nc = _sign_errors(xsT, S, centre, h)
        emin = p
        emean = 0.0
        amin = 0
        for a in range(y):
            ea = _sign_errors(xsT, wr[a], Wb, h)
            emean += ea / y
            if ea < emin:
                emin = ea
                amin = a
        if nc == 0:
            solved_by = y
        elif emin == 0:
            solved_by = amin
        q = 0.0
        bin_frac = 0.0
        for j in range(n):
            for a in range(y):
                if abs(wr[a, j]) > 0.999:
                    bin_frac += 1.0
                for a2 in range(a + 1, y):
                    q += wr[a, j] * wr[a2, j]
        q /= n * y * (y - 1) / 2.0 if y > 1 else 1.0
        if nrec < tr.shape[0]:
            tr[nrec, 0] = evals / p
            tr[nrec, 1] = gamma
            tr[nrec, 2] = nc
            tr[nrec, 3] = emean
            tr[nrec, 4] = emin
            tr[nrec, 5] = loss / y
            tr[nrec, 6] = q
            tr[nrec, 7] = bin_frac / (n * y)
            nrec += 1
        if solved_by >= 0:
            break
    return evals, nrec, solved_by


@pnjit
def rsgd_batch(xs, xsT, wr, gammas, lr, beta, kappa, b, forward, state):
    I, y, n = wr.shape
    evals = np.zeros(I, np.int64)
    nrec = np.zeros(I, np.int64)
    solved_by = np.zeros(I, np.int64)
    centre = np.zeros((I, n), np.int8)
    tr = np.zeros((I, gammas.shape[0] + 1, 8))
    for i in prange(I):
        ii = np.int64(i)
        e, r, s = _rsgd_chain(xs[ii], xsT[ii], wr[ii], gammas, lr, beta, kappa, b, forward, state, ii, tr[ii],
                              centre[ii])
        evals[ii] = e
        nrec[ii] = r
        solved_by[ii] = s
    return evals, nrec, solved_by, centre, tr


@njit
def _esgd_chain(xs, xsT, x, gammas, lr, lr_in, beta_in, L, ema, kappa, b, forward, state, c, tr, Wout):
    r"""Entropy-SGD of ``x`` (N,) in place; ``gammas`` (per outer step) is the scoped coupling.

    Inner loop (L steps of SGLD on :math:`E(x') + \tfrac\gamma2|x' - x|^2`, clipped to the cube, noise
    :math:`\sqrt{2\eta'/\beta'}\,\epsilon`), :math:`\mu \leftarrow (1-\alpha)\mu + \alpha x'`; outer step
    :math:`x \leftarrow \mathrm{clip}(x - \eta\gamma(x - \mu))`.  Observables once per epoch of inner
    gradient work.  Returns (evaluations, records, solved).
    """
    n = x.shape[0]
    p = xs.shape[0]
    idx = np.arange(p)
    g = np.empty(n)
    xp = np.empty(n)
    mu_ = np.empty(n)
    wsg = np.empty(n, np.int8)
    h = np.empty(p, np.int32)
    noise = math.sqrt(2.0 * lr_in / beta_in) if beta_in > 0 else 0.0
    pos = p  # position in the current pattern permutation
    evals = 0
    nrec = 0
    solved = False
    next_obs = 0
    loss = 0.0
    for t in range(-1, gammas.shape[0]):
        gamma = gammas[max(t, 0)]
        if t >= 0:
            for j in range(n):
                xp[j] = x[j]
                mu_[j] = x[j]
            for it in range(L):
                if pos + b > p:
                    _shuffle(idx, state, c)
                    pos = 0
                loss = minibatch_grad(xs, xp, idx, pos, b, kappa, forward, g, wsg)
                pos += b
                evals += b
                for j in range(n):
                    v = xp[j] - lr_in * (g[j] + gamma * (xp[j] - x[j]))
                    if noise > 0.0:
                        v += noise * _rng.normal(state, c)
                    xp[j] = -1.0 if v < -1.0 else (1.0 if v > 1.0 else v)
                    mu_[j] = (1.0 - ema) * mu_[j] + ema * xp[j]
            for j in range(n):
                v = x[j] - lr * gamma * (x[j] - mu_[j])
                x[j] = -1.0 if v < -1.0 else (1.0 if v > 1.0 else v)
        if evals >= next_obs or t == gammas.shape[0] - 1:
            next_obs += p
            ne = _sign_errors(xsT, x, Wout, h)
            bin_frac = 0.0
            for j in range(n):
                if abs(x[j]) > 0.999:
                    bin_frac += 1.0
            if nrec < tr.shape[0]:
                tr[nrec, 0] = evals / p
                tr[nrec, 1] = gamma
                tr[nrec, 2] = ne
                tr[nrec, 3] = loss
                tr[nrec, 4] = bin_frac / n
                nrec += 1
            if ne == 0:
                solved = True
                break
    return evals, nrec, solved


@pnjit
def esgd_batch(xs, xsT, x, gammas, lr, lr_in, beta_in, L, ema, kappa, b, forward, state, n_rec):
    I, n = x.shape
    evals = np.zeros(I, np.int64)
    nrec = np.zeros(I, np.int64)
    solved = np.zeros(I, np.bool_)
    Wout = np.zeros((I, n), np.int8)
    tr = np.zeros((I, n_rec, 5))
    for i in prange(I):
        ii = np.int64(i)
        e, r, s = _esgd_chain(xs[ii], xsT[ii], x[ii], gammas, lr, lr_in, beta_in, L, ema, kappa, b, forward,
                              state, ii, tr[ii], Wout[ii])
        evals[ii] = e
        nrec[ii] = r
        solved[ii] = s
    return evals, nrec, solved, Wout, tr
