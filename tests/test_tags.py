"""Topic tagging end to end on a real archive database: tags, moments, overrides, re-tagging."""

import pytest
import yaml
from click.testing import CliRunner

from bench.tag_eval import segments_from_lines
from ingest import store
from ingest.cli import cli
from ingest.records import Episode, Segment
from ingest.sample import load_sample
from ingest.store import shows
from ingest.store import tags as tag_store
from ingest.tags import DEFAULT_SCORER, get_scorer
from ingest.tags.step import tag_archive
from ingest.taxonomy import DEFAULT_TAXONOMY, load_taxonomy
from tests.test_tags_units import REVERSE_INTERVIEW, SOFTWARE_TALK

ONE_MEDICAL = "ttm-sample-0003"


def sample_segments(guid: str) -> list[Segment]:
    """The sample episode's script as segments, at the times its audio speaks each line."""
    episode = load_sample().episode(guid)
    if all(line.start is not None for line in episode.script):
        return [Segment(line.start, line.end, line.text, line.speaker) for line in episode.script]
    return segments_from_lines((line.speaker, line.text) for line in episode.script)


def add_episode(db, guid: str, segments: list[Segment], title: str = "") -> str:
    show = shows.add_show(db, "http://example.com/feed.xml", "Talk Talent To Me")
    result = shows.upsert_episodes(db, show["id"], [Episode(guid=guid, title=title or guid)])
    episode_id = result.added[0] if result.added else shows.list_episodes(db)[0]["id"]
    replace_segments(db, episode_id, segments)
    return episode_id


def replace_segments(db, episode_id: str, segments: list[Segment]) -> None:
    with db.conn:
        db.execute("DELETE FROM segments WHERE episode_id = ?", [episode_id])
        db["segments"].insert_all(
            {
                "episode_id": episode_id,
                "idx": i,
                "start": s.start,
                "end": s.end,
                "speaker": s.speaker,
                "text": s.text,
            }
            for i, s in enumerate(segments)
        )


def line_time(segments: list[Segment], words: str) -> float:
    """Start of the first segment that says `words`."""
    return next(s.start for s in segments if words.lower() in s.text.lower())


@pytest.fixture
def one_medical():
    db = store.open_db()
    segments = sample_segments(ONE_MEDICAL)
    episode_id = add_episode(db, ONE_MEDICAL, segments)
    return db, episode_id, segments


def topics_of(db, episode_id: str) -> set[str]:
    return {t["slug"] for t in tag_store.episode_tags(db, episode_id)}


def test_one_medical_episode_is_tagged_with_moments_in_the_right_passages(one_medical):
    db, episode_id, segments = one_medical
    result = tag_archive(db, load_taxonomy())
    assert result.tagged == {episode_id: len(load_taxonomy().topics)} and not result.failed

    found = topics_of(db, episode_id)
    assert {"reverse-interviews", "grit-and-resilience", "collaboration", "transparency"} <= found
    assert "pay-transparency" not in found and "onboarding" not in found

    moments = {}
    for m in tag_store.topic_moments(db, episode_id):
        moments.setdefault(m["tag_slug"], []).append(m)
    # Each topic's moment starts at a passage that contains where the script discusses it.
    for slug, words in [
        ("reverse-interviews", "we call it the reverse interview"),
        ("grit-and-resilience", "too much grit"),
    ]:
        said_at = line_time(segments, words)
        assert any(m["start"] <= said_at < m["end"] for m in moments[slug]), (slug, moments)
        # The moment begins on a segment boundary (a passage start), not mid-sentence.
        assert all(m["start"] in {s.start for s in segments} for m in moments[slug])
    # The reverse interview is discussed early, grit late: their moments are not the same.
    assert min(m["start"] for m in moments["reverse-interviews"]) < min(
        m["start"] for m in moments["grit-and-resilience"]
    )
    row = shows.get_episode(db, episode_id)
    assert row["tagged_at"] and row["tags_input_hash"] and row["tag_error"] is None


def test_keyphrases_are_stored_apart_from_topics(one_medical):
    db, episode_id, _ = one_medical
    tag_archive(db, load_taxonomy())
    keyphrases = tag_store.episode_tags(db, episode_id, kind="keyphrase")
    assert keyphrases, "YAKE found no keyphrases"
    assert all(k["source"] == "keyphrase" and k["slug"].startswith("kp-") for k in keyphrases)
    topic_slugs = {t.slug for t in load_taxonomy().topics}
    assert not topic_slugs & {k["slug"] for k in keyphrases}
    assert all(t["source"] == DEFAULT_SCORER for t in tag_store.episode_tags(db, episode_id))
    # Deduplicated: no two keyphrases are the same words.
    names = [k["name"] for k in keyphrases]
    assert len(names) == len(set(names))


