"""Speakers in the database: each episode's voices, voice prints of named people, and names
corrected by hand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlite_utils

from ingest.store.writes import now, transaction


@dataclass
class StoredVoice:
    label: str
    seconds: float
    first_start: float
    named_by: str
    vector: np.ndarray


@dataclass
class VoicePrint:
    person_id: int
    name: str
    vector: np.ndarray
    seconds: float
    episodes: int


@dataclass
class Correction:
    label: str
    name: str
    vector: np.ndarray | None


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype="<f4").copy()


def episodes_to_label(db: sqlite_utils.Database, *, redo: bool = False) -> list[dict]:
    """Episodes we transcribed whose voices are not labelled yet, or were labelled before the
    transcript last changed (all of them with `redo`), oldest first, so voice prints learnt
    from earlier episodes help later ones."""
    pending = "" if redo else " AND (e.speakers_status IS NULL OR e.speakers_at < e.transcript_at)"
    return list(
        db.query(
            "SELECT e.*, s.author AS show_author, s.title AS show_title FROM episodes e"
            " JOIN shows s ON s.id = e.show_id WHERE e.transcript_status = 'done'"
            " AND e.transcript_source = 'asr' AND e.transcript_note IS NULL"
            + pending
            + " ORDER BY e.published, e.id"
        )
    )


def credited_people(db: sqlite_utils.Database, episode_id: str) -> list[tuple[str, str]]:
    """(name, role) of the show's and the episode's people, the show's first."""
    rows = db.query(
        """
        SELECT p.name, sp.role FROM episodes e JOIN show_people sp ON sp.show_id = e.show_id
            JOIN people p ON p.id = sp.person_id WHERE e.id = :id
        UNION ALL
        SELECT p.name, ep.role FROM episode_people ep JOIN people p ON p.id = ep.person_id
            WHERE ep.episode_id = :id
        """,
        {"id": episode_id},
    )
    return [(row["name"], row["role"]) for row in rows]


def voice_prints(db: sqlite_utils.Database) -> list[VoicePrint]:
    rows = db.query(
        "SELECT v.*, p.name FROM voice_prints v JOIN people p ON p.id = v.person_id ORDER BY p.name"
    )
    return [
        VoicePrint(r["person_id"], r["name"], from_blob(r["vector"]), r["seconds"], r["episodes"])
        for r in rows
    ]


def corrections(db: sqlite_utils.Database, episode_id: str) -> list[Correction]:
    rows = db.query(
        "SELECT label, name, vector FROM speaker_corrections WHERE episode_id = ? ORDER BY label",
        [episode_id],
    )
    return [Correction(r["label"], r["name"], from_blob(r["vector"])) for r in rows]


def episode_voices(db: sqlite_utils.Database, episode_id: str) -> list[StoredVoice]:
    rows = db.query(
        "SELECT * FROM episode_voices WHERE episode_id = ? ORDER BY first_start", [episode_id]
    )
    return [
        StoredVoice(
            r["label"], r["seconds"], r["first_start"], r["named_by"], from_blob(r["vector"])
        )
        for r in rows
    ]


def refresh_print(db: sqlite_utils.Database, name: str, *, min_seconds: float) -> None:
    """The person's voice print again from every episode voice given their name (a mean
    weighted by speech time), so labelling an episode twice counts it once (the caller's
    transaction)."""
    rows = db.execute(
        "SELECT vector, seconds FROM episode_voices WHERE label = ? AND named_by != 'unknown'"
        " AND seconds >= ?",
        [name, min_seconds],
    ).fetchall()
    if not rows:
        db.execute(
            "DELETE FROM voice_prints WHERE person_id = (SELECT id FROM people WHERE name = ?)",
            [name],
        )
        return
    total = sum(seconds for _, seconds in rows)
    mean = sum(from_blob(blob).astype(np.float64) * seconds for blob, seconds in rows) / total
    mean = mean / max(float(np.linalg.norm(mean)), 1e-9)
    db.execute("INSERT OR IGNORE INTO people (name) VALUES (?)", [name])
    person_id = db.execute("SELECT id FROM people WHERE name = ?", [name]).fetchone()[0]
    db.execute(
        "INSERT INTO voice_prints (person_id, vector, seconds, episodes, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (person_id) DO UPDATE SET vector = excluded.vector,"
        " seconds = excluded.seconds, episodes = excluded.episodes,"
        " updated_at = excluded.updated_at",
        [person_id, to_blob(mean), total, len(rows), now()],
    )


