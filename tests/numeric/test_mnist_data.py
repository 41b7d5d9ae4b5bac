"""MNIST loading (real files), the offline error, the cache and the fixed splits."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from numeric import mnist_data as M
from numeric.datasets import DataError

UNREACHABLE = ("http://127.0.0.1:9/",)  # the discard port: nothing listens, the connection is refused
# Class counts of the 60,000 MNIST training labels (LeCun et al.; also what torchvision reports).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_loads_the_real_files(data_dir: Path) -> None:
    d = M.load_mnist(data_dir)
    assert d.train_x.shape == (60000, 28, 28) and d.train_x.dtype == torch.uint8
    assert d.test_x.shape == (10000, 28, 28) and d.test_y.shape == (10000,)
    assert torch.bincount(d.train_y).tolist() == TRAIN_COUNTS
    assert int(d.train_y[0]) == 5 and int(d.test_y[0]) == 7  # the well-known first labels
    assert int(d.train_x.max()) == 255 and int(d.train_x[:, 0, 0].max()) == 0  # corners are background
    assert M.load_mnist(data_dir) is d  # decoded once per process


def test_missing_file_offline_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz") as err:
        M.load_mnist(tmp_path, mirrors=UNREACHABLE)
    assert "127.0.0.1:9" in str(err.value)  # and the URL tried


def test_corrupt_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not mnist"))
    with pytest.raises(DataError, match="SHA-256"):
        M.load_mnist(tmp_path, mirrors=UNREACHABLE)


def test_decode_idx_checks_header_and_size() -> None:
    good = (2049).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes([1, 2, 3])
    assert M.decode_idx(good, 1).tolist() == [1, 2, 3]
    with pytest.raises(DataError, match="magic"):
        M.decode_idx(good, 3)
    with pytest.raises(DataError, match="payload"):
        M.decode_idx(good[:-1], 1)
    with pytest.raises(ValueError, match="ndim"):
        M.decode_idx(good, 2)


def test_splits_are_fixed_disjoint_and_random_split() -> None:
    s = M.make_splits()
    assert (len(s.train), len(s.val), len(s.small)) == (50_000, 10_000, 5_000)
    assert torch.equal(torch.sort(torch.cat([s.train, s.val])).values, torch.arange(60_000))
    assert len(torch.unique(s.small)) == 5_000 and int(s.small.max()) < 50_000
    ref = torch.utils.data.random_split(range(60_000), [50_000, 10_000], generator=torch.Generator().manual_seed(42))
    assert s.train.tolist() == list(ref[0].indices) and s.val.tolist() == list(ref[1].indices)
    assert torch.equal(M.make_splits().small, s.small)


def test_q4_data_and_normalisation(data_dir: Path) -> None:
    d = M.q4_data(data_dir, limit=2000)
    assert d.train_x.shape == (2000, 1, 28, 28) and d.small_y.shape == (2000,)
    assert 0.0 <= float(d.train_x.min()) and float(d.train_x.max()) <= 1.0
    flat = M.normalize(d.train_x)
    assert flat.shape == (2000, 784) and torch.allclose(flat[0], (d.train_x[0].reshape(-1) - M.MEAN) / M.STD)
    # MEAN and STD are the training pixels' mean and std (rounded to 4 digits: error <= 5e-5)
    counts = np.bincount(M.load_mnist(data_dir).train_x.numpy().ravel(), minlength=256)  # exact sums
    v = np.arange(256)
    n, s1, s2 = int(counts.sum()), int(counts @ v), int(counts @ (v * v))
    mean = s1 / n / 255
    std = ((s2 / n - (s1 / n) ** 2) ** 0.5) / 255
    assert abs(mean - M.MEAN) < 5e-5 and abs(std - M.STD) < 5e-5


def test_bad_arguments_raise() -> None:
    with pytest.raises(TypeError, match="data_dir"):
        M.load_mnist(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        M.q4_data(".", limit=0)
    with pytest.raises(TypeError, match="images"):
        M.as_float(torch.zeros(2, 28, 28))
    with pytest.raises(ValueError, match="mirrors"):
        M.remote_files(())
