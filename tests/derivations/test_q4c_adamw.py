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


def test_answer_parses():
    s = derive(None)
    assert "adamw" in s.text
    parsed = sp.sympify(s.answers["adamw_update"])
    w, m, v, wd, lr, ep = sp.symbols("w_prev m_hat v_hat weight_decay lr eps")
    assert sp.simplify(parsed - (w - lr * (m / (sp.sqrt(v) + ep) + wd * w))) == 0
