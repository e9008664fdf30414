"""Unit tests of the HJ finite-difference building blocks: kernels vs NumPy twins, ghosts, heat step, registry."""
import numpy as np
import pytest
from scipy.linalg import expm

from solvers import _hj_kernels as K
from solvers.boundary import fill_ghosts, interior, pad_array
from solvers.errors import SchemeError
from solvers.hj import heat_semigroup
from solvers.schemes import (SCHEMES, Scheme, get_scheme, max_slopes_numpy, numerical_hamiltonian,
                             one_sided, stage_numpy)

SHAPES = {1: (23,), 2: (9, 12), 3: (7, 6, 8)}


def _padded(rng, shape, g, periodic):
    V = pad_array(rng.standard_normal(shape), g)
    return fill_ghosts(V, g, periodic)


@pytest.mark.slow
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(SCHEMES))
@pytest.mark.parametrize("periodic", [True, False])
def test_stage_kernel_matches_numpy_twin(rng, d, name, periodic):
    s = SCHEMES[name]
    g = s.ghost
    per = (periodic,) * d
    V = _padded(rng, SHAPES[d], g, per)
    W = _padded(rng, SHAPES[d], g, per)
    h = tuple(0.1 + 0.03 * k for k in range(d))
    for a, b, nu in [(0.0, 1.0, 0.0), (0.75, 0.25, 0.4), (1.0 / 3.0, 2.0 / 3.0, 1e-3)]:
        ref = stage_numpy(V, W, a, b, 0.013, g, h, s, nu)
        for par in (False, True):
            O = np.full_like(V, np.nan)
            alpha, finite = K.stage(V, W, O, g, h, nu, s.deriv_code, s.ham_code, s.laplacian_order, a, b, 0.013, par)
            np.testing.assert_allclose(interior(O, g), ref, rtol=0, atol=1e-13 * max(1.0, np.abs(ref).max()))
            # the fused CFL slopes of the input equal the separate reduction
            assert finite
            np.testing.assert_allclose(alpha, max_slopes_numpy(V, g, h), rtol=1e-14)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_slope_kernel_matches_numpy_twin(rng, d):
    g = 3
    per = (False,) * d
    V = _padded(rng, SHAPES[d], g, per)
    h = tuple(0.2 + 0.1 * k for k in range(d))
    ref = max_slopes_numpy(V, g, h)
    for par in (False, True):
        alpha, finite = K.max_slopes(V, g, h, par)
        assert finite
        np.testing.assert_allclose(alpha, ref, rtol=1e-14)
    for bad in (np.nan, np.inf, -np.inf):
        V[(g + 1,) * d] = bad
        assert not K.max_slopes(V, g, h, False)[1]
        assert not K.max_slopes(V, g, h, True)[1]
        assert not K.stage(V, V, V.copy(), g, h, 0.0, 2, 0, 4, 0.0, 1.0, 0.01, False)[1]
        assert not K.stage(V, V, V.copy(), g, h, 0.0, 2, 0, 4, 0.0, 1.0, 0.01, True)[1]


def test_one_sided_derivatives_exact_on_polynomials():
    # first order is exact on lines, ENO2 on quadratics, WENO5 (smooth data, eps small) nearly on quartics
    x = np.linspace(-1.0, 1.0, 41)
    h = x[1] - x[0]
    g = 3
    core = slice(g, -g)
    for deriv, p, tol in [("first", lambda z: 3 * z + 1, 1e-12), ("eno2", lambda z: 2 * z ** 2 - z, 1e-11),
                          ("weno5", lambda z: 0.3 * z ** 4 + z ** 3 - z, 1e-5)]:
        V = p(x)
        dp = (p(x + 1e-6) - p(x - 1e-6)) / 2e-6
        pm, pp = one_sided(V, g, 0, h, deriv)
        np.testing.assert_allclose(pm, dp[core], atol=tol)
        np.testing.assert_allclose(pp, dp[core], atol=tol)


def test_hamiltonians_and_upwinding():
    pm = np.array([1.0, -1.0, 1.0, -2.0, 0.5])
    pp = np.array([2.0, 1.0, -3.0, -1.0, 0.5])
    god = numerical_hamiltonian(pm, pp, "godunov")
    # rightward flow uses p^-, expansion gives 0, concave kink takes the larger |p|, leftward flow uses p^+
    np.testing.assert_allclose(god, [0.5, 0.0, 4.5, 0.5, 0.125])
    np.testing.assert_allclose(numerical_hamiltonian(pm, pp, "rouy_tourin"), god, atol=0)
    eo = numerical_hamiltonian(pm, pp, "engquist_osher")
    np.testing.assert_allclose(eo, [0.5, 0.0, 5.0, 0.5, 0.125])
    # consistency: h(p, p) = p^2/2 for every flux
    p = np.linspace(-3, 3, 13)
    for name in ("godunov", "rouy_tourin", "lax_friedrichs", "engquist_osher"):
        np.testing.assert_allclose(numerical_hamiltonian(p, p, name), 0.5 * p * p, atol=1e-15)


