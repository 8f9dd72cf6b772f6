"""Search passages: ~45 s windows of an episode's segments, indexed with FTS5 for ranked search.

Ranking every short segment that holds a common word is slow (a million bm25 scores); a
passage groups whole segments, so there are about ten times fewer rows to rank and a match
still lands within a minute of audio. Triggers on `segments` (migration m040) mark an episode
stale whenever its segments change; `refresh_passages` rebuilds the stale ones.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

import sqlite_utils

from ingest import wordtimes
from ingest.store.writes import transaction
from ingest.wordtimes import MATCH_END, MATCH_MARK, first_match, match_time

# Target length of a passage: long enough to cut the rows to rank, short enough that the
# link to its start lands near the words that matched.
PASSAGE_SECONDS = 45.0
# A tail shorter than this joins the passage before it rather than standing alone.
MIN_TAIL_SECONDS = 15.0
# Where a match's word is said: ingest.wordtimes (imported without this module's sqlite-utils,
# which a search on the command line does without); re-exported for the store's callers.
__all__ = ["MATCH_END", "MATCH_MARK", "first_match", "match_time"]


def window_segments(segments: Iterable[dict], seconds: float = PASSAGE_SECONDS) -> list[dict]:
    """Group segment rows (id, start, end, text; in order) into passages of about `seconds`.

    Each passage keeps `offsets`: where each word starts in the passage text, with the time it
    is said (ingest.wordtimes), so a match found in the passage maps back to its word's time.
    """
    groups: list[list[dict]] = []
    current: list[dict] = []
    for segment in segments:
        if not (segment["text"] or "").strip():
            continue
        current.append(segment)
        if current[-1]["end"] - current[0]["start"] >= seconds:
            groups.append(current)
            current = []
    if current:
        if groups and current[-1]["end"] - current[0]["start"] < MIN_TAIL_SECONDS:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return [_passage(group) for group in groups]


def _passage(group: list[dict]) -> dict:
    parts, offsets, position = [], [], 0
    for segment in group:
        text = segment["text"].strip()
        starts = wordtimes.decode(segment.get("words"), text, segment["start"], segment["end"])
        for (offset, _), start in zip(wordtimes.tokens(text), starts, strict=True):
            offsets.append([position + offset, start])
        parts.append(text)
        position += len(text) + 1  # the joining space
    return {
        "start": group[0]["start"],
        "end": max(segment["end"] for segment in group),
        "first_segment_id": group[0]["id"],
        "last_segment_id": group[-1]["id"],
        "text": " ".join(parts),
        "offsets": json.dumps(offsets, separators=(",", ":")),
    }


def _rebuild_episode(db: sqlite_utils.Database, episode_id: str) -> int:
    segments = db.execute(
        "SELECT id, start, end, text, words FROM segments WHERE episode_id = ? ORDER BY idx",
        [episode_id],
    )
    columns = ("id", "start", "end", "text", "words")
    rows = window_segments(dict(zip(columns, row, strict=True)) for row in segments)
    db.execute("DELETE FROM passages WHERE episode_id = ?", [episode_id])
    db.conn.executemany(
        "INSERT INTO passages"
        " (episode_id, start, end, first_segment_id, last_segment_id, text, offsets)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                episode_id,
                r["start"],
                r["end"],
                r["first_segment_id"],
                r["last_segment_id"],
                r["text"],
                r["offsets"],
            )
            for r in rows
        ],
    )
    db.execute("DELETE FROM passages_stale WHERE episode_id = ?", [episode_id])
    return len(rows)


def rebuild_passages(db: sqlite_utils.Database, episode_id: str) -> int:
    """Rebuild one episode's passages from its segments, in one transaction; return the count."""
    with transaction(db):
        return _rebuild_episode(db, episode_id)


def stale_episodes(db: sqlite_utils.Database) -> list[str]:
    """Episode ids whose segments changed since their passages were last built."""
    return [row[0] for row in db.execute("SELECT episode_id FROM passages_stale ORDER BY 1")]


def refresh_passages(db: sqlite_utils.Database) -> list[str]:
    """Rebuild the passages of every stale episode (one transaction each); return their ids."""
    done = []
    for episode_id in stale_episodes(db):
        rebuild_passages(db, episode_id)
        done.append(episode_id)
    return done


def prepare_for_serving(db: sqlite_utils.Database) -> bool:
    """Refresh stale passages and fold the WAL into the main file; False if readers kept it.

    An immutable reader (Datasette's -i) never looks at the WAL, so it sees only what a
    complete checkpoint has copied into the database file.
    """
    refresh_passages(db)
    # PASSIVE never waits on readers; log == checkpointed means every frame reached the file
    # (-1, -1 when the database is not in WAL mode).
    busy, log_frames, checkpointed = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return busy == 0 and log_frames == checkpointed


def episode_slug(conn: sqlite3.Connection, episode_id: str) -> str | None:
    """The page slug of an episode (a plain connection: Datasette's read threads have no
    sqlite_utils wrapper)."""
    row = conn.execute("SELECT slug FROM episodes WHERE id = ?", [episode_id]).fetchone()
    return row[0] if row else None


def optimize_indexes(db: sqlite_utils.Database) -> None:
    """Merge FTS5 index segments into one b-tree each: fewer pages to read per query."""
    for table in ("passages_fts", "segments_fts", "episodes_fts"):
        if db[table].exists():
            with transaction(db):
                db.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
