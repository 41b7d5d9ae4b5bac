"""Q4C.2/Q4C.3 numeric: torch.optim's documented weight-decay semantics, tested step for step.

On the float64 `SmallProblem`, for `SemanticsConfig.steps` steps:

- AdamW(weight_decay=lambda) == a hand-written AdamW: ``w <- (1 - eta lambda) w``, then the Adam step
  with the *derived* bias correction (`derivations.q4c_adam.bias_correction`);
- Adam(weight_decay=lambda) == Adam on ``L + (lambda/2) ||w||^2`` (coupled l2), and a hand-written
  Adam == torch's Adam;
- SGD(momentum, weight_decay) == SGD(momentum) on ``L + (lambda/2) ||w||^2`` (the decay is added to the
  gradient before the buffer), RMSprop likewise;
- controls that must separate: AdamW vs Adam(weight_decay), and a decay not multiplied by the
  learning rate vs torch's AdamW.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import sympy as sp
import torch

from derivations.core import Check, Context, Section
from derivations.q4c_adam import bias_correction
from derivations.symbols import beta, t
from numeric.checks import compare
from numeric.q4_optim_problem import Params, SmallProblem, manual_trajectory, single_threaded, trajectory

# 200 Adam steps in float64: each step's reordering of the same operations costs ~1e-16 relative,
# and the tanh network's dynamics amplify it mildly; 1e-9 is a million times the round-off scale.
TOL_TRAJECTORY = 1e-9
SEPARATION_MIN = 1e-3  # a genuinely different update moves the weights by >> this (measured ~1e-2..1e-1)


@dataclass(frozen=True)
class SemanticsConfig:
    lr: float = 0.01
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.9
    # RMSprop has no bias correction, so its first steps are ~10x larger: at lr 1e-2 this problem's
    # trajectory turns chaotic and round-off alone separates two runs after ~145 steps (measured).
    rms_lr: float = 1e-3
    steps: int = 200


def hand_adam(cfg: SemanticsConfig, decay: float = 0.0, decay_times_lr: bool = True):
    """Adam from the derivation (optionally with decoupled decay, scaled by ``lr`` or not)."""
    corr = sp.lambdify((beta, t), bias_correction())
    b1, b2 = cfg.betas

    def update(params: Params, grads: Params, state: dict, step: int) -> Params:
        if not state:
            state["m"] = [torch.zeros_like(p) for p in params]
            state["v"] = [torch.zeros_like(p) for p in params]
        out = []
        for j, (p, g) in enumerate(zip(params, grads, strict=True)):
            p = p * (1 - (cfg.lr * decay if decay_times_lr else decay))
            state["m"][j] = b1 * state["m"][j] + (1 - b1) * g
            state["v"][j] = b2 * state["v"][j] + (1 - b2) * g**2
            m_hat, v_hat = state["m"][j] * corr(b1, step), state["v"][j] * corr(b2, step)
            out.append(p - cfg.lr * m_hat / (v_hat.sqrt() + cfg.eps))
        return out

    return update


def hand_sgd_momentum(cfg: SemanticsConfig):
    """torch's documented SGD: ``b = mu b + (g + lambda w)``, ``w <- w - eta b``."""

    def update(params: Params, grads: Params, state: dict, step: int) -> Params:
        bufs = state.setdefault("b", [None] * len(params))
        out = []
        for j, (p, g) in enumerate(zip(params, grads, strict=True)):
            d = g + cfg.weight_decay * p
            bufs[j] = d.clone() if bufs[j] is None else cfg.momentum * bufs[j] + d
            out.append(p - cfg.lr * bufs[j])
        return out

    return update


