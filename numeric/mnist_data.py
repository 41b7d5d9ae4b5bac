"""MNIST for Question 4: the four IDX gz files, decoded once, and the fixed splits.

Files come from the data folder (``../shared/data/mnist`` in CI and tests) or, for users, are
downloaded with SHA-256 verification from the mirrors torchvision uses (the original site now
answers 404 for most requests, so the S3 mirror is tried first)::

    data = load_mnist(data_dir)           # uint8 tensors, verified and cached per process
    splits = make_splits()                # index tensors: train 50,000 / val 10,000 / small 5,000
    x, y = as_float(data.train_x[splits.train]), data.train_y[splits.train]

Splits (fixed, documented in docs/schema/q4_mnist.md): the 60,000 training images are split the
way ``torch.utils.data.random_split(train, [50000, 10000], generator=Generator().manual_seed(42))``
splits them (the first 50,000 of ``randperm(60000)`` train, the rest validation); small_dataset is
the first 5,000 of ``randperm(50000)`` under a second generator seeded 42, as positions into the
50,000. The 10,000 test images are kept aside (loaded, never trained or selected on).
"""

from __future__ import annotations

import functools
import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from numeric.datasets import DataError, RemoteFile, fetch

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# The usual MNIST normalisation (mean and std of the training pixels in [0, 1]).
MEAN, STD = 0.1307, 0.3081
N_TRAIN, N_VAL, N_SMALL = 50_000, 10_000, 5_000
SPLIT_SEED = 42
_IDX_MAGIC = {3: 2051, 1: 2049}  # ndim -> magic number (0x0803 images, 0x0801 labels)


def remote_files(mirrors: tuple[str, ...] = MIRRORS) -> dict[str, RemoteFile]:
    """The four files as `RemoteFile`s under ``mnist/``, one URL per mirror."""
    if not mirrors or not all(isinstance(m, str) for m in mirrors):
        raise ValueError(f"mirrors must be a non-empty tuple of URL prefixes, got {mirrors!r}")
    return {
        name: RemoteFile(f"mnist/{name}", sha, tuple(m.rstrip("/") + "/" + name for m in mirrors))
        for name, sha in SHA256.items()
    }


@dataclass(frozen=True)
class MnistArrays:
    """The decoded data: images uint8 (N, 28, 28), labels int64 (N,)."""

    train_x: torch.Tensor  # (60000, 28, 28) uint8
    train_y: torch.Tensor  # (60000,) int64
    test_x: torch.Tensor  # (10000, 28, 28) uint8
    test_y: torch.Tensor  # (10000,) int64


