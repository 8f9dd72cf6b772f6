"""Read-only queries the static site is built from: every row a page needs, in a few passes."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

import sqlite_utils

# Columns of `episodes` a page shows; the step-status columns stay out so a retried download
# does not make every page look changed.
_EPISODE_COLUMNS = (
    "id, show_id, guid, slug, title, published, description_html, description_text, link, "
    "enclosure_url, enclosure_type, enclosure_length, duration, season, episode_number, "
    "episode_type, image_url, explicit, audio_path, transcript_source, transcript_language, "
    "transcript_note"
)


def shows(db: sqlite_utils.Database, show_id: str | None = None) -> list[dict]:
    """Shows by title, or the one show `show_id`."""
    where, params = ("WHERE id = ?", [show_id]) if show_id else ("", [])
    return list(db.query(f"SELECT * FROM shows {where} ORDER BY title, id", params))


def episodes(db: sqlite_utils.Database, show_id: str | None = None) -> list[dict]:
    """Episodes newest first (undated last); an archive keeps those the feed has dropped."""
    where, params = ("WHERE show_id = ?", [show_id]) if show_id else ("", [])
    return list(
        db.query(
            f"SELECT {_EPISODE_COLUMNS} FROM episodes {where} "
            "ORDER BY published IS NULL, published DESC, id",
            params,
        )
    )


def people_by_episode(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Episode id -> credited people (hosts first, then guests, then others, by name)."""
    rows = db.query(
        """
        SELECT ep.episode_id, p.id AS person_id, p.name, p.href, p.img, ep.role
        FROM episode_people ep JOIN people p ON p.id = ep.person_id
        ORDER BY ep.episode_id,
                 CASE ep.role WHEN 'host' THEN 0 WHEN 'guest' THEN 1 ELSE 2 END, p.name
        """
    )
    return _group(rows, "episode_id")


def people(db: sqlite_utils.Database) -> list[dict]:
    """Every person credited anywhere, oldest first (page slugs are given in this order)."""
    return list(db.query("SELECT id, name, href, img FROM people ORDER BY id"))


