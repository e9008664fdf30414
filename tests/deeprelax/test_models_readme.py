"""The README's learning-problems example runs as written and trains the digits MLP."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_models_example_runs():
    pytest.importorskip("sklearn")
    text = README.read_text()
    sec = text[text.index("## Learning problems and the papers' experiments"):]
    code = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    net, x = ns["net"], ns["x"]
    assert net.dim == 1210
    assert float(net.test_error(x)) < 0.15 and float(net.train_error(x)) < 0.1   # chance is 0.9
    assert ns["top"].shape == (5,) and ns["top"][-1] > 0
    assert ns["D"].D.shape == (1210, 1210)
