"""Exhaustive enumeration against brute force, clusters against a breadth-first search, and the
exact annealed mean number of solutions 2^(N-P) (random labels, N odd)."""
import math

import numpy as np
import pytest

import deeprelax as dr
from deeprelax.discrete.enumeration import decode


def _bfs_components(codes, n):
    left = set(int(c) for c in codes)
    sizes = []
    while left:
        start = left.pop()
        stack, size = [start], 1
        while stack:
            c = stack.pop()
            for j in range(n):
                nb = c ^ (1 << j)
                if nb in left:
                    left.remove(nb)
                    stack.append(nb)
                    size += 1
        sizes.append(size)
    return sorted(sizes, reverse=True)


@pytest.mark.parametrize("n, alpha, seed, teacher", [(9, 0.3, 0, False), (11, 0.6, 1, False), (13, 0.8, 2, False),
                                                     (13, 0.5, 3, True), (5, 0.4, 4, False), (15, 0.4, 5, False)])
def test_enumeration_matches_brute_force(n, alpha, seed, teacher):
    pr = dr.discrete.BinaryPerceptron.random(n, alpha, seed=seed, teacher=teacher)
    res = dr.discrete.enumerate_solutions(pr)
    E = pr.energy(decode(np.arange(2 ** n), n))
    assert np.array_equal(res.codes, np.flatnonzero(E == 0))
    assert res.n_solutions == int((E == 0).sum())
    assert list(res.cluster_sizes) == _bfs_components(res.codes, n)
    assert res.largest_cluster == (res.cluster_sizes[0] if res.n_solutions else 0)
    # labels are consistent: single flips never join two different labels
    lab = dict(zip(res.codes.tolist(), res.labels.tolist()))
    for c, l in lab.items():
        for j in range(n):
            if (c ^ (1 << j)) in lab:
                assert lab[c ^ (1 << j)] == l
    assert np.array_equal(np.bincount(res.labels), res.cluster_sizes)
    assert np.all(pr.energy(res.solutions) == 0)


def test_mean_number_of_solutions_is_2_to_the_n_minus_p():
    # random labels, N odd: each pattern is satisfied with probability 1/2 independently for fixed W,
    # so E[#solutions] = 2^N 2^-P exactly
    n, p = 17, 7
    counts = np.array([dr.discrete.enumerate_solutions(dr.discrete.BinaryPerceptron.random(n, p / n, seed=s)).n_solutions
                       for s in range(60)])
    expected = 2.0 ** (n - p)
    se = counts.std(ddof=1) / math.sqrt(counts.size)
    assert abs(counts.mean() - expected) < 4 * se, (counts.mean(), expected, se)
