"""CUDA backend of solve_fokker_planck (solvers._cuda_fp) against the CPU backend.

Runs in numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1): every thread is
Python, so grids are tiny (1-D 16-32 cells, 2-D 10x10, 3-D 5^3) and runs have few steps.
"""
import math

import numpy as np
import pytest

from solvers import backend
from solvers.errors import NonFiniteError
from solvers.fokker_planck import solve_fokker_planck
from solvers.grid import Grid

pytestmark = pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no simulator")

RTOL = 1e-12


def _rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-300))


def _dw(X):
    return 0.25 * (X[..., 0] ** 2 - 1.0) ** 2


def _pair(rho0, g, t, **kw):
    cpu = solve_fokker_planck(rho0, g, t, backend="cpu", **kw)
    gpu = solve_fokker_planck(rho0, g, t, backend="cuda", **kw)
    return cpu, gpu


def _agree(cpu, gpu, rtol=RTOL):
    assert gpu.params["backend"] == "cuda" and cpu.params["backend"] == "cpu"
    assert gpu.n_steps == cpu.n_steps and gpu.dt == cpu.dt
    np.testing.assert_array_equal(gpu.ts, cpu.ts)
    assert _rel(gpu.rho, cpu.rho) <= rtol
    assert _rel(gpu.rhos, cpu.rhos) <= rtol
    np.testing.assert_allclose(gpu.mass, cpu.mass, rtol=rtol)
    np.testing.assert_allclose(gpu.free_energy, cpu.free_energy, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gpu.kl, cpu.kl, rtol=1e-8, atol=1e-12)
    # structure on the device too: mass to round-off, positivity
    assert np.abs(gpu.mass - gpu.mass[0]).max() <= 1e-13 * gpu.mass[0]
    assert gpu.min_rho.min() >= 0.0 and gpu.rho.min() >= 0.0


@pytest.mark.slow
@pytest.mark.parametrize("method", ["explicit", "implicit", "crank_nicolson"])
def test_1d_noflux_potential_matches_cpu(method):
    g = Grid.uniform([(-2.0, 2.0)], 32)
    x = g.axes[0]
    rho0 = np.exp(-(x - 1.0) ** 2 / 0.1)
    dt = None if method == "explicit" else 0.02
    t = 0.05 if method == "explicit" else 0.2
    cpu, gpu = _pair(rho0, g, t, potential=_dw, beta=2.0, method=method, save_at=2, dt=dt)
    _agree(cpu, gpu)
    assert gpu.n_steps >= 4


@pytest.mark.parametrize("method", ["explicit", "implicit", "crank_nicolson"])
def test_1d_periodic_nongradient_drift_matches_cpu(method):
    g = Grid.uniform([(0.0, 2 * math.pi)], 24, periodic=True)
    x = g.axes[0]
    rho0 = 1.0 + np.cos(x) ** 2

    def b(X):
        return 1.0 + 0.5 * np.sin(X)          # not a gradient on the circle (net rotation)

    kw = dict(drift=b, beta=1.5, method=method, save_at=1)
    if method == "explicit":
        cpu, gpu = _pair(rho0, g, 0.02, **kw)
    else:
        cpu, gpu = _pair(rho0, g, 0.2, dt=0.05, **kw)
    _agree(cpu, gpu)
    assert np.isfinite(gpu.kl).all()          # discrete steady state of the drift as KL reference


@pytest.mark.parametrize("method", ["explicit", "implicit", "crank_nicolson"])
def test_2d_diagonal_D_mixed_boundaries_matches_cpu(method):
    g = Grid.uniform([(-2.0, 2.0), (-1.5, 1.5)], (10, 10), periodic=(False, True))
    X = g.mesh()
    rho0 = np.exp(-((X[..., 0] - 0.5) ** 2 + X[..., 1] ** 2) / 0.5)

    def f(P):
        return 0.25 * (P[..., 0] ** 2 - 1.0) ** 2 + 0.3 * np.sin(2 * math.pi * P[..., 1] / 3.0)

    kw = dict(potential=f, beta=2.0, D=[1.0, 0.5], method=method, save_at=1)
    if method == "explicit":
        cpu, gpu = _pair(rho0, g, 0.03, **kw)
    else:
        cpu, gpu = _pair(rho0, g, 0.1, dt=0.05, **kw)
    _agree(cpu, gpu)


