"""Mesh-free prox: every method against closed forms or brute force, plus the error paths."""
import warnings

import numpy as np
import pytest
from scipy import optimize

from deeprelax import losses
from deeprelax.prox import ProxResult, prox
from solvers import reference as R
from solvers.errors import SchemeError

A2 = np.array([[2.0, 0.5], [0.5, 1.0]])


def brute_prox_1d(f, df, x, t, half=3.0, n=200001):
    """Global minimiser of phi = f(y) + (x - y)^2/(2t): dense scan, then a root of phi' bracketed around it."""
    ys = np.linspace(x - half, x + half, n)
    phi = f(ys) + (x - ys) ** 2 / (2 * t)
    j = int(np.argmin(phi))
    dphi = lambda y: df(y) + (y - x) / t  # noqa: E731
    lo, hi = ys[j - 1], ys[j + 1]
    if dphi(lo) * dphi(hi) > 0:
        return ys[j]
    return optimize.brentq(dphi, lo, hi, xtol=1e-15, rtol=1e-15)


@pytest.mark.parametrize("method,t", [("fixed-point", 0.3), ("newton", 0.3), ("gd", 0.3), ("auto", 0.3),
                                      ("newton", 5.0), ("gd", 5.0), ("exact", 5.0)])
def test_quadratic_prox(method, t, rng):
    q = losses.get("quadratic", A=A2)
    X = rng.normal(size=(4, 5, 2)) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = prox(q, X, t, method=method)
    exact = np.linalg.solve(np.eye(2) + t * A2, X[..., None])[..., 0]
    assert isinstance(r, ProxResult)
    assert r.prox.shape == X.shape and r.value.shape == (4, 5) and r.converged.shape == (4, 5)
    assert r.converged.all() and r.t == t
    np.testing.assert_allclose(r.prox, exact, atol=1e-11)
    np.testing.assert_allclose(r.value, q.exact_u(X, t), atol=1e-11)
    np.testing.assert_allclose(r.grad, q.exact_grad(X, t), atol=1e-10)
    assert r.method == ("exact" if method == "auto" else method)   # auto prefers the closed form


def test_auto_method_choice():
    q = losses.get("quadratic", A=A2)
    assert prox(q, [1.0, 2.0], 0.1).method == "exact"
    dw = losses.get("double-well")
    assert prox(dw, [0.3], 0.5).method == "newton"
    ras = losses.get("rastrigin", dim=1)
    assert prox(ras, [0.3], 1e-3).method == "fixed-point"      # t * Lip = 0.4 < 1
    assert prox(ras, [0.3], 0.1).method == "newton"


def test_abs_prox_is_soft_threshold(rng):
    L = losses.get("abs", dim=3)
    X = rng.normal(size=(50, 3))
    r = prox(L, X, 0.6)
    np.testing.assert_allclose(r.prox, np.sign(X) * np.maximum(np.abs(X) - 0.6, 0), atol=0)
    np.testing.assert_allclose(r.value, R.huber_u(X, 0.6), atol=1e-15)
    # the gradient iteration on the smooth part reaches it too where |x| > t (no kink at the prox)
    Xo = X[np.all(np.abs(X) > 0.7, -1)]
    r2 = prox(L, Xo, 0.6, method="gd")
    np.testing.assert_allclose(r2.prox, R.soft_threshold(Xo, 0.6), atol=1e-12)


@pytest.mark.parametrize("method", ["newton", "gd", "auto"])
def test_hard_softmin_prox_each_branch(method, rng):
    a, m, c = np.array([1.0, 4.0, 2.0]), np.array([[-2.0, 0.0], [1.5, 0.5], [0.0, 2.5]]), np.array([0.0, -0.2, 0.1])
    L = losses.get("softmin-quadratics", a=a, m=m, c=c)
    t = 0.5
    for i in range(3):
        X = m[i] + 0.3 * rng.normal(size=(20, 2))     # deep in branch i: the local minimiser is the global one
        assert np.all(np.argmin(R._softmin_q(X, a, m, c)[0], -1) == i)
        r = prox(L, X, t, method=method)
        assert r.converged.all()
        np.testing.assert_allclose(r.prox, (X + t * a[i] * m[i]) / (1 + t * a[i]), atol=1e-11)
        np.testing.assert_allclose(r.prox, R.softmin_hopf_lax_prox(X, t, a, m, c), atol=1e-11)
        np.testing.assert_allclose(r.value, R.softmin_hopf_lax_u(X, t, a, m, c), atol=1e-12)


