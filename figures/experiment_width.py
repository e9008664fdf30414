"""Width of the optimisers' endpoints: Hessian top eigenvalue, trace, near-zero fraction, Laplace local entropy.

Usage: ``python figures/experiment_width.py [--out figures/out] [--size tiny|full] [--recompute]``; the experiment
(:mod:`deeprelax.experiments`, ``deeprelax experiment width``) writes
``<out>/experiments/width.png``, ``.h5`` and ``.md`` (numbers next to the papers' claims).
"""
from __future__ import annotations

try:
    from figures._experiment import cli, main_for
except ImportError:  # run as a script
    from _experiment import cli, main_for


def main(out="figures/out", *, recompute=False, size="quick"):
    return main_for("width", out, recompute, size)


if __name__ == "__main__":
    cli("width", __doc__)
