"""Particle dynamics: numpy twins (same noise), seeds, OU stationary variances, Entropy-SGD/Elastic-SGD limits."""
import math

import numba
import numpy as np
import pytest
from scipy import stats

from deeprelax import _dyn_kernels as K
from deeprelax import dynamics as D
from deeprelax import io as drio
from deeprelax.finite_sum import finite_sum
from deeprelax.losses import get
from solvers.errors import NonFiniteError

DW2 = get("double-well", dim=2)


# ----------------------------------------------------------------------------- numpy twins
def _noise(key, nc, block, m):
    """The normals the kernels use for ``block`` of every chain; shape (nc, m)."""
    return K.normals_block(np.uint64(key), np.arange(nc), np.array([block]), m)[0]


def _grad(loss, X, key, block, batch, replace):
    if batch is None:
        return loss.grad(X)
    idx = K.batch_block(np.uint64(key), np.arange(X.shape[0]), np.array([block]), loss.n_samples, batch, replace)[0]
    return np.stack([loss.grad_batch(X[c], idx[c]) for c in range(X.shape[0])])


def twin_sgd(loss, X0, h, n_steps, beta, scheme, key, batch=None, replace=True):
    X = X0.copy()
    nc, d = X.shape
    out = [X.copy()]
    for n in range(n_steps):
        g = _grad(loss, X, key, n, batch, replace)
        if math.isinf(beta):
            X = X - h * g
        elif scheme == "em":
            X = X - h * g + math.sqrt(2 * h / beta) * _noise(key, nc, n, d)
        else:
            X = X - h * g + math.sqrt(h / (2 * beta)) * (_noise(key, nc, n, d) + _noise(key, nc, n + 1, d))
        out.append(X.copy())
    return np.stack(out)


def twin_esgd(loss, X0, *, t, lr, ilr, L, n_steps, sig, scoping, ema, burn, mom, outer, rho, key, batch=None,
              replace=True):
    X = X0.copy()
    nc, d = X.shape
    xs, mus = [], []
    for k in range(n_steps):
        tk = t * (1 + scoping) ** (-k)
        Y, MU, M = X.copy(), X.copy(), np.zeros_like(X)
        cnt = 0
        for ell in range(L):
            g = _grad(loss, Y, key, k * (L + 1) + ell, batch, replace)
            if mom:
                M = mom * M + g
                g = g + mom * M
            Y = Y - ilr * (g + (Y - X) / tk) + sig * _noise(key, nc, k * L + ell, d)
            if ema is not None:
                MU = ema * MU + (1 - ema) * Y
            elif ell >= burn:
                cnt += 1
                MU = MU + (Y - MU) / cnt
        xs.append(X.copy())
        mus.append(MU.copy())
        if outer == "prox-grad":
            X = X - lr * _grad(loss, MU, key, k * (L + 1) + L, batch, replace)
        else:
            gx = (X - MU) / (tk if outer == "dr" else 1.0)
            if rho:
                gx = gx + rho * _grad(loss, X, key, k * (L + 1) + L, batch, replace)
            X = X - lr * gx
    xs.append(X.copy())
    return np.stack(xs), np.stack(mus)


def twin_elastic(loss, X0, *, n_rep, h, coup, crate, n_steps, beta, centre, key):
    nc, d = X0.shape
    xb = X0.copy()
    Y = np.repeat(X0[:, None, :], n_rep, axis=1)
    out = [xb.copy()]
    for n in range(n_steps):
        ybar = Y.mean(1)
        g = loss.grad(Y)
        Y = Y - h * (g + coup * (Y - xb[:, None, :]))
        if not math.isinf(beta):
            Y = Y + math.sqrt(2 * h / beta) * _noise(key, nc, n, n_rep * d).reshape(nc, n_rep, d)
        if centre == "average":
            xb = Y.mean(1)
        else:
            xb = xb + h * crate * coup * (n_rep if centre == "easgd" else 1) * (ybar - xb)
        out.append(xb.copy())
    return np.stack(out), Y