def people_by_show(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Show id -> people credited on the show (usually hosts)."""
    rows = db.query(
        """
        SELECT sp.show_id, p.id AS person_id, p.name, p.href, p.img, sp.role
        FROM show_people sp JOIN people p ON p.id = sp.person_id
        ORDER BY sp.show_id, p.name
        """
    )
    return _group(rows, "show_id")


def topics(db: sqlite_utils.Database) -> dict[str, dict]:
    """Topic tags (not suggested keyphrases) by slug."""
    rows = db.query("SELECT slug, name, description FROM tags WHERE kind = 'topic' ORDER BY name")
    return {row["slug"]: row for row in rows}


def topics_by_episode(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Episode id -> its topic tags, best score first; manual removals are honoured."""
    rows = db.query(
        """
        SELECT et.episode_id, t.slug, t.name, et.score, et.notes_quote
        FROM episode_tags et JOIN tags t ON t.slug = et.tag_slug
        WHERE t.kind = 'topic'
          AND NOT EXISTS (SELECT 1 FROM tag_overrides o WHERE o.episode_id = et.episode_id
                          AND o.tag_slug = et.tag_slug AND o.action = 'remove')
        ORDER BY et.episode_id, et.score DESC, t.name
        """
    )
    return _group(rows, "episode_id")


def moments_by_episode(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Episode id -> topic moments in playing order, each with the speaker of the segment it
    starts in (when the transcript names speakers)."""
    rows = db.query(
        """
        SELECT m.episode_id, m.tag_slug AS slug, t.name, m.start, m."end", m.score, m.quote,
               (SELECT s.speaker FROM segments s WHERE s.episode_id = m.episode_id
                AND s.start <= m.start + 0.25 ORDER BY s.start DESC LIMIT 1) AS speaker
        FROM topic_moments m JOIN tags t ON t.slug = m.tag_slug
        WHERE t.kind = 'topic'
        ORDER BY m.episode_id, m.start, t.name
        """
    )
    return _group(rows, "episode_id")


def mentions_by_topic(db: sqlite_utils.Database, per_topic: int) -> dict[str, list[dict]]:
    """Topic slug -> its `per_topic` strongest passing mentions (episodes not tagged with it)."""
    rows = db.query(
        """
        SELECT tag_slug AS slug, episode_id, start, quote, score FROM (
            SELECT m.*, row_number() OVER (
                PARTITION BY m.tag_slug ORDER BY m.score DESC, m.episode_id, m.start) AS rank
            FROM topic_mentions m
        ) WHERE rank <= ? ORDER BY slug, score DESC, episode_id, start
        """,
        [per_topic],
    )
    return _group(rows, "slug")


def chapters_by_episode(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Episode id -> chapters in playing order."""
    rows = db.query(
        'SELECT episode_id, start, "end", title, url FROM chapters ORDER BY episode_id, start'
    )
    return _group(rows, "episode_id")


def soundbites_by_episode(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Episode id -> soundbites in playing order."""
    rows = db.query(
        "SELECT episode_id, start, duration, title FROM soundbites ORDER BY episode_id, start"
    )
    return _group(rows, "episode_id")


def transcript_stamps(db: sqlite_utils.Database) -> dict[str, tuple]:
    """Episode id -> (saved at, segment count, lowest and highest segment id): a transcript stamp.

    Every write of segments (`store.transcripts.save_transcript`, `clear_transcript`) replaces
    them all and sets `episodes.transcript_at`, so the stamp changes with the transcript (but
    for a second save within the same second; see `sitegen.data`). The count and id range come
    from the (episode_id, idx) index alone: hashing the 40 MB of text of a 1,000-episode archive
    on every build cost more than all the rest of a no-change build.
    """
    rows = db.execute(
        """
        SELECT e.id, e.transcript_at, s.n, s.low, s.high
        FROM (SELECT episode_id, count(*) AS n, min(id) AS low, max(id) AS high
              FROM segments GROUP BY episode_id) s
        JOIN episodes e ON e.id = s.episode_id
        """
    )
    return {row[0]: row[1:] for row in rows}


def transcript_digest(db: sqlite_utils.Database, episode_id: str) -> str:
    """A digest of one episode's segments: times, speakers, texts and word times, in order."""
    count, starts, ends, texts, speakers, words = db.execute(
        """
        SELECT count(*), total(start), total("end"),
               group_concat(text, char(30)), group_concat(ifnull(speaker, ''), char(30)),
               group_concat(ifnull(words, ''), char(30))
        FROM (SELECT start, "end", speaker, text, words FROM segments
              WHERE episode_id = ? ORDER BY idx)
        """,
        [episode_id],
    ).fetchone()
    digest = hashlib.sha256(f"{count}|{starts!r}|{ends!r}|".encode())
    digest.update((texts or "").encode("utf-8", "surrogatepass"))
    digest.update(b"\x1f")
    digest.update((speakers or "").encode("utf-8", "surrogatepass"))
    digest.update(b"\x1f")
    digest.update((words or "").encode())
    return digest.hexdigest()[:24]


def last_segment_ends(db: sqlite_utils.Database, episode_ids: list[str]) -> dict[str, float]:
    """Episode id -> end of its last segment (a duration for episodes the feed gave none)."""
    result: dict[str, float] = {}
    for episode_id in episode_ids:
        row = db.execute(
            'SELECT max("end") FROM segments WHERE episode_id = ?', [episode_id]
        ).fetchone()
        if row and row[0]:
            result[episode_id] = float(row[0])
    return result


def segments_of(db: sqlite_utils.Database, episode_id: str) -> list[tuple]:
    """One episode's (start, end, speaker, text, words) segments in order (words: the stored
    token starts, see ingest.wordtimes)."""
    return db.execute(
        'SELECT start, "end", speaker, text, words FROM segments WHERE episode_id = ? ORDER BY idx',
        [episode_id],
    ).fetchall()


def _group(rows: Iterable[dict], key: str) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row.pop(key)].append(row)
    return grouped
