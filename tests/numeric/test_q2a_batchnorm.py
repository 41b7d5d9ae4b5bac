"""Q2A/Q2B numeric parts: every check passes, and the section records measured errors."""

from __future__ import annotations

import math

from numeric import q2a_batchnorm, q2b_batchnorm


def test_q2a_closed_form_checks_pass(ctx):
    sec = q2a_batchnorm.check(ctx)
    assert len(sec.checks) == 7 and all(c.passed for c in sec.checks), [c for c in sec.checks if not c.passed]
    assert all(math.isfinite(c.error) and c.tolerance > 0 for c in sec.checks)
    assert len(sec.tables["closed_form_vs_torch"]["rows"]) == 6


def test_q2b_from_scratch_checks_pass(ctx):
    sec = q2b_batchnorm.check(ctx)
    assert all(c.passed for c in sec.checks), [c for c in sec.checks if not c.passed]
    names = " ".join(c.name for c in sec.checks)
    for needle in ("gradcheck", "central differences", "momentum=None", "float32", "one sample per channel"):
        assert needle in names
