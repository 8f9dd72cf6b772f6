"""Topic tags, topic moments, keyphrases and manual overrides.

What the scorer finds lives in `episode_tags` (source = scorer name or 'keyphrase'),
`topic_moments` (where a tagged topic is discussed), `topic_mentions` (where a topic the
episode is not tagged with comes up in passing) and `topic_scores`; what a person decides
lives in `tag_overrides`, which tagging never writes and always applies last.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import sqlite_utils

from ingest.errors import PodarchiveError
from ingest.records import Segment
from ingest.store.writes import now, transaction
from ingest.taxonomy import Taxonomy

MANUAL = "manual"
KEYPHRASE = "keyphrase"
MANUAL_SCORE = 1.0
OVERRIDE_ACTIONS = ("add", "remove")


def sync_topics(db: sqlite_utils.Database, taxonomy: Taxonomy, hashes: dict[str, str]) -> list[str]:
    """Make `tags` match the taxonomy's topics; drop (and return) topics it no longer has."""
    with transaction(db):
        for topic in taxonomy.topics:
            db["tags"].upsert(
                {
                    "slug": topic.slug,
                    "name": topic.name,
                    "description": topic.description,
                    "kind": "topic",
                    "definition_hash": hashes[topic.slug],
                    "phrases": json.dumps(topic.phrases),
                },
                pk="slug",
            )
        stored = [r[0] for r in db.execute("SELECT slug FROM tags WHERE kind = 'topic'")]
        dropped = [slug for slug in stored if slug not in hashes]
        for slug in dropped:
            _drop_topic(db, slug)
    return dropped


def _drop_topic(db: sqlite_utils.Database, slug: str) -> None:
    db.execute("DELETE FROM topic_moments WHERE tag_slug = ?", [slug])
    db.execute("DELETE FROM topic_mentions WHERE tag_slug = ?", [slug])
    db.execute("DELETE FROM topic_scores WHERE tag_slug = ?", [slug])
    db.execute("DELETE FROM episode_tags WHERE tag_slug = ? AND source != ?", [slug, MANUAL])
    # A person's "add" outlives the topic's removal from the taxonomy.
    db.execute(
        "INSERT OR IGNORE INTO episode_tags (episode_id, tag_slug, score, source) "
        "SELECT episode_id, tag_slug, ?, ? FROM tag_overrides "
        "WHERE tag_slug = ? AND action = 'add'",
        [MANUAL_SCORE, MANUAL, slug],
    )
    in_use = db.execute(
        "SELECT 1 FROM tag_overrides WHERE tag_slug = ? UNION ALL "
        "SELECT 1 FROM episode_tags WHERE tag_slug = ? LIMIT 1",
        [slug, slug],
    ).fetchone()
    if not in_use:  # a manual decision keeps its tag row; the person may bring the topic back
        db.execute("DELETE FROM tags WHERE slug = ?", [slug])


def episodes_with_segments(db: sqlite_utils.Database, show_id: str | None = None) -> list[dict]:
    """Episodes that have a transcript in `segments`, oldest first, optionally of one show."""
    where, params = ("AND e.show_id = ?", [show_id]) if show_id else ("", [])
    return list(
        db.query(
            "SELECT e.id, e.show_id, e.title, e.description_text, e.tags_input_hash "
            "FROM episodes e "
            f"WHERE EXISTS (SELECT 1 FROM segments s WHERE s.episode_id = e.id) {where} "
            "ORDER BY e.published, e.id",
            params,
        )
    )


def episode_notes(episode: dict) -> str:
    """What the publisher wrote about an episode (title and description), as tagging reads it."""
    return "\n\n".join(p for p in (episode["title"], episode.get("description_text")) if p)


def load_segments(db: sqlite_utils.Database, episode_id: str) -> list[Segment]:
    """An episode's stored segments in order."""
    rows = db.query(
        "SELECT start, end, text, speaker FROM segments WHERE episode_id = ? ORDER BY idx",
        [episode_id],
    )
    return [Segment(r["start"], r["end"], r["text"], r["speaker"]) for r in rows]


def scored_hashes(db: sqlite_utils.Database, episode_id: str) -> dict[str, str]:
    """{topic slug: definition hash it was last scored against} for one episode."""
    rows = db.execute(
        "SELECT tag_slug, definition_hash FROM topic_scores WHERE episode_id = ?", [episode_id]
    )
    return dict(rows.fetchall())


def save_tagging(
    db: sqlite_utils.Database,
    episode_id: str,
    results: Sequence,
    hashes: dict[str, str],
    scorer: str,
    input_hash: str,
    keyphrases: Sequence | None = None,
) -> None:
    """Replace the scored rows of the topics in `results` (others untouched), then the overrides.

    `results` are `ingest.tags.topics.TopicResult`; `keyphrases` (`Keyphrase`), when given,
    replace the episode's keyphrases. One transaction: a killed run leaves the old rows.
    """
    with transaction(db):
        for result in results:
            slug = result.tag_slug
            for table in ("topic_moments", "topic_mentions", "episode_tags"):
                db.execute(
                    f"DELETE FROM {table} WHERE episode_id = ? AND tag_slug = ?", [episode_id, slug]
                )
            db["topic_scores"].upsert(
                {
                    "episode_id": episode_id,
                    "tag_slug": slug,
                    "definition_hash": hashes[slug],
                    "scorer": scorer,
                    "score": result.score,
                },
                pk=("episode_id", "tag_slug"),
            )
            moments = [
                {
                    "episode_id": episode_id,
                    "tag_slug": slug,
                    "start": m.start,
                    "end": m.end,
                    "score": m.score,
                    "quote": m.quote,
                }
                for m in result.moments
            ]
            if not result.tagged:
                # Passing mentions: findable, but the episode is not about the topic.
                db["topic_mentions"].insert_all(moments)
                continue
            db["episode_tags"].insert(
                {
                    "episode_id": episode_id,
                    "tag_slug": slug,
                    "score": result.score,
                    "source": scorer,
                    "reason": result.reason,
                    "seconds": result.seconds,
                    "share": result.share,
                    "notes_score": result.notes_score,
                    "notes_quote": result.notes_quote,
                }
            )
            db["topic_moments"].insert_all(moments)
        if keyphrases is not None:
            _replace_keyphrases(db, episode_id, keyphrases)
        _apply_overrides(db, episode_id)
        db["episodes"].update(
            episode_id, {"tags_input_hash": input_hash, "tagged_at": now(), "tag_error": None}
        )


