"""The loss registry: API, shapes, derivatives, DR Fig. 1 recipe, the wide-sharp claim, Numba twins."""
import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import norm

from deeprelax import _nbloss as nbl
from deeprelax import losses
from solvers import reference as R
from solvers.jit import njit

nb_grad_ = nbl.nb_grad

REQUIRED = {"quadratic", "abs", "double-well", "softmin-quadratics", "wide-sharp", "dr-fig1", "rastrigin",
            "cosine", "gaussian-mixture"}

# every registered loss, plus non-default variants that exercise other code paths
VARIANTS = [(n, {}) for n in sorted(REQUIRED)] + [
    ("quadratic", {"A": [[2.0, 0.5], [0.5, -0.3]]}),
    ("quadratic", {"A": 3.0, "dim": 3}),
    ("abs", {"dim": 3}),
    ("double-well", {"dim": 3}),
    ("softmin-quadratics", {"a": [1.0, 4.0, 2.0], "m": [[-1, 0], [1.5, 0.5], [0, 2]], "c": [0, -0.2, 0.1],
                            "softness": 3.0}),
    ("softmin-quadratics", {"a": [1.0, 4.0], "m": [[-1, 0], [1.5, 0.5]], "c": [0, -0.2]}),
    ("wide-sharp", {"dim": 2}),
    ("rastrigin", {"dim": 3, "A": 2.0, "scale": 5.0}),
    ("cosine", {"dim": 2}),
    ("gaussian-mixture", {"w": [0.3, 0.7], "m": [[0.0, 0.0], [2.0, 1.0]], "s": [0.4, 0.8]}),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(VARIANTS)]


def sample(loss, rng, n=40, pad=0.2):
    lo = np.array([b[0] for b in loss.bounds]) - pad
    hi = np.array([b[1] for b in loss.bounds]) + pad
    return rng.uniform(lo, hi, size=(n, loss.dim))


def smooth_points(loss, X):
    """Drop points too close to a kink of the loss (abs at 0, hard-min switching set)."""
    if loss.name == "abs":
        return X[np.all(np.abs(X) > 1e-3, -1)]
    if loss.name in ("softmin-quadratics", "wide-sharp") and np.isinf(loss.params["softness"]):
        q, _ = R._softmin_q(X, loss.a, loss.m, loss.c)
        qs = np.sort(q, -1)
        return X[qs[:, 1] - qs[:, 0] > 1e-3]
    return X


def fd(fn, X, h):
    cols = []
    for k in range(X.shape[-1]):
        e = np.zeros(X.shape[-1])
        e[k] = h
        cols.append((fn(X + e) - fn(X - e)) / (2 * h))
    return np.stack(cols, -1)


# ----------------------------------------------------------------------------- registry
def test_registry_names_and_get():
    assert REQUIRED <= set(losses.names())
    assert losses.names() == sorted(losses.names())
    for n in losses.names():
        L = losses.get(n)
        assert isinstance(L, losses.Loss) and L.name == n
        assert len(L.bounds) == L.dim and all(lo < hi for lo, hi in L.bounds)
        assert n in repr(L)
        assert L.lipschitz_grad is None or L.lipschitz_grad > 0


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown loss 'nope'.*double-well"):
        losses.get("nope")
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['bogus'\]"):
        losses.get("quadratic", bogus=1)
    with pytest.raises(ValueError, match="`dim`"):
        losses.get("double-well", dim=4)
    with pytest.raises(ValueError, match="already registered"):
        losses.register("abs")(type("X", (losses.Loss,), {}))


def test_register_new_loss():
    @losses.register("test-linear")
    class Linear(losses.Loss):
        def __init__(self, slope=2.0):
            super().__init__(1, [(-1, 1)], {"slope": slope}, None, [1])
            self.slope = slope

        def _value(self, x):
            return self.slope * x[..., 0]

        def _grad(self, x):
            return np.full_like(x, self.slope)

    try:
        L = losses.get("test-linear", slope=3.0)
        assert L.value([2.0]) == 6.0 and "test-linear" in losses.names()
    finally:
        losses._REGISTRY.pop("test-linear")


