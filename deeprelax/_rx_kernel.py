"""Compiled kernel of :mod:`deeprelax.replica_exchange`: one (point, chain) job of the tempered sampler.

Rung ``k`` of point ``p`` has the energy ``E_k(y) = A[p, k] f(y) + B[p, k] c(y)`` with the coupling
``c(y) = |y - x_p|^2/(2t)`` and samples ``exp(-E_k)``; rung 0 has ``A = 0`` (a Gaussian, drawn exactly).
The loss enters only through :func:`vg_rows`.
"""
from __future__ import annotations

import math

import numpy as np

from solvers._jit import njit, pnjit, prange

from . import _rng as K
from ._nbloss import KIND_GAUSSMIX, KIND_SOFTMIN, nb_grad_rows, nb_value

__all__ = ["vg_rows", "run_ser", "run_par", "MH_TARGET"]

_LOG_2PI = math.log(2.0 * math.pi)
_STREAM_Z = 2
_STREAM_U = 3
#: Metropolis acceptance targeted by the step-size adaptation (MALA's optimum).
MH_TARGET = 0.574


@njit
def vg_rows(kind, params, Y, F, G, r0, r1, S):
    """Loss values ``F[r] = f(Y[r])`` and gradients ``G[r] = grad f(Y[r])`` for rows ``r0 .. r1-1``.

    ``Y``, ``G`` shape ``(n, d)``, ``F`` shape ``(n,)``, ``S`` scratch (see
    :func:`deeprelax._nbloss.nb_grad_rows`).  The sampler's only access to the loss.  The two mixture
    kinds share their logits between value and gradient (half the exponentials); the other kinds
    call :func:`~deeprelax._nbloss.nb_grad_rows` and :func:`~deeprelax._nbloss.nb_value`.
    ``tests/deeprelax/test_replica_exchange.py`` checks it against both for every kind."""
    if kind == KIND_GAUSSMIX or kind == KIND_SOFTMIN:
        d = Y.shape[1]
        k = int(params[1])
        for r in range(r0, r1):
            if kind == KIND_GAUSSMIX:
                om = 2 + k
                osd = om + k * d
                mx = -math.inf
                for i in range(k):
                    s = 0.0
                    for j in range(d):
                        q = Y[r, j] - params[om + i * d + j]
                        s += q * q
                    var = params[osd + i] * params[osd + i]
                    S[i] = math.log(params[2 + i]) - 0.5 * d * (_LOG_2PI + math.log(var)) - s / (2.0 * var)
                    if S[i] > mx or i == 0:
                        mx = S[i]
                tot = 0.0
                for i in range(k):
                    S[i] = math.exp(S[i] - mx)
                    tot += S[i]
                F[r] = -(mx + math.log(tot))
                for j in range(d):
                    G[r, j] = 0.0
                for i in range(k):
                    wv = S[i] / tot / (params[osd + i] * params[osd + i])
                    for j in range(d):
                        G[r, j] += wv * (Y[r, j] - params[om + i * d + j])
            else:
                bf = params[2]
                oa = 3
                om = oa + k
                oc = om + k * d
                imin = 0
                for i in range(k):
                    s = 0.0
                    for j in range(d):
                        q = Y[r, j] - params[om + i * d + j]
                        s += q * q
                    S[i] = 0.5 * params[oa + i] * s + params[oc + i]
                    if S[i] < S[imin]:
                        imin = i
                qmin = S[imin]
                if math.isinf(bf):
                    F[r] = qmin
                    for i in range(k):
                        S[i] = 1.0 if i == imin else 0.0
                else:
                    tot = 0.0
                    for i in range(k):
                        S[i] = math.exp(-bf * (S[i] - qmin))
                        tot += S[i]
                    F[r] = qmin - math.log(tot) / bf
                    for i in range(k):
                        S[i] /= tot
                for j in range(d):
                    G[r, j] = 0.0
                for i in range(k):
                    wa = S[i] * params[oa + i]
                    if wa != 0.0:
                        for j in range(d):
                            G[r, j] += wa * (Y[r, j] - params[om + i * d + j])
        return
    nb_grad_rows(kind, params, Y, G, r0, r1, S)
    for r in range(r0, r1):
        F[r] = nb_value(kind, params, Y[r])


