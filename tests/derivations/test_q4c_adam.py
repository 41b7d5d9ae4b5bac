"""Q4C.1 derivation: bias correction 1/(1 - beta^t), geometric sums under 0 < beta < 1, zeta."""

from __future__ import annotations

import pytest
import sympy as sp

from derivations.core import Section, Step
from derivations.q4c_adam import bias_correction, bias_section, derive, ema_unrolled, geometric_sum, mu, zeta
from derivations.symbols import beta, t


@pytest.fixture(scope="module")
def section():
    return bias_section()


def test_every_step_verifies(section):
    for d in section.derivations:
        checks = d.verify(strict=True)
        assert checks and all(c.passed for c in checks), d.name


def test_answer_is_one_over_one_minus_beta_t(section):
    b, tt = sp.symbols("beta t")
    parsed = sp.sympify(section.answers["bias_correction"], locals={"beta": b, "t": tt})  # not sympy's beta()
    assert sp.simplify(parsed - 1 / (1 - b**tt)) == 0
    assert sp.simplify(bias_correction() - 1 / (1 - beta**t)) == 0


def test_geometric_sum_needs_the_bound_on_beta():
    piecewise, closed = geometric_sum(beta)
    assert piecewise.has(sp.Piecewise)  # SymPy keeps beta = 1 without the assumption
    assert not closed.has(sp.Piecewise)
    assert sp.simplify(closed - (1 - beta**t) / (1 - beta)) == 0


def test_uncorrected_mean_is_biased_and_a_false_claim_fails():
    _, closed = geometric_sum(beta)
    e_m = mu * (1 - beta) * closed
    assert sp.simplify(e_m - mu) != 0
    assert not Step(e_m, mu, "m_t unbiased (false)").verify("f").passed
    assert not Step(ema_unrolled(beta, t), ema_unrolled(beta, t - 1), "wrong").verify("w").passed


def test_zeta_vanishes_for_stationary_moments_only():
    k = sp.Symbol("k", integer=True)
    from derivations.q4c_adam import Eg

    drifting = zeta().replace(Eg, sp.Lambda(k, k)).subs({beta: sp.Rational(1, 2), t: 3}).doit()
    assert drifting != 0
    assert zeta().replace(Eg, sp.Lambda(k, 7)).doit() == 0


def test_zeta_result_is_a_function_of_the_expectations():
    # the exported zeta takes E_g as a sequence (index i = 1..t) and agrees with the symbolic zeta
    (d,) = [d for d in bias_section().derivations if d.name == "q4c_nonstationary"]
    f = d.result.callable()
    k = sp.Symbol("k", integer=True)
    from derivations.q4c_adam import Eg

    exact = zeta().replace(Eg, sp.Lambda(k, k**2)).subs({beta: sp.Rational(1, 3), t: 4}).doit()
    assert f(1 / 3, 4, [float(n**2) for n in range(6)]) == pytest.approx(float(exact), rel=1e-12)
    assert exact != 0


def test_stationary_steps_fail_for_a_wrong_correction():
    from derivations.q4c_adam import _stationary_steps, s2
    from derivations.symbols import beta2

    steps = _stationary_steps(beta2, s2, "v", "g_i^2")
    assert all(st.verify("v").passed for st in steps)
    _, closed = geometric_sum(beta2)
    late = bias_correction().subs({beta: beta2, t: t + 1})  # the correction of the next step
    wrong = Step(late * s2 * (1 - beta2) * closed, s2, "correction off by one step")
    assert not wrong.verify("w").passed


def test_q4c_derivations_merge_in_order():
    from registry import BY_ID

    assert list(derive(None).text) == ["bias_correction", "nonstationary"]
    s = Section()
    for part in BY_ID["q4c"].parts:
        if part.__module__.startswith("derivations."):
            s.merge(part(None))
    assert list(s.text) == [
        "bias_correction",
        "nonstationary",
        "l2_momentum",
        "l2_rmsprop",
        "l2_adam",
        "adamw",
    ]
    assert {"bias_correction", "adamw_update"} <= set(s.answers)
    assert [d.name for d in s.derivations][:2] == ["q4c_bias_correction", "q4c_nonstationary"]


def test_geometric_sum_rejects_non_symbols():
    with pytest.raises(TypeError, match="base"):
        geometric_sum(0.9)
