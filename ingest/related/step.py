"""Keep the related-moments lists in step with the passage vectors: run by every site build.

Which lists must be remade: the episodes whose vectors changed (`related_stale`, kept by
triggers), the lists that quoted one of them (what that moment had displaced is not known, so
they are remade too), and the topics whose moments, tagged episodes or mentions changed (a
hash of them). Remade episodes are compared with the episodes before them and offered to
those episodes' lists (see `nearest`); unchanged topics are offered the remade episodes. With
nothing stale, no vector is read.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import numpy as np

from ingest.related import cache as vector_cache
from ingest.related import nearest, quotes
from ingest.related.nearest import FLOOR, Match, TopList, Vectors
from ingest.store import related as related_store

# A topic is represented by the passages of its strongest moments (not their mean: a topic
# is talked about in several ways, and a moment like any one of them is worth reviewing).
TOPIC_SOURCES = 32


@dataclass
class RelatedReport:
    episodes_remade: int = 0
    lists_updated: int = 0  # lists of unchanged episodes that a new passage entered
    topics_remade: int = 0
    sentences_embedded: int = 0
    vectors_read: int = 0  # from SQLite
    vectors_cached: int = 0  # from the copy beside the archive (ingest.related.cache)
    seconds: float = 0.0  # in all; of which:
    read_seconds: float = 0.0  # reading the vectors
    quote_seconds: float = 0.0  # embedding the quoted passages' sentences


def update_related(db) -> RelatedReport:
    """Bring every related-moments list and topic review list up to date."""
    started = time.perf_counter()
    report = RelatedReport()
    if not related_store.has_tables(db):
        return report
    from ingest import embed

    stale = related_store.stale_episodes(db)
    inputs = related_store.topic_inputs(db, TOPIC_SOURCES)
    stamps = {slug: _stamp(value) for slug, value in inputs.items()}
    known = related_store.topic_stamps(db)
    topics_changed = {slug for slug, stamp in stamps.items() if known.get(slug) != stamp}
    if not stale and not topics_changed and set(known) == set(stamps):
        return report  # nothing changed: no vector work

    vectors, report.vectors_read, copy_stale = vector_cache.read(db, embed.MODEL_ID, stale)
    report.vectors_cached = len(vectors.ids) - report.vectors_read
    report.read_seconds = time.perf_counter() - started
    present = set(vectors.names)
    lists = _episode_lists(db)
    remake = sorted(
        name for name in present if name in stale or (name in lists and lists[name].mentions(stale))
    )
    final = [name for name in vectors.names if name not in set(remake)]
    vectors = vectors.reordered(final, remake)
    for name in remake:
        lists[name] = TopList(changed=True)
    for name in set(lists) - present:  # no vectors now: nothing to show, nor to quote
        lists[name] = TopList(changed=True)
    report.episodes_remade = len(remake)
    report.lists_updated = _remake_episodes(vectors, lists, remake)

    topic_lists = _topic_lists(db)
    topics_changed |= {
        slug for slug, found in topic_lists.items() if slug in stamps and found.mentions(stale)
    }
    for slug in topics_changed:
        topic_lists[slug] = TopList(nearest.REVIEW_PER_TOPIC, 1, changed=True)
    _remake_topics(vectors, topic_lists, {s: inputs[s] for s in topics_changed})
    unchanged = {s: inputs[s] for s in stamps if s not in topics_changed}
    _offer_to_topics(vectors, topic_lists, unchanged, remake)
    report.topics_remade = len(topics_changed)

    changed = [m for found in lists.values() if found.changed for m in found.matches()]
    changed += [m for found in topic_lists.values() if found.changed for m in found.matches()]
    quoting = time.perf_counter()
    report.sentences_embedded = quotes.quote(db, vectors, changed)
    report.quote_seconds = time.perf_counter() - quoting
    related_store.save(
        db,
        {
            owner: [_episode_row(owner, m) for m in found.matches()]
            for owner, found in lists.items()
            if found.changed
        },
        {
            slug: [_topic_row(slug, m) for m in found.matches()]
            for slug, found in topic_lists.items()
            if found.changed and slug in stamps
        },
        stale,
        stamps,
    )
    if copy_stale:  # after the lists are saved: a copy is never newer than they are
        vector_cache.write(db, embed.MODEL_ID, vectors)
    report.seconds = time.perf_counter() - started
    return report


def _remake_episodes(vectors: Vectors, lists: dict[str, TopList], remake: list[str]) -> int:
    """Make each remade episode's list from the episodes before it, offering it to theirs;
    return how many lists of unchanged episodes took one of its moments."""
    thresholds = np.array(
        [lists[name].threshold() if name in lists else FLOOR for name in vectors.names],
        dtype=np.float32,
    )
    remade = set(remake)
    updated: set[str] = set()
    for group in nearest.groups(vectors, remake):
        found = nearest.best_before(vectors, group)
        for episode in group:
            best, which = found[episode]
            lo, _ = vectors.span(episode)
            tops = nearest.per_episode_best(vectors, best)
            own = lists[episode]
            for k in np.argsort(-tops, kind="stable")[: own.episodes]:
                if tops[k] < FLOOR:
                    break
                name, a, b = vectors.names[k], vectors.starts[k], vectors.ends[k]
                rows = nearest.top_rows(best, a, b, own.per_episode)
                own.offer(
                    name,
                    [
                        Match(
                            int(vectors.ids[lo + which[r]]),
                            int(vectors.ids[r]),
                            name,
                            float(best[r]),
                        )
                        for r in rows
                    ],
                )
            if len(tops):
                mine = vectors.rows(lo, vectors.span(episode)[1])
            for k in np.nonzero(tops >= thresholds[: len(tops)])[0]:
                # Its list lists this episode's passages by their best match among its own,
                # as it would had it been made after this one: the pair block, both ways.
                name, a, b = vectors.names[k], vectors.starts[k], vectors.ends[k]
                other = lists.setdefault(name, TopList())  # an empty list has no rows
                block = vectors.rows(a, b) @ mine.T
                scores, sources = block.max(axis=0), block.argmax(axis=0)
                order = np.argsort(-scores, kind="stable")[: other.per_episode]
                matches = [
                    Match(int(vectors.ids[a + sources[r]]), int(vectors.ids[lo + r]), episode,
                          float(scores[r]))
                    for r in order
                ]  # fmt: skip
                if other.offer(episode, matches) and name not in remade:
                    updated.add(name)
                thresholds[k] = other.threshold()
            thresholds[vectors.index[episode]] = own.threshold()
    return len(updated)


def _remake_topics(vectors: Vectors, topic_lists: dict[str, TopList], inputs: dict) -> None:
    """The review list of each topic in `inputs`, from every episode not tagged with it."""
    sources: dict[str, list[int]] = {
        slug: vectors.positions(value["sources"]) for slug, value in inputs.items()
    }
    sources = {slug: rows for slug, rows in sources.items() if rows}
    if not sources or not len(vectors.ids):
        return
    spans, stacked = {}, []
    for slug, rows in sources.items():
        spans[slug] = (len(stacked), len(stacked) + len(rows))
        stacked.extend(rows)
    queries = vectors.matrix[stacked].astype(np.float32)
    found = nearest.scan_all(vectors, queries, spans)
    for slug, (best, which) in found.items():
        best = best.copy()
        for episode in inputs[slug]["tagged"]:
            if episode in vectors.index:
                a, b = vectors.span(episode)
                best[a:b] = -np.inf
        best[vectors.positions(inputs[slug]["mentions"])] = -np.inf
        tops = nearest.per_episode_best(vectors, best)
        target = topic_lists[slug]
        for k in np.argsort(-tops, kind="stable")[: target.episodes]:
            if tops[k] < FLOOR:
                break
            a, b = vectors.starts[k], vectors.ends[k]
            (r,) = nearest.top_rows(best, a, b, 1)
            source = int(vectors.ids[stacked[spans[slug][0] + which[r]]])
            target.offer(
                vectors.names[k],
                [Match(source, int(vectors.ids[r]), vectors.names[k], float(best[r]))],
            )


def _offer_to_topics(
    vectors: Vectors, topic_lists: dict[str, TopList], inputs: dict, remade: list[str]
) -> None:
    """Offer the remade episodes' passages to the review lists of the unchanged topics."""
    for slug, value in inputs.items():
        rows = vectors.positions(value["sources"])
        if not rows or not remade:
            continue
        target = topic_lists.setdefault(slug, TopList(nearest.REVIEW_PER_TOPIC, 1))
        queries = vectors.matrix[rows].astype(np.float32)
        tagged, mentioned = set(value["tagged"]), set(value["mentions"])
        for episode in remade:
            if episode in tagged:
                continue
            lo, hi = vectors.span(episode)
            scores = vectors.rows(lo, hi) @ queries.T
            for k, pid in enumerate(vectors.ids[lo:hi]):
                if int(pid) in mentioned:
                    scores[k] = -np.inf
            r, q = np.unravel_index(int(scores.argmax()), scores.shape)
            match = Match(
                int(vectors.ids[rows[q]]), int(vectors.ids[lo + r]), episode, float(scores[r, q])
            )
            if match.score >= target.threshold() or len(target.by_episode) < target.episodes:
                target.offer(episode, [match])


