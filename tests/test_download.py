"""ingest.audio against a real local HTTP server: every case ends whole-and-verified or failed
with a clear error, never with a partial file under the final name."""

import hashlib
import json
import os
import threading
from datetime import UTC, datetime

import httpx
import pytest

from ingest.audio import download as dl
from ingest.audio import many
from ingest.net import make_client
from ingest.progress import Bars, Progress
from tests.server import AudioFile, redirect, sequence, stall, status

ID3_HEADER = b"ID3\x04\x00\x00\x00\x00\x00\x00"


def audio_body(size: int = 200_000) -> bytes:
    return ID3_HEADER + os.urandom(size - len(ID3_HEADER))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def client():
    with make_client(timeout=httpx.Timeout(10.0)) as c:
        yield c


@pytest.fixture
def delays():
    return []


@pytest.fixture
def retry(delays):
    """Real retries, but the backoff is recorded instead of slept (no timing in tests)."""
    return dl.RetryPolicy(attempts=4, base_delay=0.5, sleep=delays.append)


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "audio" / "show"


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def fetch(client, server, path, folder, retry, **kwargs):
    return dl.download(client, server.url(path), folder, "ep1", retry=retry, **kwargs)


def assert_whole(result, folder, body, name="ep1.mp3"):
    assert result.path == folder / name
    assert result.path.read_bytes() == body
    assert (result.size, result.sha256) == (len(body), sha(body))
    assert leftovers(folder) == [name]  # no .part or .part.json left behind


def test_plain_download_is_whole_and_hashed(client, local_server, folder, retry):
    body = audio_body()
    local_server.route("/ep.mp3", AudioFile(body))
    result = fetch(client, local_server, "/ep.mp3", folder, retry)
    assert_whole(result, folder, body)
    assert result.resumed_from == 0 and result.attempts == 1
    request = local_server.requests[0]
    assert "Range" not in request.headers
    assert request.headers["User-Agent"].startswith("podcast-archive/")


def test_dropped_connection_resumes_with_range(client, local_server, folder, retry, delays):
    body = audio_body()
    server_file = AudioFile(body, drop_after=64 * 1024, drops=1)
    local_server.route("/ep.mp3", server_file)
    result = fetch(client, local_server, "/ep.mp3", folder, retry)
    assert_whole(result, folder, body)
    first, second = local_server.requests_to("/ep.mp3")
    assert "Range" not in first.headers
    assert second.headers["Range"] == f"bytes={64 * 1024}-"
    assert second.headers["If-Range"] == '"v1"'
    assert result.resumed_from == 64 * 1024
    assert server_file.bytes_sent == len(body)  # nothing was fetched twice
    assert len(delays) == 1


def test_server_without_range_support_restarts_from_zero(client, local_server, folder, retry):
    body = audio_body()
    server_file = AudioFile(body, ranges=False, drop_after=64 * 1024, drops=1)
    local_server.route("/ep.mp3", server_file)
    result = fetch(client, local_server, "/ep.mp3", folder, retry)
    assert_whole(result, folder, body)
    second = local_server.requests_to("/ep.mp3")[1]
    assert second.headers["Range"] == f"bytes={64 * 1024}-"  # asked, got a 200: started over
    assert result.resumed_from == 0


def interrupted(client, local_server, folder, body, **file_options):
    """Leave a `.part` behind as a run that lost its connection and gave up would."""
    local_server.route("/ep.mp3", AudioFile(body, drop_after=50_000, drops=1, **file_options))
    once = dl.RetryPolicy(attempts=1, sleep=lambda s: None)
    with pytest.raises(dl.DownloadError) as error:
        fetch(client, local_server, "/ep.mp3", folder, once)
    assert error.value.transient
    assert leftovers(folder) == ["ep1.part", "ep1.part.json"]
    assert (folder / "ep1.part").stat().st_size == 50_000


def test_partial_file_kept_after_giving_up_is_resumed_by_the_next_run(
    client, local_server, folder, retry
):
    body = audio_body()
    interrupted(client, local_server, folder, body)
    result = fetch(client, local_server, "/ep.mp3", folder, retry)
    assert_whole(result, folder, body)
    assert result.resumed_from == 50_000


