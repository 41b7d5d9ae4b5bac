"""Question 5A's reference: gensim's Word2Vec CBOW on the same corpus, window, min_count and dimension.

gensim trains CBOW with negative sampling (its default: 5 noise words) in compiled code, with
its own defaults otherwise (lr 0.025 decaying linearly, subsampling threshold 1e-3, 5 epochs).
It gets the same token stream as our model (rare words already removed, so its min_count
filter keeps exactly our vocabulary), cut into pieces of 10,000 tokens because gensim ignores
words past that length in one "sentence". One worker thread, so the vectors are reproducible
from the seed (with several workers the order of updates varies from run to run).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from numeric.shakespeare_data import Corpus

if TYPE_CHECKING:
    from numeric.cbow_train import TrainConfig

MAX_SENTENCE = 10_000  # gensim's MAX_WORDS_IN_BATCH: longer sentences are truncated


@dataclass(frozen=True)
class GensimConfig:
    dim: int = 100
    window: int = 2
    min_count: int = 5
    epochs: int = 5  # gensim's default
    negative: int = 5  # gensim's default
    sample: float = 1e-3  # gensim's default
    seed: int = 42
    workers: int = 1  # 1: reproducible

    @classmethod
    def matching(cls, train: TrainConfig) -> GensimConfig:
        """gensim's defaults with our run's dimension, window, min_count and seed."""
        return cls(dim=train.dim, window=train.window, min_count=train.min_count, seed=train.seed)


@dataclass(frozen=True)
class GensimResult:
    vectors: np.ndarray  # (V, D) float32, rows in our vocabulary order
    seconds: float  # training time (excluding vocabulary building)
    config: GensimConfig


def train_gensim(corpus: Corpus, config: GensimConfig) -> GensimResult:
    """Train gensim's CBOW on ``corpus`` and return its vectors aligned with ``corpus.vocab``."""
    from gensim.models import Word2Vec  # imported here: a heavy import only this stage needs

    if config.min_count < 1 or config.dim < 1 or config.window < 1 or config.epochs < 1:
        raise ValueError(f"invalid gensim config {config}")
    words = corpus.vocab.decode(corpus.ids)
    sentences = [words[i : i + MAX_SENTENCE] for i in range(0, len(words), MAX_SENTENCE)]
    model = Word2Vec(
        vector_size=config.dim,
        window=config.window,
        min_count=config.min_count,
        sg=0,
        cbow_mean=1,
        negative=config.negative,
        hs=0,
        sample=config.sample,
        seed=config.seed,
        workers=config.workers,
    )
    model.build_vocab(sentences)
    missing = [w for w in corpus.vocab.words if w not in model.wv.key_to_index]
    if missing or len(model.wv) != len(corpus.vocab):
        raise RuntimeError(f"gensim's vocabulary differs from ours ({len(model.wv)} vs {len(corpus.vocab)} words)")
    t0 = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=config.epochs)
    seconds = time.perf_counter() - t0
    vectors = np.stack([model.wv[w] for w in corpus.vocab.words]).astype(np.float32)
    return GensimResult(vectors, seconds, config)
