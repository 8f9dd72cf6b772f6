"""Speaker labels in a real archive: the sample show fetched over HTTP, the One Medical episode
and a second show's episode transcribed by real Whisper (the other sample episodes by the fake
transcriber: they are here for their voices), voices found by the real speaker encoder.

The second show's feed names nobody: its host speaks in the sample host's espeak-ng voice and
is named by the voice print the sample show taught; its guest has a voice of their own.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.archive import Archive
from ingest.audio.step import download_episodes
from ingest.cli import cli
from ingest.feeds.step import fetch_feeds
from ingest.net import make_client
from ingest.sample import generate, load_sample
from ingest.sample.server import start_sample_server
from ingest.sitegen.data import passages
from ingest.speakers.step import label_episodes
from ingest.transcribe import get_transcriber
from ingest.transcribe.base import TranscribeOptions
from ingest.transcribe.step import transcribe_episodes
from tests.fake_transcriber import FakeTranscriber, _sample_by_hash, _sha256
from tests.server import LocalServer

pytestmark = [pytest.mark.slow, pytest.mark.asr]

# The second show: the sample host's voice, and a guest voice the sample show never uses (one
# the encoder tells apart from the host's: en-gb+f3 is as close to it as his own lines are).
GUEST_VOICE = ("en-us+f4", 70)
UNNAMED_LINES = [
    (True, "Welcome back to the show. This week we talk about hiring your first recruiter."),
    (False, "Thanks for having me. The first recruiter sets the tone for every hire after."),
    (True, "What should a founder look for in that first recruiter?"),
    (False, "Someone who can build a process, not only fill a role. Ask how they measure a hire."),
    (True, "That is great advice. Thank you for joining us today."),
]
UNNAMED_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Hiring Notes</title><link>http://example.com/</link>
<description>Short talks about hiring.</description><language>en</language>
<item><title>Your First Recruiter</title><guid>first-recruiter</guid>
<description>What a founder should look for in a first recruiter.</description>
<pubDate>Tue, 02 May 2023 09:00:00 GMT</pubDate>
<enclosure url="{url}" type="audio/mpeg" length="{length}"/></item>
</channel></rss>
"""
BLOCK_THE_EXTRA = """
import importlib.abc, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("resemblyzer", "torch"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Blocked())
from ingest.cli import cli
cli()
"""


def speak_unnamed_episode(folder: Path) -> Path:
    """The second show's MP3 and its line times (the host in the sample host's voice)."""
    wavs = []
    for n, (is_host, text) in enumerate(UNNAMED_LINES):
        voice = generate.HOST_VOICE if is_host else GUEST_VOICE
        wavs.append(folder / f"line-{n}.wav")
        generate._speak(text, voice, wavs[-1])
    spans = generate._join_lines(wavs, folder / "unnamed.wav")
    generate.encode_mp3(folder / "unnamed.wav", folder / "unnamed.mp3")
    (folder / "unnamed.json").write_text(json.dumps(spans))
    return folder / "unnamed.mp3"


class WhisperForSomeEpisodes:
    """Real Whisper for the One Medical episode and any audio the fake does not know; the
    sample script (the fake transcriber) for the other sample episodes."""

    def __init__(self):
        self.fake = FakeTranscriber()
        self.real = None

    def transcribe(self, audio_path, options, on_progress=None):
        sample = _sample_by_hash().get(_sha256(Path(audio_path)))
        if sample is not None and sample.number != 3:
            return self.fake.transcribe(audio_path, options, on_progress)
        if self.real is None:
            self.real = get_transcriber("faster-whisper", TranscribeOptions())
        return self.real.transcribe(audio_path, options, on_progress)


@pytest.fixture(scope="module")
def unnamed_show(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unnamed-show")
    mp3 = speak_unnamed_episode(folder)
    server = LocalServer().start()
    server.serve_bytes("/ep.mp3", mp3.read_bytes(), "audio/mpeg")
    feed = UNNAMED_FEED.format(url=server.url("/ep.mp3"), length=mp3.stat().st_size)
    server.serve_bytes("/feed.xml", feed.encode(), "application/rss+xml")
    server.spans = json.loads((folder / "unnamed.json").read_text())
    server.mp3 = mp3
    yield server
    server.stop()


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, unnamed_show):
    """The archive after: sample show fetched, downloaded, transcribed and labelled; then the
    unnamed show, which comes later, the same way."""
    archive = Archive.at(tmp_path_factory.mktemp("speakers") / "archive")
    db = archive.open_db()
    transcriber = WhisperForSomeEpisodes()
    sample = start_sample_server()
    summaries = []
    try:
        for url in (sample.feed_url, unnamed_show.url("/feed.xml")):
            with make_client() as client:
                fetch_feeds(db, client, [url])
                download_episodes(db, archive, client)
            transcribe_episodes(archive, db, make_transcriber=lambda: transcriber)
            summaries.append(label_episodes(archive, db))
    finally:
        sample.stop()
    yield archive, db, summaries
    db.close()


