"""Q3A numeric check: the derived LayerNorm backward against torch autograd.

The closed forms of `derivations.q3_layernorm` (dX as a lambdified, broadcasting function of
h = gamma * G and its row sums) are evaluated in float64 NumPy on random and edge-case batches
(D = 2, a constant example with sigma^2 = 0, an offset of 1e6, a scale of 1e-6) and compared with
autograd through ``torch.nn.functional.layer_norm``; the closed-form Jacobian with
``torch.autograd.functional.jacobian``. The runner is Q2A's (`numeric._norm_sections.closed_form_section`).
"""

from __future__ import annotations

import torch

from derivations.core import Context, Result, Section
from derivations.q3_layernorm import DX_AGGREGATE, DX_ARGS
from numeric._norm_checks import stats
from numeric._norm_sections import closed_form_section

AXIS = 1  # LayerNorm: statistics over the features, per example


def closed_form(x: torch.Tensor, gamma: torch.Tensor, dy: torch.Tensor) -> dict[str, object]:
    """dx, dgamma, dbeta from the derived formulas (float64 NumPy)."""
    dx_fn = Result("dX", DX_AGGREGATE, DX_ARGS).callable()
    X, G, g = x.numpy(), dy.numpy(), gamma.numpy()
    xhat, s = stats(AXIS, X)
    h = G * g  # gamma per feature, inside the row sums
    s_h, s_hx = h.sum(axis=1, keepdims=True), (h * xhat).sum(axis=1, keepdims=True)
    return {
        "dx": dx_fn(s, h, xhat, s_h, s_hx, X.shape[1]),
        "dgamma": (G * xhat).sum(axis=0),
        "dbeta": G.sum(axis=0),
    }


def check(ctx: Context) -> Section:
    """Q3A's numeric part: the LayerNorm closed forms against torch autograd (Q2A's runner, axis 1)."""
    return closed_form_section(AXIS, closed_form, ctx)