@njit
def _job(jj, jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw,
         s0, n_steps, gain, blk, shift, out_y, out_y2, out_a, out_b, master, nscr, status):
    """Run job ``j = jobs[jj]`` (point ``p = j // n_chains``) for ``n_steps`` steps from global step ``s0``.

    State, updated in place: ``Y (J, Rm, d)``, ``FY (J, Rm)`` (f values), ``GY (J, Rm, d)`` (grad f),
    step sizes ``H (J, Rm)``, replica labels ``lab (J, Rm)``, last extreme rung of each label
    ``last (J, Rm)`` (-1 none, 0 reference, 1 target), round trips ``rt (J,)``, Metropolis and swap
    counts ``mh``, ``sw (J, Rm, 2)`` (attempts, accepts).  ``gain > 0`` adapts ``H`` (warm-up only).
    ``blk > 0`` writes block means of the target rung to ``out_y (jj, b, d)``, its sums of squares to
    ``out_y2 (jj, d)`` and, when ``out_a`` has columns, block means of the bridge terms
    ``exp(-(dE_k(y_k) - shift_k)/2)`` and ``exp((dE_k(y_{k+1}) - shift_k)/2)`` with
    ``dE_k = E_{k+1} - E_k`` to ``out_a``, ``out_b (jj, b, R-1)``.  Random numbers are counter-based:
    key ``(master, j)``, counter from the global step, so rounds resume exactly.  A non-finite
    energy stops the job with ``status[j] = step``."""
    j = jobs[jj]
    p = j // n_chains
    R = nr[p]
    Rm = A.shape[1]
    d = X.shape[1]
    kz = K.chain_key(master, j, _STREAM_Z)
    ku = K.chain_key(master, j, _STREAM_U)
    Yp = np.empty((R, d))
    Fp = np.empty(R)
    Gp = np.empty((R, d))
    S = np.empty(nscr)
    acc_y = np.zeros(d)
    na = out_a.shape[2]
    acc_a = np.zeros(max(na, 1))
    acc_b = np.zeros(max(na, 1))
    it = 1.0 / t
    sref = math.sqrt(t / Bc[p, 0])
    for st in range(n_steps):
        s = s0 + st
        # proposals: exact reference draw at rung 0, Langevin proposals on E_k above
        for i in range(d):
            Yp[0, i] = X[p, i] + sref * K.znormal(kz, s * Rm * d + i)
        for k in range(1, R):
            hk = H[j, k]
            ak = A[p, k]
            bk = Bc[p, k] * it
            sg = math.sqrt(2.0 * hk)
            base = (s * Rm + k) * d
            for i in range(d):
                y = Y[j, k, i]
                Yp[k, i] = y - hk * (ak * GY[j, k, i] + bk * (y - X[p, i])) + sg * K.znormal(kz, base + i)
        vg_rows(kind, params, Yp, Fp, Gp, 0, R, S)
        if math.isfinite(Fp[0]):
            FY[j, 0] = Fp[0]
            for i in range(d):
                Y[j, 0, i] = Yp[0, i]
                GY[j, 0, i] = Gp[0, i]
        # Metropolis-adjusted Langevin accept / reject
        for k in range(1, R):
            hk = H[j, k]
            ak = A[p, k]
            bk = Bc[p, k] * it
            la = -math.inf
            if math.isfinite(Fp[k]):
                c2 = 0.0
                q_f = 0.0
                q_b = 0.0
                for i in range(d):
                    y = Y[j, k, i]
                    yp = Yp[k, i]
                    ry = y - X[p, i]
                    ryp = yp - X[p, i]
                    c2 += ryp * ryp - ry * ry
                    e_f = yp - y + hk * (ak * GY[j, k, i] + bk * ry)
                    e_b = y - yp + hk * (ak * Gp[k, i] + bk * ryp)
                    q_f += e_f * e_f
                    q_b += e_b * e_b
                la = -(ak * (Fp[k] - FY[j, k]) + 0.5 * bk * c2) - (q_b - q_f) / (4.0 * hk)
            mh[j, k, 0] += 1
            if la >= 0.0 or math.log(K.uniform_pos(ku, s * 2 * Rm + k)) < la:
                mh[j, k, 1] += 1
                FY[j, k] = Fp[k]
                for i in range(d):
                    Y[j, k, i] = Yp[k, i]
                    GY[j, k, i] = Gp[k, i]
            if gain > 0.0:
                a = 1.0 if la >= 0.0 else math.exp(la)
                H[j, k] = hk * math.exp(gain * (a - MH_TARGET))
        # swaps of adjacent rungs, even pairs on even steps, odd pairs on odd steps
        k = s % 2
        while k + 1 < R:
            c_k = 0.0
            c_k1 = 0.0
            for i in range(d):
                r0 = Y[j, k, i] - X[p, i]
                r1 = Y[j, k + 1, i] - X[p, i]
                c_k += r0 * r0
                c_k1 += r1 * r1
            ls = (A[p, k + 1] - A[p, k]) * (FY[j, k + 1] - FY[j, k]) + \
                (Bc[p, k + 1] - Bc[p, k]) * 0.5 * it * (c_k1 - c_k)
            sw[j, k, 0] += 1
            if ls >= 0.0 or math.log(K.uniform_pos(ku, s * 2 * Rm + Rm + k)) < ls:
                sw[j, k, 1] += 1
                tmp = FY[j, k]
                FY[j, k] = FY[j, k + 1]
                FY[j, k + 1] = tmp
                for i in range(d):
                    tmp = Y[j, k, i]
                    Y[j, k, i] = Y[j, k + 1, i]
                    Y[j, k + 1, i] = tmp
                    tmp = GY[j, k, i]
                    GY[j, k, i] = GY[j, k + 1, i]
                    GY[j, k + 1, i] = tmp
                lt = lab[j, k]
                lab[j, k] = lab[j, k + 1]
                lab[j, k + 1] = lt
            k += 2
        # round trips of the labels: reference -> target -> reference
        l0 = lab[j, 0]
        if last[j, l0] == 1:
            rt[j] += 1
        last[j, l0] = 0
        lt = lab[j, R - 1]
        if last[j, lt] == 0:
            last[j, lt] = 1
        # records
        if blk > 0:
            for i in range(d):
                v = Y[j, R - 1, i]
                acc_y[i] += v
                out_y2[jj, i] += v * v
            if na > 0:
                for k in range(R - 1):
                    c_k = 0.0
                    c_k1 = 0.0
                    for i in range(d):
                        r0 = Y[j, k, i] - X[p, i]
                        r1 = Y[j, k + 1, i] - X[p, i]
                        c_k += r0 * r0
                        c_k1 += r1 * r1
                    dA = A[p, k + 1] - A[p, k]
                    dB = (Bc[p, k + 1] - Bc[p, k]) * 0.5 * it
                    acc_a[k] += math.exp(-0.5 * (dA * FY[j, k] + dB * c_k - shift[p, k]))
                    acc_b[k] += math.exp(0.5 * (dA * FY[j, k + 1] + dB * c_k1 - shift[p, k]))
            if (st + 1) % blk == 0:
                b = (st + 1) // blk - 1
                for i in range(d):
                    out_y[jj, b, i] = acc_y[i] / blk
                    acc_y[i] = 0.0
                if na > 0:
                    for k in range(R - 1):
                        out_a[jj, b, k] = acc_a[k] / blk
                        out_b[jj, b, k] = acc_b[k] / blk
                        acc_a[k] = 0.0
                        acc_b[k] = 0.0
        for k in range(R):
            if not math.isfinite(FY[j, k]):
                status[j] = s
                return


@njit
def run_ser(jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw, s0,
            n_steps, gain, blk, shift, out_y, out_y2, out_a, out_b, master, nscr, status):
    """:func:`_job` for every entry of ``jobs`` (serial)."""
    for jj in range(jobs.size):
        _job(jj, jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw, s0,
             n_steps, gain, blk, shift, out_y, out_y2, out_a, out_b, master, nscr, status)


@pnjit
def run_par(jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw, s0,
            n_steps, gain, blk, shift, out_y, out_y2, out_a, out_b, master, nscr, status):
    """:func:`_job` for every entry of ``jobs`` (threaded; jobs are independent, results identical)."""
    for jj in prange(jobs.size):
        _job(jj, jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw, s0,
             n_steps, gain, blk, shift, out_y, out_y2, out_a, out_b, master, nscr, status)
