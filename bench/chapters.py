"""Generated chapters on held-out real conversations: do they find where the subject changes,
do they keep the length rules, and what do they cost.

    python bench/chapters.py [--slice-minutes 12] [--episodes 4]

Nothing here was tuned on: the generator's constants were set on the bundled sample show
only. Each case joins `--episodes` slices of `--slice-minutes` from different Changelog
transcripts (../shared/corpora/changelog/, three shows), so the true subject changes are the
joins. Reported per case and in all: joins found (a chapter starts within 60 s of one), extra
chapter starts, the shortest chapter, chapters per hour, and CPU seconds per hour of speech.
Sentences are timed at 2.5 words a second (bench/tag_eval.py); no topic moments are given
(no recruiting topic is discussed), so this measures the sentence-embedding part alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tag_eval import changelog_lines, segments_from_lines  # noqa: E402
from ingest.chapters.generate import generate_chapters  # noqa: E402
from ingest.embed import encode  # noqa: E402
from ingest.records import Segment  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "changelog"
TOLERANCE_SECONDS = 60.0


def joined_case(paths: list[Path], minutes: float) -> tuple[list[Segment], list[float]]:
    """Slices of each transcript (from its tenth minute: past the intro) spoken back to back;
    and the times of the joins."""
    segments: list[Segment] = []
    joins: list[float] = []
    offset = 0.0
    for path in paths:
        part = segments_from_lines(changelog_lines(path))
        start = 600.0
        piece = [s for s in part if start <= s.start < start + minutes * 60]
        if segments:
            joins.append(offset)
        for s in piece:
            segments.append(
                Segment(s.start - start + offset, s.end - start + offset, s.text, s.speaker)
            )
        offset = segments[-1].end + 0.5
    return segments, joins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slice-minutes", type=float, default=12.0)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--cases", type=int, default=3)
    args = parser.parse_args()
    shows = [
        sorted((CORPUS / name).glob("*.md")) for name in ("podcast", "founderstalk", "brainscience")
    ]
    encode(["warm up"])  # the model's load is not the generator's cost
    found = total = extra = 0
    seconds = cpu = 0.0
    shortest = float("inf")
    chapters_count = 0
    for case in range(args.cases):
        paths = [
            shows[(case + i) % 3][(7 * case + 3 * i) % len(shows[(case + i) % 3])]
            for i in range(args.episodes)
        ]
        segments, joins = joined_case(paths, args.slice_minutes)
        duration = segments[-1].end
        started = time.process_time()
        chapters = generate_chapters(segments, [], duration, encode)
        used = time.process_time() - started
        starts = [c.start for c in chapters[1:]]
        hit = sum(any(abs(s - j) <= TOLERANCE_SECONDS for s in starts) for j in joins)
        near = sum(any(abs(s - j) <= TOLERANCE_SECONDS for j in joins) for s in starts)
        found, total, extra = found + hit, total + len(joins), extra + len(starts) - near
        seconds, cpu = seconds + duration, cpu + used
        shortest = min(shortest, min(c.end - c.start for c in chapters))
        chapters_count += len(chapters)
        names = " + ".join(p.stem for p in paths)
        print(f"case {case + 1}: {duration / 60:.0f} min ({names})")
        print(
            f"  joins found {hit}/{len(joins)}; chapters {len(chapters)}, "
            f"extra starts {len(starts) - near}; CPU {used:.1f} s"
        )
        for c in chapters:
            print(f"    {c.start / 60:6.1f} min  {c.title}")
    hours = seconds / 3600
    print(
        f"\nall: joins found {found}/{total} ({found / total:.0%})"
        f" within {TOLERANCE_SECONDS:.0f} s; "
        f"extra chapter starts {extra}; shortest chapter {shortest:.0f} s; "
        f"{chapters_count / hours:.1f} chapters per hour (at most {3600 / 180:.0f}); "
        f"CPU {cpu / hours:.1f} s per hour of speech"
    )


if __name__ == "__main__":
    main()
