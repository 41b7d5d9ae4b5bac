"""Q4A plots: weight statistics on known distributions, the overlay PDF, and the part on real data."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from derivations.core import Context
from numeric import mnist_data
from numeric import q4a_histograms as H


def test_weight_stats_of_a_uniform() -> None:
    w = torch.rand(1_000_000, generator=torch.Generator().manual_seed(0)) * 2 - 1
    s = H.weight_stats([w[:400_000].reshape(400, 1000), w[400_000:]])
    # 1e6 draws: standard errors ~ 6e-4 (std), 2e-3 (kurtosis), 1e-4 (fraction); bounds are ~5 of them
    assert s["std"] == pytest.approx(1 / 3**0.5, abs=3e-3)
    assert s["excess_kurtosis"] == pytest.approx(-1.2, abs=1e-2)
    assert s["frac_near_zero"] == pytest.approx(H.NEAR_ZERO, abs=5e-4)
    assert s["count"] == 1_000_000 and s["max_abs"] <= 1.0


def test_overlay_pdf_is_a_density_and_the_cdf_its_integral() -> None:
    pdf, cdf = H.init_pdf(), H.init_cdf()
    grid = np.linspace(-0.2, 0.2, 400_001)
    # trapezoid rule on a step function: error <= (jumps) * (step) * (height) ~ 6 * 1e-6 * 14
    assert np.trapezoid(pdf(grid), grid) == pytest.approx(1.0, abs=1e-3)
    running = np.concatenate([[0.0], np.cumsum((pdf(grid)[1:] + pdf(grid)[:-1]) / 2 * np.diff(grid))])
    assert np.abs(cdf(grid) - running).max() < 1e-3  # the same trapezoid bound
    assert pdf(np.array([0.2]))[0] == 0.0 and cdf(np.array([-0.2, 0.2])) == pytest.approx([0.0, 1.0], abs=1e-15)
    assert pdf(np.float64(0.0)).shape == ()  # scalars stay scalars


@pytest.fixture
def small_data(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    """The first 2,000 images; only hist_init is really rendered (matplotlib dominates the time)."""
    monkeypatch.setattr(H, "q4_data", lambda d: mnist_data.q4_data(d, limit=2000))
    real = H.save_figure

    def save(fig, ctx, qid, name, caption):
        if name == "hist_init":
            return real(fig, ctx, qid, name, caption)
        plt.close(fig)
        return {"caption": caption, "pdf": f"figures/{qid}_{name}.pdf", "svg": f"figures/{qid}_{name}.svg"}

    monkeypatch.setattr(H, "save_figure", save)


def test_run_on_a_real_subset(small_data: None, ctx: Context) -> None:
    sec = H.run(ctx)
    assert not sec.answers  # the answers of q4a belong to the PDF derivation
    assert (Path(ctx.out_dir) / sec.figures["hist_init"]["pdf"]).exists()
    for key in ("hist_init", "hist_sgd", "hist_sgd_wd"):
        assert key in sec.figures and key in sec.text
    st = sec.metrics["hist_stats"]
    assert st["init"]["count"] == 109_386
    assert st["sgd_wd"]["std"] < st["sgd"]["std"]  # decay shrinks (even after 2 short epochs)
    assert f"{st['sgd_wd']['std']:.4f}" in sec.text["hist_sgd_wd"]  # prose quotes the computation
    (chi,) = [c for c in sec.checks if "chi-square" in c.name]
    assert chi.passed, chi.detail
    # the prose follows the test's verdict, and quotes the run's lr and weight decay
    assert "matches the derived staircase PDF" in sec.text["hist_init"] and "NOT" not in sec.text["hist_init"]
    assert "weight decay 0.01" in sec.text["hist_sgd_wd"] and "0.9999" in sec.text["hist_sgd_wd"]
    assert all(k.startswith("hist_") for k in [*sec.metrics, *sec.text, *sec.figures, *sec.tables])
