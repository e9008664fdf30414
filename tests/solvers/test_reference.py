"""Each closed form in solvers.reference checked independently (quadrature, brute force, FD, ODEs)."""
import math

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from solvers import reference as R


# ----------------------------------------------------------------------------- independent references
def cole_hopf_quad_1d(f, x, t, beta, points=()):
    """-(1/beta) log (G_{t/beta} * exp(-beta f))(x) by adaptive quadrature (1-D), shifted for stability."""
    s = math.sqrt(t / beta)
    ys = np.linspace(x - 40 * s - 10, x + 40 * s + 10, 20001)
    E = -beta * (f(ys) + (x - ys) ** 2 / (2 * t))
    j = int(np.argmax(E))
    y0, Emax = ys[j], E[j]
    g = lambda y: math.exp(-beta * (f(y) + (x - y) ** 2 / (2 * t)) - Emax)  # noqa: E731
    lo, hi = y0 - 40 * s - 2, y0 + 40 * s + 2
    pts = sorted(p for p in (y0, x, *points) if lo < p < hi)
    v = integrate.quad(g, lo, hi, points=pts, limit=400, epsabs=0, epsrel=1e-13)[0]
    return -(Emax + math.log(v) + 0.5 * math.log(beta / (2 * math.pi * t))) / beta


def cole_hopf_trapz_2d(f, x, t, beta, L=8.0, n=801):
    """2-D Cole-Hopf by the trapezoid rule in the log domain on [-L, L]^2 (spectrally accurate here)."""
    ax = np.linspace(-L, L, n)
    h = ax[1] - ax[0]
    Y = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1)
    E = -beta * (f(Y) + ((Y - x) ** 2).sum(-1) / (2 * t))
    return -(logsumexp(E) + 2 * math.log(h) + math.log(beta / (2 * math.pi * t))) / beta


def brute_min_1d(phi, lo, hi, n=200001):
    """Global min of a 1-D function: dense scan, then bounded Brent polish around the best node."""
    ys = np.linspace(lo, hi, n)
    v = phi(ys)
    j = int(np.argmin(v))
    h = ys[1] - ys[0]
    r = optimize.minimize_scalar(phi, bounds=(ys[j] - h, ys[j] + h), method="bounded",
                                 options={"xatol": 1e-14})
    return (r.fun, r.x) if r.fun <= v[j] else (v[j], ys[j])


def fd_grad(fn, x, h=1e-6):
    x = np.asarray(x, float)
    cols = []
    for k in range(x.shape[-1]):
        e = np.zeros(x.shape[-1])
        e[k] = h
        cols.append((fn(x + e) - fn(x - e)) / (2 * h))
    return np.stack(cols, -1)


A2 = np.array([[2.0, 0.6], [0.6, 0.5]])
SM1 = dict(a=np.array([1.0, 6.0, 2.5]), m=np.array([[-1.5], [0.8], [2.5]]), c=np.array([0.0, -0.3, 0.2]))
SM2 = dict(a=np.array([1.0, 5.0]), m=np.array([[-1.0, 0.5], [1.2, -0.4]]), c=np.array([0.1, -0.2]))


# ----------------------------------------------------------------------------- quadratic
@pytest.mark.parametrize("a,t,beta", [(1.5, 0.7, 2.0), (0.2, 0.5, 3.0), (4.0, 0.3, 0.5)])
def test_quadratic_viscous_1d_vs_quadrature(a, t, beta):
    A = np.array([[a]])
    for x in (-1.3, 0.0, 0.4, 2.2):
        ref = cole_hopf_quad_1d(lambda y: 0.5 * a * np.asarray(y) ** 2, x, t, beta)
        assert abs(R.quadratic_u([x], t, A, beta) - ref) < 1e-11


def test_quadratic_viscous_2d_vs_trapezoid():
    t, beta = 0.6, 1.7
    f = lambda Y: 0.5 * np.einsum("...i,ij,...j->...", Y, A2, Y)  # noqa: E731
    for x in ([0.3, -0.5], [1.0, 1.0], [-2.0, 0.4]):
        ref = cole_hopf_trapz_2d(f, np.array(x), t, beta)
        assert abs(R.quadratic_u(x, t, A2, beta) - ref) < 1e-10


