"""The report of :mod:`benchmarks.bench_hj`: its markdown tables, the error-vs-wall-time plot, the writing.

:func:`_md` renders the whole ``hj.md`` from the results dict (``hj.json``); :func:`write_results`
writes ``hj[_quick].json|png|md`` into a folder.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks._common import write_tables
from benchmarks._hj_peers import HJR_QUOTED
from solvers.views import save_figure


def _md(res):
    L = ["# solve_hj benchmarks (issue 8)", "",
         f"Machine: {res['machine']}. {res['note']} Kernels in sections 2-3: parallel={res['parallel']}. "
         f"Sections 1-3 run {res['date']}"
         + (f"; section 2b, the time-to-accuracy sweep and the peers (section 4) run {res['peers_date']}"
            if res.get("peers_date") and res.get("peers_date") != res["date"] else "") + ".", ""]
    gs = res["godunov_step"]
    L += [f"## 1. Godunov explicit step, periodic {gs['n']}^2 (compile/cache load {gs['compile_s']:.2f} s, excluded)",
          "", "| mode | kernel | wall / step (ms) | Gcell/s | vs stencil (wall) | vs stencil (CPU time) |",
          "|---|---|---|---|---|---|"]
    for mode, rows in gs["modes"].items():
        for name, v in rows.items():
            rc = "" if not np.isfinite(v["ratio_cpu"]) else f"{100 * v['ratio_cpu']:.0f} %"
            L.append(f"| {mode} | {name} | {1e3 * v['wall_s']:.2f} | {v['gcells_per_s']:.3f} | "
                     f"{100 * v['ratio_wall']:.0f} % | {rc} |")
    L += ["", "Target: Godunov step >= 50 % of the same-run 5-point stencil sweep. The step kernel also returns "
          "the CFL slopes max|D u| of its input (fused, no extra pass over memory). Threaded rows wait for a "
          "scheduler time slice when other jobs load the machine; compare serial rows there.", ""]
    L += ["## 2. 2-D non-viscous, u0 = -cos(pi x) - cos(pi y), periodic [-1,1)^2, t = 1 (kinked)", "",
          "Error against the exact Hopf-Lax solution (separable 1-D brute force + Newton).", "",
          "| scheme | grid | wall (s) | steps | max error | mean error | cell-stage updates/s |",
          "|---|---|---|---|---|---|---|"]
    for r in res["two_d"]:
        L.append(f"| {r['scheme']} | {r['n']}^2 | {r['wall_s']:.3f} | {r['n_steps']} | {r['max_err']:.2e} | "
                 f"{r['mean_err']:.2e} | {r['cell_updates_per_s']:.3g} |")
    if res.get("weno512"):
        L += ["", f"### 2b. WENO5 at 512^2 to t = 1, serial and threaded (median of the runs listed; "
              f"run {res.get('weno512_date', res['date'])})", "",
              "| mode | cfl | wall (s) | runs (s) | CPU (s) | steps | max error | cell-stage updates/s |",
              "|---|---|---|---|---|---|---|---|"]
        for r in res["weno512"]:
            L.append(f"| {r['mode']} | {r['cfl']} | {r['wall_s']:.2f} | {', '.join(f'{v:.2f}' for v in r['walls'])} | "
                     f"{r['cpu_s']:.2f} | {r['n_steps']} | {r['max_err']:.2e} | {r['cell_updates_per_s']:.3g} |")
        L += ["", "The threaded rows use both cores; on a machine shared with other jobs they wait for time slices "
              "(compare CPU time)."]
    if res.get("tta_sweep"):
        L += ["", f"### 2c. Small grids for time to accuracy (same run as section 4; median of the runs)", "",
              "| scheme | grid | wall (s) | steps | max error |", "|---|---|---|---|---|"]
        for r in res["tta_sweep"]:
            L.append(f"| {r['scheme']} | {r['n']}^2 | {r['wall_s']:.4f} | {r['n_steps']} | {r['max_err']:.2e} |")
    L += ["", "Here the kinks are concave (where characteristics meet) and upwind (Godunov) schemes only read "
          "smooth data on each side of them, which is why the high-order errors stay spectral-like; a global "
          "Lax-Friedrichs flux (hj_reachability's default) smears them instead.", "",
          "![error vs wall time](hj.png)", ""]
    L += ["## 3. Viscous 1-D, u0 = -cos(pi x), periodic, N = 1024, t = 1", "",
          "Error against Cole-Hopf (log-domain quadrature; Hopf-Lax for beta = inf). `split` counts the "
          "steps that used the exact heat-semigroup splitting.", "",
          "| beta | scheme | wall (s) | steps | split | max error |", "|---|---|---|---|---|---|"]
    for r in res["viscous"]:
        L.append(f"| {r['beta']:g} | {r['scheme']} | {r['wall_s']:.3f} | {r['n_steps']} | {r['n_split_steps']} | "
                 f"{r['max_err']:.2e} |")
    L += ["", f"Reference cross-check against the package's exact solvers (max |diff|): {res['reference_cross_check']}", ""]
    L += _md_peers(res)
    L += _md_march(res)
    return "\n".join(L)


def _fmt_load(v):
    return "n/a" if not v else " / ".join(f"{a:.2f}" for a in v)


def _md_peers(res):
    peers = res.get("peers", {})
    L = ["## 4. Peers (same run)", ""]
    if res.get("peers_date"):
        L += [f"Run {res['peers_date']}. The machine (2 cores) was shared with other sessions: load averages "
              "(1/5/15 min) are listed per peer; timings are medians and indicative only.", ""]
    hjr = peers.get("hj_reachability")
    L += ["### hj_reachability, 2-D non-viscous problem of section 2", ""]
    if not isinstance(hjr, dict):
        L += [f"- {hjr}", ""]
    elif hjr.get("skipped"):
        L += [f"- {hjr['note']}", ""]
    else:
        L += [f"hj_reachability {hjr['version']} (JAX {hjr['jax_version']}, CPU), {hjr['settings']}; precision "
              f"{hjr['precision']}. {hjr['note']} Load at start / end: {_fmt_load(hjr.get('load_start'))} ; "
              f"{_fmt_load(hjr.get('load_end'))}.", "",
              "| grid | precision | wall (s) | runs (s) | first call (s) | compile (s) | max error | mean error |",
              "|---|---|---|---|---|---|---|---|"]
        for r in hjr["rows"]:
            L.append(f"| {r['n']}^2 | {r['dtype']} | {r['wall_s']:.3f} | {', '.join(f'{v:.2f}' for v in r['walls'])} | "
                     f"{r['first_call_s']:.2f} | {r['compile_s']:.2f} | {r['max_err']:.2e} | {r['mean_err']:.2e} |")
        x = hjr.get("x64")
        if x and "error" not in x:
            L.append(f"| {x['n']}^2 | {x['dtype']} (JAX_ENABLE_X64=1, separate process) | {x['wall_s']:.3f} | "
                     f"{', '.join(f'{v:.2f}' for v in x['walls'])} | {x['first_call_s']:.2f} | {x['compile_s']:.2f} | "
                     f"{x['max_err']:.2e} | {x['mean_err']:.2e} |")
        elif x:
            L.append(f"\nfloat64 run failed: {x['error']}")
        sc = hjr.get("sign_check")
        if sc:
            L += ["", f"Sign/time convention: the reachability form (H -> -H, times [0, -1], solved backward) gives "
                  f"max |diff| {sc['max_abs_diff_forward_vs_backward']:.1e} from the forward form at {sc['n']}^2; "
                  f"both have max error {sc['backward_max_err']:.2e} against Hopf-Lax, so it is the same problem."]
        pc = res.get("peer_comparison") or {}
        L += ["", "**Same-run comparisons** (targets from issue 8):", ""]
        if "speedup" in pc:
            L.append(f"- WENO5 at {pc['peer_n']}^2, equal grid: ours ({pc['ours_weno5_mode']}, cfl 0.5) "
                     f"{pc['ours_weno5_wall_s']:.2f} s, max error {pc['ours_weno5_max_err']:.2e}; hj_reachability "
                     f"{pc['peer_wall_s']:.2f} s, max error {pc['peer_max_err']:.2e}: {pc['speedup']:.2f}x "
                     f"(target >= 2x: {'met' if pc['speed_target_met'] else 'NOT met'}; at least as accurate: "
                     f"{'yes' if pc['accuracy_target_met'] else 'NO'}).")
        if "tta_speedup" in pc:
            L.append(f"- Time to hj_reachability's {pc['peer_n']}^2 max error ({pc['peer_max_err']:.2e}): fastest of "
                     f"ours is {pc['tta_scheme']} at {pc['tta_n']}^2, {pc['tta_wall_s']:.4f} s (max error "
                     f"{pc['tta_max_err']:.2e}): {pc['tta_speedup']:.0f}x less wall time (target >= 10x: "
                     f"{'met' if pc['tta_target_met'] else 'NOT met'}).")
        if "tta_speedup" in pc:
            L.append("- Each grid's max error is over its own nodes; the kinks (x = +-1, y = +-1, where the "
                     "characteristics meet) are nodes of every grid here, so coarse grids do sample them.")
        L.append(f"- Issue 8 quoted {HJR_QUOTED['wall_s']:g} s and {HJR_QUOTED['max_err']} for this comparison "
                 "(problem unspecified there); the numbers above are this run's.")
        x = hjr.get("x64")
        L.append("- Our rows are float64. The reference above is hj_reachability's default precision "
                 f"({hjr['precision'].split()[0]})"
                 + (f"; with JAX_ENABLE_X64=1 (float64, like ours) it took {x['wall_s']:.2f} s at {x['n']}^2 with "
                    f"max error {x['max_err']:.2e} (last table row; ratio against ours "
                    f"{x['wall_s'] / pc['ours_weno5_wall_s']:.2f}x)." if x and "error" not in x and "speedup" in pc
                    else "."))
        L.append("")
    pp = peers.get("py_pde", peers.get("py-pde"))
    L += [f"### py-pde, viscous 1-D problem of section 3 (N = {pp.get('n', 1024) if isinstance(pp, dict) else 1024}, "
          "t = 1)", ""]
    if not isinstance(pp, dict):
        L += [f"- {pp}", ""]
    elif pp.get("skipped"):
        L += [f"- {pp['note']}", ""]
    else:
        L += [f"py-pde {pp['version']}, solver {pp['solver']}; operator {pp['operator']}; grid: cell centres "
              f"of [-1, 1), periodic. Error against Cole-Hopf at py-pde's own points (Hopf-Lax for beta = inf). "
              f"py-pde re-JITs its stepper in every `solve` call; the table splits its end-to-end time into that "
              f"compilation and the stepping (its own profiler). Ours: `solve_hj`, wall without compilation "
              f"(kernels come from the on-disk cache). Load at start / end: {_fmt_load(pp.get('load_start'))} ; "
              f"{_fmt_load(pp.get('load_end'))}.", "",
              "| beta | py-pde end to end (s) | py-pde compile / solve (s) | py-pde stepping (s) | accepted steps | "
              "min dt | py-pde max error | ours weno5 (s) | ours weno5 max error | ours eno2 (s) / error | "
              "ours godunov (s) / error |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        notes = []
        for c in pp["cases"]:
            o = c["ours"]
            tail = (f"{o['weno5']['wall_s']:.3f} | {o['weno5']['max_err']:.2e} | {o['eno2']['wall_s']:.3f} / "
                    f"{o['eno2']['max_err']:.2e} | {o['godunov']['wall_s']:.3f} / {o['godunov']['max_err']:.2e} |")
            if "stepping_s" in c:
                L.append(f"| {c['beta']:g} | {c['wall_e2e_s']:.2f} | {c['compilation_per_solve_s']:.2f} | "
                         f"{c['stepping_s']:.3f} | {c['steps']} | {c['dt_min']:.2e} | {c['max_err']:.2e} | " + tail)
            else:
                where = (f" after {c['failure_accepted_steps']} accepted steps, at t = {c['failure_t_reached']:.3f} "
                         f"(smallest accepted dt {c['failure_dt_min']:.1e})" if "failure_t_reached" in c else "")
                state = (f"; state there finite: {c['failure_state_finite']}, max abs "
                         f"{c['failure_state_max_abs']:.3g}" if "failure_state_finite" in c else "")
                L.append(f"| {c['beta']:g} | failed after {c['wall_to_failure_s']:.2f} s | - | - | - | - | "
                         f"`{c['error']}`{where}{state} | " + tail)
                wt = c.get("with_tracker")
                if wt:
                    notes.append(f"beta = {c['beta']:g}: the same solve with a tracker every 0.01 time units "
                                 + (f"completed (t = 1, {wt['steps']} accepted steps, smallest dt {wt['dt_min']:.1e}, "
                                    f"{wt['wall_s']:.2f} s end to end, all finite: {wt['finite']}) with max error "
                                    f"{wt['max_err']:.2e}: the tracker splits the adaptive stepping into segments, "
                                    "and whether py-pde fails depends on it."
                                    if wt["completed"] else
                                    f"also failed (`{wt['error']}`, t >= {wt['t_reached_lower_bound']:.2f})."))
        if pp.get("wall_s"):
            r = pp["wall_s"] / pp["ours_wall_s"]
            L += ["", f"beta = 10 (issue 8 target: py-pde's error or smaller in less wall time): ours weno5 "
                  f"{pp['ours_wall_s']:.3f} s, max error {pp['ours_max_err']:.2e}; py-pde stepping {pp['wall_s']:.3f} s "
                  f"(end to end {pp['wall_e2e_s']:.2f} s), max error {pp['max_err']:.2e}: {r:.1f}x against its "
                  f"stepping alone, {pp['wall_e2e_s'] / pp['ours_wall_s']:.0f}x end to end; error "
                  f"{'smaller' if pp['ours_max_err'] <= pp['max_err'] else 'LARGER'} by "
                  f"{pp['max_err'] / pp['ours_max_err']:.0f}x."]
        L += [""] + [f"- {v}" for v in notes]
        L.append("")
    return L

def _md_march(res):
    m = res.get("march")
    if not m or "overhead" not in m:
        return []
    L = [f"## 5. Compiled time march (issue 19; run {m.get('date', res['date'])}, load {_fmt_load(m.get('load_start'))} "
         f"-> {_fmt_load(m.get('load_end'))})", "",
         "Per-step overhead = time of an empty-physics step (1-D periodic, 8 nodes, Godunov, beta = inf, "
         "20000 steps; difference of two solves), same run:", "", "| loop | us / step (CPU) | us / step (wall) |",
         "|---|---|---|"]
    for k, v in m["overhead"].items():
        L.append(f"| {k} | {v.get('us_per_step_cpu', float('nan')):.2f} | {v['us_per_step']:.2f} |")
    L += ["", f"1-D viscous targets, -cos(pi x), periodic, N = {m['n']}, t = {m['t']:g}: reach py-pde's error in at "
          f"most py-pde's time (ratio = py-pde / ours >= 1). py-pde: its prebuilt adaptive Runge-Kutta stepper "
          f"(compiled once, apart); ours: `solve_hj` with the serial kernels, end to end; interleaved, medians of "
          f"{m.get('repeat', '?')} rounds of process CPU time (wall beside it: the host is shared).", "",
          "| beta | py-pde CPU (s) | wall (s) | max error | ours | CPU (s) | wall (s) | max error | steps | "
          "us / step (CPU) | ratio CPU | ratio wall |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in m["cases"]:
        pp = c.get("pypde", {})
        if pp.get("skipped"):
            L.append(f"| {c['beta']:g} | skipped | | | | | | | | | | |")
            continue
        for key, label in (("default", ""), ("best", "fastest within py-pde's error: ")):
            b = c.get(key)
            if b:
                L.append(f"| {c['beta']:g} | {pp['cpu_s']:.4f} | {pp['wall_s']:.4f} | {pp['max_err']:.2e} | "
                         f"{label}{b['config']} | {b['cpu_s']:.4f} | {b['wall_s']:.4f} | {b['max_err']:.2e} | "
                         f"{b['n_steps']} | {b['us_per_step_cpu']:.1f} | {b['ratio_cpu']:.2f} | {b['ratio_wall']:.2f} |")
    L += ["", "All our configurations (medians):", "",
          "| beta | config | CPU (s) | wall (s) | steps | split steps | max error |", "|---|---|---|---|---|---|---|"]
    for c in m["cases"]:
        for o in c["ours"]:
            L.append(f"| {c['beta']:g} | {o['config']} | {o['cpu_s']:.4f} | {o['wall_s']:.4f} | {o['n_steps']} | "
                     f"{o['n_split_steps']} | {o['max_err']:.2e} |")
    return L + [""]



def _plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # one point per (scheme, grid): the 2c sweep (same run as the peers) replaces a section-2 row of the same grid
    rows = list({(r["scheme"], r["n"]): r for r in res["two_d"] + res.get("tta_sweep", [])}.values())
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for name in dict.fromkeys(r["scheme"] for r in rows):
        rr = sorted((r for r in rows if r["scheme"] == name), key=lambda r: (r["n"], r["wall_s"]))
        line, = ax.loglog([r["wall_s"] for r in rr], [r["max_err"] for r in rr], "o-", label=name, ms=4)
        for r in rr:
            ax.annotate(str(r["n"]), (r["wall_s"], r["max_err"]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points", color=line.get_color())
    hjr = res.get("peers", {}).get("hj_reachability")
    if isinstance(hjr, dict) and not hjr.get("skipped", True):
        pr = hjr["rows"]
        ax.loglog([r["wall_s"] for r in pr], [r["max_err"] for r in pr], "k*-", ms=9,
                  label=f"hj_reachability WENO5+GLF ({hjr['precision'].split()[0]})")
        for r in pr:
            ax.annotate(str(r["n"]), (r["wall_s"], r["max_err"]), fontsize=7, xytext=(4, -9),
                        textcoords="offset points")
        x = hjr.get("x64")
        if x and "error" not in x:
            ax.loglog([x["wall_s"]], [x["max_err"]], "kx", ms=8, label="hj_reachability float64")
        ax.axhline(hjr["max_err"], color="k", lw=0.6, ls=":")
    else:
        ax.plot([HJR_QUOTED["wall_s"]], [HJR_QUOTED["max_err"]], "k*", ms=10,
                label="hj_reachability 512^2 (issue's quote, not run)")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("max error vs Hopf-Lax")
    ax.set_title("2-D -cos problem to t = 1 (labels: grid n)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def write_results(res, quick, results):
    """Write ``res`` as ``hj.json``, ``hj.png`` and ``hj.md`` (``hj_quick.*`` when ``quick``) into ``results``."""
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    stem = "hj_quick" if quick else "hj"
    _plot(res, results / f"{stem}.png")
    md = _md(res)
    if quick:
        md = md.replace("(hj.png)", "(hj_quick.png)")
    write_tables(results, stem, res, md, indent=1)
    print(f"wrote {results / stem}.md/.json/.png")
