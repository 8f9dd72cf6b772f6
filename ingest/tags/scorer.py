"""The one interface every topic scorer implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ingest.tags.passages import Passage
from ingest.taxonomy import Taxonomy, Topic


class Scorer(Protocol):
    """Rates how strongly each passage discusses each topic, on a 0..1 scale.

    A passage scoring at least `threshold` discusses the topic; a sentence of the publisher's
    show notes scoring at least `notes_threshold` names it (notes name subjects on purpose,
    one to a line, and are scored a sentence at a time), and so does a sentence whose leading
    topic scores at least `notes_lead_threshold` and leads the next by `notes_lead_margin`.
    A topic's scores may depend
    only on the passage text and that topic's definition (plus the taxonomy's common terms),
    so re-scoring one changed topic never changes another's.
    """

    name: str
    threshold: float
    notes_threshold: float
    notes_lead_threshold: float
    notes_lead_margin: float

    def __init__(self, taxonomy: Taxonomy) -> None: ...

    def score(self, passages: Sequence[Passage], topics: Sequence[Topic]) -> list[list[float]]:
        """Scores indexed [passage][topic], in the order given."""
        ...
