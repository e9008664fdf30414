"""Tests of deeprelax.sweep on thread, process and (optional) dask executors."""
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
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


def slow_square(a, b=0):
    import time
    time.sleep(0.05 * a)
    return {"square": a * a, "a_half": a / 2}


def test_sweep_results_table_io_and_compute_time(tmp_path):
    """wall_time is the task's compute (one worker: the later tasks queue, their turnaround grows)."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("xarray")
    import deeprelax as dr
    with ThreadPoolExecutor(1) as ex:
        res = sweep(slow_square, {"a": [1, 2, 3], "b": [0]}, executor=ex)
    for r in res:
        assert 0.05 * r.params["a"] <= r.wall_time < 0.05 * r.params["a"] + 0.5
    assert res[2].extra["turnaround"] >= 0.05 * 6 - 1e-3 > res[2].wall_time
    df = res.to_dataframe()
    assert isinstance(df, pd.DataFrame) and list(df["square"]) == [1, 4, 9] and list(df["a"]) == [1, 2, 3]
    ds = res.to_xarray()
    assert ds["square"].dims == ("a", "b") and ds["square"].sel(a=3, b=0) == 9
    back = dr.io.load(dr.io.save(res, tmp_path / "sweep.h5"))
    assert len(back) == 3 and back[1].value == {"square": 4, "a_half": 1.0} and back[1].params == {"a": 2, "b": 0}
    ax = res.plot(x="a", y="square")
    assert len(ax.get_lines()) == 1


def test_sweep_results_of_solver_results_save(tmp_path):
    import deeprelax as dr
    f = dr.losses.get("double-well")
    res = sweep(lambda t: dr.hopf_lax(f, f.grid(41), t), {"t": [0.1, 0.2]}, executor="serial")
    back = dr.io.load(dr.io.save(res, tmp_path / "s.h5"))
    np.testing.assert_array_equal(back[1].value.u, res[1].value.u)