@pytest.mark.parametrize("periodic", [True, False])
def test_fill_ghosts(periodic):
    u = np.arange(5.0) ** 2
    U = fill_ghosts(pad_array(u, 3), 3, (periodic,))
    if periodic:
        np.testing.assert_array_equal(U[:3], u[-3:])
        np.testing.assert_array_equal(U[-3:], u[:3])
    else:
        np.testing.assert_array_equal(U[:3], [0 - 3 * 1, 0 - 2 * 1, 0 - 1])
        np.testing.assert_array_equal(U[-3:], [16 + 7, 16 + 14, 16 + 21])
    # 2-D: the axis-1 ghosts of an affine function are exact
    a = np.add.outer(np.arange(4.0), 2 * np.arange(6.0))
    A = fill_ghosts(pad_array(a, 2), 2, (False, False))
    jj, ii = np.meshgrid(np.arange(-2, 8), np.arange(-2, 6))
    np.testing.assert_allclose(A, ii + 2 * jj)


def _lap_matrix(n, h, periodic):
    L = (np.diag(-2.0 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)) / h ** 2
    if periodic:
        L[0, -1] = L[-1, 0] = 1.0 / h ** 2
    else:  # linear extrapolation ghosts: zero second difference at the end nodes
        L[0, :] = 0.0
        L[-1, :] = 0.0
    return L


@pytest.mark.parametrize("periodic", [True, False])
def test_heat_semigroup_is_exact_matrix_exponential(rng, periodic):
    n0, n1, h0, h1, tau = 12, 9, 0.3, 0.2, 0.05
    u = rng.standard_normal((n0, n1))
    got = heat_semigroup(u, (h0, h1), (periodic, periodic), tau, 2)
    E0 = expm(tau * _lap_matrix(n0, h0, periodic))
    E1 = expm(tau * _lap_matrix(n1, h1, periodic))
    np.testing.assert_allclose(got, E0 @ u @ E1.T, atol=1e-12)
    # the 3-point semigroup has a non-negative kernel: maximum principle
    assert got.max() <= u.max() + 1e-12 and got.min() >= u.min() - 1e-12


def test_heat_semigroup_fourth_order_symbol(rng):
    n, h, tau = 16, 0.25, 0.03
    L4 = np.zeros((n, n))
    for off, c in [(-2, -1), (-1, 16), (0, -30), (1, 16), (2, -1)]:
        for i in range(n):
            L4[i, (i + off) % n] += c / (12 * h * h)
    u = rng.standard_normal(n)
    np.testing.assert_allclose(heat_semigroup(u, (h,), (True,), tau, 4), expm(tau * L4) @ u, atol=1e-12)


def test_registry():
    assert get_scheme("WENO5") is SCHEMES["weno5"]
    assert {s.order for s in SCHEMES.values()} == {1, 2, 5}
    assert SCHEMES["weno5"].ghost == 3 and SCHEMES["godunov"].ghost == 1 and SCHEMES["eno2"].ghost == 2
    custom = Scheme("llf_eno2", 2, "eno2", "lax_friedrichs", "rk3", 2)
    assert get_scheme(custom) is custom
    with pytest.raises(SchemeError, match="godunov.*weno5|lax_friedrichs"):
        get_scheme("upwind9")
    with pytest.raises(SchemeError, match="hamiltonian"):
        Scheme("bad", 1, "first", "roe", "euler", 2)


def test_rouy_tourin_equals_godunov_bitwise(rng):
    # for H = p^2/2 the literal figure-script form min(0, min(-p^-, p^+))^2 is the Godunov flux exactly
    pm, pp = rng.standard_normal((2, 10000)) * 10.0 ** rng.uniform(-5, 5, (2, 10000))
    assert np.array_equal(numerical_hamiltonian(pm, pp, "rouy_tourin"), numerical_hamiltonian(pm, pp, "godunov"))
    g = 1
    V = _padded(rng, (40, 30), g, (True, False))
    outs = []
    for name in ("rouy_tourin", "godunov"):
        s = SCHEMES[name]
        O = np.zeros_like(V)
        K.stage(V, V, O, g, (0.1, 0.2), 0.01, s.deriv_code, s.ham_code, 2, 0.0, 1.0, 0.01, False)
        outs.append(O)
    assert np.array_equal(outs[0], outs[1])


def test_kernel_dispatch_checks_ghost_width(rng):
    V = _padded(rng, (10,), 2, (True,))
    with pytest.raises(ValueError, match="ghost width"):
        K.stage(V, V, V.copy(), 2, (0.1,), 0.0, 0, 0, 2, 0.0, 1.0, 0.01)
