"""Q5A stage pieces: the artifacts round-trip, the context check fails for a model that ignores
the context, and the fused-gradient check fails for a wrong backward."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import numeric.cbow as C
from numeric.cbow_train import TrainConfig, epoch_pairs, new_state
from numeric.q5a_cbow import (
    CONTEXT_GAIN_MIN,
    _equivalence_checks,
    load_embeddings,
    save_embeddings,
    unigram_entropy,
)
from numeric.q5a_report import CHECK_ENCODER, CHECK_FUSED_GRADS, CHECK_FUSED_LOSS
from numeric.shakespeare_data import keep_probabilities, load_corpus


def test_embeddings_round_trip(tmp_path):
    vecs = np.random.default_rng(0).normal(size=(5, 3))  # float64 in, float32 out
    words = ["a", "b", "c", "antony's", "o'er"]
    save_embeddings(tmp_path / "cbow", vecs, words, {"embedding": "input"})
    loaded, got = load_embeddings(tmp_path)
    assert loaded.dtype == np.float32 and loaded.shape == (5, 3) and got == words
    np.testing.assert_array_equal(loaded, vecs.astype(np.float32))
    assert json.loads((tmp_path / "cbow" / "config.json").read_text()) == {"embedding": "input"}
    assert sorted(p.name for p in (tmp_path / "cbow").iterdir()) == ["config.json", "embeddings.npy", "vocab.json"]
    save_embeddings(tmp_path / "cbow", vecs[:4], words, {})
    with pytest.raises(ValueError, match="rows"):
        load_embeddings(tmp_path)


def test_unigram_entropy():
    assert unigram_entropy([3, 1], 0.0) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), rel=1e-15)
    counts = np.array([1000, 100, 10, 1])
    p = counts * keep_probabilities(counts, 1e-2)
    p = p / p.sum()
    assert unigram_entropy(counts, 1e-2) == pytest.approx(float(-(p * np.log(p)).sum()), rel=1e-15)
    assert unigram_entropy(counts, 1e-2) > unigram_entropy(counts, 0.0)  # subsampling flattens it


def test_context_free_model_fails_the_context_check(data_dir):
    # a decoder bias alone at the unigram log-probabilities: the best model that ignores the
    # context. Its loss on an epoch's pairs is the unigram entropy, short of the margin by all of it.
    corpus = load_corpus(data_dir, "tiny_shakespeare")
    cfg = TrainConfig(corpus="tiny_shakespeare", dim=8)
    state = new_state(cfg, len(corpus.vocab))
    p = np.asarray(corpus.vocab.counts) * keep_probabilities(corpus.vocab.counts, cfg.sample)
    log_p = np.log(p / p.sum())
    contexts, targets = epoch_pairs(corpus, cfg, 0)
    with torch.no_grad():
        state.model.decoder.bias.copy_(torch.from_numpy(log_p))
        some = float(state.model.loss(contexts[:4096], targets[:4096]))
    assert some == pytest.approx(-log_p[targets[:4096].numpy()].mean(), rel=1e-5)  # the model is that unigram
    loss = -log_p[targets.numpy()].mean()  # its loss on the whole epoch, without the (N, V) logits
    gain = unigram_entropy(corpus.vocab.counts, cfg.sample) - loss
    assert abs(gain) < 0.02  # measured: the epoch's own sample of the stream differs by 0.001 nats
    assert not gain > CONTEXT_GAIN_MIN


def _trained_like(V: int = 60, D: int = 8):
    state = new_state(TrainConfig(corpus="tiny_shakespeare", dim=D), V)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in state.model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    contexts = torch.randint(0, V, (64, 4), generator=g)
    return state, contexts, torch.randint(0, V, (64,), generator=g)


def test_equivalence_checks_pass_and_the_gradient_check_can_fail(monkeypatch):
    state, contexts, targets = _trained_like()
    checks = {c.name: c for c in _equivalence_checks(state, contexts, targets)}
    assert set(checks) == {CHECK_ENCODER, CHECK_FUSED_LOSS, CHECK_FUSED_GRADS} and all(c.passed for c in checks.values())
    assert checks[CHECK_FUSED_GRADS].error < 1e-6
    backward = C._DecoderCrossEntropy.backward

    def off_by_1e4(ctx, grad):  # a backward 0.01% off: the loss is still right, the gradients not
        return tuple(None if g is None else g * 1.0001 for g in backward(ctx, grad))

    monkeypatch.setattr(C._DecoderCrossEntropy, "backward", staticmethod(off_by_1e4))
    checks = {c.name: c for c in _equivalence_checks(state, contexts, targets)}
    assert checks[CHECK_FUSED_LOSS].passed and not checks[CHECK_FUSED_GRADS].passed
    assert checks[CHECK_FUSED_GRADS].error == pytest.approx(1e-4, rel=0.01)
