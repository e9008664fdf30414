r"""Stochastic control: SGD plus an optimal control beats SGD in expectation (paper-spec §2.5, §7.15).

SGD and controlled SGD from the same ``x0`` (1-D):

.. math:: dX = -f'(X)\,ds + \beta^{-1/2} dW, \qquad dX = -f'(X)\,ds - v_x(X, T - s)\,ds + \beta^{-1/2} dW,

where ``v`` solves the HJB equation :math:`v_\tau = -f' v_x - \tfrac12 v_x^2 + \tfrac{1}{2\beta} v_{xx}`,
``v(., 0) = f``: the value of :math:`\min_\alpha E[f(X_T) + \tfrac12\int_0^T \alpha^2 ds]` for
:math:`dX = (-f' + \alpha) ds + \beta^{-1/2} dW`, with optimal feedback :math:`\alpha^* = -v_x`.

*Exact reduction.*  :math:`\phi = e^{-\beta v}` solves the linear backward Kolmogorov equation of SGD,
:math:`\phi_\tau = \tfrac{1}{2\beta}\phi_{xx} - f'\phi_x`, :math:`\phi(., 0) = e^{-\beta f}`, so by
Feynman-Kac

.. math:: v(x_0, T) = -\tfrac1\beta \log E\big[e^{-\beta f(X^{\rm sgd}_T)}\big] \le E f(X^{\rm sgd}_T)

(Jensen), and by the verification theorem :math:`v(x_0, T) = E[f(X^c_T) + \tfrac12\int_0^T v_x^2 ds]`.
Hence the improvement

.. math:: E f(X^{\rm sgd}_T) - E f(X^c_T) = \tfrac12 E\!\int_0^T v_x^2\,ds + \big(\psi(x_0, T) - v(x_0, T)\big)
          \;\ge\; \tfrac12 E\!\int_0^T v_x^2\,ds,

with :math:`\psi(x_0, T) = E f(X^{\rm sgd}_T)` from the same linear equation with
:math:`\psi(., 0) = f`.  :func:`solve_value` computes ``phi`` and ``psi`` by Crank-Nicolson (central
differences, second order), :func:`simulate` the two SDEs by Euler-Maruyama.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import sparse as sp
from scipy.sparse import linalg as spla

__all__ = ["tilted_double_well", "solve_value", "simulate"]


def tilted_double_well(tilt: float = 0.3):
    """``f(x) = x^4/4 - x^2/2 + tilt x`` and ``f'`` (deep well on the left for ``tilt > 0``)."""
    return (lambda x: 0.25 * x ** 4 - 0.5 * x ** 2 + tilt * x), (lambda x: x ** 3 - x + tilt)


def _generator(x, df, beta):
    """Central-difference matrix of ``(1/(2 beta)) d_xx - f' d_x`` with reflecting (zero-slope) ends."""
    n = x.size
    h = x[1] - x[0]
    D = 0.5 / beta
    b = -df(x)
    lo = D / h ** 2 - b / (2 * h)
    up = D / h ** 2 + b / (2 * h)
    main = np.full(n, -2 * D / h ** 2)
    L = sp.diags([lo[1:], main, up[:-1]], [-1, 0, 1], format="lil")
    L[0, 1] = 2 * D / h ** 2            # ghost node mirrors the first interior node (u_x = 0)
    L[n - 1, n - 2] = 2 * D / h ** 2
    return L.tocsc()


def solve_value(f, df, x, T: float, beta: float, n_t: int) -> dict:
    r"""``phi = exp(-beta v)`` and ``psi = E f(X^sgd)`` on the grid ``x`` at ``tau = k T/n_t``.

    Returns a dict with ``x``, ``tau (n_t+1,)``, ``v (n_t+1, nx)``, ``vx (n_t+1, nx)`` (central
    differences of ``v``) and ``psi (nx,)`` at ``tau = T``.
    """
    x = np.asarray(x, dtype=np.float64)
    L = _generator(x, df, beta)
    dt = T / n_t
    I = sp.identity(x.size, format="csc")
    lhs = spla.splu((I - 0.5 * dt * L).tocsc())
    rhs = (I + 0.5 * dt * L).tocsc()
    fx = f(x)
    fmin = float(fx.min())
    phi = np.exp(-beta * (fx - fmin))          # shifted: v = fmin - log(phi)/beta
    psi = fx.copy()
    vs = [fx.copy()]
    for _ in range(n_t):
        phi = lhs.solve(rhs @ phi)
        psi = lhs.solve(rhs @ psi)
        vs.append(fmin - np.log(phi) / beta)
    v = np.array(vs)
    vx = np.gradient(v, x, axis=1, edge_order=2)
    return {"x": x, "tau": np.linspace(0.0, T, n_t + 1), "v": v, "vx": vx, "psi": psi}


def simulate(f, df, x0: float, T: float, beta: float, n_steps: int, n_paths: int, rng, sol=None) -> dict:
    r"""Euler-Maruyama paths of SGD (``sol=None``) or of controlled SGD (``sol`` from :func:`solve_value`
    with ``n_t`` a multiple of ``n_steps``; the feedback at step ``k`` is ``-v_x(X, T - k h)``).

    Returns ``{"fT": f(X_T) (n_paths,), "cost": (1/2) int v_x^2 ds (n_paths,)}``."""
    h = T / n_steps
    X = np.full(n_paths, float(x0))
    cost = np.zeros(n_paths)
    sq = math.sqrt(h / beta)
    if sol is not None:
        ratio = (sol["tau"].size - 1) // n_steps
        if ratio * n_steps != sol["tau"].size - 1:
            raise ValueError("the value function's time grid must be a refinement of the SDE's (n_t = k n_steps).")
    for k in range(n_steps):
        drift = -df(X)
        if sol is not None:
            a = -np.interp(X, sol["x"], sol["vx"][(n_steps - k) * ratio])
            drift = drift + a
            cost += 0.5 * a * a * h
        X = X + drift * h + sq * rng.standard_normal(n_paths)
    return {"fT": f(X), "cost": cost}
