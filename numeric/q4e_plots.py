"""Question 4E figures: the augmentation grid (4E.2) and the confusion matrix (4E.4)."""

from __future__ import annotations

from typing import Any

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
    fig, axes = new_figure(len(rows), 10, figsize=(6.0, 0.62 * len(rows) + 0.3))
    for r, (label, images) in enumerate(rows):
        for c in range(10):
            ax = axes[r, c]
            ax.imshow(images[c, 0].numpy(), cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if r == 0:
                ax.set_title(str(c))
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
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


def confusion_figure(ctx: Any, counts: torch.Tensor, strength: float, acc: float) -> dict[str, str]:
    """Heat map of ``counts`` with the numbers written in."""
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
    ax.set_title(f"Rotation in (-{strength:g}, {strength:g}) degrees: validation confusion")
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    return save_figure(
        fig,
        ctx,
        "q4e",
        "rotation_confusion",
        f"Confusion matrix on the 10,000 validation images of the model trained on small_dataset rotated by "
        f"angles drawn from (-{strength:g}, {strength:g}) degrees (best validation accuracy {100 * acc:.2f}%); "
        f"rows are the true digit, columns the prediction.",
    )
