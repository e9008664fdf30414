r"""Finite-sum losses on synthetic data: real minibatch gradients for the particle dynamics.

.. math::

    f(x) = \frac1N\sum_{k=1}^N f_k(x) + \frac\lambda2|x|^2,\qquad
    g_B(x) = \frac1b\sum_{k\in B}\nabla f_k(x) + \lambda x ,

with a minibatch ``B`` of ``b`` indices drawn uniformly with replacement
(``E g_B = grad f``, ``Cov g_B = Sigma / b``) or without replacement
(``E g_B = grad f``, ``Cov g_B = (N - b)/(N - 1) Sigma / b``), where
``Sigma = (1/N) sum_k (grad f_k - grad f)(grad f_k - grad f)^T`` is the
per-sample gradient covariance (:meth:`FiniteSumLoss.sample_cov`).

Kinds (``nb_kind``; the analytic losses of :mod:`deeprelax._loss_bodies` use 0..99)
------------------------------------------------------------------------------------
* ``KIND_LSQ = 100``, ``kind="least-squares"``: ``f_k = (a_k . x - y_k)^2 / 2``.
  Data: ``a_k ~ N(0, I_d)``, ``x_true ~ N(0, I_d)``, ``y_k = a_k . x_true + noise N(0, noise^2)``.
* ``KIND_LOGISTIC = 101``, ``kind="logistic"``: ``f_k = log(1 + exp(-y_k a_k . x))``, ``y_k in {-1, +1}``.
  Data: ``a_k ~ N(0, I_d)``, ``y_k = +1`` with probability ``sigmoid(a_k . x_true / noise)``
  (``noise = 0``: the sign of ``a_k . x_true``).

Parameter layout of ``nb_params``: ``[N, d, lam, A (N*d, row-major), y (N)]``.

Numba entry points (usable inside other ``@njit`` kernels, defined in :mod:`deeprelax._fs_bodies`
next to the other built-in losses' compiled bodies and re-exported here): :func:`fs_value`, :func:`fs_grad_full`,
:func:`fs_grad_idx`.  The dynamics draw the minibatch indices themselves (counter-based, see
:mod:`deeprelax._rng`) and call :func:`fs_grad_idx` through the generated dispatch.
"""
from __future__ import annotations


import numpy as np

from solvers.errors import check_count, check_nonnegative, check_positive

# the compiled per-point forms live with the other built-in losses' bodies (the kernels' one dispatch)
from ._fs_bodies import _FS_MIN_KIND, KIND_LOGISTIC, KIND_LSQ, fs_grad_full, fs_grad_idx, fs_value  # noqa: F401
from .losses.base import Loss

__all__ = ["finite_sum", "FiniteSum", "FiniteSumLoss", "KIND_LSQ", "KIND_LOGISTIC", "KINDS", "is_finite_sum_kind"]

KINDS = {"least-squares": KIND_LSQ, "logistic": KIND_LOGISTIC}


def is_finite_sum_kind(kind: int) -> bool:
    """Whether ``kind`` is a finite-sum (data) loss code."""
    return int(kind) >= _FS_MIN_KIND


