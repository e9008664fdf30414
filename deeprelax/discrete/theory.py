r"""Closed forms and replica-symmetric predictions used as references for the discrete targets.

* :func:`annealed_log2_count`: for random labels and N odd, each pattern is satisfied with
  probability 1/2 independently for any fixed W, so :math:`\mathbb E[\#\text{solutions}] = 2^{N-P}`
  exactly (an upper bound on the typical count by Jensen).
* :func:`shell_log_count`: :math:`\log\binom Nd`, the local entropy of a configuration whose whole
  distance-d shell were solutions (the ceiling of :math:`S(d)`).
* :func:`gibbs_generalisation`: test error of a *typical* solution of the teacher-student binary
  perceptron (Gibbs learning; the teacher itself is one by the Nishimori symmetry), replica
  symmetric on the Nishimori line (R = q):

  .. math:: q = \int Dz \tanh(\sqrt{\hat q} z + \hat q), \qquad \hat q = 2\alpha\, G_E'(q), \qquad
            G_E(q) = 2\int Dt\, H(-t\kappa) \log H(-t\kappa),\ \kappa = \sqrt{q/(1-q)},

  :math:`\varepsilon = \arccos(q)/\pi` (Gyorgyi 1990; Sompolinsky, Tishby & Seung 1990).  The q < 1
  branch is followed from small alpha (it is the stable one below alpha ~ 1.245).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from solvers.errors import check_nonnegative

__all__ = ["annealed_log2_count", "shell_log_count", "gibbs_generalisation"]


def annealed_log2_count(n: int, p: int) -> float:
    """:math:`\\log_2 \\mathbb E[\\#\\text{solutions}] = N - P` (random labels, N odd)."""
    return float(n - p)


def shell_log_count(n: int, d) -> np.ndarray:
    """:math:`\\log\\binom Nd` for integer distances ``d``."""
    d = np.asarray(d, float)
    return special.gammaln(n + 1) - special.gammaln(d + 1) - special.gammaln(n - d + 1)


def _H(x):
    return 0.5 * special.erfc(x / math.sqrt(2.0))


def _GE(q):
    k = math.sqrt(q / (1.0 - q))

    def f(t):
        h = _H(-t * k)
        return math.exp(-0.5 * t * t) / math.sqrt(2 * math.pi) * h * math.log(h) if h > 0 else 0.0
    from scipy import integrate                   # here, not at import: it pulls in scipy.optimize (0.2 s)

    return 2.0 * integrate.quad(f, -12, 12, limit=200, epsabs=1e-13)[0]


def _q_of_qhat(qh):
    def f(z):
        return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) * math.tanh(math.sqrt(qh) * z + qh)
    from scipy import integrate

    return integrate.quad(f, -12, 12, limit=200, epsabs=1e-13)[0]


def gibbs_generalisation(alpha: float, *, tol: float = 1e-10, max_iter: int = 5000) -> tuple[float, float]:
    """(q, epsilon) of Gibbs learning at load ``alpha`` (module docstring); damped fixed-point iteration."""
    alpha = check_nonnegative("alpha", alpha)
    if alpha == 0:
        return 0.0, 0.5
    q = 0.1
    for _ in range(max_iter):
        eps = 1e-5 * min(q, 1 - q)
        dGE = (_GE(q + eps) - _GE(q - eps)) / (2 * eps)
        qn = _q_of_qhat(max(2.0 * alpha * dGE, 0.0))
        qn = min(max(qn, 1e-9), 1 - 1e-9)
        if abs(qn - q) < tol:
            q = qn
            break
        q = 0.5 * q + 0.5 * qn
    return q, math.acos(q) / math.pi
