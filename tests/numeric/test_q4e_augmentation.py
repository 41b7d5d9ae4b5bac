"""Q4E on a real subset: bands, confusion matrix, the four-row table, and honest checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from derivations.core import Context
from numeric import mnist_data
from numeric import q4e_augmentation as E
from numeric.q4e_bands import BANDS, in_band
from numeric.q4e_plots import confusion_matrix, most_confused, one_per_digit


@pytest.fixture(scope="module")
def section(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    mp.setattr(E, "q4_data", lambda d: mnist_data.q4_data(d, limit=2000))
    mp.setattr(E, "settings", lambda ctx: E.Q4ESettings(epochs=2, max_probes=4))  # a band may go unfound
    ctx = Context(out_dir=tmp_path_factory.mktemp("q4e"), data_dir=data_dir, quick=True)
    try:
        yield E.run(ctx), ctx
    finally:
        mp.undo()


def test_bands_are_in_band_or_reported_failed(section) -> None:
    sec, _ = section
    checks = {c.name: c for c in sec.checks}
    for name, bands in sec.answers["bands"].items():
        assert set(bands) == set(BANDS)
        for band, pick in bands.items():
            assert checks[f"q4e band {name} {band}"].passed == pick["found"]
            if pick["found"]:
                assert in_band(pick["drop"], band)
                probes = sec.metrics["band_probes"][name]
                assert {"strength": pick["strength"], "drop": pick["drop"]} in probes  # a measured probe


def test_confusion_matrix_and_most_confused_pair(section) -> None:
    sec, _ = section
    counts = torch.tensor(sec.answers["confusion"])
    assert counts.shape == (10, 10) and int(counts.sum()) == 2000  # the (limited) validation set
    mc = sec.answers["most_confused"]
    off = counts.clone().fill_diagonal_(-1)
    assert mc["count"] == int(off.max()) == int(counts[mc["true"], mc["predicted"]])
    assert f"true {mc['true']} predicted as {mc['predicted']}" in sec.text["rotation"]
    # the matrix is of the last epoch's model: the caption quotes that accuracy (and the best separately)
    run = sec.metrics["rotation_180"]
    assert int(counts.trace()) == round(run["final_val_acc"] * 2000)
    caption = sec.figures["rotation_confusion"]["caption"]
    assert f"after its last epoch (validation accuracy {100 * run['final_val_acc']:.2f}%" in caption
    assert f"best over the epochs {100 * run['best_val_acc']:.2f}%" in caption


def test_rotation_run_is_the_band_search_probe_not_a_second_training(section) -> None:
    sec, _ = section
    probe_180 = [p for p in sec.metrics["band_probes"]["rotation"] if p["strength"] == 180.0]
    baseline = sec.metrics["baseline"]["best_val_acc"]
    assert probe_180 and probe_180[0]["drop"] == round(100 * (baseline - sec.metrics["rotation_180"]["best_val_acc"]), 6)
    probes = sum(len(v) for v in sec.metrics["band_probes"].values())
    assert sec.metrics["training_runs"] == 1 + probes + 3  # baseline, the probes, x10 / augmented / full


def test_four_row_table_and_policy_checks(section) -> None:
    sec, ctx = section
    assert set(sec.answers["val_acc"]) == {"small", "small_x10", "augmented", "full"}
    assert sec.metrics["runs"]["augmented"]["config"]["momentum"] == 0.9
    names = [c.name for c in sec.checks]
    assert "q4e augmented reaches 90% best validation accuracy" in names
    a = sec.answers["val_acc"]["augmented"]
    (check,) = [c for c in sec.checks if c.name == "q4e augmented reaches 90% best validation accuracy"]
    assert check.passed == (a >= 0.90)
    (beats,) = [c for c in sec.checks if c.name == "q4e augmented beats small copied x10"]
    assert beats.passed == (a > sec.answers["val_acc"]["small_x10"])
    assert ("did not beat" in beats.detail) == (not beats.passed)  # the detail follows the verdict
    # the caption and prose state this run's protocol and sizes, not the full build's
    assert "same 2-epoch protocol" in sec.tables["datasets"]["caption"] and "2,000 held-out" in sec.tables["datasets"]["caption"]
    n_small = sec.tables["datasets"]["rows"][0][1]
    assert f"each of the {n_small:,} images" in sec.text["policy"]
    for key in ("augmentation_grid", "rotation_confusion"):
        assert (Path(ctx.out_dir) / sec.figures[key]["pdf"]).exists()


def test_plot_helpers() -> None:
    y_true, y_pred = torch.tensor([0, 1, 1, 2, 2, 2]), torch.tensor([0, 2, 2, 2, 1, 2])
    c = confusion_matrix(y_true, y_pred, classes=3)
    assert c.tolist() == [[1, 0, 0], [0, 0, 2], [0, 1, 2]]
    assert most_confused(c) == (1, 2, 2)
    with pytest.raises(ValueError, match="y_true"):
        confusion_matrix(y_true, y_pred[:3])
    with pytest.raises(ValueError, match="digit 3"):
        one_per_digit(torch.zeros(3, 1, 28, 28), torch.tensor([0, 1, 2]))
