"""Q4D on a real subset: the five runs, coupled l2 == Adam's weight decay, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from derivations.core import Context
from numeric import mnist_data
from numeric import q4d_optimizers as D
from numeric.mnist_train import TrainConfig, TrainResult


@pytest.fixture(scope="module")
def run_once(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    mp.setattr(D, "q4_data", lambda d: mnist_data.q4_data(d, limit=2000))
    ctx = Context(out_dir=tmp_path_factory.mktemp("q4d"), data_dir=data_dir, quick=True)
    try:
        yield D.run(ctx), ctx
    finally:
        mp.undo()


@pytest.fixture
def section(run_once):
    return run_once[0]


@pytest.fixture
def ctx(run_once) -> Context:
    return run_once[1]


def test_five_runs_and_their_table(section, ctx: Context) -> None:
    acc = section.answers["val_acc"]
    assert set(acc) == set(D.RUNS) and all(0.1 < a <= 1.0 for a in acc.values())
    assert section.answers["best_two"] == sorted(acc, key=lambda k: -acc[k])[:2]
    assert len(section.tables["val_acc"]["rows"]) == 5
    assert (Path(ctx.out_dir) / section.figures["learning_curves"]["svg"]).exists()
    for k in D.RUNS:
        assert f"{100 * acc[k]:.2f}%" in section.text["results"]


def test_adam_weight_decay_is_the_coupled_l2_penalty(section) -> None:
    # weight_decay=0.01 adds 0.01 w to the gradient = d/dw 0.005 sum w^2: the same update
    assert section.metrics["adam_l2_equals_adam_wd"] is True
    assert section.answers["val_acc"]["adam_l2"] == section.answers["val_acc"]["adam_wd"]
    (check,) = [c for c in section.checks if c.name.startswith("q4d Adam(weight_decay) = Adam with the l2 term")]
    assert check.passed and check.error == section.metrics["adam_l2_vs_adam_wd_rel_diff"] == 0.0
    assert "identical weights at the end" in section.text["best_two"]


def test_checks_present_and_determinism_passes(section) -> None:
    names = {c.name: c for c in section.checks}
    assert names["q4d determinism: the same seed gives identical weights and metrics"].passed
    assert any("two best" in n for n in names)
    d = section.metrics["l2_effective_decay"]["adam_l2"]
    assert 0 < d["p10"] <= d["median"] <= d["p90"]


def test_effective_decay_needs_an_l2_adam_run() -> None:
    r = TrainResult(TrainConfig(), [0.5], [1.0], [torch.zeros(1)])
    with pytest.raises(ValueError, match="l2_lambda"):
        D.effective_decay(r)
