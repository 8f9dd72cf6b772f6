"""The bundled sample show: its feed, audio and publisher transcript, served over real HTTP."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import av
import feedparser
import httpx
import pytest

from ingest.sample import (
    PODCAST_NS,
    SAMPLE_DIR,
    hhmmss,
    load_sample,
    sample_feed_xml,
    spoken_text,
)
from ingest.sample.generate import generate
from ingest.sitegen.server import parse_range

SHOW = load_sample()
ONE_MEDICAL = next(e for e in SHOW.episodes if any(g.company == "One Medical" for g in e.guests))


def test_show_has_the_one_medical_episode_and_distinct_topics():
    assert SHOW.title == "Talk Talent To Me" and SHOW.host == "Rob Stevenson"
    assert len(SHOW.episodes) >= 4
    assert ONE_MEDICAL.guests[0].name == "Viet Nguyen"
    text = spoken_text(ONE_MEDICAL.guid).lower()
    for phrase in ("reverse interview", "eight out of ten", "collaboration", "transparency"):
        assert phrase in text
    assert "grit" in text and "too much" in text
    titles, guids = {e.title for e in SHOW.episodes}, {e.guid for e in SHOW.episodes}
    assert len(titles) == len(guids) == len({e.number for e in SHOW.episodes}) == len(SHOW.episodes)
    # exactly one episode carries a publisher transcript, and it is not the One Medical one
    with_transcript = [e for e in SHOW.episodes if e.has_transcript]
    assert len(with_transcript) == 1 and with_transcript[0] is not ONE_MEDICAL


def test_spoken_text_names_the_missing_episode():
    with pytest.raises(KeyError, match="no-such-guid"):
        spoken_text("no-such-guid")


def test_feed_xml_has_itunes_and_podcasting_tags():
    root = ET.fromstring(sample_feed_xml("http://example.test/show"))
    channel = root.find("channel")
    assert channel.findtext(f"{{{PODCAST_NS}}}guid") == SHOW.podcast_guid
    items = channel.findall("item")
    assert len(items) == len(SHOW.episodes)
    for item in items:
        people = item.findall(f"{{{PODCAST_NS}}}person")
        roles = {(p.text, p.get("role")) for p in people}
        assert ("Rob Stevenson", "host") in roles
        assert any(role == "guest" for _, role in roles)
    transcripts = channel.findall(f"item/{{{PODCAST_NS}}}transcript")
    assert len(transcripts) == 1 and transcripts[0].get("type") == "text/vtt"
    assert transcripts[0].get("url").startswith("http://example.test/show/transcripts/")


def test_feed_parses_and_enclosures_are_served(sample_show):
    response = httpx.get(sample_show.feed_url)
    assert response.status_code == 200
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "Talk Talent To Me"
    assert parsed.feed.author == "Rob Stevenson"
    assert len(parsed.entries) == len(SHOW.episodes) >= 4
    by_guid = {e.guid: e for e in SHOW.episodes}
    for entry in parsed.entries:
        episode = by_guid[entry.id]
        assert entry.title == episode.title
        assert "<a href=" in entry.summary  # HTML show notes with a link
        assert entry.itunes_duration == hhmmss(episode.duration)
        assert int(entry.itunes_episode) == episode.number
        (enclosure,) = entry.enclosures
        assert enclosure.href == sample_show.url(f"/audio/{episode.number}.mp3")
        assert enclosure.type == "audio/mpeg"
        audio = httpx.get(enclosure.href)
        assert audio.status_code == 200
        assert int(audio.headers["content-length"]) == int(enclosure.length) == len(audio.content)
        assert audio.content == episode.audio_path.read_bytes()


def test_conditional_get_of_the_feed_gets_304(sample_show):
    first = httpx.get(sample_show.feed_url)
    again = httpx.get(sample_show.feed_url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_range_requests_return_206_with_the_right_bytes(sample_show):
    data = ONE_MEDICAL.audio_path.read_bytes()
    url = sample_show.url(f"/audio/{ONE_MEDICAL.audio_name}")
    part = httpx.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert part.content == data[1000:2000]
    tail = httpx.get(url, headers={"Range": f"bytes={len(data) - 10}-"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    beyond = httpx.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416


def test_if_range_with_a_stale_validator_gets_the_whole_file(sample_show):
    url = sample_show.url(f"/audio/{ONE_MEDICAL.audio_name}")
    head = httpx.head(url)
    assert head.headers["accept-ranges"] == "bytes"
    assert int(head.headers["content-length"]) == ONE_MEDICAL.audio_path.stat().st_size
    fresh = httpx.get(url, headers={"Range": "bytes=10-19", "If-Range": head.headers["etag"]})
    assert fresh.status_code == 206 and len(fresh.content) == 10
    stale = httpx.get(url, headers={"Range": "bytes=10-19", "If-Range": '"changed"'})
    assert stale.status_code == 200 and stale.content == ONE_MEDICAL.audio_path.read_bytes()


def test_unknown_paths_are_404_and_never_reach_the_disk(sample_show):
    for path in ("/audio/../episodes.yaml", "/episodes.yaml", "/audio/9.mp3", "/transcripts/3.vtt"):
        assert httpx.get(sample_show.url(path)).status_code == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [("bytes=0-9", (0, 9)), ("bytes=5-", (5, 99)), ("bytes=-10", (90, 99)),
     ("bytes=90-500", (90, 99)), ("bytes=100-", None), ("bytes=-0", None)],
)  # fmt: skip
def test_parse_range(header, expected):
    assert parse_range(header, 100) == expected


def test_parse_range_rejects_what_it_does_not_understand():
    with pytest.raises(ValueError, match="Range"):
        parse_range("bytes=0-1,5-6", 100)


@pytest.mark.parametrize("episode", SHOW.episodes, ids=lambda e: f"episode-{e.number}")
def test_audio_decodes_to_30_to_120_seconds_of_sound(episode):
    with av.open(str(episode.audio_path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        rate = stream.rate
    seconds = samples / rate
    assert 30 <= seconds <= 120
    assert seconds == pytest.approx(episode.duration, abs=0.2)
    assert episode.script[-1].end < episode.duration


def test_sample_folder_stays_small():
    total = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert total < 2_000_000


def test_vtt_cues_match_the_script_and_name_the_speakers():
    (episode,) = [e for e in SHOW.episodes if e.has_transcript]
    text = episode.transcript_path.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT")
    cues = re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n<v ([^>]+)>(.*)", text)
    assert len(cues) == len(episode.script)
    for (start, _end, voice, words), line in zip(cues, episode.script, strict=True):
        assert voice == line.speaker
        assert words == line.text
        hours, minutes, seconds = start.split(":")
        assert int(hours) * 3600 + int(minutes) * 60 + float(seconds) == pytest.approx(line.start)
    assert {voice for _, _, voice, _ in cues} == {"Rob Stevenson", episode.guests[0].name}


def test_generate_matches_the_committed_transcript_and_timings(tmp_path):
    """The script regenerates what is committed (same words and speakers, same timing)."""
    (episode,) = [e for e in SHOW.episodes if e.has_transcript]
    timings = generate(tmp_path, only={episode.number})
    made = (tmp_path / "transcripts" / episode.transcript_name).read_text(encoding="utf-8")
    committed = episode.transcript_path.read_text(encoding="utf-8")
    assert re.findall(r"<v [^\n]+", made) == re.findall(r"<v [^\n]+", committed)
    assert timings[str(episode.number)]["duration"] == pytest.approx(episode.duration, rel=0.05)
    with av.open(str(tmp_path / "audio" / episode.audio_name)) as container:
        assert container.duration / av.time_base == pytest.approx(episode.duration, rel=0.05)
