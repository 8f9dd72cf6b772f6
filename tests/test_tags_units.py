"""The parts of tagging that need no database: taxonomy loading, passages, scorers, evaluation."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.tag_eval import evaluate, load_eval_set, segments_from_lines
from ingest.records import Segment
from ingest.tags import SCORERS, get_scorer
from ingest.tags.keyphrases import extract_keyphrases
from ingest.tags.lexical import LexicalScorer
from ingest.tags.passages import MAX_SECONDS, MIN_SECONDS, group_passages, with_bridges
from ingest.tags.text import content_stems
from ingest.tags.topics import naming_sentence, score_topics
from ingest.taxonomy import TaxonomyError, load_taxonomy, parse_taxonomy

EVAL_DIR = Path(__file__).parent / "fixtures" / "tag_eval"
REQUIRED = {
    "reverse-interviews", "candidate-experience", "employer-brand", "sourcing",
    "diversity-hiring", "pay-transparency", "structured-interviews", "interview-bias",
    "technical-assessments", "onboarding", "retention", "grit-and-resilience",
    "collaboration", "recruiting-metrics", "hiring-managers", "offer-negotiation",
    "remote-hiring", "recruiting-technology-and-ai",
}  # fmt: skip


def test_default_taxonomy_has_the_recruiting_topics():
    taxonomy = load_taxonomy()
    assert len(taxonomy.topics) >= 25
    assert set(taxonomy.by_slug()) >= REQUIRED
    for topic in taxonomy.topics:
        assert topic.name and topic.description and topic.phrases and topic.keywords
        # A term of stop words only ("let go") could never match in the lexical scorer.
        assert all(content_stems(term) for term in [*topic.phrases, *topic.keywords]), topic.slug
    hashes = {taxonomy.definition_hash(t) for t in taxonomy.topics}
    assert len(hashes) == len(taxonomy.topics)


OK = "    name: X\n    description: d\n    phrases: [a]\n"
BAD_TOPICS = [
    (
        "  - slug: ok-topic\n    name: OK\n    phrases: [a]\n",
        "(ok-topic): 'description' is missing",
    ),
    ("  - slug: Not A Slug\n" + OK, "topic 1 (Not A Slug): slug"),
    ("  - slug: x\n    name: X\n    description: d\n", "topic 1 (x): 'phrases' is missing"),
    ("  - slug: x\n" + OK + "    colour: red\n", "topic 1 (x): unknown keys ['colour']"),
    ("  - slug: x\n" + OK + "  - slug: x\n" + OK, "topic 2 (x): duplicate slug"),
]


@pytest.mark.parametrize(("topic_yaml", "expected"), BAD_TOPICS)
def test_taxonomy_errors_name_the_file_and_the_topic(topic_yaml, expected):
    path = Path("/shows/mine/topics.yaml")
    with pytest.raises(TaxonomyError) as error:
        parse_taxonomy("topics:\n" + topic_yaml, path)
    assert str(path) in str(error.value) and expected in str(error.value)


def test_missing_taxonomy_file_is_named(tmp_path):
    with pytest.raises(TaxonomyError, match="nope.yaml"):
        load_taxonomy(tmp_path / "nope.yaml")


def test_passages_follow_segment_boundaries_within_bounds():
    segments = [Segment(i * 7.0, i * 7.0 + 6.5, f"sentence {i}") for i in range(40)]
    passages = group_passages(segments)
    assert passages[0].start == 0.0 and passages[-1].end == segments[-1].end
    for a, b in zip(passages, passages[1:], strict=False):
        assert b.first == a.last + 1  # no gaps, no overlaps
    for p in passages:
        assert MIN_SECONDS <= p.duration <= MAX_SECONDS
        assert p.start == segments[p.first].start and p.end == segments[p.last].end
    # One very long segment stands alone rather than being cut.
    long = [Segment(0, 5, "a"), Segment(5, 200, "b"), Segment(200, 205, "c")]
    assert [(p.first, p.last) for p in group_passages(long)] == [(0, 0), (1, 1), (2, 2)]


def test_bridging_windows_straddle_each_boundary():
    segments = [Segment(i * 7.0, i * 7.0 + 6.5, f"sentence {i}") for i in range(40)]
    passages = group_passages(segments)
    windows = with_bridges(segments, passages)
    bridges = [w for w in windows if w not in passages]
    assert len(bridges) == len(passages) - 1
    for bridge, (left, right) in zip(
        bridges, zip(passages, passages[1:], strict=False), strict=True
    ):
        assert left.start < bridge.start < left.end and right.start < bridge.end < right.end
    assert [w.start for w in windows] == sorted(w.start for w in windows)


def test_topic_split_across_a_passage_boundary_is_found():
    taxonomy = load_taxonomy()
    filler = [("A", "We talked about the weather and the traffic on the way in.")]
    grit = [("B", "Grit matters a lot to us."), ("B", "Grit is what kept her going.")]
    segments = segments_from_lines([*filler * 9, *grit, *filler * 9])
    said = [i for i, s in enumerate(segments) if s.text.startswith("Grit")]
    passages = group_passages(segments)
    # One mention on each side of a boundary: no single passage holds both.
    assert not any(p.first <= said[0] and said[1] <= p.last for p in passages)
    topic = taxonomy.by_slug()["grit-and-resilience"]
    result = score_topics(segments, [topic], LexicalScorer(taxonomy))[0]
    assert result.tagged
    assert any(m.start <= segments[said[0]].start < m.end for m in result.moments)


def test_lexical_matches_stems_and_discounts_common_words():
    taxonomy = load_taxonomy()
    scorer = LexicalScorer(taxonomy)
    topic = taxonomy.by_slug()["onboarding"]
    said = segments_from_lines(
        [("A", "Her onboarding buddy met the new hires on their first day.")]
    )
    generic = segments_from_lines(
        [("A", "The candidate had an interview with the team about the role.")]
    )
    assert score_topics(said, [topic], scorer)[0].tagged
    scores = scorer.score(group_passages(generic), taxonomy.topics)[0]
    assert max(scores) < scorer.threshold  # only common words: no topic at all


@pytest.mark.parametrize("scorer_name", sorted(SCORERS))
def test_a_topic_with_a_context_counts_only_where_the_context_is_said(scorer_name):
    taxonomy = load_taxonomy()
    topic = taxonomy.by_slug()["recruiting-technology-and-ai"]
    assert topic.context  # the taxonomy gives it one: AI talk alone is not recruiting
    scorer = get_scorer(scorer_name, taxonomy)
    software = segments_from_lines(
        [("A", "We use AI and machine learning to automate our build pipeline and code review.")]
    )
    hiring = segments_from_lines(
        [("A", "We use AI and machine learning to automate screening of candidate resumes.")]
    )
    assert scorer.score(group_passages(software), [topic]) == [[0.0]]
    assert scorer.score(group_passages(hiring), [topic])[0][0] > 0.0
    assert score_topics(hiring, [topic], scorer)[0].moments


@pytest.mark.parametrize("scorer_name", sorted(SCORERS))
def test_a_topic_list_line_takes_its_context_from_the_whole_notes(scorer_name):
    """A line of a topic list names a subject in a few words; the notes around it say whether
    the episode is about hiring."""
    taxonomy = load_taxonomy()
    topic = taxonomy.by_slug()["recruiting-technology-and-ai"]
    scorer = get_scorer(scorer_name, taxonomy)
    line = "The power of AI automation and chatbots"
    hiring = f"Our guest leads talent acquisition for a large retailer.\n\n{line}"
    software = f"Our guest maintains a database engine and its build system.\n\n{line}"
    found = score_topics([], [topic], scorer, notes=hiring)[0]
    assert found.tagged and found.notes_quote == line
    assert not score_topics([], [topic], scorer, notes=software)[0].tagged


def test_a_notes_line_names_its_clear_leading_topic_below_the_notes_threshold():
    """The rule on scores alone: a line's best topic, leading the next by the margin."""
    scorer = SimpleNamespace(notes_threshold=0.6, notes_lead_threshold=0.48, notes_lead_margin=0.15)
    rows = [
        [0.55, 0.30, 0.10],  # topic 0 leads by 0.25
        [0.50, 0.45, 0.10],  # topics 0 and 1 too close: neither
        [0.20, 0.20, 0.65],  # topic 2 over the notes threshold, lead or not
        [0.10, 0.40, 0.05],  # topic 1 leads, but too weakly
    ]
    assert naming_sentence(rows, 0, scorer) == 0
    assert naming_sentence(rows, 1, scorer) is None
    assert naming_sentence(rows, 2, scorer) == 2
    assert naming_sentence([[0.2, 0.62, 0.61]], 2, scorer) == 0  # over the threshold: no margin


