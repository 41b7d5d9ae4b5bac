"""Question 4A.1-3 (the plots): the weights at initialisation, after SGD, after SGD + weight decay.

All parameters of the Q4 MLP (weights and biases, 109,386 values) are histogrammed at
initialisation with the derived PDF of Q4A.1 overlaid (the staircase mixture of
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) of `derivations.q4a_init.mixture_pdf`), after 10 epochs of
SGD (lr 0.01, batch 64, no momentum) and after the same with weight_decay=0.01. A chi-square
test compares the initial histogram with the bin masses of the derived `mixture_cdf`. The qualitative
descriptions are backed by numbers computed here: standard deviation, excess kurtosis and the
fraction of parameters near zero (|w| < 0.01). Keys are prefixed ``hist_`` (the PDF derivation,
another part of q4a, owns the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.stats
import sympy as sp
import torch

from derivations.core import Check, Context, Section
from derivations.q4a_init import mixture_cdf, mixture_pdf
from derivations.q4a_init import x as x_sym
from numeric.mnist_data import normalize, q4_data
from numeric.mnist_model import LAYER_SIZES
from numeric.mnist_train import TrainConfig, TrainResult, initial_params, train
from numeric.plotting import new_figure, save_figure

P_MIN = 1e-3  # chi-square test level: a correct PDF fails it once in a thousand seeds
NEAR_ZERO = 0.01  # |w| below this counts as "near zero" (the smallest init bound is 1/sqrt(784) = 0.036)


def weight_stats(params: list[torch.Tensor]) -> dict[str, float]:
    """std, excess kurtosis, fraction with |w| < NEAR_ZERO, RMS and max |w| of all parameters."""
    w = torch.cat([p.detach().reshape(-1).double().cpu() for p in params])
    c = w - w.mean()
    var = float((c**2).mean())
    return {
        "count": int(w.numel()),
        "mean": float(w.mean()),
        "std": var**0.5,
        "excess_kurtosis": float((c**4).mean()) / var**2 - 3.0,
        "frac_near_zero": float((w.abs() < NEAR_ZERO).double().mean()),
        "rms": float(w.pow(2).mean().sqrt()),
        "max_abs": float(w.abs().max()),
    }


def init_pdf() -> Callable[[np.ndarray], np.ndarray]:
    """The derived density of a random parameter at initialisation (`derivations.q4a_init.mixture_pdf`,
    lambdified) as a numpy function of an array of values."""
    f = sp.lambdify(x_sym, mixture_pdf(LAYER_SIZES), "numpy")
    return lambda v: np.broadcast_to(np.asarray(f(v), dtype=float), np.shape(v))


def init_cdf() -> Callable[[np.ndarray], np.ndarray]:
    """The derived CDF (`derivations.q4a_init.mixture_cdf`, lambdified), as `init_pdf`."""
    f = sp.lambdify(x_sym, mixture_cdf(LAYER_SIZES), "numpy")
    return lambda v: np.broadcast_to(np.asarray(f(v), dtype=float), np.shape(v))


@dataclass(frozen=True)
class Q4ASettings:
    epochs: int = 10  # --quick: 2
    bins: int = 241


def _histogram(ctx: Context, name: str, w: np.ndarray, title: str, caption: str, pdf: Callable, span: float,
               bins: int, label: str) -> dict[str, str]:
    fig, ax = new_figure()
    edges = np.linspace(-span, span, bins + 1)
    ax.hist(w, bins=edges, density=True, color="C0", alpha=0.6, label="histogram of all parameters")
    grid = np.linspace(-span, span, 2001)
    ax.plot(grid, pdf(grid), color="C3", lw=1.2, label=label)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-2)
    ax.set_xlabel("parameter value")
    ax.set_ylabel("density (log scale)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    return save_figure(fig, ctx, "q4a", name, caption)


def run(ctx: Context) -> Section:
    s = Q4ASettings(epochs=2) if ctx.quick else Q4ASettings()
    data = q4_data(ctx.data_dir)
    x, y, xv, yv = normalize(data.train_x), data.train_y, normalize(data.val_x), data.val_y
    runs: dict[str, TrainResult] = {
        "sgd": train(TrainConfig(epochs=s.epochs, seed=ctx.seed), x, y, xv, yv, ctx.device),
        "sgd_wd": train(TrainConfig(epochs=s.epochs, weight_decay=0.01, seed=ctx.seed), x, y, xv, yv, ctx.device),
    }
    states = {"init": initial_params(ctx.seed), **{k: r.params for k, r in runs.items()}}
    stats = {k: weight_stats(p) for k, p in states.items()}
    flat = {k: torch.cat([p.reshape(-1) for p in ps]).numpy() for k, ps in states.items()}
    span = 1.02 * max(float(np.abs(w).max()) for w in flat.values())
    pdf = init_pdf()
    sec = Section()
    n = stats["init"]["count"]
    sgd, wd = runs["sgd"].config, runs["sgd_wd"].config.weight_decay
    captions = {
        "init": ("At initialisation", f"All {n:,} parameters of the freshly initialised 784-128-64-10 MLP (seed {ctx.seed}), "
                 "with the derived PDF of Q4A.1 (a mixture of uniforms, one per layer) overlaid.", "derived PDF"),
        "sgd": (f"After {s.epochs} epochs of SGD", f"All parameters after {s.epochs} epochs of SGD (lr {sgd.lr:g}, batch "
                f"{sgd.batch_size}, momentum {sgd.momentum:g}); the initial PDF for comparison.", "initial PDF"),
        "sgd_wd": (f"After {s.epochs} epochs of SGD, weight decay {wd:g}", f"All parameters after {s.epochs} epochs of SGD "
                   f"with weight_decay={wd:g}; the initial PDF for comparison.", "initial PDF"),
    }
    for key, (title, caption, label) in captions.items():
        sec.figures[f"hist_{key}"] = _histogram(ctx, f"hist_{key}", flat[key], title, caption, pdf, span, s.bins, label)

    # The histogram at init against the PDF: the mass in each bin, predicted (the derived CDF's
    # increments) vs counted. The bins span [-0.13, 0.13], beyond the widest bound 1/sqrt(64).
    edges = np.linspace(-0.13, 0.13, 27)
    expected = np.diff(init_cdf()(edges)) * n
    counted, _ = np.histogram(flat["init"], bins=edges)
    keep = expected > 0
    chi2 = float(((counted[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    dof = int(keep.sum()) - 1
    p_value = float(scipy.stats.chi2.sf(chi2, dof))
    sec.checks.append(Check("q4a hist: initial parameters follow the derived PDF (chi-square test)",
                            p_value >= P_MIN, 1.0 - p_value, 1.0 - P_MIN,
                            f"chi-square {chi2:.1f} over {dof} dof ({len(edges) - 1} bins of width "
                            f"{edges[1] - edges[0]:.2g}), p = {p_value:.3g}; "
                            f"error is 1 - p, rejected below p = {P_MIN:g}"))
    sec.metrics.update({
        "hist_stats": stats,
        "hist_near_zero_threshold": NEAR_ZERO,
        "hist_runs": {k: r.summary() for k, r in runs.items()},
        "hist_chi2": {"statistic": chi2, "dof": dof, "p_value": p_value},
    })
    sec.tables["hist_stats"] = {
        "columns": ["parameters", "std", "excess kurtosis", f"fraction |w| < {NEAR_ZERO:g}", "max |w|", "best val. acc. (%)"],
        "rows": [[name, round(stats[k]["std"], 5), round(stats[k]["excess_kurtosis"], 3),
                  round(stats[k]["frac_near_zero"], 4), round(stats[k]["max_abs"], 4),
                  "" if k == "init" else round(100 * runs[k].best_val_acc, 2)]
                 for k, name in (("init", "initial"), ("sgd", "after SGD"), ("sgd_wd", f"after SGD + weight decay {wd:g}"))],
        "caption": "Statistics of all parameters of the MLP (weights and biases together).",
    }
    move = movement(states["init"], states["sgd"])
    sec.metrics["hist_sgd_movement"] = move
    sec.text.update(_prose(stats, runs, s.epochs, p_value, move, sec.checks[-1].passed))
    return sec


def movement(init: list[torch.Tensor], trained: list[torch.Tensor]) -> dict[str, float]:
    """How far training moved the parameters: median |change|, fraction moved < half the initial std."""
    delta = torch.cat([(b - a).reshape(-1) for a, b in zip(init, trained, strict=True)]).abs()
    std0 = float(torch.cat([a.reshape(-1) for a in init]).std())
    return {
        "median_abs_change": float(delta.median()),
        "frac_small_change": float((delta < 0.5 * std0).double().mean()),
    }


def _prose(st: dict[str, dict[str, float]], runs: dict[str, TrainResult], epochs: int, chi: float,
           move: dict[str, float], pdf_ok: bool) -> dict[str, str]:
    i, g, d = st["init"], st["sgd"], st["sgd_wd"]
    cfg = runs["sgd_wd"].config
    keep = 1 - cfg.lr * cfg.weight_decay  # the factor of one SGD step with weight decay
    acc, acc_wd = runs["sgd"].best_val_acc, runs["sgd_wd"].best_val_acc

    def change(a: float, b: float) -> str:
        return f"from {a:.4g} to {b:.4g} ({100 * (b - a) / abs(a):+.1f}%)"

    tail = "heavier tails" if g["excess_kurtosis"] > i["excess_kurtosis"] else "lighter tails"
    sgd_shape = "close to the initial one" if abs(g["std"] / i["std"] - 1) < 0.25 else "visibly changed"
    # excess kurtosis > 0: more peaked with heavier tails than a Gaussian of the same std (which has 0)
    family = "more peaked and heavier-tailed than a Gaussian of the same spread" if g["excess_kurtosis"] > 0 else \
        "flatter than a Gaussian of the same spread"
    wd_dir = "shrinks towards zero" if d["std"] < g["std"] else "does not shrink"
    return {
        "hist_init": (
            f"The histogram of all {i['count']:,} initial parameters "
            + ("matches the derived staircase PDF" if pdf_ok else "does NOT match the derived staircase PDF")
            + f" (chi-square test against it, p = {chi:.3g}, rejected below {P_MIN:g}): standard deviation "
            f"{i['std']:.4f}, excess kurtosis {i['excess_kurtosis']:.2f} (a single uniform has $-1.2$"
            + ("; the mixture of widths makes it more peaked)." if i["excess_kurtosis"] > -1.2 else ").")
        ),
        "hist_sgd": (
            f"After {epochs} epochs of SGD the distribution is {sgd_shape}: "
            f"{'still centred at zero' if abs(g['mean']) < 0.1 * g['std'] else 'shifted off zero'} (mean "
            f"{g['mean']:.1e}), {family} (excess kurtosis {g['excess_kurtosis']:.1f}; a Gaussian has 0). The "
            f"standard deviation goes "
            f"{change(i['std'], g['std'])}, the largest magnitude from {i['max_abs']:.3f} to {g['max_abs']:.3f}, "
            f"and the excess kurtosis {change(i['excess_kurtosis'], g['excess_kurtosis'])}: the sharp edges of the "
            f"uniform steps are smoothed into {tail}, while "
            f"{'the bulk barely moves' if move['frac_small_change'] > 0.5 else 'most parameters move'}: the median parameter moves "
            f"by {move['median_abs_change']:.2g} ({100 * move['median_abs_change'] / i['std']:.0f}% of the initial "
            f"standard deviation) and {100 * move['frac_small_change']:.0f}% of the parameters move by less than half "
            f"an initial standard deviation. The fraction near zero goes "
            f"{change(i['frac_near_zero'], g['frac_near_zero'])}."
        ),
        "hist_sgd_wd": (
            f"With weight decay {cfg.weight_decay:g} the distribution {wd_dir}: compared with plain SGD the standard deviation is "
            f"{d['std']:.4f} instead of {g['std']:.4f} ({100 * (d['std'] / g['std'] - 1):+.1f}%), the fraction of "
            f"parameters with $|w| < {NEAR_ZERO:g}$ is {d['frac_near_zero']:.3f} instead of {g['frac_near_zero']:.3f}, "
            f"and the excess kurtosis {d['excess_kurtosis']:.2f} instead of {g['excess_kurtosis']:.2f}"
            + (": a narrower peak at zero. " if d["frac_near_zero"] > g["frac_near_zero"]
               and d["excess_kurtosis"] > g["excess_kurtosis"] else ". ")
            + f"Each step multiplies every weight by $1 - \\eta \\lambda = {keep:g}$, so a "
            f"weight that the data does not push back keeps only ${keep ** runs['sgd_wd'].steps:.3f}$ of its "
            f"size after {runs['sgd_wd'].steps} steps. In theory this helps generalisation because weight decay is "
            f"$\\ell_2$ regularisation for SGD (Q4B): it prefers the smallest-norm weights that fit the data, which "
            f"bounds how fast the network's output can change with its input, removes weights that only fit noise, "
            f"and so lowers the effective capacity. Best validation accuracy: "
            f"{100 * acc:.2f}% without and {100 * acc_wd:.2f}% with decay"
            + (": here decay helped." if acc_wd > acc else
               f": in this {epochs}-epoch run decay did not help (final training loss "
               f"{runs['sgd_wd'].train_loss[-1]:.4f} with decay against {runs['sgd'].train_loss[-1]:.4f} without)."
               if acc_wd < acc else ": the same.")
        ),
    }
