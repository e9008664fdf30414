"""The optimisers of the experiments, their budgets and the local-entropy estimator of the width experiment."""
import math

import numpy as np
import pytest

from deeprelax import models as M
from deeprelax.experiments import _methods as MT
from deeprelax.experiments._common import problem, sgd_momentum, validation_split
from deeprelax.experiments._entropy import laplace_excess, local_entropy_ti
from deeprelax.experiments.optimisers import first_reaching


class Quadratic:
    """f(y) = sum_i lam_i y_i^2 / 2: u(x, t) - f(x) is known in closed form (paper-spec §2.3)."""

    def __init__(self, lam):
        self.lam = np.asarray(lam, float)
        self.dim = self.lam.size

    def grad(self, Y):
        return np.asarray(Y) * self.lam

    def exact_excess(self, x, t, beta):
        lam = self.lam
        return float(0.5 * np.sum(x * x * lam / (1 + t * lam)) + 0.5 / beta * np.sum(np.log1p(t * lam))
                     - 0.5 * np.sum(lam * x * x))


def _quadratic():
    rng = np.random.default_rng(1)
    lam = np.concatenate([np.abs(rng.standard_normal(300)) * 0.01, [0.3, 1.0, 2.0]])
    lam[:5] = -0.02                                  # a few negative directions, as at the networks' endpoints
    return Quadratic(lam), rng


@pytest.mark.parametrize("off_minimum", [False, True])
def test_local_entropy_ti_matches_the_quadratic_closed_form(off_minimum):
    q, rng = _quadratic()
    x = 0.05 * rng.standard_normal(q.dim) if off_minimum else np.zeros(q.dim)
    beta, ts = 400.0, (0.1, 1.0, 10.0)
    zs = []
    for seed in range(3):
        r = local_entropy_ti(q, x, ts, beta, lam_max=2.0, trace=q.lam.sum(), s_min=0.01, seed=seed)
        ex = np.array([q.exact_excess(x, t, beta) for t in ts])
        zs.append((r["u_excess"] - ex) / r["u_se"])
        # the quadratic model's value is the same closed form
        g = q.grad(x)
        np.testing.assert_allclose(laplace_excess(q.lam, ts, beta, g), ex, rtol=1e-12, atol=1e-15)
    zs = np.abs(np.array(zs))
    # 9 z-scores per case; over 20 seeds x 2 cases x 3 times the largest |z| was 2.7 (mean z within
    # +-0.8).  An Euler-Maruyama chain instead of LM (10% high on the variance) or the trapezoid rule in
    # log s (3% high) would be off by many standard errors.
    assert zs.max() < 4.0, zs


def test_local_entropy_ti_validates_and_reports_nonfinite_chains():
    q, _ = _quadratic()
    with pytest.raises(ValueError, match="`ts`"):
        local_entropy_ti(q, np.zeros(q.dim), [0.0, 1.0], 1.0, lam_max=2.0)
    with pytest.raises(ValueError, match="`lam_max`"):
        local_entropy_ti(q, np.zeros(q.dim), [1.0], 1.0, lam_max=-1.0)
    with pytest.raises(ValueError, match="n_chains"):
        local_entropy_ti(q, np.zeros(q.dim), [1.0], 1.0, lam_max=2.0, n_chains=1)
    with pytest.raises(FloatingPointError, match="non-finite"), np.errstate(over="ignore", invalid="ignore"):
        local_entropy_ti(q, np.zeros(q.dim), [10.0], 1.0, lam_max=1e-3, c=0.9, n_steps=400, burn_in=1)


def test_validation_split_is_a_disjoint_fifth_of_the_training_set():
    data = M.gaussian_mixture(3, 4, n_samples=100, n_test=50, seed=0)
    v = validation_split(data)
    assert (v.n_samples, v.n_test) == (80, 20)
    rows = {tuple(r) for r in v.X} | {tuple(r) for r in v.X_test}
    assert len(rows) == 100 and rows == {tuple(r) for r in data.X}         # the test set is not used
    model, desc = problem("teacher", hidden=(4,), split="val")
    assert model.n_samples == 3200 and "validation" in desc
    with pytest.raises(ValueError, match="`split`"):
        problem("teacher", split="train")


def test_data_parallel_sgd_gives_the_same_iterates():
    model, _ = problem("teacher", hidden=(4,))
    a = sgd_momentum(model, model.init(0), lr=0.05, n_steps=50, batch=32, seed=1)
    b = sgd_momentum(model, model.init(0), lr=0.05, n_steps=50, batch=32, seed=1, workers=2)
    np.testing.assert_allclose(b["x"], a["x"], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="multiple of `workers`"):
        sgd_momentum(model, model.init(0), lr=0.05, n_steps=2, batch=31, workers=2)


@pytest.mark.parametrize("method", MT.METHODS)
def test_every_method_trains_within_the_budget_and_is_reproducible(method):
    model, _ = problem("teacher", hidden=(4,))
    cfg = MT.SEARCH[method][len(MT.SEARCH[method]) // 2]
    xs, ep, wall = MT.train(model, method, cfg, model.init(0), 6.0, 3, n_saves=4)
    xs2, ep2, _ = MT.train(model, method, cfg, model.init(0), 6.0, 3, n_saves=4)
    np.testing.assert_array_equal(xs, xs2)
    assert xs.shape[1] == model.dim and xs.shape[0] == ep.size == wall.size >= 3
    assert ep[0] == 0 and np.all(np.diff(ep) > 0) and np.all(np.diff(wall) >= 0)
    # every per-sample gradient (inner steps, replicas) counted; the budget is met to within rounding
    assert 6.0 * 0.9 <= ep[-1] <= 6.0 + MT.BATCH / model.n_samples
    assert float(model.train_error(xs[-1])) < float(model.train_error(xs[0]))


def test_search_gives_every_method_the_same_number_of_configurations():
    assert {len(v) for v in MT.SEARCH.values()} == {8}
    assert set(MT.SEARCH) == set(MT.METHODS)
    with pytest.raises(ValueError, match="`method`"):
        MT.check_method("adam")


def test_first_reaching_interpolates():
    assert first_reaching([0, 1, 2], [1.0, 0.5, 0.1], 0.3) == pytest.approx(1.5)
    assert first_reaching([0, 1], [0.2, 0.1], 0.3) == 0
    assert math.isnan(first_reaching([0, 1], [1.0, 0.9], 0.3))
