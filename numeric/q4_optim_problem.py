"""A small float64 problem on which Q4B and Q4C compare optimiser trajectories step for step.

A tanh MLP (``d_in -> hidden -> classes``) with cross-entropy on fixed random data: non-quadratic,
so a weight's gradient depends on the weights and a wrong update shows up within a few steps.
`trajectory` runs a torch.optim optimiser on ``loss + lambda_l2 sum_i w_i^2`` (the problem's
notation for the l2 penalty) and records the flattened
parameters after every step; `manual_trajectory` does the same with a hand-written update rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from numeric.mnist_train import cpu_threads

Params = list[torch.Tensor]
# A hand-written optimiser: (params, grads, state, step t starting at 1) -> new params.
Update = Callable[[Params, Params, dict, int], Params]
# The tensors here are tiny: intra-op threads only add synchronisation, which on a loaded machine
# costs 10-100x (measured: 200 SGD steps 0.07 s on one thread, up to 6 s on two).
THREADS = 1


@dataclass(frozen=True)
class ProblemConfig:
    n: int = 64  # examples
    d_in: int = 5  # input features
    hidden: int = 8  # tanh units
    classes: int = 3
    seed: int = 0


class SmallProblem:
    """Fixed data and a fixed initialisation; every run starts from the same weights."""

    def __init__(self, cfg: ProblemConfig = ProblemConfig()) -> None:
        if min(cfg.n, cfg.d_in, cfg.hidden, cfg.classes) < 1:
            raise ValueError(f"cfg sizes must be positive, got {cfg}")
        self.cfg = cfg
        gen = torch.Generator().manual_seed(cfg.seed)
        kw = {"dtype": torch.float64, "generator": gen}
        self.x = torch.randn(cfg.n, cfg.d_in, **kw)
        self.y = torch.randint(0, cfg.classes, (cfg.n,), generator=gen)
        self._init = [
            torch.randn(cfg.hidden, cfg.d_in, **kw) / cfg.d_in**0.5,
            torch.zeros(cfg.hidden, dtype=torch.float64),
            torch.randn(cfg.classes, cfg.hidden, **kw) / cfg.hidden**0.5,
            torch.zeros(cfg.classes, dtype=torch.float64),
        ]

    def init_params(self) -> Params:
        return [p.clone().requires_grad_(True) for p in self._init]

    def loss(self, params: Params) -> torch.Tensor:
        w1, b1, w2, b2 = params
        logits = torch.tanh(self.x @ w1.T + b1) @ w2.T + b2
        return torch.nn.functional.cross_entropy(logits, self.y)


def _flat(params: Params) -> np.ndarray:
    return torch.cat([p.detach().reshape(-1) for p in params]).numpy().copy()


def trajectory(
    problem: SmallProblem,
    make_optimizer: Callable[[Params], torch.optim.Optimizer],
    steps: int,
    lambda_l2: float = 0.0,
) -> np.ndarray:
    """Parameters ``(steps + 1, P)`` of a torch optimiser on ``loss + lambda_l2 sum_i w_i^2``."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    params = problem.init_params()
    opt = make_optimizer(params)
    out = [_flat(params)]
    with cpu_threads(THREADS):
        for _ in range(steps):
            opt.zero_grad()
            loss = problem.loss(params)
            if lambda_l2:
                loss = loss + lambda_l2 * sum((p**2).sum() for p in params)
            loss.backward()
            opt.step()
            out.append(_flat(params))
    return np.stack(out)


def manual_trajectory(problem: SmallProblem, update: Update, steps: int) -> np.ndarray:
    """Parameters ``(steps + 1, P)`` of a hand-written update on the data loss alone."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    params = problem.init_params()
    state: dict = {}
    out = [_flat(params)]
    with cpu_threads(THREADS):
        for t in range(1, steps + 1):
            grads = torch.autograd.grad(problem.loss(params), params)
            with torch.no_grad():
                new = update([p.detach() for p in params], list(grads), state, t)
            params = [p.clone().requires_grad_(True) for p in new]
            out.append(_flat(params))
    return np.stack(out)
