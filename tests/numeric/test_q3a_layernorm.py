"""Q3A/Q3B numeric parts: every check passes, and the section records measured errors."""

from __future__ import annotations

import math

from numeric import q3a_layernorm, q3b_layernorm


def test_q3a_closed_form_checks_pass(ctx):
    sec = q3a_layernorm.check(ctx)
    assert len(sec.checks) == 7 and all(c.passed for c in sec.checks), [c for c in sec.checks if not c.passed]
    assert all(math.isfinite(c.error) and c.tolerance > 0 for c in sec.checks)


def test_q3b_from_scratch_checks_pass(ctx):
    sec = q3b_layernorm.check(ctx)
    assert all(c.passed for c in sec.checks), [c for c in sec.checks if not c.passed]
    names = " ".join(c.name for c in sec.checks)
    for needle in ("gradcheck", "central differences", "torch.nn.LayerNorm", "float32"):
        assert needle in names
