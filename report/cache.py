"""The build's stage cache: a question is not re-run while its code, settings and libraries are
unchanged.

A question's key hashes (1) the source of every project module its part functions transitively
import (``import`` statements parsed with `ast`, restricted to this repository's packages) and any
non-Python file inside those packages, (2) its
registry entry (id, title, parts, needs), (3) the `Context` fields that change results (quick,
device, seed) and the data folder's identity (path, size and mtime of every file), (4) the
versions of Python and the numerical libraries, and (5) for each question it ``needs``, that
question's key and the SHA-256 of the files it wrote (so q5b's key follows q5a's embeddings).

An entry, ``<out>/cache/<qid>.json``, holds the key, the section JSON (so derivation verification,
which `Section.to_json` runs, is cached too), the seconds it took and when it ran, and the files the stage wrote
under ``out`` with their SHA-256; an entry whose files are gone or changed is a miss. Entries are
written atomically.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from numeric.files import write_json_atomic

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("derivations", "numeric")  # the project packages whose source a stage key covers
LIBRARIES = ("numpy", "scipy", "sympy", "torch", "matplotlib", "gensim", "kornia")
CACHE_DIR = "cache"
SCHEMA = 1  # bump to invalidate every entry when the entry format changes
NOT_ARTIFACTS = (CACHE_DIR, "_latex", "results.json", "report.tex", "report.pdf", "report.html")


def library_versions() -> dict[str, str]:
    """Python's and each installed library's version (without importing the libraries)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _module_file(name: str, root: Path) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, name: str, root: Path, packages: tuple[str, ...]) -> set[str]:
    """Project modules imported by the module ``name`` at ``path`` (absolute and relative)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)  # "from pkg import submodule"
    return {m for m in found if m.split(".")[0] in packages and _module_file(m, root)}


class SourceIndex:
    """The project's source as stage keys see it, read once: each module's imports, the package
    data files and every file's SHA-256. Make one per build (the 15 keys share most files); a
    new one sees edits made since."""

    def __init__(self, root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> None:
        self.root, self.packages = Path(root), tuple(packages)
        self._imports: dict[str, set[str]] = {}
        self._data: list[Path] | None = None
        self._digests: dict[Path, str] = {}

    def imports(self, name: str, path: Path) -> set[str]:
        if name not in self._imports:
            self._imports[name] = _imports(path, name, self.root, self.packages)
        return self._imports[name]

    def closure(self, modules: Iterable[str]) -> list[Path]:
        """Every project source file the ``modules`` load, transitively, with their packages' __init__s."""
        todo, seen = list(modules), set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            parts = name.split(".")
            todo.extend(".".join(parts[:k]) for k in range(1, len(parts)))  # parent packages run first
            path = _module_file(name, self.root)
            if path is not None:
                todo.extend(self.imports(name, path))
        files = {_module_file(n, self.root) for n in seen}
        return sorted(f for f in files if f is not None)

    def package_data(self) -> list[Path]:
        """Non-Python files inside the project packages (tables, word lists a module may read):
        they are part of every key, as no import names them."""
        if self._data is None:
            found = []
            for pkg in self.packages:
                for dirpath, dirnames, names in os.walk(self.root / pkg):
                    dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
                    found += [Path(dirpath) / n for n in names
                              if not n.endswith((".py", ".pyc")) and not n.startswith(".")]
            self._data = sorted(found)
        return self._data

    def digest(self, path: Path) -> str:
        if path not in self._digests:
            self._digests[path] = _sha256(path)
        return self._digests[path]