def _separation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def check(ctx: Context, cfg: SemanticsConfig = SemanticsConfig()) -> Section:
    """The step-for-step comparisons and the two controls, as `Check`s."""
    from numeric.q4c_adam import verdict  # q4c_adam imports this module inside its check()

    if cfg.steps < 1 or cfg.lr <= 0 or cfg.weight_decay <= 0:
        raise ValueError(f"cfg needs steps >= 1, lr > 0, weight_decay > 0; got {cfg}")
    prob, n, lam = SmallProblem(), cfg.steps, cfg.weight_decay
    adam_kw = {"lr": cfg.lr, "betas": cfg.betas, "eps": cfg.eps}
    detail = f"max relative error over {n} steps, float64"
    with single_threaded():
        adamw = trajectory(prob, lambda p: torch.optim.AdamW(p, weight_decay=lam, **adam_kw), n)
        adam_wd = trajectory(prob, lambda p: torch.optim.Adam(p, weight_decay=lam, **adam_kw), n)
        adam_l2 = trajectory(prob, lambda p: torch.optim.Adam(p, **adam_kw), n, lambda_l2=lam / 2)
        adam = trajectory(prob, lambda p: torch.optim.Adam(p, **adam_kw), n)
        hand_w = manual_trajectory(prob, hand_adam(cfg, lam), n)
        hand_plain = manual_trajectory(prob, hand_adam(cfg), n)
        hand_unscaled = manual_trajectory(prob, hand_adam(cfg, lam, decay_times_lr=False), n)
        sgd_wd = trajectory(
            prob, lambda p: torch.optim.SGD(p, lr=cfg.lr, momentum=cfg.momentum, weight_decay=lam), n
        )
        sgd_l2 = trajectory(
            prob, lambda p: torch.optim.SGD(p, lr=cfg.lr, momentum=cfg.momentum), n, lambda_l2=lam / 2
        )
        sgd_hand = manual_trajectory(prob, hand_sgd_momentum(cfg), n)
        rms_wd = trajectory(prob, lambda p: torch.optim.RMSprop(p, lr=cfg.rms_lr, weight_decay=lam), n)
        rms_l2 = trajectory(prob, lambda p: torch.optim.RMSprop(p, lr=cfg.rms_lr), n, lambda_l2=lam / 2)
    sep_adam = _separation(adamw, adam_wd)
    sep_lr = _separation(hand_unscaled, adamw)
    checks = [
        compare(
            "torch AdamW == hand-written AdamW ((1 - eta lambda) w, then Adam)",
            adamw,
            hand_w,
            TOL_TRAJECTORY,
            detail,
        ),
        compare(
            "torch Adam == hand-written Adam with the derived bias correction",
            adam,
            hand_plain,
            TOL_TRAJECTORY,
            detail,
        ),
        compare(
            "torch Adam(weight_decay=lambda) == Adam on L + (lambda/2)||w||^2",
            adam_wd,
            adam_l2,
            TOL_TRAJECTORY,
            detail,
        ),
        compare(
            "torch SGD(momentum, weight_decay) == SGD(momentum) on L + (lambda/2)||w||^2",
            sgd_wd,
            sgd_l2,
            TOL_TRAJECTORY,
            detail,
        ),
        compare(
            "torch SGD(momentum, weight_decay) == hand-written b = mu b + (g + lambda w)",
            sgd_wd,
            sgd_hand,
            TOL_TRAJECTORY,
            detail,
        ),
        compare(
            "torch RMSprop(weight_decay) == RMSprop on L + (lambda/2)||w||^2",
            rms_wd,
            rms_l2,
            TOL_TRAJECTORY,
            detail,
        ),
        Check(
            "control: AdamW and Adam(weight_decay) give different trajectories",
            sep_adam > SEPARATION_MIN,
            sep_adam,
            SEPARATION_MIN,
            "||difference|| / ||reference|| must EXCEED the tolerance",
        ),
        Check(
            "control: AdamW's decay is multiplied by lr (an un-scaled decay separates)",
            sep_lr > SEPARATION_MIN,
            sep_lr,
            SEPARATION_MIN,
            "||difference|| / ||reference|| must EXCEED the tolerance",
        ),
    ]
    return Section(
        checks=checks,
        metrics={
            "semantics_config": asdict(cfg),
            "adamw_vs_adam_l2_separation": sep_adam,
            "final_weight_norm": {
                "AdamW": float(np.linalg.norm(adamw[-1])),
                "Adam(weight_decay)": float(np.linalg.norm(adam_wd[-1])),
                "Adam": float(np.linalg.norm(adam[-1])),
            },
        },
        text={
            "adamw_check": (
                f"Checked in float64 over {n} steps on a small tanh network: torch.optim.AdamW matches the hand-written decoupled "
                f"update, torch.optim.Adam(weight_decay $= {lam:g}$) matches Adam on $\\mathcal{{L}} + ({lam:g}/2)\\|w\\|^2$ "
                "(coupled l2), and SGD with momentum and RMSprop likewise add the decay to the gradient before their buffers. "
                f"AdamW and Adam(weight_decay) end {sep_adam:.2g} apart (relative), so the two really are different methods. "
                + verdict(checks)
            )
        },
    )
