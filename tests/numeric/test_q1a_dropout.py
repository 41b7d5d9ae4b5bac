"""Q1A numerics: Monte-Carlo over masks and exact enumeration agree with the ridge form; bad input raises."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.q1a_dropout import Z_BOUND, check, closed_form_loss, exact_loss, fg, mc_loss

rng = np.random.default_rng(0)
X, Y, W = rng.normal(size=(6, 3)) * [0.5, 1.0, 3.0], rng.normal(size=6), rng.normal(size=3)


@pytest.mark.parametrize("convention", ["plain", "inverted"])
@pytest.mark.parametrize("p", [0.2, 0.7])
def test_mc_within_bound_and_rejects_wrong_f(convention, p):
    mean, se = mc_loss(X, Y, W, p, convention, samples=20_000, seed=1)
    assert abs(mean - closed_form_loss(X, Y, W, p, convention)) <= Z_BOUND * se
    f, _ = fg(p, convention)
    wrong_f = 1.0 if convention == "plain" else 1.0 - p
    assert abs(mean - closed_form_loss(X, Y, W, p, convention, f=wrong_f)) > Z_BOUND * se
    assert abs(mean - closed_form_loss(X, Y, W, p, convention, g=0.0)) > Z_BOUND * se


@pytest.mark.parametrize("convention", ["plain", "inverted"])
def test_exact_enumeration_matches_closed_form(convention):
    Xs = X[:3, :3]
    for p in (0.0, 0.3, 0.9):
        exact = exact_loss(Xs, Y[:3], W, p, convention)
        assert exact == pytest.approx(closed_form_loss(Xs, Y[:3], W, p, convention), rel=1e-12)  # float64 sums
    assert exact != pytest.approx(closed_form_loss(Xs, Y[:3], W, 0.9, convention, g=0.0), rel=1e-3)


def test_p_zero_is_plain_ols():
    assert closed_form_loss(X, Y, W, 0.0) == pytest.approx(float(np.sum((Y - X @ W) ** 2)), rel=1e-14)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_p_raises(p):
    with pytest.raises(ValueError, match="p must"):
        closed_form_loss(X, Y, W, p)


def test_bad_inputs_name_the_argument():
    with pytest.raises(TypeError, match="p must"):
        fg("0.3", "plain")
    with pytest.raises(ValueError, match="X must be 2-D"):
        closed_form_loss(X[0], Y, W, 0.3)
    with pytest.raises(ValueError, match="y has 5 entries"):
        closed_form_loss(X, Y[:5], W, 0.3)
    with pytest.raises(ValueError, match="w has 2 entries"):
        closed_form_loss(X, Y, W[:2], 0.3)
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="X has non-finite"):
        mc_loss(bad, Y, W, 0.3, "plain", samples=10)
    with pytest.raises(ValueError, match="samples"):
        mc_loss(X, Y, W, 0.3, "plain", samples=1)
    with pytest.raises(ValueError, match="convention"):
        mc_loss(X, Y, W, 0.3, "spatial", samples=10)
    with pytest.raises(ValueError, match="convention must be one of .*'bogus'"):
        exact_loss(X[:3, :3], Y[:3], W, 0.3, "bogus")
    with pytest.raises(ValueError, match="convention must be one of"):
        closed_form_loss(X, Y, W, 0.3, "bogus")
    with pytest.raises(ValueError, match="enumeration"):
        exact_loss(rng.normal(size=(5, 4)), rng.normal(size=5), rng.normal(size=4), 0.3, "plain")


def test_check_section_passes(ctx):
    sec = check(ctx)
    assert sec.checks and all(c.passed for c in sec.checks)
    assert sec.metrics["mc_worst_z"] <= Z_BOUND < sec.metrics["mc_min_z_no_penalty"]


def test_dropout_convention_check_can_fail(monkeypatch):
    from numeric.q1a_dropout import _dropout_convention_check

    good = _dropout_convention_check(X, seed=0)
    assert good.passed and good.error <= Z_BOUND
    # a "dropout" that never zeroes an entry (all kept, all scaled) must fail the binomial test
    monkeypatch.setattr("torch.nn.functional.dropout", lambda x, p, training: x / (1 - p))
    bad = _dropout_convention_check(X, seed=0)
    assert not bad.passed and bad.error > Z_BOUND


def test_prose_reports_the_verdict(ctx):
    sec = check(ctx)
    assert "agrees" in sec.text["numeric"] and f"All {len(sec.checks)} numeric checks pass." in sec.text["numeric"]
