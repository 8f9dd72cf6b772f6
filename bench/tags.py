"""Precision and recall of each topic scorer on the labelled evaluation set.

    python bench/tags.py [--scorer lexical] [--taxonomy FILE] [--verbose]

Prints one line per scorer over the whole set, then over the held-out cases alone (written
after tuning, never tuned on: the honest figure). Targets on the whole set: lexical P and
R >= 0.7, embeddings >= 0.8. A scorer whose extra is not installed is reported unavailable.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tag_eval import HELD_OUT_PREFIX, evaluate, load_eval_set  # noqa: E402
from ingest.tags import SCORERS, get_scorer  # noqa: E402
from ingest.taxonomy import load_taxonomy  # noqa: E402

EVAL_DIR = ROOT / "tests" / "fixtures" / "tag_eval"
TARGETS = {"lexical": 0.7, "embeddings": 0.8}


def _scorer(name: str, taxonomy):
    if name == "cosine-only":  # the embeddings scorer without its lexical half, for comparison
        from ingest.tags.embeddings import EmbeddingsScorer

        return EmbeddingsScorer(taxonomy, cosine_weight=1.0)
    return get_scorer(name, taxonomy)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scorer", action="append", choices=[*sorted(SCORERS), "cosine-only"])
    parser.add_argument("--taxonomy", type=Path, help="taxonomy file (default: the shipped one)")
    parser.add_argument("--verbose", action="store_true", help="list misses and extras per case")
    args = parser.parse_args()

    taxonomy = load_taxonomy(args.taxonomy)
    cases = load_eval_set(EVAL_DIR, taxonomy)
    labels = sum(len(c.topics) for c in cases)
    held_out = [c for c in cases if c.id.startswith(HELD_OUT_PREFIX)]
    tuned_on = [c for c in cases if not c.id.startswith(HELD_OUT_PREFIX)]
    print(
        f"{len(cases)} cases ({len(held_out)} held out), {labels} expected tags, "
        f"{len(taxonomy.topics)} topics"
    )
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    failed = False
    names = args.scorer or [*SCORERS, "cosine-only"]
    for name in names:
        try:
            started = time.perf_counter()
            scorer = _scorer(name, taxonomy)
            held = evaluate(held_out, taxonomy, scorer)
            result = evaluate(tuned_on, taxonomy, scorer) + held
            seconds = time.perf_counter() - started
        except Exception as exc:  # an extra that is not installed, reported not raised
            print(f"{name:<11} unavailable: {exc}")
            continue
        target = TARGETS.get(name, 0.0)
        ok = result.precision >= target and result.recall >= target
        failed |= not ok and name in TARGETS
        print(
            f"{name:<11} precision {result.precision:.2f}  recall {result.recall:.2f}  "
            f"(tp {result.true_positives}, fp {result.false_positives}, "
            f"fn {result.false_negatives})  "
            + (f"target {target:.1f} {'met' if ok else 'MISSED'}  " if name in TARGETS else "")
            + f"{seconds:.1f} s"
        )
        print(
            f"{'':<11} held out only: precision {held.precision:.2f}  recall {held.recall:.2f}  "
            f"(tp {held.true_positives}, fp {held.false_positives}, fn {held.false_negatives})"
        )
        if args.verbose:
            for case_id in sorted(set(result.misses) | set(result.extras)):
                print(
                    f"    {case_id}: missed {result.misses.get(case_id, [])} "
                    f"extra {result.extras.get(case_id, [])}"
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
