r"""The compiled dispatch of every built-in loss: one call, any kind, the forms the kernels use.

The per-point bodies are written once per kind in :mod:`deeprelax._loss_bodies` (analytic kinds
0-7), :mod:`deeprelax._fs_bodies` (finite sums 100-101) and :mod:`deeprelax._loss_callbacks` (the
Python-callback kind :data:`KIND_PYTHON`).  From them come, here, the CPU forms (:mod:`numba`, bodies
inlined at the IR level): the per-point dispatchers :func:`loss_value` / :func:`loss_grad`, the row
forms :func:`loss_grad_rows`, :func:`loss_value_rows` and :func:`loss_vg_rows` (both at once) with
one kind dispatch per block of rows (the inlined body on borrowed row views, :func:`deeprelax._borrow.row`,
runs as fast as hand-written row loops, where a per-row call of the dispatcher :func:`loss_value`
costs 31-44 ns a row and plain views ``X[r]`` 20-45 ns of reference counting a row in bodies with
loops, the soft-min and the mixture), the minibatch row form
:func:`loss_grad_batch_rows` (finite sums), and the batch forms behind
:meth:`Loss.value <deeprelax.losses.Loss.value>` / ``grad`` of the built-ins (:func:`value`,
:func:`grad`).  The CUDA device functions come from the same bodies (:func:`retarget`).

The dispatchers between the ``generated`` markers below are written by :func:`generate` from
:data:`KINDS` and :data:`FS_KINDS`; these dispatchers are what the kernels call
(:mod:`deeprelax._kernel_loss`); ``tests/deeprelax/test_loss_sources.py`` fails when they are stale.
After adding a kind (:mod:`deeprelax._loss_bodies`), ``python -m deeprelax._nbloss`` rewrites them.
The names of the three body modules are re-exported here (one import for the kernels and tests).
"""
from __future__ import annotations

import math

import numpy as np

from solvers.jit import njit

from ._borrow import borrow, row
from ._fs_bodies import _FS_MIN_KIND, FS_KINDS, KIND_LOGISTIC, KIND_LSQ, fs_grad_full, fs_grad_idx, fs_value  # noqa: F401
from ._loss_bodies import (BODIES, KIND_ABS, KIND_COSINE, KIND_DOUBLE_WELL, KIND_DRFIG1,  # noqa: F401
                           KIND_GAUSSMIX, KIND_QUADRATIC, KIND_RASTRIGIN, KIND_SOFTMIN, KINDS, Kind, retarget,
                           scratch_len)
from ._loss_callbacks import (CALLBACKS, KIND_PYTHON, drop_callbacks, py_grad, py_grad_batch_rows,  # noqa: F401
                              py_grad_rows, py_value, py_value_rows, register_callbacks)
# Numba's on-disk caches of kernels compiled while the callbacks lived in this module name them by this
# module (objmode pickles a callee by module and name): keep them findable here.
from ._loss_callbacks import _call_grad_batch_rows, _call_grad_rows, _call_value, _call_value_rows  # noqa: F401,E402


