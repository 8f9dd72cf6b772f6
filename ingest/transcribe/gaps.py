"""No lost speech: find stretches where the audio has speech but the transcript has none.

Whisper's beam search with temperature fallback can drop whole paragraphs without a trace
(a window decodes to a timestamp jump). Voice activity detection (Silero, shipped with
faster-whisper) says where people speak; any long enough stretch of speech that no segment
covers is a gap, to be decoded again on its own and spliced in.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from ingest.records import Segment

SAMPLE_RATE = 16_000  # Hz: what Whisper and Silero VAD expect
# Segment times are rounded and pauses between sentences are left out, so a segment
# "covers" a little around itself, and only longer uncovered speech counts as lost.
COVER_PAD_S = 0.4
MIN_GAP_S = 2.0
MERGE_GAPS_WITHIN_S = 0.5
CLIP_PAD_S = 0.3  # audio kept either side of a gap when it is decoded again
# A segment is the same speech as a gap's new text when that text holds most of its words in
# a row, and the two are this close in time; shorter segments repeat by chance ("I think so").
REPEAT_SHARE = 0.8
REPEAT_MIN_WORDS = 5
REPEAT_WITHIN_S = 30.0


@dataclass(frozen=True)
class Gap:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def as_list(self) -> list[float]:
        return [round(float(self.start), 2), round(float(self.end), 2)]


def speech_chunks(
    audio: np.ndarray, sampling_rate: int = SAMPLE_RATE, max_speech_s: float = float("inf")
) -> list[dict]:
    """Silero VAD with faster-whisper's defaults: [{"start", "end"}] in samples; a chunk
    longer than `max_speech_s` is split at a pause inside it (Silero's own rule)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(max_speech_duration_s=max_speech_s)
    return get_speech_timestamps(audio, options, sampling_rate=sampling_rate)


def speech_spans(audio: np.ndarray, sampling_rate: int = SAMPLE_RATE) -> list[Gap]:
    """Where the audio has speech, in seconds."""
    return spans_of(speech_chunks(audio, sampling_rate), sampling_rate)


def spans_of(chunks: list[dict], sampling_rate: int = SAMPLE_RATE) -> list[Gap]:
    return [Gap(float(c["start"]) / sampling_rate, float(c["end"]) / sampling_rate) for c in chunks]


def find_gaps(speech: list[Gap], segments: list[Segment], min_gap: float = MIN_GAP_S) -> list[Gap]:
    """Stretches of `speech` at least `min_gap` long that no segment (padded a little) covers."""
    covered = _union(
        [(s.start - COVER_PAD_S, s.end + COVER_PAD_S) for s in segments if s.text.strip()]
    )
    pieces: list[Gap] = []
    for span in speech:
        cursor = span.start
        for start, end in covered:
            if end <= cursor or start >= span.end:
                continue
            if start > cursor:
                pieces.append(Gap(cursor, start))
            cursor = max(cursor, end)
        if cursor < span.end:
            pieces.append(Gap(cursor, span.end))
    merged: list[Gap] = []
    for piece in pieces:
        if merged and piece.start - merged[-1].end <= MERGE_GAPS_WITHIN_S:
            merged[-1] = Gap(merged[-1].start, piece.end)
        else:
            merged.append(piece)
    return [gap for gap in merged if gap.duration >= min_gap]


def _union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def clip_bounds(gap: Gap, duration: float) -> tuple[float, float]:
    """The stretch of audio to decode again for a gap, with a little context either side."""
    return max(0.0, gap.start - CLIP_PAD_S), min(duration, gap.end + CLIP_PAD_S)


def inside(segment: Segment, gap: Gap) -> bool:
    """Whether a re-decoded segment belongs to the gap (its middle falls in it)."""
    middle = (segment.start + segment.end) / 2
    return gap.start - CLIP_PAD_S <= middle <= gap.end + CLIP_PAD_S


def splice(segments: list[Segment], found: list[Segment]) -> list[Segment]:
    """All segments in time order, the re-decoded ones in their place."""
    return sorted([*segments, *found], key=lambda s: (s.start, s.end))


def repeated_by(segments: list[Segment], found: list[Segment]) -> list[Segment]:
    """The segments whose words, mostly and in order, are what a nearby re-decoded gap says:
    the same speech twice, once at the wrong time."""
    repeated = []
    for segment in segments:
        words = _words(segment.text)
        if len(words) < REPEAT_MIN_WORDS:
            continue
        nearby = [
            f
            for f in found
            if f.start - REPEAT_WITHIN_S <= segment.start <= f.end + REPEAT_WITHIN_S
        ]
        if not nearby:
            continue
        said = [w for f in nearby for w in _words(f.text)]
        match = difflib.SequenceMatcher(a=words, b=said, autojunk=False)
        matched = sum(block.size for block in match.get_matching_blocks())
        if matched >= REPEAT_SHARE * len(words):
            repeated.append(segment)
    return repeated


def _words(text: str) -> list[str]:
    return [w.strip(".,?!;:\"'").lower() for w in text.split() if w.strip(".,?!;:\"'")]
