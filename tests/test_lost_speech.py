"""No lost speech on a recording where tiny.en really loses some, with the real default engine.

Spoken in the sample show's voices, the interview "reaching people who are not looking" makes
tiny.en skip 20 s of speech and then time the skipped sentences over the next 8 s, whose own
words are lost. Gap recovery must decode both stretches, each once.
"""

from pathlib import Path

import pytest
import yaml

from bench.tag_eval import transcript_lines
from bench.wer import normalise, wer
from ingest.records import Segment
from ingest.sample import generate, load_sample
from ingest.transcribe import TranscribeOptions, get_transcriber
from ingest.transcribe import gaps as gap_finder

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
def test_skipped_and_mistimed_speech_is_decoded_again_once(interview):
    mp3, lines = interview
    spoken = " ".join(words for _, words in lines)
    guests = sorted({speaker for speaker, _ in lines if speaker != "Host"})
    engine = get_transcriber("faster-whisper", TranscribeOptions(language="en"))
    transcript = engine.transcribe(
        mp3, TranscribeOptions(language="en", vocabulary=[load_sample().title, *guests])
    )
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
