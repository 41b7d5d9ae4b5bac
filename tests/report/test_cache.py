"""The stage cache: keys follow the source a stage imports (and nothing else), the settings, the
data and what it needs; entries round-trip, and a changed key, artifact or a corrupt file is a miss."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from derivations.core import Context, Section
from report import cache


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A fake repository: pkg/a imports pkg.b (absolute) and .c (relative); pkg/d is unrelated."""
    root = tmp_path / "repo"
    _write(root / "pkg/__init__.py", "")
    _write(root / "pkg/a.py", "import os\nfrom pkg import b\nfrom . import c\n")
    _write(root / "pkg/b.py", "from pkg.sub.e import thing\n")
    _write(root / "pkg/c.py", "X = 1\n")
    _write(root / "pkg/d.py", "Y = 2\n")
    _write(root / "pkg/sub/__init__.py", "")
    _write(root / "pkg/sub/e.py", "thing = 3\n")
    return root


def test_closure_follows_absolute_relative_and_nested_imports(tree):
    files = cache.module_closure(["pkg.a"], root=tree, packages=("pkg",))
    assert [str(f.relative_to(tree)) for f in files] == [
        "pkg/__init__.py", "pkg/a.py", "pkg/b.py", "pkg/c.py", "pkg/sub/__init__.py", "pkg/sub/e.py"]


def test_project_closure_holds_the_core():
    files = {str(f.relative_to(cache.REPO)) for f in cache.module_closure(["derivations.q1_dropout", "numeric.q1a_dropout"])}
    assert {"derivations/__init__.py", "derivations/core.py", "derivations/q1_dropout.py", "numeric/q1a_dropout.py"} <= files


@dataclass(frozen=True)
class FakeQuestion:
    id: str
    title: str
    parts: tuple = ()
    needs: tuple = ()


def _part_in(module: str):
    def part(ctx):
        return Section()

    part.__module__ = module
    return part


def _key(tree, ctx, module="pkg.a", data=(), deps=None, versions=None):
    q = FakeQuestion("q1a", "1A", (_part_in(module),))
    return cache.stage_key(q, ctx, versions or {"torch": "2"}, list(data), deps or {}, root=tree, packages=("pkg",))


def test_key_changes_with_imported_source_and_not_with_unrelated_files(tree, tmp_path):
    ctx = Context(out_dir=tmp_path, data_dir=None, quick=True)
    k0 = _key(tree, ctx)
    _write(tree / "pkg/d.py", "Y = 3\n")
    assert _key(tree, ctx) == k0
    _write(tree / "pkg/sub/e.py", "thing = 4\n")  # imported two hops away
    assert _key(tree, ctx) != k0


def test_key_changes_with_a_data_file_inside_a_package(tree, tmp_path):
    ctx = Context(out_dir=tmp_path, data_dir=None, quick=True)
    k0 = _key(tree, ctx)
    _write(tree / "pkg/words.txt", "king queen")
    assert _key(tree, ctx) != k0


def test_key_changes_with_settings_versions_data_and_needs(tree, tmp_path):
    ctx = Context(out_dir=tmp_path, data_dir=None, quick=True)
    k0 = _key(tree, ctx)
    assert _key(tree, Context(out_dir=tmp_path, data_dir=None, quick=False)) != k0
    assert _key(tree, Context(out_dir=tmp_path, data_dir=None, quick=True, device="cuda")) != k0
    assert _key(tree, Context(out_dir=tmp_path, data_dir=None, quick=True, seed=1)) != k0
    assert _key(tree, ctx, versions={"torch": "3"}) != k0
    assert _key(tree, ctx, data=[["mnist/x.gz", 10, 1]]) != k0
    assert _key(tree, ctx, deps={"q5a": "abc"}) != k0
    assert _key(tree, Context(out_dir=tmp_path / "elsewhere", data_dir=None, quick=True)) == k0  # out dir is not a setting


def test_data_identity_sees_a_changed_file(tmp_path):
    _write(tmp_path / "d/mnist/a.gz", "x")
    before = cache.data_identity(tmp_path / "d")
    assert [row[0] for row in before] == [os.path.join("mnist", "a.gz")]
    _write(tmp_path / "d/mnist/a.gz", "xy")
    assert cache.data_identity(tmp_path / "d") != before
    assert cache.data_identity(tmp_path / "missing") == []


def test_entries_round_trip_and_record_the_stage_artifacts(tmp_path):
    store = cache.StageCache(tmp_path)
    before = cache.snapshot(tmp_path)
    _write(tmp_path / "figures/q1b_loss.svg", "<svg/>")
    _write(tmp_path / "q5a/embeddings.npy", "vectors")
    section = {"answer": {"b": 1, "a": 2}, "passed": True}
    store.store("q1b", "k1", section, 1.5, before)
    entry = store.load("q1b", "k1")
    assert entry["section"] == section and list(entry["section"]["answer"]) == ["b", "a"]
    assert set(entry["artifacts"]) == {"figures/q1b_loss.svg", "q5a/embeddings.npy"}
    assert store.load("q1b", "k2") is None
    assert not list((tmp_path / "cache").glob("*.tmp")) and not list((tmp_path / "cache").glob(".*"))


def test_a_changed_or_missing_artifact_is_a_miss(tmp_path):
    store = cache.StageCache(tmp_path)
    before = cache.snapshot(tmp_path)
    _write(tmp_path / "figures/a.svg", "<svg/>")
    store.store("q", "k", {"passed": True}, 0.1, before)
    _write(tmp_path / "figures/a.svg", "<svg>changed</svg>")
    assert store.load("q", "k") is None
    (tmp_path / "figures/a.svg").unlink()
    assert store.load("q", "k") is None


def test_a_corrupt_entry_is_a_miss_not_a_crash(tmp_path):
    store = cache.StageCache(tmp_path)
    _write(tmp_path / "cache/q.json", '{"key": "k", "sect')
    assert store.load("q", "k") is None
    _write(tmp_path / "cache/q.json", json.dumps([1]))
    assert store.load("q", "k") is None


def test_snapshot_ignores_the_report_and_the_cache(tmp_path):
    for rel in ("cache/q.json", "_latex/report.log", "report.pdf", "results.json", "figures/x.pdf"):
        _write(tmp_path / rel, "x")
    assert set(cache.snapshot(tmp_path)) == {"figures/x.pdf"}


def test_library_versions_name_python_and_torch():
    v = cache.library_versions()
    assert v["python"].count(".") == 2 and v["torch"] != "not installed"


def test_atomic_writes_leave_the_old_file_when_they_fail(tmp_path):
    from numeric.files import write_json_atomic

    target = tmp_path / "results.json"
    write_json_atomic(target, {"b": 1, "a": [1.5, "x"]})
    assert target.read_text().index('"b"') < target.read_text().index('"a"')  # order kept
    assert target.stat().st_mode & 0o044  # readable like any file open() makes, not mkstemp's 0600
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"b": 1, "a": [1.5, "x"]}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
