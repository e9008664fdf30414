"""Finite-difference schemes for ``u_t + 1/2 |grad u|^2 = nu Lap u`` (registry and NumPy twins).

A scheme is data: which one-sided derivative reconstruction it uses (first-order
differences, ENO2 or WENO5), which numerical Hamiltonian combines the two one-sided
derivatives, which explicit integrator advances it, the order of its central
Laplacian, and its declared formal order of accuracy.  The compiled kernels in
:mod:`solvers._hj_kernels` read these fields as integer codes; the functions in
this module are the short NumPy twins the kernels are tested against.

For ``H(p) = |p|^2 / 2`` every numerical Hamiltonian below is separable,
``H_hat = sum_k h(p_k^-, p_k^+)`` with ``p_k^-`` / ``p_k^+`` the left / right
one-sided derivatives along axis k:

=================  =====================================================================
``godunov``        ``h = 1/2 max(max(p^-, 0)^2, min(p^+, 0)^2)`` (closed-form Godunov)
``rouy_tourin``    ``h = 1/2 min(0, min(-p^-, p^+))^2 = 1/2 max(0, p^-, -p^+)^2``, the
                   upwind form of the Deep Relaxation figure script (paper-spec §4.1).
                   For this H it equals Godunov algebraically (numerics.md §A.2).
``lax_friedrichs`` ``h = 1/2 ((p^- + p^+)/2)^2 - alpha/2 (p^+ - p^-)`` with the local
                   ``alpha = max(|p^-|, |p^+|)`` (Osher-Shu local LF)
``engquist_osher`` ``h = 1/2 (max(p^-, 0)^2 + min(p^+, 0)^2)``
=================  =====================================================================

Derivatives (undivided differences ``D_i = u_i - u_{i-1}``, spacing h):

* ``first``: ``p^- = D_i / h``, ``p^+ = D_{i+1} / h``;
* ``eno2``: ``p^- = (D_i + 1/2 minmod_abs(Delta2_{i-1}, Delta2_i)) / h`` and
  ``p^+ = (D_{i+1} - 1/2 minmod_abs(Delta2_i, Delta2_{i+1})) / h`` with
  ``Delta2_i = u_{i+1} - 2 u_i + u_{i-1}`` (the smaller in magnitude is taken);
* ``weno5``: Jiang-Peng (2000) weighted ENO of the five divided differences
  around the node, weights ``(0.1, 0.6, 0.3)``, ``eps = 1e-6 max v^2 + 1e-99``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SchemeError

DERIV_CODES = {"first": 0, "eno2": 1, "weno5": 2}
HAM_CODES = {"godunov": 0, "rouy_tourin": 1, "lax_friedrichs": 2, "engquist_osher": 3}
GHOST = {"first": 1, "eno2": 2, "weno5": 3}
INTEGRATORS = ("euler", "rk3")


@dataclass(frozen=True)
class Scheme:
    """A finite-difference scheme for ``u_t + H(grad u) = nu Lap u``, ``H(p) = |p|^2/2``.

    Attributes
    ----------
    name : str
    order : int
        Declared formal order for smooth solutions (space and time together, with
        the time step scaled as the tests require: ``dt ~ h^(5/3)`` for WENO5).
    deriv : {"first", "eno2", "weno5"}
        One-sided derivative reconstruction.
    hamiltonian : {"godunov", "rouy_tourin", "lax_friedrichs", "engquist_osher"}
        Numerical Hamiltonian combining ``p^-`` and ``p^+`` per axis.
    integrator : {"euler", "rk3"}
        Forward Euler or the Shu-Osher TVD (SSP) Runge-Kutta 3.
    laplacian_order : {2, 4}
        Order of the central Laplacian used for the viscous term.
    description : str
    """

    name: str
    order: int
    deriv: str
    hamiltonian: str
    integrator: str
    laplacian_order: int
    description: str = ""

    def __post_init__(self):
        if self.deriv not in DERIV_CODES:
            raise SchemeError(f"`deriv` must be one of {sorted(DERIV_CODES)}; got {self.deriv!r}.")
        if self.hamiltonian not in HAM_CODES:
            raise SchemeError(f"`hamiltonian` must be one of {sorted(HAM_CODES)}; got {self.hamiltonian!r}.")
        if self.integrator not in INTEGRATORS:
            raise SchemeError(f"`integrator` must be one of {list(INTEGRATORS)}; got {self.integrator!r}.")
        lap = 4 if self.deriv == "weno5" else 2
        if self.laplacian_order != lap:
            raise SchemeError(f"`laplacian_order` must be {lap} for deriv={self.deriv!r} (the compiled kernels "
                              f"pair WENO5 with the 5-point Laplacian and the others with the 3-point one); "
                              f"got {self.laplacian_order!r}.")

    @property
    def ghost(self) -> int:
        """Ghost-cell width the stencil needs on each side."""
        return max(GHOST[self.deriv], self.laplacian_order // 2)

    @property
    def deriv_code(self) -> int:
        return DERIV_CODES[self.deriv]

    @property
    def ham_code(self) -> int:
        return HAM_CODES[self.hamiltonian]

    @property
    def n_stages(self) -> int:
        return 1 if self.integrator == "euler" else 3

    @property
    def diffusion_factor(self) -> float:
        """Spectral radius of the 1-D Laplacian in units of ``4/h^2`` (1 or 4/3)."""
        return 1.0 if self.laplacian_order == 2 else 4.0 / 3.0


#: Registry of named schemes (name -> :class:`Scheme`).
SCHEMES: dict = {
    "lax_friedrichs": Scheme("lax_friedrichs", 1, "first", "lax_friedrichs", "euler", 2,
                             "local Lax-Friedrichs, first-order differences, forward Euler"),
    "godunov": Scheme("godunov", 1, "first", "godunov", "euler", 2,
                      "closed-form Godunov Hamiltonian, first-order differences, forward Euler"),
    "rouy_tourin": Scheme("rouy_tourin", 1, "first", "rouy_tourin", "euler", 2,
                          "Rouy-Tourin upwind max(0, D-u, -D+u)^2 (Deep Relaxation Fig. 1), forward Euler"),
    "engquist_osher": Scheme("engquist_osher", 1, "first", "engquist_osher", "euler", 2,
                             "Engquist-Osher Hamiltonian, first-order differences, forward Euler"),
    "eno2": Scheme("eno2", 2, "eno2", "godunov", "rk3", 2,
                   "ENO2 derivatives, Godunov Hamiltonian, TVD-RK3"),
    "weno5": Scheme("weno5", 5, "weno5", "godunov", "rk3", 4,
                    "WENO5 (Jiang-Peng) derivatives, Godunov Hamiltonian, TVD-RK3, 4th-order Laplacian"),
}


def get_scheme(scheme) -> Scheme:
    """Return the :class:`Scheme` for a registry name or a :class:`Scheme` instance.

    Raises
    ------
    SchemeError
        For an unknown name; the message lists the valid names.
    """
    if isinstance(scheme, Scheme):
        return scheme
    if isinstance(scheme, str) and scheme.lower() in SCHEMES:
        return SCHEMES[scheme.lower()]
    raise SchemeError(f"`scheme` must be one of {sorted(SCHEMES)} or a solvers.schemes.Scheme; "
                      f"got {scheme!r}.")


# ---------------------------------------------------------------------------------------------
# NumPy twins (reference implementations of the compiled kernels; also used for the final grad)
# ---------------------------------------------------------------------------------------------
def _shift(V: np.ndarray, g: int, axis: int, s: int) -> np.ndarray:
    """Interior block of the ghost-padded ``V`` shifted by ``s`` cells along ``axis``."""
    sl = [slice(g, V.shape[k] - g) for k in range(V.ndim)]
    sl[axis] = slice(g + s, V.shape[axis] - g + s)
    return V[tuple(sl)]


def _weno(v1, v2, v3, v4, v5):
    """Jiang-Peng WENO5 combination of five divided differences (numerics.md §A.2)."""
    phi1 = v1 / 3.0 - 7.0 * v2 / 6.0 + 11.0 * v3 / 6.0
    phi2 = -v2 / 6.0 + 5.0 * v3 / 6.0 + v4 / 3.0
    phi3 = v3 / 3.0 + 5.0 * v4 / 6.0 - v5 / 6.0
    s1 = 13.0 / 12.0 * (v1 - 2.0 * v2 + v3) ** 2 + 0.25 * (v1 - 4.0 * v2 + 3.0 * v3) ** 2
    s2 = 13.0 / 12.0 * (v2 - 2.0 * v3 + v4) ** 2 + 0.25 * (v2 - v4) ** 2
    s3 = 13.0 / 12.0 * (v3 - 2.0 * v4 + v5) ** 2 + 0.25 * (3.0 * v3 - 4.0 * v4 + v5) ** 2
    vmax = np.maximum(np.maximum(np.maximum(v1 * v1, v2 * v2), np.maximum(v3 * v3, v4 * v4)), v5 * v5)
    eps = 1e-6 * vmax + 1e-99
    a1 = 0.1 / (s1 + eps) ** 2
    a2 = 0.6 / (s2 + eps) ** 2
    a3 = 0.3 / (s3 + eps) ** 2
    return (a1 * phi1 + a2 * phi2 + a3 * phi3) / (a1 + a2 + a3)


def _minabs(a, b):
    return np.where(np.abs(a) <= np.abs(b), a, b)


def one_sided(V: np.ndarray, g: int, axis: int, h: float, deriv: str):
    """Left and right derivatives ``(p^-, p^+)`` along ``axis`` on the interior of padded ``V``.

    Parameters
    ----------
    V : ndarray, shape ``interior + 2 g`` per axis (ghost cells filled)
    g : int, ghost width (at least the stencil's)
    axis : int
    h : float, spacing along ``axis``
    deriv : {"first", "eno2", "weno5"}

    Returns
    -------
    pm, pp : ndarray, interior shape
    """
    u = lambda s: _shift(V, g, axis, s)  # noqa: E731
    ih = 1.0 / h
    if deriv == "first":
        c = u(0)
        return (c - u(-1)) * ih, (u(1) - c) * ih
    if deriv == "eno2":
        um2, um1, c, up1, up2 = u(-2), u(-1), u(0), u(1), u(2)
        a = um2 - 2.0 * um1 + c
        b = um1 - 2.0 * c + up1
        cc = c - 2.0 * up1 + up2
        pm = ((c - um1) + 0.5 * _minabs(a, b)) * ih
        pp = ((up1 - c) - 0.5 * _minabs(b, cc)) * ih
        return pm, pp
    if deriv == "weno5":
        d = [(u(s) - u(s - 1)) * ih for s in range(-2, 4)]  # D^- u at i-2 .. i+3
        pm = _weno(d[0], d[1], d[2], d[3], d[4])
        pp = _weno(d[5], d[4], d[3], d[2], d[1])
        return pm, pp
    raise SchemeError(f"`deriv` must be one of {sorted(DERIV_CODES)}; got {deriv!r}.")


def numerical_hamiltonian(pm, pp, hamiltonian: str):
    """Per-axis numerical Hamiltonian ``h(p^-, p^+)`` for ``H(p) = p^2 / 2`` (see module doc)."""
    if hamiltonian == "godunov":
        a = np.maximum(pm, 0.0)
        b = np.minimum(pp, 0.0)
        return 0.5 * np.maximum(a * a, b * b)
    if hamiltonian == "rouy_tourin":
        q = np.minimum(0.0, np.minimum(-pm, pp))
        return 0.5 * q * q
    if hamiltonian == "lax_friedrichs":
        alpha = np.maximum(np.abs(pm), np.abs(pp))
        s = 0.5 * (pm + pp)
        return 0.5 * s * s - 0.5 * alpha * (pp - pm)
    if hamiltonian == "engquist_osher":
        a = np.maximum(pm, 0.0)
        b = np.minimum(pp, 0.0)
        return 0.5 * (a * a + b * b)
    raise SchemeError(f"`hamiltonian` must be one of {sorted(HAM_CODES)}; got {hamiltonian!r}.")


def upwind_select(pm, pp):
    """Godunov-selected derivative: the one-sided derivative that attains the Godunov H.

    ``max(p^-, 0)`` if ``max(p^-, 0)^2 >= min(p^+, 0)^2``, else ``min(p^+, 0)``; 0 at
    expansion points (``p^- <= 0 <= p^+``).
    """
    a = np.maximum(pm, 0.0)
    b = np.minimum(pp, 0.0)
    return np.where(a * a >= b * b, a, b)


def laplacian_axis(V: np.ndarray, g: int, axis: int, h: float, order: int):
    """Central second difference along ``axis``: 3-point (order 2) or 5-point (order 4)."""
    u = lambda s: _shift(V, g, axis, s)  # noqa: E731
    if order == 2:
        return (u(-1) - 2.0 * u(0) + u(1)) / (h * h)
    return (-u(-2) + 16.0 * u(-1) - 30.0 * u(0) + 16.0 * u(1) - u(2)) / (12.0 * h * h)


def rhs_numpy(V: np.ndarray, g: int, spacing, scheme: Scheme, nu: float) -> np.ndarray:
    """NumPy twin of the kernels' right-hand side ``L(u) = -H_hat(p^-, p^+) + nu Lap u``.

    Parameters
    ----------
    V : ndarray, ghost-padded state (ghosts filled), ``ndim = d``
    g : int, ghost width of ``V``
    spacing : sequence of d floats
    scheme : Scheme
    nu : float, viscosity ``1/(2 beta)`` (0 for the inviscid or split-diffusion step)

    Returns
    -------
    ndarray, interior shape
    """
    scheme = get_scheme(scheme)
    out = np.zeros(tuple(n - 2 * g for n in V.shape))
    for k, h in enumerate(spacing):
        pm, pp = one_sided(V, g, k, h, scheme.deriv)
        out -= numerical_hamiltonian(pm, pp, scheme.hamiltonian)
    if nu != 0.0:
        for k, h in enumerate(spacing):
            out += nu * laplacian_axis(V, g, k, h, scheme.laplacian_order)
    return out


def stage_numpy(V, W, a, b, dt, g, spacing, scheme, nu) -> np.ndarray:
    """NumPy twin of one Runge-Kutta stage: ``a W + b (V + dt L(V))`` on the interior.

    With ``a = 0`` the term ``a W`` is dropped (forward Euler / first RK3 stage).
    """
    val = _shift(V, g, 0, 0) + dt * rhs_numpy(V, g, spacing, scheme, nu)
    if a != 0.0:
        return a * _shift(W, g, 0, 0) + b * val
    return b * val


def max_slopes_numpy(V: np.ndarray, g: int, spacing) -> np.ndarray:
    """Per-axis ``max |D^+- u|`` over the interior (first-order differences), shape (d,)."""
    out = np.empty(len(spacing))
    for k, h in enumerate(spacing):
        c = _shift(V, g, k, 0)
        dm = np.abs(c - _shift(V, g, k, -1)) / h
        dp = np.abs(_shift(V, g, k, 1) - c) / h
        out[k] = max(dm.max(), dp.max())
    return out


def upwind_gradient(V: np.ndarray, g: int, spacing, scheme: Scheme) -> np.ndarray:
    """Godunov-selected gradient with the scheme's one-sided derivatives, shape interior + (d,)."""
    scheme = get_scheme(scheme)
    comps = []
    for k, h in enumerate(spacing):
        pm, pp = one_sided(V, g, k, h, scheme.deriv)
        comps.append(upwind_select(pm, pp))
    return np.stack(comps, axis=-1)
