"""The README's API tour must run as written."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_has_exactly_two_commands():
    text = README.read_text()
    block = re.search(r"## Quick start\s+```\n(.*?)```", text, re.S).group(1)
    assert block.split("\n")[:2] == ["make demo", "make test"] and block.strip().count("\n") == 1


def test_readme_api_tour_runs(tmp_path, monkeypatch, capsys):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert ns["np"].abs(ns["pde"].u - ns["visc"].u).max() < 0.05
    assert ns["np"].allclose(ns["back"].u, ns["visc"].u)
    assert (tmp_path / "visc.h5").exists()
