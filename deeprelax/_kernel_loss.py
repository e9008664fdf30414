r"""How a compiled kernel obtains a loss's value and gradient: one mechanism for every loss.

The kernels of the particle dynamics (:mod:`deeprelax._dyn_kernels`), of the SGLD estimator of the
local entropy (:mod:`deeprelax.local_entropy`) and of any new estimator are written **once**, at module
level, against six *provider* functions that they reference as module globals, and take the loss as
the runtime arguments ``kind, params`` (plus a scratch array ``S`` of ``loss_scratch_len(kind, params)``
floats, :mod:`deeprelax._nbloss`)::

    loss_grad_rows(kind, params, X, G, r0, r1, S)            grad f at rows r0..r1-1 of X (n, d) -> G
    loss_value_rows(kind, params, X, F, r0, r1, S)           f at rows r0..r1-1 of X -> F (n,)
    loss_vg_rows(kind, params, X, F, G, r0, r1, S)           both (shared terms evaluated once per row)
    loss_grad(kind, params, x, out, S)                       grad f at one point x (d,) -> out (d,)
    loss_value(kind, params, x, S) -> float                  f at one point
    loss_grad_batch_rows(kind, params, X, IDX, b, G, r0, r1) minibatch gradients (finite sums): row r
                                                             on the samples IDX[r, :b]

Import them from this module under exactly these names (``from ._kernel_loss import loss_grad_rows``)
and call them, and the kernels that call them, by their bare global names (not ``module.name``); call
them directly in the step loop, and prefer the row forms in a step loop (a call per row of the
per-point ``loss_value`` costs 31-44 ns, the row forms' inlined bodies ~1.5 ns a row on a cheap 2-D
loss).  Array variables cost reference counting in a step loop (an inlined helper's array parameters
included, see below); a kernel that hands its arrays to helpers borrows them first
(:mod:`deeprelax._borrow`, as :mod:`deeprelax._rx_kernel` does), and passes the arguments themselves to
the providers (the Python callback boxes them).  A driver::

    kl = kernel_loss(loss)                    # loss: any deeprelax loss or object with dim and grad
    KK = kl.kernels(globals())                # the module's kernels for this loss (family() finds them)
    bw = kl.block(n_rows, 64)                 # rows per block: all rows for the vectorised path
    kern = KK._my_ser if kl.vectorised or not parallel else KK._my_par
    with kl.active():                         # registers the Python callbacks of the vectorised path
        kern(kl.kind, kl.params, ..., bw)     # inside: S = np.empty(loss_scratch_len(kind, params))

Three kinds of loss go through the same kernels:

``"builtin"``
    The analytic losses (``nb_kind`` 0-7, one per-point body each, :mod:`deeprelax._loss_bodies`) and the
    built-in finite sums (``nb_kind`` 100-101, :mod:`deeprelax.finite_sum`).  The providers dispatch on
    ``kind`` at run time (once per block of rows); the module's own kernels run, cached on disk.
``"compiled"``
    A user loss whose per-point ``value``/``grad`` are ``numba.njit`` functions
    (:func:`deeprelax.losses.from_functions`, or any loss with ``jit_value``/``jit_grad`` attributes).
    :func:`specialise` copies the kernel functions with their globals re-bound to providers built from
    the user's functions, re-jitted with ``inline="always"``: the user's body is inlined into the row
    loop like a built-in body, with no Python call per step.  The copies compile once per process
    (Numba's disk cache keys a function by its code and file, which the copies share with the
    originals, so they are not cached) and are reused for the same user functions.
``"vectorised"``
    Any other loss (plain Python/NumPy ``grad`` on points ``(..., d)``, ``Loss`` subclasses, finite-sum
    objects with ``grad_batch``): ``kind = KIND_PYTHON`` and the providers call back into Python
    (``numba.objmode``, about 2 us per call) with all the rows they are given.  The driver runs the
    module's own (cached) serial kernel with **one block holding every chain** (``KernelLoss.block``),
    so ``grad`` is called once per step on all chains ``(n_chains, d)``.  The arithmetic around the
    gradient is the compiled kernel's, so a Python loss whose gradient equals a built-in's bit for bit
    gives the built-in's trajectories bit for bit.

Why this design (measured, 2-D double well, EM Langevin, 1e5 chains x 200 steps, blocks of 64 chains,
one core; benchmarks/results/dynamics.md has the three paths side by side): a user ``njit`` gradient
re-jitted with ``inline="always"`` and called on row views runs at 7.6e7 particle-steps/s, the
hand-written row loop of the built-ins at 7.2e7; a plain call to the user's dispatcher (not inlined)
2.3e7 (Numba's reference counting of the array arguments on every call), a call through a first-class
function type (``numba.types.FunctionType``, kernel compiled once for all user functions) 2.0e7, copying
each row into a scratch vector and calling the dispatcher 4.2e7. Kernel factories that close over the
user's functions work as well as the globals re-binding used here, but closures are not cached on disk
either, and re-binding keeps the kernels ordinary module functions that the built-ins run directly.

Finite-sum protocol (the "vectorised" finite sums)
--------------------------------------------------
An object with ``dim``, ``n_samples``, ``value(x)``, ``grad(x)`` (full data), ``grad_samples(x, idx=None)``
(per-sample gradients at one point, shape (m, d)) and ``grad_batch(x, idx)`` -- x (..., d), idx (..., b)
integers, returning the mean minibatch gradient (..., d) -- runs with ``batch=b``: the kernels draw the
indices (counter-based, stream 1, with or without replacement) and call ``grad_batch(X, IDX)`` once per
step with ``X`` (n_chains, d) and ``IDX`` (n_chains, b).
"""
from __future__ import annotations

