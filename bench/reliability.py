"""What was tried and what survived: the reliability suite as a table, plus a load test.

Runs every case in tests/reliability (hostile feeds, hostile content in Chromium, failing
servers, killed runs, runs at once) through pytest, collecting each test's expected behaviour
(its docstring) and what it observed, then load-tests Datasette search on a transcribed sample
archive: 20 concurrent clients for 30 s on loopback, a fixed request budget and a hard deadline.

    python bench/reliability.py                     # cases + 30 s load test
    python bench/reliability.py --no-cases          # only the load test
    python bench/reliability.py --no-load -k feeds  # only cases matching a pytest -k expression
    python bench/reliability.py --archive /tmp/ra   # reuse (or build once into) that archive
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUITE = ROOT / "tests" / "reliability"
WIDTHS = (34, 46, 58, 6)  # case, expected, observed, result


@dataclass
class Case:
    name: str
    expected: str
    observed: str = ""
    outcome: str = "not run"
    seconds: float = 0.0


class Collector:
    """A pytest plugin keeping each test's docstring, recorded observation and outcome."""

    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}

    def pytest_collection_finish(self, session) -> None:
        for item in session.items:  # after -k deselection
            doc = " ".join((item.function.__doc__ or "").split())
            name = item.name.removeprefix("test_").replace("_", " ")
            area = item.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
            self.cases[item.nodeid] = Case(name=f"{area}: {name}", expected=doc)

    def pytest_runtest_logreport(self, report) -> None:
        case = self.cases.get(report.nodeid)
        if case is None:
            return
        case.seconds += report.duration
        for key, value in report.user_properties:
            if key == "observed":
                case.observed = str(value)
        if report.when == "call" or report.outcome != "passed":
            if report.outcome == "failed":
                case.outcome = "FAIL"
                message = str(report.longrepr).strip().splitlines()
                case.observed = (case.observed + " | " if case.observed else "") + (
                    message[-1] if message else "failed"
                )
            elif report.outcome == "skipped":
                case.outcome = "skip"
            elif report.when == "call":
                case.outcome = "pass"


def run_cases(keyword: str | None) -> list[Case]:
    import pytest

    collector = Collector()
    args = [str(SUITE), "-q", "-p", "no:cacheprovider", "--no-header", "-rN"]
    if keyword:
        args += ["-k", keyword]
    pytest.main(args, plugins=[collector])
    return list(collector.cases.values())


def wrap_row(cells: tuple[str, ...]) -> list[str]:
    columns = [
        textwrap.wrap(cell, width) or [""] for cell, width in zip(cells, WIDTHS, strict=True)
    ]
    height = max(len(column) for column in columns)
    lines = []
    for index in range(height):
        parts = [
            (column[index] if index < len(column) else "").ljust(width)
            for column, width in zip(columns, WIDTHS, strict=True)
        ]
        lines.append("| " + " | ".join(parts) + " |")
    return lines


def print_table(cases: list[Case]) -> None:
    rule = "|" + "|".join("-" * (width + 2) for width in WIDTHS) + "|"
    print(rule)
    print(wrap_row(("case", "expected behaviour", "observed behaviour", "result"))[0])
    print(rule)
    for case in cases:
        for line in wrap_row((case.name, case.expected, case.observed, case.outcome)):
            print(line)
        print(rule)


def run_load(args) -> tuple[Case, object]:
    from tests.reliability.served import build_archive, datasette, load_test

    if args.archive and (Path(args.archive) / "archive.db").exists():
        root, built = Path(args.archive), None
        print(f"Load test on the existing archive {root}")
    else:
        root = Path(args.archive or tempfile.mkdtemp(prefix="podarchive-reliability-"))
        clip = build_clip()
        print(f"Building the transcribed sample archive in {root} (podarchive run) ...", flush=True)
        started = time.monotonic()
        built = build_archive(root, clip)
        print(f"  built in {time.monotonic() - started:.0f} s")
    try:
        with datasette(root) as base:
            load_before = os.getloadavg()[0]
            result = load_test(
                base, clients=args.clients, seconds=args.seconds, max_requests=args.max_requests
            )
            load_after = os.getloadavg()[0]
    finally:
        if built is not None:
            built.stop()
            if not args.archive:  # a folder we made: leave nothing behind
                shutil.rmtree(root, ignore_errors=True)
    case = Case(
        name=f"load: Datasette search, {args.clients} clients x {args.seconds:g} s",
        expected="Every search answers 200 with JSON; the run stops by itself (time limit or "
        "request budget); p50/p99 latency and requests per second reported.",
        observed=result.line() + (f"; first error: {result.errors[0]}" if result.errors else ""),
        outcome="pass" if not result.errors and result.matched else "FAIL",
        seconds=result.seconds,
    )
    return case, (result, load_before, load_after)


def build_clip() -> bytes:
    """A 2 s MP3 cut from the sample show: the hostile show's audio."""
    import subprocess

    from ingest.sample import load_sample

    source = load_sample().episodes[0].audio_path
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "short.mp3"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(source), "-t", "2"]
            + ["-codec:a", "copy", str(target)],
            check=True,
        )
        return target.read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cases", action="store_true", help="Skip the pytest cases.")
    parser.add_argument("--no-load", action="store_true", help="Skip the load test.")
    parser.add_argument("-k", dest="keyword", help="Only cases matching this pytest -k expression.")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=200_000, help="Request budget.")
    parser.add_argument("--archive", help="Archive folder for the load test (built if empty).")
    args = parser.parse_args()

    started = time.monotonic()
    cases = [] if args.no_cases else run_cases(args.keyword)
    figures = None
    if not args.no_load:
        load_case, figures = run_load(args)
        cases.append(load_case)

    print()
    print_table(cases)
    totals = {name: sum(c.outcome == name for c in cases) for name in ("pass", "FAIL", "skip")}
    print(
        f"Totals: {len(cases)} cases, {totals['pass']} passed, {totals['FAIL']} failed, "
        f"{totals['skip']} skipped, {len(cases) - sum(totals.values())} not run "
        f"({time.monotonic() - started:.0f} s)"
    )
    if figures is not None:
        result, load_before, load_after = figures
        print(
            f"Load test: {result.requests} requests in {result.seconds:.1f} s "
            f"({result.rps:.1f} req/s), {len(result.errors)} errors, "
            f"p50 {result.percentile(0.5) * 1000:.0f} ms, "
            f"p99 {result.percentile(0.99) * 1000:.0f} ms; "
            f"machine load average {load_before:.1f} before, {load_after:.1f} after "
            f"({os.cpu_count()} CPUs)"
        )
    return 0 if totals["FAIL"] == 0 and len(cases) == totals["pass"] + totals["skip"] else 1


if __name__ == "__main__":
    sys.exit(main())
