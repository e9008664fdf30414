"""BinaryPerceptron: data models, vectorised energies, incremental updates, bad input."""
import numpy as np
import pytest

import deeprelax as dr
from deeprelax.discrete import _energy, enumeration, problem as _problem
from deeprelax.discrete.enumeration import decode, encode


def test_random_instance_shapes_and_labels():
    pr = dr.discrete.BinaryPerceptron.random(21, 0.5, seed=3)
    assert pr.xi.shape == (10, 21) and pr.sigma.shape == (10,) and pr.n == 21 and pr.teacher is None
    assert set(np.unique(pr.xi)) == {-1, 1} and set(np.unique(pr.sigma)) <= {-1, 1}
    ts = dr.discrete.BinaryPerceptron.random(21, 0.5, seed=3, teacher=True)
    assert ts.teacher.shape == (21,)
    assert ts.energy(ts.teacher) == 0
    assert np.array_equal(np.sign(ts.xi.astype(int) @ ts.teacher), ts.sigma)
    again = dr.discrete.BinaryPerceptron.random(21, 0.5, seed=3, teacher=True)
    assert np.array_equal(again.xi, ts.xi) and np.array_equal(again.teacher, ts.teacher)


def test_energy_vectorised_against_definition():
    pr = dr.discrete.BinaryPerceptron.random(11, 0.9, seed=1)
    W = decode(np.arange(2 ** 11), 11)
    E = pr.energy(W)
    ref = np.array([np.sum(pr.sigma * np.sign(pr.xi.astype(int) @ w) < 0) for w in W])
    assert np.array_equal(E, ref)
    assert pr.energy(W[5]) == ref[5] and isinstance(pr.energy(W[5]), int)
    h = pr.xi.astype(int) @ W.T * pr.sigma[:, None]
    hinge = np.where(h < 0, (1 - h) // 2, 0).sum(0)
    assert np.array_equal(pr.energy(W, kind="hinge"), hinge)
    assert np.array_equal(encode(W), np.arange(2 ** 11))


def test_incremental_flip_updates_match_recomputation():
    pr = dr.discrete.BinaryPerceptron.random(31, 0.7, seed=5)
    rng = np.random.default_rng(0)
    W = (2 * rng.integers(0, 2, 31) - 1).astype(np.int8)
    h = np.empty(pr.p, np.int32)
    _energy.fields_into(pr._xsT, W, h)
    for step in range(300):
        for kind, name in ((0, "errors"), (1, "hinge")):
            j = int(rng.integers(31))
            de, dn = _energy.flip_delta(pr._xsT, h, j, W[j], kind)
            W2 = W.copy()
            W2[j] = -W2[j]
            assert de == pr.energy(W2, name) - pr.energy(W, name)
            assert dn == pr.energy(W2) - pr.energy(W)
            i, k = rng.choice(31, 2, replace=False)
            de2, dn2 = _energy.pair_delta(pr._xsT, h, i, W[i], k, W[k], kind)
            W3 = W.copy()
            W3[[i, k]] *= -1
            assert de2 == pr.energy(W3, name) - pr.energy(W, name) and dn2 == pr.energy(W3) - pr.energy(W)
        _energy.apply_flip(pr._xsT, h, j, W[j])
        W[j] = -W[j]
        assert np.array_equal(h, pr.fields(W))


def test_test_error_and_generalisation_error():
    pr = dr.discrete.BinaryPerceptron.random(101, 0.5, seed=2, teacher=True)
    err, se = pr.test_error(pr.teacher, 2000)
    assert err == 0.0
    W = pr.teacher.copy()
    W[:30] *= -1  # overlap q = 41/101
    e2, se2 = pr.test_error(np.stack([pr.teacher, W]), 20000, seed=1)
    assert e2[0] == 0.0
    assert abs(e2[1] - np.arccos(41 / 101) / np.pi) < 4 * se2[1] + 0.01  # +-1 patterns vs the Gaussian limit
    assert pr.generalisation_error(pr.teacher) == 0.0


@pytest.mark.parametrize("call, match", [
    (lambda: dr.discrete.BinaryPerceptron.random(20, 0.5, seed=0), r"`n` must be a positive odd integer.*20"),
    (lambda: dr.discrete.BinaryPerceptron.random(-3, 0.5, seed=0), r"`n` must be a positive odd integer.*-3"),
    (lambda: dr.discrete.BinaryPerceptron.random(21, 0.0, seed=0), r"`alpha`.*> 0.*0.0"),
    (lambda: dr.discrete.BinaryPerceptron.random(21, -1, seed=0), r"`alpha`.*> 0.*-1"),
    (lambda: dr.discrete.BinaryPerceptron.random(21, float("nan"), seed=0), r"`alpha`.*nan"),
    (lambda: dr.discrete.BinaryPerceptron.random(21, 0.5, seed=0).energy(np.zeros(21)), r"`W` must contain only -1 and \+1.*0"),
    (lambda: dr.discrete.BinaryPerceptron.random(21, 0.5, seed=0).energy(np.ones(20)), r"`W` must have shape \(21,\).*\(20,\)"),
    (lambda: dr.discrete.BinaryPerceptron.random(21, 0.5, seed=0).energy(np.ones(21) * 2), r"`W` must contain only -1 and \+1"),
    (lambda: dr.discrete.BinaryPerceptron.random(21, 0.5, seed=0).test_error(np.ones(21)), r"teacher-student"),
    (lambda: dr.discrete.enumerate_solutions(dr.discrete.BinaryPerceptron.random(29, 0.5, seed=0)),
     r"`problem.n` must be <= 27.*n=29"),
    (lambda: dr.discrete.BinaryPerceptron(np.ones((3, 4)), np.ones(3)), r"positive odd integer.*4"),
    (lambda: dr.discrete.BinaryPerceptron(np.ones((3, 5)), np.ones(4)), r"`sigma` must have shape \(3,\)"),
])
def test_bad_input_names_argument_constraint_and_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_solver_arguments():
    pr = dr.discrete.BinaryPerceptron.random(21, 0.3, seed=0)
    with pytest.raises(ValueError, match=r"`energy` must be one of"):
        dr.discrete.anneal(pr, energy="mse")
    with pytest.raises(ValueError, match=r"`max_sweeps`.*-5"):
        dr.discrete.anneal(pr, max_sweeps=-5)
    with pytest.raises(ValueError, match=r"`y`.*>= 2.*1"):
        dr.discrete.replicated_anneal(pr, y=1)
    with pytest.raises(ValueError, match=r"`W0` must contain only -1 and \+1"):
        dr.discrete.anneal(pr, W0=np.zeros(21))
    with pytest.raises(ValueError, match=r"same \(n, p\)"):
        dr.discrete.anneal([pr, dr.discrete.BinaryPerceptron.random(23, 0.3, seed=0)])
    with pytest.raises(ValueError, match=r"`forward` must be one of"):
        dr.discrete.replicated_sgd(pr, forward="straight")
    with pytest.raises(ValueError, match=r"`fractions`.*\[0, 1\]"):
        dr.discrete.robustness(pr, np.ones(21), [0.1, 1.5])
    with pytest.raises(ValueError, match=r"`d` must lie in 0..n.*22"):
        dr.discrete.local_entropy_count(pr, np.ones(21), [1, 22])
    with pytest.raises(ValueError, match=r"integer Hamming distances"):
        dr.discrete.local_entropy_count(pr, np.ones(21), [0.5])
