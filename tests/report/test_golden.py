"""The fixture renders exactly as the reviewed golden files (regenerate with
``python tests/report/regen_golden.py`` after an intended template change)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("regen_golden", HERE / "regen_golden.py")
regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)


@pytest.mark.parametrize("name", ["report.tex", "report.html"])
def test_fixture_renders_as_the_golden_file(name):
    recorded = json.loads(regen.VERSIONS.read_text())
    if name.endswith(".html") and recorded != regen.versions():
        pytest.skip(f"golden HTML made with {recorded}, installed {regen.versions()}: MathML may differ")
    golden = (regen.GOLDEN / name).read_text(encoding="utf-8")
    assert regen.renderings()[name] == golden, f"{name} changed: review, then run tests/report/regen_golden.py"
