"""deeprelax: Deep Relaxation smoothing of loss landscapes, checked against exact answers.

``import deeprelax as dr`` gives the losses, the local-entropy tools, the
dynamics, I/O and plotting, and re-exports the main solver entry points of
:mod:`solvers` (``dr.Grid``, ``dr.hopf_lax``, ``dr.cole_hopf``, ...).
"""
import sys as _sys
import types as _types
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("deeprelax")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

from solvers import _cache_stamp as _cache_stamp  # noqa: E402

# before any kernel of this package is defined: its cached kernels are stamped with the hash of this
# package's sources and of solvers' (a kernel recompiles when a loss body or provider it calls changes)
_cache_stamp.register_tree(__path__[0])

from solvers import (FPResult, Grid, cole_hopf, fokker_planck_steady_state, gibbs, hopf_lax,  # noqa: E402
                     solve_fokker_planck, solve_hj, HJResult)

from . import io, losses  # noqa: E402
from .prox import ProxResult, prox  # noqa: E402
from . import dynamics, finite_sum, local_entropy, sgd_noise, stats, sweep, validation  # noqa: E402
from . import plot  # noqa: E402  (matplotlib is imported only when a figure is drawn)
from . import discrete  # noqa: E402
from . import models  # noqa: E402
from .dynamics import Trajectory  # noqa: E402
from .local_entropy import LocalEntropyResult, esgd_free_energy, local_entropy_grad  # noqa: E402
from .scope import noise_to_beta, scope_to_time, time_to_scope  # noqa: E402
from .convergence import ConvergenceResult, convergence_study  # noqa: E402
from .validation import run_validation  # noqa: E402


class _CallableModule(_types.ModuleType):
    """A module that, called, calls its function of the same name.

    ``dr.local_entropy`` and ``dr.sweep`` are the modules (``import deeprelax.local_entropy as le``
    gives the module, as it should), and ``dr.local_entropy(loss, x, t, beta)`` and
    ``dr.sweep(fn, grid)`` still call the functions, so no function hides its module.
    """

    def __call__(self, *args, **kwargs):
        return getattr(self, self.__name__.rpartition(".")[2])(*args, **kwargs)


for _m in (local_entropy, sweep):
    _m.__class__ = _CallableModule

__all__ = ["Grid", "hopf_lax", "cole_hopf", "solve_fokker_planck", "fokker_planck_steady_state", "gibbs",
           "FPResult", "solve_hj", "HJResult", "io", "losses", "prox", "ProxResult", "dynamics", "finite_sum", "models",
           "sgd_noise", "stats", "validation", "plot", "Trajectory", "local_entropy", "local_entropy_grad",
           "LocalEntropyResult", "scope_to_time", "time_to_scope", "noise_to_beta", "esgd_free_energy", "sweep",
           "run_validation", "discrete", "convergence_study", "ConvergenceResult", "__version__"]
