"""Q4C.2/Q4C.3 numeric: torch.optim's documented weight-decay semantics, tested step for step.

On the float64 `SmallProblem`, for `SemanticsConfig.steps` steps:

- AdamW(weight_decay=lambda) == a hand-written AdamW: the *derived* update
  (`derivations.q4c_adamw.adamw_update`, lambdified) on moments with the *derived* bias correction
  (`derivations.q4c_adam.bias_correction`);
- Adam(weight_decay=lambda) == Adam on ``L + (lambda/r) ||w||^2`` (coupled l2; ``r = 2`` is
  `derivations.q4b_weight_decay.wd_over_l2_ratio`), and a hand-written Adam == torch's Adam;
- SGD(momentum, weight_decay) == SGD(momentum) on ``L + (lambda/r) ||w||^2`` (the decay is added to
  the gradient before the buffer), RMSprop likewise;
- controls that must separate: AdamW vs Adam(weight_decay), and a decay not multiplied by the
  learning rate vs torch's AdamW.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
import sympy as sp
import torch

from derivations.core import Context, Result, Section
from derivations.q4b_weight_decay import wd_over_l2_ratio
from derivations.q4c_adam import bias_correction
from derivations.q4c_adamw import derive as derive_adamw
from derivations.symbols import beta, t
from numeric.checks import SEPARATION_MIN, compare, norm_rel_error, separates, verdict
from numeric.q4_optim_problem import Params, SmallProblem, manual_trajectory, trajectory

# 200 Adam steps in float64: each step's reordering of the same operations costs ~1e-16 relative,
# and the tanh network's dynamics amplify it mildly; 1e-9 is a million times the round-off scale.
TOL_TRAJECTORY = 1e-9


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


@functools.cache
def _adamw_result() -> Result:
    """`derivations.q4c_adamw`'s exported update ``(w_prev, m_hat, v_hat, eta, lambda, eps) -> w``."""
    (result,) = [d.result for d in derive_adamw(None).derivations if d.result.name == "adamw_update"]
    return result


def hand_adam(cfg: SemanticsConfig, decay: float = 0.0, decay_times_lr: bool = True):
    """Adam from the derivations: the moments with the derived bias correction, then the derived
    AdamW update (``decay`` 0: plain Adam; ``decay_times_lr=False``: the decay not scaled by ``lr``)."""
    corr = sp.lambdify((beta, t), bias_correction())
    step_fn = _adamw_result().callable()
    b1, b2 = cfg.betas
    lam = decay if decay_times_lr else decay / cfg.lr  # (1 - lr lam) = (1 - decay) when un-scaled

    def update(params: Params, grads: Params, state: dict, step: int) -> Params:
        if not state:
            state["m"] = [torch.zeros_like(p) for p in params]
            state["v"] = [torch.zeros_like(p) for p in params]
        out = []
        for j, (p, g) in enumerate(zip(params, grads, strict=True)):
            state["m"][j] = b1 * state["m"][j] + (1 - b1) * g
            state["v"][j] = b2 * state["v"][j] + (1 - b2) * g**2
            m_hat, v_hat = state["m"][j] * corr(b1, step), state["v"][j] * corr(b2, step)
            w = step_fn(p.numpy(), m_hat.numpy(), v_hat.numpy(), cfg.lr, lam, cfg.eps)  # numpy, float64
            out.append(torch.from_numpy(np.asarray(w, dtype=np.float64)))
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


