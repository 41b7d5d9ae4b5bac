"""Q4C.2 numeric: the per-coordinate effective decay of an l2 term under torch.optim optimisers.

Coordinates ``j`` get pure-noise data gradients of very different scales ``s_j`` (a linear loss
``sum_j g_j(t) w_j``, so the data gradients do not depend on the weights and are identical with and
without regularisation). Each optimiser runs twice from ``w = 1``, with ``weight_decay = lambda`` and
without; the effective decay is

    d_j = -(w_j^lambda(T) - w_j^0(T)) / (eta sum_{t<T} w_j^lambda(t)),

the average fraction of the weight the regulariser removes per step, per unit learning rate.
Derived predictions (`derivations.q4c_l2_coupling`): SGD ``lambda``; SGD+momentum ``lambda / (1 - mu)``
(exactly ``lambda sum_k w_(k-1) (1 - mu^(T-k+1)) / (1 - mu) / sum_k w_(k-1)``); RMSProp and Adam
``lambda`` times the average of ``1 / (sqrt(v) + eps)``; AdamW (decoupled) ``lambda`` for every ``j``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from derivations.core import Check, Context, Section
from numeric.checks import compare
from numeric.q4_optim_problem import single_threaded
from numeric.q4c_figures import decay_figure


@dataclass(frozen=True)
class CouplingConfig:
    scales: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)  # gradient RMS per coordinate
    steps: int = 2000
    lr: float = 1e-3
    weight_decay: float = 1e-3  # lambda; l2 term (lambda / 2) ||w||^2; lambda w << min(scales)
    momentum: float = 0.9
    alpha: float = 0.99  # RMSProp's smoothing
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    seed: int = 0


# Exact predictions (SGD, momentum, AdamW) hold to round-off in the difference w^lambda - w^0 of two
# O(1) weights: about 1e-16 / (eta lambda T) ~ 1e-13 relative; 1e-8 leaves a wide margin.
TOL_EXACT = 1e-8
# First-order predictions (RMSProp, Adam): neglect lambda w in v (relative (lambda / s)^2 <= 1e-2) and,
# for Adam, the lag of m_hat behind w and the v-perturbation from 2 g lambda w (zero mean); 10 %.
TOL_FIRST_ORDER = 0.1
TOL_STEADY_MOMENTUM = 0.02  # the finite-T tail mu / ((1 - mu) T) = 0.45 % at T = 2000


def _gradients(cfg: CouplingConfig) -> torch.Tensor:
    gen = torch.Generator().manual_seed(cfg.seed)
    s = torch.tensor(cfg.scales, dtype=torch.float64)
    return torch.randn(cfg.steps, len(cfg.scales), generator=gen, dtype=torch.float64) * s


MakeOptimizer = Callable[[list[torch.Tensor], float], torch.optim.Optimizer]  # (params, weight_decay)


def _optimizers(cfg: CouplingConfig) -> dict[str, tuple[MakeOptimizer, bool]]:
    """name -> (make_optimizer(params, weight_decay), coupled l2?)."""
    return {
        "SGD": (lambda p, wd: torch.optim.SGD(p, lr=cfg.lr, weight_decay=wd), True),
        "SGD+momentum": (
            lambda p, wd: torch.optim.SGD(p, lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd),
            True,
        ),
        "RMSprop": (
            lambda p, wd: torch.optim.RMSprop(p, lr=cfg.lr, alpha=cfg.alpha, eps=cfg.eps, weight_decay=wd),
            True,
        ),
        "Adam": (
            lambda p, wd: torch.optim.Adam(p, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=wd),
            True,
        ),
        "AdamW": (
            lambda p, wd: torch.optim.AdamW(p, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=wd),
            False,
        ),
    }


def run(make: MakeOptimizer, weight_decay: float, grads: torch.Tensor) -> np.ndarray:
    """Weights ``(T + 1, D)`` from ``w = 1`` under the data gradients ``grads`` ``(T, D)``."""
    if grads.ndim != 2:
        raise ValueError(f"grads must be (T, D), got shape {tuple(grads.shape)}")
    w = torch.ones(grads.shape[1], dtype=torch.float64, requires_grad=True)
    opt = make([w], weight_decay)
    out = [w.detach().clone()]
    for g in grads:
        opt.zero_grad()
        (g * w).sum().backward()
        opt.step()
        out.append(w.detach().clone())
    return torch.stack(out).numpy()


def effective_decay(w_reg: np.ndarray, w_free: np.ndarray, lr: float) -> np.ndarray:
    """``d_j`` (per unit learning rate) from a regularised and a free trajectory ``(T + 1, D)``."""
    if w_reg.shape != w_free.shape or w_reg.ndim != 2 or w_reg.shape[0] < 2:
        raise ValueError(
            f"w_reg and w_free must share a (T + 1, D) shape, T >= 1; got {w_reg.shape}, {w_free.shape}"
        )
    return -(w_reg[-1] - w_free[-1]) / (lr * w_reg[:-1].sum(axis=0))


def _second_moments(g2: np.ndarray, decay: float, bias_correct: bool) -> np.ndarray:
    v, out = np.zeros(g2.shape[1]), []
    for t, row in enumerate(g2, start=1):
        v = decay * v + (1 - decay) * row
        out.append(v / (1 - decay**t) if bias_correct else v)
    return np.array(out)


def predictions(name: str, w_reg: np.ndarray, grads: np.ndarray, cfg: CouplingConfig) -> np.ndarray:
    """The derived ``d_j`` for optimiser ``name``, weighted by the trajectory ``w_reg``."""
    lam, wk = cfg.weight_decay, w_reg[:-1]  # w_(k-1), k = 1..T
    if name in ("SGD", "AdamW"):
        return np.full(wk.shape[1], lam)
    if name == "SGD+momentum":
        k = np.arange(1, cfg.steps + 1)[:, None]
        amp = (1 - cfg.momentum ** (cfg.steps - k + 1)) / (1 - cfg.momentum)
        return lam * (wk * amp).sum(axis=0) / wk.sum(axis=0)
    decay, corrected = (cfg.alpha, False) if name == "RMSprop" else (cfg.betas[1], True)
    inv = 1 / (np.sqrt(_second_moments(grads**2, decay, corrected)) + cfg.eps)
    return lam * (wk * inv).sum(axis=0) / wk.sum(axis=0)


def check(ctx: Context, cfg: CouplingConfig = CouplingConfig()) -> Section:
    """Measured vs derived effective decay per optimiser and coordinate; the table of ``d_j / lambda``."""
    from numeric.q4c_adam import verdict  # q4c_adam imports this module inside its check()

    if cfg.steps < 10 or cfg.lr <= 0 or cfg.weight_decay <= 0 or not cfg.scales:
        raise ValueError(f"cfg needs steps >= 10, lr > 0, weight_decay > 0, scales; got {cfg}")
    grads = _gradients(cfg)
    rows, checks, measured = [], [], {}
    with single_threaded():
        for name, (make, coupled) in _optimizers(cfg).items():
            w_reg = run(make, cfg.weight_decay, grads)
            w_free = run(make, 0.0, grads)
            d = effective_decay(w_reg, w_free, cfg.lr)
            pred = predictions(name, w_reg, grads.numpy(), cfg)
            measured[name] = d
            tol = TOL_FIRST_ORDER if name in ("RMSprop", "Adam") else TOL_EXACT
            kind = "first-order" if tol == TOL_FIRST_ORDER else "exact"
            checks.append(
                compare(
                    f"{name}: measured effective decay == derived ({kind}), every coordinate",
                    d,
                    pred,
                    tol,
                    f"relative error, {len(cfg.scales)} coordinates, {cfg.steps} steps",
                )
            )
            rows.append(
                [name + (" (l2)" if coupled else " (decoupled)")] + [float(x / cfg.weight_decay) for x in d]
            )
    steady = cfg.weight_decay / (1 - cfg.momentum)
    checks.append(
        compare(
            "SGD+momentum: effective decay ~ lambda / (1 - mu) (steady state)",
            measured["SGD+momentum"],
            np.full(len(cfg.scales), steady),
            TOL_STEADY_MOMENTUM,
            "relative error vs the steady state",
        )
    )
    spread = {n: float(d.max() / d.min()) for n, d in measured.items()}
    scale_ratio = max(cfg.scales) / min(cfg.scales)
    checks.append(
        Check(
            "AdamW decays every coordinate alike (max/min d_j = 1)",
            abs(spread["AdamW"] - 1) <= TOL_EXACT,
            abs(spread["AdamW"] - 1),
            TOL_EXACT,
            "|max d / min d - 1|",
        )
    )
    for name in ("RMSprop", "Adam"):
        err = abs(spread[name] / scale_ratio - 1)
        checks.append(
            Check(
                f"{name}+l2: decay spread max/min d_j ~ gradient-scale ratio {scale_ratio:g}",
                err <= TOL_FIRST_ORDER,
                err,
                TOL_FIRST_ORDER,
                "relative error of the spread",
            )
        )
    table = {
        "columns": ["optimiser"] + [f"d/lambda, s = {s:g}" for s in cfg.scales],
        "rows": rows,
        "caption": f"Effective decay per unit learning rate, in units of lambda = {cfg.weight_decay:g}, for coordinates "
        f"whose gradients have RMS s ({cfg.steps} steps, lr {cfg.lr:g}).",
    }
    figures = {}
    if ctx is not None and ctx.out_dir is not None:
        figures["l2_effective_decay"] = decay_figure(ctx, cfg.scales, cfg.weight_decay, measured)
    return Section(
        checks=checks,
        figures=figures,
        tables={"l2_effective_decay": table},
        metrics={
            "coupling_config": asdict(cfg),
            "effective_decay_over_lambda": {
                n: [float(x / cfg.weight_decay) for x in d] for n, d in measured.items()
            },
            "effective_decay_spread": spread,
        },
        text={
            "l2_measured": (
                f"Measured with torch.optim on {len(cfg.scales)} coordinates with gradient RMS "
                f"{', '.join(f'{s:g}' for s in cfg.scales)} (table): plain SGD decays every weight at exactly $\\lambda$; "
                f"SGD with momentum {cfg.momentum:g} at {measured['SGD+momentum'].mean() / cfg.weight_decay:.2f} $\\lambda$ "
                f"(derived $1/(1-\\mu) = {1 / (1 - cfg.momentum):.1f}$); with RMSProp and Adam the decay falls with the gradient "
                f"scale, from {measured['Adam'].max() / cfg.weight_decay:.3g} $\\lambda$ to {measured['Adam'].min() / cfg.weight_decay:.3g} "
                f"$\\lambda$ for Adam (spread {spread['Adam']:.0f}, gradient-scale ratio {scale_ratio:g}); AdamW decays all at $\\lambda$. "
                + verdict(checks)
            )
        },
    )
