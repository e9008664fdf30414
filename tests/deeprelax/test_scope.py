"""Entropy-SGD scope/noise <-> DR (t, beta), with the code's inner Nesterov momentum (issue 16 §2)."""
import math

import numpy as np
import pytest
from scipy import linalg

import deeprelax as dr
from deeprelax import dynamics as D
from deeprelax.losses import get
from deeprelax.scope import beta_to_noise, noise_to_beta, scope_to_time, time_to_scope


def test_converters_values_inverses_and_errors():
    assert scope_to_time(4.0) == 0.25 and time_to_scope(0.25) == 4.0
    assert scope_to_time(1.0, momentum=0.9) == pytest.approx(10.0)
    assert time_to_scope(10.0, momentum=0.9) == pytest.approx(1.0)
    assert noise_to_beta(1e-4) == pytest.approx(1e8)
    assert noise_to_beta(1e-4, momentum=0.9) == pytest.approx(1e9)
    assert beta_to_noise(noise_to_beta(0.3, momentum=0.5), momentum=0.5) == pytest.approx(0.3)
    g = np.array([0.1, 2.0, 30.0])
    np.testing.assert_allclose(time_to_scope(scope_to_time(g, momentum=0.9), momentum=0.9), g)
    # paper-spec §7.20 bookkeeping: CIFAR scope 1.494 -> t = 0.669 plain, 6.69 with the code's momentum
    ge = 0.03 * 1.001 ** 3910
    assert scope_to_time(ge) == pytest.approx(0.669, abs=1e-3)
    assert scope_to_time(ge, momentum=0.9) == pytest.approx(6.69, abs=1e-2)
    assert dr.noise_to_beta is noise_to_beta and dr.scope_to_time is scope_to_time
    for bad in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="gamma_e"):
            scope_to_time(bad)
        with pytest.raises(ValueError, match="epsilon"):
            noise_to_beta(bad)
    with pytest.raises(ValueError, match="momentum"):
        time_to_scope(1.0, momentum=1.0)
    with pytest.raises(ValueError, match="momentum"):
        noise_to_beta(1.0, momentum=-0.1)


def _exact_discrete(a, x, t, h, mom, sig):
    """Stationary mean and covariance of the inner loop on f = a y^2/2 (state (y, m), linear AR(1))."""
    M = np.array([[1.0 - h * (a * (1.0 + mom) + 1.0 / t), -h * mom ** 2], [a, mom]])
    c = np.array([h * x / t, 0.0])
    mean = np.linalg.solve(np.eye(2) - M, c)
    cov = linalg.solve_discrete_lyapunov(M, np.diag([sig ** 2, 0.0]))
    return mean[0], cov[0, 0]


def test_code_mode_with_nesterov_samples_the_momentum_corrected_measure():
    """ESGD_CODE flags, Nesterov ON: the inner loop samples exp(-[f/(1-m) + gamma|y-x|^2/2]/eps^2),
    i.e. the DR measure at t = scope_to_time(gamma, momentum=m), beta = noise_to_beta(eps, momentum=m)."""
    a, x, gamma, eps, mom, h = 1.0, 2.0, 1.0, 0.1, 0.9, 0.002
    flags = {**D.ESGD_CODE, "inner_lr": h, "epsilon": eps, "ema": 0.0}     # ema=0: mu = last inner iterate
    assert flags["nesterov"] and flags["noise"] == "code"
    n = 4000
    r = D.entropy_sgd(get("quadratic", A=a, dim=1), np.full((n, 1), x), t=1.0 / gamma, lr=1.0, L=3000, n_steps=1,
                      rng=3, save_every=1, **flags)
    y = r.mus[0, :, 0]                                   # one stationary draw per chain (independent chains)
    t_eff = scope_to_time(gamma, momentum=mom)
    b_eff = noise_to_beta(eps, momentum=mom)
    assert r.params["t_eff"] == pytest.approx(t_eff) and r.params["beta_eff"] == pytest.approx(b_eff)
    # continuum target: Gaussian with mean x/(1 + a t_eff) = 2/11 and variance 1/(b_eff (a + 1/t_eff))
    m_c, v_c = x / (1.0 + a * t_eff), 1.0 / (b_eff * (a + 1.0 / t_eff))
    assert m_c == pytest.approx(0.1818, abs=1e-4)
    # exact stationary law of the discrete inner loop (same flags): mean equals the continuum for every h,
    # the variance tends to it at O(eta'/(1-m))
    m_h, v_h = _exact_discrete(a, x, 1.0 / gamma, h, mom, eps * math.sqrt(2 * h))
    assert m_h == pytest.approx(m_c, rel=1e-12)
    hs = (4 * h, 2 * h, h, 1e-5)
    devs = [abs(_exact_discrete(a, x, 1.0 / gamma, hh, mom, eps * math.sqrt(2 * hh))[1] / v_c - 1) for hh in hs]
    assert 1.8 < devs[0] / devs[1] < 2.2 and 1.8 < devs[1] / devs[2] < 2.2 and devs[3] < 1e-3   # O(eta'), -> 0
    # Monte Carlo of the kernel against the exact discrete law (z-tests)
    se_m = math.sqrt(v_h / n)
    assert abs(y.mean() - m_h) < 4 * se_m
    v = y.var(ddof=1)
    assert abs(v - v_h) < 4 * v_h * math.sqrt(2.0 / (n - 1))
    # the plain mapping (t = 1/gamma, beta = 1/eps^2) is far off: mean 1.0, variance 5e-3
    assert abs(y.mean() - x / (1.0 + a / gamma)) > 100 * se_m
    assert v < 0.25 * 1.0 / ((1 / eps ** 2) * (a + gamma))