@pytest.mark.parametrize("method", ["newton", "gd", "auto"])
@pytest.mark.parametrize("t", [0.2, 0.8])
def test_double_well_small_t_vs_brute_force(method, t):
    """f'' >= -1, so phi is strongly convex for t < 1 and the prox is unique."""
    L = losses.get("double-well")
    xs = np.linspace(-2, 2, 17)
    r = prox(L, xs[:, None], t, method=method, max_iter=2000)
    assert r.converged.all()
    f = lambda y: (y ** 2 - 1) ** 2 / 4  # noqa: E731
    df = lambda y: y * (y ** 2 - 1)  # noqa: E731
    brute = np.array([brute_prox_1d(f, df, x, t) for x in xs])
    np.testing.assert_allclose(r.prox[:, 0], brute, rtol=0, atol=1e-12)
    # at convergence grad u = (x - prox)/t equals grad f(prox)
    np.testing.assert_allclose(r.grad, L.grad(r.prox), atol=1e-10)


@pytest.mark.parametrize("name,params,t", [
    ("softmin-quadratics", {"a": [1.0, 4.0], "m": [[-1.0, 0.0], [1.5, 0.5]], "c": [0.0, -0.2], "softness": 3.0}, 0.2),
    ("gaussian-mixture", {}, 0.001),
    ("rastrigin", {"dim": 2}, 0.002),
    ("dr-fig1", {}, 5e-4),
    ("cosine", {"dim": 2}, 0.05),
])
def test_grad_equals_grad_f_at_prox(name, params, t, rng):
    L = losses.get(name, **params)
    lo = np.array([b[0] for b in L.bounds])
    hi = np.array([b[1] for b in L.bounds])
    X = rng.uniform(lo, hi, size=(30, L.dim))
    for method in ("newton", "gd"):
        r = prox(L, X, t, method=method, max_iter=3000)
        assert r.converged.all()
        np.testing.assert_allclose(r.grad, L.grad(r.prox), atol=1e-9 * (1 + np.abs(r.grad).max()))
        phi_x = L.value(X)
        assert np.all(r.value <= phi_x + 1e-12)                     # u <= f
    if name == "cosine":
        np.testing.assert_allclose(r.prox, R.cosine_hopf_lax_prox(X, t), atol=1e-11)


def test_scalar_point_shapes():
    L = losses.get("double-well", dim=2)
    r = prox(L, [0.5, 1.0], 0.3)
    assert r.prox.shape == (2,) and r.grad.shape == (2,) and r.value.shape == () and r.converged.shape == ()
    assert bool(r.converged) and int(r.n_iter) >= 1


def test_errors(rng):
    q = losses.get("quadratic", A=A2)
    with pytest.raises(ValueError, match="`t` must be positive"):
        prox(q, [1.0, 0.0], 0.0)
    with pytest.raises(ValueError, match="`t` must be positive"):
        prox(q, [1.0, 0.0], -1.0)
    with pytest.raises(ValueError, match=r"t = 1.*Lip = 2\.2.*t \* Lip = 2\.2"):
        prox(q, [1.0, 0.0], 1.0, method="fixed-point")
    with pytest.raises(ValueError, match="fixed-point"):
        prox(losses.get("double-well"), [1.0], 0.1, method="fixed-point")   # Lip = inf
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\).*\(3, 3\)"):
        prox(q, np.zeros((3, 3)), 0.5)
    with pytest.raises(ValueError, match="finite"):
        prox(q, [np.inf, 0.0], 0.5)
    with pytest.raises(SchemeError, match="unknown prox method 'bfgs'"):
        prox(q, [1.0, 0.0], 0.5, method="bfgs")
    with pytest.raises(ValueError, match="Hessian"):
        prox(losses.get("abs"), [1.0], 0.5, method="newton")
    with pytest.raises(ValueError, match="max_iter"):
        prox(q, [1.0, 0.0], 0.5, max_iter=0)


def test_non_convergence_warns():
    L = losses.get("double-well")
    with pytest.warns(RuntimeWarning, match=r"3 of 3 points did not converge within max_iter=1"):
        r = prox(L, [[0.3], [1.7], [-1.2]], 0.5, method="gd", max_iter=1)
    assert not r.converged.any()


def test_fixed_point_unknown_lipschitz_divergence_warns():
    L = losses.get("softmin-quadratics", a=[1.0, 4.0], m=[[-1.0], [1.0]], c=[0.0, 0.0], softness=2.0)
    assert L.lipschitz_grad is None
    with pytest.warns(RuntimeWarning, match="diverged"):
        r = prox(L, [[0.9], [1.1], [-1.3]], 2.0, method="fixed-point")   # t * a = 8: the iteration blows up
    assert not r.converged.any()
    # the same call with a small t converges
    r = prox(L, [[0.9], [1.1], [-1.3]], 0.05, method="fixed-point")
    assert r.converged.all()
    np.testing.assert_allclose(r.grad, L.grad(r.prox), atol=1e-10)


def test_result_roundtrip(tmp_path):
    from deeprelax import io

    r = prox(losses.get("quadratic", A=A2), np.ones((3, 2)), 0.4)
    path = io.save(r, tmp_path / "p.h5")
    back = io.load(path)
    assert isinstance(back, ProxResult) and back.method == r.method
    np.testing.assert_array_equal(back.prox, r.prox)
    np.testing.assert_array_equal(back.converged, r.converged)
