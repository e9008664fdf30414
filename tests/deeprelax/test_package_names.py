"""No function hides its module; dr.plot is loaded by `import deeprelax`."""
import types

import numpy as np

import deeprelax as dr


def _double(x):
    return 2 * x


def test_local_entropy_and_sweep_are_modules_that_call_their_function():
    import deeprelax.local_entropy as le
    import deeprelax.sweep as sw

    assert isinstance(le, types.ModuleType) and le is dr.local_entropy and sw is dr.sweep
    loss = dr.losses.get("quadratic", A=1.0, dim=1)
    x = np.array([[0.5], [-1.0]])
    np.testing.assert_array_equal(dr.local_entropy(loss, x, 0.3, 2.0), le.local_entropy(loss, x, 0.3, 2.0))
    assert [r.value for r in dr.sweep(_double, {"x": [-1, 2]}, executor="serial")] == [-2, 4]


def test_plot_is_an_attribute_of_the_package():
    assert isinstance(dr.plot, types.ModuleType) and dr.plot.__name__ == "deeprelax.plot"
