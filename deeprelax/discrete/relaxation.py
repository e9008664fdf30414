r"""Gradient methods on the continuous relaxation: replicated SGD and Entropy-SGD.

The binary weights are relaxed to :math:`w \in [-1, 1]^N` (projected: clipped after every step) and
the error count to the smooth surrogate

.. math:: E(w) = \sum_\mu \tfrac12\,(\kappa - h^\mu)_+^2, \qquad h^\mu = \sigma^\mu\, w\cdot\xi^\mu/\sqrt N,

evaluated at ``w`` (``forward="continuous"``: the true gradient) or at ``sign(w)``
(``forward="sign"``: straight-through / BinaryConnect, the gradient at the binary weights applied to
the continuous ones).  The answer is always binary: ``sign(w)`` (errors counted there).

**Replicated SGD** descends, with minibatches, the robust-ensemble energy of ``y`` replicas with the
centre traced out,

.. math:: H(\{w^a\}) = \sum_a E(w^a) - \frac1\beta \sum_j \log\Big(e^{-\frac\gamma2\sum_a (w^a_j - 1)^2}
          + e^{-\frac\gamma2\sum_a (w^a_j + 1)^2}\Big),

whose gradient is

.. math:: \partial H/\partial w^a_i = \partial E/\partial w_i(w^a) - \frac\gamma\beta
          \big(\tanh(\gamma \textstyle\sum_b w^b_i) - w^a_i\big)

(checked against finite differences in ``tests/deeprelax/test_discrete_relaxation.py``).  A step
:math:`\eta` of gradient descent is therefore the talk's update
:math:`w^a_i \leftarrow w^a_i - \eta\,\partial E/\partial w_i + \eta'(\tanh(\gamma\sum_b w^b_i) - w^a_i)`
with :math:`\eta' = \eta\gamma/\beta`.  Two differences from the form written in the talk notes
(``discrete.md``): the coupling enters :math:`H` with a minus sign (with the plus sign the same
gradient step pushes the replicas *away* from :math:`\tanh(\gamma\sum_b w^b)`), and
:math:`\eta' = \eta\gamma/\beta`, not :math:`\gamma/(\beta\eta)`.  :math:`\gamma` grows geometrically
(scoping), ``beta`` is fixed.

**Entropy-SGD** on the same relaxation (one replica): an SGLD inner loop of ``L`` steps on
:math:`E(x') + \tfrac\gamma2|x' - x|^2` at inverse temperature ``beta_in`` with an exponential
average :math:`\mu`, then :math:`x \leftarrow x - \eta\gamma(x - \mu)`, :math:`\gamma` scoped upwards.
(This is the loop of :mod:`deeprelax.dynamics` written for the relaxation; once user losses can be
plugged into ``dr.dynamics`` it could reuse that kernel.)

Work is counted in sweeps: one sweep = P per-pattern gradient evaluations (one epoch of one
replica), O(N P) like a Monte Carlo sweep of N flips.
"""
from __future__ import annotations

import math
import time

import numpy as np

from solvers.errors import check_count, check_nonnegative, check_positive

from . import _relax_kernels as _k
from .. import _rng
from .annealing import _single
from .problem import BinaryPerceptron, stack_problems
from .results import DiscreteResult, geometric_schedule

__all__ = ["replicated_sgd", "entropy_sgd", "relaxation_energy", "relaxation_grad", "replicated_energy",
           "replicated_energy_grad", "replicated_sgd_step"]

_FORWARD = {"continuous": 0, "sign": 1}


def _forward(forward):
    if forward not in _FORWARD:
        raise ValueError(f"`forward` must be one of {sorted(_FORWARD)}; got {forward!r}.")
    return _FORWARD[forward]


def _xs(problems):
    return np.ascontiguousarray(np.stack([pr.xi * pr.sigma[:, None] for pr in problems]))


