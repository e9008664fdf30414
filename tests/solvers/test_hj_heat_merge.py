"""Merged heat half-steps of split HJ steps on periodic 1-D grids (solvers.heat.heat_spectral, the march).

The merge changes the arithmetic of split steps only at round-off: checked against the unmerged Strang
rule (the Python twin with the merge switched off), and a run must not depend on how it is chunked
(save times, checkpoints, resume) bit for bit.
"""
import math
import warnings

import numpy as np
import pytest

from solvers import _hj_march as M
from solvers.grid import Grid
from solvers.heat import exp_scaled, heat_apply, heat_spectral, heat_tables, spectral_tables
from solvers.hj import solve_hj
from solvers.schemes import SCHEMES


def test_exp_scaled_within_one_ulp():
    x = -np.linspace(0.0, 745.0, 100001)
    out, work = np.empty_like(x), np.empty_like(x)
    exp_scaled(x, 1.0, out, work)
    ref = np.exp(x)
    normal = ref > 1e-300
    assert np.all(np.abs(out - ref)[normal] <= np.spacing(ref[normal]))
    assert np.all(out[~normal] <= 1e-300) and out[0] == 1.0


@pytest.mark.parametrize("n, order", [(64, 2), (63, 4), (1024, 4)])
def test_heat_spectral_is_the_heat_semigroup_and_its_energies(n, order):
    h = 2.0 / n
    x = -1.0 + h * np.arange(n)
    u = np.cos(np.pi * x) + 0.3 * np.sin(6 * np.pi * x) + 0.01 * np.random.default_rng(1).standard_normal(n)
    spec = spectral_tables(n, h, order)
    tables = heat_tables((n,), (h,), (True,), order)
    ta, tb = 0.3 * h * h, 0.7 * h * h
    out = np.empty((n, 1, 1))
    g_a, g_b = heat_spectral(u[:, None, None], out, spec, ta, tb)
    ref_a, ref_b = np.empty(n), np.empty(n)
    heat_apply(u, ref_a, tables, (True,), ta)
    heat_apply(u, ref_b, tables, (True,), ta + tb)
    np.testing.assert_allclose(out[:, 0, 0], ref_b, rtol=0, atol=1e-14)
    np.testing.assert_allclose(g_a, M.grad_energy(ref_a, (h,), (True,)), rtol=1e-12)
    np.testing.assert_allclose(g_b, M.grad_energy(ref_b, (h,), (True,)), rtol=1e-12)
    # cached factors: the same call again gives the same bits; in place works
    v = u[:, None, None].copy()
    assert heat_spectral(v, v, spec, ta, tb) == (g_a, g_b)
    np.testing.assert_array_equal(v, out)


def _march_pair(merged_and_twin, name, beta, n, t, targets, mode=M.SPLIT):
    """The compiled march (merged) and the Python twin with the merge off, to ``targets`` (each a time, or
    ``(time, mode)`` to march there in that diffusion mode)."""
    g = Grid.uniform([(-1.0, 1.0)], n, periodic=True)
    x = g.axes[0]
    u0 = -np.cos(np.pi * x) + 0.3 * np.sin(2 * np.pi * x + 1.0)
    sch = SCHEMES[name]
    h = g.spacing[0]
    nu = 0.5 / beta
    p = M.MarchParams(g=sch.ghost, ih=(1.0 / h,), q=(1.0 / h ** 2,), periodic=(True,), h3=(h, 1.0, 1.0),
                      p3=(True, False, False), nu=nu, ham=sch.ham_code, rk3=sch.integrator == "rk3", cfl=0.5,
                      dif_rate=2.0 * nu * sch.diffusion_factor / h ** 2, mode=mode, max_dt=math.inf, t_final=t,
                      split_rtol=M.SPLIT_RTOL, x_target=0.9 * math.sqrt(6.0 * M.SPLIT_RTOL),
                      err_floor=1e-13 * float(np.abs(u0).max()))
    assert M.merges_heat(p)
    return merged_and_twin(u0, (h,), (True,), sch, p, targets, mode)