def twin_parle(loss, X0, *, n_rep, L, nb, n_epochs, lr, gamma, rho, mom, ema, gcap, rcap, key):
    nc, d = X0.shape
    r0 = rho * L * n_rep
    growth = 1 + 0.5 / nb
    X = np.repeat(X0[:, None, :], n_rep, axis=1)
    Y, Z = X.copy(), X.copy()
    MY, MX = np.zeros_like(X), np.zeros_like(X)
    t = 0
    out = [X0.copy()]
    for e in range(n_epochs):
        lre = lr * 0.1 ** e
        for s in range(nb):
            for ell in range(L):
                gk = min(gamma * growth ** (t // L), gcap)
                dd = loss.grad(Y) + gk * (Y - X)
                MY = mom * MY + dd
                dd = dd + MY
                Y = Y - lre * dd
                Z = ema * Z + (1 - ema) * Y
                t += 1
            rk = min(r0 * growth ** (t // L), rcap)
            xb = Z.mean(1)
            dd = (X - Z) + rk * (X - xb[:, None, :])
            MX = mom * MX + dd
            dd = dd + MX
            Y = Y - lre * dd
            X = Y.copy()
            out.append(X.mean(1))
    return np.stack(out), X


# ----------------------------------------------------------------------------- kernel = twin
@pytest.mark.parametrize("scheme", ["em", "lm"])
@pytest.mark.parametrize("beta", [3.0, np.inf])
def test_sgd_matches_numpy_twin(scheme, beta):
    X0 = np.random.default_rng(1).normal(size=(7, 2))
    r = D.sgd(DW2, X0, lr=0.05, n_steps=40, beta=beta, scheme=scheme, rng=11, save_every=1)
    ref = twin_sgd(DW2, X0, 0.05, 40, beta, scheme, r.seed["key"])
    np.testing.assert_allclose(r.xs, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(r.x, r.xs[-1])
    assert r.xs.shape == (41, 7, 2) and r.steps[-1] == 40
    np.testing.assert_allclose(r.ts, 0.05 * np.arange(41))


@pytest.mark.parametrize("replace", [True, False])
def test_sgd_minibatch_matches_numpy_twin(replace):
    loss = finite_sum("logistic", n_samples=40, dim=3, seed=3, lam=0.1)
    X0 = np.random.default_rng(2).normal(size=(4, 3))
    r = D.sgd(loss, X0, lr=0.2, n_steps=15, beta=20.0, rng=5, batch=8, replace=replace, save_every=1)
    ref = twin_sgd(loss, X0, 0.2, 15, 20.0, "em", r.seed["key"], batch=8, replace=replace)
    np.testing.assert_allclose(r.xs, ref, rtol=1e-12, atol=1e-12)


def test_sgld_conventions():
    X0 = np.zeros((3, 2)) + 0.3
    beta = 4.0
    a = D.sgld(DW2, X0, lr=0.02, n_steps=30, beta=beta, rng=1, save_every=1)
    np.testing.assert_allclose(a.xs, twin_sgd(DW2, X0, 0.02, 30, beta, "em", a.seed["key"]), rtol=1e-12, atol=1e-12)
    # Welling-Teh: x -= (eps/2) beta g + sqrt(eps) xi  ==  EM with h = beta eps / 2
    w = D.sgld(DW2, X0, lr=0.01, n_steps=30, beta=beta, convention="welling-teh", rng=1, save_every=1)
    np.testing.assert_allclose(w.xs, a.xs, rtol=1e-12, atol=1e-12)
    dec = D.sgld(DW2, X0, lr=0.02, n_steps=30, beta=beta, decay=(10.0, 0.55), rng=1)
    np.testing.assert_allclose(dec.schedule["h"], 0.02 * (1 + np.arange(30) / 10.0) ** -0.55)
    assert dec.ts[-1] == pytest.approx(dec.schedule["h"].sum())


@pytest.mark.parametrize("case", ["dr-ema", "dr-mean", "code", "prox-grad", "rho-scoping"])
def test_entropy_sgd_matches_numpy_twin(case):
    X0 = np.random.default_rng(3).normal(size=(5, 2))
    kw = dict(t=0.4, lr=0.3, inner_lr=0.05, L=6, n_steps=7)
    tw = dict(t=0.4, lr=0.3, ilr=0.05, L=6, n_steps=7, scoping=0.0, ema=0.75, burn=0, mom=0.0, outer="dr", rho=0.0)
    if case == "dr-ema":
        r = D.entropy_sgd(DW2, X0, beta=5.0, rng=2, save_every=1, **kw)
        tw.update(sig=math.sqrt(2 * 0.05 / 5.0))
    elif case == "dr-mean":
        r = D.entropy_sgd(DW2, X0, beta=5.0, ema=None, burn_in=2, rng=2, save_every=1, **kw)
        tw.update(sig=math.sqrt(2 * 0.05 / 5.0), ema=None, burn=2)
    elif case == "code":
        r = D.entropy_sgd(DW2, X0, rng=2, save_every=1, scoping=1e-2, **kw,
                          **{k: v for k, v in D.ESGD_CODE.items() if k != "inner_lr"})
        tw.update(sig=1e-4 * math.sqrt(2 * 0.05), mom=0.9, outer="code", scoping=1e-2)
    elif case == "prox-grad":
        r = D.hj_prox(DW2, X0, outer="prox-grad", save_every=1, **kw)
        tw.update(sig=0.0, ema=0.0, outer="prox-grad")
    else:
        r = D.entropy_sgd(DW2, X0, beta=5.0, rho=0.5, scoping=0.1, rng=2, save_every=1, **kw)
        tw.update(sig=math.sqrt(2 * 0.05 / 5.0), rho=0.5, scoping=0.1)
    xs, mus = twin_esgd(DW2, X0, key=r.seed["key"], **tw)
    np.testing.assert_allclose(r.xs, xs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.mus[:-1], mus, rtol=1e-12, atol=1e-12)
    assert np.isnan(r.mus[-1]).all()


def test_entropy_sgd_minibatch_matches_numpy_twin():
    loss = finite_sum("least-squares", n_samples=30, dim=2, seed=4)
    X0 = np.zeros((3, 2))
    r = D.entropy_sgd(loss, X0, t=0.5, beta=50.0, lr=0.5, inner_lr=0.05, L=4, n_steps=5, rho=0.2, rng=8,
                      batch=5, replace=False, save_every=1)
    xs, mus = twin_esgd(loss, X0, t=0.5, lr=0.5, ilr=0.05, L=4, n_steps=5, sig=math.sqrt(2 * 0.05 / 50),
                        scoping=0.0, ema=0.75, burn=0, mom=0.0, outer="dr", rho=0.2, key=r.seed["key"], batch=5,
                        replace=False)
    np.testing.assert_allclose(r.xs, xs, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("centre", ["flow", "easgd", "average"])
def test_elastic_matches_numpy_twin(centre):
    X0 = np.random.default_rng(4).normal(size=(3, 2))
    r = D.elastic_sgd(DW2, X0, n_replicas=5, t=0.5, lr=0.02, n_steps=25, beta=8.0, centre=centre, centre_rate=0.5,
                      rng=3, save_every=1)
    xs, Y = twin_elastic(DW2, X0, n_rep=5, h=0.02, coup=2.0, crate=0.5, n_steps=25, beta=8.0, centre=centre,
                         key=r.seed["key"])
    np.testing.assert_allclose(r.xs, xs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.replicas, Y, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_parle_matches_numpy_twin():
    X0 = np.random.default_rng(5).normal(size=(2, 2))
    r = D.parle(DW2, X0, n_replicas=3, nb=4, n_epochs=2, L=3, lr=0.1, gamma=0.3, rho=0.05, gamma_cap=0.35,
                rho_cap=0.6, save_every=1)
    xs, X = twin_parle(DW2, X0, n_rep=3, L=3, nb=4, n_epochs=2, lr=0.1, gamma=0.3, rho=0.05, mom=0.9, ema=0.75,
                       gcap=0.35, rcap=0.6, key=r.seed["key"])
    np.testing.assert_allclose(r.xs, xs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.replicas, X, rtol=1e-12, atol=1e-12)
    # schedule: growth (1 + 0.5/nb)^(t // L) with the caps, rho normalised by L n
    k = np.arange(1, 9)
    np.testing.assert_allclose(r.schedule["rho"], np.minimum(0.05 * 3 * 3 * 1.125 ** k, 0.6))
    np.testing.assert_allclose(r.schedule["gamma"], np.minimum(0.3 * 1.125 ** k, 0.35))
    np.testing.assert_allclose(r.schedule["lr"], [0.1, 0.01])


# ----------------------------------------------------------------------------- RNG and reproducibility
def test_rng_bits_match_splitmix_reference():
    """The uint64 hash equals a pure-Python SplitMix64 finaliser (so the stream is documented exactly)."""
    M = (1 << 64) - 1

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        return z ^ (z >> 31)

    G, G2 = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03
    master, chain, stream = 0x1234_5678_9ABC_DEF0, 7, 1
    key = mix(master ^ mix((G * (chain + 1) + G2 * stream) & M))
    ctr = np.array([0, 1, 5, 10 ** 12])
    want = [(((mix(key ^ mix((G * (n + 1)) & M)) >> 11) + 1) * 2.0 ** -53) for n in ctr.tolist()]
    got = K.uniform_block(np.uint64(master), chain, stream, ctr)
    np.testing.assert_array_equal(got, want)


def test_normals_are_standard_normal():
    z = K.normals_block(np.uint64(99), np.arange(8), np.arange(50000), 2).ravel()
    n = z.size
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.var() - 1) < 4 * math.sqrt(2 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # tail beyond the ziggurat base r = 3.654
    p_tail = 2 * stats.norm.sf(3.6541528853610088)
    assert abs((np.abs(z) > 3.6541528853610088).mean() - p_tail) < 5 * math.sqrt(p_tail / n)
    # different chains and blocks are uncorrelated
    zz = K.normals_block(np.uint64(99), np.arange(2), np.arange(50000), 1)[:, :, 0]
    assert abs(np.corrcoef(zz[:, 0], zz[:, 1])[0, 1]) < 4 / math.sqrt(50000)
    assert abs(np.corrcoef(zz[:-1, 0], zz[1:, 0])[0, 1]) < 4 / math.sqrt(50000)


@pytest.mark.slow
def test_seed_reproducibility_and_threads():
    kw = dict(lr=0.05, n_steps=50, beta=2.0, save_every=10)
    X0 = np.zeros((64, 2))
    a = D.sgd(DW2, X0, rng=np.random.default_rng(7), parallel=True, **kw)
    b = D.sgd(DW2, X0, rng=np.random.default_rng(7), parallel=False, **kw)
    c = D.sgd(DW2, X0, rng=np.random.default_rng(8), parallel=True, **kw)
    np.testing.assert_array_equal(a.xs, b.xs)
    assert not np.array_equal(a.x, c.x)
    n0 = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        d1 = D.sgd(DW2, X0, rng=np.random.default_rng(7), parallel=True, **kw)
    finally:
        numba.set_num_threads(n0)
    np.testing.assert_array_equal(a.xs, d1.xs)
    # a chain does not depend on how many chains run
    e = D.sgd(DW2, X0[:5], rng=np.random.default_rng(7), **kw)
    np.testing.assert_array_equal(e.xs, a.xs[:, :5])
    # the same for Entropy-SGD and Elastic-SGD (threaded vs serial)
    for fn, extra in ((D.entropy_sgd, dict(t=0.3, beta=3.0, lr=0.2, inner_lr=0.02, L=5, n_steps=6)),
                      (D.elastic_sgd, dict(n_replicas=3, t=0.3, beta=3.0, lr=0.02, n_steps=20))):
        p = fn(DW2, X0, rng=3, parallel=True, **extra)
        s = fn(DW2, X0, rng=3, parallel=False, **extra)
        np.testing.assert_array_equal(p.xs, s.xs)


# ----------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("scheme", ["em", "lm"])
def test_ou_stationary_variance(scheme):
    """OU f = k x^2/2: EM variance 1/(beta k (1 - h k/2)), LM exactly 1/(beta k) (numerics.md §D)."""
    k, beta, h = 1.0, 2.0, 0.2
    loss = get("quadratic", A=k, dim=1)
    r = D.sgd(loss, np.zeros(1), lr=h, n_steps=700, beta=beta, scheme=scheme, rng=2024, n_chains=20000,
              save_every=50)
    samples = r.xs[4:, :, 0].ravel()               # after 200 steps (0.8^200 ~ 1e-20); rows 50 steps apart
    var = samples.var()
    se = var * math.sqrt(2.0 / (samples.size - 1))
    exact = 1 / (beta * k * (1 - h * k / 2)) if scheme == "em" else 1 / (beta * k)
    other = 1 / (beta * k) if scheme == "em" else 1 / (beta * k * (1 - h * k / 2))
    assert abs(var - exact) < 3 * se, (var, exact, se)
    assert abs(var - other) > 10 * se
    assert abs(samples.mean()) < 3 * math.sqrt(var / samples.size)


def test_entropy_sgd_zero_temperature_is_moreau_gradient_descent():
    """beta = 1e12 on f = a|x|^2/2: x -> x - eta grad u, grad u = a x/(1 + t a)."""
    a, t, eta = 2.0, 0.5, 0.3
    loss = get("quadratic", A=a, dim=2)
    x0 = np.array([[1.0, -0.5], [0.3, 2.0]])
    r = D.entropy_sgd(loss, x0, t=t, beta=1e12, lr=eta, inner_lr=0.1, L=200, n_steps=20, ema=None, burn_in=150,
                      rng=0, save_every=1)
    fac = (1 - eta * a / (1 + t * a)) ** np.arange(21)
    np.testing.assert_allclose(r.xs, fac[:, None, None] * x0, atol=2e-6)
    # HJ-prox (beta = inf exactly) with the last inner iterate
    h = D.hj_prox(loss, x0, t=t, lr=eta, inner_lr=0.1, L=200, n_steps=20, save_every=1)
    np.testing.assert_allclose(h.xs, fac[:, None, None] * x0, atol=1e-12)
    np.testing.assert_allclose(h.ts, eta * np.arange(21))


def test_entropy_sgd_code_outer_step_is_proximal_averaging():
    """outer='code' with lr = 1 moves x to mu (paper-spec §2.1: eta = t gives x <- <y>)."""
    loss = get("quadratic", A=1.0, dim=1)
    r = D.entropy_sgd(loss, np.ones((1, 1)), t=1.0, lr=1.0, inner_lr=0.1, L=300, n_steps=3,
                      **{k: v for k, v in D.ESGD_CODE.items() if k not in ("inner_lr", "nesterov")},
                      nesterov=False, rng=0, save_every=1)
    np.testing.assert_allclose(r.xs[1:, 0, 0], 0.5 ** np.arange(1, 4), rtol=1e-3)
    np.testing.assert_allclose(r.xs[1], r.mus[0], rtol=1e-15, atol=1e-15)


@pytest.mark.slow
def test_elastic_centre_follows_relaxed_flow():
    """Quadratic: with slow centre (time-scale separation) the centre decays like exp(-a c/(a+c) s)."""
    a, t, beta = 1.0, 0.5, 10.0
    loss = get("quadratic", A=a, dim=1)
    rate = a / (1 + t * a)
    errs = []
    for r_c in (0.2, 0.05):
        h = 0.01
        T = 1.0
        n = int(round(T / (h * r_c)))
        res = D.elastic_sgd(loss, np.ones(1), n_replicas=16, t=t, lr=h, n_steps=n, beta=beta, centre_rate=r_c,
                            rng=1, n_chains=64)
        assert res.ts[-1] == pytest.approx(T)
        m = res.x[:, 0].mean()
        se = res.x[:, 0].std() / 8
        errs.append(abs(m - math.exp(-rate * T)))
        assert se < 0.01
    assert errs[1] < 0.5 * errs[0]
    assert errs[1] < 0.02
    # without separation (centre_rate = 1, beta = inf) the centre solves the linear system
    # x' = c (y - x), y' = -a y - c (y - x): slower than the relaxed flow (documented)
    from scipy.linalg import expm
    c = 1 / t
    M = np.array([[-c, c], [c, -(a + c)]])
    exact = (expm(M) @ np.ones(2))[0]
    res = D.elastic_sgd(loss, np.ones(1), n_replicas=4, t=t, lr=1e-3, n_steps=1000, beta=np.inf)
    assert abs(res.x[0, 0] - exact) < 5e-3
    assert res.x[0, 0] - math.exp(-rate) > 0.1


# ----------------------------------------------------------------------------- I/O and errors
def test_trajectory_hdf5_roundtrip(tmp_path):
    r = D.entropy_sgd(DW2, np.zeros((3, 2)), t=0.3, beta=2.0, lr=0.1, inner_lr=0.02, L=3, n_steps=4, rng=1,
                      save_every=2)
    p = drio.save(r, tmp_path / "traj.h5")
    q = drio.load(p)
    assert type(q) is D.Trajectory
    np.testing.assert_array_equal(q.xs, r.xs)
    np.testing.assert_array_equal(q.mus, r.mus)
    np.testing.assert_array_equal(q.schedule["t"], r.schedule["t"])
    assert q.seed == r.seed and q.params["ema"] == 0.75 and q.replicas is None
    e = D.elastic_sgd(DW2, np.zeros(2), n_replicas=2, t=1.0, lr=0.1, n_steps=3)
    np.testing.assert_array_equal(drio.load(drio.save(e, tmp_path / "e.h5")).replicas, e.replicas)


def test_bad_input_messages():
    with pytest.raises(ValueError, match="`lr` must be finite and > 0"):
        D.sgd(DW2, np.zeros(2), lr=-1.0, n_steps=3)
    with pytest.raises(ValueError, match=r"`x0` must have shape \(2,\)"):
        D.sgd(DW2, np.zeros(3), lr=0.1, n_steps=3)
    with pytest.raises(ValueError, match="`batch` needs a finite-sum loss"):
        D.sgd(DW2, np.zeros(2), lr=0.1, n_steps=3, batch=4, rng=0)
    with pytest.raises(TypeError, match="`rng` is required"):
        D.sgd(DW2, np.zeros(2), lr=0.1, n_steps=3, beta=1.0)
    with pytest.raises(ValueError, match="`beta` must be None with noise='code'"):
        D.entropy_sgd(DW2, np.zeros(2), t=1, lr=1, inner_lr=0.1, L=2, n_steps=2, beta=1.0, noise="code", rng=0)
    with pytest.raises(ValueError, match="`beta` is required"):
        D.entropy_sgd(DW2, np.zeros(2), t=1, lr=1, inner_lr=0.1, L=2, n_steps=2, rng=0)
    with pytest.raises(ValueError, match="exactly one of `t`"):
        D.elastic_sgd(DW2, np.zeros(2), n_replicas=2, lr=0.1, n_steps=2)
    with pytest.raises(ValueError, match="`scheme` must be"):
        D.sgd(DW2, np.zeros(2), lr=0.1, n_steps=3, scheme="rk4")


def test_nonfinite_stops_with_message():
    loss = get("quadratic", A=1.0, dim=1)
    with pytest.raises(NonFiniteError, match="chain 0 became non-finite at step"):
        D.sgd(loss, np.ones(1), lr=3.0, n_steps=5000)
