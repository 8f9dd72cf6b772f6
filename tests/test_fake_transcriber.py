"""The fake transcriber keeps the Transcriber contract the tests that use it rely on."""

import shutil
import subprocess

import pytest

from ingest.sample import load_sample
from ingest.transcribe import TranscribeOptions, TranscriptionError
from tests.fake_transcriber import FIXED_SENTENCE


def test_a_sample_episode_gives_its_script_at_the_spoken_times(fake_transcriber, tmp_path):
    episode = load_sample().episodes[2]
    copy = tmp_path / "downloaded.mp3"  # as the archive stores it: same bytes, another name
    shutil.copyfile(episode.audio_path, copy)
    options = TranscribeOptions(language="en", vocabulary=["One Medical"])

    transcript = fake_transcriber.transcribe(copy, options)

    assert [s.text for s in transcript.segments] == [line.text for line in episode.script]
    assert transcript.text == episode.spoken_text
    assert transcript.duration == pytest.approx(episode.duration, abs=0.1)
    previous_end = 0.0
    for segment in transcript.segments:
        assert previous_end <= segment.start < segment.end <= transcript.duration
        previous_end = segment.end
    assert (transcript.source, transcript.engine, transcript.language) == ("asr", "fake", "en")
    [call] = fake_transcriber.calls
    assert (call.audio_path, call.options, call.transcript) == (copy, options, transcript)
    assert fake_transcriber.audio_names == ["downloaded.mp3"]


def test_other_audio_gives_one_fixed_sentence_and_bad_audio_an_error(fake_transcriber, tmp_path):
    tone = tmp_path / "tone.mp3"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3"]
        + ["-c:a", "libmp3lame", str(tone)],
        check=True,
    )
    transcript = fake_transcriber.load().transcribe(tone)
    [segment] = transcript.segments
    assert segment.text == FIXED_SENTENCE
    assert segment.start == 0 and segment.end == transcript.duration == pytest.approx(3, abs=0.1)
    assert fake_transcriber.loads == 1

    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"\x00not audio" * 1000)
    with pytest.raises(TranscriptionError, match="cannot decode audio file corrupt.mp3"):
        fake_transcriber.transcribe(corrupt)
    with pytest.raises(TranscriptionError, match="does not exist"):
        fake_transcriber.transcribe(tmp_path / "missing.mp3")
    assert fake_transcriber.audio_names == ["tone.mp3", "corrupt.mp3", "missing.mp3"]
    assert [call.transcript for call in fake_transcriber.calls[1:]] == [None, None]
