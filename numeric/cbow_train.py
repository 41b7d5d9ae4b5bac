"""Question 5A: the CBOW training loop, resumable from a checkpoint written after every epoch.

    state = train(TrainConfig(epochs=6), corpus, out_dir=Path("build/cbow"))

Each epoch draws a fresh subsample of the token stream and a fresh shuffle from a generator
seeded by ``(seed, epoch)``, so a run interrupted after epoch e and resumed from its checkpoint
gives the same parameters as an uninterrupted one. A checkpoint is resumed (or, when complete,
reused) only if its `fingerprint` matches: a SHA-256 of the training code's source
(`numeric.cbow`, this file, `numeric.shakespeare_data`), the config and the corpus, so a change
to any of them trains afresh; ``fresh=True`` (``build.py --force``) deletes it first. The loss of every batch is kept; after every
epoch the ``on_epoch`` callback gets the state (q5a plots the loss curves there) and the nearest
words of a few probe words are printed. The learning rate decays linearly to
``lr * lr_final`` over the whole run, as a function of the fraction of batches done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from numeric.cbow import CBOW, nearest
from numeric.files import atomic_path
from numeric.mnist_train import cpu_threads
from numeric.shakespeare_data import Corpus, keep_probabilities, make_pairs, subsample

OPTIMIZERS = ("adam", "sgd")
CHECKPOINT = "checkpoint.pt"
# tiny-shakespeare's small products gain little from a second thread, and on shared cores OpenMP
# barriers waiting for descheduled threads can make small steps 10x slower: one thread there
TINY_CORPUS_THREADS = 1


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (recorded in its checkpoint)."""

    corpus: str = "complete_works"  # or "tiny_shakespeare"
    min_count: int = 5  # words rarer than this are dropped
    window: int = 2  # context words on each side
    dim: int = 100  # embedding dimension D
    sample: float = 1e-3  # subsampling threshold t (0: off)
    batch_size: int = 512  # examples per step
    epochs: int = 6
    optimizer: str = "adam"  # or "sgd"
    lr: float = 3e-3  # initial learning rate
    lr_final: float = 0.05  # final lr as a fraction of lr (linear decay)
    weight_decay: float = 0.0  # L2 on all parameters (coupled, as in torch's Adam)
    seed: int = 42
    fused: bool = True  # fused softmax cross-entropy (False: F.cross_entropy)

    def __post_init__(self) -> None:
        for name in ("min_count", "window", "dim", "batch_size", "epochs"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not self.lr > 0 or not 0 <= self.lr_final <= 1:
            raise ValueError(f"lr must be > 0 and lr_final in [0, 1], got {self.lr!r}, {self.lr_final!r}")
        if not self.sample >= 0 or not self.weight_decay >= 0:
            raise ValueError("sample and weight_decay must be >= 0")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def default_threads(config: TrainConfig) -> int | None:
    """Torch threads for a run of ``config``: one on tiny-shakespeare, else torch's setting (None)."""
    return TINY_CORPUS_THREADS if config.corpus == "tiny_shakespeare" else None


@dataclass
class TrainState:
    """A model part-way through (or at the end of) training."""

    config: TrainConfig
    model: CBOW
    optimizer: torch.optim.Optimizer
    epoch: int = 0  # epochs completed
    losses: list[float] = field(default_factory=list)  # every batch's mean loss
    epoch_batches: list[int] = field(default_factory=list)  # batches in each epoch
    epoch_seconds: list[float] = field(default_factory=list)  # training time of each epoch
    examples: int = 0  # examples seen
    epoch_loadavg: list[float] = field(default_factory=list)  # 1-min load average at each epoch's end
    threads: int = 0  # torch threads of the last epoch trained
    resumed_from: int | None = None  # the epoch a checkpoint gave, if any

    @property
    def complete(self) -> bool:
        return self.epoch >= self.config.epochs

    @property
    def train_seconds(self) -> float:
        return float(sum(self.epoch_seconds))


def new_state(config: TrainConfig, vocab_size: int) -> TrainState:
    gen = torch.Generator().manual_seed(config.seed)
    model = CBOW(vocab_size, config.dim, generator=gen)
    if config.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
        )
    else:
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return TrainState(config, model, opt)


# the TrainState fields a checkpoint stores as they are (config, model and optimizer go separately)
_SAVED = tuple(f.name for f in dataclasses.fields(TrainState)
               if f.name not in ("config", "model", "optimizer", "resumed_from"))
_CODE = tuple(Path(__file__).with_name(name) for name in ("cbow.py", "cbow_train.py", "shakespeare_data.py"))


def fingerprint(config: TrainConfig, corpus: Corpus) -> str:
    """SHA-256 of the training code's source, the config and the corpus: what a checkpoint is valid for."""
    h = hashlib.sha256()
    for path in _CODE:
        h.update(path.read_bytes())
    h.update(json.dumps(config.to_json(), sort_keys=True).encode())
    h.update(json.dumps(corpus.vocab.words).encode())
    h.update(np.ascontiguousarray(corpus.ids, dtype=np.int64).tobytes())
    return h.hexdigest()