# ============================================================================= dispatch (generated)
def generate() -> str:
    """The source of the dispatchers, from :data:`KINDS` and :data:`FS_KINDS` (what sits between the
    markers of this file)."""
    fs = " or ".join(f"kind == {c}" for c in FS_KINDS)

    def branches(call, python, unknown):
        out = []
        for i, (code, k) in enumerate(KINDS.items()):
            kw = "if" if i == 0 else "elif"
            value, grad = k.value.py_func.__name__, k.grad.py_func.__name__
            out.append(f"    {kw} kind == {code}:  # {k.name}")
            if call == "value":
                out.append(f"        return {value}(params, x, S)")
            elif call == "grad":
                out.append(f"        {grad}(params, x, out, S)")
            elif call == "rows":
                out += ["        for r in range(r0, r1):", f"            {grad}(p, row(X, r), row(G, r), s)"]
            elif call == "value_rows":
                out += ["        for r in range(r0, r1):", f"            F[r] = {value}(p, row(X, r), s)"]
            elif k.value_grad is not None:
                out += ["        for r in range(r0, r1):",
                        f"            F[r] = {k.value_grad.py_func.__name__}(p, row(X, r), row(G, r), s)"]
            else:
                out += ["        for r in range(r0, r1):", f"            F[r] = {value}(p, row(X, r), s)",
                        f"            {grad}(p, row(X, r), row(G, r), s)"]
        out.append(f"    elif {fs}:  # finite sums: {', '.join(FS_KINDS.values())}")
        out += {"value": ["        return fs_value(kind, params, x)"],
                "grad": ["        fs_grad_full(kind, params, x, out)"],
                "rows": ["        for r in range(r0, r1):", "            fs_grad_full(kind, p, row(X, r), row(G, r))"],
                "value_rows": ["        for r in range(r0, r1):", "            F[r] = fs_value(kind, p, row(X, r))"],
                "vg_rows": ["        for r in range(r0, r1):", "            F[r] = fs_value(kind, p, row(X, r))",
                            "            fs_grad_full(kind, p, row(X, r), row(G, r))"]}[call]
        out += ["    elif kind == KIND_PYTHON:"] + [f"        {line}" for line in python] + ["    else:"]
        out += [f"        {line}" for line in unknown]
        return out

    bodies = sorted({f.py_func.__name__ for k in KINDS.values() for f in (k.value, k.grad, k.value_grad)
                     if f is not None})
    # the row forms hand the bodies borrowed rows, parameters and scratch (not reference-counted:
    # deeprelax._borrow); the Python callback gets the arguments themselves (object mode boxes them)
    borrowed = ["    p = borrow(params)", "    s = borrow(S)"]
    src = ["from ._loss_bodies import (  # noqa: E402  (the bodies the dispatchers inline)"]
    src += [f"    {name}," for name in bodies] + [")", "", ""]
    src += ["@njit", "def loss_value(kind, params, x, S):",
           '    """Value of loss ``kind`` at one point ``x`` (d,); ``S`` scratch (:func:`scratch_len`); NaN for an',
           '    unknown kind."""']
    src += branches("value", ["return py_value(params, x)"], ["return math.nan"])
    src += ["", "", "@njit", "def loss_grad(kind, params, x, out, S):",
            '    """Gradient of loss ``kind`` at one point ``x`` (d,) into ``out`` (d,); NaN for an unknown kind."""']
    src += branches("grad", ["py_grad(params, x, out)"], ["for j in range(out.shape[0]):", "    out[j] = math.nan"])
    src += ["", "", "@njit", "def loss_grad_rows(kind, params, X, G, r0, r1, S):",
            '    """Gradients at rows ``r0 .. r1-1`` of ``X`` (n, d) into the same rows of ``G``: the kind is',
            '    dispatched once per call, the inlined body runs on each row.  NaN for an unknown kind."""']
    src += borrowed
    nan_g = ["for r in range(r0, r1):", "    for j in range(G.shape[1]):", "        G[r, j] = math.nan"]
    nan_f = ["for r in range(r0, r1):", "    F[r] = math.nan"]
    src += branches("rows", ["py_grad_rows(params, X, G, r0, r1)"], nan_g)
    src += ["", "", "@njit", "def loss_value_rows(kind, params, X, F, r0, r1, S):",
            '    """Values at rows ``r0 .. r1-1`` of ``X`` (n, d) into the same entries of ``F`` (n,): the kind is',
            '    dispatched once per call, the inlined body runs on each row.  NaN for an unknown kind."""']
    src += borrowed
    src += branches("value_rows", ["py_value_rows(params, X, F, r0, r1)"], nan_f)
    src += ["", "", "@njit", "def loss_vg_rows(kind, params, X, F, G, r0, r1, S):",
            '    """Values and gradients at rows ``r0 .. r1-1`` of ``X`` (n, d) into ``F`` (n,) and ``G`` (n, d), one',
            '    kind dispatch per call; kinds with a combined body (:class:`Kind` ``value_grad``) evaluate their',
            '    shared terms once per row, bit for bit the values and gradients of the separate bodies.',
            '    NaN for an unknown kind."""']
    src += borrowed
    src += branches("vg_rows", ["py_grad_rows(params, X, G, r0, r1)", "py_value_rows(params, X, F, r0, r1)"],
                    nan_f + nan_g)
    src += ["", "", "@njit", "def loss_grad_batch_rows(kind, params, X, IDX, b, G, r0, r1):",
            '    """Minibatch gradients of rows ``r0 .. r1-1``: row ``r`` on the samples ``IDX[r, :b]`` (finite sums',
            '    and the Python callback; NaN otherwise)."""',
            f"    if {fs}:", "        for r in range(r0, r1):",
            "            fs_grad_idx(kind, params, X[r], IDX[r], b, G[r])",
            "    elif kind == KIND_PYTHON:", "        py_grad_batch_rows(params, X, IDX, G, r0, r1)", "    else:",
            "        for r in range(r0, r1):", "            for j in range(G.shape[1]):",
            "                G[r, j] = math.nan"]
    src += ["", "", "@njit", "def loss_scratch_len(kind, params):",
            '    """Compiled :func:`scratch_len`."""']
    for c, k in KINDS.items():
        if k.wells_at >= 0:
            src += [f"    if kind == {c}:", f"        return max(1, int(params[{k.wells_at}]))"]
    src += ["    return 1"]
    src += ["", "", "@njit", "def is_known_kind(kind):",
            '    """Whether ``kind`` is a built-in kind (analytic or finite sum) or :data:`KIND_PYTHON`."""',
            "    if kind == KIND_PYTHON:", "        return True"]
    for c in list(KINDS) + list(FS_KINDS):
        src += [f"    if kind == {c}:", "        return True"]
    src += ["    return False"]
    return "\n".join(src) + "\n"


