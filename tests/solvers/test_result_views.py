"""result.plot() and result.to_xarray() on every result class (solvers/views.py)."""
import sys

import numpy as np
import pytest

import deeprelax as dr
from deeprelax.local_entropy import estimate


@pytest.fixture(scope="module")
def results():
    dw = dr.losses.get("double-well")
    g1 = dw.grid(81)
    q2 = dr.losses.get("quadratic", A=[[2.0, 0.0], [0.0, 0.5]])
    g2 = q2.grid(21)
    rho0 = np.exp(-(g1.axes[0] - 1.0) ** 2 / 0.05)
    rho0 /= rho0.sum() * g1.cell_volume
    x = np.linspace(-1.5, 1.5, 5)[:, None]
    return {
        "hj": dr.solve_hj(dw, g1, 0.2, beta=4.0, scheme="eno2", save_at=[0.1, 0.2]),
        "hj2": dr.solve_hj(q2, g2, 0.2, scheme="godunov"),
        "hl": dr.hopf_lax(dw, g1, 0.2),
        "ch": dr.cole_hopf(q2, g2, 0.2, 2.0),
        "fp": dr.solve_fokker_planck(rho0, g1, 0.5, potential=dw, beta=4.0, save_at=4),
        "traj": dr.dynamics.sgld(dw, np.zeros((64, 1)), lr=0.01, beta=4.0, n_steps=50, save_every=10, rng=0),
        "traj2": dr.dynamics.sgld(q2, np.ones((16, 2)), lr=0.01, beta=4.0, n_steps=20, save_every=5, rng=0),
        "le": dr.local_entropy_grad(dw, x, t=0.3, beta=2.0, method="sgld", rng=0),
        "le_exact": estimate(dw, x, 0.3, 2.0, method="quadrature"),
    }


@pytest.mark.parametrize("key", ["hj", "hj2", "hl", "ch", "fp", "traj", "traj2", "le", "le_exact"])
def test_plot_draws_on_given_axes(results, key):
    plt = pytest.importorskip("matplotlib.pyplot")
    fig, ax = plt.subplots()
    out = results[key].plot(ax=ax)
    assert out is ax and (ax.get_lines() or ax.collections)
    assert ax.get_title()
    plt.close(fig)
    ax2 = results[key].plot()                 # new figure when ax is None
    assert ax2.figure is not fig
    plt.close(ax2.figure)


def test_to_xarray_coordinates_and_attributes(results):
    pytest.importorskip("xarray")
    r = results["hj"]
    ds = r.to_xarray()
    np.testing.assert_array_equal(ds["u"].values, r.u)
    np.testing.assert_array_equal(ds["x"].values, r.grid.axes[0])
    np.testing.assert_array_equal(ds["time"].values, r.ts)
    assert ds["grad"].dims == ("x", "component") and ds["us"].dims == ("time", "x")
    assert ds.attrs["beta"] == 4.0 and ds.attrs["scheme"] == "eno2" and "variance" in ds.attrs["t_meaning"]
    ds2 = results["ch"].to_xarray()
    assert ds2["u"].dims == ("x1", "x2") and ds2["mean"].shape == (21, 21, 2)
    fp = results["fp"].to_xarray()
    assert fp["kl"].dims == ("time",) and fp["rhos"].shape == (5, 81)
    tr = results["traj"].to_xarray()
    assert tr["xs"].dims == ("time", "chain", "component") and list(tr["step"].values) == [0, 10, 20, 30, 40, 50]
    le = results["le"].to_xarray()
    assert le["stderr"].shape == (5, 1) and le.attrs["method"] == "sgld"
    assert results["hl"].to_xarray().attrs["beta"] == np.inf
    df = ds["u"].to_dataframe()                # pandas for free
    assert len(df) == 81


def test_netcdf_round_trip(results, tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("scipy.io")
    ds = results["fp"].to_xarray()
    ds.to_netcdf(tmp_path / "fp.nc", engine="scipy")
    back = xr.load_dataset(tmp_path / "fp.nc", engine="scipy")
    np.testing.assert_allclose(back["rhos"].values, results["fp"].rhos)


def test_without_xarray_the_error_names_the_extra(results, monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r"deeprelax\[xarray\]"):
        results["hl"].to_xarray()


def test_result_without_a_view_says_so():
    p = dr.prox(dr.losses.get("quadratic", A=[[1.0]]), np.array([1.0]), t=0.5)
    with pytest.raises(NotImplementedError, match="ProxResult has no .plot"):
        p.plot()
