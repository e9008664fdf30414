"""Finite-sum losses: compiled twins, per-sample gradients, minibatch unbiasedness and covariance."""
import math

import numpy as np
import pytest

from deeprelax import _dyn_kernels as K
from deeprelax import dynamics as D
from deeprelax import finite_sum as FS
from deeprelax.finite_sum import finite_sum


@pytest.mark.parametrize("kind", ["least-squares", "logistic"])
def test_compiled_value_and_grad_match_numpy(kind):
    loss = finite_sum(kind, n_samples=60, dim=3, seed=1, lam=0.05)
    X = np.random.default_rng(0).normal(size=(5, 3))
    for x in X:
        assert FS.fs_value(loss.nb_kind, loss.nb_params, x) == pytest.approx(float(loss.value(x)), rel=1e-13)
        g = np.empty(3)
        FS.fs_grad_full(loss.nb_kind, loss.nb_params, x, g)
        np.testing.assert_allclose(g, loss.grad(x), rtol=1e-12, atol=1e-14)
        idx = np.array([3, 3, 17, 59])
        FS.fs_grad_idx(loss.nb_kind, loss.nb_params, x, idx, 4, g)
        np.testing.assert_allclose(g, loss.grad_batch(x, idx), rtol=1e-12, atol=1e-14)
    # the numpy gradient is the derivative of the value (central differences)
    x, e = X[0], 1e-6
    fd = [(loss.value(x + e * v) - loss.value(x - e * v)) / (2 * e) for v in np.eye(3)]
    np.testing.assert_allclose(loss.grad(x), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(loss.grad_samples(x).mean(0), loss.grad(x), rtol=1e-12, atol=1e-14)
    H = loss.hess(x)
    fdh = np.stack([(loss.grad(x + e * v) - loss.grad(x - e * v)) / (2 * e) for v in np.eye(3)])
    np.testing.assert_allclose(H, fdh, rtol=1e-5, atol=1e-7)


def test_dataset_is_reproducible_and_least_squares_minimiser():
    a = finite_sum("least-squares", n_samples=50, dim=2, seed=3, lam=0.1)
    b = finite_sum("least-squares", n_samples=50, dim=2, seed=3, lam=0.1)
    c = finite_sum("least-squares", n_samples=50, dim=2, seed=4, lam=0.1)
    np.testing.assert_array_equal(a.A, b.A)
    assert not np.array_equal(a.A, c.A)
    np.testing.assert_allclose(a.grad(a.minimizer()), 0, atol=1e-13)
    lg = finite_sum("logistic", n_samples=50, dim=2, seed=3, noise=0.0)
    assert set(np.unique(lg.y)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(lg.y, np.where(lg.A @ lg.x_true >= 0, 1.0, -1.0))


def test_batch_indices():
    N, b = 20, 6
    idx = K.batch_block(np.uint64(5), np.arange(50), np.arange(400), N, b, False).reshape(-1, b)
    assert all(len(set(row)) == b for row in idx)                # without replacement: distinct
    assert idx.min() >= 0 and idx.max() < N
    counts = np.bincount(idx.ravel(), minlength=N)             # every index equally likely
    p = b / N
    n_rows = idx.shape[0]
    assert np.all(np.abs(counts - n_rows * p) < 5 * math.sqrt(n_rows * p * (1 - p)))
    idr = K.batch_block(np.uint64(5), np.arange(50), np.arange(400), N, b, True)
    cr = np.bincount(idr.ravel(), minlength=N)
    assert np.all(np.abs(cr - idr.size / N) < 5 * math.sqrt(idr.size / N))
    assert any(len(set(row)) < b for row in idr.reshape(-1, b))     # with replacement: repeats happen


@pytest.mark.parametrize("replace", [True, False])
def test_minibatch_gradient_unbiased_with_exact_covariance(replace):
    """One kernel step x1 = x0 - g_B: mean = grad f, covariance Sigma/b (times (N-b)/(N-1) without replacement)."""
    loss = finite_sum("least-squares", n_samples=50, dim=2, seed=7, noise=1.0)
    x0 = np.array([0.4, -0.3])
    b, n = 10, 40000
    r = D.sgd(loss, x0, lr=1.0, n_steps=1, rng=11, batch=b, replace=replace, n_chains=n)
    G = x0 - r.x                                            # (n, d) minibatch gradients
    g = loss.grad(x0)
    C = loss.minibatch_cov(x0, b, replace)
    se_mean = np.sqrt(np.diag(C) / n)
    assert np.all(np.abs(G.mean(0) - g) < 4 * se_mean)
    emp = np.cov(G.T)
    # SE of a covariance entry ~ sqrt((C_ii C_jj + C_ij^2)/n) (Gaussian approximation; ample here)
    se = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C ** 2) / n)
    assert np.all(np.abs(emp - C) < 5 * se), (emp, C)
    other = loss.minibatch_cov(x0, b, not replace)
    assert np.abs(np.diag(emp) - np.diag(other)).max() > 5 * np.diag(se).max()


def test_full_gradient_path_and_errors():
    loss = finite_sum("logistic", n_samples=30, dim=2, seed=2, lam=0.2)
    x0 = np.zeros(2)
    r = D.sgd(loss, x0, lr=0.5, n_steps=300)
    np.testing.assert_allclose(loss.grad(r.x[0]), 0, atol=1e-8)      # strongly convex with lam > 0
    with pytest.raises(ValueError, match="`batch` must be <= n_samples = 30 without replacement"):
        D.sgd(loss, x0, lr=0.5, n_steps=2, batch=31, replace=False, rng=0)
    with pytest.raises(ValueError, match="`kind` must be one of"):
        finite_sum("hinge")
    with pytest.raises(ValueError, match="`idx` must lie in 0..29"):
        loss.grad_samples(x0, [30])
    assert FS.is_finite_sum_kind(loss.nb_kind) and not FS.is_finite_sum_kind(2)
