"""Shared helpers of the ``figures/discrete_*.py`` scripts: sizes, argument parsing, method styles."""
from __future__ import annotations

import argparse

try:
    from figures._common import ROOT, cached, outdir
except ImportError:  # run as a script
    from _common import ROOT, cached, outdir

SIZES = ("tiny", "demo", "full")

#: colour / marker per method (Okabe-Ito), plus the teacher and the references.
STYLE = {
    "anneal_errors": ("#999999", "v"), "anneal_hinge": ("#000000", "s"), "replicated_anneal": ("#0072B2", "o"),
    "replicated_sgd": ("#D55E00", "D"), "entropy_sgd": ("#009E73", "^"), "focusing_bp": ("#CC79A7", "P"),
    "teacher": ("#E69F00", "*"), "typical": ("#E69F00", "*"), "dense": ("#56B4E9", "X"),
}


def parse(description: str, argv=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=str(ROOT / "figures" / "out"), help="output directory (default figures/out)")
    p.add_argument("--recompute", action="store_true", help="ignore cached .h5 results")
    p.add_argument("--size", choices=SIZES, default="full",
                   help="problem sizes: tiny (smoke test), demo (make demo), full (the reported run)")
    return p.parse_args(argv)


def check_size(size):
    if size not in SIZES:
        raise ValueError(f"`size` must be one of {SIZES}; got {size!r}.")
    return size


def tag(name, size):
    return f"{name}.h5" if size == "full" else f"{name}_{size}.h5"


def run(name, compute, plot, summary, out, recompute, size):
    """The ``main`` of every ``figures/discrete_*.py`` script: compute (or load the cached ``.h5``), draw
    ``<name>[_<size>].png`` in ``out``, print the summary table; returns the PNG path."""
    size = check_size(size)
    out = outdir(out)
    res = cached(out / tag(name, size), lambda: compute(size), recompute)
    png = out / (f"{name}.png" if size == "full" else f"{name}_{size}.png")
    plot(res, png)
    print("\n".join(summary(res)))
    return png
