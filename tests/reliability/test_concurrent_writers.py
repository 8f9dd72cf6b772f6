"""Two connections writing one archive, as the downloader thread and the transcriber do in a run.

A transaction that reads before it writes must not fail with "database is locked" because
another connection committed in between (SQLite WAL's BUSY_SNAPSHOT): `store.transaction`
takes the write lock when it begins, so the other writer waits its turn instead.
"""

from __future__ import annotations

import sqlite3

import pytest

from ingest import store
from tests.reliability.conftest import integrity


def test_a_transaction_that_reads_first_survives_another_writer(tmp_path, observe):
    """A transaction reading, then writing, while another connection tries to commit: the
    transaction commits; the other writer waits (here: gives up after its short timeout)."""
    path = tmp_path / "archive.db"
    first = store.open_db(path)
    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    with store.transaction(first):
        first.execute("SELECT count(*) FROM episodes").fetchall()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("INSERT INTO _migrations (name, applied_at) VALUES ('x', 'now')")
        first.execute("INSERT INTO _migrations (name, applied_at) VALUES ('y', 'now')")
    names = {row[0] for row in other.execute("SELECT name FROM _migrations")}
    assert "y" in names and "x" not in names
    other.execute("INSERT INTO _migrations (name, applied_at) VALUES ('x', 'later')")
    assert integrity(path) == "ok"
    observe("the reading transaction committed; the other writer waited for it, then wrote")


def test_failed_transaction_writes_nothing(tmp_path):
    """An error inside a transaction rolls all of it back."""
    db = store.open_db(tmp_path / "archive.db")
    with pytest.raises(RuntimeError), store.transaction(db):
        db.execute("INSERT INTO _migrations (name, applied_at) VALUES ('z', 'now')")
        raise RuntimeError("stop")
    assert db.execute("SELECT count(*) FROM _migrations WHERE name = 'z'").fetchone()[0] == 0
    with store.transaction(db), store.transaction(db):  # nested: a savepoint
        db.execute("INSERT INTO _migrations (name, applied_at) VALUES ('n', 'now')")
    assert db.execute("SELECT count(*) FROM _migrations WHERE name = 'n'").fetchone()[0] == 1
