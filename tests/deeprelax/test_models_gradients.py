"""deeprelax.models: gradients against central differences, exact Hessian-vector products, kernels agree."""
import numpy as np
import pytest

from deeprelax import models as M
from deeprelax.models import base as B


def _perc(loss, constraint):
    ds = M.teacher_student("perceptron", n_inputs=12, n_samples=30, n_test=20, seed=1)
    return M.Perceptron(ds, loss=loss, constraint=constraint, lam=0.01, kappa=0.3)


def _comm(tree):
    ds = M.teacher_student("committee", n_inputs=15, n_samples=30, n_test=20, seed=2, K=3)
    return M.CommitteeMachine(ds, 3, tree=tree, lam=0.01)


def _mlp(act, hidden):
    ds = M.gaussian_mixture(3, 5, n_samples=30, n_test=20, seed=3)
    return M.MLP(ds, hidden, activation=act, lam=0.01)


MODELS = {
    **{f"perceptron-{c}-{lo}": (lambda lo=lo, c=c: _perc(lo, c))
       for c in ("ridge", "sphere") for lo in ("cross-entropy", "squared", "hinge")},
    "committee-tree": lambda: _comm(True),
    "committee-fc": lambda: _comm(False),
    "mlp-tanh-1": lambda: _mlp("tanh", (6,)),
    "mlp-tanh-2": lambda: _mlp("tanh", (6, 4)),
    "mlp-relu-1": lambda: _mlp("relu", (6,)),
    "mlp-relu-2": lambda: _mlp("relu", (6, 4)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_gradient_and_hvp_against_differences(name):
    model = MODELS[name]()
    rng = np.random.default_rng(0)
    x = model.init(rng)
    g = model.grad(x)
    h = 1e-5
    # central differences of the value along random directions: error O(h^2) ~ 1e-10 relative
    for v in rng.standard_normal((4, model.dim)):
        fd = (model.value(x + h * v) - model.value(x - h * v)) / (2 * h)
        assert g @ v == pytest.approx(fd, rel=1e-6, abs=1e-9)
    # Hessian-vector products against central differences of the gradient
    V = rng.standard_normal((3, model.dim))
    HV = model.hvp(x, V)
    for v, hv in zip(V, HV):
        fdh = (model.grad(x + h * v) - model.grad(x - h * v)) / (2 * h)
        np.testing.assert_allclose(hv, fdh, rtol=0, atol=1e-6 * np.abs(fdh).max())
        np.testing.assert_array_equal(hv, model.hvp(x, v))
    # exact products are symmetric to round-off: u.Hv = v.Hu
    assert V[0] @ HV[1] == pytest.approx(V[1] @ HV[0], rel=1e-11, abs=1e-13)
    # the full gradient is the mean of the per-sample gradients and of a full "minibatch"
    np.testing.assert_allclose(model.grad_samples(x).mean(0), g, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.grad_batch(x, np.arange(model.n_samples)), g, rtol=1e-12, atol=1e-14)
    assert model.loss_batch(x, np.arange(model.n_samples)) == pytest.approx(float(model.value(x)), rel=1e-13)


def test_grad_batch_broadcasts_and_threaded_kernel_is_bit_identical(monkeypatch):
    model = _mlp("tanh", (6, 4))
    rng = np.random.default_rng(1)
    X = model.init(rng, 5)                                    # (5, d)
    idx = model.sample_batch(rng, 19, size=5)                 # (5, 19): one batch per chain
    G = model.grad_batch(X, idx)
    assert G.shape == (5, model.dim)
    for c in range(5):
        np.testing.assert_allclose(G[c], model.grad_samples(X[c], idx[c]).mean(0), rtol=1e-12, atol=1e-14)
    # a shared batch broadcasts over the chains; (2, 5, d) points with (5, b) batches
    np.testing.assert_array_equal(model.grad_batch(X, idx[0])[3], model.grad_batch(X[3], idx[0]))
    X2 = np.stack([X, X + 0.1])
    assert model.grad_batch(X2, idx).shape == (2, 5, model.dim)
    np.testing.assert_array_equal(model.grad_batch(X2, idx)[1], model.grad_batch(X + 0.1, idx))
    # serial and threaded kernels, and any chain grouping, give the same bits
    monkeypatch.setattr(B, "PARALLEL_WORK", 1)
    Gp = model.grad_batch(X, idx)
    monkeypatch.setattr(B, "PARALLEL_WORK", 1 << 60)
    monkeypatch.setattr(B, "PART_BYTES", 1)
    Gs = model.grad_batch(X, idx)
    np.testing.assert_array_equal(G, Gp)
    np.testing.assert_array_equal(G, Gs)
    assert model.value(X).shape == (5,) and model.grad(X).shape == (5, model.dim)


def test_sphere_perceptron_is_scale_invariant():
    ds = M.teacher_student("perceptron", n_inputs=12, n_samples=30, seed=1)
    model = M.Perceptron(ds, constraint="sphere", kappa=0.3)
    x = model.init(0)
    assert float(model.value(3.7 * x)) == pytest.approx(float(model.value(x)), rel=1e-13)
    assert model.grad(x) @ x == pytest.approx(0.0, abs=1e-12 * np.linalg.norm(x))   # tangent to the sphere


def test_dense_hessian_lanczos_and_trace():
    model = _mlp("tanh", (5,))
    x = model.init(4)
    H = model.hessian(x)
    lam = M.hessian_spectrum(model, x)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(H), rtol=0, atol=1e-12)
    top = M.hessian_eigs(model, x, k=4, which="LA", tol=1e-10)
    np.testing.assert_allclose(top, lam[-4:], rtol=1e-8, atol=1e-10)
    tr, se = M.hessian_trace(model, x)
    assert se == 0.0 and tr == pytest.approx(lam.sum(), rel=1e-10)
    est, se = M.hessian_trace(model, x, n_probes=400, seed=1)
    assert abs(est - tr) < 4 * se                            # Hutchinson within 4 standard errors
    with pytest.raises(MemoryError, match="max_bytes"):
        model.hessian(x, max_bytes=10.0)
    with pytest.raises(ValueError, match="`k`"):
        M.hessian_eigs(model, x, k=model.dim)
