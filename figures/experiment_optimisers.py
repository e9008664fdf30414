"""SGD (Nesterov), Entropy-SGD, Elastic-SGD and Parle on MLPs (digits, teacher-student): error vs gradient budget and wall time.

Usage: ``python figures/experiment_optimisers.py [--out figures/out] [--size tiny|full] [--recompute]``; the experiment
(:mod:`deeprelax.experiments`, ``deeprelax experiment optimisers``) writes
``<out>/experiments/optimisers.png``, ``.h5`` and ``.md`` (numbers next to the papers' claims).
"""
from __future__ import annotations

try:
    from figures._experiment import cli, main_for
except ImportError:  # run as a script
    from _experiment import cli, main_for


def main(out="figures/out", *, recompute=False, size="quick"):
    return main_for("optimisers", out, recompute, size)


if __name__ == "__main__":
    cli("optimisers", __doc__)
