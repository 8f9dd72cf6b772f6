"""Killed runs and runs at once: `podarchive run` as its own process, SIGKILLed mid-step.

Each kill waits for a state it can see (the feed request arrived, a `.part` growing, the first
transcript announced while the second episode's audio is in, the site folder appearing), never
for a fixed time. After a kill the database must pass `PRAGMA integrity_check` and no published
file may be half written; the next run must finish the work with exactly the episodes, segments
and pages of a clean run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.archive import LOCK_NAME
from ingest.pipeline import EXIT_BUSY, EXIT_OK
from tests.reliability.conftest import (
    RSS_TYPE,
    Feed,
    Item,
    Swappable,
    half_written,
    integrity,
    podarchive,
    published_problems,
    rows,
    vtt,
)
from tests.server import AudioFile, LocalServer, drip, status

# Every test runs the whole job in a subprocess, Whisper on the kill show's second episode.
pytestmark = [pytest.mark.asr, pytest.mark.slow]

POLL_S = 0.01
STATE_TIMEOUT_S = 240  # generous: the machine may be busy; the poll ends as soon as it can
RUN_TIMEOUT_S = 300


def descendants(pid: int) -> list[int]:
    """Process ids of `pid`'s children, grandchildren and so on (from /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


class Watched:
    """A `podarchive` process whose output lines are collected as they come."""

    def __init__(self, root: Path, *args: str):
        self.process = podarchive(root, *args)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + STATE_TIMEOUT_S
        while not condition():
            if self.process.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"the run ended before {what}:\n{self.output}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"never saw {what}:\n{self.output}")
            time.sleep(POLL_S)

    def kill(self) -> int:
        """SIGKILL the run alone (as the OOM killer would); then let any child it started (the
        Pagefind indexer) end, so it cannot write beside the next run."""
        orphans = descendants(self.process.pid)
        self.process.send_signal(signal.SIGKILL)
        code = self.process.wait(60)
        self._reader.join(5)
        deadline = time.monotonic() + 60
        while any(Path(f"/proc/{pid}").exists() for pid in orphans):
            if time.monotonic() > deadline:
                for pid in orphans:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                break
            time.sleep(POLL_S)
        return code

    def finish(self) -> int:
        code = self.process.wait(RUN_TIMEOUT_S)
        self._reader.join(5)
        return code


class KillShow:
    """A two-episode show on its own server: episode 1 has a publisher transcript, episode 2
    needs Whisper. Feed and audio speeds are set per test."""

    def __init__(self, clips: dict[str, bytes]):
        self.server = LocalServer().start()
        self.clips = clips
        self.feed = Feed(
            title="Kill Show",
            items=[
                Item(
                    guid="kill-1",
                    title="Publisher transcript episode",
                    enclosure=self.server.url("/1.mp3"),
                    transcript=self.server.url("/1.vtt"),
                ),
                Item(
                    guid="kill-2",
                    title="Whisper episode",
                    enclosure=self.server.url("/2.mp3"),
                ),
            ],
        )
        self.feed_route = Swappable(status(200, self.feed.bytes(), RSS_TYPE))
        self.server.route("/feed.xml", self.feed_route)
        self.audio = {n: AudioFile(clips["speech"]) for n in (1, 2)}
        for number, handler in self.audio.items():
            self.server.route(f"/{number}.mp3", handler)
        self.server.serve_bytes(
            "/1.vtt",
            vtt("Welcome to the kill show.", "We talk about hiring.", "Thanks for listening."),
            "text/vtt",
        )

    @property
    def url(self) -> str:
        return self.server.url("/feed.xml")

    def fast(self) -> None:
        self.feed_route.handler = status(200, self.feed.bytes(), RSS_TYPE)
        for handler in self.audio.values():
            handler.delay = 0.0
            handler.chunk_size = 16 * 1024


def holds_open(run: Watched, root: Path) -> bool:
    """True once the process has the archive's lock file open (it is then waiting on it)."""
    folder = Path(f"/proc/{run.process.pid}/fd")
    try:
        targets = [str(fd.readlink()) for fd in folder.iterdir()]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return any(t.endswith(LOCK_NAME) for t in targets)


