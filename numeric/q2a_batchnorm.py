"""Q2A numeric check: the derived BatchNorm backward against torch autograd.

The closed forms of `derivations.q2_batchnorm` (dX exported as a lambdified, broadcasting
function of the aggregates; dgamma, dbeta as batch sums) are evaluated in float64 NumPy on random
and edge-case batches (N = 2, a constant feature with sigma^2 = 0, an offset of 1e6, a scale of
1e-6) and compared with autograd through ``torch.nn.functional.batch_norm(training=True)``; the
closed-form Jacobian is compared with ``torch.autograd.functional.jacobian``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from derivations.core import Context, Result, Section
from derivations.q2_batchnorm import DX_AGGREGATE, DX_ARGS
from numeric._norm_checks import (
    OFFSET,
    TINY,
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


def _power_of_ten(x: float) -> str:
    return f"$10^{{{round(np.log10(x))}}}$"


def closed_form_section(axis: int, closed_form: Callable[..., dict[str, Any]], ctx: Context) -> Section:
    """The closed forms against torch autograd on every edge case, and the Jacobian; shared with Q3A (axis 1).

    ``closed_form(x, gamma, dy) -> {"dx", "dgamma", "dbeta"}`` evaluates the derived formulas.
    """
    checks, rows = [], []
    for case in edge_cases(axis, ctx.seed):
        n, d = case.x.shape
        gamma, beta, dy = params(d, n, ctx.seed, torch.float64)
        ref = torch_reference(axis, case.x, gamma, beta, dy)
        mine = closed_form(case.x, gamma, dy)
        checks.append(
            compare_all(f"closed form vs torch autograd: {case.name}", mine, ref, case.tolerance, case.why)
        )
        errs = (float(max_rel_error(mine[k], ref[k])) for k in ("dx", "dgamma", "dbeta"))
        rows.append([case.name, f"{n} x {d}", *errs, case.tolerance])
    checks.append(jacobian_check(axis, (5, 3) if axis == 0 else (3, 5), ctx.seed))
    worst = max(c.error for c in checks)
    kernel, group, size = ("BatchNorm", "feature", "N") if axis == 0 else ("LayerNorm", "example", "D")
    failed = [c.name for c in checks if not c.passed]
    verdict = (
        f"All {len(checks)} checks pass."
        if not failed
        else f"{len(failed)} of {len(checks)} checks FAIL: {'; '.join(failed)}."
    )
    return Section(
        checks=checks,
        tables={
            "closed_form_vs_torch": {
                "columns": ["input", "shape", "dX error", "dgamma error", "dbeta error", "tolerance"],
                "rows": rows,
                "caption": f"Derived {kernel} gradients vs torch autograd (float64, max-norm relative error).",
            }
        },
        metrics={"closed_form_max_error": worst},
        text={
            "numeric_check": (
                f"Evaluated numerically, the derived formulas {'agree' if not failed else 'do NOT all agree'} with torch "
                f"autograd through its own {kernel} kernel on {len(rows)} inputs, including ${size} = 2$, a constant {group} "
                f"($\\sigma^2 = 0$, so $\\epsilon$ alone sets the scale), an offset of {_power_of_ten(OFFSET)} and a scale of "
                f"{_power_of_ten(TINY)}: the largest max-norm relative error is {worst:.1e}. {verdict}"
            )
        },
    )


def check(ctx: Context) -> Section:
    """Q2A's numeric part: the BatchNorm closed forms against torch autograd."""
    return closed_form_section(AXIS, closed_form, ctx)
