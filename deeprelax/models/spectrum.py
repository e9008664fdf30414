r"""Hessian spectra of a model at a point: Lanczos extremes, the full spectrum, and the trace.

* :func:`hessian_eigs`: the ``k`` largest (or smallest, or both ends) eigenvalues by Lanczos
  (:func:`scipy.sparse.linalg.eigsh`) on exact Hessian-vector products, no matrix formed.
* :func:`hessian_spectrum`: every eigenvalue from the dense Hessian (``d`` products; small nets).
* :func:`hessian_trace`: ``Tr H`` exactly (dense) or by Hutchinson's estimator with Rademacher probes,
  ``Tr H ~ mean_i z_i^T H z_i``, with its standard error.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from solvers.errors import check_count

__all__ = ["hessian_eigs", "hessian_spectrum", "hessian_trace", "hessian_operator"]


def hessian_operator(model, x, idx=None) -> LinearOperator:
    """``scipy`` linear operator ``v -> (Hess f(x) + lam I) v`` (symmetric, ``d x d``)."""
    x = np.asarray(x, dtype=np.float64)

    def mv(v):
        v = np.asarray(v, dtype=np.float64)
        return model.hvp(x, v.reshape(-1), idx).reshape(v.shape)

    def mm(V):
        return model.hvp(x, np.ascontiguousarray(np.asarray(V, dtype=np.float64).T), idx).T

    return LinearOperator((model.dim, model.dim), matvec=mv, rmatvec=mv, matmat=mm, dtype=np.float64)


def hessian_eigs(model, x, k: int = 10, which: str = "LA", *, idx=None, tol: float = 1e-8, seed: int = 0,
                 maxiter=None) -> np.ndarray:
    """``k`` extreme eigenvalues of the Hessian at ``x`` by Lanczos (ascending).

    Parameters
    ----------
    model : Model
    x : array (d,)
    k : int, ``1 <= k < d``
    which : {"LA", "SA", "LM", "BE"}
        Largest / smallest algebraic, largest magnitude, both ends (``eigsh`` semantics).
    tol : float
        Relative accuracy of the eigenvalues (``eigsh``'s ``tol``).
    seed : int
        Seed of the Lanczos start vector.
    """
    d = model.dim
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not (1 <= k < d):
        raise ValueError(f"`k` must be an integer with 1 <= k < d = {d}; got {k!r}.")
    if which not in ("LA", "SA", "LM", "BE"):
        raise ValueError(f"`which` must be 'LA', 'SA', 'LM' or 'BE'; got {which!r}.")
    v0 = np.random.default_rng(seed).standard_normal(d)
    vals = eigsh(hessian_operator(model, x, idx), k=int(k), which=which, tol=tol, v0=v0,
                 maxiter=maxiter, return_eigenvectors=False)
    return np.sort(vals)


def hessian_spectrum(model, x, idx=None) -> np.ndarray:
    """All ``d`` Hessian eigenvalues (ascending) from the dense Hessian (``model.hessian``)."""
    return np.linalg.eigvalsh(model.hessian(x, idx))


def hessian_trace(model, x, *, n_probes: int = 0, seed: int = 0, idx=None) -> tuple:
    """``(trace, standard error)``: exact (dense, s.e. 0) for ``n_probes=0``, else Hutchinson's estimate."""
    if n_probes == 0:
        H = model.hessian(x, idx)
        return float(np.trace(H)), 0.0
    check_count("n_probes", n_probes, minimum=2, hint="or 0 for the exact trace")
    Z = np.random.default_rng(seed).choice(np.array([-1.0, 1.0]), size=(int(n_probes), model.dim))
    q = np.einsum("nd,nd->n", Z, model.hvp(np.asarray(x, float), Z, idx))
    return float(q.mean()), float(q.std(ddof=1) / np.sqrt(q.size))
