"""solvers.views.save_figure: atomic image writes (a failed write keeps the old file, leaves no temporary)."""
from pathlib import Path

import pytest

from solvers.views import pyplot, save_figure


def _fig():
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    return plt, fig


def test_writes_format_from_suffix_and_replaces(tmp_path):
    plt, fig = _fig()
    p = save_figure(fig, tmp_path / "sub" / "a.png", dpi=50)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    q = save_figure(fig, tmp_path / "a.svg")
    assert b"<svg" in q.read_bytes()[:400]
    first = p.read_bytes()
    save_figure(fig, p, dpi=80)  # regenerated output replaces the old image
    assert p.read_bytes() != first
    plt.close(fig)
    assert sorted(x.name for x in (tmp_path / "sub").iterdir()) == ["a.png"]


def test_failed_write_keeps_old_file_and_no_temporary(tmp_path, monkeypatch):
    plt, fig = _fig()
    p = save_figure(fig, tmp_path / "b.png", dpi=50)
    before = p.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(fig, "savefig", boom)
    with pytest.raises(RuntimeError, match="renderer failed"):
        save_figure(fig, p)
    plt.close(fig)
    assert p.read_bytes() == before
    assert [x.name for x in Path(tmp_path).iterdir()] == ["b.png"]
