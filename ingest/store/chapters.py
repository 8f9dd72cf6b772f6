"""Chapters and soundbites: what the chapters step reads and the one place it writes."""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlite_utils

from ingest.records import Chapter, FeedChapter, Soundbite
from ingest.store.writes import now, transaction


def episodes_to_chapter(db: sqlite_utils.Database, show_id: str | None = None) -> list[dict]:
    """Episodes with a transcript in `segments`, oldest first, with what chapters need."""
    where, params = ("AND e.show_id = ?", [show_id]) if show_id else ("", [])
    return list(
        db.query(
            "SELECT e.id, e.show_id, e.title, e.duration, e.chapters_url, e.feed_chapters, "
            "e.chapters_input_hash, e.audio_path, e.audio_sha256, "
            '(SELECT max(s."end") FROM segments s WHERE s.episode_id = e.id) AS spoken_end '
            "FROM episodes e "
            f"WHERE EXISTS (SELECT 1 FROM segments s WHERE s.episode_id = e.id) {where} "
            "ORDER BY e.published, e.id",
            params,
        )
    )


def feed_chapters(row: dict) -> list[FeedChapter]:
    """The Podlove chapters stored with an episode row (untrusted: as the feed wrote them)."""
    try:
        items = json.loads(row.get("feed_chapters") or "[]")
    except json.JSONDecodeError:
        return []
    return [
        FeedChapter(
            str(i.get("start", "")), str(i.get("title") or ""), i.get("href"), i.get("image")
        )
        for i in items
        if isinstance(i, dict)
    ]


def topic_moments(db: sqlite_utils.Database, episode_id: str) -> list[dict]:
    """An episode's topic moments (taxonomy topics, not removed by hand) with topic names."""
    return list(
        db.query(
            """
            SELECT t.name, m.start, m."end", m.score, m.quote
            FROM topic_moments m JOIN tags t ON t.slug = m.tag_slug
            WHERE m.episode_id = ? AND t.kind = 'topic'
              AND NOT EXISTS (SELECT 1 FROM tag_overrides o WHERE o.episode_id = m.episode_id
                              AND o.tag_slug = m.tag_slug AND o.action = 'remove')
            ORDER BY m.start, t.name
            """,
            [episode_id],
        )
    )


def save_chapters(
    db: sqlite_utils.Database,
    episode_id: str,
    chapters: Sequence[Chapter],
    soundbites: Sequence[Soundbite],
    *,
    source: str,
    warning: str | None,
    input_hash: str,
) -> None:
    """Replace an episode's chapters and soundbites in one transaction."""
    with transaction(db):
        db.execute("DELETE FROM chapters WHERE episode_id = ?", [episode_id])
        db.execute("DELETE FROM soundbites WHERE episode_id = ?", [episode_id])
        db["chapters"].insert_all(
            {
                "episode_id": episode_id,
                "start": c.start,
                "end": c.end,
                "title": c.title,
                "url": c.url,
                "image_url": c.image_url,
            }
            for c in chapters
        )
        db["soundbites"].insert_all(
            {
                "episode_id": episode_id,
                "start": b.start,
                "duration": b.duration,
                "title": b.title,
                "score": b.score,
            }
            for b in soundbites
        )
        db["episodes"].update(
            episode_id,
            {
                "chapters_source": source,
                "chapters_warning": warning,
                "chapters_input_hash": input_hash,
                "chapters_at": now(),
            },
        )
