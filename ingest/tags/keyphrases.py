"""Keyphrases per episode (YAKE), deduplicated: suggested tags shown apart from taxonomy topics.

YAKE ranks candidate phrases by statistical features of the text alone (Campos et al.,
"YAKE! Keyword extraction from single documents using multiple local features", 2020), so it
needs no model and no corpus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.ids import slugify
from ingest.tags.text import STOP_WORDS, content_stems

SLUG_PREFIX = "kp-"  # keeps suggestions from ever taking a taxonomy topic's slug
MAX_WORDS = 3
TOP = 10
# Words of a show's framing ("welcome to the show, today I'm joined by...") that YAKE would
# otherwise rank highly in every episode.
_FRAMING = "welcome today joined joining thanks thank show episode podcast guest host talk"
FRAMING_WORDS = frozenset(_FRAMING.split())


@dataclass(frozen=True)
class Keyphrase:
    text: str
    score: float  # 0..1, higher is more characteristic of the episode

    @property
    def slug(self) -> str:
        return SLUG_PREFIX + slugify(self.text, max_length=50)


def extract_keyphrases(
    text: str, top: int = TOP, exclude: Iterable[str] = (), exclude_words: Iterable[str] = ()
) -> list[Keyphrase]:
    """The `top` keyphrases of `text`, best first, deduplicated by stems.

    Phrases that repeat an `exclude`d name (a topic, say) or contain one of `exclude_words`
    (speakers' names, the show's title) are left out.
    """
    import yake

    if not text.strip():
        return []
    extractor = yake.KeywordExtractor(lan="en", n=MAX_WORDS, dedup_lim=0.7, top=top * 3)
    seen = [frozenset(content_stems(name)) for name in exclude]
    counts = Counter(content_stems(text))
    banned = FRAMING_WORDS | {w.lower() for text in exclude_words for w in text.split()}
    found: list[Keyphrase] = []
    for phrase, yake_score in extractor.extract_keywords(text):
        words = phrase.lower().split()
        stems = frozenset(content_stems(phrase))
        if not stems or any(w in STOP_WORDS or w in banned for w in words):
            continue
        if len(words) == 1 and counts[next(iter(stems))] < 2:
            continue  # a single word said once is rarely what the episode is about
        # "reverse interview" and "reverse interviews", or a phrase inside a longer one: keep one.
        if any(stems <= other or other <= stems for other in seen):
            continue
        seen.append(stems)
        # YAKE scores are unbounded, lower is better; map to 0..1, higher is better.
        found.append(Keyphrase(phrase.lower(), round(1.0 / (1.0 + float(yake_score)), 4)))
        if len(found) == top:
            break
    return found
