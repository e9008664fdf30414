"""DR Fig. 1 reproduction (paper-spec §4.1, §7 item 11): the paper's claim, asserted numerically.

Basins (see ``deeprelax.fig1``): those of the noise-free part g = x^2 + 1.5 sin(2 pi x),
whose local maxima (-0.776, 0.259, 1.293, 2.327) separate the coarse wells; the noise f_2
only adds shallow sub-wells inside them.
* trapped: [1.29, 3.0], from the maximum of g at 1.293 (g = 3.1, a barrier 1.66 above the
  well of g at 1.69; exp(-1.66 / 0.2) ~ 2e-4 for SGD at nu = 0.2) to the wall.  r0 starts on
  [2.08, 2.92]; at nu = 0.2 SGD may spill over the lower barrier at 2.33 into the 1.69 well,
  which is still "trapped" (far from 0), so that well is included.
* global: [-0.78, 0.26], the well of argmin f = -0.162.
* low region: [-0.78, 1.29], the global well plus its right neighbour (minimum of g at
  0.727, second-lowest well); both relaxed flows end there.
* what the recipe gives: the viscous density ends 74 % in the global well, the non-viscous one
  99.6 % in the neighbouring well (mode and mean at 0.73; see ``deeprelax.fig1``).
"""
import numpy as np
import pytest

from deeprelax.fig1 import GLOBAL_BASIN, NEIGHBOUR_BASIN, TRAPPED_BASIN, basin_mass, initial_density, run_fig1

LOW_REGION = (GLOBAL_BASIN[0], TRAPPED_BASIN[0])


@pytest.fixture(scope="module")
def fig1():
    return run_fig1(None)


def test_basins_match_landscape():
    from deeprelax import losses
    loss = losses.get("dr-fig1")
    x, f = loss.native_grid(), loss.native_values()
    g = x ** 2 + 1.5 * np.sin(2 * np.pi * x)
    imax = np.where((g[1:-1] > g[:-2]) & (g[1:-1] > g[2:]))[0] + 1
    for b in (GLOBAL_BASIN[0], GLOBAL_BASIN[1], TRAPPED_BASIN[0]):
        assert np.min(np.abs(x[imax] - b)) < 0.02          # each bound is a maximum of g
    assert GLOBAL_BASIN[0] < x[np.argmin(f)] < GLOBAL_BASIN[1]
    r0 = initial_density(x)
    assert basin_mass(x, r0, TRAPPED_BASIN) == pytest.approx(1.0, abs=1e-12)
    assert basin_mass(x, r0, (2.0, 3.0)) == pytest.approx(1.0, abs=1e-12)


def test_sgd_stays_trapped(fig1):
    trapped, glob, mean = fig1.masses["sgd"]
    assert trapped > 0.95
    assert glob < 1e-3
    assert 2.2 < mean < 2.7


@pytest.mark.parametrize("method", ["exact", "rouy_tourin", "weno5", "paper_script"])
def test_relaxed_flows_leave_the_trap(fig1, method):
    x = fig1.x
    for flow in ("viscous", "nonviscous"):
        rho = fig1.rho[f"{method}_{flow}"]
        assert basin_mass(x, rho, TRAPPED_BASIN) < 0.01, flow
        assert basin_mass(x, rho, LOW_REGION) > 0.95, flow
        assert fig1.masses[f"{method}_{flow}"][2] < 1.0, flow      # mean moved from 2.5 to below 1
    # the viscous flow carries most of the mass into the global well itself (74 %)
    assert basin_mass(x, fig1.rho[f"{method}_viscous"], GLOBAL_BASIN) > 0.7
    # what the authors' recipe gives for the non-viscous flow: the neighbouring well at x ~ 0.73, not the global one
    nv = fig1.rho[f"{method}_nonviscous"]
    assert basin_mass(x, nv, NEIGHBOUR_BASIN) > 0.99
    assert basin_mass(x, nv, GLOBAL_BASIN) < 0.01
    assert abs(x[np.argmax(nv)] - 0.73) < 0.03 and abs(fig1.masses[f"{method}_nonviscous"][2] - 0.73) < 0.02


