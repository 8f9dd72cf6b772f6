"""The re-published feeds: valid RSS (feedparser), each Podcasting 2.0 element with the
attributes the namespace documents, read by a real Podcasting 2.0 parser (podcast-partytime,
with Node), and topic feeds that gain one item per new moment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest

from ingest.archive import Archive
from ingest.records import Episode, Person, Segment, Transcript
from ingest.sample import load_sample
from ingest.sitegen import step as sitegen
from ingest.store import shows as show_store
from ingest.store import transcripts as transcript_store
from ingest.transcribe.files import write_transcript
from tests.site_archive import build_archive, build_sample_archive

BASE = "https://example.com/ttm/"
PODCAST = "{https://podcastindex.org/namespace/1.0}"
PARTYTIME = Path(__file__).parent / "partytime.js"
PARTYTIME_PACKAGE = Path(__file__).parent / "node_modules" / "podcast-partytime"
# The namespace's person roles (taxonomy.json, group "cast") and transcript types.
ROLES = {"host", "co-host", "guest", "cast", "narrator"}
TRANSCRIPT_TYPES = {"text/vtt", "application/x-subrip", "application/json", "text/plain"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    archive = Archive.at(tmp_path_factory.mktemp("feeds"))
    rows = build_sample_archive(archive, chapters=True)
    db = archive.open_db()
    report = sitegen.build_site(db, archive, BASE, search=False)
    assert report.errors == []
    show_id = rows["ttm-sample-0003"]["show_id"]
    return {
        "site": archive.site_dir,
        "rows": rows,
        "feed": archive.site_dir / f"shows/{show_id}/feed.xml",
    }


def test_the_show_feed_is_valid_rss_with_every_podcasting_element(built):
    parsed = feedparser.parse(built["feed"].read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(built["rows"])
    root = ElementTree.parse(built["feed"]).getroot()
    channel = root.find("channel")
    uuid.UUID(channel.findtext(f"{PODCAST}guid"))  # a UUID, as the spec requires
    assert [p.text for p in channel.findall(f"{PODCAST}person")] == ["Rob Stevenson"]
    items = {item.findtext("guid"): item for item in channel.findall("item")}
    for guid, item in items.items():
        transcripts = item.findall(f"{PODCAST}transcript")
        assert {t.get("type") for t in transcripts} == TRANSCRIPT_TYPES, guid
        assert all(t.get("url").startswith(BASE) for t in transcripts)
        if guid == "hostile":
            continue  # added by hand after the chapters step (tests.site_archive)
        (chapters,) = item.findall(f"{PODCAST}chapters")
        assert chapters.get("type") == "application/json+chapters"
        assert chapters.get("url").startswith(BASE) and chapters.get("url").endswith(".json")
        for person in item.findall(f"{PODCAST}person"):
            assert person.text.strip() and person.get("role") in ROLES
        for bite in item.findall(f"{PODCAST}soundbite"):
            start, duration = float(bite.get("startTime")), float(bite.get("duration"))
            assert start >= 0 and 15 <= duration <= 60 and bite.text.strip()
    one_medical = items["ttm-sample-0003"]
    assert len(one_medical.findall(f"{PODCAST}soundbite")) >= 2
    guests = [p.text for p in one_medical.findall(f"{PODCAST}person") if p.get("role") == "guest"]
    assert guests == ["Viet Nguyen"]


def test_the_chapters_file_the_feed_names_is_json_chapters(built):
    root = ElementTree.parse(built["feed"]).getroot()
    for item in root.iter("item"):
        if item.findtext("guid") == "hostile":
            continue
        url = item.find(f"{PODCAST}chapters").get("url")
        data = json.loads((built["site"] / url.removeprefix(BASE)).read_text())
        starts = [c["startTime"] for c in data["chapters"]]
        assert data["version"] == "1.2.0" and starts == sorted(starts) and starts[0] == 0
        assert all(isinstance(c["title"], str) and c["title"] for c in data["chapters"])


def test_a_podcasting_parser_reads_what_the_feed_says(built):
    node = shutil.which("node")
    if node is None or not PARTYTIME_PACKAGE.is_dir():
        if os.environ.get("CI"):
            raise FileNotFoundError("node or podcast-partytime missing: tests/run.sh installs them")
        pytest.skip("podcast-partytime not installed (npm ci --prefix tests, as tests/run.sh does)")
    output = subprocess.run(
        [node, str(PARTYTIME), str(built["feed"])], capture_output=True, text=True, check=True
    ).stdout
    feed = json.loads(output)
    assert uuid.UUID(feed["guid"]) and feed["podcastPeople"][0]["name"] == "Rob Stevenson"
    items = {item["guid"]: item for item in feed["items"]}
    assert set(items) == {row["guid"] for row in built["rows"].values()}
    one_medical = items["ttm-sample-0003"]
    assert len(one_medical["podcastTranscripts"]) == 4
    assert one_medical["podcastChapters"]["type"] == "application/json+chapters"
    assert {p["name"] for p in one_medical["podcastPeople"]} == {"Rob Stevenson", "Viet Nguyen"}
    bites = one_medical["podcastSoundbites"]
    assert bites and all(15 <= b["duration"] <= 60 for b in bites)


def test_topic_and_person_pages_name_their_feeds(built):
    page = next((built["site"] / "topics").glob("*/index.html")).read_text()
    link = re.search(r'<link rel="alternate" type="application/rss\+xml" [^>]*href="([^"]+)"', page)
    found = [m for m in re.findall(r'<link rel="alternate"[^>]*href="([^"]+)"', page)]
    assert link and any(href.endswith("/feed.xml") and "/topics/" in href for href in found)
    person = next((built["site"] / "people").glob("*/index.html")).read_text()
    assert re.search(r'<link rel="alternate"[^>]*href="/ttm/people/[^"]+/feed\.xml"', person)


def _items(path: Path) -> list[dict]:
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed.entries


def test_a_topic_feed_gains_one_item_for_an_episode_with_one_new_moment(archive):
    sample_mp3 = load_sample().episodes[2].audio_path
    rows = build_archive(archive, sample_mp3)
    db = archive.open_db()
    sitegen.build_site(db, archive, BASE, search=False)
    feed = archive.site_dir / "topics" / "interviewing" / "feed.xml"
    before = _items(feed)
    assert len(before) == 2  # the two interviewing moments of the One Medical episode

    show_id = rows["medical"]["show_id"]
    new = Episode(
        guid="ttm-9",
        title="Interview loops that respect the candidate",
        description_text="Loops.",
        enclosure_url="https://cdn.example.com/ttm-9.mp3",
        duration=30,
        people=[Person("Rob Stevenson", role="host")],
    )
    show_store.upsert_episodes(db, show_id, [new])
    row = next(r for r in show_store.list_episodes(db, show_id) if r["guid"] == "ttm-9")
    transcript = Transcript([Segment(0, 30, "We redesigned every interview loop.")])
    transcript_store.save_transcript(db, row["id"], transcript)
    write_transcript(archive.transcripts_dir, show_id, row["id"], transcript)
    with db.conn:
        db["episode_tags"].insert(
            {"episode_id": row["id"], "tag_slug": "interviewing", "score": 0.9, "source": "test"}
        )
        db["topic_moments"].insert(
            {"episode_id": row["id"], "tag_slug": "interviewing", "start": 4.0, "end": 20.0}
            | {"score": 0.9, "quote": "We redesigned every interview loop."}
        )
    report = sitegen.build_site(db, archive, BASE, search=False)

    after = _items(feed)
    assert len(after) == len(before) + 1
    added = [e for e in after if e.id not in {b.id for b in before}]
    assert [e.link for e in added] == [BASE + f"episodes/{row['slug']}/#t=4"]
    assert added[0].summary == "We redesigned every interview loop."
    assert "topics/interviewing/feed.xml" in report.written
    # Nothing new for the employer-brand topic: its feed is not rewritten.
    assert "topics/employer-brand/feed.xml" not in report.written


def test_the_site_publishes_its_shows_as_opml(built):
    from ingest.feeds.opml import read_opml

    listed = read_opml((built["site"] / "shows.opml").read_bytes(), "shows.opml")
    assert listed.problems == []
    assert [f.url for f in listed.feeds] == [
        BASE + built["feed"].relative_to(built["site"]).as_posix()
    ]


def test_a_person_feed_holds_the_moments_they_say(built):
    """The sample transcripts name their speakers: Viet's feed is the One Medical moments he
    starts saying; the host's holds the two he starts (an introduction and a question), none of
    Viet's."""
    one_medical = built["rows"]["ttm-sample-0003"]["slug"]
    viet = _items(built["site"] / "people" / "viet-nguyen" / "feed.xml")
    assert viet and all(f"episodes/{one_medical}/#t=" in item.link for item in viet)
    host = _items(built["site"] / "people" / "rob-stevenson" / "feed.xml")
    assert sorted(item.title.split(" at ")[0] for item in host) == [
        "Diversity hiring",
        "Employer brand",
    ]
    assert not any(one_medical in item.link for item in host)
