"""Search by words on the sample show: filters as index tokens, the cap on ranked matches,
the recent index of a large archive, and an archive made before either, migrated."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from ingest.archive import Archive
from ingest.search import lexical
from ingest.search.lexical import Filters, date_range, date_tokens, search_words
from ingest.store import migrations
from ingest.store import search as store_search
from tests.site_archive import build_sample_archive, writable_copy


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("lexical") / "archive"
    archive = Archive.at(root)
    build_sample_archive(archive)
    db = archive.open_db()
    store_search.refresh_passages(db)
    db.conn.close()
    return root


@pytest.fixture
def db(built, tmp_path):
    with writable_copy(built, tmp_path) as database:
        yield database


def _days(tokens: list[str]) -> set[date]:
    """The days a list of facet date tokens covers."""
    days = set()
    for token in tokens:
        digits = token[1:]
        year = int(digits[:4])
        if token[0] == "y":
            first, last = date(year, 1, 1), date(year, 12, 31)
        elif token[0] == "m":
            month = int(digits[4:6])
            first = date(year, month, 1)
            last = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
        else:
            first = last = date(year, int(digits[4:6]), int(digits[6:8]))
        while first <= last:
            days.add(first)
            first += timedelta(days=1)
    return days


def test_date_tokens_cover_exactly_the_days_of_a_range():
    rng = random.Random(7)
    for _ in range(300):
        first = date(2015, 1, 1) + timedelta(days=rng.randrange(3000))
        last = first + timedelta(days=rng.randrange(1200))
        tokens = date_tokens(first, last)
        wanted = {first + timedelta(days=n) for n in range((last - first).days + 1)}
        assert _days(tokens) == wanted
        assert len(tokens) == len(set(tokens)) <= 2 * 31 + 2 * 11 + (last.year - first.year)
    assert date_tokens(date(2021, 1, 1), date(2022, 12, 31)) == ["y2021", "y2022"]
    assert date_range("2021", "2021-02") == (date(2021, 1, 1), date(2021, 2, 28))
    assert date_range("2021-02-30", None) is None
    assert date_range("last week", None) is None
    assert date_range(None, None) == (
        date(lexical.FIRST_YEAR, 1, 1),
        date(lexical.LAST_YEAR, 12, 31),
    )


def _episodes(found) -> set[str]:
    return {m.episode_id for m in found}


def test_filters_pass_exactly_the_episodes_they_name(db):
    conn = db.conn
    everything = search_words(conn, "candidate*")
    assert len(_episodes(everything)) >= 3
    slug, name = conn.execute(
        "SELECT t.slug, t.name FROM tags t JOIN episode_tags et ON et.tag_slug = t.slug"
        " WHERE t.slug NOT LIKE 'kp-%' GROUP BY t.slug ORDER BY count(*) DESC, t.slug LIMIT 1"
    ).fetchone()
    tagged = {
        row[0]
        for row in conn.execute("SELECT episode_id FROM episode_tags WHERE tag_slug = ?", [slug])
    }
    assert 0 < len(tagged) < len(_episodes(everything))
    by_topic = search_words(conn, "candidate*", Filters(topic=slug))
    assert by_topic and _episodes(by_topic) <= tagged
    by_name = search_words(conn, "candidate*", Filters(topic=name.upper()))
    assert [m.passage_id for m in by_name] == [m.passage_id for m in by_topic]
    assert search_words(conn, "candidate*", Filters(topic="no-such-topic")) == []
    # OR binds looser than the filter's AND: the filter still holds for every alternative.
    either = search_words(conn, "candidate OR the", Filters(topic=slug))
    assert either and _episodes(either) <= tagged

    published = dict(conn.execute("SELECT id, substr(published, 1, 10) FROM episodes"))
    days = sorted(set(published.values()))
    middle = days[len(days) // 2]
    later = search_words(conn, "candidate*", Filters(date_from=middle))
    earlier = search_words(conn, "candidate*", Filters(date_to=middle))
    assert later and earlier
    assert all(published[m.episode_id] >= middle for m in later)
    assert all(published[m.episode_id] <= middle for m in earlier)
    assert len(_episodes(later) | _episodes(earlier)) == len(_episodes(everything))
    assert search_words(conn, "candidate*", Filters(date_from="someday")) == []

    show = conn.execute("SELECT id FROM shows").fetchone()[0]
    assert len(search_words(conn, "candidate*", Filters(show=show))) == len(everything)
    assert search_words(conn, "candidate*", Filters(show="no-such-show")) == []
    # A prefix the user types never reaches the facets column's tokens.
    assert search_words(conn, lexical.facet_token("s", show)[:5] + "*") == []
    assert search_words(conn, "y20*") == search_words(conn, "d20*") == []


def test_a_tag_saved_after_the_passages_reaches_the_topic_filter(db):
    conn = db.conn
    episode = conn.execute("SELECT episode_id FROM passages ORDER BY id LIMIT 1").fetchone()[0]
    db.execute("INSERT INTO tags (slug, name) VALUES ('grit-test', 'Grit test')")
    db.execute(
        "INSERT INTO episode_tags (episode_id, tag_slug, score, source) VALUES (?, ?, 1, 'manual')",
        [episode, "grit-test"],
    )
    db.conn.commit()
    assert store_search.refresh_facets(db) == 1
    found = search_words(conn, "the", Filters(topic="Grit test"))
    assert found and _episodes(found) == {episode}
    db.execute("DELETE FROM episode_tags WHERE tag_slug = 'grit-test'")
    db.conn.commit()
    store_search.refresh_facets(db)
    assert search_words(conn, "the", Filters(topic="grit-test")) == []


def test_a_common_word_ranks_only_its_newest_matches_filtered_or_not(db, monkeypatch):
    conn = db.conn
    published = {
        pid: day
        for pid, day in conn.execute(
            "SELECT p.id, substr(e.published, 1, 10) FROM passages p"
            " JOIN episodes e ON e.id = p.episode_id"
        )
    }
    sql = "SELECT rowid FROM passages_fts WHERE passages_fts MATCH 'text : the' ORDER BY rowid"
    matching = [row[0] for row in conn.execute(sql)]
    assert len(matching) >= 6
    monkeypatch.setattr(lexical, "RANKED_AT_MOST", 2)
    assert sorted(m.passage_id for m in search_words(conn, "the")) == matching[-2:]

    # A date range leaving out the newest match's episode, on either side of its day.
    newest_day = date.fromisoformat(published[matching[-1]])
    before = (newest_day - timedelta(days=1)).isoformat()
    after = (newest_day + timedelta(days=1)).isoformat()
    earlier = [pid for pid in matching if published[pid] <= before]
    later = [pid for pid in matching if published[pid] >= after]
    filters = Filters(date_to=before) if len(earlier) >= len(later) else Filters(date_from=after)
    passing = max(earlier, later, key=len)
    assert len(passing) > 2
    show = conn.execute("SELECT id FROM shows").fetchone()[0]
    filters = Filters(show=show, date_from=filters.date_from, date_to=filters.date_to)
    found = search_words(conn, "the", filters)
    assert sorted(m.passage_id for m in found) == passing[-2:]


def _recent_ids(conn) -> list[int]:
    """The passages the recent index holds, read from the index (every passage has its
    show's token), not from the content table."""
    shows = " OR ".join(
        lexical.facet_token("s", row[0]) for row in conn.execute("SELECT id FROM shows")
    )
    sql = "SELECT rowid FROM passages_recent_fts WHERE passages_recent_fts MATCH ? ORDER BY rowid"
    return [row[0] for row in conn.execute(sql, [f"facets : ({shows})"])]


def test_the_recent_index_holds_the_newest_passages_and_ranks_as_the_whole(db, monkeypatch):
    conn = db.conn
    ids = [row[0] for row in conn.execute("SELECT id FROM passages ORDER BY id")]
    assert len(ids) >= 2 * 3 + 1
    assert _recent_ids(conn) == []  # a small archive keeps it empty
    whole = search_words(conn, "candidate*")

    monkeypatch.setattr(store_search, "RECENT_PASSAGES", 3)
    monkeypatch.setattr(store_search, "RECENT_SLACK", 1)
    store_search.trim_recent_index(db)
    assert _recent_ids(conn) == ids[-3:]
    # With the cap at the recent index's size, a word in all of it ranks there, alike.
    monkeypatch.setattr(lexical, "RANKED_AT_MOST", 3)
    in_recent = [
        row[0]
        for row in conn.execute(
            "SELECT rowid FROM passages_recent_fts WHERE passages_recent_fts MATCH 'text : the'"
        )
    ]
    assert len(in_recent) == 3
    found = search_words(conn, "the")
    assert sorted(m.passage_id for m in found) == ids[-3:]

    # An episode transcribed again: its passages leave both indexes and come back newest.
    episode = conn.execute("SELECT episode_id FROM passages WHERE id = ?", [ids[0]]).fetchone()[0]
    db.execute("UPDATE segments SET text = text || ' again' WHERE episode_id = ?", [episode])
    db.conn.commit()
    store_search.refresh_passages(db)
    now = [row[0] for row in conn.execute("SELECT id FROM passages ORDER BY id")]
    recent = _recent_ids(conn)
    assert recent == now[-len(recent) :] and 3 <= len(recent) <= 4
    monkeypatch.setattr(lexical, "RANKED_AT_MOST", 20_000)
    again = search_words(conn, "candidate*")
    assert len(again) == len(whole) and _episodes(again) == _episodes(whole)

    # Smaller again than twice its size: emptied.
    monkeypatch.setattr(store_search, "RECENT_PASSAGES", len(now))
    store_search.trim_recent_index(db)
    assert _recent_ids(conn) == []


def test_an_archive_made_before_facets_is_migrated_and_searchable(tmp_path):
    path = tmp_path / "old.db"
    import sqlite_utils

    old = sqlite_utils.Database(path)
    before = [m for m in migrations.MIGRATIONS if m.__name__ < "m180"]
    for migration in before:
        migration(old)
        old.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        old.execute("INSERT INTO _migrations VALUES (?, '')", [migration.__name__])
    old.execute(
        "INSERT INTO shows (id, feed_url, added_at, updated_at) VALUES ('s', 'https://e/f', '', '')"
    )
    old.execute(
        "INSERT INTO episodes (id, show_id, guid, slug, published, first_seen, updated_at)"
        " VALUES ('e1', 's', 'g', 'one', '2024-05-06T10:00:00+00:00', '', '')"
    )
    old.execute("INSERT INTO tags (slug, name) VALUES ('sourcing', 'Sourcing')")
    old.execute(
        "INSERT INTO episode_tags (episode_id, tag_slug, score, source)"
        " VALUES ('e1', 'sourcing', 1, 'x')"
    )
    old.execute(
        "INSERT INTO passages (episode_id, start, end, first_segment_id, last_segment_id, text)"
        " VALUES ('e1', 0, 40, 1, 2, 'a reverse interview with the team')"
    )
    old.conn.commit()
    assert migrations.migrate(old) == ["m180_passage_facets_and_recent_index", "m190_term_counts"]
    conn = old.conn
    filters = Filters(topic="Sourcing", show="s", date_from="2024-05", date_to="2024-05-06")
    found = search_words(conn, '"reverse interview"', filters)
    assert [m.episode_id for m in found] == ["e1"]
    assert "<mark>reverse interview</mark>" in found[0].snippet
    assert search_words(conn, '"reverse interview"', Filters(date_from="2024-05-07")) == []
    conn.close()