# ----------------------------------------------------------------------------- shapes and input checks
@pytest.mark.parametrize("name,params", VARIANTS, ids=IDS)
def test_shapes(name, params, rng):
    L = losses.get(name, **params)
    d = L.dim
    x1 = sample(L, rng, 1)[0]
    v = L.value(x1)
    assert np.ndim(v) == 0 and np.isfinite(v)
    assert L(x1) == v
    assert L.grad(x1).shape == (d,)
    X = sample(L, rng, 6).reshape(2, 3, d)
    assert L.value(X).shape == (2, 3) and L.grad(X).shape == (2, 3, d)
    if L.has_hess:
        assert L.hess(X).shape == (2, 3, d, d)
    else:
        with pytest.raises(NotImplementedError):
            L.hess(X)
    with pytest.raises(ValueError, match=rf"`x`.*\(\.\.\., {d}\).*{d + 1}\)"):
        L.value(np.zeros((4, d + 1)))
    with pytest.raises(ValueError, match="`x`"):
        L.grad(np.float64(1.0))
    bad = np.zeros((3, d))
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        L.value(bad)
    g = L.grid(5)
    assert g.dim == d and g.periodic == (L.periodic,) * d


# ----------------------------------------------------------------------------- derivatives
@pytest.mark.parametrize("name,params", VARIANTS, ids=IDS)
def test_grad_matches_finite_differences(name, params, rng):
    L = losses.get(name, **params)
    X = smooth_points(L, sample(L, rng, 60))
    g = L.grad(X)
    num = fd(L.value, X, 1e-6)
    assert np.all(np.abs(num - g) <= 1e-6 * (1.0 + np.abs(g)))


@pytest.mark.parametrize("name,params", VARIANTS, ids=IDS)
def test_hess_matches_finite_differences(name, params, rng):
    L = losses.get(name, **params)
    if not L.has_hess:
        pytest.skip("no Hessian")
    X = smooth_points(L, sample(L, rng, 40))
    H = L.hess(X)
    num = fd(L.grad, X, 1e-6)                      # num[..., i, k] = d grad_i / d x_k
    assert np.all(np.abs(num - H) <= 1e-5 * (1.0 + np.abs(H)))
    np.testing.assert_allclose(H, np.swapaxes(H, -1, -2), atol=1e-12)


@pytest.mark.parametrize("name,params", VARIANTS, ids=IDS)
def test_lipschitz_constant_bounds_hessian(name, params, rng):
    L = losses.get(name, **params)
    if not L.has_hess or L.lipschitz_grad is None or not math.isfinite(L.lipschitz_grad):
        pytest.skip("no finite Lipschitz constant")
    X = sample(L, rng, 2000, pad=1.0)
    assert np.abs(np.linalg.eigvalsh(L.hess(X))).max() <= L.lipschitz_grad * (1 + 1e-12)


# ----------------------------------------------------------------------------- exact solutions
def test_exact_solutions_consistency(rng):
    q = losses.get("quadratic", A=[[2.0, 0.5], [0.5, 1.0]])
    X = rng.normal(size=(20, 2))
    np.testing.assert_allclose(q.exact_u(X, 0.0), q.value(X), atol=1e-14)
    np.testing.assert_allclose(q.exact_u(X, 0.5, 2.0) - q.exact_u(X, 0.5),
                               np.log(np.linalg.det(np.eye(2) + 0.5 * q.A)) / 4.0, atol=1e-14)
    np.testing.assert_allclose(q.exact_grad(X, 0.5), (X - q.exact_prox(X, 0.5)) / 0.5, atol=1e-13)
    a = losses.get("abs", dim=2)
    np.testing.assert_allclose(a.exact_u(X, 0.3), R.huber_u(X, 0.3))
    np.testing.assert_allclose(a.exact_u(X, 0.3, 5.0), R.abs_viscous_u(X, 0.3, 5.0))
    # soft-min: closed forms only for matching beta / hard min
    s = losses.get("softmin-quadratics", a=[1.0, 4.0], m=[[-1.0], [1.0]], c=[0.0, 0.1], softness=2.0)
    x = rng.normal(size=(10, 1))
    np.testing.assert_allclose(s.exact_u(x, 0.0, 2.0), s.value(x), atol=1e-14)
    np.testing.assert_allclose(s.exact_grad(x, 0.3, 2.0), (x - s.exact_mean(x, 0.3, 2.0)) / 0.3, atol=1e-12)
    with pytest.raises(NotImplementedError, match="beta = 2.0"):
        s.exact_u(x, 0.3, 3.0)
    with pytest.raises(NotImplementedError):
        s.exact_prox(x, 0.3)
    h = losses.get("softmin-quadratics", a=[1.0, 4.0], m=[[-1.0], [1.0]], c=[0.0, 0.1])
    np.testing.assert_allclose(h.exact_u(x, 0.3), R.softmin_hopf_lax_u(x, 0.3, h.a, h.m, h.c))
    with pytest.raises(NotImplementedError):
        h.exact_u(x, 0.3, 1.0)
    c = losses.get("cosine")
    with pytest.raises(NotImplementedError):
        c.exact_u(x, 0.1, 1.0)
    assert np.all(c.exact_u(x, 0.1) <= c.value(x) + 1e-15)
    gm = losses.get("gaussian-mixture")
    np.testing.assert_allclose(gm.exact_u(x, 0.2, 1.0), R.gaussmix_u(x, 0.2, gm.w, gm.m, gm.s))
    np.testing.assert_allclose(gm.exact_grad(x, 0.2, 1.0), fd(lambda z: gm.exact_u(z, 0.2, 1.0), x, 1e-6), atol=1e-6)
    with pytest.raises(NotImplementedError):
        gm.exact_u(x, 0.2)
    for n in ("double-well", "rastrigin", "dr-fig1"):
        L = losses.get(n)
        with pytest.raises(NotImplementedError):
            L.exact_u(np.zeros(L.dim), 0.1)


