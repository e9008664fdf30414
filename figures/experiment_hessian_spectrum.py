"""Full Hessian spectrum of trained MLPs on C digit classes: bulk near zero, outliers vs C.

Usage: ``python figures/experiment_hessian_spectrum.py [--out figures/out] [--size tiny|full] [--recompute]``; the experiment
(:mod:`deeprelax.experiments`, ``deeprelax experiment hessian-spectrum``) writes
``<out>/experiments/hessian-spectrum.png``, ``.h5`` and ``.md`` (numbers next to the papers' claims).
"""
from __future__ import annotations

try:
    from figures._experiment import cli, main_for
except ImportError:  # run as a script
    from _experiment import cli, main_for


def main(out="figures/out", *, recompute=False, size="quick"):
    return main_for("hessian-spectrum", out, recompute, size)


if __name__ == "__main__":
    cli("hessian-spectrum", __doc__)
