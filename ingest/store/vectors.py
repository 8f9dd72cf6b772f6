"""Passage embeddings in the database: one float16 BLOB per passage, for search by meaning.

Plain BLOBs read into one NumPy matrix, not a vector extension: this Python's sqlite3 (and so
Datasette's) cannot load extensions (`enable_load_extension` is compiled out), and a brute-force
matrix product over every passage is fast enough (bench/search.py: 180,000 passages, 3,000
episodes of 45 minutes). float16 halves the file against float32 and changes no ranking that
matters (cosines move by about 1e-3).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np
import sqlite_utils

from ingest.store.writes import transaction

STORED_DTYPE = np.dtype("<f2")


def passages_to_embed(
    db: sqlite_utils.Database, model: str, limit: int | None = None
) -> list[tuple[int, str, str]]:
    """(passage id, episode id, text) of passages with no vector from `model`, in id order."""
    sql = (
        "SELECT p.id, p.episode_id, p.text FROM passages p"
        " LEFT JOIN passage_vectors v ON v.passage_id = p.id AND v.model = ?"
        " WHERE v.passage_id IS NULL ORDER BY p.id"
    )
    params: list = [model]
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [tuple(row) for row in db.execute(sql, params).fetchall()]


def save_vectors(
    db: sqlite_utils.Database, model: str, rows: Iterable[tuple[int, str, np.ndarray]]
) -> int:
    """Store (passage id, episode id, vector) rows in one transaction; return the count.
    A passage deleted meanwhile (re-transcribed) is skipped, never given a stale vector."""
    values = [
        (passage_id, episode_id, model, np.asarray(vector, dtype=STORED_DTYPE).tobytes())
        for passage_id, episode_id, vector in rows
    ]
    with transaction(db):
        db.conn.executemany(
            "INSERT OR REPLACE INTO passage_vectors (passage_id, episode_id, model, vector)"
            " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM passages WHERE id = ?1)",
            values,
        )
        # Vectors of another model never compare with this one's: drop them.
        db.execute("DELETE FROM passage_vectors WHERE model != ?", [model])
    return len(values)


def has_table(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'passage_vectors'"
    ).fetchone()
    return row is not None


def coverage(conn: sqlite3.Connection, model: str) -> tuple[int, int]:
    """(passages with a vector from `model`, passages): whether search by meaning can run."""
    if not has_table(conn):
        return 0, conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    embedded = conn.execute(
        "SELECT count(*) FROM passage_vectors WHERE model = ?", [model]
    ).fetchone()[0]
    return embedded, conn.execute("SELECT count(*) FROM passages").fetchone()[0]


def load_matrix(conn: sqlite3.Connection, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(passage ids, float32 matrix with one unit row per passage) of every stored vector."""
    if not has_table(conn):
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    rows = conn.execute(
        "SELECT passage_id, vector FROM passage_vectors WHERE model = ? ORDER BY passage_id",
        [model],
    ).fetchall()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=STORED_DTYPE)
    return ids, matrix.reshape(len(rows), -1).astype(np.float32)