def test_quadratic_hopf_lax_and_prox_vs_brute_force():
    t = 0.8
    for a in (2.0, -0.9):          # -0.9: saddle-type, valid for t < 1/0.9
        for x in (-1.1, 0.3, 1.7):
            val, arg = brute_min_1d(lambda y: 0.5 * a * y ** 2 + (x - y) ** 2 / (2 * t), x - 20, x + 20)
            assert abs(R.quadratic_u([x], t, [[a]]) - val) < 1e-12
            assert abs(R.quadratic_prox([x], t, [[a]])[0] - arg) < 1e-7


def test_quadratic_grad_fd_and_shapes(rng):
    t, beta = 0.4, 2.0
    X = rng.normal(size=(3, 4, 2))
    u = R.quadratic_u(X, t, A2, beta)
    g = R.quadratic_grad(X, t, A2, beta)
    assert u.shape == (3, 4) and g.shape == (3, 4, 2)
    np.testing.assert_allclose(g, fd_grad(lambda z: R.quadratic_u(z, t, A2, beta), X), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(R.quadratic_prox(X, t, A2), np.linalg.solve(np.eye(2) + t * A2, X[..., None])[..., 0])


def test_quadratic_not_positive_definite_error():
    with pytest.raises(ValueError, match="positive definite"):
        R.quadratic_u([1.0, 0.0], 2.0, np.diag([1.0, -1.0]))


# ----------------------------------------------------------------------------- |x|_1
def test_huber_and_soft_threshold_vs_brute_force():
    t = 0.7
    for x in (-2.0, -0.5, 0.0, 0.3, 0.7, 1.4):
        val, arg = brute_min_1d(lambda y: np.abs(y) + (x - y) ** 2 / (2 * t), x - 3, x + 3, n=600001)
        assert abs(R.huber_u([x], t) - val) < 1e-11
        assert abs(R.soft_threshold([x], t)[0] - arg) < 1e-6


def test_huber_grad_fd(rng):
    X = rng.uniform(-2, 2, size=(50, 3))
    X = X[np.all(np.abs(np.abs(X) - 0.6) > 1e-3, -1)]
    np.testing.assert_allclose(R.huber_grad(X, 0.6), fd_grad(lambda z: R.huber_u(z, 0.6), X), atol=1e-8)


@pytest.mark.parametrize("beta", [0.5, 3.0, 40.0])
def test_abs_viscous_vs_quadrature(beta):
    t = 0.7
    for x in (-1.7, -0.2, 0.0, 0.35, 2.0):
        ref = cole_hopf_quad_1d(np.abs, x, t, beta, points=(0.0,))
        assert abs(R.abs_viscous_u([x], t, beta) - ref) < 1e-11


def test_abs_viscous_grad_fd(rng):
    X = rng.uniform(-2, 2, size=(40, 2))
    for beta in (0.3, 5.0, 1e3):
        g = R.abs_viscous_grad(X, 0.5, beta)
        fd = fd_grad(lambda z: R.abs_viscous_u(z, 0.5, beta), X, h=1e-7 if beta > 100 else 1e-6)
        np.testing.assert_allclose(g, fd, atol=1e-6 * max(1.0, beta / 100))
        assert np.all(np.abs(g) <= 1.0 + 1e-12)


def test_abs_viscous_tends_to_huber_monotonically():
    x = np.linspace(-2, 2, 401)[:, None]
    gaps = [np.abs(R.abs_viscous_u(x, 0.7, b) - R.huber_u(x, 0.7)).max() for b in 10.0 ** np.arange(1, 6)]
    assert np.all(np.diff(gaps) < 0)
    assert gaps[-1] < 1e-4
    # gap ~ C / beta (log factor aside): ratios per decade near 10
    assert 5 < gaps[2] / gaps[3] < 15
    # stable at huge beta
    u = R.abs_viscous_u(x, 0.7, 1e12)
    assert np.all(np.isfinite(u)) and np.abs(u - R.huber_u(x, 0.7)).max() < 1e-9


# ----------------------------------------------------------------------------- soft-min of quadratics
@pytest.mark.parametrize("beta", [0.5, 2.0, 10.0])
def test_softmin_viscous_1d_vs_quadrature(beta):
    t = 0.45
    f = lambda y: R.softmin_value(np.asarray(y, float)[..., None], beta_f=beta, **SM1)  # noqa: E731
    for x in (-2.2, -0.4, 0.8, 1.6, 3.1):
        ref = cole_hopf_quad_1d(f, x, t, beta)
        assert abs(R.softmin_viscous_u([x], t, beta, **SM1) - ref) < 1e-10


def test_softmin_viscous_2d_vs_trapezoid():
    t, beta = 0.5, 3.0
    f = lambda Y: R.softmin_value(Y, beta_f=beta, **SM2)  # noqa: E731
    for x in ([0.0, 0.0], [-1.2, 0.7], [1.5, -1.0]):
        ref = cole_hopf_trapz_2d(f, np.array(x), t, beta, L=7.0, n=1201)
        assert abs(R.softmin_viscous_u(x, t, beta, **SM2) - ref) < 1e-10


def test_softmin_viscous_grad_mean_fd(rng):
    t, beta = 0.3, 4.0
    X = rng.normal(size=(30, 2)) * 1.5
    g = R.softmin_viscous_grad(X, t, beta, **SM2)
    np.testing.assert_allclose(g, fd_grad(lambda z: R.softmin_viscous_u(z, t, beta, **SM2), X), atol=1e-7)
    mean = R.softmin_viscous_mean(X, t, beta, **SM2)
    np.testing.assert_allclose(g, (X - mean) / t, atol=1e-12)
    # t = 0: u = f and grad u = grad f
    np.testing.assert_allclose(R.softmin_viscous_u(X, 0.0, beta, **SM2), R.softmin_value(X, beta_f=beta, **SM2))
    np.testing.assert_allclose(R.softmin_viscous_grad(X, 0.0, beta, **SM2), R.softmin_grad(X, beta_f=beta, **SM2))


def test_softmin_value_grad_fd(rng):
    X = rng.normal(size=(30, 2)) * 1.5
    for bf in (0.7, 20.0):
        np.testing.assert_allclose(R.softmin_grad(X, beta_f=bf, **SM2),
                                   fd_grad(lambda z: R.softmin_value(z, beta_f=bf, **SM2), X), atol=1e-7)


def test_softmin_viscous_requires_matching_beta():
    with pytest.raises(ValueError, match="beta_f"):
        R.softmin_viscous_u([0.0], 0.5, 2.0, beta_f=3.0, **SM1)
    with pytest.raises(ValueError, match="finite"):
        R.softmin_viscous_mean([0.0], 0.5, np.inf, **SM1)


def test_softmin_hopf_lax_vs_brute_force():
    t = 0.6
    hard = lambda y: R.softmin_value(np.asarray(y, float)[..., None], **SM1)  # noqa: E731
    for x in (-2.5, -0.3, 0.5, 1.2, 1.9, 3.0):
        val, arg = brute_min_1d(lambda y: hard(y) + (x - y) ** 2 / (2 * t), x - 6, x + 6, n=400001)
        assert abs(R.softmin_hopf_lax_u([x], t, **SM1) - val) < 1e-11
        assert abs(R.softmin_hopf_lax_prox([x], t, **SM1)[0] - arg) < 1e-6


def test_softmin_hopf_lax_2d_and_grad(rng):
    t = 0.4
    X = rng.normal(size=(200, 2)) * 1.5
    u = R.softmin_hopf_lax_u(X, t, **SM2)
    p = R.softmin_hopf_lax_prox(X, t, **SM2)
    g = R.softmin_hopf_lax_grad(X, t, **SM2)
    # u = phi(prox), grad = (x - prox)/t = grad f(prox), and u <= f(x)
    phi = R.softmin_value(p, **SM2) + ((X - p) ** 2).sum(-1) / (2 * t)
    np.testing.assert_allclose(u, phi, atol=1e-13)
    np.testing.assert_allclose(g, (X - p) / t, atol=1e-12)
    np.testing.assert_allclose(g, R.softmin_grad(p, **SM2), atol=1e-12)
    assert np.all(u <= R.softmin_value(X, **SM2) + 1e-14)
    # 2-D brute force on a fine grid for a few points
    ax = np.linspace(-4, 4, 2001)
    Y = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1)
    fY = R.softmin_value(Y, **SM2)
    h = ax[1] - ax[0]
    bound = 2 * (h / 2) ** 2 * (1 / (2 * t) + SM2["a"].max() / 2)   # numerics.md §B.2 grid-min error
    for x in X[:6]:
        brute = (fY + ((Y - x) ** 2).sum(-1) / (2 * t)).min()
        assert 0 <= brute - R.softmin_hopf_lax_u(x, t, **SM2) < bound
    # FD of u away from the switching set
    i_sorted = np.sort(np.stack([R.softmin_hopf_lax_u(X, t, SM2["a"][k:k + 1], SM2["m"][k:k + 1],
                                                      SM2["c"][k:k + 1]) for k in range(2)], -1), -1)
    far = (i_sorted[:, 1] - i_sorted[:, 0]) > 1e-3
    np.testing.assert_allclose(g[far], fd_grad(lambda z: R.softmin_hopf_lax_u(z, t, **SM2), X[far]), atol=1e-7)


