"""Q4C figures: Adam's moment bias against t, and the effective l2 decay against gradient scale.

Both plot measured values (markers) over the derived curves (lines); the data come from
`numeric.q4c_adam.bias_check` and `numeric.q4c_l2_coupling.check`.
"""

from __future__ import annotations

import numpy as np

from derivations.core import Context
from numeric.plotting import new_figure, save_figure


def bias_figure(
    ctx: Context,
    runs: int,
    betas: tuple[float, float],
    ratios: dict[str, np.ndarray],
    derived: dict[str, np.ndarray],
) -> dict[str, str]:
    """Run-averaged ``m_t/mu``, ``m_hat_t/mu`` (left) and ``v_t/E g^2``, ``v_hat_t/E g^2`` (right) vs ``t``.

    ``ratios`` maps m, m_hat, v, v_hat to ``(steps,)`` arrays; ``derived`` maps m, v to ``1 - beta^t``.
    """
    fig, axes = new_figure(1, 2)
    t = np.arange(1, len(ratios["m"]) + 1)
    for ax, key, beta in zip(axes, ("m", "v"), betas, strict=True):
        ax.plot(t, derived[key], color="k", lw=1, label=f"derived $1-\\beta^t$ ($\\beta = {beta:g}$)")
        ax.plot(t, ratios[key], "o", ms=2, label=f"uncorrected ${key}_t$")
        ax.plot(t, ratios[key + "_hat"], "s", ms=2, label=f"corrected $\\hat {key}_t$")
        ax.set_xlabel("step $t$")
        ax.set_ylabel("run average / true moment")
        ax.set_title(f"{'first' if key == 'm' else 'second'} moment")
        ax.set_yscale("log" if key == "v" else "linear")
        ax.legend(fontsize=7)
    return save_figure(
        fig,
        ctx,
        "q4c",
        "bias_correction",
        f"Adam's moment estimates averaged over {runs} runs with stationary gradients, relative to the true "
        "moments: the uncorrected ones follow the derived factor 1 - beta^t, the corrected ones sit at 1.",
    )


def decay_figure(
    ctx: Context, scales: tuple[float, ...], weight_decay: float, measured: dict[str, np.ndarray]
) -> dict[str, str]:
    """Effective decay ``d_j / lambda`` against the gradient RMS ``s_j``, one line per optimiser (log-log)."""
    fig, ax = new_figure()
    s = np.asarray(scales)
    # overlapping pairs (SGD/AdamW at 1, RMSprop/Adam on 1/s) stay visible: hollow big vs small solid markers
    style = {"SGD": ("o", 8, "--"), "AdamW": ("s", 3, "-"), "RMSprop": ("D", 8, "--"), "Adam": ("^", 3, "-")}
    for name, d in measured.items():
        marker, size, line = style.get(name, ("o", 4, "-"))
        coupled = "decoupled" if name == "AdamW" else "l2"
        ax.plot(
            s,
            d / weight_decay,
            marker=marker,
            ms=size,
            ls=line,
            mfc="none" if size > 5 else None,
            label=f"{name} ({coupled})",
        )
    ax.plot(s, s.min() / s * measured["Adam"][0] / weight_decay, "k:", lw=1, label="slope -1 (1/s)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gradient RMS $s_j$ of the coordinate")
    ax.set_ylabel("effective decay $d_j / \\lambda$")
    ax.set_title("What an l2 term does to each weight")
    ax.legend(fontsize=7)
    return save_figure(
        fig,
        ctx,
        "q4c",
        "l2_effective_decay",
        "Measured effective decay of an l2 term per coordinate: uniform for SGD and AdamW, amplified by "
        "1/(1 - mu) with momentum, and falling like 1/s with RMSProp and Adam.",
    )
