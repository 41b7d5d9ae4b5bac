"""Q2A numeric check: the derived BatchNorm backward against torch autograd.

The closed forms of `derivations.q2_batchnorm` (dX exported as a lambdified, broadcasting
function of the aggregates; dgamma, dbeta as batch sums) are evaluated in float64 NumPy on random
and edge-case batches (N = 2, a constant feature with sigma^2 = 0, an offset of 1e6, a scale of
1e-6) and compared with autograd through ``torch.nn.functional.batch_norm(training=True)``; the
closed-form Jacobian is compared with ``torch.autograd.functional.jacobian``. The runner,
shared with Q3A, is `numeric._norm_sections.closed_form_section`.
"""

from __future__ import annotations

import torch

from derivations.core import Context, Result, Section
from derivations.q2_batchnorm import DX_AGGREGATE, DX_ARGS
from numeric._norm_checks import stats
from numeric._norm_sections import closed_form_section

AXIS = 0  # BatchNorm: statistics over the batch, per feature


def closed_form(x: torch.Tensor, gamma: torch.Tensor, dy: torch.Tensor) -> dict[str, object]:
    """dx, dgamma, dbeta from the derived formulas (float64 NumPy)."""
    dx_fn = Result("dX", DX_AGGREGATE, DX_ARGS).callable()
    X, G, g = x.numpy(), dy.numpy(), gamma.numpy()
    xhat, s = stats(AXIS, X)
    s_g, s_gx = G.sum(axis=0), (G * xhat).sum(axis=0)
    return {"dx": dx_fn(g, s[0], G, xhat, s_g, s_gx, X.shape[0]), "dgamma": s_gx, "dbeta": s_g}


def check(ctx: Context) -> Section:
    """Q2A's numeric part: the BatchNorm closed forms against torch autograd."""
    return closed_form_section(AXIS, closed_form, ctx)
