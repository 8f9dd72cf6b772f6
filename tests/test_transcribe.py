"""Transcription with the real default engine (faster-whisper, tiny.en) on the sample show.

The sample show is fetched and downloaded over real HTTP, then transcribed once per session;
tests that change the archive work on a copy of it. Tests of what surrounds Whisper (publisher
transcripts, --force-asr, resuming, re-indexing, a missing model) start from the same archive
transcribed by the fake transcriber instead.
"""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench.wer import wer
from ingest.archive import Archive
from ingest.cli import cli
from ingest.records import Segment
from ingest.sample import load_sample, spoken_text
from ingest.sample.server import start_sample_server
from ingest.store import shows
from ingest.store import transcripts as transcript_store
from ingest.transcribe import (
    EngineUnavailableError,
    TranscribeOptions,
    get_transcriber,
)
from ingest.transcribe import gaps as gap_finder
from ingest.transcribe.files import read_transcript
from ingest.transcribe.step import TranscribeSummary, transcribe_episodes
from ingest.transcribe.stream import decoded_blocks
from tests.fake_transcriber import FakeTranscriber

MAX_WER = 0.15  # tiny.en on espeak-ng speech (the bar)


@pytest.fixture(scope="session")
def engine():
    """The engine as `podarchive transcribe` builds it (tiny.en, no word timestamps), once."""
    return get_transcriber("faster-whisper", TranscribeOptions(word_timestamps=False))


def archive_sample_show(root: Path, make_transcriber) -> tuple[Archive, TranscribeSummary]:
    """The sample show fetched, downloaded and transcribed into `root` (files + database)."""
    server = start_sample_server()
    try:
        for command in (["fetch", server.feed_url], ["download"]):
            result = CliRunner().invoke(cli, ["--archive", str(root), *command])
            assert result.exit_code == 0, result.output
        archive = Archive.at(root)
        db = archive.open_db()
        summary = transcribe_episodes(archive, db, make_transcriber=make_transcriber)
    finally:
        server.stop()
    return archive, summary


@pytest.fixture(scope="session")
def transcribed(engine, tmp_path_factory):
    """An archive of the sample show transcribed by Whisper."""
    return archive_sample_show(tmp_path_factory.mktemp("transcribed") / "archive", lambda: engine)


@pytest.fixture(scope="session")
def fake_transcribed(tmp_path_factory):
    """An archive of the sample show transcribed by the fake transcriber."""
    root = tmp_path_factory.mktemp("fake-transcribed") / "archive"
    return archive_sample_show(root, FakeTranscriber().load)


def copy_of(transcribed, tmp_path) -> Archive:
    archive, _ = transcribed
    shutil.copytree(archive.root, tmp_path / "copy")
    return Archive.at(tmp_path / "copy")


def episode_rows(db) -> dict[str, dict]:
    """Sample guid -> episode row."""
    return {row["guid"]: row for row in shows.list_episodes(db)}


@pytest.mark.asr
@pytest.mark.slow
def test_every_sample_episode_is_transcribed_within_wer(transcribed):
    archive, summary = transcribed
    db = archive.open_db()
    assert summary.failed == []
    sample = load_sample()
    rows = episode_rows(db)
    asr = [e for e in sample.episodes if not e.has_transcript]
    assert asr and summary.count("asr") == len(asr)
    for episode in asr:
        row = rows[episode.guid]
        assert row["transcript_status"] == "done"
        assert (row["transcript_source"], row["transcript_engine"]) == ("asr", "faster-whisper")
        assert (row["transcript_model"], row["transcript_language"]) == ("tiny.en", "en")
        path = archive.transcripts_dir / row["show_id"] / f"{row['id']}.json"
        transcript = read_transcript(path, row["id"])
        error = wer(spoken_text(episode.guid), transcript.text)
        assert error < MAX_WER, f"episode {episode.number}: WER {error:.1%}"
        # The database holds the same segments as the file.
        stored = transcript_store.segments_of(db, row["id"])
        assert [s["text"] for s in stored] == [s.text for s in transcript.segments]
        assert transcript.settings["gaps_remaining"] == []


