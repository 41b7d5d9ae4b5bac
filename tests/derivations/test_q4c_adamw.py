"""Q4C.3 derivation: AdamW's decoupled update and why l2 cannot reproduce it."""

from __future__ import annotations

import sympy as sp

from derivations.core import Step
from derivations.q4c_adamw import adamw_update, derive, lam, m_hat, v_hat, w_prev
from derivations.symbols import eps, eta


def test_every_step_verifies():
    (d,) = derive(None).derivations
    checks = d.verify(strict=True)
    assert len(checks) == 5 and all(c.passed for c in checks)


def test_decay_is_multiplied_by_the_learning_rate():
    u = adamw_update()
    assert sp.simplify(sp.diff(u, lam) + eta * w_prev) == 0
    wrong = Step(u, (1 - lam) * w_prev - eta * m_hat / (sp.sqrt(v_hat) + eps), "decay without lr")
    assert not wrong.verify("w").passed


def test_matching_l2_has_the_factor_one_half():
    # the problem's penalty lambda_l2 ||w||^2 has gradient 2 lambda_l2 w: matching AdamW needs half of lambda (sqrt(vhat) + eps)
    from derivations.q4c_adamw import matching_l2

    assert sp.simplify(matching_l2() - lam * (sp.sqrt(v_hat) + eps) / 2) == 0
    (d,) = derive(None).derivations
    step = d.steps[3]
    assert not Step(step.lhs, lam * (sp.sqrt(v_hat) + eps), "without the 1/2").verify("w").passed
    assert r"\frac{\lambda \left(\epsilon + \sqrt{\hat{v}_{j}}\right)}{2}" in derive(None).text["adamw"]


def test_answer_parses():
    s = derive(None)
    assert "adamw" in s.text
    parsed = sp.sympify(s.answers["adamw_update"])
    w, m, v, wd, lr, ep = sp.symbols("w_prev m_hat v_hat weight_decay lr eps")
    assert sp.simplify(parsed - (w - lr * (m / (sp.sqrt(v) + ep) + wd * w))) == 0
