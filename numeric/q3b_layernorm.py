"""Q3B check: the from-scratch LayerNorm (`numeric.layernorm`) against torch.

- `layernorm_forward`/`layernorm_backward` vs autograd through ``F.layer_norm`` on random and
  edge-case inputs (float64) and random inputs in float32, torch and NumPy inputs;
- ``torch.autograd.gradcheck`` and central differences on the autograd.Function;
- `LayerNorm` vs ``torch.nn.LayerNorm(D)`` on (B, T, D) inputs, train and eval, float64 and float32;
- bad inputs raise ValueError naming the argument.

The runners are shared with Q2B (`numeric._norm_sections`), run here with axis 1.
"""

from __future__ import annotations

import torch

from derivations.core import Check, Context, Section
from numeric._norm_checks import expect_value_error, module_check, module_errors
from numeric._norm_sections import from_scratch_section, functional_checks, fused_checks, gradient_checks
from numeric.layernorm import LayerNorm, LayerNormFunction, layernorm_backward, layernorm_forward

AXIS = 1
LABEL = "layernorm_forward/backward"


def _ln_function(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return LayerNormFunction.apply(x, gamma, beta, 1e-5)


def layernorm_module_check(dtype: torch.dtype, seed: int) -> Check:
    """Train and eval mode (LayerNorm has no running statistics: both modes must agree with torch)."""
    b, t, d = 3, 5, 16
    g = torch.Generator().manual_seed(seed + 11)
    mine, ref = LayerNorm(d, dtype=dtype), torch.nn.LayerNorm(d, dtype=dtype)
    with torch.no_grad():
        w, bias = torch.randn(d, generator=g) + 1, torch.randn(d, generator=g)
        for mod in (mine, ref):
            mod.weight.copy_(w)
            mod.bias.copy_(bias)
    batches = []
    for train in (True, False):
        x = (3 * torch.randn(b, t, d, generator=g) + 2).to(dtype)
        batches.append((train, x, torch.randn(b, t, d, generator=g).to(dtype)))
    return module_check(
        "LayerNorm vs torch.nn.LayerNorm",
        module_errors(mine, ref, batches),
        dtype,
        "(3, 5, 16) input, train + eval",
    )


def check(ctx: Context) -> Section:
    g = torch.Generator().manual_seed(ctx.seed + 13)
    ones, zeros = torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    f64, f32 = functional_checks(AXIS, layernorm_forward, layernorm_backward, LABEL, ctx.seed)
    fused64, fused32 = fused_checks(AXIS, layernorm_forward, layernorm_backward, LABEL, ctx.seed)
    module64 = layernorm_module_check(torch.float64, ctx.seed)
    checks = [
        *f64,
        *f32,
        *fused64,
        *fused32,
        *gradient_checks(AXIS, _ln_function, "LayerNormFunction", ctx.seed),
        module64,
        layernorm_module_check(torch.float32, ctx.seed),
        expect_value_error(
            "bad inputs raise ValueError naming the argument",
            lambda: layernorm_forward(
                torch.randn(5, 4, generator=g, dtype=torch.float64), torch.ones(5, dtype=torch.float64), zeros
            ),
            lambda: layernorm_forward(torch.full((5, 4), float("inf"), dtype=torch.float64), ones, zeros),
            lambda: layernorm_forward(torch.randn(5, generator=g, dtype=torch.float64), ones, zeros),
            lambda: LayerNorm(4)(torch.randn(3, 5, generator=g)),
        ),
    ]
    return from_scratch_section(
        "numeric/layernorm.py",
        "layernorm_forward(x, gamma, beta, eps=1e-5) -> (out, cache); layernorm_backward(dout, cache)"
        " -> (dx, dgamma, dbeta); LayerNorm(normalized_shape, eps=1e-5)",
        "numeric/layernorm.py implements layernorm_forward(x, gamma, beta, eps) -> (out, cache) and"
        " layernorm_backward(dout, cache) -> (dx, dgamma, dbeta) with the closed-form backward of 3A (no autograd):"
        " the per-example sums of $\\gamma \\odot G$ and $\\gamma \\odot G \\odot \\hat{X}$ are matrix-vector products"
        " with $\\gamma$, and a LayerNorm module over the last dimension.",
        checks,
        float64=[*f64, *fused64, module64],
        n_fused=len(fused64) + len(fused32),
    )
