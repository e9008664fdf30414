r"""The :class:`Model` base class: a learning problem as a finite-sum loss on one flat parameter vector.

.. math::

    f(x) = \frac1P\sum_{k=1}^P \ell_k(x) + \frac\lambda2|x|^2,\qquad
    g_B(x) = \frac1b\sum_{k\in B}\nabla\ell_k(x) + \lambda x,

with ``ell_k`` the per-sample loss of the architecture (:mod:`deeprelax.models._kernels`) on training
sample ``k``.  Every loss, gradient, Hessian-vector product and error rate runs in compiled kernels,
threaded over the (chain, chunk-of-samples) pairs of a minibatch when the work is large enough.
"""
from __future__ import annotations


import numpy as np

from solvers.errors import check_nonnegative

from ..finite_sum import FiniteSum
from . import _kernels as K
from . import _mlp_blas as MB
from .data import Dataset

__all__ = ["Model"]

#: Work (samples x parameters) above which the threaded kernels are used.
PARALLEL_WORK = 1 << 14
#: Largest scratch + partial-sum buffer one kernel call may allocate (bytes); larger calls run in groups.
PART_BYTES = 1 << 27


class Model(FiniteSum):
    """A learning model on a :class:`~deeprelax.models.data.Dataset` (build a subclass).

    Attributes
    ----------
    data : Dataset
    dim : int
        Number of parameters ``d``.
    n_samples : int
        Training set size ``P``.
    lam : float
        Weight decay ``lam |x|^2 / 2``.
    model_code : int
        Code of the compiled per-sample functions (``_kernels.PERCEPTRON`` / ``COMMITTEE`` / ``MLP``).
    ip, fp : ndarray
        Integer / float parameters of the compiled functions.
    """

    #: ``(sizes, activation code)`` of an MLP, whose minibatch gradients and HVPs use :mod:`._mlp_blas`.
    _blas = None

    def __init__(self, data: Dataset, ip, fp, dim: int, scratch: int, lam: float, params: dict):
        if not isinstance(data, Dataset):
            raise TypeError(f"`data` must be a deeprelax.models.Dataset; got {type(data).__name__}.")
        lam = check_nonnegative("lam", lam)
        self.data = data
        self.ip = np.ascontiguousarray(ip, dtype=np.int64)
        self.fp = np.ascontiguousarray(fp, dtype=np.float64)
        self.model_code = int(self.ip[0])
        self.lam = lam
        self.n_samples = data.n_samples
        self._scratch = max(1, int(scratch))
        self._all = np.arange(self.n_samples, dtype=np.int64)[None]
        prm = {**params, "lam": lam, "data": data.name, "n_samples": data.n_samples}
        super().__init__(dim, [(-3.0, 3.0)] * int(dim), prm, None, np.zeros(0))

    # ------------------------------------------------------------------ kernel driver
    def _batched(self, op, xs, idx, X, Y, vs=None, m=None):
        """Mean over each row of ``idx`` of the per-sample quantity ``op`` at ``xs`` (C, d) -> (C, m)."""
        C, d = xs.shape
        m = d if m is None else m
        b = idx.shape[1]
        vs = xs if vs is None else vs
        if self._blas is not None and op in (0, 1):        # MLP gradients / HVPs: one BLAS product per layer
            MB.single_thread_blas()
            out = np.empty((C, d))
            kern = MB.mlp_chains_par if (C > 1 and b * d * C >= PARALLEL_WORK) else MB.mlp_chains_ser
            kern(self._blas[0], self._blas[1], X, Y, xs, vs, idx, out, op == 1)
            return out
        nch = min(-(-b // K.CHUNK), K.MAX_CHUNKS)
        out = np.empty((C, m))
        per_chain = nch * (m + self._scratch) * 8
        group = max(1, int(PART_BYTES // max(per_chain, 1)))
        par = b * d * C >= PARALLEL_WORK
        kern = K.batch_par if par else K.batch_ser
        for c0 in range(0, C, group):
            c1 = min(C, c0 + group)
            ii = idx if idx.shape[0] == 1 else idx[c0:c1]
            part = np.empty(((c1 - c0) * nch, m))
            sc = np.empty(((c1 - c0) * nch, self._scratch))
            kern(op, self.ip, self.fp, X, Y, xs[c0:c1], vs[c0:c1], ii, nch, part, sc, out[c0:c1])
        return out

    def _flat(self, x, idx=None):
        """Broadcast ``x`` (..., d) and ``idx`` (..., b) -> lead shape, xs (C, d), idx (C or 1, b)."""
        if idx is None:
            lead = x.shape[:-1]
            return lead, np.ascontiguousarray(x.reshape(-1, self.dim)), self._all
        lead = np.broadcast_shapes(x.shape[:-1], idx.shape[:-1])
        xs = np.ascontiguousarray(np.broadcast_to(x, lead + (self.dim,)).reshape(-1, self.dim))
        if idx.ndim == 1:
            ii = idx[None]
        else:
            ii = np.broadcast_to(idx, lead + (idx.shape[-1],)).reshape(-1, idx.shape[-1])
        return lead, xs, np.ascontiguousarray(ii)

    # ------------------------------------------------------------------ loss and gradients
    def _value(self, x):
        lead, xs, ii = self._flat(x)
        v = self._batched(2, xs, ii, self.data.X, self.data.y, m=1)[:, 0]
        v = v + 0.5 * self.lam * np.einsum("cd,cd->c", xs, xs)
        return v.reshape(lead)

    def _grad(self, x):
        lead, xs, ii = self._flat(x)
        g = self._batched(0, xs, ii, self.data.X, self.data.y)
        return (g + self.lam * xs).reshape(lead + (self.dim,))

    def loss_batch(self, x, idx):
        """Minibatch loss ``mean_{k in idx} l_k(x) + lam |x|^2/2``; ``x`` (..., d), ``idx`` (..., b) -> (...)."""
        x = self._x(x)
        lead, xs, ii = self._flat(x, self._idx(idx))
        v = self._batched(2, xs, ii, self.data.X, self.data.y, m=1)[:, 0]
        return self._out((v + 0.5 * self.lam * np.einsum("cd,cd->c", xs, xs)).reshape(lead))

    def grad_batch(self, x, idx):
        """Minibatch gradient ``mean_{k in idx} grad l_k(x) + lam x``.

        Parameters
        ----------
        x : array, shape (..., d)
        idx : int array, shape (..., b)
            Sample indices; leading axes broadcast against those of ``x`` (e.g. ``x`` (C, d) and
            ``idx`` (C, b): one minibatch per chain; ``idx`` (b,): the same minibatch for every chain).

        Returns
        -------
        ndarray, shape (broadcast leading shape..., d)
        """
        x = self._x(x)
        lead, xs, ii = self._flat(x, self._idx(idx))
        g = self._batched(0, xs, ii, self.data.X, self.data.y)
        return (g + self.lam * xs).reshape(lead + (self.dim,))

    def grad_samples(self, x, idx=None):
        """Per-sample gradients ``grad l_k(x) + lam x`` at one point ``x`` (d,) -> (m, d) (all samples by default)."""
        x = self._x(x)
        if x.ndim != 1:
            raise ValueError(f"`x` must have shape ({self.dim},) for grad_samples; got {x.shape}.")
        ii = self._all[0] if idx is None else self._idx(idx)
        if ii.ndim != 1:
            raise ValueError(f"`idx` must have shape (m,) for grad_samples; got {ii.shape}.")
        ii = np.ascontiguousarray(ii)
        out = np.empty((ii.size, self.dim))
        K.samples_par(self.ip, self.fp, self.data.X, self.data.y, np.ascontiguousarray(x), ii,
                      np.empty((ii.size, self._scratch)), out)
        return out + self.lam * x

    def hvp(self, x, v, idx=None):
        """Exact Hessian-vector product ``(Hess f(x) + lam I) v`` on the full data (or the samples ``idx``).

        Parameters
        ----------
        x : array, shape (d,)
        v : array, shape (d,) or (n, d)
            One or several directions.
        idx : int array (b,), optional

        Returns
        -------
        ndarray, the shape of ``v``
        """
        x = self._x(x)
        if x.ndim != 1:
            raise ValueError(f"`x` must have shape ({self.dim},) for hvp; got {x.shape}.")
        v = self._x(v, "v")
        if v.ndim > 2:
            raise ValueError(f"`v` must have shape ({self.dim},) or (n, {self.dim}); got {v.shape}.")
        vs = np.ascontiguousarray(np.atleast_2d(v))
        xs = np.ascontiguousarray(np.broadcast_to(x, vs.shape))
        ii = self._all if idx is None else np.ascontiguousarray(self._idx(idx).reshape(1, -1))
        h = self._batched(1, xs, ii, self.data.X, self.data.y, vs=vs) + self.lam * vs
        return h.reshape(v.shape)

    def hessian(self, x, idx=None, max_bytes: float = 2e9):
        """Dense Hessian ``(d, d)`` from ``d`` Hessian-vector products (refuses above ``max_bytes``)."""
        need = 8.0 * self.dim * self.dim * 2
        if need > max_bytes:
            raise MemoryError(f"the dense Hessian of d = {self.dim} parameters needs ~{need / 1e9:.2f} GB "
                              f"(> max_bytes = {max_bytes / 1e9:.2f} GB); use deeprelax.models.hessian_eigs.")
        H = np.empty((self.dim, self.dim))
        step = max(1, min(self.dim, 256))
        E = np.eye(self.dim)
        for i in range(0, self.dim, step):
            H[i:i + step] = self.hvp(x, E[i:i + step], idx)
        return 0.5 * (H + H.T)

    # ------------------------------------------------------------------ predictions and errors
    def predict(self, x, X):
        """Predicted classes of the inputs ``X`` (P, n_inputs) at parameters ``x`` (d,) -> int (P,)."""
        x = self._x(x)
        if x.ndim != 1:
            raise ValueError(f"`x` must have shape ({self.dim},) for predict; got {x.shape}.")
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.data.n_inputs:
            raise ValueError(f"`X` must have shape (P, {self.data.n_inputs}); got {X.shape}.")
        sc = np.empty(self._scratch)
        return np.array([K.sample_predict(self.ip, X, x, k, sc) for k in range(X.shape[0])], dtype=np.int64)

    def error(self, x, split: str = "train"):
        """Fraction of misclassified samples (0-1 error of the sign / argmax output); ``x`` (..., d) -> (...)."""
        if split == "train":
            X, Y = self.data.X, self.data.y
        elif split == "test":
            X, Y = self.data.X_test, self.data.y_test
            if Y.size == 0:
                raise ValueError(f"data set {self.data.name!r} has no test set (split='test').")
        else:
            raise ValueError(f"`split` must be 'train' or 'test'; got {split!r}.")
        x = self._x(x)
        lead, xs, _ = self._flat(x)
        ii = np.arange(Y.size, dtype=np.int64)[None]
        return self._out(self._batched(3, xs, ii, X, Y, m=1)[:, 0].reshape(lead))

    def train_error(self, x):
        """``error(x, "train")``."""
        return self.error(x, "train")

    def test_error(self, x):
        """``error(x, "test")``."""
        return self.error(x, "test")

    # ------------------------------------------------------------------ initialisation
    def init(self, rng, n_chains=None):
        """Random initial parameters: shape (d,) or (n_chains, d) (architecture-specific scale)."""
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        shape = (self.dim,) if n_chains is None else (int(n_chains), self.dim)
        return self._init(rng, shape)

    def _init(self, rng, shape):  # pragma: no cover - abstract
        raise NotImplementedError