# ----------------------------------------------------------------------------- DR Fig. 1
def _authors_recipe():
    """The authors' script, verbatim in substance (global seed 42, np.random.random)."""
    state = np.random.get_state()
    try:
        N, M = 500, 3
        x = np.linspace(-M, M, N)
        np.random.seed(42)
        g = norm.pdf(x, 0, 2 * M / 200.)
        g = g / np.sum(g)
        f2 = np.convolve(5 * (np.random.random(x.shape) - 0.5), g, 'same')
        f = x ** 2 + 1.5 * np.sin(2 * np.pi * x) + f2
    finally:
        np.random.set_state(state)
    return x, f


def test_drfig1_bit_for_bit():
    x, f = _authors_recipe()
    state = np.random.get_state()[1].copy()
    L = losses.get("dr-fig1")
    assert np.array_equal(np.random.get_state()[1], state)      # global RNG untouched
    assert np.array_equal(L.native_grid(), x)
    assert np.array_equal(L.native_values(), f)
    assert np.array_equal(L.value(x[:, None]), f)                # the spline passes through the samples exactly
    assert np.array_equal(nbl.value(L, x[:, None]), f) or np.abs(nbl.value(L, x[:, None]) - f).max() < 1e-13
    # the recipe's landscape: global minimum near 0, a local minimum near 2.5 (the SGD trap of Fig. 1)
    assert abs(x[np.argmin(f)]) < 0.6
    is_min = (f[1:-1] < f[:-2]) & (f[1:-1] < f[2:])
    assert np.any(is_min & (np.abs(x[1:-1] - 2.5) < 0.3))


def test_drfig1_smooth_extension():
    L = losses.get("dr-fig1")
    for e in (-3.0, 3.0):
        eps = 1e-10
        lo, hi = np.array([[e - eps]]), np.array([[e + eps]])
        assert abs(L.value(hi) - L.value(lo)) < 1e-5
        assert abs(L.grad(hi) - L.grad(lo)).max() < 1e-4
        assert abs(L.hess(hi) - L.hess(lo)).max() < 1e-3            # C^2 (natural spline, linear extension)
    # far outside, f2 is (nearly) its end value: f - x^2 - 1.5 sin stays bounded
    xs = np.array([[-50.0], [-10.0], [-3.5], [3.5], [10.0], [50.0]])
    rest = L.value(xs) - xs[:, 0] ** 2 - 1.5 * np.sin(2 * np.pi * xs[:, 0])
    assert np.abs(rest).max() < np.abs(L.native_values() - L.native_grid() ** 2).max() + 1
    # between nodes the spline is close to the underlying smooth recipe: compare with a 2x finer recipe-free check
    xm = 0.5 * (L.native_grid()[1:] + L.native_grid()[:-1])
    v = L.value(xm[:, None])
    assert np.abs(v - 0.5 * (L.native_values()[1:] + L.native_values()[:-1])).max() < 0.05


# ----------------------------------------------------------------------------- wide-sharp claim
def _u_trapz_1d(loss, xs, t, beta):
    """Cole-Hopf by log-domain trapezoid on a fine grid (independent of the closed form)."""
    ys = np.linspace(-6, 6, 24001)
    h = ys[1] - ys[0]
    fy = loss.value(ys[:, None])
    E = -beta * (fy[None, :] + (xs[:, None] - ys[None, :]) ** 2 / (2 * t))
    return -(logsumexp(E, axis=1) + math.log(h) + 0.5 * math.log(beta / (2 * math.pi * t))) / beta


