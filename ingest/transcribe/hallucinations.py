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

The other invention is a loop: on noisy speech (a phone line, two voices at once) tiny.en may
say one phrase over and over ("the main, the main, the main..." for 25 s). Whisper's own guard
is the gzip compression ratio of a window's text (above 2.4, decode again hotter), but the
batched pipeline decodes each piece once and keeps what it got, and a sequential decode that
loops at every temperature keeps the loop too. A loop is dropped here; its time is then speech
no segment covers, which gap recovery decodes again on its own (engine.recover_gaps). A long
segment of speech that ends in a loop ("... every job listing. We do. We do. We do.")
compresses like speech: its sentences are looked at as segments (split_loops).
"""

from __future__ import annotations

import zlib

from ingest.records import Segment, Word

NO_SPEECH_THRESHOLD = 0.6  # Whisper's default `no_speech_threshold`
# From openai-whisper's word_anomaly_score / is_segment_anomaly (whisper/transcribe.py).
LOW_PROBABILITY = 0.15
SHORTEST_WORD_S = 0.133
LONGEST_WORD_S = 2.0
ANOMALY_SCORE = 3.0
WORDS_SCORED = 8
# Whisper's default `compression_ratio_threshold`: text compressing more than this is a loop.
LOOP_COMPRESSION_RATIO = 2.4
# The same text this many segments in a row is a loop too ("We do." eleven times), cut into
# segments too short to compress.
LOOP_REPEATS = 3
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


def compression_ratio(text: str) -> float:
    """How much gzip shrinks `text`, as Whisper measures it (faster-whisper's
    get_compression_ratio): ordinary speech is under 2, a phrase said over and over above."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def loops(segments: list[Segment]) -> set[int]:
    """The indexes of segments that are a repetition loop: text that compresses like one, or
    the same words `LOOP_REPEATS` or more segments in a row."""
    looped = {
        n for n, s in enumerate(segments) if compression_ratio(s.text) > LOOP_COMPRESSION_RATIO
    }
    run_start = 0
    for n in range(1, len(segments) + 1):
        if n < len(segments) and _said(segments[n]) == _said(segments[run_start]):
            continue
        if n - run_start >= LOOP_REPEATS and _said(segments[run_start]):
            looped.update(range(run_start, n))
        run_start = n
    return looped


def is_loop(segments: list[Segment]) -> bool:
    """Whether a stretch's segments, read together, are one phrase over and over (each may
    be too short to compress, and differ in how many times it says the phrase)."""
    return compression_ratio(" ".join(s.text for s in segments)) > LOOP_COMPRESSION_RATIO


def _said(segment: Segment) -> str:
    return " ".join(w.strip(_PUNCTUATION).lower() for w in segment.text.split())


def split_hallucinations(segments: list[Segment]) -> tuple[list[Segment], list[Segment]]:
    """(segments to keep, segments dropped as hallucinations or loops)."""
    looped = loops(segments)
    kept: list[Segment] = []
    dropped: list[Segment] = []
    for n, segment in enumerate(segments):
        (dropped if n in looped or is_hallucination(segment) else kept).append(segment)
    return kept, dropped


def split_loops(segments: list[Segment]) -> tuple[list[Segment], list[Segment]]:
    """(segments to keep, segments dropped as loops): `loops` alone, for the sentences of one
    segment, whose words and no-speech marks belong to the segment they came from."""
    looped = loops(segments)
    kept = [s for n, s in enumerate(segments) if n not in looped]
    return kept, [s for n, s in enumerate(segments) if n in looped]
