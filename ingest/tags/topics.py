"""From passage scores to what is stored: an episode's topic tags and the moments behind them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.records import Segment
from ingest.tags.passages import Passage, group_passages, with_bridges
from ingest.tags.scorer import Scorer
from ingest.taxonomy import Topic

# Strong windows closer than this (a pause between segments) make one moment.
MOMENT_GAP_SECONDS = 5.0


@dataclass(frozen=True)
class Moment:
    """Where in an episode a topic is discussed: consecutive strong passages, merged."""

    tag_slug: str
    start: float
    end: float
    score: float


@dataclass
class TopicResult:
    """One topic scored over one episode: its best passage score and its moments."""

    tag_slug: str
    score: float
    tagged: bool
    moments: list[Moment] = field(default_factory=list)


def aggregate(
    passages: Sequence[Passage],
    scores: Sequence[Sequence[float]],
    topics: Sequence[Topic],
    threshold: float,
) -> list[TopicResult]:
    """An episode has a topic when a window reaches `threshold`; its moments are those windows."""
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
        best = max(column, default=0.0)
        results.append(TopicResult(topic.slug, round(best, 4), bool(moments), moments))
    return results


def score_topics(
    segments: Sequence[Segment], topics: Sequence[Topic], scorer: Scorer
) -> list[TopicResult]:
    """Score passages (and windows bridging them) and aggregate, one TopicResult per topic."""
    passages = with_bridges(segments, group_passages(segments))
    scores = scorer.score(passages, topics) if passages else []
    return aggregate(passages, scores, topics, scorer.threshold)
