"""Merged heat half-steps of split HJ steps on periodic 2-D and 3-D grids (solvers.heat.heat_spectral).

As in 1-D (tests/solvers/test_hj_heat_merge.py): the merged march agrees with the unmerged Strang rule
(the Python twin with the merge switched off: two heat_semigroup calls and two grid sums of the
gradient energy per step) up to round-off, with the same steps, cuts and retries, and a run does not
depend on how it is chunked (save times, callbacks, checkpoint and resume) bit for bit.
"""
import math
import warnings

import numpy as np
import pytest

from solvers import _hj_march as M
from solvers.grid import Grid
from solvers.heat import heat_apply, heat_spectral, heat_tables, spectral_tables
from solvers.hj import solve_hj
from solvers.schemes import SCHEMES


@pytest.mark.parametrize("shape, order", [((32, 24), 2), ((31, 17), 4), ((16, 12, 10), 2), ((15, 9, 7), 4)])
def test_heat_spectral_nd_is_the_heat_semigroup_and_its_energies(shape, order):
    d = len(shape)
    h = tuple(2.0 / n * (1.0 + 0.1 * k) for k, n in enumerate(shape))
    u = np.random.default_rng(len(shape) + order).standard_normal(shape)
    spec = spectral_tables(shape, h, order)
    tables = heat_tables(shape, h, (True,) * d, order)
    ta, tb = 0.3 * min(h) ** 2, 0.7 * min(h) ** 2
    g = 2  # strided views: the interiors of ghost-padded buffers, whose ghosts must stay untouched
    inner = (slice(g, -g),) * d
    up3 = (...,) + (None,) * (3 - d)
    P = np.zeros(tuple(n + 2 * g for n in shape))
    P[inner] = u
    Q = np.full_like(P, 7.0)
    g_a, g_b = heat_spectral(P[inner][up3], Q[inner][up3], spec, ta, tb)
    ref_a, ref_b = np.empty(shape), np.empty(shape)
    heat_apply(u, ref_a, tables, (True,) * d, ta)
    heat_apply(u, ref_b, tables, (True,) * d, ta + tb)
    np.testing.assert_allclose(Q[inner], ref_b, rtol=0, atol=1e-14 * np.abs(u).max())
    np.testing.assert_allclose(g_a, M.grad_energy(ref_a, h, (True,) * d), rtol=1e-12)
    np.testing.assert_allclose(g_b, M.grad_energy(ref_b, h, (True,) * d), rtol=1e-12)
    Q[inner] = 7.0
    assert np.all(Q == 7.0) and np.array_equal(P[inner], u)
    # cached factors: the same call again gives the same bits; in place works
    v = u.copy()
    assert heat_spectral(v[up3], v[up3], spec, ta, tb) == (g_a, g_b)
    out = np.empty(shape)
    heat_spectral(u[up3], out[up3], spec, ta, tb)
    np.testing.assert_array_equal(v, out)


def _problem(shape):
    d = len(shape)
    g = Grid.uniform([(-1.0, 1.0)] * d, shape, periodic=True)
    X = g.mesh()
    u0 = sum(-np.cos(np.pi * X[..., k]) * (1 + 0.2 * k) + 0.3 * np.sin(2 * np.pi * X[..., k] + k) for k in range(d))
    return g, u0 + 0.2 * np.sin(np.pi * (X[..., 0] + X[..., 1]))