def test_softmin_large_beta_stable_and_tends_to_hopf_lax():
    x = np.linspace(-3, 4, 301)[:, None]
    t = 0.5
    hl = R.softmin_hopf_lax_u(x, t, **SM1)
    gaps = []
    for beta in (1e2, 1e4, 1e6, 1e8):
        u = R.softmin_viscous_u(x, t, beta, **SM1)
        assert np.all(np.isfinite(u))
        assert np.all(np.isfinite(R.softmin_viscous_grad(x, t, beta, **SM1)))
        gaps.append(np.abs(u - hl).max())
    assert np.all(np.diff(gaps) < 0) and gaps[-1] < 1e-7


# ----------------------------------------------------------------------------- Gaussian mixture
GM = dict(w=np.array([0.2, 0.8]), m=np.array([[-1.0], [1.5]]), s=np.array([0.05, 0.5]))


def test_gaussmix_u_vs_quadrature_and_softmin():
    f = lambda y: R.gaussmix_value(np.asarray(y, float)[..., None], **GM)  # noqa: E731
    for t in (0.01, 0.3):
        for x in (-1.2, -1.0, 0.2, 1.5, 2.4):
            ref = cole_hopf_quad_1d(f, x, t, 1.0, points=(-1.0, 1.5))
            assert abs(R.gaussmix_u([x], t, **GM) - ref) < 1e-10
    # the same family as the soft-min at beta = 1: a = 1/s^2, c = -log w + (d/2) log(2 pi s^2)
    a = 1 / GM["s"] ** 2
    c = -np.log(GM["w"]) + 0.5 * np.log(2 * np.pi * GM["s"] ** 2)
    x = np.linspace(-3, 3, 50)[:, None]
    np.testing.assert_allclose(R.gaussmix_u(x, 0.2, **GM), R.softmin_viscous_u(x, 0.2, 1.0, a, GM["m"], c), atol=1e-12)
    np.testing.assert_allclose(R.gaussmix_grad(x, **GM), fd_grad(lambda z: R.gaussmix_value(z, **GM), x), atol=1e-5)


