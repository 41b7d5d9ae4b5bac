"""Q5A reference: gensim's CBOW on our stream, its vectors aligned with our vocabulary."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.gensim_reference import GensimConfig, train_gensim
from numeric.shakespeare_data import Corpus, build_vocab, load_corpus


@pytest.fixture(scope="module")
def corpus(data_dir) -> Corpus:
    full = load_corpus(data_dir, "tiny_shakespeare")
    words = full.vocab.decode(full.ids[:30_000])
    vocab = build_vocab(words, 5)  # the slice's own vocabulary, so gensim's filter keeps it exactly
    return Corpus(full.name, vocab, vocab.encode(words), len(words))


def test_vectors_follow_our_vocabulary_order(corpus, monkeypatch):
    import gensim.models

    models = []

    class Capture(gensim.models.Word2Vec):  # keeps the trained model, to read its vectors by word
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            models.append(self)

    monkeypatch.setattr(gensim.models, "Word2Vec", Capture)
    res = train_gensim(corpus, GensimConfig(dim=16, epochs=1))
    assert res.vectors.shape == (len(corpus.vocab), 16) and res.vectors.dtype == np.float32
    (model,) = models
    for i, w in enumerate(corpus.vocab.words):  # row i is gensim's vector of our word i
        np.testing.assert_array_equal(res.vectors[i], model.wv[w])
    monkeypatch.undo()
    assert res.seconds > 0
    again = train_gensim(corpus, GensimConfig(dim=16, epochs=1))
    np.testing.assert_array_equal(res.vectors, again.vectors)  # one worker + seed: reproducible


def test_matching_config_takes_our_settings():
    from numeric.cbow_train import TrainConfig

    g = GensimConfig.matching(TrainConfig(dim=37, window=3, min_count=7, seed=9, epochs=2))
    assert (g.dim, g.window, g.min_count, g.seed) == (37, 3, 7, 9)
    assert (g.epochs, g.negative, g.sample, g.workers) == (5, 5, 1e-3, 1)  # gensim's own defaults otherwise


def test_vocabulary_mismatch_is_an_error(corpus):
    # a vocabulary with a word gensim's min_count filter drops
    bad = Corpus(corpus.name, build_vocab(corpus.vocab.words * 5 + ["zzz"] * 5, 5), corpus.ids, corpus.n_tokens)
    with pytest.raises(RuntimeError, match="vocabulary"):
        train_gensim(bad, GensimConfig(dim=8, epochs=1))
