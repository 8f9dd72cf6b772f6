import sqlite3

import pytest

from ingest.records import Episode, Person, Show, TranscriptLink
from ingest.store import shows


@pytest.fixture
def show_id(db):
    return shows.add_show(db, "https://example.com/feed.xml", "Show")["id"]


def test_a_failing_episode_rolls_back_the_whole_refresh(db, show_id):
    good = Episode(guid="g1", title="Good", enclosure_url="https://example.com/1.mp3")
    broken = Episode(guid="g2", title="Broken", duration=[1])  # fails to bind, mid-transaction
    with pytest.raises(sqlite3.Error):
        shows.upsert_episodes(db, show_id, [good, broken])
    assert db["episodes"].count == 0
    assert shows.upsert_episodes(db, show_id, [good]).added  # and the database is usable


def test_blank_fields_never_overwrite_stored_ones(db, show_id):
    full = Episode(
        guid="g1",
        title="Full",
        description_html="<p>Notes</p>",
        description_text="Notes",
        enclosure_url="https://example.com/1.mp3",
        duration=60,
        transcripts=[TranscriptLink("https://example.com/1.vtt", "text/vtt", "en", "captions")],
    )
    shows.upsert_episodes(db, show_id, [full])
    thin = Episode(
        guid="g1", transcripts=[TranscriptLink("https://example.com/1.vtt", "", None, None)]
    )
    result = shows.upsert_episodes(db, show_id, [thin])
    assert result.unchanged == 1 and not result.changed
    [row] = db["episodes"].rows
    assert (row["title"], row["description_text"], row["duration"]) == ("Full", "Notes", 60)
    [link] = db["episode_transcript_links"].rows
    assert (link["type"], link["language"], link["rel"]) == ("text/vtt", "en", "captions")

    shows.save_show(db, show_id, Show(feed_url="x", title="Show", description="About"))
    assert shows.save_show(db, show_id, Show(feed_url="x")) == {}
    assert shows.get_show(db, show_id)["description"] == "About"


def test_insert_only_episodes_are_added_but_never_change_stored_ones(db, show_id):
    shows.upsert_episodes(db, show_id, [Episode(guid="g1", title="Whole title")])
    cut = [Episode(guid="g1", title="Whole t"), Episode(guid="g2", title="New")]
    result = shows.upsert_episodes(db, show_id, cut, insert_only={"g1", "g2"})
    assert len(result.added) == 1 and result.unchanged == 1
    assert {r["guid"]: r["title"] for r in db["episodes"].rows} == {
        "g1": "Whole title",
        "g2": "New",
    }


def test_same_titles_get_distinct_slugs(db, show_id):
    episodes = [Episode(guid=f"g{n}", title="Daily update") for n in range(300)]
    shows.upsert_episodes(db, show_id, episodes)
    slugs = [r["slug"] for r in db["episodes"].rows]
    assert len(set(slugs)) == 300 and all(s.startswith("daily-update-") for s in slugs)


def test_people_are_shared_and_their_links_filled_in(db, show_id):
    shows.upsert_episodes(db, show_id, [Episode(guid="g1", people=[Person("Ada", role="guest")])])
    later = Person("Ada", role="guest", href="https://example.com/ada")
    shows.upsert_episodes(db, show_id, [Episode(guid="g2", people=[later, Person("Rob")])])
    people = {r["name"]: r["href"] for r in db["people"].rows}
    assert people == {"Ada": "https://example.com/ada", "Rob": None}
    assert db["episode_people"].count == 3


def test_mark_in_feed_flags_and_unflags(db, show_id):
    shows.upsert_episodes(db, show_id, [Episode(guid="a"), Episode(guid="b")])
    assert shows.mark_in_feed(db, show_id, ["a"]) == 1
    assert {r["guid"]: r["in_feed"] for r in db["episodes"].rows} == {"a": 1, "b": 0}
    assert shows.mark_in_feed(db, show_id, ["a", "b"]) == 0
    assert {r["in_feed"] for r in db["episodes"].rows} == {1}


def test_moved_feed_url_still_finds_the_show(db, show_id):
    assert shows.move_feed_url(db, show_id, "https://new.example.com/feed", "redirect")
    assert shows.find_show_by_url(db, "https://example.com/feed.xml")["id"] == show_id
    assert shows.add_show(db, "https://example.com/feed.xml")["id"] == show_id
    other = shows.add_show(db, "https://other.example.com/feed", "Other")["id"]
    # A URL another show already uses is not taken over.
    assert not shows.move_feed_url(db, other, "https://new.example.com/feed", "new-feed-url")
    # Moving back to an old URL works and forgets that alias.
    assert shows.move_feed_url(db, show_id, "https://example.com/feed.xml", "redirect")
    assert shows.get_show(db, show_id)["feed_url"] == "https://example.com/feed.xml"
    assert shows.find_show_by_url(db, "https://new.example.com/feed")["id"] == show_id
