"""The only package that writes SQL: schema, migrations, upserts and full-text search.

One submodule per area (shows and episodes, audio, transcripts, tags...); each takes a
`sqlite_utils.Database` and typed records from `ingest.records`.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from ingest.store.migrations import migrate
from ingest.store.writes import now, transaction

# The package API: open the database, and write in one transaction (`store.transaction`).
__all__ = ["open_db", "now", "transaction"]

# Wait this long for another writer's lock before failing with "database is locked".
BUSY_TIMEOUT_MS = 30_000


def open_db(path: str | Path | None = None) -> sqlite_utils.Database:
    """Open the archive database at `path` (in memory when None) and bring its schema up to date."""
    db = sqlite_utils.Database(memory=True) if path is None else sqlite_utils.Database(path)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if path is not None:
        # WAL lets Datasette read while the job writes, and survives a killed writer.
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    migrate(db)
    return db
