"""Soundbites: the best moments of an episode, 15 to 60 seconds from the start of a sentence
(`podcast:soundbite`, podcastindex.org namespace: startTime and duration in seconds)."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.chapters.generate import MomentSpan
from ingest.records import Chapter, Segment, Soundbite

MIN_SECONDS = 15.0
MAX_SECONDS = 60.0
PER_EPISODE = 3
TITLE_CHARS = 120


def pick_soundbites(
    segments: Sequence[Segment],
    moments: Sequence[MomentSpan],
    chapters: Sequence[Chapter] = (),
    limit: int = PER_EPISODE,
) -> list[Soundbite]:
    """Up to `limit` soundbites, in time order, none overlapping another.

    The strongest topic moments come first (each starts at the sentence that carries its
    topic); an episode with none offers the starts of its longest chapters instead.
    """
    spoken = [s for s in segments if s.text.strip()]
    candidates = [
        (m.score, m.start, m.name, m.quote) for m in sorted(moments, key=lambda m: -m.score)
    ]
    if not candidates:
        longest = sorted(chapters, key=lambda c: c.start - c.end)
        candidates = [(0.0, c.start, c.title, "") for c in longest]
    chosen: list[Soundbite] = []
    for score, start, name, quote in candidates:
        if len(chosen) == limit:
            break
        span = _span(spoken, start)
        if span is None:
            continue
        begin, end, text = span
        if any(begin < b.start + b.duration and b.start < end for b in chosen):
            continue
        quote = quote or text
        title = f"{name}: {quote}" if name else quote
        if len(title) > TITLE_CHARS:
            title = title[: TITLE_CHARS - 1].rstrip() + "…"
        chosen.append(Soundbite(round(begin, 3), round(end - begin, 3), title, round(score, 4)))
    return sorted(chosen, key=lambda b: b.start)


def _span(spoken: Sequence[Segment], start: float) -> tuple[float, float, str] | None:
    """From the sentence starting nearest `start`, whole sentences up to MAX_SECONDS (at least
    MIN_SECONDS); None when the episode ends too soon after it."""
    first = next((i for i, s in enumerate(spoken) if s.start >= start - 0.5), None)
    if first is None:
        return None
    begin = spoken[first].start
    end = spoken[first].end
    texts = [spoken[first].text.strip()]
    for segment in spoken[first + 1 :]:
        if end - begin >= MIN_SECONDS or segment.end - begin > MAX_SECONDS:
            break
        end = segment.end
        texts.append(segment.text.strip())
    end = min(end, begin + MAX_SECONDS)
    if end - begin < MIN_SECONDS:
        return None
    return begin, end, " ".join(texts)
