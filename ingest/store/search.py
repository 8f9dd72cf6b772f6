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
from ingest.store.term_counts import refresh_term_counts
from ingest.store.writes import transaction
from ingest.wordtimes import MATCH_END, MATCH_MARK, first_match, match_time

# Target length of a passage: long enough to cut the rows to rank, short enough that the
# link to its start lands near the words that matched.
PASSAGE_SECONDS = 45.0
# A tail shorter than this joins the passage before it rather than standing alone.
MIN_TAIL_SECONDS = 15.0
# The recent index (passages_recent_fts, migration m180) holds the newest this many passages,
# once the archive has twice as many; it is trimmed back when it has grown by RECENT_SLACK.
# Its size balances the two costs of a common word: bm25's count of the passages holding it
# over the recent index, and over the whole index for a word too rare to have RANKED_AT_MOST
# matches among the recent (in fewer than 5% of them).
RECENT_PASSAGES = 200_000
RECENT_SLACK = 50_000
# The floor of an empty recent index (migration m180 starts it there): no passage id reaches it.
EMPTY_FLOOR = 2**63 - 1
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
    facets = _facets(db, episode_id)
    db.conn.executemany(
        "INSERT INTO passages"
        " (episode_id, start, end, first_segment_id, last_segment_id, text, offsets, facets)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                episode_id,
                r["start"],
                r["end"],
                r["first_segment_id"],
                r["last_segment_id"],
                r["text"],
                r["offsets"],
                facets,
            )
            for r in rows
        ],
    )
    db.execute("DELETE FROM passages_stale WHERE episode_id = ?", [episode_id])
    db.execute("DELETE FROM passage_facets_stale WHERE episode_id = ?", [episode_id])
    return len(rows)


def _facets(db: sqlite_utils.Database, episode_id: str) -> str:
    row = db.execute(
        "SELECT facets FROM episode_facets WHERE episode_id = ?", [episode_id]
    ).fetchone()
    return row[0] if row else ""


def rebuild_passages(db: sqlite_utils.Database, episode_id: str) -> int:
    """Rebuild one episode's passages from its segments, in one transaction; return the count."""
    with transaction(db):
        return _rebuild_episode(db, episode_id)


def stale_episodes(db: sqlite_utils.Database) -> list[str]:
    """Episode ids whose segments changed since their passages were last built."""
    return [row[0] for row in db.execute("SELECT episode_id FROM passages_stale ORDER BY 1")]


def refresh_passages(db: sqlite_utils.Database) -> list[str]:
    """Rebuild the passages of every stale episode (one transaction each), bring the facets,
    the recent index and the term counts up to date; return the ids of the episodes rebuilt."""
    done = []
    for episode_id in stale_episodes(db):
        rebuild_passages(db, episode_id)
        done.append(episode_id)
    refresh_facets(db)
    trim_recent_index(db)
    refresh_term_counts(db)
    return done


def refresh_facets(db: sqlite_utils.Database) -> int:
    """Rewrite the facets of the passages of every episode whose tags, show or date changed
    (one transaction each; the FTS triggers re-index them); return how many episodes."""
    stale = [row[0] for row in db.execute("SELECT episode_id FROM passage_facets_stale")]
    for episode_id in stale:
        with transaction(db):
            facets = _facets(db, episode_id)
            db.execute(
                "UPDATE passages SET facets = ? WHERE episode_id = ? AND facets != ?",
                [facets, episode_id, facets],
            )
            db.execute("DELETE FROM passage_facets_stale WHERE episode_id = ?", [episode_id])
    return len(stale)


def trim_recent_index(db: sqlite_utils.Database) -> None:
    """Keep passages_recent_fts the newest RECENT_PASSAGES passages (between that and
    RECENT_PASSAGES + RECENT_SLACK), or empty while the archive has fewer than twice that."""
    floor = db.execute("SELECT floor FROM passages_recent").fetchone()[0]
    large = db.execute(
        "SELECT 1 FROM passages ORDER BY id DESC LIMIT 1 OFFSET ?", [2 * RECENT_PASSAGES]
    ).fetchone()
    wanted = None
    if large:
        wanted = db.execute(
            "SELECT id FROM passages ORDER BY id DESC LIMIT 1 OFFSET ?", [RECENT_PASSAGES - 1]
        ).fetchone()[0]
        held = db.execute("SELECT count(*) FROM passages WHERE id >= ?", [floor]).fetchone()[0]
        if floor <= wanted and held <= RECENT_PASSAGES + RECENT_SLACK:
            return  # within its slack
    elif not db.execute("SELECT 1 FROM passages WHERE id >= ? LIMIT 1", [floor]).fetchone():
        return  # a small archive's empty recent index
    with transaction(db):
        if wanted is None:
            db.execute(
                "INSERT INTO passages_recent_fts (passages_recent_fts) VALUES ('delete-all')"
            )
            db.execute("UPDATE passages_recent SET floor = ?", [EMPTY_FLOOR])
            return
        if floor < wanted:  # the oldest leave
            db.execute(
                "INSERT INTO passages_recent_fts (passages_recent_fts, rowid, text, facets)"
                " SELECT 'delete', id, text, facets FROM passages WHERE id >= ? AND id < ?",
                [floor, wanted],
            )
        else:  # newly large, or shrunk: the passages from `wanted` up to the floor join
            db.execute(
                "INSERT INTO passages_recent_fts (rowid, text, facets)"
                " SELECT id, text, facets FROM passages WHERE id >= ? AND id < ?",
                [wanted, floor],
            )
        db.execute("UPDATE passages_recent SET floor = ?", [wanted])


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
    for table in ("passages_fts", "passages_recent_fts", "segments_fts", "episodes_fts"):
        if db[table].exists():
            with transaction(db):
                db.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
