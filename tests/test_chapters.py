"""Chapters: the publisher's repaired or rejected (served for real on 127.0.0.1), generated ones
on the sample show and on long real conversations, and soundbites."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bench.tag_eval import changelog_lines, segments_from_lines
from ingest.archive import Archive
from ingest.chapters import publisher
from ingest.chapters.generate import MIN_CHAPTER_SECONDS, SECONDS_PER_CHAPTER, generate_chapters
from ingest.chapters.soundbites import MAX_SECONDS, MIN_SECONDS, pick_soundbites
from ingest.chapters.step import chapter_archive
from ingest.embed import encode
from ingest.feeds.parse import parse_feed
from ingest.records import Episode, Segment, Show, Transcript
from ingest.store import shows as show_store
from ingest.store import transcripts as transcript_store
from tests.site_archive import ONE_MEDICAL_SCRIPT, _segments, build_sample_archive

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "changelog"
AUDIO_END = 60.0


def _episode_with_chapters(db, chapters_url: str | None, feed_chapters=(), audio=None) -> str:
    """One transcribed episode (a minute of talk) whose feed points at `chapters_url`."""
    show_id = show_store.add_show(db, "https://feeds.example.com/ttm.xml", "TTM")["id"]
    show_store.save_show(
        db, show_id, Show(feed_url="https://feeds.example.com/ttm.xml", title="TTM")
    )
    episode = Episode(
        guid="ep-1",
        title="One Medical's reverse interview",
        duration=int(AUDIO_END),
        chapters_url=chapters_url,
        feed_chapters=list(feed_chapters),
    )
    show_store.upsert_episodes(db, show_id, [episode])
    row = show_store.list_episodes(db, show_id)[0]
    segments = _segments(ONE_MEDICAL_SCRIPT, AUDIO_END)
    transcript_store.save_transcript(db, row["id"], Transcript(segments=segments, language="en"))
    if audio is not None:
        db["episodes"].update(row["id"], {"audio_path": audio})
    return row["id"]


def _stored(db, episode_id: str) -> tuple[list[dict], dict]:
    chapters = list(
        db.query(
            'SELECT start, "end", title, url, image_url FROM chapters WHERE episode_id = ? '
            "ORDER BY start",
            [episode_id],
        )
    )
    return chapters, db["episodes"].get(episode_id)


def _json(*chapters: dict) -> bytes:
    return json.dumps({"version": "1.2.0", "chapters": list(chapters)}).encode()


def _assert_safe(chapters: list[dict]) -> None:
    starts = [c["start"] for c in chapters]
    assert chapters and starts == sorted(starts) and starts[0] >= 0
    for chapter, following in zip(chapters, chapters[1:] + [None], strict=True):
        assert chapter["start"] < AUDIO_END and chapter["end"] <= AUDIO_END
        assert following is None or chapter["end"] <= following["start"]
        assert "<" not in chapter["title"] and chapter["title"].strip()
        for link in (chapter["url"], chapter["image_url"]):
            assert link is None or re.match(r"^https?://", link)


HOSTILE = {
    "not JSON": (b"<html><body>Chapters!</body></html>", "rejected (not JSON"),
    "not chapters": (b'{"chapters": "soon"}', "rejected (not JSON chapters"),
    "huge": (
        _json({"startTime": 0, "title": "Intro", "pad": "x" * (2 * 1024 * 1024)}),
        "rejected (",
    ),
    "every start past the end": (_json({"startTime": 900, "title": "Later"}), "rejected ("),
    "javascript: and file: links": (
        _json(
            {"startTime": 0, "title": "Intro", "url": "javascript:window.__pwned='chapter'"},
            {"startTime": 20, "title": "Reverse interview", "img": "file:///etc/passwd"},
        ),
        "2 link(s) that are not http(s) dropped",
    ),
    "past the audio's end": (
        _json(
            {"startTime": 0, "title": "Intro"},
            {"startTime": 30, "endTime": 400, "title": "Questions"},
            {"startTime": 120, "title": "After the end"},
        ),
        "1 starting after the audio's end dropped",
    ),
    "unsorted and overlapping": (
        _json(
            {"startTime": 30, "endTime": 55, "title": "Questions"},
            {"startTime": 0, "endTime": 45, "title": "Intro"},
            {"startTime": 30, "title": "Questions again"},
        ),
        "sorted by start time",
    ),
    "HTML in titles": (
        _json(
            {"startTime": 0, "title": "<b>Intro</b><script>window.__pwned='t'</script>"},
            {"startTime": 20, "title": '<img src=x onerror="window.__pwned=1">Reverse &amp; co'},
        ),
        "markup removed from 2 title(s)",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_publisher_chapters_end_in_one_warning_and_safe_chapters(
    case, db, archive, local_server
):
    body, said = HOSTILE[case]
    local_server.serve_bytes("/chapters.json", body, "application/json+chapters")
    episode_id = _episode_with_chapters(db, local_server.url("/chapters.json"))

    result = chapter_archive(db, archive, embed=encode)

    assert result.failed == {}
    assert len(result.warnings) == 1, result.warnings
    (warning,) = result.warnings
    assert episode_id in warning and said in warning
    chapters, row = _stored(db, episode_id)
    _assert_safe(chapters)
    rejected = "rejected" in said
    assert row["chapters_source"] == ("generated" if rejected else "publisher")
    assert row["chapters_warning"] == warning
    written = json.loads(
        (archive.transcripts_dir / row["show_id"] / f"{episode_id}.chapters.json").read_text()
    )
    assert [c["startTime"] for c in written["chapters"]] == [c["start"] for c in chapters]


def test_repairs_keep_what_the_publisher_meant():
    repaired = publisher.from_json(HOSTILE["unsorted and overlapping"][0], AUDIO_END)
    assert [(c.start, c.end, c.title) for c in repaired.chapters] == [
        (0.0, 30.0, "Intro"),  # its end overlapped the next chapter: cut at its start
        (30.0, 55.0, "Questions"),  # the second chapter at 30 s is the duplicate dropped
    ]
    html = publisher.from_json(HOSTILE["HTML in titles"][0], AUDIO_END)
    assert [c.title for c in html.chapters] == ["Intro", "Reverse & co"]


def test_a_dead_chapters_url_falls_back_to_generated_chapters(db, archive, local_server):
    episode_id = _episode_with_chapters(db, local_server.url("/missing.json"))
    result = chapter_archive(db, archive, embed=encode)
    assert len(result.warnings) == 1 and "HTTP 404" in result.warnings[0]
    chapters, row = _stored(db, episode_id)
    assert row["chapters_source"] == "generated" and chapters
    # Unchanged input: the second run fetches nothing and rewrites nothing.
    requests = len(local_server.requests)
    again = chapter_archive(db, archive, embed=encode)
    assert again.made == {} and again.unchanged == 1 and len(local_server.requests) == requests


PSC_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:psc="http://podlove.org/simple-chapters">
  <channel><title>Show</title>
    <item><title>One</title><guid>one</guid>
      <enclosure url="https://cdn.example.com/1.mp3" type="audio/mpeg" length="1"/>
      <psc:chapters version="1.2">
        <psc:chapter start="00:00:30.5" title="Second &lt;i&gt;part&lt;/i&gt;" href="javascript:x"/>
        <psc:chapter start="0" title="Start" href="https://example.com/start"/>
        <psc:chapter start="not a time" title="Broken"/>
      </psc:chapters>
    </item>
  </channel>
</rss>"""