BEGIN = "# --- generated by deeprelax._nbloss.generate(): do not edit by hand ---\n"
END = "# --- end of generated code ---\n"


def _write_generated(path=__file__) -> bool:
    """Rewrite the generated section of this file; returns whether it changed."""
    with open(path) as fh:
        text = fh.read()
    a, rest = text.split(BEGIN, 1)
    _, b = rest.split(END, 1)
    new = a + BEGIN + generate() + END + b
    if new != text:
        with open(path, "w") as fh:
            fh.write(new)
    return new != text


# --- generated by deeprelax._nbloss.generate(): do not edit by hand ---
from ._loss_bodies import (  # noqa: E402  (the bodies the dispatchers inline)
    _abs_grad,
    _abs_value,
    _cosine_grad,
    _cosine_value,
    _double_well_grad,
    _double_well_value,
    _drfig1_grad,
    _drfig1_value,
    _gaussmix_grad,
    _gaussmix_value,
    _gaussmix_value_grad,
    _quadratic_grad,
    _quadratic_value,
    _rastrigin_grad,
    _rastrigin_value,
    _softmin_grad,
    _softmin_value,
    _softmin_value_grad,
)


@njit
def loss_value(kind, params, x, S):
    """Value of loss ``kind`` at one point ``x`` (d,); ``S`` scratch (:func:`scratch_len`); NaN for an
    unknown kind."""
    if kind == 0:  # quadratic
        return _quadratic_value(params, x, S)
    elif kind == 1:  # abs
        return _abs_value(params, x, S)
    elif kind == 2:  # double-well
        return _double_well_value(params, x, S)
    elif kind == 3:  # softmin-quadratics
        return _softmin_value(params, x, S)
    elif kind == 4:  # dr-fig1
        return _drfig1_value(params, x, S)
    elif kind == 5:  # rastrigin
        return _rastrigin_value(params, x, S)
    elif kind == 6:  # cosine
        return _cosine_value(params, x, S)
    elif kind == 7:  # gaussian-mixture
        return _gaussmix_value(params, x, S)
    elif kind == 100 or kind == 101:  # finite sums: least-squares, logistic
        return fs_value(kind, params, x)
    elif kind == KIND_PYTHON:
        return py_value(params, x)
    else:
        return math.nan


