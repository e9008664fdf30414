r"""The built-in analytic losses: quadratic, |x|_1, double well, soft-min of quadratics, wide-sharp,
DR Fig. 1, Rastrigin, cosine, Gaussian mixture.

Values and gradients come from the one per-point body of each kind (:mod:`deeprelax._nbloss`, the same
code the particle kernels and the CUDA backend run); this module holds each kind's parameters, its
Hessian and its exact relaxations (closed forms from :mod:`solvers.reference`).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from solvers import reference as ref
from solvers.errors import check_nonnegative

from .. import _loss_bodies, _nbloss
from .base import Loss, _check_beta, _check_dim
from .registry import register

__all__ = ["Quadratic", "Abs", "DoubleWell", "SoftminQuadratics", "WideSharp", "DRFig1", "Rastrigin", "Cosine",
           "GaussianMixture"]


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    w = np.exp(z)
    return w / w.sum(-1, keepdims=True)


def _well_params(a, m, c, what, names):
    """Checked ``(k,)``, ``(k, d)``, ``(k,)`` parameters of ``k`` wells (a 1-D ``m`` means ``d = 1``);
    the first and third must be positive for a mixture, the first for a soft-min."""
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    m = np.asarray(m, dtype=np.float64)
    c = np.atleast_1d(np.asarray(c, dtype=np.float64))
    if m.ndim == 1:
        m = m[:, None]
    k = a.shape[0]
    na, nm, nc = names
    if a.ndim != 1 or m.ndim != 2 or m.shape[0] != k or c.shape != (k,):
        raise ValueError(f"{what} parameters need {na} (k,), {nm} (k, d), {nc} (k,); got {na} {a.shape}, "
                         f"{nm} {m.shape}, {nc} {c.shape}.")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(m)) and np.all(np.isfinite(c))):
        raise ValueError(f"{what} parameters {na}, {nm}, {nc} must be finite.")
    if np.any(a <= 0):
        raise ValueError(f"{what} `{na}` must be positive ({na} > 0); got {a!r}.")
    if what == "mixture" and np.any(c <= 0):
        raise ValueError(f"mixture widths `{nc}` must be positive ({nc} > 0); got {c!r}.")
    return a, m, c


def _diag_hess(diag):
    """``(..., d)`` diagonal -> ``(..., d, d)`` matrices."""
    H = np.zeros(diag.shape + (diag.shape[-1],))
    i = np.arange(diag.shape[-1])
    H[..., i, i] = diag
    return H


# ----------------------------------------------------------------------------- quadratic
@register("quadratic")
class Quadratic(Loss):
    r"""``f(x) = 1/2 x^T A x``.

    Parameters
    ----------
    A : float or (d, d) symmetric array, optional
        Defaults to the identity.  A scalar means ``A I``.  May be indefinite
        (the saddle family); the closed forms then need ``I + t A`` positive definite.
    dim : int, optional
        Dimension when ``A`` is a scalar or omitted (default 1).

    Exact: ``u = 1/2 x^T A (I+tA)^{-1} x + log det(I+tA)/(2 beta)``,
    ``prox = (I+tA)^{-1} x`` (:func:`solvers.reference.quadratic_u`).
    """

    nb_kind = _nbloss.KIND_QUADRATIC

    has_hess = True

    def __init__(self, A=None, dim=None):
        if A is None or np.ndim(A) == 0:
            d = _check_dim(1 if dim is None else dim)
            A = np.eye(d) * (1.0 if A is None else float(A))
        A = np.atleast_2d(np.asarray(A, dtype=np.float64))
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"`A` must be a square matrix; got shape {A.shape}.")
        if dim is not None and _check_dim(dim) != A.shape[0]:
            raise ValueError(f"`dim` = {dim} does not match `A` of shape {A.shape}.")
        if not np.all(np.isfinite(A)) or not np.allclose(A, A.T, rtol=1e-12, atol=1e-14):
            raise ValueError("`A` must be finite and symmetric.")
        A = 0.5 * (A + A.T)
        self.A = A
        d = A.shape[0]
        lip = float(np.abs(np.linalg.eigvalsh(A)).max())
        super().__init__(d, [(-3.0, 3.0)] * d, {"A": A}, lip, np.concatenate([[d], A.ravel()]))

    def _hess(self, x):
        return np.broadcast_to(self.A, x.shape + (self.dim,)).copy()

    def exact_u(self, x, t, beta=np.inf):
        return self._out(ref.quadratic_u(self._x(x), self._t(t), self.A, _check_beta(beta)))

    def exact_grad(self, x, t, beta=np.inf):
        _check_beta(beta)
        return ref.quadratic_grad(self._x(x), self._t(t), self.A)

    def exact_prox(self, x, t):
        return ref.quadratic_prox(self._x(x), self._t(t), self.A)


# ----------------------------------------------------------------------------- |x|_1
@register("abs")
class Abs(Loss):
    r"""``f(x) = ||x||_1``.  Gradient ``sign(x)`` (0 at the kink); not Lipschitz (``lipschitz_grad = inf``).

    Exact: Hopf-Lax = Huber (``beta = inf``), viscous = the log-erfc closed form
    (:func:`solvers.reference.abs_viscous_u`); prox = soft threshold.
    """

    nb_kind = _nbloss.KIND_ABS

    def __init__(self, dim=1):
        d = _check_dim(dim)
        super().__init__(d, [(-3.0, 3.0)] * d, {}, np.inf, [d])

    def exact_u(self, x, t, beta=np.inf):
        x, t, beta = self._x(x), self._t(t), _check_beta(beta)
        if t == 0:
            return self._out(self._value(x))
        u = ref.huber_u(x, t) if np.isinf(beta) else ref.abs_viscous_u(x, t, beta)
        return self._out(u)

    def exact_grad(self, x, t, beta=np.inf):
        x, t, beta = self._x(x), self._t(t), _check_beta(beta)
        if t == 0:
            return self._grad(x)
        return ref.huber_grad(x, t) if np.isinf(beta) else ref.abs_viscous_grad(x, t, beta)

    def exact_prox(self, x, t):
        return ref.soft_threshold(self._x(x), self._t(t))


# ----------------------------------------------------------------------------- double well
@register("double-well")
class DoubleWell(Loss):
    r"""``f(x) = (x_1^2 - 1)^2/4 + sum_{k>=2} x_k^2/2`` (SGD-VI Example 19 potential), ``dim`` 1..3.

    Minima at ``x_1 = +-1`` (value 0), saddle at the origin (value 1/4).
    ``grad f`` is not globally Lipschitz (``lipschitz_grad = inf``); ``f'' >= -1``
    so ``prox_{t f}`` is unique for ``t < 1``.
    """

    nb_kind = _nbloss.KIND_DOUBLE_WELL

    has_hess = True

    def __init__(self, dim=1):
        d = _check_dim(dim, 1, 3)
        super().__init__(d, [(-2.0, 2.0)] * d, {}, np.inf, [d])

    def _hess(self, x):
        diag = np.ones_like(x)
        diag[..., 0] = 3.0 * x[..., 0] ** 2 - 1.0
        return _diag_hess(diag)


# ----------------------------------------------------------------------------- soft-min of quadratics
_SOFTNESS_MSG = ("{cls}: the loss parameter `beta` is now `softness` (it sets how soft the minimum of the wells "
                 "is; `beta` is the inverse temperature of the PDEs and dynamics).")


def _softness(softness, beta, default, cls):
    """The softness, taking the deprecated keyword ``beta`` (FutureWarning) when given."""
    if beta is None:
        return softness
    if softness != default and softness != beta:
        raise TypeError(f"{cls}: got both softness={softness} and the deprecated beta={beta}; pass softness only.")
    warnings.warn(_SOFTNESS_MSG.format(cls=cls), FutureWarning, stacklevel=4)
    return beta


@register("softmin-quadratics")
class SoftminQuadratics(Loss):
    r"""Soft minimum of quadratic wells (paper-spec §4.4a).

    .. math:: f(x) = -\frac1s\log\sum_i e^{-s[\frac{a_i}2|x-m_i|^2+c_i]}

    Parameters
    ----------
    a : (k,) positive curvatures
    m : (k, d) or (k,) centres (a 1-D ``m`` means ``d = 1``)
    c : (k,) offsets
    softness : float in (0, inf]
        ``s`` above; ``inf`` is the hard minimum ``min_i q_i``.  (Called ``beta`` before; ``beta=`` still
        works with a FutureWarning.  It is not the inverse temperature ``beta`` of the PDEs and dynamics,
        though the closed form below needs the two to be equal.)

    Exact: the viscous ``u`` when the PDE's ``beta`` equals the softness
    (:func:`solvers.reference.softmin_viscous_u`); the Hopf-Lax ``u`` and prox
    when the softness is ``inf``.  ``lipschitz_grad`` is ``max a`` for a
    single well, ``inf`` for a hard min with several wells (``grad f`` jumps) and
    ``None`` (unknown) for a soft min.
    """

    nb_kind = _nbloss.KIND_SOFTMIN

    has_hess = True

    def __init__(self, a=(1.0, 1.0), m=((-1.0,), (1.0,)), c=(0.0, 0.0), softness=np.inf, *, beta=None):
        a, m, c = _well_params(a, m, c, "soft-min", ("a", "m", "c"))
        self.a, self.m, self.c = a, m, c
        self.softness = _check_beta(_softness(softness, beta, np.inf, type(self).__name__), "softness")
        k, d = m.shape
        if k == 1:
            lip = float(a[0])
        else:
            lip = np.inf if np.isinf(self.softness) else None
        lo = (m - 3.0 / np.sqrt(a.min())).min(0)
        hi = (m + 3.0 / np.sqrt(a.min())).max(0)
        bounds = list(zip(np.floor(lo), np.ceil(hi)))
        nb = np.concatenate([[d, k, self.softness], a, m.ravel(), c])
        super().__init__(d, bounds, {"a": a, "m": m, "c": c, "softness": self.softness}, lip, nb)

    @property
    def beta(self) -> float:
        """Deprecated name of :attr:`softness` (FutureWarning)."""
        warnings.warn(_SOFTNESS_MSG.format(cls=type(self).__name__), FutureWarning, stacklevel=2)
        return self.softness

    def _hess(self, x):
        diff = x[..., None, :] - self.m
        q = 0.5 * self.a * np.einsum("...kd,...kd->...k", diff, diff) + self.c
        eye = np.eye(self.dim)
        if np.isinf(self.softness):
            i = np.argmin(q, axis=-1)
            return self.a[i][..., None, None] * eye
        w = _softmax(-self.softness * q)
        gi = self.a[:, None] * diff                     # (..., k, d)
        g = np.einsum("...k,...kd->...d", w, gi)
        second = np.einsum("...k,...kd,...ke->...de", w, gi, gi) - g[..., :, None] * g[..., None, :]
        return (w * self.a).sum(-1)[..., None, None] * eye - self.softness * second

    def _closed(self, beta, what):
        if np.isinf(self.softness):
            if np.isinf(beta):
                return "hl"
            raise NotImplementedError(
                f"hard-min softmin-quadratics has no closed-form viscous {what} (beta = {beta}); only beta = inf.")
        if beta != self.softness:
            raise NotImplementedError(
                f"softmin-quadratics with softness {self.softness} has a closed-form {what} only for the PDE "
                f"beta = {self.softness}; got beta = {beta}.")
        return "visc"

    def exact_u(self, x, t, beta=np.inf):
        x, t, beta = self._x(x), self._t(t), _check_beta(beta)
        if self._closed(beta, "u") == "hl":
            return self._out(ref.softmin_hopf_lax_u(x, t, self.a, self.m, self.c))
        return self._out(ref.softmin_viscous_u(x, t, beta, self.a, self.m, self.c))

    def exact_grad(self, x, t, beta=np.inf):
        x, t, beta = self._x(x), self._t(t), _check_beta(beta)
        if self._closed(beta, "grad u") == "hl":
            return ref.softmin_hopf_lax_grad(x, t, self.a, self.m, self.c)
        return ref.softmin_viscous_grad(x, t, beta, self.a, self.m, self.c)

    def exact_mean(self, x, t, beta):
        """Gibbs mean ``<y>`` of the viscous problem (only for ``beta == self.softness``); shape (..., d)."""
        x, t, beta = self._x(x), self._t(t), _check_beta(beta)
        self._closed(beta, "Gibbs mean")
        return ref.softmin_viscous_mean(x, t, beta, self.a, self.m, self.c)

    def exact_prox(self, x, t):
        if not np.isinf(self.softness):
            raise NotImplementedError("softmin-quadratics has a closed-form prox only for the hard min (beta = inf).")
        return ref.softmin_hopf_lax_prox(self._x(x), self._t(t), self.a, self.m, self.c)


@register("wide-sharp")
class WideSharp(SoftminQuadratics):
    r"""A wide shallow well next to a narrow deeper one: a soft-min of two quadratics.

    Defaults (``dim = 1``; for ``dim = 2`` the centres are ``(-1, 0)`` and ``(1.5, 0)``):

    ======  =========  =========  ======
    well    a          m          c
    ======  =========  =========  ======
    wide    1          -1         0
    sharp   100        +1.5       -0.1
    ======  =========  =========  ======

    ``softness = 10`` (the parameter was called ``beta``; ``beta=`` still works with a FutureWarning).

    Claims (tested in ``tests/deeprelax/test_losses.py`` with the closed forms):

    * The sharp well is the global minimum of ``f`` (``f(1.5) ~ -0.1 < f(-1) ~ 0``)
      and a strict local minimum: gradient descent started in the sharp basin
      (``|x - 1.5| <~ 0.25``) stays there.
    * The local entropy ``u(., t=1)`` with ``beta`` in 1..10 has its global
      minimum in the wide basin.  For well-separated wells
      ``min u ~ min_i [c_i + d/(2 beta) log(1 + t a_i)]`` (the wide-valley bonus):
      at ``t = 1, d = 1`` the sharp well pays ``log(101)/(2 beta)``, the wide one
      ``log(2)/(2 beta)``; the difference ``1.96/beta >= 0.196 > 0.1 = c_w - c_s``
      for every ``beta <= 10`` (and the margin doubles for ``d = 2``).  The depth
      offset ``c_s = -0.1`` (not -0.5) is what keeps the claim true up to ``beta = 10``.
    """

    def __init__(self, dim=1, a=(1.0, 100.0), c=(0.0, -0.1), softness=10.0, *, beta=None):
        d = _check_dim(dim, 1, 2)
        m = np.zeros((2, d))
        m[0, 0], m[1, 0] = -1.0, 1.5
        super().__init__(a=a, m=m, c=c, softness=_softness(softness, beta, 10.0, "WideSharp"))
        self.params = {"dim": d, "a": self.a, "m": self.m, "c": self.c, "softness": self.softness}
        self.bounds = [(-3.0, 3.0)] * d


# ----------------------------------------------------------------------------- DR Fig. 1
_FIG1_N, _FIG1_M, _FIG1_SEED = 500, 3, 42


def _fig1_recipe():
    """The DR Fig. 1 landscape samples on the native grid (RandomState, so global state is untouched)."""
    from scipy.stats import norm           # here, not at import: scipy.stats costs 0.4 s to import

    x = np.linspace(-_FIG1_M, _FIG1_M, _FIG1_N)
    g = norm.pdf(x, 0, 2 * _FIG1_M / 200.0)
    g = g / np.sum(g)
    r = np.random.RandomState(_FIG1_SEED).random_sample(x.shape)
    f2 = np.convolve(5 * (r - 0.5), g, "same")
    f = x ** 2 + 1.5 * np.sin(2 * np.pi * x) + f2
    return x, f2, f


@register("dr-fig1")
class DRFig1(Loss):
    r"""The Deep Relaxation Fig. 1 landscape (paper-spec §4.1), 1-D.

    ``f(x) = x^2 + 1.5 sin(2 pi x) + f_2(x)`` where ``f_2`` is white noise
    ``5 (r - 1/2)`` (``np.random.seed(42)``, 500 samples) convolved with a
    normalised Gaussian of width 0.03 on ``linspace(-3, 3, 500)``.

    * :meth:`native_grid` / :meth:`native_values` give the authors' 500 samples
      bit for bit (``RandomState(42).random_sample`` draws the same numbers as
      ``seed(42)`` + ``random``, without touching the global state).
    * Off the nodes, ``f_2`` is the **natural** cubic spline through the 500
      samples (C^2, zero curvature at +-3), so ``grad`` and ``hess`` are
      continuous; ``value`` at a native node equals the native sample exactly.
    * Outside ``[-3, 3]``, ``f_2`` levels off to (nearly) its end value:
      ``f_2(e) + f_2'(e) ell tanh((x - e)/ell)`` with ``ell`` = one native grid
      step (6/499).  This matches value, slope and the zero curvature of the
      natural spline at ``e = +-3``, so ``f`` is C^2 everywhere, and ``f_2`` stays
      within ``|f_2'(e)| ell`` (< 0.05) of its end value; ``x^2 + 1.5 sin(2 pi x)``
      keeps its growth.
    * ``lipschitz_grad`` is the upper bound ``2 + 6 pi^2 + max |f_2''|`` (spline and extension).
    """

    nb_kind = _nbloss.KIND_DRFIG1

    has_hess = True

    def __init__(self):
        from scipy.interpolate import CubicSpline  # here, not at import (0.13 s)

        x, f2, f = _fig1_recipe()
        self._x_nodes, self._f2_nodes, self._f_nodes = x, f2, f
        sp = CubicSpline(x, f2, bc_type="natural")
        self._coef = np.ascontiguousarray(sp.c)               # (4, n-1), local power basis
        if not np.array_equal(self._coef[3], f2[:-1]):      # pragma: no cover - scipy guarantees this
            raise RuntimeError("spline constant coefficients differ from the samples")
        m = x.size - 1
        self._slope_lo = self._coef[2, 0]
        hl = x[-1] - x[-2]
        c = self._coef[:, -1]
        self._slope_hi = (3.0 * c[0] * hl + 2.0 * c[1]) * hl + c[2]
        self._ell = float(x[1] - x[0])                       # extension length scale: one native step
        f2pp = np.concatenate([2.0 * self._coef[1], [6.0 * c[0] * hl + 2.0 * c[1]]])
        # max |d^2/ds^2 ell tanh(s/ell)| = 4 / (3 sqrt 3) / ell
        ext_pp = 4.0 / (3.0 * math.sqrt(3.0)) / self._ell * max(abs(self._slope_lo), abs(self._slope_hi))
        lip = 2.0 + 6.0 * np.pi ** 2 + max(float(np.abs(f2pp).max()), ext_pp)
        nb = np.concatenate([[x.size], x, self._coef.ravel(), [f2[-1], self._ell]])
        assert nb.size == 1 + x.size + 4 * m + 2
        super().__init__(1, [(-3.0, 3.0)], {"seed": _FIG1_SEED, "n": _FIG1_N, "spline": "natural"}, lip, nb)

    def native_grid(self):
        """The 500 native nodes ``linspace(-3, 3, 500)``; shape (500,)."""
        return self._x_nodes.copy()

    def native_values(self):
        """The authors' ``f`` on :meth:`native_grid`, bit for bit; shape (500,)."""
        return self._f_nodes.copy()

    def _f2pp(self, x):
        """``f_2''`` (the Hessian's part; value and slope come from the compiled body)."""
        xn, c = self._x_nodes, self._coef
        m = xn.size - 1
        i = np.clip(np.searchsorted(xn, x, side="right") - 1, 0, m - 1)
        s = x - xn[i]
        ell = self._ell
        with np.errstate(over="ignore"):
            th_lo = np.tanh((x - xn[0]) / ell)
            th_hi = np.tanh((x - xn[-1]) / ell)
        inside = 6.0 * c[0, i] * s + 2.0 * c[1, i]
        left = -2.0 * self._slope_lo / ell * th_lo * (1.0 - th_lo ** 2)
        right = -2.0 * self._slope_hi / ell * th_hi * (1.0 - th_hi ** 2)
        return np.where(x < xn[0], left, np.where(x >= xn[-1], right, inside))

    def _hess(self, x):
        x0 = x[..., 0]
        return (2.0 - 6.0 * np.pi ** 2 * np.sin(2 * np.pi * x0) + self._f2pp(x0))[..., None, None]