@pytest.mark.parametrize("method", ["explicit", "implicit"])
def test_3d_heat_and_potential_match_cpu(method):
    g = Grid.uniform([(-1.0, 1.0)] * 3, (5, 5, 4))
    X = g.mesh()
    rho0 = np.exp(-np.sum((X - 0.2) ** 2, axis=-1) / 0.3)
    kw = dict(potential=lambda P: 0.5 * np.sum(P ** 2, axis=-1), beta=1.0, D=2.0, method=method)
    if method == "explicit":
        cpu, gpu = _pair(rho0, g, 0.02, **kw)
    else:
        cpu, gpu = _pair(rho0, g, 0.04, dt=0.02, **kw)
    _agree(cpu, gpu)


def test_time_dependent_potential_matches_cpu():
    g = Grid.uniform([(-2.0, 2.0)], 16)
    rho0 = np.exp(-g.axes[0] ** 2)

    def f(X, t):
        return 0.5 * (X[..., 0] - np.sin(3 * t)) ** 2

    for method, kw in (("explicit", {}), ("crank_nicolson", {"dt": 0.05})):
        cpu, gpu = _pair(rho0, g, 0.15, potential=f, beta=1.0, method=method, **kw)
        assert gpu.params["time_dependent"]
        _agree(cpu, gpu)


def test_float32_error_against_float64_is_reported():
    g = Grid.uniform([(-2.0, 2.0)], 32)
    rho0 = np.exp(-(g.axes[0] - 1.0) ** 2 / 0.1)
    rho0 /= rho0.sum() * g.cell_volume
    errs = {}
    for method, kw in (("explicit", {"t": 0.05}), ("implicit", {"t": 0.2, "dt": 0.02})):
        t = kw.pop("t")
        r64 = solve_fokker_planck(rho0, g, t, potential=_dw, beta=2.0, method=method, backend="cuda", **kw)
        r32 = solve_fokker_planck(rho0, g, t, potential=_dw, beta=2.0, method=method, backend="cuda",
                                  dtype=np.float32, **kw)
        assert r32.params["dtype"] == "float32" and r64.params["dtype"] == "float64"
        assert r32.rho.dtype == np.float64
        errs[method] = _rel(r32.rho, r64.rho)
        # single precision: error a few float32 ulps per step, not float64 round-off
        assert 1e-10 < errs[method] < 1e-5
        assert abs(r32.mass[-1] - 1.0) < 1e-5 and r32.min_rho.min() >= 0.0
    print(f"float32 vs float64 max relative error: {errs}")


def test_bad_backend_and_dtype_are_clear_errors():
    g = Grid.uniform([(-1.0, 1.0)], 8)
    rho0 = np.ones(8)
    with pytest.raises(ValueError, match="backend"):
        solve_fokker_planck(rho0, g, 0.1, backend="gpu")
    with pytest.raises(ValueError, match="dtype"):
        solve_fokker_planck(rho0, g, 0.1, backend="cuda", dtype=np.int32)
    with pytest.raises(ValueError, match="dtype"):
        solve_fokker_planck(rho0, g, 0.1, backend="cuda", dtype=np.float16)
    with pytest.raises(ValueError, match=r"dtype.*float32.*backend='cuda'"):
        solve_fokker_planck(rho0, g, 0.1, backend="cpu", dtype=np.float32)
    g2 = Grid.uniform([(-1.0, 1.0)] * 2, 6)
    with pytest.raises(ValueError, match=r"backend='cuda'.*full"):
        solve_fokker_planck(np.ones(g2.shape), g2, 0.1, D=[[1.0, 0.2], [0.2, 1.0]], backend="cuda")
    with pytest.raises(ValueError, match=r"backend='cuda'.*linear_solver='direct'"):
        solve_fokker_planck(np.ones(g2.shape), g2, 0.1, linear_solver="direct", backend="cuda")


