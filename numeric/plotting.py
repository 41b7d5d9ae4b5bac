"""One figure style for the whole report, and saving figures as vector PDF (LaTeX) and SVG (HTML).

    fig, ax = new_figure()
    ...
    section.figures["loss"] = save_figure(fig, ctx, "q1b", "loss", "Loss against dropout rate")

Files go to ``<out_dir>/figures/<qid>_<name>.{pdf,svg}``, written atomically; the returned dict
holds their paths relative to ``out_dir`` and the caption, as results.json stores them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from numeric.files import atomic_path

STYLE: dict[str, Any] = {
    "figure.figsize": (6.0, 3.6),  # inches; fits a LaTeX text column
    "figure.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "lines.linewidth": 1.5,
    "svg.fonttype": "none",  # text stays text in SVG: searchable, crisp
    "pdf.fonttype": 42,
    "svg.hashsalt": "ps2",  # deterministic SVG ids
}


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs: Any):
    """``plt.subplots`` under the report style."""
    with plt.rc_context(STYLE):
        return plt.subplots(nrows, ncols, constrained_layout=True, **kwargs)


def save_figure(fig, ctx, qid: str, name: str, caption: str) -> dict[str, str]:
    """Save ``fig`` as PDF and SVG under ``ctx.out_dir/figures``; close it; return the entry."""
    out_dir = Path(ctx.out_dir)
    folder = out_dir / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    entry: dict[str, str] = {"caption": caption}
    with plt.rc_context(STYLE):
        for ext in ("pdf", "svg"):
            target = folder / f"{qid}_{name}.{ext}"
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=ext, metadata={"CreationDate": None} if ext == "pdf" else {"Date": None})
            entry[ext] = str(target.relative_to(out_dir))
    plt.close(fig)
    return entry
