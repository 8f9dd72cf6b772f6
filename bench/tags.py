"""Precision and recall of each topic scorer, per evaluation set, and what tagging costs.

    python bench/tags.py [--scorer lexical] [--taxonomy FILE] [--verbose]

Sets, each reported apart:
- tuned: the written interviews and the sample show the scorers were tuned on;
- held out: interviews written after tuning, never tuned on since;
- notes dev / notes test: the real show notes of `../shared/corpora/recruiting-notes/` (title
  and description in, the publisher's topic list as labels), split in two by a hash of the
  id; decisions were made looking at the dev half only, so the test half is the honest one;
- notes+list dev / test: the same with the publisher's topic list put back into the notes, as
  the feed item carries it (the labels were read from that list);
- notes all / notes+list all: both halves together, the whole corpus (38 episodes);
- long: real 80-130 minute conversations about software (no recruiting topic expected), one
  with a recruiting interview in its middle (a passing subject: none expected), and joined
  interviews (their topics expected). Tags per episode are listed with --verbose.

The cost line is CPU seconds per hour of speech, on the long conversations.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tag_eval import (  # noqa: E402
    HELD_OUT_PREFIX,
    WORDS_PER_SECOND,
    evaluate,
    halves,
    labels_with_words,
    load_eval_set,
    long_conversation_cases,
    recruiting_notes_cases,
)
from ingest.tags import SCORERS, get_scorer  # noqa: E402
from ingest.taxonomy import load_taxonomy  # noqa: E402

EVAL_DIR = ROOT / "tests" / "fixtures" / "tag_eval"
NOTES_FILE = ROOT.parent / "shared" / "corpora" / "recruiting-notes" / "episodes.jsonl"


def _scorer(name: str, taxonomy):
    if name == "cosine-only":  # the embeddings scorer without its lexical half, for comparison
        from ingest.tags.embeddings import EmbeddingsScorer

        return EmbeddingsScorer(taxonomy, cosine_weight=1.0)
    return get_scorer(name, taxonomy)


def evaluation_sets(taxonomy) -> dict[str, list]:
    cases = load_eval_set(EVAL_DIR, taxonomy)
    sets = {
        "tuned": [c for c in cases if not c.id.startswith(HELD_OUT_PREFIX)],
        "held out": [c for c in cases if c.id.startswith(HELD_OUT_PREFIX)],
    }
    if NOTES_FILE.exists():
        sets["notes dev"], sets["notes test"] = halves(recruiting_notes_cases(NOTES_FILE, taxonomy))
        sets["notes+list dev"], sets["notes+list test"] = halves(
            recruiting_notes_cases(NOTES_FILE, taxonomy, with_topic_lists=True)
        )
    else:
        print(f"({NOTES_FILE} not found: the real show notes are not evaluated)")
    sets["long"] = long_conversation_cases(EVAL_DIR)
    return {name: cases for name, cases in sets.items() if cases}


def speech_hours(cases) -> float:
    words = sum(len(s.text.split()) for case in cases for s in case.segments)
    return words / WORDS_PER_SECOND / 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scorer", action="append", choices=[*sorted(SCORERS), "cosine-only"])
    parser.add_argument("--taxonomy", type=Path, help="taxonomy file (default: the shipped one)")
    parser.add_argument("--verbose", action="store_true", help="list misses and extras per case")
    args = parser.parse_args()

    taxonomy = load_taxonomy(args.taxonomy)
    sets = evaluation_sets(taxonomy)
    print(
        ", ".join(
            f"{name}: {len(cases)} cases, {sum(len(c.topics) for c in cases)} labels"
            for name, cases in sets.items()
        )
    )
    bounds = {name: labels_with_words(cases, taxonomy) for name, cases in sets.items()}
    print(
        "labels with a word of their topic in the input (a bound on recall by words): "
        + ", ".join(f"{name} {found}/{total}" for name, (found, total) in bounds.items())
    )
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'scorer':<12} {'set':<15} {'P':>5} {'R':>5} {'F1':>5}   tp  fp  fn  tags/case")
    for name in args.scorer or [*SCORERS, "cosine-only"]:
        try:
            scorer = _scorer(name, taxonomy)
        except Exception as exc:  # an extra that is not installed, reported not raised
            print(f"{name:<12} unavailable: {exc}")
            continue
        results = {}
        for set_name, cases in sets.items():
            started = time.process_time()
            result = results[set_name] = evaluate(cases, taxonomy, scorer)
            cpu = time.process_time() - started
            _print_row(name, set_name, result, len(cases))
            if set_name == "long":
                hours = speech_hours(cases)
                print(f"{'':<12} cost: {cpu / hours:.1f} s of CPU per hour of speech")
            if args.verbose:
                for case in cases:
                    missed = result.misses.get(case.id, [])
                    extra = result.extras.get(case.id, [])
                    if missed or extra:
                        print(f"{'':<14}{case.id}: missed {missed} extra {extra}")
        # The whole recruiting-notes corpus, as its target is stated: both halves, one of them
        # tuned on, so the test half's own line stays the honest figure.
        for notes_set in ("notes", "notes+list"):
            dev, test = results.get(f"{notes_set} dev"), results.get(f"{notes_set} test")
            if dev and test:
                cases = len(sets[f"{notes_set} dev"]) + len(sets[f"{notes_set} test"])
                _print_row(name, f"{notes_set} all", dev + test, cases)
    return 0


def _print_row(scorer: str, set_name: str, result, cases: int) -> None:
    found = result.true_positives + result.false_positives
    print(
        f"{scorer:<12} {set_name:<15} {result.precision:5.2f} {result.recall:5.2f} "
        f"{result.f1:5.2f} {result.true_positives:4d}{result.false_positives:4d}"
        f"{result.false_negatives:4d}  {found / cases:5.1f}"
    )


if __name__ == "__main__":
    sys.exit(main())
