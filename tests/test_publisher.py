"""Publisher transcripts (podcast:transcript): parsing each format, and import over real HTTP."""

import json
import subprocess

import pytest

from ingest.archive import Archive
from ingest.progress import Bars
from ingest.records import Episode, Show, TranscriptLink
from ingest.store import audio as audio_store
from ingest.store import shows
from ingest.store import transcripts as transcript_store
from ingest.transcribe.files import read_transcript
from ingest.transcribe.publisher import (
    PublisherTranscriptError,
    choose_link,
    parse_transcript,
)
from ingest.transcribe.step import transcribe_episodes

VTT = """WEBVTT Kind: captions

NOTE written by the publisher

STYLE
::cue { color: yellow }

intro
00:00.500 --> 00:04.250 align:start
<v Rob Stevenson>Welcome to <i>Talk Talent To Me</i> &amp; thanks for listening.</v>

00:00:04.250 --> 00:00:09.000
<v.guest Ana Ruiz>Hiring is a <c.loud>team</c> sport.
<00:00:07.000>Always.

00:00:09.000 --> 00:00:10.000
No voice here.
"""


def test_vtt_voices_become_speakers_and_markup_is_stripped():
    transcript = parse_transcript(VTT.encode(), "vtt")
    assert [(s.start, s.end, s.speaker, s.text) for s in transcript.segments] == [
        (0.5, 4.25, "Rob Stevenson", "Welcome to Talk Talent To Me & thanks for listening."),
        (4.25, 9.0, "Ana Ruiz", "Hiring is a team sport. Always."),
        (9.0, 10.0, None, "No voice here."),
    ]
    assert transcript.source == "publisher"


def test_srt_with_crlf_and_markup():
    srt = (
        "1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> there\r\n\r\n"
        "2\r\n01:00:00,000 --> 01:00:01,000\r\nBye\r\n"
    )
    segments = parse_transcript(srt, "srt").segments
    assert [(s.start, s.end, s.text) for s in segments] == [
        (1.0, 2.5, "Hello there"),
        (3600.0, 3601.0, "Bye"),
    ]


def test_podcasting_json_word_level_is_joined_into_sentences():
    words = [
        ("Rob", 0.0, "Hello"),
        ("Rob", 0.4, "everyone."),
        ("Ana", 1.2, "Hi"),
        ("Ana", 1.5, "Rob."),
    ]
    body = json.dumps(
        {
            "version": "1.0.0",
            "segments": [
                {"speaker": who, "startTime": t, "endTime": t + 0.3, "body": word}
                for who, t, word in words
            ],
        }
    )
    segments = parse_transcript(body, "json").segments
    assert [(s.speaker, s.text, s.start, s.end) for s in segments] == [
        ("Rob", "Hello everyone.", 0.0, 0.7),
        ("Ana", "Hi Rob.", 1.2, 1.8),
    ]
    assert [w.word for w in segments[0].words] == ["Hello", "everyone."]


def test_html_paragraphs_with_timestamps_and_speakers():
    page = """<html><head><title>Episode 1</title><style>p{}</style></head><body>
    <p>Rob Stevenson 00:00:05</p><p>Welcome &amp; hello.</p>
    <p>[01:10] Ana Ruiz: Thanks, <b>Rob</b>.</p>
    <script>alert('x')</script>
    <p>Untimed closing words.</p></body></html>"""
    segments = parse_transcript(page, "html").segments
    assert [(s.start, s.speaker, s.text) for s in segments] == [
        (5.0, "Rob Stevenson", "Welcome & hello."),
        (70.0, "Ana Ruiz", "Thanks, Rob."),
        (70.0, None, "Untimed closing words."),
    ]
    assert segments[0].end == 70.0


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        ("vtt", "Not a caption file", "no WEBVTT header"),
        ("vtt", "WEBVTT\n\n00:00:01.000 --> soon\nHello\n", "bad cue timing"),
        ("srt", "just some words", "no cue timings"),
        ("json", "{not json", "not valid JSON"),
        ("json", '{"version": "1.0.0", "segments": [{"body": "x"}]}', "lacks startTime"),
        ("html", "<html><body><script>only()</script></body></html>", "no transcript text"),
    ],
)
def test_malformed_files_give_clear_errors(kind, body, message):
    with pytest.raises(PublisherTranscriptError, match=message) as error:
        parse_transcript(body, kind, origin="https://example.com/t.file")
    assert "https://example.com/t.file" in str(error.value)


def test_link_choice_prefers_language_then_format_and_only_http():
    links = [
        TranscriptLink("https://x/t.html", "text/html"),
        TranscriptLink("https://x/t.srt", "application/x-subrip"),
        TranscriptLink("https://x/es.vtt", "text/vtt", language="es"),
        TranscriptLink("file:///etc/passwd", "text/vtt"),
        TranscriptLink("https://x/t.pdf", "application/pdf"),
        TranscriptLink("https://x/t.vtt", "text/vtt", language="en"),
    ]
    chosen = [link.url for link in choose_link(links, "en-US")]
    assert chosen == ["https://x/t.vtt", "https://x/t.srt", "https://x/t.html", "https://x/es.vtt"]