# ----------------------------------------------------------------------------- Rastrigin
@register("rastrigin")
class Rastrigin(Loss):
    r"""``f(x) = sum_k [x_k^2 + A (1 - cos 2 pi x_k)] / scale`` (defaults ``A = 10``, ``scale = 1``, ``dim = 2``).

    Global minimum 0 at the origin, a local minimum near every integer point.
    ``lipschitz_grad = (2 + 4 pi^2 A) / scale``.  Box ``[-5.12, 5.12]^d``.
    """

    nb_kind = _nbloss.KIND_RASTRIGIN

    has_hess = True

    def __init__(self, dim=2, A=10.0, scale=1.0):
        d = _check_dim(dim)
        A = check_nonnegative("A", A)
        scale = _check_beta(scale, "scale")
        if math.isinf(scale):
            raise ValueError("`scale` must be finite.")
        self.A, self.scale = A, scale
        super().__init__(d, [(-5.12, 5.12)] * d, {"dim": d, "A": A, "scale": scale},
                         (2.0 + 4.0 * np.pi ** 2 * A) / scale, [d, A, scale])

    def _hess(self, x):
        return _diag_hess((2.0 + 4.0 * np.pi ** 2 * self.A * np.cos(2 * np.pi * x)) / self.scale)


# ----------------------------------------------------------------------------- cosine (Jiang-Peng)
@register("cosine")
class Cosine(Loss):
    r"""``f(x) = -sum_k cos(pi x_k)``, periodic on ``[-1, 1]^d`` (the Jiang-Peng / Osher-Shu benchmark).

    ``lipschitz_grad = pi^2``.  Exact Hopf-Lax ``u`` and prox for every ``t``
    (characteristics before the kink at ``t = 1/pi^2``, global search after it;
    :func:`solvers.reference.cosine_hopf_lax_u`); no viscous closed form.
    """

    nb_kind = _nbloss.KIND_COSINE

    periodic = True
    has_hess = True

    def __init__(self, dim=1):
        d = _check_dim(dim)
        super().__init__(d, [(-1.0, 1.0)] * d, {"dim": d}, np.pi ** 2, [d])

    def _hess(self, x):
        return _diag_hess(np.pi ** 2 * np.cos(np.pi * x))

    def _hl_only(self, beta):
        if not np.isinf(_check_beta(beta)):
            raise NotImplementedError(f"cosine has no closed-form viscous solution (beta = {beta}); only beta = inf.")

    def exact_u(self, x, t, beta=np.inf):
        self._hl_only(beta)
        return self._out(ref.cosine_hopf_lax_u(self._x(x), self._t(t)))

    def exact_grad(self, x, t, beta=np.inf):
        self._hl_only(beta)
        t = self._t(t)
        if t == 0:
            return self.grad(x)
        return ref.cosine_hopf_lax_grad(self._x(x), t)

    def exact_prox(self, x, t):
        return ref.cosine_hopf_lax_prox(self._x(x), self._t(t))


