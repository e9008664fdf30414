"""Section 4 of :mod:`benchmarks.bench_hj`: the peers, each only if importable.

hj_reachability (its default ``SolverSettings()``) on the 2-D problem of section 2, with a float64 row
from a separate process (``python benchmarks/bench_hj.py --hjr-worker N REPEAT``: x64 is a start-up
flag of JAX); py-pde's adaptive Runge-Kutta on the viscous 1-D problem of section 3; and the
time-to-accuracy and same-run ratios against hj_reachability (:func:`peer_comparisons`).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._hj_common import _load, _timed_solve, cole_hopf_cos, hopf_lax_cos
from solvers.grid import Grid

#: hj_reachability numbers quoted by issue 8 (measured earlier on this machine, not in this run).
HJR_QUOTED = {"grid": 512, "wall_s": 12.0, "max_err": 6.4e-3, "scheme": "WENO5 + global LF + TVD-RK3"}
#: The script whose ``--hjr-worker`` runs the float64 hj_reachability row (:func:`_hjr_x64_subprocess`).
WORKER = Path(__file__).resolve().with_name("bench_hj.py")


def _pkg_version(name):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _exact_2d(n, t=1.0):
    """Nodes ``x_i = -1 + 2 i / n`` (float64), u0 and the exact Hopf-Lax solution of section 2."""
    x = -1.0 + 2.0 * np.arange(n) / n
    u1 = hopf_lax_cos(x, t)
    return x, -np.cos(np.pi * x)[:, None] - np.cos(np.pi * x)[None, :], u1[:, None] + u1[None, :]


def _hjr_rows(ns, t=1.0, repeat=3, sign_check=True):
    """hj_reachability on the section-2 problem: one row per grid (median of ``repeat`` after a compile run).

    The Hamiltonian ``H(p) = |p|^2 / 2`` is given to hj_reachability through a ``Dynamics``
    subclass that overrides ``hamiltonian`` and ``partial_max_magnitudes`` (``|dH/dp_i| = |p_i|``,
    maximised over the gradient box that its dissipation scheme passes in).  Its ``euler_step``
    integrates ``v_t = -H(grad v)`` plus the Lax-Friedrichs dissipation when the target time is
    after the start (``time_direction = +1``), so ``times = [0, t]`` with ``+H`` is our
    ``u_t = -1/2 |grad u|^2``.  Its reachability convention (``times = [0, -t]``, backward) solves
    ``v_s = +H`` in ``s = -time``; with ``-H`` that is the same problem, which ``sign_check`` verifies
    on the smallest grid.  Solver settings: ``SolverSettings()`` defaults, i.e. ``upwind_first.WENO5``,
    ``artificial_dissipation.global_lax_friedrichs``, TVD-RK3, ``CFL_number = 0.75``, identity
    post-processors; JAX's default precision (float32 unless ``JAX_ENABLE_X64`` is set).
    """
    import jax
    import jax.numpy as jnp
    import hj_reachability as hj

    class HalfSquare(hj.Dynamics):
        """``H(p) = sign * |p|^2 / 2`` for hj_reachability (no controls, no disturbances)."""

        def __init__(self, sign=1.0):
            self.sign = float(sign)
            super().__init__("min", "max", None, None)

        def __call__(self, state, control, disturbance, time):  # pragma: no cover - not used by solve
            raise NotImplementedError

        def optimal_control_and_disturbance(self, state, time, grad_value):  # pragma: no cover
            raise NotImplementedError

        def hamiltonian(self, state, time, value, grad_value):
            return self.sign * 0.5 * jnp.sum(grad_value ** 2)

        def partial_max_magnitudes(self, state, time, value, grad_value_box):
            return jnp.maximum(jnp.abs(grad_value_box.lo), jnp.abs(grad_value_box.hi))

    settings = hj.SolverSettings()
    rows, check = [], None
    for n in ns:
        x, u0, exact = _exact_2d(n, t)
        grid = hj.Grid.from_lattice_parameters_and_boundary_conditions(
            hj.sets.Box(np.array([-1.0, -1.0]), np.array([1.0, 1.0])), (n, n), periodic_dims=(0, 1))
        v0 = jnp.asarray(u0)
        dyn = HalfSquare(1.0)
        times = jnp.asarray([0.0, t], dtype=v0.dtype)

        def solve():
            return np.asarray(hj.solve(settings, dyn, grid, times, v0, progress_bar=False)[-1].block_until_ready())

        t0 = time.perf_counter()
        hj.solve.lower(settings, dyn, grid, times, v0, progress_bar=False).compile()  # trace + lower + XLA compile
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        v = solve()  # first call through jit (may compile again: the AOT and jit caches need not be shared)
        first = time.perf_counter() - t0
        walls = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            v = solve()
            walls.append(time.perf_counter() - t0)
        w = float(np.median(walls))
        err = np.abs(v.astype(np.float64) - exact)
        rows.append({"n": n, "wall_s": w, "walls": walls, "first_call_s": first, "compile_s": compile_s,
                     "max_err": float(err.max()), "mean_err": float(err.mean()), "dtype": str(v.dtype),
                     "load": _load()})
        print(f"  hj_reachability {n:4d}^2 {v.dtype}: {w:.3f} s (runs {[round(a, 2) for a in walls]}), first call "
              f"{first:.2f} s, max err {err.max():.2e}, mean err {err.mean():.2e}", flush=True)
        if sign_check and check is None:
            back = np.asarray(hj.solve(settings, HalfSquare(-1.0), grid, -times, v0, progress_bar=False)[-1])
            check = {"n": n, "max_abs_diff_forward_vs_backward": float(np.abs(back - v).max()),
                     "backward_max_err": float(np.abs(back.astype(np.float64) - exact).max())}
            print(f"  hj_reachability sign check {n}^2: backward form (-H, times [0, -t]) vs forward max |diff| "
                  f"{check['max_abs_diff_forward_vs_backward']:.2e}", flush=True)
    return rows, check, jax.__version__


def _hjr_x64_subprocess(n, repeat, timeout=1800):
    """The same hj_reachability run with ``JAX_ENABLE_X64=1`` in a fresh process (x64 is a start-up flag)."""
    import subprocess
    env = dict(os.environ, JAX_ENABLE_X64="1")
    cmd = [sys.executable, str(WORKER), "--hjr-worker", str(n), str(repeat)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except Exception as exc:  # noqa: BLE001 - optional extra row
        return {"n": n, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}


def bench_hj_reachability(ns=(128, 256, 512), t=1.0, repeat=3, x64=True):
    """hj_reachability (WENO5 + global LF + TVD-RK3, its defaults) on the section-2 problem, or a skip note."""
    try:
        import hj_reachability  # noqa: F401
        import jax  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken JAX install
        return {"skipped": True,
                "note": (f"SKIPPED: hj_reachability not importable ({type(exc).__name__}: {exc}); install the bench "
                         f"extra (hj_reachability, jax). Issue 8 quotes it at 512^2 to t=1: "
                         f"{HJR_QUOTED['wall_s']:g} s, max error {HJR_QUOTED['max_err']} (context only).")}
    load0 = _load()
    rows, check, jax_version = _hjr_rows(ns, t, repeat)
    big = max(rows, key=lambda r: r["n"])
    out = {"skipped": False, "version": _pkg_version("hj_reachability"), "jax_version": jax_version,
           "settings": "SolverSettings() defaults: upwind_first.WENO5, global_lax_friedrichs, TVD-RK3, CFL 0.75",
           "precision": big["dtype"] + " (JAX default)", "n": big["n"], "wall_s": big["wall_s"],
           "max_err": big["max_err"], "mean_err": big["mean_err"], "compile_s": big["compile_s"],
           "first_call_s": big["first_call_s"], "rows": rows, "sign_check": check, "load_start": load0}
    if x64:
        r = _hjr_x64_subprocess(big["n"], max(1, repeat - 2))
        out["x64"] = r
        if "error" not in r:
            print(f"  hj_reachability {r['n']}^2 float64 (JAX_ENABLE_X64=1): {r['wall_s']:.3f} s, "
                  f"max err {r['max_err']:.2e}", flush=True)
    out["load_end"] = _load()
    out["note"] = (f"same problem and nodes as section 2 (times [0, t] with +H: forward in time; the backward "
                   f"reachability form gives the same values, see sign_check); wall = median of {repeat} solves "
                   f"after a first (compiling) call, np.asarray of the final slice included; compile_s = "
                   f"hj.solve.lower(...).compile() timed on its own.")
    return out


def bench_pypde(n=1024, t=1.0, betas=(10.0, 100.0, math.inf), repeat=3, parallel=None):
    """py-pde's adaptive Runge-Kutta on the viscous 1-D problem of section 3, against ``solve_hj``.

    PDE: ``pde.PDE({"u": "-0.5 * gradient_squared(u) + nu * laplace(u)"})`` with ``nu = 1 / (2 beta)``
    (the Laplacian dropped for ``beta = inf``) on ``CartesianGrid([[-1, 1]], [n], periodic=True)``
    (cell centres), solved with ``solver="runge-kutta", adaptive=True`` (Runge-Kutta-Fehlberg 4(5),
    default tolerance 1e-4, dt floor 1e-10), no trackers, numba backend.  py-pde rebuilds and
    re-JITs its stepper in every ``solve`` call, so each row gives the end-to-end wall time and
    its own profiler's split into compilation and stepping (``wall_s`` = stepping only).
    """
    import warnings

    try:
        import pde
    except Exception as exc:  # noqa: BLE001
        return {"skipped": True, "note": f"SKIPPED: py-pde not importable ({type(exc).__name__}: {exc}); "
                                         "pip install py-pde."}
    pgrid = pde.CartesianGrid([[-1.0, 1.0]], [n], periodic=True)
    px = pgrid.axes_coords[0]
    g = Grid.uniform([(-1, 1)], n, periodic=True)
    x = g.axes[0]
    u0 = -np.cos(np.pi * x)
    cases, load0 = [], _load()
    for beta in betas:
        nu = 0.0 if math.isinf(beta) else 1.0 / (2.0 * beta)
        expr = "-0.5 * gradient_squared(u)" + ("" if nu == 0.0 else f" + {nu!r} * laplace(u)")
        eq = pde.PDE({"u": expr})
        ref_p = cole_hopf_cos(px, t, beta)
        case = {"beta": beta, "expression": expr, "runs": []}
        for k in range(repeat + 1):  # first run: numba compile of py-pde's operators (not cached on disk)
            field = pde.ScalarField(pgrid, -np.cos(np.pi * px))
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res, info = eq.solve(field, t_range=t, solver="runge-kutta", adaptive=True, tracker=None,
                                         ret_info=True)
            except Exception as exc:  # noqa: BLE001 - the failure is the result
                case["runs"].append({"wall_s": time.perf_counter() - t0, "error": f"{type(exc).__name__}: {exc}"})
                break
            w = time.perf_counter() - t0
            prof = info.get("controller", {}).get("profiler", {})
            st = info.get("solver", {})
            dts = st.get("dt_statistics") or {}
            dts = dts.to_dict() if hasattr(dts, "to_dict") else dts
            case["runs"].append({"wall_s": w, "stepping_s": float(prof.get("solver", float("nan"))),
                                 "compilation_s": float(prof.get("compilation", float("nan"))),
                                 "steps": int(st.get("steps", -1)), "dt_min": float(dts.get("min", float("nan"))),
                                 "dt_mean": float(dts.get("mean", float("nan"))),
                                 "max_err": float(np.abs(res.data - ref_p).max()),
                                 "finite": bool(np.isfinite(res.data).all())})
        err_runs = [r for r in case["runs"] if "error" in r]
        if err_runs:
            case["error"] = err_runs[0]["error"]
            case["wall_to_failure_s"] = err_runs[0]["wall_s"]
            # where did it stop?  The controller keeps the solver info (accepted steps, their dt statistics)
            # and the state, which the stepper updates in place at every accepted step.
            d = getattr(eq, "diagnostics", {}) or {}
            dts = (d.get("solver") or {}).get("dt_statistics") or {}
            if hasattr(dts, "to_dict"):  # an OnlineStatistics object when the run stopped with an error
                dts = dts.to_dict()
            if dts.get("count"):
                case["failure_accepted_steps"] = int(dts["count"])
                case["failure_t_reached"] = float(dts["count"] * dts["mean"])
                case["failure_dt_min"] = float(dts["min"])
            last = d.get("last_state")
            if last is not None:
                case["failure_state_finite"] = bool(np.isfinite(last.data).all())
                case["failure_state_max_abs"] = float(np.nanmax(np.abs(last.data)))
            # the same solve with a tracker every 0.01 (it splits the adaptive stepping into segments)
            field = pde.ScalarField(pgrid, -np.cos(np.pi * px))
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res, info = eq.solve(field, t_range=t, solver="runge-kutta", adaptive=True, ret_info=True,
                                         tracker=pde.CallbackTracker(lambda state: None, interrupts=0.01))
                dts = info.get("solver", {}).get("dt_statistics") or {}
                dts = dts.to_dict() if hasattr(dts, "to_dict") else dts
                case["with_tracker"] = {"completed": True, "wall_s": time.perf_counter() - t0,
                                        "max_err": float(np.abs(res.data - ref_p).max()),
                                        "finite": bool(np.isfinite(res.data).all()),
                                        "steps": int(info.get("solver", {}).get("steps", -1)),
                                        "dt_min": float(dts.get("min", float("nan")))}
            except Exception as exc:  # noqa: BLE001
                d = getattr(eq, "diagnostics", {}) or {}
                case["with_tracker"] = {"completed": False, "error": f"{type(exc).__name__}: {exc}",
                                        "t_reached_lower_bound": float(d.get("last_tracker_time", float("nan")))}
        timed = [r for r in case["runs"][1:] if "error" not in r]
        if timed:
            case.update({"wall_e2e_s": float(np.median([r["wall_s"] for r in timed])),
                         "stepping_s": float(np.median([r["stepping_s"] for r in timed])),
                         "compilation_per_solve_s": float(np.median([r["compilation_s"] for r in timed])),
                         "steps": timed[-1]["steps"], "dt_min": timed[-1]["dt_min"], "dt_mean": timed[-1]["dt_mean"],
                         "max_err": timed[-1]["max_err"], "finite": timed[-1]["finite"]})
        # ours, same problem, same N
        ref = cole_hopf_cos(x, t, beta)
        ours = {}
        for name in ("godunov", "eno2", "weno5"):
            wall, r = _timed_solve(u0, g, t, repeat, quiet=True, beta=beta, scheme=name, parallel=parallel)
            ours[name] = {"wall_s": wall, "n_steps": r.n_steps,
                          "max_err": float(np.abs(r.u - ref).max())}
        case["ours"] = ours
        pw = case.get("stepping_s")
        msg = (f"stepping {pw:.3f} s (end to end {case['wall_e2e_s']:.2f} s), steps {case['steps']}, max err "
               f"{case['max_err']:.2e}" if pw is not None else f"FAILED: {case.get('error')}")
        print(f"  py-pde beta={beta:<5g} {msg}; ours weno5 {ours['weno5']['wall_s']:.3f} s err "
              f"{ours['weno5']['max_err']:.2e}", flush=True)
        cases.append(case)
    main = next((c for c in cases if c["beta"] == 10.0 and "stepping_s" in c), None)
    out = {"skipped": False, "version": _pkg_version("py-pde"), "n": n, "t": t,
           "solver": "runge-kutta, adaptive=True (Runge-Kutta-Fehlberg 4(5), tolerance 1e-4, dt_min 1e-10)",
           "operator": "gradient_squared (central, py-pde default) + laplace, numba backend",
           "cases": cases, "load_start": load0, "load_end": _load(),
           "note": ("beta=10 case; wall_s = py-pde's own stepping time (profiler 'solver'), excluding the numba "
                    "compilation it repeats in every solve call (wall_e2e_s includes it); ours = solve_hj weno5, "
                    f"wall excluding compile, median of {repeat}.")}
    if main is None:
        out.update({"wall_s": None, "note": "py-pde failed at beta=10: " + str(cases[0].get("error")) if cases else
                    "no cases run"})
        return out
    ow = main["ours"]["weno5"]
    out.update({"beta": 10.0, "wall_s": main["stepping_s"], "wall_e2e_s": main["wall_e2e_s"],
                "compilation_per_solve_s": main["compilation_per_solve_s"], "max_err": main["max_err"],
                "steps": main["steps"], "ours_scheme": "weno5", "ours_wall_s": ow["wall_s"],
                "ours_max_err": ow["max_err"]})
    return out


def bench_peers(quick=False):
    """Both peers (each a dict; ``skipped`` with a note when the package is not importable)."""
    print("  hj_reachability ...", flush=True)
    hjr = bench_hj_reachability(ns=(64, 128) if quick else (128, 256, 512), repeat=1 if quick else 3,
                                x64=not quick)
    if hjr.get("skipped"):
        print("  " + hjr["note"], flush=True)
    print("  py-pde ...", flush=True)
    pp = bench_pypde(n=256 if quick else 1024, repeat=1 if quick else 3)
    if pp.get("skipped"):
        print("  " + pp["note"], flush=True)
    return {"hj_reachability": hjr, "py_pde": pp}


def time_to_accuracy(rows, target_err):
    """Fastest row (any scheme, any grid) with ``max_err <= target_err``, or None."""
    ok = [r for r in rows if r["max_err"] <= target_err]
    return dict(min(ok, key=lambda r: r["wall_s"]), target_err=target_err) if ok else None


def peer_comparisons(res):
    """Same-run ratios of section 2b / the time-to-accuracy sweep against hj_reachability."""
    peer = res.get("peers", {}).get("hj_reachability", {})
    if not isinstance(peer, dict) or peer.get("skipped", True):
        return None
    w = [r for r in res.get("weno512", []) if r.get("cfl") == 0.5 and r.get("n") == peer["n"]]
    out = {"peer_n": peer["n"], "peer_wall_s": peer["wall_s"], "peer_max_err": peer["max_err"]}
    if w:
        best = min(w, key=lambda r: r["wall_s"])
        out.update({"ours_weno5_mode": best["mode"], "ours_weno5_wall_s": best["wall_s"],
                    "ours_weno5_max_err": best["max_err"], "speedup": peer["wall_s"] / best["wall_s"],
                    "speed_target_met": peer["wall_s"] / best["wall_s"] >= 2.0,
                    "accuracy_target_met": best["max_err"] <= peer["max_err"]})
    tta = res.get("time_to_accuracy")
    if tta:
        out.update({"tta_scheme": tta["scheme"], "tta_n": tta["n"], "tta_wall_s": tta["wall_s"],
                    "tta_max_err": tta["max_err"], "tta_speedup": peer["wall_s"] / tta["wall_s"],
                    "tta_target_met": peer["wall_s"] / tta["wall_s"] >= 10.0})
    return out



def _finish_peers(res, sweep_rows, with_two_d):
    """Set ``time_to_accuracy`` (against the measured peer error when there is one) and ``peer_comparison``.

    Candidates: the small-grid sweep, plus the section-2 rows when they were measured in the same run
    (``with_two_d``).
    """
    peer = res["peers"].get("hj_reachability", {})
    measured = isinstance(peer, dict) and not peer.get("skipped", True)
    target = peer["max_err"] if measured else HJR_QUOTED["max_err"]
    res["tta_sweep"] = sweep_rows
    res["time_to_accuracy"] = time_to_accuracy(sweep_rows + (res.get("two_d", []) if with_two_d else []), target)
    res["time_to_accuracy_reference"] = (f"hj_reachability max error at {peer['n']}^2, measured in this run"
                                         if measured else "issue 8's quoted 6.4e-3 (hj_reachability not run)")
    res["peer_comparison"] = peer_comparisons(res)
