"""Related moments and topic review lists (migration m160): what ingest.related reads and keeps.

Lists are stored whole per owner (an episode or a topic): saving one replaces all its rows, in
one transaction with the record that its inputs were seen, so a killed build leaves every list
either as it was or as it was recomputed, and the next build redoes what is still stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import sqlite_utils

from ingest.store.writes import transaction

EPISODE_COLUMNS = (
    "episode_id, other_episode_id, passage_id, other_passage_id, score, quote, start, end"
)
TOPIC_COLUMNS = "tag_slug, episode_id, passage_id, source_passage_id, score, quote, start, end"


def has_tables(db: sqlite_utils.Database) -> bool:
    return "related_moments" in db.table_names() and "passage_vectors" in db.table_names()


def stale_episodes(db: sqlite_utils.Database) -> set[str]:
    """Episodes whose passage vectors changed since their list was made."""
    return {row[0] for row in db.execute("SELECT episode_id FROM related_stale")}


def vector_rows(
    db: sqlite_utils.Database, model: str, episodes: Iterable[str] | None = None
) -> tuple[list[str], list[int], np.ndarray]:
    """(episode of each row, passage id of each row, float16 matrix): every stored vector (or
    those of `episodes`), grouped by episode (rows of one episode are contiguous), in passage
    order within it."""
    where, params = "model = ?", [model]
    if episodes is not None:
        where += " AND episode_id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(sorted(episodes)))
    rows = db.execute(
        f"SELECT episode_id, passage_id, vector FROM passage_vectors WHERE {where}"
        " ORDER BY episode_id, passage_id",
        params,
    ).fetchall()
    names = [row[0] for row in rows]
    ids = [row[1] for row in rows]
    if not rows:
        return names, ids, np.zeros((0, 0), dtype="<f2")
    matrix = np.frombuffer(b"".join(row[2] for row in rows), dtype="<f2")
    return names, ids, matrix.reshape(len(rows), -1)


def vector_counts(db: sqlite_utils.Database) -> dict[str, tuple[int, int]]:
    """Episode id -> (vectors stored, sum of their passage ids), every model: read from the
    episode index alone (not the million vectors), to tell which episodes a copy of them
    still holds as they are."""
    return {
        row[0]: (row[1], row[2])
        for row in db.execute(
            "SELECT episode_id, count(*), sum(passage_id) FROM passage_vectors"
            " INDEXED BY passage_vectors_episode GROUP BY episode_id"
        )
    }


def database_file(db: sqlite_utils.Database) -> str:
    """The file the database lives in ('' in memory)."""
    for _, name, file in db.execute("PRAGMA database_list"):
        if name == "main":
            return file or ""
    return ""


def passages(db: sqlite_utils.Database, ids: Iterable[int]) -> dict[int, tuple]:
    """Passage id -> (episode id, start, end, text, offsets JSON) of the ones asked for."""
    wanted = sorted(set(ids))
    found: dict[int, tuple] = {}
    for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
        chunk = wanted[start : start + 500]
        for row in db.execute(
            "SELECT id, episode_id, start, end, text, offsets FROM passages"
            f" WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            found[row[0]] = tuple(row[1:])
    return found


def episode_lists(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Episode id -> its stored related moments (every column), best first."""
    result: dict[str, list[dict]] = {}
    for row in db.query(f"SELECT {EPISODE_COLUMNS} FROM related_moments ORDER BY score DESC"):
        result.setdefault(row["episode_id"], []).append(row)
    return result


