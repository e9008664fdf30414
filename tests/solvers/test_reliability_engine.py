"""Issue 13 (reliability), engine part: memory guard, checkpoints (early check, failed writes, checksum,
atomic unique temporaries, foreign files), stiff split accuracy, complex input and minor validation
of solve_hj / solve_fokker_planck / hopf_lax / cole_hopf.

Memory guards are tested with a tiny budget (DEEPRELAX_MEMORY_BUDGET), never by allocating.
"""
import os
import re
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest

import solvers
from solvers import Grid, cole_hopf, hopf_lax, solve_fokker_planck, solve_hj
from solvers import _files, _memory
from solvers.checkpoint import read_checkpoint, write_checkpoint
from solvers.errors import CheckpointError, CheckpointWarning, MemoryBudgetError


@pytest.fixture
def g1():
    return Grid.uniform([(-1, 1)], 41, periodic=True)


@pytest.fixture
def u1(g1):
    return -np.cos(np.pi * g1.axes[0])


@pytest.fixture
def tiny_budget(monkeypatch):
    monkeypatch.setenv(_memory.ENV_VAR, "1MB")
    yield


# --------------------------------------------------------------------------- defect 2: memory guard
def test_memory_guard_names_save_at_and_size(tiny_budget):
    g = Grid.uniform([(-1, 1)], 101)
    with pytest.raises(MemoryBudgetError, match=r"Change `save_at`.*10001") as e:  # 10000 intervals: 10001 states
        solve_hj(np.zeros(101), g, 0.1, save_at=10_000)
    assert isinstance(e.value, MemoryError) and "16.2 MB" in str(e.value) and "1 MB" in str(e.value)
    with pytest.raises(MemoryBudgetError, match=r"solve_fokker_planck.*Change `save_at`"):
        solve_fokker_planck(np.ones(101), g, 0.1, save_at=10_000)


def test_memory_guard_names_grid_shape_and_pad(tiny_budget):
    g2 = Grid.uniform([(-1, 1), (-1, 1)], 300)
    f = lambda x: (x ** 2).sum(-1)  # noqa: E731
    for call in (lambda: hopf_lax(f, g2, 0.1), lambda: cole_hopf(f, g2, 0.1, 1.0),
                 lambda: solve_hj(np.zeros(g2.shape), g2, 0.1),
                 lambda: solve_fokker_planck(np.ones(g2.shape), g2, 0.1)):
        with pytest.raises(MemoryBudgetError, match=r"Change `grid.shape`: use a coarser grid than \(300, 300\)"):
            call()
    # a small grid whose padding for a callable u0 is what exceeds the budget
    g = Grid.uniform([(-1, 1)], 2001)
    with pytest.raises(MemoryBudgetError, match=r"Change `pad`.*pad=False"):
        solve_hj(lambda x: 50 * (x ** 2).sum(-1), g, 1.0, scheme="godunov")


def test_memory_guard_of_the_other_fokker_planck_entry_points(tiny_budget):
    from solvers import (explicit_dt_limit, fokker_planck_operator, fokker_planck_steady_state, gibbs,
                         probability_current)
    from solvers.ito_fokker_planck import ito_operator, ito_steady_state

    g = Grid.uniform([(-1, 1), (-1, 1)], 300)
    f = lambda x: (x ** 2).sum(-1)  # noqa: E731
    for name, call in [("fokker_planck_operator", lambda: fokker_planck_operator(g, potential=f)),
                       ("explicit_dt_limit", lambda: explicit_dt_limit(g, potential=f)),
                       ("fokker_planck_steady_state", lambda: fokker_planck_steady_state(g, potential=f)),
                       ("gibbs", lambda: gibbs(f, g)),
                       ("probability_current", lambda: probability_current(np.ones(g.shape), g, potential=f)),
                       ("ito_operator", lambda: ito_operator(g, potential=f)),
                       ("ito_operator", lambda: ito_steady_state(g, potential=f))]:
        with pytest.raises(MemoryBudgetError, match=rf"^{name} would need .*Change `grid.shape`: use a coarser "
                                                    r"grid than \(300, 300\)"):
            call()


def test_memory_budget_settings(monkeypatch, g1, u1):
    assert _memory.parse_bytes("2GiB") == 2 ** 31 and _memory.parse_bytes("500MB") == 5e8
    assert _memory.parse_bytes("off") == np.inf
    with pytest.raises(ValueError, match="memory budget"):
        _memory.parse_bytes("lots")
    monkeypatch.setenv(_memory.ENV_VAR, "off")
    assert solve_hj(u1, g1, 0.01, save_at=3).us.shape == (4, 41)
    try:
        solvers.set_memory_budget("10kB")       # the in-code setting wins over the environment
        assert solvers.memory_budget()[0] == 1e4
        with pytest.raises(MemoryBudgetError):
            solve_hj(u1, g1, 0.01, save_at=100)
    finally:
        solvers.set_memory_budget(None)
    monkeypatch.delenv(_memory.ENV_VAR)
    b, src = solvers.memory_budget()
    assert 0 < b < np.inf and "available" in src


