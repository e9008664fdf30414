"""Tests of solvers.hopf_lax: closed forms, numpy brute-force twins, orders, properties, errors."""
import math

import numpy as np
import pytest
from scipy.special import erfcx

from solvers import _envelope as env
from solvers.grid import Grid
from solvers.hopf_lax import hopf_lax


# ----------------------------------------------------------------------------- numpy twins / exact
def brute_hopf_lax(vals, grid, t):
    """O(N^2) numpy twin: min over all nodes (and periodic images) of f(y) + |x-y|^2/(2t).

    Returns u (grid.shape), the argmin position (grid.shape + (d,), unwrapped) and a
    mask of the x whose argmin is unique (second best > best + 1e-9).
    """
    X = grid.mesh().reshape(-1, grid.dim)
    fv = vals.reshape(-1)
    reach = math.sqrt(2 * t * (fv.max() - fv.min())) + 2 * max(grid.spacing)
    shifts = [[0.0] for _ in range(grid.dim)]
    for k in range(grid.dim):
        if grid.periodic[k]:
            L = grid.hi[k] - grid.lo[k]
            M = int(math.ceil(reach / L)) + 1
            shifts[k] = [m * L for m in range(-M, M + 1)]
    Ds, Ys = [], []
    for sh in np.stack(np.meshgrid(*shifts, indexing="ij"), -1).reshape(-1, grid.dim):
        Y = X + sh
        Ds.append(fv[None, :] + ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1) / (2 * t))
        Ys.append(Y)
    D = np.concatenate(Ds, 1)
    Y = np.concatenate(Ys, 0)
    j = D.argmin(1)
    srt = np.sort(D, 1)
    unique = srt[:, 1] > srt[:, 0] + 1e-9
    return srt[:, 0].reshape(grid.shape), Y[j].reshape(grid.shape + (grid.dim,)), unique.reshape(grid.shape)


def huber(z, t):
    return np.where(np.abs(z) <= t, z ** 2 / (2 * t), np.abs(z) - t / 2)


def cos_exact(x, t):
    """Hopf-Lax of -cos(pi x) for t < 1/pi^2 by Newton on the characteristics x = y + t pi sin(pi y)."""
    y = x.copy()
    for _ in range(60):
        F = y + t * np.pi * np.sin(np.pi * y) - x
        y -= F / (1 + t * np.pi ** 2 * np.cos(np.pi * y))
    return -np.cos(np.pi * y) + (x - y) ** 2 / (2 * t), y


def order(hs, errs):
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("refine", ["none", "quadratic"])
def test_l1_is_huber_1d_2d(refine):
    t = 0.45
    g1 = Grid.uniform([(-2, 2)], 161)
    r = hopf_lax(lambda x: np.abs(x).sum(-1), g1, t, refine=refine)
    x = g1.axes[0]
    assert np.abs(r.u - huber(x, t)).max() < 1e-12
    soft = np.sign(x) * np.maximum(np.abs(x) - t, 0)
    assert np.abs(r.prox[:, 0] - soft).max() < 1e-12
    assert np.abs(r.grad[:, 0] - np.clip(x / t, -1, 1)).max() < 1e-9
    g2 = Grid.uniform([(-1.5, 1.5), (-1, 1)], (61, 41))
    r2 = hopf_lax(lambda x: np.abs(x).sum(-1), g2, t, refine=refine)
    X = g2.mesh()
    assert np.abs(r2.u - huber(X, t).sum(-1)).max() < 1e-12
    assert np.abs(r2.prox - np.sign(X) * np.maximum(np.abs(X) - t, 0)).max() < 1e-12


