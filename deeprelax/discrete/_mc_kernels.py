"""Compiled Monte Carlo chains: simulated annealing and replicated annealing (one chain per instance).

Both use Metropolis single flips with the O(P) field updates of :mod:`._energy`; the batched entry
points run one chain per instance in parallel (``prange``), each with its own random stream.
"""
from __future__ import annotations

import math

import numpy as np

from solvers.jit import njit, pnjit, prange

from .. import _rng
from . import _energy


@njit
def _sa_chain(xsT, W, betas, kind, state, c, rec, tr_sweep, tr_err, tr_e):
    """Anneal ``W`` in place over ``betas.size`` sweeps; stop at zero errors.  Returns (attempts, records)."""
    n, p = xsT.shape
    h = np.empty(p, np.int32)
    _energy.fields_into(xsT, W, h)
    e, ne = _energy.energies_of_fields(h, kind)
    nrec = 0
    attempts = 0
    tr_sweep[0] = 0.0
    tr_err[0] = ne
    tr_e[0] = e
    nrec = 1
    if ne == 0:
        return attempts, nrec
    for t in range(betas.shape[0]):
        beta = betas[t]
        for it in range(n):
            j = _rng.randint(state, c, n)
            de, dn = _energy.flip_delta(xsT, h, j, W[j], kind)
            attempts += 1
            if de <= 0 or _rng.uniform(state, c) < math.exp(-beta * de):
                _energy.apply_flip(xsT, h, j, W[j])
                W[j] = -W[j]
                e += de
                ne += dn
                if ne == 0:
                    break
        if ne == 0 or (t + 1) % rec == 0:
            if nrec < tr_sweep.shape[0]:
                tr_sweep[nrec] = attempts / n
                tr_err[nrec] = ne
                tr_e[nrec] = e
                nrec += 1
        if ne == 0:
            break
    return attempts, nrec


@pnjit
def sa_batch(xsT, W, betas, kind, state, rec, n_rec):
    """Simulated annealing for ``I`` instances: ``xsT`` (I, N, P), ``W`` (I, N) updated in place."""
    I = xsT.shape[0]
    attempts = np.zeros(I, np.int64)
    nrec = np.zeros(I, np.int64)
    tr_sweep = np.zeros((I, n_rec))
    tr_err = np.zeros((I, n_rec), np.int64)
    tr_e = np.zeros((I, n_rec), np.int64)
    for i in prange(I):
        ii = np.int64(i)
        a, r = _sa_chain(xsT[ii], W[ii], betas, kind, state, ii, rec, tr_sweep[ii], tr_err[ii], tr_e[ii])
        attempts[ii] = a
        nrec[ii] = r
    return attempts, nrec, tr_sweep, tr_err, tr_e


@njit
def replicated_delta(xsT, ha, S, j, wj, beta, lc, kind):
    r"""Flip of :math:`W^a_j` (value ``wj``, replica fields ``ha``): (dE_a, d errors_a, log acceptance).

    The log acceptance is :math:`-\beta\Delta E_{RE} = -\beta\Delta E_a + \log\cosh(\gamma S_j')
    - \log\cosh(\gamma S_j)`, ``lc[s + y] = log cosh(gamma s)``, :math:`S_j' = S_j - 2 w_j`.
    """
    y = (lc.shape[0] - 1) // 2
    de, dn = _energy.flip_delta(xsT, ha, j, wj, kind)
    sn = S[j] - 2 * wj
    return de, dn, -beta * de + lc[sn + y] - lc[S[j] + y]