# ----------------------------------------------------------------------------- the protocol
class FiniteSum(Loss):
    r"""Base class of every finite-sum loss ``f(x) = (1/N) sum_k f_k(x) + (lam/2) |x|^2``.

    The protocol the dynamics and :func:`deeprelax.sgd_noise.diffusion_matrix` rely on:

    * ``dim``, ``n_samples``, ``lam``;
    * ``value(x)`` / ``grad(x)``: full-data loss and gradient, ``x`` of shape ``(..., d)``;
    * ``grad_samples(x, idx=None)``: per-sample gradients ``grad f_k(x) + lam x`` at one point ``x``
      (shape ``(d,)``) -> ``(m, d)``;
    * ``grad_batch(x, idx)``: minibatch gradient ``mean_{k in idx} grad f_k(x) + lam x``, broadcasting the
      leading axes: ``x`` ``(..., d)``, ``idx`` ``(..., b)`` integers -> ``(..., d)``.

    Subclasses implement ``_value``, ``_grad``, ``grad_samples`` and ``grad_batch``; this class adds
    minibatch sampling and the exact per-sample and minibatch gradient covariances.
    """

    name = "finite-sum"
    n_samples: int = 0
    lam: float = 0.0

    def grad_samples(self, x, idx=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def grad_batch(self, x, idx):  # pragma: no cover - abstract
        raise NotImplementedError

    def _idx(self, idx):
        idx = np.asarray(idx)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"`idx` must hold integers; got dtype {idx.dtype}.")
        if idx.ndim == 0:
            raise ValueError(f"`idx` must have shape (..., b) with a trailing batch axis; got a scalar {idx!r}.")
        if idx.shape[-1] == 0:
            raise ValueError(f"`idx` must hold at least one index per batch (b >= 1); got shape {idx.shape}.")
        if idx.min() < 0 or idx.max() >= self.n_samples:
            raise ValueError(f"`idx` must lie in 0..{self.n_samples - 1}; got range [{idx.min()}, {idx.max()}].")
        return idx.astype(np.int64, copy=False)

    def sample_batch(self, rng, b, replace=True, size=None):
        """``b`` sample indices drawn with ``rng`` (a ``numpy.random.Generator``); shape ``(*size, b)``.

        Without replacement every row holds ``b`` distinct indices.
        """
        b = _check_batch(b, self.n_samples, replace)
        shape = () if size is None else tuple(np.atleast_1d(size).astype(int))
        if replace:
            return rng.integers(0, self.n_samples, size=shape + (b,))
        rows = int(np.prod(shape, dtype=np.int64))
        out = np.stack([rng.choice(self.n_samples, size=b, replace=False) for _ in range(rows)])
        return out.reshape(shape + (b,))

    def grad_minibatch(self, x, rng, b, replace=True):
        """Minibatch gradient on ``b`` indices drawn with ``rng``; ``x`` shape (d,), returns (d,)."""
        return self.grad_batch(x, self.sample_batch(rng, b, replace))

    def sample_cov(self, x):
        """Per-sample gradient covariance ``Sigma(x) = (1/N) sum_k (g_k - g)(g_k - g)^T``; shape (d, d)."""
        G = self.grad_samples(x)
        D = G - G.mean(0)
        return D.T @ D / self.n_samples

    def minibatch_cov(self, x, b, replace=True):
        """Exact covariance of the minibatch gradient: ``Sigma/b``, times ``(N-b)/(N-1)`` without replacement."""
        b = _check_batch(b, self.n_samples, replace)
        S = self.sample_cov(x) / b
        return S if replace else S * (self.n_samples - b) / (self.n_samples - 1)


