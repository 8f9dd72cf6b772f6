"""The tagging job: score transcribed episodes against the taxonomy, touching only what changed.

An episode is re-scored in full when its segments (or the scorer) changed since it was last
tagged; otherwise only the topics whose definition hash changed are re-scored. Every episode
is its own unit of work: one that fails is recorded and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlite_utils

from ingest.errors import PodarchiveError
from ingest.records import Segment
from ingest.store import tags as tag_store
from ingest.store.search import refresh_facets
from ingest.tags import DEFAULT_SCORER, get_scorer
from ingest.tags.keyphrases import extract_keyphrases
from ingest.tags.scorer import Scorer
from ingest.tags.topics import score_topics
from ingest.taxonomy import Taxonomy

# Part of every episode's input hash: bump it when what tagging stores changes (moments
# pointed at sentences, show notes read by sentence, evidence kept, passing mentions kept, a
# notes line's context read from the whole notes and a new notes threshold, a notes line's
# clear leading topic), so each episode is tagged again once.
TAGGING_VERSION = 6


class ScorerUnavailable(PodarchiveError, RuntimeError):
    """The chosen scorer could not be loaded (unknown name, extra not installed)."""


@dataclass
class TagRunResult:
    """What one tagging run did."""

    tagged: dict[str, int] = field(default_factory=dict)  # episode id -> topics re-scored
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # episode id -> error
    dropped_topics: list[str] = field(default_factory=list)


def input_hash(segments: Sequence[Segment], scorer_name: str, notes: str = "") -> str:
    """A hash of what an episode's scores depend on besides the topics: its text, its notes
    and the scorer."""
    rows = [[round(s.start, 2), round(s.end, 2), s.text] for s in segments]
    payload = json.dumps([TAGGING_VERSION, scorer_name, rows, notes])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def tag_archive(
    db: sqlite_utils.Database,
    taxonomy: Taxonomy,
    *,
    scorer_name: str = DEFAULT_SCORER,
    show_id: str | None = None,
    force: bool = False,
    progress: Callable[[str, str], None] | None = None,
) -> TagRunResult:
    """Tag the transcribed episodes (of one show, or all); returns what was done."""
    result = TagRunResult()
    hashes = {topic.slug: taxonomy.definition_hash(topic) for topic in taxonomy.topics}
    result.dropped_topics = tag_store.sync_topics(db, taxonomy, hashes)
    scorer: Scorer | None = None  # loaded on first use: a run with nothing to do loads no model
    for episode in tag_store.episodes_with_segments(db, show_id):
        episode_id = episode["id"]
        try:
            segments = tag_store.load_segments(db, episode_id)
            notes = tag_store.episode_notes(episode)
            new_input = input_hash(segments, scorer_name, notes)
            if force or episode["tags_input_hash"] != new_input:
                todo = list(taxonomy.topics)
            else:
                stored = tag_store.scored_hashes(db, episode_id)
                todo = [t for t in taxonomy.topics if stored.get(t.slug) != hashes[t.slug]]
            if not todo:
                result.unchanged += 1
                continue
            if scorer is None:
                # A scorer that cannot load is no episode's fault: let it stop the run.
                try:
                    scorer = get_scorer(scorer_name, taxonomy)
                except Exception as exc:
                    raise ScorerUnavailable(str(exc)) from exc
            results = score_topics(segments, todo, scorer, notes=notes, rivals=taxonomy.topics)
            keyphrases = None
            if len(todo) == len(taxonomy.topics):  # the text changed: suggestions may too
                keyphrases = extract_keyphrases(
                    " ".join(s.text for s in segments),
                    exclude=[t.name for t in taxonomy.topics],
                    exclude_words=[*taxonomy.common_terms, *{s.speaker or "" for s in segments}],
                )
            tag_store.save_tagging(
                db, episode_id, results, hashes, scorer_name, new_input, keyphrases
            )
            result.tagged[episode_id] = len(todo)
            if progress:
                found = sum(r.tagged for r in results)
                progress(episode_id, f"{len(todo)} topics scored, {found} found")
        except ScorerUnavailable:
            raise
        except Exception as exc:  # one bad episode never stops the run
            message = f"episode {episode_id} ({episode['title']!r}): {type(exc).__name__}: {exc}"
            tag_store.record_tag_error(db, episode_id, message)
            result.failed[episode_id] = message
            if progress:
                progress(episode_id, f"failed: {message}")
    # The search index's filters by topic (passages' facets) follow the tags just saved.
    refresh_facets(db)
    return result
