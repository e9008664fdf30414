"""The dynamics report like every time-stepping solver (solvers._driver): status, message, success,
raise_on_failure, wall_time without compile time."""
import numpy as np
import pytest

from deeprelax import dynamics as D
from deeprelax.losses import get
from solvers.errors import NonFiniteError


def test_success_status_and_message():
    q = get("quadratic", A=1.0, dim=1)
    tr = D.sgd(q, np.ones((3, 1)), lr=0.1, n_steps=20, beta=2.0, rng=0, save_every=5)
    assert tr.status == "success" and tr.success and tr.message
    assert tr.steps.tolist() == [0, 5, 10, 15, 20] and tr.wall_time >= 0.0 and tr.compile_time >= 0.0


@pytest.mark.parametrize("run", [
    lambda q: D.sgd(q, np.ones((3, 1)), lr=3.0, n_steps=3000, raise_on_failure=False),
    lambda q: D.hj_prox(q, np.ones((3, 1)), t=1.0, lr=3.0, inner_lr=0.1, L=2, n_steps=3000, outer="prox-grad",
                      raise_on_failure=False),
    lambda q: D.elastic_sgd(q, np.ones((3, 1)), n_replicas=2, lr=3.0, n_steps=3000, t=1.0,
                            raise_on_failure=False),
])
def test_nonfinite_is_a_status_when_asked(run):
    q = get("quadratic", A=1.0, dim=1)
    with np.errstate(over="ignore", invalid="ignore"):
        tr = run(q)
    assert tr.status == "nonfinite" and not tr.success
    assert "chain 0 became non-finite" in tr.message and "reduce the step size" in tr.message
    with pytest.raises(NonFiniteError, match="chain 0 became non-finite"), np.errstate(over="ignore", invalid="ignore"):
        D.sgd(q, np.ones((3, 1)), lr=3.0, n_steps=3000)
