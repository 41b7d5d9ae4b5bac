"""Fast, exact training of the Question 4 MLP: in-memory data, a hand-written backward pass.

The problem set's protocol (10 epochs, lr 0.01, batch 64, seed 42 reset before every run) on the
one model of `numeric.mnist_model`. Speed comes from three things, each checked against the slow
reference in tests/numeric/test_mnist_train.py:

- the whole training set is one float32 tensor on the device; an epoch is a ``randperm`` and
  one ``index_select`` per batch (no Dataset, no DataLoader, no per-sample transform);
- the Linear-ReLU stack's forward and backward are written out (``addmm`` and a ReLU mask), so
  a step is ~20 tensor calls instead of autograd's graph; the gradients equal autograd's;
- the optimizers (SGD with momentum / weight decay, Adam, AdamW, as `torch.optim` defines them)
  update all parameters in a few ``torch._foreach_*`` calls, the kernels `torch.optim` itself uses;
- one CPU thread per run (`DEFAULT_THREADS`): see there.

``l2_lambda`` adds $\\lambda_{\\ell_2} \\sum_i w_i^2$ over all parameters to the loss "by hand"
(its gradient $2 \\lambda_{\\ell_2} w$ joins the data gradient before the optimizer sees it);
``weight_decay`` is the optimizer's own argument, as in `torch.optim`.

    result = train(TrainConfig(optimizer="adamw", weight_decay=0.01), x, y, x_val, y_val)
    result.best_val_acc, result.val_acc  # best over epochs (the problem set's number), per epoch
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from numeric.mnist_model import LAYER_SIZES, make_mlp

OPTIMIZERS = ("sgd", "adam", "adamw")
# One CPU thread per run: batch-64 matmuls this small gain at most ~1.5x from a second thread on
# idle cores (benchmarks/bench_mnist.py measures both), but lose 9-30x (measured) when
# the cores are shared (OpenMP barriers wait for descheduled threads), and a fixed count makes the
# floating-point summation order, hence the metrics, independent of the machine's core count.
DEFAULT_THREADS = 1


@dataclass(frozen=True)
class TrainConfig:
    """One training run; defaults are the problem set's ("unless a part says otherwise")."""

    epochs: int = 10
    lr: float = 0.01
    batch_size: int = 64
    optimizer: str = "sgd"  # "sgd" | "adam" | "adamw"
    momentum: float = 0.0  # SGD only
    weight_decay: float = 0.0  # the optimizer's argument (coupled for sgd/adam, decoupled for adamw)
    l2_lambda: float = 0.0  # lambda * sum(w^2) added to the loss by hand
    betas: tuple[float, float] = (0.9, 0.999)  # Adam / AdamW (torch defaults)
    eps: float = 1e-8
    seed: int = 42  # reset before every run: initial weights and the epoch shuffles

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("epochs", "batch_size", "seed"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < (0 if name == "seed" else 1):
                raise ValueError(f"{name} must be a positive int, got {getattr(self, name)!r}")
        for name in ("lr", "momentum", "weight_decay", "l2_lambda", "eps"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.momentum and self.optimizer != "sgd":
            raise ValueError("momentum applies to optimizer='sgd' only (Adam has betas)")

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class TrainResult:
    """Per-epoch curves and the trained parameters (W1, b1, W2, b2, ... as in `make_mlp`)."""

    config: TrainConfig
    val_acc: list[float]  # fraction correct on the validation set after each epoch
    train_loss: list[float]  # mean cross-entropy over the epoch's steps (without the l2 term)
    params: list[torch.Tensor] = field(repr=False)
    seconds: float = 0.0  # wall time of the training loop (evaluation included)
    second_moments: list[torch.Tensor] | None = field(default=None, repr=False)  # Adam's v_t at the end
    steps: int = 0  # optimizer steps taken
    epoch_seconds: list[float] = field(default_factory=list)  # wall time of each epoch (with its evaluation)

    @property
    def best_val_acc(self) -> float:
        return max(self.val_acc)

    @property
    def final_val_acc(self) -> float:
        return self.val_acc[-1]

    @property
    def best_epoch(self) -> int:  # 1-based
        return self.val_acc.index(self.best_val_acc) + 1

    def summary(self) -> dict[str, Any]:
        return {
            "best_val_acc": self.best_val_acc,
            "final_val_acc": self.final_val_acc,
            "best_epoch": self.best_epoch,
            "val_acc": self.val_acc,
            "train_loss": self.train_loss,
            "seconds": self.seconds,
            "config": self.config.to_json(),
        }


def initial_params(seed: int = 42, device: str | torch.device = "cpu") -> list[torch.Tensor]:
    """The parameters of ``make_mlp(seed=seed)``, detached copies: [W1, b1, W2, b2, W3, b3]."""
    model = make_mlp(LAYER_SIZES, seed=seed)
    return [p.detach().clone().to(device) for p in model.parameters()]


def to_model(params: list[torch.Tensor]) -> nn.Sequential:
    """An ``nn.Sequential`` of the `make_mlp` architecture holding ``params`` (copied)."""
    model = make_mlp(LAYER_SIZES)
    with torch.no_grad():
        for p, value in zip(model.parameters(), params, strict=True):
            p.copy_(value)
    return model


def _forward(params: list[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Logits (N, 10) and the inputs of every layer, [x, relu(z1), ...] (what the backward pass needs)."""
    h, acts = x, [x]
    n_layers = len(params) // 2
    for k in range(n_layers):
        h = torch.addmm(params[2 * k + 1], h, params[2 * k].t())
        if k < n_layers - 1:
            h = h.relu_()
            acts.append(h)
    return h, acts


def logits(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Forward pass: x (N, 784) float32 -> logits (N, 10)."""
    return _forward(params, x)[0]


def loss_and_grads(
    params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Mean cross-entropy of a batch and its gradients, by the chain rule written out.

    x: (B, 784) float32, y: (B,) int64. Returns (loss scalar tensor, [dW1, db1, ...]).
    """
    n_layers = len(params) // 2
    h, acts = _forward(params, x)
    logp = torch.log_softmax(h, dim=1)
    picked = logp.gather(1, y.unsqueeze(1))
    loss = picked.sum().neg_().div_(x.shape[0])
    dz = logp.exp_()  # softmax - onehot, over the batch size
    dz.scatter_add_(1, y.unsqueeze(1), torch.full_like(picked, -1.0)).div_(x.shape[0])
    grads: list[torch.Tensor] = [torch.empty(0)] * len(params)
    for k in range(n_layers - 1, -1, -1):
        grads[2 * k] = dz.t().mm(acts[k])
        grads[2 * k + 1] = dz.sum(0)
        if k > 0:
            dz = torch.ops.aten.threshold_backward(dz.mm(params[2 * k]), acts[k], 0.0)
    return loss, grads


class Optimizer:
    """SGD (momentum, weight decay), Adam and AdamW, with `torch.optim`'s update rules."""

    def __init__(self, params: list[torch.Tensor], config: TrainConfig) -> None:
        self.params, self.c, self.t = params, config, 0
        self.buf: list[torch.Tensor] | None = None  # SGD momentum
        if config.optimizer != "sgd":
            self.m = [torch.zeros_like(p) for p in params]
            self.v = [torch.zeros_like(p) for p in params]

    def step(self, grads: list[torch.Tensor]) -> None:
        c, params = self.c, self.params
        if c.l2_lambda:  # d/dw of lambda * sum(w^2), part of the loss
            torch._foreach_add_(grads, params, alpha=2.0 * c.l2_lambda)
        if c.weight_decay and c.optimizer in ("sgd", "adam"):  # coupled: added to the gradient
            torch._foreach_add_(grads, params, alpha=c.weight_decay)
        self.t += 1
        if c.optimizer == "sgd":
            if c.momentum:
                if self.buf is None:
                    self.buf = [g.clone() for g in grads]
                else:
                    torch._foreach_mul_(self.buf, c.momentum)
                    torch._foreach_add_(self.buf, grads)
                grads = self.buf
            torch._foreach_add_(params, grads, alpha=-c.lr)
            return
        b1, b2 = c.betas
        if c.optimizer == "adamw" and c.weight_decay:  # decoupled: shrink the weights directly
            torch._foreach_mul_(params, 1.0 - c.lr * c.weight_decay)
        torch._foreach_lerp_(self.m, grads, 1.0 - b1)
        torch._foreach_mul_(self.v, b2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1.0 - b2)
        step_size = c.lr / (1.0 - b1**self.t)
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denom, (1.0 - b2**self.t) ** 0.5)
        torch._foreach_add_(denom, c.eps)
        torch._foreach_addcdiv_(params, self.m, denom, value=-step_size)


@torch.no_grad()
def accuracy(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, chunk: int = 10_000) -> float:
    """Fraction of ``x`` (N, 784) classified as ``y``."""
    correct = sum(
        int((logits(params, x[i : i + chunk]).argmax(1) == y[i : i + chunk]).sum()) for i in range(0, len(x), chunk)
    )
    return correct / len(x)


@torch.no_grad()
def predict(params: list[torch.Tensor], x: torch.Tensor, chunk: int = 10_000) -> torch.Tensor:
    """Predicted classes (N,) int64."""
    return torch.cat([logits(params, x[i : i + chunk]).argmax(1) for i in range(0, len(x), chunk)])


def _check_xy(name: str, x: Any, y: Any) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != LAYER_SIZES[0] or x.dtype != torch.float32:
        raise TypeError(f"{name}: x must be float32 (N, {LAYER_SIZES[0]}), got {getattr(x, 'shape', type(x))}")
    if not isinstance(y, torch.Tensor) or y.shape != (x.shape[0],) or y.dtype != torch.int64:
        raise TypeError(f"{name}: y must be int64 ({x.shape[0]},), got {getattr(y, 'shape', type(y))}")


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op CPU threads (None: leave the setting alone), then restore it."""
    if n is None:
        yield
        return
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a positive int or None, got {n!r}")
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def train(
    config: TrainConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    device: str | torch.device = "cpu",
    threads: int | None = DEFAULT_THREADS,
) -> TrainResult:
    """Train a fresh ``make_mlp(seed=config.seed)`` on (x, y); validation accuracy every epoch.

    x, x_val: normalised float32 (N, 784) (see `numeric.mnist_data.normalize`); y, y_val: int64.
    The last batch of an epoch may be smaller (as a DataLoader without drop_last gives it).
    ``threads``: CPU threads for the run (see `DEFAULT_THREADS`); None keeps torch's setting.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    _check_xy("train", x, y)
    _check_xy("validation", x_val, y_val)
    with cpu_threads(threads if torch.device(device).type == "cpu" else None), torch.no_grad():
        return _train(config, x, y, x_val, y_val, device)


def _train(config: TrainConfig, x, y, x_val, y_val, device) -> TrainResult:
    t0 = time.perf_counter()
    x, y, x_val, y_val = (t.to(device) for t in (x, y, x_val, y_val))
    params = initial_params(config.seed, device)
    opt = Optimizer(params, config)
    shuffle = torch.Generator().manual_seed(config.seed)
    n, bs = x.shape[0], config.batch_size
    val_acc, train_loss, epoch_seconds = [], [], []
    for _ in range(config.epochs):
        te = time.perf_counter()
        perm = torch.randperm(n, generator=shuffle).to(device)
        total = torch.zeros((), device=device)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]  # gathered per batch: 200 kB that stay in cache, no 157 MB copy
            loss, grads = loss_and_grads(params, x.index_select(0, idx), y.index_select(0, idx))
            total += loss
            opt.step(grads)
        train_loss.append(float(total) / -(-n // bs))
        val_acc.append(accuracy(params, x_val, y_val))
        epoch_seconds.append(time.perf_counter() - te)
    v = None if config.optimizer == "sgd" else [m.cpu() for m in opt.v]
    return TrainResult(config, val_acc, train_loss, [p.cpu() for p in params], time.perf_counter() - t0, v, opt.t, epoch_seconds)