def test_wide_sharp_landscape_and_gradient_descent():
    L = losses.get("wide-sharp")
    assert L.value([1.5]) < L.value([-1.0]) - 0.05                    # sharp well is the deeper one
    x = np.array([[1.3], [1.45], [1.5], [1.62], [1.7]])              # starts inside the sharp basin
    for _ in range(4000):
        x = x - 0.005 * L.grad(x)
    assert np.abs(x - 1.5).max() < 1e-3
    x = np.array([[-2.5], [-1.0], [0.5]])                            # and the wide basin keeps its own
    for _ in range(4000):
        x = x - 0.05 * L.grad(x)
    assert np.abs(x + 1.0).max() < 1e-3


@pytest.mark.parametrize("dim", [1, 2])
def test_wide_sharp_local_entropy_prefers_wide_well(dim):
    """Closed form: for beta = 1..10 at t = 1 the global minimiser of u is in the wide basin."""
    base = losses.get("wide-sharp", dim=dim)
    xs = np.zeros((1201, dim))
    xs[:, 0] = np.linspace(-3, 3, 1201)
    for beta in range(1, 11):
        L = losses.get("wide-sharp", dim=dim, softness=float(beta))
        u = L.exact_u(xs, 1.0, float(beta))
        assert xs[np.argmin(u), 0] < 0, beta
        # the wide-valley bonus predicts the gap between the two well minima
        pred = (base.c[0] + dim / (2 * beta) * math.log(2.0)) - (base.c[1] + dim / (2 * beta) * math.log(101.0))
        assert pred < 0
        right = xs[:, 0] > 0.25
        if abs(xs[right][np.argmin(u[right]), 0] - 1.5) < 0.1:
            # the sharp well still has its own local minimum of u (beta >= 5 in 1-D, >= 8 in 2-D):
            # the wells are separated and the bonus formula is accurate
            assert beta >= 5
            gap = u[~right].min() - u[right].min()
            assert abs(gap - pred) < 1e-3
    # the test can fail: at t = 0 (f itself) and at large beta the sharp well wins
    assert xs[np.argmin(base.value(xs)), 0] > 1
    L = losses.get("wide-sharp", dim=dim, softness=100.0)
    assert xs[np.argmin(L.exact_u(xs, 1.0, 100.0)), 0] > 1


def test_wide_sharp_default_softness_by_quadrature():
    """The default loss (softness 10) with PDE beta in 1..10: independent 1-D quadrature."""
    L = losses.get("wide-sharp")
    xs = np.linspace(-3, 3, 601)
    for beta in (1.0, 2.0, 5.0, 10.0):
        u = _u_trapz_1d(L, xs, 1.0, beta)
        assert xs[np.argmin(u)] < 0, beta
    # at beta = softness the quadrature equals the closed form
    np.testing.assert_allclose(_u_trapz_1d(L, xs, 1.0, 10.0), L.exact_u(xs[:, None], 1.0, 10.0), atol=1e-10)


# ----------------------------------------------------------------------------- compiled bodies vs independent formulas
def _f2_oracle(L, x, deriv):
    """dr-fig1's f2 from scipy's natural spline (inside) and the stated tanh extension (outside)."""
    from scipy.interpolate import CubicSpline

    xn, vn = L.native_grid(), L._f2_nodes
    sp = CubicSpline(xn, vn, bc_type="natural")
    ell = xn[1] - xn[0]
    out = sp(x, deriv)
    for e, sgn in ((xn[0], x < xn[0]), (xn[-1], x > xn[-1])):
        s1 = sp(e, 1)
        th = np.tanh((x - e) / ell)
        ext = sp(e) + s1 * ell * th if deriv == 0 else s1 * (1 - th * th)
        out = np.where(sgn, ext, out)
    return out