def _episode(db, title_part: str) -> dict:
    return next(r for r in db.query("SELECT * FROM episodes") if title_part in r["title"])


def _segments(db, episode_id: str) -> list[dict]:
    return list(db.query("SELECT * FROM segments WHERE episode_id = ? ORDER BY idx", [episode_id]))


def _speaker_of(segments: list[dict], start: float, end: float) -> str | None:
    """Who the segments say speaks most of the time from `start` to `end`."""
    time: dict[str, float] = {}
    for s in segments:
        overlap = min(end, s["end"]) - max(start, s["start"])
        if overlap > 0:
            time[s["speaker"]] = time.get(s["speaker"], 0) + overlap
    return max(time, key=time.get) if time else None


def test_one_medical_labels_rob_stevenson_and_viet_nguyen_on_the_right_paragraphs(labelled):
    archive, db, summaries = labelled
    assert not summaries[0].failed and summaries[0].notice is None
    episode = _episode(db, "One Medical")
    segments = _segments(db, episode["id"])
    assert {s["speaker"] for s in segments} == {"Rob Stevenson", "Viet Nguyen"}
    script = next(e for e in load_sample().episodes if e.number == 3).script
    for line in script:  # every spoken line, by its exact times in the audio
        assert _speaker_of(segments, line.start, line.end) == line.speaker, line.text
    # The episode page's paragraphs: each is one speaker's, and the right one.
    rows = [(s["start"], s["end"], s["speaker"], s["text"]) for s in segments]
    for paragraph in passages(rows):
        middle = (paragraph["start"] + paragraph["end"]) / 2
        spoken = min(script, key=lambda line: abs((line.start + line.end) / 2 - middle))
        assert paragraph["speaker"] == spoken.speaker, paragraph["text"]
    # Of Whisper's words, nearly all carry the voice that said them.
    said = {s["speaker"]: 0.0 for s in segments}
    right = 0.0
    for s in segments:
        truth = _true_speaker(script, (s["start"] + s["end"]) / 2)
        right += (s["end"] - s["start"]) * (truth == s["speaker"])
        said[s["speaker"]] += s["end"] - s["start"]
    assert right / sum(said.values()) > 0.9


def _true_speaker(script, t: float) -> str:
    return min(script, key=lambda line: 0 if line.start <= t <= line.end else min(
        abs(t - line.start), abs(t - line.end))).speaker  # fmt: skip


def test_the_host_is_named_by_voice_where_the_feed_names_nobody(labelled, unnamed_show):
    archive, db, summaries = labelled
    assert summaries[1].labelled and not summaries[1].failed
    episode = _episode(db, "Your First Recruiter")
    segments = _segments(db, episode["id"])
    for (is_host, text), (start, end) in zip(UNNAMED_LINES, unnamed_show.spans, strict=True):
        expected = "Rob Stevenson" if is_host else "Speaker 2"
        assert _speaker_of(segments, start, end) == expected, text
    voices = {
        r["label"]: r["named_by"]
        for r in db.query("SELECT * FROM episode_voices WHERE episode_id = ?", [episode["id"]])
    }
    assert voices == {"Rob Stevenson": "voice print", "Speaker 2": "unknown"}
    # The print was learnt from the sample show's episodes, and this one refines it.
    [prints] = db.execute(
        "SELECT v.episodes FROM voice_prints v JOIN people p ON p.id = v.person_id"
        " WHERE p.name = 'Rob Stevenson'"
    ).fetchall()
    assert prints[0] >= 5


def test_publisher_speakers_stay_as_they_are(labelled):
    archive, db, _ = labelled
    episode = _episode(db, "Pay Ranges")
    assert episode["transcript_source"] == "publisher" and episode["speakers_status"] is None
    speakers = {s["speaker"] for s in _segments(db, episode["id"])}
    assert speakers == {"Rob Stevenson", "Laura Chen"}


def test_transcript_files_carry_the_speakers(labelled):
    archive, db, _ = labelled
    episode = _episode(db, "One Medical")
    stem = archive.transcripts_dir / episode["show_id"] / episode["id"]
    vtt = stem.with_suffix(".vtt").read_text()
    # The host opens the episode; the words of that first cue differ between CPUs (on one,
    # tiny.en keeps only the last sentence of the host's introduction).
    first_voice = vtt.split("<v ", 1)[1].split(">", 1)[0]
    assert first_voice == "Rob Stevenson" and "<v Viet Nguyen>" in vtt
    srt = stem.with_suffix(".srt").read_text()
    assert "\nRob Stevenson: " in srt and "\nViet Nguyen: " in srt
    document = json.loads(stem.with_suffix(".json").read_text())
    assert {s.get("speaker") for s in document["segments"]} == {"Rob Stevenson", "Viet Nguyen"}
    voices = document["podarchive"]["settings"]["speakers"]["voices"]
    assert {v["speaker"]: v["namedBy"] for v in voices} == {
        "Rob Stevenson": "voice print",  # learnt from the two episodes before
        "Viet Nguyen": "feed",
    }
    # Each segment's words lie inside it: splits fall on word boundaries.
    for s in document["segments"]:
        for w in s.get("words", []):
            assert s["startTime"] - 0.01 <= w["startTime"] and w["endTime"] <= s["endTime"] + 0.01


