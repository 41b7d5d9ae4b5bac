"""Check runners shared by Q2A/Q3A (closed forms) and Q2B/Q3B (from scratch), for either axis.

BatchNorm normalises over axis 0, LayerNorm over axis 1; each runner takes the axis and the
question's own functions and returns checks (or a whole `Section`), with the tolerances and the
reference of `numeric._norm_checks`:

- `closed_form_section`: Q2A's and Q3A's derived formulas against torch autograd;
- `functional_checks`, `fused_checks`, `gradient_checks`: Q2B's and Q3B's forward/backward;
- `from_scratch_section`: Q2B's and Q3B's Section from their checks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from derivations.core import Check, Context, Section
from numeric import _norm_fused
from numeric._norm_checks import (
    OFFSET,
    TINY,
    TOL_FLOAT32,
    TOL_FLOAT64,
    compare_all,
    edge_cases,
    errors,
    errors_check,
    finite_difference_check,
    jacobian_check,
    params,
    run_norm,
    torch_reference,
)

F32_WHY = "float32 round-off over reductions of up to 256 terms"


def _power_of_ten(x: float) -> str:
    return f"$10^{{{round(np.log10(x))}}}$"


def _verdict(checks: list[Check]) -> str:
    failed = [c.name for c in checks if not c.passed]
    if not failed:
        return f"All {len(checks)} checks pass."
    return f"{len(failed)} of {len(checks)} checks FAIL: {'; '.join(failed)}."


def closed_form_section(axis: int, closed_form: Callable[..., dict[str, Any]], ctx: Context) -> Section:
    """The closed forms against torch autograd on every edge case, and the Jacobian (Q2A: axis 0, Q3A: axis 1).

    ``closed_form(x, gamma, dy) -> {"dx", "dgamma", "dbeta"}`` evaluates the derived formulas.
    """
    checks, rows = [], []
    for case in edge_cases(axis, ctx.seed):
        n, d = case.x.shape
        gamma, beta, dy = params(d, n, ctx.seed, torch.float64)
        errs = errors(closed_form(case.x, gamma, dy), torch_reference(axis, case.x, gamma, beta, dy))
        checks.append(
            errors_check(f"closed form vs torch autograd: {case.name}", errs, case.tolerance, case.why)
        )
        rows.append([case.name, f"{n} x {d}", errs["dx"], errs["dgamma"], errs["dbeta"], case.tolerance])
    checks.append(jacobian_check(axis, (5, 3) if axis == 0 else (3, 5), ctx.seed))
    worst = max(c.error for c in checks)
    kernel, group, size = ("BatchNorm", "feature", "N") if axis == 0 else ("LayerNorm", "example", "D")
    agree = "agree" if all(c.passed for c in checks) else "do NOT all agree"
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
                f"Evaluated numerically, the derived formulas {agree} with torch "
                f"autograd through its own {kernel} kernel on {len(rows)} inputs, including ${size} = 2$, a constant {group} "
                f"($\\sigma^2 = 0$, so $\\epsilon$ alone sets the scale), an offset of {_power_of_ten(OFFSET)} and a scale of "
                f"{_power_of_ten(TINY)}: the largest max-norm relative error is {worst:.1e}. {_verdict(checks)}"
            )
        },
    )


def oriented(axis: int, rows: int, cols: int) -> tuple[int, int]:
    """A BatchNorm shape, transposed for LayerNorm (axis 1) so the normalised groups keep their sizes."""
    return (rows, cols) if axis == 0 else (cols, rows)


def functional_checks(
    axis: int, forward: Callable, backward: Callable, label: str, seed: int
) -> tuple[list[Check], list[Check]]:
    """``forward(x, gamma, beta) -> (out, cache)``, ``backward(dy, cache)`` against torch autograd (Q2B and Q3B).

    Returns (float64 checks: every edge case, and NumPy inputs with NumPy out; float32 checks:
    two random shapes).
    """
    f64 = []
    for case in edge_cases(axis, seed):
        n, d = case.x.shape
        gamma, beta, dy = params(d, n, seed, torch.float64)
        ref = torch_reference(axis, case.x, gamma, beta, dy)
        mine = run_norm(forward, backward, case.x, gamma, beta, dy)
        f64.append(compare_all(f"{label} vs torch: {case.name}", mine, ref, case.tolerance, case.why))
    n, d = oriented(axis, 40, 12)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    gamma, beta, dy = params(d, n, seed, torch.float64)
    mine = run_norm(forward, backward, x.numpy(), gamma.numpy(), beta.numpy(), dy.numpy())
    ref = torch_reference(axis, x, gamma, beta, dy)
    f64.append(
        compare_all(
            "NumPy inputs give NumPy outputs equal to torch's", mine, ref, TOL_FLOAT64, "float64 round-off"
        )
    )
    f32 = []
    for shape in (oriented(axis, 64, 32), oriented(axis, 256, 128)):
        x = 2 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed + 3)) + 1
        gamma, beta, dy = params(shape[1], shape[0], seed, torch.float32)
        mine = run_norm(forward, backward, x, gamma, beta, dy)
        ref = torch_reference(axis, x, gamma, beta, dy)
        f32.append(compare_all(f"float32 {shape} vs torch float32", mine, ref, TOL_FLOAT32, F32_WHY))
    return f64, f32


def fused_checks(
    axis: int, forward: Callable, backward: Callable, label: str, seed: int
) -> tuple[list[Check], list[Check]]:
    """The compiled path (``fused=True``) against torch: (float64 with an offset, float32); both
    empty where torch.compile cannot build kernels here (the eager path then serves every size)."""
    if not _norm_fused.available():
        return [], []
    fused_forward = functools.partial(forward, fused=True)
    out: dict[torch.dtype, list[Check]] = {}
    n, d = 300, 24  # 300 rows (both norms): blocks of rows plus leftovers in the column sums
    f32_why = "float32 round-off over reductions of up to 300 terms"
    for dtype, tol, why, shift in ((torch.float64, TOL_FLOAT64, "float64 round-off", 100.0),
                                   (torch.float32, TOL_FLOAT32, f32_why, 1.0)):  # fmt: skip
        x = 2 * torch.randn(n, d, generator=torch.Generator().manual_seed(seed + 5), dtype=dtype) + shift
        gamma, beta, dy = params(d, n, seed, dtype)
        mine = run_norm(fused_forward, backward, x, gamma, beta, dy)
        name = f"fused {label} (torch.compile) {str(dtype).removeprefix('torch.')} {(n, d)} vs torch"
        out[dtype] = [compare_all(name, mine, torch_reference(axis, x, gamma, beta, dy), tol, why)]
    return out[torch.float64], out[torch.float32]


def gradient_checks(axis: int, fn: Callable[..., torch.Tensor], label: str, seed: int) -> list[Check]:
    """gradcheck and central differences on ``fn(x, gamma, beta)`` (the autograd.Function's output)."""
    n, d = oriented(axis, 6, 4)
    g = torch.Generator().manual_seed(seed)
    inputs = (
        torch.randn(n, d, generator=g, dtype=torch.float64),
        torch.randn(d, generator=g, dtype=torch.float64) + 1,
        torch.randn(d, generator=g, dtype=torch.float64),
    )
    leaves = tuple(t.clone().requires_grad_() for t in inputs)
    ok = torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-7, rtol=1e-5, raise_exception=False)
    return [
        Check(
            f"torch.autograd.gradcheck on {label} ({n} x {d})",
            bool(ok),
            0.0 if ok else 1.0,
            0.0,
            "gradcheck eps=1e-6, atol=1e-7, rtol=1e-5: pass/fail",
        ),
        finite_difference_check(f"closed-form backward vs central differences ({n} x {d})", fn, inputs),
    ]


