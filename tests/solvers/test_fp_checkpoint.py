"""solve_fokker_planck on the driver's checkpoints: stop, resume bit for bit, refuse other problems, and the
checkpoint guards of issue 13 (path checked first, failed writes warn, checksum, foreign files) through the driver."""
import h5py
import numpy as np
import pytest

from solvers import _driver, backend
from solvers.checkpoint import write_checkpoint
from solvers.errors import CheckpointError, CheckpointWarning
from solvers.fokker_planck import solve_fokker_planck
from solvers.grid import Grid

FIELDS = ("rho", "ts", "rhos", "mass", "min_rho", "free_energy", "kl")


def _dw(P):
    return 0.25 * (P[..., 0] ** 2 - 1.0) ** 2 + 0.3 * np.sin(P[..., -1])


CASES = [
    ("2d periodic CN", Grid.uniform([(-2, 2), (0, 2 * np.pi)], (17, 16), periodic=(False, True)),
     dict(potential=_dw, beta=2.0, method="crank_nicolson", dt=0.01)),
    ("1d explicit time-dependent", Grid.uniform([(-2, 2)], 41),
     dict(potential=lambda X, t: 0.5 * (X[..., 0] - np.sin(3 * t)) ** 2, method="explicit")),
    ("2d full D direct", Grid.uniform([(-2, 2)] * 2, (13, 11)),
     dict(potential=_dw, D=[[1.0, 0.3], [0.3, 0.7]], method="implicit", dt=0.01)),
]


def _same(a, b):
    for f in FIELDS:
        assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True), f
    assert a.n_steps == b.n_steps and a.dt == b.dt
    assert a.params["mass_correction"] == b.params["mass_correction"]
    assert a.params["clipped_mass"] == b.params["clipped_mass"]


