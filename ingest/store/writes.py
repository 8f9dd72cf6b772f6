"""How every write happens: in one transaction, stamped with the archive's clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlite_utils


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A context manager for one transaction: all of its writes or none.

    `with db.conn:` is not enough: sqlite-utils 4 commits every `db.execute()` write (and every
    table method) on its own unless a transaction is already open. The outermost transaction
    is BEGIN IMMEDIATE: it takes the write lock up front, waiting out another writer through
    busy_timeout. A deferred BEGIN takes it at the first write, and when the connection has
    read in between (loading the schema) while another connection committed, SQLite fails at
    once with "database is locked" instead of waiting (sqlite.org/wal.html, BUSY_SNAPSHOT):
    the downloader thread and the transcriber both write during a run.
    """
    if db.conn.in_transaction:  # nested: a savepoint inside the open transaction
        atomic = getattr(db, "atomic", None)  # sqlite-utils < 4 has none; there db.conn works
        with atomic() if atomic is not None else db.conn:
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise


def now() -> str:
    """The current time as stored everywhere in the archive: ISO 8601 UTC, seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")
