"""Issue 13 (reliability), science layer: io (GPU-free loading, atomic concurrent saves, foreign files,
temporaries, damaged files), CLI user errors, bench --quick, local_entropy quadrature domain, cole_hopf
at huge beta, complex input and minor validation of the deeprelax entry points."""
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

import deeprelax as dr
from deeprelax import cli, io
from deeprelax.plot import FigureData
import solvers
from solvers import Grid, cole_hopf, hopf_lax
from solvers import _files

ROOT = Path(__file__).resolve().parents[2]


def _env(**kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **kw)
    return env


# --------------------------------------------------------------------------- defect 1: GPU-free load
def test_load_needs_no_gpu_and_imports_only_the_defining_module(tmp_path):
    fd = tmp_path / "fd.h5"
    io.save(FigureData(data={"a": np.arange(3.0)}), fd)
    unknown = tmp_path / "unknown.h5"
    io.save(FigureData(data={"a": np.arange(3.0)}), unknown)
    with h5py.File(unknown, "r+") as h:
        h["result"].attrs["__class__"] = "NoSuchResult"
        del h["result"].attrs["__module__"]
    code = textwrap.dedent("""
        import json, sys
        import deeprelax
        from deeprelax import io
        before = set(sys.modules)
        r = io.load(sys.argv[1])
        new = sorted(set(sys.modules) - before)
        try:
            io.load(sys.argv[2])
            err = None
        except Exception as e:
            err = [type(e).__name__, str(e)]
        before = set(sys.modules)
        f1 = io.load(sys.argv[3])
        new_f1 = sorted(set(sys.modules) - before)
        cuda = sorted(m for m in sys.modules if m.startswith(("solvers._cuda_", "deeprelax._cuda", "numba.cuda")))
        print(json.dumps({"cls": type(r).__name__, "a": r.data["a"].tolist(), "new": new, "cuda": cuda,
                          "err": err, "f1": [type(f1).__name__, f1.u["a"].tolist()], "new_f1": new_f1}))
    """)
    from deeprelax.fig1 import Fig1Result      # the demo's cached Fig. 1 data, the other example

    g = Grid.uniform([(-1, 1)], 5)
    one = {"a": 1.0}
    fig1 = tmp_path / "fig1.h5"
    io.save(Fig1Result(x=g.axes[0], f=g.axes[0] ** 2, r0=np.ones(5), grid=g, taus={"a": 0.1},
                       u={"a": np.arange(5.0)}, rho={"a": np.ones(5)}, masses=one, diffs=one, timings=one), fig1)
    env = _env()
    env.pop("NUMBA_ENABLE_CUDASIM", None)     # the suite turns the simulator on; a user's machine does not
    out = subprocess.run([sys.executable, "-c", code, str(fd), str(unknown), str(fig1)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout.strip().splitlines()[-1])
    assert rep["cls"] == "FigureData" and rep["a"] == [0.0, 1.0, 2.0]
    assert rep["new"] in ([], ["deeprelax.plot"]) and rep["cuda"] == []
    assert rep["err"][0] == "ValueError" and "Unknown result class 'NoSuchResult'" in rep["err"][1]
    assert rep["f1"] == ["Fig1Result", [0.0, 1.0, 2.0, 3.0, 4.0]] and rep["new_f1"] == ["deeprelax.fig1"]


# --------------------------------------------------------------------------- defects 3, 5, 10: io.save
_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from deeprelax import io
    from deeprelax.plot import FigureData
    k = int(sys.argv[2])
    for i in range(10):
        io.save(FigureData(data={"a": np.full(2000, 1000.0 * k + i)}), sys.argv[1])
""")


def test_concurrent_saves_never_collide_and_readers_see_whole_files(tmp_path):
    path = tmp_path / "same.h5"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(k)], env=_env(),
                              stderr=subprocess.PIPE, text=True) for k in (1, 2)]
    reads = 0
    while any(p.poll() is None for p in procs):
        if path.exists():
            a = io.load(path).data["a"]
            assert a.shape == (2000,) and np.all(a == a[0]) and a[0] // 1000 in (1, 2)
            reads += 1
    errs = [p.stderr.read() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert io.load(path).data["a"][0] % 1000 == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.h5"]   # no temporary left behind
    assert reads > 0


def test_save_refuses_foreign_files_unless_overwrite(tmp_path):
    r = FigureData(data={"a": np.arange(3.0)})
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    with pytest.raises(FileExistsError, match=r"`path` .*notes\.txt.* not a deeprelax HDF5 file"):
        io.save(r, notes)
    assert notes.read_text() == "my notes"
    io.save(r, notes, overwrite=True)
    assert np.array_equal(io.load(notes).data["a"], np.arange(3.0))
    io.save(FigureData(data={"a": np.ones(2)}), notes)      # now ours: replaced without asking
    (tmp_path / "empty.h5").write_bytes(b"")
    io.save(r, tmp_path / "empty.h5")                       # an empty file holds nothing to lose
    with pytest.raises(IsADirectoryError, match="`path`"):
        io.save(r, tmp_path)


def test_save_cleans_up_on_failure_and_removes_stale_temporaries(tmp_path, monkeypatch):
    path = tmp_path / "x.h5"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [tmp_path / f".x.h5.{_files._host()}.{dead.pid}.zz9.tmp", tmp_path / "x.h5.tmp"]
    for p in stale:
        p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    io.save(FigureData(data={"a": np.arange(3.0)}), path)
    assert not any(p.exists() for p in stale)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io, "_write_result", boom)
    with pytest.raises(OSError, match=r"`path` .*x\.h5.* could not be written: No space left on device \(nothing"):
        io.save(FigureData(data={"a": np.zeros(3)}), path)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.h5"]
    assert np.array_equal(io.load(path).data["a"], np.arange(3.0))     # the old file is intact


def test_load_checks_shapes_and_damaged_files(tmp_path):
    g = Grid.uniform([(-1, 1)], 21)
    path = tmp_path / "hl.h5"
    io.save(hopf_lax(g.axes[0] ** 2, g, 0.1), path)
    with h5py.File(path, "r+") as h:
        del h["result/u"]
        h["result"].create_dataset("u", data=np.zeros(7))
    with pytest.raises(ValueError, match=r"field `u` .* shape \(7,\), but its grid \(21,\) needs \(21,\)"):
        io.load(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"`path` .*hl\.h5.* not a readable HDF5 file"):
        io.load(path)


# --------------------------------------------------------------------------- defects 9, 14: CLI
def _main(capsys, *argv):
    rc = cli.main(list(argv))
    err = capsys.readouterr().err
    return rc, err


def test_cli_user_errors_are_one_line(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    out = str(tmp_path / "o")
    cases = {
        ("smooth", "--loss", "double-well", "--t", "0.1", "--out", str(afile)): "exists and is not a directory",
        ("smooth", "--loss", "double-well", "--t", "0.1", "--out", str(afile / "sub")): "parent of the path is a file",
        ("fokker-planck", "--loss", "double-well", "--beta", "1", "--t", "0.1", "--out", str(afile)): "not a directory",
        ("validate", "--out", str(afile), "--size", "test"): "not a directory",
        ("sgd-noise", "--out", str(afile)): "not a directory",
        ("demo", "--out", str(afile)): "not a directory",
        ("experiment", "width", "--out", str(afile)): "not a directory",
        ("bench", "--quick", "--convergence-only", "--out", str(afile)): "not a directory",
        ("discrete", "figures", "--size", "tiny", "--out", str(afile)): "`--out`",
        ("discrete", "figures", "--size", "tiny", f"--out={afile / 'sub'}"): "parent of the path is a file",
        ("smooth", "--loss", "double-well", "--t", "0.1", "--shape", "50", "50", "--out", out):
            "`--shape` needs 1 value for the 1-D loss 'double-well'; got 2.",
        ("fokker-planck", "--loss", "rastrigin", "--beta", "1", "--t", "0.1", "--shape", "9", "9", "9", "--out", out):
            "`--shape` needs 1 or 2 values for the 2-D loss 'rastrigin'; got 3.",
        ("smooth", "--loss", "double-well", "--t", "0.1", "--shape", "2", "--out", out): "`--shape` must be integers >= 3",
        ("smooth", "--loss", "double-well", "--t", "-1", "--out", out): "`t` must be positive",
        ("smooth", "--loss", "double-well", "--t", "0.1", "--param", "dim", "--out", out): "`--param` expects KEY=VALUE",
        ("smooth", "--loss", "double-well", "--t", "0.1", "--param", "foo=1", "--out", out): "`--param`: loss",
        ("fokker-planck", "--loss", "double-well", "--beta", "1", "--t", "0.1", "--x0", "100", "--out", out):
            "`--x0` = [100.0] lies outside",
        ("fokker-planck", "--loss", "double-well", "--beta", "1", "--t", "0.1", "--x0", "1", "--sigma0", "0",
         "--out", out): "`--sigma0` must be positive",
        ("fokker-planck", "--loss", "double-well", "--beta", "1", "--t", "0.1", "--x0", "1", "--sigma0", "-1",
         "--out", out): "`--sigma0` must be positive",
    }
    for argv, msg in cases.items():
        rc, err = _main(capsys, *argv)
        assert rc == 2 and msg in err and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
        assert err.startswith(f"deeprelax {argv[0]}: error: ")
    monkeypatch.setenv("DEEPRELAX_MEMORY_BUDGET", "1MB")   # huge --shape: refused before allocating
    rc, err = _main(capsys, "smooth", "--loss", "rastrigin", "--t", "0.1", "--shape", "3000", "3000", "--out", out)
    assert rc == 2 and "MB of memory" in err and "grid.shape" in err


def test_cli_full_disk_debug_and_real_bugs(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "o")

    def full(*a, **k):
        raise OSError(28, "No space left on device", str(tmp_path / "o" / "x.h5"))

    monkeypatch.setattr(io, "save", full)
    rc, err = _main(capsys, "smooth", "--loss", "double-well", "--t", "0.1", "--out", out)
    assert rc == 2 and "No space left on device" in err and err.count("\n") == 1
    monkeypatch.setenv("DEEPRELAX_DEBUG", "1")
    with pytest.raises(OSError):
        cli.main(["smooth", "--loss", "double-well", "--t", "0.1", "--out", out])
    monkeypatch.delenv("DEEPRELAX_DEBUG")

    def bug(*a, **k):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "smooth", bug)
    with pytest.raises(KeyError):                     # real bugs keep their traceback
        cli.main(["smooth", "--loss", "double-well", "--t", "0.1", "--out", out])


def test_cli_error_in_a_real_process_has_no_traceback(tmp_path):
    (tmp_path / "afile").write_text("x")
    p = subprocess.run([sys.executable, "-m", "deeprelax.cli", "smooth", "--loss", "double-well", "--t", "0.1",
                        "--out", str(tmp_path / "afile")], env=_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [f"deeprelax smooth: error: `--out` {str(tmp_path / 'afile')!r} exists "
                                             f"and is not a directory; give a directory."]


def test_cli_smooth_huge_beta(tmp_path, capsys):
    rc = cli.main(["smooth", "--loss", "double-well", "--t", "0.1", "--beta", "1e300", "--shape", "101",
                   "--out", str(tmp_path)])
    assert rc == 0 and "[hopf-lax]" in capsys.readouterr().out


# --------------------------------------------------------------------------- defect 15: bench --quick
def _digest(paths):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_bench_quick_writes_nothing_committed(tmp_path, capsys):
    from deeprelax import bench

    committed = [ROOT / "README.md", *sorted((ROOT / "benchmarks" / "results").glob("*"))]
    before = _digest(committed)
    assert bench.run_bench(quick=True, skip_speed=True, out=tmp_path) == 0
    assert _digest(committed) == before
    assert (tmp_path / "convergence.md").exists() and (tmp_path / "speed.md").exists()
    assert "README not updated" in capsys.readouterr().out
    with pytest.raises(ValueError, match="must not write the committed"):
        bench.run_bench(quick=True, skip_speed=True, out=ROOT / "benchmarks" / "results")


def test_speed_rows_say_the_size_that_ran(tmp_path):
    from deeprelax import bench

    summ = bench._load("speed_summary", tmp_path)
    (tmp_path / "hopf_lax.json").write_text(json.dumps({
        "quick": True, "2d": [{"n": 512, "refine": "quadratic", "median_s": 0.05}],
        "1d_vs_brute": {"N": 1024, "ours_none_s": 1e-5, "numpy_brute_s": 0.01, "speedup_none": 1000.0}}))
    rows = {r["target"].split(" [")[0]: r for r in summ.collect()}
    r = rows["Hopf-Lax 2048^2 <= 0.15 s"]
    assert "[ran at 512^2, not 2048^2: not judged]" in r["target"] and r["met"] is None
    assert "ran at N=1024" in rows["Hopf-Lax 1-D N=4096 >= 1000x numpy brute force"]["target"]
    (tmp_path / "hj_quick.json").write_text(json.dumps({  # bench_hj --quick's file, read when hj.json is absent
        "quick": True, "godunov_step": {"modes": {"serial": {
            "numba 5-point stencil (reference)": {"wall_s": 1.0, "gcells_per_s": 1.0},
            "godunov step: ghosts + stage with fused CFL slopes": {"wall_s": 1.0, "gcells_per_s": 1.0}}}},
        "time_to_accuracy": {"scheme": "weno5", "n": 32, "wall_s": 0.01, "max_err": 1e-3},
        "peers": {"hj_reachability": {"n": 128, "wall_s": 1.0, "max_err": 2e-3},
                  "py_pde": {"skipped": False, "n": 256, "wall_s": 1.0, "max_err": 1e-3, "ours_wall_s": 0.1,
                             "ours_max_err": 1e-4}}}))
    rows = {r["target"].split(" [")[0]: r for r in summ.collect()}
    for target, label in [("Godunov step 2048^2 >= 50% of a 5-point stencil sweep (serial)",
                           "[size that ran not recorded: not judged]"),
                          ("time to hj_reachability's 512^2 accuracy >= 10x less wall time",
                           "[ran at 128^2, not 512^2: not judged]"),
                          ("viscous beta=10 1-D N=1024 t=1: py-pde's error or smaller, in less time",
                           "[ran at N=256, not N=1024: not judged]")]:
        assert label in rows[target]["target"] and rows[target]["met"] is None, rows[target]
    assert "QUICK RUN" in summ.to_markdown(summ.collect(), quick=True)


# --------------------------------------------------------------------------- defect 6: local entropy domain
def _brute_grad(loss, x, t, beta):
    """grad u = (x - <y>)/t by a log-sum-exp Riemann sum over a wide fine line (independent of the solvers)."""
    y = np.linspace(x - 40.0, x + 40.0, 2_000_001) if beta < 1 else np.linspace(x - 3.0, x + 3.0, 2_000_001)
    e = -beta * (loss.value(y[:, None]) + (x - y) ** 2 / (2 * t))
    w = np.exp(e - e.max())
    return (x - (w * y).sum() / w.sum()) / t


@pytest.mark.parametrize("t,beta", [(0.3, 1e4), (1.0, 2.0), (0.2, 0.05), (0.1, 1e5)])
@pytest.mark.parametrize("method", ["quadrature", "pde"])
def test_local_entropy_any_point_set(method, t, beta):
    dw = dr.losses.get("double-well")
    x = np.array([[0.5]])
    g = dr.local_entropy_grad(dw, x, t=t, beta=beta, method=method)
    ref = _brute_grad(dw, 0.5, t, beta)
    tol = 2e-4 if method == "quadrature" else 2e-3
    assert abs(g[0, 0] - ref) < tol * max(1.0, abs(ref)), (g, ref)
    # tightly clustered points: same answer as each alone
    g2 = dr.local_entropy_grad(dw, np.array([[0.5], [0.5 + 1e-9]]), t=t, beta=beta, method=method)
    assert abs(g2[0, 0] - ref) < tol * max(1.0, abs(ref))


def test_local_entropy_pde_boundary_errors_do_not_reach_the_point():
    # on an oscillating loss, characteristics enter the quadrature box: solve_hj on the box as given
    # returned grad u = 27.5 against 0.4987 here (extrapolated boundary values travelling inward)
    ras = dr.losses.get("rastrigin", dim=1)
    t, beta = 1.0, 1e4
    r = dr.local_entropy_grad(ras, np.array([[0.5]]), t, beta, method="pde", cells=401)
    assert abs(r[0, 0] - _brute_grad(ras, 0.5, t, beta)) < 1e-4
    # a case the pde method cannot do names the method that can
    with pytest.raises(solvers.StabilityError, match=r"method='pde' cannot solve .* Use method='quadrature'"):
        dr.local_entropy_grad(dr.losses.get("double-well"), np.array([[0.5]]), 3.0, 1e-3, method="pde")


# --------------------------------------------------------------------------- defect 7: cole_hopf, beta -> inf
def test_cole_hopf_huge_beta_is_hopf_lax():
    g = Grid.uniform([(-2, 2)], 201)
    x = g.axes[0]
    for f, beta in [(x ** 2, 1e18), (x ** 2, 1e308), (1e200 * x ** 2, 1.0)]:
        r = cole_hopf(f, g, 0.1, beta)
        hl = hopf_lax(f, g, 0.1)
        assert r.method == "hopf-lax" and "below round-off" in r.params["delegated"]
        assert np.array_equal(r.u, hl.u) and np.array_equal(r.mean, hl.prox)
    # just below the switch the viscous answer is within O(h^2) of it (linear-exact tends to the Hopf-Lax
    # solution of the piecewise-linear interpolant, hopf_lax refines quadratically): continuous up to O(h^2)
    f = x ** 2 + 0.3 * np.sin(3 * x)
    r = cole_hopf(f, g, 0.1, 1e15)
    assert r.method == "linear-exact"
    assert np.abs(r.u - hopf_lax(f, g, 0.1).u).max() < g.spacing[0] ** 2


# --------------------------------------------------------------------------- defects 11, 14: inputs
def test_complex_input_rejected_by_science_layer():
    dw = dr.losses.get("double-well")
    with pytest.raises(TypeError, match="`x` must be real"):
        dr.prox(dw, np.array([0.5 + 1j]), 1.0)
    with pytest.raises(TypeError, match="`x` must be real"):
        dr.local_entropy(dw, np.array([[0.5 + 0j]]), 0.3, 2.0)
    with pytest.raises(TypeError, match="`x0` must be real"):
        dr.dynamics.sgd(dw, np.array([0.5 + 0j]), lr=0.01, n_steps=2)
    fs = dr.losses.finite_sum("least-squares", n_samples=16)
    with pytest.raises(TypeError, match="`x` must be real"):
        dr.sgd_noise.diffusion_matrix(fs, np.array([0.1, 0.2 + 0j]))


def test_memory_guard_of_the_dynamics(monkeypatch):
    from solvers.errors import MemoryBudgetError

    monkeypatch.setenv("DEEPRELAX_MEMORY_BUDGET", "1MB")
    dw = dr.losses.get("double-well")
    x0 = np.zeros((1000, 1))
    for arg, call in [
            ("n_steps", lambda: dr.dynamics.sgd(dw, np.zeros(1), lr=0.1, n_steps=10 ** 12)),
            ("n_steps", lambda: dr.dynamics.sgld(dw, np.zeros(1), lr=0.1, n_steps=10 ** 12)),
            ("n_chains", lambda: dr.dynamics.sgd(dw, np.zeros(1), lr=0.1, n_steps=2, n_chains=10 ** 12)),
            ("save_every", lambda: dr.dynamics.sgd(dw, x0, lr=0.1, n_steps=1000, save_every=1)),
            ("save_every", lambda: dr.dynamics.entropy_sgd(dw, x0, t=0.3, lr=0.1, inner_lr=0.01, L=2,
                                                           n_steps=1000, save_every=1)),
            ("save_every", lambda: dr.dynamics.elastic_sgd(dw, x0, n_replicas=2, t=1.0, lr=0.1, n_steps=1000,
                                                           save_every=1)),
            ("n_epochs", lambda: dr.dynamics.parle(dw, np.zeros((2, 1)), n_replicas=2, nb=10 ** 6,
                                                   n_epochs=10 ** 6))]:
        with pytest.raises(MemoryBudgetError, match=rf"Change `{arg}`"):
            call()
    assert dr.dynamics.sgd(dw, np.zeros((4, 1)), lr=0.1, n_steps=10, save_every=2).xs.shape == (6, 4, 1)


def test_minor_validation_science_layer():
    dw = dr.losses.get("double-well")
    with pytest.raises(ValueError, match="`burn_in` must be an integer >= 0"):
        dr.dynamics.entropy_sgd(dw, np.full((2, 1), 1.2), t=0.3, beta=2.0, lr=0.05, inner_lr=0.005, L=10,
                                n_steps=2, burn_in=-1, rng=0)
    with pytest.raises(ValueError, match="at least one point"):
        dr.local_entropy_grad(dw, np.zeros((0, 1)), 0.3, 2.0)
    # a plain function is a loss now (deeprelax.losses.as_loss, issue 15); what is not one is a clear TypeError
    g = dr.local_entropy_grad(lambda x: (x ** 2).sum(-1), np.array([[0.5]]), 0.3, 2.0)
    assert abs(g[0, 0] - 2 * 0.5 / (1 + 2 * 0.3)) < 1e-4       # grad u of x^2: 2x / (1 + 2t) at any beta
    for call in (lambda: dr.local_entropy_grad(3, np.zeros((1, 1)), 0.3, 2.0),
                 lambda: dr.prox(3, np.zeros(1), 0.3)):
        with pytest.raises(TypeError, match="`loss` must be"):
            call()
    with pytest.raises(ValueError, match="no t makes the fixed-point iteration safe") as e:
        dr.prox(dw, np.array([3.0]), 1.0, method="fixed-point")
    assert "t < 0" not in str(e.value)