def test_podlove_chapters_in_the_feed_are_read_and_repaired(db, archive):
    (episode,) = parse_feed(PSC_FEED.encode(), "https://feeds.example.com/show.xml", {}).episodes
    assert [c.start for c in episode.feed_chapters] == ["00:00:30.5", "0", "not a time"]
    episode_id = _episode_with_chapters(db, None, episode.feed_chapters)
    result = chapter_archive(db, archive, embed=encode)
    chapters, row = _stored(db, episode_id)
    assert row["chapters_source"] == "publisher"
    assert [(c["start"], c["title"], c["url"]) for c in chapters] == [
        (0.0, "Start", "https://example.com/start"),
        (30.5, "Second part", None),
    ]
    (warning,) = result.warnings
    assert episode_id in warning and "1 with an unreadable start dropped" in warning


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample show, tagged for real, with chapters and soundbites made."""
    archive = Archive.at(tmp_path_factory.mktemp("chapters-sample"))
    rows = build_sample_archive(archive)
    db = archive.open_db()
    result = chapter_archive(db, archive)
    return {"db": db, "archive": archive, "rows": rows, "result": result}


def test_every_sample_episode_has_chapters_within_the_length_rules(sample):
    db = sample["db"]
    assert sample["result"].failed == {}
    for guid, row in sample["rows"].items():
        chapters, episode = _stored(db, row["id"])
        assert chapters, guid
        if guid == "hostile":
            continue  # its transcript is one hostile line
        assert episode["chapters_source"] == "generated"
        end = max(episode["duration"], chapters[-1]["end"])
        # Sample episodes are a minute long: a chapter is at least a sixth of the episode,
        # at most one per quarter of it (ingest.chapters.generate).
        assert len(chapters) <= 4
        assert all(c["end"] - c["start"] >= end / 6 - 0.01 for c in chapters)
        assert chapters[0]["start"] == 0 and all(c["title"] for c in chapters)


def test_one_medical_chapters_separate_the_reverse_interview_from_soft_skills(sample):
    db, row = sample["db"], sample["rows"]["ttm-sample-0003"]
    segments = list(
        db.query(
            'SELECT start, "end", text FROM segments WHERE episode_id = ? ORDER BY idx', [row["id"]]
        )
    )

    def said(words: str) -> dict:
        return next(s for s in segments if words in s["text"])

    reverse = said("we call it the reverse interview")
    sell = said("nobody was trying to sell them anything")
    soft = said("soft competencies like collaboration")
    chapters, _ = _stored(db, row["id"])

    def chapter_at(t: float) -> dict:
        return [c for c in chapters if c["start"] <= t][-1]

    # Every sentence of each part lies in chapters of its own: no chapter holds both.
    reverse_part = {chapter_at(s["start"])["start"] for s in (reverse, sell)}
    soft_part = {chapter_at(soft["start"])["start"], chapter_at(soft["end"] - 0.1)["start"]}
    assert not reverse_part & soft_part
    assert any(sell["end"] - 0.5 <= c["start"] <= soft["start"] + 0.5 for c in chapters)
    assert "reverse" in chapter_at(reverse["start"])["title"].lower()


def test_sample_soundbites_start_at_a_sentence_and_last_15_to_60_seconds(sample):
    db = sample["db"]
    bites = list(db.query("SELECT episode_id, start, duration, title FROM soundbites"))
    assert {b["episode_id"] for b in bites} >= {
        r["id"] for g, r in sample["rows"].items() if g != "hostile"
    }
    starts = {
        (s["episode_id"], s["start"]) for s in db.query("SELECT episode_id, start FROM segments")
    }
    for bite in bites:
        assert (bite["episode_id"], bite["start"]) in starts
        assert MIN_SECONDS <= bite["duration"] <= MAX_SECONDS and bite["title"]


def _changelog_segments(path: Path, minutes: float = 20) -> list[Segment]:
    """The first `minutes` of a real conversation, a segment per sentence timed at 2.5 words a
    second (bench.tag_eval, as the tagging benchmark reads it)."""
    segments = segments_from_lines(changelog_lines(path))
    return [s for s in segments if s.end <= minutes * 60]


@pytest.mark.slow
def test_generated_chapters_of_long_real_conversations_keep_the_rules():
    """Held-out text (Changelog transcripts, never tuned on): lengths and counts hold."""
    paths = sorted((CORPUS / "founderstalk").rglob("*.md"))[:2]
    assert paths, f"no transcripts under {CORPUS}"
    for path in paths:
        segments = _changelog_segments(path)
        duration = segments[-1].end
        chapters = generate_chapters(segments, [], duration, encode)
        assert 1 <= len(chapters) <= duration // SECONDS_PER_CHAPTER
        assert all(c.end - c.start >= MIN_CHAPTER_SECONDS for c in chapters)
        assert chapters[0].start == 0 and chapters[-1].end == pytest.approx(duration, abs=0.01)
        assert all(c.title and len(c.title) <= 80 for c in chapters)
        bites = pick_soundbites(segments, [], chapters)
        assert bites and all(MIN_SECONDS <= b.duration <= MAX_SECONDS for b in bites)


FFMETADATA = """;FFMETADATA1
[CHAPTER]
TIMEBASE=1/1000
START=0
END=20000
title=Intro <b onclick="window.__pwned=1">bold</b>
[CHAPTER]
TIMEBASE=1/1000
START=20000
END=300000
title=Reverse interviews
"""


def test_id3_chapters_in_the_downloaded_audio_are_read_and_repaired(db, archive):
    """ffmpeg writes CHAP frames into the MP3's ID3v2.4 tag, as publishing tools do."""
    metadata = archive.root / "chapters.txt"
    archive.root.mkdir(parents=True, exist_ok=True)
    metadata.write_text(FFMETADATA)
    audio = archive.root / "audio" / "chaptered.mp3"
    audio.parent.mkdir(parents=True)
    source = Path(__file__).parents[1] / "ingest" / "sample" / "audio" / "3.mp3"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(source), "-i", str(metadata)]
        + ["-map_metadata", "1", "-map_chapters", "1", "-codec", "copy", str(audio)],
        check=True,
    )
    episode_id = _episode_with_chapters(db, None, audio="audio/chaptered.mp3")
    result = chapter_archive(db, archive, embed=encode)
    chapters, row = _stored(db, episode_id)
    assert row["chapters_source"] == "publisher"
    assert [(c["start"], c["end"], c["title"]) for c in chapters] == [
        (0.0, 20.0, "Intro bold"),
        (20.0, AUDIO_END, "Reverse interviews"),  # its end was past the audio's: clamped
    ]
    (warning,) = result.warnings
    assert episode_id in warning and "ID3 tag repaired" in warning
