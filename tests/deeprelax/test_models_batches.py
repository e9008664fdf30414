"""deeprelax.models: minibatch gradients are unbiased with the exact covariance (z-tests), errors, data."""
import math

import numpy as np
import pytest

import deeprelax as dr
from deeprelax import models as M


@pytest.mark.parametrize("replace", [True, False])
def test_minibatch_gradient_unbiased_with_exact_variance(replace):
    # z-test over 4000 minibatches of the projection u.g_B: mean u.grad f, variance u^T Cov(g_B) u exactly
    ds = M.gaussian_mixture(3, 4, n_samples=40, n_test=0, seed=5)
    model = M.MLP(ds, (5,), lam=0.01)
    rng = np.random.default_rng(11)
    x = model.init(rng)
    b, n = 7, 4000
    idx = model.sample_batch(rng, b, replace=replace, size=n)
    if not replace:
        assert all(len(set(r)) == b for r in idx)
    G = model.grad_batch(x, idx)                               # (n, d): the same x, n batches
    u = rng.standard_normal(model.dim)
    proj = G @ u
    var = u @ model.minibatch_cov(x, b, replace=replace) @ u
    z = (proj.mean() - model.grad(x) @ u) / math.sqrt(var / n)
    assert abs(z) < 4.0
    # the sample variance matches the exact one (chi-square: relative s.e. sqrt(2/n) ~ 2%)
    assert proj.var(ddof=1) == pytest.approx(var, rel=0.1)


def test_errors_teacher_and_metrics():
    ds = M.teacher_student("committee", n_inputs=21, n_samples=200, n_test=300, seed=0, K=3, tree=True)
    cm = M.CommitteeMachine(ds, 3, tree=True)
    assert cm.train_error(ds.teacher) == 0.0 and cm.test_error(ds.teacher) == 0.0
    x = cm.init(1, 3)
    e = cm.error(x, "test")
    assert e.shape == (3,) and np.all((e > 0.2) & (e < 0.8))     # random students are near chance
    np.testing.assert_allclose(e[1], np.mean(cm.predict(x[1], ds.X_test) != ds.y_test))
    noisy = M.teacher_student("perceptron", n_inputs=50, n_samples=10, n_test=4000, noise=0.2, seed=3)
    p = M.Perceptron(noisy)
    err = float(p.test_error(noisy.teacher))
    assert abs(err - 0.2) < 4 * math.sqrt(0.2 * 0.8 / 4000) and noisy.bayes_error == 0.2


def test_gaussian_mixture_bayes_error_and_reproducible_data():
    ds = M.gaussian_mixture(2, 3, n_samples=10, n_test=20000, separation=2.0, seed=4)
    mu = ds.params["means"]
    w = mu[1] - mu[0]
    pred = ((ds.X_test - 0.5 * (mu[0] + mu[1])) @ w > 0).astype(int)
    emp = np.mean(pred != ds.y_test)
    assert abs(emp - ds.bayes_error) < 4 * math.sqrt(ds.bayes_error * (1 - ds.bayes_error) / 20000)
    a = M.random_patterns(30, 0.5, seed=7)
    b = M.random_patterns(30, 0.5, seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.n_samples == 15 and set(np.unique(a.X)) == {-1.0, 1.0}


def test_digits_split_and_mlp():
    pytest.importorskip("sklearn")
    ds = M.digits(seed=0)
    assert (ds.n_samples, ds.n_test, ds.n_inputs, ds.n_classes) == (1347, 450, 64, 10)
    assert np.allclose(ds.X.mean(0), 0, atol=1e-12)
    assert np.array_equal(np.bincount(ds.y_test), np.bincount(M.digits(seed=0).y_test))
    assert not np.array_equal(ds.y, M.digits(seed=1).y)
    two = M.digits(seed=0, classes=[3, 8])
    assert two.n_classes == 2 and two.n_samples + two.n_test == 357
    net = M.MLP(ds, (16,))
    assert net.dim == 64 * 16 + 16 + 16 * 10 + 10
    assert float(net.value(np.zeros(net.dim))) == pytest.approx(math.log(10), rel=1e-14)


def test_diffusion_matrix_accepts_models():
    ds = M.teacher_student("perceptron", n_inputs=8, n_samples=50, seed=1)
    p = M.Perceptron(ds, lam=0.1)
    x = p.init(0)
    Dm = dr.sgd_noise.diffusion_matrix(p, x, batch=5)
    np.testing.assert_allclose(Dm.D, p.sample_cov(x), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(Dm.grad, p.grad(x), rtol=1e-10, atol=1e-14)


def test_bad_inputs_name_the_argument():
    ds = M.teacher_student("committee", n_inputs=20, n_samples=10, seed=0, K=5)
    with pytest.raises(ValueError, match="`K` must be an odd"):
        M.CommitteeMachine(ds, 4)
    with pytest.raises(ValueError, match="divisible by K"):
        M.CommitteeMachine(ds, 3, tree=True)
    with pytest.raises(ValueError, match="`loss` must be one of"):
        M.Perceptron(ds, loss="logcosh")
    with pytest.raises(ValueError, match="n_classes = 2"):
        M.Perceptron(M.gaussian_mixture(3, 4, n_samples=10, n_test=0))
    with pytest.raises(ValueError, match="`hidden`"):
        M.MLP(ds, (0,))
    with pytest.raises(ValueError, match="`activation`"):
        M.MLP(ds, (3,), activation="sigmoid")
    p = M.Perceptron(M.random_patterns(10, 1.0))
    x = p.init(0)
    with pytest.raises(ValueError, match="no test set"):
        p.test_error(x)
    with pytest.raises(ValueError, match="`idx` must lie in 0..9"):
        p.grad_batch(x, [0, 10])
    with pytest.raises(TypeError, match="integers"):
        p.grad_batch(x, [0.5])
    with pytest.raises(ValueError, match="trailing dimension 10"):
        p.grad_batch(np.zeros(3), [0])
    with pytest.raises(ValueError, match="`batch` must be <= n_samples"):
        p.sample_batch(np.random.default_rng(0), 11, replace=False)
    with pytest.raises(ValueError, match="`alpha`"):
        M.random_patterns(10, 0.0)
    with pytest.raises(ValueError, match="`noise`"):
        M.teacher_student("perceptron", n_inputs=5, n_samples=5, noise=0.5)
    with pytest.raises(ValueError, match="`arch`"):
        M.teacher_student("cnn", n_inputs=5, n_samples=5)
    with pytest.raises(ValueError, match="`split`"):
        p.error(x, "validation")
