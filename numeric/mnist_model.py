"""The one fully connected network used for all of Question 4 (784-128-64-10, ReLU).

Q4A.1's initial-weight PDF (`derivations.q4a_init`) is derived for exactly these layer sizes,
and every MNIST experiment (`numeric.mnist_train`, used by `numeric.q4a_histograms`,
`numeric.q4d_optimizers` and `numeric.q4e_augmentation`) trains this model, so both import `LAYER_SIZES`
and `make_mlp` from here.
"""

from __future__ import annotations

import torch
from torch import nn

LAYER_SIZES: tuple[int, ...] = (784, 128, 64, 10)  # input, hidden..., classes


def make_mlp(sizes: tuple[int, ...] = LAYER_SIZES, seed: int | None = None) -> nn.Sequential:
    """nn.Linear layers with ReLU between them, PyTorch's default initialisation.

    With ``seed`` the global RNG is reset first (the problem set resets to 42 before every run).
    """
    if len(sizes) < 2 or any(int(s) != s or s < 1 for s in sizes):
        raise ValueError(f"sizes must be at least two positive integers, got {sizes!r}")
    if seed is not None:
        torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Flatten()]
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(fan_in, fan_out))
        if k < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)
