"""The validation suite at size="test" (issue 16): every row can fail and must pass; one Check type; report files.

The groups run in separate tests so that pytest-xdist spreads them over the workers; the sgd_noise group is
run by tests/deeprelax/test_sgd_noise.py.  Every stochastic row runs over the two test seeds with a Holm bound."""
import json
import math

import pytest

from deeprelax import validation as V
from deeprelax.validation import core


def _run(tmp_path, groups, figures=False):
    rep = V.run_validation(tmp_path, size="test", seed=0, groups=groups, figures=figures)
    bad = [f"{c.id}: measured {c.measured}; reference {c.reference}; criterion {c.criterion}" for c in rep.failed]
    assert not bad, "\n".join(bad)
    return rep


@pytest.mark.slow
def test_exact_and_theory_rows(tmp_path):
    rep = _run(tmp_path, ("exact", "theory"))
    ids = {c.id for c in rep.checks}
    assert {"cole_hopf_vs_fd", "wide_valley_switch", "aux_sde_kl_rate", "control_value", "control_improvement",
            "thm5_nonisotropic", "ou_antisymmetric_q", "smoothing_convexity", "smoothing_harmonic_mean",
            "underdamped_gibbs", "underdamped_limit_order", "underdamped_linear_mc"} <= ids
    st = [c for c in rep.checks if c.stochastic]
    assert st and all(len(c.seeds) == len(V.SEEDS["test"]) and len(c.pvalues) == len(c.seeds) for c in st)


@pytest.mark.slow
def test_sgld_rows_and_report_files(tmp_path):
    rep = _run(tmp_path, ("sgld",), figures=True)
    ids = [c.id for c in rep.checks]
    for beta in ("1", "10", "100"):
        assert f"sgld_softmin_1d_beta{beta}" in ids and f"sgld_softmin_2d_beta{beta}" in ids
        assert f"sgld_drfig1_1d_beta{beta}" in ids
    assert {"sgld_new_user", "sgld_u_bridge", "sgld_coverage", "plain_rate", "plain_step_bias", "plain_stuck"} <= set(ids)
    assert not any("info" in i.lower() for i in ids)                    # no informational rows
    cov = {c.id: c for c in rep.checks}["sgld_coverage"]
    assert 0.8 < cov.value < 1.2
    js = json.loads((tmp_path / "validation.json").read_text())
    assert js["size"] == "test" and len(js["checks"]) == len(rep.checks) and js["seeds"] == list(rep.seeds)
    for c in js["checks"]:
        assert {"id", "quantity", "measured", "reference", "criterion", "passed", "seeds", "pass_fraction",
                "pvalues", "kind"} <= set(c)
    md = (tmp_path / "validation.md").read_text()
    assert "| id | quantity | measured | reference | criterion | seeds passing | verdict |" in md
    assert (tmp_path / "sgld_zscores.png").exists()


@pytest.mark.slow
def test_dynamics_rows(tmp_path):
    rep = _run(tmp_path, ("dynamics",))
    assert [c.id for c in rep.checks] == ["homogenization", "elastic_replicas", "fp_vs_langevin", "wide_sharp"]
    el = rep.checks[1]
    assert abs(el.value + 1.0) < 0.15                                   # variance of the centre ~ 1/n


def test_rows_can_fail_holm_and_identities():
    """A stochastic row fails when one seed's p-value is below alpha/S; identities are reported apart."""
    ok = core.seeded("r", "q", lambda s: core.Trial(pvalue=0.5), (0, 1, 2), reference="x", criterion="c")
    assert ok.passed and ok.pass_fraction == "3/3"
    bad = core.seeded("r", "q", lambda s: core.Trial(pvalue=1e-3 / 3 * 0.9 if s == 1 else 0.5), (0, 1, 2),
                      reference="x", criterion="c")
    assert not bad.passed and bad.pass_fraction == "2/3"
    edge = core.seeded("r", "q", lambda s: core.Trial(pvalue=5e-4 if s == 1 else 0.5), (0, 1), reference="x",
                       criterion="c")
    assert edge.passed and edge.pass_fraction == "1/2"                 # 5e-4 >= 1e-3/2: not rejected by Holm
    idn = core.identity("i", "q", 1e-15, 1e-13)
    rep = V.ValidationReport([ok, idn], "test", (0, 1, 2), ".")
    assert rep.passed and rep.counted == [ok] and rep.identities == [idn]
    assert "1/1 checks" in rep.summary() and "1/1 identities" in rep.summary()
    assert core.chi2_sd_pvalue([0.0] * 50) < 1e-6 and core.chi2_sd_pvalue([3.0] * 50) < 1e-6
    assert core.slope_pvalue(-0.5, 0.1, -0.5, 3) == pytest.approx(1.0)
    assert math.isclose(float(core.z_pvalue(1.959963984540054)), 0.05, rel_tol=1e-9)


def test_register_group_and_bad_inputs(tmp_path):
    def mine(cfg, seeds, figs):
        return [core.deterministic("mine_ok", "q", "0", "0", "exact", True)]

    V.register_group("unit_test_group", mine, replace=True)
    try:
        rep = V.run_validation(tmp_path, size="test", groups=("unit_test_group",), figures=False)
        assert rep.passed and [c.id for c in rep.checks] == ["mine_ok"] and rep.checks[0].group == "unit_test_group"
        with pytest.raises(ValueError, match="already registered"):
            V.register_group("unit_test_group", mine)
    finally:
        V._REGISTRY.pop("unit_test_group", None)
    with pytest.raises(ValueError, match="size"):
        V.run_validation(tmp_path, size="huge")
    with pytest.raises(ValueError, match="groups"):
        V.run_validation(tmp_path, size="test", groups=("nope",))
