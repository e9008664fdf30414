"""The compiled Fokker-Planck march (solvers._fp_march, driven by solvers._fp_stepper) against a Python twin of the per-step loop
it replaced, bit for bit; its pieces (NumPy-order sums, finiteness, mass fix); failure statuses."""
import math

import numpy as np
import pytest

from solvers import _fp_kernels as K
from solvers import _fp_march as M
from solvers import _fp_stepper as S
from solvers import jit
from solvers.errors import NonFiniteError, StabilityError
from solvers.fokker_planck import _plan, solve_fokker_planck
from solvers.fp_operator import _Problem
from solvers.grid import Grid


# ---------------------------------------------------------------------------- pieces
def test_pairwise_sum_is_numpys_sum_bit_for_bit(rng):
    for n in list(range(1, 300)) + [1000, 4097, 65536 + 13, 160000, 1 << 20]:
        a = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n)
        assert M.pairwise_sum(a, 0, n) == a.sum(), n
    a = rng.standard_normal((37, 41, 5))
    assert M.pairwise_sum(a.reshape(-1), 0, a.size) == a.sum()          # n-d C arrays sum as flat
    assert M.pairwise_sum(a.reshape(-1), 100, 1000) == a.reshape(-1)[100:1100].sum()


def test_all_finite_finds_any_nan_or_inf(rng):
    a = rng.standard_normal(1001)
    assert M.all_finite(a)
    for i in (0, 517, 1000):
        for v in (np.nan, np.inf, -np.inf):
            b = a.copy()
            b[i] = v
            assert not M.all_finite(b)
    assert M.all_finite(np.full(9, 1e308))          # finite values whose sum overflows are finite


def _fix_numpy(r, target, clip, vol):
    """The former NumPy mass fix."""
    clipped = corr = 0.0
    if clip and r.min() < 0:
        thr = 1e-13 * max(float(np.abs(r).max()), 1e-300)
        if r.min() >= -thr:
            neg = r < 0
            clipped = float(-r[neg].sum() * vol)
            r[neg] = 0.0
    m = float(r.sum())
    if m > 0 and target > 0:
        corr = abs(target / m - 1.0)
        r *= target / m
    return r, clipped, corr


@pytest.mark.parametrize("neg", [0.0, -1e-15, -1e-3])
def test_mass_fix_is_the_numpy_formula_bit_for_bit(rng, neg):
    r = rng.uniform(0.0, 2.0, 3000)
    r[[5, 77, 2999]] = neg * np.array([1.0, 0.5, 0.25])
    target = r.sum() * (1 + 3e-16)
    want, clipped, corr = _fix_numpy(r.copy(), target, True, 0.1)
    acc = np.zeros(2)
    got = r.copy()
    M.mass_fix(got, target, True, 0.1, acc)
    assert np.array_equal(got, want) and acc[0] == clipped and acc[1] == corr
    assert (acc[0] > 0) == (neg == -1e-15)           # only round-off negatives are clipped


# ---------------------------------------------------------------------------- twin of the former loop
def _twin(rho0, grid, T, method="implicit", dt=None, save_at=None, rannacher=2, **kw):
    """The per-step Python loop that solve_fokker_planck ran before the compiled march (diagonal D)."""
    pb = _Problem(grid, kw.get("potential"), kw.get("drift"), kw.get("beta", 1.0), kw.get("D"), None)
    periodic = grid.periodic
    d = grid.dim
    ts = np.array([0.0, T]) if save_at is None else np.linspace(0.0, T, save_at + 1)
    if dt is None:
        dt = 0.9 / float(pb.outflow(0.0).max()) if method == "explicit" else T / 100
    bufs = [np.empty_like(rho0) for _ in range(3)]

    def spare(*busy):
        return next(b for b in bufs if all(b is not x for x in busy))

    def fix(r, target):
        return _fix_numpy(r, target, True, grid.cell_volume)[0]

    def be(r, t0, h):
        src = r
        for k, (ap, am) in enumerate(pb.weights(t0 + h)):
            dst = spare(r, src)
            K.axis_step(src, ap, am, k, h, 0.0, dst, periodic[k])
            src = dst
        return fix(src, float(r.sum())) if any(periodic) else src

    def cn(r, t0, h):
        w = pb.weights(t0 + 0.5 * h)
        seq = [(0, h)] if d == 1 else ([(k, 0.5 * h) for k in range(d - 1)] + [(d - 1, h)]
                                       + [(k, 0.5 * h) for k in range(d - 2, -1, -1)])
        src = r
        for k, tau in seq:
            dst = spare(r, src)
            K.axis_step(src, w[k][0], w[k][1], k, 0.5 * tau, 0.5 * tau, dst, periodic[k])
            src = dst
        return fix(src, float(r.sum())) if any(periodic) else src

    rho, saved, steps = rho0.copy(), [rho0.copy()], 0
    for a, b, h, n in _plan(ts, T, dt):
        for i in range(n):
            t0 = a + i * h
            if method == "explicit":
                out = spare(rho)
                out[...] = rho
                for k, (ap, am) in enumerate(pb.weights(t0)):
                    K.apply_axis(rho, ap, am, k, h, out)
                rho = out
            elif method == "implicit":
                rho = be(rho, t0, h)
            elif steps < rannacher:
                rho = be(be(rho, t0, 0.5 * h), t0 + 0.5 * h, 0.5 * h)
            else:
                rho = cn(rho, t0, h)
            steps += 1
        saved.append(rho.copy())
    return np.stack(saved)


