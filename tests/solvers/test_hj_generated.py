"""The generated CPU HJ kernels: current with their template, and bit for bit the kernels they replaced."""
import hashlib

import numpy as np
import pytest

from solvers import _hj_kernels as K
from solvers import _hj_template
from solvers.boundary import fill_ghosts, interior, pad_array


@pytest.mark.parametrize("d", [1, 2, 3])
def test_generated_kernels_are_current(d):
    # solvers/_hj_stages_{1,2,3}d.py are written by `python -m solvers._hj_template`; their headers hold the
    # hashes of the template, _hj_cell.py, _hj_stage_base.py, _hj_march.py and heat.py, so editing any of
    # them without regenerating fails here
    assert _hj_template.render(d) == _hj_template.TARGETS[d].read_text(), \
        f"solvers/_hj_stages_{d}d.py is out of date: run `python -m solvers._hj_template`"


# sha256 (first 16 hex digits) of the stage outputs of the hand-expanded kernels of commit 5378d76 (before
# the kernels came from one template), per (d, deriv code): every Hamiltonian code, both boundary kinds,
# three (a, b, nu) sets, serial and threaded, on the seeded inputs below
FINGERPRINTS = {(1, 0): "7307d9e20aac5a8a", (1, 1): "74db964e26c99121", (1, 2): "4d9564faf2581e1e",
                (2, 0): "c86589c700caafa8", (2, 1): "e51e49f574a31703", (2, 2): "3e41f94a73dbb85a",
                (3, 0): "4ff3824dffbf9fa1", (3, 1): "06a5a606618905ed", (3, 2): "39a405e82c977b01"}


@pytest.mark.slow
def test_stage_kernels_bit_identical_to_the_hand_expanded_ones():
    shapes = {1: (23,), 2: (9, 12), 3: (7, 6, 8)}
    rng = np.random.default_rng(2024)
    got = {}
    for d in (1, 2, 3):
        for deriv, g in ((0, 1), (1, 2), (2, 3)):
            lap = 4 if deriv == 2 else 2
            h = hashlib.sha256()
            for periodic in (True, False):
                per = (periodic,) * d
                V = fill_ghosts(pad_array(rng.standard_normal(shapes[d]), g), g, per)
                W = fill_ghosts(pad_array(rng.standard_normal(shapes[d]), g), g, per)
                sp = tuple(0.1 + 0.03 * k for k in range(d))
                for ham in range(4):
                    for a, b, nu in [(0.0, 1.0, 0.0), (0.75, 0.25, 0.4), (1 / 3, 2 / 3, 1e-3)]:
                        for par in (False, True):
                            O = np.zeros_like(V)
                            alpha, _ = K.stage(V, W, O, g, sp, nu, deriv, ham, lap, a, b, 0.013, par)
                            h.update(np.concatenate([interior(O, g).ravel(), alpha]).tobytes())
            got[(d, deriv)] = h.hexdigest()[:16]
    assert got == FINGERPRINTS
