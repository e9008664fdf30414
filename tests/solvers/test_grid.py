import numpy as np
import pytest

from solvers import Grid, GridError


def test_uniform_nonperiodic_includes_endpoints():
    g = Grid.uniform([(-3, 3)], 601)
    assert g.shape == (601,) and g.dim == 1
    assert g.spacing[0] == pytest.approx(0.01)
    assert g.axes[0][0] == -3 and g.axes[0][-1] == pytest.approx(3)
    assert g.mesh().shape == (601, 1)


def test_periodic_excludes_right_endpoint():
    g = Grid.uniform([(-1, 1), (0, 2)], (4, 5), periodic=(True, False))
    np.testing.assert_allclose(g.axes[0], [-1, -0.5, 0, 0.5])
    np.testing.assert_allclose(g.axes[1], [0, 0.5, 1, 1.5, 2])
    assert g.spacing == (0.5, 0.5)
    assert g.mesh().shape == (4, 5, 2)


def test_sample_and_3d():
    g = Grid.uniform([(-1, 1)] * 3, 5)
    v = g.sample(lambda x: (x ** 2).sum(-1))
    assert v.shape == (5, 5, 5)
    assert v[2, 2, 2] == 0 and v[0, 0, 0] == pytest.approx(3)


def test_pad_and_interior_keep_nodes():
    g = Grid.uniform([(-1, 1), (0, 1)], (5, 3), periodic=(False, True))
    p = g.pad(3)
    assert p.shape == (11, 3)  # periodic axis is never padded
    sl = g.interior(p)
    np.testing.assert_allclose(p.mesh()[sl], g.mesh())


def test_refine():
    g = Grid.uniform([(0, 1)], 11).refine(4)
    assert g.shape == (41,)
    gp = Grid.uniform([(0, 1)], 10, periodic=True).refine(4)
    assert gp.shape == (40,)


@pytest.mark.parametrize("kwargs, match", [
    (dict(bounds=[(1, 0)], shape=10), "lo < hi"),
    (dict(bounds=[(0, 1)], shape=2), "shape"),
    (dict(bounds=[(0, 1)] * 4, shape=3), "1 to 3 axes"),
    (dict(bounds=[(0, 1)] * 2, shape=(3, 4, 5)), "entries"),
])
def test_bad_grids(kwargs, match):
    with pytest.raises(GridError, match=match):
        Grid.uniform(**kwargs)


def test_sample_rejects_nonfinite():
    g = Grid.uniform([(-1, 1)], 5)
    with pytest.raises(ValueError, match="non-finite"), np.errstate(divide="ignore"):  # 1/0 at x = 0 on purpose
        g.sample(lambda x: 1.0 / x[..., 0])
