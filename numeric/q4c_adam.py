"""Q4C numeric: Adam's bias correction by simulation (the stage `bias`).

`BiasConfig.runs` independent runs of Adam's moment recursions on stationary random gradients
``g ~ N(mu, sigma^2)``: at every step ``t`` the run-average of ``m_hat_t`` is ``mu`` and of ``v_hat_t`` is
``E g^2`` within ``Z`` standard errors, the uncorrected ``m_t``, ``v_t`` average to the *derived*
``E[m_t] = mu (1 - beta^t)`` (lambdified from `derivations.q4c_adam`) and are detectably biased
wherever the derived bias exceeds the noise. With drifting means, ``E[m_hat_t]`` is the derived
``E g_t + zeta / (1 - beta^t)``. Q4C.2 and Q4C.3 checks: `numeric.q4c_l2_coupling`, `numeric.q4c_adamw`;
registry.py lists all three as parts of Q4C.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.stats
import sympy as sp

from derivations.core import Check, Context, Section
from derivations.q4c_adam import Eg, bias_correction, zeta
from derivations.symbols import beta, t
from numeric.checks import separates, verdict
from numeric.q4c_figures import bias_figure

__all__ = ["BiasConfig", "bias", "bias_check", "simulate", "verdict", "z_scores"]  # verdict: numeric.checks


@dataclass(frozen=True)
class BiasConfig:
    runs: int = 20000
    steps: int = 100
    beta1: float = 0.9
    beta2: float = 0.999
    mean: float = 0.5  # mu
    std: float = 1.0  # sigma
    drift: float = 0.01  # per-step change of the mean in the non-stationary case
    seed: int = 0


ALPHA = 1e-3  # family-wise false-failure rate over all the z-tests below (Bonferroni)
ZETA_STEPS = (1, 2, 5, 10, 20, 50, 100)  # where the non-stationary prediction is evaluated


def simulate(cfg: BiasConfig, means: np.ndarray) -> dict[str, np.ndarray]:
    """``(runs, steps)`` arrays of m, v, m_hat, v_hat for gradients ``N(means[t-1], std^2)``."""
    if np.shape(means) != (cfg.steps,):
        raise ValueError(f"means must have shape ({cfg.steps},), got {np.shape(means)}")
    rng = np.random.default_rng(cfg.seed)
    g = means[None, :] + cfg.std * rng.standard_normal((cfg.runs, cfg.steps))
    corr = sp.lambdify((beta, t), bias_correction(), "numpy")
    m = np.zeros(cfg.runs)
    v = np.zeros(cfg.runs)
    out = {k: np.empty((cfg.runs, cfg.steps)) for k in ("m", "v", "m_hat", "v_hat")}
    for k in range(cfg.steps):
        m = cfg.beta1 * m + (1 - cfg.beta1) * g[:, k]
        v = cfg.beta2 * v + (1 - cfg.beta2) * g[:, k] ** 2
        out["m"][:, k], out["v"][:, k] = m, v
        out["m_hat"][:, k], out["v_hat"][:, k] = m * corr(cfg.beta1, k + 1), v * corr(cfg.beta2, k + 1)
    return out


def z_scores(samples: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Per step: |mean - expected| / standard error of the mean."""
    se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    return np.abs(samples.mean(axis=0) - expected) / se


def _zeta_prediction(cfg: BiasConfig, steps: np.ndarray) -> np.ndarray:
    """``E g_t + zeta_t / (1 - beta^t)`` from the derived zeta, with ``E g_i = mean + drift i``."""
    k = sp.Symbol("k", integer=True)
    mean_fn = sp.Lambda(k, sp.nsimplify(cfg.mean) + sp.nsimplify(cfg.drift) * k)
    b = sp.nsimplify(cfg.beta1)
    closed = sp.simplify((zeta().replace(Eg, mean_fn) * bias_correction()).subs(beta, b).doit())
    fn = sp.lambdify(t, mean_fn(t) + closed, "numpy")
    return np.asarray(fn(np.asarray(steps, dtype=np.float64)), dtype=np.float64)