@njit
def _rsa_chain(xsT, Wr, betas, gammas, kind, state, c, rec, out_centre, tr):
    """Replicated annealing of the replicas ``Wr`` (y, N) in place.

    Trajectory columns of ``tr``: sweeps, beta, gamma, centre errors, mean replica errors, min replica
    errors, mean replica energy (annealed kind), mean pairwise overlap.  Returns (attempts, records,
    solved-by: -1 none, y = centre, a = replica a).
    """
    y, n = Wr.shape
    p = xsT.shape[1]
    H = np.empty((y, p), np.int32)
    E = np.zeros(y, np.int64)
    NE = np.zeros(y, np.int64)
    for a in range(y):
        _energy.fields_into(xsT, Wr[a], H[a])
        E[a], NE[a] = _energy.energies_of_fields(H[a], kind)
    S = np.zeros(n, np.int64)
    for a in range(y):
        for j in range(n):
            S[j] += Wr[a, j]
    C = out_centre
    for j in range(n):
        C[j] = 1 if S[j] > 0 else (-1 if S[j] < 0 else Wr[0, j])
    hc = np.empty(p, np.int32)
    _energy.fields_into(xsT, C, hc)
    ec, nc = _energy.energies_of_fields(hc, 0)
    lc = np.empty(2 * y + 1)
    attempts = 0
    nrec = 0
    solved_by = -1
    for t in range(-1, betas.shape[0]):
        if t >= 0:
            beta = betas[t]
            gamma = gammas[t]
            for s in range(-y, y + 1):
                lc[s + y] = math.log(math.cosh(gamma * s))
            for it in range(y * n):
                a = _rng.randint(state, c, y)
                j = _rng.randint(state, c, n)
                wj = Wr[a, j]
                de, dn, logacc = replicated_delta(xsT, H[a], S, j, wj, beta, lc, kind)
                sn = S[j] - 2 * wj
                attempts += 1
                if logacc >= 0.0 or _rng.uniform(state, c) < math.exp(logacc):
                    _energy.apply_flip(xsT, H[a], j, wj)
                    Wr[a, j] = -wj
                    E[a] += de
                    NE[a] += dn
                    S[j] = sn
                    newc = 1 if sn > 0 else (-1 if sn < 0 else C[j])
                    if newc != C[j]:
                        dce, dcn = _energy.flip_delta(xsT, hc, j, C[j], 0)
                        _energy.apply_flip(xsT, hc, j, C[j])
                        C[j] = newc
                        nc += dcn
                    if nc == 0:
                        solved_by = y
                        break
                    if NE[a] == 0:
                        solved_by = a
                        break
        else:
            beta = betas[0]
            gamma = gammas[0]
            if nc == 0:
                solved_by = y
            for a in range(y):
                if solved_by < 0 and NE[a] == 0:
                    solved_by = a
        if solved_by >= 0 or t < 0 or (t + 1) % rec == 0:
            if nrec < tr.shape[0]:
                q = 0.0
                if y > 1:
                    for j in range(n):
                        q += (S[j] * S[j] - y) / (y * (y - 1.0))
                    q /= n
                tr[nrec, 0] = attempts / n
                tr[nrec, 1] = beta
                tr[nrec, 2] = gamma
                tr[nrec, 3] = nc
                tr[nrec, 4] = NE.mean()
                tr[nrec, 5] = NE.min()
                tr[nrec, 6] = E.mean()
                tr[nrec, 7] = q
                nrec += 1
        if solved_by >= 0:
            break
    return attempts, nrec, solved_by


@pnjit
def rsa_batch(xsT, Wr, betas, gammas, kind, state, rec, n_rec):
    """Replicated annealing for ``I`` instances: ``Wr`` (I, y, N) updated in place."""
    I, y, n = Wr.shape
    attempts = np.zeros(I, np.int64)
    nrec = np.zeros(I, np.int64)
    solved_by = np.zeros(I, np.int64)
    centre = np.zeros((I, n), np.int8)
    tr = np.zeros((I, n_rec, 8))
    for i in prange(I):
        ii = np.int64(i)
        a, r, s = _rsa_chain(xsT[ii], Wr[ii], betas, gammas, kind, state, ii, rec, centre[ii], tr[ii])
        attempts[ii] = a
        nrec[ii] = r
        solved_by[ii] = s
    return attempts, nrec, solved_by, centre, tr
