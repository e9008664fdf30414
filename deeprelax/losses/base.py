r"""The :class:`Loss` contract: what every loss in ``deeprelax`` provides, and the defaults it gets.

A loss maps points ``x`` of shape ``(..., d)`` (``d = loss.dim``; the trailing axis must equal ``dim``)
to values of shape ``(...)`` and gradients of shape ``(..., d)``.  ``f(x)`` is ``f.value(x)``.

Subclass contract (public methods; every entry point and the dynamics use only these)
-------------------------------------------------------------------------------------
Required
    ``dim`` (set by ``Loss.__init__(dim, ...)``) and ``value(x)``: ``(..., d) -> (...)``.
Optional
    ``grad(x)``: ``(..., d) -> (..., d)``.  Default: central differences of ``value`` with the step
    ``h_k = eps^(1/3) max(1, |x_k|)`` (``eps`` = float64 machine epsilon, ``h ~ 6e-6``); the error
    per component is at most ``h^2 max|f'''| / 6 + eps max|f| / h``, about ``1e-11`` times the scale of
    ``f`` and its third derivative, at ``2 d`` extra value evaluations per gradient.  A warning is
    issued once per loss when the default is used.
    ``hess(x)``: ``(..., d) -> (..., d, d)`` (then ``has_hess`` is True); Newton prox, spectra.
    Attributes ``bounds`` (natural box, default ``[-3, 3]^d``), ``periodic``, ``lipschitz_grad``
    (a bound on ``Lip(grad f)`` or None), ``exact_u``/``exact_grad``/``exact_prox`` (closed forms,
    ``NotImplementedError`` otherwise).
Compiled forms (optional)
    ``jit_value`` / ``jit_grad``: ``numba.njit`` functions of **one** point (``jit_value(x) -> float``,
    ``jit_grad(x, out)`` writing ``out`` or ``jit_grad(x) -> g``).  The particle kernels then inline
    them (:mod:`deeprelax._kernel_loss`); without them the kernels call ``grad`` once per step on all
    chains ``(n_chains, d)``.
Finite sums (minibatch SGD)
    ``n_samples``, ``grad_samples(x, idx=None) -> (m, d)`` at one point, and
    ``grad_batch(x, idx)`` with ``x`` (..., d), ``idx`` (..., b) integers -> (..., d): the mean
    minibatch gradient (plus any regulariser).  See :mod:`deeprelax.finite_sum`.

Inputs are checked in the public methods (``x`` finite, trailing axis ``dim``); the private
``_value``/``_grad``/``_hess`` skip the checks (inner loops) and fall back to the public methods a
subclass overrides.
"""
from __future__ import annotations

import warnings

import numpy as np

from solvers.errors import check_nonnegative, check_positive, check_real
from solvers.grid import Grid

__all__ = ["Loss", "central_grad", "FD_STEP"]

#: Relative step of the central-difference gradient: ``eps^(1/3)`` balances truncation and round-off.
FD_STEP = float(np.finfo(np.float64).eps) ** (1.0 / 3.0)


def _check_dim(dim, lo=1, hi=None, name="dim"):
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer, float)) or int(dim) != dim:
        raise TypeError(f"`{name}` must be an integer; got {dim!r}.")
    dim = int(dim)
    if dim < lo or (hi is not None and dim > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"`{name}` must be {rng}; got {dim}.")
    return dim


def _check_beta(beta, name="beta"):
    return check_positive(name, beta, allow_inf=True)


def central_grad(value, x):
    """Central differences of ``value`` (points ``(..., d) -> (...)``) at ``x`` (..., d); see :data:`FD_STEP`."""
    x = np.asarray(x, dtype=np.float64)
    g = np.empty(x.shape)
    h = FD_STEP * np.maximum(1.0, np.abs(x))
    for k in range(x.shape[-1]):
        xp = x.copy()
        xm = x.copy()
        xp[..., k] += h[..., k]
        xm[..., k] -= h[..., k]
        g[..., k] = (np.asarray(value(xp)) - np.asarray(value(xm))) / (xp[..., k] - xm[..., k])
    return g


def _overrides(obj, name) -> bool:
    return getattr(type(obj), name) is not getattr(Loss, name)