import contextlib
import inspect
import itertools
import types
from dataclasses import dataclass, field
from typing import Optional

import numba
import numpy as np


from ._borrow import row
from ._fs_bodies import _FS_MIN_KIND
from ._loss_bodies import scratch_len
from ._loss_callbacks import KIND_PYTHON, drop_callbacks, register_callbacks

__all__ = ["KernelLoss", "kernel_loss", "specialise", "loss_grad_rows", "loss_value_rows", "loss_vg_rows",
           "loss_grad", "loss_value", "loss_grad_batch_rows", "PROVIDER_NAMES"]

#: The global names through which kernels reach a loss.
PROVIDER_NAMES = ("loss_grad_rows", "loss_value_rows", "loss_vg_rows", "loss_grad", "loss_value",
                  "loss_grad_batch_rows")


# ============================================================================= built-in providers
# The built-in providers are the generated dispatchers of :mod:`deeprelax._nbloss` themselves (analytic
# kinds, finite sums, the Python callback): one call per block and step.  A wrapper around them, or any
# helper that takes the block's arrays, costs 15-25 % of a noiseless 2-D step whether it is called
# (~50 ns: Numba's reference counting of the array arguments) or inlined (the inlined arguments are
# reference-counted too), so kernels call them directly; the providers hand their bodies borrowed rows,
# parameters and scratch (deeprelax._borrow), so the counting stays out of their row loops.
from ._nbloss import (loss_grad, loss_grad_batch_rows, loss_grad_rows, loss_value,  # noqa: E402,F401
                      loss_value_rows, loss_vg_rows)


# ============================================================================= compiled user losses
def _positional_arity(fn) -> int:
    sig = inspect.signature(fn)
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in sig.parameters.values())


def is_jit_function(fn) -> bool:
    """Whether ``fn`` is a ``numba.njit`` function (a CPU dispatcher with a Python source)."""
    return isinstance(fn, numba.core.registry.CPUDispatcher) and hasattr(fn, "py_func")


def grad_style(grad) -> str:
    """``"out"`` for ``grad(x, out)`` (writes ``out``), ``"return"`` for ``grad(x) -> g``."""
    n = _positional_arity(grad.py_func)
    if n == 2:
        return "out"
    if n == 1:
        return "return"
    raise TypeError(f"a compiled `grad` must be grad(x, out) (writes out) or grad(x) -> g; "
                    f"{grad.py_func.__name__} takes {n} positional arguments.")


def _inlined(fn):
    """``fn`` (a ``numba.njit`` function) re-jitted with ``inline="always"`` (same source and globals)."""
    return numba.njit(inline="always", nogil=True)(fn.py_func)


def user_providers(value, grad) -> dict:
    """Provider functions built from per-point ``numba.njit`` functions ``value(x) -> float`` and
    ``grad(x, out)`` / ``grad(x) -> g`` (either may be None: that provider writes NaN)."""
    if value is None:
        @numba.njit(inline="always")
        def vi(x):
            return np.nan
    else:
        vi = _inlined(value)
    if grad is None:
        @numba.njit(inline="always")
        def gpoint(x, out):
            for j in range(out.shape[0]):
                out[j] = np.nan
    elif grad_style(grad) == "out":
        gpoint = _inlined(grad)
    else:
        gr = _inlined(grad)

        @numba.njit(inline="always")
        def gpoint(x, out):
            g = gr(x)
            for j in range(out.shape[0]):
                out[j] = g[j]

    # rows reach the inlined user functions as borrowed views (deeprelax._borrow: not reference-counted)
    @numba.njit(nogil=True)
    def u_grad_rows(kind, params, X, G, r0, r1, S):
        for r in range(r0, r1):
            gpoint(row(X, r), row(G, r))

    @numba.njit(nogil=True)
    def u_grad(kind, params, x, out, S):
        gpoint(x, out)

    @numba.njit(nogil=True)
    def u_value(kind, params, x, S):
        return vi(x)

    @numba.njit(nogil=True)
    def u_value_rows(kind, params, X, F, r0, r1, S):
        for r in range(r0, r1):
            F[r] = vi(row(X, r))

    @numba.njit(nogil=True)
    def u_vg_rows(kind, params, X, F, G, r0, r1, S):
        for r in range(r0, r1):
            gpoint(row(X, r), row(G, r))
            F[r] = vi(row(X, r))

    @numba.njit(nogil=True)
    def u_grad_batch_rows(kind, params, X, IDX, b, G, r0, r1):
        for r in range(r0, r1):
            for j in range(G.shape[1]):
                G[r, j] = np.nan

    return {"loss_grad_rows": u_grad_rows, "loss_value_rows": u_value_rows, "loss_vg_rows": u_vg_rows,
            "loss_grad": u_grad, "loss_value": u_value, "loss_grad_batch_rows": u_grad_batch_rows}