def _replace_keyphrases(db: sqlite_utils.Database, episode_id: str, keyphrases: Iterable) -> None:
    db.execute(
        "DELETE FROM episode_tags WHERE episode_id = ? AND source = ?", [episode_id, KEYPHRASE]
    )
    for phrase in keyphrases:
        existing = db.execute("SELECT kind FROM tags WHERE slug = ?", [phrase.slug]).fetchone()
        if existing is None:
            db["tags"].insert(
                {"slug": phrase.slug, "name": phrase.text, "description": "", "kind": KEYPHRASE}
            )
        elif existing[0] != KEYPHRASE:
            continue  # never shadow a taxonomy topic with a suggestion
        db["episode_tags"].insert(
            {
                "episode_id": episode_id,
                "tag_slug": phrase.slug,
                "score": phrase.score,
                "source": KEYPHRASE,
            },
            replace=True,
        )
    # Suggestions no episode carries any more.
    db.execute(
        "DELETE FROM tags WHERE kind = ? AND slug NOT IN (SELECT tag_slug FROM episode_tags)",
        [KEYPHRASE],
    )


def _apply_overrides(db: sqlite_utils.Database, episode_id: str) -> None:
    for slug, action in db.execute(
        "SELECT tag_slug, action FROM tag_overrides WHERE episode_id = ?", [episode_id]
    ).fetchall():
        if action == "remove":
            db.execute(
                "DELETE FROM episode_tags WHERE episode_id = ? AND tag_slug = ?", [episode_id, slug]
            )
            db.execute(
                "DELETE FROM topic_moments WHERE episode_id = ? AND tag_slug = ?",
                [episode_id, slug],
            )
        elif db.execute("SELECT 1 FROM tags WHERE slug = ?", [slug]).fetchone():
            db.execute(
                "INSERT OR IGNORE INTO episode_tags (episode_id, tag_slug, score, source) "
                "VALUES (?, ?, ?, ?)",
                [episode_id, slug, MANUAL_SCORE, MANUAL],
            )


class OverrideError(PodarchiveError, ValueError):
    """A manual topic override names an unknown action, episode or topic."""


def set_override(db: sqlite_utils.Database, episode_id: str, slug: str, action: str) -> None:
    """Record a person's add/remove of a topic on an episode and apply it now.

    'clear' forgets the override; the topic is re-scored on the next tagging run.
    OverrideError names the episode or topic that does not exist.
    """
    if action not in (*OVERRIDE_ACTIONS, "clear"):
        raise OverrideError(f"action must be add, remove or clear, not {action!r}")
    if not db.execute("SELECT 1 FROM episodes WHERE id = ?", [episode_id]).fetchone():
        raise OverrideError(f"no episode with id {episode_id!r}")
    if not db.execute("SELECT 1 FROM tags WHERE slug = ? AND kind = 'topic'", [slug]).fetchone():
        raise OverrideError(
            f"no topic {slug!r} in the archive (run `podarchive tag` to load the taxonomy)"
        )
    with transaction(db):
        if action == "clear":
            db.execute(
                "DELETE FROM tag_overrides WHERE episode_id = ? AND tag_slug = ?",
                [episode_id, slug],
            )
            db.execute(
                "DELETE FROM episode_tags WHERE episode_id = ? AND tag_slug = ? AND source = ?",
                [episode_id, slug, MANUAL],
            )
            db.execute(
                "DELETE FROM topic_scores WHERE episode_id = ? AND tag_slug = ?", [episode_id, slug]
            )
            return
        db["tag_overrides"].upsert(
            {"episode_id": episode_id, "tag_slug": slug, "action": action},
            pk=("episode_id", "tag_slug"),
        )
        _apply_overrides(db, episode_id)


def record_tag_error(db: sqlite_utils.Database, episode_id: str, message: str) -> None:
    with transaction(db):
        db["episodes"].update(episode_id, {"tag_error": message})


def episode_tags(db: sqlite_utils.Database, episode_id: str, kind: str = "topic") -> list[dict]:
    """An episode's tags of one kind ('topic' or 'keyphrase'), best first."""
    return list(
        db.query(
            "SELECT t.slug, t.name, et.score, et.source FROM episode_tags et "
            "JOIN tags t ON t.slug = et.tag_slug WHERE et.episode_id = ? AND t.kind = ? "
            "ORDER BY et.score DESC, t.slug",
            [episode_id, kind],
        )
    )


def topic_moments(db: sqlite_utils.Database, episode_id: str) -> list[dict]:
    """An episode's topic moments in time order."""
    return list(
        db.query(
            "SELECT tag_slug, start, end, score, quote FROM topic_moments WHERE episode_id = ? "
            "ORDER BY start, tag_slug",
            [episode_id],
        )
    )
