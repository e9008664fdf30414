r"""Numba kernels of the particle dynamics (:mod:`deeprelax.dynamics`).

Random numbers: counter-based (:mod:`deeprelax._rng`), so results do not depend on threads
------------------------------------------------------------------------------------------
Every random number is a pure function of ``(master key, chain, stream, counter)``.  The normals
of one step of one chain form a block ``B`` of ``m`` numbers (counters ``B m .. B m + m - 1``),
so any loop order, any thread split, and the numpy twins see exactly the same numbers;
minibatches of finite-sum losses use stream 1 (:func:`deeprelax._rng.fill_batch`).

Every algorithm has a per-chain routine ``_<alg>_chain`` (the reference form: one chain's
arithmetic, the form the CUDA backend runs one thread per chain) and two drivers, ``_<alg>_ser``
(``range``) and ``_<alg>_par`` (``prange``).  ``status[c]`` is ``-1`` on success or the step at which
chain ``c`` went non-finite (the chain then stops).

Losses: the kernels reach the loss only through the provider functions of
:mod:`deeprelax._kernel_loss` (``loss_grad_rows``, ``loss_grad``, ``loss_grad_batch_rows``), with the
runtime arguments ``kind, params``: built-in losses dispatch on ``kind``, compiled user losses run
copies of these kernels bound to the user's functions, Python losses call back with all the rows of a
block at once.

Blocks: SGD/SGLD and Entropy-SGD run ``bw`` chains together (``_sgd_block``, ``_esgd_block``; the
drivers loop or ``prange`` over blocks; ``bw = BLOCK`` for compiled losses, all chains for Python
losses).  Each step makes one ``loss_grad_rows`` (or, with minibatches, ``loss_grad_batch_rows``)
call for the whole block, then separate short passes for the normals (:func:`deeprelax._rng.normals_rows`:
the ziggurat's first try vectorised over the block's chains, the same numbers as ``znormal``), the update
and the finiteness checks.  A per-chain gradient call cost 40-60 ns here, more than the rest of a 2-D Langevin step:
Numba increments and decrements the reference counts of its array arguments (atomic operations, and a
shared cache line across threads for ``params``), which its reference-count pruning cannot remove past
the dispatcher's error paths.  The blocked kernels use each chain's keys, counters and arithmetic
unchanged, so their results equal the per-chain kernels' bit for bit (``tests/deeprelax/test_dyn_blocks.py``),
minibatches included.  Elastic-SGD and Parle advance one system per ``_<alg>_chain`` call, with all its
replicas' gradients in one rows call per step.
"""
from __future__ import annotations

import math

import numpy as np

from solvers.jit import njit, pnjit, prange

from ._kernel_loss import loss_grad, loss_grad_batch_rows, loss_grad_rows
from ._nbloss import loss_scratch_len
from ._rng import (STREAM_BATCH, STREAM_NOISE, batch_block, chain_key, fill_batch, fill_normals,  # noqa: F401
                   normals_block, normals_rows, uniform_block, uniform_pos, znormal)

#: Small helpers are inlined at the Numba-IR level: Numba does not inline across compiled functions,
#: and a call costs 5-15 ns here, as much as a whole 2-D Langevin step.
_inline = njit(inline="always")



# ----------------------------------------------------------------------------- gradient dispatch
@njit
def grad_dispatch(kind, params, x, out, bkey, block, batch, replace, idx, S):
    """``grad f`` at one point (``batch <= 0``), or the minibatch gradient on ``batch`` indices drawn from
    block ``block`` of the chain's minibatch stream ``bkey`` (``N = params[0]`` samples)."""
    if batch <= 0:
        loss_grad(kind, params, x, out, S)
    else:
        fill_batch(bkey, block, int(params[0]), batch, replace, idx)
        d = x.shape[0]
        loss_grad_batch_rows(kind, params, x.reshape((1, d)), idx.reshape((1, batch)), batch,
                             out.reshape((1, d)), 0, 1)


