"""Atomic writes: a file or a folder appears under its final name whole, or not at all.

Everything is written to a temporary name in the same folder, then renamed over the final
name (rename(2) is atomic within a filesystem), so a killed run never leaves a half-written
file where a whole one is expected.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

FILE_MODE = 0o644  # mkstemp makes files private; what we write is read like any install
FOLDER_MODE = 0o755


@contextlib.contextmanager
def atomic_file(path: Path, *, durable: bool = False) -> Iterator[IO[bytes]]:
    """A binary handle on a temporary file that replaces `path` when the block ends cleanly.

    `durable` syncs the data to disk before the rename: for the archive's durable records,
    which must survive a power cut, not only a killed process.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, data: bytes | str, *, durable: bool = False) -> None:
    """Write `data` (text as UTF-8, newlines as given) to `path` atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_file(path, durable=durable) as handle:
        handle.write(payload)


@contextlib.contextmanager
def atomic_folder(path: Path, is_whole: Callable[[Path], bool] = Path.is_dir) -> Iterator[Path]:
    """A temporary folder beside `path`, renamed to `path` when the block ends cleanly.

    If another process made a whole `path` first (`is_whole`), theirs is kept and the block's
    work dropped. The block removes an existing `path` it wants replaced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        building.chmod(FOLDER_MODE)
        yield building
        try:
            os.rename(building, path)
        except OSError:
            if not is_whole(path):
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


def is_temp_name(name: str) -> bool:
    """Whether `name` is one of the temporary names the writers above use (`.NAME….tmp`)."""
    return name.startswith(".") and name.endswith(".tmp")


def remove_temp_files(folder: Path) -> list[Path]:
    """Delete the temporary files a killed writer left anywhere under `folder`; return them.

    Only for a caller that holds the archive lock: then no live writer owns such a file.
    """
    removed = []
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            if is_temp_name(name):
                path = Path(parent, name)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def remove_all_but(folder: Path, keep: set[str]) -> None:
    """Delete every entry of `folder` not named in `keep`: files and whole folders (what a
    killed build left, or what a smaller build no longer writes)."""
    for entry in folder.iterdir():
        if entry.name not in keep:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