# ----------------------------------------------------------------------------- Gaussian mixture
@register("gaussian-mixture")
class GaussianMixture(Loss):
    r"""Negative log of a Gaussian mixture (paper-spec §4.4b): ``f = -log sum_i w_i N(x; m_i, s_i^2 I)``.

    Defaults (1-D): ``w = (0.2, 0.8)``, ``s = (0.05, 0.5)``, ``m = (-1, 1.5)`` (a sharp
    well at -1, a wide one at 1.5; well separated).  Exact viscous solution at
    ``beta = 1`` only (pass ``beta=1`` explicitly; the default ``beta = inf`` raises
    ``NotImplementedError``): ``u(x, t) = -log sum_i w_i N(x; m_i, (s_i^2 + t) I)``.
    The wide well overtakes the sharp one near ``t* ~ 0.014``.
    """

    nb_kind = _nbloss.KIND_GAUSSMIX

    has_hess = True

    def __init__(self, w=(0.2, 0.8), m=(-1.0, 1.5), s=(0.05, 0.5)):
        w, m, s = _well_params(w, m, s, "mixture", ("w", "m", "s"))
        self.w, self.m, self.s = w, m, s
        k, d = m.shape
        lo = (m - 4.0 * s.max()).min(0)
        hi = (m + 4.0 * s.max()).max(0)
        nb = np.concatenate([[d, k], w, m.ravel(), s, _loss_bodies.gaussmix_log_norms(w, s, int(d))])
        lip = 1.0 / s[0] ** 2 if k == 1 else None
        super().__init__(d, list(zip(np.floor(lo), np.ceil(hi))), {"w": w, "m": m, "s": s}, lip, nb)

    def _hess(self, x):
        var = self.s ** 2
        diff = x[..., None, :] - self.m
        sq = np.einsum("...kd,...kd->...k", diff, diff)
        w = _softmax(np.log(self.w) - 0.5 * self.dim * np.log(var) - sq / (2.0 * var))
        gi = diff / var[:, None]
        g = np.einsum("...k,...kd->...d", w, gi)
        second = np.einsum("...k,...kd,...ke->...de", w, gi, gi) - g[..., :, None] * g[..., None, :]
        return (w / var).sum(-1)[..., None, None] * np.eye(self.dim) - second

    def _beta1(self, beta):
        if _check_beta(beta) != 1.0:
            raise NotImplementedError(f"gaussian-mixture has a closed-form u only at beta = 1; got beta = {beta}.")

    def exact_u(self, x, t, beta=np.inf):
        self._beta1(beta)
        return self._out(_nbloss.value(self._widened(self._t(t)), self._x(x)))

    def exact_grad(self, x, t, beta=np.inf):
        self._beta1(beta)
        return _nbloss.grad(self._widened(self._t(t)), self._x(x))

    def _widened(self, t):
        """The mixture with variances ``s_i^2 + t`` (the exact ``u(., t)`` at beta = 1 is its value)."""
        return GaussianMixture(self.w, self.m, np.sqrt(self.s ** 2 + t))