def test_changed_file_is_fetched_again_through_if_range(client, local_server, folder, retry):
    old, new = audio_body(), audio_body(150_000)
    interrupted(client, local_server, folder, old)
    local_server.route("/ep.mp3", AudioFile(new, etag='"v2"'))
    result = fetch(client, local_server, "/ep.mp3", folder, retry)
    assert_whole(result, folder, new)
    assert local_server.requests[-1].headers["If-Range"] == '"v1"'
    assert result.resumed_from == 0


@pytest.mark.parametrize(
    "change",
    [
        {"etag": '"v2"'},
        {"etag": None, "last_modified": "Tue, 02 Jan 2024 00:00:00 GMT"},
        {"etag": None, "last_modified": None, "grow": True},
    ],
    ids=["etag", "last-modified", "length"],
)
def test_changed_file_is_detected_when_the_server_ignores_if_range(
    client, local_server, folder, retry, change
):
    old = audio_body()
    interrupted(client, local_server, folder, old)
    new = old + os.urandom(1000) if change.pop("grow", False) else audio_body()
    local_server.route("/ep.mp3", AudioFile(new, honor_if_range=False, **change))
    result = fetch(client, local_server, "/ep.mp3", folder, retry)
    assert_whole(result, folder, new)
    ranges = [r.headers.get("Range") for r in local_server.requests_to("/ep.mp3")]
    assert ranges[-2:] == ["bytes=50000-", None]  # a 206 of the new file, then from zero


def test_complete_part_answered_416_is_fetched_again(client, local_server, folder, retry):
    body = audio_body()
    folder.mkdir(parents=True)
    (folder / "ep1.part").write_bytes(body)  # killed after the last byte, before the rename
    state = {"url": local_server.url("/ep.mp3"), "etag": '"v1"', "total": len(body)}
    (folder / "ep1.part.json").write_text(json.dumps(state))
    local_server.route("/ep.mp3", AudioFile(body))
    result = fetch(client, local_server, "/ep.mp3", folder, retry)
    assert_whole(result, folder, body)


def test_part_of_another_url_is_not_continued(client, local_server, folder, retry):
    body = audio_body()
    folder.mkdir(parents=True)
    (folder / "ep1.part").write_bytes(audio_body(5000))
    (folder / "ep1.part.json").write_text('{"url": "http://elsewhere.example/x.mp3"}')
    local_server.route("/ep.mp3", AudioFile(body))
    assert_whole(fetch(client, local_server, "/ep.mp3", folder, retry), folder, body)
    assert "Range" not in local_server.requests[0].headers


def test_500_twice_then_200_retries_with_backoff_and_retry_after(
    client, local_server, folder, retry, delays
):
    body = audio_body()
    local_server.route(
        "/ep.mp3", sequence(status(500, Retry_After="3"), status(503), AudioFile(body))
    )
    result = fetch(client, local_server, "/ep.mp3", folder, retry)
    assert_whole(result, folder, body)
    assert result.attempts == 3
    assert delays == [3.0, 1.0]  # Retry-After beat the 0.5 s backoff, then backoff doubled


def test_retry_after_is_bounded(client, local_server, folder, delays):
    local_server.route("/ep.mp3", status(503, Retry_After="86400"))
    policy = dl.RetryPolicy(attempts=2, base_delay=0.5, max_delay=30, sleep=delays.append)
    with pytest.raises(dl.DownloadError):
        fetch(client, local_server, "/ep.mp3", folder, policy)
    assert delays == [30]


def test_persistent_5xx_gives_up_with_a_clear_transient_error(
    client, local_server, folder, retry, delays
):
    local_server.route("/ep.mp3", status(502))
    with pytest.raises(dl.DownloadError) as error:
        fetch(client, local_server, "/ep.mp3", folder, retry)
    assert "HTTP 502 Bad Gateway" in str(error.value)
    assert "gave up after 4 attempts" in str(error.value)
    assert error.value.transient
    assert delays == [0.5, 1.0, 2.0]
    assert not (folder / "ep1.mp3").exists()


def test_connection_refused_is_retried_then_reported(client, folder, retry, delays):
    with pytest.raises(dl.DownloadError) as error:
        dl.download(client, "http://127.0.0.1:9/ep.mp3", folder, "ep1", retry=retry)
    assert "ConnectError" in str(error.value)
    assert len(delays) == 3
    assert leftovers(folder) == []  # nothing was received: no empty .part left behind