def _oracle(L, X):
    """Value and gradient of the built-in losses written independently in NumPy (and solvers.reference)."""
    n, x = L.name, X
    if n == "quadratic":
        return 0.5 * np.einsum("ni,ij,nj->n", x, L.A, x), x @ L.A.T
    if n == "abs":
        return np.abs(x).sum(-1), np.sign(x)
    if n == "double-well":
        g = x.copy()
        g[:, 0] = x[:, 0] ** 3 - x[:, 0]
        return 0.25 * (x[:, 0] ** 2 - 1) ** 2 + 0.5 * (x[:, 1:] ** 2).sum(-1), g
    if n in ("softmin-quadratics", "wide-sharp"):
        return R.softmin_value(x, L.a, L.m, L.c, L.softness), R.softmin_grad(x, L.a, L.m, L.c, L.softness)
    if n == "dr-fig1":
        x0 = x[:, 0]
        return (x0 ** 2 + 1.5 * np.sin(2 * np.pi * x0) + _f2_oracle(L, x0, 0),
                (2 * x0 + 3 * np.pi * np.cos(2 * np.pi * x0) + _f2_oracle(L, x0, 1))[:, None])
    if n == "rastrigin":
        return ((x * x + L.A * (1 - np.cos(2 * np.pi * x))).sum(-1) / L.scale,
                (2 * x + 2 * np.pi * L.A * np.sin(2 * np.pi * x)) / L.scale)
    if n == "cosine":
        return -np.cos(np.pi * x).sum(-1), np.pi * np.sin(np.pi * x)
    if n == "gaussian-mixture":
        return R.gaussmix_value(x, L.w, L.m, L.s), R.gaussmix_grad(x, L.w, L.m, L.s)
    raise AssertionError(n)


@pytest.mark.parametrize("name,params", VARIANTS, ids=IDS)
def test_compiled_bodies_match_independent_formulas(name, params, rng):
    """Values and gradients come from the one per-point body of each kind (deeprelax._nbloss); check them
    against formulas written independently here, and the per-point and batch forms against each other."""
    L = losses.get(name, **params)
    X = sample(L, rng, 50, pad=1.0)
    v, g = L.value(X), L.grad(X)
    vo, go = _oracle(L, X)
    assert np.all(np.abs(vo - v) <= 1e-12 * (1 + np.abs(v)))
    assert np.all(np.abs(go - g) <= 1e-12 * (1 + np.abs(g)))
    gp = np.empty(L.dim)
    for k in (0, 17):
        nb_grad_(L.nb_kind, L.nb_params, X[k], gp)
        assert np.array_equal(gp, g[k]) and nbl.nb_value(L.nb_kind, L.nb_params, X[k]) == v[k]
    assert isinstance(L.nb_kind, int) and L.nb_params.dtype == np.float64 and L.nb_params.ndim == 1


@njit
def _gd_kernel(kind, params, X, eta, steps):
    g = np.empty(X.shape[1])
    for _ in range(steps):
        for n in range(X.shape[0]):
            nb_grad_(kind, params, X[n], g)
            for j in range(X.shape[1]):
                X[n, j] -= eta * g[j]
    return X





def test_nb_twins_callable_from_njit():
    L = losses.get("double-well", dim=2)
    X = np.array([[0.5, 1.0], [-0.3, -2.0]])
    out = _gd_kernel(L.nb_kind, L.nb_params, X.copy(), 0.1, 400)
    np.testing.assert_allclose(out, [[1.0, 0.0], [-1.0, 0.0]], atol=1e-8)
    with pytest.raises(ValueError):
        nbl.nb_value(99, L.nb_params, X[0])


def test_gaussmix_quadrature_anchor():
    """gaussian-mixture exact u against an independent quadrature (beta = 1)."""
    L = losses.get("gaussian-mixture")
    for x in (-1.0, 0.3, 1.5):
        v = integrate.quad(lambda y: math.exp(-L.value([y])) * norm.pdf(x - y, 0, math.sqrt(0.05)), -8, 8,
                           points=[-1.0, 1.5], limit=400, epsrel=1e-13, epsabs=0)[0]
        assert abs(L.exact_u([x], 0.05, 1.0) + math.log(v)) < 1e-10


def test_softness_renamed_from_beta():
    """The soft-min's softness was called `beta` (easy to confuse with the inverse temperature): old name warns."""
    with pytest.warns(FutureWarning, match="softness"):
        old = losses.get("wide-sharp", beta=3.0)
    new = losses.get("wide-sharp", softness=3.0)
    assert old.softness == new.softness == 3.0 and new.params["softness"] == 3.0
    with pytest.warns(FutureWarning, match="softness"):
        assert new.beta == 3.0
    x = np.linspace(-2, 2, 9)[:, None]
    np.testing.assert_array_equal(old.value(x), new.value(x))
    with pytest.raises(TypeError, match="softness only"):
        losses.get("softmin-quadratics", softness=2.0, beta=3.0)
    assert losses.get("wide-sharp").softness == 10.0
