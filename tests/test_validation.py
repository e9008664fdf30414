"""The validation suite at size="test" (fixed seeds, tolerances from standard errors): every check must pass,
and the report files must be written."""
import json

import pytest

from deeprelax import validation


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation")
    return validation.run_validation(out, size="test", seed=0), out


def test_report_files(report):
    rep, out = report
    js = json.loads((out / "validation.json").read_text())
    assert js["size"] == "test" and len(js["checks"]) == len(rep.checks)
    for c in js["checks"]:
        assert {"id", "quantity", "expected", "measured", "tolerance", "passed", "seed", "notes"} <= set(c)
    md = (out / "validation.md").read_text()
    assert "| id |" in md
    assert (out / "sgld_zscores.png").exists() and (out / "fp_vs_langevin.png").exists()


@pytest.mark.parametrize("cid", ["cole_hopf_vs_fd", "quadratic", "hopf_lax", "prox_fixed_point", "gibbs_mean",
                                 "vanishing_viscosity", "semiconcavity", "hopf_lax_inequality", "wide_valley_switch",
                                 "aux_sde_kl_rate", "sgld_grad_1d_beta1", "sgld_grad_1d_beta10",
                                 "sgld_grad_1d_beta100", "sgld_grad_2d_beta1", "sgld_grad_2d_beta10",
                                 "sgld_grad_2d_beta100", "sgld_rate", "sgld_step_bias", "homogenization",
                                 "elastic_sgd", "fp_vs_langevin", "wide_sharp"])
def test_check_passes(report, cid):
    rep, _ = report
    c = {c.id: c for c in rep.checks}[cid]
    assert c.passed, f"{c.id}: measured {c.measured}; expected {c.expected}; tolerance {c.tolerance}"


def test_overall_and_bad_size(report, tmp_path):
    assert report[0].passed
    with pytest.raises(ValueError, match="size"):
        validation.run_validation(tmp_path, size="huge")