def check(ctx: Context, cfg: SemanticsConfig = SemanticsConfig()) -> Section:
    """The step-for-step comparisons and the two controls, as `Check`s."""
    if cfg.steps < 1 or cfg.lr <= 0 or cfg.weight_decay <= 0:
        raise ValueError(f"cfg needs steps >= 1, lr > 0, weight_decay > 0; got {cfg}")
    prob, n, lam = SmallProblem(), cfg.steps, cfg.weight_decay
    lam_l2 = lam / float(wd_over_l2_ratio())  # the l2 coefficient whose gradient is lam w (Q4B)
    adam_kw = {"lr": cfg.lr, "betas": cfg.betas, "eps": cfg.eps}
    detail = f"max relative error over {n} steps, float64"
    adamw = trajectory(prob, lambda p: torch.optim.AdamW(p, weight_decay=lam, **adam_kw), n)
    adam_wd = trajectory(prob, lambda p: torch.optim.Adam(p, weight_decay=lam, **adam_kw), n)
    adam_l2 = trajectory(prob, lambda p: torch.optim.Adam(p, **adam_kw), n, lambda_l2=lam_l2)
    adam = trajectory(prob, lambda p: torch.optim.Adam(p, **adam_kw), n)
    hand_w = manual_trajectory(prob, hand_adam(cfg, lam), n)
    hand_plain = manual_trajectory(prob, hand_adam(cfg), n)
    hand_unscaled = manual_trajectory(prob, hand_adam(cfg, lam, decay_times_lr=False), n)
    sgd_wd = trajectory(prob, lambda p: torch.optim.SGD(p, lr=cfg.lr, momentum=cfg.momentum, weight_decay=lam), n)
    sgd_l2 = trajectory(prob, lambda p: torch.optim.SGD(p, lr=cfg.lr, momentum=cfg.momentum), n, lambda_l2=lam_l2)
    sgd_hand = manual_trajectory(prob, hand_sgd_momentum(cfg), n)
    rms_wd = trajectory(prob, lambda p: torch.optim.RMSprop(p, lr=cfg.rms_lr, weight_decay=lam), n)
    rms_l2 = trajectory(prob, lambda p: torch.optim.RMSprop(p, lr=cfg.rms_lr), n, lambda_l2=lam_l2)
    sep_adam = norm_rel_error(adamw, adam_wd)
    sep_lr = norm_rel_error(hand_unscaled, adamw)
    sep_detail = "||difference|| / ||reference|| over the trajectory"
    l2_term = f"(lambda/{lam / lam_l2:g})||w||^2"
    c = {
        "adamw": compare("torch AdamW == hand-written AdamW ((1 - eta lambda) w, then Adam)", adamw, hand_w,
                         TOL_TRAJECTORY, detail),
        "adam": compare("torch Adam == hand-written Adam with the derived bias correction", adam, hand_plain,
                        TOL_TRAJECTORY, detail),
        "adam_wd": compare(f"torch Adam(weight_decay=lambda) == Adam on L + {l2_term}", adam_wd, adam_l2,
                           TOL_TRAJECTORY, detail),
        "sgd_l2": compare(f"torch SGD(momentum, weight_decay) == SGD(momentum) on L + {l2_term}", sgd_wd, sgd_l2,
                          TOL_TRAJECTORY, detail),
        "sgd_hand": compare("torch SGD(momentum, weight_decay) == hand-written b = mu b + (g + lambda w)",
                            sgd_wd, sgd_hand, TOL_TRAJECTORY, detail),
        "rms": compare(f"torch RMSprop(weight_decay) == RMSprop on L + {l2_term}", rms_wd, rms_l2,
                       TOL_TRAJECTORY, detail),
        "sep_adam": separates("control: AdamW and Adam(weight_decay) give different trajectories", sep_adam,
                              SEPARATION_MIN, sep_detail),
        "sep_lr": separates("control: AdamW's decay is multiplied by lr (an un-scaled decay separates)", sep_lr,
                            SEPARATION_MIN, sep_detail),
    }
    checks = list(c.values())
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
        text={"adamw_check": _prose(c, n, lam, lam_l2, sep_adam)},
    )


def _prose(c: dict, n: int, lam: float, lam_l2: float, sep_adam: float) -> str:
    """The measured statements, each worded from its check."""

    def does(key: str, yes: str, no: str) -> str:
        return yes if c[key].passed else no

    both = c["sgd_l2"].passed and c["rms"].passed
    return (
        f"Checked in float64 over {n} steps on a small tanh network: torch.optim.AdamW "
        + does("adamw", "matches", "does NOT match")
        + f" the hand-written decoupled update (relative error {c['adamw'].error:.1e}); torch.optim.Adam(weight_decay "
        f"$= {lam:g}$) " + does("adam_wd", "matches", "does NOT match")
        + f" Adam on $\\mathcal{{L}} + {lam_l2:g}\\|w\\|^2$, the coupled $\\ell_2$ term with $\\lambda_{{\\ell_2}} = "
        f"\\lambda/{lam / lam_l2:g}$ (relative error {c['adam_wd'].error:.1e}); SGD with momentum and RMSprop "
        + ("likewise add the decay to the gradient before their buffers"
           if both else "do NOT both match the coupled form (see the checks)")
        + f". AdamW and Adam(weight_decay) end {sep_adam:.2g} apart (relative), "
        + does("sep_adam", "so the two really are different methods. ",
               f"not more than {c['sep_adam'].tolerance:g}, so this run does not tell them apart. ")
        + verdict(list(c.values()))
    )