def test_404_is_not_retried(client, local_server, folder, retry, delays):
    with pytest.raises(dl.DownloadError) as error:
        fetch(client, local_server, "/missing.mp3", folder, retry)
    assert str(error.value) == f"HTTP 404 Not Found from {local_server.url('/missing.mp3')}"
    assert not error.value.transient
    assert len(local_server.requests) == 1 and delays == []
    assert leftovers(folder) == []


def test_4xx_drops_an_earlier_partial_file(client, local_server, folder, retry):
    interrupted(client, local_server, folder, audio_body())
    local_server.route("/ep.mp3", status(410))
    with pytest.raises(dl.DownloadError, match="HTTP 410 Gone"):
        fetch(client, local_server, "/ep.mp3", folder, retry)
    assert leftovers(folder) == []


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/html; charset=utf-8", b"<!DOCTYPE html><html><body>Episode not found</body></html>"),
        ("audio/mpeg", b"\n  <html><head><title>Login</title></head></html>"),
    ],
    ids=["typed-html", "html-claiming-audio"],
)
def test_html_page_served_with_200_is_an_error(
    client, local_server, folder, retry, content_type, body
):
    local_server.route("/ep.mp3", status(200, body, content_type))
    with pytest.raises(dl.DownloadError, match="served an HTML page"):
        fetch(client, local_server, "/ep.mp3", folder, retry)
    assert leftovers(folder) == []


def test_untyped_body_must_have_audio_magic(client, local_server, folder, retry):
    local_server.route("/ep", status(200, os.urandom(5000), "application/octet-stream"))
    with pytest.raises(dl.DownloadError, match="first bytes are not audio"):
        fetch(client, local_server, "/ep", folder, retry)
    assert leftovers(folder) == []

    mp4 = b"\x00\x00\x00\x20ftypM4A " + os.urandom(5000)
    local_server.route("/ep", status(200, mp4, "application/octet-stream"))
    result = fetch(client, local_server, "/ep", folder, retry)
    assert_whole(result, folder, mp4, name="ep1.m4a")  # extension from the magic bytes


def test_non_audio_type_is_an_error(client, local_server, folder, retry):
    local_server.route("/ep.mp3", status(200, b'{"error": "gone"}', "application/json"))
    with pytest.raises(dl.DownloadError, match="served application/json, not audio"):
        fetch(client, local_server, "/ep.mp3", folder, retry)


def test_redirect_is_followed_and_extension_comes_from_the_served_type(
    client, local_server, folder, retry
):
    body = b"\x00\x00\x00\x18ftypmp42" + os.urandom(10_000)
    local_server.route("/feed/ep", redirect("/cdn/ep.bin", 301))
    local_server.route("/cdn/ep.bin", sequence(redirect("/cdn/real"), AudioFile(body, "audio/mp4")))
    local_server.route("/cdn/real", AudioFile(body, "audio/x-m4a"))
    result = fetch(client, local_server, "/feed/ep", folder, retry)
    assert_whole(result, folder, body, name="ep1.m4a")
    assert result.url == local_server.url("/cdn/real")


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/ep.mp3"])
def test_redirect_to_a_non_http_url_is_refused(client, local_server, folder, retry, target):
    local_server.route("/ep.mp3", redirect(target))
    with pytest.raises(dl.DownloadError, match="only http and https"):
        fetch(client, local_server, "/ep.mp3", folder, retry)
    assert leftovers(folder) == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/ep.mp3", "javascript:alert(1)", "/ep.mp3"]
)
def test_non_http_urls_are_refused_before_any_request(client, folder, retry, url):
    with pytest.raises(dl.DownloadError, match="only http and https"):
        dl.download(client, url, folder, "ep1", retry=retry)
    assert not folder.exists()


def test_unsafe_file_names_are_refused(client, folder, retry):
    with pytest.raises(dl.DownloadError, match="unsafe file name"):
        dl.download(client, "http://127.0.0.1:9/x.mp3", folder, "../../etc/x", retry=retry)


def test_size_limit_by_content_length(client, local_server, folder, retry):
    local_server.route("/ep.mp3", AudioFile(audio_body(20_000)))
    with pytest.raises(dl.DownloadError, match="over the 9.8 KB limit"):
        fetch(client, local_server, "/ep.mp3", folder, retry, limits=dl.Limits(max_bytes=10_000))
    assert leftovers(folder) == []


