"""dr.convergence_study recovers the known orders (against closed forms, exact semigroups, fine grids)."""
import numpy as np
import pytest

import deeprelax as dr
from solvers.convergence import fit_order, local_orders, nested_sizes, refinement_ratio, restrict
from solvers import reference as ref
from solvers.grid import Grid

T_SMOOTH = 0.5 / np.pi ** 2          # Jiang-Peng: before the kink of the cosine's Hopf-Lax solution


def test_fit_and_local_orders_exact_power_law():
    h = np.array([0.1, 0.05, 0.025, 0.0125])
    p, c = fit_order(h, 3.0 * h ** 2.5)
    assert abs(p - 2.5) < 1e-12 and abs(c - 3.0) < 1e-10
    np.testing.assert_allclose(local_orders(h, 3.0 * h ** 2.5), 2.5)
    # errors at round-off carry no order: left out of the fit, NaN local order
    e = np.array([1e-3, 1e-5, 1e-17, 1e-17])
    assert np.isnan(local_orders(h, e, floor=1e-14)[1:]).all()
    assert np.isnan(fit_order(h[:1].repeat(1), e[:1])[0])


def test_nested_grids_restrict_exactly():
    for per in (True, False):
        ns = nested_sizes(10 if per else 11, 3, periodic=per)
        coarse, fine = (Grid.uniform([(-1, 1)], n, periodic=per) for n in (ns[0], ns[2]))
        assert refinement_ratio(coarse, fine) == (4,)
        np.testing.assert_array_equal(restrict(fine.axes[0] ** 2, fine, coarse), coarse.axes[0] ** 2)
    with pytest.raises(ValueError, match="nest"):
        refinement_ratio(Grid.uniform([(-1, 1)], 10), Grid.uniform([(-1, 1)], 20))


def test_cosine_orders_against_the_closed_form():
    """Godunov ~1, ENO2 ~2, WENO5 ~5 (dt ~ h^5/3) on -cos(pi x) before the kink (tests/solvers/test_hj_convergence.py)."""
    study = dr.convergence_study("cosine", {"godunov": {}, "eno2": {},
                                            "weno5": {"max_dt": lambda h: 0.5 * h ** (5 / 3)}},
                                 [20, 40, 80, 160], t=T_SMOOTH, norm="l1")
    assert study.reference.startswith("exact")
    assert abs(study.order_of("godunov") - 1.0) < 0.2
    assert abs(study.order_of("eno2") - 2.0) < 0.25
    assert study.order_of("weno5") >= 4.4, study
    np.testing.assert_array_equal(study.declared, [1, 2, 5])
    assert study.errors.shape == (3, 4) and study.local_orders.shape == (3, 3)
    assert np.all(np.diff(study.errors, axis=1) < 0)
    table = str(study)
    assert "fitted" in table and "weno5" in table and table.count("\n") == 6


def test_grid_references_and_fine_grid_agree_on_the_order():
    """Hopf-Lax (exact semigroup on a 4x finer nested grid) and the same scheme on that grid give order ~1."""
    sizes = nested_sizes(21, 4)
    ex = dr.convergence_study("softmin-quadratics", ["godunov"], sizes, t=0.5, reference="exact")
    hl = dr.convergence_study("softmin-quadratics", ["godunov"], sizes, t=0.5, reference="hopf_lax")
    fine = dr.convergence_study("double-well", ["godunov", "eno2"], sizes, t=0.3, reference="fine")
    assert "hopf_lax on 641" in hl.reference
    for s in (ex, hl):
        assert abs(s.orders[0] - 1.0) < 0.2
    np.testing.assert_allclose(hl.errors, ex.errors, rtol=0.05)
    assert abs(fine.order_of("godunov") - 1.0) < 0.3 and abs(fine.order_of("eno2") - 2.0) < 0.3


def test_viscous_cole_hopf_reference_and_user_callable():
    """Soft-min of quadratics with softness = beta: closed form (benchmarks/convergence.py) vs Cole-Hopf reference."""
    a, m, c = np.array([1.0, 4.0]), np.array([[-1.0], [1.0]]), np.array([0.0, 0.1])

    def softmin_u(x, t, beta):
        return ref.softmin_viscous_u(x, t, beta, a, m, c)

    def f(x):
        return ref.softmin_value(x, a, m, c, 1.0)

    sizes = nested_sizes(21, 4)
    schemes = {"godunov": {"diffusion": "split"}, "eno2": {"diffusion": "split"}}
    kw = dict(t=0.5, beta=1.0, bounds=[(-2, 2)])
    mine = dr.convergence_study(f, schemes, sizes, reference=softmin_u, **kw)
    ch = dr.convergence_study(f, schemes, sizes, reference="cole_hopf", **kw)
    assert mine.reference == "exact (softmin_u)" and ch.reference.startswith("cole_hopf")
    for s in (mine, ch):
        assert abs(s.order_of("godunov") - 1.0) < 0.3 and s.order_of("eno2") > 1.6, s
    np.testing.assert_allclose(ch.errors, mine.errors, rtol=0.05)


def test_saves_plots_and_exports(tmp_path):
    study = dr.convergence_study("quadratic", ["godunov", "rouy_tourin"], nested_sizes(11, 3), t=0.3)
    back = dr.io.load(dr.io.save(study, tmp_path / "conv.h5"))
    assert back.schemes == study.schemes and str(back) == str(study)
    np.testing.assert_array_equal(back.errors, study.errors)
    ax = study.plot()
    assert len(ax.get_lines()) >= 2 and "order" in ax.get_legend().get_texts()[0].get_text()


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="nested"):
        dr.convergence_study("double-well", ["godunov"], [21, 40], t=0.3, reference="fine")
    with pytest.raises(ValueError, match="unknown scheme"):
        dr.convergence_study("double-well", ["upwind"], [21, 41], t=0.3)
    with pytest.raises(ValueError, match="no closed-form"):
        dr.convergence_study("double-well", ["godunov"], [21, 41], t=0.3, reference="exact")
    with pytest.raises(ValueError, match="increasing"):
        dr.convergence_study("double-well", ["godunov"], [41, 21], t=0.3)
    with pytest.raises(TypeError, match="bounds"):
        dr.convergence_study(lambda x: x[..., 0] ** 2, ["godunov"], [21, 41], t=0.3)