def module_closure(modules: Iterable[str], root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    """Every project source file the ``modules`` load, transitively (see `SourceIndex.closure`)."""
    return SourceIndex(root, packages).closure(modules)


def package_data(root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    """Non-Python files inside the project packages (see `SourceIndex.package_data`)."""
    return SourceIndex(root, packages).package_data()


def data_identity(data_dir: Path | None) -> list[list[Any]]:
    """(relative path, size, mtime) of every file under ``data_dir``: a change means new data."""
    if data_dir is None or not Path(data_dir).is_dir():
        return []
    root = Path(data_dir)
    out = []
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            st = (Path(dirpath) / n).stat()
            out.append([str((Path(dirpath) / n).relative_to(root)), st.st_size, st.st_mtime_ns])
    return sorted(out)


def part_name(part: Callable[..., Any]) -> str:
    return f"{part.__module__}.{getattr(part, '__qualname__', repr(part))}"


def stage_key(question: Any, ctx: Any, versions: dict[str, str], data: list[list[Any]],
              needs: dict[str, Any], root: Path = REPO, packages: tuple[str, ...] = PACKAGES,
              sources: SourceIndex | None = None) -> str:
    """The cache key of ``question`` (a `registry.Question`) under ``ctx`` (see the docstring).

    ``needs``: per needed question, what it left for this one (`needed`: its key and the SHA-256
    of the files it wrote). ``sources``: the build's `SourceIndex` (default: a fresh one of
    ``root``/``packages``)."""
    sources = sources or SourceIndex(root, packages)
    files = sources.closure([p.__module__ for p in question.parts]) + sources.package_data()
    facts = {
        "schema": SCHEMA,
        "question": [question.id, question.title, [part_name(p) for p in question.parts], list(question.needs)],
        "context": {"quick": bool(ctx.quick), "device": str(ctx.device), "seed": ctx.seed,
                    "data_dir": str(Path(ctx.data_dir).resolve()) if ctx.data_dir else None},
        "data": data,
        "versions": versions,
        "needs": needs,
        "sources": {str(f.relative_to(sources.root)): sources.digest(f) for f in files},
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def needed(entry: dict[str, Any]) -> dict[str, Any]:
    """What a question that ``needs`` this one depends on: its key and the files it wrote
    (``entry`` as `StageCache.store`/`load` return it), so new output means a new key."""
    return {"key": entry["key"], "artifacts": dict(entry.get("artifacts", {}))}


def now() -> str:
    """The local time, ISO 8601 to the second with its UTC offset (when a stage ran)."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(out: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under ``out`` a stage may have written (its artifacts)."""
    out = Path(out)
    found: dict[str, tuple[int, int]] = {}
    if not out.is_dir():
        return found
    for dirpath, dirnames, names in os.walk(out):
        rel_dir = Path(dirpath).relative_to(out)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d not in NOT_ARTIFACTS]
        for n in names:
            rel = str(rel_dir / n) if rel_dir != Path(".") else n
            if rel in NOT_ARTIFACTS or n.endswith(".tmp") or n.startswith("."):
                continue
            st = (Path(dirpath) / n).stat()
            found[rel] = (st.st_size, st.st_mtime_ns)
    return found


class StageCache:
    """The entries under ``<out>/cache``."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.dir = self.out / CACHE_DIR

    def load(self, qid: str, key: str) -> dict[str, Any] | None:
        """The entry for ``qid`` if it was made under ``key`` and its files are intact, else None."""
        path = self.dir / f"{qid}.json"
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # no entry, or unreadable: a miss (entries are written atomically)
        if not isinstance(entry, dict) or entry.get("key") != key or "section" not in entry:
            return None
        for rel, digest in entry.get("artifacts", {}).items():
            f = self.out / rel
            if not f.is_file() or _sha256(f) != digest:
                return None
        return entry

    def store(self, qid: str, key: str, section: dict[str, Any], seconds: float,
              before: dict[str, tuple[int, int]]) -> dict[str, Any]:
        """Record ``section`` for ``qid``; artifacts = files new or changed since ``before``."""
        after = snapshot(self.out)
        changed = {rel for rel, st in after.items() if before.get(rel) != st}
        changed |= {f[ext] for f in section.get("figures", {}).values() for ext in ("pdf", "svg") if f.get(ext)}
        artifacts = {rel: _sha256(self.out / rel) for rel in sorted(changed) if (self.out / rel).is_file()}
        entry = {"key": key, "qid": qid, "seconds": seconds, "ran_at": now(), "artifacts": artifacts,
                 "section": section}
        write_json_atomic(self.dir / f"{qid}.json", entry)
        return entry