def test_a_short_notes_line_about_one_topic_tags_it_judged_against_every_topic():
    taxonomy = load_taxonomy()
    scorer = get_scorer("embeddings", taxonomy)
    by_slug = taxonomy.by_slug()
    context = "Our guest leads talent acquisition for a large retailer."
    clear = "Why engineers quit after a year"  # about retention only, in few words
    found = score_topics([], [by_slug["retention"]], scorer, notes=f"{context}\n\n{clear}")[0]
    assert found.tagged and found.notes_quote == clear
    assert found.notes_score < scorer.notes_threshold  # named by its lead, not its score
    # A line close to two topics names neither by its lead. Judged against every topic it is
    # the same whether one topic or all are scored (tagging re-scores only changed topics).
    shared = "Questions candidates ask the team"
    notes = f"{context}\n\n{shared}"
    alone = score_topics(
        [], [by_slug["reverse-interviews"]], scorer, notes=notes, rivals=taxonomy.topics
    )[0]
    every = {r.tag_slug: r for r in score_topics([], taxonomy.topics, scorer, notes=notes)}
    assert not alone.tagged and not every["reverse-interviews"].tagged
    assert alone.notes_score == every["reverse-interviews"].notes_score


def test_taxonomy_context_is_part_of_a_topic_definition_only_when_given():
    parsed = parse_taxonomy(
        "topics:\n  - slug: x\n" + OK + "    context: [hiring]\n  - slug: y\n" + OK, Path("t.yaml")
    )
    with_context, without = parsed.topics
    assert with_context.context == ["hiring"] and with_context.definition()["context"] == ["hiring"]
    assert "context" not in without.definition()  # stored hashes of other topics stay valid


