"""Q3B check: the from-scratch LayerNorm (`numeric.layernorm`) against torch.

- `layernorm_forward`/`layernorm_backward` vs autograd through ``F.layer_norm`` on random and
  edge-case inputs (float64) and random inputs in float32, torch and NumPy inputs;
- ``torch.autograd.gradcheck`` and central differences on the autograd.Function;
- `LayerNorm` vs ``torch.nn.LayerNorm(D)`` on (B, T, D) inputs, train and eval, float64 and float32;
- bad inputs raise ValueError naming the argument.
"""

from __future__ import annotations

import torch

from derivations.core import Check, Context, Section
from numeric._norm_checks import (
    TOL_FLOAT32,
    TOL_FLOAT64,
    compare_all,
    edge_cases,
    expect_value_error,
    finite_difference_check,
    max_rel_error,
    params,
    torch_reference,
)
from numeric.layernorm import LayerNorm, LayerNormFunction, layernorm_backward, layernorm_forward

AXIS = 1
F32_WHY = "float32 round-off over reductions of up to 256 terms"


def functional(x: object, gamma: object, beta: object, dy: object) -> dict[str, object]:
    out, cache = layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layernorm_backward(dy, cache)
    return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def functional_checks(seed: int) -> list[Check]:
    checks = []
    for case in edge_cases(AXIS, seed):
        n, d = case.x.shape
        gamma, beta, dy = params(d, n, seed, torch.float64)
        ref = torch_reference(AXIS, case.x, gamma, beta, dy)
        checks.append(
            compare_all(
                f"layernorm_forward/backward vs torch: {case.name}",
                functional(case.x, gamma, beta, dy),
                ref,
                case.tolerance,
                case.why,
            )
        )
    x = torch.randn(12, 40, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    gamma, beta, dy = params(40, 12, seed, torch.float64)
    mine = functional(x.numpy(), gamma.numpy(), beta.numpy(), dy.numpy())
    checks.append(
        compare_all(
            "NumPy inputs give NumPy outputs equal to torch's",
            mine,
            torch_reference(AXIS, x, gamma, beta, dy),
            TOL_FLOAT64,
            "float64 round-off",
        )
    )
    for shape in ((32, 64), (128, 256)):
        x = 2 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed + 3)) + 1
        gamma, beta, dy = params(shape[1], shape[0], seed, torch.float32)
        checks.append(
            compare_all(
                f"float32 {shape} vs torch float32",
                functional(x, gamma, beta, dy),
                torch_reference(AXIS, x, gamma, beta, dy),
                TOL_FLOAT32,
                F32_WHY,
            )
        )
    return checks


def gradient_checks(seed: int) -> list[Check]:
    g = torch.Generator().manual_seed(seed)
    inputs = (
        torch.randn(4, 6, generator=g, dtype=torch.float64),
        torch.randn(6, generator=g, dtype=torch.float64) + 1,
        torch.randn(6, generator=g, dtype=torch.float64),
    )

    def fn(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        return LayerNormFunction.apply(x, gamma, beta, 1e-5)

    leaves = tuple(t.clone().requires_grad_() for t in inputs)
    ok = torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-7, rtol=1e-5, raise_exception=False)
    return [
        Check(
            "torch.autograd.gradcheck on LayerNormFunction (4 x 6)",
            bool(ok),
            0.0 if ok else 1.0,
            0.0,
            "gradcheck eps=1e-6, atol=1e-7, rtol=1e-5: pass/fail",
        ),
        finite_difference_check("closed-form backward vs central differences (4 x 6)", fn, inputs),
    ]


def module_check(dtype: torch.dtype, seed: int) -> Check:
    """Train and eval mode (LayerNorm has no running statistics: both modes must agree with torch)."""
    b, t, d = 3, 5, 16
    g = torch.Generator().manual_seed(seed + 11)
    mine, ref = LayerNorm(d, dtype=dtype), torch.nn.LayerNorm(d, dtype=dtype)
    with torch.no_grad():
        w, bias = torch.randn(d, generator=g) + 1, torch.randn(d, generator=g)
        for mod in (mine, ref):
            mod.weight.copy_(w)
            mod.bias.copy_(bias)
    errs: dict[str, list[float]] = {}
    for train in (True, False):
        x = (3 * torch.randn(b, t, d, generator=g) + 2).to(dtype)
        dy = torch.randn(b, t, d, generator=g).to(dtype)
        res = []
        for mod in (mine, ref):
            mod.train(train)
            mod.zero_grad()
            xi = x.clone().requires_grad_()
            out = mod(xi)
            out.backward(dy)
            res.append({"out": out, "dx": xi.grad, "dgamma": mod.weight.grad, "dbeta": mod.bias.grad})
        for k in res[0]:
            errs.setdefault(k, []).append(max_rel_error(res[0][k], res[1][k]))
    tol = TOL_FLOAT64 if dtype == torch.float64 else TOL_FLOAT32
    worst = max(max(v) for v in errs.values())
    detail = (
        ", ".join(f"{k} {max(v):.1e}" for k, v in errs.items())
        + " ((3, 5, 16) input, train + eval; max-norm relative error)"
    )
    return Check(
        f"LayerNorm vs torch.nn.LayerNorm, {str(dtype).removeprefix('torch.')}",
        bool(worst <= tol),
        worst,
        tol,
        detail,
    )


def check(ctx: Context) -> Section:
    ones, zeros = torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    checks = [
        *functional_checks(ctx.seed),
        *gradient_checks(ctx.seed),
        module_check(torch.float64, ctx.seed),
        module_check(torch.float32, ctx.seed),
        expect_value_error(
            "bad inputs raise ValueError naming the argument",
            lambda: layernorm_forward(
                torch.randn(5, 4, dtype=torch.float64), torch.ones(5, dtype=torch.float64), zeros
            ),
            lambda: layernorm_forward(torch.full((5, 4), float("inf"), dtype=torch.float64), ones, zeros),
            lambda: layernorm_forward(torch.randn(5, dtype=torch.float64), ones, zeros),
            lambda: LayerNorm(4)(torch.randn(3, 5)),
        ),
    ]
    n_ok = sum(c.passed for c in checks)
    return Section(
        answers={
            "module": "numeric/layernorm.py",
            "api": "layernorm_forward(x, gamma, beta, eps=1e-5) -> (out, cache); layernorm_backward(dout, cache)"
            " -> (dx, dgamma, dbeta); LayerNorm(normalized_shape, eps=1e-5)",
        },
        checks=checks,
        metrics={
            "from_scratch_max_error_float64": max(
                c.error for c in checks if "vs torch" in c.name and "float32" not in c.name
            )
        },
        text={
            "implementation": (
                "numeric/layernorm.py implements layernorm_forward(x, gamma, beta, eps) -> (out, cache) and"
                " layernorm_backward(dout, cache) -> (dx, dgamma, dbeta) with the closed-form backward of 3A (no autograd):"
                " the per-example sums of $\\gamma \\odot G$ and $\\gamma \\odot G \\odot \\hat{X}$ are matrix-vector products with"
                f" $\\gamma$, and a LayerNorm module over the last dimension. {n_ok} of {len(checks)} checks against torch pass."
            )
        },
    )
