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
    names it (`naming_sentence`). A row of `notes_scores` holds `topics` first, in order, and
    may go on with the scores of other topics, the rivals a line's leading topic is judged
    against.
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
        notes_best = max((row[j] for row in notes_scores), default=0.0)
        naming = naming_sentence(notes_scores, j, scorer)
        named = naming is not None
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
                notes[naming].text if named else "",
                discussed,
            )
        )
    return results


def naming_sentence(notes_scores: Sequence[Sequence[float]], j: int, scorer: Scorer) -> int | None:
    """The notes sentence that names topic `j`, or None: the best-scoring one when it reaches
    the scorer's `notes_threshold`, else the best of those whose leading topic is `j` by at
    least `notes_lead_margin` at `notes_lead_threshold` or more."""
    best, best_score = None, 0.0
    for i, row in enumerate(notes_scores):
        score = row[j]
        if score <= best_score:
            continue
        if score >= scorer.notes_threshold:
            best, best_score = i, score
        elif score >= scorer.notes_lead_threshold:
            runner_up = max((s for k, s in enumerate(row) if k != j), default=0.0)
            if score - runner_up >= scorer.notes_lead_margin:
                best, best_score = i, score
    return best


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
    segments: Sequence[Segment],
    topics: Sequence[Topic],
    scorer: Scorer,
    notes: str = "",
    rivals: Sequence[Topic] = (),
) -> list[TopicResult]:
    """Score passages (and windows bridging them) and the notes, decide each topic, and point
    each moment at the sentence that carries it.

    `rivals` are the taxonomy's other topics when only some are re-scored: whether a notes line
    is clearly about one topic depends on how it scores for all of them."""
    passages = with_bridges(segments, group_passages(segments))
    scores = scorer.score(passages, topics) if passages else []
    own = {topic.slug for topic in topics}
    judged = [*topics, *(topic for topic in rivals if topic.slug not in own)]
    notes_passages, notes_scores = score_notes(notes, judged, scorer)
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