def archive_state(root: Path) -> dict:
    """What a run leaves that must match a clean run: episodes, segments and tags per episode,
    the site's pages."""
    db = root / "archive.db"
    episodes = rows(
        db,
        "SELECT e.guid, e.transcript_status, e.transcript_source,"
        " (SELECT count(*) FROM segments s WHERE s.episode_id = e.id) AS segments,"
        " (SELECT count(DISTINCT s.idx) FROM segments s WHERE s.episode_id = e.id) AS positions,"
        " (SELECT count(*) FROM episode_tags t WHERE t.episode_id = e.id) AS tags"
        " FROM episodes e ORDER BY e.guid",
    )
    pages = sorted(
        str(p.relative_to(root / "site"))
        for p in (root / "site").rglob("*.html")
        if "pagefind" not in p.parts
    )
    return {"episodes": episodes, "pages": pages}


@pytest.fixture(scope="module")
def clean(tmp_path_factory, clips):
    """The reference: one uninterrupted run of the kill show."""
    show = KillShow(clips)
    root = tmp_path_factory.mktemp("clean") / "archive"
    run = Watched(root, "run", show.url)
    assert run.finish() == EXIT_OK, run.output
    state = archive_state(root)
    show.server.stop()
    assert [e["transcript_status"] for e in state["episodes"]] == ["done", "done"]
    assert all(e["segments"] == e["positions"] > 0 for e in state["episodes"])
    return state


@pytest.fixture
def show(clips):
    kill_show = KillShow(clips)
    yield kill_show
    kill_show.server.stop()


def check_after_kill(root: Path) -> list[str]:
    """Right after a SIGKILL: the database is sound and nothing under a final name is partial."""
    if (root / "archive.db").exists():
        assert integrity(root / "archive.db") == "ok"
    problems = [p for p in published_problems(root) if not p.endswith(".tmp")]
    assert problems == []
    return half_written(root)  # temp files the kill left (never under a final name)


def resume_and_compare(root: Path, show: KillShow, clean: dict) -> Watched:
    show.fast()
    again = Watched(root, "run", show.url)
    assert again.finish() == EXIT_OK, again.output
    assert integrity(root / "archive.db") == "ok"
    assert published_problems(root) == []
    assert list(root.glob("audio/*/*.part*")) == []  # every partial download was finished
    assert archive_state(root) == clean
    runs = rows(root / "archive.db", "SELECT status FROM runs ORDER BY id")
    assert runs[-1]["status"] == "ok"
    return again


def test_killed_during_fetch(tmp_path, show, clean, observe):
    """SIGKILL while the feed is being read: nothing half-stored; the next run archives the
    show with the same episodes, segments and pages as a clean run."""
    # The feed a few bytes at a time: the fetch step lasts while the test kills it.
    show.feed_route.handler = drip(show.feed.bytes(), 0.02, RSS_TYPE, chunk=16)
    root = tmp_path / "archive"
    run = Watched(root, "run", show.url)
    run.wait_for(lambda: show.server.requests_to("/feed.xml"), "the feed request")
    assert run.kill() == -signal.SIGKILL
    leftovers = check_after_kill(root)
    stored = rows(root / "archive.db", "SELECT count(*) AS n FROM episodes")[0]["n"]
    resume_and_compare(root, show, clean)
    observe(
        f"killed mid-feed ({stored} episodes stored at the kill, temp files {leftovers}); "
        f"next run: exit 0, integrity ok, same {len(clean['episodes'])} episodes, "
        f"{sum(e['segments'] for e in clean['episodes'])} segments, {len(clean['pages'])} pages"
    )


def test_killed_during_a_download(tmp_path, show, clean, observe):
    """SIGKILL while audio streams into its `.part`: no audio file under a final name is
    partial; the next run resumes the `.part` with a Range request and finishes everything."""
    for handler in show.audio.values():
        handler.chunk_size, handler.delay = 4096, 0.05
    root = tmp_path / "archive"
    run = Watched(root, "run", show.url)

    def growing_part() -> bool:
        return any(p.stat().st_size > 8192 for p in root.glob("audio/*/*.part"))

    run.wait_for(growing_part, "a .part file receiving audio")
    assert run.kill() == -signal.SIGKILL
    parts = {p.name: p.stat().st_size for p in root.glob("audio/*/*.part")}
    check_after_kill(root)
    resume_and_compare(root, show, clean)
    ranges = [
        r.headers.get("Range")
        for r in show.server.requests
        if r.path.endswith(".mp3") and r.headers.get("Range")
    ]
    assert ranges, "the next run fetched the audio again from the start"
    observe(
        f"killed with partial audio {sorted(parts.values())} bytes; next run resumed with "
        f"{ranges[0]}; exit 0, integrity ok, same episodes, segments and pages as a clean run"
    )


