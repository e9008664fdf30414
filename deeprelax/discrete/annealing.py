r"""Simulated annealing and replicated simulated annealing on the binary perceptron.

``anneal`` (the baseline): Metropolis single flips at inverse temperature :math:`\beta_t`, one sweep =
N flip attempts at random sites, :math:`\beta_t` geometric from ``beta0`` to ``beta1`` over
``max_sweeps`` sweeps; stops at the first zero-error configuration.

``replicated_anneal``: Metropolis on the robust ensemble of ``y`` real replicas with the centre
:math:`\tilde W` traced out,

.. math:: E_{RE}(\{W^a\}) = \sum_a E(W^a) - \frac1\beta \sum_j \log 2\cosh\Big(\gamma \sum_a W^a_j\Big),

a flip of :math:`W^a_j` is accepted with probability
:math:`\min(1, e^{-\beta\Delta E_a} \cosh(\gamma S_j')/\cosh(\gamma S_j))`, :math:`S_j = \sum_a W^a_j`
(O(P) for :math:`\Delta E_a` plus O(1) for the coupling).  :math:`\beta_t` and :math:`\gamma_t`
(scoping) grow geometrically.  The centre :math:`\tilde W_j = \mathrm{sign}(S_j)` (y odd; for even
y a tie keeps the previous value) is tracked with its own fields; the run stops when the centre or
any replica has zero errors.  One replicated sweep = y N attempts = y sweeps of the budget, so
``max_sweeps`` is the same total work for both functions (equal total sweep budget, counting all
replicas).

Energies (``energy=``): ``"errors"`` anneals the error count itself, ``"hinge"`` the
stability-weighted error count :math:`\sum_\mu (1 - h^\mu)/2\,\Theta(-h^\mu)`; both vanish exactly at
the solutions.  Both functions accept one instance or a list of same-size instances (run in
parallel, one chain each) and return one :class:`DiscreteResult` per instance.
"""
from __future__ import annotations

import time

import numpy as np

from solvers.errors import check_count, check_nonnegative, check_positive

from . import _mc_kernels as _k
from .. import _rng
from .problem import ENERGIES, BinaryPerceptron, check_weights, stack_problems
from .results import DiscreteResult, geometric_schedule

__all__ = ["anneal", "replicated_anneal"]


def _energy_code(energy):
    if energy not in ENERGIES:
        raise ValueError(f"`energy` must be one of {sorted(ENERGIES)}; got {energy!r}.")
    return ENERGIES[energy]


def _initial(problems, W0, seed, stream, shape_tail):
    n = problems[0].n
    I = len(problems)
    if W0 is None:
        return np.ascontiguousarray(np.stack([
            (2 * _rng.instance_rng(seed, pr, i, stream).integers(0, 2, size=shape_tail + (n,)) - 1).astype(np.int8)
            for i, pr in enumerate(problems)]))
    w = check_weights(np.asarray(W0).reshape(-1, n), n, "W0").reshape(np.shape(W0))
    return np.ascontiguousarray(np.broadcast_to(w, (I,) + shape_tail + (n,))).astype(np.int8)


def _single(problem, out):
    return out[0] if isinstance(problem, BinaryPerceptron) else out