def bias_check(cfg: BiasConfig = BiasConfig(), ctx: Context | None = None) -> Section:
    """The simulation checks, as `Check`s with the worst z-score as the error; a figure when ``ctx`` is given."""
    if cfg.runs < 100 or cfg.steps < max(ZETA_STEPS) or not (0 < cfg.beta1 < 1 and 0 < cfg.beta2 < 1):
        raise ValueError(f"cfg needs runs >= 100, steps >= {max(ZETA_STEPS)}, betas in (0, 1); got {cfg}")
    n_tests = 4 * cfg.steps + 2 * len(ZETA_STEPS)
    z_crit = float(scipy.stats.norm.isf(ALPHA / (2 * n_tests)))
    ts = np.arange(1, cfg.steps + 1)
    second = cfg.mean**2 + cfg.std**2
    corr = sp.lambdify((beta, t), bias_correction(), "numpy")
    e_m, e_v = cfg.mean / corr(cfg.beta1, ts), second / corr(cfg.beta2, ts)  # derived E[m_t], E[v_t]
    sim = simulate(cfg, np.full(cfg.steps, cfg.mean))
    checks, unbiased = [], {}
    for key, target, label in (("m_hat", cfg.mean, "mu"), ("v_hat", second, "E g^2")):
        z = z_scores(sim[key], np.full(cfg.steps, target))
        unbiased[key] = Check(
            f"corrected {key} unbiased (mean == {label}) at every t = 1..{cfg.steps}",
            bool(z.max() <= z_crit),
            float(z.max()),
            z_crit,
            f"worst |mean - {label}| / SE over {cfg.runs} runs (the same z as uncorrected vs the derived "
            "(1 - beta^t) x moment); Bonferroni z",
        )
        checks.append(unbiased[key])
    visible_steps, rejected, biased = {}, {}, {}
    for key, derived, target in (("m", e_m, cfg.mean), ("v", e_v, second)):
        se = sim[key].std(axis=0, ddof=1) / np.sqrt(cfg.runs)
        visible = np.abs(derived - target) > 2 * z_crit * se  # derived bias well above the noise
        z = z_scores(sim[key], np.full(cfg.steps, target))
        visible_steps[key], rejected[key] = int(visible.sum()), int((z > z_crit).sum())
        biased[key] = separates(
            f"uncorrected {key}_t is biased: rejected at all {visible_steps[key]} steps where the derived bias > 2 z SE",
            float(z[visible].min()) if visible.any() else 0.0,
            z_crit,
            f"smallest z-score there (rejected at {rejected[key]} of {cfg.steps} steps in all) vs the critical z",
        )
        checks.append(biased[key])
    drifting = cfg.mean + cfg.drift * ts
    sim_d = simulate(cfg, drifting)
    idx = np.array(ZETA_STEPS) - 1
    pred = _zeta_prediction(cfg, np.array(ZETA_STEPS))
    z = z_scores(sim_d["m_hat"][:, idx], pred)
    lag = Check(
        "drifting mean: E[m_hat_t] == E g_t + zeta/(1 - beta^t) (derived zeta)",
        bool(z.max() <= z_crit),
        float(z.max()),
        z_crit,
        f"worst z-score at t in {ZETA_STEPS}",
    )
    z_naive = z_scores(sim_d["m_hat"][:, idx], drifting[idx])
    real = separates(
        "drifting mean: zeta is real (m_hat_t != E g_t, detectably)",
        float(z_naive.max()),
        z_crit,
        "largest z-score of m_hat vs E g_t vs the critical z",
    )
    checks += [lag, real]
    figures = {}
    if ctx is not None and ctx.out_dir is not None:
        means = {k: sim[k].mean(axis=0) / (cfg.mean if k.startswith("m") else second) for k in sim}
        derived = {"m": e_m / cfg.mean, "v": e_v / second}
        figures["bias_correction"] = bias_figure(ctx, cfg.runs, (cfg.beta1, cfg.beta2), means, derived)
    return Section(
        checks=checks,
        figures=figures,
        metrics={
            "bias_config": asdict(cfg),
            "bias_z_critical": z_crit,
            "bias_detectable_steps": visible_steps,
            "bias_rejected_steps": rejected,
            "zeta_over_correction_at": {
                str(n): float(p - d) for n, p, d in zip(ZETA_STEPS, pred, drifting[idx], strict=True)
            },
            "zeta_naive_worst_z": float(z_naive.max()),
        },
        text={"bias_correction_check": _prose(cfg, z_crit, unbiased, biased, visible_steps, rejected, lag, real,
                                              float(pred[-1] - drifting[-1])) + verdict(checks)},
    )


def _prose(cfg: BiasConfig, z_crit: float, unbiased: dict[str, Check], biased: dict[str, Check],
           visible: dict[str, int], rejected: dict[str, int], lag: Check, real: Check, lag_last: float) -> str:
    """The simulation's statements, each worded from its check; the step counts are rejections."""
    ok = all(c.passed for c in unbiased.values())
    return (
        f"Simulated over {cfg.runs} runs of {cfg.steps} steps with stationary gradients $N({cfg.mean:g}, {cfg.std:g}^2)$: "
        + (f"the corrected $\\hat m_t$ and $\\hat v_t$ are unbiased at every step (all z-scores below {z_crit:.2f})"
           if ok else f"the corrected $\\hat m_t$, $\\hat v_t$ are NOT unbiased at every step (a z-score above {z_crit:.2f})")
        + f"; the uncorrected $m_t$, $v_t$ differ detectably from the true moments (z above {z_crit:.2f}) at "
        f"{rejected['m']} and {rejected['v']} of the {cfg.steps} steps, "
        + ("including every step" if all(c.passed for c in biased.values()) else "but NOT at every step")
        + f" where the derived $(1-\\beta^t)$ bias exceeds twice the critical z times the standard error "
        f"({visible['m']} and {visible['v']} steps). With a drifting mean ({cfg.drift:g} per step) $\\hat m_t$ lags by "
        f"$\\zeta/(1-\\beta^t) = {lag_last:.4f}$ at $t = {ZETA_STEPS[-1]}$, "
        + ("as derived" if lag.passed else "NOT as derived")
        + (", a lag the simulation detects. " if real.passed else ", a lag too small for the simulation to detect. ")
    )


def bias(ctx: Context) -> Section:
    """The stage: `bias_check` at the build's settings (``--quick``: 5,000 runs), with its figure."""
    cfg = BiasConfig(runs=5000) if ctx is not None and ctx.quick else BiasConfig()
    return bias_check(cfg, ctx)

