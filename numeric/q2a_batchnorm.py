"""Q2A numeric check: the derived BatchNorm backward against torch autograd.

The closed forms of `derivations.q2_batchnorm` (dX exported as a lambdified, broadcasting
function of the aggregates; dgamma, dbeta as batch sums) are evaluated in float64 NumPy on random
and edge-case batches (N = 2, a constant feature with sigma^2 = 0, an offset of 1e6, a scale of
1e-6) and compared with autograd through ``torch.nn.functional.batch_norm(training=True)``; the
closed-form Jacobian is compared with ``torch.autograd.functional.jacobian``.
"""

from __future__ import annotations

import torch

from derivations.core import Context, Result, Section
from derivations.q2_batchnorm import DX_AGGREGATE, DX_ARGS
from numeric._norm_checks import (
    compare_all,
    edge_cases,
    jacobian_check,
    max_rel_error,
    params,
    stats,
    torch_reference,
)

AXIS = 0  # BatchNorm: statistics over the batch, per feature


def closed_form(x: torch.Tensor, gamma: torch.Tensor, dy: torch.Tensor) -> dict[str, object]:
    """dx, dgamma, dbeta from the derived formulas (float64 NumPy)."""
    dx_fn = Result("dX", DX_AGGREGATE, DX_ARGS).callable()
    X, G, g = x.numpy(), dy.numpy(), gamma.numpy()
    xhat, s = stats(AXIS, X)
    s_g, s_gx = G.sum(axis=0), (G * xhat).sum(axis=0)
    return {"dx": dx_fn(g, s[0], G, xhat, s_g, s_gx, X.shape[0]), "dgamma": s_gx, "dbeta": s_g}


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
    checks.append(jacobian_check(AXIS, (5, 3), ctx.seed))
    worst = max(c.error for c in checks)
    return Section(
        checks=checks,
        tables={
            "closed_form_vs_torch": {
                "columns": ["input", "shape", "dX error", "dgamma error", "dbeta error", "tolerance"],
                "rows": rows,
                "caption": "Derived BatchNorm gradients vs torch autograd (float64, max-norm relative error).",
            }
        },
        metrics={"closed_form_max_error": worst},
        text={
            "numeric_check": (
                f"Evaluated numerically, the derived formulas agree with torch autograd through its own BatchNorm kernel on"
                f" {len(rows)} inputs, including $N = 2$, a constant feature ($\\sigma^2 = 0$, so $\\epsilon$ alone sets the scale),"
                f" an offset of $10^6$ and a scale of $10^{{-6}}$: the largest max-norm relative error is {worst:.1e}."
            )
        },
    )
