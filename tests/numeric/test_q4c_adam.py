"""Q4C.1 numeric: simulated Adam moments -- corrected unbiased, uncorrected biased, zeta as derived."""

from __future__ import annotations

import numpy as np
import pytest

from derivations.core import Context
from numeric.q4c_adam import BiasConfig, bias_check, simulate, z_scores

CFG = BiasConfig(runs=4000)  # 5x fewer runs than the build: still ~8 SE of bias at t = 1 for m


@pytest.fixture(scope="module")
def section():
    return bias_check(CFG)


def test_all_bias_checks_pass(section):
    assert len(section.checks) == 6
    assert not [c.name for c in section.checks if not c.passed]
    assert section.metrics["bias_detectable_steps"]["v"] == CFG.steps  # beta2 = 0.999: biased throughout
    rejected, visible = section.metrics["bias_rejected_steps"], section.metrics["bias_detectable_steps"]
    assert all(rejected[k] >= visible[k] for k in "mv")  # the checks: rejected wherever detectable
    text = section.text["bias_correction_check"]
    assert f"at {rejected['m']} and {rejected['v']} of the {CFG.steps} steps" in text and "NOT" not in text


def test_z_scores_detect_the_uncorrected_bias():
    sim = simulate(CFG, np.full(CFG.steps, CFG.mean))
    z_unc = z_scores(sim["m"], np.full(CFG.steps, CFG.mean))
    z_cor = z_scores(sim["m_hat"], np.full(CFG.steps, CFG.mean))
    assert z_unc[0] > 20 and z_cor[0] < 5  # at t = 1 the uncorrected mean is (1 - beta) mu


def test_bad_config_rejected():
    with pytest.raises(ValueError, match="cfg"):
        bias_check(BiasConfig(runs=10))


def test_q4c_stage_merges_all_of_q4c(tmp_path):
    from registry import BY_ID

    sec = BY_ID["q4c"].run(Context(out_dir=tmp_path, data_dir=tmp_path, quick=True))
    assert not [c.name for c in sec.checks if not c.passed]
    assert {"bias_correction_check", "l2_measured", "adamw_check"} <= set(sec.text)
    assert "l2_effective_decay" in sec.tables
    for fig in sec.figures.values():  # bias_correction, l2_effective_decay: PDF and SVG written
        assert (tmp_path / fig["pdf"]).is_file() and (tmp_path / fig["svg"]).is_file()
    assert set(sec.figures) == {"bias_correction", "l2_effective_decay"}


def test_simulate_rejects_wrong_means_shape():
    with pytest.raises(ValueError, match="means"):
        simulate(CFG, np.zeros(3))


def test_prose_says_when_a_check_fails(monkeypatch):
    import numeric.q4c_adam as A

    real = A.simulate

    def biased(cfg, means):  # a wrong correction: m_hat 10% too large
        out = real(cfg, means)
        return {**out, "m_hat": 1.1 * out["m_hat"]}

    monkeypatch.setattr(A, "simulate", biased)
    text = bias_check(BiasConfig(runs=500)).text["bias_correction_check"]
    assert "are NOT unbiased at every step" in text and "FAIL" in text


def test_verdict_reports_failures():
    from derivations.core import Check
    from numeric.checks import verdict as shared
    from numeric.q4c_adam import verdict

    assert verdict is shared

    assert verdict([Check("a", True, 0.0, 1.0)]) == "All 1 checks of this part pass."
    assert "FAIL (b)" in verdict([Check("a", True, 0.0, 1.0), Check("b", False, 2.0, 1.0)])
