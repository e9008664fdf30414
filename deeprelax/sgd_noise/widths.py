"""Widths of SGD endpoints against eta/b on a two-well finite sum.

Part of :mod:`deeprelax.sgd_noise` (conventions in its docstring).
"""
from __future__ import annotations

import math

import numpy as np

from solvers.errors import check_count, check_positive, NonFiniteError


class TwoWellFiniteSum:
    r"""2-D finite sum with a sharp and a wide minimum (issue 6 item 5).

    .. math:: f_k(x) = -\log\sum_{i=1}^2 \exp\big(-\tfrac12 (x - m_i - u_k)^\top A_i (x - m_i - u_k)\big),
              \qquad f = \frac1N\sum_k f_k,

    with ``m = (-1, 0), (1, 0)``, ``A_1 = diag(12, 4)`` (sharp), ``A_2 = diag(1, 0.5)`` (wide) and per-sample
    shifts ``u_k ~ spread * N(0, I)`` (centred).  The shifts make the minibatch gradient noisy; the noise is
    larger in the sharp well (``~ A_1 u``).  With the defaults (``seed=0``, ``spread=0.4``) the minima of ``f``
    are at about ``(-0.716, 0.025)`` (sharp: Hessian trace 4.04) and ``(1, 0)`` (wide: trace 1.50).
    """

    def __init__(self, N: int = 64, seed: int = 0, spread: float = 0.4):
        rng = np.random.default_rng(seed)
        self.m = np.array([[-1.0, 0.0], [1.0, 0.0]])
        self.Adiag = np.array([[12.0, 4.0], [1.0, 0.5]])
        self.U = float(spread) * rng.standard_normal((check_count("N", N, minimum=1), 2))
        self.U -= self.U.mean(0)
        self.n_samples = N
        self.dim = 2

    def grad_at(self, x, U):
        """``grad f_k`` for shifts ``U`` broadcast against ``x`` (..., 2) -> (..., 2)."""
        r = x[..., None, :] - self.m - U[..., None, :]
        e = -0.5 * np.sum(self.Adiag * r * r, -1)
        p = np.exp(e - e.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return np.sum(p[..., None] * self.Adiag * r, -2)

    def grad_samples(self, x):
        """Per-sample gradients at one point ``x`` (2,) -> (N, 2)."""
        return self.grad_at(np.broadcast_to(np.asarray(x, dtype=np.float64), self.U.shape), self.U)

    def grad(self, x):
        x = np.asarray(x, dtype=np.float64)
        return self.grad_at(x[..., None, :], self.U).mean(-2)

    def hess(self, x, e: float = 1e-5):
        """Hessian of ``f`` by central differences of the exact gradient; (..., 2) -> (..., 2, 2)."""
        x = np.asarray(x, dtype=np.float64)
        H = np.zeros(x.shape + (2,))
        for l in range(2):
            d = np.zeros(2)
            d[l] = e
            H[..., l] = (self.grad(x + d) - self.grad(x - d)) / (2 * e)
        return 0.5 * (H + np.swapaxes(H, -1, -2))


def sgd_endpoint_width(loss, *, lr: float, batch: int, T: float = 20.0, n_chains: int = 300, seed: int = 0,
                       box: float = 3.0, polish: int = 400) -> dict:
    """Minibatch SGD (with replacement) for time ``T`` (``T/lr`` steps) from ``U[-box, box]^2``, then ``polish``
    full-gradient steps to the minimum reached; the width there: ``trace`` and ``top`` eigenvalue of the
    Hessian (arrays over chains) with means and standard errors.
    """
    lr = check_positive("lr", lr)
    b = check_count("batch", batch, minimum=1)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-box, box, (check_count("n_chains", n_chains, minimum=1), 2))
    for _ in range(int(round(T / lr))):
        idx = rng.integers(0, loss.n_samples, (x.shape[0], b))
        x = x - lr * loss.grad_at(x[:, None, :], loss.U[idx]).mean(1)
        if not np.all(np.isfinite(x)):
            raise NonFiniteError(f"SGD diverged (lr={lr}, batch={b}); reduce lr.")
    for _ in range(polish):
        x = x - 0.05 * loss.grad(x)
    H = loss.hess(x)
    ev = np.linalg.eigvalsh(H)
    tr, top = ev.sum(-1), ev[:, -1]
    n = len(tr)
    return {"x": x, "trace": tr, "top": top, "trace_mean": float(tr.mean()),
            "trace_se": float(tr.std(ddof=1) / math.sqrt(n)), "top_mean": float(top.mean()),
            "top_se": float(top.std(ddof=1) / math.sqrt(n)), "frac_sharp": float(np.mean(x[:, 0] < 0)),
            "lr": lr, "batch": b}
