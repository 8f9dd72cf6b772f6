"""The product as a new user meets it: `run` on a served show, end to end (the demo itself runs
in the README's test)."""

import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.pipeline import EXIT_BUSY
from ingest.sample import load_sample
from tests.demo_archive import rows


@pytest.mark.slow
def test_second_run_does_no_work_and_says_so(sample_show, tmp_path, monkeypatch, fake_transcriber):
    # What is said does not matter here (the README's demo test runs the whole job on Whisper),
    # so the first run hears the sample scripts.
    monkeypatch.setattr("ingest.transcribe.get_transcriber", lambda *_: fake_transcriber.load())
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
    assert rows(root / "archive.db", "SELECT count(*) AS n FROM episodes")[0]["n"] >= 4

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


ONE_EPISODE_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>One Episode</title><link>https://example.com/</link>
<description>A show of one spoken episode.</description><language>en</language>
<item><title>The only episode</title><guid>only-1</guid><description>Spoken.</description>
<pubDate>Tue, 05 Mar 2024 08:00:00 GMT</pubDate>
<enclosure url="{audio}" length="1000" type="audio/mpeg"/></item>
</channel></rss>
"""


@pytest.mark.asr
@pytest.mark.slow
def test_run_transcribes_on_a_dask_scheduler(tmp_path, local_server):
    # One spoken episode is enough to show `run` hands the work to the scheduler (the cluster's
    # own tests run the whole show there, killing workers and the coordinator).
    spoken = load_sample().episodes[0]
    local_server.serve_bytes("/episode.mp3", spoken.audio_path.read_bytes(), "audio/mpeg")
    feed = ONE_EPISODE_FEED.format(audio=local_server.url("/episode.mp3")).encode()
    local_server.serve_bytes("/feed.xml", feed, "application/rss+xml")
    from distributed import LocalCluster

    root = tmp_path / "archive"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = CliRunner().invoke(
            cli,
            ["--archive", str(root), "run", "--no-build", "--scheduler", cluster.scheduler_address]
            + [local_server.url("/feed.xml")],
        )
    assert result.exit_code == 0, result.output
    # The worker fetched the enclosure itself (the audio folder is not shared), after `run`'s
    # own download.
    assert len(local_server.requests_to("/episode.mp3")) == 2
    (episode,) = rows(root / "archive.db", "SELECT * FROM episodes")
    assert (episode["transcript_status"], episode["transcript_source"]) == ("done", "asr")
    said = rows(
        root / "archive.db", "SELECT text FROM segments WHERE episode_id = ?", [episode["id"]]
    )
    assert "".join(s["text"] for s in said).strip()


def test_run_with_a_missing_model_fails_clearly_and_keeps_the_audio(sample_show, tmp_path):
    root = tmp_path / "archive"
    result = CliRunner().invoke(
        cli, ["--archive", str(root), "run", "--model", "no-such-model", sample_show.feed_url]
    )
    assert result.exit_code == 3, result.output
    assert "Run failed" in result.output and "no-such-model" in result.output
    # The downloads went on to the end: the next run only has to transcribe.
    episodes = rows(root / "archive.db", "SELECT audio_sha256 FROM episodes")
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
    (episode,) = rows(root / "archive.db", "SELECT * FROM episodes")
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
