"""The meshfree prox (deeprelax.prox) agrees with the grid prox of solvers.hopf_lax."""
import numpy as np
import pytest

import deeprelax as dr


@pytest.mark.parametrize("name,params,t,n", [
    ("double-well", {"dim": 1}, 0.3, 801),          # f'' >= -1, t < 1: strictly convex prox problem
    ("double-well", {"dim": 2}, 0.5, 161),
    ("quadratic", {"A": [[2.0, 0.5], [0.5, 1.0]]}, 0.7, 161),
    ("rastrigin", {"dim": 1}, 0.01, 1601),           # many wells; t f'' < 1 keeps the prox problem convex
])
@pytest.mark.parametrize("method", ["newton", "gd"])
def test_meshfree_prox_matches_grid_prox(name, params, t, n, method):
    loss = dr.losses.get(name, **params)
    grid = loss.grid(n)
    hl = dr.hopf_lax(loss, grid, t)
    X = grid.mesh()
    # compare on an interior sub-sample of nodes
    sl = tuple(slice(n // 8, n - n // 8, max(1, n // 40)) for _ in range(loss.dim))
    if method == "newton" and not getattr(loss, "has_hess", True):
        pytest.skip("no Hessian")
    r = dr.prox(loss, X[sl], t, method=method, tol=1e-13, max_iter=5000)
    assert r.converged.all()
    h = max(grid.spacing)
    # refined grid prox is accurate to O(h^2) for smooth data; value to O(h^3)
    np.testing.assert_allclose(hl.prox[sl], r.prox, atol=5 * h ** 2 + 1e-12)
    np.testing.assert_allclose(hl.u[sl], r.value, atol=5 * h ** 2 + 1e-12)
    np.testing.assert_allclose(hl.grad[sl], r.grad, atol=5 * h ** 2 / t + 1e-10)
