"""Q3A/Q3B numeric parts: every check passes, and the section records measured errors."""

from __future__ import annotations

import math

from numeric import q3a_layernorm, q3b_layernorm
from numeric._norm_checks import stats
from numeric._norm_sections import closed_form_section


def test_q3a_closed_form_checks_pass(ctx):
    sec = q3a_layernorm.check(ctx)
    assert len(sec.checks) == 7 and all(c.passed for c in sec.checks), [c for c in sec.checks if not c.passed]
    assert all(math.isfinite(c.error) and c.tolerance > 0 for c in sec.checks)
    assert "LayerNorm kernel" in sec.text["numeric_check"] and "$D = 2$" in sec.text["numeric_check"]


def test_q3a_batchnorm_style_gamma_fails(ctx):
    """Control: factoring gamma_l out of the feature sums (right for BatchNorm, wrong here) fails."""

    def wrong(x, gamma, dy):
        out = q3a_layernorm.closed_form(x, gamma, dy)
        xhat, s = stats(1, x.numpy())
        G, g = dy.numpy(), gamma.numpy()
        d = G.shape[1]
        sg, sgx = G.sum(axis=1, keepdims=True), (G * xhat).sum(axis=1, keepdims=True)
        out["dx"] = g / (d * s) * (d * G - sg - xhat * sgx)
        return out

    sec = closed_form_section(q3a_layernorm.AXIS, wrong, ctx)
    compared = [c for c in sec.checks if c.name.startswith("closed form vs torch")]
    assert compared and not any(c.passed for c in compared)
    assert "do NOT all agree" in sec.text["numeric_check"]


def test_q3b_from_scratch_checks_pass(ctx):
    sec = q3b_layernorm.check(ctx)
    assert all(c.passed for c in sec.checks), [c for c in sec.checks if not c.passed]
    names = " ".join(c.name for c in sec.checks)
    for needle in ("gradcheck", "central differences", "torch.nn.LayerNorm", "float32"):
        assert needle in names
