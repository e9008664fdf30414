"""The result object shared by every discrete solver."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from solvers.result import Result, register_result

__all__ = ["DiscreteResult", "geometric_schedule"]


@register_result
@dataclass(frozen=True, repr=False)
class DiscreteResult(Result):
    r"""Outcome of one run of a discrete solver on one instance.

    Attributes
    ----------
    W : ndarray, shape (N,), int8
        The answer: a solution when ``solved`` (for replicated methods the centre or the replica that
        solved first), else the configuration with the fewest errors at the end.
    energy : int
        Number of training errors of ``W`` (the problem's energy, whatever energy was annealed).
    solved : bool
        ``energy == 0``.
    sweeps : float
        Work used, in sweeps counting every replica: Monte Carlo = flip attempts / N; gradient methods =
        per-pattern gradient evaluations / P (one epoch of one replica), both O(N P) work.
    trajectory : dict of ndarray
        Recorded every ``params['record_every']`` sweeps: ``sweeps`` and the method's observables
        (``errors``, ``beta``, ``gamma``, ``centre_errors``, ``replica_errors_mean``, ``overlap``, ...).
    method : str
    energy_kind : str
        The energy that was annealed / descended (e.g. ``"errors"``, ``"hinge"``,
        ``"squared-hinge(kappa=...)"``).
    replicas : ndarray, shape (y, N)
        Final replicas (binary: their signs) of replicated methods; shape (0, N) otherwise.
    seed : int
    wall_time : float
        Seconds for this instance's batch (compile time excluded once cached).
    params : dict
    """

    W: np.ndarray
    energy: int
    solved: bool
    sweeps: float
    trajectory: dict
    method: str
    energy_kind: str
    replicas: np.ndarray
    seed: int = 0
    wall_time: float = 0.0
    params: dict = field(default_factory=dict)


def geometric_schedule(start: float, stop: float, n: int) -> np.ndarray:
    """``n`` values from ``start`` to ``stop``, geometric (``start * (stop/start)^(t/(n-1))``)."""
    if n <= 1:
        return np.array([float(stop)])
    if start <= 0 or stop <= 0:
        return np.linspace(start, stop, n)
    return start * (stop / start) ** (np.arange(n) / (n - 1))