def _archive_with_episode(links: list[TranscriptLink]):
    archive = Archive.at()
    db = archive.open_db()
    show = shows.add_show(db, "http://127.0.0.1/feed.xml", "Talk Talent To Me")
    shows.save_show(db, show["id"], Show(feed_url="x", title="Talk Talent To Me", language="en"))
    result = shows.upsert_episodes(
        db, show["id"], [Episode(guid="g1", title="One", transcripts=links)]
    )
    return archive, db, show["id"], result.added[0]


def test_publisher_vtt_is_imported_over_http(local_server, fake_transcriber):
    local_server.serve_bytes("/t/1.vtt", VTT.encode(), "text/vtt")
    link = TranscriptLink(local_server.url("/t/1.vtt"), "text/vtt", language="en")
    archive, db, show_id, episode_id = _archive_with_episode([link])

    lines = []
    progress = Bars(lines.append)
    summary = transcribe_episodes(
        archive, db, make_transcriber=fake_transcriber.load, progress=progress
    )

    assert summary.count("publisher") == 1
    assert fake_transcriber.loads == 0  # a publisher transcript is used without loading Whisper
    assert progress.done == 1
    row = shows.get_episode(db, episode_id)
    assert row["transcript_status"] == "done"
    assert row["transcript_source"] == "publisher"
    assert row["transcript_language"] == "en"
    speakers = [s["speaker"] for s in transcript_store.segments_of(db, episode_id)]
    assert speakers == ["Rob Stevenson", "Ana Ruiz", None]
    # Full-text search finds it (porter stemming: "hire" matches "Hiring").
    hits = db.execute("SELECT count(*) FROM segments_fts WHERE segments_fts MATCH 'hire'")
    assert hits.fetchone()[0] == 1
    saved = read_transcript(archive.transcripts_dir / show_id / f"{episode_id}.json", episode_id)
    assert saved.source == "publisher" and saved.settings["url"] == link.url
    assert (
        "<v Ana Ruiz>Hiring is a team sport. Always."
        in (archive.transcripts_dir / show_id / f"{episode_id}.vtt").read_text()
    )
    # A second run finds nothing to do.
    assert transcribe_episodes(archive, db, make_transcriber=fake_transcriber.load).results == []
    assert fake_transcriber.loads == 0


def test_broken_publisher_file_without_audio_fails_that_episode_clearly(
    local_server, fake_transcriber
):
    local_server.serve_bytes("/t/bad.vtt", b"<html>404 page</html>", "text/vtt")
    local_server.serve_bytes("/t/huge.srt", b"1\n" * (6 * 1024 * 1024), "application/x-subrip")
    links = [
        TranscriptLink(local_server.url("/t/bad.vtt"), "text/vtt"),
        TranscriptLink(local_server.url("/t/huge.srt"), "application/srt"),
        TranscriptLink(local_server.url("/t/missing.json"), "application/json"),
    ]
    archive, db, _, episode_id = _archive_with_episode(links)

    summary = transcribe_episodes(archive, db, make_transcriber=fake_transcriber.load)

    assert summary.count("failed") == 1
    assert fake_transcriber.loads == 0  # without audio there is nothing for Whisper
    error = shows.get_episode(db, episode_id)["transcript_error"]
    assert "/t/bad.vtt: not a WebVTT file" in error
    assert "/t/huge.srt: larger than" in error
    assert "/t/missing.json: HTTP 404" in error
    assert "no audio" in error
    assert shows.get_episode(db, episode_id)["transcript_status"] == "failed"
    assert db["segments"].count == 0


LATE_VTT = """WEBVTT

00:00:12.000 --> 00:00:16.000
<v Ana Ruiz>Then the candidate runs the room.

00:00:01.000 --> 00:00:05.000
<v Rob Stevenson>Welcome back.

00:00:15.000 --> 00:00:25.000
<v Ana Ruiz>And this cue runs past the end of the audio.

00:00:30.000 --> 00:00:35.000
<v Rob Stevenson>This one starts after it.
"""


def test_publisher_cues_are_put_in_order_inside_the_audio(local_server, fake_transcriber):
    """Cue times come from the feed: out of order, overlapping, past the end of the 20 s audio.
    Imported, they are in order, do not overlap, lie inside the audio, and lose no words."""
    local_server.serve_bytes("/t/late.vtt", LATE_VTT.encode(), "text/vtt")
    link = TranscriptLink(local_server.url("/t/late.vtt"), "text/vtt", language="en")
    archive, db, show_id, episode_id = _archive_with_episode([link])
    audio = archive.audio_dir / show_id / f"{episode_id}.mp3"
    audio.parent.mkdir(parents=True)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=20",
            str(audio),
        ],
        check=True,
    )
    audio_store.record_audio(db, episode_id, archive.root, audio, audio.stat().st_size, "0" * 64)

    summary = transcribe_episodes(archive, db, make_transcriber=fake_transcriber.load)

    assert summary.count("publisher") == 1
    saved = read_transcript(archive.transcripts_dir / show_id / f"{episode_id}.json", episode_id)
    assert saved.duration == pytest.approx(20.0, abs=0.1)
    previous_end = 0.0
    for segment in saved.segments:
        assert previous_end <= segment.start <= segment.end <= saved.duration
        previous_end = segment.end
    assert [s.speaker for s in saved.segments] == [
        "Rob Stevenson",
        "Ana Ruiz",
        "Ana Ruiz",
        "Rob Stevenson",
    ]
    assert saved.segments[0].text == "Welcome back."
    assert "This one starts after it." in saved.text
