"""From passage scores to what is stored: an episode's topic tags and the moments behind them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.models import Segment
from ingest.tags.passages import Passage, group_passages
from ingest.tags.scorer import Scorer
from ingest.taxonomy import Topic


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
    """An episode has a topic when a passage reaches `threshold`; its moments are those passages."""
    results = []
    for j, topic in enumerate(topics):
        column = [row[j] for row in scores]
        moments: list[Moment] = []
        run: list[int] = []
        for i in [*range(len(passages)), None]:  # None closes the last run
            if i is not None and column[i] >= threshold:
                run.append(i)
                continue
            if run:
                best = max(column[k] for k in run)
                start, end = passages[run[0]].start, passages[run[-1]].end
                moments.append(Moment(topic.slug, start, end, round(best, 4)))
                run = []
        best = max(column, default=0.0)
        results.append(TopicResult(topic.slug, round(best, 4), bool(moments), moments))
    return results


def score_topics(
    segments: Sequence[Segment], topics: Sequence[Topic], scorer: Scorer
) -> list[TopicResult]:
    """Group segments into passages, score them and aggregate, one TopicResult per topic."""
    passages = group_passages(segments)
    scores = scorer.score(passages, topics) if passages else []
    return aggregate(passages, scores, topics, scorer.threshold)
