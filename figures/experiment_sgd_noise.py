"""SGD diffusion matrix D(x) of an MLP on the digits at initialisation and at the end: rank, eigenvalue mean +- std.

Usage: ``python figures/experiment_sgd_noise.py [--out figures/out] [--size tiny|full] [--recompute]``; the experiment
(:mod:`deeprelax.experiments`, ``deeprelax experiment sgd-noise``) writes
``<out>/experiments/sgd-noise.png``, ``.h5`` and ``.md`` (numbers next to the papers' claims).
"""
from __future__ import annotations

try:
    from figures._experiment import cli, main_for
except ImportError:  # run as a script
    from _experiment import cli, main_for


def main(out="figures/out", *, recompute=False, size="quick"):
    return main_for("sgd-noise", out, recompute, size)


if __name__ == "__main__":
    cli("sgd-noise", __doc__)
