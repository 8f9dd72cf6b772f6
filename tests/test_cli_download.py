"""`podarchive download` end to end: real server, real database, real files, a real SIGKILL."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from ingest.archive import Archive
from ingest.cli import cli
from ingest.records import Episode
from ingest.store import shows
from tests.server import AudioFile, status

ID3_HEADER = b"ID3\x04\x00\x00\x00\x00\x00\x00"


def audio_body(size: int = 100_000) -> bytes:
    return ID3_HEADER + os.urandom(size - len(ID3_HEADER))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add_episodes(archive_dir, server, paths, title="Talk Talent To Me"):
    """A show whose episodes' enclosures are `paths` on the server; returns {path: episode id}."""
    db = Archive.at(archive_dir).open_db()
    show = shows.add_show(db, server.url("/feed.xml"), title)
    episodes = [
        Episode(
            guid=f"guid-{path}",
            title=f"Episode {path}",
            enclosure_url=server.url(path),
            enclosure_type="audio/mpeg",
            published=None,
        )
        for path in paths
    ]
    result = shows.upsert_episodes(db, show["id"], episodes)
    db.close()
    return show["id"], dict(zip(paths, result.added, strict=True))


def run(*args):
    return CliRunner().invoke(cli, ["download", *args])


def episode(archive_dir, episode_id):
    db = Archive.at(archive_dir).open_db()
    try:
        return shows.get_episode(db, episode_id)
    finally:
        db.close()


def test_download_records_files_reports_failures_and_skips_done_work(archive_dir, local_server):
    bodies = {"/a.mp3": audio_body(), "/b.mp3": audio_body()}
    for path, body in bodies.items():
        local_server.route(path, AudioFile(body))
    local_server.route("/page.mp3", status(200, b"<html><body>Gone</body></html>", "text/html"))
    show_id, ids = add_episodes(archive_dir, local_server, ["/a.mp3", "/missing.mp3", "/b.mp3"])
    ids["/page.mp3"] = add_episodes(archive_dir, local_server, ["/page.mp3"])[1]["/page.mp3"]

    result = run()
    assert result.exit_code == 1, result.output
    missing, page = ids["/missing.mp3"], ids["/page.mp3"]
    assert f"Error: episode {missing} (Episode /missing.mp3): HTTP 404 Not Found" in result.stderr
    assert f"Error: episode {page} (Episode /page.mp3):" in result.stderr
    assert "served an HTML page" in result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "Audio: downloaded 2 (195.3 KB), already on disk 0, failed 2"
    )

    for path, body in bodies.items():
        row = episode(archive_dir, ids[path])
        assert row["audio_path"] == f"audio/{show_id}/{ids[path]}.mp3"
        assert (archive_dir / row["audio_path"]).read_bytes() == body
        assert (row["audio_bytes"], row["audio_sha256"]) == (len(body), sha(body))
        assert row["audio_error"] is None and row["audio_at"]
    failed = episode(archive_dir, missing)
    assert failed["audio_path"] is None
    assert failed["audio_error"] == f"HTTP 404 Not Found from {local_server.url('/missing.mp3')}"
    assert sorted(p.name for p in (archive_dir / "audio" / show_id).iterdir()) == sorted(
        f"{ids[path]}.mp3" for path in bodies
    )

    # The next run fetches only what failed; the fixed episode clears its error.
    local_server.route("/missing.mp3", AudioFile(audio_body()))
    before = len(local_server.requests)
    again = run()
    assert again.exit_code == 1  # the HTML page still fails
    assert sorted(r.path for r in local_server.requests[before:]) == ["/missing.mp3", "/page.mp3"]
    assert "already on disk 2" in again.stdout
    fixed = episode(archive_dir, missing)
    assert fixed["audio_error"] is None and fixed["audio_sha256"]