def topic_lists(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Tag slug -> its stored review moments (every column), best first."""
    result: dict[str, list[dict]] = {}
    for row in db.query(f"SELECT {TOPIC_COLUMNS} FROM topic_review_moments ORDER BY score DESC"):
        result.setdefault(row["tag_slug"], []).append(row)
    return result


def topic_stamps(db: sqlite_utils.Database) -> dict[str, str]:
    return dict(db.execute("SELECT tag_slug, stamp FROM topic_review_inputs").fetchall())


def topic_inputs(db: sqlite_utils.Database, per_topic: int) -> dict[str, dict]:
    """Tag slug -> {"sources": the passages its `per_topic` strongest moments start in,
    "tagged": the episodes tagged with it, "mentions": the passages its passing mentions start
    in}, for every topic with a moment."""
    result: dict[str, dict] = {}
    rows = db.execute(
        """
        SELECT tag_slug, episode_id, start FROM (
            SELECT m.tag_slug, m.episode_id, m.start, row_number() OVER (
                PARTITION BY m.tag_slug ORDER BY m.score DESC, m.episode_id, m.start) AS rank
            FROM topic_moments m JOIN tags t ON t.slug = m.tag_slug AND t.kind = 'topic'
        ) WHERE rank <= ? ORDER BY tag_slug, episode_id, start
        """,
        [per_topic],
    ).fetchall()
    for slug, episode_id, start in rows:
        topic = result.setdefault(slug, {"sources": [], "tagged": [], "mentions": []})
        passage = _passage_at(db, episode_id, start)
        if passage is not None and passage not in topic["sources"]:
            topic["sources"].append(passage)
    for slug, episode_id in db.execute(
        "SELECT tag_slug, episode_id FROM episode_tags ORDER BY tag_slug, episode_id"
    ):
        if slug in result:
            result[slug]["tagged"].append(episode_id)
    for slug, episode_id, start in db.execute(
        "SELECT tag_slug, episode_id, start FROM topic_mentions"
        " ORDER BY tag_slug, episode_id, start"
    ):
        passage = _passage_at(db, episode_id, start) if slug in result else None
        if passage is not None:
            result[slug]["mentions"].append(passage)
    return result


def _passage_at(db: sqlite_utils.Database, episode_id: str, start: float) -> int | None:
    """The passage of an episode that a moment starting at `start` seconds is in."""
    row = db.execute(
        "SELECT id FROM passages WHERE episode_id = ? AND start <= ? + 0.25"
        " ORDER BY start DESC LIMIT 1",
        [episode_id, start],
    ).fetchone()
    return row[0] if row else None


def save(
    db: sqlite_utils.Database,
    episodes: dict[str, list[tuple]],
    topics: dict[str, list[tuple]],
    seen: Iterable[str],
    stamps: dict[str, str],
) -> None:
    """Replace the lists given (rows in EPISODE_COLUMNS / TOPIC_COLUMNS order; an empty list
    clears one), drop the topics no longer in `stamps`, and mark the `seen` episodes as
    done, in one transaction."""
    with transaction(db):
        for episode_id, rows in episodes.items():
            db.execute("DELETE FROM related_moments WHERE episode_id = ?", [episode_id])
            db.conn.executemany(
                f"INSERT INTO related_moments ({EPISODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        for slug, rows in topics.items():
            db.execute("DELETE FROM topic_review_moments WHERE tag_slug = ?", [slug])
            db.conn.executemany(
                f"INSERT INTO topic_review_moments ({TOPIC_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        kept = json.dumps(list(stamps))
        for table in ("topic_review_moments", "topic_review_inputs"):
            db.execute(
                f"DELETE FROM {table} WHERE tag_slug NOT IN (SELECT value FROM json_each(?))",
                [kept],
            )
        db.conn.executemany(
            "INSERT OR REPLACE INTO topic_review_inputs (tag_slug, stamp) VALUES (?, ?)",
            list(stamps.items()),
        )
        db.conn.executemany("DELETE FROM related_stale WHERE episode_id = ?", [(e,) for e in seen])


def related_by_episode(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Episode id -> its related moments for the page: best first."""
    if "related_moments" not in db.table_names():
        return {}
    result: dict[str, list[dict]] = {}
    for row in db.query(
        "SELECT episode_id, other_episode_id, quote, start, end, score FROM related_moments"
        " ORDER BY episode_id, score DESC, other_episode_id, start"
    ):
        result.setdefault(row["episode_id"], []).append(row)
    return result


def review_by_topic(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Tag slug -> its review moments for the page: best first."""
    if "topic_review_moments" not in db.table_names():
        return {}
    result: dict[str, list[dict]] = {}
    for row in db.query(
        "SELECT tag_slug, episode_id, quote, start, end, score FROM topic_review_moments"
        " ORDER BY tag_slug, score DESC, episode_id, start"
    ):
        result.setdefault(row["tag_slug"], []).append(row)
    return result