class Loss:
    """Base class and contract of the losses (module docstring).

    Parameters
    ----------
    dim : int
        Dimension ``d`` of the points.
    bounds : sequence of (lo, hi), optional
        Natural plotting / solving box, one pair per axis (default ``[-3, 3]^d``).
    params : dict, optional
        The parameters the loss was built with (shown by ``repr``, stored with results).
    lipschitz_grad : float, optional
        Global Lipschitz constant of ``grad f`` (an upper bound); ``inf`` when ``grad f`` is not
        globally Lipschitz, None when unknown.
    nb_params : array, optional
        Parameters of a built-in compiled kind (``nb_kind``; :mod:`deeprelax._nbloss`).

    Attributes
    ----------
    name : str
        Registry name (``"loss"`` for an unregistered subclass).
    dim, bounds, params, lipschitz_grad : as above
    periodic : bool
        Whether ``bounds`` is a period cell (then :meth:`grid` is periodic).
    has_hess : bool
        Whether :meth:`hess` is implemented.
    nb_kind : int
        Built-in compiled kind (-1: none).
    """

    name = "loss"
    nb_kind = -1
    periodic = False
    has_hess = False

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "hess" in cls.__dict__ or "_hess" in cls.__dict__:
            if "has_hess" not in cls.__dict__:
                cls.has_hess = True

    def __init__(self, dim, bounds=None, params=None, lipschitz_grad=None, nb_params=None):
        self.dim = _check_dim(dim)
        if bounds is None:
            bounds = [(-3.0, 3.0)] * self.dim
        self.bounds = [tuple(float(v) for v in b) for b in bounds]
        if len(self.bounds) != self.dim or any(len(b) != 2 or not b[0] < b[1] for b in self.bounds):
            raise ValueError(f"`bounds` must be {self.dim} pairs (lo, hi) with lo < hi; got {bounds!r}.")
        self.params = dict(params or {})
        self.lipschitz_grad = None if lipschitz_grad is None else float(lipschitz_grad)
        self.nb_params = np.ascontiguousarray([] if nb_params is None else nb_params, dtype=np.float64)

    # ------------------------------------------------------------------ input checking
    def _x(self, x, name="x"):
        a = np.asarray(check_real(name, x), dtype=np.float64)
        if a.ndim == 0 or a.shape[-1] != self.dim:
            raise ValueError(
                f"`{name}` must have shape (..., {self.dim}) for loss {self.name!r} (trailing dimension "
                f"{self.dim}); got shape {a.shape}."
            )
        if not np.all(np.isfinite(a)):
            n_bad = int(np.count_nonzero(~np.isfinite(a)))
            raise ValueError(f"`{name}` must be finite; got {n_bad} non-finite entries (shape {a.shape}).")
        return a

    @staticmethod
    def _out(v):
        v = np.asarray(v, dtype=np.float64)
        return v[()] if v.ndim == 0 else v

    def _compiled(self) -> bool:
        """Whether this is a built-in analytic kind (values and gradients from :mod:`deeprelax._nbloss`)."""
        return 0 <= self.nb_kind < 100 and self.nb_params.size > 0

    # ------------------------------------------------------------------ public API
    def __call__(self, x):
        """``f(x)``: :meth:`value` (dispatched dynamically, so a subclass overriding ``value`` is called)."""
        return self.value(x)

    def value(self, x):
        """Loss value; ``x`` shape ``(..., d)`` -> shape ``(...)``."""
        return self._out(self._value(self._x(x)))

    def grad(self, x):
        """Gradient; ``x`` shape ``(..., d)`` -> shape ``(..., d)`` (central differences if not implemented)."""
        return self._grad(self._x(x))

    def hess(self, x):
        """Hessian; ``x`` shape ``(..., d)`` -> shape ``(..., d, d)`` (``NotImplementedError`` if unavailable)."""
        x = self._x(x)
        if not self.has_hess:
            raise NotImplementedError(f"loss {self.name!r} has no Hessian.")
        return self._hess(x)

    def grid(self, shape, **kw) -> Grid:
        """``Grid.uniform(self.bounds, shape, periodic=self.periodic)``."""
        kw.setdefault("periodic", self.periodic)
        return Grid.uniform(self.bounds, shape, **kw)

    def exact_u(self, x, t, beta=np.inf):
        """Exact relaxed loss ``u(x, t)`` (viscous for finite ``beta``, Hopf-Lax for ``inf``); shape ``(...)``."""
        raise NotImplementedError(f"loss {self.name!r} has no closed-form u(x, t) at beta = {beta}.")

    def exact_grad(self, x, t, beta=np.inf):
        """Exact ``grad u(x, t)``; shape ``(..., d)``."""
        raise NotImplementedError(f"loss {self.name!r} has no closed-form grad u(x, t) at beta = {beta}.")

    def exact_prox(self, x, t):
        """Exact ``prox_{t f}(x)``; shape ``(..., d)``."""
        raise NotImplementedError(f"loss {self.name!r} has no closed-form proximal map.")

    # ------------------------------------------------------------------ unchecked forms
    def _value(self, x):
        if _overrides(self, "value"):
            return np.asarray(self.value(x), dtype=np.float64)
        if self._compiled():
            from .. import _nbloss

            return _nbloss.value(self, x)
        raise NotImplementedError(f"{type(self).__name__} must implement value(x) (points (..., d) -> (...)).")

    def _grad(self, x):
        if _overrides(self, "grad"):
            return np.asarray(self.grad(x), dtype=np.float64)
        if self._compiled():
            from .. import _nbloss

            return _nbloss.grad(self, x)
        if not getattr(self, "_fd_warned", False):
            self._fd_warned = True
            warnings.warn(f"loss {self.name!r} has no gradient: using central differences of its value "
                          f"(step {FD_STEP:.1e} max(1, |x_k|), error ~1e-11 x the scale of f and f'''; 2d value "
                          f"calls per gradient).  Pass grad= or implement grad(x) for speed.", stacklevel=3)
        return central_grad(self._value, x)

    def _hess(self, x):
        if _overrides(self, "hess"):
            return np.asarray(self.hess(x), dtype=np.float64)
        raise NotImplementedError(f"loss {self.name!r} has no Hessian.")

    def _t(self, t):
        return check_nonnegative("t", t)

    def __repr__(self) -> str:
        def short(v):
            if isinstance(v, np.ndarray):
                return np.array2string(v, precision=4, threshold=8, separator=", ").replace("\n", "")
            return repr(v)

        ps = ", ".join(f"{k}={short(v)}" for k, v in self.params.items() if k != "dim")
        return f"Loss({self.name!r}, dim={self.dim}{', ' + ps if ps else ''})"
