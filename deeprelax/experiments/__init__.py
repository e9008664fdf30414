"""The papers' deep-learning experiments at a scale this machine can run (issue 18).

One function per experiment, each ``fn(out, size="quick"|"full", executor="serial", progress=True)``;
every one writes ``out/<name>.h5`` (all grid points), ``out/<name>.png`` and ``out/<name>.md`` (the
numbers with error bars next to the papers' claims) and keeps each finished grid point in
``out/points/`` so that a second run with the same ``out`` recomputes nothing.  The grid points run
through :func:`deeprelax.sweep`: ``executor="serial"``, ``None`` (a local process pool), any
``concurrent.futures.Executor`` or ``dask.distributed.Client(...).get_executor()``.

========================  =====================================================================
``optimisers``            SGD (Nesterov), Entropy-SGD, Elastic-SGD, Parle on MLPs: error vs budget
``width``                 Hessian λ_max, trace, near-zero fraction, local entropy at the endpoints
``sgd-noise``             diffusion matrix D(x): rank, eigenvalue mean ± std, top of the spectrum
``eta-over-S``            learning rate / batch size: width, collapse, decay vs batch, E[L] vs η/(4S) Tr H
``hessian-spectrum``      full spectrum of a trained MLP: bulk near zero, outliers vs classes
========================  =====================================================================
"""
from __future__ import annotations

from . import eta_over_s, hessian_spectrum, optimisers, sgd_noise, width

EXPERIMENTS = {
    "optimisers": optimisers.run,
    "width": width.run,
    "sgd-noise": sgd_noise.run,
    "eta-over-S": eta_over_s.run,
    "hessian-spectrum": hessian_spectrum.run,
}

run_optimisers = optimisers.run
run_width = width.run
run_sgd_noise = sgd_noise.run
run_eta_over_s = eta_over_s.run
run_hessian_spectrum = hessian_spectrum.run

__all__ = ["EXPERIMENTS", "run_experiment", "run_optimisers", "run_width", "run_sgd_noise", "run_eta_over_s",
           "run_hessian_spectrum"]


def run_experiment(name: str, out, size: str = "quick", executor="serial", progress: bool = True) -> dict:
    """Run the experiment ``name`` (a key of :data:`EXPERIMENTS`); returns its summary dict."""
    from pathlib import Path

    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid names are: {', '.join(EXPERIMENTS)}.")
    Path(out).mkdir(parents=True, exist_ok=True)
    return EXPERIMENTS[name](out, size=size, executor=executor, progress=progress)
