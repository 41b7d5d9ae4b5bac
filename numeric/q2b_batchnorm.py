"""Q2B check: the from-scratch BatchNorm (`numeric.batchnorm`) against torch.

- `batchnorm_forward`/`batchnorm_backward` vs autograd through ``F.batch_norm(training=True)``
  on random and edge-case inputs (float64) and random inputs in float32, torch and NumPy inputs;
- ``torch.autograd.gradcheck`` and central differences on the autograd.Function;
- `BatchNorm1d` vs ``torch.nn.BatchNorm1d``: three training steps (outputs, gradients, running
  mean and unbiased running variance, momentum 0.1 and None), then eval mode;
- one sample per channel in training raises ValueError, as torch does;
- where torch.compile works, the fused kernels (`numeric._norm_fused`, the default for inputs of
  2**19 elements or more) against torch as well, on shapes that take their two-stage column sums.

The runners are shared with Q3B (`numeric._norm_sections`), run here with axis 0.
"""

from __future__ import annotations

import torch

from derivations.core import Check, Context, Section
from numeric._norm_checks import expect_value_error, module_check, module_errors
from numeric._norm_sections import from_scratch_section, functional_checks, fused_checks, gradient_checks
from numeric.batchnorm import BatchNorm1d, BatchNormFunction, batchnorm_backward, batchnorm_forward

AXIS = 0
LABEL = "batchnorm_forward/backward"


def _bn_function(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return BatchNormFunction.apply(x, gamma, beta, 1e-5)[0]


def batchnorm_module_check(dtype: torch.dtype, momentum: float | None, seed: int) -> Check:
    """Three training steps then one eval step, ours and torch's side by side (outputs, gradients,
    running statistics)."""
    n, d = 24, 10
    g = torch.Generator().manual_seed(seed + 11)
    mine = BatchNorm1d(d, momentum=momentum, dtype=dtype)
    ref = torch.nn.BatchNorm1d(d, momentum=momentum, dtype=dtype)
    with torch.no_grad():
        w, b = torch.randn(d, generator=g) + 1, torch.randn(d, generator=g)
        for mod in (mine, ref):
            mod.weight.copy_(w)
            mod.bias.copy_(b)
    batches = []
    for step in range(4):
        x = (3 * torch.randn(n, d, generator=g) + 2).to(dtype)
        batches.append((step < 3, x, torch.randn(n, d, generator=g).to(dtype)))
    return module_check(
        f"BatchNorm1d vs torch.nn.BatchNorm1d, momentum={momentum}",
        module_errors(mine, ref, batches),
        dtype,
        "3 train steps + eval",
    )


def check(ctx: Context) -> Section:
    g = torch.Generator().manual_seed(ctx.seed + 13)
    x1 = torch.randn(1, 4, generator=g, dtype=torch.float64)
    ones, zeros = torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    f64, f32 = functional_checks(AXIS, batchnorm_forward, batchnorm_backward, LABEL, ctx.seed)
    fused64, fused32 = fused_checks(AXIS, batchnorm_forward, batchnorm_backward, LABEL, ctx.seed)
    modules64 = [
        batchnorm_module_check(torch.float64, 0.1, ctx.seed),
        batchnorm_module_check(torch.float64, None, ctx.seed),
    ]
    checks = [
        *f64,
        *f32,
        *fused64,
        *fused32,
        *gradient_checks(AXIS, _bn_function, "BatchNormFunction", ctx.seed),
        *modules64,
        batchnorm_module_check(torch.float32, 0.1, ctx.seed),
        expect_value_error(
            "training with one sample per channel raises ValueError (ours and torch's)",
            lambda: batchnorm_forward(x1, ones, zeros),
            lambda: BatchNorm1d(4, dtype=torch.float64)(x1),
            lambda: torch.nn.BatchNorm1d(4, dtype=torch.float64)(x1),
        ),
        expect_value_error(
            "bad inputs raise ValueError naming the argument",
            lambda: batchnorm_forward(
                torch.randn(5, 4, generator=g, dtype=torch.float64), torch.ones(3, dtype=torch.float64), zeros
            ),
            lambda: batchnorm_forward(torch.full((5, 4), float("nan"), dtype=torch.float64), ones, zeros),
            lambda: batchnorm_forward(torch.randn(5, 4, 2, generator=g, dtype=torch.float64), ones, zeros),
        ),
    ]
    return from_scratch_section(
        "numeric/batchnorm.py",
        "batchnorm_forward(x, gamma, beta, eps=1e-5) -> (out, cache); batchnorm_backward(dout, cache)"
        " -> (dx, dgamma, dbeta); BatchNorm1d(num_features, eps=1e-5, momentum=0.1)",
        "numeric/batchnorm.py implements batchnorm_forward(x, gamma, beta, eps) -> (out, cache) and"
        " batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta) with the closed-form backward of 2A (no autograd),"
        " and a BatchNorm1d module with running statistics. On the eager path the forward caches $\\hat{X}$ and"
        " $1/s$; the backward takes the batch sums $\\sum_i G$ and $\\sum_i G \\odot \\hat{X}$ as matrix-vector"
        " products and forms $dX$ from them with two multiply-adds into one buffer.",
        checks,
        float64=[*f64, *fused64, *modules64],
        n_fused=len(fused64) + len(fused32),
    )
