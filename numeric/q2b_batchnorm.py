"""Q2B check: the from-scratch BatchNorm (`numeric.batchnorm`) against torch.

- `batchnorm_forward`/`batchnorm_backward` vs autograd through ``F.batch_norm(training=True)``
  on random and edge-case inputs (float64) and random inputs in float32, torch and NumPy inputs;
- ``torch.autograd.gradcheck`` and central differences on the autograd.Function;
- `BatchNorm1d` vs ``torch.nn.BatchNorm1d``: three training steps (outputs, gradients, running
  mean and unbiased running variance, momentum 0.1 and None), then eval mode;
- one sample per channel in training raises ValueError, as torch does;
- where torch.compile works, the fused kernels (`numeric._norm_fused`, the default for inputs of
  2**19 elements or more) against torch as well, on shapes that take their two-stage column sums.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from derivations.core import Check, Context, Section
from numeric import _norm_fused
from numeric._norm_checks import (
    TOL_FLOAT32,
    TOL_FLOAT64,
    compare_all,
    edge_cases,
    expect_value_error,
    finite_difference_check,
    max_rel_error,
    params,
    summarise_module_errors,
    torch_reference,
)
from numeric.batchnorm import BatchNorm1d, BatchNormFunction, batchnorm_backward, batchnorm_forward

AXIS = 0
F32_WHY = "float32 round-off over reductions of up to 256 terms"


def _oriented(axis: int, rows: int, cols: int) -> tuple[int, int]:
    """A BatchNorm shape, transposed for LayerNorm (axis 1) so the normalised groups keep their sizes."""
    return (rows, cols) if axis == 0 else (cols, rows)


def functional_checks(axis: int, forward: Callable, backward: Callable, label: str, seed: int) -> list[Check]:
    """``forward(x, gamma, beta) -> (out, cache)``, ``backward(dy, cache)`` against torch autograd (Q2B and Q3B).

    Every edge case in float64, NumPy inputs (NumPy out), and two random float32 shapes.
    """

    def functional(x: Any, gamma: Any, beta: Any, dy: Any) -> dict[str, Any]:
        out, cache = forward(x, gamma, beta)
        dx, dgamma, dbeta = backward(dy, cache)
        return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}

    checks = []
    for case in edge_cases(axis, seed):
        n, d = case.x.shape
        gamma, beta, dy = params(d, n, seed, torch.float64)
        ref = torch_reference(axis, case.x, gamma, beta, dy)
        mine = functional(case.x, gamma, beta, dy)
        checks.append(compare_all(f"{label} vs torch: {case.name}", mine, ref, case.tolerance, case.why))
    n, d = _oriented(axis, 40, 12)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    gamma, beta, dy = params(d, n, seed, torch.float64)
    mine = functional(x.numpy(), gamma.numpy(), beta.numpy(), dy.numpy())
    ref = torch_reference(axis, x, gamma, beta, dy)
    checks.append(
        compare_all(
            "NumPy inputs give NumPy outputs equal to torch's", mine, ref, TOL_FLOAT64, "float64 round-off"
        )
    )
    for shape in (_oriented(axis, 64, 32), _oriented(axis, 256, 128)):
        x = 2 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed + 3)) + 1
        gamma, beta, dy = params(shape[1], shape[0], seed, torch.float32)
        ref = torch_reference(axis, x, gamma, beta, dy)
        checks.append(
            compare_all(
                f"float32 {shape} vs torch float32", functional(x, gamma, beta, dy), ref, TOL_FLOAT32, F32_WHY
            )
        )
    return checks


def fused_checks(axis: int, forward: Callable, backward: Callable, label: str, seed: int) -> list[Check]:
    """The compiled path (``fused=True``) against torch, float64 with an offset and float32; none
    where torch.compile cannot build kernels here (the eager path then serves every size)."""
    if not _norm_fused.available():
        return []
    fused_forward = functools.partial(forward, fused=True)
    checks = []
    n, d = 300, 24  # 300 rows (both norms): blocks of rows plus leftovers in the column sums
    f32_why = "float32 round-off over reductions of up to 300 terms"
    for dtype, tol, why, shift in ((torch.float64, TOL_FLOAT64, "float64 round-off", 100.0),
                                   (torch.float32, TOL_FLOAT32, f32_why, 1.0)):  # fmt: skip
        x = 2 * torch.randn(n, d, generator=torch.Generator().manual_seed(seed + 5), dtype=dtype) + shift
        gamma, beta, dy = params(d, n, seed, dtype)
        out, cache = fused_forward(x, gamma, beta)
        mine = dict(zip(("dx", "dgamma", "dbeta"), backward(dy, cache), strict=True), out=out)
        name = f"fused {label} (torch.compile) {str(dtype).removeprefix('torch.')} {(n, d)} vs torch"
        checks.append(compare_all(name, mine, torch_reference(axis, x, gamma, beta, dy), tol, why))
    return checks


def gradient_checks(axis: int, fn: Callable[..., torch.Tensor], label: str, seed: int) -> list[Check]:
    """gradcheck and central differences on ``fn(x, gamma, beta)`` (the autograd.Function's output)."""
    n, d = _oriented(axis, 6, 4)
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


def _bn_function(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return BatchNormFunction.apply(x, gamma, beta, 1e-5)[0]


def module_check(dtype: torch.dtype, momentum: float | None, seed: int) -> Check:
    """Three training steps then one eval step, ours and torch's side by side."""
    n, d = 24, 10
    g = torch.Generator().manual_seed(seed + 11)
    mine = BatchNorm1d(d, momentum=momentum, dtype=dtype)
    ref = torch.nn.BatchNorm1d(d, momentum=momentum, dtype=dtype)
    with torch.no_grad():
        w, b = torch.randn(d, generator=g) + 1, torch.randn(d, generator=g)
        for mod in (mine, ref):
            mod.weight.copy_(w)
            mod.bias.copy_(b)
    errs: dict[str, list[float]] = {}
    for step in range(4):
        if step == 3:
            mine.eval()
            ref.eval()
        x = (3 * torch.randn(n, d, generator=g) + 2).to(dtype)
        dy = torch.randn(n, d, generator=g).to(dtype)
        res = []
        for mod in (mine, ref):
            mod.zero_grad()
            xi = x.clone().requires_grad_()
            out = mod(xi)
            out.backward(dy)
            res.append(
                {
                    "out": out,
                    "dx": xi.grad,
                    "dgamma": mod.weight.grad,
                    "dbeta": mod.bias.grad,
                    "running_mean": mod.running_mean,
                    "running_var": mod.running_var,
                }
            )
        for k in res[0]:
            errs.setdefault(k, []).append(max_rel_error(res[0][k], res[1][k]))
    return summarise_module_errors(
        f"BatchNorm1d vs torch.nn.BatchNorm1d, momentum={momentum}", errs, dtype, "3 train steps + eval"
    )


def check(ctx: Context) -> Section:
    x1 = torch.randn(1, 4, dtype=torch.float64)
    ones, zeros = torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    checks = [
        *functional_checks(
            AXIS, batchnorm_forward, batchnorm_backward, "batchnorm_forward/backward", ctx.seed
        ),
        *fused_checks(AXIS, batchnorm_forward, batchnorm_backward, "batchnorm_forward/backward", ctx.seed),
        *gradient_checks(AXIS, _bn_function, "BatchNormFunction", ctx.seed),
        module_check(torch.float64, 0.1, ctx.seed),
        module_check(torch.float64, None, ctx.seed),
        module_check(torch.float32, 0.1, ctx.seed),
        expect_value_error(
            "training with one sample per channel raises ValueError (ours and torch's)",
            lambda: batchnorm_forward(x1, ones, zeros),
            lambda: BatchNorm1d(4, dtype=torch.float64)(x1),
            lambda: torch.nn.BatchNorm1d(4, dtype=torch.float64)(x1),
        ),
        expect_value_error(
            "bad inputs raise ValueError naming the argument",
            lambda: batchnorm_forward(
                torch.randn(5, 4, dtype=torch.float64), torch.ones(3, dtype=torch.float64), zeros
            ),
            lambda: batchnorm_forward(torch.full((5, 4), float("nan"), dtype=torch.float64), ones, zeros),
            lambda: batchnorm_forward(torch.randn(5, 4, 2, dtype=torch.float64), ones, zeros),
        ),
    ]
    return from_scratch_section(
        "numeric/batchnorm.py",
        "batchnorm_forward(x, gamma, beta, eps=1e-5) -> (out, cache); batchnorm_backward(dout, cache)"
        " -> (dx, dgamma, dbeta); BatchNorm1d(num_features, eps=1e-5, momentum=0.1)",
        "numeric/batchnorm.py implements batchnorm_forward(x, gamma, beta, eps) -> (out, cache) and"
        " batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta) with the closed-form backward of 2A (no autograd),"
        " caching $\\hat{X}$ and $1/s$ so that the input gradient takes two passes over the batch, and a BatchNorm1d"
        " module with running statistics.",
        checks,
    )


def from_scratch_section(module: str, api: str, summary: str, checks: list[Check]) -> Section:
    """Q2B's and Q3B's Section: the module and its API as answers, the summary with the checks' count."""
    n_ok = sum(c.passed for c in checks)
    f64 = [c.error for c in checks if "vs torch" in c.name and "float32" not in c.name]
    n_fused = sum(c.name.startswith("fused") for c in checks)
    if n_fused:
        summary += (
            f" For inputs of at least {_norm_fused.AUTO_MIN_NUMEL:,} elements the same closed forms run by"
            " default as compiled kernels (torch.compile, numeric/_norm_fused.py), which keep $X$ and the"
            f" statistics and recompute $\\hat{{X}}$ in the backward as torch does; {n_fused} checks cover them."
        )
    else:
        summary += " torch.compile cannot build kernels on this machine, so the eager path serves every size."
    return Section(
        answers={"module": module, "api": api},
        checks=checks,
        metrics={"from_scratch_max_error_float64": max(f64)},
        text={"implementation": f"{summary} {n_ok} of {len(checks)} checks against torch pass."},
    )
