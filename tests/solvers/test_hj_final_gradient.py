"""The compiled final gradient of solve_hj (solvers._hj_grad) against the NumPy reference
(solvers.schemes.upwind_gradient): the same values bit for bit, for every derivative family, 1-3 axes,
periodic and non-periodic ghosts, kinks, ties, signed zeros and non-finite values."""
import numpy as np
import pytest

from solvers import _hj_grad
from solvers import schemes as S
from solvers.boundary import fill_ghosts, pad_array


def _padded(vals, g, periodic):
    V = pad_array(vals, g)
    fill_ghosts(V, g, periodic)
    return V


def _same_bits(a, b):
    """Bit for bit, except the sign and payload of NaNs (which carry no value)."""
    assert a.shape == b.shape and a.dtype == b.dtype
    nan = np.isnan(b)
    assert np.array_equal(np.isnan(a), nan)
    np.testing.assert_array_equal(a[~nan].view(np.uint64), b[~nan].view(np.uint64))


@pytest.mark.parametrize("scheme", ["godunov", "eno2", "weno5"])
@pytest.mark.parametrize("shape", [(9,), (64,), (7, 11), (6, 5, 8)])
def test_compiled_final_gradient_equals_the_numpy_reference_bit_for_bit(scheme, shape):
    sch = S.get_scheme(scheme)
    g = S.GHOST[sch.deriv]
    rng = np.random.default_rng(len(shape) * 10 + len(scheme))
    d = len(shape)
    axes = [np.linspace(-1, 1, n) for n in shape]
    X = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
    h = tuple(2.0 / (n - 1) for n in shape)
    cases = [rng.standard_normal(shape), np.abs(X).sum(-1), -np.abs(X).sum(-1),   # kinks both ways
             np.zeros(shape), np.cos(3 * X).sum(-1) * 1e-300, (X ** 2).sum(-1) * 1e150]
    flat = np.zeros(shape)
    flat.flat[::3] = -0.0                                                          # signed zeros
    cases.append(flat)
    for vals in cases:
        for periodic in ((False,) * d, (True,) * d):
            V = _padded(vals, g, periodic)
            with np.errstate(all="ignore"):
                want = S.upwind_gradient(V, g, h, sch)
            _same_bits(_hj_grad.upwind_gradient(V, g, h, sch), want)
    V = _padded(rng.standard_normal(shape), g, (False,) * d)
    V.flat[V.size // 2] = np.nan
    V.flat[V.size // 3] = np.inf
    with np.errstate(all="ignore"):
        want = S.upwind_gradient(V, g, h, sch)
    _same_bits(_hj_grad.upwind_gradient(V, g, h, sch), want)


def test_final_gradient_of_a_linear_function_is_its_slope():
    # an exact answer: u = 2 x - 3 y + 0.5 z, every family, interior of a non-periodic grid
    for scheme in ("godunov", "eno2", "weno5"):
        sch = S.get_scheme(scheme)
        g = S.GHOST[sch.deriv]
        n = 12
        ax = np.linspace(0, 1, n)
        X = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), -1)
        V = pad_array(X @ np.array([2.0, -3.0, 0.5]), g)
        fill_ghosts(V, g, (False,) * 3)
        grad = _hj_grad.upwind_gradient(V, g, (1.0 / (n - 1),) * 3, sch)
        assert np.abs(grad - np.array([2.0, -3.0, 0.5])).max() < 1e-12
