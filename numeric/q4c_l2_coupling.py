"""Q4C.2 numeric: the per-coordinate effective decay of an l2 term under torch.optim optimisers.

Coordinates ``j`` get pure-noise data gradients of very different scales ``s_j`` (a linear loss
``sum_j g_j(t) w_j``, so the data gradients do not depend on the weights and are identical with and
without regularisation). Each optimiser runs twice from ``w = 1``, with ``weight_decay = lambda`` and
without; the effective decay is

    d_j = -(w_j^lambda(T) - w_j^0(T)) / (eta sum_{t<T} w_j^lambda(t)),

the average fraction of the weight the regulariser removes per step, per unit learning rate.
Derived predictions (`derivations.q4c_l2_coupling`, its exported Results lambdified): SGD
``lambda``; SGD+momentum ``lambda / (1 - rho)`` (momentum rho) in the steady state (``momentum_steady_decay``;
exactly ``lambda sum_k w_(k-1) (1 - rho^(T-k+1)) / (1 - rho) / sum_k w_(k-1)`` over a finite run);
RMSProp and Adam the trajectory-weighted average of ``rmsprop_decay_rate`` / ``adam_decay_rate``
``eta lambda / (sqrt(v) + eps)`` per unit ``eta``; AdamW (decoupled) ``lambda`` for every ``j``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from derivations.core import Check, Context, Section
from derivations.q4c_l2_coupling import derive as derive_coupling
from numeric.checks import compare, verdict
from numeric.mnist_train import cpu_threads
from numeric.q4_optim_problem import THREADS
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
TOL_STEADY_MOMENTUM = 0.02  # the finite-T tail rho / ((1 - rho) T) = 0.45 % at T = 2000


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


# The exported Results used here and the argument order they are called with (checked on use;
# None: any name, e.g. the momentum coefficient, whose symbol the derivation may rename).
DERIVED_ARGS: dict[str, tuple[str | None, ...]] = {
    "momentum_steady_decay": ("lambda", None, "w"),
    "rmsprop_decay_rate": ("eta", "lambda", "v", "epsilon"),
    "adam_decay_rate": ("eta", "lambda", "v", "epsilon"),
}


@functools.cache
def derived(name: str) -> Callable[..., np.ndarray]:
    """An exported Result of `derivations.q4c_l2_coupling`, lambdified; args in `DERIVED_ARGS` order."""
    result = {d.result.name: d.result for d in derive_coupling(None).derivations}[name]
    args, want = tuple(a.name for a in result.args), DERIVED_ARGS[name]
    if len(args) != len(want) or any(w is not None and a != w for a, w in zip(args, want, strict=False)):
        raise ValueError(f"derivations.q4c_l2_coupling {name} now takes {args}, not {DERIVED_ARGS[name]}")
    return result.callable()


def predictions(name: str, w_reg: np.ndarray, grads: np.ndarray, cfg: CouplingConfig) -> np.ndarray:
    """The derived ``d_j`` for optimiser ``name``, weighted by the trajectory ``w_reg``."""
    lam, wk = cfg.weight_decay, w_reg[:-1]  # w_(k-1), k = 1..T
    if name in ("SGD", "AdamW"):
        return np.full(wk.shape[1], lam)
    if name == "SGD+momentum":  # the buffer's finite sum: the step of Q4C.2 before its steady state
        k = np.arange(1, cfg.steps + 1)[:, None]
        amp = (1 - cfg.momentum ** (cfg.steps - k + 1)) / (1 - cfg.momentum)
        return lam * (wk * amp).sum(axis=0) / wk.sum(axis=0)
    decay, corrected, result = (
        (cfg.alpha, False, "rmsprop_decay_rate") if name == "RMSprop" else (cfg.betas[1], True, "adam_decay_rate")
    )
    v = _second_moments(grads**2, decay, corrected)
    rate = derived(result)(1.0, lam, v, cfg.eps)  # (eta, lambda, v, eps): per unit learning rate
    return (wk * rate).sum(axis=0) / wk.sum(axis=0)


def check(ctx: Context, cfg: CouplingConfig = CouplingConfig()) -> Section:
    """Measured vs derived effective decay per optimiser and coordinate; the table of ``d_j / lambda``."""
    if cfg.steps < 10 or cfg.lr <= 0 or cfg.weight_decay <= 0 or not cfg.scales:
        raise ValueError(f"cfg needs steps >= 10, lr > 0, weight_decay > 0, scales; got {cfg}")
    grads = _gradients(cfg)
    rows, c, measured = [], {}, {}
    with cpu_threads(THREADS):
        for name, (make, coupled) in _optimizers(cfg).items():
            w_reg = run(make, cfg.weight_decay, grads)
            w_free = run(make, 0.0, grads)
            d = effective_decay(w_reg, w_free, cfg.lr)
            pred = predictions(name, w_reg, grads.numpy(), cfg)
            measured[name] = d
            tol = TOL_FIRST_ORDER if name in ("RMSprop", "Adam") else TOL_EXACT
            kind = "first-order" if tol == TOL_FIRST_ORDER else "exact"
            c[name] = compare(
                f"{name}: measured effective decay == derived ({kind}), every coordinate",
                d,
                pred,
                tol,
                f"relative error, {len(cfg.scales)} coordinates, {cfg.steps} steps",
            )
            rows.append(
                [name + (" (l2)" if coupled else " (decoupled)")] + [float(x / cfg.weight_decay) for x in d]
            )
    steady = float(derived("momentum_steady_decay")(cfg.weight_decay, cfg.momentum, 1.0))  # (lambda, rho, w = 1)
    c["steady"] = compare(
        "SGD+momentum: effective decay ~ lambda / (1 - rho) (steady state)",
        measured["SGD+momentum"],
        np.full(len(cfg.scales), steady),
        TOL_STEADY_MOMENTUM,
        "relative error vs the derived steady state (momentum_steady_decay)",
    )
    # AdamW's uniformity needs no check of its own: its exact comparison above is against lambda everywhere.
    spread = {n: float(d.max() / d.min()) for n, d in measured.items()}
    scale_ratio = max(cfg.scales) / min(cfg.scales)
    for name in ("RMSprop", "Adam"):
        err = abs(spread[name] / scale_ratio - 1)
        c[f"{name}_spread"] = Check(
            f"{name}+l2: decay spread max/min d_j ~ gradient-scale ratio {scale_ratio:g}",
            err <= TOL_FIRST_ORDER,
            err,
            TOL_FIRST_ORDER,
            "relative error of the spread",
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
        checks=list(c.values()),
        figures=figures,
        tables={"l2_effective_decay": table},
        metrics={
            "coupling_config": asdict(cfg),
            "effective_decay_over_lambda": {
                n: [float(x / cfg.weight_decay) for x in d] for n, d in measured.items()
            },
            "effective_decay_spread": spread,
        },
        text={"l2_measured": _prose(c, measured, spread, scale_ratio, steady, cfg)},
    )


def _prose(c: dict[str, Check], measured: dict[str, np.ndarray], spread: dict[str, float], scale_ratio: float,
           steady: float, cfg: CouplingConfig) -> str:
    """The measured statements, each worded from its check."""
    lam = cfg.weight_decay

    def agrees(key: str) -> str:
        return "as derived" if c[key].passed else "NOT as derived"

    falls = all(c[k].passed for k in ("RMSprop", "Adam", "RMSprop_spread", "Adam_spread"))
    return (
        f"Measured with torch.optim on {len(cfg.scales)} coordinates with gradient RMS "
        f"{', '.join(f'{s:g}' for s in cfg.scales)} (table): plain SGD decays every weight at "
        f"{measured['SGD'].mean() / lam:.4g} $\\lambda$ ({agrees('SGD')}: exactly $\\lambda$); SGD with momentum "
        f"{cfg.momentum:g} at {measured['SGD+momentum'].mean() / lam:.2f} $\\lambda$ (derived finite-run sum: "
        f"{agrees('SGD+momentum')}; steady state $1/(1-\\rho) = {steady / lam:.1f}$: "
        f"{'within' if c['steady'].passed else 'NOT within'} {100 * c['steady'].tolerance:g}%); with RMSProp and Adam "
        f"the decay goes from {measured['Adam'].max() / lam:.3g} $\\lambda$ to {measured['Adam'].min() / lam:.3g} "
        f"$\\lambda$ for Adam (spread {spread['Adam']:.0f}, gradient-scale ratio {scale_ratio:g}; RMSProp spread "
        f"{spread['RMSprop']:.0f}), "
        + ("falling with the gradient scale as the first-order derivation predicts"
           if falls else "NOT everywhere within the first-order derivation's tolerance (see the checks)")
        + f"; AdamW decays every coordinate at {measured['AdamW'].mean() / lam:.4g} $\\lambda$ (max/min "
        f"{spread['AdamW']:.6f}; {agrees('AdamW')}: $\\lambda$ for every coordinate). "
        + verdict(list(c.values()))
    )
