"""Q4C figures: both are written as PDF and SVG with their captions."""

from __future__ import annotations

import numpy as np

from derivations.core import Context
from numeric.q4c_figures import bias_figure, decay_figure


def test_figures_are_written(tmp_path):
    ctx = Context(out_dir=tmp_path, data_dir=tmp_path)
    t = np.arange(1, 11)
    ratios = {"m": 1 - 0.9**t, "m_hat": np.ones(10), "v": 1 - 0.999**t, "v_hat": np.ones(10)}
    fig = bias_figure(ctx, 10, (0.9, 0.999), ratios, {"m": 1 - 0.9**t, "v": 1 - 0.999**t})
    scales = (0.1, 1.0)
    measured = {n: np.array([1e-3, 1e-3]) for n in ("SGD", "AdamW")} | {"Adam": np.array([1e-2, 1e-3])}
    fig2 = decay_figure(ctx, scales, 1e-3, measured)
    for f in (fig, fig2):
        assert f["caption"] and (tmp_path / f["pdf"]).stat().st_size > 0 and (tmp_path / f["svg"]).is_file()
