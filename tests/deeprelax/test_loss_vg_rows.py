"""The row providers ``loss_value_rows`` and ``loss_vg_rows`` (issue 19: the replica-exchange sampler's
value per row) give bit for bit what the per-point value and the gradient rows give, for every built-in
kind (the combined soft-min and mixture bodies included, hard minimum too), the finite sums, the Python
callback kind and compiled user losses; unknown kinds give NaN."""
import numba
import numpy as np
import pytest

from deeprelax import _nbloss as NB
from deeprelax import losses
from deeprelax._kernel_loss import PROVIDER_NAMES, user_providers
from deeprelax.finite_sum import finite_sum

CASES = [("quadratic", dict(A=[[2.0, 0.3], [0.3, 1.0]])), ("abs", dict(dim=2)), ("double-well", dict(dim=3)),
         ("softmin-quadratics", {}), ("softmin-quadratics", dict(softness=np.inf)), ("dr-fig1", {}),
         ("rastrigin", dict(dim=2)), ("cosine", dict(dim=2)),
         ("gaussian-mixture", dict(w=[0.6, 0.4], m=[[-1, 0], [1.2, 0.5]], s=[0.6, 0.1])), ("wide-sharp", {})]


def _points(d, n=41):
    Y = np.random.default_rng(3).uniform(-2.5, 2.5, (n, d))
    Y[-1] = 40.0                                     # far out: the mixture's logits underflow but for one
    return Y


def _per_point(kind, params, Y):
    S = np.empty(max(1, NB.scratch_len(kind, params)))
    F = np.array([NB.loss_value(kind, params, y, S) for y in Y])
    G = np.full(Y.shape, -7.0)
    NB.loss_grad_rows(kind, params, Y, G, 0, len(Y), S)
    return F, G, S


def _rows(kind, params, Y, r0, r1, S):
    F1 = np.full(len(Y), -7.0)
    NB.loss_value_rows(kind, params, Y, F1, r0, r1, S)
    F2, G2 = np.full(len(Y), -7.0), np.full(Y.shape, -7.0)
    NB.loss_vg_rows(kind, params, Y, F2, G2, r0, r1, S)
    return F1, F2, G2


@pytest.mark.parametrize("name,kw", CASES)
def test_row_forms_are_the_per_point_forms_bit_for_bit(name, kw):
    loss = losses.get(name, **kw)
    Y = _points(loss.dim)
    F, G, S = _per_point(loss.nb_kind, loss.nb_params, Y)
    F1, F2, G2 = _rows(loss.nb_kind, loss.nb_params, Y, 0, len(Y), S)
    np.testing.assert_array_equal(F1, F)
    np.testing.assert_array_equal(F2, F)
    np.testing.assert_array_equal(G2, G)
    assert np.isfinite(F).all() and np.isfinite(G).all()
    F1, F2, G2 = _rows(loss.nb_kind, loss.nb_params, Y, 5, 9, S)          # only rows r0 .. r1-1 written
    assert np.all(F1[:5] == -7.0) and np.all(F1[9:] == -7.0) and np.array_equal(F1[5:9], F[5:9])
    assert np.all(G2[:5] == -7.0) and np.all(G2[9:] == -7.0) and np.array_equal(G2[5:9], G[5:9])
    np.testing.assert_array_equal(NB.nb_value_batch(loss.nb_kind, loss.nb_params, Y), F)


def test_finite_sums_python_callbacks_and_unknown_kinds():
    for kind in ("least-squares", "logistic"):
        fs = finite_sum(kind, n_samples=30, dim=3, seed=2, lam=0.05)
        Y = _points(3, 9)
        F, G, S = _per_point(fs.nb_kind, fs.nb_params, Y)
        F1, F2, G2 = _rows(fs.nb_kind, fs.nb_params, Y, 0, 9, S)
        assert np.array_equal(F1, F) and np.array_equal(F2, F) and np.array_equal(G2, G)
    NB.register_callbacks(988, grad_rows=lambda X: 3.0 * X, value_rows=lambda X: X.sum(-1))
    try:
        Y = _points(2, 6)
        F1, F2, G2 = _rows(NB.KIND_PYTHON, np.array([0.0, 988.0]), Y, 1, 6, np.empty(1))
        np.testing.assert_array_equal(F2[1:], Y[1:].sum(-1))
        np.testing.assert_array_equal(G2[1:], 3.0 * Y[1:])
        np.testing.assert_array_equal(F1, F2)
        assert F2[0] == -7.0 and np.all(G2[0] == -7.0)
    finally:
        NB.drop_callbacks(988)
    F1, F2, G2 = _rows(42, np.zeros(3), Y, 0, 6, np.empty(1))
    assert np.isnan(F1).all() and np.isnan(F2).all() and np.isnan(G2).all()


@numba.njit
def _v(x):
    return x[0] * x[0] + 0.5 * np.sin(x[1])


@numba.njit
def _g(x):
    return np.array([2.0 * x[0], 0.5 * np.cos(x[1])])


def test_compiled_user_providers_rows():
    """The providers of a compiled user loss (njit value, grad returning g) cover every provider name; the
    value/gradient rows agree with each other bit for bit and with the formula."""
    pv = user_providers(_v, _g)
    assert set(pv) == set(PROVIDER_NAMES)
    Y = _points(2, 11)
    S = np.empty(1)
    G = np.empty_like(Y)
    pv["loss_grad_rows"](0, S, Y, G, 0, 11, S)
    F1, F2, G2 = np.empty(11), np.empty(11), np.empty_like(Y)
    pv["loss_value_rows"](0, S, Y, F1, 0, 11, S)
    pv["loss_vg_rows"](0, S, Y, F2, G2, 0, 11, S)
    assert np.array_equal(F2, F1) and np.array_equal(G2, G)
    np.testing.assert_array_equal(F1, np.array([_v(y) for y in Y]))
    np.testing.assert_allclose(F1, Y[:, 0] ** 2 + 0.5 * np.sin(Y[:, 1]), rtol=1e-15)