def test_auto_is_cpu_without_a_real_gpu():
    g = Grid.uniform([(-1.0, 1.0)], 8)
    r = solve_fokker_planck(np.ones(8), g, 0.1, backend="auto", dtype=np.float32)
    if not backend.gpu_present():
        assert r.params["backend"] == "cpu" and r.params["dtype"] == "float64"
    # a full D falls back to the CPU under auto instead of raising
    g2 = Grid.uniform([(-1.0, 1.0)] * 2, 6)
    r2 = solve_fokker_planck(np.ones(g2.shape), g2, 0.1, D=[[1.0, 0.2], [0.2, 1.0]], backend="auto")
    assert r2.params["backend"] == "cpu"


def test_zero_time_returns_the_initial_density():
    g = Grid.uniform([(-1.0, 1.0)], 8)
    rho0 = np.linspace(1.0, 2.0, 8)
    r = solve_fokker_planck(rho0, g, 0.0, backend="cuda")
    assert r.n_steps == 0 and np.array_equal(r.rho, rho0) and r.rhos.shape == (1, 8)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("periodic", [False, True])
def test_nonfinite_detection_same_as_cpu_implicit(periodic):
    g = Grid.uniform([(0.0, 1.0)], 8, periodic=periodic)
    kw = dict(drift=np.full(g.shape + (1,), 1e308), dt=0.01, kl_reference=False, method="implicit")
    msgs = []
    for backend in ("cpu", "cuda"):
        with pytest.raises(NonFiniteError, match=r"non-finite at t = 0.01 \(step 1") as e:
            solve_fokker_planck(np.ones(g.shape), g, 0.05, backend=backend, **kw)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nonfinite_detection_same_as_cpu_explicit():
    g = Grid.uniform([(-1.0, 1.0)], 8)
    rho0 = np.full(8, 1e308)                        # finite, but the first flux overflows
    rho0[::2] = 1e300
    kw = dict(potential=lambda X: 3.0 * X[..., 0], beta=1.0, method="explicit", kl_reference=False)
    msgs = []
    for backend in ("cpu", "cuda"):
        with pytest.raises(NonFiniteError, match=r"\(step 1, method='explicit'") as e:
            solve_fokker_planck(rho0, g, 0.05, backend=backend, **kw)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_stable_huge_drift_stays_finite_and_matches_cpu():
    # backend Euler with very large but finite rates: subtraction-free Thomas keeps everything finite
    g = Grid.uniform([(0.0, 1.0)], 8)
    kw = dict(drift=np.full(g.shape + (1,), 1e306), dt=0.01, method="implicit")
    cpu, gpu = _pair(np.ones(g.shape), g, 0.03, **kw)
    assert np.isfinite(gpu.rho).all()
    assert _rel(gpu.rho, cpu.rho) <= RTOL


def test_gpu_benchmark_skips_without_gpu_and_runs_in_the_simulator():
    from benchmarks import bench_gpu_fp_dyn as bench
    if not backend.gpu_present():
        rows = bench.run(quick=True)
        assert {r["case"] for r in rows} == {"d2d_copy", "fp_explicit_step", "fp_implicit_step", "esgd_ensemble"}
        assert all(r["note"].startswith("skipped: no GPU") for r in rows)
    tiny = {r["case"]: r for r in bench.run(_tiny=True)}
    assert tiny["fp_explicit_step"]["cell_updates_per_s"] > 0
    assert tiny["fp_implicit_step"]["mass_rel_change"] < 1e-13 and tiny["fp_implicit_step"]["min_rho"] >= 0
    assert tiny["esgd_ensemble"]["max_abs_diff_common_chains"] <= 1e-10