def test_overrides_survive_retagging(one_medical):
    db, episode_id, segments = one_medical
    taxonomy = load_taxonomy()
    tag_archive(db, taxonomy)
    tag_store.set_override(db, episode_id, "grit-and-resilience", "remove")
    tag_store.set_override(db, episode_id, "onboarding", "add")
    assert "grit-and-resilience" not in topics_of(db, episode_id)
    assert "onboarding" in topics_of(db, episode_id)

    # The transcript changes (a re-transcription): every topic is re-scored, overrides hold.
    replace_segments(db, episode_id, [*segments, Segment(999.0, 1004.0, "Thanks for listening.")])
    result = tag_archive(db, taxonomy, force=True)
    assert result.tagged[episode_id] == len(taxonomy.topics)
    found = topics_of(db, episode_id)
    assert "grit-and-resilience" not in found and "onboarding" in found
    assert "reverse-interviews" in found
    moment_tags = {m["tag_slug"] for m in tag_store.topic_moments(db, episode_id)}
    assert "grit-and-resilience" not in moment_tags
    sources = {t["slug"]: t["source"] for t in tag_store.episode_tags(db, episode_id)}
    assert sources["onboarding"] == "manual"

    # Clearing the remove brings the scored topic back on the next run.
    tag_store.set_override(db, episode_id, "grit-and-resilience", "clear")
    result = tag_archive(db, taxonomy)
    assert result.tagged == {episode_id: 1}
    assert "grit-and-resilience" in topics_of(db, episode_id)


def test_changing_one_topic_rescores_only_that_topic(one_medical, tmp_path):
    db, episode_id, _ = one_medical
    tag_archive(db, load_taxonomy())
    before = {
        r["tag_slug"]: r["score"]
        for r in db.query("SELECT * FROM topic_scores WHERE episode_id = ?", [episode_id])
    }
    assert tag_archive(db, load_taxonomy()).tagged == {}  # nothing changed: nothing re-scored

    raw = yaml.safe_load(DEFAULT_TAXONOMY.read_text())
    onboarding = next(t for t in raw["topics"] if t["slug"] == "onboarding")
    onboarding["keywords"].append("onsite")  # now the episode's "after the onsite" counts
    edited = tmp_path / "topics.yaml"
    edited.write_text(yaml.safe_dump(raw))
    db.execute("UPDATE topic_scores SET score = -1 WHERE tag_slug != 'onboarding'")

    result = tag_archive(db, load_taxonomy(edited))
    assert result.tagged == {episode_id: 1}
    after = {
        r["tag_slug"]: r["score"]
        for r in db.query("SELECT * FROM topic_scores WHERE episode_id = ?", [episode_id])
    }
    # Untouched rows keep the marker; only onboarding was scored again (and scores higher).
    assert all(after[slug] == -1 for slug in after if slug != "onboarding")
    assert after["onboarding"] > before["onboarding"]


def test_topic_removed_from_taxonomy_is_dropped_but_manual_tags_stay(one_medical, tmp_path):
    db, episode_id, _ = one_medical
    tag_archive(db, load_taxonomy())
    tag_store.set_override(db, episode_id, "collaboration", "add")
    raw = yaml.safe_load(DEFAULT_TAXONOMY.read_text())
    raw["topics"] = [
        t for t in raw["topics"] if t["slug"] not in ("reverse-interviews", "collaboration")
    ]
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(yaml.safe_dump(raw))
    result = tag_archive(db, load_taxonomy(smaller))
    assert set(result.dropped_topics) == {"reverse-interviews", "collaboration"}
    found = topics_of(db, episode_id)
    assert "reverse-interviews" not in found and "collaboration" in found
    assert not db.execute("SELECT 1 FROM tags WHERE slug = 'reverse-interviews'").fetchone()


def test_bad_episode_is_recorded_and_the_run_goes_on(one_medical, monkeypatch):
    db, episode_id, _ = one_medical
    other = add_episode(db, "other", sample_segments("ttm-sample-0004"), title="Pay ranges")
    from ingest.tags import step

    real = step.score_topics

    def broken_for_one(segments, topics, scorer, **given):
        if any("Fieldstone" in s.text for s in segments):
            raise ValueError("corrupt transcript")
        return real(segments, topics, scorer, **given)

    monkeypatch.setattr(step, "score_topics", broken_for_one)
    result = tag_archive(db, load_taxonomy())
    assert list(result.tagged) == [episode_id]
    assert other in result.failed and "corrupt transcript" in result.failed[other]
    assert "Pay ranges" in shows.get_episode(db, other)["tag_error"]


