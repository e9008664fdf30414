"""solvers: the numerical engine of deeprelax.

Grids, exact Hopf-Lax and Cole-Hopf solvers, finite-difference Hamilton-Jacobi
schemes and Fokker-Planck integrators.  This package knows nothing of machine
learning and never imports :mod:`deeprelax`.

Conventions: ``beta`` is an inverse temperature; the viscous Hamilton-Jacobi
equation is ``u_t = -1/2 |grad u|^2 + 1/(2 beta) Lap u`` and its heat kernel has
variance ``t / beta`` per axis.
"""
from .errors import (CheckpointError, CheckpointWarning, ConvergenceError, CudaUnavailableError, DeepRelaxError,
                     GridError, MemoryBudgetError, NonFiniteError, SchemeError, SolverError, StabilityError)
from . import backend, jit
from ._memory import memory_budget, set_memory_budget
from . import reference
from .grid import Grid
from .hopf_lax import hopf_lax
from .cole_hopf import cole_hopf
from .fokker_planck import (FPResult, explicit_dt_limit, fokker_planck_operator, fokker_planck_steady_state,
                            gibbs, probability_current, solve_fokker_planck)
from .hj import SCHEMES, HJResult, UnresolvedViscosityWarning, solve_hj
from .result import ColeHopfResult, HopfLaxResult, Result, RESULT_TYPES, register_result
from . import convergence, views  # noqa: E402  (result.plot()/to_xarray(); observed orders)

__all__ = [
    "Grid", "reference", "hopf_lax", "cole_hopf", "solve_hj", "HJResult", "SCHEMES", "UnresolvedViscosityWarning",
    "solve_fokker_planck", "gibbs", "fokker_planck_steady_state", "fokker_planck_operator",
    "probability_current", "explicit_dt_limit", "FPResult", "Result", "HopfLaxResult", "ColeHopfResult", "RESULT_TYPES", "register_result",
    "SolverError", "DeepRelaxError", "CudaUnavailableError", "GridError", "SchemeError", "StabilityError", "NonFiniteError", "ConvergenceError",
    "MemoryBudgetError", "CheckpointError", "CheckpointWarning", "memory_budget", "set_memory_budget",
    "convergence", "views", "backend", "jit",
]