@njit
def _batch_grads(kind, params, X, G, B, batch, replace, bkeys, block, IDX):
    """Minibatch gradients of rows ``0 .. B-1``: row ``i`` draws block ``block`` of its stream ``bkeys[i]``
    (the per-chain kernels' counters), then one ``loss_grad_batch_rows`` call.  Kernels call this or
    ``loss_grad_rows`` directly in their step loop: an inlined helper taking the block's arrays made the
    noiseless 2-D step 15-20 % slower (the inlined array arguments are reference-counted per step)."""
    N = int(params[0])
    for i in range(B):
        fill_batch(bkeys[i], block, N, batch, replace, IDX[i])
    loss_grad_batch_rows(kind, params, X, IDX, batch, G, 0, B)


@njit
def _replica_batch_grads(kind, params, Y, GR, n_rep, batch, replace, bkey, block0, IDX):
    """Minibatch gradients of all replicas of one system; replica ``a`` draws block ``block0 + a`` of ``bkey``."""
    N = int(params[0])
    for a in range(n_rep):
        fill_batch(bkey, block0 + a, N, batch, replace, IDX[a])
    loss_grad_batch_rows(kind, params, Y, IDX, batch, GR, 0, n_rep)


@_inline
def _finite(x):
    for j in range(x.size):
        if not math.isfinite(x[j]):
            return False
    return True


# ----------------------------------------------------------------------------- SGD / EM / LM / SGLD
@njit
def _sgd_chain(c, kind, params, X0, hs, sig, lm, master, batch, replace, slot, xs, xf, status):
    """One chain of ``x <- x - h_n g(x) + noise``.

    EM (``lm = False``): noise ``sig[n] xi_n``; LM: ``sig[n] (xi_n + xi_{n+1})``.
    ``sig`` is precomputed by the caller (``sqrt(2 h/beta)`` for EM, ``sqrt(h/(2 beta))`` for LM;
    all zeros = no noise, no random numbers drawn).
    """
    d = X0.shape[1]
    x = X0[c].copy()
    g = np.empty(d)
    xi = np.empty(d + 1)
    xi2 = np.empty(d + 1)
    S = np.empty(loss_scratch_len(kind, params))
    idx = np.empty(max(batch, 1), np.int64)
    nkey = chain_key(master, c, STREAM_NOISE)
    bkey = chain_key(master, c, STREAM_BATCH)
    n_steps = hs.size
    noisy = False
    for n in range(n_steps):
        if sig[n] != 0.0:
            noisy = True
    if lm and noisy:
        fill_normals(nkey, 0, d, xi)
    if slot[0] >= 0:
        xs[slot[0], c, :] = x
    for n in range(n_steps):
        grad_dispatch(kind, params, x, g, bkey, n, batch, replace, idx, S)
        h = hs[n]
        s = sig[n]
        if lm:
            if noisy:
                fill_normals(nkey, n + 1, d, xi2)
                for j in range(d):
                    x[j] = x[j] - h * g[j] + s * (xi[j] + xi2[j])
                    xi[j] = xi2[j]
            else:
                for j in range(d):
                    x[j] = x[j] - h * g[j]
        elif s != 0.0:
            fill_normals(nkey, n, d, xi)
            for j in range(d):
                x[j] = x[j] - h * g[j] + s * xi[j]
        else:
            for j in range(d):
                x[j] = x[j] - h * g[j]
        if not _finite(x):
            status[c] = n
            break
        k = slot[n + 1]
        if k >= 0:
            xs[k, c, :] = x
    xf[c, :] = x


#: Chains per block for compiled losses: one gradient dispatch per block and step.
BLOCK = 64


