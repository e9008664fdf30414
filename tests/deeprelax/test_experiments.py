"""deeprelax.experiments: resumable grid points on any executor, the training loop, the quick experiments."""
import math

import numpy as np
import pytest

from deeprelax import models as M
from deeprelax.cli import main as cli_main
from deeprelax.experiments import EXPERIMENTS, run_experiment
from deeprelax.experiments._common import sgd_momentum
from deeprelax.experiments._store import load_dict, point_path, run_points

CALLS = []


def square(a, b=1.0):
    CALLS.append(a)
    return {"y": np.array([a * a, b]), "s": float(a + b)}


@pytest.mark.parametrize("executor", ["serial", "threads", "dask"])
def test_run_points_resumes_on_any_executor(tmp_path, executor):
    pts = [{"a": 1.0}, {"a": 2.0, "b": 3.0}]
    cluster = client = None
    if executor == "threads":
        from concurrent.futures import ThreadPoolExecutor
        ex = ThreadPoolExecutor(2)
    elif executor == "dask":
        distributed = pytest.importorskip("dask.distributed")
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
        client = distributed.Client(cluster)
        ex = client.get_executor()
    else:
        ex = "serial"
    try:
        CALLS.clear()
        res = run_points("sq", square, pts, tmp_path, ex, progress=False)
        assert sorted(CALLS) == [1.0, 2.0] and [r["s"] for r in res] == [2.0, 5.0]
        assert not any(r["cached"] for r in res)
        np.testing.assert_array_equal(res[1]["y"], [4.0, 3.0])
        CALLS.clear()
        more = run_points("sq", square, pts + [{"a": 4.0}], tmp_path, ex, progress=False)
        assert CALLS == [4.0] and [r["cached"] for r in more] == [True, True, False]   # finished points reused
        vals, attrs = load_dict(point_path(tmp_path, "sq", pts[1]))
        assert attrs["params"] == pts[1] and vals["s"] == 5.0
    finally:
        if client is not None:
            client.close()
            cluster.close()
        elif executor == "threads":
            ex.shutdown()


@pytest.mark.slow
def test_sgd_momentum_reaches_low_error_and_is_reproducible():
    data = M.gaussian_mixture(2, 5, n_samples=200, n_test=500, separation=4.0, seed=0)
    model = M.Perceptron(data, lam=1e-3)
    a = sgd_momentum(model, np.zeros(5), lr=0.05, n_steps=300, batch=16, seed=3, record_every=100)
    b = sgd_momentum(model, np.zeros(5), lr=0.05, n_steps=300, batch=16, seed=3)
    np.testing.assert_array_equal(a["x"], b["x"])
    assert a["xs"].shape == (4, 5) and list(a["steps"]) == [0, 100, 200, 300]
    assert a["epochs"][-1] == pytest.approx(300 * 16 / 200)
    # Bayes error Phi(-2) = 2.3%: the trained perceptron is within 4 s.e. of it
    se = math.sqrt(data.bayes_error * (1 - data.bayes_error) / 500)
    assert float(model.test_error(a["x"])) < data.bayes_error + 4 * se + 0.01
    with pytest.raises(FloatingPointError, match="reduce lr"), np.errstate(over="ignore"):
        sgd_momentum(model, np.full(5, 1e300), lr=1e300, n_steps=2, batch=4)


def test_cli_experiment_errors(capsys):
    assert cli_main(["experiment", "nope", "--out", "unused"]) == 2
    assert "valid names are" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown experiment"):
        run_experiment("nope", "unused")
    with pytest.raises(ValueError, match="`size`"):
        run_experiment("sgd-noise", "unused", size="huge")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_quick_experiment_writes_outputs_and_resumes(name, tmp_path):
    res = run_experiment(name, tmp_path, "quick", progress=False)
    for ext in ("h5", "png", "md"):
        assert (tmp_path / f"{name}.{ext}").stat().st_size > 500
    text = (tmp_path / f"{name}.md").read_text()
    assert "Claim:" in text and "Verdict:" in text and "±" in text
    again = run_experiment(name, tmp_path, "quick", progress=False)
    assert again["lines"] == res["lines"]                      # nothing recomputed, same numbers


@pytest.mark.slow
def test_cli_experiment_on_a_dask_cluster(tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    assert cli_main(["experiment", "sgd-noise", "--out", str(tmp_path), "--executor", "dask", "--workers", "2"]) == 0
    assert "Verdict:" in capsys.readouterr().out
    assert len(list((tmp_path / "points").glob("sgd-noise-*.h5"))) == 2