# --------------------------------------------------------------------------- defect 4: checkpoint writes
def test_checkpoint_path_checked_before_first_step(tmp_path, g1, u1):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="`checkpoint`"):
        solve_hj(u1, g1, 0.05, checkpoint=tmp_path / "afile" / "ck.h5")
    with pytest.raises(IsADirectoryError, match="`checkpoint`"):
        solve_hj(u1, g1, 0.05, checkpoint=tmp_path)


def test_failed_checkpoint_write_warns_and_returns(tmp_path, g1, u1, monkeypatch):
    import solvers._driver as driver  # solve_hj writes its checkpoints through the driver

    calls = []

    def flaky(path, **kw):
        calls.append(path)
        if len(calls) >= 2:
            raise OSError(28, "No space left on device")
        return write_checkpoint(path, **kw)

    monkeypatch.setattr(driver, "write_checkpoint", flaky)
    ref = solve_hj(u1, g1, 0.05, scheme="godunov")
    with pytest.warns(CheckpointWarning, match="No space left on device"):
        r = solve_hj(u1, g1, 0.05, scheme="godunov", checkpoint=tmp_path / "ck.h5", checkpoint_every=2)
    assert r.success and np.array_equal(r.u, ref.u)
    assert len(r.params["checkpoint_failures"]) == len(calls) - 1 >= 1


# --------------------------------------------------------------------------- defect 8: checksum
def _checkpointed(tmp_path, g1, u1):
    ck = tmp_path / "ck.h5"
    solve_hj(u1, g1, 0.05, scheme="godunov", checkpoint=ck, max_steps=3)
    return ck


def test_checkpoint_bit_flips_detected(tmp_path, g1, u1):
    ck = _checkpointed(tmp_path, g1, u1)
    with h5py.File(ck, "r+") as f:
        u = f["arrays/u"][()]
        bits = u.view(np.uint64)
        bits[:8] ^= np.uint64(1)            # flip the last mantissa bit of 8 values
        f["arrays/u"][...] = bits.view(np.float64)
    with pytest.raises(CheckpointError, match=r"`resume` file .*ck\.h5.* corrupted"):
        solve_hj(u1, g1, 0.05, scheme="godunov", resume=ck)


