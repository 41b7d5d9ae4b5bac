"""Q1A derivation: f, g come from the mask distribution, every step holds, wrong answers fail."""

from __future__ import annotations

import pytest
import sympy as sp

from derivations.core import DerivationError
from derivations.q1_dropout import (
    CONVENTIONS,
    _symbols,
    build_derivation,
    derive,
    expected_loss_by_enumeration,
    mask_moments,
    mask_scale,
    ridge_form,
)
from derivations.symbols import p


@pytest.mark.parametrize(
    ("convention", "f", "g"), [("plain", 1 - p, p * (1 - p)), ("inverted", sp.Integer(1), p / (1 - p))]
)
def test_moments_are_the_known_closed_forms(convention, f, g):
    fc, gc = mask_moments(convention)
    assert sp.simplify(fc - f) == 0 and sp.simplify(gc - g) == 0


def test_section_derivations_verify_strictly():
    sec = derive(None)
    assert [d.name for d in sec.derivations] == [f"q1a_{c}" for c in CONVENTIONS]
    for d in sec.derivations:
        checks = d.verify(strict=True)
        assert checks and all(c.passed and c.error == 0 for c in checks)


@pytest.mark.parametrize(
    ("convention", "f", "g"),
    [("plain", 1, None), ("plain", None, p**2), ("inverted", 1 - p, None), ("inverted", None, p * (1 - p))],
)
def test_wrong_f_or_g_fails(convention, f, g):
    d = build_derivation(convention, f=f, g=g)
    # the exact expectation over all masks is among the failing steps
    checks = d.verify()
    (k,) = [k for k, s in enumerate(d.steps) if s.why.startswith("exact expectation over all")]
    assert not checks[k].passed and checks[k].error > 0


def test_strict_verification_names_the_failing_step():
    with pytest.raises(DerivationError, match="q1a_plain step 1"):
        build_derivation("plain", f=1).verify(strict=True)


def test_enumeration_matches_at_a_rational_point():
    X, w, y = _symbols(2, 2)
    exact = expected_loss_by_enumeration(X, w, y, mask_scale("plain"))
    f, g = mask_moments("plain")
    vals = {s: sp.Rational(k + 2, 3) for k, s in enumerate(sorted(exact.free_symbols - {p}, key=str))}
    vals[p] = sp.Rational(2, 7)
    assert sp.simplify(exact.subs(vals) - ridge_form(X, w, y, f, g).subs(vals)) == 0
    assert sp.simplify(exact.subs(vals) - ridge_form(X, w, y, f, 0).subs(vals)) != 0  # the penalty matters


def test_result_callable_and_answers():
    fn = build_derivation("inverted").result.callable()
    f, g = fn(0.25)[0]
    assert f == pytest.approx(1.0) and g == pytest.approx(0.25 / 0.75)
    ans = derive(None).answers  # strings that sympify back to the moments
    q = sp.Symbol("p")
    expected = {"f": 1 - q, "g": q * (1 - q), "f_inverted": sp.Integer(1), "g_inverted": q / (1 - q)}
    assert all(sp.simplify(sp.sympify(ans[k]) - v) == 0 for k, v in expected.items())


def test_bad_convention_raises():
    with pytest.raises(ValueError, match="convention"):
        mask_scale("dropconnect")