@pytest.mark.asr
@pytest.mark.slow
def test_segments_carry_times_and_scores(transcribed):
    archive, _ = transcribed
    db = archive.open_db()
    first = load_sample().episodes[0]
    row = episode_rows(db)[first.guid]
    transcript = read_transcript(archive.transcripts_dir / row["show_id"] / f"{row['id']}.json")
    assert transcript.duration == pytest.approx(first.duration, abs=0.5)
    previous_end = 0.0
    for segment in transcript.segments:
        assert segment.start < segment.end <= transcript.duration + 0.5
        assert segment.start >= previous_end - 0.01
        previous_end = segment.end
        assert segment.avg_logprob is not None and segment.avg_logprob < 0
        assert 0 <= segment.no_speech_prob <= 1
        assert segment.words == []  # word timestamps are off unless asked for
    # The show's names reach the engine (hotwords), and the guest's name is spelled right.
    assert first.guests[0].name in " ".join(transcript.settings["hotwords"].split(", "))
    assert first.guests[0].name in transcript.text


@pytest.mark.asr
@pytest.mark.slow
def test_word_timestamps_when_asked():
    episode = load_sample().episodes[1]
    with_words = get_transcriber("faster-whisper", TranscribeOptions(word_timestamps=True))
    transcript = with_words.transcribe(episode.audio_path)
    assert wer(episode.spoken_text, transcript.text) < MAX_WER
    for segment in transcript.segments:
        assert segment.words
        assert "".join(w.word for w in segment.words).strip() == segment.text
        for word in segment.words:
            assert segment.start - 0.01 <= word.start <= word.end <= segment.end + 0.01
            assert 0 <= word.probability <= 1
    # Long segments are split at sentence ends using the word times.
    assert max(len(s.words) for s in transcript.segments) <= 30


def test_publisher_vtt_is_used_with_its_speakers(fake_transcribed):
    archive, summary = fake_transcribed
    db = archive.open_db()
    (episode,) = [e for e in load_sample().episodes if e.has_transcript]
    row = episode_rows(db)[episode.guid]
    assert summary.count("publisher") == 1
    assert (row["transcript_source"], row["transcript_engine"]) == ("publisher", None)
    segments = transcript_store.segments_of(db, row["id"])
    assert [s["speaker"] for s in segments] == [line.speaker for line in episode.script]
    assert wer(episode.spoken_text, " ".join(s["text"] for s in segments)) == 0
    vtt = (archive.transcripts_dir / row["show_id"] / f"{row['id']}.vtt").read_text()
    assert f"<v {episode.script[1].speaker}>" in vtt


def test_force_asr_transcribes_an_episode_with_a_publisher_transcript(
    fake_transcribed, fake_transcriber, tmp_path
):
    archive = copy_of(fake_transcribed, tmp_path)
    db = archive.open_db()
    (episode,) = [e for e in load_sample().episodes if e.has_transcript]

    result = transcribe_episodes(
        archive, db, force_asr=True, make_transcriber=fake_transcriber.load
    )

    assert [r.status for r in result.results] == ["asr"]
    row = episode_rows(db)[episode.guid]
    assert fake_transcriber.audio_names == [Path(row["audio_path"]).name]
    assert (row["transcript_source"], row["transcript_engine"]) == ("asr", "fake")
    segments = transcript_store.segments_of(db, row["id"])
    assert {s["speaker"] for s in segments} == {None}  # the publisher's speakers are gone
    assert " ".join(s["text"] for s in segments) == episode.spoken_text


def test_malformed_publisher_file_falls_back_to_asr(
    fake_transcribed, fake_transcriber, tmp_path, local_server
):
    archive = copy_of(fake_transcribed, tmp_path)
    db = archive.open_db()
    (episode,) = [e for e in load_sample().episodes if e.has_transcript]
    row = episode_rows(db)[episode.guid]
    local_server.serve_bytes("/broken.vtt", b"WEBVTT\n\n00:01.000 --> later\nHi\n", "text/vtt")
    db["episode_transcript_links"].delete_where("episode_id = ?", [row["id"]])
    db["episode_transcript_links"].insert(
        {"episode_id": row["id"], "url": local_server.url("/broken.vtt"), "type": "text/vtt"}
    )
    transcript_store.clear_transcript(db, row["id"])
    for path in (archive.transcripts_dir / row["show_id"]).glob(f"{row['id']}.*"):
        path.unlink()

    result = transcribe_episodes(archive, db, make_transcriber=fake_transcriber.load)

    assert [r.status for r in result.results] == ["asr"]
    assert fake_transcriber.audio_names == [Path(row["audio_path"]).name]
    saved = read_transcript(archive.transcripts_dir / row["show_id"] / f"{row['id']}.json")
    assert saved.source == "asr"
    assert "broken.vtt: bad cue timing" in saved.settings["publisher_errors"][0]
    assert wer(episode.spoken_text, saved.text) < MAX_WER


