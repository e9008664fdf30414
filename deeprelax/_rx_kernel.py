"""Compiled kernel of :mod:`deeprelax.replica_exchange`: the tempered sampler, a block of (point, chain) jobs
at a time.

Rung ``k`` of point ``p`` has the energy ``E_k(y) = A[p, k] f(y) + B[p, k] c(y)`` with the coupling
``c(y) = |y - x_p|^2/(2t)`` and samples ``exp(-E_k)``; rung 0 has ``A = 0`` (a Gaussian, drawn exactly).

The loss enters only through one provider of :mod:`deeprelax._kernel_loss`, ``loss_vg_rows`` (by its
bare global name; :func:`vg_rows` is the same function), so the same kernels run built-in losses,
compiled user losses (inlined into specialised copies) and vectorised Python losses (one block holding
every job: one ``grad`` and one ``value`` call per step on all the proposals).  Each step of a block
first proposes every rung of every job, then evaluates ``f`` and ``grad f`` on all the proposals at
once (one kind dispatch, the bodies inlined in the row loop; the mixtures evaluate their logits once
per row), then accepts, swaps and records job by job; a block of one job (compiled losses: blocks of
one job, threaded over jobs) runs the same steps with the job's constants held across the step loop.
Random numbers are counter-based
(key ``(master, job)``, counter from the global step), so the results do not depend on the block width
or the thread count.
"""
from __future__ import annotations

import math

import numpy as np

from solvers.jit import njit, pnjit, prange

from . import _rng as K
from ._borrow import borrow
from ._kernel_loss import loss_vg_rows

__all__ = ["vg_rows", "run_ser", "run_par", "MH_TARGET"]

_STREAM_Z = 2
_STREAM_U = 3
#: Metropolis acceptance targeted by the step-size adaptation (MALA's optimum).
MH_TARGET = 0.574

#: Loss values ``F[r] = f(Y[r])`` and gradients ``G[r] = grad f(Y[r])`` for rows ``r0 .. r1-1``:
#: ``vg_rows(kind, params, Y, F, G, r0, r1, S)`` with ``Y``, ``G`` shape ``(n, d)``, ``F`` shape ``(n,)``,
#: ``S`` scratch (``KernelLoss.scratch()``); the sampler's only access to the loss (the kernel calls it
#: by its provider name, ``loss_vg_rows``, so that compiled user losses re-bind it).
vg_rows = loss_vg_rows


@njit(inline='always')
def _propose(j, p, s, Rm, X, t, A, Bc, R, Y, GY, H, kz, Yp, o):
    """Proposals of job ``j`` (point ``p``, ``R`` rungs) at global step ``s`` into rows ``o .. o+R-1`` of
    ``Yp``: an exact draw of the Gaussian reference at rung 0, Langevin proposals on ``E_k`` above."""
    d = X.shape[1]
    sref = math.sqrt(t / Bc[p, 0])
    for i in range(d):
        Yp[o, i] = X[p, i] + sref * K.znormal(kz, s * Rm * d + i)
    it = 1.0 / t
    for k in range(1, R):
        hk = H[j, k]
        ak = A[p, k]
        bk = Bc[p, k] * it
        sg = math.sqrt(2.0 * hk)
        base = (s * Rm + k) * d
        for i in range(d):
            y = Y[j, k, i]
            Yp[o + k, i] = y - hk * (ak * GY[j, k, i] + bk * (y - X[p, i])) + sg * K.znormal(kz, base + i)