@njit
def loss_grad(kind, params, x, out, S):
    """Gradient of loss ``kind`` at one point ``x`` (d,) into ``out`` (d,); NaN for an unknown kind."""
    if kind == 0:  # quadratic
        _quadratic_grad(params, x, out, S)
    elif kind == 1:  # abs
        _abs_grad(params, x, out, S)
    elif kind == 2:  # double-well
        _double_well_grad(params, x, out, S)
    elif kind == 3:  # softmin-quadratics
        _softmin_grad(params, x, out, S)
    elif kind == 4:  # dr-fig1
        _drfig1_grad(params, x, out, S)
    elif kind == 5:  # rastrigin
        _rastrigin_grad(params, x, out, S)
    elif kind == 6:  # cosine
        _cosine_grad(params, x, out, S)
    elif kind == 7:  # gaussian-mixture
        _gaussmix_grad(params, x, out, S)
    elif kind == 100 or kind == 101:  # finite sums: least-squares, logistic
        fs_grad_full(kind, params, x, out)
    elif kind == KIND_PYTHON:
        py_grad(params, x, out)
    else:
        for j in range(out.shape[0]):
            out[j] = math.nan


@njit
def loss_grad_rows(kind, params, X, G, r0, r1, S):
    """Gradients at rows ``r0 .. r1-1`` of ``X`` (n, d) into the same rows of ``G``: the kind is
    dispatched once per call, the inlined body runs on each row.  NaN for an unknown kind."""
    p = borrow(params)
    s = borrow(S)
    if kind == 0:  # quadratic
        for r in range(r0, r1):
            _quadratic_grad(p, row(X, r), row(G, r), s)
    elif kind == 1:  # abs
        for r in range(r0, r1):
            _abs_grad(p, row(X, r), row(G, r), s)
    elif kind == 2:  # double-well
        for r in range(r0, r1):
            _double_well_grad(p, row(X, r), row(G, r), s)
    elif kind == 3:  # softmin-quadratics
        for r in range(r0, r1):
            _softmin_grad(p, row(X, r), row(G, r), s)
    elif kind == 4:  # dr-fig1
        for r in range(r0, r1):
            _drfig1_grad(p, row(X, r), row(G, r), s)
    elif kind == 5:  # rastrigin
        for r in range(r0, r1):
            _rastrigin_grad(p, row(X, r), row(G, r), s)
    elif kind == 6:  # cosine
        for r in range(r0, r1):
            _cosine_grad(p, row(X, r), row(G, r), s)
    elif kind == 7:  # gaussian-mixture
        for r in range(r0, r1):
            _gaussmix_grad(p, row(X, r), row(G, r), s)
    elif kind == 100 or kind == 101:  # finite sums: least-squares, logistic
        for r in range(r0, r1):
            fs_grad_full(kind, p, row(X, r), row(G, r))
    elif kind == KIND_PYTHON:
        py_grad_rows(params, X, G, r0, r1)
    else:
        for r in range(r0, r1):
            for j in range(G.shape[1]):
                G[r, j] = math.nan