def test_gaussmix_wide_valley_switch_time():
    """paper-spec §7 item 10: the global minimiser jumps to the wide well at t* ~ 0.014."""
    m1, m2 = GM["m"][0, 0], GM["m"][1, 0]

    def gap(t):
        xs1 = np.linspace(m1 - 0.3, m1 + 0.3, 2001)[:, None]
        xs2 = np.linspace(m2 - 0.5, m2 + 0.5, 2001)[:, None]
        return R.gaussmix_u(xs1, t, **GM).min() - R.gaussmix_u(xs2, t, **GM).min()

    assert gap(0.0) < 0 < gap(0.05)
    t_star = optimize.brentq(gap, 1e-4, 0.05, xtol=1e-10)
    assert 0.010 < t_star < 0.018


# ----------------------------------------------------------------------------- OU
def test_ou_gaussian_vs_scipy(rng):
    mean, cov = np.array([0.3, -1.0]), np.array([[0.5, 0.1], [0.1, 0.2]])
    X = rng.normal(size=(3, 5, 2))
    np.testing.assert_allclose(R.ou_gaussian(X, mean, cov), multivariate_normal(mean, cov).pdf(X), rtol=1e-12)


def test_ou_moments_vs_ode():
    F = np.array([[1.0, 0.7], [-0.4, 0.6]])
    D = np.array([[1.0, 0.2], [0.2, 0.5]])
    beta, m0, S0 = 2.5, np.array([1.0, -2.0]), np.array([[0.3, 0.05], [0.05, 0.1]])

    def rhs(_, z):
        m, S = z[:2], z[2:].reshape(2, 2)
        return np.concatenate([-F @ m, (-F @ S - S @ F.T + 2 * D / beta).ravel()])

    sol = integrate.solve_ivp(rhs, (0, 3), np.concatenate([m0, S0.ravel()]), method="DOP853",
                              rtol=1e-12, atol=1e-13, t_eval=[0.0, 0.4, 1.5, 3.0])
    for k, t in enumerate(sol.t):
        m, S = R.ou_moments(m0, S0, F, D, beta, t)
        np.testing.assert_allclose(m, sol.y[:2, k], atol=1e-10)
        np.testing.assert_allclose(S, sol.y[2:, k].reshape(2, 2), atol=1e-10)
    # stationary covariance solves the Lyapunov equation
    _, S_inf = R.ou_moments(m0, S0, F, D, beta, 200.0)
    np.testing.assert_allclose(F @ S_inf + S_inf @ F.T, 2 * D / beta, atol=1e-12)


