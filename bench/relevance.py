"""Relevance of transcript search per mode (lexical, semantic, hybrid) on queries with a known
answer: recall@1, recall@5 and MRR, for verbatim and paraphrased queries apart.

Two sets, each an archive built here through the store and embedded with ingest.embed:

- `sample` (tuned on: the fusion's any-words weight was set on its paraphrase "candidates
  interview the company"): the bundled sample show, its script lines as the transcript.
- `brainscience` (held out: written after the ranking was fixed, never tuned on): the 34 Brain
  Science transcripts of ../shared/corpora/changelog/ (real conversations, CC BY-SA), read as
  publisher transcripts, one segment per sentence, timed at 150 words a minute from the last
  inline timestamp. Its queries name the answer by file and paragraph number, so no
  sentence of the corpus is copied here.

The static site's search by meaning is measured beside them (`site-meaning`, `site-hybrid`):
the static model (ingest.embed.static) over the same passages, the best passage per episode,
placed at its sentence closest to the query, as search.js ranks and places; `site-hybrid` fuses
that list with the words' (FTS5 here: the page fuses with Pagefind, whose ranking cannot run in
Python) by reciprocal rank, per episode.

A hit is right when it is in the answer's episode and its link lies in the answer's span
(with SLACK_SECONDS either side: a sample line, or a corpus paragraph). `episode@5` counts the
right episode in the top 5 at any time.

    python bench/relevance.py                # both sets (builds and embeds them once, cached)
    python bench/relevance.py --set sample   # one set
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.archive import Archive  # noqa: E402
from ingest.records import Episode, Segment, Show, Transcript  # noqa: E402
from ingest.search import hybrid  # noqa: E402
from ingest.search.index import embed_passages  # noqa: E402
from ingest.store import shows as show_store  # noqa: E402
from ingest.store import transcripts as transcript_store  # noqa: E402
from ingest.store.search import refresh_passages  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "changelog"
CACHE = Path("/tmp/podarchive-relevance")
WORDS_PER_SECOND = 2.5
SLACK_SECONDS = 10.0
MODES = ("lexical", "semantic", "hybrid", "site-meaning", "site-hybrid")

# (kind, query, episode number, line index) over the sample show's script.
SAMPLE_QUERIES = [
    ("verbatim", "reverse interview", 3, 1),
    ("verbatim", "salary range every level market data", 4, 3),
    ("verbatim", "community colleges coding schools veterans", 2, 3),
    ("verbatim", "rejected candidates future customers", 1, 3),
    ("verbatim", "unstructured interview interviewer liked you", 5, 1),
    ("verbatim", "too much grit", 3, 7),
    ("verbatim", "competing offer equity start date", 4, 5),
    ("verbatim", "scorecards hiring committee one meeting", 5, 5),
    ("paraphrase", "candidates interview the company", 3, 1),
    ("paraphrase", "how do you decide what each job level pays", 4, 3),
    ("paraphrase", "finding applicants outside elite universities", 2, 3),
    ("paraphrase", "people who are turned down may buy from you later", 1, 3),
    ("paraphrase", "asking everyone the same questions to judge fairly", 5, 1),
    ("paraphrase", "being too persistent can hurt a project", 3, 7),
    ("paraphrase", "what to do when a job seeker wants more money", 4, 5),
    ("paraphrase", "do fair hiring methods make decisions slower", 5, 5),
]

# (kind, query, transcript file, paragraph index) over ../shared/corpora/changelog/brainscience.
BRAIN_QUERIES = [
    ("verbatim", "lies of omission versus lies of commission", "brain-science-28.md", 32),
    ("verbatim", "conflict style priority relationship collaborating", "brain-science-28.md", 131),
    ("verbatim", "agility training physical fitness disappointment", "brain-science-18.md", 100),
    ("verbatim", "adversity temporary hallway entrance exit", "brain-science-18.md", 7),
    ("verbatim", "what am I optimizing for primary motivation", "brain-science-32.md", 91),
    ("verbatim", "adrenaline in chaos nervous system stimulation", "brain-science-32.md", 40),
    ("verbatim", "visual facial cues affective prosody", "brain-science-9.md", 6),
    ("verbatim", "body language roll their eyes", "brain-science-9.md", 9),
    ("verbatim", "n of one honesty authenticity", "brain-science-10.md", 60),
    ("verbatim", "yard line of life football", "brain-science-10.md", 9),
    ("verbatim", "signals that fear is sending me", "brain-science-11.md", 46),
    ("verbatim", "podcasting opted in listener attention", "brain-science-11.md", 23),
    ("verbatim", "cast-iron skillet YouTube newsfeed", "brain-science-33.md", 76),
    ("verbatim", "time-blocking sense of hope navigating stress", "brain-science-33.md", 55),
    ("verbatim", "cup of coffee habit loop", "brain-science-25.md", 98),
    ("verbatim", "energy drinks sugar yerba mate", "brain-science-25.md", 136),
    (
        "paraphrase",
        "leaving something out is a different kind of dishonesty than saying something false",
        "brain-science-28.md",
        32,
    ),
    (
        "paraphrase",
        "how to handle a disagreement at work depending on whether you value the people or time",
        "brain-science-28.md",
        131,
    ),
    (
        "paraphrase",
        "asking a friend for support after a setback and getting criticised instead",
        "brain-science-18.md",
        100,
    ),
    (
        "paraphrase",
        "when you are in the middle of hard times you cannot see the end of them",
        "brain-science-18.md",
        7,
    ),
    (
        "paraphrase",
        "pause and ask yourself what you are really trying to achieve before deciding",
        "brain-science-32.md",
        91,
    ),
    ("paraphrase", "why our society is hooked on alarming news", "brain-science-32.md", 40),
    (
        "paraphrase",
        "reading someone's feelings from their expression and the tone they speak in",
        "brain-science-9.md",
        6,
    ),
    ("paraphrase", "gestures as extra clues to what a person means", "brain-science-9.md", 9),
    (
        "paraphrase",
        "every person is unique so be true to who you are",
        "brain-science-10.md",
        60,
    ),
    (
        "paraphrase",
        "in middle age it is time to change direction on your health",
        "brain-science-10.md",
        9,
    ),
    (
        "paraphrase",
        "learning to read what being afraid is telling your body",
        "brain-science-11.md",
        46,
    ),
    (
        "paraphrase",
        "people choose to listen to a show, nobody forces it on them",
        "brain-science-11.md",
        23,
    ),
    (
        "paraphrase",
        "hiding upsetting videos from the recommendations you get online",
        "brain-science-33.md",
        76,
    ),
    (
        "paraphrase",
        "feeling in charge of your calendar and expecting it to end helps you cope with pressure",
        "brain-science-33.md",
        55,
    ),
    (
        "paraphrase",
        "is a daily caffeine ritual an addiction or a routine that starts the workday",
        "brain-science-25.md",
        98,
    ),
    (
        "paraphrase",
        "sweetened iced teas can be worse for you than sugar free canned stimulants",
        "brain-science-25.md",
        136,
    ),
]

_TIMESTAMP = re.compile(r"\\\[((?:\d+:)?\d+:\d+(?:\.\d+)?)\\\]")
_SPEAKER = re.compile(r"^\*\*(.+?):\*\*\s*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Answer:
    episode_id: str
    start: float
    end: float


def _seconds(stamp: str) -> float:
    parts = [float(p) for p in stamp.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def read_changelog(path: Path) -> tuple[list[Segment], list[tuple[float, float]]]:
    """A Changelog transcript as segments (one per sentence) and the span of each paragraph
    (`**Speaker:** text`, numbered from 0 in file order, breaks included)."""
    segments, spans, clock = [], [], 0.0
    paragraphs = [p for p in path.read_text("utf-8").split("\n\n") if p.startswith("**")]
    for paragraph in paragraphs:
        paragraph = html.unescape(paragraph.strip())
        speaker_match = _SPEAKER.match(paragraph)
        if not speaker_match:
            spans.append((clock, clock))
            continue
        speaker = speaker_match.group(1)
        text = paragraph[speaker_match.end() :]
        stamp = _TIMESTAMP.search(text)
        if stamp:
            clock = max(clock, _seconds(stamp.group(1)))
        text = _TIMESTAMP.sub("", text).replace("\\", "").strip()
        begin = clock
        if speaker != "Break" and text:
            for sentence in _SENTENCE.split(text):
                seconds = max(len(sentence.split()) / WORDS_PER_SECOND, 0.4)
                segments.append(Segment(clock, clock + seconds, sentence, speaker=speaker))
                clock += seconds
        spans.append((begin, clock))
    return segments, spans


def _add_show(db, feed_url: str, title: str) -> str:
    show_id = show_store.add_show(db, feed_url, title)["id"]
    show_store.save_show(db, show_id, Show(feed_url=feed_url, title=title, language="en"))
    return show_id


def _archive_episodes(db, show_id: str, items: list[tuple[str, str, list[Segment]]]) -> dict:
    """(guid, title, segments) stored as transcribed episodes; ids by guid."""
    base = datetime(2020, 1, 1, tzinfo=UTC)
    episodes = [
        Episode(guid=guid, title=title, published=base + timedelta(days=n))
        for n, (guid, title, _) in enumerate(items)
    ]
    show_store.upsert_episodes(db, show_id, episodes)
    ids = {row["guid"]: row["id"] for row in show_store.list_episodes(db, show_id)}
    for guid, _, segments in items:
        transcript = Transcript(segments=segments, language="en", source="publisher")
        transcript_store.save_transcript(db, ids[guid], transcript)
    return ids


def build_sample(root: Path) -> tuple[Archive, list]:
    from ingest.sample import load_sample

    archive = Archive.at(root)
    sample = load_sample()
    db = archive.open_db()
    items, lines = [], {}
    for episode in sample.episodes:
        segments = [
            Segment(line.start, line.end, line.text, speaker=line.speaker)
            for line in episode.script
            if line.start is not None
        ]
        items.append((episode.guid, episode.title, segments))
        lines[episode.number] = (episode.guid, [(s.start, s.end) for s in segments])
    if not db.execute("SELECT count(*) FROM episodes").fetchone()[0]:
        ids = _archive_episodes(
            db, _add_show(db, "https://example.com/ttm.xml", sample.title), items
        )
    else:
        ids = {r["guid"]: r["id"] for r in db.query("SELECT guid, id FROM episodes")}
    queries = []
    for kind, query, number, line in SAMPLE_QUERIES:
        guid, spans = lines[number]
        queries.append((kind, query, Answer(ids[guid], *spans[line])))
    return archive, queries


def build_brainscience(root: Path) -> tuple[Archive, list]:
    folder = CORPUS / "brainscience"
    if not folder.is_dir():
        raise SystemExit(f"{folder} is missing: the Changelog corpus lives in ../shared/corpora/")
    archive = Archive.at(root)
    db = archive.open_db()
    files = sorted(folder.glob("*.md"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    parsed = {path.name: read_changelog(path) for path in files}
    if not db.execute("SELECT count(*) FROM episodes").fetchone()[0]:
        items = [(name, name.removesuffix(".md"), parsed[name][0]) for name in parsed]
        ids = _archive_episodes(
            db, _add_show(db, "https://example.com/bs.xml", "Brain Science"), items
        )
    else:
        ids = {r["guid"]: r["id"] for r in db.query("SELECT guid, id FROM episodes")}
    queries = []
    for kind, query, name, paragraph in BRAIN_QUERIES:
        start, end = parsed[name][1][paragraph]
        queries.append((kind, query, Answer(ids[name], start, end)))
    return archive, queries


SETS = {"sample": build_sample, "brainscience": build_brainscience}


def _prepare(archive: Archive) -> None:
    db = archive.open_db()
    refresh_passages(db)
    started, started_cpu = time.perf_counter(), time.process_time()
    report = embed_passages(db)
    if report.embedded or report.sentences:
        cpu = time.process_time() - started_cpu
        (speech,) = db.execute(
            "SELECT total(last) FROM (SELECT max(end) AS last FROM segments GROUP BY episode_id)"
        ).fetchone()
        print(
            f"  embedded {report.embedded} passages and {report.sentences} sentences in"
            f" {time.perf_counter() - started:.0f} s: {cpu:.0f} s of CPU,"
            f" {cpu / (speech / 3600):.1f} s per hour of speech"
        )
    db.conn.close()


def _rank(hits: list[hybrid.Hit], answer: Answer, by_episode: bool = False) -> int | None:
    for rank, hit in enumerate(hits, 1):
        if hit.episode_id != answer.episode_id:
            continue
        if by_episode:
            return rank
        # The link (LEAD_SECONDS before its words) inside the answer's span, with slack.
        if answer.start - SLACK_SECONDS <= hit.seconds <= answer.end + SLACK_SECONDS:
            return rank
    return None


_STATIC: dict[str, tuple] = {}


def _static_passages(conn):
    """The passages and their static-model vectors, once per database."""
    from ingest.embed import static

    key = str(conn.execute("PRAGMA database_list").fetchone()[2])
    if key not in _STATIC:
        rows = conn.execute("SELECT id, episode_id, start, text, offsets FROM passages").fetchall()
        _STATIC[key] = (rows, static.load().encode([row[3] for row in rows]))
    return _STATIC[key]


def site_search(conn, query: str, fuse: bool, limit: int = 10) -> list[hybrid.Hit]:
    """The static site's ranking by meaning (and with `fuse`, fused with the words), per
    episode, each hit at its passage's sentence closest to the query (as search.js does)."""
    import json

    import numpy as np

    from ingest import wordtimes
    from ingest.embed import static

    model = static.load()
    rows, vectors = _static_passages(conn)
    q = model.encode([query])[0]
    scores = vectors @ q
    best: dict[str, int] = {}
    for i in np.argsort(-scores):
        best.setdefault(rows[i][1], int(i))
    meaning = list(best.values())[: hybrid.CANDIDATES]
    fused: dict[str, list] = {}  # episode -> [score, passage row index or lexical hit]
    for rank, i in enumerate(meaning, 1):
        fused[rows[i][1]] = [1 / (hybrid.RRF_K + rank), i, None]
    if fuse:
        lexical, _ = hybrid.lexical_candidates(conn, query)
        seen = set()
        for found in lexical:
            if found.episode_id in seen:
                continue
            seen.add(found.episode_id)
            entry = fused.setdefault(found.episode_id, [0.0, None, None])
            entry[0] += 1 / (hybrid.RRF_K + len(seen))
            entry[2] = found
    hits = []
    for episode, (score, i, found) in sorted(fused.items(), key=lambda kv: -kv[1][0])[:limit]:
        if i is None:  # by words only: at its first matched word
            seconds = wordtimes.match_time(found.offsets, found.marked, found.start) or 0.0
            hits.append(hybrid.Hit(found.passage_id, episode, seconds, "", score))
            continue
        _, _, start, text, offsets = rows[i]
        said = hybrid.passage_sentences(text)
        # Each sentence with the one after it, as search.js scores them.
        pairs = [" ".join(s for _, s in said[k : k + 2]) for k in range(len(said))]
        sentence_scores = model.encode(pairs) @ q
        at = said[int(sentence_scores.argmax())][0] if said else 0
        seconds = hybrid.time_at(json.loads(offsets or "[]"), at, start)
        hits.append(hybrid.Hit(rows[i][0], episode, max(seconds - 0.5, 0.0), "", score))
    return hits


