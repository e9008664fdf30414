"""solve_hj API: input validation, statuses, snapshots, checkpoint/resume, progress bar, HDF5 round trip."""
import math
import warnings

import numpy as np
import pytest

from solvers.errors import GridError, NonFiniteError, SchemeError, StabilityError
from solvers.grid import Grid
from solvers.hj import HJResult, UnresolvedViscosityWarning, solve_hj


@pytest.fixture
def g1():
    return Grid.uniform([(-1.0, 1.0)], 64, periodic=True)


@pytest.fixture
def u1(g1):
    return -np.cos(np.pi * g1.axes[0])


def test_bad_inputs_give_clear_errors(g1, u1):
    with pytest.raises(ValueError, match=r"`t` must be finite and non-negative.*-1"):
        solve_hj(u1, g1, -1.0)
    with pytest.raises(ValueError, match=r"`beta` must be positive.*beta > 0.*0"):
        solve_hj(u1, g1, 0.1, beta=0.0)
    with pytest.raises(ValueError, match=r"`beta` must be positive"):
        solve_hj(u1, g1, 0.1, beta=-2.0)
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"`cfl` must lie in \(0, 1\]"):
            solve_hj(u1, g1, 0.1, cfl=bad)
    with pytest.raises(SchemeError, match=r"`scheme` must be one of .*'eno2'.*'godunov'.*'weno5'.*'upwind'"):
        solve_hj(u1, g1, 0.1, scheme="upwind")
    bad = u1.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match=r"`u0` must be finite.*index \(3,\)"):
        solve_hj(bad, g1, 0.1)
    with pytest.raises(ValueError, match=r"`u0` has shape \(63,\).*\(64,\)"):
        solve_hj(u1[:-1], g1, 0.1)
    with pytest.raises(TypeError, match="`grid` must be"):
        solve_hj(u1, (-1, 1), 0.1)
    with pytest.raises(ValueError, match="`diffusion`"):
        solve_hj(u1, g1, 0.1, diffusion="implicit")
    with pytest.raises(ValueError, match=r"`save_at` times must be finite and in \[0, t\]"):
        solve_hj(u1, g1, 0.1, save_at=[0.05, 0.2])
    with pytest.raises(GridError, match=r"`grid.shape\[0\]` must be >= 6"):
        g = Grid.uniform([(0, 1)], 4, periodic=True)
        solve_hj(np.zeros(4), g, 0.1, scheme="weno5")


def test_t_zero_returns_u0(g1, u1):
    r = solve_hj(u1, g1, 0.0)
    np.testing.assert_array_equal(r.u, u1)
    assert r.n_steps == 0 and r.success and r.us.shape == (1, 64)


def test_result_fields_and_snapshots(g1, u1):
    r = solve_hj(u1, g1, 0.05, scheme="eno2", save_at=[0.0, 0.01, 0.03, 0.05])
    assert isinstance(r, HJResult)
    np.testing.assert_array_equal(r.ts, [0.0, 0.01, 0.03, 0.05])
    assert r.us.shape == (4, 64)
    np.testing.assert_array_equal(r.us[0], u1)
    np.testing.assert_array_equal(r.us[-1], r.u)
    assert r.grad.shape == (64, 1) and r.order == 2 and r.scheme == "eno2" and r.cfl == 0.5
    assert 0 < r.dt_min <= r.dt_max and r.n_steps >= 4
    assert r.status == "success" and r.message and r.wall_time > 0 and r.compile_time >= 0
    # snapshots equal separate runs to those times (steps land exactly on save times)
    r2 = solve_hj(u1, g1, 0.03, scheme="eno2", save_at=[0.01, 0.03])
    np.testing.assert_array_equal(r2.us[0], r.us[1])
    # int save_at = m: m equal intervals, m + 1 times including 0 and t (solvers._driver convention)
    r3 = solve_hj(u1, g1, 0.05, scheme="godunov", save_at=5)
    np.testing.assert_allclose(r3.ts, np.linspace(0, 0.05, 6))
    # default: the initial and the final state
    r4 = solve_hj(u1, g1, 0.05, scheme="godunov")
    np.testing.assert_array_equal(r4.ts, [0.0, 0.05])
    np.testing.assert_array_equal(r4.us[0], u1)
    np.testing.assert_array_equal(r4.us[1], r4.u)
    # grad is the upwind derivative: close to the exact u_x of the smooth solution
    central = (np.roll(r.u, -1) - np.roll(r.u, 1)) / (2 * g1.spacing[0])
    assert np.abs(r.grad[:, 0] - central).max() < 0.1


