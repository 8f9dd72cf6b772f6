"""Transcript files: Podcasting 2.0 JSON round-trip, VTT/SRT/TXT output, atomic and validated."""

import json

import pytest

from bench.wer import normalise, wer
from ingest import fileio
from ingest.records import Segment, Transcript, Word
from ingest.transcribe import files
from ingest.transcribe.publisher import parse_srt, parse_vtt


def sample_transcript() -> Transcript:
    return Transcript(
        segments=[
            Segment(
                0.0,
                2.5,
                "Welcome to <the> show & more.",
                speaker="Rob Stevenson",
                avg_logprob=-0.2,
                no_speech_prob=0.01,
                words=[Word(0.0, 0.5, " Welcome", 0.9), Word(0.5, 0.7, " to", 0.95)],
            ),
            Segment(2.5, 3661.25, "Thanks --> for having me.", speaker="Ana <Guest>"),
            Segment(3661.25, 3662.0, "Untagged line\nwith a break."),
        ],
        language="en",
        source="asr",
        engine="faster-whisper",
        model="tiny.en",
        settings={"beam_size": 5, "gaps_remaining": [[10.0, 12.5]]},
        duration=3662.0,
    )


def test_json_round_trip_keeps_everything(tmp_path):
    transcript = sample_transcript()
    path = files.write_transcript(tmp_path, "ttm", "abc123", transcript)
    assert path == tmp_path / "ttm" / "abc123.json"
    data = json.loads(path.read_text())
    # The Podcasting 2.0 shape: version and segments of startTime/endTime/body/speaker.
    assert data["version"] == "1.0.0"
    assert data["segments"][0]["startTime"] == 0.0
    assert data["segments"][0]["body"] == "Welcome to <the> show & more."
    assert data["segments"][0]["speaker"] == "Rob Stevenson"
    assert "speaker" not in data["segments"][2]
    assert files.read_transcript(path, "abc123") == transcript


def test_all_formats_written_and_no_temp_files_left(tmp_path):
    files.write_transcript(tmp_path, "ttm", "abc123", sample_transcript())
    names = sorted(p.name for p in (tmp_path / "ttm").iterdir())
    assert names == ["abc123.json", "abc123.srt", "abc123.txt", "abc123.vtt"]


def test_vtt_escapes_text_and_names_speakers(tmp_path):
    vtt = files.to_vtt(sample_transcript())
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n")
    assert "<v Rob Stevenson>Welcome to &lt;the&gt; show &amp; more." in vtt
    assert "<v Ana &lt;Guest&gt;>Thanks --&gt; for having me." in vtt
    assert "01:01:01.250 --> 01:01:02.000\nUntagged line with a break." in vtt
    # Our own parser reads it back with speakers and the original text.
    cues = parse_vtt(vtt)
    assert [(c.speaker, c.text) for c in cues] == [
        ("Rob Stevenson", "Welcome to <the> show & more."),
        ("Ana <Guest>", "Thanks --> for having me."),
        (None, "Untagged line with a break."),
    ]
    assert cues[1].end == pytest.approx(3661.25)


def test_srt_and_txt(tmp_path):
    srt = files.to_srt(sample_transcript())
    assert srt.startswith("1\n00:00:00,000 --> 00:00:02,500\nRob Stevenson: Welcome")
    assert "3\n01:01:01,250 --> 01:01:02,000\nUntagged line with a break.\n" in srt
    assert [c.start for c in parse_srt(srt)] == [0.0, 2.5, 3661.25]
    txt = files.to_txt(sample_transcript())
    assert txt.splitlines()[0] == "Rob Stevenson: Welcome to <the> show & more."
    assert normalise(txt) == normalise(
        "Rob Stevenson: "
        + sample_transcript().segments[0].text
        + " Ana <Guest>: "
        + sample_transcript().segments[1].text
        + " "
        + sample_transcript().segments[2].text
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # cut short
        lambda text: text.replace('"startTime": 2.5', '"startTime": "soon"'),
        lambda text: text.replace('"podarchive"', '"other"'),
        lambda text: "",
    ],
)
def test_damaged_json_is_not_whole(tmp_path, damage):
    path = files.write_transcript(tmp_path, "ttm", "abc123", sample_transcript())
    path.write_text(damage(path.read_text()))
    with pytest.raises(files.TranscriptFileError, match="abc123.json"):
        files.read_transcript(path)
    assert files.read_whole(tmp_path, "ttm", "abc123") is None


def test_missing_companion_file_means_not_whole(tmp_path):
    files.write_transcript(tmp_path, "ttm", "abc123", sample_transcript())
    assert files.read_whole(tmp_path, "ttm", "abc123") is not None
    (tmp_path / "ttm" / "abc123.vtt").unlink()
    assert files.read_whole(tmp_path, "ttm", "abc123") is None


def test_json_of_another_episode_is_refused(tmp_path):
    path = files.write_transcript(tmp_path, "ttm", "abc123", sample_transcript())
    with pytest.raises(files.TranscriptFileError, match="another episode"):
        files.read_transcript(path, "def456")


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", "UPPER", ".hidden"])
def test_ids_never_become_arbitrary_paths(tmp_path, bad):
    with pytest.raises(ValueError):
        files.transcript_paths(tmp_path, bad, "abc123")
    with pytest.raises(ValueError):
        files.transcript_paths(tmp_path, "ttm", bad)


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = files.write_transcript(tmp_path, "ttm", "abc123", sample_transcript())
    before = path.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    changed = sample_transcript()
    changed.segments[0].text = "Different"
    with pytest.raises(OSError):
        files.write_transcript(tmp_path, "ttm", "abc123", changed)
    assert path.read_text() == before
    assert not [p for p in (tmp_path / "ttm").iterdir() if p.name.startswith(".")]


def test_wer_counts_word_edits():
    assert wer("the cat sat on the mat", "the cat sat on the mat") == 0.0
    assert wer("the cat sat on the mat", "The cat, sat on a mat!") == pytest.approx(1 / 6)
    assert wer("twenty percent of hires", "20% of hires") == 0.0
    assert wer("one two three", "") == 1.0
    # Whisper writes American spellings: a script's British ones are not errors.
    assert wer("my favourite recruiter realised it", "My favorite recruiter realized it.") == 0.0
    assert wer("a flavour", "a favour") == pytest.approx(1 / 2)