def _batch(b, p):
    b = p if b is None else check_count("batch_size", b, minimum=1)
    if b > p:
        raise ValueError(f"`batch_size` must be <= P = {p}; got {b}.")
    return b


# ----------------------------------------------------------------------------- energies (numpy, for checks)
def relaxation_energy(problem: BinaryPerceptron, w, kappa: float = 0.5) -> float:
    r""":math:`E(w) = \sum_\mu \tfrac12(\kappa - h^\mu)_+^2` at continuous ``w`` (N,)."""
    h = (problem.xi * problem.sigma[:, None]) @ np.asarray(w, float) / math.sqrt(problem.n)
    return float(0.5 * np.sum(np.maximum(kappa - h, 0.0) ** 2))


def relaxation_grad(problem: BinaryPerceptron, w, kappa: float = 0.5) -> np.ndarray:
    """Gradient of :func:`relaxation_energy`, shape (N,)."""
    xs = (problem.xi * problem.sigma[:, None]).astype(float)
    h = xs @ np.asarray(w, float) / math.sqrt(problem.n)
    return -(np.maximum(kappa - h, 0.0) @ xs) / math.sqrt(problem.n)


def replicated_energy(problem, wr, gamma: float, beta: float, kappa: float = 0.5, *, sign: int = -1) -> float:
    r""":math:`H(\{w^a\})` of the module docstring for replicas ``wr`` (y, N).

    ``sign=+1`` evaluates the form written with a plus sign in front of the log term (for the check
    that its gradient has the opposite coupling).
    """
    wr = np.asarray(wr, float)
    e = sum(relaxation_energy(problem, w, kappa) for w in wr)
    lp = -0.5 * gamma * np.sum((wr - 1.0) ** 2, axis=0)
    lm = -0.5 * gamma * np.sum((wr + 1.0) ** 2, axis=0)
    return float(e + sign * np.sum(np.logaddexp(lp, lm)) / beta)


def replicated_energy_grad(problem, wr, gamma: float, beta: float, kappa: float = 0.5) -> np.ndarray:
    r"""Analytic gradient of :func:`replicated_energy` (``sign=-1``), shape (y, N)."""
    wr = np.asarray(wr, float)
    t = np.tanh(gamma * wr.sum(0))
    return np.stack([relaxation_grad(problem, w, kappa) for w in wr]) - (gamma / beta) * (t - wr)


def replicated_sgd_step(problem, wr, *, lr: float, gamma: float, beta: float, kappa: float = 0.5,
                        forward: str = "continuous") -> np.ndarray:
    """One full-batch step of the compiled replicated-SGD update (the kernel's own code); returns new (y, N)."""
    wr = np.array(wr, dtype=float)
    xs = (problem.xi * problem.sigma[:, None]).astype(np.int8)
    G = np.empty_like(wr)
    idx = np.arange(problem.p)
    for a in range(wr.shape[0]):
        _k.minibatch_grad(xs, wr[a], idx, 0, problem.p, float(kappa), _forward(forward), G[a],
                          np.empty(problem.n, np.int8))
    _k.rsgd_update(wr, G, float(lr), float(gamma), float(beta), np.empty(problem.n))
    return wr


def _init_w(problems, y, seed, stream, init_scale):
    shape = ((y,) if y else ()) + (problems[0].n,)
    return np.ascontiguousarray(np.stack([_rng.instance_rng(seed, pr, i, stream).uniform(-init_scale, init_scale, shape)
                                          for i, pr in enumerate(problems)]))


