"""A grid quadrature at its cell cap checks itself on a coarser grid and warns when the two disagree."""
import warnings

import numpy as np
import pytest

import deeprelax as dr
from deeprelax.local_entropy import ResolutionWarning, local_entropy


def test_capped_grid_warns_with_an_error_that_covers_the_fine_grid_answer():
    # 2-D Rastrigin, t = 0.3, beta = 1e4: the default grid (401^2, the cap) is 1.3 % off u from 801^2.
    loss = dr.losses.get("rastrigin", dim=2)
    x = np.array([0.3, -0.2])
    with pytest.warns(ResolutionWarning, match=r"cell cap \(401, 401\).*differs by up to") as rec:
        u = local_entropy(loss, x, 0.3, 1e4)
    assert rec[0].filename == __file__  # points at the caller, not inside the package
    fine = local_entropy(loss, x, 0.3, 1e4, cells=(801, 801))
    said = float(str(rec[0].message).split("differs by up to ")[1].split(" ")[0])
    assert abs(u - fine) > 1e-3            # the capped answer really is off ...
    assert abs(u - fine) <= said           # ... and the stated disagreement bounds how much


def test_resolved_grid_does_not_warn():
    loss = dr.losses.get("wide-sharp", dim=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResolutionWarning)
        local_entropy(loss, np.array([[0.5, 0.2], [-0.3, 0.1]]), 0.1, 1.0)
