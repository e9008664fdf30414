"""Unit tests of the small theory modules (issue 16 §4); the quantitative checks are validation rows
(tests/deeprelax/test_validation.py runs the ``theory`` group)."""
import math

import numpy as np
import pytest

from deeprelax import losses
from deeprelax.theory import control, ou, smoothing
from deeprelax.underdamped import linear_moments, underdamped_langevin, underdamped_sigma


def test_underdamped_sigma_and_stationary_linear_moments():
    assert underdamped_sigma(2.0, 4.0) == pytest.approx(1.0)           # sqrt(2c/beta), not sqrt(c/beta)
    m, v = linear_moments(2.0, 3.0, 4.0, 1.0, 200.0)
    assert abs(m) < 1e-12 and v == pytest.approx(1.0 / (4.0 * 2.0), rel=1e-10)   # Gibbs: Var x = 1/(beta a)
    m0, v0 = linear_moments(2.0, 3.0, 4.0, 1.0, 0.0)
    assert m0 == pytest.approx(1.0) and v0 == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError, match="friction"):
        underdamped_sigma(0.0, 1.0)


@pytest.mark.slow
def test_underdamped_kernel_reproducible_and_errors():
    q = losses.get("quadratic", A=1.0, dim=1)
    a = underdamped_langevin(q, np.ones((70, 1)), friction=2.0, beta=1.0, lr=0.05, n_steps=50, rng=3, save_every=10)
    b = underdamped_langevin(q, np.ones((70, 1)), friction=2.0, beta=1.0, lr=0.05, n_steps=50, rng=3, save_every=10,
                             parallel=True)
    np.testing.assert_array_equal(a.xs, b.xs)
    np.testing.assert_array_equal(a.ps, b.ps)
    assert a.xs.shape == (6, 70, 1) and a.params["sigma"] == pytest.approx(2.0)
    # a NumPy user loss with the same gradient (x, exact in both) runs the same kernel: bit-identical
    u = losses.from_functions(lambda x: 0.5 * (x ** 2).sum(-1), lambda x: 1.0 * x, dim=1)
    c = underdamped_langevin(u, np.ones((70, 1)), friction=2.0, beta=1.0, lr=0.05, n_steps=50, rng=3, save_every=10)
    assert c.params["loss_path"] == "vectorised" and a.params["loss_path"] == "builtin"
    np.testing.assert_array_equal(a.xs, c.xs)
    z = underdamped_langevin(q, np.ones((2, 1)), friction=1.0, beta=1.0, lr=0.1, n_steps=1, p0="zero", rng=0,
                             save_every=1)
    assert np.all(z.ps[0] == 0.0)
    with pytest.raises(ValueError, match="p0"):
        underdamped_langevin(q, np.ones((2, 1)), friction=1.0, beta=1.0, lr=0.1, n_steps=1, p0="hot", rng=0)
    with pytest.raises(ValueError, match="lr"):
        underdamped_langevin(q, np.ones((2, 1)), friction=1.0, beta=1.0, lr=-0.1, n_steps=1, rng=0)


def test_ou_q_closed_form_is_antisymmetric_and_beta_free():
    F = np.array([[1.0, 3.0], [-0.5, 0.8]])
    D = np.array([[1.0, 0.3], [0.3, 0.5]])
    q = ou.q_closed_form(F, D)
    for beta in (0.5, 3.0):
        Q = ou.antisymmetric_q(F, D, beta)
        np.testing.assert_allclose(Q, q * ou.J2, atol=1e-12)
    # symmetric F commuting with D: reversible, q = 0
    assert ou.q_closed_form(np.diag([1.0, 2.0]), np.diag([0.5, 0.7])) == 0.0
    with pytest.raises(ValueError, match="stable"):
        ou.stationary_covariance(-F, D, 1.0)
    with pytest.raises(ValueError, match="2x2"):
        ou.q_closed_form(np.eye(3), np.eye(3))


def test_smoothing_harmonic_mean_identity_on_a_quadratic():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    grad, hess = (lambda x: x @ A.T), (lambda x: np.broadcast_to(A, x.shape[:-1] + (2, 2)).copy())
    x = np.array([[0.3, -1.0], [2.0, 0.5]])
    H = smoothing.hopf_lax_hessian(grad, hess, x, 0.5)
    np.testing.assert_allclose(H, np.broadcast_to(np.linalg.inv(np.linalg.inv(A) + 0.5 * np.eye(2)), H.shape), atol=1e-8)
    f, g, h, m, M = smoothing.convex_test_function(0.2)
    xs = np.random.default_rng(0).normal(size=(5, 2))
    e = 1e-6
    fd = np.stack([(f(xs + e * np.eye(2)[k]) - f(xs - e * np.eye(2)[k])) / (2 * e) for k in range(2)], -1)
    np.testing.assert_allclose(g(xs), fd, atol=1e-7)
    assert np.all(np.linalg.eigvalsh(h(xs)) >= m - 1e-12) and np.all(np.linalg.eigvalsh(h(xs)) <= M)


def test_control_value_function_is_the_feynman_kac_value_for_a_quadratic():
    """f = x^2/2: SGD is an OU process, E exp(-beta f(X_T)) is a Gaussian integral (closed form)."""
    f, df = (lambda x: 0.5 * x ** 2), (lambda x: x)
    beta, T, x0 = 2.0, 1.0, 1.0
    sol = control.solve_value(f, df, np.linspace(-5, 5, 1001), T, beta, 1000)
    m, s2 = x0 * math.exp(-T), (1 - math.exp(-2 * T)) / (2 * beta)          # X_T ~ N(m, s2) (noise beta^-1/2 dW)
    v = 0.5 * math.log(1 + beta * s2) / beta + 0.5 * m ** 2 / (1 + beta * s2)
    i = 600
    assert sol["x"][i] == pytest.approx(x0)
    assert sol["v"][-1][i] == pytest.approx(v, abs=1e-5)
    assert sol["psi"][i] == pytest.approx(0.5 * (m ** 2 + s2), abs=1e-5)
