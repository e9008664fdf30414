"""Tests of deeprelax.stats: integrated autocorrelation time, standard errors, batch means, log-log slope."""
import numpy as np
import pytest

from deeprelax import stats


def ar1(phi, n, m, seed):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((m, n))
    x = np.empty((m, n))
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi ** 2)
    for i in range(1, n):
        x[:, i] = phi * x[:, i - 1] + e[:, i]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_tau_ar1(phi):
    x = ar1(phi, 20000, 4, seed=1)
    tau = stats.integrated_time(x)
    exact = 1 + 2 * phi / (1 - phi)
    assert abs(tau - exact) < 0.1 * exact + 0.05


def test_autocorrelation_ar1_and_white():
    rho = stats.autocorrelation(ar1(0.8, 50000, 2, seed=2))
    assert rho[0] == pytest.approx(1.0)
    np.testing.assert_allclose(rho[1:4], 0.8 ** np.arange(1, 4), atol=0.02)


def test_stderr_coverage_ar1():
    """The SE from tau covers the true mean 0 at the nominal rate (200 replicas, |z| < 2 in ~95 %)."""
    phi = 0.7
    x = ar1(phi, 4000, 200, seed=3)
    z = np.array([stats.mean_stderr(row).mean / stats.mean_stderr(row).stderr for row in x])
    frac = np.mean(np.abs(z) < 2)
    assert 0.88 < frac < 0.99
    # batch means agree with the tau-based SE within sampling error
    m, se_b = stats.batch_means(x[:20], n_batches=40)
    est = stats.mean_stderr(x[:20])
    assert 0.6 < se_b / est.stderr < 1.6


def test_loglog_slope():
    n = np.array([1e2, 1e3, 1e4, 1e5])
    s, se = stats.loglog_slope(n, 3 * n ** -0.5)
    assert s == pytest.approx(-0.5) and se < 1e-12


def test_errors():
    with pytest.raises(ValueError, match="n >= 2"):
        stats.integrated_time([1.0])
    with pytest.raises(ValueError, match="finite"):
        stats.mean_stderr([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="positive"):
        stats.loglog_slope([1, 2], [0, 1])
    with pytest.raises(ValueError, match="n_batches"):
        stats.batch_means(np.ones(10), 1)
