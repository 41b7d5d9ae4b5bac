"""Q5A training loop on a slice of tiny-shakespeare: the loss falls, checkpoints resume exactly,
a complete checkpoint is reused only by the same code, config and corpus (and never when fresh),
and the run is reproducible from the seed."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch

import numeric.cbow_train as T
from numeric.cbow_train import CHECKPOINT, TrainConfig, default_threads, epoch_pairs, load_checkpoint, train
from numeric.shakespeare_data import Corpus, load_corpus

CFG = TrainConfig(corpus="tiny_shakespeare", dim=16, batch_size=256, epochs=2, lr=1e-2)


@pytest.fixture(scope="module")
def corpus(data_dir) -> Corpus:
    full = load_corpus(data_dir, "tiny_shakespeare")
    return Corpus(full.name, full.vocab, full.ids[:20_000], 20_000)


def _same_state(a, b) -> None:
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb), ka
    sa, sb = a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"]
    for k in sa:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(sa[k][name], sb[k][name]), (k, name)
    assert a.losses == b.losses and a.epoch == b.epoch and a.examples == b.examples


def test_short_run_lowers_the_loss(corpus):
    st = train(CFG, corpus, progress=False, threads=1)
    first = np.mean(st.losses[:5])
    last = np.mean(st.losses[-st.epoch_batches[-1]:])
    assert st.losses[0] == pytest.approx(np.log(len(corpus.vocab)), rel=1e-5)  # zero decoder: uniform
    assert last < 0.9 * first  # at least a 10% drop in two short epochs (measured: 18.5%)
    assert len(st.losses) == sum(st.epoch_batches) and st.complete


def test_save_and_resume_give_the_same_state(corpus, tmp_path):
    straight = train(CFG, corpus, tmp_path / "a", progress=False, threads=1)
    half = train(CFG, corpus, tmp_path / "b", progress=False, threads=1, stop_after=1)
    assert half.epoch == 1 and not half.complete
    seen = []
    resumed = train(CFG, corpus, tmp_path / "b", progress=False, threads=1, on_epoch=lambda s: seen.append(s.epoch))
    assert resumed.resumed_from == 1 and seen == [2]  # only the missing epoch ran
    _same_state(straight, resumed)
    # a complete checkpoint is reused without training
    again = train(CFG, corpus, tmp_path / "b", progress=False, threads=1, on_epoch=lambda s: seen.append(-1))
    assert again.resumed_from == 2 and seen == [2]
    _same_state(straight, again)


def test_checkpoint_of_another_config_or_corpus_is_ignored(corpus, tmp_path):
    one = dataclasses.replace(CFG, epochs=1)
    train(one, corpus, tmp_path, progress=False, threads=1)
    assert load_checkpoint(tmp_path / CHECKPOINT, one, corpus) is not None
    assert load_checkpoint(tmp_path / CHECKPOINT, CFG, corpus) is None
    # same vocabulary (so same V), another token stream: not the run the checkpoint was made by
    other = Corpus(corpus.name, corpus.vocab, corpus.ids[::-1].copy(), corpus.n_tokens)
    assert load_checkpoint(tmp_path / CHECKPOINT, one, other) is None
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))  # atomic writes leave none


def test_changed_training_code_trains_afresh(corpus, tmp_path, monkeypatch):
    # the fingerprint covers the source of the training code: copies stand in for it here
    code = []
    for path in T._CODE:
        code.append(tmp_path / path.name)
        shutil.copyfile(path, code[-1])
    monkeypatch.setattr(T, "_CODE", tuple(code))
    one = dataclasses.replace(CFG, epochs=1)
    first = train(one, corpus, tmp_path / "run", progress=False, threads=1)
    seen = []
    reused = train(one, corpus, tmp_path / "run", progress=False, threads=1, on_epoch=lambda s: seen.append(s.epoch))
    assert reused.resumed_from == 1 and seen == []  # same code: the complete checkpoint is reused
    with open(code[0], "a") as f:
        f.write("# an edit\n")
    again = train(one, corpus, tmp_path / "run", progress=False, threads=1, on_epoch=lambda s: seen.append(s.epoch))
    assert again.resumed_from is None and seen == [1]  # edited code: trained again
    _same_state(first, again)
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT, one, corpus) is not None  # now the new code's


def test_fresh_ignores_a_complete_checkpoint(corpus, tmp_path):
    one = dataclasses.replace(CFG, epochs=1)
    first = train(one, corpus, tmp_path, progress=False, threads=1)
    seen = []
    again = train(one, corpus, tmp_path, progress=False, threads=1, fresh=True, on_epoch=lambda s: seen.append(s.epoch))
    assert again.resumed_from is None and seen == [1]  # build.py --force: the epoch ran again
    _same_state(first, again)
    assert again.epoch_seconds != first.epoch_seconds  # its own timing, not the old run's
    # an interrupted fresh run leaves no stale complete checkpoint behind to be reused later
    train(CFG, corpus, tmp_path / "b", progress=False, threads=1)
    half = train(CFG, corpus, tmp_path / "b", progress=False, threads=1, fresh=True, stop_after=1)
    assert half.epoch == 1 and load_checkpoint(tmp_path / "b" / CHECKPOINT, CFG, corpus).epoch == 1


def test_reproducible_from_the_seed(corpus):
    cfg = dataclasses.replace(CFG, epochs=1)
    a = train(cfg, corpus, progress=False, threads=1)
    b = train(cfg, corpus, progress=False, threads=1)
    _same_state(a, b)
    c = train(dataclasses.replace(cfg, seed=7), corpus, progress=False, threads=1)
    assert not torch.equal(a.model.encoder.weight, c.model.encoder.weight)


def test_epoch_pairs_are_subsampled_and_shuffled(corpus):
    ctx0, t0 = epoch_pairs(corpus, CFG, 0)
    ctx1, t1 = epoch_pairs(corpus, CFG, 1)
    n_full = len(corpus.ids) - 2 * CFG.window
    assert len(t0) < n_full and len(t0) != len(t1)  # frequent words dropped, afresh each epoch
    nofilter = dataclasses.replace(CFG, sample=0.0)
    ctx, t = epoch_pairs(corpus, nofilter, 0)
    assert len(t) == n_full
    assert sorted(t.tolist()) == sorted(corpus.ids[2:-2].tolist())  # a permutation of all targets


def test_config_validation(corpus):
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="corpus"):
        train(TrainConfig(corpus="complete_works", epochs=1), corpus, progress=False)
    with pytest.raises(ValueError, match="threads"):
        train(CFG, corpus, progress=False, threads=0)


def test_thread_policy_and_restore(corpus):
    assert default_threads(CFG) == 1 and default_threads(TrainConfig(corpus="complete_works")) is None
    before = torch.get_num_threads()
    st = train(dataclasses.replace(CFG, epochs=1), corpus, progress=False, threads=1)
    assert st.threads == 1 and torch.get_num_threads() == before