@pytest.mark.asr
@pytest.mark.slow
def test_corrupt_audio_fails_clearly_silent_audio_is_done_and_the_run_goes_on(
    transcribed, tmp_path
):
    archive = copy_of(transcribed, tmp_path)
    db = archive.open_db()
    rows = [r for r in episode_rows(db).values() if r["transcript_source"] == "asr"]
    corrupt, silent, good = rows[0], rows[1], rows[2]
    (archive.root / corrupt["audio_path"]).write_bytes(os.urandom(40_000))
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=22050:cl=mono",
            "-t",
            "8",
            "-c:a",
            "libmp3lame",
            str(archive.root / silent["audio_path"]),
        ],
        check=True,
    )
    for row in (corrupt, silent, good):
        transcript_store.clear_transcript(db, row["id"])
        for path in (archive.transcripts_dir / row["show_id"]).glob(f"{row['id']}.*"):
            path.unlink()

    result = CliRunner().invoke(cli, ["--archive", str(archive.root), "transcribe"])

    assert result.exit_code == 1
    # Plain progress lines off a terminal: audio minutes and the real-time factor.
    assert "x real time); total" in result.stdout
    assert (
        "1 transcribed, 0 from publisher transcripts, 0 re-imported from files, 1 failed, "
        "1 without speech" in result.stdout
    )
    after = episode_rows(db)
    assert after[good["guid"]]["transcript_status"] == "done"
    # Music or silence is an episode done without words, not a failure.
    quiet = after[silent["guid"]]
    assert quiet["transcript_status"] == "done" and quiet["transcript_error"] is None
    assert quiet["transcript_note"] == "no speech: music or silence"
    assert transcript_store.segments_of(db, silent["id"]) == []
    assert read_transcript(
        archive.transcripts_dir / silent["show_id"] / f"{silent['id']}.json"
    ).no_speech == ("no speech: music or silence")
    assert silent["id"] not in result.stderr
    for row, message in ((corrupt, "cannot decode audio file"),):
        stored = after[row["guid"]]
        assert stored["transcript_status"] == "failed"
        assert message in stored["transcript_error"]
        assert Path(row["audio_path"]).name in stored["transcript_error"]
        assert message in result.stderr and row["id"] in result.stderr
        assert transcript_store.segments_of(db, row["id"]) == []
        assert not list((archive.transcripts_dir / row["show_id"]).glob(f"{row['id']}.*"))
    # Failed episodes are not retried until their audio changes.
    again = CliRunner().invoke(cli, ["--archive", str(archive.root), "transcribe"])
    assert again.exit_code == 0 and "0 transcribed" in again.stdout