def test_show_and_limit_choose_the_episodes(archive_dir, local_server):
    for path in ("/1.mp3", "/2.mp3", "/3.mp3", "/other.mp3"):
        local_server.route(path, AudioFile(audio_body(20_000)))
    show_id, _ = add_episodes(archive_dir, local_server, ["/1.mp3", "/2.mp3", "/3.mp3"])
    db = Archive.at(archive_dir).open_db()
    other = shows.add_show(db, local_server.url("/other.xml"), "Other Show")
    shows.upsert_episodes(
        db, other["id"], [Episode("o", enclosure_url=local_server.url("/other.mp3"))]
    )
    db.close()

    result = run("--show", show_id, "--limit", "2", "--concurrency", "1")
    assert result.exit_code == 0, result.output
    assert "downloaded 2" in result.stdout
    assert len(local_server.requests) == 2
    assert "/other.mp3" not in {r.path for r in local_server.requests}

    assert "downloaded 1 " in run("--show", "Talk Talent To Me").stdout
    assert run("--show", "nope").exit_code == 1


def test_missing_file_is_fetched_again_and_verify_catches_a_corrupt_one(archive_dir, local_server):
    body = audio_body()
    local_server.route("/a.mp3", AudioFile(body))
    show_id, ids = add_episodes(archive_dir, local_server, ["/a.mp3"])
    assert run().exit_code == 0
    path = archive_dir / "audio" / show_id / f"{ids['/a.mp3']}.mp3"

    path.unlink()
    assert "downloaded 1 " in run().stdout
    assert path.read_bytes() == body

    damaged = bytearray(body)
    damaged[5000] ^= 0xFF
    path.write_bytes(bytes(damaged))  # same size: only the hash can tell
    requests = len(local_server.requests)
    assert "already on disk 1" in run().stdout
    assert len(local_server.requests) == requests  # size matches, so no fetch without --verify

    verified = run("--verify")
    assert verified.exit_code == 0
    assert "downloaded 1 " in verified.stdout
    assert path.read_bytes() == body
    assert "verified 1" in run("--verify").stdout  # whole now: re-hashed, not fetched
    assert len(local_server.requests) == requests + 1


def test_help_has_an_example():
    result = CliRunner().invoke(cli, ["download", "--help"])
    assert "podarchive download --show" in result.output
    assert "--verify" in result.output and "--concurrency" in result.output


def test_sigkill_mid_download_resumes_with_range(archive_dir, local_server):
    body = audio_body(4 * 1024 * 1024)
    slow = AudioFile(body, chunk_size=32 * 1024, delay=0.05)  # about 6 s for the whole file
    local_server.route("/big.mp3", slow)
    show_id, ids = add_episodes(archive_dir, local_server, ["/big.mp3"])
    folder = archive_dir / "audio" / show_id
    part = folder / f"{ids['/big.mp3']}.part"
    final = folder / f"{ids['/big.mp3']}.mp3"

    process = subprocess.Popen(
        [sys.executable, "-m", "ingest.cli", "--archive", str(archive_dir), "download"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (part.exists() and part.stat().st_size >= 256 * 1024):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert not final.exists()  # never a half file under the final name
    kept = part.stat().st_size
    assert 0 < kept < len(body)

    slow.delay = 0
    before = len(local_server.requests)
    result = run()
    assert result.exit_code == 0, result.output
    (resumed,) = local_server.requests[before:]
    offset = int(resumed.headers["Range"].removeprefix("bytes=").removesuffix("-"))
    assert offset == kept > 0
    assert "resumed 1" in result.stdout
    assert sha(final.read_bytes()) == sha(body)
    assert not part.exists()
    assert episode(archive_dir, ids["/big.mp3"])["audio_sha256"] == sha(body)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/ep.mp3"])
def test_non_http_enclosure_is_a_stored_error(archive_dir, local_server, url):
    db = Archive.at(archive_dir).open_db()
    show = shows.add_show(db, local_server.url("/feed.xml"), "Show")
    (episode_id,) = shows.upsert_episodes(db, show["id"], [Episode("g", enclosure_url=url)]).added
    db.close()
    result = run()
    assert result.exit_code == 1
    assert "only http and https URLs are allowed" in episode(archive_dir, episode_id)["audio_error"]
    assert not (archive_dir / "audio" / show["id"]).exists()
