"""The vector work of related moments: best matches per column, streamed in blocks.

Every list keeps, per other episode, its best-matching passage pairs, and only the best few
episodes: a pair's score depends on its two passages alone, so a list can be kept exact by
offering it each new episode's matches and keeping the best. Recomputing a batch of episodes
therefore compares each one with the episodes before it only (the ones whose lists are final)
and offers itself to those: every pair of passages is scored once, and an unchanged archive
scores none.

Vectors are stored float16 (ingest.store.vectors); blocks of them are widened to float32 for
the matrix product, so memory stays the float16 matrix plus one block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Below this cosine two passages are not shown as related. Tuned on the sample show (its
# episodes' nearest cross-episode passages: 0.35 to 0.41) and five hand-written passages on
# unrelated subjects (bread, planets, bike chains, tomatoes, aqueducts: at most 0.23), so an
# archive of unrelated episodes shows nothing rather than its least unrelated pairs; checked on
# other hand-written unrelated passages in tests/test_related.py (at most 0.30). Long real
# conversations pass it easily (Changelog shows: the best pair of two episodes of different
# shows has a median of 0.45), and there the list's length decides what is shown.
FLOOR = 0.35
EPISODES_PER_LIST = 5  # other episodes an episode page lists
MOMENTS_PER_EPISODE = 2  # moments listed per other episode
REVIEW_PER_TOPIC = 8  # review moments per topic page, one per episode
BLOCK_ROWS = 16_384  # stored rows widened to float32 at once (24 MiB)
GROUP_ROWS = 2_048  # rows of the episodes recomputed together (one pass over the vectors)


@dataclass
class Match:
    """A pair of passages: `source` in the list's owner, `target` (quoted) in `episode`."""

    source: int
    target: int
    episode: str
    score: float
    quote: str = ""
    start: float = 0.0
    end: float = 0.0


@dataclass
class TopList:
    """The best `episodes` other episodes by their best match, `per_episode` matches each."""

    episodes: int = EPISODES_PER_LIST
    per_episode: int = MOMENTS_PER_EPISODE
    by_episode: dict[str, list[Match]] = field(default_factory=dict)
    changed: bool = False

    def threshold(self) -> float:
        """The score a new episode's best match must beat to enter."""
        if len(self.by_episode) < self.episodes:
            return FLOOR
        return min(matches[0].score for matches in self.by_episode.values())

    def offer(self, episode: str, matches: list[Match]) -> bool:
        """Take `episode`'s matches (best first) if they beat the weakest episode held."""
        matches = [m for m in matches if m.score >= FLOOR][: self.per_episode]
        full = len(self.by_episode) >= self.episodes and episode not in self.by_episode
        if not matches or (full and matches[0].score <= self.threshold()):
            return False
        self.by_episode[episode] = matches
        if len(self.by_episode) > self.episodes:
            weakest = min(self.by_episode, key=lambda e: (self.by_episode[e][0].score, e))
            del self.by_episode[weakest]
        self.changed = True
        return True

    def mentions(self, episodes: set[str]) -> bool:
        return any(episode in episodes for episode in self.by_episode)

    def matches(self) -> list[Match]:
        found = [m for matches in self.by_episode.values() for m in matches]
        return sorted(found, key=lambda m: (-m.score, m.episode, m.target))


