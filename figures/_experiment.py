"""Shared body of the ``experiment_*.py`` figure scripts: run one experiment of :mod:`deeprelax.experiments`.

The experiment writes ``<out>/experiments/<name>.png|h5|md``; its finished grid points are reused unless
``recompute`` (then that experiment's point files are removed first).  ``size``: "quick" (also "tiny")
or "full".
"""
from __future__ import annotations

from pathlib import Path

try:
    from figures._common import ROOT, parse  # noqa: F401  (puts the checkout on sys.path)
except ImportError:  # run as a script
    from _common import ROOT, parse  # noqa: F401


def main_for(name: str, out, recompute: bool = False, size: str = "quick") -> Path:
    from deeprelax.experiments import run_experiment

    size = "quick" if size in ("tiny", "quick") else size
    d = Path(out) / "experiments"
    if recompute:
        for f in (d / "points").glob(f"{name}-*.h5"):
            f.unlink()
    res = run_experiment(name, d, size=size, progress=False)
    return Path(res["png"])


def cli(name: str, doc: str):
    a = parse(doc.splitlines()[0])
    print(main_for(name, a.out, recompute=a.recompute, size=a.size))