def test_size_limit_while_streaming_a_body_of_unknown_length(client, local_server, folder, retry):
    local_server.route("/ep.mp3", AudioFile(audio_body(100_000), send_length=False))
    with pytest.raises(dl.DownloadError, match="grew past the 48.8 KB limit"):
        fetch(client, local_server, "/ep.mp3", folder, retry, limits=dl.Limits(max_bytes=50_000))
    assert leftovers(folder) == []


def test_body_of_unknown_length_downloads(client, local_server, folder, retry):
    body = audio_body()
    local_server.route("/ep.mp3", AudioFile(body, send_length=False))
    assert_whole(fetch(client, local_server, "/ep.mp3", folder, retry), folder, body)


def test_free_disk_check_before_download(client, local_server, folder, retry):
    local_server.route("/ep.mp3", AudioFile(audio_body()))
    limits = dl.Limits(min_free_bytes=2**62)
    with pytest.raises(dl.DownloadError, match="not enough disk space"):
        fetch(client, local_server, "/ep.mp3", folder, retry, limits=limits)
    assert not (folder / "ep1.mp3").exists()


def test_a_part_locked_by_another_download_is_left_alone(client, local_server, folder, retry):
    import fcntl

    local_server.route("/ep.mp3", AudioFile(audio_body()))
    folder.mkdir(parents=True)
    with open(folder / "ep1.part", "ab") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(dl.DownloadError, match="being downloaded by another process"):
            fetch(client, local_server, "/ep.mp3", folder, retry)
    assert local_server.requests == []


def test_progress_reports_bytes_and_total(client, local_server, folder, retry):
    body = audio_body()
    local_server.route("/ep.mp3", AudioFile(body))
    seen = []
    fetch(client, local_server, "/ep.mp3", folder, retry, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(body), len(body))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_cancel_keeps_the_partial_file(client, local_server, folder, retry):
    local_server.route("/ep.mp3", AudioFile(audio_body()))
    cancel = threading.Event()

    def stop_after_first_chunk(done, total):
        cancel.set()

    with pytest.raises(dl.DownloadError, match="cancelled"):
        fetch(
            client,
            local_server,
            "/ep.mp3",
            folder,
            retry,
            progress=stop_after_first_chunk,
            cancel=cancel,
        )
    assert leftovers(folder) == ["ep1.part", "ep1.part.json"]


@pytest.mark.parametrize(
    "content_type, url, head, hint, expected",
    [
        ("audio/mpeg", "http://x/a", b"", None, ".mp3"),
        ("audio/x-m4a; charset=binary", "http://x/a.mp3", b"", None, ".m4a"),
        ("application/octet-stream", "http://x/a.OGG?sig=1", b"", None, ".ogg"),
        ("application/octet-stream", "http://x/a", b"", "audio/flac", ".flac"),
        ("application/octet-stream", "http://x/a.exe", b"RIFF\0\0\0\0WAVEfmt ", None, ".wav"),
        ("application/octet-stream", "http://x/a.php", b"", "../../etc/passwd", ".mp3"),
        (None, "http://x/a.sh", b"", "text/x-sh", ".mp3"),
    ],
)
def test_extension_comes_from_an_allow_list(content_type, url, head, hint, expected):
    assert dl.choose_extension(content_type, url, head, type_hint=hint) == expected


@pytest.mark.parametrize(
    "head, expected",
    [
        (b"ID3\x03\x00", ".mp3"),
        (b"\xff\xfb\x90\x64", ".mp3"),
        (b"\xff\xf1\x50\x80", ".aac"),
        (b"\x00\x00\x00\x20ftypisom", ".m4a"),
        (b"OggS\x00\x02", ".ogg"),
        (b"RIFF\x24\x00\x00\x00WAVE", ".wav"),
        (b"fLaC\x00\x00", ".flac"),
        (b"<html>", None),
        (b"PK\x03\x04", None),
        (b"", None),
    ],
)
def test_sniff_audio(head, expected):
    assert dl.sniff_audio(head) == expected


def test_parse_retry_after():
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert dl.parse_retry_after("120") == 120.0
    assert dl.parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now) == 30.0
    assert dl.parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0
    assert dl.parse_retry_after("soon") is None
    assert dl.parse_retry_after(None) is None


# --- Many downloads at once ------------------------------------------------------------------


