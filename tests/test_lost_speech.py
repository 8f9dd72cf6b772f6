"""No lost speech on a recording where tiny.en really loses some, with the real default engine.

Spoken in the sample show's voices, the interview "reaching people who are not looking" makes
tiny.en skip 20 s of speech and then time the skipped sentences over the next 8 s, whose own
words are lost. Gap recovery must decode both stretches, each once.
"""

from pathlib import Path

import numpy as np
import pytest
import yaml

from bench.tag_eval import transcript_lines
from bench.wer import normalise, wer
from ingest.records import Segment
from ingest.sample import generate, load_sample
from ingest.transcribe import TranscribeOptions, get_transcriber
from ingest.transcribe import gaps as gap_finder
from ingest.transcribe.engine import SAMPLE_RATE, WhisperEngine

INTERVIEW = (
    Path(__file__).parent / "fixtures" / "tag_eval" / "reaching_people_who_are_not_looking.yaml"
)


@pytest.fixture(scope="module")
def interview(tmp_path_factory) -> tuple[Path, list[tuple[str, str]]]:
    """The interview as the show's MP3, and its (speaker, words) lines."""
    folder = tmp_path_factory.mktemp("interview")
    text = yaml.safe_load(INTERVIEW.read_text(encoding="utf-8"))["transcript"]
    lines = [
        (speaker or "Host", " ".join(words.split())) for speaker, words in transcript_lines(text)
    ]
    wav = folder / "interview.wav"
    generate.speak_lines([(speaker == "Host", words) for speaker, words in lines], wav, folder)
    mp3 = folder / "interview.mp3"
    generate.encode_mp3(wav, mp3)
    return mp3, lines


def _count(phrase: str, text: str) -> int:
    words, wanted = normalise(text), normalise(phrase)
    return sum(words[i : i + len(wanted)] == wanted for i in range(len(words)))


@pytest.mark.asr
@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [1, TranscribeOptions.batch_size])
def test_skipped_and_mistimed_speech_is_decoded_again_once(interview, batch_size):
    """Decoded in one sequence (batch 1), tiny.en skips speech here and recovery repairs it;
    the default's batches decode each VAD piece on its own, and must hold the same words."""
    mp3, lines = interview
    spoken = " ".join(words for _, words in lines)
    guests = sorted({speaker for speaker, _ in lines if speaker != "Host"})
    options = TranscribeOptions(language="en", batch_size=batch_size)
    engine = get_transcriber("faster-whisper", options)
    transcript = engine.transcribe(
        mp3, TranscribeOptions(language="en", vocabulary=[load_sample().title, *guests])
    )
    if batch_size == 1:
        assert transcript.settings["gaps_found"], "tiny.en no longer skips speech here"
    assert transcript.settings["gaps_remaining"] == []
    text = transcript.text
    # The sentence Whisper skipped, then timed too late, is there once, not twice...
    assert _count("where do you find them in the first place", text) == 1
    # ...and the sentence it hid is there at all.
    assert _count("half of my hires this year came from someone i first wrote", text) == 1
    assert wer(spoken, text) < 0.15
    # Re-decoded text reads like the rest: the names' Title Case does not leak into it.
    titled = [s for s in transcript.segments if len(s.text.split()) > 4 and s.text.istitle()]
    assert titled == []


def test_a_segment_repeating_a_nearby_gap_is_found():
    late = Segment(50.3, 58.6, "might care about this particular problem. Where do you find them?")
    elsewhere = Segment(200.0, 205.0, "Where do you find them in the first place, then?")
    own = Segment(21.0, 29.9, "So I read their open source work and their talks.")
    found = [
        Segment(30.1, 33.2, "might care about this particular problem."),
        Segment(33.7, 36.5, "Where do you find them in the first place?"),
    ]
    assert gap_finder.repeated_by([own, late, elsewhere], found) == [late]
    # A short segment repeats by chance and is never taken for the gap's speech.
    assert gap_finder.repeated_by([Segment(40.0, 41.0, "Where do you")], found) == []


class _LateInLongClips(WhisperEngine):
    """A model that hears every word but, in a clip longer than one 30 s window, times them all
    in the clip's last 6 s, as tiny.en did over a 35 s gap; in a shorter clip it times each
    word where it is said. The audio's samples are their own times, so a clip knows where it
    starts."""

    name = "late-in-long-clips"
    cpu_threads = 1
    gap_beam_size = 1
    options = TranscribeOptions(language="en")
    # (word, time said): two sentences over 35 s of speech, a word every 2.5 s
    first = ["so", "the", "first", "one", "is", "said", "right", "here"]
    second = ["and", "the", "second", "one", "ends", "it"]
    spoken = [
        *((word, 1.0 + 2.5 * i) for i, word in enumerate(first)),
        *((word, 21.0 + 2.5 * i) for i, word in enumerate(second)),
    ]

    def _decode(self, audio, opts, speech_chunks=None, **overrides):
        start, seconds = float(audio[0]), len(audio) / SAMPLE_RATE
        heard = [(w, t - start) for w, t in self.spoken if start <= t < start + seconds]
        if not heard:
            return [], "en", {}
        if seconds > 30:
            return [Segment(seconds - 6, seconds, " ".join(w for w, _ in heard))], "en", {}
        sentences = [[(w, t) for w, t in heard if (t + start < 20) == first] for first in (1, 0)]
        return (
            [
                Segment(
                    max(0.0, words[0][1] - 0.5), words[-1][1] + 0.5, " ".join(w for w, _ in words)
                )
                for words in sentences
                if words
            ],
            "en",
            {},
        )


def test_a_gap_filled_only_at_its_end_is_decoded_again_on_what_is_left():
    audio = (np.arange(36 * SAMPLE_RATE) / SAMPLE_RATE).astype(np.float32)
    speech = [gap_finder.Gap(0.5, 35.5)]
    engine = _LateInLongClips()
    segments, found, remaining = engine.recover_gaps(audio, speech, [], engine.options, "en")
    assert remaining == []
    assert len(found) >= 2  # the whole gap, then the part its first decode left empty
    words = " ".join(s.text for s in segments).split()
    assert words == [w for w, _ in _LateInLongClips.spoken]  # every word once, in order
    assert all(a.end <= b.start for a, b in zip(segments, segments[1:], strict=False))
