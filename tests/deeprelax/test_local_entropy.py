"""local_entropy / local_entropy_grad against the closed forms (soft-min with softness beta, quadratic, Hopf-Lax),
the SGLD estimator within its error bar, the ESGD converters and the -F identity by quadrature."""
import importlib
import math

import numpy as np
import pytest
from scipy import integrate

from deeprelax import losses
from deeprelax._rng import normals_block

le = importlib.import_module("deeprelax.local_entropy")  # the module; dr.local_entropy is the function

T = 0.5


def softmin(beta, d=1):
    m = ((-1.0,), (1.5,)) if d == 1 else ((-1.0, 0.0), (1.5, 0.5))
    return losses.get("softmin-quadratics", a=(1.0, 10.0), m=m, c=(0.0, -0.1), beta=beta)


@pytest.mark.parametrize("beta", [1.0, 10.0, 100.0])
def test_exact_1d_softmin(beta):
    L = softmin(beta)
    x = np.linspace(-2.5, 3.0, 23)[:, None]
    np.testing.assert_allclose(le.local_entropy(L, x, T, beta), L.exact_u(x, T, beta), atol=1e-4)
    # at beta = 100 Cole-Hopf picks "linear-exact" (kernel narrower than 2 cells); its mean is O(h) near the
    # switching point, where grad u changes by O(1) over a width 1/beta
    np.testing.assert_allclose(le.local_entropy_grad(L, x, T, beta), L.exact_grad(x, T, beta),
                               atol=2e-4 if beta < 100 else 3e-3)


def test_exact_2d_quadratic_and_pde():
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    L = losses.get("quadratic", A=A)
    x = np.random.default_rng(0).uniform(-1.5, 1.5, (12, 2))
    for beta in (1.0, 10.0):
        np.testing.assert_allclose(le.local_entropy(L, x, T, beta), L.exact_u(x, T, beta), atol=1e-4)
        np.testing.assert_allclose(le.local_entropy_grad(L, x, T, beta), L.exact_grad(x, T, beta), atol=1e-4)
        np.testing.assert_allclose(le.local_entropy(L, x, T, beta, method="pde"), L.exact_u(x, T, beta), atol=2e-3)
        np.testing.assert_allclose(le.local_entropy_grad(L, x, T, beta, method="pde"), L.exact_grad(x, T, beta),
                                   atol=5e-3)


def test_pde_1d_softmin():
    L = softmin(10.0)
    x = np.linspace(-2.5, 3.0, 23)[:, None]
    np.testing.assert_allclose(le.local_entropy(L, x, T, 10.0, method="pde"), L.exact_u(x, T, 10.0), atol=1e-3)
    np.testing.assert_allclose(le.local_entropy_grad(L, x, T, 10.0, method="pde"), L.exact_grad(x, T, 10.0),
                               atol=5e-3)


def test_prox_hard_min():
    H = softmin(np.inf)
    x = np.linspace(-2.5, 3.0, 23)[:, None]
    u = le.local_entropy(H, x, T, np.inf, method="prox")
    np.testing.assert_allclose(u, H.exact_u(x, T), atol=1e-4)
    # away from the switching point the grid gradient matches the closed form
    e = H.exact_grad(x, T)
    g = le.local_entropy_grad(H, x, T, np.inf, method="prox")
    far = np.abs(x[:, 0] - 0.6) > 0.2
    np.testing.assert_allclose(g[far], e[far], atol=1e-3)
    # meshfree on a single (convex) well
    Q = losses.get("quadratic", A=np.diag([1.0, 3.0]))
    xq = np.random.default_rng(1).normal(size=(7, 2))
    np.testing.assert_allclose(le.local_entropy_grad(Q, xq, T, np.inf, method="prox", solver="meshfree"),
                               Q.exact_grad(xq, T), atol=1e-8)
    with pytest.raises(ValueError, match="beta = inf"):
        le.local_entropy(H, x, T, 1.0, method="prox")