def test_each_tag_keeps_why_it_was_given(one_medical):
    """The host sees in Datasette's episode_topics why an episode has a topic: discussed (for
    how long, what share) or named in the show notes (which sentence)."""
    db, episode_id, _ = one_medical
    db["episodes"].update(
        episode_id,
        {"description_text": "Also: how they plan headcount for next year's hiring plan."},
    )
    tag_archive(db, load_taxonomy())
    rows = {r["tag_slug"]: r for r in db.query("SELECT * FROM episode_topics")}
    discussed = rows["reverse-interviews"]
    assert discussed["why"].startswith("discussed") and discussed["moments"] >= 1
    assert discussed["seconds_discussed"] > 0 and 0 < discussed["percent_of_speech"] <= 100
    named = rows["workforce-planning"]
    assert named["why"] == "named in the show notes" and named["moments"] == 0
    assert named["notes_quote"].startswith("Also: how they plan headcount")
    assert named["notes_score"] >= get_scorer(DEFAULT_SCORER, load_taxonomy()).notes_threshold


def test_cli_tag_and_override(archive_dir):
    runner = CliRunner()
    archive_dir.mkdir(parents=True, exist_ok=True)
    db = store.open_db(archive_dir / "archive.db")
    episode_id = add_episode(db, ONE_MEDICAL, sample_segments(ONE_MEDICAL))
    db.close()

    result = runner.invoke(cli, ["tag"])
    assert result.exit_code == 0, result.output
    assert "1 episodes tagged, 0 unchanged, 0 failed" in result.output
    again = runner.invoke(cli, ["tag"])
    assert "0 episodes tagged, 1 unchanged" in again.output

    removed = runner.invoke(cli, ["tag-override", episode_id, "remove", "reverse-interviews"])
    assert removed.exit_code == 0, removed.output
    assert "reverse-interviews" not in removed.output and "grit-and-resilience" in removed.output
    unknown = runner.invoke(cli, ["tag-override", episode_id, "add", "no-such-topic"])
    assert unknown.exit_code == 1 and "no-such-topic" in unknown.output

    bad = archive_dir / "bad.yaml"
    bad.write_text("topics:\n  - slug: Bad Slug\n    name: Bad\n    description: x\n")
    failed = runner.invoke(cli, ["tag", "--taxonomy", str(bad)])
    assert failed.exit_code == 1
    assert str(bad) in failed.output and "Bad Slug" in failed.output


def test_moments_start_at_and_quote_the_sentence_that_says_it(one_medical):
    """Each moment links to the start of a sentence holding its topic's words (so within 3 s
    of them) and quotes it; the reverse interview is where the guest names it, not at 0:00."""
    from ingest.tags.lexical import LexicalScorer
    from ingest.tags.text import content_stems

    db, episode_id, segments = one_medical
    taxonomy = load_taxonomy()
    tag_archive(db, taxonomy)
    moments = tag_store.topic_moments(db, episode_id)
    assert moments
    scorer = LexicalScorer(taxonomy)
    for moment in moments:
        topic = taxonomy.by_slug()[moment["tag_slug"]]
        starting = [s for s in segments if abs(s.start - moment["start"]) < 0.01]
        assert starting, f"{moment['tag_slug']} starts inside a sentence ({moment['start']})"
        assert moment["quote"].startswith(starting[0].text.strip())
        terms = {stems for stems in scorer.query(topic)}
        quoted = content_stems(moment["quote"])
        assert any(tuple(quoted[i : i + len(t)]) == t for t in terms for i in range(len(quoted))), (
            f"{moment['tag_slug']}: {moment['quote']!r} holds none of its words"
        )
    reverse = [m for m in moments if m["tag_slug"] == "reverse-interviews"]
    said = next(s for s in segments if "reverse interview" in s.text.lower())
    assert reverse and reverse[0]["start"] == said.start


def test_a_passing_mention_is_stored_as_a_mention_not_a_tag():
    """One passage about reverse interviews in a long conversation about software: the episode
    is not about them, but the passage stays findable in `topic_mentions`, with its sentence."""
    db = store.open_db()
    talk = segments_from_lines([*SOFTWARE_TALK * 60, *REVERSE_INTERVIEW, *SOFTWARE_TALK * 60])
    episode_id = add_episode(db, "long-software-talk", talk)
    tag_archive(db, load_taxonomy())
    assert "reverse-interviews" not in topics_of(db, episode_id)
    said_at = line_time(talk, "reverse interview")
    mentions = list(
        db.query(
            "SELECT * FROM topic_mentions WHERE episode_id = ? AND tag_slug = ?",
            [episode_id, "reverse-interviews"],
        )
    )
    assert mentions and not tag_store.topic_moments(db, episode_id)
    assert any(said_at <= m["start"] <= said_at + 30 and m["quote"] for m in mentions)
    # Tagged again after the talk changes: the old mentions are replaced, not kept beside.
    replace_segments(db, episode_id, talk[: len(SOFTWARE_TALK) * 60])
    tag_archive(db, load_taxonomy())
    assert not db.execute("SELECT count(*) FROM topic_mentions").fetchone()[0]