def _stamp(value: dict) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _episode_lists(db) -> dict[str, TopList]:
    lists: dict[str, TopList] = {}
    for owner, rows in related_store.episode_lists(db).items():
        found = lists[owner] = TopList()
        for row in rows:
            found.by_episode.setdefault(row["other_episode_id"], []).append(
                Match(row["passage_id"], row["other_passage_id"], row["other_episode_id"],
                      row["score"], row["quote"], row["start"], row["end"])
            )  # fmt: skip
    return lists


def _topic_lists(db) -> dict[str, TopList]:
    lists: dict[str, TopList] = {}
    for slug, rows in related_store.topic_lists(db).items():
        found = lists[slug] = TopList(nearest.REVIEW_PER_TOPIC, 1)
        for row in rows:
            found.by_episode.setdefault(row["episode_id"], []).append(
                Match(row["source_passage_id"], row["passage_id"], row["episode_id"],
                      row["score"], row["quote"], row["start"], row["end"])
            )  # fmt: skip
    return lists


def _episode_row(owner: str, m: Match) -> tuple:
    return (owner, m.episode, m.source, m.target, m.score, m.quote, m.start, m.end)


def _topic_row(slug: str, m: Match) -> tuple:
    return (slug, m.episode, m.target, m.source, m.score, m.quote, m.start, m.end)
