r"""Focusing belief propagation (fBP) for the binary perceptron, used as a solver.

Belief propagation on the factor graph of the P constraints
:math:`\Theta(\sum_j s^\mu_j W_j)`, :math:`s^\mu_j = \sigma^\mu\xi^\mu_j`, with the sum over the other
weights approximated by a Gaussian of mean :math:`M_{\mu\setminus j} = \sum_{k\ne j} s^\mu_k m_{k\to\mu}`
and variance :math:`V_{\mu\setminus j} = \sum_{k\ne j}(1 - m_{k\to\mu}^2)` (the standard large-N
perceptron BP):

.. math:: u_{\mu\to j} = \tfrac12\Big[\log\Phi\Big(\tfrac{M_{\mu\setminus j} + s^\mu_j}{\sqrt{V_{\mu\setminus j}}}\Big)
          - \log\Phi\Big(\tfrac{M_{\mu\setminus j} - s^\mu_j}{\sqrt{V_{\mu\setminus j}}}\Big)\Big],
   \qquad m_{j\to\mu} = \tanh\Big(\sum_{\nu\ne\mu} u_{\nu\to j} + u_{*\to j}\Big).

Focusing adds, for every variable, the message from its ``y - 1`` copies through the centre of the
robust ensemble (coupling :math:`\gamma`):

.. math:: m_{*\to j} = \tanh\big((y-1)\,\mathrm{atanh}(m_{j\to *}\tanh\gamma)\big)\tanh\gamma,
   \qquad m_{j\to *} = \tanh\Big(\sum_\mu u_{\mu\to j}\Big),\quad u_{*\to j} = \mathrm{atanh}\, m_{*\to j}.

``y`` and :math:`\gamma` grow geometrically over the iterations; messages are damped.  After each
iteration the sign of the full field :math:`\sum_\mu u_{\mu\to j} + u_{*\to j}` is checked; the run stops
at zero errors.  One iteration updates all N P messages (O(N P) work) and counts as one sweep.
fBP is used here as a solver only; its use to estimate the local entropy at large N (the Bethe free
entropy with an external field) is not implemented (``local_entropy_count(method="ais")`` does that).
"""
from __future__ import annotations

import math
import time

import numpy as np

from solvers.errors import check_count, check_positive
from solvers.jit import njit, pnjit, prange

from . import _energy
from .annealing import _single
from .problem import stack_problems
from .results import DiscreteResult, geometric_schedule

__all__ = ["focusing_bp"]

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MAXU = 20.0  # clip fields (|u| <= 20: magnetisations within 1e-17 of +-1)


@njit
def _log_phi(x):
    """log of the standard normal CDF, accurate in the left tail."""
    if x > -20.0:
        return math.log(0.5 * math.erfc(-x / _SQRT2))
    # asymptotic expansion log Phi(x) ~ -x^2/2 - log(-x) - log sqrt(2 pi) + log(1 - 1/x^2 + 3/x^4)
    x2 = x * x
    return -0.5 * x2 - math.log(-x) - _LOG_SQRT_2PI + math.log(1.0 - 1.0 / x2 + 3.0 / (x2 * x2))


@njit
def _clipu(u):
    return -_MAXU if u < -_MAXU else (_MAXU if u > _MAXU else u)


@njit
def _fbp_chain(xs, xsT, ys, gammas, damping, tr, Wout):
    p, n = xs.shape
    u = np.zeros((p, n))        # factor -> variable fields
    U = np.zeros(n)             # sum_mu u_{mu->j}
    ustar = np.zeros(n)         # focusing field u_{*->j}
    m = np.zeros((p, n))        # variable -> factor magnetisations
    M = np.zeros(p)
    V = np.zeros(p)
    h = np.empty(p, np.int32)
    it_done = 0
    solved = False
    for t in range(gammas.shape[0]):
        y = ys[t]
        tg = math.tanh(gammas[t])
        # variable -> factor
        for mu in range(p):
            sM = 0.0
            sV = 0.0
            for j in range(n):
                mm = math.tanh(U[j] - u[mu, j] + ustar[j])
                m[mu, j] = mm
                sM += xs[mu, j] * mm
                sV += 1.0 - mm * mm
            M[mu] = sM
            V[mu] = sV
        # factor -> variable
        for j in range(n):
            U[j] = 0.0
        for mu in range(p):
            for j in range(n):
                s = xs[mu, j]
                mm = m[mu, j]
                Mc = M[mu] - s * mm
                Vc = V[mu] - (1.0 - mm * mm)
                if Vc < 1e-12:
                    Vc = 1e-12
                sd = math.sqrt(Vc)
                new = 0.5 * (_log_phi((Mc + s) / sd) - _log_phi((Mc - s) / sd))
                new = _clipu((1.0 - damping) * new + damping * u[mu, j])
                u[mu, j] = new
                U[j] += new
        # focusing messages
        for j in range(n):
            mj = math.tanh(U[j])
            x = mj * tg
            if x > 1.0 - 1e-15:
                x = 1.0 - 1e-15
            elif x < -1.0 + 1e-15:
                x = -1.0 + 1e-15
            ms = math.tanh((y - 1.0) * math.atanh(x)) * tg
            if ms > 1.0 - 1e-15:
                ms = 1.0 - 1e-15
            elif ms < -1.0 + 1e-15:
                ms = -1.0 + 1e-15
            ustar[j] = _clipu(math.atanh(ms))
        # read out
        for j in range(n):
            Wout[j] = 1 if U[j] + ustar[j] >= 0.0 else -1
        ne = _energy.errors_of(xsT, Wout, h)
        conv = 0.0
        for j in range(n):
            conv += abs(math.tanh(U[j] + ustar[j]))
        tr[t, 0] = t + 1
        tr[t, 1] = y
        tr[t, 2] = gammas[t]
        tr[t, 3] = ne
        tr[t, 4] = conv / n
        it_done = t + 1
        if ne == 0:
            solved = True
            break
    return it_done, solved