def evaluate(archive: Archive, queries: list) -> list[tuple]:
    import sqlite3

    conn = sqlite3.connect(archive.db_path)
    rows = []
    for kind in ("verbatim", "paraphrase"):
        chosen = [(q, a) for k, q, a in queries if k == kind]
        for mode in MODES:
            ranks, episodes, seconds = [], [], []
            for query, answer in chosen:
                started = time.perf_counter()
                if mode.startswith("site-"):
                    hits = site_search(conn, query, fuse=mode == "site-hybrid")
                else:
                    hits = hybrid.search(conn, query, mode=mode, limit=10).hits
                seconds.append(time.perf_counter() - started)
                ranks.append(_rank(hits, answer))
                episodes.append(_rank(hits, answer, by_episode=True))
            n = len(chosen)
            rows.append(
                (
                    kind,
                    mode,
                    n,
                    sum(1 for r in ranks if r == 1) / n,
                    sum(1 for r in ranks if r and r <= 5) / n,
                    sum(1 / r for r in ranks if r) / n,
                    sum(1 for r in episodes if r and r <= 5) / n,
                    sorted(seconds)[n // 2],
                )
            )
    conn.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=list(SETS), action="append")
    args = parser.parse_args()
    for name in args.set or list(SETS):
        print(f"\n## {name}")
        archive, queries = SETS[name](CACHE / name)
        _prepare(archive)
        print(
            f"{'kind':<11}{'mode':<14}{'n':>3}{'R@1':>7}{'R@5':>7}{'MRR':>7}"
            f"{'episode@5':>11}{'median s':>10}"
        )
        for kind, mode, n, r1, r5, mrr, ep5, median in evaluate(archive, queries):
            print(
                f"{kind:<11}{mode:<14}{n:>3}{r1:>7.2f}{r5:>7.2f}{mrr:>7.2f}{ep5:>11.2f}"
                f"{median:>10.3f}"
            )


if __name__ == "__main__":
    main()
