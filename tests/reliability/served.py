"""A transcribed archive of the sample show plus a hostile show, served for real.

`build_archive` runs `podarchive run` (real Whisper on the sample show, or its scripts for the
tests, and the hostile show's publisher transcripts); `datasette` starts `podarchive serve` on a
free port; `load_test` is the bounded load test of Datasette search that both the tests and
`bench/reliability.py` run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ingest.sample.server import start_sample_server
from ingest.taxonomy import DEFAULT_TAXONOMY
from tests.reliability.conftest import Feed, Item, vtt
from tests.server import AudioFile, LocalServer, status

STARTUP_SECONDS = 120  # generous: two cores shared with the rest of the suite
BUILD_SECONDS = 900
PWNED = "window.__pwned"

# Each payload would set window.__pwned (or open a dialog) if it ever ran.
HOSTILE_SHOW_TITLE = "Evil <script>window.__pwned='show'</script> Show"
HOSTILE_TITLE = (
    "Pwnage <script>window.__pwned='title'</script>"
    "<img src=x onerror=\"window.__pwned='img'\"></script>"
    "<script>window.__pwned='ld';alert('ld')</script>"
    '"}]</script><script>alert(1)</script>'
)
HOSTILE_NOTES = (
    "<p>Pwnage notes <script>window.__pwned='notes'</script>"
    "<a href=\"javascript:window.__pwned='href'\">js link</a> "
    "<a href=\"JaVaScRiPt:alert('case')\">case link</a> "
    "<a href=\"&#106;avascript:alert('entity')\">entity link</a> "
    "<a href=\" javascript:alert('space')\">space link</a> "
    "<a href=\"data:text/html,<script>alert('data')</script>\">data link</a>"
    "<img src=x onerror=\"window.__pwned='onerror'\">"
    "<iframe src=\"javascript:window.__pwned='iframe'\"></iframe>"
    "<svg onload=\"window.__pwned='svg'\"><script>alert('svg')</script></svg>"
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')></style></mglyph>"
    "</table></mtext></math>"
    "<form action=\"javascript:alert('form')\"><button>go</button></form>"
    "<div style=\"background:url(javascript:alert('css'))\" onmouseover=\"alert('over')\">"
    "hover</div></p>"
)
HOSTILE_CUES = (
    "Pwnage begins <script>window.__pwned='cue'</script> here.",
    "<img src=x onerror=\"window.__pwned='cueimg'\"> pwnage pwnage continues.",
    "<v Evil<script>alert('voice')</script>>Voice tag pwnage.",
    "<c.x onclick=\"alert('c')\">Class span</c> and <b onmouseover=alert('b')>bold</b> pwnage.",
    "</script><script>alert('cue-ld')</script> javascript:alert('text') pwnage ends.",
)
HOSTILE_TOPIC = (
    "  - slug: pwnage\n"
    "    name: \"Pwnage <script>window.__pwned='topic'</script>"
    "<img src=x onerror=alert('topic')>\"\n"
    "    description: \"</script><script>alert('topic-ld')</script> pwnage talk\"\n"
    "    phrases:\n"
    "      - pwnage begins here\n"
    "      - pwnage continues\n"
    "    keywords:\n"
    "      - pwnage\n"
)
HOSTILE_PERSON = (
    '<podcast:person role="guest" href="javascript:alert(\'person\')">'
    "Mallory &lt;img src=x onerror=alert('person')&gt;"
    "&lt;/script&gt;&lt;script&gt;window.__pwned='ld'&lt;/script&gt;</podcast:person>"
)
# The publisher's chapters file: markup in titles, script URLs, unsorted and overlapping.
HOSTILE_CHAPTERS = {
    "version": "1.2.0",
    "chapters": [
        {
            "startTime": 1,
            "endTime": 9,
            "title": "Pwn <img src=x onerror=\"window.__pwned='ch'\">two",
        },
        {
            "startTime": 0,
            "endTime": 5,
            "title": "<script>window.__pwned='chapter'</script>Pwn one",
            "url": "javascript:window.__pwned='chapter-url'",
            "img": "file:///etc/passwd",
        },
    ],
}
HOSTILE_QUERY = "<script>alert('q')</script>\"><img src=x onerror=alert('q2')>"


@dataclass
class Built:
    root: Path
    sample_feed: str
    hostile_feed: str
    output: str
    servers: list = field(default_factory=list)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def hostile_server(short_mp3: bytes) -> LocalServer:
    """A show whose every field tries to run script: served with real audio and a VTT."""
    server = LocalServer().start()
    server.route("/pwn.mp3", AudioFile(short_mp3))
    server.serve_bytes("/pwn.vtt", vtt(*HOSTILE_CUES, seconds=0.4), "text/vtt")
    chapters = json.dumps(HOSTILE_CHAPTERS).encode()
    server.serve_bytes("/pwn.chapters.json", chapters, "application/json+chapters")
    feed = Feed(
        title=HOSTILE_SHOW_TITLE,
        items=[
            Item(
                guid="pwn-1",
                title=HOSTILE_TITLE,
                description=HOSTILE_NOTES,
                enclosure=server.url("/pwn.mp3"),
                transcript=server.url("/pwn.vtt"),
                extra=(
                    "<link>javascript:window.__pwned='link'</link>"
                    "<itunes:keywords>&lt;script&gt;alert('kw')&lt;/script&gt;, pwnage"
                    "</itunes:keywords>"
                    "<category>&lt;img src=x onerror=alert('cat')&gt;</category>"
                    "<itunes:image href=\"javascript:alert('image')\"/>"
                    + HOSTILE_PERSON
                    + f'<podcast:chapters url="{server.url("/pwn.chapters.json")}"'
                    ' type="application/json+chapters"/>'
                ),
            )
        ],
    )
    server.route("/feed.xml", status(200, feed.bytes(), "application/rss+xml; charset=utf-8"))
    return server


# `podarchive` whose Whisper is the fake transcriber: it hears the sample show's scripts.
PODARCHIVE_HEARING_SCRIPTS = """
import sys
import ingest.transcribe
from tests.fake_transcriber import FakeTranscriber
fake = FakeTranscriber()
ingest.transcribe.get_transcriber = lambda *_: fake.load()
from ingest.cli import cli
cli(sys.argv[1:], prog_name="podarchive")
"""
PROJECT = Path(__file__).resolve().parents[2]


def build_archive(root: Path, short_mp3: bytes, *, whisper: bool = True) -> Built:
    """Run `podarchive run` on the sample show and the hostile show into `root`. Without
    `whisper` the sample episodes are heard as their scripts (the tests whose subject is what a
    page or a search does with the words need no minute of Whisper to have them)."""
    root.mkdir(parents=True, exist_ok=True)
    taxonomy = root / "taxonomy.yaml"
    taxonomy.write_text(Path(DEFAULT_TAXONOMY).read_text(encoding="utf-8") + "\n" + HOSTILE_TOPIC)
    (root / "podarchive.toml").write_text('taxonomy = "taxonomy.yaml"\n')
    sample = start_sample_server()
    hostile = hostile_server(short_mp3)
    env = os.environ | {"PODARCHIVE_DIR": str(root)}
    podarchive = ["-m", "ingest.cli"] if whisper else ["-c", PODARCHIVE_HEARING_SCRIPTS]
    result = subprocess.run(
        [sys.executable, *podarchive, "--archive", str(root), "run"]
        + [sample.feed_url, hostile.url("/feed.xml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,  # where `tests` imports from
        timeout=BUILD_SECONDS,
    )
    built = Built(root, sample.feed_url, hostile.url("/feed.xml"), result.stdout + result.stderr)
    built.servers = [sample, hostile]
    if result.returncode != 0:
        built.stop()
        raise RuntimeError(f"podarchive run exited {result.returncode}:\n{built.output}")
    return built


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def datasette(root: Path, site_url: str = "/") -> Iterator[str]:
    """`podarchive serve` on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "ingest.cli", "--archive", str(root), "serve"]
    with tempfile.TemporaryFile() as log:  # a file: a chatty server never blocks on a pipe
        process = subprocess.Popen(
            [*command, "--port", str(port), "--site-url", site_url],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"podarchive serve exited: {log.read().decode()[-2000:]}")
                try:
                    if httpx.get(base + "/-/versions.json", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"podarchive serve did not answer in {STARTUP_SECONDS} s")
                time.sleep(0.05)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


