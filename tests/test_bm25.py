"""bm25 ranked outside FTS5 for a query's few matches (ingest.search.bm25): on real
conversation (The Changelog's transcripts, ../shared/corpora/changelog), it must give what
FTS5 gives, passage for passage and score for score, and step aside when it cannot."""

from __future__ import annotations

import random
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.tag_eval import changelog_lines, segments_from_lines
from ingest.archive import Archive
from ingest.records import Episode, Show, Transcript
from ingest.search import bm25, lexical
from ingest.search.lexical import Filters, search_words
from ingest.store import search as store_search
from ingest.store import shows as show_store
from ingest.store import term_counts
from ingest.store import transcripts as transcript_store
from tests.site_archive import writable_copy

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "changelog"
SHOWS = {"founderstalk": 6, "brainscience": 6}  # folder: episodes taken
_PLAIN = re.compile(r"[A-Za-z0-9]+")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """An archive of two real shows' transcripts, a week between episodes."""
    root = tmp_path_factory.mktemp("bm25") / "archive"
    db = Archive.at(root).open_db()
    day = datetime(2021, 1, 4, tzinfo=UTC)
    for folder, taken in SHOWS.items():
        paths = sorted((CORPUS / folder).glob("*.md"))[:taken]
        assert len(paths) == taken, f"too few transcripts under {CORPUS / folder}"
        feed = f"https://feeds.example.com/{folder}.xml"
        show_id = show_store.add_show(db, feed, folder)["id"]
        show_store.save_show(db, show_id, Show(feed_url=feed, title=folder))
        episodes = []
        for path in paths:
            episodes.append(Episode(guid=path.stem, title=path.stem, published=day))
            day += timedelta(days=7)
        show_store.upsert_episodes(db, show_id, episodes)
        ids = {row["guid"]: row["id"] for row in show_store.list_episodes(db, show_id)}
        for path in paths:
            segments = segments_from_lines(changelog_lines(path))
            transcript = Transcript(segments=segments, language="en")
            transcript_store.save_transcript(db, ids[path.stem], transcript)
    store_search.refresh_passages(db)
    db.conn.close()
    return root


@pytest.fixture
def db(built, tmp_path):
    with writable_copy(built, tmp_path) as database:
        yield database


def _by_fts5(conn: sqlite3.Connection, query: str, limit: int = 50) -> list[tuple]:
    """(id, bm25, highlight, snippet) of the best passages, as FTS5 ranks them."""
    return conn.execute(
        "SELECT rowid, bm25(passages_fts, 1.0, 0.0) AS score,"
        f" {lexical.MARKS.format(table='passages_fts')}"
        " FROM passages_fts WHERE passages_fts MATCH ? ORDER BY score, rowid LIMIT ?",
        [query, limit],
    ).fetchall()


def _queries(conn: sqlite3.Connection, count: int, seed: int) -> list[str]:
    """Queries of 2-6 words taken from passages (so most match), some with a common word."""
    rng = random.Random(seed)
    texts = [row[0] for row in conn.execute("SELECT text FROM passages ORDER BY id")]
    queries = []
    while len(queries) < count:
        words = _PLAIN.findall(rng.choice(texts))
        if len(words) < 8:
            continue
        picked = rng.sample(words, rng.randint(2, 5))
        if rng.random() < 0.5:
            picked.insert(rng.randrange(len(picked) + 1), rng.choice(["the", "how", "do", "a"]))
        if rng.random() < 0.2:
            picked[0] = f'"{picked[0]}"'
        queries.append(" ".join(picked))
    return queries


def _rank_few(conn: sqlite3.Connection, query: str, at_most: int = 1_000):
    return bm25.rank_few(conn, query, "", 50, at_most, lexical.MARKS)


@pytest.fixture
def ranked_here(monkeypatch):
    """Rank here whenever the matches are few enough, whatever FTS5's counting would cost
    (in an archive this small, FTS5 counts faster than this module ranks)."""
    monkeypatch.setattr(bm25, "ROW_COST", 1e-9)


