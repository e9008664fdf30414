"""GPU benchmark of the CUDA backend of solve_hj (issue 7, HJ part).

Rows (``run() -> list[dict]``), on a real GPU (``solvers.backend.gpu_present()``):

* ``d2d_copy``: device-to-device copy bandwidth of an ``n^2`` float64 array measured in the same
  run, both with ``DeviceNDArray.copy_to_device`` (cudaMemcpy) and with a grid-stride copy kernel
  (read + write bytes / time); the larger is the yardstick ``copy_bw`` of the stencil rows;
* ``hj_godunov_viscous_2d``: Godunov + explicit 3-point Laplacian (forward Euler) on ``n^2``
  (non-periodic, linear-extrapolation ghosts).  ``kernel_*``: the fused stage kernel with its block
  slope maxima, back-to-back launches; ``step_*``: one step as solve_hj runs it (ghost-fill
  launches, fused stage, slope reduction, copy of the d slopes to the host = one sync per step).
  Cell-updates/s and the fraction of ``copy_bw`` counting 16 bytes per cell-update (the issue's
  convention: 8 B read + 8 B written);
* ``hj_weno5_2d``: one WENO5 + 5-point-Laplacian TVD-RK3 stage (``a W + b (V + dt L V)``, so it
  also reads W: 24 B moved, 16 B counted by convention) and one whole RK3 step (slope pass + 3
  stages + ghost fills + sync), same grid;
* ``hj_weno5_3d_solve``: ``solve_hj(..., scheme="weno5", backend="cuda")`` on a periodic ``m^3``
  grid (``u0 = -sum_k cos(pi x_k)``), end to end (array in, result with u and grad out: upload,
  every step, download, device gradient), median of repeats, compile time separate; against the
  CPU backend (threaded Numba) whose RK3 step is timed on the same grid for a few steps through
  the same stepper the CPU solve uses and extrapolated to the GPU run's step count (stated in the
  row; the CPU's NumPy gradient of the result is not included);
* ``hj_cpu_agreement_3d``: both backends solved to the end on a ``64^3`` WENO5 problem: the
  maximum difference relative to max|u| (round-off on a GPU, where FMA contraction changes the
  last bits; 0 in the simulator).

Without a real GPU every row carries ``note = "skipped: no GPU (device: ...)"``.  Writes no files
(the lead aggregates); ``python benchmarks/bench_gpu_hj.py [--quick]`` prints the rows as JSON.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import timed  # noqa: E402

from solvers import backend  # noqa: E402

#: The issue's byte count of a stencil cell-update (8 B read + 8 B written).
BYTES_CONVENTION = 16
CASES = ("d2d_copy", "hj_godunov_viscous_2d", "hj_weno5_2d", "hj_weno5_3d_solve", "hj_cpu_agreement_3d")

cuda = None  # numba.cuda, bound on first use (a module global: the simulator swaps it in kernels)


def _get_cuda():
    global cuda
    if cuda is None:
        cuda = backend.get_cuda()
    return cuda




def _skipped(device):
    note = f"skipped: no GPU (device: {device})"
    return [{"case": c, "device": device, "note": note} for c in CASES]


def _copy_kernel():
    _get_cuda()

    @cuda.jit
    def copy(a, b):  # the body reads the module global `cuda` (swapped by the simulator)
        i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        step = cuda.gridDim.x * cuda.blockDim.x
        while i < a.size:
            b[i] = a[i]
            i += step

    return copy


def _copy_row(n, reps, inner, device):
    from solvers._cuda_hj import default_target_blocks

    c = _get_cuda()
    N = n * n
    a = c.to_device(np.ones(N))
    b = c.device_array(N, np.float64)
    t_api = timed(lambda: b.copy_to_device(a), reps, sync=c.synchronize, inner=inner).median
    kern = _copy_kernel()
    blocks = max(1, min(default_target_blocks(), -(-N // 256)))
    t0 = time.perf_counter()
    kern[blocks, 256](a, b)
    c.synchronize()
    compile_s = time.perf_counter() - t0
    t_k = timed(lambda: kern[blocks, 256](a, b), reps, sync=c.synchronize, inner=inner).median
    bw_api, bw_k = 16 * N / t_api, 16 * N / t_k
    return {"case": "d2d_copy", "device": device, "shape": f"{n}^2 float64", "median_s_api": t_api,
            "median_s_kernel": t_k, "bandwidth_GBps_api": bw_api / 1e9, "bandwidth_GBps_kernel": bw_k / 1e9,
            "copy_bw_GBps": max(bw_api, bw_k) / 1e9, "compile_s": compile_s,
            "note": "read + write bytes / time; copy_bw = the larger of cudaMemcpy D2D and a grid-stride kernel"}


def _stepper_2d(n, scheme):
    from solvers._cuda_hj import CudaStepper
    from solvers.grid import Grid
    from solvers.schemes import SCHEMES

    sch = SCHEMES[scheme]
    g = Grid.uniform([(-1.0, 1.0), (-1.0, 1.0)], (n, n), periodic=False)
    x = g.axes[0][:, None]
    y = g.axes[1][None, :]
    u0 = np.sin(np.pi * x) * np.cos(np.pi * y) + 0.25 * x * y
    t0 = time.perf_counter()
    st = CudaStepper(u0, sch.ghost, g.spacing, g.periodic, sch, np.float64)
    st.synchronize()
    upload_s = time.perf_counter() - t0
    return st, g, upload_s


def _dt(st, alpha, nu):
    adv = sum(float(a) / h for a, h in zip(alpha, st.spacing))
    dif = sum(2.0 * nu * st.sch.diffusion_factor / (h * h) for h in st.spacing)
    return 0.5 / (adv + dif)


def _godunov_row(n, reps, inner, bw, device):
    c = _get_cuda()
    st, g, upload_s = _stepper_2d(n, "godunov")
    V, W, O = st.bufs
    nu = 0.5 / 1e3  # beta = 1000
    t0 = time.perf_counter()
    alpha, _ = st.slopes(V)
    dt = _dt(st, alpha, nu)
    st.first_stage(V, W, nu, dt)
    st.synchronize()
    compile_s = time.perf_counter() - t0
    N = n * n
    t_k = timed(lambda: st.launch_stage(V, V, W, nu, 0.0, 1.0, dt, True), reps, sync=c.synchronize, inner=inner).median
    t_s = timed(lambda: st.first_stage(V, W, nu, dt), reps, sync=c.synchronize, inner=max(1, inner // 4)).median
    rk, rs = N / t_k, N / t_s
    return {"case": "hj_godunov_viscous_2d", "device": device, "shape": f"{n}^2 float64",
            "block": list(st.block), "grid": list(st.grid),
            "kernel_median_s": t_k, "kernel_cell_updates_per_s": rk,
            "kernel_frac_copy_bw_16B": BYTES_CONVENTION * rk / bw,
            "step_median_s": t_s, "step_cell_updates_per_s": rs, "step_frac_copy_bw_16B": BYTES_CONVENTION * rs / bw,
            "compile_s": compile_s, "upload_s": upload_s,
            "note": "Godunov + explicit Laplacian (beta=1000), forward Euler; kernel = fused stage with block "
                    "slope maxima, back-to-back launches; step = ghost fill + stage + 2nd-pass reduction + "
                    "copy of the d slopes (one host sync), as in solve_hj"}


def _weno5_2d_row(n, reps, inner, bw, device):
    c = _get_cuda()
    st, g, upload_s = _stepper_2d(n, "weno5")
    V, W, O = st.bufs
    nu = 0.5 / 1e3
    t0 = time.perf_counter()
    alpha, _ = st.slopes(V)
    dt = _dt(st, alpha, nu)
    st.stage_filled(V, W, nu, dt)
    st.fill_ghosts(W)
    st.launch_stage(W, V, O, nu, 0.75, 0.25, dt, False)
    st.synchronize()
    compile_s = time.perf_counter() - t0
    N = n * n
    t_k = timed(lambda: st.launch_stage(W, V, O, nu, 0.75, 0.25, dt, False), reps, sync=c.synchronize, inner=inner).median

    def rk3_step():
        a, _ = st.slopes(V)
        st.stage_filled(V, W, nu, dt)
        return st.other_stages(V, W, O, nu, dt)

    t_s = timed(rk3_step, reps, sync=c.synchronize, inner=max(1, inner // 4)).median
    rk = N / t_k
    return {"case": "hj_weno5_2d", "device": device, "shape": f"{n}^2 float64",
            "block": list(st.block), "grid": list(st.grid),
            "stage_median_s": t_k, "stage_cell_updates_per_s": rk,
            "stage_frac_copy_bw_16B": BYTES_CONVENTION * rk / bw,
            "stage_frac_copy_bw_24B": 24 * rk / bw,
            "rk3_step_median_s": t_s, "rk3_step_cell_updates_per_s": N / t_s,
            "rk3_step_frac_copy_bw_48B": 3 * BYTES_CONVENTION * N / t_s / bw,
            "compile_s": compile_s, "upload_s": upload_s,
            "note": "stage = a W + b (V + dt L V) (reads V and W: 24 B moved, 16 B counted); "
                    "rk3_step = slope pass + 3 stages + ghost fills + one sync, counted 3 x 16 B"}


def _u0_3d(m):
    from solvers.grid import Grid

    g = Grid.uniform([(-1.0, 1.0)] * 3, m, periodic=True)
    ax = g.axes
    u0 = -(np.cos(np.pi * ax[0])[:, None, None] + np.cos(np.pi * ax[1])[None, :, None]
           + np.cos(np.pi * ax[2])[None, None, :])
    return g, u0


def _weno5_3d_rows(m, t, reps, cpu_steps, device, m_agree, t_agree):
    from solvers.jit import use_parallel
    from solvers._hj_steppers import CpuOps as _CpuStepper  # the per-call CPU ops (same kernels)
    from solvers.hj import solve_hj
    from solvers.schemes import SCHEMES

    c = _get_cuda()
    g, u0 = _u0_3d(m)
    first = solve_hj(u0, g, t, scheme="weno5", backend="cuda", max_steps=1)  # compiles
    _t = timed(lambda: solve_hj(u0, g, t, scheme="weno5", backend="cuda"), reps, sync=c.synchronize)
    t_gpu, res = _t.median, _t.out
    # CPU: the same stepper calls solve_hj's RK3 explicit step makes (slopes, stage, 2 stages)
    sch = SCHEMES["weno5"]
    par = use_parallel(u0.size)
    cpu = _CpuStepper(u0, sch.ghost, g.spacing, g.periodic, sch, par)
    t0 = time.perf_counter()
    cpu_compile = cpu.warmup()
    U, s1, s2 = cpu.bufs
    alpha, _ = cpu.slopes(U)
    dt = 0.5 / sum(float(a) / h for a, h in zip(alpha, g.spacing))
    ts = []
    for _ in range(cpu_steps):
        t1 = time.perf_counter()
        cpu.slopes(U)
        cpu.stage_filled(U, s1, 0.0, dt)
        U = cpu.other_stages(U, s1, s2, 0.0, dt)
        s1, s2 = [b for b in cpu.bufs if b is not U][:2]
        ts.append(time.perf_counter() - t1)
    cpu_step = float(np.median(ts))
    cpu_scaled = cpu_step * res.n_steps
    rows = [{"case": "hj_weno5_3d_solve", "device": device, "shape": f"{m}^3 float64 periodic", "t": t,
             "n_steps": res.n_steps, "gpu_call_median_s": t_gpu, "gpu_wall_s": res.wall_time,
             "gpu_compile_s": first.compile_time,
             "gpu_cell_updates_per_s": 3 * res.n_steps * u0.size / t_gpu,
             "cpu_step_median_s": cpu_step, "cpu_steps_timed": cpu_steps, "cpu_threaded": par,
             "cpu_compile_s": cpu_compile, "cpu_scaled_s": cpu_scaled, "speedup": cpu_scaled / t_gpu,
             "cpu_setup_s": time.perf_counter() - t0 - sum(ts),
             "note": f"GPU: whole solve_hj call (array in, u and device grad out); CPU: RK3 step of the CPU "
                     f"backend timed for {cpu_steps} steps on the same grid and scaled to {res.n_steps} steps "
                     f"(excludes the CPU result's NumPy gradient)"}]
    del cpu, U, s1, s2
    ga, ua = _u0_3d(m_agree)
    rc = solve_hj(ua, ga, t_agree, scheme="weno5")
    rg = solve_hj(ua, ga, t_agree, scheme="weno5", backend="cuda")
    scale = float(np.abs(rc.u).max())
    rows.append({"case": "hj_cpu_agreement_3d", "device": device, "shape": f"{m_agree}^3 float64 periodic",
                 "t": t_agree, "n_steps_cpu": rc.n_steps, "n_steps_gpu": rg.n_steps,
                 "max_abs_diff_rel": float(np.abs(rg.u - rc.u).max()) / scale,
                 "max_abs_diff_grad": float(np.abs(rg.grad - rc.grad).max()),
                 "note": "full solves on both backends; differences are FMA round-off on a GPU"})
    return rows


def run(quick: bool = False, *, _tiny: bool = False) -> list[dict]:
    """Run the benchmark; rows as described in the module docstring.

    ``quick``: 4096^2 and 256^3.  ``_tiny`` (tests only): exercise the code in the CUDA simulator
    at toy sizes (numbers meaningless).
    """
    device = backend.device_name()
    if not _tiny and not backend.gpu_present():
        return _skipped(device)
    if _tiny:
        n, m, reps, inner, cpu_steps, m_agree = 8, 6, 1, 1, 1, 6
    elif quick:
        n, m, reps, inner, cpu_steps, m_agree = 4096, 256, 5, 10, 2, 32
    else:
        n, m, reps, inner, cpu_steps, m_agree = 8192, 512, 9, 20, 2, 64
    t3 = 0.2 / np.pi ** 2 if not _tiny else 0.002
    rows = [_copy_row(n, reps, inner, device)]
    bw = rows[0]["copy_bw_GBps"] * 1e9
    rows.append(_godunov_row(n, reps, inner, bw, device))
    rows.append(_weno5_2d_row(n, reps, inner, bw, device))
    rows += _weno5_3d_rows(m, t3, max(1, min(reps, 3)), cpu_steps, device, m_agree, t3 if not _tiny else 0.002)
    if _tiny:
        for r in rows:
            r["note"] = "simulator smoke run: numbers meaningless"
    return rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    rows = run(quick="--quick" in argv)
    for r in rows:
        print(json.dumps({k: (float(f"{v:.6g}") if isinstance(v, float) and math.isfinite(v) else v)
                          for k, v in r.items()}))


if __name__ == "__main__":
    main()
