"""Group a transcript's segments into passages of about a minute, the unit every scorer rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingest.records import Segment

# Long enough to hold one thought of a conversation, short enough that a moment link lands
# near where the topic is discussed.
TARGET_SECONDS = 45.0
MIN_SECONDS = 30.0
MAX_SECONDS = 90.0


@dataclass(frozen=True)
class Passage:
    """Consecutive segments [first, last] of an episode, with their times and joined text."""

    first: int
    last: int
    start: float
    end: float
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start


def passage_of(segments: Sequence[Segment], first: int, last: int) -> Passage:
    """Segments [first, last] as one passage."""
    text = " ".join(s.text.strip() for s in segments[first : last + 1] if s.text.strip())
    return Passage(first, last, segments[first].start, segments[last].end, text)


def group_passages(
    segments: Sequence[Segment],
    target: float = TARGET_SECONDS,
    minimum: float = MIN_SECONDS,
    maximum: float = MAX_SECONDS,
) -> list[Passage]:
    """Split segments, on segment boundaries, into passages of `minimum`..`maximum` seconds.

    A passage closes once it reaches `target` seconds or the next segment would push it past
    `maximum`; a short tail joins the passage before it when the two still fit in `maximum`.
    One segment longer than `maximum` becomes a passage of its own.
    """
    spans: list[list[int]] = []
    first = None
    for i, segment in enumerate(segments):
        if first is None:
            first = i
        elif segment.end - segments[first].start > maximum:
            spans.append([first, i - 1])
            first = i
        if segment.end - segments[first].start >= target:
            spans.append([first, i])
            first = None
    if first is not None:
        tail = [first, len(segments) - 1]
        short = segments[tail[1]].end - segments[tail[0]].start < minimum
        if spans and short and segments[tail[1]].end - segments[spans[-1][0]].start <= maximum:
            spans[-1][1] = tail[1]
        else:
            spans.append(tail)
    return [passage_of(segments, a, b) for a, b in spans]


def with_bridges(segments: Sequence[Segment], passages: Sequence[Passage]) -> list[Passage]:
    """The passages plus a window straddling each boundary between two, in time order.

    A topic discussed across a boundary (a mention at the end of one passage, another at the
    start of the next) is whole in the bridge, as a half-overlapping sliding window would have it.
    """
    windows = list(passages)
    for left, right in zip(passages, passages[1:], strict=False):
        first = (left.first + left.last + 1) // 2
        last = (right.first + right.last) // 2
        if first <= left.last and last >= right.first:
            windows.append(passage_of(segments, first, last))
    return sorted(windows, key=lambda p: (p.start, p.end))
