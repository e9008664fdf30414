"""The committed benchmark tables say what their JSON says.

Every ``benchmarks/results/<name>.md`` is rendered from ``<name>.json`` by its benchmark's renderer;
``speed.json`` is collected from the other JSON files; the README's ``BENCH`` blocks are copies of the
tables.  A table edited by hand, or a JSON re-run without re-rendering, fails here.  Nothing is timed or
measured: these tests only re-render committed files.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"

RENDERERS = {  # table name -> (module of benchmarks, its renderer)
    "cole_hopf": ("bench_cole_hopf", "to_markdown"),
    "discrete": ("bench_discrete", "to_markdown"),
    "dynamics": ("bench_dynamics", "to_markdown"),
    "fokker_planck": ("bench_fokker_planck", "to_markdown"),
    "gpu": ("bench_gpu", "to_markdown"),
    "hopf_lax": ("bench_hopf_lax", "to_markdown"),
    "convergence": ("convergence", "to_markdown"),
    "hj": ("_hj_report", "_md"),
}


def _json(name):
    return json.loads((RESULTS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_table_is_rendered_from_its_json(name):
    mod, fn = RENDERERS[name]
    render = getattr(importlib.import_module(f"benchmarks.{mod}"), fn)
    assert render(_json(name)) == (RESULTS / f"{name}.md").read_text(), (
        f"benchmarks/results/{name}.md differs from its rendering of {name}.json: re-render it")


def test_speed_table_collects_the_results():
    from benchmarks import speed_summary as S

    rows = _json("speed")
    assert S.to_markdown(rows) == (RESULTS / "speed.md").read_text()
    collected = json.loads(json.dumps(S.collect(), default=str))
    assert collected == rows, "speed.json is stale: run benchmarks/speed_summary.py"


def test_readme_blocks_are_the_tables(tmp_path):
    from benchmarks import update_readme

    readme = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    readme.write_text(text)
    done = update_readme.update(readme, RESULTS)
    assert done, "the README has no BENCH block"
    assert readme.read_text() == text, "a README BENCH block differs from its table: run benchmarks/update_readme.py"


def test_atomic_writer_leaves_no_temporary(tmp_path):
    from benchmarks._common import write_tables

    write_tables(tmp_path, "x", {"a": 1.5}, "| a |\n", indent=1)
    write_tables(tmp_path, "x", {"a": 2.5}, "| b |\n", indent=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.md"]
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 2.5}
    assert (tmp_path / "x.md").read_text() == "| b |\n"
