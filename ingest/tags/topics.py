"""From passage scores to what is stored: an episode's topic tags and the moments behind them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ingest.records import Segment
from ingest.tags.passages import Passage, group_passages, passage_of, with_bridges
from ingest.tags.scorer import Scorer
from ingest.tags.text import in_context
from ingest.taxonomy import Topic

# Strong windows closer than this (a pause between segments) make one moment.
MOMENT_GAP_SECONDS = 5.0
# An episode has a topic when it discusses it, not when it mentions it: its moments must
# cover this share of the episode, or this many seconds at any length (a 3-hour interview
# with ten minutes on referrals is about referrals too). One strong passage of a 90-minute
# conversation stays a moment, searchable, and is not a tag.
MIN_SHARE = 0.1
ENOUGH_SECONDS = 600.0
# The publisher's notes are scored sentence by sentence: a line of show notes names one subject
# ("how to negotiate your salary"), and a longer piece of notes dilutes it with the rest.
# Shorter lines are bylines and dates ("Host: Emilie Aries").
NOTES_SENTENCE_MIN_WORDS = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Moment:
    """Where in an episode a topic is discussed: consecutive strong passages, merged."""

    tag_slug: str
    start: float
    end: float
    score: float
    quote: str = ""  # the sentence that carries the topic; `start` is where it begins


@dataclass
class TopicResult:
    """One topic scored over one episode: its best passage score, its moments, and the
    evidence the tag was decided on (seconds its moments cover, the best notes piece)."""

    tag_slug: str
    score: float
    tagged: bool
    moments: list[Moment] = field(default_factory=list)
    seconds: float = 0.0
    share: float = 0.0  # of the episode's spoken seconds
    notes_score: float = 0.0
    notes_quote: str = ""  # the sentence of the notes that names it, when one does
    discussed: bool = False  # its moments cover enough of the episode (`discusses`)

    @property
    def reason(self) -> str:
        """Why the episode has the topic, in words, for the host ('' when it does not)."""
        if self.discussed and self.notes_quote:
            return "discussed and named in the show notes"
        if self.discussed:
            return "discussed"
        return "named in the show notes" if self.notes_quote else ""


def aggregate(
    passages: Sequence[Passage],
    scores: Sequence[Sequence[float]],
    topics: Sequence[Topic],
    scorer: Scorer,
    notes: Sequence[Passage],
    notes_scores: Sequence[Sequence[float]],
    speech_seconds: float,
) -> list[TopicResult]:
    """Moments are the windows reaching the scorer's `threshold`; an episode has a topic when
    they cover enough of its `speech_seconds` (`discusses`) or a sentence of its `notes`
    reaches the scorer's `notes_threshold`.
    """
    threshold = scorer.threshold
    results = []
    for j, topic in enumerate(topics):
        column = [row[j] for row in scores]
        spans: list[list[float]] = []  # [start, end, best score]
        for i, window in enumerate(passages):  # in time order; windows may overlap
            if column[i] < threshold:
                continue
            if spans and window.start <= spans[-1][1] + MOMENT_GAP_SECONDS:
                spans[-1][1] = max(spans[-1][1], window.end)
                spans[-1][2] = max(spans[-1][2], column[i])
            else:
                spans.append([window.start, window.end, column[i]])
        moments = [Moment(topic.slug, a, b, round(score, 4)) for a, b, score in spans]
        seconds = sum(b - a for a, b, _ in spans)
        notes_column = [row[j] for row in notes_scores]
        notes_best = max(notes_column, default=0.0)
        notes_quote = notes[notes_column.index(notes_best)].text if notes_column else ""
        named = notes_best >= scorer.notes_threshold
        discussed = discusses(seconds, speech_seconds)
        results.append(
            TopicResult(
                topic.slug,
                round(max(column, default=0.0), 4),
                discussed or named,
                moments,
                # Moments span the pauses inside them, the spoken time does not: capped at it.
                round(min(seconds, speech_seconds), 1),
                round(min(1.0, seconds / speech_seconds), 4) if speech_seconds else 0.0,
                round(notes_best, 4),
                notes_quote if named else "",
                discussed,
            )
        )
    return results


def discusses(seconds: float, duration: float) -> bool:
    """Whether moments covering `seconds` of an episode of `duration` make it a subject."""
    return seconds > 0 and (seconds >= ENOUGH_SECONDS or seconds >= MIN_SHARE * duration)


def notes_sentences(notes: str) -> list[Passage]:
    """The notes' sentences and lines of `NOTES_SENTENCE_MIN_WORDS` words or more, as untimed
    passages (each scored on its own)."""
    sentences = (" ".join(part.split()) for part in _SENTENCE_END.split(notes))
    return [
        Passage(-1, -1, 0.0, 0.0, sentence)
        for sentence in dict.fromkeys(sentences)  # a line repeated in the notes counts once
        if len(sentence.split()) >= NOTES_SENTENCE_MIN_WORDS
    ]


def score_notes(
    notes: str, topics: Sequence[Topic], scorer: Scorer
) -> tuple[list[Passage], list[list[float]]]:
    """The notes' sentences and their scores, [sentence][topic].

    A topic's context (words one of which must be said for it to count) is looked for in the
    whole notes, not in each sentence: a line of a recruiting episode's topic list ("the power of
    automation") names recruiting technology because the notes around it are about hiring,
    whereas a minute of talk must say so itself."""
    passages = notes_sentences(notes)
    if not passages:
        return [], []
    free = [replace(topic, context=[]) for topic in topics]
    said = [in_context(notes, topic.context) for topic in topics]
    rows = scorer.score(passages, free)
    return passages, [[s if ok else 0.0 for s, ok in zip(row, said, strict=True)] for row in rows]


def score_topics(
    segments: Sequence[Segment], topics: Sequence[Topic], scorer: Scorer, notes: str = ""
) -> list[TopicResult]:
    """Score passages (and windows bridging them) and the notes, decide each topic, and point
    each moment at the sentence that carries it."""
    passages = with_bridges(segments, group_passages(segments))
    scores = scorer.score(passages, topics) if passages else []
    notes_passages, notes_scores = score_notes(notes, topics, scorer)
    # Spoken time, not the span: a long silence or music bed does not dilute a discussion.
    spoken = sum(max(0.0, s.end - s.start) for s in segments)
    results = aggregate(passages, scores, topics, scorer, notes_passages, notes_scores, spoken)
    for result, topic in zip(results, topics, strict=True):
        result.moments = at_sentences(result.moments, segments, topic, scorer)
    return results


def at_sentences(
    moments: Sequence[Moment], segments: Sequence[Segment], topic: Topic, scorer: Scorer
) -> list[Moment]:
    """Each moment starting at its best sentence for `topic`, quoting it.

    A passage is a minute of talk; a listener following the link wants the words. The moment
    starts at the sentence (segment) that scores highest on its own, and quotes it, with the
    sentence after it when the two score higher together (a point made over two sentences).
    A moment none of whose sentences scores on its own keeps its passage's start."""
    pointed = []
    for moment in moments:
        inside = [
            i
            for i, s in enumerate(segments)
            if moment.start <= s.start < moment.end and s.text.strip()
        ]
        singles = [passage_of(segments, i, i) for i in inside]
        single_scores = [row[0] for row in scorer.score(singles, [topic])] if inside else []
        if not single_scores or max(single_scores) <= 0:
            pointed.append(moment)
            continue
        best = single_scores.index(max(single_scores))  # ties keep the earliest sentence
        chosen, first = singles[best], inside[best]
        if first + 1 in inside:
            pair = passage_of(segments, first, first + 1)
            if scorer.score([pair], [topic])[0][0] > single_scores[best]:
                chosen = pair
        pointed.append(replace(moment, start=chosen.start, quote=chosen.text))
    return pointed
