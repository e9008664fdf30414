"""The counter-based generator of deeprelax._rng: statistics, independence, and the fast block path.

Every statistic below is compared with its standard error under the null hypothesis (exact normal or
uniform, independent draws).  Thresholds are 5 standard errors for moments and correlations and a
p-value of 1e-4 for the KS and chi-square tests; the seeds are fixed.  Run over 20 seeds when written
(all the statistics below, 180 p-values): largest |z-score| 2.8, smallest p-value 0.004, as expected
of a correct generator.
"""
import math

import numpy as np
import pytest
from scipy import stats

from deeprelax import _rng as R

M = 8
CHAINS = np.arange(2_000, dtype=np.int64)
BLOCKS = np.arange(125, dtype=np.int64)          # 2000 chains x 125 blocks x 8 = 2e6 normals


def _normals(seed, chains=CHAINS, blocks=BLOCKS, m=M):
    return R.normals_block(np.uint64(seed), chains, blocks, m)     # (blocks, chains, m)


@pytest.fixture(scope="module", params=[1, 0xDEADBEEF12345678])
def draws(request):
    return request.param, _normals(request.param)


def test_moments_and_tails(draws):
    _, Z = draws
    z = Z.ravel()
    n = z.size
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * math.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24 / n)
    # tails: |z| > 2, 3, r (the ziggurat's tail draw, r = 3.654), 4 against binomial counts
    for c in (2.0, 3.0, float(R.ZIG_R), 4.0):
        p = 2 * stats.norm.sf(c)
        k = int(np.count_nonzero(np.abs(z) > c))
        assert abs(k - n * p) < 5 * math.sqrt(n * p * (1 - p)) + 1, (c, k, n * p)
    assert np.all(np.isfinite(z)) and np.abs(z).max() < 7.5          # P(|z| > 7.5) * n ~ 1e-7


def test_ks_and_chi_square(draws):
    _, Z = draws
    z = Z.ravel()
    assert stats.kstest(z[:1_000_000], "norm").pvalue > 1e-4
    edges = stats.norm.ppf(np.linspace(0, 1, 101))                   # 100 equiprobable bins
    counts = np.histogram(z, edges)[0]
    assert stats.chisquare(counts).pvalue > 1e-4


def test_independence_across_counters_chains_streams(draws):
    seed, Z = draws
    lim = lambda n: 5 / math.sqrt(n)                                 # 5 standard errors of a correlation
    # consecutive counters of one chain (within a block and across blocks), adjacent chains, components
    seq = Z.transpose(1, 0, 2).reshape(CHAINS.size, -1)              # chain-major sequences of counters
    a, b = seq[:, :-1].ravel(), seq[:, 1:].ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < lim(a.size)
    a, b = seq[:-1].ravel(), seq[1:].ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < lim(a.size)
    a, b = seq[:, :-8].ravel(), seq[:, 8:].ravel()                   # same component, next block
    assert abs(np.corrcoef(a, b)[0, 1]) < lim(a.size)
    # squares too (dependence that keeps the correlation at 0)
    a, b = seq[:, :-1].ravel() ** 2, seq[:, 1:].ravel() ** 2
    assert abs(np.corrcoef(a, b)[0, 1]) < lim(a.size)
    # joint distribution of consecutive pairs: chi-square on a 10 x 10 grid of equiprobable cells
    q = np.digitize(seq[:, 0::2].ravel(), stats.norm.ppf(np.linspace(0, 1, 11)[1:-1]))
    r = np.digitize(seq[:, 1::2].ravel(), stats.norm.ppf(np.linspace(0, 1, 11)[1:-1]))
    assert stats.chisquare(np.bincount(10 * q + r, minlength=100)).pvalue > 1e-4
    # stream 1 (minibatch uniforms) against stream 0 (normals) of the same chains and counters
    u = np.stack([R.uniform_block(np.uint64(seed), int(c), R.STREAM_BATCH, np.arange(64, dtype=np.int64))
                  for c in CHAINS[:500]])
    zz = seq[:500, :64]
    assert abs(np.corrcoef(u.ravel(), zz.ravel())[0, 1]) < lim(u.size)
    assert abs(np.corrcoef(u.ravel(), np.abs(zz).ravel())[0, 1]) < lim(u.size)
    # different master keys (seeds that differ in one bit) give unrelated streams
    Z2 = _normals(seed ^ 1, chains=CHAINS[:500], blocks=BLOCKS[:20])
    assert abs(np.corrcoef(Z2.ravel(), Z[:20, :500].ravel())[0, 1]) < lim(Z2.size)


def test_uniforms(draws):
    seed, _ = draws
    u = R.uniform_block(np.uint64(seed), 7, R.STREAM_BATCH, np.arange(400_000, dtype=np.int64))
    assert u.min() > 0 and u.max() <= 1
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / math.sqrt(u.size)


def test_fast_block_path_is_bit_identical():
    # normals_rows (vectorised first try + scalar redo of rejections) against znormal, over enough
    # draws to hit the rejection branch (~1.2 %) and the tail (~2.6e-4) many times; partial blocks too
    for seed in (3, 0xFFFFFFFFFFFFFFFF):
        for chains in (np.arange(64), np.arange(5, 18), np.array([0, 2 ** 40, 12345])):
            for m in (1, 2, 3, 7):
                blocks = np.arange(0, 3000 // m)
                ref = R.normals_block(np.uint64(seed), chains, blocks, m)
                got = R.normals_rows_block(np.uint64(seed), chains, blocks, m)
                assert np.array_equal(ref, got)
    z = R.normals_block(np.uint64(3), np.arange(64), np.arange(3000), 1)
    assert np.count_nonzero(np.abs(z) > R.ZIG_R) > 20                 # the tail branch was exercised


def test_chain_numbers_do_not_depend_on_the_other_chains():
    a = R.normals_block(np.uint64(9), np.arange(100), np.arange(10), 3)
    b = R.normals_block(np.uint64(9), np.arange(40, 60), np.arange(10), 3)
    assert np.array_equal(a[:, 40:60], b)