class InFlight:
    """Counts requests being served at once across the handlers it wraps."""

    def __init__(self, meet: int):
        self.active = self.most = 0
        self.lock = threading.Lock()
        # Each request waits for `meet` requests in flight: proves they really run together.
        self.barrier = threading.Barrier(meet, timeout=10)

    def wrap(self, handler):
        def counted(request):
            with self.lock:
                self.active += 1
                self.most = max(self.most, self.active)
            try:
                self.barrier.wait()
                handler(request)
            finally:
                with self.lock:
                    self.active -= 1

        return counted


def test_download_many_is_bounded_and_isolates_failures(client, local_server, tmp_path, retry):
    bodies = {f"ep{i}": audio_body(100_000) for i in range(6)}
    inflight = InFlight(meet=2)
    for name, body in bodies.items():
        local_server.route(f"/{name}.mp3", inflight.wrap(AudioFile(body)))
    jobs = [
        many.DownloadJob(key=name, url=local_server.url(f"/{name}.mp3"), folder=tmp_path, name=name)
        for name in bodies
    ]
    jobs.insert(3, many.DownloadJob("bad", local_server.url("/nope"), tmp_path, "bad"))
    outcomes = dict(many.download_many(client, jobs, concurrency=2, retry=retry))
    results = {job.key: outcome for job, outcome in outcomes.items()}
    assert set(results) == set(bodies) | {"bad"}
    assert "HTTP 404" in str(results.pop("bad"))
    for name, outcome in results.items():
        assert outcome.sha256 == sha(bodies[name])
    assert inflight.most == 2


def test_run_job_reuses_a_matching_file_and_replaces_a_corrupt_one(
    client, local_server, folder, retry
):
    body = audio_body()
    local_server.route("/ep.mp3", AudioFile(body))
    first = fetch(client, local_server, "/ep.mp3", folder, retry)
    existing = dl.ExistingFile(first.path, first.size, first.sha256)
    job = many.DownloadJob("e", local_server.url("/ep.mp3"), folder, "ep1", existing=existing)

    again = many.run_job(client, job, retry=retry)
    assert again.reused and len(local_server.requests) == 1

    damaged = bytearray(body)
    damaged[1000] ^= 0xFF  # same size, different bytes: only the hash can tell
    first.path.write_bytes(bytes(damaged))
    fixed = many.run_job(client, job, retry=retry)
    assert not fixed.reused and len(local_server.requests) == 2
    assert_whole(fixed, folder, body)


def test_timeout_is_retried(local_server, folder, retry, delays):
    body = audio_body()
    release = threading.Event()
    local_server.route("/ep.mp3", sequence(stall(release), AudioFile(body)))
    try:
        with make_client(timeout=httpx.Timeout(10.0, read=0.2)) as impatient:
            result = fetch(impatient, local_server, "/ep.mp3", folder, retry)
    finally:
        release.set()
    assert_whole(result, folder, body)
    assert result.attempts == 2 and len(delays) == 1


def test_url_without_a_host_is_refused(client, folder, retry):
    with pytest.raises(dl.DownloadError, match="no host"):
        dl.download(client, "http:///ep.mp3", folder, "ep1", retry=retry)


class FakeTerminal:
    def isatty(self):
        return True


def test_progress_is_shown_on_a_terminal_only(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with many.progress_for(2, FakeTerminal()) as shown:
        assert isinstance(shown, Bars)
    with many.progress_for(2, open(os.devnull, "w")) as piped:
        assert type(piped) is Progress
    monkeypatch.setenv("CI", "true")
    with many.progress_for(2, FakeTerminal()) as in_ci:
        assert type(in_ci) is Progress


def test_rich_progress_follows_concurrent_downloads(client, local_server, tmp_path, retry):
    bodies = {f"ep{i}": audio_body(50_000) for i in range(3)}
    for name, body in bodies.items():
        local_server.route(f"/{name}.mp3", AudioFile(body, chunk_size=4096))
    jobs = [many.DownloadJob(n, local_server.url(f"/{n}.mp3"), tmp_path, n) for n in bodies]
    with many.download_bars(len(jobs)) as progress:
        outcomes = list(many.download_many(client, jobs, progress=progress, retry=retry))
        overall = progress._bars.tasks[0]
        assert (overall.completed, overall.total) == (3, 3)
        assert len(progress._bars.tasks) == 1  # finished downloads leave the display
    assert all(outcome.sha256 == sha(bodies[job.key]) for job, outcome in outcomes)
