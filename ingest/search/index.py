"""Embed the passages that have no vector yet: incremental, one transaction per batch.

Passages are rebuilt when their segments change (ingest.store.search), which deletes their
vectors (a trigger, migration m110); this step embeds whatever has none, so a second run does
nothing and a killed run resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

# Passages embedded per transaction: a killed run loses at most this much work.
BATCH = 64


@dataclass
class EmbedReport:
    embedded: int = 0
    seconds: float = 0.0
    unavailable: str | None = None  # why nothing could be embedded (the model is missing)


def embed_passages(
    db: sqlite_utils.Database, progress: Callable[[int, int], None] | None = None
) -> EmbedReport:
    """Embed every passage without a vector from the current model."""
    import time

    from ingest import embed
    from ingest.store import vectors

    report = EmbedReport()
    todo = vectors.passages_to_embed(db, embed.MODEL_ID)
    if not todo:
        return report
    started = time.perf_counter()
    try:
        encoder = embed.load_encoder()
    except embed.EmbeddingsUnavailable as error:
        report.unavailable = str(error)
        return report
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
            progress(report.embedded, len(todo))
    report.seconds = time.perf_counter() - started
    return report
