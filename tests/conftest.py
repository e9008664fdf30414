import os

# CUDA kernels run in numba's simulator in the test suite (CI has no GPU); must be set before numba is
# imported.  On a GPU machine, NUMBA_ENABLE_CUDASIM=0 make test runs them on the device instead.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


def pytest_addoption(parser):
    # Slow tests run by default (`make test` is the whole suite, as in CI); `make test-fast` deselects them
    # with `-m "not slow"`.  The flag stays accepted for scripts written when slow tests were opt-in.
    parser.addoption("--runslow", action="store_true", default=False, help="no-op: slow tests always run")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _raise_on_float_errors():
    """Every test runs with NumPy's floating-point errors raised (underflow excepted).

    Library code that computes an inf or a NaN on purpose says so with ``np.errstate``;
    anything else is a bug that a warning would hide.
    """
    old = np.seterr(all="raise", under="ignore")
    yield
    np.seterr(**old)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def merged_and_twin(monkeypatch):
    """``run(u0, h, per, sch, p, targets, mode)``: the compiled HJ march (heat half-steps merged) and the Python
    twin with the merge off (``solvers._hj_steppers.advance_python``), each marched to ``targets`` (a time, or
    ``(time, mode)`` to march there in that diffusion mode) from ``u0`` with march parameters ``p``.  Returns
    ``[(states, clock, counts)]`` for the compiled march, then the twin (the heat-merge tests of 1-D and d-D)."""
    import math

    from solvers import _hj_march as M
    from solvers import _hj_steppers as S

    def run(u0, h, per, sch, p, targets, mode):
        out = []
        for compiled in (True, False):
            st = (S.CpuStepper if compiled else S.CpuOps)(u0, sch.ghost, h, per, sch, False)
            clock, counts = M.new_clock(), np.zeros(5, np.int64)
            alpha = np.array(st.slopes(st.bufs[0])[0])
            order = np.array([0, 1, 2])
            states = []
            for target in targets:
                target, md = target if isinstance(target, tuple) else (target, mode)
                p = p._replace(mode=md)
                if compiled:
                    st.order[:] = order
                    code = st.advance(p, clock, counts, alpha, target, 10 ** 6, -1, math.inf)
                    order[:] = st.order
                else:
                    with monkeypatch.context() as mp:
                        mp.setattr(M, "merges_heat", lambda p: False)
                        code = S.advance_python(st, order, p, clock, counts, alpha, target, 10 ** 6, -1,
                                                math.inf)
                assert code == M.REACHED_TARGET
                states.append(np.array(st.get_interior(st.bufs[M.visible(order, clock)])))
            out.append((states, clock.copy(), counts.copy()))
        return out

    return run