def test_quadratic_anisotropic_2d_and_diagonal_3d():
    A = np.array([[2.0, 0.6], [0.6, 0.8]])
    t = 0.5
    M = A @ np.linalg.inv(np.eye(2) + t * A)
    f = lambda x: 0.5 * np.einsum("...i,ij,...j->...", x, A, x)
    hs, e_none, g_none = [], [], []
    for n in (21, 41, 81, 161):
        g = Grid.uniform([(-1, 1), (-1, 1)], n)
        X = g.mesh()
        ue = 0.5 * np.einsum("...i,ij,...j->...", X, M, X)
        rq = hopf_lax(f, g, t)                          # quadratic refinement is exact for quadratics
        assert np.abs(rq.u - ue).max() < 1e-12
        assert np.abs(rq.grad - X @ M.T).max() < 1e-9
        rn = hopf_lax(f, g, t, refine="none")
        hs.append(g.spacing[0])
        e_none.append(np.abs(rn.u - ue).max())
        g_none.append(np.abs(rn.grad - X @ M.T).max())
        assert np.all(rn.u >= ue - 1e-12)               # discrete min over nodes >= continuum min
    assert 1.85 < order(hs, e_none) < 2.15
    assert 0.8 < order(hs, g_none) < 1.2
    # 3-D diagonal, x^T A (I+tA)^{-1} x / 2
    a = np.array([1.0, 3.0, 0.5])
    g3 = Grid.uniform([(-1, 1), (-0.8, 0.8), (-1.2, 1.2)], (17, 15, 13))
    r3 = hopf_lax(lambda x: 0.5 * (a * x ** 2).sum(-1), g3, 0.3)
    X3 = g3.mesh()
    assert np.abs(r3.u - 0.5 * (a / (1 + 0.3 * a) * X3 ** 2).sum(-1)).max() < 1e-12
    assert np.abs(r3.prox - X3 / (1 + 0.3 * a)).max() < 1e-12


def test_min_of_quadratics():
    a = np.array([4.0, 1.0, 2.5])
    m = np.array([[-0.7, 0.2], [0.6, -0.3], [0.1, 0.9]])
    c = np.array([0.0, 0.1, 0.3])
    t = 0.35

    def f(x):
        return np.min([0.5 * a[i] * ((x - m[i]) ** 2).sum(-1) + c[i] for i in range(3)], axis=0)

    errs, hs = [], []
    for n in (21, 41, 81, 161):
        g = Grid.uniform([(-1.5, 1.5), (-1.5, 1.5)], n)
        X = g.mesh()
        vals = np.array([a[i] * ((X - m[i]) ** 2).sum(-1) / (2 * (1 + t * a[i])) + c[i] for i in range(3)])
        ue = vals.min(0)
        act = vals.argmin(0)
        srt = np.sort(vals, 0)
        clear = (srt[1] - srt[0]) > 1.5 * g.spacing[0]    # away from the switching (kink) set
        prox_e = (X + t * a[act][..., None] * m[act]) / (1 + t * a[act])[..., None]
        r = hopf_lax(f, g, t)
        if n >= 41:
            assert np.abs(r.prox - prox_e)[clear].max() < 1e-9
            assert np.abs(r.grad - (X - prox_e) / t)[clear].max() < 1e-8
        hs.append(g.spacing[0])
        errs.append(np.abs(r.u - ue).max())
        rn = hopf_lax(f, g, t, refine="none")
        assert np.abs(rn.u - ue).max() <= 0.5 * g.spacing[0] ** 2 * (1 / (2 * t) + a.max() / 2) + 1e-12
    # the only error is at the switching set, where f has a concave kink: refinement keeps it O(h^2)
    assert errs[-1] < 1e-3 and order(hs, errs) > 1.8