def _dw(P):
    return 0.25 * (P[..., 0] ** 2 - 1.0) ** 2 + 0.2 * np.sin(2 * P[..., -1])


CASES = [
    ("1d noflux", Grid.uniform([(-2, 2)], 41), {"potential": _dw, "beta": 3.0}),
    ("1d periodic drift", Grid.uniform([(0, 2 * np.pi)], 32, periodic=True),
     {"drift": lambda X: 1.0 + 0.5 * np.sin(X), "beta": 1.5}),
    ("2d mixed", Grid.uniform([(-2, 2), (-1.5, 1.5)], (13, 11), periodic=(False, True)),
     {"potential": _dw, "beta": 2.0, "D": [1.0, 0.5]}),
    ("3d periodic", Grid.uniform([(-1, 1)] * 3, (6, 5, 7), periodic=(True, False, True)),
     {"potential": _dw, "beta": 1.0, "D": 2.0}),
    ("2d time-dependent", Grid.uniform([(-2, 2), (-2, 2)], (12, 9)),
     {"potential": lambda X, t: 0.5 * ((X - np.sin(3 * t)) ** 2).sum(-1), "beta": 1.0}),
]


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("method", ["explicit", "implicit", "crank_nicolson"])
@pytest.mark.parametrize("name,grid,kw", CASES, ids=[c[0] for c in CASES])
def test_march_equals_the_former_per_step_loop_bit_for_bit(monkeypatch, name, grid, kw, method, threaded):
    if threaded:   # every sweep threaded (as on large grids), same numbers
        monkeypatch.setattr(jit, "PARALLEL_THRESHOLD", 1)
    X = grid.mesh()
    rho0 = np.ascontiguousarray(np.exp(-((X - 0.3) ** 2).sum(-1) / 0.4))
    if method == "explicit":
        dt = 0.5 / float(_Problem(grid, kw.get("potential"), kw.get("drift"), kw["beta"], kw.get("D"),
                                  None).outflow(0.0).max())
        T = 12 * dt
    else:
        T, dt = 0.2, 0.02
    r = solve_fokker_planck(rho0, grid, T, method=method, dt=dt, save_at=3, kl_reference=False, **kw)
    want = _twin(rho0, grid, T, method=method, dt=dt, save_at=3, **kw)
    assert r.n_steps >= 10 and r.params["linear_solver"] != "direct"
    assert np.array_equal(r.rhos, want)


def test_cpu_stepper_runs_the_whole_interval_in_one_compiled_call():
    g = Grid.uniform([(-2, 2)], 33)
    pb = _Problem(g, _dw, None, 2.0, None, None)
    plan = _plan(np.array([0.0, 1.0]), 1.0, 0.01)
    st = S.CpuStepper(pb, np.ones(g.shape), plan, "crank_nicolson", 2)
    calls = []
    orig = st._march
    st._march = lambda *a: calls.append(a) or orig(*a)
    assert st.advance(1.0, 1 << 62) == "success" and st.t == 1.0 and st.n_steps == 100
    assert len(calls) == 1                            # no Python between the 100 steps
    assert st.hmax == 0.01 and st.mass_correction == 0.0


# ---------------------------------------------------------------------------- failures: status, message
def test_nonfinite_status_message_and_raise_on_failure():
    g = Grid.uniform([(-2, 2)], 21)
    kw = dict(drift=np.full(g.shape + (1,), 1e308), dt=0.01, kl_reference=False)
    with np.errstate(over="ignore"):
        r = solve_fokker_planck(np.ones(g.shape), g, 1.0, raise_on_failure=False, save_at=4, **kw)
        assert r.status == "nonfinite" and not r.success and r.n_steps == 1
        assert r.ts.tolist() == [0.0] and r.rhos.shape == (1, 21) and not np.isfinite(r.rho).all()
        assert "non-finite at t = 0.01 (step 1" in r.message and "Fix:" in r.message
        with pytest.raises(NonFiniteError, match=r"non-finite at t = 0.01 \(step 1"):
            solve_fokker_planck(np.ones(g.shape), g, 1.0, **kw)


def test_time_dependent_explicit_step_above_the_limit_is_unstable():
    g = Grid.uniform([(-2, 2)], 41)

    def f(X, t):                        # the drift steepens with t: the limit at t = 0 fails later
        return 0.5 * (1.0 + 400.0 * t) * X[..., 0] ** 2

    with pytest.raises(StabilityError, match=r"exceeds the forward-Euler positivity limit .* at t = "):
        solve_fokker_planck(np.ones(g.shape), g, 0.2, potential=f, beta=5.0, method="explicit")
    r = solve_fokker_planck(np.ones(g.shape), g, 0.2, potential=f, beta=5.0, method="explicit",
                            raise_on_failure=False)
    assert r.status == "unstable" and 0 < r.n_steps and "at t = " in r.message
    assert np.isfinite(r.rho).all() and math.isclose(r.mass[0], r.rho.sum() * g.cell_volume)


def test_progress_bar_does_not_change_the_numbers(capsys):
    pytest.importorskip("tqdm")
    g = Grid.uniform([(-2, 2), (-2, 2)], 30)
    X = g.mesh()
    rho0 = np.exp(-(X ** 2).sum(-1))
    a = solve_fokker_planck(rho0, g, 0.5, potential=_dw, method="crank_nicolson", save_at=2)
    b = solve_fokker_planck(rho0, g, 0.5, potential=_dw, method="crank_nicolson", save_at=2, progress=True)
    assert np.array_equal(a.rhos, b.rhos) and "fokker-planck" in capsys.readouterr().err
