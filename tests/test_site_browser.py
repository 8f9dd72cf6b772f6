"""The built site in real headless Chromium: player seeking, search, topic filter, hostile feeds."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import sync_playwright

from ingest import sitegen
from ingest.archive import Archive
from tests.site_archive import build_archive, make_speech_mp3

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
BASE_PATH = "/archive/"  # served under a sub-path, as --base-url allows
TIMEOUT_MS = 15_000
EXPECTED_404 = "/no/such/page/"  # the one address whose 404 a test asks for


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with HTTP Range (RFC 9110 section 14): Chromium seeks audio only on 206."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        self._serve(body=True)

    def do_HEAD(self):  # noqa: N802
        self._serve(body=False)

    def _serve(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if not path.startswith(BASE_PATH):
            return self._not_found(body)
        target = Path(self.directory) / path[len(BASE_PATH) :]
        if target.is_dir():
            if not path.endswith("/"):
                self.send_response(301)
                self.send_header("Location", path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            target = target / "index.html"
        if not target.is_file() or not target.resolve().is_relative_to(Path(self.directory)):
            return self._not_found(body)
        data = target.read_bytes()
        start, end, status = 0, len(data) - 1, 200
        header = self.headers.get("Range", "")
        if header.startswith("bytes="):
            first, _, last = header[6:].split(",")[0].partition("-")
            if first:
                start, end = int(first), min(int(last) if last else end, end)
            else:
                start = max(0, len(data) - int(last))
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", self.guess_type(str(target)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if body:
            self.wfile.write(data[start : end + 1])
        return None

    def _not_found(self, body: bool) -> None:
        page = (Path(self.directory) / "404.html").read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        if body:
            self.wfile.write(page)

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The test archive built into a site and served under BASE_PATH on a free port."""
    root = tmp_path_factory.mktemp("browser-archive")
    archive = Archive.at(root)
    mp3 = make_speech_mp3(
        root / "speech.mp3",
        "At One Medical we call it the reverse interview. Thanks for listening.",
    )
    episodes = build_archive(archive, mp3)
    report = sitegen.build_site(archive.open_db(), archive, BASE_PATH)
    assert report.indexed
    handler = partial(RangeHandler, directory=str(archive.site_dir.resolve()))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}{BASE_PATH}"
    yield {"url": url, "episodes": episodes}
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors, page errors and dialogs; none may happen."""
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and EXPECTED_404 not in message.location.get("url", "")
            else None
        ),
    )
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "response",
        lambda response: (
            problems.append(f"HTTP {response.status}: {response.url}")
            if response.status >= 400 and EXPECTED_404 not in response.url
            else None
        ),
    )

    def on_dialog(dialog):
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.problems = problems
    yield tab
    context.close()
    assert problems == []


def _episode_url(site, name: str) -> str:
    return site["url"] + f"episodes/{site['episodes'][name]['slug']}/"


def _wait_for_time(page, seconds: float, tolerance: float = 1.5) -> float:
    page.wait_for_function(
        "([t, tol]) => { const a = document.getElementById('player');"
        " return a.readyState >= 1 && Math.abs(a.currentTime - t) <= tol; }",
        arg=[seconds, tolerance],
    )
    return page.evaluate("() => document.getElementById('player').currentTime")


def test_clicking_a_timestamp_seeks_the_player(site, page):
    page.goto(_episode_url(site, "medical"))
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.click('.passage a.ts[href="#t=27"]')
    assert abs(_wait_for_time(page, 27) - 27) <= 1.5
    assert page.get_attribute('[id="t=27"]', "class") == "passage current"
    assert page.url.endswith("#t=27")


def test_clicking_a_topic_moment_seeks_the_player(site, page):
    page.goto(_episode_url(site, "medical"))
    page.click('.moments a[href="#t=35"]')
    _wait_for_time(page, 35)
    assert "current" in page.get_attribute('[id="t=35"]', "class")


def test_hash_and_query_start_the_player_there(site, page):
    page.goto(_episode_url(site, "medical") + "#t=42")
    _wait_for_time(page, 42, tolerance=0.5)
    assert "current" in page.get_attribute('[id="t=42"]', "class")
    page.goto(_episode_url(site, "medical") + "?t=20")
    _wait_for_time(page, 20, tolerance=0.5)
    # A time between passages (as Datasette links give) highlights the passage it falls in.
    page.goto(_episode_url(site, "medical") + "#t=31")
    _wait_for_time(page, 31, tolerance=0.5)
    assert "current" in page.get_attribute('[id="t=27"]', "class")


def test_playing_highlights_the_current_passage(site, page):
    page.goto(_episode_url(site, "medical") + "#t=48")
    _wait_for_time(page, 48, tolerance=0.5)
    page.evaluate("() => { document.getElementById('player').play(); }")
    page.wait_for_function("() => document.getElementById('player').currentTime > 50.5")
    page.wait_for_selector('[id="t=50"].current')


def test_transcript_is_readable_without_javascript(site, browser):
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    tab.goto(_episode_url(site, "medical") + "#t=27")
    text = tab.inner_text('[id="t=27"]')
    assert "Candidates ask anything" in text
    assert tab.locator(".passage").count() == 7
    context.close()


def test_search_lists_one_medical_first_and_opens_it(site, page):
    page.goto(site["url"] + "search/")
    page.fill("#q", "reverse interview")
    page.press("#q", "Enter")
    first = page.locator("#search-results li h3 a").first
    first.wait_for()
    assert "One Medical" in first.inner_text()
    assert page.locator("#search-results li").count() >= 1
    jump = page.locator("#search-results li").first.locator("a.jump")
    assert jump.get_attribute("href").split("#")[1].startswith("t=")
    first.click()
    page.wait_for_url(_episode_url(site, "medical"))
    assert "Reverse Interview" in page.inner_text("h1")


def test_search_topic_filter(site, page):
    page.goto(site["url"] + "search/?q=interview")
    page.locator("#search-results li").first.wait_for()
    titles = page.locator("#search-results li h3").all_inner_texts()
    assert any("One Medical" in t for t in titles) and any("Employer Brand" in t for t in titles)
    page.select_option("#topic", "Employer brand")
    page.wait_for_function("() => document.querySelectorAll('#search-results li').length === 1")
    assert "Employer Brand" in page.inner_text("#search-results li h3")
    assert "topic=Employer+brand" in page.url
    # A topic page links to the search already filtered.
    page.goto(site["url"] + "topics/interviewing/")
    page.click("text=Search within this topic")
    page.wait_for_function("() => document.querySelectorAll('#search-results li').length === 2")


def test_hostile_feed_never_runs_script(site, page):
    page.goto(_episode_url(site, "hostile"))
    page.hover("h1")
    page.click(".notes a")  # the javascript: link lost its href: clicking it does nothing
    for selector in (".people a", ".tags a"):
        page.hover(selector)
    page.goto(site["url"] + "search/?q=transcript")
    page.locator("#search-results li").first.wait_for()
    assert "<script>" in page.inner_text("#search-results")  # shown as text
    for url in (site["url"], site["url"] + "topics/", site["url"] + "people/"):
        page.goto(url)
        assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.evaluate("() => typeof window.__pwned") == "undefined"


def test_missing_page_serves_the_404_page(site, page):
    response = page.goto(site["url"] + EXPECTED_404.lstrip("/"))
    assert response.status == 404
    assert "Page not found" in page.inner_text("h1")
    # Its links work from any depth because they are absolute to the base path.
    page.click("text=Latest episodes")
    page.wait_for_url(site["url"])
