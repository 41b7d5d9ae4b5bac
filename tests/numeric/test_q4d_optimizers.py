"""Q4D on a real subset: the five settings, torch's Adam(weight_decay) == Adam + l2 on the MLP."""

from __future__ import annotations

from dataclasses import replace
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
    assert set(acc) == set(D.RUNS) and all(0.5 < a <= 1.0 for a in acc.values())  # chance is 0.1
    assert section.answers["best_two"] == sorted(acc, key=lambda k: -acc[k])[:2]
    assert len(section.tables["val_acc"]["rows"]) == 5
    assert (Path(ctx.out_dir) / section.figures["learning_curves"]["svg"]).exists()
    for k in D.RUNS:
        assert f"{100 * acc[k]:.2f}%" in section.text["results"]


def test_adam_weight_decay_reuses_the_l2_run_and_is_checked_against_torch(section) -> None:
    # weight_decay=0.01 adds 0.01 w to the gradient = d/dw 0.005 sum w^2: the same update, not trained twice
    assert section.metrics["same_run_as"] == {"adam_wd": "adam_l2"}
    assert section.metrics["runs"]["adam_wd"] == section.metrics["runs"]["adam_l2"]
    names = {c.name: c for c in section.checks}
    (same,) = [c for n, c in names.items() if n.startswith("q4d torch.optim.Adam(weight_decay=0.01) == ")]
    (control,) = [c for n, c in names.items() if n.startswith("q4d control: l2_lambda=0.01")]
    assert same.passed and 0 < same.error <= 1e-13  # float64 round-off, not bit-identical by construction
    assert control.passed and control.error > 0.1  # the wrong factor is far off: the comparison can fail
    assert "by construction" in section.text["best_two"] and "FAILED" not in section.text["best_two"]
    assert "the same run as" in section.text["results"]


def test_torch_check_fails_on_a_wrong_trainer(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    d = mnist_data.q4_data(data_dir, limit=500)
    x, y = mnist_data.normalize(d.train_x), d.train_y
    real = D.Optimizer

    class Doubled(real):  # a trainer whose l2 gradient is twice too large
        def __init__(self, params, config):
            super().__init__(params, replace(config, l2_lambda=2 * config.l2_lambda))

    monkeypatch.setattr(D, "Optimizer", Doubled)
    same, control = D.torch_weight_decay_check(x, y, steps=5, seed=42)
    assert not same.passed and same.error > 1e-3
    assert control.passed  # l2_lambda 0.02 against torch's 0.01 w: still far apart


def test_determinism_check_only_on_cuda(section, ctx: Context) -> None:
    names = [c.name for c in section.checks]
    assert any("two best" in n for n in names)
    assert not any("determinism" in n for n in names)  # CPU: tests/numeric/test_mnist_train.py covers it
    d = section.metrics["l2_effective_decay"]["adam_l2"]
    assert 0 < d["p10"] <= d["median"] <= d["p90"]


def test_effective_decay_is_the_derived_rate_over_all_weights() -> None:
    v = [torch.full((3, 4), 4.0), torch.full((5,), 0.25)]
    r = TrainResult(TrainConfig(optimizer="adam", l2_lambda=0.005), [0.5], [1.0], [torch.zeros(1)],
                    second_moments=v, steps=10**6)  # bias correction ~1
    d = D.effective_decay(r)
    # eta * 2 lambda_l2 / (sqrt(v) + eps): 1e-4 / 2 on 12 weights, 1e-4 / 0.5 on 5
    assert d["p10"] == pytest.approx(5e-5, rel=1e-6) and d["p90"] == pytest.approx(2e-4, rel=1e-6)
    assert d["median"] == pytest.approx(5e-5, rel=1e-6)  # 12 of 17 at the lower rate


def test_effective_decay_needs_an_l2_adam_run() -> None:
    r = TrainResult(TrainConfig(), [0.5], [1.0], [torch.zeros(1)])
    with pytest.raises(ValueError, match="l2_lambda"):
        D.effective_decay(r)