@pytest.mark.parametrize("damage", ["truncated", "empty", "random"])
def test_broken_checkpoint_files_name_resume_and_file(tmp_path, g1, u1, damage):
    ck = _checkpointed(tmp_path, g1, u1)
    data = ck.read_bytes()
    ck.write_bytes({"truncated": data[: len(data) // 2], "empty": b"",
                    "random": np.random.default_rng(0).bytes(len(data))}[damage])
    with pytest.raises(CheckpointError, match=r"`resume` file .*ck\.h5"):
        solve_hj(u1, g1, 0.05, scheme="godunov", resume=ck)


def test_version1_checkpoint_without_checksum_warns(tmp_path):
    ck = tmp_path / "old.h5"
    write_checkpoint(ck, config={"a": 1.5}, scalars={"t": 0.1}, arrays={"u": np.arange(3.0)})
    with h5py.File(ck, "r+") as f:
        del f.attrs["sha256"]
        f.attrs["version"] = 1
    with pytest.warns(CheckpointWarning, match="without a checksum"):
        cfg, sc, arr = read_checkpoint(ck)
    assert cfg == {"a": 1.5} and np.array_equal(arr["u"], np.arange(3.0))


# --------------------------------------------------------------------------- defects 5 and 10: files
def test_checkpoint_refuses_foreign_file(tmp_path, g1, u1):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    with pytest.raises(FileExistsError, match="not a deeprelax HDF5 file; refusing to replace it. Choose "
                                              "another path or delete the file.$"):
        solve_hj(u1, g1, 0.05, checkpoint=notes)
    assert notes.read_text() == "my notes"


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_removed_and_failures_clean_up(tmp_path, monkeypatch):
    target = tmp_path / "ck.h5"
    pid = _dead_pid()
    stale = [tmp_path / f".ck.h5.{_files._host()}.{pid}.abc123.tmp", tmp_path / f".ck.h5.tmp-{pid}"]
    for p in stale:
        p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    alive = tmp_path / f".ck.h5.{_files._host()}.{os.getpid()}.live1.tmp"   # a live writer's file stays
    alive.write_bytes(b"x")
    write_checkpoint(target, config={}, scalars={}, arrays={"u": np.zeros(3)})
    assert not any(p.exists() for p in stale) and alive.exists()
    alive.unlink()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(OSError, match="No space"):
        write_checkpoint(target, config={}, scalars={}, arrays={"u": np.ones(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.h5"]   # no temporary left, old file intact
    monkeypatch.undo()
    assert np.array_equal(read_checkpoint(target)[2]["u"], np.zeros(3))


def test_written_files_keep_ordinary_permissions(tmp_path):
    # the atomic temporary is created 0600; the file it becomes has the mode an ordinary write gives,
    # or keeps the mode of the file it replaces
    target = tmp_path / "ck.h5"
    mask = os.umask(0o022)
    os.umask(mask)
    write_checkpoint(target, config={}, scalars={}, arrays={"u": np.zeros(3)})
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    target.chmod(0o640)
    write_checkpoint(target, config={}, scalars={}, arrays={"u": np.ones(3)})
    assert target.stat().st_mode & 0o777 == 0o640


# --------------------------------------------------------------------------- defect 13: stiff split steps
def test_stiff_viscous_split_is_accurate():
    # issue 13 repro: 3 split steps gave -6.6e-6 against the exact -2.5e-4 (97 % error)
    g = Grid.uniform([(-1, 1)], 256, periodic=True)
    u0 = -np.cos(np.pi * g.axes[0])
    exact = cole_hopf(u0, g, 0.2, 1e-3).u          # resolved quadrature: exact to round-off here
    assert abs(exact.mean() + 2.5e-4) < 1e-9       # -1/(8 nu) = -beta/4 for -cos(pi x)
    r = solve_hj(u0, g, 0.2, beta=1e-3, scheme="godunov")
    assert np.abs(r.u - exact).max() < 5e-3 * np.abs(exact).max()
    assert r.params["n_split_accuracy_cuts"] >= 1 and r.n_steps < 100   # not the ~1e6 explicit steps


# --------------------------------------------------------------------------- defects 11, 14: inputs
def test_complex_input_rejected_by_engine(g1, u1):
    c = u1 + 0j
    with pytest.raises(TypeError, match="`u0` must be real"):
        solve_hj(c, g1, 0.05)
    with pytest.raises(TypeError, match="`u0` must return real values"):
        solve_hj(lambda x: (x ** 2).sum(-1) + 0j, Grid.uniform([(-1, 1)], 41), 0.05)
    with pytest.raises(TypeError, match="`f` must be real"):
        hopf_lax(c, g1, 0.05)
    with pytest.raises(TypeError, match="`f` must be real"):
        hopf_lax(lambda x: (x ** 2).sum(-1) + 1j, Grid.uniform([(-1, 1)], 41), 0.05)
    with pytest.raises(TypeError, match="`f` must be real"):
        cole_hopf(c, g1, 0.05, 1.0)
    with pytest.raises(TypeError, match="`beta` must be real"):
        cole_hopf(u1, g1, 0.05, np.complex128(1.0))
    rho = np.exp(-u1)
    with pytest.raises(TypeError, match="`rho0` must be real"):
        solve_fokker_planck(rho + 0j, g1, 0.1)
    with pytest.raises(TypeError, match="`potential` must be real"):
        solve_fokker_planck(rho, g1, 0.1, potential=c)
    with pytest.raises(TypeError, match="`D` must be real"):
        solve_fokker_planck(rho, g1, 0.1, D=1 + 1j)
    with pytest.raises(TypeError, match="`t` must be real"):
        solve_fokker_planck(rho, g1, np.complex128(0.1))
    from solvers.ito_fokker_planck import ito_current, ito_operator

    g2 = Grid.uniform([(-1, 1)] * 2, 9)
    f2 = lambda x: (x ** 2).sum(-1)  # noqa: E731
    for name, call in [("potential", lambda: ito_operator(g2, potential=g2.sample(f2) + 0j)),
                       ("potential(x)", lambda: ito_operator(g2, potential=lambda x: f2(x) + 0j)),
                       ("force(x)", lambda: ito_operator(g2, force=lambda x: x + 0j)),
                       ("D", lambda: ito_operator(g2, potential=f2, D=np.eye(2) + 0j)),
                       ("rho", lambda: ito_current(np.ones(g2.shape) + 0j, g2, potential=f2))]:
        with pytest.raises(TypeError, match=rf"`{re.escape(name)}` must be real"):
            call()


def test_minor_validation_engine(g1, u1):
    with pytest.raises(ValueError, match="checkpoint_every"):
        solve_hj(u1, g1, 0.05, checkpoint_every=float("nan"))
    for bad in (-1, 2.5, True):
        with pytest.raises((TypeError, ValueError), match="`rannacher` must be an integer >= 0"):
            solve_fokker_planck(np.exp(-u1), g1, 0.1, method="crank_nicolson", rannacher=bad)
    with pytest.raises(TypeError, match="`save_at` must be None, an int"):
        solve_fokker_planck(np.exp(-u1), g1, 0.1, save_at=True)
    with pytest.raises(TypeError, match="`save_at` must be None, an int"):
        solve_hj(u1, g1, 0.05, save_at=True)


# --------------------------------------------------------------------------- found by the property tests
def test_periodic_images_are_bounded_for_huge_oscillation_or_t():
    # hopf_lax asked for sqrt(osc / a) periodic images per side: 5e7 for osc 2e10, i.e. an OOM kill
    g = Grid.uniform([(0, 1)], 8, periodic=True)
    f = 1e10 * np.sin(2 * np.pi * g.axes[0])
    r = hopf_lax(f, g, 1e3)
    assert r.params["periodic_images"][0] <= 8 and np.allclose(r.u, f.min())   # min over one period suffices
    assert np.isfinite(cole_hopf(f, g, 1e3, 1.0, method="quadrature").u).all()
    with pytest.raises(MemoryBudgetError, match=r"Change `t`: on periodic axis 0 the heat kernel"):
        cole_hopf(np.sin(2 * np.pi * g.axes[0]), g, 1e20, 1.0)   # > 1e11 images: the solution is ~constant


def test_envelope_overflow_and_underflowed_weights_are_clear_errors():
    g = Grid.uniform([(0, 1e-3)], 4)
    with pytest.raises(ValueError, match=r"`t` = 1000 is too large for the grid and data"):
        # f t / h^2 = inf: the envelope returned u = 1e300 > f here (and indexed out of bounds elsewhere)
        hopf_lax(np.array([1e300, 0.0, -1e300, 0.0]), g, 1e3)
    with pytest.raises(ValueError, match="`t` = .* is too large .* beta = 1e-300"):
        cole_hopf(np.zeros(4), g, 2.2e16, 1e-300)   # ZeroDivisionError
    g7 = Grid.uniform([(0, 1)], 7)
    spike = np.zeros(7)
    spike[0] = -6e11
    with pytest.raises(solvers.NonFiniteError, match=r"beta t \|f'\|\^2 / 2 = .* beyond float64 precision"):
        cole_hopf(spike, g7, 1.0, 1.0, method="linear-exact")   # ZeroDivisionError from the kernel


def test_fokker_planck_refuses_astronomical_step_counts():
    # explicit steps at the positivity limit of a steep drift: 1.9e8 steps (hours), 1e302 for f ~ 1e300
    g = Grid.uniform([(0, 1)], 30)
    for amp in (1e6, 1e300):
        with pytest.raises(solvers.StabilityError, match=r"would take .* steps .* positivity limit.*method=.implicit."):
            solve_fokker_planck(np.ones(30), g, 1.0, potential=amp * np.sin(6 * g.axes[0]), beta=1e6,
                                method="explicit")
    with pytest.raises(solvers.StabilityError, match=r"`dt` = 1e-300"):
        solve_fokker_planck(np.ones(30), g, 1.0, dt=1e-300)


# --------------------------------------------------------------------------- defect 12: grids
def test_grid_validation_gaps():
    with pytest.raises(solvers.GridError, match=r"`shape` must be an integer number of nodes; got 10.5"):
        Grid.uniform([(-1, 1)], 10.5)                      # silently gave 10 nodes
    assert Grid.uniform([(-1, 1)], 10.0).shape == (10,)    # an integral float is fine
    with pytest.raises(solvers.GridError, match=r"`spacing` must be positive and finite \(h > 0\); got 0.0"):
        Grid.with_spacing([(-1, 1)], 0)                    # ZeroDivisionError
    with pytest.raises(solvers.GridError, match=r"gives 2e\+300 cells on axis 0"):
        Grid.with_spacing([(-1, 1)], 1e-300)               # a grid of 2e300 nodes
    with pytest.raises(solvers.GridError, match=r"the width hi - lo overflows float64"):
        Grid.uniform([(-1e308, 1e308)], 11)                # spacing inf
    with pytest.raises(solvers.GridError, match=r"below float64 resolution"):
        Grid.uniform([(0.0, 1e-320)], 5)
    assert Grid.with_spacing([(-1, 1)], 0.1).shape == (21,)
