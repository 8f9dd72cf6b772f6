"""Where an archive keeps its files: one folder with the database, audio, transcripts and site."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ARCHIVE_ENV = "PODARCHIVE_DIR"
DB_NAME = "archive.db"


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


class ArchiveError(OSError):
    """The archive folder cannot be created or written."""


def make_archive_folder(root: Path) -> None:
    """Create `root` and its parents, or raise ArchiveError saying why not."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ArchiveError(
            f"cannot create the archive folder {root}: {error.strerror or error}"
        ) from error
