"""Observers (`callback=`) of solve_hj and solve_fokker_planck through the one driver: called at the saved times
or every k steps with the state the solver has then, stopping on request (status "stopped_by_callback",
resumable), and never changing the numbers."""
import numpy as np
import pytest

from solvers.fokker_planck import solve_fokker_planck
from solvers.grid import Grid
from solvers.hj import solve_hj

G = Grid.uniform([(-1, 1)], 64, periodic=True)
U0 = -np.cos(np.pi * G.axes[0])
HJ = dict(beta=20.0, scheme="eno2")
GF = Grid.uniform([(-2, 2)], 41)
RHO0 = np.exp(-4 * (GF.axes[0] - 0.7) ** 2)
FP = dict(potential=lambda X: 0.25 * (X[..., 0] ** 2 - 1) ** 2, method="crank_nicolson", dt=0.01)


def _recorder():
    seen = []

    def cb(t, state):
        seen.append((t, state.copy()))
    return seen, cb


def test_hj_observer_sees_every_saved_state():
    seen, cb = _recorder()
    r = solve_hj(U0, G, 0.2, save_at=4, callback=cb, **HJ)
    assert [t for t, _ in seen] == r.ts.tolist() and len(seen) == 5
    assert all(np.array_equal(s, u) for (_, s), u in zip(seen, r.us))
    plain = solve_hj(U0, G, 0.2, save_at=4, **HJ)
    assert np.array_equal(plain.us, r.us) and plain.n_steps == r.n_steps


def test_hj_observer_every_k_steps_sees_the_state_after_those_steps():
    seen, cb = _recorder()
    r = solve_hj(U0, G, 0.2, callback=cb, callback_every=7, **HJ)
    plain = solve_hj(U0, G, 0.2, **HJ)
    assert np.array_equal(r.u, plain.u) and r.n_steps == plain.n_steps      # chunking changes nothing
    assert len(seen) == r.n_steps // 7 + 1 + (r.n_steps % 7 > 0)            # steps 0, 7, 14, ... and the end
    assert seen[0][0] == 0.0 and np.array_equal(seen[0][1], U0) and seen[-1][0] == 0.2
    for k in (1, 2):                                                        # the state after 7k steps
        part = solve_hj(U0, G, 0.2, max_steps=7 * k, raise_on_failure=False, **HJ)
        assert seen[k][0] == part.params["t_reached"] and np.array_equal(seen[k][1], part.u)


def test_hj_stop_on_request_then_resume_bit_for_bit(tmp_path):
    full = solve_hj(U0, G, 0.2, save_at=[0.05, 0.1, 0.15, 0.2], **HJ)
    ck = tmp_path / "hj.h5"
    calls = []

    def enough(t, u):
        calls.append(t)
        return bool(t >= 0.1)            # a NumPy bool works too

    r = solve_hj(U0, G, 0.2, save_at=[0.05, 0.1, 0.15, 0.2], callback=enough, checkpoint=ck, **HJ)
    assert r.status == "stopped_by_callback" and not r.success and "callback" in r.message
    assert calls == [0.05, 0.1] and r.ts.tolist() == [0.05, 0.1] and r.params["t_reached"] == 0.1
    assert np.array_equal(r.u, full.us[1])
    rest = solve_hj(U0, G, 0.2, save_at=[0.05, 0.1, 0.15, 0.2], resume=ck, **HJ)
    assert rest.success and np.array_equal(rest.us, full.us) and rest.n_steps == full.n_steps


def test_stop_iteration_stops_and_returned_lists_do_not():
    def raises(t, u):
        if t > 0:
            raise StopIteration
    r = solve_hj(U0, G, 0.2, save_at=4, callback=[lambda t, u: [t], raises], **HJ)
    assert r.status == "stopped_by_callback" and r.ts.tolist() == [0.0, 0.05]
    assert solve_hj(U0, G, 0.2, save_at=2, callback=lambda t, u: [1]).success


def test_observer_state_is_read_only_and_bad_arguments_raise_at_once():
    def scribble(t, u):
        u[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        solve_hj(U0, G, 0.1, callback=scribble)
    with pytest.raises(TypeError, match="`callback` must be a callable"):
        solve_hj(U0, G, 0.1, callback=3)
    with pytest.raises(TypeError, match="holding int"):
        solve_fokker_planck(RHO0, GF, 0.1, callback=[print, 3])
    with pytest.raises(ValueError, match="`callback_every` must be None"):
        solve_fokker_planck(RHO0, GF, 0.1, callback=print, callback_every=0)
    with pytest.raises(ValueError, match="`callback_every` must be None"):
        solve_hj(U0, G, 0.1, callback=print, callback_every=2.5)
    seen, cb = _recorder()
    assert solve_hj(U0, G, 0.0, callback=cb).ts.tolist() == [0.0] and len(seen) == 1


def test_fp_observers_stop_resume_and_every_k(tmp_path):
    full = solve_fokker_planck(RHO0, GF, 0.3, save_at=6, **FP)
    seen, cb = _recorder()
    r = solve_fokker_planck(RHO0, GF, 0.3, save_at=6, callback=cb, **FP)
    assert [t for t, _ in seen] == full.ts.tolist() and np.array_equal(np.stack([s for _, s in seen]), full.rhos)

    def left(t, rho):                    # stop once 5% of the mass is left of the barrier
        return rho[GF.axes[0] < 0].sum() * GF.cell_volume > 0.05
    ck = tmp_path / "fp.h5"
    r = solve_fokker_planck(RHO0, GF, 0.3, save_at=6, callback=left, checkpoint=ck, **FP)
    k = int(np.argmax([left(t, rho) for t, rho in zip(full.ts, full.rhos)]))
    assert r.status == "stopped_by_callback" and 0 < k < 6 and r.ts.size == k + 1
    assert np.array_equal(r.rho, full.rhos[k]) and "callback" in r.message
    rest = solve_fokker_planck(RHO0, GF, 0.3, save_at=6, resume=ck, **FP)
    assert rest.success and np.array_equal(rest.rhos, full.rhos)

    seen, cb = _recorder()
    r = solve_fokker_planck(RHO0, GF, 0.3, save_at=6, callback=cb, callback_every=4, **FP)
    assert np.array_equal(r.rhos, full.rhos) and len(seen) == 30 // 4 + 2
    part = solve_fokker_planck(RHO0, GF, 0.3, save_at=6, max_steps=8, raise_on_failure=False, **FP)
    assert np.array_equal(seen[2][1], part.rho)
