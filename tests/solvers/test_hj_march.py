"""The compiled HJ time march against its Python twin (the former per-step loop), bit for bit."""
import math
import warnings

import numpy as np
import pytest

from solvers import _hj_march as M
from solvers._hj_steppers import CpuOps, CpuStepper, advance_python
from solvers.grid import Grid
from solvers.hj import solve_hj
from solvers.schemes import SCHEMES


def _problem(d, periodic, n):
    g = Grid.uniform([(-1.0, 1.0)] * d, n, periodic=periodic)
    X = g.mesh() if d > 1 else g.axes[0][:, None]
    u0 = sum(-np.cos(np.pi * X[..., k]) * (1 + 0.2 * k) + 0.3 * np.sin(2 * np.pi * X[..., k] + k) for k in range(d))
    if not periodic:
        u0 = u0 + 0.3 * (X ** 2).sum(-1)
    return g, u0


def _params(g, sch, beta, diffusion, t, vals):
    h, per, d = tuple(g.spacing), tuple(g.periodic), g.dim
    nu = 0.0 if math.isinf(beta) else 0.5 / beta
    return M.MarchParams(g=sch.ghost, ih=tuple(1.0 / x for x in h), q=tuple(1.0 / (x * x) for x in h), periodic=per,
                         h3=h + (1.0,) * (3 - d), p3=per + (False,) * (3 - d), nu=nu, ham=sch.ham_code,
                         rk3=sch.integrator == "rk3", cfl=0.5,
                         dif_rate=sum(2.0 * nu * sch.diffusion_factor / (x * x) for x in h),
                         mode={"auto": M.AUTO, "explicit": M.EXPLICIT, "split": M.SPLIT}[diffusion],
                         max_dt=math.inf, t_final=t, split_rtol=M.SPLIT_RTOL,
                         x_target=0.9 * math.sqrt(6.0 * M.SPLIT_RTOL), err_floor=1e-13 * float(np.abs(vals).max()))


CASES = [  # d, periodic, n, scheme, beta, diffusion, t, parallel
    (1, True, 64, "godunov", math.inf, "auto", 0.3, False),
    (1, False, 50, "lax_friedrichs", 20.0, "explicit", 0.2, False),
    (1, True, 64, "weno5", 1.0, "auto", 0.3, False),          # split
    (1, True, 64, "eno2", 1e-3, "auto", 0.05, False),         # stiff split: accuracy cuts
    (2, False, (16, 12), "eno2", 50.0, "auto", 0.15, True),
    (2, True, (16, 12), "engquist_osher", 2.0, "split", 0.15, False),
    (3, True, (8, 7, 6), "weno5", 5.0, "explicit", 0.05, False),
]


@pytest.mark.slow
@pytest.mark.parametrize("d, periodic, n, name, beta, diffusion, t, par", CASES)
def test_compiled_march_equals_python_loop(d, periodic, n, name, beta, diffusion, t, par):
    g, u0 = _problem(d, periodic, n)
    sch = SCHEMES[name]
    p = _params(g, sch, beta, diffusion, t, u0)
    targets = [t / 3, t]
    runs = []
    for compiled in (True, False):
        # the compiled march runs the serial kernels; the twin runs them threaded when `par` (same bits)
        st = (CpuStepper if compiled else CpuOps)(u0, sch.ghost, tuple(g.spacing), tuple(g.periodic), sch, par)
        clock, counts = M.new_clock(), np.zeros(5, np.int64)
        alpha = np.array(st.slopes(st.bufs[0])[0])
        order = np.array([0, 1, 2])
        codes, states = [], []
        for target in targets:
            for _ in range(1000):
                if compiled:
                    st.order[:] = order
                    code = st.advance(p, clock, counts, alpha, target, 7, -1, math.inf)  # budget: several calls
                    order[:] = st.order
                else:
                    code = advance_python(st, order, p, clock, counts, alpha, target, 7, -1, math.inf)
                codes.append(code)
                if code != M.BUDGET_USED:
                    break
            states.append(np.array(st.get_interior(st.bufs[order[0]])))
        runs.append((codes, states, clock.copy(), counts.copy(), alpha.copy()))
    (c1, s1, k1, n1, a1), (c2, s2, k2, n2, a2) = runs
    assert c1 == c2 and c1[-1] == M.REACHED_TARGET
    for x, y in zip(s1, s2):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(k1, k2)
    np.testing.assert_array_equal(n1, n2)
    np.testing.assert_array_equal(a1, a2)
    if beta == 1e-3:
        assert n1[M.N_SPLIT_CUTS] >= 1


def test_solve_hj_stops_and_budgets_like_before(tmp_path):
    g, u0 = _problem(1, True, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = solve_hj(u0, g, 0.3, beta=3.0, scheme="eno2", save_at=[0.1, 0.2, 0.3])
        stopped = solve_hj(u0, g, 0.3, beta=3.0, scheme="eno2", max_steps=5, raise_on_failure=False)
        # a checkpoint every 2 steps: the march returns to Python every 2 steps; same result
        ck = solve_hj(u0, g, 0.3, beta=3.0, scheme="eno2", save_at=[0.1, 0.2, 0.3], checkpoint=tmp_path / "c.h5",
                      checkpoint_every=2, progress=False)
    assert stopped.status == "stopped" and stopped.n_steps == 5
    np.testing.assert_array_equal(ck.u, full.u)
    np.testing.assert_array_equal(ck.us, full.us)
    assert ck.n_steps == full.n_steps