@njit
def loss_value_rows(kind, params, X, F, r0, r1, S):
    """Values at rows ``r0 .. r1-1`` of ``X`` (n, d) into the same entries of ``F`` (n,): the kind is
    dispatched once per call, the inlined body runs on each row.  NaN for an unknown kind."""
    p = borrow(params)
    s = borrow(S)
    if kind == 0:  # quadratic
        for r in range(r0, r1):
            F[r] = _quadratic_value(p, row(X, r), s)
    elif kind == 1:  # abs
        for r in range(r0, r1):
            F[r] = _abs_value(p, row(X, r), s)
    elif kind == 2:  # double-well
        for r in range(r0, r1):
            F[r] = _double_well_value(p, row(X, r), s)
    elif kind == 3:  # softmin-quadratics
        for r in range(r0, r1):
            F[r] = _softmin_value(p, row(X, r), s)
    elif kind == 4:  # dr-fig1
        for r in range(r0, r1):
            F[r] = _drfig1_value(p, row(X, r), s)
    elif kind == 5:  # rastrigin
        for r in range(r0, r1):
            F[r] = _rastrigin_value(p, row(X, r), s)
    elif kind == 6:  # cosine
        for r in range(r0, r1):
            F[r] = _cosine_value(p, row(X, r), s)
    elif kind == 7:  # gaussian-mixture
        for r in range(r0, r1):
            F[r] = _gaussmix_value(p, row(X, r), s)
    elif kind == 100 or kind == 101:  # finite sums: least-squares, logistic
        for r in range(r0, r1):
            F[r] = fs_value(kind, p, row(X, r))
    elif kind == KIND_PYTHON:
        py_value_rows(params, X, F, r0, r1)
    else:
        for r in range(r0, r1):
            F[r] = math.nan


@njit
def loss_vg_rows(kind, params, X, F, G, r0, r1, S):
    """Values and gradients at rows ``r0 .. r1-1`` of ``X`` (n, d) into ``F`` (n,) and ``G`` (n, d), one
    kind dispatch per call; kinds with a combined body (:class:`Kind` ``value_grad``) evaluate their
    shared terms once per row, bit for bit the values and gradients of the separate bodies.
    NaN for an unknown kind."""
    p = borrow(params)
    s = borrow(S)
    if kind == 0:  # quadratic
        for r in range(r0, r1):
            F[r] = _quadratic_value(p, row(X, r), s)
            _quadratic_grad(p, row(X, r), row(G, r), s)
    elif kind == 1:  # abs
        for r in range(r0, r1):
            F[r] = _abs_value(p, row(X, r), s)
            _abs_grad(p, row(X, r), row(G, r), s)
    elif kind == 2:  # double-well
        for r in range(r0, r1):
            F[r] = _double_well_value(p, row(X, r), s)
            _double_well_grad(p, row(X, r), row(G, r), s)
    elif kind == 3:  # softmin-quadratics
        for r in range(r0, r1):
            F[r] = _softmin_value_grad(p, row(X, r), row(G, r), s)
    elif kind == 4:  # dr-fig1
        for r in range(r0, r1):
            F[r] = _drfig1_value(p, row(X, r), s)
            _drfig1_grad(p, row(X, r), row(G, r), s)
    elif kind == 5:  # rastrigin
        for r in range(r0, r1):
            F[r] = _rastrigin_value(p, row(X, r), s)
            _rastrigin_grad(p, row(X, r), row(G, r), s)
    elif kind == 6:  # cosine
        for r in range(r0, r1):
            F[r] = _cosine_value(p, row(X, r), s)
            _cosine_grad(p, row(X, r), row(G, r), s)
    elif kind == 7:  # gaussian-mixture
        for r in range(r0, r1):
            F[r] = _gaussmix_value_grad(p, row(X, r), row(G, r), s)
    elif kind == 100 or kind == 101:  # finite sums: least-squares, logistic
        for r in range(r0, r1):
            F[r] = fs_value(kind, p, row(X, r))
            fs_grad_full(kind, p, row(X, r), row(G, r))
    elif kind == KIND_PYTHON:
        py_grad_rows(params, X, G, r0, r1)
        py_value_rows(params, X, F, r0, r1)
    else:
        for r in range(r0, r1):
            F[r] = math.nan
        for r in range(r0, r1):
            for j in range(G.shape[1]):
                G[r, j] = math.nan