# ----------------------------------------------------------------------------- brute-force twins
@pytest.mark.parametrize("shape,periodic,t", [
    ((57,), False, 0.02), ((57,), True, 0.02), ((40,), True, 3.0),          # reach > period
    ((13, 11), False, 0.05), ((13, 11), (True, False), 0.05), ((12, 10), True, 2.0),
    ((7, 6, 5), False, 0.1), ((7, 6, 5), (False, True, True), 1.5),
])
def test_discrete_equals_brute_force(shape, periodic, t, rng):
    bounds = [(-1, 1), (0, 2), (-0.5, 0.7)][: len(shape)]
    g = Grid.uniform(bounds, shape, periodic=periodic)
    vals = rng.standard_normal(shape)
    r = hopf_lax(vals, g, t, refine="none")
    ub, argb, unique = brute_hopf_lax(vals, g, t)
    assert np.abs(r.u - ub).max() < 1e-12
    assert unique.mean() > 0.5
    assert np.abs(r.prox - argb)[unique].max() < 1e-9   # the composed argmin is the brute-force one
    # where it is not unique (exact ties between periodic images), ours is still a minimiser
    idx = np.rint((r.prox - np.array(g.lo)) / np.array(g.spacing)).astype(int) % np.array(g.shape)
    fy = vals[tuple(idx[..., k] for k in range(g.dim))]
    assert np.abs(fy + ((g.mesh() - r.prox) ** 2).sum(-1) / (2 * t) - ub).max() < 1e-12
    X = g.mesh()
    assert np.abs(r.grad - (X - r.prox) / t).max() < 1e-9
    # refinement never raises u, and only lowers it by a little
    rq = hopf_lax(vals, g, t)
    assert np.all(rq.u <= r.u + 1e-15)


@pytest.mark.parametrize("refine", ["none", "quadratic"])
def test_direct_1d_path_equals_general_passes(refine, rng):
    # 1-D non-periodic data use hl_line_direct; a 2-D grid whose rows are all the same runs
    # the general block kernels, and its rows must reproduce the 1-D result bit for bit
    n = 301
    vals = np.cumsum(rng.standard_normal(n)) * 0.05 + np.linspace(-1, 1, n) ** 2
    g1 = Grid.uniform([(-1, 1)], n)
    r1 = hopf_lax(vals, g1, 0.07, refine=refine)
    g2 = Grid.uniform([(0, 1), (-1, 1)], (3, n))
    r2 = hopf_lax(np.tile(vals, (3, 1)), g2, 0.07, refine=refine)
    for row in range(3):
        assert np.array_equal(r2.u[row], r1.u)
        assert np.array_equal(r2.prox[row, :, 1], r1.prox[:, 0])
        assert np.array_equal(r2.grad[row, :, 1], r1.grad[:, 0])


def test_fh_line_kernel_twin(rng):
    for m, e, n in ((30, 0, 30), (50, 10, 30)):
        gl = rng.standard_normal(m)
        a = 0.37
        v = np.empty(m, np.int64)
        z = np.empty(m + 1)
        outv = np.empty(n)
        outj = np.empty(n, np.int64)
        env.fh_line(gl, m, e, n, a, v, z, outv, outj)
        D = gl[None, :] + a * (np.arange(n)[:, None] + e - np.arange(m)[None, :]) ** 2
        assert np.abs(outv - D.min(1)).max() < 1e-12
        assert np.array_equal(outj, D.argmin(1))


def refine_twin(gl, j, xq, a):
    """numpy twin of _envelope.refine_quadratic (same ENO model, minimised on a fine sample)."""
    m = len(gl)
    best, pos = gl[j] + a * (xq - j) ** 2, float(j)
    for c in (j - 1, j):
        if c < 0 or c + 1 > m - 1:
            continue
        cands = []
        if c - 1 >= 0:
            cands.append(gl[c - 1] - 2 * gl[c] + gl[c + 1])
        if c + 2 <= m - 1:
            cands.append(gl[c] - 2 * gl[c + 1] + gl[c + 2])
        d2 = min(cands, key=abs)
        s = np.linspace(0, 1, 200001)[1:-1]
        phi = gl[c] + (gl[c + 1] - gl[c]) * s + 0.5 * d2 * s * (s - 1) + a * (xq - c - s) ** 2
        if 0.5 * d2 + a <= 0:
            continue
        k = phi.argmin()
        if 0 < k < len(s) - 1 and phi[k] < best:
            best, pos = phi[k], c + s[k]
    return best, pos


def test_refine_kernel_twin(rng):
    x = np.linspace(-1, 1, 21)
    for gl in (np.cos(2 * x) + 0.3 * x, np.abs(x - 0.013), rng.standard_normal(21)):
        for xq in (3.3, 10.0, 10.45, 17.8):
            a = 0.8
            D = gl + a * (xq - np.arange(21)) ** 2
            j = int(D.argmin())
            v, p = env.refine_quadratic(gl, 21, j, xq, a)
            vt, pt = refine_twin(gl, j, xq, a)
            assert abs(v - vt) < 1e-9 and abs(p - pt) < 2e-5