def family(module_globals: dict) -> tuple:
    """Names of the compiled functions of a module that call a provider, directly or through each other
    (by bare global name; functions defined in that module only)."""
    mod = module_globals["__name__"]
    disp = {n: v for n, v in module_globals.items()
            if isinstance(v, numba.core.dispatcher.Dispatcher) and getattr(v, "py_func", None) is not None
            and v.py_func.__module__ == mod}
    fam: list = []
    reach = set(PROVIDER_NAMES)
    changed = True
    while changed:
        changed = False
        for n, v in disp.items():
            if n not in reach and reach.intersection(v.py_func.__code__.co_names):
                fam.append(n)
                reach.add(n)
                changed = True
    return tuple(fam)


_SPECIALISED: dict = {}


def specialise(module_globals: dict, names, provider: dict, key) -> types.SimpleNamespace:
    """Copies of the kernels ``names`` of a module whose provider globals are ``provider``.

    Each kernel's plain-Python function is copied (same code) with a globals dict in which the provider
    names and the kernels ``names`` themselves are re-bound (so the copies call each other and the new
    providers), then jitted with the original's options, without the disk cache.  Cached per
    ``(module, names, key)``: ``key`` identifies the provider (e.g. the user's functions).
    """
    ck = (module_globals["__name__"], tuple(names), key)
    if ck in _SPECIALISED:
        return _SPECIALISED[ck]
    glb = dict(module_globals)
    glb.update(provider)
    out = {}
    for name in names:
        disp = module_globals[name]
        f = disp.py_func
        copy = types.FunctionType(f.__code__, glb, f.__name__, f.__defaults__, f.__closure__)
        # a qualname of its own: Numba's symbol names are the qualname plus a per-process counter, so a
        # copy named like the original can collide with a symbol of the original's on-disk cache (same
        # name, other process) and the loaded kernel then links to the copy
        copy.__qualname__ = f"{f.__qualname__}__spec{len(_SPECIALISED)}"
        glb[name] = out[name] = numba.jit(**disp.targetoptions)(copy)
    ns = types.SimpleNamespace(**out)
    _SPECIALISED[ck] = ns
    return ns


# ============================================================================= the loss as the kernels see it
_TOKENS = itertools.count(1)


def _finite_rows(fn):
    """``fn(X, *rest) -> G`` evaluated on the finite rows only (NaN rows for chains that already diverged)."""
    def call(X, *rest):
        if np.isfinite(X.sum()):                     # one pass, no temporary (a sum of finite rows can
            return fn(X, *rest)                      # still overflow: then the row check below)
        ok = np.isfinite(X).all(-1)
        if ok.all():
            return fn(X, *rest)
        G = np.full(X.shape, np.nan)
        if ok.any():
            G[ok] = fn(X[ok], *(r[ok] for r in rest))
        return G
    return call


def _as_rows(fn, d, what):
    def call(*args):
        out = np.asarray(fn(*args), dtype=np.float64)
        n = args[0].shape[0]
        if out.shape != (n, d):
            raise ValueError(f"`{what}` must return shape (n, {d}) for points (n, {d}); got {out.shape}.")
        return out
    return call