@njit
def loss_grad_batch_rows(kind, params, X, IDX, b, G, r0, r1):
    """Minibatch gradients of rows ``r0 .. r1-1``: row ``r`` on the samples ``IDX[r, :b]`` (finite sums
    and the Python callback; NaN otherwise)."""
    if kind == 100 or kind == 101:
        for r in range(r0, r1):
            fs_grad_idx(kind, params, X[r], IDX[r], b, G[r])
    elif kind == KIND_PYTHON:
        py_grad_batch_rows(params, X, IDX, G, r0, r1)
    else:
        for r in range(r0, r1):
            for j in range(G.shape[1]):
                G[r, j] = math.nan


@njit
def loss_scratch_len(kind, params):
    """Compiled :func:`scratch_len`."""
    if kind == 3:
        return max(1, int(params[1]))
    if kind == 7:
        return max(1, int(params[1]))
    return 1


@njit
def is_known_kind(kind):
    """Whether ``kind`` is a built-in kind (analytic or finite sum) or :data:`KIND_PYTHON`."""
    if kind == KIND_PYTHON:
        return True
    if kind == 0:
        return True
    if kind == 1:
        return True
    if kind == 2:
        return True
    if kind == 3:
        return True
    if kind == 4:
        return True
    if kind == 5:
        return True
    if kind == 6:
        return True
    if kind == 7:
        return True
    if kind == 100:
        return True
    if kind == 101:
        return True
    return False
# --- end of generated code ---


# ============================================================================= per-point and batch forms
@njit
def nb_value(kind, params, x):
    """Loss value at one point ``x`` (shape ``(d,)``) for loss ``kind`` with ``params`` (ValueError: unknown kind)."""
    if not is_known_kind(kind):
        raise ValueError("nb_value: unknown loss kind")
    return loss_value(kind, params, x, np.empty(loss_scratch_len(kind, params)))


@njit
def nb_grad(kind, params, x, out):
    """Write the gradient at one point ``x`` (shape ``(d,)``) into ``out`` (shape ``(d,)``)."""
    if not is_known_kind(kind):
        raise ValueError("nb_grad: unknown loss kind")
    loss_grad(kind, params, x, out, np.empty(loss_scratch_len(kind, params)))


#: The row form under its historical name (kernels call :func:`loss_grad_rows`).
nb_grad_rows = loss_grad_rows


@njit
def nb_value_batch(kind, params, X):
    """Values at the rows of ``X`` (shape ``(n, d)``); returns shape ``(n,)``."""
    out = np.empty(X.shape[0])
    loss_value_rows(kind, params, X, out, 0, X.shape[0], np.empty(loss_scratch_len(kind, params)))
    return out


@njit
def nb_grad_batch(kind, params, X):
    """Gradients at the rows of ``X`` (shape ``(n, d)``); returns shape ``(n, d)``."""
    G = np.empty_like(X)
    loss_grad_rows(kind, params, X, G, 0, X.shape[0], np.empty(loss_scratch_len(kind, params)))
    return G


def _rows(x):
    X = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    return X, X.reshape(-1, X.shape[-1])


def value(loss, x):
    """Compiled value of ``loss`` at points ``x`` of shape ``(..., d)``; returns shape ``(...)``."""
    X, flat = _rows(x)
    return nb_value_batch(loss.nb_kind, loss.nb_params, flat).reshape(X.shape[:-1])


def grad(loss, x):
    """Compiled gradient of ``loss`` at points ``x`` of shape ``(..., d)``; returns shape ``(..., d)``."""
    X, flat = _rows(x)
    return nb_grad_batch(loss.nb_kind, loss.nb_params, flat).reshape(X.shape)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print("rewrote the generated dispatch" if _write_generated() else "generated dispatch is up to date")
