"""Cost of keeping the related-moments lists (ingest.related) on a synthetic archive.

Builds (once per size, under /tmp unless --keep) an archive of N episodes of 100 passages with
synthetic text and seeded vectors clustered around 40 subjects (so lists fill as on a real
show: the scan costs the same whatever the vectors say, but how many older lists a new episode
enters depends on them), 12 topics with two moments in each of an episode's three tags. Then:

1. the lists made from nothing (every episode new: the first build of an existing archive);
   with --no-scratch, skipped and the archive marked done with empty lists instead, which
   makes step 2 an upper bound (every older list has room, so every episode is a candidate);
2. one new episode: its list made against every passage, offered to every older list;
3. a build with nothing new.

    python bench/related.py                       # 1,000 episodes
    python bench/related.py --episodes 10000 --no-scratch --keep /tmp/bench-related-10k
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest import embed  # noqa: E402
from ingest.archive import Archive  # noqa: E402
from ingest.related.step import update_related  # noqa: E402

SEED = 11
PASSAGES = 100  # per episode: about 75 minutes of 45 s passages
SUBJECTS = 40
NOISE = 1.1  # per dimension, against unit subjects: same-subject passages ~0.45 apart, else ~0
TOPICS = [f"topic-{k}" for k in range(12)]
_VOCABULARY = (
    "candidate interview hiring recruiter offer sourcing pipeline referral onboarding team "
    "manager culture feedback process role salary equity remote engineer talent brand "
    "the a and to of in we you they it is was that this for on with as at be have"
)
WORDS = _VOCABULARY.split()


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def add_episodes(db, first: int, count: int) -> list[str]:
    """`count` episodes numbered from `first`, with passages, vectors, tags and moments."""
    rng = random.Random(SEED + first)
    vectors_rng = np.random.default_rng(SEED + first)
    subjects = np.random.default_rng(SEED).standard_normal((SUBJECTS, embed.DIMENSION))
    subjects /= np.linalg.norm(subjects, axis=1, keepdims=True)
    ids = []
    with db.conn:
        if not db.execute("SELECT count(*) FROM shows").fetchone()[0]:
            db.execute(
                "INSERT INTO shows (id, feed_url, title, added_at, updated_at)"
                " VALUES ('bench', 'https://feeds.example.com/bench.xml', 'Bench', '', '')"
            )
            db.conn.executemany(
                "INSERT INTO tags (slug, name, description, kind) VALUES (?, ?, '', 'topic')",
                [(slug, slug.title()) for slug in TOPICS],
            )
        for number in range(first, first + count):
            episode_id = f"bench-{number:05d}"
            ids.append(episode_id)
            db.execute(
                "INSERT INTO episodes (id, show_id, guid, slug, title, first_seen, updated_at)"
                " VALUES (?, 'bench', ?, ?, ?, '', '')",
                [episode_id, episode_id, episode_id, f"Episode {number}"],
            )
            own = vectors_rng.choice(SUBJECTS, size=4, replace=False)  # what it talks about
            chosen = subjects[vectors_rng.choice(own, size=PASSAGES)]
            matrix = chosen + NOISE / np.sqrt(embed.DIMENSION) * vectors_rng.standard_normal(
                (PASSAGES, embed.DIMENSION)
            )
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
            for k in range(PASSAGES):
                text = " ".join(_sentence(rng, rng.randint(8, 16)) for _ in range(6))
                offsets = [[i, 45.0 * k + i / 15] for i in range(0, len(text), 6)]
                cursor = db.conn.execute(
                    "INSERT INTO passages (episode_id, start, end, first_segment_id,"
                    " last_segment_id, text, offsets) VALUES (?, ?, ?, 0, 0, ?, ?)",
                    [episode_id, 45.0 * k, 45.0 * (k + 1), text, str(offsets)],
                )
                db.execute(
                    "INSERT INTO passage_vectors (passage_id, episode_id, model, vector)"
                    " VALUES (?, ?, ?, ?)",
                    [
                        cursor.lastrowid,
                        episode_id,
                        embed.MODEL_ID,
                        matrix[k].astype("<f2").tobytes(),
                    ],
                )
            for slug in rng.sample(TOPICS, 3):
                db.execute(
                    "INSERT INTO episode_tags (episode_id, tag_slug, score, source)"
                    " VALUES (?, ?, 0.5, 'bench')",
                    [episode_id, slug],
                )
                for _ in range(2):
                    start = 45.0 * rng.randrange(PASSAGES)
                    db.execute(
                        "INSERT INTO topic_moments (episode_id, tag_slug, start, end, score)"
                        " VALUES (?, ?, ?, ?, ?)",
                        [episode_id, slug, start, start + 45, rng.random()],
                    )
    return ids


def line(name: str, report) -> None:
    print(
        f"{name}: {report.seconds:.2f} s (vectors read {report.read_seconds:.2f} s, quotes"
        f" {report.quote_seconds:.2f} s, {report.sentences_embedded} sentences embedded);"
        f" {report.episodes_remade} episode list(s) made, {report.lists_updated} older list(s)"
        f" updated, {report.topics_remade} topic list(s) made, {report.vectors_read:,} vectors"
        f" read from SQLite, {report.vectors_cached:,} from the copy beside it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="archive folder to make once and reuse")
    parser.add_argument("--no-scratch", action="store_true", help="skip step 1 (see above)")
    args = parser.parse_args()
    root = args.keep or Path(f"/tmp/podarchive-bench-related-{args.episodes}")
    fresh = not (root / "archive.db").is_file()
    archive = Archive.at(root)
    db = archive.open_db()
    if fresh:
        started = time.perf_counter()
        for first in range(0, args.episodes, 500):
            add_episodes(db, first, min(500, args.episodes - first))
        print(f"made {args.episodes:,} episodes in {time.perf_counter() - started:.0f} s")
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    done = db.execute("SELECT count(*) FROM related_stale").fetchone()[0] == 0
    if not done and args.no_scratch:
        with db.conn:  # every list empty and up to date: the upper bound of step 2
            db.execute("DELETE FROM related_stale")
            update_related(db)  # the topics' lists, made once
    elif not done:
        line(f"1. lists made from nothing ({args.episodes:,} episodes)", update_related(db))
    backup = root / "before-new-episode.db"
    shutil.copyfile(root / "archive.db", backup)
    try:
        new = add_episodes(db, args.episodes + 1000, 1)
        line(f"2. one new episode ({new[0]}, {PASSAGES} passages)", update_related(db))
        line("3. nothing new", update_related(db))
    finally:
        db.conn.close()
        shutil.move(backup, root / "archive.db")  # the archive stays as it was, for a rerun
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