@pytest.mark.parametrize("stored", [True, False], ids=["stored-counts", "counted-now"])
def test_few_matches_rank_as_fts5_ranks_them(db, monkeypatch, ranked_here, stored):
    conn = db.conn
    # Stored: every term has its count stored; counted now: none has.
    monkeypatch.setattr(term_counts, "COUNTED_FROM", 1 if stored else 10**9)
    term_counts.refresh_term_counts(db, force=True)
    held = conn.execute("SELECT count(*) FROM passage_term_counts").fetchone()[0]
    assert (held > 1000) if stored else held == 0
    rows, _ = term_counts.index_totals(conn)
    assert rows == conn.execute("SELECT count(*) FROM passages").fetchone()[0] > 500

    ranked = left_out = checked_away = 0
    for query in _queries(conn, 150, seed=11):
        mine = _rank_few(conn, query)
        if mine is None:
            continue
        ranked += 1
        theirs = _by_fts5(conn, query)
        assert [m[0] for m in mine] == [t[0] for t in theirs], query
        assert [m[1] for m in mine] == [t[1] for t in theirs], query  # to the last bit
        assert [m[2:] for m in mine] == [t[2:] for t in theirs], query  # highlight, snippet
        common = [
            word
            for word in bm25.plain_words(query)
            if conn.execute(
                "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?", [f'"{word}"']
            ).fetchone()[0]
            > rows / 2
        ]
        if common:
            left_out += 1
            rest = " ".join(w for w in bm25.plain_words(query) if w not in common)
            if rest and len(_by_fts5(conn, rest, 10_000)) > len(_by_fts5(conn, query, 10_000)):
                checked_away += 1  # the walk found passages the check then dropped
    assert ranked >= 100
    assert left_out >= 20 and checked_away >= 5


def test_search_words_finds_the_same_with_and_without_it(db, monkeypatch, ranked_here):
    conn = db.conn
    show = conn.execute("SELECT id FROM shows ORDER BY id").fetchone()[0]
    filters = [None, Filters(show=show), Filters(date_from="2021-02-01", date_to="2021-03")]
    cases = [(q, f) for q in _queries(conn, 40, seed=5) for f in filters]
    cases += [("the", None), ("the people", None), ("how do you hire", filters[1])]
    quick = [search_words(conn, query, f) for query, f in cases]
    monkeypatch.setattr(bm25, "ROW_COST", float("inf"))  # every query ranked by FTS5
    for (query, f), found in zip(cases, quick, strict=True):
        assert search_words(conn, query, f) == found, (query, f)
    assert sum(bool(found) for found in quick) >= len(cases) // 2


def test_it_steps_aside_for_syntax_many_matches_and_cheap_counts(db, monkeypatch):
    conn = db.conn
    # Dozens of passages hold both words: FTS5 counts the few hundred holding each faster.
    assert len(_by_fts5(conn, "people know")) > 20
    assert _rank_few(conn, "people know") is None
    monkeypatch.setattr(bm25, "ROW_COST", 1e-9)
    assert _rank_few(conn, "people know") == _by_fts5(conn, "people know")
    for query in ['"open source"', "open OR source", "open NOT source", "sourc*", "(open)"]:
        assert _rank_few(conn, query) is None, query
    assert bm25.plain_words('"open" source') == ["open", "source"]
    many = conn.execute(
        "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH 'people'"
    ).fetchone()[0]
    assert many > 20
    assert _rank_few(conn, "people", at_most=many - 1) is None
    assert len(_rank_few(conn, "people", at_most=many)) == 50
    assert _rank_few(conn, "zyzzyvaqq people") == []


def test_term_counts_are_counted_again_as_the_archive_grows(db, monkeypatch):
    conn = db.conn
    monkeypatch.setattr(term_counts, "COUNTED_FROM", 1)
    assert term_counts.refresh_term_counts(db, force=True)
    assert not term_counts.refresh_term_counts(db)  # nothing written since
    rows, _ = term_counts.index_totals(conn)
    counted = term_counts.term_counts(conn, ["the"], rows)["the"]
    assert (
        counted
        == conn.execute(
            "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH 'the'"
        ).fetchone()[0]
    )
    # Passages written since the count: scaled by the growth until RECOUNT_SHARE of them.
    episode = conn.execute("SELECT episode_id FROM passages LIMIT 1").fetchone()[0]
    added = int(rows * term_counts.RECOUNT_SHARE) + 1
    db["passages"].insert_all(
        {
            "episode_id": episode,
            "start": 0,
            "end": 1,
            "first_segment_id": 0,
            "last_segment_id": 0,
            "text": "the same words again",
        }
        for _ in range(added)
    )
    now, _ = term_counts.index_totals(conn)
    assert now == rows + added
    assert term_counts.term_counts(conn, ["the"], now)["the"] == pytest.approx(counted * now / rows)
    assert term_counts.refresh_term_counts(db)
    assert term_counts.term_counts(conn, ["the"], now)["the"] == counted + added