def save_voices(db: sqlite_utils.Database, episode_id: str, voices: list[StoredVoice]) -> None:
    """Replace the episode's voices and mark its speakers done (the caller's transaction)."""
    db.execute("DELETE FROM episode_voices WHERE episode_id = ?", [episode_id])
    for voice in voices:
        save_voice(db, episode_id, voice)
    db.execute(
        "UPDATE episodes SET speakers_status = 'done', speakers_at = ?, speakers_error = NULL"
        " WHERE id = ?",
        [now(), episode_id],
    )


def save_voice(db: sqlite_utils.Database, episode_id: str, v: StoredVoice) -> None:
    db.execute(
        "INSERT INTO episode_voices (episode_id, label, seconds, first_start, named_by, vector)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [episode_id, v.label, v.seconds, v.first_start, v.named_by, to_blob(v.vector)],
    )


def mark_failed(db: sqlite_utils.Database, episode_id: str, error: str) -> None:
    with transaction(db):
        db.execute(
            "UPDATE episodes SET speakers_status = 'failed', speakers_at = ?, speakers_error = ?"
            " WHERE id = ?",
            [now(), error, episode_id],
        )


def correct(
    db: sqlite_utils.Database, episode_id: str, label: str, name: str, vector: np.ndarray | None
) -> None:
    """Remember that the voice labelled `label` in the episode is `name` (the caller's
    transaction); a correction of a correction keeps the voice's first label as its key."""
    earlier = db.execute(
        "SELECT label FROM speaker_corrections WHERE episode_id = ? AND name = ?",
        [episode_id, label],
    ).fetchone()
    key = earlier[0] if earlier else label
    db.execute(
        "INSERT INTO speaker_corrections (episode_id, label, name, vector, corrected_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (episode_id, label) DO UPDATE SET"
        " name = excluded.name, vector = coalesce(excluded.vector, vector),"
        " corrected_at = excluded.corrected_at",
        [episode_id, key, name, None if vector is None else to_blob(vector), now()],
    )


def rename_speaker(db: sqlite_utils.Database, episode_id: str, old: str, new: str) -> int:
    """Rename a speaker in the episode's segments and voices (the caller's transaction)."""
    cursor = db.execute(
        "UPDATE segments SET speaker = ? WHERE episode_id = ? AND speaker = ?",
        [new, episode_id, old],
    )
    # Two voices found for one person (a new name already in the episode) become one.
    merged = db.execute(
        "SELECT seconds, first_start, vector FROM episode_voices WHERE episode_id = ?"
        " AND label IN (?, ?)",
        [episode_id, old, new],
    ).fetchall()
    if merged:
        seconds = sum(row[0] for row in merged)
        vector = sum(from_blob(row[2]).astype(np.float64) * row[0] for row in merged)
        vector = vector / max(float(np.linalg.norm(vector)), 1e-9)
        db.execute(
            "DELETE FROM episode_voices WHERE episode_id = ? AND label IN (?, ?)",
            [episode_id, old, new],
        )
        save_voice(
            db,
            episode_id,
            StoredVoice(new, seconds, min(row[1] for row in merged), "hand", vector),
        )
    return cursor.rowcount


def find_episode(db: sqlite_utils.Database, key: str) -> dict | None:
    """The episode whose id or page slug is `key`."""
    rows = list(db.query("SELECT * FROM episodes WHERE id = ? OR slug = ? LIMIT 1", [key, key]))
    return rows[0] if rows else None


def moments_by_speaker(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Topic moments by who speaks the line each starts on (with that line, so a quote never
    runs on into the next speaker): name -> moments, best first.

    A moment's line is the one being said at its start (the last to start by then, if it has
    not ended), else the next to start. Each is one seek on segments(episode_id, start): a
    search for the first line ending after the start walked every earlier line of the
    episode, 4 s of a 10,000-episode build."""
    rows = db.query(
        """
        SELECT m.episode_id, m.tag_slug, m.start, s.speaker, s.text FROM (
            SELECT tm.id, tm.episode_id, tm.tag_slug, tm.start, tm.score, coalesce(
                (SELECT CASE WHEN s.end > tm.start THEN s.id END FROM segments s
                 WHERE s.episode_id = tm.episode_id AND s.start <= tm.start
                 ORDER BY s.start DESC LIMIT 1),
                (SELECT s.id FROM segments s
                 WHERE s.episode_id = tm.episode_id AND s.start > tm.start
                 ORDER BY s.start LIMIT 1)) AS segment_id
            FROM topic_moments tm) m
        JOIN segments s ON s.id = m.segment_id
        WHERE s.speaker IS NOT NULL ORDER BY m.score DESC, m.id
        """
    )
    found: dict[str, list[dict]] = {}
    for row in rows:
        found.setdefault(row["speaker"], []).append(row)
    return found
