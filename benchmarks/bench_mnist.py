"""Benchmark: the Q4 trainer against a notebook-style baseline and against the FLOP floor.

    python benchmarks/bench_mnist.py                 # 10 epochs on the 50,000 images, CPU
    python benchmarks/bench_mnist.py --epochs 3 --device cuda --q4

All in one process, one after the other, same model (`make_mlp(seed=42)`), same protocol (SGD,
lr 0.01, batch 64, validation accuracy every epoch):

- notebook: a ``Dataset`` holding uint8 images with a per-sample transform (to float, /255,
  normalise), behind a ``DataLoader`` (batch 64, shuffle), autograd and ``torch.optim.SGD``;
- in-memory: the same autograd loop, but the data is one float32 tensor and an epoch is a
  ``randperm`` and slices (no DataLoader);
- fast: `numeric.mnist_train.train` (in-memory plus the hand-written backward and foreach SGD),
  with its default of one CPU thread (what the Q4 build uses), and again with all of torch's;
- floor: 3 x forward FLOPs per step x steps / the sgemm rate measured here (1024^3 matmuls,
  torch's thread count: the whole machine's rate).

The fast run's time includes its per-epoch validation (the floor counts training only). Ratios
are of median epoch times (robust to bursts of load on shared cores); totals are printed too.

Targets (issue 5): fast >= 2.5x faster than notebook; fast <= 3x the floor. ``--q4`` also runs
the three Q4 parts (q4a histograms, q4d, q4e) and reports their wall time (target <= 300 s).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from numeric.datasets import resolve_data_dir  # noqa: E402
from numeric.files import write_json_atomic  # noqa: E402
from numeric.mnist_data import MEAN, STD, load_mnist, make_splits, normalize, q4_data  # noqa: E402
from numeric.mnist_model import LAYER_SIZES, make_mlp  # noqa: E402
from numeric.mnist_train import DEFAULT_THREADS, TrainConfig, train  # noqa: E402


class NotebookDataset(torch.utils.data.Dataset):
    """What a notebook does: uint8 images, one ToTensor+Normalize-style transform per sample."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(self.images[i]).float().div(255.0).unsqueeze(0)
        return (x - MEAN) / STD, int(self.labels[i])


def _evaluate(model: torch.nn.Module, batches) -> float:
    correct = total = 0
    with torch.no_grad():
        for xb, yb in batches:
            correct += int((model(xb).argmax(1) == yb).sum())
            total += len(yb)
    return correct / total


def notebook(data_dir: Path, epochs: int, device: str) -> tuple[list[float], float]:
    d, s = load_mnist(data_dir), make_splits()
    tr = NotebookDataset(d.train_x[s.train].numpy(), d.train_y[s.train].numpy())
    va = NotebookDataset(d.train_x[s.val].numpy(), d.train_y[s.val].numpy())
    torch.manual_seed(42)
    train_loader = torch.utils.data.DataLoader(tr, batch_size=64, shuffle=True)
    val_loader = torch.utils.data.DataLoader(va, batch_size=1000)
    model = make_mlp(seed=42).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    times, acc = [], 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        acc = _evaluate(model, ((xb.to(device), yb.to(device)) for xb, yb in val_loader))
        times.append(time.perf_counter() - t0)
    return times, acc


