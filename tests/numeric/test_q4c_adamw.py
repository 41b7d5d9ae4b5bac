"""Q4C.3 numeric: AdamW / Adam / SGD / RMSprop weight-decay semantics, step for step."""

from __future__ import annotations

import pytest

from numeric.checks import SEPARATION_MIN
from numeric.q4_optim_problem import SmallProblem, manual_trajectory
from numeric.q4c_adamw import SemanticsConfig, check, hand_adam


@pytest.fixture(scope="module")
def section():
    return check(None, SemanticsConfig(steps=100))


def test_all_checks_pass(section):
    assert len(section.checks) == 8
    assert not [c.name for c in section.checks if not c.passed]
    assert section.metrics["adamw_vs_adam_l2_separation"] > SEPARATION_MIN


def test_decay_shrinks_weights(section):
    norms = section.metrics["final_weight_norm"]
    assert norms["AdamW"] < norms["Adam"] and norms["Adam(weight_decay)"] < norms["Adam"]


def test_hand_adam_runs_and_bad_config_rejected():
    traj = manual_trajectory(SmallProblem(), hand_adam(SemanticsConfig(), 0.1), 3)
    assert traj.shape[0] == 4
    with pytest.raises(ValueError, match="cfg"):
        check(None, SemanticsConfig(steps=0))


def test_prose_follows_the_checks(section, monkeypatch):
    import numeric.q4c_adamw as W

    text = section.text["adamw_check"]
    assert "NOT" not in text and "(lambda/2)||w||^2" in " ".join(c.name for c in section.checks)
    monkeypatch.setattr(W, "TOL_TRAJECTORY", -1.0)  # every comparison must now fail
    text = check(None, SemanticsConfig(steps=20)).text["adamw_check"]
    assert text.count("does NOT match") == 2 and "do NOT both match" in text and "6 of 8 checks FAIL" in text
