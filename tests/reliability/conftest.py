"""Shared parts of the reliability suite: feed builders, archive checks, `podarchive` runs.

Every test's docstring says the behaviour expected; `observe("...")` records what was seen,
so `bench/reliability.py` can print both side by side.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from ingest.sample import load_sample

FEED_PATH = "/feed.xml"
RSS_TYPE = "application/rss+xml; charset=utf-8"

# Names the program may write inside an archive: ids, slugs and fixed names, never feed text.
SAFE_NAME = re.compile(r"^[._]{0,2}[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
# Temporary names the writers use before the rename (`.part` downloads, `.x.tmp` atomic writes).
TEMP_NAME = re.compile(r"(\.part(\.json)?$|\.tmp$|^\.[^/]*\.[A-Za-z0-9_]{6,}\.tmp$)")


@pytest.fixture
def observe(record_property):
    """Record what the test saw (the report prints it beside the expected behaviour)."""

    def record(text: str) -> None:
        record_property("observed", text)

    return record


@dataclass
class Item:
    """One feed item; fields are written into the XML as given (escaped unless `raw`)."""

    guid: str | None
    title: str = "An episode"
    enclosure: str | None = None
    enclosure_type: str = "audio/mpeg"
    description: str = "Show notes."
    transcript: str | None = None  # URL of a publisher transcript (WebVTT)
    extra: str = ""  # raw XML inside <item>
    raw: bool = False  # title, guid and description are already XML


@dataclass
class Feed:
    title: str = "Reliability Show"
    items: list[Item] = field(default_factory=list)
    extra_channel: str = ""
    prolog: str = '<?xml version="1.0" encoding="utf-8"?>\n'

    def xml(self) -> str:
        body = [
            self.prolog,
            '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
            ' xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>',
            f"<title>{escape(self.title)}</title><link>https://example.com/</link>",
            "<description>A show for the reliability suite.</description>",
            "<language>en</language>",
            self.extra_channel,
        ]
        for item in self.items:
            text = (lambda s: s) if item.raw else escape
            parts = [f"<item><title>{text(item.title)}</title>"]
            if item.guid is not None:
                parts.append(f'<guid isPermaLink="false">{text(item.guid)}</guid>')
            parts.append(f"<description>{text(item.description)}</description>")
            parts.append("<pubDate>Tue, 05 Mar 2024 08:00:00 GMT</pubDate>")
            if item.enclosure is not None:
                parts.append(
                    f'<enclosure url="{escape(item.enclosure, {chr(34): "&quot;"})}"'
                    f' length="1000" type="{item.enclosure_type}"/>'
                )
            if item.transcript:
                parts.append(
                    f'<podcast:transcript url="{escape(item.transcript)}" type="text/vtt"/>'
                )
            parts.append(item.extra + "</item>")
            body.append("".join(parts))
        body.append("</channel></rss>\n")
        return "".join(body)

    def bytes(self) -> bytes:
        return self.xml().encode("utf-8")


class Swappable:
    """A route handler whose behaviour a test changes between fetches."""

    def __init__(self, handler):
        self.handler = handler

    def __call__(self, request) -> None:
        self.handler(request)


def rows(db_path: Path, sql: str, params=()) -> list[dict]:
    """Rows of a query on an archive database, through plain sqlite3 (no migrations run)."""
    conn = sqlite3.connect(db_path, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


def integrity(db_path: Path) -> str:
    return rows(db_path, "PRAGMA integrity_check")[0]["integrity_check"]


def database_text(db_path: Path) -> str:
    """Every text value in every table (and the raw file bytes), to search for leaked secrets."""
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith("sqlite_")
        ]
        chunks = []
        for table in tables:
            try:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    chunks += [str(value) for value in row if value is not None]
            except sqlite3.DatabaseError:  # FTS shadow tables a plain connection cannot read
                continue
    finally:
        conn.close()
    raw = b"".join(
        path.read_bytes()
        for path in (db_path, db_path.with_name(db_path.name + "-wal"))
        if path.exists()
    )
    return "\n".join(chunks) + raw.decode("latin-1")


def unsafe_paths(root: Path) -> list[str]:
    """Files or folders under `root` whose name is not a safe generated one, or that resolve
    outside it (a symlink or a `..` that got through)."""
    problems = []
    real_root = root.resolve()
    for path in root.rglob("*"):
        if not path.resolve().is_relative_to(real_root):
            problems.append(f"outside: {path}")
        elif not SAFE_NAME.match(path.name):
            problems.append(f"unsafe name: {path.relative_to(root)}")
    return problems


def half_written(root: Path) -> list[str]:
    """Temporary or partial files left under the archive's published folders."""
    found = []
    for folder in ("transcripts", "site"):
        for path in (root / folder).rglob("*"):
            if path.is_file() and TEMP_NAME.search(path.name):
                found.append(str(path.relative_to(root)))
    for path in (root / "audio").rglob("*"):
        # A `.part` may wait in audio/ for the next run to resume; never a final name without
        # its whole body, which `published_problems` checks against the database.
        if path.is_file() and path.name.endswith(".tmp"):
            found.append(str(path.relative_to(root)))
    return found


