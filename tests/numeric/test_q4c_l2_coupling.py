"""Q4C.2 numeric: per-coordinate effective decay of l2 under torch optimisers vs the derivation."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.q4c_l2_coupling import CouplingConfig, check, effective_decay


@pytest.fixture(scope="module")
def section():
    return check(None)


def test_all_checks_pass(section):
    assert len(section.checks) == 8  # AdamW's uniformity is its exact comparison against lambda
    assert not [c.name for c in section.checks if not c.passed]


def test_the_qualitative_claims(section):
    d = section.metrics["effective_decay_over_lambda"]
    assert d["SGD"] == pytest.approx([1.0] * 4, rel=1e-8)
    assert np.mean(d["SGD+momentum"]) == pytest.approx(10, rel=0.02)  # amplified by 1/(1 - rho)
    assert d["AdamW"] == pytest.approx([1.0] * 4, rel=1e-8)  # decoupled: uniform
    for name in ("RMSprop", "Adam"):  # largest gradients barely regularised
        assert list(d[name]) == sorted(d[name], reverse=True)
        assert d[name][-1] < 0.2 and d[name][0] > 50


def test_effective_decay_formula():
    w_reg = np.array([[1.0], [0.9], [0.81]])
    w_free = np.ones((3, 1))
    assert effective_decay(w_reg, w_free, lr=1.0) == pytest.approx([0.19 / 1.9])


def test_bad_config_rejected():
    with pytest.raises(ValueError, match="cfg"):
        check(None, CouplingConfig(weight_decay=0.0))


def test_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="w_reg"):
        effective_decay(np.ones((3, 2)), np.ones((3, 1)), lr=1.0)


def test_plain_sgd_prediction_fails_for_the_coupled_optimisers(section):
    """Control: predicting plain SGD's uniform decay lambda fails the same comparison for momentum,
    RMSProp and Adam (their checks can fail), while it holds for SGD and AdamW."""
    from numeric.checks import compare
    from numeric.q4c_l2_coupling import TOL_EXACT, TOL_FIRST_ORDER

    d = section.metrics["effective_decay_over_lambda"]
    for name in ("SGD+momentum", "RMSprop", "Adam"):
        assert not compare(name, d[name], np.ones(4), TOL_FIRST_ORDER).passed
    for name in ("SGD", "AdamW"):
        assert compare(name, d[name], np.ones(4), TOL_EXACT).passed


def test_prose_follows_the_checks(section, monkeypatch):
    import numeric.q4c_l2_coupling as C

    assert "NOT" not in section.text["l2_measured"] and "All 8 checks" in section.text["l2_measured"]
    monkeypatch.setattr(C, "TOL_EXACT", -1.0)  # every exact comparison must now fail
    text = check(None).text["l2_measured"]
    assert text.count("NOT as derived") == 3 and "FAIL" in text  # SGD, momentum's sum, AdamW