# ----------------------------------------------------------------------------- the loss class
class FiniteSumLoss(FiniteSum):
    """A finite-sum loss on a stored dataset (build it with :func:`finite_sum`).

    Attributes
    ----------
    kind : str
        ``"least-squares"`` or ``"logistic"``.
    A : ndarray, shape (N, d)
        Features.
    y : ndarray, shape (N,)
        Targets (real for least squares, +-1 for logistic).
    lam : float
        Ridge weight.
    n_samples : int
        ``N``.
    x_true : ndarray, shape (d,)
        The parameter the data were generated from.
    """

    name = "finite-sum"

    def __init__(self, kind, A, y, lam=0.0, x_true=None, seed=None, noise=None):
        if kind not in KINDS:
            raise ValueError(f"`kind` must be one of {sorted(KINDS)}; got {kind!r}.")
        A = np.ascontiguousarray(A, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        if A.ndim != 2 or y.shape != (A.shape[0],):
            raise ValueError(f"`A` must have shape (N, d) and `y` shape (N,); got {A.shape} and {y.shape}.")
        lam = check_nonnegative("lam", lam)
        N, d = A.shape
        self.kind, self.A, self.y, self.lam = kind, A, y, lam
        self.n_samples = N
        self.x_true = None if x_true is None else np.asarray(x_true, dtype=np.float64)
        self.nb_kind = KINDS[kind]
        if kind == "least-squares":
            lip = float(np.linalg.eigvalsh(A.T @ A / N).max()) + lam
        else:
            lip = 0.25 * float(np.linalg.eigvalsh(A.T @ A / N).max()) + lam
        nb = np.concatenate([[N, d, lam], A.ravel(), y])
        params = {"kind": kind, "n_samples": N, "dim": d, "lam": lam, "seed": seed, "noise": noise}
        super().__init__(d, [(-3.0, 3.0)] * d, params, lip, nb)

    # per-sample pieces ------------------------------------------------------------
    def _margin(self, x):
        return x @ self.A.T                                   # (..., N)

    def _coef(self, s):
        """d f_k / d s_k for s_k = a_k . x; shape (..., N)."""
        if self.kind == "least-squares":
            return s - self.y
        m = self.y * s
        return -self.y / (1.0 + np.exp(m))

    def _value(self, x):
        s = self._margin(x)
        if self.kind == "least-squares":
            per = 0.5 * (s - self.y) ** 2
        else:
            per = np.logaddexp(0.0, -self.y * s)
        return per.mean(-1) + 0.5 * self.lam * (x * x).sum(-1)

    def _grad(self, x):
        c = self._coef(self._margin(x))
        return c @ self.A / self.n_samples + self.lam * x

    def grad_samples(self, x, idx=None):
        """Per-sample gradients ``grad f_k(x) + lam x``.

        Parameters
        ----------
        x : array, shape (d,)
        idx : int array, shape (m,), optional
            Sample indices (default: all ``N``).

        Returns
        -------
        ndarray, shape (m, d)
        """
        x = self._x(x)
        if x.ndim != 1:
            raise ValueError(f"`x` must have shape ({self.dim},) for grad_samples; got {x.shape}.")
        idx = np.arange(self.n_samples) if idx is None else self._idx(idx)
        A = self.A[idx]
        s = A @ x
        if self.kind == "least-squares":
            c = s - self.y[idx]
        else:
            c = -self.y[idx] / (1.0 + np.exp(self.y[idx] * s))
        return c[:, None] * A + self.lam * x

    def grad_batch(self, x, idx):
        """Minibatch gradient ``mean_{k in idx} grad f_k(x) + lam x``; ``x`` (..., d), ``idx`` (..., b) -> (..., d)."""
        x = self._x(x)
        idx = self._idx(idx)
        A = self.A[idx]                                             # (..., b, d)
        s = (A @ x[..., :, None])[..., 0]                            # (..., b)
        c = self._coef_at(s, self.y[idx])
        g = (c[..., None, :] @ A)[..., 0, :] / idx.shape[-1]
        return g + self.lam * x

    def _coef_at(self, s, y):
        if self.kind == "least-squares":
            return s - y
        return -y / (1.0 + np.exp(y * s))

    def minimizer(self):
        """Exact minimiser (least squares only): ``(A^T A / N + lam I)^{-1} A^T y / N``; shape (d,)."""
        if self.kind != "least-squares":
            raise NotImplementedError("a closed-form minimiser exists only for kind='least-squares'.")
        N = self.n_samples
        return np.linalg.solve(self.A.T @ self.A / N + self.lam * np.eye(self.dim), self.A.T @ self.y / N)

    def hess(self, x):
        """Hessian, shape ``(..., d, d)``."""
        x = self._x(x)
        if self.kind == "least-squares":
            H = self.A.T @ self.A / self.n_samples + self.lam * np.eye(self.dim)
            return np.broadcast_to(H, x.shape + (self.dim,)).copy()
        s = self._margin(x)
        p = 1.0 / (1.0 + np.exp(-self.y * s))
        w = p * (1.0 - p) / self.n_samples                    # (..., N)
        return np.einsum("...k,ki,kj->...ij", w, self.A, self.A) + self.lam * np.eye(self.dim)

    def __repr__(self) -> str:
        return (f"FiniteSumLoss(kind={self.kind!r}, n_samples={self.n_samples}, dim={self.dim}, "
                f"lam={self.lam}, seed={self.params.get('seed')!r})")


def _check_batch(b, N, replace):
    b = check_count("batch", b, minimum=1)
    if not replace and b > N:
        raise ValueError(f"`batch` must be <= n_samples = {N} without replacement; got {b}.")
    return b


def finite_sum(kind="least-squares", *, n_samples=256, dim=2, seed=0, noise=0.5, lam=0.0, scale=1.0):
    """Build a finite-sum loss on a synthetic dataset generated from ``seed``.

    Parameters
    ----------
    kind : {"least-squares", "logistic"}
    n_samples : int
        ``N``, number of data points.
    dim : int
        ``d``.
    seed : int
        Seed of ``numpy.random.default_rng`` that draws ``x_true``, the features and the targets.
    noise : float >= 0
        Least squares: standard deviation of the target noise.  Logistic: temperature of the label
        noise (labels ``+1`` with probability ``sigmoid(a . x_true / noise)``; 0 = noiseless).
    lam : float >= 0
        Ridge weight ``lam |x|^2 / 2``.
    scale : float > 0
        Standard deviation of the features ``a_k``.

    Returns
    -------
    FiniteSumLoss
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {sorted(KINDS)}; got {kind!r}.")
    N, d = check_count("n_samples", n_samples, minimum=1), check_count("dim", dim, minimum=1)
    noise = check_nonnegative("noise", noise)
    scale = check_positive("scale", scale)
    rng = np.random.default_rng(seed)
    x_true = rng.standard_normal(d)
    A = scale * rng.standard_normal((N, d))
    s = A @ x_true
    if kind == "least-squares":
        y = s + noise * rng.standard_normal(N)
    else:
        if noise == 0:
            y = np.where(s >= 0, 1.0, -1.0)
        else:
            p = 1.0 / (1.0 + np.exp(-s / noise))
            y = np.where(rng.random(N) < p, 1.0, -1.0)
    return FiniteSumLoss(kind, A, y, lam=lam, x_true=x_true, seed=seed, noise=noise)
