"""dr.dynamics.suggest_params and the Entropy-SGD defaults derived from it (issue 20 item 4)."""
import numpy as np
import pytest

import deeprelax as dr
from deeprelax.tuning import curvature_range


def test_rules_on_a_quadratic():
    """f = x^2/2 (f'' = 1): inner_lr = 0.1/(1 + 1/t), log-concave local measure, tau = 1/(1/t - 1) (bound)."""
    q = dr.losses.get("quadratic", A=[[1.0]])
    assert curvature_range(q) == (-1.0, 1.0)               # lipschitz_grad as a two-sided bound
    s = dr.dynamics.suggest_params(q, 0.5, 4.0)
    assert s.log_concave and s.tau == pytest.approx(1.0)
    assert s.inner_lr == pytest.approx(0.1 / 3.0) and s.L == 30 and s.lr == 0.25 and s.n_steps == 40
    assert dict(s) == {"lr": 0.25, "inner_lr": s.inner_lr, "L": 30, "n_steps": 40}
    assert "Euler-Maruyama" in str(s) and "log-concave" in s.reasons["L"]
    with pytest.raises(ValueError, match="t"):
        dr.dynamics.suggest_params(q, 0.0, 1.0)


def test_curvature_scan_sees_the_narrow_well():
    lo, hi = curvature_range(dr.losses.get("wide-sharp"))
    assert hi == pytest.approx(100.0, rel=1e-6) and lo < -100          # the soft-min junction is concave


@pytest.mark.parametrize("seed", [1, 2])
def test_defaults_leave_the_narrow_minimum_where_a_first_try_does_not(seed):
    """wide-sharp from its narrow well x = 1.5, t = beta = 1 (u(., 1) has no minimum there).

    A first try (lr = 0.2, 200 steps, inner_lr = 1e-3, L = 20: 0.02 time units of inner sampling) leaves
    mu ~ x and moves no chain; the defaults move 97-99 % (binomial sd ~1.3 % at 128 chains).
    """
    f = dr.losses.get("wide-sharp")
    x0 = np.full((128, 1), 1.5)
    naive = dr.dynamics.entropy_sgd(f, x0, t=1.0, beta=1.0, lr=0.2, n_steps=200, inner_lr=1e-3, L=20, rng=seed)
    tuned = dr.dynamics.entropy_sgd(f, x0, t=1.0, beta=1.0, rng=seed)
    assert np.mean(naive.x[:, 0] < 0.5) <= 0.1
    assert np.mean(tuned.x[:, 0] < 0.5) >= 0.9
    assert tuned.params["L"] == dr.dynamics.suggest_params(f, 1.0, 1.0).L


def test_array_schedules_with_defaults_for_the_rest():
    f = dr.losses.get("double-well")
    run = dr.dynamics.entropy_sgd(f, np.full((4, 1), 1.2), t=0.3, beta=2.0, lr=np.full(5, 0.1), n_steps=5, L=3,
                                  rng=0)                                # inner_lr from suggest_params
    assert run.xs.shape[-2:] == (4, 1)
    np.testing.assert_allclose(run.schedule["inner_lr"], dr.dynamics.suggest_params(f, 0.3, 2.0).inner_lr)
