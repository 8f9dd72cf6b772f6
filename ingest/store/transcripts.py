"""Transcripts in the database: an episode's segments (+ FTS5) and its transcription status."""

from __future__ import annotations

import sqlite_utils

from ingest import wordtimes
from ingest.records import Segment, Transcript, TranscriptLink
from ingest.store.writes import now, transaction


def save_transcript(db: sqlite_utils.Database, episode_id: str, transcript: Transcript) -> int:
    """Replace the episode's segments and mark it transcribed, in one transaction."""
    rows = [
        {
            "episode_id": episode_id,
            "idx": idx,
            "start": segment.start,
            "end": segment.end,
            "speaker": segment.speaker,
            "text": segment.text,
            "avg_logprob": segment.avg_logprob,
            "no_speech_prob": segment.no_speech_prob,
            "words": _word_starts(segment),
        }
        for idx, segment in enumerate(s for s in transcript.segments if s.text.strip())
    ]
    with transaction(db):
        db.execute("DELETE FROM segments WHERE episode_id = ?", [episode_id])
        if rows:
            db["segments"].insert_all(rows)
        db.execute(
            """UPDATE episodes SET transcript_status = 'done', transcript_source = ?,
            transcript_engine = ?, transcript_model = ?, transcript_language = ?,
            transcript_at = ?, transcript_error = NULL, transcript_note = ? WHERE id = ?""",
            [
                transcript.source,
                transcript.engine,
                transcript.model,
                transcript.language,
                now(),
                transcript.no_speech,
                episode_id,
            ],
        )
    return len(rows)


def _word_starts(segment: Segment) -> str | None:
    """The stored start of each token of the segment's text, from its ASR words; None when it
    has none or they do not spell the text (its words are then timed by their characters)."""
    if not segment.words:
        return None
    words = [(w.start, w.word) for w in segment.words]
    return wordtimes.encode(wordtimes.from_words(segment.text, words))


def mark_failed(db: sqlite_utils.Database, episode_id: str, error: str) -> None:
    """Record why an episode could not be transcribed (its old segments, if any, stay)."""
    with transaction(db):
        db.execute(
            """UPDATE episodes SET transcript_status = CASE WHEN transcript_status = 'done'
            THEN 'done' ELSE 'failed' END, transcript_error = ?, transcript_at = ? WHERE id = ?""",
            [error, now(), episode_id],
        )


def clear_transcript(db: sqlite_utils.Database, episode_id: str) -> None:
    """Forget an episode's transcript in the database (its files are the record)."""
    with transaction(db):
        db.execute("DELETE FROM segments WHERE episode_id = ?", [episode_id])
        db.execute(
            """UPDATE episodes SET transcript_status = NULL, transcript_source = NULL,
            transcript_engine = NULL, transcript_model = NULL, transcript_language = NULL,
            transcript_at = NULL, transcript_error = NULL, transcript_note = NULL WHERE id = ?""",
            [episode_id],
        )


def episodes_to_transcribe(
    db: sqlite_utils.Database,
    show_id: str | None = None,
    *,
    force_asr: bool = False,
    limit: int | None = None,
    with_enclosures: bool = False,
) -> list[dict]:
    """Episodes with audio or a publisher transcript and no transcript yet, oldest first.

    A failed episode is tried again only once its audio has changed since the failure. With
    `force_asr`, episodes transcribed from the publisher's file are taken again if they have audio.
    `with_enclosures` counts an enclosure URL as audio (cluster workers fetch it themselves).
    """
    has_links = "EXISTS (SELECT 1 FROM episode_transcript_links l WHERE l.episode_id = e.id)"
    audio = (
        "(e.audio_path IS NOT NULL OR e.enclosure_url IS NOT NULL)"
        if with_enclosures
        else "e.audio_path IS NOT NULL"
    )
    source = f"({audio} OR {has_links})"
    pending = (
        "(e.transcript_status IS NULL OR (e.transcript_status = 'failed'"
        " AND e.audio_at IS NOT NULL AND e.audio_at > e.transcript_at))"
    )
    if force_asr:
        pending = f"({pending} OR (e.transcript_source = 'publisher' AND {audio}))"
    where = [source, pending]
    params: list = []
    if show_id:
        where.append("e.show_id = ?")
        params.append(show_id)
    sql = (
        "SELECT e.*, s.language AS show_language, s.title AS show_title FROM episodes e "
        "JOIN shows s ON s.id = e.show_id WHERE "
        + " AND ".join(where)
        + " ORDER BY e.published, e.id"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return list(db.query(sql, params))


def transcript_links(db: sqlite_utils.Database, episode_id: str) -> list[TranscriptLink]:
    """The `podcast:transcript` links the feed gave for an episode."""
    return [
        TranscriptLink(url=row["url"], type=row["type"], language=row["language"], rel=row["rel"])
        for row in db.query(
            "SELECT * FROM episode_transcript_links WHERE episode_id = ? ORDER BY url",
            [episode_id],
        )
    ]


def vocabulary(db: sqlite_utils.Database, episode_id: str) -> list[str]:
    """Names Whisper should spell right: the show, its people and the episode's people."""
    rows = db.query(
        """
        SELECT s.title AS name FROM episodes e JOIN shows s ON s.id = e.show_id WHERE e.id = :id
        UNION ALL
        SELECT s.author FROM episodes e JOIN shows s ON s.id = e.show_id WHERE e.id = :id
        UNION ALL
        SELECT p.name FROM episodes e JOIN show_people sp ON sp.show_id = e.show_id
            JOIN people p ON p.id = sp.person_id WHERE e.id = :id
        UNION ALL
        SELECT p.name FROM episode_people ep JOIN people p ON p.id = ep.person_id
            WHERE ep.episode_id = :id
        """,
        {"id": episode_id},
    )
    names: list[str] = []
    for row in rows:
        name = " ".join((row["name"] or "").split())
        if name and name not in names:
            names.append(name)
    return names


def episodes_with_transcripts(db: sqlite_utils.Database) -> list[dict]:
    """Every episode the database believes is transcribed."""
    return list(db.query("SELECT id, show_id FROM episodes WHERE transcript_status = 'done'"))


def episode_ids(db: sqlite_utils.Database) -> dict[str, str]:
    """episode id -> show id, for every episode."""
    return {row["id"]: row["show_id"] for row in db.query("SELECT id, show_id FROM episodes")}


def segments_of(db: sqlite_utils.Database, episode_id: str) -> list[dict]:
    return list(
        db.query(
            "SELECT idx, start, end, speaker, text, avg_logprob, no_speech_prob FROM segments "
            "WHERE episode_id = ? ORDER BY idx",
            [episode_id],
        )
    )
