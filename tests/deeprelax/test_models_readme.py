"""The README's learning-problems example runs as written: SGD and Entropy-SGD train the digits MLP."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_models_example_runs(capsys):
    pytest.importorskip("sklearn")
    text = README.read_text()
    sec = text[text.index("## Learning problems and the papers' experiments"):]
    code = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    net = ns["net"]
    assert net.dim == 1210
    assert ns["sgd"].xs.shape == ns["esgd"].xs.shape == (2, 1, 1210)
    for tr in (ns["sgd"], ns["esgd"]):
        x = tr.xs[-1, 0]
        assert float(net.test_error(x)) < 0.1 and float(net.train_error(x)) < 0.02   # chance is 0.9
    # the printed lines are the ones the README shows (the same seed gives the same trajectory anywhere)
    printed = capsys.readouterr().out.strip().splitlines()
    shown = [ln[2:] for ln in code.splitlines() if ln.startswith("# SGD") or ln.startswith("# Entropy-SGD")]
    assert printed == shown
    assert ns["top"].shape == (5,) and ns["top"][-1] > 0
    assert ns["D"].D.shape == (1210, 1210)