SEARCH_PATH = "/archive/search_transcripts.json"
QUERIES = (
    "interview",
    '"reverse interview"',
    "candidate experience",
    "pay OR salary",
    "sourc*",
    "employer brand",
    "bias",
    "offer negotiation",
    "nothingmatchesthis",
    "pwnage",
)


@dataclass
class LoadResult:
    clients: int
    seconds: float  # wall time the test ran
    requests: int = 0
    matched: int = 0  # answers with at least one hit: the searches really searched
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    stopped_by: str = ""

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.clients} clients, {self.seconds:.1f} s ({self.stopped_by}): "
            f"{self.requests} requests ({self.matched} with hits), {len(self.errors)} errors, "
            f"p50 {self.percentile(0.5) * 1000:.0f} ms, p99 {self.percentile(0.99) * 1000:.0f} ms, "
            f"{self.rps:.1f} req/s"
        )


def load_test(
    base_url: str,
    *,
    clients: int = 20,
    seconds: float = 30.0,
    max_requests: int = 100_000,
    request_timeout: float = 30.0,
) -> LoadResult:
    """`clients` threads search Datasette in a loop until `seconds` pass or `max_requests`
    are sent, whichever comes first; a hard deadline ends even a hung server. Loopback only."""
    if not base_url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError("the load test only runs against a server on this machine")
    result = LoadResult(clients=clients, seconds=0.0)
    lock = threading.Lock()
    budget = iter(range(max_requests))
    stop = threading.Event()
    started = time.monotonic()
    deadline = started + seconds

    def client_loop(number: int) -> None:
        with httpx.Client(base_url=base_url, timeout=request_timeout) as http:
            turn = number
            while not stop.is_set() and time.monotonic() < deadline:
                with lock:
                    if next(budget, None) is None:
                        stop.set()
                        result.stopped_by = "request budget"
                        return
                query = QUERIES[turn % len(QUERIES)]
                turn += 1
                sent = time.perf_counter()
                try:
                    response = http.get(SEARCH_PATH, params={"q": query, "_shape": "array"})
                    hits = response.json() if response.status_code == 200 else None
                    ok = isinstance(hits, list)
                    error = None if ok else f"HTTP {response.status_code} for {query!r}"
                except (httpx.HTTPError, ValueError) as exc:
                    error = f"{type(exc).__name__} for {query!r}: {exc}"
                took = time.perf_counter() - sent
                with lock:
                    result.requests += 1
                    if error:
                        result.errors.append(error)
                    else:
                        result.latencies.append(took)
                        result.matched += bool(hits)

    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:  # a hard limit: the request timeout past the deadline at most
        thread.join(max(0.0, deadline - time.monotonic()) + request_timeout + 5)
    stop.set()
    result.seconds = time.monotonic() - started
    result.stopped_by = result.stopped_by or "time limit"
    hung = sum(thread.is_alive() for thread in threads)
    if hung:
        result.errors.append(f"{hung} client(s) still waiting at the hard deadline")
    return result