def test_search_by_speaker(labelled):
    archive, db, _ = labelled
    runner = CliRunner()
    by_guest = runner.invoke(
        cli, ["--archive", str(archive.root), "search", "reverse", "--speaker", "viet nguyen"]
    )
    assert by_guest.exit_code == 0, by_guest.output
    assert "One Medical's Reverse Interview" in by_guest.output
    assert "reverse" in by_guest.output.lower()
    by_host = runner.invoke(
        cli, ["--archive", str(archive.root), "search", "reverse", "--speaker", "Rob Stevenson"]
    )
    assert by_host.exit_code == 0 and "No passages match" in by_host.output


def test_datasette_facets_segments_by_speaker(labelled):
    archive, db, _ = labelled
    from ingest.datasette.serve import DATABASE_NAME, make_datasette

    client = make_datasette(archive).client
    facets = asyncio.run(client.get(f"/{DATABASE_NAME}/segments.json")).json()["facet_results"]
    counts = {row["value"]: row["count"] for row in facets["speaker"]["results"]}
    assert {"Rob Stevenson", "Viet Nguyen", "Laura Chen"} <= set(counts)  # Laura's: publisher
    view = asyncio.run(client.get(f"/{DATABASE_NAME}/episode_speakers.json?_shape=objects"))
    named_by = {(r["speaker"], r["named_by"]) for r in view.json()["rows"]}
    assert ("Viet Nguyen", "feed") in named_by and ("Rob Stevenson", "voice print") in named_by


def test_a_correction_survives_labelling_again(labelled):
    archive, db, _ = labelled
    episode = _episode(db, "Your First Recruiter")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--archive", str(archive.root), "speaker", episode["slug"], "Speaker 2", "Ada Quinn"]
    )
    assert result.exit_code == 0, result.output
    vtt = (archive.transcripts_dir / episode["show_id"] / f"{episode['id']}.vtt").read_text()
    assert "<v Ada Quinn>" in vtt and "Speaker 2" not in vtt
    wrong = runner.invoke(
        cli, ["--archive", str(archive.root), "speaker", episode["slug"], "Speaker 9", "X"]
    )
    assert wrong.exit_code == 1 and "no speaker 'Speaker 9'" in wrong.output

    again = runner.invoke(cli, ["--archive", str(archive.root), "diarize", "--redo"])
    assert again.exit_code == 0, again.output
    speakers = {s["speaker"] for s in _segments(db, episode["id"])}
    assert speakers == {"Rob Stevenson", "Ada Quinn"}
    one_medical = {s["speaker"] for s in _segments(db, _episode(db, "One Medical")["id"])}
    assert one_medical == {"Rob Stevenson", "Viet Nguyen"}


def test_names_in_the_config_file_apply_whenever_the_episode_is_labelled(labelled):
    archive, db, _ = labelled
    episode = _episode(db, "One Medical")
    config = archive.root / "podarchive.toml"
    names = '"Viet Nguyen" = "Viet Nguyen (One Medical)"'
    config.write_text(f"[speakers.{episode['slug']}]\n{names}\n")
    try:
        result = CliRunner().invoke(cli, ["--archive", str(archive.root), "diarize", "--redo"])
    finally:
        config.unlink()
    assert result.exit_code == 0, result.output
    speakers = {s["speaker"] for s in _segments(db, episode["id"])}
    assert speakers == {"Rob Stevenson", "Viet Nguyen (One Medical)"}
    vtt = (archive.transcripts_dir / episode["show_id"] / f"{episode['id']}.vtt").read_text()
    assert "<v Viet Nguyen (One Medical)>" in vtt


def test_without_the_extra_the_run_succeeds_unlabelled_with_one_notice(tmp_path, unnamed_show):
    root = tmp_path / "plain"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", BLOCK_THE_EXTRA, "--archive", str(root), "run", "--no-build"]
    result = subprocess.run(
        [*command, unnamed_show.url("/feed.xml")], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert output.count("speaker labels need the [speakers] extra") == 1
    assert "pip install 'podcast-archive[speakers]'" in output
    db = Archive.at(root).open_db()
    [(status, speakers, segments)] = db.execute(
        "SELECT e.transcript_status, count(s.speaker), count(s.id) FROM episodes e"
        " JOIN segments s ON s.episode_id = e.id"
    ).fetchall()
    assert (status, speakers) == ("done", 0) and segments > 0
