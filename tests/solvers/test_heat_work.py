"""The exact heat semigroup on caller-provided work space (solvers.heat.heat_apply_into), 1-3 axes.

Checked against the matrix exponential of the semi-discrete Laplacian (Kronecker factors, mixed periodic
and non-periodic axes), on strided views of ghost-padded buffers and in place, with work space reused;
and the semigroup property D(a) D(b) = D(a + b) on non-periodic axes (linear lift + sine transform).
"""
import numpy as np
import pytest
from scipy.linalg import expm

from solvers.heat import heat_apply, heat_apply_into, heat_tables, heat_work


def _lap_matrix(n, h, periodic):
    L = (np.diag(-2.0 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)) / h ** 2
    if periodic:
        L[0, -1] = L[-1, 0] = 1.0 / h ** 2
    else:  # linear extrapolation ghosts: zero second difference at the end nodes
        L[0, :] = 0.0
        L[-1, :] = 0.0
    return L


def _exact(u, h, periodic, tau):
    out = u
    for k, (n, hk, p) in enumerate(zip(u.shape, h, periodic)):
        E = expm(tau * _lap_matrix(n, hk, p))
        out = np.moveaxis(np.tensordot(E, out, axes=([1], [k])), 0, k)
    return out


@pytest.mark.parametrize("shape, periodic", [((9,), (False,)), ((12, 9), (True, False)), ((10, 13), (False, True)),
                                             ((11, 8), (False, False)), ((7, 6, 9), (False, True, False)),
                                             ((6, 8, 5), (True, True, False))])
def test_heat_apply_into_is_the_matrix_exponential_on_views(shape, periodic):
    d = len(shape)
    h = tuple(0.3 - 0.05 * k for k in range(d))
    tau = 0.04
    u = np.random.default_rng(sum(shape)).standard_normal(shape)
    tables = heat_tables(shape, h, periodic, 2)
    g = 2
    inner = (slice(g, -g),) * d
    P = np.full(tuple(n + 2 * g for n in shape), 5.0)
    P[inner] = u
    Q = np.full_like(P, 7.0)
    rwork, cwork = heat_work(shape, periodic)
    heat_apply_into(P[inner], Q[inner], tables, periodic, tau, rwork, cwork)
    ex = _exact(u, h, periodic, tau)
    np.testing.assert_allclose(Q[inner], ex, rtol=0, atol=1e-13 * np.abs(u).max())
    Q[inner] = 7.0
    assert np.all(Q == 7.0) and np.array_equal(P[inner], u)  # ghosts and source untouched
    # the allocating form, work space reused (dirty), and in place: the same bits
    ref = np.empty(shape)
    heat_apply(u, ref, tables, periodic, tau)
    heat_apply_into(P[inner], Q[inner], tables, periodic, tau, rwork, cwork)
    np.testing.assert_array_equal(Q[inner], ref)
    heat_apply_into(P[inner], P[inner], tables, periodic, tau, rwork, cwork)
    np.testing.assert_array_equal(P[inner], ref)
    # semigroup: D(a) D(b) = D(a + b) (the end values of non-periodic axes are held exactly)
    two = np.empty(shape)
    heat_apply(u, two, tables, periodic, 0.3 * tau)
    heat_apply(two, two, tables, periodic, 0.7 * tau)
    np.testing.assert_allclose(two, ref, rtol=0, atol=1e-14 * np.abs(u).max())
    for k in range(d):
        if not periodic[k]:  # the end values along a non-periodic axis move only with the other axes
            ends = np.take(u, [0, -1], axis=k)
            np.testing.assert_allclose(np.take(ref, [0, -1], axis=k), _exact(ends, h, periodic, tau),
                                       rtol=0, atol=1e-13 * np.abs(u).max())