def save_checkpoint(state: TrainState, path: Path, digest: str) -> None:
    """Write the state and the run's `fingerprint` to ``path`` atomically (temporary file, then rename)."""
    payload = {"fingerprint": digest, "config": state.config.to_json(), "model": state.model.state_dict(),
               "optimizer": state.optimizer.state_dict(), **{name: getattr(state, name) for name in _SAVED}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path, config: TrainConfig, corpus: Corpus) -> TrainState | None:
    """The state saved at ``path`` if its fingerprint is this code's, config's and corpus's, else None."""
    if not path.exists():
        return None
    payload = torch.load(path, weights_only=True)
    if payload.get("fingerprint") != fingerprint(config, corpus):
        return None
    state = new_state(config, len(corpus.vocab))
    state.model.load_state_dict(payload["model"])
    state.optimizer.load_state_dict(payload["optimizer"])
    for name in _SAVED:
        setattr(state, name, payload[name])
    state.resumed_from = state.epoch
    return state


def epoch_pairs(corpus: Corpus, config: TrainConfig, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The epoch's (contexts, targets): subsampled stream, windows, then a seeded shuffle."""
    rng = np.random.default_rng([config.seed, epoch])
    keep = keep_probabilities(corpus.vocab.counts, config.sample)
    contexts, targets = make_pairs(subsample(corpus.ids, keep, rng), config.window)
    perm = torch.from_numpy(rng.permutation(len(targets)))
    return contexts[perm], targets[perm]


def probe_report(model: CBOW, corpus: Corpus, probes: list[str], k: int = 6) -> str:
    vecs = model.embeddings("input")
    lines = []
    for w in probes:
        if w in corpus.vocab:
            i = corpus.vocab.index[w]
            idx, _ = nearest(vecs, vecs[i], k, exclude=[i])
            lines.append(f"  {w}: {' '.join(corpus.vocab.decode(idx))}")
    return "\n".join(lines)


def train(
    config: TrainConfig,
    corpus: Corpus,
    out_dir: Path | None = None,
    on_epoch: Callable[[TrainState], None] | None = None,
    probes: list[str] | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    threads: int | None = None,
    fresh: bool = False,
) -> TrainState:
    """Train (or resume, or reuse) a CBOW model; checkpoint to ``out_dir`` after every epoch.

    ``stop_after``: return once this many epochs are complete (simulates an interruption).
    ``threads``: torch intra-op threads for the run (None: torch's setting), restored after.
    ``fresh``: delete any checkpoint in ``out_dir`` and train from scratch (``build.py --force``).
    """
    if corpus.name != config.corpus:
        raise ValueError(f"corpus {corpus.name!r} does not match config.corpus {config.corpus!r}")
    ckpt = None if out_dir is None else Path(out_dir) / CHECKPOINT
    if ckpt is not None and fresh:
        ckpt.unlink(missing_ok=True)
    with cpu_threads(threads):
        state = (load_checkpoint(ckpt, config, corpus) if ckpt else None) or new_state(config, len(corpus.vocab))
        digest = fingerprint(config, corpus) if ckpt else ""
        last = config.epochs if stop_after is None else min(config.epochs, stop_after)
        for epoch in range(state.epoch, last):
            n = _train_epoch(state, corpus, epoch, progress)
            if ckpt is not None:
                save_checkpoint(state, ckpt, digest)
            if progress:
                tqdm.write(
                    f"CBOW epoch {state.epoch}/{config.epochs}: mean loss "
                    f"{np.mean(state.losses[-state.epoch_batches[-1]:]):.3f}, "
                    f"{n / state.epoch_seconds[-1]:.0f} examples/s", file=sys.stderr
                )
                if probes:
                    tqdm.write(probe_report(state.model, corpus, probes), file=sys.stderr)
            if on_epoch is not None:
                on_epoch(state)
    return state


def _train_epoch(state: TrainState, corpus: Corpus, epoch: int, progress: bool) -> int:
    """One epoch of optimizer steps at the linearly decaying rate, recorded in ``state``; returns its examples."""
    config, model, opt = state.config, state.model, state.optimizer
    contexts, targets = epoch_pairs(corpus, config, epoch)
    n_batches = math.ceil(len(targets) / config.batch_size)
    bar = tqdm(range(n_batches), desc=f"CBOW epoch {epoch + 1}/{config.epochs}", file=sys.stderr,
               disable=None if progress else True, mininterval=1.0, leave=False)  # None: bar on a terminal
    t0 = time.perf_counter()
    for b in bar:
        frac = (epoch + b / n_batches) / config.epochs
        for g in opt.param_groups:
            g["lr"] = config.lr * (1.0 - (1.0 - config.lr_final) * frac)
        sl = slice(b * config.batch_size, (b + 1) * config.batch_size)
        loss = model.loss(contexts[sl], targets[sl], fused=config.fused)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state.losses.append(loss.item())
        if b % 50 == 0:
            bar.set_postfix(loss=f"{state.losses[-1]:.3f}")
    state.epoch_seconds.append(time.perf_counter() - t0)
    state.epoch_batches.append(n_batches)
    state.epoch_loadavg.append(os.getloadavg()[0])
    state.threads = torch.get_num_threads()
    state.examples += len(targets)
    state.epoch = epoch + 1
    bar.close()
    return len(targets)
