"""Phrases Whisper invents where nobody speaks are dropped; real speech never is."""

import pytest

from bench.wer import normalise
from ingest.records import Segment, Word
from ingest.sample import load_sample
from ingest.transcribe import TranscribeOptions, get_transcriber
from ingest.transcribe.hallucinations import is_hallucination, split_hallucinations


def _segment(no_speech: float, words: list[tuple[str, float, float, float]]) -> Segment:
    return Segment(
        start=words[0][1],
        end=words[-1][2],
        text="".join(w[0] for w in words).strip(),
        avg_logprob=-0.8,  # above Whisper's -1.0: its own rule would keep these
        no_speech_prob=no_speech,
        words=[Word(start, end, word, p) for word, start, end, p in words],
    )


# As tiny.en decoded the end of sample episode 1: zero-length, improbable words.
INVENTED = _segment(
    0.88,
    [
        (" Thank", 53.26, 53.26, 0.018),
        (" you", 53.26, 53.26, 0.98),
        (" very", 53.26, 53.32, 0.13),
        (" much.", 53.32, 53.32, 0.99),
    ],
)
SPOKEN = _segment(
    0.22,
    [(" in", 52.26, 52.54, 0.997), (" one", 52.54, 52.82, 0.98), (" afternoon.", 52.82, 53.26, 1)],
)


def test_a_silent_window_with_anomalous_words_is_dropped():
    assert is_hallucination(INVENTED)
    kept, dropped = split_hallucinations([SPOKEN, INVENTED])
    assert (kept, dropped) == ([SPOKEN], [INVENTED])


def test_speech_is_kept_even_when_the_model_doubts_the_window():
    doubted = _segment(0.9, [(w.word, w.start, w.end, w.probability) for w in SPOKEN.words])
    assert not is_hallucination(doubted)


def test_anomalous_words_in_a_window_with_speech_are_kept():
    confident = _segment(0.1, [(w.word, w.start, w.end, w.probability) for w in INVENTED.words])
    assert not is_hallucination(confident)


def test_a_segment_without_word_times_is_left_alone():
    bare = Segment(53.26, 53.32, "Thank you very much.", no_speech_prob=0.95, avg_logprob=-0.8)
    assert not is_hallucination(bare)


@pytest.mark.asr
@pytest.mark.slow
def test_the_real_engine_drops_the_thank_you_at_the_end_of_an_episode():
    """tiny.en ends sample episode 1 with "Thank you very much. Thank you." when it is
    given the show's names, on some CPUs (not on every one: Whisper's output differs between
    them); the transcript ends with what was said, and what it dropped is that phrase. The
    tests above hold the filter to its cases on fixed segments."""
    show = load_sample()
    episode = show.episodes[0]
    names = [show.title, show.host, episode.guests[0].name, episode.guests[0].company]
    # In sequence (batch 1), as Whisper decodes a window with the text before it as its prompt:
    # that is where tiny.en hears the closing "thank you" (batched pieces, decoded each on
    # its own, do not), so the filter has something to drop.
    engine = get_transcriber("faster-whisper", TranscribeOptions(language="en", batch_size=1))
    transcript = engine.transcribe(
        episode.audio_path, TranscribeOptions(language="en", vocabulary=names)
    )
    dropped = transcript.settings["hallucinations_dropped"]
    assert all("thank" in normalise(text) for _, _, text in dropped)
    assert normalise(transcript.text)[-2:] == normalise(episode.spoken_text)[-2:]
