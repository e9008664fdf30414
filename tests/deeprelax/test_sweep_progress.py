"""sweep(progress=True) shows a bar for executor="serial" too, counting finished tasks (failed ones included)."""
import pytest

from deeprelax.sweep import sweep


def _sq(x):
    if x == 2:
        raise ValueError("two")
    return x * x


def test_serial_sweep_progress_bar(capsys):
    pytest.importorskip("tqdm")
    res = sweep(_sq, {"x": [0, 1, 2, 3]}, executor="serial", progress=True, raise_errors=False)
    assert [r.value for r in res] == [0, 1, None, 9] and res[2].error == "ValueError: two"
    err = capsys.readouterr().err
    assert "sweep" in err and "4/4" in err
