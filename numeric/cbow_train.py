"""Question 5A: the CBOW training loop, resumable from a checkpoint written after every epoch.

    state = train(TrainConfig(epochs=6), corpus, out_dir=Path("build/cbow"))

Each epoch draws a fresh subsample of the token stream and a fresh shuffle from a generator
seeded by ``(seed, epoch)``, so a run interrupted after epoch e and resumed from its checkpoint
gives the same parameters as an uninterrupted one. The loss of every batch is kept; after every
epoch the ``on_epoch`` callback gets the state (q5a plots the loss curves there) and the nearest
words of a few probe words are printed. The learning rate decays linearly to
``lr * lr_final`` over the whole run, as a function of the fraction of batches done.
"""

from __future__ import annotations

import dataclasses
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
from numeric.shakespeare_data import Corpus, keep_probabilities, make_pairs, subsample

OPTIMIZERS = ("adam", "sgd")
CHECKPOINT = "checkpoint.pt"


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


def save_checkpoint(state: TrainState, path: Path) -> None:
    """Write the state to ``path`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "config": state.config.to_json(),
        "vocab_size": state.model.vocab_size,
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "epoch": state.epoch,
        "losses": state.losses,
        "epoch_batches": state.epoch_batches,
        "epoch_seconds": state.epoch_seconds,
        "examples": state.examples,
        "epoch_loadavg": state.epoch_loadavg,
        "threads": state.threads,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path, config: TrainConfig, vocab_size: int) -> TrainState | None:
    """The state saved at ``path`` if it was made by the same config and vocabulary, else None."""
    if not path.exists():
        return None
    payload = torch.load(path, weights_only=True)
    if payload.get("config") != config.to_json() or payload.get("vocab_size") != vocab_size:
        return None
    state = new_state(config, vocab_size)
    state.model.load_state_dict(payload["model"])
    state.optimizer.load_state_dict(payload["optimizer"])
    state.epoch = int(payload["epoch"])
    state.losses = list(payload["losses"])
    state.epoch_batches = list(payload["epoch_batches"])
    state.epoch_seconds = list(payload["epoch_seconds"])
    state.examples = int(payload["examples"])
    state.epoch_loadavg = list(payload.get("epoch_loadavg", []))
    state.threads = int(payload.get("threads", 0))
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
            idx, _ = nearest(vecs, vecs[i], k + 1, exclude=[i])
            lines.append(f"  {w}: {' '.join(corpus.vocab.decode(idx[:k]))}")
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
) -> TrainState:
    """Train (or resume, or reuse) a CBOW model; checkpoint to ``out_dir`` after every epoch.

    ``stop_after``: return once this many epochs are complete (simulates an interruption).
    ``threads``: torch intra-op threads for the run (None: torch's setting), restored after.
    """
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    old = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        return _train(config, corpus, out_dir, on_epoch, probes, progress, stop_after)
    finally:
        torch.set_num_threads(old)


def _train(
    config: TrainConfig,
    corpus: Corpus,
    out_dir: Path | None,
    on_epoch: Callable[[TrainState], None] | None,
    probes: list[str] | None,
    progress: bool,
    stop_after: int | None,
) -> TrainState:
    if corpus.name != config.corpus or len(corpus.vocab) < 2:
        raise ValueError(f"corpus {corpus.name!r} does not match config.corpus {config.corpus!r}")
    ckpt = None if out_dir is None else Path(out_dir) / CHECKPOINT
    state = (load_checkpoint(ckpt, config, len(corpus.vocab)) if ckpt else None) or new_state(
        config, len(corpus.vocab)
    )
    model, opt = state.model, state.optimizer
    last = config.epochs if stop_after is None else min(config.epochs, stop_after)
    for epoch in range(state.epoch, last):
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
        if ckpt is not None:
            save_checkpoint(state, ckpt)
        if progress:
            tqdm.write(
                f"CBOW epoch {state.epoch}/{config.epochs}: mean loss {np.mean(state.losses[-n_batches:]):.3f}, "
                f"{len(targets) / state.epoch_seconds[-1]:.0f} examples/s", file=sys.stderr
            )
            if probes:
                tqdm.write(probe_report(model, corpus, probes), file=sys.stderr)
        if on_epoch is not None:
            on_epoch(state)
    return state
