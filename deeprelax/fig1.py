r"""Deep Relaxation Fig. 1, recomputed (paper-spec §2.9, §4.1, §7 item 11).

The recipe
----------
* Landscape ``f = x^2 + 1.5 sin(2 pi x) + f_2`` (``losses.get("dr-fig1")``) on its
  native grid ``linspace(-3, 3, 500)``.
* Viscous HJ ``u_t = -1/2 u_x^2 + 1/(2 beta) u_xx`` with ``beta = 1`` to ``T = 0.2``;
  non-viscous HJ (``beta = inf``) to ``T = 0.1``.  Snapshots at the 11 times
  ``tau_j = j T / 10`` (``tau_0 = 0`` is ``f``).
* Initial density ``r0 ~ exp(-(x - 2.5)^2 / 0.02) 1{|x - 2.5| <= 3 sqrt(0.02)}``.
* Fokker-Planck ``r_s = (r u_x)_x + nu r_xx`` for ``s in [0, 10]`` driven by the
  *time-reversed* HJ solution ``u(., T (1 - s / 10))``: the snapshots are
  replayed from ``u(., T)`` back to ``u(., 0) = f`` with linear interpolation in
  time (one segment of FP time 1 per snapshot interval).  ``nu = 0.1`` for the
  two HJ flows; the SGD baseline uses ``u = f`` and ``nu = 0.2``.  In the
  notation of :func:`solvers.fokker_planck.solve_fokker_planck` the FP
  inverse temperature is ``1 / nu``.

Each HJ flow is computed four ways: exactly (Cole-Hopf quadrature / Hopf-Lax
minimisation, the whole-space solution of the callable loss; each snapshot is
one more exact call) and with the finite-difference solver using the scheme of
the paper (``rouy_tourin``, first order) and ``weno5``.  The FD solvers are
given the same callable loss with domain padding, so all three approximate the
same whole-space problem; the differences reported are discretisation errors.
``paper_script`` is the authors' own scheme transcribed (:func:`paper_script_hj`): explicit
Euler, Rouy-Tourin upwinding, central Laplacian, Neumann boundaries by edge copy, their time
step, on the native samples of ``[-3, 3]`` only (so near the walls it differs from the
whole-space solution by a boundary effect, not only by discretisation error).

The paper's claim is that the SGD terminal density stays in the basin around
x = 2.5 while both relaxed flows carry the mass to the global minimum near 0.
What the authors' recipe gives (asserted by ``tests/deeprelax/test_fig1.py``, the same for
every HJ method, including their own scheme):

* SGD: all the mass stays in ``TRAPPED_BASIN`` (mode 2.51);
* viscous (t = 0.2, beta = 1): 74 % in ``GLOBAL_BASIN`` (mode -0.31), the rest in
  the neighbouring well;
* non-viscous (t = 0.1): 99.6 % in ``NEIGHBOUR_BASIN``, the well of g at 0.727
  (mode 0.74, mean 0.73), and only 0.4 % in the global basin.  At t = 0.1 the
  Hopf-Lax u keeps that well as a local minimum (no viscosity to erase it), and
  the FP flow at nu = 0.1 that replays u back to f settles there.  The figure's
  message holds for the viscous flow; the non-viscous one escapes the trap but
  stops one well short of the global minimum.

Basins
------
The noise ``f_2`` has amplitude ~1 and makes many shallow local minima; the
basins used for the mass bookkeeping are those of the smooth part
``g = x^2 + 1.5 sin(2 pi x)`` (its local maxima are the separatrices of the
coarse landscape the densities feel at FP temperatures nu = 0.1 .. 0.2):

* ``TRAPPED_BASIN = (1.29, 3.0)``: from the maximum of ``g`` at x = 1.293 to the
  wall.  It holds the start (``r0`` lives on ``[2.08, 2.92]``) and the two
  minima of ``g`` at 1.69 and 2.65 that a gradient flow started there can reach
  before crossing the barrier of height ~3 at 1.29.
* ``GLOBAL_BASIN = (-0.78, 0.26)``: between the maxima of ``g`` at -0.776 and
  0.259; it contains ``argmin f = -0.162`` and the minimum of ``g`` at -0.246.
* ``NEIGHBOUR_BASIN = (0.26, 1.29)``: between the maxima of ``g`` at 0.259 and
  1.293, around the second-lowest well of ``g`` at 0.727.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from solvers.grid import Grid
from solvers.result import Result, register_result

__all__ = ["Fig1Result", "run_fig1", "paper_script_hj", "initial_density", "TRAPPED_BASIN", "GLOBAL_BASIN",
           "NEIGHBOUR_BASIN", "FLOWS", "METHODS", "basin_mass"]

#: Region of the local minimum near x = 2.5 where SGD stays (module docstring).
TRAPPED_BASIN = (1.29, 3.0)
#: Basin of the global minimum near 0 (module docstring).
GLOBAL_BASIN = (-0.78, 0.26)
#: Basin of the neighbouring well of g at 0.727, where the non-viscous density ends (module docstring).
NEIGHBOUR_BASIN = (0.26, 1.29)
#: The two relaxed flows: name -> (HJ final time T, HJ beta, FP nu).
FLOWS = {"viscous": (0.2, 1.0, 0.1), "nonviscous": (0.1, np.inf, 0.1)}
#: SGD baseline: u = f, FP nu.
SGD_NU = 0.2
#: HJ solution methods compared.
METHODS = ("exact", "rouy_tourin", "weno5", "paper_script")
T_FP = 10.0
N_SNAPSHOTS = 10


@register_result
@dataclass(frozen=True, repr=False)
class Fig1Result(Result):
    """The recomputed DR Fig. 1.

    Attributes
    ----------
    x, f, r0 : ndarray, shape (n,)
        Native grid, landscape and initial density (unit mass).
    grid : Grid
    taus : dict
        ``flow -> ndarray (m,)`` HJ snapshot times ``j T / 10``.
    u : dict
        ``"<method>_<flow>" -> ndarray (m, n)`` HJ snapshots at ``taus[flow]``
        (``u[..., 0] = f``).
    rho : dict
        ``"<method>_<flow>" -> ndarray (n,)`` terminal FP densities at s = 10, plus
        ``"sgd"``.
    masses : dict
        ``"<key>" -> [mass in TRAPPED_BASIN, mass in GLOBAL_BASIN, mean position]``.
    diffs : dict
        ``"<method>_<flow>" -> [max|u - u_exact| at T over the grid, over |x| <= 2.5,
        max|rho - rho_exact|]`` for the FD methods.
    timings : dict
        Seconds per stage (HJ solve per method/flow, FP per run).
    params : dict
    wall_time : float
    """

    x: np.ndarray
    f: np.ndarray
    r0: np.ndarray
    grid: Grid
    taus: dict
    u: dict
    rho: dict
    masses: dict
    diffs: dict
    timings: dict
    wall_time: float = 0.0
    params: dict = field(default_factory=dict)


def initial_density(x: np.ndarray, centre: float = 2.5, var: float = 0.02) -> np.ndarray:
    """``r0 ~ exp(-(x - c)^2 / var)`` truncated at ``|x - c| <= 3 sqrt(var)``, unit mass on the grid."""
    r = np.exp(-(x - centre) ** 2 / var) * (np.abs(x - centre) <= 3 * np.sqrt(var))
    return r / (r.sum() * (x[1] - x[0]))


def basin_mass(x: np.ndarray, rho: np.ndarray, basin) -> float:
    """Mass of ``rho`` (density on the uniform grid ``x``) in the closed interval ``basin``."""
    m = (x >= basin[0]) & (x <= basin[1])
    return float(rho[m].sum() * (x[1] - x[0]))


def paper_script_hj(f: np.ndarray, dx: float, T: float, a0: float, a1: float, n_snap: int = N_SNAPSHOTS):
    r"""The DR Fig. 1 script's HJ solver (paper-spec §4.1), vectorised NumPy.

    ``u_t = -(a1/2) max(0, D^- u, -D^+ u)^2 + (a0/2) (u_{i+1} + u_{i-1} - 2 u_i)/dx^2`` by explicit
    Euler with Neumann boundaries (edge copy) and the script's step
    ``dt = 1/2 min(dx^2 / (max u0 a1), 0.5 dx^2 / a0, 0.001)`` (shortened so that the
    ``n_snap`` equally spaced snapshot times ``j T / n_snap`` are hit exactly).

    Parameters
    ----------
    f : ndarray, shape (n,)
    dx, T : float
    a0, a1 : float
        Viscous (1, 1) or non-viscous (0, 1) as in the script.

    Returns
    -------
    ndarray, shape (n_snap + 1, n): ``u`` at ``j T / n_snap``, ``j = 0..n_snap``.
    """
    with np.errstate(divide="ignore"):
        dt = 0.5 * min(dx * dx / (np.max(f) * a1) if a1 > 0 else np.inf,
                       0.5 * dx * dx / a0 if a0 > 0 else np.inf, 1e-3)
    seg = T / n_snap
    k = int(np.ceil(seg / dt))
    dt = seg / k
    u = np.array(f, dtype=float)
    out = [u.copy()]
    for _ in range(n_snap):
        for _ in range(k):
            up = np.concatenate([u[:1], u, u[-1:]])
            dm = up[:-2] - u                    # u_{i-1} - u_i
            dp = up[2:] - u                     # u_{i+1} - u_i
            grad2 = (np.minimum(0.0, np.minimum(dm, dp)) / dx) ** 2
            u = u + dt * (-0.5 * a1 * grad2 + 0.5 * a0 * (dm + dp) / (dx * dx))
        if not np.all(np.isfinite(u)):  # pragma: no cover
            raise FloatingPointError("paper_script_hj went non-finite")
        out.append(u.copy())
    return np.array(out)


def _hj_snapshots(method, loss, grid, T, beta, taus):
    """HJ snapshots at ``taus``, shape (len(taus), n)."""
    from solvers.cole_hopf import cole_hopf
    from solvers.hj import solve_hj
    from solvers.hopf_lax import hopf_lax

    f = grid.sample(loss)
    if method == "exact":
        out = [f]
        for tau in taus[1:]:
            r = cole_hopf(loss, grid, tau, beta) if np.isfinite(beta) else hopf_lax(loss, grid, tau)
            out.append(np.asarray(r.u))
        return np.array(out)
    if method == "paper_script":
        a0 = 1.0 / beta if np.isfinite(beta) else 0.0
        return paper_script_hj(f, grid.spacing[0], T, a0, 1.0, len(taus) - 1)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # viscous length below dx is expected only at tiny tau
        r = solve_hj(loss, grid, T, beta=beta, scheme=method, save_at=list(taus), parallel=False)
    return np.asarray(r.us)


def _time_reversed_potential(us: np.ndarray, taus: np.ndarray, T: float, t_fp: float):
    """Potential ``(x, s) -> u(., T (1 - s / t_fp))`` by linear interpolation between snapshots."""
    def potential(x, s):
        tau = min(max(T * (1.0 - s / t_fp), 0.0), T)
        j = min(int(np.searchsorted(taus, tau, side="right")) - 1, len(taus) - 2)
        w = (tau - taus[j]) / (taus[j + 1] - taus[j])
        return (1.0 - w) * us[j] + w * us[j + 1]
    return potential


def _fp(r0, grid, potential, nu, t_fp, dt, time_dependent):
    from solvers.fokker_planck import solve_fokker_planck

    r = solve_fokker_planck(r0, grid, t_fp, potential=potential, beta=1.0 / nu, method="crank_nicolson",
                            dt=dt, time_dependent=time_dependent, kl_reference=False)
    rho = np.asarray(r.rho)
    return rho / (rho.sum() * grid.cell_volume)      # the recipe renormalises at the end


def run_fig1(out: str | Path | None = None, *, methods=METHODS, n: int | None = None, t_fp: float = T_FP,
             fp_dt: float = 0.01, progress: bool = False) -> Fig1Result:
    """Recompute DR Fig. 1 (module docstring) and optionally save it.

    Parameters
    ----------
    out : path, optional
        Directory; writes ``out/fig1.h5`` when given.
    methods : sequence of {"exact", "rouy_tourin", "weno5", "paper_script"}
        HJ solution methods; "exact" is always included (it is the reference).
    n : int, optional
        Grid size; default the native 500 points (other sizes sample the spline
        extension of the loss, for tests).
    t_fp : float
        Total Fokker-Planck time (paper: 10).
    fp_dt : float
        Crank-Nicolson step of the FP solves.

    Returns
    -------
    Fig1Result
    """
    from deeprelax import losses

    t0 = time.perf_counter()
    loss = losses.get("dr-fig1")
    methods = ["exact"] + [m for m in methods if m != "exact"]
    if n is None:
        x = loss.native_grid()
        grid = Grid.uniform([(-3.0, 3.0)], (x.size,))
        if not np.allclose(grid.axes[0], x, rtol=0, atol=1e-12):  # pragma: no cover
            raise RuntimeError("native grid mismatch")
        f = loss.native_values()
    else:
        grid = Grid.uniform([(-3.0, 3.0)], (int(n),))
        x = grid.axes[0]
        f = grid.sample(loss)
    r0 = initial_density(x)
    taus, u, rho, timings, masses, diffs = {}, {}, {}, {}, {}, {}
    for flow, (T, beta, nu) in FLOWS.items():
        taus[flow] = np.linspace(0.0, T, N_SNAPSHOTS + 1)
        for m in methods:
            key = f"{m}_{flow}"
            ts = time.perf_counter()
            us = _hj_snapshots(m, loss, grid, T, beta, taus[flow])
            us[0] = f
            u[key] = us
            timings[f"hj_{key}"] = time.perf_counter() - ts
            if progress:
                print(f"  HJ {key}: {timings['hj_' + key]:.2f} s", flush=True)
            ts = time.perf_counter()
            rho[key] = _fp(r0, grid, _time_reversed_potential(us, taus[flow], T, t_fp), nu, t_fp, fp_dt, True)
            timings[f"fp_{key}"] = time.perf_counter() - ts
    ts = time.perf_counter()
    rho["sgd"] = _fp(r0, grid, f, SGD_NU, t_fp, fp_dt, False)
    timings["fp_sgd"] = time.perf_counter() - ts
    for key, r in rho.items():
        masses[key] = np.array([basin_mass(x, r, TRAPPED_BASIN), basin_mass(x, r, GLOBAL_BASIN),
                                float(np.sum(x * r) * (x[1] - x[0]))])
    inner = np.abs(x) <= 2.5
    for flow in FLOWS:
        ref_u, ref_r = u[f"exact_{flow}"][-1], rho[f"exact_{flow}"]
        for m in methods[1:]:
            key = f"{m}_{flow}"
            d = np.abs(u[key][-1] - ref_u)
            diffs[key] = np.array([d.max(), d[inner].max(), np.abs(rho[key] - ref_r).max()])
    params = {"t_fp": float(t_fp), "fp_dt": float(fp_dt), "fp_method": "crank_nicolson", "sgd_nu": SGD_NU,
              "flows": {k: [float(v) for v in val] for k, val in FLOWS.items()},
              "trapped_basin": list(TRAPPED_BASIN), "global_basin": list(GLOBAL_BASIN),
              "methods": list(methods), "n": int(x.size), "r0": "exp(-(x-2.5)^2/0.02), |x-2.5|<=3 sqrt(0.02)"}
    res = Fig1Result(x=np.asarray(x, float), f=np.asarray(f, float), r0=r0, grid=grid, taus=taus, u=u, rho=rho,
                     masses=masses, diffs=diffs, timings=timings, wall_time=time.perf_counter() - t0,
                     params=params)
    if out is not None:
        from deeprelax.io import save
        save(res, Path(out) / "fig1.h5")
    return res
