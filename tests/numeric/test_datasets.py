"""Data location and checksummed download, on local files (file:// URLs: no network here)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from numeric.datasets import DataError, RemoteFile, fetch, resolve_data_dir


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, str]:
    src = tmp_path / "src" / "labels.gz"
    src.parent.mkdir()
    src.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 40)
    return src, hashlib.sha256(src.read_bytes()).hexdigest()


def test_fetch_downloads_verifies_and_reuses(tmp_path, source):
    src, sha = source
    remote = RemoteFile("mnist/labels.gz", sha, ("http://127.0.0.1:9/unreachable", src.as_uri()))
    dest = tmp_path / "data"
    path = fetch(dest, remote)  # the first mirror fails, the second serves the file
    assert path == dest / "mnist/labels.gz" and path.read_bytes() == src.read_bytes()
    src.unlink()
    assert fetch(dest, remote) == path  # present and verified: no download
    assert [p.name for p in path.parent.iterdir()] == ["labels.gz"]  # no temporary left


def test_checksum_mismatch_leaves_nothing_and_names_the_file(tmp_path, source):
    src, _ = source
    remote = RemoteFile("mnist/labels.gz", "0" * 64, (src.as_uri(),))
    with pytest.raises(DataError, match=r"(?s)mnist/labels.gz is not in .* checksum mismatch"):
        fetch(tmp_path / "data", remote)
    assert list((tmp_path / "data" / "mnist").iterdir()) == []


def test_corrupt_local_file_is_an_error_not_used(tmp_path, source):
    src, sha = source
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    (tmp_path / "data" / "mnist" / "labels.gz").write_bytes(b"truncated")
    with pytest.raises(DataError, match="does not match its SHA-256"):
        fetch(tmp_path / "data", RemoteFile("mnist/labels.gz", sha, (src.as_uri(),)))


def test_offline_error_says_where_to_put_the_file(tmp_path):
    remote = RemoteFile("shakespeare/x.txt", "0" * 64, ("http://127.0.0.1:9/x.txt",))
    with pytest.raises(DataError, match=r"Put the file at .*shakespeare/x.txt"):
        fetch(tmp_path, remote)


def test_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("PS2_DATA", str(tmp_path))
    assert resolve_data_dir() == tmp_path
    other = tmp_path / "other"
    other.mkdir()
    assert resolve_data_dir(other) == other  # --data-dir wins over PS2_DATA
    with pytest.raises(DataError, match="--data-dir .* is not a directory"):
        resolve_data_dir(tmp_path / "missing")
    monkeypatch.setenv("PS2_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="PS2_DATA=.* is not a directory"):
        resolve_data_dir()
