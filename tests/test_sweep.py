"""Tests of deeprelax.sweep on thread, process and (optional) dask executors."""
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from deeprelax.sweep import expand_grid, sweep


def power(a, b=1):
    return a ** b


def fails(a):
    if a == 2:
        raise ValueError("two")
    return a


def test_expand_grid():
    g = expand_grid({"a": [1, 2], "b": [3, 4, 5], "name": "x"})
    assert len(g) == 6 and g[0] == {"a": 1, "b": 3, "name": "x"} and g[-1] == {"a": 2, "b": 5, "name": "x"}
    assert expand_grid([{"a": 1}, {"a": 2, "b": 3}]) == [{"a": 1}, {"a": 2, "b": 3}]
    with pytest.raises(TypeError, match="dicts"):
        expand_grid([1, 2])


@pytest.mark.parametrize("kind", ["serial", "thread", "process", "default"])
def test_sweep_order_and_values(kind):
    grid = {"a": [3, 1, 2], "b": [1, 2]}
    if kind == "thread":
        with ThreadPoolExecutor(3) as ex:
            res = sweep(power, grid, executor=ex)
    elif kind == "process":
        with ProcessPoolExecutor(2) as ex:
            res = sweep(power, grid, executor=ex)
    elif kind == "default":
        res = sweep(power, grid)
    else:
        res = sweep(power, grid, executor="serial")
    assert [r.params for r in res] == expand_grid(grid)
    assert [r.value for r in res] == [p["a"] ** p["b"] for p in expand_grid(grid)]
    assert all(r.ok and r.wall_time >= 0 for r in res)


def test_sweep_errors():
    with ThreadPoolExecutor(2) as ex:
        with pytest.raises(ValueError, match="two"):
            sweep(fails, {"a": [1, 2, 3]}, executor=ex)
        res = sweep(fails, {"a": [1, 2, 3]}, executor=ex, raise_errors=False)
    assert [r.ok for r in res] == [True, False, True] and "ValueError: two" in res[1].error
    with pytest.raises(TypeError, match="executor"):
        sweep(power, {"a": [1]}, executor=42)


def test_sweep_dask_local_cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        res = sweep(power, [{"a": 2.0, "b": 3.0}, {"a": 3.0, "b": 2.0}], executor=client.get_executor())
    assert [r.value for r in res] == [8.0, 9.0]
