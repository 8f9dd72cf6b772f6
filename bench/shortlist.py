"""What the sign-code shortlist (ingest.search.shortlist) keeps of the full scan, on real
vectors: bench/relevance.py's held-out Brain Science set, embedded with the archive's model
(its sample set has 6 passages, too few to cut a share of).

Two measures:

- **Overlap**: of the exact top k by cosine, the share the shortlist's top k holds, for the
  relevance queries, over two real collections: the passage vectors and the sentence vectors
  (more rows: Brain Science has about ten times as many sentences as passages). The
  shortlist is cut at a share of the rows, as in an archive of 30,000 episodes; in these small
  collections a 2% list holds a few dozen rows to find 50 in, far fewer than the 34,000 it
  holds at 1.7 million passages, so the figures here are a floor.
- **Recall**: bench/relevance.py's recall@5 and MRR, with every search through the shortlist
  at 2% of the passages beside the full scan.

    python bench/shortlist.py   # builds and embeds the relevance sets once (cached), as it does
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import relevance  # noqa: E402
from ingest import embed  # noqa: E402
from ingest.embed import int8  # noqa: E402
from ingest.search import hybrid, shortlist  # noqa: E402
from ingest.store import vectors  # noqa: E402

SHARES = (0.01, 0.02, 0.05, 0.10)
TOPS = (5, 10, 50)


def _sentence_matrix(conn: sqlite3.Connection) -> np.ndarray:
    rows = conn.execute(
        "SELECT count, vectors FROM sentence_vectors WHERE model = ?", [embed.MODEL_ID]
    ).fetchall()
    return np.concatenate([int8.unpack(blob, count) for count, blob in rows if count])


def overlap(matrix: np.ndarray, queries: np.ndarray, share: float, top: int) -> float:
    """Mean share of the exact top `top` that the shortlist's top `top` holds."""
    codes = shortlist.sign_codes(matrix)
    kept = []
    for query in queries:
        scores = matrix @ query
        exact = set(np.argsort(-scores)[:top].tolist())
        rows = shortlist.nearest_rows(codes, query)
        listed = set(rows[np.argsort(-scores[rows])[:top]].tolist())
        kept.append(len(exact & listed) / top)
    return float(np.mean(kept))


def _recall(archive, queries) -> dict[tuple[str, str], tuple[float, float]]:
    rows = relevance.evaluate(archive, queries)
    return {(kind, mode): (r5, mrr) for kind, mode, _, _, r5, mrr, _, _ in rows}


def main() -> None:
    shortlist.MIN_SHORTLIST = 0  # cut at the share alone, as a large archive is
    for name in ("brainscience",):
        archive, queries = relevance.SETS[name](relevance.CACHE / name)
        relevance._prepare(archive)
        conn = sqlite3.connect(archive.db_path)
        texts = [query for _, query, _ in queries]
        encoded = embed.encode(texts)
        _, passages = vectors.load_matrix(conn, embed.MODEL_ID)
        collections = {"passages": passages, "sentences": _sentence_matrix(conn)}
        conn.close()
        print(f"\n## {name}: {len(texts)} queries")
        print("\n| rows | count | share kept | " + " | ".join(f"top {k}" for k in TOPS) + " |")
        print("|---|---:|---:|" + "---:|" * len(TOPS))
        for label, matrix in collections.items():
            for share in SHARES:
                shortlist.SHORTLIST_SHARE = share
                listed = int(share * len(matrix))
                cells = [
                    f"{overlap(matrix, encoded, share, k):.2f}" if k <= listed else "-"
                    for k in TOPS
                ]
                shown = " | ".join(cells)
                print(f"| {label} | {len(matrix):,} | {share:.0%} ({listed}) | {shown} |")

        hybrid._MATRICES.clear()
        shortlist.EXACT_UP_TO = 10**12
        full = _recall(archive, queries)
        shortlist.EXACT_UP_TO, shortlist.SHORTLIST_SHARE = 0, 0.02
        hybrid._MATRICES.clear()
        listed = _recall(archive, queries)
        print("\n| kind | mode | full scan R@5 / MRR | shortlist 2% R@5 / MRR |")
        print("|---|---|---|---|")
        for kind, mode in full:
            if mode in ("semantic", "hybrid"):
                (r5, mrr), (lr5, lmrr) = full[kind, mode], listed[kind, mode]
                print(f"| {kind} | {mode} | {r5:.2f} / {mrr:.2f} | {lr5:.2f} / {lmrr:.2f} |")
        hybrid._MATRICES.clear()


if __name__ == "__main__":
    main()