def anneal(problem, *, max_sweeps: int = 2000, beta0: float = 1.0, beta1: float = 3.0,
           energy: str = "hinge", seed: int = 0, W0=None, record_every: int = 10):
    r"""Simulated annealing (the baseline).

    Parameters
    ----------
    problem : BinaryPerceptron or sequence of them (same n and p)
    max_sweeps : int
        Budget in sweeps (N flip attempts each).
    beta0, beta1 : float
        Inverse temperature, geometric from ``beta0`` to ``beta1`` over ``max_sweeps`` (defaults: the
        settings of :data:`deeprelax.discrete.targets.METHODS`, tuned at N = 201, 2000 sweeps).
    energy : {"hinge", "errors"}
        The energy annealed (see the module docstring); ``result.energy`` is always the error count.
    seed : int
        Seeds the initial configurations (uniform) and the chains.
    W0 : array_like, shape (N,) or (I, N), optional
        Initial configuration(s) instead of uniform random ones.
    record_every : int
        Sweeps between trajectory records (``sweeps``, ``beta``, ``errors``, ``energy``).

    Returns
    -------
    DiscreteResult, or a list of them for a sequence of instances.
    """
    problems, xsT = stack_problems(problem)
    T = check_count("max_sweeps", max_sweeps, minimum=1)
    b0, b1 = check_positive("beta0", beta0), check_positive("beta1", beta1)
    rec = check_count("record_every", record_every, minimum=1)
    kind = _energy_code(energy)
    W = _initial(problems, W0, seed, 1, ())
    betas = geometric_schedule(b0, b1, T)
    state = _rng.instance_seeds(seed, problems, 11)
    t0 = time.perf_counter()
    attempts, nrec, tr_s, tr_err, tr_e = _k.sa_batch(xsT, W, betas, kind, state, rec, T // rec + 2)
    wall = time.perf_counter() - t0
    n = problems[0].n
    out = []
    for i, pr in enumerate(problems):
        r = int(nrec[i])
        sw = tr_s[i, :r]
        traj = {"sweeps": sw, "beta": betas[np.minimum((np.ceil(sw)).astype(int), T) - 1].clip(b0),
                "errors": tr_err[i, :r], "energy": tr_e[i, :r]}
        e = pr.energy(W[i])
        out.append(DiscreteResult(W=W[i].copy(), energy=e, solved=e == 0, sweeps=attempts[i] / n, trajectory=traj,
                                  method="anneal", energy_kind=energy, replicas=np.zeros((0, n), np.int8),
                                  seed=int(seed), wall_time=wall,
                                  params={"max_sweeps": T, "beta0": b0, "beta1": b1, "record_every": rec,
                                          "schedule": "geometric beta"}))
    return _single(problem, out)


def replicated_anneal(problem, *, y: int = 3, max_sweeps: int = 2000, beta0: float = 0.5, beta1: float = 4.0,
                      gamma0: float = 0.5, gamma1: float = 2.0, energy: str = "hinge", seed: int = 0, W0=None,
                      record_every: int = 10):
    r"""Replicated simulated annealing on the robust ensemble (module docstring).

    Parameters
    ----------
    problem : BinaryPerceptron or sequence of them (same n and p)
    y : int
        Number of real replicas (>= 2; odd keeps the centre ``sign(sum_a W^a)`` free of ties).
    max_sweeps : int
        Total budget in sweeps counting every replica: ``max_sweeps / y`` replicated sweeps of ``y N``
        attempts each.
    beta0, beta1, gamma0, gamma1 : float
        Geometric schedules of the inverse temperature and of the coupling gamma (scoping) over the
        ``max_sweeps / y`` replicated sweeps.
    energy : {"hinge", "errors"}
        Energy of each replica (see the module docstring).
    seed, W0, record_every
        As in :func:`anneal`; ``W0`` of shape (N,) starts every replica there.

    Returns
    -------
    DiscreteResult (or a list): ``W`` is the centre if the centre solved, else the replica that solved,
    else the configuration with the fewest errors; ``replicas`` (y, N); ``trajectory`` has ``sweeps``,
    ``beta``, ``gamma``, ``centre_errors``, ``replica_errors_mean``, ``replica_errors_min``,
    ``replica_energy_mean`` and ``overlap`` (mean pairwise replica overlap).
    """
    problems, xsT = stack_problems(problem)
    y = check_count("y", y, minimum=2, hint="the number of replicas")
    T = check_count("max_sweeps", max_sweeps, minimum=1)
    Tr = max(1, T // y)
    b0, b1 = check_positive("beta0", beta0), check_positive("beta1", beta1)
    g0, g1 = check_nonnegative("gamma0", gamma0), check_nonnegative("gamma1", gamma1)
    rec = check_count("record_every", record_every, minimum=1)
    kind = _energy_code(energy)
    n = problems[0].n
    if W0 is None:
        Wr = _initial(problems, None, seed, 2, (y,))
    else:
        w = check_weights(W0, n, "W0")
        Wr = np.ascontiguousarray(np.broadcast_to(w.reshape(-1, n)[-1:] if w.ndim == 1 else w,
                                                  (len(problems), y, n))).astype(np.int8)
    betas = geometric_schedule(b0, b1, Tr)
    gammas = geometric_schedule(g0, g1, Tr)
    state = _rng.instance_seeds(seed, problems, 12)
    t0 = time.perf_counter()
    attempts, nrec, solved_by, centre, tr = _k.rsa_batch(xsT, Wr, betas, gammas, kind, state, rec, Tr // rec + 3)
    wall = time.perf_counter() - t0
    out = []
    names = ("sweeps", "beta", "gamma", "centre_errors", "replica_errors_mean", "replica_errors_min",
             "replica_energy_mean", "overlap")
    for i, pr in enumerate(problems):
        traj = {k: tr[i, :nrec[i], c].copy() for c, k in enumerate(names)}
        sb = int(solved_by[i])
        if sb == y:
            W = centre[i]
        elif sb >= 0:
            W = Wr[i, sb]
        else:
            cand = np.vstack([centre[i][None], Wr[i]])
            W = cand[int(np.argmin(pr.energy(cand)))]
        e = pr.energy(W)
        out.append(DiscreteResult(W=W.copy(), energy=e, solved=e == 0, sweeps=attempts[i] / n, trajectory=traj,
                                  method="replicated_anneal", energy_kind=energy, replicas=Wr[i].copy(),
                                  seed=int(seed), wall_time=wall,
                                  params={"y": y, "max_sweeps": T, "beta0": b0, "beta1": b1, "gamma0": g0,
                                          "gamma1": g1, "record_every": rec,
                                          "solved_by": "centre" if sb == y else ("none" if sb < 0 else f"replica {sb}"),
                                          "schedule": "geometric beta and gamma"}))
    return _single(problem, out)