def _march_pair(merged_and_twin, name, beta, shape, targets, mode):
    """The compiled march (merged) and the Python twin with the merge off, to ``targets`` (each a time, or
    ``(time, mode)`` to march there in that diffusion mode)."""
    g, u0 = _problem(shape)
    d, h, per = g.dim, tuple(g.spacing), (True,) * g.dim
    sch = SCHEMES[name]
    nu = 0.5 / beta
    t_final = max(x if not isinstance(x, tuple) else x[0] for x in targets)
    p = M.MarchParams(g=sch.ghost, ih=tuple(1.0 / x for x in h), q=tuple(1.0 / x ** 2 for x in h), periodic=per,
                      h3=h + (1.0,) * (3 - d), p3=per + (False,) * (3 - d), nu=nu, ham=sch.ham_code,
                      rk3=sch.integrator == "rk3", cfl=0.5,
                      dif_rate=sum(2.0 * nu * sch.diffusion_factor / x ** 2 for x in h), mode=mode,
                      max_dt=math.inf, t_final=t_final, split_rtol=M.SPLIT_RTOL,
                      x_target=0.9 * math.sqrt(6.0 * M.SPLIT_RTOL), err_floor=1e-13 * float(np.abs(u0).max()))
    assert M.merges_heat(p)
    return merged_and_twin(u0, h, per, sch, p, targets, mode)


@pytest.mark.parametrize("name, beta, shape, targets, mode", [
    ("weno5", 20.0, (24, 20), [0.05, 0.15], M.SPLIT),
    ("godunov", 1e-3, (20, 16), [0.01, 0.03], M.SPLIT),          # stiff: the accuracy control cuts steps
    ("eno2", 4.0, (12, 10, 8), [0.05, 0.1], M.SPLIT),
    ("eno2", 1.0, (20, 16), [(0.03, M.SPLIT), (0.06, M.EXPLICIT), (0.1, M.SPLIT)], M.SPLIT),
])
def test_merged_heat_nd_equals_unmerged_strang_to_roundoff(merged_and_twin, name, beta, shape, targets, mode):
    (sm, cm, nm), (su, cu, nu_) = _march_pair(merged_and_twin, name, beta, shape, targets, mode)
    assert nm[M.N_SPLIT] > 0
    if any(isinstance(x, tuple) and x[1] == M.EXPLICIT for x in targets):  # a pending half-step flushed
        assert nm[M.N_EXPLICIT] > 0
    np.testing.assert_array_equal(nm, nu_)  # the same steps, cuts and retries: the same controller decisions
    rest = [i for i in range(M.TAU_PENDING) if i != M.HAM_INT]
    np.testing.assert_allclose(cm[rest], cu[rest], rtol=1e-12)
    # the Hamiltonian integral estimate ~ 1/log(G0/G1): where a half-step leaves G1 at the round-off of the
    # grid values (stiff case) the grid sum sees that round-off and the spectral sum the exact decay
    np.testing.assert_allclose(cm[M.HAM_INT], cu[M.HAM_INT], rtol=1e-12 if beta > 1e-2 else 1e-2)
    if beta < 1e-2:
        assert nm[M.N_SPLIT_CUTS] > 0
    for a, b in zip(sm, su):  # (u0 is O(1); the stiff case flattens it to O(1e-3))
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


@pytest.mark.parametrize("shape, parallel", [((20, 16), False), ((20, 16), True), ((10, 9, 8), False)])
def test_merged_nd_runs_do_not_depend_on_chunking(tmp_path, shape, parallel):
    # parallel=True: the Python twin with the threaded kernels (the path of large grids), same merge
    g, u0 = _problem(shape)
    kw = dict(beta=2.0, scheme="eno2", diffusion="split", parallel=parallel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = solve_hj(u0, g, 0.2, save_at=[0.05, 0.2], **kw)
        assert full.params["n_split_steps"] == full.n_steps > 8
        seen = []
        observed = solve_hj(u0, g, 0.2, save_at=[0.05, 0.2], callback=lambda t, u: seen.append(u.copy()),
                            callback_every=3, **kw)
        stop = solve_hj(u0, g, 0.2, save_at=[0.05, 0.2], checkpoint=tmp_path / "c.h5", max_steps=7,
                        raise_on_failure=False, **kw)
        rest = solve_hj(u0, g, 0.2, save_at=[0.05, 0.2], resume=tmp_path / "c.h5", **kw)
    assert stop.status == "stopped" and rest.status == "success" and len(seen) > 3
    for r in (observed, rest):
        np.testing.assert_array_equal(r.u, full.u)
        np.testing.assert_array_equal(r.us, full.us)
        assert r.n_steps == full.n_steps
