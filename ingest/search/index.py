"""Embed the passages that have no vector yet, and their sentences: incremental, one
transaction per batch.

Passages are rebuilt when their segments change (ingest.store.search), which deletes their
vectors (triggers, migrations m110 and m170); this step embeds whatever has none, so a second
run does nothing and a killed run resumes where it stopped. The sentences are cut as search
places its hits (ingest.search.hybrid.passage_sentences), so a hit by meaning is placed with
stored vectors alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

# Passages embedded per transaction: a killed run loses at most this much work.
BATCH = 64


@dataclass
class EmbedReport:
    embedded: int = 0  # passages given a vector
    sentences: int = 0  # sentences given a vector (of passages missing them)
    seconds: float = 0.0
    unavailable: str | None = None  # why nothing could be embedded (the model is missing)


def embed_passages(
    db: sqlite_utils.Database, progress: Callable[[int, int], None] | None = None
) -> EmbedReport:
    """Embed every passage without a vector from the current model."""
    import time

    from ingest import embed
    from ingest.search.hybrid import passage_sentences
    from ingest.store import vectors

    report = EmbedReport()
    todo = vectors.passages_to_embed(db, embed.MODEL_ID, embed.DIMENSION)
    sentence_todo = vectors.passages_without_sentences(db, embed.MODEL_ID)
    if not todo and not sentence_todo:
        return report
    started = time.perf_counter()
    try:
        encoder = embed.load_encoder()
    except embed.EmbeddingsUnavailable as error:
        report.unavailable = str(error)
        return report
    vectors.drop_other_models(db, embed.MODEL_ID)
    total = len(todo) + len(sentence_todo)
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        matrix = encoder.encode([text for _, _, text in batch])
        vectors.save_vectors(
            db,
            embed.MODEL_ID,
            [(pid, episode, matrix[k]) for k, (pid, episode, _) in enumerate(batch)],
        )
        report.embedded += len(batch)
        if progress:
            progress(report.embedded, total)
    for start in range(0, len(sentence_todo), BATCH):
        batch = sentence_todo[start : start + BATCH]
        cut = [[sentence for _, sentence in passage_sentences(text)] for _, _, text in batch]
        matrix = encoder.encode([sentence for sentences in cut for sentence in sentences])
        rows, first = [], 0
        for (pid, _, _), sentences in zip(batch, cut, strict=True):
            rows.append((pid, matrix[first : first + len(sentences)]))
            first += len(sentences)
        vectors.save_sentence_vectors(db, embed.MODEL_ID, rows)
        report.sentences += first
        if progress:
            progress(len(todo) + start + len(batch), total)
    report.seconds = time.perf_counter() - started
    return report
