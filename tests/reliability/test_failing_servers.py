"""Failing servers, for feeds and for audio: refused connections, resets mid-body, 5xx with
Retry-After, 429, endless redirects, silent or dripping servers, wrong Content-Length.

Feeds are fetched once per run (the next run tries again); audio is retried with backoff and a
partial file is kept for the next run to resume. Either way the error names the URL and what
the archive already holds is untouched. Plain HTTP on loopback only: no TLS in tests.
"""

from __future__ import annotations

import socket
import threading

import pytest

from ingest.audio import download
from ingest.audio.step import download_episodes
from ingest.feeds.fetch import FeedFetchError, fetch_feed
from ingest.feeds.step import fetch_feeds
from ingest.net import make_client
from ingest.store import shows as show_store
from tests.reliability.conftest import (
    FEED_PATH,
    RSS_TYPE,
    Feed,
    Item,
    Swappable,
    published_problems,
    rows,
)
from tests.server import AudioFile, drip, drop_connection, redirect, sequence, stall, status

SHORT_TIMEOUT_S = 1.0


@pytest.fixture
def client():
    with make_client(timeout=SHORT_TIMEOUT_S) as http:
        yield http


@pytest.fixture
def release():
    """Set at teardown so stalled handlers end and the server can stop."""
    event = threading.Event()
    yield event
    event.set()


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reset_mid_body(body: bytes):
    """Promise the whole body, send half, then cut the connection."""

    def handler(request) -> None:
        request.send_response(200)
        request.send_header("Content-Type", RSS_TYPE)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body[: len(body) // 2])
        drop_connection(request)

    return handler


def wrong_length(body: bytes, declared: int, content_type: str):
    """Declare `declared` bytes, send `body`, close."""

    def handler(request) -> None:
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(declared))
        request.end_headers()
        request.wfile.write(body[:declared])
        drop_connection(request)

    return handler


def loop_redirects(server, path: str):
    server.route(path, redirect(path + "?again"))  # the query is ignored by the router: a loop


# --- Feeds ----------------------------------------------------------------------------------


@pytest.fixture
def show(local_server, db, client):
    """A show archived from a good feed; the route then fails in the way a test chooses."""
    feed = Feed(
        items=[Item(guid=f"ep-{n}", enclosure=local_server.url(f"/{n}.mp3")) for n in (1, 2)]
    )
    route = Swappable(status(200, feed.bytes(), RSS_TYPE))
    local_server.route(FEED_PATH, route)
    [result] = fetch_feeds(db, client, [local_server.url(FEED_PATH)])
    assert result.ok
    return route, feed, show_store.list_episodes(db)


def refetch(db, client, url):
    [result] = fetch_feeds(db, client, [url])
    return result


FEED_FAILURES = {
    "500": lambda feed, server, release: status(500, b"oops"),
    "503 with Retry-After": lambda feed, server, release: status(503, b"busy", Retry_After="120"),
    "429 Too Many Requests": lambda feed, server, release: status(429, b"slow", Retry_After="60"),
    "reset mid-body": lambda feed, server, release: reset_mid_body(feed.bytes()),
    "Content-Length too long": lambda feed, server, release: wrong_length(
        feed.bytes(), len(feed.bytes()) + 500, RSS_TYPE
    ),
    "Content-Length too short": lambda feed, server, release: wrong_length(
        feed.bytes(), len(feed.bytes()) // 2, RSS_TYPE
    ),
    "silent server (read timeout)": lambda feed, server, release: stall(release),
    "endless redirects": lambda feed, server, release: redirect(FEED_PATH + "?again"),
}


@pytest.mark.parametrize("kind", list(FEED_FAILURES))
def test_failing_feed_server_is_reported_and_loses_nothing(
    kind, show, local_server, db, client, release, observe
):
    """A known feed's server fails: the fetch reports an error naming the feed URL and why;
    the show and its episodes stay exactly as stored, the failure is recorded on the show."""
    route, feed, before = show
    route.handler = FEED_FAILURES[kind](feed, local_server, release)
    result = refetch(db, client, local_server.url(FEED_PATH))
    assert not result.ok and FEED_PATH in result.error
    assert show_store.list_episodes(db) == before
    [stored] = show_store.list_shows(db)
    assert stored["feed_url"] == local_server.url(FEED_PATH)
    observe(f"error: {result.error[:150]}; {len(before)} episodes kept")