class Vectors:
    """Stored vectors with the episodes they belong to, rows of one episode contiguous."""

    def __init__(self, episodes: list[str], ids: list[int], matrix: np.ndarray) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.matrix = matrix
        self.names: list[str] = []
        starts: list[int] = []
        for row, episode in enumerate(episodes):
            if not self.names or self.names[-1] != episode:
                self.names.append(episode)
                starts.append(row)
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.append(self.starts[1:], len(episodes)).astype(np.int64)
        self.index = {name: k for k, name in enumerate(self.names)}
        self._order: np.ndarray | None = None  # row order by passage id, made on first use
        self._sorted: np.ndarray | None = None

    def reordered(self, first: list[str], then: list[str]) -> Vectors:
        """The same vectors with the episodes of `first` in front, then `then` in its order."""
        order = [self.index[name] for name in [*first, *then] if name in self.index]
        if not order:
            return Vectors([], [], self.matrix[:0])
        if order == list(range(len(self.names))):  # as they are: no copy of the matrix
            return self
        rows = np.concatenate([np.arange(self.starts[k], self.ends[k]) for k in order])
        names = [self.names[k] for k in order for _ in range(self.ends[k] - self.starts[k])]
        return Vectors(names, self.ids[rows].tolist(), self.matrix[rows])

    def positions(self, passage_ids) -> list[int]:
        """Rows holding these passages, in their order (those with no vector left out)."""
        if self._order is None:  # sorted once: every topic and every quote asks
            self._order = np.argsort(self.ids, kind="stable")
            self._sorted = self.ids[self._order]
        rows = []
        for pid in passage_ids:
            at = int(np.searchsorted(self._sorted, pid))
            if at < len(self._sorted) and self._sorted[at] == pid:
                rows.append(int(self._order[at]))
        return rows

    def span(self, episode: str) -> tuple[int, int]:
        k = self.index[episode]
        return int(self.starts[k]), int(self.ends[k])

    def rows(self, lo: int, hi: int) -> np.ndarray:
        return self.matrix[lo:hi].astype(np.float32)


def groups(vectors: Vectors, episodes: list[str]) -> list[list[str]]:
    """`episodes` (contiguous in `vectors`, in order) cut into runs of about GROUP_ROWS rows."""
    result: list[list[str]] = []
    rows = 0
    for episode in episodes:
        lo, hi = vectors.span(episode)
        if not result or rows + (hi - lo) > GROUP_ROWS:
            result.append([])
            rows = 0
        result[-1].append(episode)
        rows += hi - lo
    return result


def best_before(vectors: Vectors, group: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each episode of `group` (contiguous rows): over every row before its own, the best
    cosine with any of its passages and which of them (a row offset into its own)."""
    group_lo, _ = vectors.span(group[0])
    _, group_hi = vectors.span(group[-1])
    queries = vectors.rows(group_lo, group_hi)
    spans = {episode: vectors.span(episode) for episode in group}
    found = {
        episode: (np.empty(lo, dtype=np.float32), np.empty(lo, dtype=np.int64))
        for episode, (lo, _) in spans.items()
    }
    for top in range(0, group_lo, BLOCK_ROWS):
        bottom = min(top + BLOCK_ROWS, group_lo)
        scores = vectors.rows(top, bottom) @ queries.T
        for episode, (lo, hi) in spans.items():
            _fill(found[episode], top, scores[:, lo - group_lo : hi - group_lo])
    inner = queries @ queries.T  # the group's episodes against the ones before them in it
    for episode, (lo, hi) in spans.items():
        if lo > group_lo:
            _fill(found[episode], group_lo, inner[: lo - group_lo, lo - group_lo : hi - group_lo])
    return found


def _fill(target: tuple[np.ndarray, np.ndarray], at: int, scores: np.ndarray) -> None:
    best, which = target
    rows = scores.argmax(axis=1)
    which[at : at + len(rows)] = rows
    best[at : at + len(rows)] = scores[np.arange(len(rows)), rows]


def per_episode_best(vectors: Vectors, best: np.ndarray) -> np.ndarray:
    """The best score in each episode's rows, for the episodes wholly inside `best`."""
    count = int(np.searchsorted(vectors.ends, len(best), side="right"))
    if not count or not len(best):
        return np.zeros(0, dtype=np.float32)
    return np.maximum.reduceat(best, vectors.starts[:count])


def top_rows(best: np.ndarray, lo: int, hi: int, count: int) -> list[int]:
    """The `count` rows in [lo, hi) with the best scores, best first."""
    part = best[lo:hi]
    order = np.argsort(-part, kind="stable")[:count]
    return [lo + int(k) for k in order]


def scan_all(
    vectors: Vectors, queries: np.ndarray, spans: dict[str, tuple[int, int]]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each key's query rows `queries[a:b]`: over every stored row, the best cosine with
    any of them and which (an offset from a). One pass over the vectors for all keys."""
    total = len(vectors.ids)
    found = {
        key: (np.empty(total, dtype=np.float32), np.empty(total, dtype=np.int64)) for key in spans
    }
    for top in range(0, total, BLOCK_ROWS):
        bottom = min(top + BLOCK_ROWS, total)
        scores = vectors.rows(top, bottom) @ queries.T
        for key, (a, b) in spans.items():
            _fill(found[key], top, scores[:, a:b])
    return found