@dataclass
class KernelLoss:
    """A loss as the compiled kernels see it (build it with :func:`kernel_loss`).

    Attributes
    ----------
    path : {"builtin", "compiled", "vectorised"}
    kind : int
        The ``kind`` argument of the kernels (``nb_kind``; :data:`deeprelax._loss_callbacks.KIND_PYTHON` for the
        vectorised path; 0 for compiled user losses).
    params : ndarray, float64
        The ``params`` argument (``[n_samples or 0, token]`` on the vectorised path).
    dim : int
    n_samples : int
        Samples of a finite sum (0 otherwise).
    provider : dict or None
        Provider functions of a compiled user loss (None: the module's own kernels).
    key : object
        Identity of the compiled user functions (for :func:`specialise`).
    callbacks : dict or None
        The Python callbacks of the vectorised path (registered by :meth:`active`).
    """

    path: str
    kind: int
    params: np.ndarray
    dim: int
    n_samples: int = 0
    provider: Optional[dict] = None
    key: object = None
    callbacks: Optional[dict] = field(default=None, repr=False)

    @property
    def vectorised(self) -> bool:
        return self.path == "vectorised"

    def scratch(self) -> int:
        """Length of the scratch array ``S`` the providers need."""
        return scratch_len(self.kind, self.params) if self.path == "builtin" else 1

    def block(self, n_rows: int, default: int) -> int:
        """Rows per block: ``default`` for compiled losses, all ``n_rows`` for the vectorised path."""
        return max(1, int(n_rows)) if self.vectorised else int(default)

    def kernels(self, module_globals: dict) -> types.SimpleNamespace:
        """The kernels of a module for this loss: the module's own, or :func:`specialise`-d copies of its
        :func:`family` for a compiled user loss."""
        names = _family_cached(module_globals)
        if self.provider is None:
            return types.SimpleNamespace(**{n: module_globals[n] for n in names})
        return specialise(module_globals, names, self.provider, self.key)

    @contextlib.contextmanager
    def active(self):
        """Register the Python callbacks of the vectorised path for the duration of a run."""
        if self.callbacks is None:
            yield self
            return
        token = int(self.params[1])
        register_callbacks(token, **self.callbacks)
        try:
            yield self
        finally:
            drop_callbacks(token)


def is_finite_sum(loss) -> bool:
    """Whether ``loss`` follows the finite-sum protocol (``n_samples`` and ``grad_batch``)."""
    return hasattr(loss, "n_samples") and callable(getattr(loss, "grad_batch", None))


_PROVIDERS: dict = {}
_FAMILIES: dict = {}


def _family_cached(module_globals):
    mod = module_globals["__name__"]
    if mod not in _FAMILIES:
        _FAMILIES[mod] = family(module_globals)
    return _FAMILIES[mod]


def kernel_loss(loss, dim: Optional[int] = None) -> KernelLoss:
    """The :class:`KernelLoss` of ``loss`` (a ``deeprelax`` loss or any object with ``dim`` and ``grad``).

    Built-in (``nb_kind >= 0`` with ``nb_params``) -> ``"builtin"``; per-point ``numba.njit``
    ``jit_grad`` (and ``jit_value``) attributes -> ``"compiled"``; anything else with a vectorised
    ``grad(X)`` on ``(n, d)`` -> ``"vectorised"`` (finite sums: also ``grad_batch(X, IDX)``).
    """
    d = int(getattr(loss, "dim", dim if dim is not None else 0))
    if d < 1:
        raise TypeError(f"`loss` must have a positive integer `dim`; got {loss!r}.")
    kind = getattr(loss, "nb_kind", -1)
    params = getattr(loss, "nb_params", None)
    if kind is not None and int(kind) >= 0 and params is not None:
        n = int(getattr(loss, "n_samples", 0)) if int(kind) >= _FS_MIN_KIND else 0
        return KernelLoss("builtin", int(kind), np.ascontiguousarray(params, dtype=np.float64), d, n)
    jg = getattr(loss, "jit_grad", None)
    if jg is not None and is_jit_function(jg):
        jv = getattr(loss, "jit_value", None)
        jv = jv if (jv is not None and is_jit_function(jv)) else None
        key = (jv, jg)
        if key not in _PROVIDERS:
            _PROVIDERS[key] = user_providers(jv, jg)
        return KernelLoss("compiled", 0, np.zeros(1), d, 0, _PROVIDERS[key], key)
    grad = getattr(loss, "grad", None)
    if not callable(grad):
        raise TypeError(f"`loss` must have a gradient `grad(x)` on points (..., d); got {type(loss).__name__}.")
    if callable(getattr(loss, "_grad", None)) and hasattr(loss, "_x"):
        grad = loss._grad                            # a deeprelax Loss: skip the input checks (rows are finite)
    cbs = {"grad_rows": _finite_rows(_as_rows(grad, d, "grad"))}
    value = getattr(loss, "value", None)
    if callable(value):
        cbs["value_rows"] = value
    n = 0
    if is_finite_sum(loss):
        n = int(loss.n_samples)
        cbs["grad_batch_rows"] = _finite_rows(_as_rows(loss.grad_batch, d, "grad_batch"))
    token = next(_TOKENS)
    return KernelLoss("vectorised", KIND_PYTHON, np.array([float(n), float(token)]), d, n, callbacks=cbs)
