"""Learning rate / batch size: endpoint width vs eta/S, lr decay vs batch increase, stationary loss vs eta/(4S) Tr H.

Usage: ``python figures/experiment_eta_over_s.py [--out figures/out] [--size tiny|full] [--recompute]``; the experiment
(:mod:`deeprelax.experiments`, ``deeprelax experiment eta-over-S``) writes
``<out>/experiments/eta-over-S.png``, ``.h5`` and ``.md`` (numbers next to the papers' claims).
"""
from __future__ import annotations

try:
    from figures._experiment import cli, main_for
except ImportError:  # run as a script
    from _experiment import cli, main_for


def main(out="figures/out", *, recompute=False, size="quick"):
    return main_for("eta-over-S", out, recompute, size)


if __name__ == "__main__":
    cli("eta-over-S", __doc__)