def published_problems(root: Path) -> list[str]:
    """Published files that are not whole: transcripts that do not parse, pages cut short,
    audio whose size or hash differs from what the database recorded."""
    import hashlib
    import json

    problems = half_written(root)
    for path in (root / "transcripts").rglob("*.json"):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            problems.append(f"{path.name}: {error}")
    for path in (root / "site").rglob("*.html"):
        if not path.read_text(encoding="utf-8").rstrip().endswith("</html>"):
            problems.append(f"{path.relative_to(root)}: cut short")
    db = root / "archive.db"
    if db.exists():
        for row in rows(
            db,
            "SELECT audio_path, audio_bytes, audio_sha256 FROM episodes"
            " WHERE audio_path IS NOT NULL",
        ):
            path = root / row["audio_path"]
            data = path.read_bytes() if path.exists() else b""
            if (
                len(data) != row["audio_bytes"]
                or hashlib.sha256(data).hexdigest() != row["audio_sha256"]
            ):
                problems.append(f"{row['audio_path']}: not the recorded file")
    return problems


def podarchive(root: Path, *args: str, **popen) -> subprocess.Popen:
    """Start `podarchive --archive root ARGS` as its own process (killable like a cron job)."""
    env = os.environ | {"PYTHONUNBUFFERED": "1", "PODARCHIVE_DIR": str(root)}
    return subprocess.Popen(
        [sys.executable, "-m", "ingest.cli", "--archive", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        **popen,
    )


def run_podarchive(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONUNBUFFERED": "1", "PODARCHIVE_DIR": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli", "--archive", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, bytes]:
    """Short real MP3s cut from the sample show's speech (`short` 2 s, `speech` 12 s)."""
    folder = tmp_path_factory.mktemp("clips")
    sample = load_sample().episodes
    result = {}
    for name, source, seconds in (("short", sample[0], 2), ("speech", sample[1], 12)):
        target = folder / f"{name}.mp3"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(source.audio_path)]
            + ["-t", str(seconds), "-codec:a", "copy", str(target)],
            check=True,
        )
        result[name] = target.read_bytes()
    return result


VTT_HEADER = "WEBVTT\n\n"


def vtt(*cues: str, seconds: float = 1.0) -> bytes:
    """A WebVTT file with one cue per text, `seconds` apart."""
    lines = [VTT_HEADER]
    for index, text in enumerate(cues):
        start, end = index * seconds, (index + 1) * seconds
        lines.append(f"00:00:{start:06.3f} --> 00:00:{end:06.3f}\n{text}\n\n")
    return "".join(lines).encode("utf-8")


@pytest.fixture(scope="session")
def served_archive(tmp_path_factory, clips):
    """The sample show (heard as its scripts) and the hostile show, archived once by `podarchive
    run`."""
    from tests.reliability.served import build_archive

    root = tmp_path_factory.mktemp("served") / "archive"
    built = build_archive(root, clips["short"], whisper=False)
    yield built
    built.stop()