def test_refused_connection_for_a_feed(db, client, observe):
    """Nothing listens on the port: a clear connection error naming the URL, no show added."""
    url = f"http://127.0.0.1:{free_port()}/feed.xml"
    result = refetch(db, client, url)
    assert not result.ok and url in result.error and "Connect" in result.error
    assert show_store.list_shows(db) == []
    observe(f"error: {result.error[:150]}")


def test_dripping_feed_hits_the_total_timeout(local_server, release, observe):
    """A server dripping a byte at a time never trips the read timeout; the total time limit
    stops it with a clear error."""
    local_server.route(FEED_PATH, drip(Feed().bytes(), 0.05, RSS_TYPE, release=release))
    with make_client(timeout=SHORT_TIMEOUT_S) as http, pytest.raises(FeedFetchError) as caught:
        fetch_feed(http, local_server.url(FEED_PATH), total_timeout=1.0)
    assert "still downloading after 1s" in str(caught.value)
    observe(f"error: {caught.value}")


# --- Audio ----------------------------------------------------------------------------------


@pytest.fixture
def delays():
    return []


@pytest.fixture
def retry(delays):
    """Backoff recorded instead of slept: the test checks what was asked, not the clock."""
    return download.RetryPolicy(attempts=3, base_delay=0.5, sleep=delays.append)


@pytest.fixture
def episode(local_server, db, client, clips):
    """One stored episode whose enclosure route a test makes fail."""
    route = Swappable(AudioFile(clips["speech"]))
    local_server.route("/ep.mp3", route)
    feed = Feed(items=[Item(guid="audio-1", enclosure=local_server.url("/ep.mp3"))])
    local_server.route(FEED_PATH, status(200, feed.bytes(), RSS_TYPE))
    [result] = fetch_feeds(db, client, [local_server.url(FEED_PATH)])
    assert result.ok
    return route


def download_step(db, archive, retry, timeout: float = SHORT_TIMEOUT_S):
    with make_client(timeout=timeout) as http:
        return download_episodes(db, archive, http, retry=retry)


def audio_state(archive) -> dict:
    [row] = rows(archive.db_path, "SELECT audio_path, audio_error, audio_sha256 FROM episodes")
    return row


def assert_whole(archive, clip: bytes) -> None:
    state = audio_state(archive)
    assert state["audio_path"] and state["audio_error"] is None
    assert (archive.root / state["audio_path"]).read_bytes() == clip
    assert published_problems(archive.root) == []
    assert not list(archive.audio_dir.rglob("*.part*"))


def test_audio_refused_connection_then_next_run_succeeds(
    local_server, episode, db, archive, retry, delays, clips, observe
):
    """Audio host refusing connections: retried with backoff, then a transient error naming the
    URL is recorded on the episode; the next run (host back) downloads the whole file."""
    dead = f"http://127.0.0.1:{free_port()}/ep.mp3"
    with db.conn:
        db.execute("UPDATE episodes SET enclosure_url = ?", [dead])
    step = download_step(db, archive, retry)
    [(_, message)] = step.failed
    assert dead in message and len(delays) == retry.attempts - 1
    assert audio_state(archive)["audio_path"] is None
    assert not list(archive.audio_dir.rglob("*.part"))  # nothing received, nothing kept
    with db.conn:
        db.execute("UPDATE episodes SET enclosure_url = ?", [local_server.url("/ep.mp3")])
    assert download_step(db, archive, retry).downloaded == 1
    assert_whole(archive, clips["speech"])
    observe(f"{retry.attempts} attempts, then: {message[:110]}; next run: whole file")


@pytest.mark.parametrize(
    "kind,first,expected_delay",
    [
        ("503 with Retry-After", status(503, b"busy", Retry_After="7"), 7.0),
        ("500", status(500, b"oops"), 0.5),
        ("429 with Retry-After", status(429, b"slow down", Retry_After="3"), 3.0),
    ],
)
def test_audio_5xx_and_429_are_retried_honouring_retry_after(
    kind, first, expected_delay, episode, db, archive, retry, delays, clips, observe
):
    """5xx and 429 answers are retried; Retry-After sets the wait (capped); the file arrives
    whole on a later attempt."""
    episode.handler = sequence(first, AudioFile(clips["speech"]))
    step = download_step(db, archive, retry)
    assert step.downloaded == 1 and step.failed == []
    assert delays == [expected_delay]
    assert_whole(archive, clips["speech"])
    observe(f"retried once after {delays[0]:g} s; whole file stored")


