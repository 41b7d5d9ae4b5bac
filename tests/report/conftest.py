"""Fixtures for the report tests: the hand-written results.json in a scratch out folder, with a
small real figure (PDF + SVG made by numeric.plotting) where the fixture says it lives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from derivations.core import Context
from numeric.plotting import new_figure, save_figure

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "results.json"
HOSTILE = "& % _ # $ { } ~ ^ \\"  # every character LaTeX treats specially, as the fixture holds it


@pytest.fixture
def hostile() -> str:
    return HOSTILE


@pytest.fixture
def results() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture
def fixture_out(tmp_path: Path) -> Path:
    """A folder holding the fixture's results.json and its one existing figure."""
    shutil.copy(FIXTURE, tmp_path / "results.json")
    fig, ax = new_figure()
    ax.plot([0.0, 0.25, 0.5, 0.75], [1.0, 0.6, 0.5, 0.7], marker="o", label="loss")
    ax.set_xlabel("dropout rate $p$")
    ax.set_ylabel("loss")
    ax.set_title("fixture figure")
    ax.legend()
    save_figure(fig, Context(out_dir=tmp_path, data_dir=tmp_path), "fixture", "loss", "unused")
    return tmp_path
