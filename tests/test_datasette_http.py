"""`podarchive serve` as a real server: a subprocess on a free port, queried over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from ingest import wordtimes
from tests.test_datasette import (
    SITE,
    build_sample_archive,
    first_said,
    sample_title,
)

STARTUP_SECONDS = 60  # generous: two cores shared with the rest of the suite


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(archive, *options: str) -> Iterator[httpx.Client]:
    """Start `podarchive serve`, wait until it answers, yield a client; always stop it."""
    port = _free_port()
    command = [sys.executable, "-m", "ingest.cli", "--archive", str(archive.root), "serve"]
    # A file, not a pipe: a chatty server must never block on a full pipe.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--site-url", SITE, *options],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                deadline = time.monotonic() + STARTUP_SECONDS
                while True:
                    if process.poll() is not None:
                        log.seek(0)
                        output = log.read().decode(errors="replace")
                        pytest.fail(f"podarchive serve exited with {process.returncode}:\n{output}")
                    try:
                        if client.get("/-/versions.json").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        pytest.fail(f"podarchive serve did not answer within {STARTUP_SECONDS} s")
                    time.sleep(0.05)
                yield client
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[httpx.Client]:
    archive = build_sample_archive(tmp_path_factory.mktemp("served") / "archive")
    with running_server(archive) as client:
        yield client


def rows(client: httpx.Client, path: str, **params) -> list[dict]:
    response = client.get(path, params={**params, "_shape": "array"})
    assert response.status_code == 200, response.text[:500]
    return response.json()


@pytest.mark.parametrize(
    ("q", "number", "phrase"),
    [
        ('"reverse interview"', 3, "reverse interview"),
        ("grit OR resilience", 3, "grit"),
        ("transp*", 4, "transparency"),
    ],
)
def test_search_modes_over_http(server, q, number, phrase):
    found = rows(server, "/archive/search_transcripts.json", q=q)
    hit = next(r for r in found if r["episode"] == sample_title(number))
    second = wordtimes.link_second(first_said(number, phrase))  # the first matched word
    assert hit["page"].startswith(SITE + "episodes/") and hit["page"].endswith(f"/#t={second}")
    assert "<mark>" in hit["snippet"]


def test_every_stored_query_answers_over_http(server):
    stored = {
        "search_transcripts": {"q": "candidate", "topic": "interviewing"},
        "search_episodes": {"q": "transparency"},
        "episodes_by_topic": {"topic": "pay-transparency"},
        "moments_for_topic": {"topic": "employer-brand"},
        "guests": {"name": "Nguyen"},
        "longest_episodes": {},
        "newest_episodes": {},
    }
    for name, params in stored.items():
        found = rows(server, f"/archive/{name}.json", **params)
        assert found, name
        assert all(r["page"].startswith(SITE + "episodes/") for r in found), name
    moments = rows(server, "/archive/moments_for_topic.json", topic="employer-brand")
    assert all(r["page"].endswith(f"#t={r['seconds']}") for r in moments)
    html = server.get("/archive/search_transcripts", params={"q": "tenacity"}).text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html


def test_arbitrary_sql_is_refused_unless_allowed(server, tmp_path):
    assert server.get("/archive.json", params={"sql": "select 1"}).status_code == 403
    archive = build_sample_archive(tmp_path / "open")
    with running_server(archive, "--allow-sql") as client:
        found = rows(client, "/archive.json", sql="select count(*) as n from passages")
        assert found[0]["n"] >= 5