def test_time_step_respects_cfl(g1, u1):
    for cfl in (0.25, 1.0):
        r = solve_hj(u1, g1, 0.05, scheme="godunov", cfl=cfl)
        h = g1.spacing[0]
        # max|u_x| <= pi throughout (Lipschitz bound of the viscosity solution)
        assert r.dt_max <= cfl * h / (np.pi * 0.9)
    # max_dt caps it
    r = solve_hj(u1, g1, 0.05, scheme="godunov", max_dt=1e-3)
    assert r.dt_max <= 1e-3 and r.n_steps >= 50


def test_nonfinite_stops_with_status(g1):
    u0 = 1e160 * np.sin(np.pi * g1.axes[0])
    # |p|^2 overflows float64: the CFL step is fine, the values are not
    with pytest.raises(NonFiniteError, match=r"Non-finite values.*overflow.*Rescale"):
        solve_hj(u0, g1, 1e-160, scheme="godunov")
    r = solve_hj(u0, g1, 1e-160, scheme="godunov", raise_on_failure=False)
    assert r.status == "nonfinite" and not r.success and "Step" in r.message
    # over a long time the same data would need ~1e171 steps: refused up front
    with pytest.raises(StabilityError, match=r"time step fell below.*Rescale u0"):
        solve_hj(u0, g1, 1.0, scheme="godunov")
    r = solve_hj(u0, g1, 1.0, scheme="godunov", raise_on_failure=False)
    assert r.status == "step_too_small" and r.n_steps == 0


def test_unresolved_viscosity_warns(g1, u1):
    with pytest.warns(UnresolvedViscosityWarning, match=r"sqrt\(t/beta\)"):
        solve_hj(u1, g1, 0.01, beta=1e4, scheme="godunov")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solve_hj(u1, g1, 0.01, beta=1.0, scheme="godunov")


