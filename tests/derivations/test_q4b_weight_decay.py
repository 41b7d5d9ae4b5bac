"""Q4B derivation: the l2 / weight-decay relation is solved for, every step holds, a wrong one fails."""

from __future__ import annotations

import sympy as sp

from derivations.core import Derivation, Result, Step
from derivations.q4b_weight_decay import derive, l2_penalty_gradient, updates, wd_over_l2_ratio
from derivations.symbols import eta, lambda_l2, lambda_wd


def test_ratio_is_two_in_the_problems_notation():
    assert wd_over_l2_ratio() == 2


def test_every_step_verifies_exactly():
    section = derive(None)
    for d in section.derivations:
        checks = d.verify(strict=True)
        assert checks and all(c.passed and c.error == 0 for c in checks), d.name


def test_answers_and_learning_rate_relation():
    section = derive(None)
    assert section.answers["lambda_wd_over_lambda_l2"] == 2.0
    unscaled = sp.sympify(section.answers["lambda_wd_unscaled_with_lr"])
    eta_, lam_ = sp.symbols("eta lambda_l2")
    assert sp.simplify(unscaled - 2 * eta_ * lam_) == 0
    assert [k for k in section.text] == ["equivalence", "with_learning_rate"]


def test_updates_differ_unless_related_by_the_ratio():
    u = updates(eta)
    diff = (u["weight_decay"] - u["l2"]).subs(lambda_wd, lambda_l2)  # the wrong relation
    assert any(sp.simplify(e) != 0 for e in diff)
    wrong = Derivation(
        "w",
        "w",
        [Step(u["weight_decay"].subs(lambda_wd, lambda_l2), u["l2"], "wrong")],
        Result("r", lambda_l2),
    )
    assert not wrong.verify()[0].passed


def test_penalty_gradient_is_coordinatewise():
    w = sp.Matrix(sp.symbols("a b c", real=True))
    assert sp.simplify(l2_penalty_gradient(w) - 2 * lambda_l2 * w) == sp.zeros(3, 1)
