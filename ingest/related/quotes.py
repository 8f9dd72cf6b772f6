"""The sentence a related moment quotes, and when it is said.

A passage is about 45 s of talk; the card quotes the one sentence of it nearest in meaning to
the passage it was matched with (the sentences embedded with the same model), cut into
sentences and timed as search hits are (ingest.search.hybrid), so the link lands on its first
word and the page marks its words.
"""

from __future__ import annotations

import bisect
import json

import numpy as np

from ingest.related.nearest import Match, Vectors
from ingest.search import hybrid
from ingest.store import related as related_store
from ingest.store import vectors as vectors_store

# A card quotes a sentence of at least this many words when its passage has one: the nearest
# sentence in meaning is otherwise often a bare question or a greeting ("Welcome to the show.").
MIN_QUOTE_WORDS = 7


def quote(db, vectors: Vectors, matches: list[Match]) -> int:
    """Fill in the quote, start and end of every match without a quote; return how many
    sentences had to be embedded (those without stored vectors)."""
    from ingest import embed

    todo = [m for m in matches if not m.quote]
    if not todo:
        return 0
    found = related_store.passages(db, {m.target for m in todo})
    cut = {pid: hybrid.passage_sentences(row[3]) for pid, row in found.items()}

    def source_vector(passage_id: int) -> np.ndarray | None:
        rows = vectors.positions([passage_id])
        return vectors.matrix[rows[0]].astype(np.float32) if rows else None

    # Each target's sentence vectors: stored with its passage (ingest.search.index), else
    # embedded here (a passage embedded before they were stored, or without the model).
    sentence_vectors = vectors_store.sentence_matrices(
        db.conn, embed.MODEL_ID, {pid: len(pieces) for pid, pieces in cut.items()}
    )
    missing = [pid for pid in cut if pid not in sentence_vectors]
    texts = [sentence for pid in missing for _, sentence in cut[pid]]
    try:
        encoded = embed.encode(texts) if texts else np.zeros((0, embed.DIMENSION))
    except embed.EmbeddingsUnavailable:
        encoded = None  # without the model, each card quotes its passage's first sentence
    position = 0
    for pid in missing:
        if encoded is not None:
            sentence_vectors[pid] = encoded[position : position + len(cut[pid])]
        position += len(cut[pid])
    for match in todo:
        row = found.get(match.target)
        pieces = cut.get(match.target) or []
        if row is None or not pieces:
            continue
        long_enough = [len(sentence.split()) >= MIN_QUOTE_WORDS for _, sentence in pieces]
        best = long_enough.index(True) if any(long_enough) else 0
        wanted = source_vector(match.source)
        if match.target in sentence_vectors and wanted is not None:
            scores = sentence_vectors[match.target] @ wanted
            if any(long_enough):
                scores = np.where(long_enough, scores, -np.inf)
            best = int(scores.argmax())
        _, start, end, _, offsets = row
        at, sentence = pieces[best]
        match.quote = sentence
        match.start, match.end = said(json.loads(offsets or "[]"), at, len(sentence), start, end)
    return len(texts) if encoded is not None else 0


def said(offsets: list, at: int, length: int, start: float, end: float) -> tuple[float, float]:
    """(when the sentence at character `at` starts, when the next word after it starts or
    the passage ends) from the passage's word offsets [[char, seconds]]."""
    begins = hybrid.time_at(offsets, at, start)
    chars = [offset for offset, _ in offsets]
    after = bisect.bisect_left(chars, at + length)
    finish = offsets[after][1] if after < len(offsets) else end
    return round(begins, 2), round(max(finish, begins), 2)
