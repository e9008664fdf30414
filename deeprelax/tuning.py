r"""Entropy-SGD settings derived from the problem: ``dr.dynamics.suggest_params(loss, t, beta)``.

Entropy-SGD (:func:`deeprelax.dynamics.entropy_sgd`) descends ``u(x, t)`` with the estimate
``grad u = (x - mu)/t``, ``mu`` the mean of ``L`` inner SGLD steps on the *local measure*

.. math:: \rho(y \mid x) \propto \exp\{-\beta [f(y) + |y - x|^2/(2t)]\}.

Four numbers decide whether it works; each follows from two properties of the problem, the curvature
range of ``f`` (second differences over ``loss.bounds``, ``f''_+ = max f''``, ``f''_- = max(-f'')``)
and ``t``:

inner_lr ``eta' = 0.1 / (f''_+ + 1/t)``
    The inner drift ``-(grad f(y) + (y - x)/t)`` is Lipschitz with constant ``K = f''_+ + 1/t``; the
    Euler-Maruyama step is stable for ``eta' K < 2`` and its stationary variance is off by a factor
    ``1/(1 - eta' K/2)``: ``eta' K = 0.1`` keeps that bias at 5 %.
L ``= ceil(tau / eta')``
    The inner chain starts at ``y = x``; ``mu`` means something only after the chain has relaxed,
    which takes ``tau`` time units.  When ``rho(.|x)`` is log-concave (``m = 1/t - f''_- > 0``)
    ``tau = 1/m``; otherwise (a multimodal local measure) ``tau = t``, the relaxation time of the
    coupling term alone.  Crossing a barrier ``Delta`` of the local measure takes about
    ``exp(beta Delta)`` longer: check with ``local_entropy_grad(..., method="sgld")`` (its ``rhat``
    and error bars) when ``beta Delta`` is large.
lr ``eta = t/2``
    ``u(., t)`` is semiconcave, ``u'' <= 1/t``; the outer step ``x <- x - eta (x - mu)/t`` is then
    stable for ``eta < 2t`` and moves ``x`` half-way to ``mu`` per step.
n_steps ``= 40``
    Outer flow time ``n_steps * lr = 20 t``: a basin of ``u`` with curvature ``>= 1/(4t)`` is
    left or reached to ``e^-5``.

Measured (``tests/deeprelax/test_esgd_tuning.py``; ``wide-sharp`` loss, chains started in the narrow
well ``x = 1.5``, ``t = 1``, ``beta = 1``, where ``u(., 1)`` has no minimum near the narrow well):
the suggested settings (``inner_lr = 0.001, L = 1010, lr = 0.5, n_steps = 40``) move 97-99 % of 256
chains into the wide basin (seeds 1, 2); a first try with ``lr = 0.2``, 200 steps, ``inner_lr = 1e-3``,
``L = 20`` moves none: 20 inner steps of 1e-3 cover 0.02 time units, so ``mu ~ x`` and
``grad u ~ 0``.  The validation's homogenization check (``deeprelax validate``, figure
``homogenization.png``) shows the same law: Entropy-SGD follows the gradient flow of ``u`` once ``L``
covers the relaxation of the local measure, and lags it when it does not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from solvers.errors import check_positive
from solvers.grid import Grid

__all__ = ["suggest_params", "ESGDParams", "curvature_range"]


def curvature_range(loss, n: int = 64) -> tuple:
    """``(min f'', max f'')`` along the axes over ``loss.bounds`` by second differences.

    ``n`` points per axis (at most 4096 in all), two difference steps (h/4, h/64 of the grid spacing)
    so that narrow features between nodes are seen.  ``(-lip, lip)`` for a loss with a finite
    ``lipschitz_grad`` (a bound; the exact range may be narrower).
    """
    lip = getattr(loss, "lipschitz_grad", None)
    if lip is not None and math.isfinite(lip) and lip > 0:
        return -float(lip), float(lip)
    d = int(loss.dim)
    n = max(8, min(int(n), int(4096 ** (1.0 / d))))
    g = Grid.uniform(getattr(loss, "bounds", None) or [(-3.0, 3.0)] * d, (n,) * d)
    P = g.mesh()
    lo, hi = math.inf, -math.inf
    for h in (min(g.spacing) / 4.0, min(g.spacing) / 64.0):
        for k in range(d):
            e = np.zeros(d)
            e[k] = h
            d2 = (loss.value(P + e) - 2.0 * loss.value(P) + loss.value(P - e)) / h ** 2
            lo, hi = min(lo, float(np.min(d2))), max(hi, float(np.max(d2)))
    return lo, hi


@dataclass(frozen=True)
class ESGDParams:
    """Suggested Entropy-SGD settings and why (module docstring); a mapping usable as ``**kwargs``.

    Attributes
    ----------
    lr, inner_lr : float
    L, n_steps : int
    tau : float
        Relaxation time of the local measure used for ``L`` (time units).
    curvature : tuple (min f'', max f'')
    log_concave : bool
        Whether ``rho(.|x)`` is log-concave everywhere (``1/t > max(-f'')``).
    reasons : dict, parameter -> one line
    """

    lr: float
    inner_lr: float
    L: int
    n_steps: int
    tau: float
    curvature: tuple
    log_concave: bool
    reasons: dict = field(default_factory=dict)

    _KEYS = ("lr", "inner_lr", "L", "n_steps")

    def keys(self):
        return list(self._KEYS)

    def __getitem__(self, k):
        if k not in self._KEYS:
            raise KeyError(k)
        return getattr(self, k)

    def __str__(self) -> str:
        return "\n".join(f"{k} = {self[k]:.4g}: {self.reasons[k]}" for k in self._KEYS)


def suggest_params(loss, t: float, beta: float, *, curvature: tuple | None = None) -> ESGDParams:
    r"""Entropy-SGD's ``lr``, ``inner_lr``, ``L``, ``n_steps`` from the curvature of ``f`` and ``t`` (module docstring).

    Parameters
    ----------
    loss : a loss with ``dim``, ``value`` and ``bounds`` (or a registered name)
    t : float > 0
        DR time (scope ``gamma = 1/t``).
    beta : float in (0, inf]
        Inverse temperature of the inner SGLD (``inf``: the HJ-prox limit).  The rules do not depend on
        it; it is checked and named in the reasons where barriers matter.
    curvature : (min f'', max f''), optional
        Skip the second-difference scan (e.g. known bounds).

    Returns
    -------
    ESGDParams
        ``entropy_sgd(loss, x0, t=t, beta=beta, **suggest_params(loss, t, beta))``; ``print`` it for the
        reasons.
    """
    from . import losses as _losses

    if isinstance(loss, str):
        loss = _losses.get(loss)
    t = check_positive("t", t)
    beta = check_positive("beta", beta, allow_inf=True)
    cmin, cmax = curvature_range(loss) if curvature is None else (float(curvature[0]), float(curvature[1]))
    K = max(cmax, 0.0) + 1.0 / t
    inner_lr = 0.1 / K
    m = 1.0 / t + min(cmin, 0.0)
    log_concave = m > 0.25 / t
    tau = 1.0 / m if log_concave else t
    L = int(math.ceil(tau / inner_lr * (1 - 1e-12)))
    lr = 0.5 * t
    n_steps = 40
    why_tau = (f"rho(.|x) is log-concave (1/t + min f'' = {m:.3g} > 0): tau = 1/m = {tau:.3g}" if log_concave else
               f"rho(.|x) is not log-concave (min f'' = {cmin:.3g} < -1/t): tau = t = {t:.3g}, the coupling's "
               f"time; barriers of height D take ~exp({beta:g} D) longer (check local_entropy_grad(method='sgld').rhat)")
    reasons = {
        "inner_lr": f"0.1 / (max f'' + 1/t) = 0.1 / ({max(cmax, 0.0):.3g} + {1 / t:.3g}): Euler-Maruyama stable, "
                    f"5 % variance bias",
        "L": f"ceil(tau / inner_lr) inner steps cover the relaxation of the local measure; {why_tau}",
        "lr": f"t/2: u'' <= 1/t, so x moves half-way to mu per outer step (stable below 2t)",
        "n_steps": f"outer flow time n_steps * lr = 20 t = {20 * t:.3g}",
    }
    return ESGDParams(lr=lr, inner_lr=inner_lr, L=L, n_steps=n_steps, tau=tau, curvature=(cmin, cmax),
                      log_concave=bool(log_concave), reasons=reasons)


def fill_defaults(loss, x0, t, beta, noise, epsilon, lr, inner_lr, L, n_steps) -> tuple:
    """``(lr, inner_lr, L, n_steps)`` with each ``None`` replaced by :func:`suggest_params` (entropy_sgd)."""
    if all(v is not None for v in (lr, inner_lr, L, n_steps)):
        return lr, inner_lr, L, n_steps
    from .losses import as_loss

    f = as_loss(loss, np.shape(x0)[-1] if np.ndim(x0) else 1, where="entropy_sgd")
    b = beta if beta is not None else (1.0 / epsilon ** 2 if noise == "code" else 1.0)
    s = suggest_params(f, t, b)
    return (s.lr if lr is None else lr, s.inner_lr if inner_lr is None else inner_lr,
            s.L if L is None else L, s.n_steps if n_steps is None else n_steps)