def in_memory(x, y, xv, yv, epochs: int, device: str, compiled: bool = False) -> tuple[list[float], float]:
    x, y, xv, yv = (t.to(device) for t in (x, y, xv, yv))
    model = make_mlp(seed=42).to(device)
    fwd = torch.compile(model) if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(42)
    times, acc = [], 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(x), generator=gen).to(device)
        xs, ys = x[perm], y[perm]
        for i in range(0, len(x), 64):
            loss = F.cross_entropy(fwd(xs[i : i + 64]), ys[i : i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = _evaluate(model, [(xv, yv)])
        times.append(time.perf_counter() - t0)
    return times, acc


def sgemm_rate(device: str, n: int = 1024, reps: int = 30) -> float:
    """float32 FLOP/s of an n x n x n matmul (best of three timings)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(3):
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 * reps / best


def floor_seconds(n_train: int, epochs: int, rate: float) -> float:
    """3 x forward FLOPs x samples / ``rate``: the batch size drops out (FLOPs are per sample)."""
    fwd_per_sample = 2 * sum(i * o for i, o in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:], strict=True))
    return 3 * fwd_per_sample * n_train * epochs / rate  # the last, smaller batch counted at its size


def run_q4(data_dir: Path, device: str) -> dict[str, float]:
    from derivations.core import Context
    from numeric import q4a_histograms, q4d_optimizers, q4e_augmentation

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(out_dir=Path(tmp), data_dir=data_dir, device=device)
        for name, mod in (("q4a_histograms", q4a_histograms), ("q4d", q4d_optimizers), ("q4e", q4e_augmentation)):
            t0 = time.perf_counter()
            sec = mod.run(ctx)
            out[name] = time.perf_counter() - t0
            print(f"  {name:15s} {out[name]:7.1f} s  checks passed: {all(c.passed for c in sec.checks)}")
    out["total"] = sum(out.values())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--compile", action="store_true", help="also time the in-memory loop under torch.compile")
    ap.add_argument("--q4", action="store_true", help="also time all of Q4 (q4a histograms, q4d, q4e)")
    ap.add_argument("--json", default=None, help="write the numbers to this file")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: CUDA is not available")
    data_dir = resolve_data_dir(args.data_dir)
    d = q4_data(data_dir)
    x, y, xv, yv = normalize(d.train_x), d.train_y, normalize(d.val_x), d.val_y
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, {args.epochs} epochs "
          f"on {len(x):,} images")
    res: dict[str, object] = {"epochs": args.epochs, "device": args.device, "threads": torch.get_num_threads()}
    epochs: dict[str, list[float]] = {}
    fast = train(TrainConfig(epochs=args.epochs), x, y, xv, yv, args.device)  # DEFAULT_THREADS, as Q4 runs
    epochs["fast"], res["fast_acc"] = fast.epoch_seconds, fast.final_val_acc
    if args.device == "cpu" and torch.get_num_threads() != DEFAULT_THREADS:
        epochs["fast_all_threads"] = train(TrainConfig(epochs=args.epochs), x, y, xv, yv, args.device, None).epoch_seconds
    epochs["in_memory"], res["in_memory_acc"] = in_memory(x, y, xv, yv, args.epochs, args.device)
    if args.compile:
        t0 = time.perf_counter()
        epochs["compiled"], _ = in_memory(x, y, xv, yv, args.epochs, args.device, compiled=True)
        res["compiled_with_compilation_s"] = time.perf_counter() - t0
    epochs["notebook"], res["notebook_acc"] = notebook(data_dir, args.epochs, args.device)
    rate = sgemm_rate(args.device)
    res["sgemm_gflops"] = rate / 1e9
    floor = floor_seconds(len(x), 1, rate)
    # Ratios of median epoch times: robust to bursts of load from other processes on shared cores.
    med = {k: float(np.median(v)) for k, v in epochs.items()}
    res["epoch_seconds"], res["median_epoch_s"], res["floor_epoch_s"] = epochs, med, floor
    res["total_s"] = {k: float(sum(v)) for k, v in epochs.items()}
    res["speedup_vs_notebook"] = med["notebook"] / med["fast"]
    res["fast_over_floor"] = med["fast"] / floor
    res["speedup_vs_notebook_total"] = res["total_s"]["notebook"] / res["total_s"]["fast"]
    print(f"  {'':17s} {'total':>8s} {'median epoch':>13s}")
    for k in ("notebook", "in_memory", "compiled", "fast", "fast_all_threads"):
        if k in med:
            print(f"  {k:17s} {res['total_s'][k]:7.2f}s {med[k]:12.3f}s")
    print(f"  {'floor':17s} {floor * args.epochs:7.2f}s {floor:12.3f}s")
    print(f"  sgemm {res['sgemm_gflops']:.0f} GFLOP/s; accuracy fast {res['fast_acc']:.4f}, "
          f"notebook {res['notebook_acc']:.4f}, in-memory {res['in_memory_acc']:.4f}")
    ok1, ok2 = res["speedup_vs_notebook"] >= 2.5, res["fast_over_floor"] <= 3.0
    print(f"  fast vs notebook: {res['speedup_vs_notebook']:.2f}x faster (target >= 2.5x) {'ok' if ok1 else 'MISSED'}"
          f"  [totals: {res['speedup_vs_notebook_total']:.2f}x]")
    print(f"  fast vs floor:    {res['fast_over_floor']:.2f}x the floor (target <= 3x) {'ok' if ok2 else 'MISSED'}")
    ok = ok1 and ok2
    if args.q4:
        res["q4_seconds"] = run_q4(data_dir, args.device)
        ok3 = res["q4_seconds"]["total"] <= 300
        print(f"  all of Q4: {res['q4_seconds']['total']:.1f} s (target <= 300 s) {'ok' if ok3 else 'MISSED'}")
        ok = ok and ok3
    if args.json:
        write_json_atomic(args.json, res)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
