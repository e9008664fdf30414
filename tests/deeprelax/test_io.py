import dataclasses

import numpy as np
import pytest

import deeprelax as dr
from deeprelax import io
from solvers import ColeHopfResult, Grid, HopfLaxResult


def _equal(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return a == b and type(a) is type(b)


def test_roundtrip_every_field(tmp_path, rng):
    g = Grid.uniform([(-1, 1), (0, 2)], (7, 5), periodic=(False, True))
    res = HopfLaxResult(u=rng.normal(size=g.shape), prox=rng.normal(size=g.shape + (2,)),
                        grad=rng.normal(size=g.shape + (2,)), grid=g, t=0.25, method="lower-envelope",
                        wall_time=1.5e-3, compile_time=0.0,
                        params={"refine": "quadratic", "pad": (3, 0), "inf": float("inf"), "n": 4,
                                "nested": {"a": np.arange(3), "flag": True}, "none": None})
    path = io.save(res, tmp_path / "hl.h5", attrs={"seed": 42})
    back = io.load(path)
    assert type(back) is HopfLaxResult
    for f in dataclasses.fields(res):
        assert _equal(getattr(res, f.name), getattr(back, f.name)), f.name
    meta = io.metadata(path)
    assert meta["deeprelax_version"] == dr.__version__
    assert meta["attrs"] == {"seed": 42}
    assert "created" in meta
    assert not (tmp_path / "hl.h5.tmp").exists()


def test_roundtrip_inf_beta_and_repr(tmp_path):
    g = Grid.uniform([(0, 1)], 4)
    res = ColeHopfResult(u=np.zeros(4), grad=np.zeros((4, 1)), mean=np.zeros((4, 1)), grid=g, t=1.0,
                         beta=float("inf"))
    back = io.load(io.save(res, tmp_path / "c.h5"))
    assert back.beta == float("inf") and back.grid == g
    r = repr(back)
    assert "ColeHopfResult(" in r and "u=array(4,)" in r


def test_save_rejects_non_results(tmp_path):
    with pytest.raises(TypeError, match="result"):
        io.save(np.zeros(3), tmp_path / "x.h5")


def test_load_rejects_foreign_files(tmp_path):
    import h5py

    p = tmp_path / "foreign.h5"
    with h5py.File(p, "w") as h:
        h["x"] = np.zeros(2)
    with pytest.raises(ValueError, match="not a deeprelax result"):
        io.load(p)
