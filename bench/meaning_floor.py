"""The similarity floor of the site's search by meaning (search.js MEANING_FLOOR and
MEANING_BELOW_BEST): which hits by meaning a query keeps, on queries with a known answer.

The page ranks episodes by their passage closest to the query (cosine of the static model's
vectors, ingest.embed.static) and shows the ten best; a hit is kept when its cosine reaches the
floor and is within the margin of the best hit's. Measured here, per episode as the page does:

- tuned on: the sample show's 16 queries (bench/relevance.py), searched over the sample show
  plus 40 episodes of The Changelog (../shared/corpora/changelog/podcast, software talk: a
  second show on the same site). Right: the answer's episode; wrong: every other episode (the
  sample show's five episodes each hold one topic, and The Changelog none of them).
- held out (never tuned on): Brain Science's 32 queries (bench/relevance.py) over Brain Science
  plus the sample show. Right: the answer's episode; wrong: the sample show's episodes (other
  Brain Science episodes may be related, so they are counted apart, "kept, same show").

    python bench/meaning_floor.py                 # the grid on the tuned set, then held out
    python bench/meaning_floor.py --floor 0.3 --below-best 0.15   # the chosen pair, listed
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import relevance  # noqa: E402
from ingest.archive import Archive  # noqa: E402
from ingest.store.search import refresh_passages  # noqa: E402

CACHE = Path("/tmp/podarchive-meaning-floor")
CHANGELOG_EPISODES = 40
SHOWN = 10  # search.js MEANING_SHOWN
FLOORS = [round(0.20 + 0.025 * i, 3) for i in range(17)]
MARGINS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 1.0]


def build_changelog(root: Path) -> Archive:
    archive = Archive.at(root)
    db = archive.open_db()
    if not db.execute("SELECT count(*) FROM episodes").fetchone()[0]:
        files = sorted((relevance.CORPUS / "podcast").glob("*.md"))[:CHANGELOG_EPISODES]
        items = [(p.name, p.stem, relevance.read_changelog(p)[0]) for p in files]
        show_id = relevance._add_show(db, "https://example.com/changelog.xml", "The Changelog")
        relevance._archive_episodes(db, show_id, items)
    return archive


def passages(archive: Archive, show: str):
    """(episode ids, show labels, static vectors) of the archive's passages."""
    from ingest.embed import static

    db = archive.open_db()
    refresh_passages(db)
    db.conn.close()
    conn = sqlite3.connect(archive.db_path)
    rows = conn.execute("SELECT episode_id, text FROM passages ORDER BY id").fetchall()
    conn.close()
    vectors = static.load().encode([text for _, text in rows])
    return [r[0] for r in rows], [show] * len(rows), vectors


def ranked(query: str, episodes, vectors) -> list[tuple[str, float]]:
    """Episodes by their best passage's cosine with the query, best first (as search.js)."""
    from ingest.embed import static

    q = static.load().encode([query])[0]
    scores = vectors @ q
    best: dict[str, float] = {}
    for episode, score in zip(episodes, scores, strict=True):
        if score > best.get(episode, -2.0):
            best[episode] = float(score)
    return sorted(best.items(), key=lambda kv: -kv[1])


def kept(hits, floor: float, below_best: float):
    top = hits[0][1] if hits else 0.0
    return [(e, s) for e, s in hits if s >= floor and s >= top - below_best][:SHOWN]


def judge(runs, floor: float, below_best: float, show_of: dict) -> dict:
    """Per query set (runs: related show or None, answer episode, ranked hits): share of
    answers kept, wrong hits kept per query, related (same show) kept per query, empty lists."""
    right, wrong, same, empty = 0, [], [], 0
    for kind_show, answer, hits in runs:
        keep = kept(hits, floor, below_best)
        right += any(e == answer for e, _ in keep)
        wrong.append(sum(1 for e, _ in keep if e != answer and show_of[e] != kind_show))
        same.append(sum(1 for e, _ in keep if e != answer and show_of[e] == kind_show))
        empty += not keep
    n = len(runs)
    return {
        "answer_kept": right / n,
        "wrong_per_query": sum(wrong) / n,
        "same_show_per_query": sum(same) / n,
        "empty": empty,
    }


