"""The embeddings scorer: sentence embeddings (all-MiniLM-L6-v2), fused with the lexical score.

The vectors come from `ingest.embed` (int8 ONNX on onnxruntime, no PyTorch, installed with
the package; nothing is downloaded at run time).

Each sentence of a passage is compared by cosine similarity with each of a topic's texts
(name and description, example phrases, keywords); the passage's similarity is the mean of
its TOP_SENTENCES best sentences. Short texts against whole passages compare poorly with
MiniLM, sentences against phrases compare well. On the evaluation set cosine alone reaches
P/R of about 0.6 (`bench/tags.py` prints it as `cosine-only`): one threshold cannot suit
every topic. So, as hybrid dense + sparse retrieval does, the final score is a weighted sum
with the lexical score, which keeps paraphrases the lexical scorer misses and drops
similar-sounding but off-topic sentences the cosine alone lets through.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ingest import embed
from ingest.tags.lexical import LexicalScorer
from ingest.tags.passages import Passage
from ingest.tags.text import in_context
from ingest.taxonomy import Taxonomy, Topic

COSINE_WEIGHT = 0.7  # the rest is the lexical score's
THRESHOLD = 0.47
COSINE_ONLY_THRESHOLD = 0.5  # when cosine_weight is 1 (for comparison in bench/tags.py)
# A sentence of show notes names a topic at this score: chosen on the dev halves of the real
# show notes (bench/tags.py; with the publisher's topic list, 0.55 gave P/R 0.72/0.86 there,
# 0.6 0.89/0.81, 0.625 0.90/0.67). A notes sentence is shorter and more on purpose than a
# minute of talk, so its cosine runs higher for the topic it names and for its neighbours alike.
NOTES_THRESHOLD = 0.6
# A notes line that is clearly about one topic names it at a lower score: a line of the
# publisher's topic list is a few words ("Take home turnaround times") whose cosine stays low
# for every topic, while the one it means leads the rest by a wide margin. Chosen on the same
# dev halves (with the topic lists: P/R 0.89/0.81 without this rule, 0.82/0.88 with it).
NOTES_LEAD_THRESHOLD = 0.48
NOTES_LEAD_MARGIN = 0.15
TOP_SENTENCES = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Topic text vectors by topic definition, shared by every scorer (the model is loaded once too).
_TOPIC_VECTORS: dict[tuple, np.ndarray] = {}


def topic_texts(topic: Topic) -> list[str]:
    """What a topic is compared with: name and description, each phrase, each keyword."""
    return [f"{topic.name}: {topic.description}", *topic.phrases, *topic.keywords]


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


class EmbeddingsScorer:
    """Cosine similarity of a passage's best sentences to a topic's texts, fused with lexical."""

    name = "embeddings"
    threshold = THRESHOLD
    notes_threshold = NOTES_THRESHOLD
    notes_lead_threshold = NOTES_LEAD_THRESHOLD
    notes_lead_margin = NOTES_LEAD_MARGIN

    def __init__(self, taxonomy: Taxonomy, cosine_weight: float = COSINE_WEIGHT) -> None:
        embed.load_encoder()  # fails here, naming what is missing, not mid-episode
        self.lexical = LexicalScorer(taxonomy)
        self.cosine_weight = cosine_weight
        if cosine_weight >= 1.0:
            self.threshold = COSINE_ONLY_THRESHOLD

    def _encode(self, texts: list[str]) -> np.ndarray:
        return embed.encode(texts)

    def _topic_matrix(self, topic: Topic) -> np.ndarray:
        key = (topic.name, topic.description, tuple(topic.phrases), tuple(topic.keywords))
        if key not in _TOPIC_VECTORS:
            _TOPIC_VECTORS[key] = self._encode(topic_texts(topic))
        return _TOPIC_VECTORS[key]

    def cosine(self, passages: Sequence[Passage], topics: Sequence[Topic]) -> np.ndarray:
        """Cosine part of the score, [passage][topic]."""
        owners, texts = [], []
        for i, passage in enumerate(passages):
            for sentence in sentences(passage.text) or [passage.text]:
                owners.append(i)
                texts.append(sentence)
        # Bridging windows repeat their passages' sentences: encode each sentence once.
        unique = list(dict.fromkeys(texts))
        encoded = self._encode(unique)
        row = {text: k for k, text in enumerate(unique)}
        vectors = encoded[[row[text] for text in texts]]
        owners_array = np.array(owners)
        result = np.zeros((len(passages), len(topics)))
        for j, topic in enumerate(topics):
            best_per_sentence = (vectors @ self._topic_matrix(topic).T).max(axis=1)
            for i in range(len(passages)):
                mine = np.sort(best_per_sentence[owners_array == i])[::-1][:TOP_SENTENCES]
                result[i, j] = mine.mean()
        return result.clip(0.0, 1.0)

    def score(self, passages: Sequence[Passage], topics: Sequence[Topic]) -> list[list[float]]:
        """Scores in 0..1 indexed [passage][topic]."""
        if not passages:
            return []
        cosine = self.cosine(passages, topics)
        # A topic that needs a context scores nothing where none is said (the lexical half
        # is zero there already).
        in_context_mask = np.array(
            [[in_context(p.text, t.context) for t in topics] for p in passages], dtype=float
        )
        if self.cosine_weight >= 1.0:
            return (cosine * in_context_mask).tolist()
        lexical = np.array(self.lexical.score(passages, topics))
        w = self.cosine_weight
        return ((w * cosine + (1 - w) * lexical) * in_context_mask).tolist()