@pnjit
def _fbp_batch(xs, xsT, ys, gammas, damping):
    I, p, n = xs.shape
    its = np.zeros(I, np.int64)
    solved = np.zeros(I, np.bool_)
    Wout = np.zeros((I, n), np.int8)
    tr = np.zeros((I, gammas.shape[0], 5))
    for i in prange(I):
        ii = np.int64(i)
        a, s = _fbp_chain(xs[ii], xsT[ii], ys, gammas, damping, tr[ii], Wout[ii])
        its[ii] = a
        solved[ii] = s
    return its, solved, Wout, tr


def focusing_bp(problem, *, max_iters: int = 1000, y0: float = 1.0, y1: float = 100.0, gamma0: float = 0.01,
                gamma1: float = 5.0, damping: float = 0.5, seed: int = 0):
    r"""Focusing belief propagation (module docstring) as a solver.

    Parameters
    ----------
    problem : BinaryPerceptron or sequence of them (same n and p)
    max_iters : int
        Iterations (each O(N P), counted as one sweep).
    y0, y1 : float
        Number of replicas y (>= 1; y = 1 is plain BP), geometric over the iterations.
    gamma0, gamma1 : float
        Coupling gamma, geometric over the iterations.
    damping : float
        Weight of the old factor message in ``[0, 1)``.
    seed : int
        Recorded only (fBP is deterministic: messages start at zero).

    Returns
    -------
    DiscreteResult (or a list): ``W = sign`` of the marginal fields; ``trajectory``: ``sweeps``
    (iterations), ``y``, ``gamma``, ``errors``, ``polarisation`` (mean |magnetisation|).
    """
    problems, xsT = stack_problems(problem)
    T = check_count("max_iters", max_iters, minimum=1)
    y0, y1 = check_positive("y0", y0), check_positive("y1", y1)
    if y0 < 1 or y1 < 1:
        raise ValueError(f"`y0` and `y1` (numbers of replicas) must be >= 1; got {y0!r}, {y1!r}.")
    g0, g1 = check_positive("gamma0", gamma0), check_positive("gamma1", gamma1)
    if not (0.0 <= float(damping) < 1.0):
        raise ValueError(f"`damping` must lie in [0, 1); got {damping!r}.")
    ys = geometric_schedule(y0, y1, T)
    gammas = geometric_schedule(g0, g1, T)
    xs = np.ascontiguousarray(np.stack([pr.xi * pr.sigma[:, None] for pr in problems]))
    t0 = time.perf_counter()
    its, solved, Wout, tr = _fbp_batch(xs, xsT, ys, gammas, float(damping))
    wall = time.perf_counter() - t0
    n = problems[0].n
    out = []
    names = ("sweeps", "y", "gamma", "errors", "polarisation")
    for i, pr in enumerate(problems):
        W = Wout[i].copy()
        e = pr.energy(W)
        traj = {k: tr[i, :its[i], c].copy() for c, k in enumerate(names)}
        out.append(DiscreteResult(W=W, energy=e, solved=e == 0, sweeps=float(its[i]), trajectory=traj,
                                  method="focusing_bp", energy_kind="BP on the error-free constraint (y, gamma focusing)",
                                  replicas=np.zeros((0, n), np.int8), seed=int(seed), wall_time=wall,
                                  params={"max_iters": T, "y0": y0, "y1": y1, "gamma0": g0, "gamma1": g1,
                                          "damping": float(damping)}))
    return _single(problem, out)
