"""The embeddings scorer with the real MiniLM model the package installs (ingest.embed)."""

from pathlib import Path

import pytest

from bench.tag_eval import evaluate, load_eval_set
from ingest import store
from ingest.store import tags as tag_store
from ingest.tags import get_scorer
from ingest.tags.step import tag_archive
from ingest.taxonomy import load_taxonomy
from tests.test_tags import ONE_MEDICAL, add_episode, line_time, sample_segments

pytestmark = pytest.mark.slow  # scores every evaluation case with the model

EVAL_DIR = Path(__file__).parent / "fixtures" / "tag_eval"


def test_one_medical_episode_with_the_embeddings_scorer():
    db = store.open_db()
    segments = sample_segments(ONE_MEDICAL)
    episode_id = add_episode(db, ONE_MEDICAL, segments)
    result = tag_archive(db, load_taxonomy(), scorer_name="embeddings")
    assert not result.failed
    tags = {t["slug"]: t for t in tag_store.episode_tags(db, episode_id)}
    assert {"reverse-interviews", "grit-and-resilience"} <= set(tags)
    assert {t["source"] for t in tags.values()} == {"embeddings"}
    said_at = line_time(segments, "we call it the reverse interview")
    moments = [
        m for m in tag_store.topic_moments(db, episode_id) if m["tag_slug"] == "reverse-interviews"
    ]
    assert any(m["start"] <= said_at < m["end"] for m in moments)
    # Switching scorer invalidates every stored score: all topics are scored again.
    again = tag_archive(db, load_taxonomy(), scorer_name="lexical")
    assert again.tagged == {episode_id: len(load_taxonomy().topics)}


def test_embeddings_scorer_meets_its_target_on_the_eval_set():
    taxonomy = load_taxonomy()
    cases = load_eval_set(EVAL_DIR, taxonomy)
    result = evaluate(cases, taxonomy, get_scorer("embeddings", taxonomy))
    assert result.precision >= 0.8 and result.recall >= 0.8, (result.misses, result.extras)
