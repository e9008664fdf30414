"""Tests of solvers.fokker_planck: exact answers, convergence orders, structure preservation, errors."""
import math

import numpy as np
import pytest
from scipy.linalg import expm, solve_continuous_lyapunov

from solvers import _fp_kernels as K
from solvers.errors import NonFiniteError, SchemeError, StabilityError
from solvers.fokker_planck import (FPResult, explicit_dt_limit, fokker_planck_operator,
                                   fokker_planck_steady_state, gibbs, probability_current,
                                   solve_fokker_planck)
from solvers.grid import Grid


# ============================================================================ numpy twins
def bernoulli_np(z):
    """B(z) = z / (e^z - 1) in extended precision (numpy longdouble), B(0) = 1."""
    zl = np.asarray(z, dtype=np.longdouble)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = zl / np.expm1(zl)
    out = np.where(zl == 0, 1.0, out)
    out = np.where(np.isnan(out) | np.isinf(out), np.where(zl > 0, 0.0, -zl), out)
    return out.astype(np.float64)


def apply_axis_np(rho, ap, am, axis):
    """A_axis rho from the face fluxes J/h = ap rho_i - am rho_{i+1} (np.roll, wrap faces as stored)."""
    flux = ap * rho - am * np.roll(rho, -1, axis)
    return -(flux - np.roll(flux, 1, axis))


def axis_step_np(rho, ap, am, axis, ci, ce):
    """Dense solve of (I - ci A) x = (I + ce A) rho, line by line."""
    rhs = rho + ce * apply_axis_np(rho, ap, am, axis)
    R, P, M = (np.moveaxis(a, axis, -1) for a in (rhs, ap, am))
    n = R.shape[-1]
    X = np.empty_like(R)
    for idx in np.ndindex(R.shape[:-1]):
        A = np.zeros((n, n))
        for i in range(n):
            A[i, (i - 1) % n] += P[idx][(i - 1) % n]
            A[i, i] -= P[idx][i] + M[idx][(i - 1) % n]
            A[i, (i + 1) % n] += M[idx][i]
        X[idx] = np.linalg.solve(np.eye(n) - ci * A, R[idx])
    return np.moveaxis(X, -1, axis)


def random_weights(rng, shape, axis, periodic):
    ap, am = rng.random(shape), rng.random(shape)
    if not periodic:
        sl = [slice(None)] * len(shape)
        sl[axis] = -1
        ap[tuple(sl)] = 0.0
        am[tuple(sl)] = 0.0
    return ap, am


def gaussian(X, m, S):
    """N(m, S) density at points X (..., d)."""
    d = len(m)
    Si = np.linalg.inv(S)
    y = X - m
    q = np.einsum("...i,ij,...j->...", y, Si, y)
    return np.exp(-0.5 * q) / math.sqrt((2 * math.pi) ** d * np.linalg.det(S))


def observed_order(hs, errs):
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])


