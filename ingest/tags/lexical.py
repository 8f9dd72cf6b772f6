"""The default scorer: stemmed phrase and keyword matching with BM25-style weighting. No PyTorch.

Each topic becomes a weighted query of stem sequences (its keywords, its example phrases and
the word pairs inside those phrases). A passage's raw score is BM25's sum over matched terms
of weight x saturated term frequency, normalised by passage length (Robertson & Zaragoza,
"The Probabilistic Relevance Framework: BM25 and Beyond", 2009), then squashed into 0..1.
The per-term weight stands in for IDF and depends only on the topic and the taxonomy's
common terms, never on other episodes or topics: adding an episode or editing one topic
leaves every other stored score valid.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

from ingest.tags.passages import Passage
from ingest.tags.text import content_stems, in_context
from ingest.taxonomy import Taxonomy, Topic

# BM25's usual constants: k1 sets how fast repeated mentions saturate, b how much a long
# passage is discounted. A 45 s passage holds about 120 spoken words, half of them content.
K1 = 1.2
B = 0.75
AVERAGE_PASSAGE_STEMS = 60.0
MAX_TERM_STEMS = 4

KEYWORD_WEIGHT = 1.0  # any keyword: "grit" counts as much as "hiring manager"
EXTRA_STEM_WEIGHT = 0.0  # added per further word of a multi-word term
PHRASE_BONUS = 0.5  # a whole example phrase, said as written, is stronger evidence
PAIR_WEIGHT = 0.25  # two neighbouring words of an example phrase ("hard questions")
COMMON_FACTOR = 0.2  # a term made only of the show's common words

# Raw score at which a passage reaches 0.5, the threshold: one keyword said twice, two
# different keywords, or a whole example phrase; never a single passing mention.
HALF_SCORE = 1.3
THRESHOLD = 0.5
# A sentence of show notes names a topic at this score: chosen on the dev half of the real
# show notes (bench/tags.py), where 0.5 let one shared word ("interview") tag a topic.
NOTES_THRESHOLD = 0.55


def _term_weight(stems: tuple[str, ...], common: frozenset[str], base: float) -> float:
    """`base`, discounted when every word of the term is one the whole show uses."""
    return base * COMMON_FACTOR if all(s in common for s in stems) else base


def _length_weight(stems: tuple[str, ...]) -> float:
    return KEYWORD_WEIGHT + EXTRA_STEM_WEIGHT * (len(stems) - 1)


@functools.lru_cache(maxsize=4096)
def _query(topic_key: tuple, common: frozenset[str]) -> dict[tuple[str, ...], float]:
    name, phrases, keywords = topic_key
    terms: dict[tuple[str, ...], float] = {}

    def add(stems: tuple[str, ...], weight: float) -> None:
        if stems and len(stems) <= MAX_TERM_STEMS:
            terms[stems] = max(terms.get(stems, 0.0), weight)

    for keyword in keywords:
        stems = tuple(content_stems(keyword))
        add(stems, _term_weight(stems, common, _length_weight(stems)))
    for phrase in (name, *phrases):
        stems = tuple(content_stems(phrase))
        if len(stems) == 1:
            add(stems, _term_weight(stems, common, KEYWORD_WEIGHT))
            continue
        add(stems, _term_weight(stems, common, _length_weight(stems) + PHRASE_BONUS))
        for pair in zip(stems, stems[1:], strict=False):
            add(pair, _term_weight(pair, common, PAIR_WEIGHT))
    return terms


def _ngrams(stems: list[str]) -> Counter:
    counts: Counter = Counter()
    for n in range(1, MAX_TERM_STEMS + 1):
        for i in range(len(stems) - n + 1):
            counts[tuple(stems[i : i + n])] += 1
    return counts


class LexicalScorer:
    """Stemmed keyword and phrase matching, BM25-weighted."""

    name = "lexical"
    threshold = THRESHOLD
    notes_threshold = NOTES_THRESHOLD
    # No lower bar for a line's leading topic: keyword scores do not fall short on a short line
    # the way cosines do.
    notes_lead_threshold = NOTES_THRESHOLD
    notes_lead_margin = 0.0

    def __init__(self, taxonomy: Taxonomy) -> None:
        # Compared as stems, so "hiring" in the list also covers "hire" and "hires".
        self.common = frozenset(s for term in taxonomy.common_terms for s in content_stems(term))

    def query(self, topic: Topic) -> dict[tuple[str, ...], float]:
        """The weighted stem sequences a topic is matched by."""
        key = (topic.name, tuple(topic.phrases), tuple(topic.keywords))
        return _query(key, self.common)

    def says_a_term(self, text: str, topic: Topic) -> bool:
        """Whether `text` says any term of the topic (a keyword, an example phrase or a word
        pair of one), however weakly weighted."""
        counts = _ngrams(content_stems(text))
        return any(counts.get(stems) for stems in self.query(topic))

    def raw_score(self, counts: Counter, length: int, topic: Topic) -> float:
        """BM25 sum over the topic's terms found in a passage's stem n-gram counts."""
        norm = K1 * (1 - B + B * length / AVERAGE_PASSAGE_STEMS)
        total = 0.0
        for stems, weight in self.query(topic).items():
            tf = counts.get(stems, 0)
            if tf:
                total += weight * tf * (K1 + 1) / (tf + norm)
        return total

    def score(self, passages: Sequence[Passage], topics: Sequence[Topic]) -> list[list[float]]:
        """Scores in 0..1 indexed [passage][topic]."""
        rows = []
        for passage in passages:
            stems = content_stems(passage.text)
            counts = _ngrams(stems)
            raw = [
                self.raw_score(counts, len(stems), topic)
                if in_context(passage.text, topic.context)
                else 0.0
                for topic in topics
            ]
            rows.append([r / (r + HALF_SCORE) for r in raw])
        return rows
