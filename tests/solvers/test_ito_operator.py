"""The Ito Fokker-Planck operator (solvers.ito_fokker_planck): its place, its tie to the divergence-form
operator, and the one null-vector solver it shares with solvers.fp_steady."""
import numpy as np
import pytest

import solvers.ito_fokker_planck as I
from solvers import fp_steady
from solvers.fokker_planck import fokker_planck_operator, fokker_planck_steady_state
from solvers.grid import Grid


def test_sgd_noise_reexports_the_solvers_operator():
    sgd_noise = pytest.importorskip("deeprelax.sgd_noise")
    assert sgd_noise.ito_operator is I.ito_operator
    assert sgd_noise.ito_current is I.ito_current and sgd_noise.ito_steady_state is I.ito_steady_state


@pytest.mark.parametrize("D", [0.7, [0.7, 1.3]])
def test_constant_diagonal_D_is_the_divergence_form_operator_with_drift_minus_g(D):
    """dx = -g dt + sqrt(2 D / beta) dW: Ito with constant diagonal D == divergence form with drift b = -g."""
    g = Grid.uniform([(-2, 2), (-1.5, 1.5)], (17, 13))

    def force(p):
        return np.stack([p[..., 0] ** 3 - p[..., 0] + 0.3 * p[..., 1], 0.8 * p[..., 1] - 0.2], -1)

    A = I.ito_operator(g, force=force, D=np.diag(np.broadcast_to(D, (2,))), beta=3.0).toarray()
    B = fokker_planck_operator(g, drift=lambda p: -force(p), D=D, beta=3.0).toarray()
    assert np.abs(A - B).max() <= 1e-13 * np.abs(B).max()
    rho = I.ito_steady_state(g, force=force, D=np.diag(np.broadcast_to(D, (2,))), beta=3.0)
    ref = fokker_planck_steady_state(g, drift=lambda p: -force(p), D=D, beta=3.0)
    assert np.abs(rho - ref).max() <= 1e-10 * ref.max()


def test_steady_state_is_the_shared_pinned_null_vector():
    g = Grid.uniform([(-2, 2), (-2, 2)], 15)

    def Dx(p):
        base = np.array([[1.0, 0.2], [0.2, 0.6]])
        return base * (1.0 + 0.1 * (p ** 2).sum(-1))[..., None, None]

    rho, A = I.ito_steady_state(g, force=lambda p: p, D=Dx, beta=2.0, return_operator=True)
    assert np.array_equal(rho, fp_steady.null_vector(A, g.shape, g.cell_volume, A.shape[0] // 2))
    assert abs(rho.sum() * g.cell_volume - 1.0) < 1e-13
    assert np.abs(A @ rho.ravel()).max() <= 1e-12 * (abs(A) @ np.abs(rho.ravel())).max()


def test_diffusion_values_shapes_and_errors():
    pts = np.zeros((4, 3, 2))
    assert I.diffusion_values(None, pts, 2).shape == (4, 3, 2, 2)
    assert np.array_equal(I.diffusion_values([1.0, 2.0], pts, 2)[0, 0], np.diag([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"`D` must be None, a scalar"):
        I.diffusion_values(np.ones(3), pts, 2)
    with pytest.raises(ValueError, match=r"`D\(x\)` must return shape"):
        I.diffusion_values(lambda p: np.ones(p.shape[:-1]), pts, 2)