@pytest.mark.parametrize("name, beta, mode", [("weno5", 100.0, M.SPLIT), ("eno2", 2.0, M.SPLIT),
                                              ("godunov", 1e-3, M.SPLIT), ("eno2", 16.0, M.AUTO)])
def test_merged_heat_equals_unmerged_strang_to_roundoff(merged_and_twin, name, beta, mode):
    # beta = 1e-3: stiff, the split-accuracy control cuts steps (decided from the spectral energies);
    # 'auto' at beta = 16: explicit steps, then split ones
    (sm, cm, nm), (su, cu, nu_) = _march_pair(merged_and_twin, name, beta, 128, 0.2, [0.05, 0.2], mode)
    if mode == M.SPLIT:
        assert nm[M.N_SPLIT] == nm[M.STEP] > 0
    else:
        assert nm[M.N_SPLIT] > 0 and nm[M.N_EXPLICIT] > 0
    np.testing.assert_array_equal(nm, nu_)  # the same steps, cuts and retries
    rest = [i for i in range(M.TAU_PENDING) if i != M.HAM_INT]
    np.testing.assert_allclose(cm[rest], cu[rest], rtol=1e-12)
    # the estimated Hamiltonian integral ~ 1/x, x = log(G0/G1): where a half-step leaves a gradient energy
    # G1 below the round-off of the grid values (stiff case), the grid sum of the unmerged rule sees that
    # round-off and the spectral sum the exact decay, so x and the estimate differ there (0.09 % here)
    np.testing.assert_allclose(cm[M.HAM_INT], cu[M.HAM_INT], rtol=1e-12 if beta > 1 else 1e-2)
    if beta == 1e-3:
        assert nm[M.N_SPLIT_CUTS] > 0
    for a, b in zip(sm, su):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13 * np.abs(b).max())


def test_pending_half_step_applied_before_an_explicit_step(merged_and_twin):
    # split steps, then (same run, forced) explicit ones: the first explicit step starts from the state
    # with the last split step's pending half-step applied (in 'auto' runs of this equation the switch
    # goes the other way: max|grad u| does not grow under viscous HJ)
    targets = [(0.05, M.SPLIT), (0.1, M.EXPLICIT), (0.15, M.SPLIT)]
    (sm, cm, nm), (su, cu, nu_) = _march_pair(merged_and_twin, "eno2", 16.0, 128, 0.15, targets)
    assert nm[M.N_SPLIT] > 0 and nm[M.N_EXPLICIT] > 0
    np.testing.assert_array_equal(nm, nu_)
    for a, b in zip(sm, su):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13 * np.abs(b).max())


def test_merged_runs_do_not_depend_on_chunking(tmp_path):
    g = Grid.uniform([(-1.0, 1.0)], 96, periodic=True)
    u0 = -np.cos(np.pi * g.axes[0])
    kw = dict(beta=50.0, scheme="weno5", diffusion="split")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = solve_hj(u0, g, 0.3, save_at=[0.1, 0.3], **kw)
        assert full.params["n_split_steps"] == full.n_steps
        seen = []
        observed = solve_hj(u0, g, 0.3, save_at=[0.1, 0.3], callback=lambda t, u: seen.append(u.copy()),
                            callback_every=3, **kw)
        stop = solve_hj(u0, g, 0.3, save_at=[0.1, 0.3], checkpoint=tmp_path / "c.h5", max_steps=7,
                        raise_on_failure=False, **kw)
        rest = solve_hj(u0, g, 0.3, save_at=[0.1, 0.3], resume=tmp_path / "c.h5", **kw)
    assert stop.status == "stopped" and rest.status == "success" and len(seen) > 3
    for r in (observed, rest):
        np.testing.assert_array_equal(r.u, full.u)
        assert r.n_steps == full.n_steps
    np.testing.assert_array_equal(observed.us, full.us)
    np.testing.assert_array_equal(rest.us, full.us)
