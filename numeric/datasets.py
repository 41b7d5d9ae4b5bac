"""Where the data sets live, and fetching them with checksum verification.

Resolution order for the data folder: the ``--data-dir`` argument, the ``PS2_DATA`` environment
variable, ``../shared/data`` beside the repository (CI and tests), then a per-user cache
(``~/.cache/ps2/data``) into which missing files are downloaded on first use. Every file is
checked against its SHA-256 before use; downloads go to a temporary file and are renamed into
place only once verified, so an interrupted download never leaves a corrupt file.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from numeric.files import atomic_path

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ps2" / "data"


class DataError(RuntimeError):
    """A data file is missing, corrupt, or cannot be downloaded."""


@dataclass(frozen=True)
class RemoteFile:
    """A data file: its path under the data folder, SHA-256, and the URLs it may come from."""

    relpath: str
    sha256: str
    urls: tuple[str, ...]


def resolve_data_dir(arg: str | os.PathLike[str] | None = None) -> Path:
    """The data folder to use (see the module docstring for the order)."""
    if arg is not None:
        path = Path(arg).expanduser()
        if not path.is_dir():
            raise DataError(f"--data-dir {path} is not a directory")
        return path
    env = os.environ.get("PS2_DATA")
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise DataError(f"PS2_DATA={env} is not a directory")
        return path
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    return USER_CACHE


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(data_dir: Path, remote: RemoteFile) -> Path:
    """The local path of ``remote`` under ``data_dir``, downloading it first if it is missing.

    Raises `DataError` naming the file, the folder and the URLs tried when the file is missing
    and cannot be downloaded, or when its checksum does not match.
    """
    target = data_dir / remote.relpath
    if target.exists():
        if sha256_of(target) != remote.sha256:
            raise DataError(
                f"{target} does not match its SHA-256 {remote.sha256}: the file is corrupt or a "
                f"different version; delete it to download it again"
            )
        return target
    errors = []
    for url in remote.urls:
        try:
            return _download(url, target, remote.sha256)
        except (OSError, DataError) as exc:  # urllib.error.URLError is an OSError
            errors.append(f"  {url}: {exc}")
    raise DataError(
        f"{remote.relpath} is not in {data_dir} and could not be downloaded:\n"
        + "\n".join(errors)
        + f"\nPut the file at {target} (or point --data-dir / PS2_DATA at a folder holding "
        f"{remote.relpath})."
    )


def _download(url: str, target: Path, sha256: str) -> Path:
    with atomic_path(target) as tmp:
        h = hashlib.sha256()
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=30) as resp:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != sha256:
            raise DataError(f"checksum mismatch (got {h.hexdigest()})")
    return target
