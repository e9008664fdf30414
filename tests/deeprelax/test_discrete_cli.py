"""`deeprelax discrete ...`, the figure scripts at tiny size, the README example and the validation rows."""
import json
import re
from pathlib import Path

import pytest

import numpy as np

from deeprelax.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.slow
def test_cli_solve_enumerate_local_entropy_and_errors(capsys):
    assert main(["discrete", "solve", "--method", "replicated_anneal", "--n", "51", "--alpha", "0.3", "--instances",
                 "2", "--budget", "600", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "replicated_anneal" and len(out["runs"]) == 2 and all(r["solved"] for r in out["runs"])
    assert main(["discrete", "enumerate", "--n", "15", "--alpha", "0.4"]) == 0
    assert "solutions" in capsys.readouterr().out
    assert main(["discrete", "local-entropy", "--n", "21", "--alpha", "0.4", "--d", "1", "2"]) == 0
    assert "S =" in capsys.readouterr().out
    assert main(["discrete", "enumerate", "--n", "20", "--alpha", "0.4"]) == 2
    assert "`n` must be a positive odd integer" in capsys.readouterr().err
    assert main(["discrete", "enumerate", "--n", "31", "--alpha", "0.4"]) == 2
    assert "must be <= 27" in capsys.readouterr().err


@pytest.mark.slow
def test_figures_tiny_write_pngs_and_reuse_cache(tmp_path):
    from deeprelax.discrete.cli import FIGURES, run_figures

    lines = run_figures(tmp_path, size="tiny")
    assert len(lines) == len(FIGURES)
    for name in FIGURES:
        png = tmp_path / f"{name}_tiny.png"
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert (tmp_path / f"{name}_tiny.h5").exists() or list(tmp_path.glob(f"{name}_N*_tiny.h5"))
    mt = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.h5")}
    run_figures(tmp_path, size="tiny", only=["threshold"])  # second call reads the cache
    assert all(p.stat().st_mtime_ns == t for p, t in mt.items())


def test_readme_discrete_example_runs(monkeypatch, tmp_path):
    text = README.read_text()
    sec = text[text.index("## Discrete learning"):]
    code = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert ns["rsgd"].solved and ns["rsgd"].energy == 0
    assert np.all(np.isfinite(ns["S"].S[ns["S"].count > 0]))
