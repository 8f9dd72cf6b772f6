"""The labelled evaluation set for topic scorers, and precision/recall over it.

A case is a transcript with the topics a recruiter would expect. Cases come from YAML files
(`transcript:` paragraphs of "Speaker: words") and from the sample show's scripts, with
labels kept beside the cases. Timed segments are synthesised at a speaking rate, one per
sentence, much as Whisper cuts them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.records import Segment
from ingest.tags.scorer import Scorer
from ingest.tags.topics import score_topics
from ingest.taxonomy import Taxonomy

WORDS_PER_SECOND = 2.5  # 150 words a minute, an ordinary conversational pace
SAMPLE_LABELS_FILE = "sample_labels.yaml"
# Cases written after the scorers and the taxonomy were tuned, and never tuned on since.
HELD_OUT_PREFIX = "heldout-"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SPEAKER = re.compile(r"^([A-Z][\w .'-]{0,40}):\s+(.*)$", re.S)


@dataclass
class EvalCase:
    """A transcript and the topic slugs it should be tagged with."""

    id: str
    title: str
    topics: set[str]
    segments: list[Segment]
    notes: str = ""  # the publisher's title and description, when the case has them


@dataclass
class Scores:
    """Micro-averaged precision and recall over (case, topic) pairs, and what went wrong."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    misses: dict[str, list[str]] = field(default_factory=dict)  # case id -> expected, not found
    extras: dict[str, list[str]] = field(default_factory=dict)  # case id -> found, not expected

    def __add__(self, other: Scores) -> Scores:
        return Scores(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.false_negatives + other.false_negatives,
            self.misses | other.misses,
            self.extras | other.extras,
        )

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 0.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 0.0

    @property
    def f1(self) -> float:
        both = self.precision + self.recall
        return 2 * self.precision * self.recall / both if both else 0.0


def segments_from_lines(lines: Iterable[tuple[str | None, str]]) -> list[Segment]:
    """Timed segments, one per sentence, from (speaker, text) lines spoken back to back."""
    segments, clock = [], 0.0
    for speaker, text in lines:
        for sentence in _SENTENCE_END.split(" ".join(text.split())):
            if not sentence:
                continue
            duration = max(1.0, len(sentence.split()) / WORDS_PER_SECOND)
            segments.append(Segment(round(clock, 2), round(clock + duration, 2), sentence, speaker))
            clock += duration
    return segments


def transcript_lines(text: str) -> list[tuple[str | None, str]]:
    """(speaker, words) per paragraph of a case's "Speaker: words" transcript."""
    lines = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        match = _SPEAKER.match(paragraph.strip())
        if match:
            lines.append((match.group(1), match.group(2)))
        else:
            lines.append((None, paragraph))
    return lines


def load_case(path: Path, taxonomy: Taxonomy | None = None) -> EvalCase:
    """One YAML case; ValueError names the file when it is malformed or uses unknown topics."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not raw.get("transcript") or not raw.get("topics"):
        raise ValueError(f"{path}: an eval case needs 'transcript' and 'topics'")
    topics = set(raw["topics"])
    if taxonomy is not None and topics - set(taxonomy.by_slug()):
        raise ValueError(f"{path}: unknown topics {sorted(topics - set(taxonomy.by_slug()))}")
    return EvalCase(
        id=str(raw.get("id") or path.stem),
        title=str(raw.get("title") or path.stem),
        topics=topics,
        segments=segments_from_lines(transcript_lines(raw["transcript"])),
    )


def sample_cases(folder: Path) -> list[EvalCase]:
    """The sample show's episodes with the labels in `folder`/sample_labels.yaml."""
    labels_path = folder / SAMPLE_LABELS_FILE
    if not labels_path.exists():
        return []
    from ingest.sample import load_sample

    labels = yaml.safe_load(labels_path.read_text(encoding="utf-8")) or {}
    cases = []
    for episode in load_sample().episodes:
        if episode.guid not in labels:
            continue
        lines = [(line.speaker, line.text) for line in episode.script]
        cases.append(
            EvalCase(
                episode.guid, episode.title, set(labels[episode.guid]), segments_from_lines(lines)
            )
        )
    return cases


def load_eval_set(folder: Path, taxonomy: Taxonomy | None = None) -> list[EvalCase]:
    """Every case in `folder`: the written transcripts, then the sample show's episodes."""
    written = [
        load_case(path, taxonomy)
        for path in sorted(folder.glob("*.yaml"))
        if path.name != SAMPLE_LABELS_FILE
    ]
    return written + sample_cases(folder)


