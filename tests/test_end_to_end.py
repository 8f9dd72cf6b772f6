"""The product as a new user meets it: the demo, and `run` on a served show, end to end."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.pipeline import EXIT_BUSY


def _rows(db_path, sql, params=()):
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params)]


@pytest.mark.asr
@pytest.mark.slow
def test_demo_without_serving_builds_the_whole_archive(tmp_path):
    root = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["--archive", str(root), "demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "Failures: 0" in result.output

    db = root / "archive.db"
    episodes = _rows(db, "SELECT * FROM episodes")
    assert len(episodes) >= 4
    assert all(e["audio_sha256"] for e in episodes)
    assert {e["transcript_status"] for e in episodes} == {"done"}
    assert {e["transcript_source"] for e in episodes} == {"asr", "publisher"}

    # Every episode has its four transcript files, and the JSON is the Podcasting 2.0 format.
    for episode in episodes:
        stem = root / "transcripts" / episode["show_id"] / episode["id"]
        for ext in ("json", "vtt", "srt", "txt"):
            assert stem.with_suffix(f".{ext}").stat().st_size > 0
        document = json.loads(stem.with_suffix(".json").read_text())
        assert document["segments"][0]["body"]

    one_medical = next(e for e in episodes if "One Medical" in e["title"])
    segments = _rows(db, "SELECT text FROM segments WHERE episode_id = ?", [one_medical["id"]])
    assert "reverse interview" in " ".join(s["text"] for s in segments).lower()
    tags = {
        r["tag_slug"]
        for r in _rows(db, "SELECT * FROM episode_tags WHERE episode_id = ?", [one_medical["id"]])
    }
    # Grit survives transcription only because the show's vocabulary names it (see demo.py).
    assert {"reverse-interviews", "grit-and-resilience", "collaboration"} <= tags
    moments = _rows(
        db,
        "SELECT start FROM topic_moments WHERE episode_id = ? AND tag_slug = 'reverse-interviews'",
        [one_medical["id"]],
    )
    assert moments

    # Every episode has chapters (generated: the sample feed has none), in the database and
    # beside its transcripts; on real Whisper output the One Medical episode's separate the
    # reverse interview from the soft skills.
    for episode in episodes:
        assert episode["chapters_source"] == "generated"
        assert _rows(db, "SELECT 1 FROM chapters WHERE episode_id = ?", [episode["id"]])
        stem = root / "transcripts" / episode["show_id"] / episode["id"]
        assert json.loads(stem.with_suffix(".chapters.json").read_text())["chapters"]
    timed = _rows(
        db,
        "SELECT start, text FROM segments WHERE episode_id = ? ORDER BY idx",
        [one_medical["id"]],
    )
    starts = [
        c["start"]
        for c in _rows(db, "SELECT start FROM chapters WHERE episode_id = ?", [one_medical["id"]])
    ]

    def chapter_of(*words: str) -> float:
        said = next(s["start"] for s in timed if any(w in s["text"].lower() for w in words))
        return max(start for start in starts if start <= said + 0.5)

    assert chapter_of("reverse interview") != chapter_of("soft comp", "collaboration")

    page = root / "site" / "episodes" / one_medical["slug"] / "index.html"
    html = page.read_text()
    assert "reverse interview" in html.lower()
    assert (root / "site" / "index.html").exists()
    assert (root / "site" / "pagefind").is_dir()
    run = _rows(db, "SELECT status FROM runs ORDER BY id DESC LIMIT 1")[0]
    assert run["status"] == "ok"


@pytest.mark.asr
@pytest.mark.slow
def test_second_run_does_no_work_and_says_so(sample_show, tmp_path):
    root = tmp_path / "archive"
    runner = CliRunner()
    first = runner.invoke(cli, ["--archive", str(root), "run", sample_show.feed_url])
    assert first.exit_code == 0, first.output
    assert "Transcribed:" in first.output
    site_files = {p: p.stat().st_mtime_ns for p in (root / "site").rglob("*") if p.is_file()}

    second = runner.invoke(cli, ["--archive", str(root), "run"])
    assert second.exit_code == 0, second.output
    assert "Nothing new" in second.output
    assert "not modified" in second.output
    after = {p: p.stat().st_mtime_ns for p in (root / "site").rglob("*") if p.is_file()}
    assert after == site_files  # not one file rewritten
    assert _rows(root / "archive.db", "SELECT count(*) AS n FROM episodes")[0]["n"] >= 4

    # The terminal search ranks the One Medical passage first and links to its second.
    found = runner.invoke(cli, ["--archive", str(root), "search", '"reverse interview"'])
    assert found.exit_code == 0, found.output
    first_hit = found.output.splitlines()[0]
    assert first_hit.startswith("1. One Medical") and " at 0:" in first_hit
    assert re.search(r"/episodes/one-medical[^ ]*/#t=\d+", found.output)
    filtered = runner.invoke(
        cli, ["--archive", str(root), "search", "interview", "--topic", "pay-transparency"]
    )
    assert "One Medical" not in filtered.output
    # Text full-text syntax would reject is searched as plain words, never an FTS5 error.
    unclosed = runner.invoke(cli, ["--archive", str(root), "search", '"reverse interview'])
    assert unclosed.exit_code == 0, unclosed.output
    assert "fts5" not in unclosed.output.lower() and "One Medical" in unclosed.output


def test_run_exits_75_while_another_run_holds_the_archive(tmp_path):
    from ingest.archive import archive_lock

    root = tmp_path / "archive"
    with archive_lock(root):
        result = subprocess.run(
            [sys.executable, "-m", "ingest.cli", "--archive", str(root), "run"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == EXIT_BUSY
    assert "another podarchive run" in result.stderr


def test_run_with_a_dead_feed_fails_clearly(tmp_path, local_server):
    root = tmp_path / "archive"
    result = CliRunner().invoke(cli, ["--archive", str(root), "run", local_server.url("/gone.xml")])
    assert result.exit_code == 3, result.output
    assert "gone.xml" in result.output


@pytest.mark.asr
@pytest.mark.slow
def test_demo_serves_the_site_and_datasette_until_interrupted(tmp_path):
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest.cli", "--archive", str(tmp_path / "demo"), "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        urls = {}
        deadline = time.monotonic() + 300
        while len(urls) < 2 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            match = re.match(r"(Static site|Datasette):\s+(\S+)", line)
            if match:
                urls[match.group(1)] = match.group(2)
        assert set(urls) == {"Static site", "Datasette"}, "demo never printed its URLs"
        site = httpx.get(urls["Static site"])
        assert site.status_code == 200 and "Talk Talent To Me" in site.text
        search = httpx.get(
            urls["Datasette"] + "archive/segments.json",
            params={"_search": "reverse interview", "_shape": "array"},
        )
        assert search.status_code == 200 and search.json()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.asr
@pytest.mark.slow
def test_run_transcribes_on_a_dask_scheduler(sample_show, tmp_path):
    from distributed import LocalCluster

    root = tmp_path / "archive"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = CliRunner().invoke(
            cli,
            ["--archive", str(root), "run", "--no-build", "--scheduler", cluster.scheduler_address]
            + [sample_show.feed_url],
        )
    assert result.exit_code == 0, result.output
    episodes = _rows(
        root / "archive.db", "SELECT transcript_status, transcript_source FROM episodes"
    )
    assert {e["transcript_status"] for e in episodes} == {"done"}
    assert sum(e["transcript_source"] == "asr" for e in episodes) >= 4


def test_run_with_a_missing_model_fails_clearly_and_keeps_the_audio(sample_show, tmp_path):
    root = tmp_path / "archive"
    result = CliRunner().invoke(
        cli, ["--archive", str(root), "run", "--model", "no-such-model", sample_show.feed_url]
    )
    assert result.exit_code == 3, result.output
    assert "Run failed" in result.output and "no-such-model" in result.output
    # The downloads went on to the end: the next run only has to transcribe.
    episodes = _rows(root / "archive.db", "SELECT audio_sha256 FROM episodes")
    assert episodes and all(e["audio_sha256"] for e in episodes)


def test_an_archive_folder_that_cannot_be_made_is_one_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in (["run"], ["shows"], ["demo", "--no-serve"], ["download"]):
        result = CliRunner().invoke(cli, ["--archive", str(blocker / "archive"), *command])
        assert result.exit_code == 1, (command, result.output)
        assert "cannot create the archive folder" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_search_never_creates_an_archive(tmp_path):
    root = tmp_path / "nothing-here"
    result = CliRunner().invoke(cli, ["--archive", str(root), "search", "grit", "--show", "x"])
    assert result.exit_code == 1 and "no archive database" in result.output
    assert not root.exists()


@pytest.mark.parametrize("inside", ["", "site"])
def test_the_demo_never_empties_the_folder_it_runs_in(tmp_path, monkeypatch, inside):
    """`cd podarchive-demo && podarchive --archive . demo` once deleted the folder under its own
    run; now the demo refuses, in one line, and the earlier demo stays as it was."""
    root = tmp_path / "podarchive-demo"
    (root / "site").mkdir(parents=True)
    (root / ".podarchive-demo").write_text("an earlier demo\n")
    (root / "site" / "index.html").write_text("earlier page")
    monkeypatch.chdir(root / inside)
    result = CliRunner().invoke(cli, ["--archive", str(root), "demo", "--no-serve"])
    assert result.exit_code == 1, result.output
    assert "holds the current folder" in result.output and str(root) in result.output
    assert (root / "site" / "index.html").read_text() == "earlier page"


MUSIC_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Interludes</title><link>https://example.com/</link>
<description>Music between seasons.</description><language>en</language>
<item><title>Season break</title><guid>interlude-1</guid><description>Music only.</description>
<pubDate>Tue, 05 Mar 2024 08:00:00 GMT</pubDate>
<enclosure url="{audio}" length="1000" type="audio/mpeg"/></item>
</channel></rss>
"""