# ----------------------------------------------------------------------------- properties
@pytest.mark.parametrize("refine", ["none", "quadratic"])
def test_semiconcavity_u_le_f_monotone_in_t(refine, rng):
    # discrete: exact for any data (min of parabolas); refined: up to O(h^3) for smooth data
    # (the refinement is local to the discrete argmin, so rough data are not covered)
    g = Grid.uniform([(-1, 1), (-1, 1)], (41, 37), periodic=(True, False))
    X = g.mesh()
    vals = np.sin(3 * X[..., 0]) * np.cos(2 * X[..., 1])
    if refine == "none":
        vals = vals + 0.3 * rng.standard_normal(g.shape)
    prev = None
    for t in (0.05, 0.1, 0.2, 0.4):
        r = hopf_lax(vals, g, t, refine=refine)
        assert np.all(r.u <= vals + 1e-14)
        if prev is not None:
            assert np.all(r.u <= prev + 1e-14)
        prev = r.u
        tol = 1e-9 if refine == "none" else 0.02
        for k, h in enumerate(g.spacing):
            d2 = np.diff(r.u, 2, axis=k)
            assert d2.max() <= h * h / t * (1 + tol)
        # diagonal direction (step h0 e0 + h1 e1, |step|^2 = h0^2 + h1^2)
        dd = r.u[2:, 2:] - 2 * r.u[1:-1, 1:-1] + r.u[:-2, :-2]
        assert dd.max() <= (g.spacing[0] ** 2 + g.spacing[1] ** 2) / t * (1 + tol)


def test_orders_smooth_periodic_cos():
    t = 0.7 / np.pi ** 2
    res = {}
    for refine in ("none", "quadratic"):
        hs, eu, ep = [], [], []
        for n in (32, 64, 128, 256, 512):
            g = Grid.uniform([(-1, 1)], n, periodic=True)
            r = hopf_lax(-np.cos(np.pi * g.axes[0]), g, t, refine=refine)
            ue, ye = cos_exact(g.axes[0], t)
            hs.append(g.spacing[0])
            eu.append(np.abs(r.u - ue).max())
            ep.append(np.abs(r.prox[:, 0] - ye).max())
        res[refine] = (order(hs, eu), order(hs, ep), eu[-1])
    assert 1.8 < res["none"][0] < 2.2 and 0.85 < res["none"][1] < 1.15
    assert res["quadratic"][0] > 2.8 and res["quadratic"][1] > 1.6
    assert res["quadratic"][2] < 0.01 * res["none"][2]


def test_periodic_cos_after_kink_vs_fine_brute_force():
    # after the kink time 1/pi^2: exact by a 1-D brute force on a very fine grid
    t = 1.5 / np.pi ** 2
    n = 64
    g = Grid.uniform([(-1, 1)], n, periodic=True)
    r = hopf_lax(-np.cos(np.pi * g.axes[0]), g, t)
    y = np.linspace(-3, 3, 600001)
    x = g.axes[0]
    best = np.array([np.min(-np.cos(np.pi * y) + (xi - y) ** 2 / (2 * t)) for xi in x])
    assert np.abs(r.u - best).max() < 1e-4          # fine-grid error ~ (1e-5)^2 / t; ours O(h^3)
    rn = hopf_lax(-np.cos(np.pi * g.axes[0]), g, t, refine="none")
    assert np.abs(r.u - best).max() < 0.1 * np.abs(rn.u - best).max()


def test_refinement_not_worse_at_offnode_kinks():
    t = 0.5
    for frac in (0.1, 0.25, 0.5, 0.8):
        g = Grid.uniform([(-2, 2)], 81)
        c = frac * g.spacing[0]
        ex = huber(g.axes[0] - c, t)
        en = np.abs(hopf_lax(lambda p: np.abs(p[..., 0] - c), g, t, refine="none").u - ex).max()
        eq = np.abs(hopf_lax(lambda p: np.abs(p[..., 0] - c), g, t).u - ex).max()
        assert eq <= en + 1e-15