def decode_idx(raw: bytes, ndim: int, name: str = "IDX file") -> torch.Tensor:
    """An IDX payload (already gunzipped) as a uint8 tensor of ``ndim`` dimensions."""
    if ndim not in _IDX_MAGIC:
        raise ValueError(f"ndim must be 1 (labels) or 3 (images), got {ndim!r}")
    header = 4 + 4 * ndim
    magic = int.from_bytes(raw[:4], "big")
    if magic != _IDX_MAGIC[ndim]:
        raise DataError(f"{name}: magic number {magic}, expected {_IDX_MAGIC[ndim]}")
    if len(raw) < header:
        raise DataError(f"{name}: {len(raw)} bytes is shorter than an IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = 1
    for s in shape:
        count *= s
    if len(raw) - header != count:
        raise DataError(f"{name}: header says {shape} ({count} bytes), payload has {len(raw) - header}")
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(shape)


def _read(data_dir: Path, remote: RemoteFile, ndim: int) -> torch.Tensor:
    path = fetch(data_dir, remote)
    with gzip.open(path, "rb") as f:
        return decode_idx(f.read(), ndim, name=str(path))


def load_mnist(data_dir: str | os.PathLike[str], mirrors: tuple[str, ...] = MIRRORS) -> MnistArrays:
    """The four files under ``data_dir/mnist``, checked (SHA-256, IDX header), decoded and cached in memory.

    Missing files are downloaded (``mirrors``); one that cannot be had raises `DataError` naming it.
    Every process reads and verifies the files itself (gunzip and decode take about a second).
    """
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a path, got {type(data_dir).__name__}")
    return _load_cached(Path(data_dir).resolve(), tuple(mirrors))


@functools.lru_cache(maxsize=4)
def _load_cached(data_dir: Path, mirrors: tuple[str, ...]) -> MnistArrays:
    files = remote_files(mirrors)
    arrays = MnistArrays(
        train_x=_read(data_dir, files["train-images-idx3-ubyte.gz"], 3),
        train_y=_read(data_dir, files["train-labels-idx1-ubyte.gz"], 1).long(),
        test_x=_read(data_dir, files["t10k-images-idx3-ubyte.gz"], 3),
        test_y=_read(data_dir, files["t10k-labels-idx1-ubyte.gz"], 1).long(),
    )
    for name, x, y in (("train", arrays.train_x, arrays.train_y), ("test", arrays.test_x, arrays.test_y)):
        if x.shape[0] != y.shape[0] or tuple(x.shape[1:]) != (28, 28):
            raise DataError(f"MNIST {name}: images {tuple(x.shape)} do not match labels {tuple(y.shape)}")
    return arrays


@dataclass(frozen=True)
class MnistSplits:
    """Index tensors (int64): ``train``/``val`` into the 60,000; ``small`` into ``train``'s 50,000."""

    train: torch.Tensor  # (50000,)
    val: torch.Tensor  # (10000,)
    small: torch.Tensor  # (5000,) positions in train


def make_splits(seed: int = SPLIT_SEED) -> MnistSplits:
    """The fixed split (see the module docstring); identical to ``random_split`` with ``seed``."""
    if not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    perm = torch.randperm(N_TRAIN + N_VAL, generator=torch.Generator().manual_seed(seed))
    small = torch.randperm(N_TRAIN, generator=torch.Generator().manual_seed(seed))[:N_SMALL]
    return MnistSplits(train=perm[:N_TRAIN], val=perm[N_TRAIN:], small=small)


def as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1] (what the augmentations take)."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 3:
        raise TypeError("images must be a uint8 tensor of shape (N, 28, 28)")
    return images.unsqueeze(1).float().div_(255.0)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] images (N, 1, 28, 28) -> the flat, normalised float32 (N, 784) the MLP is trained on."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2:
        raise TypeError("x must be a float tensor of images (N, ...)")
    return ((x.reshape(x.shape[0], -1) - MEAN) / STD).contiguous()


@dataclass(frozen=True)
class Q4Data:
    """What the Q4 experiments train on: [0, 1] images and labels for each split."""

    train_x: torch.Tensor  # (50000, 1, 28, 28) float32 in [0, 1]
    train_y: torch.Tensor
    val_x: torch.Tensor  # (10000, 1, 28, 28)
    val_y: torch.Tensor
    small_x: torch.Tensor  # (5000, 1, 28, 28)
    small_y: torch.Tensor


def q4_data(data_dir: str | os.PathLike[str], limit: int | None = None) -> Q4Data:
    """The splits as float images; ``limit`` keeps the first ``limit`` of train, val and small (tests).

    Cached per process: the tensors are shared, so callers must not modify them in place.
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    return _q4_data(Path(data_dir).resolve(), limit)


@functools.lru_cache(maxsize=2)
def _q4_data(data_dir: Path, limit: int | None) -> Q4Data:
    data, s = load_mnist(data_dir), make_splits()
    train, val, small = s.train, s.val, s.train[s.small]
    if limit is not None:
        train, val, small = train[:limit], val[:limit], small[:limit]
    return Q4Data(
        train_x=as_float(data.train_x[train]),
        train_y=data.train_y[train],
        val_x=as_float(data.train_x[val]),
        val_y=data.train_y[val],
        small_x=as_float(data.train_x[small]),
        small_y=data.train_y[small],
    )
