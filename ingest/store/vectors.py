"""Passage embeddings in the database: one float16 BLOB per passage, for search by meaning.

Plain BLOBs read into one NumPy matrix, not a vector extension: this Python's sqlite3 (and so
Datasette's) cannot load extensions (`enable_load_extension` is compiled out), and a brute-force
matrix product over every passage is fast enough (bench/search.py: 180,000 passages, 3,000
episodes of 45 minutes). float16 halves the file against float32 and changes no ranking that
matters (cosines move by about 1e-3).
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable

import numpy as np
import sqlite_utils

from ingest.store.writes import transaction

STORED_DTYPE = np.dtype("<f2")

log = logging.getLogger(__name__)


def passages_to_embed(
    db: sqlite_utils.Database, model: str, dimension: int, limit: int | None = None
) -> list[tuple[int, str, str]]:
    """(passage id, episode id, text) of passages with no whole vector from `model` (none, or
    a damaged one: not `dimension` values), in id order."""
    sql = (
        "SELECT p.id, p.episode_id, p.text FROM passages p"
        " LEFT JOIN passage_vectors v ON v.passage_id = p.id AND v.model = ?"
        " WHERE v.passage_id IS NULL OR length(v.vector) IS NOT ? ORDER BY p.id"
    )
    params: list = [model, dimension * STORED_DTYPE.itemsize]
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
    return len(values)


def drop_other_models(db: sqlite_utils.Database, model: str) -> None:
    """Delete vectors another model made: they never compare with this one's. Once per
    embedding run, not per batch: each delete reads the whole table."""
    with transaction(db):
        db.execute("DELETE FROM passage_vectors WHERE model != ?", [model])
        db.execute("DELETE FROM sentence_vectors WHERE model != ?", [model])


def has_table(conn: sqlite3.Connection, name: str = "passage_vectors") -> bool:
    """Whether the database has the table (a read-only archive may predate it)."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]
    ).fetchone()
    return row is not None


def coverage(conn: sqlite3.Connection, model: str) -> tuple[bool, bool]:
    """(whether any passage has a vector from `model`, whether there is any passage): whether
    search by meaning can run. Each is one index probe: counting rows read every vector."""
    has_passages = conn.execute("SELECT 1 FROM passages LIMIT 1").fetchone() is not None
    if not has_table(conn):
        return False, has_passages
    embedded = conn.execute(
        "SELECT 1 FROM passage_vectors WHERE model = ? LIMIT 1", [model]
    ).fetchone()
    return embedded is not None, has_passages


def stamp(conn: sqlite3.Connection) -> tuple:
    """What changes whenever a passage vector is added, replaced or removed (the counter that
    m170's triggers keep): a cached matrix with the same stamp is current. An archive read
    before m170 has no counter and gives the vectors' count and largest id."""
    if has_table(conn, "vector_changes"):
        return tuple(conn.execute("SELECT changes FROM vector_changes").fetchone())
    return tuple(conn.execute("SELECT count(*), max(passage_id) FROM passage_vectors").fetchone())


def load_matrix(conn: sqlite3.Connection, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(passage ids, float32 matrix with one unit row per passage) of every stored vector.
    A damaged vector (not the length of the others) is left out and named: search goes on
    without that passage by meaning, and the next `embed` replaces it."""
    if not has_table(conn):
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    rows = conn.execute(
        "SELECT passage_id, vector, episode_id FROM passage_vectors WHERE model = ?"
        " ORDER BY passage_id",
        [model],
    ).fetchall()
    rows = _whole(rows)
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=STORED_DTYPE)
    return ids, matrix.reshape(len(rows), -1).astype(np.float32)


def _whole(rows: list) -> list:
    """The (passage id, vector, episode id) rows whose vector has the length most of them
    have, each other one logged with its passage and episode."""
    lengths = Counter(len(row[1] or b"") for row in rows)
    width = max(lengths, key=lambda n: (lengths[n], n)) if lengths else 0
    if width == 0 or width % STORED_DTYPE.itemsize:
        width = 0  # nothing whole to compare with: every row is damaged
    whole = [row for row in rows if width and len(row[1]) == width]
    for passage_id, vector, episode_id in rows:
        if not width or len(vector or b"") != width:
            log.warning(
                "episode %s: passage %s has a damaged vector (%d bytes, not %d); left out of"
                " search by meaning until `podarchive embed` replaces it",
                episode_id,
                passage_id,
                len(vector or b""),
                width,
            )
    return whole


def passages_without_sentences(db: sqlite_utils.Database, model: str) -> list[tuple[int, str, str]]:
    """(passage id, episode id, text) of passages whose sentences have no vectors from `model`."""
    return [
        tuple(row)
        for row in db.execute(
            "SELECT p.id, p.episode_id, p.text FROM passages p"
            " LEFT JOIN sentence_vectors s ON s.passage_id = p.id AND s.model = ?"
            " WHERE s.passage_id IS NULL ORDER BY p.id",
            [model],
        ).fetchall()
    ]


def save_sentence_vectors(
    db: sqlite_utils.Database, model: str, rows: Iterable[tuple[int, np.ndarray]]
) -> int:
    """Store (passage id, one row per sentence) in one transaction, int8; return the count.
    As with passage vectors, a passage deleted meanwhile is skipped."""
    from ingest.embed import int8

    values = [(passage_id, model, len(matrix), int8.pack(matrix)) for passage_id, matrix in rows]
    with transaction(db):
        db.conn.executemany(
            "INSERT OR REPLACE INTO sentence_vectors (passage_id, model, count, vectors)"
            " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM passages WHERE id = ?1)",
            values,
        )
    return len(values)


def sentence_matrices(
    conn: sqlite3.Connection, model: str, counts: dict[int, int]
) -> dict[int, np.ndarray]:
    """The stored sentence vectors (float32, one row per sentence) of each passage in
    `counts` whose stored count is the one given: the sentences its text is cut into now.
    A passage with none stored, or cut otherwise when it was embedded, is left out."""
    from ingest.embed import int8

    ids = list(counts)
    if not ids or not has_table(conn, "sentence_vectors"):
        return {}
    rows = conn.execute(
        "SELECT passage_id, count, vectors FROM sentence_vectors WHERE model = ?"
        f" AND passage_id IN ({','.join('?' * len(ids))})",
        [model, *ids],
    ).fetchall()
    return {
        passage_id: int8.unpack(blob, count)
        for passage_id, count, blob in rows
        if count and count == counts[passage_id]
    }