def collect(sets):
    """The passages of several archives as one site: episode ids, each episode's show, vectors."""
    episodes, shows, vectors = [], [], []
    for archive, show in sets:
        e, s, v = passages(archive, show)
        episodes += e
        shows += s
        vectors.append(v)
    matrix = np.vstack(vectors)
    return episodes, dict(zip(episodes, shows, strict=True)), matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--floor", type=float, default=None)
    parser.add_argument("--below-best", type=float, default=None)
    args = parser.parse_args()

    sample, sample_queries = relevance.build_sample(CACHE / "sample")
    brain, brain_queries = relevance.build_brainscience(CACHE / "brainscience")
    changelog = build_changelog(CACHE / "changelog")

    episodes, show_of, matrix = collect([(sample, "sample"), (changelog, "changelog")])
    tuned = [
        (None, answer.episode_id, ranked(query, episodes, matrix))
        for _, query, answer in sample_queries
    ]
    episodes_h, show_of_h, matrix_h = collect([(brain, "brain"), (sample, "sample")])
    held = [
        ("brain", answer.episode_id, ranked(query, episodes_h, matrix_h))
        for _, query, answer in brain_queries
    ]
    # A run's first field names the show whose other episodes are not wrong, only related
    # ("same show"): none in the tuned set, Brain Science in the held-out set.
    for name, runs, shows in (("tuned", tuned, show_of), ("held out", held, show_of_h)):
        answers = [next(s for e, s in hits if e == answer) for _, answer, hits in runs]
        wrong_best = [
            max(s for e, s in hits if e != answer and shows[e] != own) for own, answer, hits in runs
        ]
        print(f"\n## {name}: {len(runs)} queries")
        print(
            f"answer's cosine: min {min(answers):.3f}, median {statistics.median(answers):.3f};"
            f" best wrong hit's cosine: median {statistics.median(wrong_best):.3f},"
            f" max {max(wrong_best):.3f}"
        )
        gaps = [a - h[0][1] for a, (_, _, h) in zip(answers, runs, strict=True)]
        print(f"answer below the query's best hit: max {-min(gaps):.3f}")
        queries = sample_queries if runs is tuned else brain_queries
        for (_, query, _), a, w in zip(queries, answers, wrong_best, strict=True):
            print(f"  {a:.3f} answer  {w:.3f} best wrong  {query[:60]}")

    # Off-topic: a query whose answer is not on the site should list nothing by meaning.
    # Tuned: the sample show's queries over The Changelog alone; held out: Brain Science's over
    # the sample show alone. And the demo site (the sample show alone) with its own queries.
    off_sites = {
        "tuned": (collect([(changelog, "changelog")]), sample_queries),
        "held out": (collect([(sample, "sample")]), brain_queries),
    }
    off = {
        name: [ranked(query, e, m) for _, query, _ in queries]
        for name, ((e, _, m), queries) in off_sites.items()
    }
    for name, runs in off.items():
        tops = sorted(h[0][1] for h in runs)
        print(
            f"off-topic {name}: best hit's cosine median {statistics.median(tops):.3f},"
            f" top three {', '.join(f'{t:.3f}' for t in tops[-3:])}"
        )
    demo_e, demo_shows, demo_m = collect([(sample, "sample")])
    demo = [
        (None, answer.episode_id, ranked(query, demo_e, demo_m))
        for _, query, answer in sample_queries
    ]

    if args.floor is not None:
        chosen = [(args.floor, args.below_best if args.below_best is not None else 1.0)]
    else:
        chosen = [(f, m) for f in FLOORS for m in MARGINS]
    print(
        "\nfloor below_best | tuned: answer kept, wrong/query, empty, off-topic listed | demo:"
        " answer kept, wrong/query | held out: answer kept, same show/query, empty, off-topic"
        " listed"
    )
    for floor, margin in chosen:
        t = judge(tuned, floor, margin, show_of)
        d = judge(demo, floor, margin, demo_shows)
        h = judge(held, floor, margin, show_of_h)
        listed = {
            n: sum(1 for hits in runs if kept(hits, floor, margin)) for n, runs in off.items()
        }
        print(
            f"{floor:5.3f} {margin:5.2f} | {t['answer_kept']:.2f} {t['wrong_per_query']:5.2f}"
            f" {t['empty']:2d} {listed['tuned']:2d}/{len(off['tuned'])} |"
            f" {d['answer_kept']:.2f} {d['wrong_per_query']:5.2f} |"
            f" {h['answer_kept']:.2f} {h['same_show_per_query']:5.2f} {h['empty']:2d}"
            f" {listed['held out']:2d}/{len(off['held out'])}"
        )

    if args.floor is not None:
        floor, margin = chosen[0]
        titles = dict(sqlite3.connect(sample.db_path).execute("SELECT id, title FROM episodes"))
        print("\nthe demo site's lists by meaning (answer marked *):")
        for (_, query, answer), (_, _, hits) in zip(sample_queries, demo, strict=True):
            listed = [
                f"{'*' if e == answer.episode_id else ''}{titles[e][:24]} {s:.2f}"
                for e, s in kept(hits, floor, margin)
            ]
            print(f"  {query[:40]:<40} | {'; '.join(listed)}")
        for name, runs in (("tuned", tuned), ("held out", held)):
            near = [
                next(s for e, s in hits if e == answer) - max(floor, hits[0][1] - margin)
                for _, answer, hits in runs
                if any(e == answer for e, _ in kept(hits, floor, margin))
            ]
            print(f"{name}: the kept answer closest to being cut is {min(near):.3f} above the cut")


if __name__ == "__main__":
    main()