@pytest.mark.parametrize("name,beta,d", [("weno5", math.inf, 1), ("godunov", 2.0, 2), ("eno2", 50.0, 1)])
def test_checkpoint_resume_is_bit_identical(tmp_path, name, beta, d):
    if d == 1:
        g = Grid.uniform([(-1.0, 1.0)], 48, periodic=True)
        u0 = -np.cos(np.pi * g.axes[0])
    else:
        g = Grid.uniform([(-1.0, 1.0), (-1.0, 1.0)], (24, 20))  # non-periodic: DST heat + extrapolation
        X = g.mesh()
        u0 = np.cos(X[..., 0]) + 0.5 * X[..., 1] ** 2
    full = solve_hj(u0, g, 0.1, beta=beta, scheme=name, save_at=[0.02, 0.05, 0.09])
    ck = tmp_path / "run.h5"
    part = solve_hj(u0, g, 0.1, beta=beta, scheme=name, save_at=[0.02, 0.05, 0.09], checkpoint=ck,
                    checkpoint_every=3, max_steps=full.n_steps // 2)
    assert part.status == "stopped" and not part.success and ck.exists()
    assert part.n_steps == full.n_steps // 2
    res = solve_hj(u0, g, 0.1, beta=beta, scheme=name, save_at=[0.02, 0.05, 0.09], resume=ck)
    assert res.success and res.n_steps == full.n_steps
    assert np.array_equal(res.u, full.u) and np.array_equal(res.us, full.us)
    assert np.array_equal(res.ts, full.ts) and np.array_equal(res.grad, full.grad)
    assert res.dt_min == full.dt_min and res.dt_max == full.dt_max
    # stop_at, then resume from the checkpoint written at the stop
    part2 = solve_hj(u0, g, 0.1, beta=beta, scheme=name, save_at=[0.02, 0.05, 0.09], checkpoint=ck,
                     stop_at=0.031)
    assert part2.status == "stopped" and part2.params["t_reached"] >= 0.031
    res2 = solve_hj(u0, g, 0.1, beta=beta, scheme=name, save_at=[0.02, 0.05, 0.09], resume=ck)
    assert np.array_equal(res2.u, full.u) and np.array_equal(res2.us, full.us)
    # a checkpoint of another problem is refused
    with pytest.raises(ValueError, match=r"different problem.*cfl"):
        solve_hj(u0, g, 0.1, beta=beta, scheme=name, save_at=[0.02, 0.05, 0.09], resume=ck, cfl=0.4)
    with pytest.raises(ValueError, match=r"u0_sha1"):
        solve_hj(u0 + 1.0, g, 0.1, beta=beta, scheme=name, save_at=[0.02, 0.05, 0.09], resume=ck)


def test_checkpoint_written_atomically_by_time(tmp_path, g1, u1):
    ck = tmp_path / "sub" / "c.h5"
    r = solve_hj(u1, g1, 0.05, scheme="godunov", checkpoint=ck, checkpoint_every=1e-9)
    assert ck.exists() and r.success
    assert not [p for p in ck.parent.iterdir() if p.name != "c.h5"]  # no temporary files left behind
    again = solve_hj(u1, g1, 0.05, scheme="godunov", resume=ck)  # resuming a finished run: same answer
    assert again.n_steps == r.n_steps and np.array_equal(again.u, r.u)
    with pytest.raises(FileNotFoundError):
        solve_hj(u1, g1, 0.05, scheme="godunov", resume=tmp_path / "missing.h5")


def test_progress_bar(g1, u1, capsys):
    solve_hj(u1, g1, 0.05, scheme="godunov", progress=True)
    err = capsys.readouterr().err
    assert "solve_hj[godunov]" in err


def test_callable_input_is_padded_and_cropped():
    g = Grid.uniform([(-1.0, 1.0)], 41)
    r = solve_hj(lambda p: np.abs(p[..., 0]), g, 0.5, scheme="godunov")
    assert r.u.shape == (41,) and r.params["padded"] and r.params["comp_shape"][0] > 41
    x = g.axes[0]
    huber = np.where(np.abs(x) <= 0.5, x ** 2 / 1.0, np.abs(x) - 0.25)
    assert np.abs(r.u - huber).max() < 0.03


def test_hdf5_round_trip(tmp_path, g1, u1):
    io = pytest.importorskip("deeprelax.io")
    r = solve_hj(u1, g1, 0.05, scheme="weno5", save_at=3)
    path = io.save(r, tmp_path / "r.h5")
    back = io.load(path)
    assert isinstance(back, HJResult)
    np.testing.assert_array_equal(back.u, r.u)
    np.testing.assert_array_equal(back.us, r.us)
    assert back.grid == r.grid and back.scheme == r.scheme and back.params["ghost"] == 3


@pytest.mark.slow
@pytest.mark.parametrize("name", ["godunov", "weno5"])
def test_threaded_and_serial_kernels_give_identical_results(name):
    g = Grid.uniform([(-1.0, 1.0), (-1.0, 1.0)], (40, 36), periodic=(True, False))
    X = g.mesh()
    u0 = -np.cos(np.pi * X[..., 0]) + 0.3 * X[..., 1] ** 2
    a = solve_hj(u0, g, 0.05, beta=5.0, scheme=name, parallel=False)
    b = solve_hj(u0, g, 0.05, beta=5.0, scheme=name, parallel=True)
    assert np.array_equal(a.u, b.u) and a.n_steps == b.n_steps


def test_fill_ghosts_never_reads_unset_ghost_memory():
    # ghosts of axes not yet filled may hold anything (np.empty): the pass along an axis must not
    # read them, so garbage there cannot overflow or leak into the result (a RuntimeWarning did)
    from solvers.boundary import fill_ghosts
    g = 2
    inner = np.random.default_rng(0).normal(size=(5, 6, 4))
    ref = np.zeros((9, 10, 8))
    ref[g:-g, g:-g, g:-g] = inner
    fill_ghosts(ref, g, (False, True, False))
    junk = np.random.default_rng(1).uniform(-1.0, 1.0, ref.shape) * 1e308
    junk[g:-g, g:-g, g:-g] = inner
    with np.errstate(all="raise"):
        fill_ghosts(junk, g, (False, True, False))
    assert np.array_equal(junk, ref)
    # linear extrapolation on the non-periodic axes, wrap on the periodic one
    np.testing.assert_allclose(ref[0, g:-g, g:-g], 3 * inner[0] - 2 * inner[1])
    np.testing.assert_array_equal(ref[g:-g, 0, g:-g], inner[:, -2])


def test_saved_times_follow_the_shared_driver_convention(g1, u1):
    # solve_hj and solve_fokker_planck save the same times for the same `save_at` (solvers._driver)
    from solvers.fokker_planck import solve_fokker_planck
    rho0 = np.exp(-4 * u1)
    for save_at in (None, 3, [0.01, 0.04], [0.04, 0.0, 0.04]):
        hj = solve_hj(u1, g1, 0.04, beta=5.0, scheme="godunov", save_at=save_at)
        fp = solve_fokker_planck(rho0, g1, 0.04, potential=u1, beta=1.0, save_at=save_at)
        np.testing.assert_array_equal(hj.ts, fp.ts)
        assert hj.us.shape == (len(hj.ts), 64)
    assert solve_hj(u1, g1, 0.0, save_at=4).ts.tolist() == [0.0]
