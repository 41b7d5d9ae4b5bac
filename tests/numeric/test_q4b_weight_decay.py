"""Q4B numeric: torch SGD weight decay == hand-added l2 term, step for step; the control separates."""

from __future__ import annotations

import pytest

from numeric.checks import SEPARATION_MIN, TOL_FLOAT64, norm_rel_error, separates
from numeric.q4b_weight_decay import SGDConfig, check


@pytest.fixture(scope="module")
def section():
    return check(None, SGDConfig(steps=100))


def test_all_checks_pass(section):
    assert len(section.checks) == 3
    failed = [c.name for c in section.checks if not c.passed]
    assert not failed


def test_equivalence_to_round_off_and_control_far_off(section):
    assert section.metrics["trajectory_rel_error_l2_vs_wd"] <= TOL_FLOAT64
    assert section.metrics["trajectory_rel_error_wrong_factor"] > SEPARATION_MIN
    # decay shrinks the weights relative to plain SGD
    assert section.metrics["mean_abs_weight_ratio_decayed_vs_plain"] < 1


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="cfg"):
        check(None, SGDConfig(steps=0))


def test_separation_helpers_can_fail():
    assert norm_rel_error([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert norm_rel_error([3.0, 0.0], [3.0, 4.0]) == pytest.approx(0.8)
    assert separates("c", 2e-3, SEPARATION_MIN, "d").passed
    for value in (SEPARATION_MIN, 0.0, float("nan")):  # equal is not enough; nan is not a separation
        c = separates("c", value, SEPARATION_MIN, "d")
        assert not c.passed and "EXCEED" in c.detail
    with pytest.raises(ValueError, match="shape"):
        norm_rel_error([1.0], [1.0, 2.0])