@njit
def _sgd_block(blk, bw, kind, params, X0, hs, sig, lm, master, batch, replace, slot, xs, xf, status, n0=0):
    """Chains ``blk*bw .. blk*bw + bw - 1`` of ``_sgd_chain``, advanced together.

    Per step: one gradient call for the whole block, then each live chain's update with exactly
    ``_sgd_chain``'s arithmetic and random numbers (same keys, same counters), so results are
    bit-identical to the per-chain kernel; a chain that turns non-finite is frozen (status = step).
    ``n0``: the run's step index of ``hs[0]`` (the random-number counters and ``status`` count from
    it), so a run taken in pieces (``X0`` = the previous piece's ``xf``) equals one in a single call.
    """
    n_all = X0.shape[0]
    d = X0.shape[1]
    c0 = blk * bw
    c1 = min(n_all, c0 + bw)
    B = c1 - c0
    X = np.empty((B, d))
    G = np.empty((B, d))
    XI = np.empty((B, d))
    xi2 = np.empty(d + 1)
    S = np.empty(loss_scratch_len(kind, params))
    IDX = np.empty((B, max(batch, 1)), np.int64)
    keys = np.empty(B, np.uint64)
    bkeys = np.empty(B, np.uint64)
    alive = np.ones(B, np.bool_)
    n_steps = hs.size
    noisy = False
    for n in range(n_steps):
        if sig[n] != 0.0:
            noisy = True
    for i in range(B):
        c = c0 + i
        for j in range(d):
            X[i, j] = X0[c, j]
        keys[i] = chain_key(master, c, STREAM_NOISE)
        bkeys[i] = chain_key(master, c, STREAM_BATCH)
        if lm and noisy:
            fill_normals(keys[i], n0, d, xi2)          # the normals of step n0 - 1 (or the initial ones)
            for j in range(d):
                XI[i, j] = xi2[j]
        if slot[0] >= 0:
            for j in range(d):
                xs[slot[0], c, j] = X[i, j]
    Z = np.empty((B, d))
    Xf = X.reshape(B * d)                           # flat views for the all-alive update
    Gf = G.reshape(B * d)
    Zf = Z.reshape(B * d)
    XIf = XI.reshape(B * d)                         # LM: the previous normals
    nalive = B
    for n in range(n_steps):
        if batch > 0:
            _batch_grads(kind, params, X, G, B, batch, replace, bkeys, n0 + n, IDX)
        else:
            loss_grad_rows(kind, params, X, G, 0, B, S)
        h = hs[n]
        s = sig[n]
        # separate passes (normals, update, checks) keep each loop short and branch-free
        # (while every chain of the block is alive, the update runs as one flat loop over B d entries,
        # which LLVM vectorises; the per-chain form skips the frozen chains)
        if lm and noisy:
            normals_rows(keys, B, (n0 + n + 1) * d, d, Z)   # fill_normals(key, n0 + n + 1, d, .) of every chain
            if nalive == B:
                for q in range(B * d):
                    Xf[q] = Xf[q] - h * Gf[q] + s * (XIf[q] + Zf[q])
                    XIf[q] = Zf[q]
            else:
                for i in range(B):
                    if alive[i]:
                        for j in range(d):
                            X[i, j] = X[i, j] - h * G[i, j] + s * (XI[i, j] + Z[i, j])
                            XI[i, j] = Z[i, j]
        elif (not lm) and s != 0.0:
            normals_rows(keys, B, (n0 + n) * d, d, Z)   # fill_normals(key, n0 + n, d, .) of every chain
            if nalive == B:
                for q in range(B * d):
                    Xf[q] = Xf[q] - h * Gf[q] + s * Zf[q]
            else:
                for i in range(B):
                    if alive[i]:
                        for j in range(d):
                            X[i, j] = X[i, j] - h * G[i, j] + s * Z[i, j]
        else:
            if nalive == B:
                for q in range(B * d):
                    Xf[q] = Xf[q] - h * Gf[q]
            else:
                for i in range(B):
                    if alive[i]:
                        for j in range(d):
                            X[i, j] = X[i, j] - h * G[i, j]
        k = slot[n + 1]
        acc = 0.0
        for q in range(B * d):
            acc += Xf[q] - Xf[q]                    # 0.0 unless an entry is NaN or +-inf
        if acc != 0.0:
            for i in range(B):
                if alive[i]:
                    bad = False
                    for j in range(d):
                        v = X[i, j]
                        if v - v != 0.0:            # NaN or +-inf
                            bad = True
                    if bad:
                        status[c0 + i] = n0 + n
                        alive[i] = False
                        nalive -= 1
        if k >= 0:
            for i in range(B):
                if alive[i]:
                    for j in range(d):
                        xs[k, c0 + i, j] = X[i, j]
    for i in range(B):
        for j in range(d):
            xf[c0 + i, j] = X[i, j]


