"""Q5 data processing: tokenisation, vocabulary, windows, subsampling, one-hot equivalence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from numeric.shakespeare_data import (
    build_vocab,
    keep_probabilities,
    load_corpus,
    make_pairs,
    one_hot_mean,
    pairs_at,
    strip_gutenberg,
    subsample,
    tokenize,
)


def test_tokenize_keeps_inner_apostrophes_only():
    assert tokenize("ANTONY'S sword, o'er 'tis lovers' 2 Hastings!") == [
        "antony's", "sword", "o'er", "tis", "lovers", "hastings"
    ]
    with pytest.raises(TypeError, match="text"):
        tokenize(b"bytes")


def test_vocab_order_counts_and_both_maps():
    toks = ["b"] * 5 + ["a"] * 5 + ["c"] * 7 + ["rare"] * 4
    v = build_vocab(toks, min_count=5)
    assert v.words == ["c", "a", "b"]  # by count, ties alphabetical
    assert v.counts == [7, 5, 5]
    assert all(v.words[v.index[w]] == w for w in v.words)
    assert v.decode(v.encode(["a", "rare", "c"])) == ["a", "c"]  # rare words dropped
    with pytest.raises(ValueError, match="min_count"):
        build_vocab(toks, min_count=0)


def test_pairs_are_the_sliding_window():
    ids = np.arange(10, 20)
    ctx, tgt = make_pairs(ids, window=2)
    assert ctx.dtype == tgt.dtype == torch.int64
    assert ctx.shape == (6, 4) and tgt.tolist() == list(range(12, 18))
    assert ctx[0].tolist() == [10, 11, 13, 14]
    ctx3, _ = make_pairs(ids, window=3)
    assert ctx3.shape == (4, 6) and ctx3[0].tolist() == [10, 11, 12, 14, 15, 16]
    with pytest.raises(ValueError, match="window"):
        make_pairs(ids, window=0)


def test_pairs_at_are_rows_of_make_pairs():
    ids = np.random.default_rng(0).integers(0, 50, 200)
    rows = np.array([0, 5, 5, 195, 77])  # 195 = the last pair for window 2 (N = 196)
    for window in (1, 2, 3):
        rows_w = rows[rows < len(ids) - 2 * window]
        ctx, tgt = make_pairs(ids, window)
        sub_ctx, sub_tgt = pairs_at(ids, rows_w, window)
        assert torch.equal(sub_ctx, ctx[rows_w]) and torch.equal(sub_tgt, tgt[rows_w])
        assert sub_ctx.dtype == sub_tgt.dtype == torch.int64
    with pytest.raises(ValueError, match="rows"):
        pairs_at(ids, np.array([196]), 2)
    with pytest.raises(ValueError, match="rows"):
        pairs_at(ids, np.array([-1]), 2)


def test_mean_of_embedding_rows_equals_linear_on_averaged_one_hots():
    # The problem set's hint: indices in, one-hot implicit. Exact in float64 up to round-off.
    torch.manual_seed(0)
    V, D = 50, 7
    ctx = torch.randint(0, V, (32, 4))
    bag = torch.nn.EmbeddingBag(V, D, mode="mean").double()
    linear = torch.nn.Linear(V, D, bias=False).double()
    with torch.no_grad():
        linear.weight.copy_(bag.weight.t())
    x = one_hot_mean(ctx, V).double()
    assert torch.allclose(x.sum(1), torch.ones(32, dtype=torch.float64))
    torch.testing.assert_close(bag(ctx), linear(x), rtol=1e-12, atol=1e-14)


def test_subsampling_probabilities():
    counts = np.array([100_000, 10, 1])
    keep = keep_probabilities(counts, sample=1e-3)
    f = counts / counts.sum()
    np.testing.assert_allclose(keep[0], (np.sqrt(f[0] / 1e-3) + 1) * 1e-3 / f[0], rtol=1e-12)
    assert keep[0] < 0.1 and keep[1] == keep[2] == 1.0  # rare words always kept
    assert np.all(keep_probabilities([3, 4], 0.0) == 1.0)
    rng = np.random.default_rng(0)
    ids = np.zeros(100_000, dtype=np.int64)
    kept = subsample(ids, np.array([0.3]), rng)
    # binomial: sd = sqrt(0.3*0.7/1e5) = 0.0014; 5 sd
    assert abs(len(kept) / len(ids) - 0.3) < 0.0073


def test_strip_gutenberg():
    text = "header\n*** START OF THE PROJECT GUTENBERG EBOOK 100 ***\nTo be.\n*** END OF THE PROJECT GUTENBERG EBOOK 100 ***\nlicence"
    assert strip_gutenberg(text) == "To be.\n"
    with pytest.raises(ValueError, match="markers"):
        strip_gutenberg("no markers")


def test_tiny_shakespeare_statistics(data_dir):
    c = load_corpus(data_dir, "tiny_shakespeare")
    # data/README.md counts [a-z']+ tokens: 204062 and 3330 words; our rule drops outer
    # apostrophes, so the numbers differ slightly but must stay close.
    assert abs(c.n_tokens - 204062) / 204062 < 0.01
    assert abs(len(c.vocab) - 3330) / 3330 < 0.02
    assert min(c.vocab.counts) >= 5 and "i'll" in c.vocab
    assert "petruchio's" not in c.vocab  # 3 occurrences (data/README.md): below min_count
    assert len(c.ids) == sum(c.vocab.counts)
    with pytest.raises(ValueError, match="corpus"):
        load_corpus(data_dir, "hamlet")