def test_fd_matches_exact(fig1):
    # first-order Rouy-Tourin on dx = 0.012, fifth-order WENO much closer
    assert fig1.diffs["weno5_viscous"][0] < 5e-3
    assert fig1.diffs["weno5_nonviscous"][0] < 3e-2
    assert fig1.diffs["rouy_tourin_viscous"][0] < 0.1
    assert fig1.diffs["rouy_tourin_nonviscous"][0] < 0.3
    # the authors' scheme (Neumann walls on [-3, 3]) agrees with our Rouy-Tourin away from the walls
    inner = np.abs(fig1.x) <= 2.5
    for flow in ("viscous", "nonviscous"):
        d = np.abs(fig1.u[f"paper_script_{flow}"][-1] - fig1.u[f"rouy_tourin_{flow}"][-1])
        assert d[inner].max() < 0.05, flow
    for k in ("weno5_viscous", "weno5_nonviscous"):
        assert fig1.diffs[k][0] < fig1.diffs[k.replace("weno5", "rouy_tourin")][0]


def test_masses_and_save_roundtrip(fig1, tmp_path):
    from deeprelax.io import load, save
    for key, rho in fig1.rho.items():
        assert np.sum(rho) * (fig1.x[1] - fig1.x[0]) == pytest.approx(1.0, rel=1e-10)
        assert rho.min() > -1e-10
    assert np.array_equal(fig1.f, __import__("deeprelax.losses", fromlist=["get"]).get("dr-fig1").native_values())
    save(fig1, tmp_path / "f.h5")
    back = load(tmp_path / "f.h5")
    assert np.array_equal(back.rho["sgd"], fig1.rho["sgd"])
    assert np.array_equal(back.u["weno5_viscous"], fig1.u["weno5_viscous"])


def test_paper_script_hj_first_order_on_quadratic():
    # f = x^2/2: u(x, t) = x^2 / (2 (1 + t)) (Hopf-Lax) and + log(1 + t)/(2 beta) (viscous, beta = 1/a0).
    # Characteristics leave the domain (speed u_x = x/(1+t) points outwards), so the Neumann walls do not
    # reach |x| <= 2 by t = 0.1; the observed order of the first-order scheme is asserted.
    from deeprelax.fig1 import paper_script_hj
    for a0 in (0.0, 1.0):
        errs, hs = [], []
        for n in (61, 121, 241, 481):
            x = np.linspace(-3, 3, n)
            u = paper_script_hj(0.5 * x ** 2, x[1] - x[0], 0.1, a0, 1.0, 2)
            exact = x ** 2 / 2.2 + 0.5 * a0 * np.log(1.1)
            errs.append(np.abs(u[-1] - exact)[np.abs(x) <= 2].max())
            hs.append(x[1] - x[0])
        p = np.polyfit(np.log(hs), np.log(errs), 1)[0]
        assert 0.85 < p < 1.15, (a0, p, errs)   # measured 0.99 (a0 = 0), 1.00 (a0 = 1)
        assert errs[-1] < 0.02


def test_demo_fig1_stage_writes_outputs(tmp_path, capsys):
    from deeprelax.demo import run_demo
    assert run_demo(tmp_path, figures=False, validation=False) == 0
    out = capsys.readouterr().out
    for s in ("mass trapped", "exact_viscous", "paper_script_nonviscous", "weno5_viscous", "total demo time"):
        assert s in out
    assert (tmp_path / "fig1_smoothing.png").stat().st_size > 10_000
    assert (tmp_path / "fig1.h5").exists()
    assert "| sgd | 1.000 |" in (tmp_path / "summary.md").read_text()


@pytest.mark.parametrize("passed", [True, False])
def test_demo_exit_code_follows_validation(tmp_path, capsys, monkeypatch, passed):
    import deeprelax.validation as V
    from deeprelax.demo import run_demo

    def fake(out_dir, size="full", seed=0, **kw):
        c = V.Check(id="x", quantity="q", measured="1" if passed else "2", reference="1", criterion="equal",
                    passed=passed)
        return V.ValidationReport([c], size, (seed,), str(out_dir))

    monkeypatch.setattr(V, "run_validation", fake)
    assert run_demo(tmp_path, figures=False) == (0 if passed else 1)
    out = capsys.readouterr().out
    assert ("PASS: 1/1 checks" in out) if passed else ("FAIL: 0/1 checks" in out and "FAILED x" in out)
