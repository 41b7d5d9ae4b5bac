"""Q2A/Q2B numeric parts: every check passes, and the section records measured errors."""

from __future__ import annotations

import math

import numpy as np

from derivations.core import Check
from numeric import _norm_sections, q2a_batchnorm, q2b_batchnorm


def test_q2a_closed_form_checks_pass(ctx):
    sec = q2a_batchnorm.check(ctx)
    assert len(sec.checks) == 7 and all(c.passed for c in sec.checks), [c for c in sec.checks if not c.passed]
    assert all(math.isfinite(c.error) and c.tolerance > 0 for c in sec.checks)
    assert len(sec.tables["closed_form_vs_torch"]["rows"]) == 6
    assert (
        "agree with torch" in sec.text["numeric_check"] and "All 7 checks pass." in sec.text["numeric_check"]
    )
    assert "$10^{6}$" in sec.text["numeric_check"] and "$10^{-6}$" in sec.text["numeric_check"]


def test_q2a_wrong_closed_form_fails(ctx):
    """Control: dropping the variance term of dX (a common mistake) fails every closed-form comparison."""

    def wrong(x, gamma, dy):
        out = q2a_batchnorm.closed_form(x, gamma, dy)
        X, G = x.numpy(), dy.numpy()
        s = np.sqrt(X.var(axis=0) + 1e-5)
        out["dx"] = gamma.numpy() / s * (G - G.mean(axis=0))  # no xhat * sum(G xhat) / N term
        return out

    sec = _norm_sections.closed_form_section(q2a_batchnorm.AXIS, wrong, ctx)
    compared = [c for c in sec.checks if c.name.startswith("closed form vs torch")]
    assert compared and not any(c.passed for c in compared)
    assert "do NOT all agree" in sec.text["numeric_check"] and "FAIL" in sec.text["numeric_check"]


def test_q2b_from_scratch_checks_pass(ctx):
    sec = q2b_batchnorm.check(ctx)
    assert all(c.passed for c in sec.checks), [c for c in sec.checks if not c.passed]
    names = " ".join(c.name for c in sec.checks)
    for needle in ("gradcheck", "central differences", "momentum=None", "float32", "one sample per channel"):
        assert needle in names
    f64 = [c.error for c in sec.checks if "float64" in c.name or "NumPy" in c.name or ": " in c.name]
    assert sec.metrics["from_scratch_max_error_float64"] == max(f64)  # NumPy inputs (float64) included
    assert f"all {len(sec.checks)} pass" in sec.text["implementation"]
    assert "two passes" not in sec.text["implementation"]


def test_from_scratch_text_reports_failures():
    checks = [Check("ok", True, 0.0, 1.0), Check("bad one", False, 2.0, 1.0)]
    sec = _norm_sections.from_scratch_section(
        "m.py", "api", "Summary.", checks, float64=checks[:1], n_fused=0
    )
    assert "1 of 2 FAIL (bad one)" in sec.text["implementation"]
    assert sec.metrics["from_scratch_max_error_float64"] == 0.0  # only the float64 checks passed in


def test_q2b_functional_checks_catch_a_wrong_backward():
    """Control: a backward whose input gradient is 1% off fails every comparison with torch."""
    from numeric.batchnorm import batchnorm_backward, batchnorm_forward

    def off(dy, cache):
        dx, dgamma, dbeta = batchnorm_backward(dy, cache)
        return 1.01 * dx, dgamma, dbeta

    f64, f32 = _norm_sections.functional_checks(0, batchnorm_forward, off, "wrong backward", seed=0)
    assert f64 and f32 and not any(c.passed for c in f64 + f32)
