import contextlib
from datetime import UTC, datetime

from ingest import store
from ingest.records import Episode, Person, Show
from ingest.store import shows


def test_migrations_are_recorded_and_applied_once(tmp_path):
    db = store.open_db(tmp_path / "a.db")
    names = [r["name"] for r in db.query("SELECT name FROM _migrations ORDER BY name")]
    assert names[0] == "m001_shows_and_episodes"
    assert store.migrations.migrate(db) == []
    assert {"shows", "episodes", "segments", "segments_fts", "tags"} <= set(db.table_names())


def test_upsert_never_duplicates_and_records_changes():
    db = store.open_db()
    show = shows.add_show(db, "http://example.com/feed.xml", "Talk Talent To Me")
    assert show["id"] == "talk-talent-to-me"
    ep = Episode(guid="g1", title="First", enclosure_url="http://example.com/1.mp3")
    first = shows.upsert_episodes(db, show["id"], [ep])
    assert len(first.added) == 1

    again = shows.upsert_episodes(db, show["id"], [ep])
    assert again.added == [] and again.unchanged == 1

    renamed = Episode(guid="g1", title="First, renamed", published=datetime(2024, 1, 2, tzinfo=UTC))
    changed = shows.upsert_episodes(db, show["id"], [renamed])
    assert list(changed.changed.values())[0]["title"] == ["First", "First, renamed"]
    row = shows.get_episode(db, first.added[0])
    # Same id, new title, and the enclosure the thinner item left out is kept.
    assert row["title"] == "First, renamed"
    assert row["enclosure_url"] == "http://example.com/1.mp3"
    assert db["episodes"].count == 1


def test_people_are_shared_between_shows_and_episodes():
    db = store.open_db()
    show = shows.add_show(db, "http://example.com/feed.xml", "Show")
    shows.save_show(db, show["id"], Show(feed_url="x", title="Show", people=[Person("Rob")]))
    ep = Episode(guid="g", people=[Person("Viet Nguyen", role="guest"), Person("Rob")])
    shows.upsert_episodes(db, show["id"], [ep])
    assert db["people"].count == 2
    assert db["episode_people"].count == 2


def test_a_failing_migration_leaves_nothing_behind(monkeypatch):
    from ingest.store import migrations

    def m999_half_done(db):
        db.executescript("CREATE TABLE half (x); INSERT INTO half VALUES (1);")
        raise RuntimeError("disk full")

    db = store.open_db()
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m999_half_done])
    with contextlib.suppress(RuntimeError):
        migrations.migrate(db)
    assert not db["half"].exists()
    assert "m999_half_done" not in {r["name"] for r in db.query("SELECT name FROM _migrations")}


def test_store_writes_roll_back_together():
    db = store.open_db()
    with contextlib.suppress(RuntimeError), store.transaction(db):
        shows.add_show(db, "http://example.com/a.xml", "A")
        raise RuntimeError
    assert db["shows"].count == 0