def test_killed_during_a_transcription(tmp_path, show, clean, observe):
    """SIGKILL while Whisper works on an episode (the other one already done): no transcript
    file is partial, every JSON parses; the next run transcribes it once, nothing counted
    twice."""
    root = tmp_path / "archive"
    # The Whisper episode's audio comes slowly, so the publisher's episode is done first
    # whatever the speed of Whisper on this machine.
    show.audio[2].chunk_size, show.audio[2].delay = 4096, 0.05
    run = Watched(root, "run", show.url)

    def whisper_at_work() -> bool:
        audio_in = len(list(root.glob("audio/*/*.mp3"))) == 2
        return audio_in and run.said("Transcript 1:") and not run.said("Transcript 2:")

    run.wait_for(whisper_at_work, "Whisper working on the second episode")
    assert run.kill() == -signal.SIGKILL
    check_after_kill(root)
    done = rows(
        root / "archive.db",
        "SELECT guid, transcript_status FROM episodes WHERE transcript_status IS NOT NULL",
    )
    assert [e["guid"] for e in done] == ["kill-1"], run.lines
    again = resume_and_compare(root, show, clean)
    assert again.said("Transcribed: 1")
    observe(
        f"killed with {len(done)} of 2 transcripts done; next run transcribed the other once; "
        "exit 0, integrity ok, segment counts match a clean run"
    )


def test_killed_during_the_site_build(tmp_path, show, clean, observe):
    """SIGKILL while the site is written: every page on disk is whole (ends with </html>); the
    next run completes the site with the same pages as a clean run and no temp files."""
    root = tmp_path / "archive"
    run = Watched(root, "run", show.url)

    def pages_appearing() -> bool:
        site = root / "site"
        return run.said("Tagged") and site.is_dir() and any(site.rglob("*.html"))

    run.wait_for(pages_appearing, "the site build writing pages")
    code = run.kill()
    assert code == -signal.SIGKILL, run.output
    pages = len([p for p in (root / "site").rglob("*.html") if "pagefind" not in p.parts])
    index = (root / "site" / "pagefind" / "shards.json").exists()
    leftovers = check_after_kill(root)
    resume_and_compare(root, show, clean)
    assert half_written(root) == []
    observe(
        f"killed with {pages} pages written, Pagefind index "
        f"{'present' if index else 'not yet written'} (temp files left: {len(leftovers)}); "
        "next run: "
        f"exit 0, all {len(clean['pages'])} pages whole, no temp files"
    )


def test_two_runs_at_once(tmp_path, show, observe):
    """A second run while one holds the archive exits 75 with a message naming the holder;
    with --wait it waits and then runs; the database is never corrupted."""
    for handler in show.audio.values():
        handler.chunk_size, handler.delay = 4096, 0.05
    show.server.serve_bytes("/2.vtt", vtt("Only a publisher transcript here."), "text/vtt")
    show.feed.items[1].transcript = show.server.url("/2.vtt")  # no Whisper: this is about locks
    show.feed_route.handler = status(200, show.feed.bytes(), RSS_TYPE)
    root = tmp_path / "archive"
    first = Watched(root, "run", show.url)
    first.wait_for(lambda: list(root.glob("audio/*/*.part")), "the first run downloading")

    busy = Watched(root, "run")
    assert busy.finish() == EXIT_BUSY
    assert "another podarchive run" in busy.output and str(first.process.pid) in busy.output

    waiting = Watched(root, "run", "--wait", "300")
    waiting.wait_for(lambda: holds_open(waiting, root), "the waiting run trying the lock")
    assert first.process.poll() is None and waiting.process.poll() is None
    show.fast()
    assert first.finish() == EXIT_OK, first.output
    assert waiting.finish() == EXIT_OK, waiting.output
    assert "Nothing new" in waiting.output or "not modified" in waiting.output
    assert integrity(root / "archive.db") == "ok"
    assert published_problems(root) == []
    assert len(rows(root / "archive.db", "SELECT id FROM episodes")) == 2
    observe(
        f"second run: exit {EXIT_BUSY}, '{busy.lines[-1][:90]}'; --wait run waited, then exit 0; "
        "integrity ok"
    )