# ============================================================================ kernels
def test_bernoulli_matches_extended_precision_and_never_overflows():
    z = np.concatenate([np.linspace(-50, 50, 2001), [0.0, 1e-12, -1e-12, 1e-6, -1e-6, 9e-5, -9e-5, 1.1e-4],
                        [699.0, 700.5, 709.0, 720.0, 800.0, 1e4, -700.0, -800.0, -1e4]])
    b = K.bernoulli_array(z)
    ref = bernoulli_np(z)
    assert np.all(np.isfinite(b)) and np.all(b >= 0)
    big = ref > 1e-300
    np.testing.assert_allclose(b[big], ref[big], rtol=1e-14)
    # identity B(-z) = B(z) + z and the Gibbs ratio B(-z) / B(z) = e^z
    zz = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(K.bernoulli_array(-zz), K.bernoulli_array(zz) + zz, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(K.bernoulli_array(-zz) / K.bernoulli_array(zz), np.exp(zz), rtol=1e-13)
    assert np.all(np.diff(K.bernoulli_array(np.linspace(-40, 40, 801))) < 0)   # strictly decreasing


def test_sg_weights_kernel_vs_numpy():
    z = np.random.default_rng(1).normal(scale=20, size=(40, 30))
    ap, am = K.sg_weights(z, 0.7)
    np.testing.assert_allclose(ap, 0.7 * bernoulli_np(z), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(am, 0.7 * bernoulli_np(-z), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("shape,axis", [((9,), 0), ((6, 7), 0), ((6, 7), 1), ((4, 40, 3), 1),
                                        ((5, 4, 37), 0), ((3, 4, 5), 2)])
def test_line_kernels_vs_numpy(shape, axis, periodic, rng):
    rho = rng.random(shape)
    ap, am = random_weights(rng, shape, axis, periodic)
    out = np.zeros(shape)
    K.apply_axis(rho, ap, am, axis, 0.3, out)
    np.testing.assert_allclose(out, 0.3 * apply_axis_np(rho, ap, am, axis), rtol=1e-13, atol=1e-15)
    for ci, ce in [(0.7, 0.0), (0.4, 0.4), (50.0, 0.0)]:
        x = np.empty(shape)
        K.axis_step(rho, ap, am, axis, ci, ce, x, periodic)
        np.testing.assert_allclose(x, axis_step_np(rho, ap, am, axis, ci, ce), rtol=1e-12, atol=1e-14)
        if ce == 0.0:
            assert abs(x.sum() - rho.sum()) <= 1e-13 * rho.sum()
            if not periodic:
                assert x.min() >= 0.0


def test_operator_matches_kernels_and_flux_formula(rng):
    """Sparse generator (numpy assembly) == sum of Numba axis operators == direct SG flux twin."""
    g = Grid.uniform([(-2, 2), (-1, 1.5)], (23, 17), periodic=(False, True))
    X = g.mesh()
    f = np.sin(X[..., 0]) + 0.3 * X[..., 0] ** 2 + np.cos(2 * np.pi * X[..., 1] / 2.5)
    beta, Dd = 3.0, (0.7, 1.3)
    rho = rng.random(g.shape)
    A = fokker_planck_operator(g, potential=f, beta=beta, D=Dd)
    Arho = (A @ rho.ravel()).reshape(g.shape)
    tw = np.zeros(g.shape)
    for k in range(2):
        h = g.spacing[k]
        z = beta * (np.roll(f, -1, k) - f)
        J = Dd[k] / (beta * h) * (bernoulli_np(z) * rho - bernoulli_np(-z) * np.roll(rho, -1, k))
        if not g.periodic[k]:
            sl = [slice(None)] * 2
            sl[k] = -1
            J[tuple(sl)] = 0.0
        tw -= (J - np.roll(J, 1, k)) / h
    np.testing.assert_allclose(Arho, tw, rtol=1e-11, atol=1e-11 * np.abs(tw).max())
    cols = np.asarray(A.sum(axis=0)).ravel()
    assert np.abs(cols).max() <= 1e-12 * abs(A).max()


# ============================================================================ OU convergence
def _ou_1d(n, beta=2.0, k=1.5, T=0.6):
    g = Grid.uniform([(-6, 6)], n)
    x = g.axes[0]
    m0, s0 = 1.5, 0.09
    rho0 = gaussian(x[:, None], np.array([m0]), np.array([[s0]]))
    r = solve_fokker_planck(rho0, g, T, potential=0.5 * k * x ** 2, beta=beta, method="crank_nicolson",
                            dt=0.25 * g.spacing[0])
    m = m0 * math.exp(-k * T)
    s = s0 * math.exp(-2 * k * T) + (1 - math.exp(-2 * k * T)) / (beta * k)   # numerics.md C.3
    exact = gaussian(x[:, None], np.array([m]), np.array([[s]]))
    return g.spacing[0], np.abs(r.rho - exact).max(), r


def test_ou_1d_second_order():
    hs, errs = [], []
    for n in (61, 121, 241, 481, 961):
        h, e, r = _ou_1d(n)
        hs.append(h)
        errs.append(e)
        assert abs(r.mass[-1] - r.mass[0]) < 1e-12
    p = observed_order(hs, errs)
    assert abs(p - 2.0) < 0.25, (p, errs)
    assert errs[-1] < 1e-4


def _lyapunov_gaussian(F, D, beta, m0, S0, t):
    """Mean/covariance of dx = -F x dt + sqrt(2 D / beta) dW: Sigma(t) = e^{-Ft}(S0 - Sinf)e^{-F^T t} + Sinf."""
    Sinf = solve_continuous_lyapunov(F, 2.0 * D / beta)      # F S + S F^T = 2 D / beta
    E = expm(-F * t)
    return E @ m0, E @ (S0 - Sinf) @ E.T + Sinf


@pytest.mark.parametrize("Dmat,mixed", [(np.diag([1.0, 0.45]), "oriented"),
                                        (np.array([[1.0, 0.35], [0.35, 0.6]]), "oriented"),
                                        (np.array([[1.0, -0.35], [-0.35, 0.6]]), "central")])
def test_ou_2d_anisotropic_second_order(Dmat, mixed):
    """Gradient OU, f = x^T Kx/2, drift -D K x, anisotropic D: split CN (diagonal D) or factorised CN (full D)."""
    Km = np.array([[1.2, 0.3], [0.3, 0.8]])
    beta, T = 1.5, 0.5
    m0, S0 = np.array([0.8, -0.6]), np.array([[0.15, 0.03], [0.03, 0.1]])
    m, S = _lyapunov_gaussian(Dmat @ Km, Dmat, beta, m0, S0, T)
    hs, errs = [], []
    for n in (41, 81, 161, 321):
        g = Grid.uniform([(-4.5, 4.5), (-4.5, 4.5)], n)
        X = g.mesh()
        f = 0.5 * np.einsum("...i,ij,...j->...", X, Km, X)
        r = solve_fokker_planck(gaussian(X, m0, S0), g, T, potential=f, beta=beta, D=Dmat,
                                method="crank_nicolson", dt=0.5 * g.spacing[0], mixed=mixed)
        exact = gaussian(X, m, S)
        hs.append(g.spacing[0])
        errs.append(np.abs(r.rho - exact).max() / exact.max())
        assert np.all(np.abs(r.mass - r.mass[0]) < 1e-12)
    p = observed_order(hs, errs)
    assert abs(p - 2.0) < 0.25, (p, errs)
    assert errs[-1] < 2e-3


def test_implicit_first_order_in_time_and_split_close_to_direct():
    """Backward Euler (Lie-split and factorised) converges at order 1 in dt to the CN reference."""
    g = Grid.uniform([(-4, 4), (-4, 4)], 61)
    X = g.mesh()
    f = 0.5 * (X[..., 0] ** 2 + 2 * X[..., 1] ** 2)
    rho0 = gaussian(X, np.array([1.0, 0.5]), 0.2 * np.eye(2))
    ref = solve_fokker_planck(rho0, g, 0.4, potential=f, method="crank_nicolson", dt=1e-3, rannacher=0).rho
    for solver in ("split", "direct"):
        errs = [np.abs(solve_fokker_planck(rho0, g, 0.4, potential=f, dt=dt, linear_solver=solver).rho - ref).max()
                for dt in (0.04, 0.02, 0.01, 0.005)]
        p = observed_order([0.04, 0.02, 0.01, 0.005], errs)
        assert abs(p - 1.0) < 0.2, (solver, p, errs)


def test_explicit_matches_implicit_at_small_dt():
    g = Grid.uniform([(-3, 3)], 81)
    x = g.axes[0]
    f = (x ** 2 - 1) ** 2 / 4
    rho0 = np.exp(-(x - 0.5) ** 2 / 0.1)
    lim = explicit_dt_limit(g, potential=f, beta=4.0)
    diffs = []
    for frac in (0.5, 0.125):
        kw = dict(potential=f, beta=4.0, dt=frac * lim)
        re = solve_fokker_planck(rho0, g, 0.3, method="explicit", **kw)
        ri = solve_fokker_planck(rho0, g, 0.3, method="implicit", **kw)
        rc = solve_fokker_planck(rho0, g, 0.3, method="crank_nicolson", **kw)
        assert re.min_rho.min() >= 0 and re.params["explicit_dt_limit"] == pytest.approx(lim)
        diffs.append([np.abs(re.rho - ri.rho).max(), np.abs(re.rho - rc.rho).max(), np.abs(ri.rho - rc.rho).max()])
    diffs = np.array(diffs) / np.abs(rc.rho).max()
    assert np.all(diffs[0] < 3e-3)
    assert np.all(diffs[1] < diffs[0] / 3)      # O(dt): quartering dt cuts the gaps about 4x


# ============================================================================ Gibbs exactness
def _potentials(d):
    rng = np.random.default_rng(7)
    a, ph = rng.normal(size=(3, d)), rng.uniform(0, 2 * np.pi, size=3)

    def random_smooth(x):
        s = 0.5 * (x ** 2).sum(-1)
        for j in range(3):
            s = s + 0.3 * np.sin(x @ a[j] + ph[j])
        return s + 0.2 * x[..., 0]

    dw = lambda x: (x[..., 0] ** 2 - 1) ** 2 / 4 + 0.5 * (x[..., 1:] ** 2).sum(-1)   # noqa: E731
    quad = lambda x: 0.5 * (x ** 2).sum(-1) + 0.2 * x[..., 0] * x[..., -1]          # noqa: E731
    return {"double_well": dw, "quadratic": quad, "random_smooth": random_smooth}


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("beta", [1.0, 10.0, 1e3])
def test_gibbs_exact_steady_state_1d(beta):
    g = Grid.uniform([(-3, 3)], 241)
    for name, fn in _potentials(1).items():
        f = g.sample(fn)
        G = gibbs(f, g, beta)
        assert abs(G.sum() * g.cell_volume - 1) < 1e-14
        A = fokker_planck_operator(g, potential=f, beta=beta)
        assert np.abs(A @ G.ravel()).max() <= 1e-15 * abs(A).max() * G.max()
        assert _rel(fokker_planck_steady_state(g, potential=f, beta=beta), G) < 1e-12, name
        # a long implicit run started far from equilibrium (uniform) lands on Gibbs
        if name != "double_well" or beta < 100:   # metastable at beta=1e3: exp(-250) hopping rate
            r = solve_fokker_planck(np.ones(g.shape), g, 2e3, potential=f, beta=beta, dt=20.0, normalize=True)
            assert _rel(r.rho, G) < 1e-12, name


@pytest.mark.parametrize("beta", [1.0, 10.0, 1e3])
def test_gibbs_exact_steady_state_2d(beta):
    g = Grid.uniform([(-2.5, 2.5), (-2, 2)], (51, 41))
    for name, fn in _potentials(2).items():
        f = g.sample(fn)
        G = gibbs(fn, g, beta)
        A = fokker_planck_operator(g, potential=f, beta=beta, D=(1.0, 0.5))
        assert np.abs(A @ G.ravel()).max() <= 1e-15 * abs(A).max() * G.max()
        if name == "double_well" and beta > 100:
            continue   # 2-D metastable: pinned sparse solve is ill-conditioned (documented limit)
        assert _rel(fokker_planck_steady_state(g, potential=f, beta=beta, D=(1.0, 0.5)), G) < 1e-12, name
        if beta < 100 or name == "quadratic":
            r = solve_fokker_planck(np.ones(g.shape), g, 1e3, potential=f, beta=beta, dt=10.0, normalize=True)
            assert _rel(r.rho, G) < 1e-12, name


@pytest.mark.parametrize("method", ["implicit", "crank_nicolson", "explicit"])
@pytest.mark.parametrize("beta", [1.0, 1e3])
def test_gibbs_is_preserved_by_every_stepper(method, beta):
    """Each split / directional SG step annihilates Gibbs: starting there we stay there (2-D, 3-D, periodic)."""
    for g, fn in [(Grid.uniform([(-2, 2), (-2, 2)], 41), _potentials(2)["double_well"]),
                  (Grid.uniform([(-2, 2)] * 3, (13, 11, 9)), _potentials(3)["random_smooth"]),
                  (Grid.uniform([(0, 2 * np.pi), (-2, 2)], (32, 25), periodic=(True, False)),
                   lambda x: np.cos(x[..., 0]) + 0.5 * x[..., 1] ** 2)]:
        G = gibbs(fn, g, beta)
        dt = None if method == "explicit" else 0.05
        r = solve_fokker_planck(G, g, 0.5 if method != "explicit" else 2e-3, potential=fn, beta=beta,
                                method=method, dt=dt, D=(1.0, 0.7, 1.3)[:g.dim])
        assert _rel(r.rho, G) < 1e-12, (g, method)


# ============================================================================ mass, positivity, monotonicity
@pytest.mark.parametrize("method", ["implicit", "explicit"])
@pytest.mark.parametrize("periodic", [False, True])
def test_mass_and_positivity_at_large_peclet(method, periodic):
    """beta h |grad f| up to ~50: mass to 1e-12 and rho >= 0 at every saved time."""
    lo, hi = (0.0, 2 * np.pi) if periodic else (-2.0, 2.0)
    g = Grid.uniform([(lo, hi), (lo, hi)], 40, periodic=periodic)
    X = g.mesh()
    beta = 150.0
    if periodic:
        f = np.sin(X[..., 0]) * np.cos(X[..., 1]) + 0.5 * np.cos(2 * X[..., 1])
    else:
        f = 0.5 * (X ** 2).sum(-1) + 0.3 * np.sin(3 * X[..., 0])
    z = max(np.abs(beta * np.diff(f, axis=k)).max() for k in range(2))
    assert z > 40
    rho0 = np.exp(-((X - X.mean(axis=(0, 1))) ** 2).sum(-1) / 0.5)
    r = solve_fokker_planck(rho0, g, 0.2, potential=f, beta=beta, method=method, save_at=10,
                            dt=0.02 if method == "implicit" else None)
    assert np.all(r.min_rho >= 0.0)
    assert np.all(np.isfinite(r.rhos))
    assert np.abs(r.mass - r.mass[0]).max() < 1e-12 * r.mass[0]


@pytest.mark.parametrize("method,solver", [("implicit", "split"), ("implicit", "direct"), ("explicit", "auto"),
                                           ("crank_nicolson", "split")])
def test_free_energy_and_kl_decrease(method, solver):
    g = Grid.uniform([(-2.5, 2.5), (-2, 2)], (45, 37))
    fn = _potentials(2)["double_well"]
    X = g.mesh()
    rho0 = np.exp(-((X - np.array([0.8, 0.9])) ** 2).sum(-1) / 0.05)
    dt = None if method == "explicit" else 0.01
    r = solve_fokker_planck(rho0, g, 1.0, potential=fn, beta=3.0, method=method, save_at=40, dt=dt,
                            linear_solver=solver, normalize=True)
    assert np.all(np.diff(r.free_energy) <= 1e-13)
    assert np.all(np.diff(r.kl) <= 1e-13)
    assert r.kl[0] > 5 * r.kl[-1] > 0
    # F = beta^{-1} KL(rho || gibbs) - beta^{-1} log Z
    f = g.sample(fn)
    logZ = math.log(np.exp(-3.0 * f).sum() * g.cell_volume)
    np.testing.assert_allclose(r.free_energy, r.kl / 3.0 - logZ / 3.0, rtol=1e-10, atol=1e-12)


# ============================================================================ non-gradient drift
def _example19(lam):
    """paper-spec 4.3 Example 19: b = -grad Phi + lam e^Phi J^ss, rho_ss ~ e^-Phi, J = lam J^ss / Z (beta = 1)."""
    def phi(x):
        return (x[..., 0] ** 2 - 1) ** 2 / 4 + x[..., 1] ** 2 / 2

    def jss(x):
        r4 = ((x ** 2).sum(-1)) ** 2
        return np.exp(-r4 / 4)[..., None] * np.stack([-x[..., 1], x[..., 0]], -1)

    def drift(x):
        gphi = np.stack([x[..., 0] * (x[..., 0] ** 2 - 1), x[..., 1]], -1)
        return -gphi + lam * np.exp(phi(x))[..., None] * jss(x)
    return phi, jss, drift


def test_nongradient_steady_state_has_divergence_free_rotational_current():
    lam = 1.5
    phi, jss, drift = _example19(lam)
    errs, hs = [], []
    for n in (41, 81, 161):
        g = Grid.uniform([(-3.2, 3.2), (-4.5, 4.5)], n)
        rho = fokker_planck_steady_state(g, drift=drift)
        exact = gibbs(phi, g, 1.0)
        hs.append(g.spacing[0])
        errs.append(_rel(rho, exact))
        J = probability_current(rho, g, drift=drift)
        div = sum((J[k] - np.roll(J[k], 1, k)) / g.spacing[k] for k in range(2))
        jmax = max(np.abs(Jk).max() for Jk in J)
        assert np.abs(div).max() <= 1e-10 * jmax / min(g.spacing)      # discretely divergence-free
        # the current is the rotational lam J^ss / Z, not zero
        Z = np.exp(-phi(g.mesh())).sum() * g.cell_volume
        X = g.mesh()
        Jx_exact = lam * jss(X + np.array([g.spacing[0] / 2, 0]))[..., 0] / Z
        assert jmax > 0.05
        assert np.abs(J[0][:-1] - Jx_exact[:-1]).max() < 0.1 * np.abs(Jx_exact).max()
    p = observed_order(hs, errs)
    assert abs(p - 2.0) < 0.3, (p, errs)


def test_nonsymmetric_ou_steady_state_is_lyapunov_gaussian_and_kl_decreases():
    """dx = -F x dt + sqrt(2 D/beta) dW with F D^{-1} non-symmetric: steady N(0, Sigma_inf), transient exact."""
    F = np.array([[1.0, 0.8], [-0.6, 1.2]])
    Dd, beta = np.array([1.0, 0.6]), 2.0
    g = Grid.uniform([(-3.5, 3.5), (-3.5, 3.5)], 121)
    X = g.mesh()
    drift = -np.einsum("ij,...j->...i", F, X)
    m, S = _lyapunov_gaussian(F, np.diag(Dd), beta, np.zeros(2), np.eye(2), 50.0)
    rho = fokker_planck_steady_state(g, drift=drift, beta=beta, D=Dd)
    assert _rel(rho, gaussian(X, m, S)) < 5e-3
    m0, S0 = np.array([1.0, -0.5]), 0.1 * np.eye(2)
    r = solve_fokker_planck(gaussian(X, m0, S0), g, 0.5, drift=drift, beta=beta, D=Dd,
                            method="crank_nicolson", dt=0.01, save_at=10)
    mt, St = _lyapunov_gaussian(F, np.diag(Dd), beta, m0, S0, 0.5)
    assert _rel(r.rho, gaussian(X, mt, St)) < 5e-3
    assert np.all(np.diff(r.kl[1:]) < 0) and np.all(np.isnan(r.free_energy))


# ============================================================================ other equations
def test_heat_equation_periodic_mode_decay():
    """Neither potential nor drift: rho_t = beta^-1 D rho_xx; a cosine mode decays at the discrete rate."""
    g = Grid.uniform([(0, 2 * np.pi)], 64, periodic=True)
    x = g.axes[0]
    beta, D, T = 2.0, 0.8, 1.0
    r = solve_fokker_planck(1 + 0.5 * np.cos(3 * x), g, T, beta=beta, D=D, method="crank_nicolson", dt=1e-3)
    h = g.spacing[0]
    lam = D / beta * (2 - 2 * np.cos(3 * h)) / h ** 2        # exact decay rate of the discrete Laplacian
    np.testing.assert_allclose(r.rho, 1 + 0.5 * np.cos(3 * x) * np.exp(-lam * T), atol=1e-7)
    assert abs(lam - 9 * D / beta) < 0.05


def test_time_dependent_potential_moving_trap():
    """f(x, t) = (x - a t)^2 / 2: mean m' = a t - m, m(t) = a (t - 1) + (m0 + a) e^{-t}; variance as OU."""
    a, m0, T = 0.8, -0.5, 1.0
    g = Grid.uniform([(-5, 5)], 801)
    x = g.axes[0]

    def f(x, t):
        return 0.5 * (x[..., 0] - a * t) ** 2

    r = solve_fokker_planck(np.exp(-(x - m0) ** 2 / 0.2), g, T, potential=f, method="crank_nicolson", dt=2e-3,
                            normalize=True)
    assert r.params["time_dependent"]
    mean = (x * r.rho).sum() * g.cell_volume
    assert abs(mean - (a * (T - 1) + (m0 + a) * math.exp(-T))) < 1e-4
    # forcing time dependence off with a 2-argument callable that has a default is explicit
    with pytest.raises(TypeError):
        solve_fokker_planck(np.ones(g.shape), g, 0.1, potential=f, time_dependent=False)


def test_loss_like_object_and_callable_rho0():
    class Quad:
        def __call__(self, x):
            return self.value(x)

        def value(self, x):
            return 0.5 * (x ** 2).sum(-1)

        def grad(self, x):
            return x

    g = Grid.uniform([(-4, 4), (-4, 4)], 41)
    r = solve_fokker_planck(lambda x: np.exp(-(x ** 2).sum(-1)), g, 30.0, potential=Quad(), dt=1.0,
                            normalize=True)
    assert _rel(r.rho, gibbs(Quad(), g, 1.0)) < 1e-12
    assert not r.params["time_dependent"]


def test_result_fields_and_save_times():
    g = Grid.uniform([(-3, 3)], 61)
    x = g.axes[0]
    r = solve_fokker_planck(np.exp(-x ** 2), g, 1.0, potential=0.5 * x ** 2, save_at=[0.25, 0.5, 1.0],
                            progress=False)
    assert isinstance(r, FPResult)
    assert r.ts.tolist() == [0.25, 0.5, 1.0] and r.rhos.shape == (3, 61)
    for name in ("mass", "min_rho", "free_energy", "kl"):
        assert getattr(r, name).shape == (3,)
    assert np.array_equal(r.rhos[-1], r.rho) and r.status == "success" and r.success and r.n_steps >= 100
    assert r.message == "Reached the final time."
    assert "FPResult(" in repr(r)
    r0 = solve_fokker_planck(np.exp(-x ** 2), g, 0.0, potential=0.5 * x ** 2)
    assert r0.n_steps == 0 and np.array_equal(r0.rho, np.exp(-x ** 2))


def test_result_roundtrips_through_hdf5(tmp_path):
    io = pytest.importorskip("deeprelax.io")
    g = Grid.uniform([(-3, 3), (-2, 2)], 21)
    r = solve_fokker_planck(lambda x: np.exp(-(x ** 2).sum(-1)), g, 0.2, potential=lambda x: (x ** 2).sum(-1),
                            save_at=2)
    back = io.load(io.save(r, tmp_path / "fp.h5"))
    assert type(back) is FPResult
    np.testing.assert_array_equal(back.rhos, r.rhos)
    assert back.grid == g


# ============================================================================ errors
def test_clear_errors():
    g = Grid.uniform([(-2, 2), (-2, 2)], 21)
    ok = np.ones(g.shape)
    f = np.zeros(g.shape)
    cases = [
        (dict(rho0=-ok), ValueError, "non-negative"),
        (dict(rho0=np.where(ok > 0, np.nan, 0)), ValueError, "finite"),
        (dict(rho0=np.ones((5, 5))), ValueError, "shape"),
        (dict(rho0=0 * ok), ValueError, "positive mass"),
        (dict(beta=0.0), ValueError, "beta"),
        (dict(beta=-1.0), ValueError, "beta"),
        (dict(t=-1.0), ValueError, "t >= 0"),
        (dict(D=np.array([[1.0, 2.0], [2.0, 1.0]])), ValueError, "positive definite"),
        (dict(D=np.array([[1.0, 0.2], [0.1, 1.0]])), ValueError, "symmetric"),
        (dict(D=(1.0, -1.0)), ValueError, "positive"),
        (dict(D=np.ones(3)), ValueError, "shape"),
        (dict(potential=f, drift=np.zeros(g.shape + (2,))), ValueError, "not both"),
        (dict(potential=np.zeros((3, 3))), ValueError, "shape"),
        (dict(drift=np.zeros(g.shape)), ValueError, "shape"),
        (dict(method="rk4"), SchemeError, "method"),
        (dict(dt=-0.1), ValueError, "dt"),
        (dict(save_at=[2.0]), ValueError, "save_at"),
    ]
    for kw, exc, text in cases:
        args = dict(rho0=ok, t=0.1)
        args.update(kw)
        with pytest.raises(exc, match=text):
            solve_fokker_planck(args.pop("rho0"), g, args.pop("t"), **args)
    lim = explicit_dt_limit(g, potential=f, beta=0.5)
    with pytest.raises(StabilityError, match=r"`dt` = .* exceeds .* limit"):
        solve_fokker_planck(ok, g, 0.1, potential=f, beta=0.5, method="explicit", dt=2 * lim)
    with pytest.raises(ValueError, match="beta"):
        gibbs(f, g, 0.0)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_nonfinite_is_reported():
    g = Grid.uniform([(-2, 2)], 21)

    # a finite but absurd drift: SG just piles the mass on the wall (no overflow) ...
    r = solve_fokker_planck(np.ones(g.shape), g, 1.0, drift=np.full(g.shape + (1,), 1e306), dt=0.01)
    assert np.isfinite(r.rho).all() and r.rho[-1] == pytest.approx(r.mass[0] / g.cell_volume)
    # ... until the face rates themselves overflow: stop at once and say so
    with pytest.raises(NonFiniteError, match=r"non-finite at t = 0.01 \(step 1.*Fix"):
        solve_fokker_planck(np.ones(g.shape), g, 1.0, drift=np.full(g.shape + (1,), 1e308), dt=0.01,
                            kl_reference=False)


# ============================================================================ more paths
def test_real_loss_object_is_a_static_potential():
    losses = pytest.importorskip("deeprelax.losses")
    loss = losses.DoubleWell(dim=2)
    g = loss.grid(41)
    r = solve_fokker_planck(gibbs(loss, g, 2.0), g, 0.5, potential=loss, beta=2.0, dt=0.05)
    assert not r.params["time_dependent"] and r.params["kind"] == "potential"
    assert _rel(r.rho, gibbs(loss, g, 2.0)) < 1e-12


@pytest.mark.parametrize("method", ["implicit", "crank_nicolson", "explicit"])
def test_full_D_keeps_gibbs_and_mass_in_2d_and_3d(method):
    """Mixed-derivative fluxes are written as -beta^-1 D_kl M d_l(rho/M): Gibbs stays exact for full D."""
    for g, Dm in [(Grid.uniform([(-2, 2), (-2, 2)], (31, 27)), np.array([[1.0, 0.3], [0.3, 0.7]])),
                  (Grid.uniform([(-2, 2)] * 3, (11, 12, 13)),
                   np.array([[1.0, 0.2, -0.1], [0.2, 0.8, 0.15], [-0.1, 0.15, 1.2]]))]:
        fn = _potentials(g.dim)["random_smooth"]
        G = gibbs(fn, g, 2.0)
        A = fokker_planck_operator(g, potential=fn, beta=2.0, D=Dm)
        assert np.abs(A @ G.ravel()).max() <= 1e-14 * abs(A).max() * G.max()
        r = solve_fokker_planck(G, g, 0.05, potential=fn, beta=2.0, D=Dm, method=method,
                                dt=None if method == "explicit" else 0.01)
        assert r.params["linear_solver"] == "direct"
        assert _rel(r.rho, G) < 1e-12
        X = g.mesh()
        rho0 = np.exp(-(X ** 2).sum(-1))
        r = solve_fokker_planck(rho0, g, 0.05, potential=fn, beta=2.0, D=Dm, method=method, save_at=5,
                                dt=None if method == "explicit" else 0.01)
        assert np.abs(r.mass - r.mass[0]).max() < 1e-12 * r.mass[0]


def test_periodic_direct_matches_split_and_time_dependent_drift():
    """Periodic torus, non-gradient time-dependent drift b(x, t): split and factorised CN agree to O(dt^2)."""
    g = Grid.uniform([(0, 2 * np.pi), (0, 2 * np.pi)], 32, periodic=True)
    X = g.mesh()

    def b(x, t):
        return np.stack([1.0 + 0.5 * np.sin(x[..., 1] + t), 0.3 * np.cos(x[..., 0])], -1)

    rho0 = 1 + 0.5 * np.cos(X[..., 0]) * np.sin(X[..., 1])
    out = {}
    for solver in ("split", "direct"):
        r = solve_fokker_planck(rho0, g, 0.5, drift=b, beta=2.0, method="crank_nicolson", dt=0.005,
                                linear_solver=solver, kl_reference=False, save_at=4)
        assert r.params["time_dependent"]
        assert np.abs(r.mass - r.mass[0]).max() < 1e-12 * r.mass[0] and r.min_rho.min() >= 0
        out[solver] = r.rho
    assert np.abs(out["split"] - out["direct"]).max() < 1e-4
    # steady state on the torus carries a non-zero, divergence-free current
    def bs(x):
        return b(x, 0.0)
    rho = fokker_planck_steady_state(g, drift=bs, beta=2.0)
    J = probability_current(rho, g, drift=bs, beta=2.0)
    div = sum((J[k] - np.roll(J[k], 1, k)) / g.spacing[k] for k in range(2))
    assert np.abs(div).max() < 1e-10 * np.abs(J[0]).max() and np.abs(J[0]).mean() > 0.02   # ~ mean(b_x) / (4 pi^2)


def test_progress_bar_runs(capsys):
    pytest.importorskip("tqdm")
    g = Grid.uniform([(-2, 2)], 21)
    r = solve_fokker_planck(np.ones(21), g, 0.1, potential=np.zeros(21), progress=True, dt=0.01)
    assert r.n_steps == 10


def test_ou_3d_error_drops_fourfold_per_halving():
    """3-D isotropic OU with diagonal anisotropic D, Strang-split CN: error ratio ~4 per halving of h."""
    Dd = np.array([1.0, 0.6, 0.8])
    beta, T = 1.0, 0.3
    m0, S0 = np.array([0.5, -0.4, 0.3]), 0.2 * np.eye(3)
    m, S = _lyapunov_gaussian(np.diag(Dd), np.diag(Dd), beta, m0, S0, T)
    errs = []
    for n in (21, 41):
        g = Grid.uniform([(-4, 4)] * 3, n)
        X = g.mesh()
        r = solve_fokker_planck(gaussian(X, m0, S0), g, T, potential=0.5 * (X ** 2).sum(-1), beta=beta, D=Dd,
                                method="crank_nicolson", dt=0.01)
        ex = gaussian(X, m, S)
        errs.append(np.abs(r.rho - ex).max() / ex.max())
        assert abs(r.mass[-1] - r.mass[0]) < 1e-12
    assert 3.2 < errs[0] / errs[1] < 5.0, errs


def test_rannacher_startup_removes_crank_nicolson_ringing():
    """Dirac data, dt = 50x the explicit limit: plain CN rings (rho < 0); two BE half-step pairs fix it."""
    g = Grid.uniform([(-4, 4)], 401)
    x = g.axes[0]
    rho0 = np.zeros(g.shape)
    rho0[150] = 1 / g.spacing[0]
    f = 0.5 * x ** 2
    assert 0.01 > 40 * explicit_dt_limit(g, potential=f)
    plain = solve_fokker_planck(rho0, g, 0.5, potential=f, method="crank_nicolson", dt=0.01, rannacher=0, save_at=10)
    ran = solve_fokker_planck(rho0, g, 0.5, potential=f, method="crank_nicolson", dt=0.01, rannacher=2, save_at=10)
    assert plain.min_rho.min() < -1.0
    assert ran.min_rho.min() >= 0.0 and ran.params["rannacher"] == 2
    assert np.abs(ran.mass - 1).max() < 1e-12


def test_oriented_mixed_stencil_is_seven_point_m_matrix_and_keeps_box_data_positive():
    g = Grid.uniform([(0, 1), (0, 1)], 8, periodic=True)
    c = np.ravel_multi_index((3, 3), g.shape)
    for d12, corners in ((0.3, [(4, 4), (2, 2)]), (-0.3, [(4, 2), (2, 4)])):
        A = fokker_planck_operator(g, D=np.array([[1.0, d12], [d12, 0.8]])).toarray()
        row = A[c].reshape(g.shape)
        nz = {tuple(int(v) for v in i) for i in np.argwhere(row != 0)}
        assert nz == {(3, 3), (2, 3), (4, 3), (3, 2), (3, 4), *corners}     # 7-point stencil
        assert (A - np.diag(np.diag(A))).min() >= 0                           # M-matrix (diag. dominant D)
    g = Grid.uniform([(-3, 3), (-3, 3)], 61)
    X = g.mesh()
    box = (np.abs(X).max(-1) < 0.3) * 1.0
    Dm = np.array([[1.0, 0.3], [0.3, 0.7]])
    A = fokker_planck_operator(g, potential=0.5 * (X ** 2).sum(-1), D=Dm).tocoo()
    assert A.data[A.row != A.col].min() >= 0
    for method in ("implicit", "explicit"):
        kw = dict(potential=0.5 * (X ** 2).sum(-1), D=Dm, method=method, save_at=10, normalize=True)
        ori = solve_fokker_planck(box, g, 0.2, **kw)
        cen = solve_fokker_planck(box, g, 0.2, mixed="central", **kw)
        assert ori.min_rho.min() >= 0 and np.abs(ori.mass - 1).max() < 1e-12
        assert cen.min_rho.min() < 0          # the averaged central stencil is not an M-matrix
