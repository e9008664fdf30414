"""deeprelax: Deep Relaxation smoothing of loss landscapes, checked against exact answers.

``import deeprelax as dr`` gives the losses, the local-entropy tools, the
dynamics, I/O and plotting, and re-exports the main solver entry points of
:mod:`solvers` (``dr.Grid``, ``dr.hopf_lax``, ``dr.cole_hopf``, ...).
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("deeprelax")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

from solvers import (FPResult, Grid, cole_hopf, fokker_planck_steady_state, gibbs, hopf_lax,  # noqa: E402
                     solve_fokker_planck, solve_hj, HJResult)

from . import io, losses  # noqa: E402
from .prox import ProxResult, prox  # noqa: E402

__all__ = ["Grid", "hopf_lax", "cole_hopf", "solve_fokker_planck", "fokker_planck_steady_state", "gibbs",
           "FPResult", "solve_hj", "HJResult", "io", "losses", "prox", "ProxResult", "__version__"]
