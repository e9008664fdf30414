"""The README's API tour must run as written."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_quick_start_has_exactly_two_commands():
    text = README.read_text()
    block = re.search(r"## Quick start\s+```\n(.*?)```", text, re.S).group(1)
    assert block.split("\n")[:2] == ["make demo", "make test"] and block.strip().count("\n") == 1


@pytest.mark.slow
def test_readme_api_tour_runs(tmp_path, monkeypatch, capsys):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert ns["np"].abs(ns["pde"].u - ns["visc"].u).max() < 0.05
    assert ns["np"].allclose(ns["back"].u, ns["visc"].u)
    assert (tmp_path / "visc.h5").exists()
    assert ns["part"].status == "stopped" and ns["rest"].success
    assert ns["np"].array_equal(ns["rest"].rhos, ns["fp"].rhos) and ns["rest"].n_steps == ns["fp"].n_steps
    early = ns["early"]
    assert early.status == "stopped_by_callback" and early.ts[-1] == ns["fp"].ts[7]
    assert ns["np"].array_equal(early.rhos, ns["fp"].rhos[:8])


def test_readme_tour_entropy_sgd_lines(tmp_path, monkeypatch, capsys):
    """The local-entropy lines of the tour: SGLD z-scores small, ESGD chains shaped (steps, chains, d)."""
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    np = ns["np"]
    z = (ns["est"].grad - ns["exact"]) / ns["est"].stderr
    assert np.all(np.abs(z) < 4), z
    assert ns["esgd"].xs.shape[1:] == (512, 1)
    # Entropy-SGD from x = 1.2 descends u(., 0.3): the chains end near the right well of the double well
    assert abs(np.median(ns["esgd"].xs[-1, :, 0]) - 1.0) < 0.3
    # its observer saw the chains at steps 0, 100, 200, 300 (all start in the right well at 1.2)
    assert len(ns["right"]) == 4 and ns["right"][0] == 1.0 and ns["right"][-1] == (ns["esgd"].x > 0).mean()


def test_readme_images_exist():
    text = README.read_text()
    imgs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(imgs) >= 5
    for rel in imgs:
        assert (README.parent / rel).exists(), rel
