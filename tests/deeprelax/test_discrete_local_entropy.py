"""Local entropy: exact depth-first counts against enumeration, and the annealed-importance-sampling
estimator against exact counts at N = 21 within its error bars over several instances."""
import numpy as np
import pytest

import deeprelax as dr


def _exact_by_enumeration(pr, ref):
    sol = dr.discrete.enumerate_solutions(pr).solutions
    return np.bincount((sol != ref).sum(1), minlength=pr.n + 1)


@pytest.mark.parametrize("seed, teacher", [(0, True), (1, False)])
def test_exact_counts_match_enumeration(seed, teacher):
    pr = dr.discrete.BinaryPerceptron.random(17, 0.4, seed=seed, teacher=teacher)
    ref = pr.teacher if teacher else dr.discrete.enumerate_solutions(pr).solutions[0]
    ex = _exact_by_enumeration(pr, ref)
    res = dr.discrete.local_entropy_count(pr, ref, np.arange(18), method="exact")
    assert res.exact.all()
    assert np.array_equal(np.round(res.count).astype(int), ex)
    assert np.allclose(res.S[ex > 0], np.log(ex[ex > 0]) / 17)
    # at large N the exact method still covers small d: C(301, 2) configurations
    big = dr.discrete.BinaryPerceptron.random(301, 0.3, seed=0, teacher=True)
    r2 = dr.discrete.local_entropy_count(big, big.teacher, [0, 1, 2])
    assert r2.exact.all() and r2.count[0] == 1
    with pytest.raises(ValueError, match="max_nodes"):
        dr.discrete.local_entropy_count(big, big.teacher, [40], method="exact")


def test_ais_estimator_within_error_bars_of_exact_counts():
    zs = []
    for seed in range(4):
        for alpha in (0.3, 0.55):
            pr = dr.discrete.BinaryPerceptron.random(21, alpha, seed=seed, teacher=seed % 2 == 0)
            sol = dr.discrete.enumerate_solutions(pr).solutions
            ref = sol[np.random.default_rng(seed).integers(len(sol))]
            ex = np.bincount((sol != ref).sum(1), minlength=22)
            ds = np.flatnonzero(ex[:10] > 0)
            ds = ds[ds > 0]
            if ds.size == 0:
                continue
            r = dr.discrete.local_entropy_count(pr, ref, ds, method="ais", seed=seed)
            assert not r.exact.any() and np.all(r.found_chains > 0)
            diff = r.log_count - np.log(ex[ds])
            # a shell made only of solutions gives identical weights: exact, stderr 0
            zs += list(np.where(np.abs(diff) < 1e-9, 0.0, diff / np.maximum(r.log_count_stderr, 1e-300)))
    zs = np.array(zs)
    # ~70 comparisons: every |z| below 3.5 and the z's spread like a standard normal
    assert zs.size > 40
    assert np.max(np.abs(zs)) < 3.5, zs
    assert 0.6 < np.sqrt(np.mean(zs ** 2)) < 1.5, zs
