"""Replicated SGD: the gradient of H against finite differences, the sign of the coupling, and the
compiled update against a gradient step."""
import numpy as np

import deeprelax as dr
from deeprelax.discrete import relaxation as rx


def _fd(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        g[idx] = (f(xp) - f(xm)) / (2 * eps)
    return g


def test_gradient_of_H_matches_finite_differences():
    pr = dr.discrete.BinaryPerceptron.random(15, 0.6, seed=1)
    rng = np.random.default_rng(0)
    for gamma, beta, kappa in ((0.7, 2.0, 0.5), (3.0, 0.5, 1.0)):
        wr = rng.uniform(-0.9, 0.9, (3, 15))
        g_fd = _fd(lambda w: rx.replicated_energy(pr, w, gamma, beta, kappa), wr)
        g = rx.replicated_energy_grad(pr, wr, gamma, beta, kappa)
        assert np.max(np.abs(g - g_fd)) < 1e-6 * max(1.0, np.max(np.abs(g)))
        # the form written with "+ (1/beta) sum log(...)" has the opposite coupling term
        g_plus = _fd(lambda w: rx.replicated_energy(pr, w, gamma, beta, kappa, sign=+1), wr)
        dE = np.stack([rx.relaxation_grad(pr, w, kappa) for w in wr])
        coupling = (gamma / beta) * (np.tanh(gamma * wr.sum(0)) - wr)
        assert np.allclose(g_plus - dE, coupling, atol=1e-6)
        assert np.allclose(g - dE, -coupling, atol=1e-12)


def test_compiled_step_is_a_gradient_step_on_H():
    pr = dr.discrete.BinaryPerceptron.random(15, 0.6, seed=2)
    wr = np.random.default_rng(1).uniform(-0.5, 0.5, (3, 15))
    lr, gamma, beta = 1e-3, 1.3, 2.0
    new = rx.replicated_sgd_step(pr, wr, lr=lr, gamma=gamma, beta=beta, kappa=0.5, forward="continuous")
    expect = wr - lr * rx.replicated_energy_grad(pr, wr, gamma, beta, 0.5)
    assert np.allclose(new, expect, atol=1e-13)
    # i.e. the talk's update with eta' = eta gamma / beta
    talk = wr - lr * np.stack([rx.relaxation_grad(pr, w, 0.5) for w in wr]) \
        + (lr * gamma / beta) * (np.tanh(gamma * wr.sum(0)) - wr)
    assert np.allclose(new, talk, atol=1e-13)
