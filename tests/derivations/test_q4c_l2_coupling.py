"""Q4C.2 derivation: l2 through momentum (amplified, via past weights) and through sqrt(v) division."""

from __future__ import annotations

import pytest
import sympy as sp

from derivations.core import Step
from derivations.q4c_l2_coupling import derive, lam, momentum_buffer, rho, w_const
from derivations.symbols import t


@pytest.fixture(scope="module")
def section():
    return derive(None)


def test_every_step_verifies(section):
    assert [d.name for d in section.derivations] == ["q4c_l2_momentum", "q4c_l2_rmsprop", "q4c_l2_adam"]
    for d in section.derivations:
        checks = d.verify(strict=True)
        assert checks and all(c.passed for c in checks), d.name


def test_steady_state_amplification(section):
    momentum = section.derivations[0]
    assert sp.simplify(momentum.result.expr - lam * w_const / (1 - rho)) == 0
    assert momentum.result.expr.subs({rho: sp.Rational(9, 10), lam: 1, w_const: 1}) == 10


def test_a_wrong_unrolling_fails():
    wrong = Step(rho * momentum_buffer(t - 1), momentum_buffer(t), "drops the new gradient")
    assert not wrong.verify("w").passed


def test_text_keys(section):
    assert list(section.text) == ["l2_momentum", "l2_rmsprop", "l2_adam"]
