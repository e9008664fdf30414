"""Losses: the :class:`Loss` contract, a registry of analytic landscapes with exact gradients and
relaxations, and user losses made of functions.

>>> from deeprelax import losses
>>> f = losses.get("double-well", dim=2)
>>> float(f.value([1.0, 0.0])), f.grad([[0.5, 1.0]]).shape
(0.0, (1, 2))
>>> losses.names()[:3]
['abs', 'cosine', 'double-well']

Every loss maps points ``x`` of shape ``(..., d)`` (``d = loss.dim``) to values of shape ``(...)`` and
gradients of shape ``(..., d)`` (:mod:`deeprelax.losses.base` states the subclass contract).  Losses
with a closed-form relaxation expose

* ``exact_u(x, t, beta=inf)``: viscous (``beta < inf``, Cole-Hopf) or Hopf-Lax (``beta = inf``)
  solution of ``u_t = -1/2 |grad u|^2 + 1/(2 beta) Lap u``,
* ``exact_grad(x, t, beta=inf)`` and ``exact_prox(x, t)``,

and raise ``NotImplementedError`` otherwise.

Your own loss, three ways (all run in every entry point: dynamics, local entropy, prox, solvers, CLI):

* :func:`from_functions` with vectorised NumPy ``value``/``grad`` (the dynamics call ``grad`` once per
  step on all chains);
* :func:`from_functions` with ``numba.njit`` functions of one point (compiled into the particle kernels);
* a :class:`Loss` subclass implementing the public ``value``/``grad`` (``hess``, ``bounds`` ...).

:func:`register` makes any of them available by name (``get``, the CLI's ``--loss``); :func:`resolve`
also takes ``module:attr`` or ``path/to/file.py:attr`` (what ``--loss`` accepts).
"""
from .analytic import (Abs, Cosine, DoubleWell, DRFig1, GaussianMixture, Quadratic, Rastrigin,  # noqa: F401
                       SoftminQuadratics, WideSharp)
from .base import Loss, central_grad  # noqa: F401
from .functions import FunctionLoss, as_loss, from_functions  # noqa: F401
from .registry import _REGISTRY, get, names, register, resolve  # noqa: F401

__all__ = ["Loss", "FunctionLoss", "from_functions", "as_loss", "get", "names", "register", "resolve", "finite_sum",
           "FiniteSumLoss"]


def __getattr__(name):
    # finite sums live in their own module (which imports this package); re-exported lazily so that
    # ``dr.losses.finite_sum("least-squares", ...)`` works next to ``dr.losses.get``
    if name in ("finite_sum", "FiniteSumLoss"):
        from .. import finite_sum as _fs

        return getattr(_fs, name)
    raise AttributeError(f"module 'deeprelax.losses' has no attribute {name!r}")
