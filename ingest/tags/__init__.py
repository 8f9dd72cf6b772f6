"""Topic tagging: passages of a transcript scored against a taxonomy, plus keyphrases.

Scorers are chosen by name from SCORERS (a plain dict, as whisper's `get_writer` does); each
entry is imported only when chosen. The default is the embeddings scorer: on every evaluation
set but the one the lexical scorer was tuned on it is as good or better (`bench/tags.py`), and it
runs on onnxruntime (`ingest.embed`), without PyTorch, in under 10 s of CPU per hour of speech.
The lexical scorer stays for taxonomies in other languages than MiniLM's English.
"""

from __future__ import annotations

import importlib

from ingest.tags.scorer import Scorer
from ingest.taxonomy import Taxonomy

DEFAULT_SCORER = "embeddings"
SCORERS: dict[str, str] = {
    "lexical": "ingest.tags.lexical:LexicalScorer",
    "embeddings": "ingest.tags.embeddings:EmbeddingsScorer",
}


def get_scorer(name: str, taxonomy: Taxonomy) -> Scorer:
    """A ready scorer by registry name; ValueError names the choices for an unknown one."""
    if name not in SCORERS:
        raise ValueError(f"unknown scorer {name!r}; choose one of: {', '.join(SCORERS)}")
    module_name, class_name = SCORERS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)(taxonomy)
