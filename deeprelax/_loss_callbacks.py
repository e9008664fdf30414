"""The Python-callback loss kind: plain Python/NumPy losses through the same compiled kernels.

:data:`KIND_PYTHON` is not a formula: its dispatch (:mod:`deeprelax._nbloss`) calls back into Python
(``numba.objmode``, about 2 us per call) with all the rows of a block at once.  ``params = [n_samples
or 0, token]``; the token names the callbacks registered with :func:`register_callbacks`.  It is how
plain Python/NumPy losses (and finite-sum objects) run through the same compiled kernels: one Python
gradient call per step on all chains (see :mod:`deeprelax._kernel_loss`).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import objmode

#: Not a formula: call back into Python with all rows at once (``params = [n_samples or 0, token]``).
KIND_PYTHON = -2

#: token -> dict of Python callables (``grad_rows(X) -> G``, ``value_rows(X) -> v``,
#: ``grad_batch_rows(X, IDX) -> G``) for :data:`KIND_PYTHON`; see :func:`register_callbacks`.
CALLBACKS: dict = {}


def register_callbacks(token: int, **fns) -> None:
    """Make ``fns`` the callbacks of :data:`KIND_PYTHON` with ``params[1] = token`` (until :func:`drop_callbacks`)."""
    CALLBACKS[int(token)] = fns


def drop_callbacks(token: int) -> None:
    CALLBACKS.pop(int(token), None)


def _call_grad_rows(token, X, G, r0, r1):
    G[r0:r1] = CALLBACKS[token]["grad_rows"](X[r0:r1])


def _call_grad_batch_rows(token, X, IDX, G, r0, r1):
    G[r0:r1] = CALLBACKS[token]["grad_batch_rows"](X[r0:r1], IDX[r0:r1])


def _call_value(token, x):
    return float(CALLBACKS[token]["value_rows"](x[None, :])[0])


def _call_value_rows(token, X, F, r0, r1):
    """Values of the finite rows of ``X[r0:r1]`` into ``F[r0:r1]`` (NaN for the others)."""
    Xr = X[r0:r1]
    ok = np.isfinite(Xr).all(-1)
    v = np.full(Xr.shape[0], np.nan)
    if ok.any():
        v[ok] = np.asarray(CALLBACKS[token]["value_rows"](Xr if ok.all() else Xr[ok]), dtype=np.float64).reshape(-1)
    F[r0:r1] = v


#: The callback functions hold the GIL around the Python call (``objmode``), so they are not ``nogil``.
_pyjit = numba.njit(cache=True)


@_pyjit
def py_grad_rows(params, X, G, r0, r1):
    """:data:`KIND_PYTHON` gradients of rows ``r0 .. r1-1``: one Python call for all of them."""
    with objmode():
        _call_grad_rows(int(params[1]), X, G, r0, r1)


@_pyjit
def py_grad_batch_rows(params, X, IDX, G, r0, r1):
    """:data:`KIND_PYTHON` minibatch gradients of rows ``r0 .. r1-1`` (row ``r`` on samples ``IDX[r]``)."""
    with objmode():
        _call_grad_batch_rows(int(params[1]), X, IDX, G, r0, r1)


@_pyjit
def py_value_rows(params, X, F, r0, r1):
    """:data:`KIND_PYTHON` values of rows ``r0 .. r1-1`` of ``X`` into ``F``: one Python call for all of them."""
    with objmode():
        _call_value_rows(int(params[1]), X, F, r0, r1)


@_pyjit
def py_value(params, x):
    with objmode(v="float64"):
        v = _call_value(int(params[1]), x)
    return v


@_pyjit
def py_grad(params, x, out):
    X = x.reshape((1, x.shape[0]))
    G = out.reshape((1, out.shape[0]))
    py_grad_rows(params, X, G, 0, 1)