def test_reindex_rebuilds_the_same_segments_from_files(fake_transcribed, tmp_path):
    archive = copy_of(fake_transcribed, tmp_path)
    db = archive.open_db()
    columns = (
        "id, transcript_status, transcript_source, transcript_engine, transcript_model, "
        "transcript_language"
    )

    def snapshot():
        return (
            [dict(r) for r in db.query("SELECT * FROM segments ORDER BY episode_id, idx")],
            [dict(r) for r in db.query(f"SELECT {columns} FROM episodes ORDER BY id")],
            [
                r[0]
                for r in db.execute(
                    "SELECT rowid FROM segments_fts WHERE segments_fts MATCH 'interview'"
                )
            ],
        )

    before = snapshot()
    assert before[0] and before[2]
    for row in episode_rows(db).values():
        transcript_store.clear_transcript(db, row["id"])
    assert db["segments"].count == 0

    result = CliRunner().invoke(cli, ["--archive", str(archive.root), "reindex"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{len(load_sample().episodes)} transcripts imported")
    after = snapshot()
    strip_ids = lambda rows: [{k: v for k, v in r.items() if k != "id"} for r in rows]  # noqa: E731
    assert strip_ids(after[0]) == strip_ids(before[0])
    assert after[1] == before[1]
    assert len(after[2]) == len(before[2])


def test_killed_run_resumes_without_transcribing_whole_files_again(
    fake_transcribed, fake_transcriber, tmp_path
):
    archive = copy_of(fake_transcribed, tmp_path)
    db = archive.open_db()
    rows = list(episode_rows(db).values())
    # As if killed after the files were written but before the database was: no status at all.
    for row in rows:
        transcript_store.clear_transcript(db, row["id"])
    # And killed in the middle of one episode: its JSON (written last) is missing.
    interrupted = next(r for r in rows if r["transcript_source"] != "publisher")
    stem = archive.transcripts_dir / interrupted["show_id"] / interrupted["id"]
    stem.with_suffix(".json").unlink()
    stem.with_suffix(".txt").write_text("cut short")  # the text file the kill left half written

    summary = transcribe_episodes(archive, db, make_transcriber=fake_transcriber.load)

    assert fake_transcriber.audio_names == [Path(interrupted["audio_path"]).name]
    assert summary.count("resumed") == len(rows) - 1
    assert all(r["transcript_status"] == "done" for r in episode_rows(db).values())
    first_line = load_sample().episode(interrupted["guid"]).script[0].text
    assert transcript_store.segments_of(db, interrupted["id"])[0]["text"] == first_line
    assert stem.with_suffix(".txt").read_text().startswith(first_line)  # every file rewritten


@pytest.mark.asr
@pytest.mark.slow
def test_speech_the_decoder_skipped_is_found_and_decoded_again(transcribed, engine):
    episode = load_sample().episodes[2]
    audio = np.concatenate(list(decoded_blocks(episode.audio_path)))
    speech = gap_finder.speech_spans(audio)
    full = engine.transcribe(episode.audio_path, TranscribeOptions(language="en"))
    # Drop the middle third of the segments, as Whisper sometimes does on its own.
    third = len(full.segments) // 3
    kept = full.segments[:third] + full.segments[2 * third :]
    dropped = full.segments[third : 2 * third]
    gaps = gap_finder.find_gaps(speech, kept)
    assert len(gaps) == 1
    assert gaps[0].start <= dropped[0].start + 0.5 and gaps[0].end >= dropped[-1].end - 0.5

    segments, found, remaining = engine.recover_gaps(audio, speech, kept, engine.options, "en")

    assert found == gaps and remaining == []
    recovered = " ".join(s.text for s in segments if s not in kept)
    assert wer(" ".join(s.text for s in dropped), recovered) < MAX_WER


def test_gap_finder_ignores_pauses_and_merges_nearby_pieces():
    speech = [gap_finder.Gap(0.0, 10.0), gap_finder.Gap(12.0, 30.0)]
    segments = [
        Segment(0.1, 4.0, "a"),
        Segment(4.5, 9.9, "b"),
        Segment(12.2, 15.0, "c"),
        Segment(25.0, 29.5, "d"),
        Segment(16.0, 17.0, " "),
    ]
    assert gap_finder.find_gaps(speech, segments) == [gap_finder.Gap(15.4, 24.6)]
    assert gap_finder.find_gaps(speech, []) == speech


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(EngineUnavailableError, match="faster-whisper, openai-whisper"):
        get_transcriber("whisper.cpp")


def test_a_missing_model_stops_the_run_without_failing_episodes(fake_transcribed, tmp_path):
    archive = copy_of(fake_transcribed, tmp_path)
    db = archive.open_db()
    row = next(r for r in episode_rows(db).values() if r["transcript_source"] == "asr")
    transcript_store.clear_transcript(db, row["id"])
    for path in (archive.transcripts_dir / row["show_id"]).glob(f"{row['id']}.*"):
        path.unlink()

    result = CliRunner().invoke(
        cli, ["--archive", str(archive.root), "transcribe", "--model", "large-v9"]
    )

    assert result.exit_code == 1
    assert "Whisper model 'large-v9' is not on this machine" in result.stderr
    after = shows.get_episode(db, row["id"])
    assert (after["transcript_status"], after["transcript_error"]) == (None, None)


def test_names_reach_the_prompt_as_one_sentence():
    """Both engines prompt each window with the names, then the text said before it: a full
    stop keeps that text from reading as one more name."""
    from ingest.transcribe.faster import MAX_HOTWORDS_CHARS, hotwords

    assert hotwords(["Talk Talent To Me", "Yuki"]) == "Talk Talent To Me, Yuki."
    assert hotwords([]) is None
    many = hotwords([f"Guest {n}" for n in range(100)])
    assert len(many) <= MAX_HOTWORDS_CHARS and many.endswith("Guest 30.")
