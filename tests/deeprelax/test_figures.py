"""Smoke tests: every figure script's ``main`` runs at its tiny size and writes a non-empty PNG,
and a second call reuses the cached ``.h5`` (same PNG written, no recomputation needed)."""
import importlib.util
import sys
from pathlib import Path

import pytest

FIG_DIR = Path(__file__).resolve().parents[2] / "figures"
SCRIPTS = ["fig1_smoothing", "smoothing_2d", "convergence", "fokker_planck_evolution", "trajectories",
           "vanishing_viscosity"]
SLOW = set()   # all tiny runs together take ~20 s; mark a script here if it grows


def _load(name):
    if str(FIG_DIR) not in sys.path:
        sys.path.insert(0, str(FIG_DIR))
    spec = importlib.util.spec_from_file_location(f"_fig_{name}", FIG_DIR / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in SCRIPTS])
def test_script_writes_png(name, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    mod = _load(name)
    png = mod.main(tmp_path, size="tiny")
    assert Path(png).exists() and Path(png).stat().st_size > 10_000
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    h5 = list(tmp_path.glob("*.h5"))
    assert h5, "the computed data is cached as .h5"
    mtime = h5[0].stat().st_mtime_ns
    Path(png).unlink()
    mod.main(tmp_path, size="tiny")            # second call: reads the cache
    assert Path(png).exists() and h5[0].stat().st_mtime_ns == mtime


def test_cached_recompute_on_foreign_file(tmp_path):
    sys.path.insert(0, str(FIG_DIR))
    from _common import cached
    from deeprelax.plot import FigureData
    import numpy as np
    bad = tmp_path / "x.h5"
    bad.write_bytes(b"not hdf5")
    res = cached(bad, lambda: FigureData(data={"a": np.arange(3.0)}))
    assert np.array_equal(res.data["a"], np.arange(3.0))
    assert np.array_equal(cached(bad, lambda: None).data["a"], np.arange(3.0))