# The per-step update of a job is split into helpers of fewer than 30 arguments, inlined into :func:`_steps`:
# CPython 3.11 compiles a call with more arguments into a star-args call (an argument tuple built per call,
# which Numba neither inlines nor passes cheaply: the one 39-argument update call cost 2.5-6x the sampler).
# They take borrowed arrays (:mod:`deeprelax._borrow`): the arrays of an inlined helper are otherwise
# reference-counted at every call, which cost the soft-min's sampler 4x its arithmetic.
@njit(inline='always')
def _accept(j, p, s, Rm, X, t, A, Bc, R, Y, FY, GY, H, mh, gain, ku, Yp, Fp, Gp, o):
    """Accept/reject of job ``j`` at global step ``s``, its proposals at rows ``o .. o+R-1``: rung 0 takes
    its exact draw (when finite), rungs above a Metropolis-adjusted Langevin test; ``gain > 0`` adapts ``H``."""
    d = X.shape[1]
    it = 1.0 / t
    if math.isfinite(Fp[o]):
        FY[j, 0] = Fp[o]
        for i in range(d):
            Y[j, 0, i] = Yp[o, i]
            GY[j, 0, i] = Gp[o, i]
    for k in range(1, R):
        hk = H[j, k]
        ak = A[p, k]
        bk = Bc[p, k] * it
        la = -math.inf
        if math.isfinite(Fp[o + k]):
            c2 = 0.0
            q_f = 0.0
            q_b = 0.0
            for i in range(d):
                y = Y[j, k, i]
                yp = Yp[o + k, i]
                ry = y - X[p, i]
                ryp = yp - X[p, i]
                c2 += ryp * ryp - ry * ry
                e_f = yp - y + hk * (ak * GY[j, k, i] + bk * ry)
                e_b = y - yp + hk * (ak * Gp[o + k, i] + bk * ryp)
                q_f += e_f * e_f
                q_b += e_b * e_b
            la = -(ak * (Fp[o + k] - FY[j, k]) + 0.5 * bk * c2) - (q_b - q_f) / (4.0 * hk)
        mh[j, k, 0] += 1
        if la >= 0.0 or math.log(K.uniform_pos(ku, s * 2 * Rm + k)) < la:
            mh[j, k, 1] += 1
            FY[j, k] = Fp[o + k]
            for i in range(d):
                Y[j, k, i] = Yp[o + k, i]
                GY[j, k, i] = Gp[o + k, i]
        if gain > 0.0:
            a = 1.0 if la >= 0.0 else math.exp(la)
            H[j, k] = hk * math.exp(gain * (a - MH_TARGET))


@njit(inline='always')
def _rung_dists(Y, X, j, p, k, d):
    """``(|y_k - x|^2, |y_{k+1} - x|^2)`` of job ``j`` at rungs ``k`` and ``k + 1`` (point ``p``): the
    coupling terms of the swap test and of the bridge estimator."""
    c_k = 0.0
    c_k1 = 0.0
    for i in range(d):
        r0 = Y[j, k, i] - X[p, i]
        r1 = Y[j, k + 1, i] - X[p, i]
        c_k += r0 * r0
        c_k1 += r1 * r1
    return c_k, c_k1


@njit(inline='always')
def _swap(j, p, s, Rm, X, t, A, Bc, R, Y, FY, GY, lab, last, rt, sw, ku):
    """Swaps of adjacent rungs of job ``j`` (even pairs on even steps, odd pairs on odd steps) and its
    round trips of the labels (reference -> target -> reference)."""
    d = X.shape[1]
    it = 1.0 / t
    k = s % 2
    while k + 1 < R:
        c_k, c_k1 = _rung_dists(Y, X, j, p, k, d)
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
    l0 = lab[j, 0]
    if last[j, l0] == 1:
        rt[j] += 1
    last[j, l0] = 0
    lt = lab[j, R - 1]
    if last[j, lt] == 0:
        last[j, lt] = 1


@njit(inline='always')
def _record(jj, q, j, p, st, X, t, A, Bc, R, Y, FY, blk, shift, out_y, out_y2, out_a, out_b, acc_y, acc_a, acc_b):
    """Records of job ``j`` (slot ``jj`` of the run, ``q`` of the block) after step ``st`` of the call:
    block sums of the target rung and of the bridge terms, written out as means every ``blk`` steps."""
    d = X.shape[1]
    it = 1.0 / t
    na = out_a.shape[2]
    for i in range(d):
        v = Y[j, R - 1, i]
        acc_y[q, i] += v
        out_y2[jj, i] += v * v
    if na > 0:
        for k in range(R - 1):
            c_k, c_k1 = _rung_dists(Y, X, j, p, k, d)
            dA = A[p, k + 1] - A[p, k]
            dB = (Bc[p, k + 1] - Bc[p, k]) * 0.5 * it
            acc_a[q, k] += math.exp(-0.5 * (dA * FY[j, k] + dB * c_k - shift[p, k]))
            acc_b[q, k] += math.exp(0.5 * (dA * FY[j, k + 1] + dB * c_k1 - shift[p, k]))
    if (st + 1) % blk == 0:
        b = (st + 1) // blk - 1
        for i in range(d):
            out_y[jj, b, i] = acc_y[q, i] / blk
            acc_y[q, i] = 0.0
        if na > 0:
            for k in range(R - 1):
                out_a[jj, b, k] = acc_a[q, k] / blk
                out_b[jj, b, k] = acc_b[q, k] / blk
                acc_a[q, k] = 0.0
                acc_b[q, k] = 0.0


