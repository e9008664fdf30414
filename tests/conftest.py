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
