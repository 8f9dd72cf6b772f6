"""The demo's Datasette as the host uses it, in real headless Chromium and over real HTTP: notes
as HTML, searches that never fail, transcripts to read, and no link that leads nowhere."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from ingest.archive import Archive
from ingest.sample.demo import publish
from ingest.sitegen import step as sitegen
from tests.browser import VIEWPORTS, screenshot
from tests.site_archive import build_sample_archive

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 15_000
ONE_MEDICAL = "ttm-sample-0003"
# Facet, sort and filter links combine without end: pages with a query string are followed
# this many links deep from the start pages; pages without one (tables, rows) always are.
QUERY_DEPTH = 2
# A row page is the same template for every row of its table: this many rows of each table are
# fetched and crawled (the first ones linked), so every table's row template is still checked.
ROWS_PER_TABLE = 12
CRAWL_LIMIT = 5000  # a bound, so a link generator gone wrong cannot run the test forever


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The sample show built into a site and served with its Datasette, as `podarchive demo`
    serves them (the site's own URL passed to Datasette)."""
    archive = Archive.at(tmp_path_factory.mktemp("demo-datasette"))
    episodes = build_sample_archive(archive)
    db = archive.open_db()
    assert sitegen.build_site(db, archive, "/").errors == []
    db.close()
    published, stop = publish(archive)
    yield {"site": published.site_url, "datasette": published.datasette_url, "episodes": episodes}
    stop()


@pytest.fixture(params=list(VIEWPORTS))
def tab(request, browser):
    """A page at each of the two sizes; no page error or failed request may happen on it."""
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    page.size = request.param
    yield page
    context.close()
    assert problems == []


def test_show_notes_are_html_not_markup(demo, tab):
    tab.goto(demo["datasette"] + "archive/episodes")
    cells = tab.locator("td.col-description_html")
    assert cells.count() == len(demo["episodes"])
    texts = cells.all_inner_texts()
    assert all("<" not in text and "href=" not in text for text in texts)
    assert tab.locator("td.col-description_html a[rel~=nofollow]").count() >= 1
    assert tab.locator("td.col-description_html script").count() == 0
    screenshot(tab, f"datasette-episodes-{tab.size}")


@pytest.mark.parametrize("typed", ['"unclosed', "AND", "grit AND", "(grit"])
def test_broken_search_syntax_is_searched_as_words(demo, tab, typed):
    response = tab.goto(
        demo["datasette"] + "archive/search_transcripts?" + str(httpx.QueryParams(q=typed))
    )
    assert response.status == 200
    assert tab.locator(".message-error").count() == 0
    assert "fts5" not in tab.inner_text("body").lower()
    assert "plain words" in tab.inner_text(".search-note")
    for table in ("segments", "passages", "episode_list"):
        response = tab.goto(
            demo["datasette"] + f"archive/{table}?" + str(httpx.QueryParams(_search=typed))
        )
        assert response.status == 200 and "fts5" not in tab.inner_text("body").lower()
    if typed == '"unclosed':
        tab.goto(demo["datasette"] + "archive/search_transcripts?q=%22unclosed")
        screenshot(tab, f"datasette-search-note-{tab.size}")


def test_stored_query_form_is_labelled_and_unclipped(demo, tab):
    tab.goto(demo["datasette"] + "archive/search_transcripts?q=grit")
    assert tab.locator("#sql-query").count() == 0  # the SQL is a click away, not in the way
    labels = tab.locator("form.sql label")
    assert labels.all_inner_texts() == [
        "Words or phrase",
        "Topic",
        "Show",
        "Published from",
        "Published until",
    ]
    clipped = labels.evaluate_all("ls => ls.filter(l => l.scrollWidth > l.clientWidth + 1).length")
    assert clipped == 0
    assert tab.get_attribute("form.sql input[type=submit]", "value") == "Search"
    assert tab.locator("td.col-snippet mark").count() >= 1
    screenshot(tab, f"datasette-search-{tab.size}")


def test_read_a_transcript_links_each_paragraph_to_the_page(demo, tab):
    tab.goto(demo["datasette"] + "archive/read_transcript?episode=one+medical")
    rows = tab.locator("table.rows-and-columns tbody tr")
    assert rows.count() >= 1
    texts = tab.locator("td.col-text").all_inner_texts()
    assert all(text.strip() for text in texts) and "reverse interview" in " ".join(texts).lower()
    screenshot(tab, f"datasette-read-transcript-{tab.size}")
    link = tab.locator("td.col-at a").last
    seconds = int(rows.last.locator("td.col-seconds").inner_text())
    assert link.get_attribute("href").startswith(demo["site"] + "episodes/one-medical")
    link.click()
    tab.wait_for_url(f"**/#t={seconds}")
    tab.wait_for_function(
        "t => { const a = document.getElementById('player');"
        " return a && a.readyState >= 1 && Math.abs(a.currentTime - t) <= 1.5; }",
        arg=seconds,
    )


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def test_no_link_in_the_demo_datasette_is_broken(demo):
    """Every page of the Datasette (tables, rows, stored queries, facets two clicks deep) and
    every link on them: links to Datasette's own pages and to the site must answer 200."""
    datasette, site = demo["datasette"], demo["site"]
    ours = {urlsplit(datasette).netloc, urlsplit(site).netloc}
    start = [datasette, datasette + "archive"]
    start += [
        datasette + f"archive/{name}?{query}"
        for name, query in [
            ("search_transcripts", "q=grit"),
            ("search_episodes", "q=interview"),
            ("episodes_by_topic", "topic=interviewing"),
            ("moments_for_topic", "topic=interviewing"),
            ("guests", "name="),
            ("longest_episodes", "show="),
            ("newest_episodes", "show="),
            ("read_transcript", "episode=one+medical"),
        ]
    ]
    queue, seen, broken = [(url, 0) for url in start], set(start), []
    rows_followed: Counter[str] = Counter()

    def is_row_page_to_skip(url: str) -> bool:
        if not url.startswith(datasette) or urlsplit(url).query:
            return False
        parts = urlsplit(url).path.strip("/").split("/")
        if len(parts) < 3:  # the instance, a database or a table, not a row
            return False
        table = "/".join(parts[:-1])
        rows_followed[table] += 1
        return rows_followed[table] > ROWS_PER_TABLE

    with httpx.Client(timeout=30) as client:
        while queue:
            url, depth = queue.pop(0)
            response = client.get(url)
            if response.status_code != 200:
                broken.append((response.status_code, url))
                continue
            if not url.startswith(datasette) or "html" not in response.headers["content-type"]:
                continue  # site pages and downloads are checked, not crawled
            if urlsplit(url).query and depth >= QUERY_DEPTH:
                continue
            parser = _Links()
            parser.feed(response.text)
            for href in parser.hrefs:
                target = urljoin(url, href).split("#")[0]
                if urlsplit(target).netloc in ours and target not in seen:
                    seen.add(target)
                    if not is_row_page_to_skip(target):
                        queue.append((target, depth + 1))
            assert len(seen) < CRAWL_LIMIT, "the crawl did not end"
    assert broken == [], "\n".join(f"{status} {url}" for status, url in broken)
    assert any(u.startswith(site + "episodes/") for u in seen)
    assert any(u.startswith(site + "audio/") for u in seen)  # archived audio, on the site