def serve_music_feed(server, folder, seconds: int) -> None:
    """A feed of one episode of chords (no speech, no duration in the feed) on `server`."""
    music = folder / "interlude.mp3"
    tones = [f"sine=frequency={f}:duration={seconds}" for f in (220, 330, 440)]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y"]
        + [arg for tone in tones for arg in ("-f", "lavfi", "-i", tone)]
        + ["-filter_complex", "[0][1][2]amix=inputs=3,tremolo=f=4:d=0.6", "-ac", "1", str(music)],
        check=True,
    )
    server.serve_bytes("/interlude.mp3", music.read_bytes(), "audio/mpeg")
    feed = MUSIC_FEED.format(audio=server.url("/interlude.mp3")).encode()
    server.serve_bytes("/feed.xml", feed, "application/rss+xml")


@pytest.mark.asr
@pytest.mark.slow
def test_a_music_only_episode_is_done_without_words_and_the_run_succeeds(tmp_path, local_server):
    """A trailer of music is an episode like any other: done, no words, a reason, exit 0."""
    serve_music_feed(local_server, tmp_path, seconds=20)
    root = tmp_path / "archive"
    result = CliRunner().invoke(cli, ["--archive", str(root), "run", local_server.url("/feed.xml")])
    assert result.exit_code == 0, result.output
    assert "Failures: 0" in result.output and "no speech: 1" in result.output
    assert "no speech: music or silence" in result.output  # the episode's own line says why
    (episode,) = _rows(root / "archive.db", "SELECT * FROM episodes")
    assert episode["transcript_status"] == "done" and episode["transcript_error"] is None
    assert episode["transcript_note"] == "no speech: music or silence"
    page = next((root / "site" / "episodes").glob("*/index.html")).read_text()
    assert "no speech: music or silence" in page and "not been transcribed" not in page
    # A second run does not try it again.
    again = CliRunner().invoke(cli, ["--archive", str(root), "run"])
    assert again.exit_code == 0 and "Nothing new" in again.output


@pytest.mark.asr
@pytest.mark.slow
def test_the_audio_to_transcribe_is_measured_from_the_file_when_the_feed_has_no_duration(
    tmp_path, local_server
):
    serve_music_feed(local_server, tmp_path, seconds=140)
    root = str(tmp_path / "archive")
    for command in (["fetch", local_server.url("/feed.xml")], ["download"]):
        assert CliRunner().invoke(cli, ["--archive", root, *command]).exit_code == 0
    result = CliRunner().invoke(cli, ["--archive", root, "transcribe"])
    assert result.exit_code == 0, result.output
    assert "1 episodes to transcribe (~2 min of audio)" in result.output