# ----------------------------------------------------------------------------- cosine (Jiang-Peng)
@pytest.mark.parametrize("k", [0.5, 0.99, 1.5, 3.5])
def test_cosine_hopf_lax_vs_brute_force(k):
    t = k / np.pi ** 2
    xs = np.array([-1.0, -0.73, -0.2, 0.0, 0.31, 0.9, 1.0])
    u = R.cosine_hopf_lax_u(xs[:, None], t)
    p = R.cosine_hopf_lax_prox(xs[:, None], t)[:, 0]
    for x, ux, px in zip(xs, u, p):
        val, arg = brute_min_1d(lambda y: -np.cos(np.pi * y) + (x - y) ** 2 / (2 * t), x - 2, x + 2, n=400001)
        assert abs(ux - val) < 1e-13
        assert abs(-np.cos(np.pi * px) + (x - px) ** 2 / (2 * t) - ux) < 1e-15
        if not (k > 1 and abs(abs(x) - 1) < 1e-12):   # the kink: two minimisers tie
            assert abs(px - arg) < 1e-6


def test_cosine_characteristics_and_grad(rng):
    t = 0.7 / np.pi ** 2
    x = rng.uniform(-1, 1, size=(200, 1))
    y = R.cosine_hopf_lax_prox(x, t)
    np.testing.assert_allclose(y + t * np.pi * np.sin(np.pi * y), x, atol=2e-15)   # characteristics
    g = R.cosine_hopf_lax_grad(x, t)
    np.testing.assert_allclose(g, np.pi * np.sin(np.pi * y), atol=1e-12)
    np.testing.assert_allclose(g, fd_grad(lambda z: R.cosine_hopf_lax_u(z, t), x), atol=1e-8)
    # periodic, separable, and below f
    np.testing.assert_allclose(R.cosine_hopf_lax_u(x + 2.0, t), R.cosine_hopf_lax_u(x, t), atol=1e-13)
    X2 = rng.uniform(-1, 1, size=(20, 2))
    np.testing.assert_allclose(R.cosine_hopf_lax_u(X2, t),
                               R.cosine_hopf_lax_u(X2[:, :1], t) + R.cosine_hopf_lax_u(X2[:, 1:], t), atol=1e-15)
    assert np.all(R.cosine_hopf_lax_u(x, t) <= -np.cos(np.pi * x[:, 0]) + 1e-15)


def test_cosine_kink_after_shock():
    """After t* = 1/pi^2 the solution has a kink at x = +-1 (the grad jumps), before it is smooth."""
    eps = 1e-6
    for k, kinked in ((0.9, False), (1.5, True)):
        t = k / np.pi ** 2
        g = R.cosine_hopf_lax_grad(np.array([[1 - eps], [1 + eps]]), t)[:, 0]
        assert (abs(g[1] - g[0]) > 0.1) == kinked


def test_bad_arguments():
    with pytest.raises(ValueError, match="`t`"):
        R.huber_u([1.0], -1.0)
    with pytest.raises(ValueError, match="`beta`"):
        R.abs_viscous_u([1.0], 1.0, 0.0)
    with pytest.raises(ValueError, match="trailing dimension"):
        R.quadratic_u([1.0, 2.0, 3.0], 0.5, A2)
    with pytest.raises(ValueError, match="positive"):
        R.softmin_value([0.0], a=[-1.0], m=[[0.0]], c=[0.0])