# ----------------------------------------------------------------------------- replicated SGD
def replicated_sgd(problem, *, y: int = 3, max_sweeps: int = 2000, lr: float = 0.003, beta: float = 1.0,
                   gamma0: float = 0.05, gamma1: float = 5.0, kappa: float = 0.3, batch_size: int | None = None,
                   forward: str = "sign", init_scale: float = 0.5, seed: int = 0):
    r"""Replicated SGD on the continuous relaxation (module docstring).

    Parameters
    ----------
    problem : BinaryPerceptron or sequence of them (same n and p)
    y : int
        Replicas (>= 1; y = 1 is plain projected SGD pulled towards the nearest binary point).
    max_sweeps : int
        Budget counting every replica (``max_sweeps / y`` epochs of each replica).
    lr, beta : float
        Step :math:`\eta` and inverse temperature :math:`\beta` (coupling rate :math:`\eta\gamma/\beta`).
    gamma0, gamma1 : float
        Coupling :math:`\gamma`, geometric over the epochs (scoping).
    kappa : float
        Margin of the squared-hinge surrogate.
    batch_size : int, optional
        Patterns per minibatch (default ``max(1, P // 10)``).
    forward : {"sign", "continuous"}
        Where the stabilities are evaluated (module docstring); "sign" (straight-through) solves far
        more instances (N = 201, alpha = 0.5: 8/8 against 0/8 for "continuous" at 3000 sweeps).
    init_scale : float
        Initial weights uniform in ``[-init_scale, init_scale]``.
    seed : int

    Returns
    -------
    DiscreteResult (or a list): ``W`` is the sign of the centre or of the replica that solved;
    ``replicas`` = signs of the final replicas; ``trajectory``: ``sweeps``, ``gamma``,
    ``centre_errors``, ``replica_errors_mean``, ``replica_errors_min``, ``loss`` (mean replica
    minibatch surrogate), ``overlap`` (mean pairwise), ``binary_fraction`` (weights at +-1).
    """
    problems, xsT = stack_problems(problem)
    y = check_count("y", y, minimum=1)
    T = check_count("max_sweeps", max_sweeps, minimum=1)
    lr, beta = check_positive("lr", lr), check_positive("beta", beta)
    g0, g1 = check_nonnegative("gamma0", gamma0), check_nonnegative("gamma1", gamma1)
    kappa = check_nonnegative("kappa", kappa)
    init_scale = check_positive("init_scale", init_scale)
    fw = _forward(forward)
    p, n = problems[0].p, problems[0].n
    b = _batch(max(1, p // 10) if batch_size is None else batch_size, p)
    epochs = max(1, T // y)
    gammas = geometric_schedule(g0, g1, epochs)
    wr = _init_w(problems, y, seed, 31, init_scale)
    state = _rng.instance_seeds(seed, problems, 32)
    t0 = time.perf_counter()
    evals, nrec, solved_by, centre, tr = _k.rsgd_batch(_xs(problems), xsT, wr, gammas, lr, beta, kappa, b, fw, state)
    wall = time.perf_counter() - t0
    names = ("sweeps", "gamma", "centre_errors", "replica_errors_mean", "replica_errors_min", "loss", "overlap",
             "binary_fraction")
    out = []
    for i, pr in enumerate(problems):
        signs = np.where(wr[i] >= 0, 1, -1).astype(np.int8)
        sb = int(solved_by[i])
        if sb == y:
            W = centre[i]
        elif sb >= 0:
            W = signs[sb]
        else:
            cand = np.vstack([centre[i][None], signs])
            W = cand[int(np.argmin(pr.energy(cand)))]
        e = pr.energy(W)
        traj = {k: tr[i, :nrec[i], c].copy() for c, k in enumerate(names)}
        out.append(DiscreteResult(W=W.copy(), energy=e, solved=e == 0, sweeps=evals[i] / p, trajectory=traj,
                                  method="replicated_sgd", energy_kind=f"squared-hinge(kappa={kappa:g}, {forward})",
                                  replicas=signs, seed=int(seed), wall_time=wall,
                                  params={"y": y, "max_sweeps": T, "lr": lr, "beta": beta, "gamma0": g0,
                                          "gamma1": g1, "kappa": kappa, "batch_size": b, "forward": forward,
                                          "coupling_rate_final": lr * g1 / beta,
                                          "solved_by": "centre" if sb == y else ("none" if sb < 0 else f"replica {sb}")}))
    return _single(problem, out)


# ----------------------------------------------------------------------------- Entropy-SGD
def entropy_sgd(problem, *, max_sweeps: int = 2000, lr: float = 1.0, lr_in: float = 0.02, beta_in: float = 1e4,
                L: int = 20, ema: float = 0.25, gamma0: float = 0.03, gamma1: float = 30.0, kappa: float = 0.5,
                batch_size: int | None = None, forward: str = "sign", init_scale: float = 0.5,
                seed: int = 0):
    r"""Entropy-SGD on the continuous relaxation (module docstring).

    Parameters
    ----------
    problem : BinaryPerceptron or sequence of them (same n and p)
    max_sweeps : int
        Budget in sweeps (P inner-loop gradient evaluations each).
    lr : float
        Outer step :math:`\eta` (the outer update is :math:`x \leftarrow x - \eta\gamma(x - \mu)`).
    lr_in, beta_in, L, ema : float, float, int, float
        Inner SGLD step, inverse temperature (noise :math:`\sqrt{2\eta'/\beta'}`), steps per outer
        step, and the weight of the newest iterate in the average :math:`\mu`.
    gamma0, gamma1 : float
        Coupling, geometric over the outer steps (scoping).
    kappa, batch_size, forward, init_scale, seed
        As in :func:`replicated_sgd` (default batch: ``max(1, P // 10)``).

    Returns
    -------
    DiscreteResult (or a list): ``W = sign(x)``; ``trajectory``: ``sweeps``, ``gamma``, ``errors``,
    ``loss`` (inner minibatch surrogate), ``binary_fraction``.
    """
    problems, xsT = stack_problems(problem)
    T = check_count("max_sweeps", max_sweeps, minimum=1)
    lr, lr_in = check_positive("lr", lr), check_positive("lr_in", lr_in)
    beta_in = check_positive("beta_in", beta_in)
    L = check_count("L", L, minimum=1)
    ema = check_positive("ema", ema)
    if ema > 1:
        raise ValueError(f"`ema` must lie in (0, 1]; got {ema!r}.")
    g0, g1 = check_positive("gamma0", gamma0), check_positive("gamma1", gamma1)
    kappa = check_nonnegative("kappa", kappa)
    init_scale = check_positive("init_scale", init_scale)
    fw = _forward(forward)
    p, n = problems[0].p, problems[0].n
    b = _batch(max(1, p // 10) if batch_size is None else batch_size, p)
    outer = max(1, (T * p) // (L * b))
    gammas = geometric_schedule(g0, g1, outer)
    x = _init_w(problems, 0, seed, 41, init_scale)
    state = _rng.instance_seeds(seed, problems, 42)
    t0 = time.perf_counter()
    evals, nrec, solved, Wout, tr = _k.esgd_batch(_xs(problems), xsT, x, gammas, lr, lr_in, beta_in, L, ema, kappa,
                                                  b, fw, state, T + 3)
    wall = time.perf_counter() - t0
    names = ("sweeps", "gamma", "errors", "loss", "binary_fraction")
    out = []
    for i, pr in enumerate(problems):
        W = Wout[i]
        e = pr.energy(W)
        traj = {k: tr[i, :nrec[i], c].copy() for c, k in enumerate(names)}
        out.append(DiscreteResult(W=W.copy(), energy=e, solved=e == 0, sweeps=evals[i] / p, trajectory=traj,
                                  method="entropy_sgd", energy_kind=f"squared-hinge(kappa={kappa:g}, {forward})",
                                  replicas=np.zeros((0, n), np.int8), seed=int(seed), wall_time=wall,
                                  params={"max_sweeps": T, "lr": lr, "lr_in": lr_in, "beta_in": beta_in, "L": L,
                                          "ema": ema, "gamma0": g0, "gamma1": g1, "kappa": kappa, "batch_size": b,
                                          "forward": forward, "outer_steps": outer}))
    return _single(problem, out)
