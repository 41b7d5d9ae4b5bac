"""Q3A numeric check: the derived LayerNorm backward against torch autograd.

The closed forms of `derivations.q3_layernorm` (dX as a lambdified, broadcasting function of
h = gamma * G and its row sums) are evaluated in float64 NumPy on random and edge-case batches
(D = 2, a constant example with sigma^2 = 0, an offset of 1e6, a scale of 1e-6) and compared with
autograd through ``torch.nn.functional.layer_norm``; the closed-form Jacobian with
``torch.autograd.functional.jacobian``.
"""

from __future__ import annotations

import torch

from derivations.core import Context, Result, Section
from derivations.q3_layernorm import DX_AGGREGATE, DX_ARGS
from numeric._norm_checks import (
    compare_all,
    edge_cases,
    jacobian_check,
    max_rel_error,
    params,
    stats,
    torch_reference,
)

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
    checks, rows = [], []
    for case in edge_cases(AXIS, ctx.seed):
        n, d = case.x.shape
        gamma, beta, dy = params(d, n, ctx.seed, torch.float64)
        ref = torch_reference(AXIS, case.x, gamma, beta, dy)
        mine = closed_form(case.x, gamma, dy)
        checks.append(
            compare_all(f"closed form vs torch autograd: {case.name}", mine, ref, case.tolerance, case.why)
        )
        rows.append(
            [
                case.name,
                f"{n} x {d}",
                *(float(max_rel_error(mine[k], ref[k])) for k in ("dx", "dgamma", "dbeta")),
                case.tolerance,
            ]
        )
    checks.append(jacobian_check(AXIS, (3, 5), ctx.seed))
    worst = max(c.error for c in checks)
    return Section(
        checks=checks,
        tables={
            "closed_form_vs_torch": {
                "columns": ["input", "shape", "dX error", "dgamma error", "dbeta error", "tolerance"],
                "rows": rows,
                "caption": "Derived LayerNorm gradients vs torch autograd (float64, max-norm relative error).",
            }
        },
        metrics={"closed_form_max_error": worst},
        text={
            "numeric_check": (
                f"Evaluated numerically, the derived formulas agree with torch autograd through its own LayerNorm kernel on"
                f" {len(rows)} inputs, including $D = 2$, a constant example ($\\sigma^2 = 0$), an offset of $10^6$ and a scale"
                f" of $10^{{-6}}$: the largest max-norm relative error is {worst:.1e}."
            )
        },
    )
