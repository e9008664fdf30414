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