def test_result_fields_and_padding():
    g = Grid.uniform([(-1, 1)], 101)
    r = hopf_lax(lambda x: 3 * (x ** 2).sum(-1), g, 0.5)
    assert r.u.shape == (101,) and r.prox.shape == (101, 1) and r.grad.shape == (101, 1)
    assert r.params["refine"] == "quadratic" and r.params["pad_cells"][0] > 0
    assert r.method == "lower-envelope" and r.wall_time > 0 and r.compile_time >= 0
    assert r.grid is g and r.t == 0.5


# ----------------------------------------------------------------------------- normal CDF helpers
def test_normal_cdf_kernels_twins():
    from scipy.special import log_ndtr
    from scipy.stats import truncnorm

    for x in (20.0, 25.0, 50.0, 1e3):
        assert abs(env.erfcx_large(x) / erfcx(x) - 1) < 1e-14
    pairs = [(-1, 1), (0.1, 0.3), (2, 2.5), (5, 9), (30, 31), (-45, -40), (300, 300.5), (-0.01, 0.02),
             (1e-3, 2e-3), (8.0, 8.001), (-3, 40), (-1e3, 1e3)]
    for lo, hi in pairs:
        ref = log_ndtr(-lo) + np.log1p(-np.exp(log_ndtr(-hi) - log_ndtr(-lo))) if lo > 0 else \
            (log_ndtr(hi) + np.log1p(-np.exp(log_ndtr(lo) - log_ndtr(hi))))
        got = env.log_diff_ndtr(lo, hi)
        assert abs(got - ref) < 1e-10 * max(1, abs(ref)), (lo, hi, got, ref)
        if hi - lo < 50 and max(abs(lo), abs(hi)) < 35:
            assert abs(env.truncnorm_mean(lo, hi, got) - truncnorm.mean(lo, hi)) < 1e-9
    # far tails: E[Z | lo < Z < hi] = (1 - rho) / (R(lo) - rho R(hi)), R = Mills ratio (scipy erfcx)
    R = lambda x: erfcx(x / np.sqrt(2)) * np.sqrt(np.pi / 2)
    for lo, hi in ((40.0, 41.0), (7000.0, 7158.0), (1e4, 1e4 + 0.01), (25.0, 400.0)):
        rho = np.exp(-0.5 * (hi - lo) * (hi + lo))
        ref = (1 - rho) / (R(lo) - rho * R(hi))
        for sgn in (1, -1):
            a, b = (lo, hi) if sgn == 1 else (-hi, -lo)
            got = env.truncnorm_mean(a, b, env.log_diff_ndtr(a, b))
            assert abs(got - sgn * ref) < 1e-12 * max(1.0, abs(ref)) + 1e-13, (a, b, got, ref)


# ----------------------------------------------------------------------------- errors
def test_errors():
    g = Grid.uniform([(-1, 1)], 11)
    with pytest.raises(ValueError, match="`t` must be positive"):
        hopf_lax(np.zeros(11), g, 0.0)
    with pytest.raises(ValueError, match="`t` must be positive"):
        hopf_lax(np.zeros(11), g, -1.0)
    with pytest.raises(ValueError, match="`t` must be positive"):
        hopf_lax(np.zeros(11), g, np.inf)
    bad = np.zeros(11)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="`f` must be finite"):
        hopf_lax(bad, g, 0.1)
    with pytest.raises(ValueError, match=r"shape \(12,\).*\(11,\)"):
        hopf_lax(np.zeros(12), g, 0.1)
    with pytest.raises(ValueError, match="`f` returned values of shape"):
        hopf_lax(lambda x: np.zeros(3), g, 0.1)
    with pytest.raises(ValueError, match="`f` must be finite"), np.errstate(all="ignore"):
        hopf_lax(lambda x: np.log(x[..., 0]), g, 0.1)
    with pytest.raises(ValueError, match="`refine`"):
        hopf_lax(np.zeros(11), g, 0.1, refine="cubic")