def sgld_blocks_numpy(loss, X, y0, n_chains, t, h, sig, burn, n_blocks, blk, master):
    """Plain-numpy twin of the SGLD kernel (same random numbers); returns ``blocks (P, C, n_blocks, d)``."""
    P, d = X.shape
    jobs = y0.shape[0]
    Y = y0.copy()
    Xj = np.repeat(X, n_chains, axis=0)
    Z = normals_block(np.uint64(master), np.arange(jobs, dtype=np.int64),
                        np.arange(burn + n_blocks * blk, dtype=np.int64), d)
    out = np.zeros((P, n_chains, n_blocks, d))
    acc = np.zeros((jobs, d))
    for step in range(burn + n_blocks * blk):
        Y = Y - h * (loss.grad(Y) + (Y - Xj) / t) + sig * Z[step]
        if step >= burn:
            acc += Y
            s = step - burn + 1
            if s % blk == 0:
                out[:, :, s // blk - 1, :] = (acc / blk).reshape(P, n_chains, d)
                acc[:] = 0.0
    return out


@pytest.mark.filterwarnings("ignore:local_entropy sgld .plain.:RuntimeWarning")
def test_sgld_within_error_bars_and_numpy_twin():
    beta = 10.0
    L = softmin(beta)
    x = np.linspace(-2.5, 3.0, 12)[:, None]
    r = le.local_entropy_grad(L, x, T, beta, method="sgld", sampler="plain", n_samples=20000, inner_lr=2e-3,
                              rng=3)
    assert isinstance(r, le.LocalEntropyResult) and r.n_samples == 4 * 20000
    ok = r.rhat < 1.1
    assert ok.sum() >= 9
    z = (r.grad - L.exact_grad(x, T, beta))[ok] / r.stderr[ok]
    assert np.max(np.abs(z)) < 4.0
    assert np.all(r.tau > 1) and np.all(r.stderr > 0)
    # the kernel against its numpy twin (same random numbers)
    X = np.array([[0.3], [-1.2]])
    y0 = np.repeat(X, 2, axis=0)
    twin = sgld_blocks_numpy(L, X, y0, 2, T, 1e-3, math.sqrt(2e-3 / beta), 7, 10, 3, 99)
    outs = []
    for bw in (1, 3, 4):                             # job groups of any width: the same numbers
        blocks = np.zeros((2, 2, 10, 1))
        st = np.full(4, -1, np.int64)
        le._sgld_ser(L.nb_kind, L.nb_params, X, y0, 2, T, 1e-3, math.sqrt(2e-3 / beta), 7, 10, 3, np.uint64(99),
                     blocks, st, bw)
        np.testing.assert_allclose(blocks, twin, rtol=1e-12, atol=1e-14)
        assert np.all(st == -1)
        outs.append(blocks)
    assert all(np.array_equal(o, outs[0]) for o in outs[1:])
    # reproducible
    r2 = le.local_entropy_grad(L, x[:3], T, beta, method="sgld", sampler="plain", n_samples=2000, rng=5)
    r3 = le.local_entropy_grad(L, x[:3], T, beta, method="sgld", sampler="plain", n_samples=2000, rng=5)
    np.testing.assert_array_equal(r2.grad, r3.grad)


def test_converters_and_free_energy_identity():
    assert le.scope_to_time(4.0) == 0.25 and le.time_to_scope(0.25) == 4.0
    np.testing.assert_allclose(le.scope_to_time(le.time_to_scope([0.1, 2.0])), [0.1, 2.0])
    with pytest.raises(ValueError, match="gamma_e"):
        le.scope_to_time(0.0)
    L = softmin(1.0)
    gam = 2.0
    x = np.array([[-0.7], [0.4], [2.0]])
    mF = le.esgd_free_energy(L, x, gam)
    for xi, v in zip(x[:, 0], mF):
        F = integrate.quad(lambda y: math.exp(-L.value(np.array([y])) - gam / 2 * (xi - y) ** 2), -12, 12,
                           points=[-1.0, 1.5], limit=200)[0]
        assert v == pytest.approx(-math.log(F), abs=1e-6)


def test_bad_inputs():
    L = softmin(1.0)
    with pytest.raises(ValueError, match="method"):
        le.local_entropy(L, [[0.0]], T, 1.0, method="mc")
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 1\)"):
        le.local_entropy(L, [[0.0, 1.0]], T, 1.0)
    with pytest.raises(ValueError, match="`t` must be positive"):
        le.local_entropy(L, [[0.0]], -1.0, 1.0)
    with pytest.raises(ValueError, match="grad u only"):
        le.local_entropy(L, [[0.0]], T, 1.0, method="sgld", sampler="plain")
    with pytest.raises(ValueError, match="finite"):
        le.local_entropy_grad(L, [[0.0]], T, np.inf, method="sgld")


def test_quadrature_is_the_method_name_and_exact_still_works():
    """local_entropy's grid method is a quadrature (issue 20 item 6): the old name 'exact' warns, same numbers."""
    import warnings

    import deeprelax as dr

    dw = losses.get("double-well")
    x = np.array([[-0.5], [0.7]])
    new = le.estimate(dw, x, 0.3, 2.0)
    assert new.method == "quadrature"
    with pytest.warns(FutureWarning, match="'quadrature'"):
        old = dr.local_entropy_grad(dw, x, 0.3, 2.0, method="exact")
    np.testing.assert_array_equal(old, new.grad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dr.local_entropy(dw, x, 0.3, 2.0, method="quadrature")
    # its documented error: a soft-min whose softness equals beta has a closed form
    s = losses.get("softmin-quadratics", a=[1.0, 4.0], m=[[-1.0], [1.0]], c=[0.0, 0.1], softness=2.0)
    xs = np.linspace(-1.5, 1.5, 9)[:, None]
    assert np.abs(dr.local_entropy(s, xs, 0.1, 2.0) - s.exact_u(xs, 0.1, 2.0)).max() < 2e-6
