r"""Entropy-SGD's scope and noise in the Deep Relaxation convention (paper-spec §1.2-1.4).

Entropy-SGD writes the local measure with a *scope* ``gamma_E`` (an inverse variance) and, in the
authors' code, a thermal noise ``epsilon``; Deep Relaxation writes it with a time ``t`` (a variance)
and an inverse temperature ``beta``:

.. math::

    \rho(y\,|\,x) \propto \exp\Big(-\beta\big[f(y) + \tfrac{|x-y|^2}{2t}\big]\Big).

Plain SGLD inner loop (paper form, ``momentum = 0``)
    ``y <- y - eta' (grad f(y) + gamma_E (y - x)) + epsilon sqrt(2 eta') xi`` is Euler-Maruyama for
    ``dY = -grad U dt + sqrt(2 epsilon^2) dW`` with ``U = f + gamma_E |y - x|^2/2``, invariant density
    ``exp(-U/epsilon^2)``: ``t = 1/gamma_E`` and ``beta = 1/epsilon^2``.

The authors' code (``ESGD_CODE``: Nesterov momentum ``m`` on the gradient of ``f`` only)
    The inner step uses ``g <- grad f(y) + m M`` with the buffer ``M <- m M + grad f(y)``.  When
    ``y`` moves slowly compared with the buffer's memory ``1/(1-m)`` steps (small ``eta'``), ``M`` is
    ``grad f(y)/(1-m)`` and the step is a Langevin step on

    .. math:: U_m(y) = \frac{f(y)}{1-m} + \frac{\gamma_E}{2}|y-x|^2,
              \qquad \rho \propto e^{-U_m/\epsilon^2}
              = \exp\Big(-\frac{1}{(1-m)\epsilon^2}\Big[f(y) + \frac{(1-m)\gamma_E}{2}|y-x|^2\Big]\Big),

    so the code samples the DR measure with

    .. math:: t = \frac{1}{(1-m)\,\gamma_E},\qquad \beta = \frac{1}{(1-m)\,\epsilon^2}

    (``m = 0.9``: ``t`` and ``beta`` both 10 times the plain values).  The fixed point is exact for
    every step size: on ``f = y^2/2`` with ``x = 2``, ``gamma_E = 1``, ``m = 0.9`` the inner mean is
    ``2/(1 + 10) = 0.1818``, not the plain ``x/(1 + 1) = 1``.  The stationary *spread* matches
    ``beta`` above to ``O(eta'/(1-m))`` (``tests/deeprelax/test_scope.py`` computes the exact discrete
    covariance of the linear case).

Averaging weights
    Algorithm 1 of the paper writes ``mu <- (1 - alpha) mu + alpha y'``: ``alpha`` weights the NEW
    sample.  The code and :func:`deeprelax.dynamics.entropy_sgd` write ``mu <- ema mu + (1 - ema) y'``:
    ``ema`` weights the OLD value (``ema = 0.75`` in the code is ``alpha = 0.25``).

Scope bookkeeping (paper-spec §7.20) therefore carries the factor too: after 10 CIFAR epochs the
scope ``gamma_E = 0.03 * 1.001^3910 ~ 1.49`` is the DR time ``0.669`` without momentum and ``6.69``
with the code's ``m = 0.9``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["scope_to_time", "time_to_scope", "noise_to_beta", "beta_to_noise"]


def _momentum(momentum):
    m = float(momentum)
    if not (0.0 <= m < 1.0):
        raise ValueError(f"`momentum` must be in [0, 1) (0 = no momentum); got {momentum!r}.")
    return m


def _positive(name, v):
    a = np.asarray(v, dtype=np.float64)
    if np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"`{name}` must be positive and finite ({name} > 0); got {v!r}.")
    return a


def _out(a):
    return float(a) if a.ndim == 0 else a


def scope_to_time(gamma_e, *, momentum: float = 0.0):
    r"""Entropy-SGD scope ``gamma_E`` -> DR time ``t = 1/((1 - momentum) gamma_E)``.

    Parameters
    ----------
    gamma_e : float or array, > 0
        Scope (inverse variance of the coupling ``gamma_E |y - x|^2/2``).
    momentum : float in [0, 1)
        Nesterov momentum of the inner loop on ``grad f`` (``ESGD_CODE``: 0.9; module docstring).

    Returns
    -------
    float or ndarray (same shape as ``gamma_e``)
    """
    m = _momentum(momentum)
    return _out(1.0 / ((1.0 - m) * _positive("gamma_e", gamma_e)))


def time_to_scope(t, *, momentum: float = 0.0):
    r"""DR time ``t`` -> Entropy-SGD scope ``gamma_E = 1/((1 - momentum) t)`` (inverse of :func:`scope_to_time`)."""
    m = _momentum(momentum)
    return _out(1.0 / ((1.0 - m) * _positive("t", t)))


def noise_to_beta(epsilon, *, momentum: float = 0.0):
    r"""Code noise ``epsilon`` -> DR inverse temperature ``beta = 1/((1 - momentum) epsilon^2)``.

    ``epsilon`` is the thermal noise of the authors' code, whose inner step adds
    ``epsilon sqrt(2 eta') xi`` (``noise="code"`` in :func:`deeprelax.dynamics.entropy_sgd`).  The
    paper's text writes ``sqrt(eta') epsilon xi`` instead (half the variance): that samples at
    ``2/((1 - momentum) epsilon^2)``.

    Parameters
    ----------
    epsilon : float or array, > 0
    momentum : float in [0, 1)

    Returns
    -------
    float or ndarray
    """
    m = _momentum(momentum)
    e = _positive("epsilon", epsilon)
    return _out(1.0 / ((1.0 - m) * e * e))


def beta_to_noise(beta, *, momentum: float = 0.0):
    r"""Inverse of :func:`noise_to_beta`: ``epsilon = 1/sqrt((1 - momentum) beta)``."""
    m = _momentum(momentum)
    return _out(1.0 / np.sqrt((1.0 - m) * _positive("beta", beta)))