@njit
def _sgd_ser(kind, params, X0, hs, sig, lm, master, batch, replace, slot, xs, xf, status, bw, n0=0):
    for blk in range((X0.shape[0] + bw - 1) // bw):
        _sgd_block(blk, bw, kind, params, X0, hs, sig, lm, master, batch, replace, slot, xs, xf, status, n0)


@pnjit
def _sgd_par(kind, params, X0, hs, sig, lm, master, batch, replace, slot, xs, xf, status, bw, n0=0):
    for blk in prange((X0.shape[0] + bw - 1) // bw):
        _sgd_block(blk, bw, kind, params, X0, hs, sig, lm, master, batch, replace, slot, xs, xf, status, n0)


# ----------------------------------------------------------------------------- Entropy-SGD / HJ-prox
@njit
def _esgd_chain(c, kind, params, X0, L, tks, lrs, ilrs, sigs, outer_mode, ema, burn, mom, rho,
                master, batch, replace, slot, xs, mus, xf, status, k0=0, k1=-1):
    """One chain of Entropy-SGD (``outer_mode`` 0: ``x -= lr (x - mu)/t``; 1: ``x -= lr (x - mu)``;
    2: ``x -= lr grad f(mu)``).  Inner: ``y -= eta' (g_mom(y) + (y - x)/t) + sig xi``;
    ``mu`` = EMA with weight ``ema`` on the old value, or (``ema < 0``) the running mean of the
    inner iterates after ``burn`` discarded ones.  ``rho > 0`` adds ``rho grad f_mb(x)`` to the outer step.
    Minibatch counters: ``k (L + 1) + ell`` for inner step ``ell``, ``k (L + 1) + L`` for the outer step.
    Outer steps ``k0 .. k1 - 1`` of the run (``k1 = -1``: to the end) from ``x = X0[c]``: the only state
    an outer step carries to the next is ``x`` (``y``, ``mu`` and the momentum restart from it), so a run
    taken in pieces (``X0`` = the previous piece's ``xf``) equals one call; a chain with ``status >= 0``
    on entry failed in an earlier piece and is left as it is."""
    d = X0.shape[1]
    x = X0[c].copy()
    if status[c] >= 0:
        xf[c, :] = x
        return
    y = np.empty(d)
    mu = np.empty(d)
    m = np.empty(d)
    g = np.empty(d)
    xi = np.empty(d + 1)
    S = np.empty(loss_scratch_len(kind, params))
    idx = np.empty(max(batch, 1), np.int64)
    nkey = chain_key(master, c, STREAM_NOISE)
    bkey = chain_key(master, c, STREAM_BATCH)
    n_outer = tks.size if k1 < 0 else k1
    for k in range(k0, n_outer):
        t = tks[k]
        eta_in = ilrs[k]
        s = sigs[k]
        for j in range(d):
            y[j] = x[j]
            mu[j] = x[j]
            m[j] = 0.0
        cnt = 0
        for ell in range(L):
            grad_dispatch(kind, params, y, g, bkey, k * (L + 1) + ell, batch, replace, idx, S)
            if mom != 0.0:
                for j in range(d):
                    m[j] = mom * m[j] + g[j]
                    g[j] = g[j] + mom * m[j]
            if s != 0.0:
                fill_normals(nkey, k * L + ell, d, xi)
                for j in range(d):
                    y[j] = y[j] - eta_in * (g[j] + (y[j] - x[j]) / t) + s * xi[j]
            else:
                for j in range(d):
                    y[j] = y[j] - eta_in * (g[j] + (y[j] - x[j]) / t)
            if ema >= 0.0:
                for j in range(d):
                    mu[j] = ema * mu[j] + (1.0 - ema) * y[j]
            elif ell >= burn:
                cnt += 1
                for j in range(d):
                    mu[j] += (y[j] - mu[j]) / cnt
        sl = slot[k]
        if sl >= 0:
            xs[sl, c, :] = x
            mus[sl, c, :] = mu
        if outer_mode == 2:
            grad_dispatch(kind, params, mu, g, bkey, k * (L + 1) + L, batch, replace, idx, S)
            for j in range(d):
                x[j] -= lrs[k] * g[j]
        else:
            inv = 1.0 / t if outer_mode == 0 else 1.0
            if rho != 0.0:
                grad_dispatch(kind, params, x, g, bkey, k * (L + 1) + L, batch, replace, idx, S)
                for j in range(d):
                    x[j] -= lrs[k] * ((x[j] - mu[j]) * inv + rho * g[j])
            else:
                for j in range(d):
                    x[j] -= lrs[k] * (x[j] - mu[j]) * inv
        if not (_finite(x) and _finite(mu)):
            status[c] = k
            break
    sl = slot[n_outer]
    if sl >= 0 and status[c] < 0:
        xs[sl, c, :] = x
    xf[c, :] = x


@njit
def _esgd_block(blk, bw, kind, params, X0, L, tks, lrs, ilrs, sigs, outer_mode, ema, burn, mom, rho,
                master, batch, replace, slot, xs, mus, xf, status, k0=0, k1=-1):
    """Chains ``blk*bw ..`` of ``_esgd_chain``, advanced together (one gradient call per block and inner
    step; each chain's arithmetic and random numbers exactly as in ``_esgd_chain``, so results are
    bit-identical), for outer steps ``k0 .. k1 - 1`` as there (a chain failed on entry stays frozen)."""
    n_all = X0.shape[0]
    d = X0.shape[1]
    c0 = blk * bw
    c1 = min(n_all, c0 + bw)
    B = c1 - c0
    X = np.empty((B, d))
    Y = np.empty((B, d))
    MU = np.empty((B, d))
    M = np.empty((B, d))
    G = np.empty((B, d))
    Z = np.empty((B, d))
    S = np.empty(loss_scratch_len(kind, params))
    IDX = np.empty((B, max(batch, 1)), np.int64)
    keys = np.empty(B, np.uint64)
    bkeys = np.empty(B, np.uint64)
    alive = np.ones(B, np.bool_)
    Xf, Yf, MUf, Mf, Gf, Zf = X.reshape(B * d), Y.reshape(B * d), MU.reshape(B * d), M.reshape(B * d), \
        G.reshape(B * d), Z.reshape(B * d)
    for i in range(B):
        for j in range(d):
            X[i, j] = X0[c0 + i, j]
        keys[i] = chain_key(master, c0 + i, STREAM_NOISE)
        bkeys[i] = chain_key(master, c0 + i, STREAM_BATCH)
        alive[i] = status[c0 + i] < 0
    n_outer = tks.size if k1 < 0 else k1
    for k in range(k0, n_outer):
        t = tks[k]
        eta_in = ilrs[k]
        s = sigs[k]
        for q in range(B * d):
            Yf[q] = Xf[q]
            MUf[q] = Xf[q]
            Mf[q] = 0.0
        cnt = 0
        for ell in range(L):
            if batch > 0:
                _batch_grads(kind, params, Y, G, B, batch, replace, bkeys, k * (L + 1) + ell, IDX)
            else:
                loss_grad_rows(kind, params, Y, G, 0, B, S)
            # inner-step passes over all B d entries as flat loops (vectorised; no chain is skipped here)
            if mom != 0.0:
                for q in range(B * d):
                    Mf[q] = mom * Mf[q] + Gf[q]
                    Gf[q] = Gf[q] + mom * Mf[q]
            if s != 0.0:
                normals_rows(keys, B, (k * L + ell) * d, d, Z)   # fill_normals(key, k L + ell, d, .)
                for q in range(B * d):
                    Yf[q] = Yf[q] - eta_in * (Gf[q] + (Yf[q] - Xf[q]) / t) + s * Zf[q]
            else:
                for q in range(B * d):
                    Yf[q] = Yf[q] - eta_in * (Gf[q] + (Yf[q] - Xf[q]) / t)
            if ema >= 0.0:
                for q in range(B * d):
                    MUf[q] = ema * MUf[q] + (1.0 - ema) * Yf[q]
            elif ell >= burn:
                cnt += 1
                for q in range(B * d):
                    MUf[q] += (Yf[q] - MUf[q]) / cnt
        sl = slot[k]
        if sl >= 0:
            for i in range(B):
                if alive[i]:
                    for j in range(d):
                        xs[sl, c0 + i, j] = X[i, j]
                        mus[sl, c0 + i, j] = MU[i, j]
        if outer_mode == 2:
            if batch > 0:
                _batch_grads(kind, params, MU, G, B, batch, replace, bkeys, k * (L + 1) + L, IDX)
            else:
                loss_grad_rows(kind, params, MU, G, 0, B, S)
            for i in range(B):
                if alive[i]:
                    for j in range(d):
                        X[i, j] -= lrs[k] * G[i, j]
        else:
            inv = 1.0 / t if outer_mode == 0 else 1.0
            if rho != 0.0:
                if batch > 0:
                    _batch_grads(kind, params, X, G, B, batch, replace, bkeys, k * (L + 1) + L, IDX)
                else:
                    loss_grad_rows(kind, params, X, G, 0, B, S)
                for i in range(B):
                    if alive[i]:
                        for j in range(d):
                            X[i, j] -= lrs[k] * ((X[i, j] - MU[i, j]) * inv + rho * G[i, j])
            else:
                for i in range(B):
                    if alive[i]:
                        for j in range(d):
                            X[i, j] -= lrs[k] * (X[i, j] - MU[i, j]) * inv
        for i in range(B):
            if alive[i]:
                bad = False
                for j in range(d):
                    v = X[i, j]
                    w = MU[i, j]
                    if v - v != 0.0 or w - w != 0.0:    # NaN or +-inf
                        bad = True
                if bad:
                    status[c0 + i] = k
                    alive[i] = False
    sl = slot[n_outer]
    for i in range(B):
        for j in range(d):
            if sl >= 0 and alive[i]:
                xs[sl, c0 + i, j] = X[i, j]
            xf[c0 + i, j] = X[i, j]


@njit
def _esgd_ser(kind, params, X0, L, tks, lrs, ilrs, sigs, outer_mode, ema, burn, mom, rho,
              master, batch, replace, slot, xs, mus, xf, status, bw, k0=0, k1=-1):
    for blk in range((X0.shape[0] + bw - 1) // bw):
        _esgd_block(blk, bw, kind, params, X0, L, tks, lrs, ilrs, sigs, outer_mode, ema, burn, mom, rho,
                    master, batch, replace, slot, xs, mus, xf, status, k0, k1)


@pnjit
def _esgd_par(kind, params, X0, L, tks, lrs, ilrs, sigs, outer_mode, ema, burn, mom, rho,
              master, batch, replace, slot, xs, mus, xf, status, bw, k0=0, k1=-1):
    for blk in prange((X0.shape[0] + bw - 1) // bw):
        _esgd_block(blk, bw, kind, params, X0, L, tks, lrs, ilrs, sigs, outer_mode, ema, burn, mom, rho,
                    master, batch, replace, slot, xs, mus, xf, status, k0, k1)


# ----------------------------------------------------------------------------- Elastic-SGD
@njit
def _elastic_chain(c, kind, params, n_rep, hs, coup, crate, sigs, centre_mode, master, batch, replace,
                   slot, xs, reps, xf, status, n0, n1):
    """One coupled system: ``n_rep`` replicas ``y^a`` (``reps[c]``) and a centre ``xb`` (``xf[c]``).

    ``y^a -= h (g(y^a) + coup (y^a - xb)) - sig xi^a``;
    centre (old replica mean ``ybar``): mode 0 ``xb += crate h coup (ybar - xb)``; mode 1 (EASGD sum)
    ``xb += crate h coup n (ybar - xb)``; mode 2 ``xb = mean of the new replicas``.
    All replicas' gradients in one call per step (replicas are independent within a step); replica ``a``
    at step ``n`` uses minibatch block ``n n_rep + a``.
    Steps ``n0 .. n1 - 1`` of the run, with the state read from and written back to ``reps[c]`` and
    ``xf[c]`` (the caller starts them at the centre ``x0``), so a run in pieces equals one call; a system
    with ``status >= 0`` on entry failed in an earlier piece and is left as it is."""
    if status[c] >= 0:
        return
    d = xf.shape[1]
    xb = xf[c]
    Y = reps[c]
    ybar = np.empty(d)
    GR = np.empty((n_rep, d))
    S = np.empty(loss_scratch_len(kind, params))
    mm = n_rep * d
    xi = np.empty(mm + 1)
    IDX = np.empty((n_rep, max(batch, 1)), np.int64)
    nkey = chain_key(master, c, STREAM_NOISE)
    bkey = chain_key(master, c, STREAM_BATCH)
    if n0 == 0 and slot[0] >= 0:
        xs[slot[0], c, :] = xb
    for n in range(n0, n1):
        h = hs[n]
        s = sigs[n]
        for j in range(d):
            ybar[j] = 0.0
        for a in range(n_rep):
            for j in range(d):
                ybar[j] += Y[a, j]
        for j in range(d):
            ybar[j] /= n_rep
        if s != 0.0:
            fill_normals(nkey, n, mm, xi)
        if batch > 0:
            _replica_batch_grads(kind, params, Y, GR, n_rep, batch, replace, bkey, n * n_rep, IDX)
        else:
            loss_grad_rows(kind, params, Y, GR, 0, n_rep, S)
        for a in range(n_rep):
            if s != 0.0:
                for j in range(d):
                    Y[a, j] = Y[a, j] - h * (GR[a, j] + coup * (Y[a, j] - xb[j])) + s * xi[a * d + j]
            else:
                for j in range(d):
                    Y[a, j] = Y[a, j] - h * (GR[a, j] + coup * (Y[a, j] - xb[j]))
        if centre_mode == 2:
            for j in range(d):
                acc = 0.0
                for a in range(n_rep):
                    acc += Y[a, j]
                xb[j] = acc / n_rep
        else:
            w = h * crate * coup * (n_rep if centre_mode == 1 else 1)
            for j in range(d):
                xb[j] += w * (ybar[j] - xb[j])
        if not _finite(xb):
            status[c] = n
            break
        k = slot[n + 1]
        if k >= 0:
            xs[k, c, :] = xb


@njit
def _elastic_ser(kind, params, n_rep, hs, coup, crate, sigs, centre_mode, master, batch, replace,
                 slot, xs, reps, xf, status, n0, n1):
    for c in range(xf.shape[0]):
        _elastic_chain(c, kind, params, n_rep, hs, coup, crate, sigs, centre_mode, master, batch, replace,
                       slot, xs, reps, xf, status, n0, n1)


@pnjit
def _elastic_par(kind, params, n_rep, hs, coup, crate, sigs, centre_mode, master, batch, replace,
                 slot, xs, reps, xf, status, n0, n1):
    for c in prange(xf.shape[0]):
        _elastic_chain(c, kind, params, n_rep, hs, coup, crate, sigs, centre_mode, master, batch, replace,
                       slot, xs, reps, xf, status, n0, n1)


# ----------------------------------------------------------------------------- Parle (code form)
@njit
def _parle_chain(c, kind, params, n_rep, L, nb, lrs, g0, r0, growth, gcap, rcap, mom, ema, sfac,
                 master, batch, replace, slot, xs, XR, YR, ZR, MYR, MXR, gam, rhs, xf, status, s0, s1):
    """One Parle system (paper-spec §3.5 code form); ``lrs`` has one entry per epoch.

    Inner (every minibatch ``t``): ``k = t // L``, ``g = min(g0 growth^k, gcap)``;
    ``d = grad f_mb(y^a) + g (y^a - x^a)``; momentum ``m_y = mom m_y + d; d = d + m_y`` (if mom > 0);
    ``y^a -= lr d`` (+ ``sfac sqrt(lr) xi`` when ``sfac > 0``); ``z^a = ema z^a + (1 - ema) y^a``.
    Sync (every ``L``): ``r = min(r0 growth^k, rcap)``; ``xb = mean z^a``;
    ``d = (x^a - z^a) + r (x^a - xb)``; momentum on ``m_x``; ``y^a -= lr d``; ``x^a = y^a``; ``xb = mean x^a``.
    Replica ``a`` at inner step ``t`` uses minibatch block ``t n_rep + a``.
    Syncs ``s0 .. s1 - 1`` of the run (sync ``s`` is in epoch ``s // nb``; its minibatches are
    ``t = s L .. s L + L - 1``); the state ``x^a, y^a, z^a, m_y, m_x`` is read from and written back to
    ``XR[c], YR[c], ZR[c], MYR[c], MXR[c]`` (shape (n_rep, d)) and the centre to ``xf[c]``, so a run in
    pieces equals one call; a system with ``status >= 0`` on entry failed earlier and is left as it is.
    """
    if status[c] >= 0:
        return
    d = xf.shape[1]
    X = XR[c]
    Y = YR[c]
    Z = ZR[c]
    MY = MYR[c]
    MX = MXR[c]
    xb = xf[c]
    GR = np.empty((n_rep, d))
    S = np.empty(loss_scratch_len(kind, params))
    mm = n_rep * d
    xi = np.empty(mm + 1)
    IDX = np.empty((n_rep, max(batch, 1)), np.int64)
    nkey = chain_key(master, c, STREAM_NOISE)
    bkey = chain_key(master, c, STREAM_BATCH)
    if s0 == 0 and slot[0] >= 0:
        xs[slot[0], c, :] = xb
    for sync in range(s0, s1):
        lr = lrs[sync // nb]
        t = sync * L
        for ell in range(L):
            gk = g0 * growth ** (t // L)
            if gk > gcap:
                gk = gcap
            if sfac != 0.0:
                fill_normals(nkey, t, mm, xi)
            if batch > 0:
                _replica_batch_grads(kind, params, Y, GR, n_rep, batch, replace, bkey, t * n_rep, IDX)
            else:
                loss_grad_rows(kind, params, Y, GR, 0, n_rep, S)
            for a in range(n_rep):
                for j in range(d):
                    dj = GR[a, j] + gk * (Y[a, j] - X[a, j])
                    if mom != 0.0:
                        MY[a, j] = mom * MY[a, j] + dj
                        dj = dj + MY[a, j]
                    Y[a, j] -= lr * dj
                    if sfac != 0.0:
                        Y[a, j] += sfac * math.sqrt(lr) * xi[a * d + j]
                    Z[a, j] = ema * Z[a, j] + (1.0 - ema) * Y[a, j]
            t += 1
        rk = r0 * growth ** (t // L)
        if rk > rcap:
            rk = rcap
        gk = g0 * growth ** (t // L)
        if gk > gcap:
            gk = gcap
        for j in range(d):
            acc = 0.0
            for a in range(n_rep):
                acc += Z[a, j]
            xb[j] = acc / n_rep
        for a in range(n_rep):
            for j in range(d):
                dj = (X[a, j] - Z[a, j]) + rk * (X[a, j] - xb[j])
                if mom != 0.0:
                    MX[a, j] = mom * MX[a, j] + dj
                    dj = dj + MX[a, j]
                Y[a, j] -= lr * dj
                X[a, j] = Y[a, j]
        for j in range(d):
            acc = 0.0
            for a in range(n_rep):
                acc += X[a, j]
            xb[j] = acc / n_rep
        if c == 0:
            gam[sync] = gk
            rhs[sync] = rk
        if not _finite(xb):
            status[c] = sync + 1
            break
        k = slot[sync + 1]
        if k >= 0:
            xs[k, c, :] = xb


@njit
def _parle_ser(kind, params, n_rep, L, nb, lrs, g0, r0, growth, gcap, rcap, mom, ema, sfac,
               master, batch, replace, slot, xs, XR, YR, ZR, MYR, MXR, gam, rhs, xf, status, s0, s1):
    for c in range(xf.shape[0]):
        _parle_chain(c, kind, params, n_rep, L, nb, lrs, g0, r0, growth, gcap, rcap, mom, ema, sfac,
                     master, batch, replace, slot, xs, XR, YR, ZR, MYR, MXR, gam, rhs, xf, status, s0, s1)


@pnjit
def _parle_par(kind, params, n_rep, L, nb, lrs, g0, r0, growth, gcap, rcap, mom, ema, sfac,
               master, batch, replace, slot, xs, XR, YR, ZR, MYR, MXR, gam, rhs, xf, status, s0, s1):
    for c in prange(xf.shape[0]):
        _parle_chain(c, kind, params, n_rep, L, nb, lrs, g0, r0, growth, gcap, rcap, mom, ema, sfac,
                     master, batch, replace, slot, xs, XR, YR, ZR, MYR, MXR, gam, rhs, xf, status, s0, s1)
