"""Question 4E figures: the augmentation grid (4E.2) and the confusion matrix (4E.4)."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import torch

from numeric.augment import AUGMENTATIONS, apply
from numeric.plotting import new_figure, save_figure


def one_per_digit(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """The first image of each digit 0-9 in (x, y): images (10, 1, 28, 28) and their indices."""
    idx = []
    for d in range(10):
        hits = (y == d).nonzero()
        if len(hits) == 0:
            raise ValueError(f"y has no example of digit {d}")
        idx.append(int(hits[0]))
    return x[idx], idx


def grid_figure(ctx: Any, x: torch.Tensor, y: torch.Tensor, seed: int) -> dict[str, str]:
    """Rows: the originals, then each augmentation at its display strength; columns: digits 0-9."""
    digits, _ = one_per_digit(x, y)
    rows = [("original", digits)] + [
        (f"{a.name}\n{a.show_strength:g} {a.unit.split(' ')[0]}", apply(a.name, digits, a.show_strength, seed=seed))
        for a in AUGMENTATIONS.values()
    ]
    gap = 2  # white pixels between tiles; one image, one axes: fast to lay out and to save
    step = 28 + gap
    mosaic = np.zeros((len(rows) * step - gap, 10 * step - gap))
    for r, (_, images) in enumerate(rows):
        for c in range(10):
            mosaic[r * step : r * step + 28, c * step : c * step + 28] = images[c, 0].numpy()
        mosaic[r * step + 28 : r * step + step, :] = np.nan if r < len(rows) - 1 else 0.0
    for c in range(9):
        mosaic[:, c * step + 28 : c * step + step] = np.nan
    fig, ax = new_figure(figsize=(6.0, 0.55 * len(rows) + 0.6))
    cmap = matplotlib.colormaps["gray_r"].with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([c * step + 13.5 for c in range(10)], [str(c) for c in range(10)])
    ax.xaxis.tick_top()
    ax.set_yticks([r * step + 13.5 for r in range(len(rows))], [label for label, _ in rows], fontsize=7)
    ax.tick_params(length=0)
    ax.grid(False)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    fig.suptitle("Each augmentation on one training example of each digit")
    strengths = ", ".join(f"{a.name} {a.show_strength:g} ({a.unit})" for a in AUGMENTATIONS.values())
    return save_figure(
        fig,
        ctx,
        "q4e",
        "augmentation_grid",
        f"The six augmentations applied to the first example of each digit in small_dataset, at strengths {strengths}.",
    )


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """Counts (classes, classes): row = true digit, column = predicted digit."""
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {tuple(y_true.shape)} and y_pred {tuple(y_pred.shape)} differ in shape")
    flat = y_true.long() * classes + y_pred.long()
    return torch.bincount(flat, minlength=classes * classes).reshape(classes, classes)


def most_confused(counts: torch.Tensor) -> tuple[int, int, int]:
    """(true, predicted, count) of the largest off-diagonal entry."""
    off = counts.clone()
    off.fill_diagonal_(-1)
    flat = int(off.argmax())
    i, j = divmod(flat, off.shape[1])
    return i, j, int(counts[i, j])


def confusion_figure(ctx: Any, counts: torch.Tensor, strength: float, final_acc: float,
                     best_acc: float) -> dict[str, str]:
    """Heat map of ``counts`` (the model after its last epoch, validation accuracy ``final_acc``)."""
    c = counts.numpy()
    fig, ax = new_figure(figsize=(4.6, 4.0))
    im = ax.imshow(np.log1p(c), cmap="Blues")
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            ax.text(j, i, str(c[i, j]), ha="center", va="center", fontsize=6,
                    color="white" if c[i, j] > c.max() / 3 else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.grid(False)
    ax.set_title(f"Rotation in (-{strength:g}, {strength:g}) degrees")
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    return save_figure(
        fig,
        ctx,
        "q4e",
        "rotation_confusion",
        f"Confusion matrix on the {int(c.sum()):,} validation images of the model trained on small_dataset rotated by "
        f"angles drawn from (-{strength:g}, {strength:g}) degrees, after its last epoch (validation accuracy "
        f"{100 * final_acc:.2f}%; best over the epochs {100 * best_acc:.2f}%); rows are the true digit, columns the "
        f"prediction.",
    )
