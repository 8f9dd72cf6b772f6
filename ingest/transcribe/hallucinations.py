"""Drop the words Whisper invents where nobody speaks ("Thank you.", "Thank you very much.").

At the end of an episode, or after music, Whisper often decodes a stock phrase from its
training subtitles. Such a segment is marked twice: the model itself rates the window as
probably silent (no-speech probability above Whisper's own threshold, 0.6), and its words
look unlike speech by the measure openai-whisper uses for its `hallucination_silence_threshold`
(`whisper.transcribe.word_anomaly_score`): improbable, squeezed into no time, or stretched
over seconds. Whisper's built-in rule also wants an average log-probability below -1.0, which
these phrases, learnt by heart, do not have (about -0.8 on the sample show).

Measured on the sample show, every episode ended in such a phrase with either engine. A
segment is dropped only when both marks hold, so real speech, whose words are timed and
probable, stays, and a transcript without word times is left as it is.
"""

from __future__ import annotations

from ingest.records import Segment, Word

NO_SPEECH_THRESHOLD = 0.6  # Whisper's default `no_speech_threshold`
# From openai-whisper's word_anomaly_score / is_segment_anomaly (whisper/transcribe.py).
LOW_PROBABILITY = 0.15
SHORTEST_WORD_S = 0.133
LONGEST_WORD_S = 2.0
ANOMALY_SCORE = 3.0
WORDS_SCORED = 8
_PUNCTUATION = "\"'“¿([{-\"'.。,，!！?？:：”)]}、"


def word_anomaly(word: Word) -> float:
    """How unlike a spoken word this one is: 0 for a probable word of ordinary length."""
    score = 0.0
    if word.probability is not None and word.probability < LOW_PROBABILITY:
        score += 1.0
    duration = word.end - word.start
    if duration < SHORTEST_WORD_S:
        score += (SHORTEST_WORD_S - duration) * 15
    if duration > LONGEST_WORD_S:
        score += duration - LONGEST_WORD_S
    return score


def is_anomalous(segment: Segment) -> bool:
    """Whether a segment's words, as openai-whisper scores them, look invented."""
    words = [w for w in segment.words if w.word.strip() not in _PUNCTUATION][:WORDS_SCORED]
    if not words:
        return False
    score = sum(word_anomaly(w) for w in words)
    return score >= ANOMALY_SCORE or score + 0.01 >= len(words)


def is_hallucination(segment: Segment) -> bool:
    """A segment the model itself thinks silent, whose words are anomalous."""
    return (segment.no_speech_prob or 0.0) > NO_SPEECH_THRESHOLD and is_anomalous(segment)


def split_hallucinations(segments: list[Segment]) -> tuple[list[Segment], list[Segment]]:
    """(segments to keep, segments dropped as hallucinations)."""
    kept: list[Segment] = []
    dropped: list[Segment] = []
    for segment in segments:
        (dropped if is_hallucination(segment) else kept).append(segment)
    return kept, dropped