def test_registry_names_the_choices():
    assert set(SCORERS) == {"lexical", "embeddings"}
    with pytest.raises(ValueError, match="lexical"):
        get_scorer("nope", load_taxonomy())


def test_keyphrases_are_deduplicated_and_skip_topic_names():
    text = (
        "Reverse interviews changed our hiring. In a reverse interview the candidate asks. "
        "Our onsite loop now ends with a reverse interview, and the onsite loop got shorter. "
        "The onsite loop is where candidates meet the hiring panel and the hiring panel decides."
    )
    phrases = extract_keyphrases(text, exclude=["Reverse interviews"])
    texts = [p.text for p in phrases]
    assert not any("reverse interview" in t for t in texts)
    assert "onsite loop" in texts and texts.count("onsite loop") == 1
    assert all(0 < p.score <= 1 for p in phrases)


def test_lexical_scorer_meets_its_target_on_the_eval_set():
    taxonomy = load_taxonomy()
    cases = load_eval_set(EVAL_DIR, taxonomy)
    assert len(cases) >= 15 and sum(c.id.startswith("ttm-sample") for c in cases) >= 5
    result = evaluate(cases, taxonomy, get_scorer("lexical", taxonomy))
    assert result.precision >= 0.7 and result.recall >= 0.7, (result.misses, result.extras)


SOFTWARE_TALK = [
    ("A", "We moved the build to a new compiler and the cache got twice as fast."),
    ("B", "The database kept its indexes in memory, so queries stayed quick."),
    ("A", "Then we rewrote the parser, and the error messages finally made sense."),
    ("B", "Most of the week went into the release notes and the upgrade guide."),
]
REVERSE_INTERVIEW = [
    ("B", "At the end we offer a reverse interview: the candidate interviews us."),
    ("B", "Candidates ask for another conversation with anyone they met and run it their way."),
    ("B", "Most candidates take the reverse interview, and they say it helped them decide."),
]


def test_one_passage_of_a_long_conversation_is_a_moment_not_a_tag():
    taxonomy = load_taxonomy()
    topic = taxonomy.by_slug()["reverse-interviews"]
    scorer = LexicalScorer(taxonomy)
    long_talk = segments_from_lines([*SOFTWARE_TALK * 60, *REVERSE_INTERVIEW, *SOFTWARE_TALK * 60])
    assert long_talk[-1].end > 30 * 60
    result = score_topics(long_talk, [topic], scorer)[0]
    assert result.moments, "the passage itself is still found"
    assert not result.tagged
    # The same passage in a short episode is what the episode is about.
    short = segments_from_lines([*SOFTWARE_TALK, *REVERSE_INTERVIEW, *SOFTWARE_TALK])
    assert score_topics(short, [topic], scorer)[0].tagged
    # Sustained: the same subject taken up again and again through the long conversation.
    often = segments_from_lines([*SOFTWARE_TALK * 6, *REVERSE_INTERVIEW] * 12)
    assert score_topics(often, [topic], scorer)[0].tagged


def test_show_notes_alone_can_tag_a_topic_the_transcript_only_hints_at():
    taxonomy = load_taxonomy()
    topic = taxonomy.by_slug()["reverse-interviews"]
    scorer = LexicalScorer(taxonomy)
    hint = [("B", "Near the end the candidate gets to ask us questions too.")]
    segments = segments_from_lines([*SOFTWARE_TALK * 3, *hint, *SOFTWARE_TALK * 3])
    assert not score_topics(segments, [topic], scorer)[0].tagged
    notes = (
        "How One Team Hires\n\nWhy their optional reverse interview, where candidates "
        "interview the team, is taken by most candidates."
    )
    result = score_topics(segments, [topic], scorer, notes=notes)[0]
    assert result.tagged and result.notes_score >= scorer.notes_threshold
    assert result.moments == []  # moments come from the transcript alone
    # The evidence names the notes sentence, not the title or the whole notes.
    assert result.reason == "named in the show notes"
    assert result.notes_quote.startswith("Why their optional reverse interview")


def test_labels_with_words_counts_labels_whose_topic_is_named_in_the_input():
    from bench.tag_eval import EvalCase, labels_with_words

    taxonomy = load_taxonomy()
    named = EvalCase("a", "a", {"onboarding"}, [], notes="Ninety days of onboarding new hires")
    unnamed = EvalCase("b", "b", {"onboarding", "retention"}, [], notes="A chat about weather")
    assert labels_with_words([named, unnamed], taxonomy) == (1, 3)
