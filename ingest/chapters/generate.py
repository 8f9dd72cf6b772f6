"""Chapters made from where the conversation changes subject, for episodes without the
publisher's: topic moments (the tagger's) and sentence-embedding similarity of the talk.

Every boundary between two stretches of talk is scored by how much the talk changes across it
(1 - cosine of the mean sentence vectors of the minute before and the minute after) plus how
much the topics discussed change (the tagger's moments on either side). The best boundaries are
taken, strongest first, as long as every chapter stays `min_seconds` long and there are at most
one per `spacing` seconds on average; a boundary changing the talk little more than the
episode's average change (`FLOOR_DEVIATIONS`) is never taken. Each chapter is titled by the
topic discussed most in it, else by a key phrase.

Lengths: a chapter is at least 2 minutes, at most one per 3 minutes on average. An episode
shorter than 12 minutes (the bundled sample's are about a minute) could have one chapter
only, so below that both scale with the episode: a chapter is at least a sixth of it, and at
most one per quarter of it (four chapters at most).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.records import Chapter, Segment
from ingest.tags.keyphrases import extract_keyphrases
from ingest.tags.passages import Passage, group_passages

MIN_CHAPTER_SECONDS = 120.0
SECONDS_PER_CHAPTER = 180.0  # on average, at most one chapter per this many seconds
SHORT_EPISODE_PARTS = 6  # below 12 minutes a chapter is at least this share of the episode
UNITS_PER_CHAPTER = 4  # the talk is compared in stretches of a quarter of the shortest chapter
MAX_UNIT_SECONDS = 30.0
# Words of a stretch the sentence model reads: the model stops at 256 tokens anyway, and the
# opening of a stretch says what it is about (and a two-hour episode embeds in seconds).
UNIT_WORDS = 80
# A change of topics (moments) weighs this much against a change of wording (embeddings, 0..2).
TOPIC_WEIGHT = 0.5
# A boundary must change the talk this many standard deviations more than the episode's average.
FLOOR_DEVIATIONS = 0.5
FALLBACK_TITLE_WORDS = 6
TITLE_CANDIDATES = 3  # a chapter's key phrases its title is chosen from
TITLE_WORDS_READ = 1500  # of a chapter, for its key phrase (YAKE's time grows with the text)

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class MomentSpan:
    """A topic moment as chapters read it: where, which topic (by name), how strong."""

    name: str
    start: float
    end: float
    score: float
    quote: str = ""  # the sentence that carries the topic, where `start` points


@dataclass(frozen=True)
class Rules:
    """The shortest chapter and the average seconds per chapter for one episode's length."""

    min_seconds: float
    spacing: float

    @classmethod
    def for_duration(cls, duration: float) -> Rules:
        shortest = min(MIN_CHAPTER_SECONDS, duration / SHORT_EPISODE_PARTS)
        return cls(shortest, shortest * SECONDS_PER_CHAPTER / MIN_CHAPTER_SECONDS)

    def most_chapters(self, duration: float) -> int:
        return max(1, int(duration // self.spacing))


def generate_chapters(
    segments: Sequence[Segment],
    moments: Sequence[MomentSpan],
    duration: float,
    embed: Embed,
) -> list[Chapter]:
    """Chapters covering [0, duration], in order; one chapter when the talk never changes."""
    spoken = [s for s in segments if s.text.strip()]
    duration = max(duration, spoken[-1].end if spoken else 0.0)
    if not spoken or duration <= 0:
        return []
    rules = Rules.for_duration(duration)
    unit = min(MAX_UNIT_SECONDS, rules.min_seconds / UNITS_PER_CHAPTER)
    units = group_passages(spoken, target=unit, minimum=unit / 2, maximum=unit * 2)
    starts = _boundaries(units, moments, duration, rules, embed)
    edges = [0.0, *starts, duration]
    speakers = {s.speaker for s in spoken if s.speaker}
    chapters: list[Chapter] = []
    for start, end in zip(edges, edges[1:], strict=False):
        inside = [u for u in units if start <= u.start < end]
        previous = chapters[-1].title if chapters else None
        title = _title(inside, moments, start, end, previous, speakers)
        chapters.append(Chapter(round(start, 3), round(end, 3), title))
    return chapters


def _boundaries(
    units: list[Passage],
    moments: Sequence[MomentSpan],
    duration: float,
    rules: Rules,
    embed: Embed,
) -> list[float]:
    """Chapter starts after 0: the strongest changes that keep every chapter long enough."""
    wanted = rules.most_chapters(duration) - 1
    if wanted < 1 or len(units) < 2:
        return []
    vectors = embed([" ".join(u.text.split()[:UNIT_WORDS]) for u in units])
    scores = []
    for k in range(1, len(units)):
        t = units[k].start
        # The unit just before always counts (it may be long enough to start earlier).
        before = [i for i in range(k - 1) if units[i].start >= t - rules.min_seconds] + [k - 1]
        after = [i for i in range(k, len(units)) if units[i].start < t + rules.min_seconds]
        wording = 1.0 - _cosine(vectors[before].mean(axis=0), vectors[after].mean(axis=0))
        topics = _topic_change(moments, t - rules.min_seconds, t, t + rules.min_seconds)
        scores.append((wording + TOPIC_WEIGHT * topics, t))
    values = np.array([s for s, _ in scores])
    floor = float(values.mean() + FLOOR_DEVIATIONS * values.std())
    chosen: list[float] = []
    for score, t in sorted(scores, key=lambda pair: (-pair[0], pair[1])):
        if len(chosen) == wanted or score < floor:
            break
        fits = t >= rules.min_seconds and duration - t >= rules.min_seconds
        if fits and all(abs(t - other) >= rules.min_seconds for other in chosen):
            chosen.append(t)
    return sorted(chosen)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm else 0.0


def _topic_weights(moments: Sequence[MomentSpan], start: float, end: float) -> dict[str, float]:
    """Topic name -> seconds its moments cover in [start, end), weighted by their score."""
    weights: dict[str, float] = {}
    for m in moments:
        overlap = min(m.end, end) - max(m.start, start)
        if overlap > 0:
            weights[m.name] = weights.get(m.name, 0.0) + overlap * m.score
    return weights


def _topic_change(moments: Sequence[MomentSpan], before: float, at: float, after: float) -> float:
    """0 when the same topics are discussed on both sides of `at`, 1 when none are shared."""
    left, right = _topic_weights(moments, before, at), _topic_weights(moments, at, after)
    if not left and not right:
        return 0.0
    names = sorted(set(left) | set(right))
    a = np.array([left.get(n, 0.0) for n in names])
    b = np.array([right.get(n, 0.0) for n in names])
    return 1.0 - _cosine(a, b)


def _title(
    units: Sequence[Passage],
    moments: Sequence[MomentSpan],
    start: float,
    end: float,
    previous: str | None,
    speakers: set[str],
) -> str:
    """The topic discussed most in [start, end), unless the chapter before has that title;
    else the chapter's best key phrase (of two or three words, where YAKE finds one: one word
    rarely names a subject); else the chapter's first words."""
    weights = _topic_weights(moments, start, end)
    for name in sorted(weights, key=lambda n: -weights[n]):
        if name != previous:
            return name
    text = " ".join(u.text for u in units)
    found = extract_keyphrases(
        " ".join(text.split()[:TITLE_WORDS_READ]), top=TITLE_CANDIDATES, exclude_words=speakers
    )
    titles = [p.text[:1].upper() + p.text[1:] for p in found]
    titles = [t for t in titles if t != previous]
    if titles:
        return next((t for t in titles if " " in t), titles[0])
    words = text.split()[:FALLBACK_TITLE_WORDS]
    return " ".join(words).rstrip(",.;:") + ("…" if len(text.split()) > len(words) else "")
