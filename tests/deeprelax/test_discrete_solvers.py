"""Solvers on easy instances, the replicated-energy delta against recomputation, robustness."""
import math

import numpy as np
import pytest

import deeprelax as dr
from deeprelax.discrete import _mc_kernels


def _E_RE(pr, Wr, beta, gamma):
    return pr.energy(Wr).sum() - np.sum(np.log(2 * np.cosh(gamma * Wr.astype(float).sum(0)))) / beta


def test_replicated_delta_matches_recomputation():
    pr = dr.discrete.BinaryPerceptron.random(25, 0.6, seed=3)
    rng = np.random.default_rng(4)
    y, beta, gamma = 3, 1.7, 0.8
    Wr = (2 * rng.integers(0, 2, (y, 25)) - 1).astype(np.int8)
    lc = np.log(np.cosh(gamma * np.arange(-y, y + 1)))
    for _ in range(200):
        a, j = int(rng.integers(y)), int(rng.integers(25))
        S = Wr.astype(np.int64).sum(0)
        ha = pr.fields(Wr[a]).astype(np.int32)
        de, dn, logacc = _mc_kernels.replicated_delta(pr._xsT, ha, S, j, Wr[a, j], beta, lc, 0)
        W2 = Wr.copy()
        W2[a, j] *= -1
        assert math.isclose(logacc, -beta * (_E_RE(pr, W2, beta, gamma) - _E_RE(pr, Wr, beta, gamma)), abs_tol=1e-9)
        assert dn == pr.energy(W2[a]) - pr.energy(Wr[a]) == de
        if rng.random() < 0.5:
            Wr = W2


@pytest.mark.parametrize("solver, kw", [
    (dr.discrete.anneal, {}), (dr.discrete.anneal, {"energy": "errors"}), (dr.discrete.replicated_anneal, {}),
    (dr.discrete.replicated_sgd, {}), (dr.discrete.entropy_sgd, {}), (dr.discrete.focusing_bp, {})])
def test_solvers_solve_easy_instances(solver, kw):
    probs = [dr.discrete.BinaryPerceptron.random(51, 0.3, seed=s) for s in range(3)]
    budget = {"max_iters": 300} if solver is dr.discrete.focusing_bp else {"max_sweeps": 600}
    res = solver(probs, **budget, **kw)
    assert len(res) == 3
    for r, pr in zip(res, probs):
        assert r.solved and r.energy == 0 == pr.energy(r.W)
        assert 0 < r.sweeps <= 600
        tr = r.trajectory
        assert np.all(np.diff(tr["sweeps"]) >= 0) and tr["sweeps"][-1] <= r.sweeps + 1e-9
    # one instance alone gives the same run as inside the batch
    alone = solver(probs[1], **budget, **kw)
    assert np.array_equal(alone.W, res[1].W) and alone.sweeps == res[1].sweeps


@pytest.mark.slow
def test_budget_counts_every_replica():
    pr = dr.discrete.BinaryPerceptron.random(101, 0.8, seed=0)  # unsolvable within the budget
    r = dr.discrete.replicated_anneal(pr, y=5, max_sweeps=100)
    s = dr.discrete.anneal(pr, max_sweeps=100)
    assert not r.solved and not s.solved
    assert r.sweeps == 100 and s.sweeps == 100
    assert r.replicas.shape == (5, 101)
    # the centre observation E(centre) <= <E(replicas)> is recorded along the run
    assert {"centre_errors", "replica_errors_mean", "overlap", "gamma", "beta"} <= set(r.trajectory)


def test_robustness_single_flip_mean_is_exact():
    pr = dr.discrete.BinaryPerceptron.random(41, 0.4, seed=1, teacher=True)
    W = pr.teacher
    res = dr.discrete.robustness(pr, np.stack([W, W]), [0.0, 1 / 41, 0.2], n_samples=4000, seed=0)
    assert res.mean.shape == (2, 3) and np.all(res.mean[:, 0] == 0) and np.array_equal(res.flips, [0, 1, 8])
    flips = np.repeat(W[None], 41, 0)
    flips[np.arange(41), np.arange(41)] *= -1
    exact = pr.energy(flips).mean()
    assert abs(res.mean[0, 1] - exact) < 4 * res.stderr[0, 1]
    assert np.array_equal(res.mean[0], res.mean[1])  # common random numbers across rows


def test_algorithmic_threshold_interpolates_and_reports_bounds():
    from deeprelax.discrete.targets import algorithmic_threshold

    a = np.array([0.5, 0.6, 0.7, 0.8])
    solved = np.zeros((4, 10), bool)
    solved[0, :] = True
    solved[1, :8] = True   # 0.8
    solved[2, :2] = True   # 0.2 -> crossing at 0.6 + 0.3/0.6 * 0.1 = 0.65
    c, se, bound = algorithmic_threshold(a, solved, n_boot=200)
    assert bound == "" and abs(c - 0.65) < 1e-12 and 0 < se < 0.05
    assert algorithmic_threshold(a, np.zeros((4, 10), bool))[2] == "<"
    assert algorithmic_threshold(a, np.ones((4, 10), bool))[2] == ">"
    # a non-monotone dip is pooled (isotonic fit) before interpolating
    solved2 = solved.copy()
    solved2[1, :] = False
    solved2[1, :4] = True  # 0.4 at 0.6, 0.2 at 0.7 -> crossing between 0.5 and 0.6
    assert 0.5 < algorithmic_threshold(a, solved2, n_boot=10)[0] < 0.6
