"""The README's 'Convergence studies, plots and export' examples run as written."""
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Convergence studies, plots and export"


def _blocks():
    text = README.read_text()
    sec = text[text.index(SECTION):]
    sec = sec[:sec.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", sec, re.S)


def test_readme_convergence_plot_export_examples_run(tmp_path, monkeypatch):
    pytest.importorskip("xarray")
    import matplotlib
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for code in _blocks():
        exec(compile(code, "README.md", "exec"), ns)
    study = ns["study"]
    assert abs(study.order_of("godunov") - 1) < 0.2 and abs(study.order_of("eno2") - 2) < 0.25
    assert study.order_of("weno5") > 4.4
    assert (tmp_path / "orders.h5").exists()
    assert np.all(ns["visc"].orders > [0.7, 1.5]), ns["visc"]
    assert ns["ds"]["rhos"].dims == ("time", "x")
    df = ns["res"].to_dataframe()
    assert list(df.columns[:4]) == ["t", "beta", "argmin", "min"] and len(df) == 6
    assert df.loc[(df.t == 0.01) & (df.beta == 10.0)].argmin.iloc[0] == pytest.approx(1.5, abs=0.02)  # narrow well
    assert df.loc[(df.t == 1.0) & (df.beta == 1.0)].argmin.iloc[0] < 0                # wide well at t = 1
    assert (tmp_path / "sweep.h5").exists()
    assert np.mean(ns["esgd"].x[:, 0] < 0.5) >= 0.9
