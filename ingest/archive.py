"""Where an archive keeps its files (one folder: database, audio, transcripts, site), and the lock
that lets one job at a time work on it.

The lock is an advisory lock file, safe for cron: flock(2) locks die with their process, so a
killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import PodarchiveError
from ingest.fileio import remove_temp_files

ARCHIVE_ENV = "PODARCHIVE_DIR"
DB_NAME = "archive.db"
LOCK_NAME = ".podarchive.lock"


@dataclass(frozen=True)
class Archive:
    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike | None = None) -> Archive:
        """The archive at `root`, else `$PODARCHIVE_DIR`, else the current folder."""
        chosen = root or os.environ.get(ARCHIVE_ENV) or "."
        return cls(Path(chosen).expanduser().resolve())

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def audio_dir(self) -> Path:
        return self.root / "audio"

    @property
    def transcripts_dir(self) -> Path:
        return self.root / "transcripts"

    @property
    def site_dir(self) -> Path:
        return self.root / "site"

    def ensure(self) -> None:
        """Create the archive folder (the subfolders appear as steps need them)."""
        make_archive_folder(self.root)

    def open_db(self):
        """Open (creating and migrating if needed) the archive database."""
        from ingest import store

        self.ensure()
        return store.open_db(self.db_path)


class ArchiveError(PodarchiveError, OSError):
    """The archive folder cannot be created or written."""


def make_archive_folder(root: Path) -> None:
    """Create `root` and its parents, or raise ArchiveError saying why not."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ArchiveError(
            f"cannot create the archive folder {root}: {error.strerror or error}"
        ) from error


class ArchiveBusy(PodarchiveError, RuntimeError):
    """Another run holds the archive's lock."""


def remove_leftovers(root: Path) -> None:
    """Delete the temporary files of a run that was killed mid-write (we hold the lock, so no
    live run owns them): published folders never keep a `.tmp` beside the file it was for."""
    for folder in ("audio", "transcripts", "site"):
        remove_temp_files(root / folder)


@contextmanager
def archive_lock(root: Path, wait_seconds: float = 0.0):
    """Hold the archive's lock for the block; raise ArchiveBusy if another run keeps it too long."""
    make_archive_folder(root)
    path = root / LOCK_NAME
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise ArchiveBusy(
                        f"another podarchive run (pid {holder}) is working on {root}"
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        remove_leftovers(root)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
