"""Shared fixtures: the data folder (../shared/data in CI) and a scratch build context."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from derivations.core import Context  # noqa: E402
from numeric.datasets import resolve_data_dir  # noqa: E402


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = resolve_data_dir()
    if not (path / "mnist").is_dir():
        pytest.skip(f"no data folder with mnist/ at {path}; set PS2_DATA")
    return path


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return Context(out_dir=tmp_path, data_dir=resolve_data_dir(), quick=True, device="cpu")
