"""Q4A.4 / Q4B check: torch.optim.SGD's weight decay and a hand-added l2 term, step for step.

On the float64 `SmallProblem` (a tanh MLP, cross-entropy), for `SGDConfig.steps` steps:

- SGD(weight_decay=lambda_wd) and SGD on ``L + lambda_l2 sum w^2`` with ``lambda_l2 = lambda_wd / r``
  (``r`` the ratio *derived* in `derivations.q4b_weight_decay`) give the same trajectory;
- torch's SGD weight decay is the documented ``w - eta (grad L + lambda_wd w)`` (a hand-written
  update matches it; its un-scaled form ``(1 - eta lambda_wd) w - eta grad L`` is the same
  expression, so it needs no check of its own);
- a control: with the wrong factor (``lambda_l2 = lambda_wd``) the trajectories separate, so the
  comparison can fail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from derivations.core import Context, Section
from derivations.q4b_weight_decay import wd_over_l2_ratio
from numeric.checks import SEPARATION_MIN, TOL_FLOAT64, compare, norm_rel_error, separates
from numeric.q4_optim_problem import Params, SmallProblem, manual_trajectory, trajectory


@dataclass(frozen=True)
class SGDConfig:
    lr: float = 0.1  # eta
    lambda_wd: float = 0.05
    steps: int = 200


def _sgd(lr: float, weight_decay: float = 0.0):
    return lambda params: torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)


def _hand_weight_decay(lr: float, lam: float):
    def update(params: Params, grads: Params, state: dict, t: int) -> Params:
        return [p - lr * (g + lam * p) for p, g in zip(params, grads, strict=True)]

    return update


def check(ctx: Context, cfg: SGDConfig = SGDConfig()) -> Section:
    """The step-for-step comparisons above, as `Check`s (relative error over the whole trajectory)."""
    if cfg.steps < 1 or cfg.lr <= 0 or cfg.lambda_wd < 0:
        raise ValueError(f"cfg needs steps >= 1, lr > 0, lambda_wd >= 0; got {cfg}")
    ratio = float(wd_over_l2_ratio())
    lam_l2 = cfg.lambda_wd / ratio
    problem = SmallProblem()
    wd = trajectory(problem, _sgd(cfg.lr, cfg.lambda_wd), cfg.steps)
    l2 = trajectory(problem, _sgd(cfg.lr), cfg.steps, lambda_l2=lam_l2)
    plain = trajectory(problem, _sgd(cfg.lr), cfg.steps)
    hand = manual_trajectory(problem, _hand_weight_decay(cfg.lr, cfg.lambda_wd), cfg.steps)
    wrong = trajectory(problem, _sgd(cfg.lr), cfg.steps, lambda_l2=cfg.lambda_wd)
    sep = norm_rel_error(wrong, wd)
    checks = [
        compare(
            "SGD(weight_decay) == SGD on L + lambda_l2 sum w^2 with lambda_l2 = lambda_wd / ratio",
            l2,
            wd,
            TOL_FLOAT64,
            f"max relative error over {cfg.steps} steps, float64",
        ),
        compare(
            "torch SGD weight_decay is w - eta (grad + lambda_wd w) (hand-written)",
            hand,
            wd,
            TOL_FLOAT64,
            f"max relative error over {cfg.steps} steps, float64",
        ),
        separates(
            "control: lambda_l2 = lambda_wd (wrong factor) separates the trajectories",
            sep,
            SEPARATION_MIN,
            "||difference|| / ||reference|| over the trajectory: the comparison above can fail",
        ),
    ]
    same = checks[0]
    shrink = float(abs(wd[-1]).mean() / abs(plain[-1]).mean())
    return Section(
        checks=checks,
        metrics={
            "sgd_config": asdict(cfg),
            "trajectory_rel_error_l2_vs_wd": same.error,
            "trajectory_rel_error_wrong_factor": sep,
            "mean_abs_weight_ratio_decayed_vs_plain": shrink,
        },
        text={
            "torch_check": (
                f"Checked with torch.optim.SGD in float64 on a small tanh network: weight_decay $= {cfg.lambda_wd:g}$ and an "
                f"added penalty with $\\lambda_{{\\ell_2}} = {lam_l2:g}$ {'give' if same.passed else 'do NOT give'} the same weights at all {cfg.steps} steps "
                f"(largest relative difference {same.error:.1e}); with $\\lambda_{{\\ell_2}} = \\lambda_{{wd}}$ instead "
                f"they differ by {sep:.1e}. Decay leaves the final weights {shrink:.3f} times as large (mean absolute value) as without."
            ),
        },
    )