def from_scratch_section(
    module: str, api: str, summary: str, checks: list[Check], float64: list[Check], n_fused: int
) -> Section:
    """Q2B's and Q3B's Section: the module and its API as answers, the summary with the checks' verdict.

    ``float64``: the float64 comparisons with torch among ``checks`` (functional, NumPy, fused,
    module), whose worst error is the metric; ``n_fused``: how many checks ran the compiled kernels.
    """
    if n_fused:
        summary += (
            f" For inputs of at least {_norm_fused.AUTO_MIN_NUMEL:,} elements the same closed forms run by"
            " default as compiled kernels (torch.compile, numeric/_norm_fused.py), which keep $X$ and the"
            f" statistics and recompute $\\hat{{X}}$ in the backward as torch does; {n_fused} checks cover them."
        )
    else:
        err = _norm_fused.build_error()
        why = f" ({type(err).__name__})" if err is not None else ""
        summary += (
            f" torch.compile cannot build kernels on this machine{why}, so the eager path serves every size."
        )
    failed = [c.name for c in checks if not c.passed]
    verdict = (
        f"all {len(checks)} pass"
        if not failed
        else f"{len(failed)} of {len(checks)} FAIL ({'; '.join(failed)})"
    )
    kinds = (
        "comparisons with torch in float64 and float32, torch.autograd.gradcheck, central differences"
        " and the expected ValueErrors"
    )
    return Section(
        answers={"module": module, "api": api},
        checks=checks,
        metrics={"from_scratch_max_error_float64": max(c.error for c in float64)},
        text={"implementation": f"{summary} Of the checks ({kinds}), {verdict}."},
    )
