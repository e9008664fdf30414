r"""Losses made of functions: :func:`from_functions`, and :func:`as_loss` (what every entry point calls).

>>> import numpy as np
>>> from deeprelax.losses import from_functions
>>> f = from_functions(lambda x: 0.25 * (x[..., 0] ** 2 - 1) ** 2 + 0.5 * x[..., 1] ** 2,
...                    lambda x: np.stack([x[..., 0] * (x[..., 0] ** 2 - 1), x[..., 1]], -1), dim=2)
>>> float(f([1.0, 0.0])), f.grad([[0.0, 2.0]]).tolist()
(0.0, [[-0.0, 2.0]])

Two kinds of functions:

* **vectorised Python / NumPy** (the default): ``value(x)`` maps points ``(..., d)`` to ``(...)`` and
  ``grad(x)`` to ``(..., d)``.  The particle dynamics call ``grad`` once per step on all chains.
* **compiled per-point** (``numba.njit``): ``value(x) -> float`` and ``grad(x, out)`` (writes ``out``)
  or ``grad(x) -> g`` for one point ``x`` of shape ``(d,)``.  The particle kernels inline them, with no
  Python call per step (:mod:`deeprelax._kernel_loss`); ``value``/``grad`` on arrays of points loop
  over them in compiled code.
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional

import numba
import numpy as np

from .base import FD_STEP, Loss

__all__ = ["FunctionLoss", "from_functions", "as_loss"]


def _is_jit(fn) -> bool:
    from .._kernel_loss import is_jit_function

    return fn is not None and is_jit_function(fn)


_BATCH: dict = {}


def _batch(fn, what):
    """Compiled loop of a per-point ``numba.njit`` function over the rows of ``X`` (n, d) (cached per function)."""
    key = (fn, what)
    if key in _BATCH:
        return _BATCH[key]
    from .._kernel_loss import grad_style

    if what == "value":
        @numba.njit
        def run(X):
            out = np.empty(X.shape[0])
            for i in range(X.shape[0]):
                out[i] = fn(X[i])
            return out
    elif what == "hess":
        @numba.njit
        def run(X):
            d = X.shape[1]
            out = np.empty((X.shape[0], d, d))
            for i in range(X.shape[0]):
                out[i] = fn(X[i])
            return out
    elif grad_style(fn) == "out":
        @numba.njit
        def run(X):
            out = np.empty_like(X)
            for i in range(X.shape[0]):
                fn(X[i], out[i])
            return out
    else:
        @numba.njit
        def run(X):
            out = np.empty_like(X)
            for i in range(X.shape[0]):
                out[i] = fn(X[i])
            return out
    _BATCH[key] = run
    return run


def _jit_central_grad(value):
    """Compiled central differences of a per-point ``numba.njit`` value (step :data:`FD_STEP` max(1, |x_k|))."""
    @numba.njit
    def grad(x, out):
        xx = x.copy()
        for k in range(x.shape[0]):
            h = FD_STEP * max(1.0, abs(x[k]))
            xx[k] = x[k] + h
            fp = value(xx)
            xx[k] = x[k] - h
            fm = value(xx)
            out[k] = (fp - fm) / ((x[k] + h) - (x[k] - h))
            xx[k] = x[k]
    return grad


class FunctionLoss(Loss):
    """A loss given by functions (build it with :func:`from_functions`).

    Attributes
    ----------
    jit_value, jit_grad : numba dispatcher or None
        The compiled per-point forms the particle kernels inline (None for Python functions).
    functions : dict
        The functions as given (``value``, ``grad``, ``hess``).
    """

    def __init__(self, value, grad=None, *, dim, bounds=None, hess=None, name=None, lipschitz_grad=None):
        if not callable(value):
            raise TypeError(f"`value` must be callable (points (..., d) -> (...), or a numba.njit function of one "
                            f"point); got {value!r}.")
        for nm, fn in (("grad", grad), ("hess", hess)):
            if fn is not None and not callable(fn):
                raise TypeError(f"`{nm}` must be callable or None; got {fn!r}.")
        super().__init__(dim, bounds, {}, lipschitz_grad)
        self.name = name or getattr(value, "__name__", "function")
        self.functions = {"value": value, "grad": grad, "hess": hess}
        self.jit_value = value if _is_jit(value) else None
        self.jit_grad = grad if _is_jit(grad) else None
        if grad is not None and self.jit_grad is not None:
            from .._kernel_loss import grad_style

            grad_style(grad)                                # TypeError now for a wrong signature
        if grad is None and self.jit_value is not None:
            warnings.warn(f"loss {self.name!r}: no `grad` given; using compiled central differences of `value` "
                          f"(step {FD_STEP:.1e} max(1, |x_k|), error ~1e-11 x the scale of f and f''').",
                          stacklevel=3)
            self.jit_grad = _jit_central_grad(value)
        self.has_hess = hess is not None

    @property
    def compiled(self) -> bool:
        """Whether the particle kernels run this loss compiled (a ``numba.njit`` gradient)."""
        return self.jit_grad is not None

    def _rows(self, x):
        X = np.ascontiguousarray(x, dtype=np.float64)
        return X.reshape(-1, self.dim), X.shape[:-1]

    def _value(self, x):
        if self.jit_value is not None:
            X, lead = self._rows(x)
            return _batch(self.jit_value, "value")(X).reshape(lead)
        v = np.asarray(self.functions["value"](x), dtype=np.float64)
        if v.shape != x.shape[:-1]:
            if v.shape == x.shape[:-1] + (1,):
                return v[..., 0]
            raise ValueError(
                f"`value` of loss {self.name!r} must map points of shape (..., {self.dim}) to values of shape (...); "
                f"got shape {v.shape} for points of shape {x.shape}.  Index the coordinates as x[..., k] "
                f"(vectorised), or compile a per-point function with numba.njit.")
        return v

    def _grad(self, x):
        if self.jit_grad is not None:
            X, lead = self._rows(x)
            return _batch(self.jit_grad, "grad")(X).reshape(x.shape)
        if self.functions["grad"] is None:
            return super()._grad(x)
        g = np.asarray(self.functions["grad"](x), dtype=np.float64)
        if g.shape != x.shape:
            raise ValueError(
                f"`grad` of loss {self.name!r} must map points of shape (..., {self.dim}) to gradients of the same "
                f"shape; got shape {g.shape} for points of shape {x.shape}.")
        return g

    def _hess(self, x):
        fn = self.functions["hess"]
        if fn is None:
            raise NotImplementedError(f"loss {self.name!r} has no Hessian.")
        if _is_jit(fn):
            X, lead = self._rows(x)
            return _batch(fn, "hess")(X).reshape(x.shape + (self.dim,))
        H = np.asarray(fn(x), dtype=np.float64)
        if H.shape != x.shape + (self.dim,):
            raise ValueError(f"`hess` of loss {self.name!r} must return shape (..., {self.dim}, {self.dim}); got "
                             f"{H.shape} for points of shape {x.shape}.")
        return H

    def __repr__(self) -> str:
        kind = "compiled" if self.compiled else "python"
        return f"Loss({self.name!r}, dim={self.dim}, {kind} functions)"


def from_functions(value: Callable, grad: Optional[Callable] = None, *, dim: int, bounds=None,
                   hess: Optional[Callable] = None, name: Optional[str] = None,
                   lipschitz_grad: Optional[float] = None) -> FunctionLoss:
    r"""A loss from its value and (optionally) gradient and Hessian functions.

    Parameters
    ----------
    value : callable
        ``value(x)``: points ``(..., d)`` -> ``(...)`` (vectorised NumPy), or a ``numba.njit`` function of
        one point ``x`` (d,) returning a float.
    grad : callable, optional
        ``grad(x)``: ``(..., d)`` -> ``(..., d)``, or a ``numba.njit`` function of one point, either
        ``grad(x, out)`` (writes ``out``) or ``grad(x) -> g``.  Compiled ``grad`` (or a compiled ``value``
        without ``grad``) runs inside the particle kernels.  Omitted: central differences of ``value``
        (step ``h_k = eps^(1/3) max(1, |x_k|)``, error at most ``h^2 |f'''| / 6 + eps |f| / h`` per
        component, about 1e-11 for a loss of unit scale), with a warning (once).
    dim : int
        Dimension ``d``.
    bounds : sequence of (lo, hi), optional
        Natural box (plots, grids, step-size heuristics); default ``[-3, 3]^d``.
    hess : callable, optional
        ``hess(x)``: ``(..., d)`` -> ``(..., d, d)`` (or a per-point ``numba.njit`` returning (d, d)).
    name : str, optional
        Default: ``value.__name__``.
    lipschitz_grad : float, optional
        A bound on ``Lip(grad f)`` (prox methods, default SGLD steps).

    Returns
    -------
    FunctionLoss
    """
    return FunctionLoss(value, grad, dim=dim, bounds=bounds, hess=hess, name=name, lipschitz_grad=lipschitz_grad)


def as_loss(loss, dim: Optional[int] = None, *, where: str = "", wrap: bool = False):
    """The loss behind an entry point's ``loss`` argument.

    A :class:`Loss` is returned as is.  An object with ``dim`` and ``value``/``grad`` (a finite-sum model,
    say) is returned as is, or with ``wrap=True`` (entry points that use ``Loss`` internals) wrapped in a
    :class:`FunctionLoss` that keeps its compiled forms.  A plain callable ``f(x)`` on points ``(..., d)``
    becomes ``from_functions(f, dim=dim)`` (its gradient then by central differences).
    """
    if isinstance(loss, Loss):
        return loss
    has_dim = hasattr(loss, "dim")
    if has_dim and (callable(getattr(loss, "value", None)) or callable(getattr(loss, "grad", None))):
        if not wrap:
            return loss
        fl = FunctionLoss(getattr(loss, "value", None) or (lambda x: np.full(np.shape(x)[:-1], np.nan)),
                          getattr(loss, "grad", None), dim=int(loss.dim), bounds=getattr(loss, "bounds", None),
                          hess=getattr(loss, "hess", None), name=getattr(loss, "name", type(loss).__name__),
                          lipschitz_grad=getattr(loss, "lipschitz_grad", None))
        for attr in ("jit_value", "jit_grad"):
            if getattr(loss, attr, None) is not None:
                setattr(fl, attr, getattr(loss, attr))
        return fl
    if callable(loss):
        if dim is None:
            raise TypeError(f"`loss` is a plain callable{' in ' + where if where else ''}: its dimension is taken "
                            f"from the points, which were not given; wrap it with "
                            f"deeprelax.losses.from_functions(f, dim=d).")
        return from_functions(loss, dim=int(dim), name=getattr(loss, "__name__", None))
    raise TypeError(f"`loss` must be a deeprelax.losses.Loss, an object with `dim` and `value`/`grad`, or a "
                    f"callable f(x) on points (..., d); got {type(loss).__name__}.")