def test_audio_persistent_503_gives_up_and_keeps_the_episode(
    episode, db, archive, retry, delays, observe
):
    """A host that always answers 503: a bounded number of attempts, then a clear error stored
    on the episode; the episode itself is kept for the next run."""
    episode.handler = status(503, b"busy", Retry_After="1")
    step = download_step(db, archive, retry)
    [(_, message)] = step.failed
    assert "HTTP 503" in message and len(delays) == retry.attempts - 1
    state = audio_state(archive)
    assert state["audio_path"] is None and "503" in state["audio_error"]
    observe(f"gave up after {retry.attempts} attempts: {message[:120]}")


def test_audio_reset_mid_body_resumes_with_range(episode, db, archive, retry, clips, observe):
    """The connection drops mid-body: the partial file is resumed with a Range request and the
    result is byte-identical to the served file."""
    server_file = AudioFile(clips["speech"], drop_after=20_000, drops=2)
    episode.handler = server_file
    step = download_step(db, archive, retry)
    assert step.downloaded == 1 and step.resumed == 1
    assert server_file.bytes_sent == len(clips["speech"])  # nothing fetched twice
    assert_whole(archive, clips["speech"])
    observe(f"dropped twice, resumed; {server_file.bytes_sent} bytes sent for a file of that size")


def test_audio_wrong_content_length_is_never_published(
    local_server, episode, db, archive, retry, clips, observe
):
    """A server promising more bytes than it sends: no file under the final name; the partial
    is kept, and the next run (server fixed) finishes it by Range, byte-identical."""
    clip = clips["speech"]
    episode.handler = wrong_length(clip, len(clip) + 4096, "audio/mpeg")
    step = download_step(db, archive, retry)
    [(_, message)] = step.failed
    assert audio_state(archive)["audio_path"] is None
    parts = list(archive.audio_dir.rglob("*.part"))
    assert parts and parts[0].stat().st_size == len(clip)
    episode.handler = AudioFile(clip)
    assert download_step(db, archive, retry).downloaded == 1
    assert_whole(archive, clip)
    observe(f"first run: {message[:100]}; .part kept; next run completed the same bytes")


def test_audio_endless_redirects_are_refused(local_server, episode, db, archive, retry, observe):
    """Endless redirects on an enclosure: stopped after a fixed number of hops, clear error."""
    loop_redirects(local_server, "/ep.mp3")
    step = download_step(db, archive, retry)
    [(_, message)] = step.failed
    assert "redirects" in message
    observe(f"error: {message}")


def test_audio_silent_server_times_out_and_is_retried(
    episode, db, archive, retry, delays, release, observe
):
    """A server that accepts and then says nothing: each attempt times out, the attempts are
    bounded, and the error says it timed out."""
    episode.handler = stall(release)
    step = download_step(db, archive, retry, timeout=0.5)
    [(_, message)] = step.failed
    assert "timed out" in message.lower() or "timeout" in message.lower()
    assert len(delays) == retry.attempts - 1
    observe(f"{retry.attempts} attempts, then: {message[:120]}")


def test_audio_slow_but_steady_server_completes(episode, db, archive, retry, clips, observe):
    """A slow server that keeps sending (small chunks, pauses shorter than the timeout) is not
    cut off: the file arrives whole."""
    episode.handler = AudioFile(clips["speech"], chunk_size=16 * 1024, delay=0.05)
    step = download_step(db, archive, retry)
    assert step.downloaded == 1
    assert_whole(archive, clips["speech"])
    observe("completed whole")


def test_http_client_refuses_to_follow_to_other_schemes(local_server, episode, db, archive, retry):
    """A redirect from http to file:// is refused by the download step (only http(s))."""
    episode.handler = redirect("file:///etc/passwd")
    step = download_step(db, archive, retry)
    [(_, message)] = step.failed
    assert "only http and https" in message