def recruiting_notes_cases(
    path: Path, taxonomy: Taxonomy | None = None, with_topic_lists: bool = False
) -> list[EvalCase]:
    """The real show notes of `../shared/corpora/recruiting-notes/episodes.jsonl`: the title
    and description are the notes, the labels come from the publisher's own topic list. That
    list is out of the description, so by default the labels' source text is no input;
    `with_topic_lists` puts it back, as the episode's feed item carries it, to measure how well
    the tagger reads such a list.

    The transcript openings some records carry are left out: they are the first minute or
    two (mostly a sponsor read), and tagged as a whole episode a one-minute sponsor read about
    a sourcing tool would be an episode about sourcing. The corpus's README says the same."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        labels = set(record["labels"])
        if taxonomy is not None and labels - set(taxonomy.by_slug()):
            raise ValueError(f"{path}: {record['id']} has unknown topics")
        cases.append(
            EvalCase(
                id=record["id"],
                title=record["title"],
                topics=labels,
                segments=[],
                notes="\n\n".join(
                    [
                        record["title"],
                        record["description"],
                        *(record["bullets"] if with_topic_lists else []),
                    ]
                ),
            )
        )
    return cases


def halves(cases: Sequence[EvalCase]) -> tuple[list[EvalCase], list[EvalCase]]:
    """A stable split into a half to develop on and a half to report (by a hash of the id)."""
    test = [c for c in cases if hashlib.sha1(c.id.encode()).digest()[0] % 2]
    return [c for c in cases if c not in test], test


def evaluate(cases: Sequence[EvalCase], taxonomy: Taxonomy, scorer: Scorer) -> Scores:
    """Tag every case with `scorer` and compare with its labels."""
    scores = Scores()
    for case in cases:
        found = {r.tag_slug for r in tag_case(case, taxonomy, scorer) if r.tagged}
        scores.true_positives += len(found & case.topics)
        scores.false_positives += len(found - case.topics)
        scores.false_negatives += len(case.topics - found)
        if case.topics - found:
            scores.misses[case.id] = sorted(case.topics - found)
        if found - case.topics:
            scores.extras[case.id] = sorted(found - case.topics)
    return scores


def labels_with_words(cases: Sequence[EvalCase], taxonomy: Taxonomy) -> tuple[int, int]:
    """(labels whose topic has a term said in the case's notes or transcript, all labels): an
    upper bound on the recall any tagger reaching a topic through its words can have. The
    embeddings scorer can find a paraphrase outside it, rarely."""
    from ingest.tags.lexical import LexicalScorer

    lexical = LexicalScorer(taxonomy)
    topics = taxonomy.by_slug()
    found = total = 0
    for case in cases:
        text = "\n".join([case.notes, *(s.text for s in case.segments)])
        for slug in case.topics:
            total += 1
            found += lexical.says_a_term(text, topics[slug])
    return found, total


def tag_case(case: EvalCase, taxonomy: Taxonomy, scorer: Scorer):
    """The TopicResults the tagger gives a case, as `podarchive tag` would store them."""
    return score_topics(case.segments, taxonomy.topics, scorer, notes=case.notes)


# --- Long conversations: real talk about other subjects, and interviews joined up ----------

CHANGELOG_DIR = Path(__file__).resolve().parent.parent.parent / "shared/corpora/changelog/podcast"
# Every 25th transcript of The Changelog (software, not hiring): 80-130 minutes each.
UNRELATED_EVERY = 25
# Interviews joined into one longer episode about their shared subject.
FOCUSED_GROUPS = {
    "focused-diversity": ["referrals_and_sameness", "rewriting_job_ads"],
    "focused-retention": ["first_ninety_days", "the_counteroffer"],
    "focused-workforce": ["first_recruiter", "promote_from_within"],
}
PASSING_INTERVIEW = "take_home_tests"  # told in the middle of a long unrelated conversation


def changelog_lines(path: Path) -> list[tuple[str | None, str]]:
    """(speaker, words) per paragraph of one Changelog transcript."""
    from bench.long_episode import NOT_SPOKEN, SPEAKER, spoken_text

    lines, speaker = [], None
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        match = SPEAKER.match(block.strip())
        if match:
            speaker, block = match.group(1).strip(), block.strip()[match.end() :]
        text = spoken_text(block)
        if text and speaker not in NOT_SPOKEN:
            lines.append((speaker, text))
    return lines


def long_conversation_cases(fixtures: Path) -> list[EvalCase]:
    """Unrelated long conversations (no recruiting topic expected), one with a recruiting
    interview told in its middle (a passing subject: still none), and interviews joined into
    a focused episode (their topics expected)."""
    files = sorted(CHANGELOG_DIR.glob("*.md"))[::UNRELATED_EVERY]
    if not files:
        return []
    cases = []
    for path in files:
        segments = segments_from_lines(changelog_lines(path))
        cases.append(EvalCase(f"unrelated-{path.stem}", path.stem, set(), segments))
    interview = load_case(fixtures / f"{PASSING_INTERVIEW}.yaml")
    lines = changelog_lines(files[0])
    middle = len(lines) // 2
    spoken = [(s.speaker, s.text) for s in interview.segments]
    mixed = [*lines[:middle], *spoken, *lines[middle:]]
    cases.append(
        EvalCase(f"passing-{files[0].stem}", files[0].stem, set(), segments_from_lines(mixed))
    )
    for case_id, names in FOCUSED_GROUPS.items():
        parts = [load_case(fixtures / f"{name}.yaml") for name in names]
        joined = [(s.speaker, s.text) for part in parts for s in part.segments]
        topics = set().union(*(part.topics for part in parts))
        cases.append(EvalCase(case_id, case_id, topics, segments_from_lines(joined)))
    return cases