@pytest.mark.parametrize("name,grid,kw", CASES, ids=[c[0] for c in CASES])
def test_stop_and_resume_is_bit_identical(tmp_path, name, grid, kw):
    X = grid.mesh()
    rho0 = np.exp(-((X - 0.4) ** 2).sum(-1))
    full = solve_fokker_planck(rho0, grid, 0.2, save_at=4, **kw)
    path = tmp_path / "fp.h5"
    part = solve_fokker_planck(rho0, grid, 0.2, save_at=4, checkpoint=path, max_steps=full.n_steps // 2 + 1, **kw)
    assert part.status == "stopped" and part.n_steps == full.n_steps // 2 + 1 and "resume=" in part.message
    assert part.params["t_reached"] < 0.2 and part.ts.size < full.ts.size
    rest = solve_fokker_planck(rho0, grid, 0.2, save_at=4, checkpoint=path, resume=path, **kw)
    assert rest.status == "success"
    _same(rest, full)
    again = solve_fokker_planck(rho0, grid, 0.2, save_at=4, resume=path, **kw)   # the final checkpoint: no steps
    _same(again, full)


def test_resume_inside_the_rannacher_steps(tmp_path):
    """Crank-Nicolson's first `rannacher` steps are implicit half steps, counted across a resume."""
    g = Grid.uniform([(-2, 2)], 33)
    rho0 = np.exp(-4 * (g.axes[0] - 0.5) ** 2)
    kw = dict(potential=_dw, method="crank_nicolson", dt=0.02, rannacher=3, save_at=[0.05, 0.1])
    full = solve_fokker_planck(rho0, g, 0.1, **kw)
    path = tmp_path / "fp.h5"
    for k in (1, 2):                                     # resume a resumed run
        r = solve_fokker_planck(rho0, g, 0.1, checkpoint=path, resume=path if k > 1 else None, max_steps=k, **kw)
        assert r.status == "stopped" and r.n_steps == k
    _same(solve_fokker_planck(rho0, g, 0.1, resume=path, **kw), full)


def test_stop_at_and_a_different_problem_is_refused(tmp_path):
    g = Grid.uniform([(-2, 2)], 41)
    rho0 = np.exp(-g.axes[0] ** 2)
    path = tmp_path / "fp.h5"
    r = solve_fokker_planck(rho0, g, 1.0, potential=_dw, dt=0.01, checkpoint=path, stop_at=0.305)
    assert r.status == "stopped" and r.n_steps == 31 and r.params["t_reached"] >= 0.305
    with pytest.raises(CheckpointError, match="different problem or settings.*beta"):
        solve_fokker_planck(rho0, g, 1.0, potential=_dw, beta=2.0, dt=0.01, resume=path)
    with pytest.raises(CheckpointError, match="coef_sha1"):
        solve_fokker_planck(rho0, g, 1.0, potential=lambda X: 1.01 * _dw(X), dt=0.01, resume=path)
    with pytest.raises(CheckpointError, match="rho0_sha1"):
        solve_fokker_planck(1.5 * rho0, g, 1.0, potential=_dw, dt=0.01, resume=path)
    with pytest.raises(ValueError, match="`checkpoint_every` must be a positive int"):
        solve_fokker_planck(rho0, g, 1.0, checkpoint=path, checkpoint_every=0)
    with pytest.raises(ValueError, match="`max_steps` must be a non-negative int"):
        solve_fokker_planck(rho0, g, 1.0, max_steps=2.5)


def test_checkpoints_every_few_steps_do_not_change_the_numbers(tmp_path):
    g = Grid.uniform([(-2, 2), (-2, 2)], 24)
    X = g.mesh()
    rho0 = np.exp(-(X ** 2).sum(-1))
    a = solve_fokker_planck(rho0, g, 0.3, potential=_dw, method="crank_nicolson", save_at=3)
    b = solve_fokker_planck(rho0, g, 0.3, potential=_dw, method="crank_nicolson", save_at=3,
                            checkpoint=tmp_path / "c.h5", checkpoint_every=7)
    assert np.array_equal(a.rhos, b.rhos) and b.params["checkpoint_failures"] == []


# ---------------------------------------------------------------- issue 13's checkpoint guards, through the driver
G1 = Grid.uniform([(-2, 2)], 41)
RHO1 = np.exp(-G1.axes[0] ** 2)


def test_checkpoint_path_checked_before_the_first_step(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="`checkpoint`"):
        solve_fokker_planck(RHO1, G1, 0.1, checkpoint=tmp_path / "afile" / "ck.h5")
    with pytest.raises(IsADirectoryError, match="`checkpoint`"):
        solve_fokker_planck(RHO1, G1, 0.1, checkpoint=tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    with pytest.raises(FileExistsError, match="not a deeprelax HDF5 file"):
        solve_fokker_planck(RHO1, G1, 0.1, checkpoint=notes)
    assert notes.read_text() == "my notes"


def test_failed_checkpoint_write_warns_and_returns(tmp_path, monkeypatch):
    calls = []

    def flaky(path, **kw):
        calls.append(path)
        if len(calls) >= 2:
            raise OSError(28, "No space left on device")
        return write_checkpoint(path, **kw)

    monkeypatch.setattr(_driver, "write_checkpoint", flaky)
    ref = solve_fokker_planck(RHO1, G1, 0.1, potential=_dw, dt=0.01)
    with pytest.warns(CheckpointWarning, match="No space left on device"):
        r = solve_fokker_planck(RHO1, G1, 0.1, potential=_dw, dt=0.01, checkpoint=tmp_path / "ck.h5",
                                checkpoint_every=3)
    assert r.success and np.array_equal(r.rho, ref.rho)
    assert len(r.params["checkpoint_failures"]) == len(calls) - 1 >= 1


def test_corrupted_checkpoint_is_refused(tmp_path):
    ck = tmp_path / "ck.h5"
    solve_fokker_planck(RHO1, G1, 0.1, potential=_dw, dt=0.01, checkpoint=ck, max_steps=3)
    with h5py.File(ck, "r+") as f:
        bits = f["arrays/rho"][()].view(np.uint64)
        bits[:4] ^= np.uint64(1)            # the last mantissa bit of 4 values
        f["arrays/rho"][...] = bits.view(np.float64)
    with pytest.raises(CheckpointError, match=r"`resume` file .*ck\.h5.* corrupted"):
        solve_fokker_planck(RHO1, G1, 0.1, potential=_dw, dt=0.01, resume=ck)
    ck.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"`resume` file .*ck\.h5"):
        solve_fokker_planck(RHO1, G1, 0.1, potential=_dw, dt=0.01, resume=ck)


@pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no simulator")
@pytest.mark.parametrize("method", ["explicit", "crank_nicolson"])
def test_cuda_stop_and_resume(tmp_path, method):
    g = Grid.uniform([(-2, 2)], 16, periodic=True)
    rho0 = 1.0 + np.cos(np.pi * g.axes[0] / 2) ** 2
    kw = dict(drift=lambda X: 1.0 + 0.5 * np.sin(np.pi * X), beta=1.5, dt=0.02, backend="cuda", save_at=2,
              kl_reference=False, method=method)
    full = solve_fokker_planck(rho0, g, 0.1, **kw)
    path = tmp_path / "fp.h5"
    solve_fokker_planck(rho0, g, 0.1, checkpoint=path, max_steps=2, **kw)
    rest = solve_fokker_planck(rho0, g, 0.1, resume=path, **kw)
    _same(rest, full)
