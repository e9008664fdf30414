import json

import numpy as np
import pytest

from deeprelax import io, losses
from deeprelax.cli import main, smooth
from solvers import reference


@pytest.mark.slow
def test_smooth_writes_h5_png_and_summary(tmp_path, capsys):
    rc = main(["smooth", "--loss", "abs", "--t", "0.5", "--shape", "201", "--out", str(tmp_path)])
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("smooth abs t=0.5 beta=inf")
    h5 = list(tmp_path.glob("*.h5"))
    png = list(tmp_path.glob("*.png"))
    assert len(h5) == 1 and len(png) == 1 and png[0].stat().st_size > 10_000
    res = io.load(h5[0])
    x = res.grid.mesh()
    # Hopf-Lax of |x| is the Huber function
    np.testing.assert_allclose(res.u, reference.huber_u(x, 0.5), atol=1e-12)


def test_smooth_viscous_matches_closed_form(tmp_path):
    res, summ = smooth("quadratic", 0.5, 2.0, 201, tmp_path, quiet=True, plot=False)
    loss = losses.get("quadratic")
    x = res.grid.mesh()
    np.testing.assert_allclose(res.u, loss.exact_u(x, 0.5, 2.0), atol=1e-9)
    assert summ["argmin_u"][0] == pytest.approx(0.0, abs=1e-12)


def test_smooth_pde_reports_error_against_exact(tmp_path):
    res, summ = smooth("quadratic", 0.5, float("inf"), 101, tmp_path, method="pde", scheme="godunov",
                       quiet=True, plot=False)
    assert 0 < summ["max_err_vs_exact"] < 5e-2


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["smooth", "--loss", "nope", "--t", "1", "--out", str(tmp_path)]) == 2
    assert "valid names" in capsys.readouterr().err
    assert main(["smooth", "--loss", "abs", "--t", "-1", "--out", str(tmp_path)]) == 2
    assert "`t` must be positive" in capsys.readouterr().err


def test_losses_command(capsys):
    assert main(["losses"]) == 0
    assert "dr-fig1" in capsys.readouterr().out.split()


def test_fokker_planck_command_writes_h5_png(tmp_path, capsys):
    rc = main(["fokker-planck", "--loss", "double-well", "--beta", "4", "--t", "1", "--x0", "1.5",
               "--sigma0", "0.2", "--shape", "201", "--out", str(tmp_path)])
    assert rc == 0
    assert "KL(rho_t||Gibbs)" in capsys.readouterr().out
    res = io.load(next(tmp_path.glob("fp_*.h5")))
    assert np.max(np.abs(res.mass - 1)) < 1e-12 and np.min(res.min_rho) >= 0
    assert np.all(np.diff(res.kl) <= 1e-12)  # relative entropy to Gibbs decreases
    assert next(tmp_path.glob("fp_*.png")).stat().st_size > 10_000


def test_fokker_planck_command_bad_beta(tmp_path, capsys):
    assert main(["fokker-planck", "--loss", "abs", "--beta", "-1", "--t", "1", "--out", str(tmp_path)]) == 2
    assert "beta" in capsys.readouterr().err


def _fake_check(passed):
    from deeprelax.validation import core

    return core.deterministic("fake", "q", "0", "0", "exact", passed)


@pytest.mark.parametrize("passed, code", [(True, 0), (False, 1)])
def test_validate_command_wiring_and_exit_code(tmp_path, capsys, monkeypatch, passed, code):
    import deeprelax.validation as V

    seen = {}

    def fake_group(cfg, seeds, figs):
        seen["size"], seen["seeds"] = cfg["size"], seeds
        return [_fake_check(passed)]

    V.group_names()
    monkeypatch.setitem(V._REGISTRY, "sgd_noise", fake_group)
    rc = main(["validate", "--out", str(tmp_path), "--size", "demo", "--seed", "7", "--groups", "sgd_noise"])
    assert rc == code
    assert seen == {"size": "demo", "seeds": tuple(7 + s for s in V.SEEDS["demo"])}
    js = json.loads((tmp_path / "validation.json").read_text())
    assert js["passed"] is passed and [c["id"] for c in js["checks"]] == ["fake"]
    assert ("PASS" if passed else "FAIL") in capsys.readouterr().out


def test_validate_command_rejects_unknown_group(tmp_path):
    assert main(["validate", "--out", str(tmp_path), "--groups", "nope"]) == 2


def test_sgd_noise_command_wiring(tmp_path, capsys, monkeypatch):
    import deeprelax.validation.sgd_noise as S
    from deeprelax.validation import core

    def fake(out_dir, size, seed):
        assert (size, seed) == ("test", 3)
        return [core.deterministic("q", "q", "1", "1", "exact", True), core.deterministic("r", "r", "2", "1", "exact", False),
                core.identity("i", "identity", 0.0, 1e-13)]

    monkeypatch.setattr(S, "run_sgd_noise_checks", fake)
    assert main(["sgd-noise", "--out", str(tmp_path), "--seed", "3"]) == 1
    out = capsys.readouterr().out
    assert "PASS  q" in out and "FAIL  r" in out and "1/2 passed" in out and "1/1 identities" in out