@njit
def _steps(q0, nq, jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw, s0, n_steps,
           gain, blk, shift, out_y, out_y2, out_a, out_b, status, Yp, Fp, Gp, S, kz, ku, off, acc_y, acc_a, acc_b):
    """The step loop of :func:`_block` on the buffers it allocated (proposals ``Yp (rows, d)``, ``Fp``,
    ``Gp``, scratch ``S``, the jobs' keys ``kz``, ``ku``, first rows ``off`` and record sums ``acc_*``).

    The helpers get borrowed aliases of the arrays (:mod:`deeprelax._borrow`; all are arguments, alive
    for the call): reference counting the arrays of the four inlined helpers cost 2-4x the step of a
    small system.  The loss provider gets the arrays themselves (the Python callback boxes them)."""
    jobs_, X_, A_, Bc_, nr_, shift_ = borrow(jobs), borrow(X), borrow(A), borrow(Bc), borrow(nr), borrow(shift)
    Y_, FY_, GY_, H_, status_ = borrow(Y), borrow(FY), borrow(GY), borrow(H), borrow(status)
    lab_, last_, rt_, mh_, sw_ = borrow(lab), borrow(last), borrow(rt), borrow(mh), borrow(sw)
    out_y_, out_y2_, out_a_, out_b_ = borrow(out_y), borrow(out_y2), borrow(out_a), borrow(out_b)
    Yp_, Fp_, Gp_, kz_, ku_, off_ = borrow(Yp), borrow(Fp), borrow(Gp), borrow(kz), borrow(ku), borrow(off)
    acc_y_, acc_a_, acc_b_ = borrow(acc_y), borrow(acc_a), borrow(acc_b)
    Rm = A_.shape[1]
    d = X_.shape[1]
    rows = Fp_.shape[0]
    if nq == 1:                                      # one job (compiled losses): its constants held
        j = jobs_[q0]
        p = j // n_chains
        R = nr_[p]
        kzj, kuj = kz_[0], ku_[0]
        if status_[j] >= 0:
            return
        for st in range(n_steps):
            s = s0 + st
            _propose(j, p, s, Rm, X_, t, A_, Bc_, R, Y_, GY_, H_, kzj, Yp_, 0)
            loss_vg_rows(kind, params, Yp, Fp, Gp, 0, rows, S)
            _accept(j, p, s, Rm, X_, t, A_, Bc_, R, Y_, FY_, GY_, H_, mh_, gain, kuj, Yp_, Fp_, Gp_, 0)
            _swap(j, p, s, Rm, X_, t, A_, Bc_, R, Y_, FY_, GY_, lab_, last_, rt_, sw_, kuj)
            if blk > 0:
                _record(q0, 0, j, p, st, X_, t, A_, Bc_, R, Y_, FY_, blk, shift_, out_y_, out_y2_, out_a_, out_b_,
                        acc_y_, acc_a_, acc_b_)
            for k in range(R):
                if not math.isfinite(FY_[j, k]):
                    status_[j] = s
                    return
        return
    for st in range(n_steps):
        s = s0 + st
        for q in range(nq):
            j = jobs_[q0 + q]
            if status_[j] < 0:
                p = j // n_chains
                _propose(j, p, s, Rm, X_, t, A_, Bc_, nr_[p], Y_, GY_, H_, kz_[q], Yp_, off_[q])
            else:                                    # a stopped job keeps its rows finite and unused
                for k in range(nr_[j // n_chains]):
                    for i in range(d):
                        Yp_[off_[q] + k, i] = Y_[j, 0, i]
        loss_vg_rows(kind, params, Yp, Fp, Gp, 0, rows, S)
        for q in range(nq):
            j = jobs_[q0 + q]
            if status_[j] < 0:
                p = j // n_chains
                R = nr_[p]
                _accept(j, p, s, Rm, X_, t, A_, Bc_, R, Y_, FY_, GY_, H_, mh_, gain, ku_[q], Yp_, Fp_, Gp_, off_[q])
                _swap(j, p, s, Rm, X_, t, A_, Bc_, R, Y_, FY_, GY_, lab_, last_, rt_, sw_, ku_[q])
                if blk > 0:
                    _record(q0 + q, q, j, p, st, X_, t, A_, Bc_, R, Y_, FY_, blk, shift_, out_y_, out_y2_, out_a_,
                            out_b_, acc_y_, acc_a_, acc_b_)
                for k in range(R):
                    if not math.isfinite(FY_[j, k]):
                        status_[j] = s
                        break


@njit
def _block(bi, bw, jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw,
           s0, n_steps, gain, blk, shift, out_y, out_y2, out_a, out_b, master, nscr, status):
    """Run the jobs ``jobs[bi bw : (bi + 1) bw]`` for ``n_steps`` steps from global step ``s0``.

    State, updated in place: ``Y (J, Rm, d)``, ``FY (J, Rm)`` (f values), ``GY (J, Rm, d)`` (grad f),
    step sizes ``H (J, Rm)``, replica labels ``lab (J, Rm)``, last extreme rung of each label
    ``last (J, Rm)`` (-1 none, 0 reference, 1 target), round trips ``rt (J,)``, Metropolis and swap
    counts ``mh``, ``sw (J, Rm, 2)`` (attempts, accepts).  ``gain > 0`` adapts ``H`` (warm-up only).
    ``blk > 0`` writes block means of the target rung to ``out_y (jj, b, d)`` (``jj`` the slot of the
    job in ``jobs``), its sums of squares to ``out_y2 (jj, d)`` and, when ``out_a`` has columns, block
    means of the bridge terms ``exp(-(dE_k(y_k) - shift_k)/2)`` and ``exp((dE_k(y_{k+1}) - shift_k)/2)``
    with ``dE_k = E_{k+1} - E_k`` to ``out_a``, ``out_b (jj, b, R-1)``.  A non-finite energy stops the
    job with ``status[j] = step``."""
    q0 = bi * bw
    q1 = min(q0 + bw, jobs.size)
    nq = q1 - q0
    d = X.shape[1]
    rows = 0
    for q in range(nq):
        rows += nr[jobs[q0 + q] // n_chains]
    kz = np.empty(nq, np.uint64)
    ku = np.empty(nq, np.uint64)
    off = np.zeros(nq, np.int64)
    o = 0
    for q in range(nq):
        j = jobs[q0 + q]
        kz[q] = K.chain_key(master, j, _STREAM_Z)
        ku[q] = K.chain_key(master, j, _STREAM_U)
        off[q] = o
        o += nr[j // n_chains]
    na = max(out_a.shape[2], 1)
    _steps(q0, nq, jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw, s0, n_steps,
           gain, blk, shift, out_y, out_y2, out_a, out_b, status, np.empty((rows, d)), np.empty(rows),
           np.empty((rows, d)), np.empty(nscr), kz, ku, off, np.zeros((nq, d)), np.zeros((nq, na)), np.zeros((nq, na)))


@njit
def run_ser(jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw, s0,
            n_steps, gain, blk, shift, out_y, out_y2, out_a, out_b, master, nscr, status, bw):
    """:func:`_block` for every block of ``bw`` entries of ``jobs`` (serial)."""
    for bi in range((jobs.size + bw - 1) // bw):
        _block(bi, bw, jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw, s0,
               n_steps, gain, blk, shift, out_y, out_y2, out_a, out_b, master, nscr, status)


@pnjit
def run_par(jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw, s0,
            n_steps, gain, blk, shift, out_y, out_y2, out_a, out_b, master, nscr, status, bw):
    """:func:`_block` for every block of ``bw`` entries of ``jobs`` (threaded; jobs are independent,
    results identical)."""
    for bi in prange((jobs.size + bw - 1) // bw):
        _block(bi, bw, jobs, n_chains, kind, params, X, t, A, Bc, nr, Y, FY, GY, H, lab, last, rt, mh, sw, s0,
               n_steps, gain, blk, shift, out_y, out_y2, out_a, out_b, master, nscr, status)
