import os

# CUDA kernels run in numba's simulator in the test suite (CI has no GPU); must be set before numba is
# imported.  On a GPU machine, NUMBA_ENABLE_CUDASIM=0 make test runs them on the device instead.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("DEEPRELAX_RUNSLOW"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
