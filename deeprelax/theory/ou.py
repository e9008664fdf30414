r"""The antisymmetric ``Q`` of SGD-VI for a linear SDE with non-normal drift (Lemma 20, Thm 22).

For :math:`dx = -F x\,dt + \sqrt{2\beta^{-1} D}\,dW` (``F`` stable, ``D`` symmetric positive definite,
constant) the stationary law is Gaussian with covariance ``Sigma``, :math:`F\Sigma + \Sigma F^\top =
2\beta^{-1}D` (Lyapunov), and :math:`\Phi = -\beta^{-1}\log\rho_{ss} = \tfrac12 x^\top U x` with
:math:`U = \beta^{-1}\Sigma^{-1}`.  The decomposition
:math:`\nabla f = F x = (D + Q)\nabla\Phi - \beta^{-1}\nabla\cdot(D + Q)` (constant ``D, Q``: no
divergence term) holds with

.. math:: Q = F U^{-1} - D = \beta F\Sigma - D,

antisymmetric because :math:`Q + Q^\top = \beta(F\Sigma + \Sigma F^\top) - 2D = 0`.  In 2-D,
``Q = q J`` with ``J = [[0, 1], [-1, 0]]`` and the closed form (any 2x2 ``F`` has
:math:`FJ + JF^\top = \mathrm{tr}(F)\,J`; ``U = (D + qJ)^{-1}F`` symmetric iff
:math:`F D - D F^\top = q\,\mathrm{tr}(F)\,J`)

.. math:: q = \frac{(F D - D F^\top)_{12}}{\mathrm{tr}\,F},

independent of ``beta``.  ``q = 0`` iff ``F D = D F^T`` (e.g. ``F`` symmetric and commuting with ``D``):
then the dynamics is reversible; otherwise ``j = -Fx + D U x = -Q U x != 0`` circulates.
:func:`q_from_potential` recovers ``q(x)`` pointwise from a numerical ``Phi`` (e.g. the Itô
Fokker-Planck steady state), which is how the validation suite checks the closed form.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = ["stationary_covariance", "antisymmetric_q", "q_closed_form", "q_from_potential", "J2"]

#: The 2-D rotation generator ``[[0, 1], [-1, 0]]``.
J2 = np.array([[0.0, 1.0], [-1.0, 0.0]])


def stationary_covariance(F, D, beta: float) -> np.ndarray:
    """``Sigma`` with ``F Sigma + Sigma F' = 2 D / beta`` (``F`` stable)."""
    F = np.asarray(F, dtype=np.float64)
    if np.any(np.linalg.eigvals(F).real <= 0):
        raise ValueError(f"`F` must be stable (eigenvalues with positive real part); got {np.linalg.eigvals(F)}.")
    return linalg.solve_continuous_lyapunov(F, 2.0 * np.asarray(D, dtype=np.float64) / beta)


def antisymmetric_q(F, D, beta: float) -> np.ndarray:
    """``Q = beta F Sigma - D`` (any dimension); antisymmetric to round-off."""
    return beta * np.asarray(F) @ stationary_covariance(F, D, beta) - np.asarray(D)


def q_closed_form(F, D) -> float:
    """2-D: ``q = (F D - D F')_{12} / tr F`` with ``Q = q J2``."""
    F = np.asarray(F, dtype=np.float64)
    D = np.asarray(D, dtype=np.float64)
    if F.shape != (2, 2) or D.shape != (2, 2):
        raise ValueError(f"`F` and `D` must be 2x2; got {F.shape} and {D.shape}.")
    return float((F @ D - D @ F.T)[0, 1] / np.trace(F))


def q_from_potential(grad_phi, grad_f, D) -> np.ndarray:
    r"""Pointwise ``q(x)`` from ``grad f = (D + q J2) grad Phi`` (2-D, constant ``D``):
    ``q = (J2 grad Phi) . (grad f - D grad Phi) / |grad Phi|^2``.  Arrays ``(..., 2)`` -> ``(...)``."""
    gp = np.asarray(grad_phi, dtype=np.float64)
    r = np.asarray(grad_f, dtype=np.float64) - gp @ np.asarray(D, dtype=np.float64).T
    jg = gp @ J2.T
    return np.sum(jg * r, axis=-1) / np.sum(gp * gp, axis=-1)
