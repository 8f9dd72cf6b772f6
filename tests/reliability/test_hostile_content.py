"""Hostile content rendered inert, checked in real headless Chromium on the built site and on
Datasette: titles, show notes, VTT cues, topic tags, people and search queries carrying
`<script>`, `onerror=`, `javascript:` URLs and `</script>` inside JSON-LD.

Every payload would set `window.__pwned` or open a dialog if it ran. Each page is loaded,
its links hovered and its `javascript:`-looking links clicked; the flag must stay unset, no
dialog may open, no element may carry an inline event handler from the feed.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from ingest.sitegen.server import StaticServer
from tests.reliability.conftest import rows
from tests.reliability.served import HOSTILE_QUERY, datasette

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000

# What a visitor does, for every element at once: point at it, focus it, and click the links
# that lost their href (where a sanitised `javascript:` link was).
STIR_JS = """() => {
  for (const el of document.querySelectorAll('body *')) {
    for (const type of ['mouseover', 'mouseenter', 'focus', 'animationstart'])
      el.dispatchEvent(new Event(type, {bubbles: true}));
  }
  for (const a of document.querySelectorAll('a:not([href]), a[href="#"]')) a.click();
}"""

# Inline handlers or script URLs anywhere in the page (the feed's, since our templates use none).
HANDLERS_JS = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const value = attr.value.trim().toLowerCase();
      if (attr.name.startsWith('on') && /pwn|alert/.test(value))
        found.push(el.tagName + ' ' + attr.name);
      if (['href', 'src', 'action', 'formaction'].includes(attr.name) &&
          (value.startsWith('javascript:') || value.startsWith('data:text/html')))
        found.push(el.tagName + ' ' + attr.name + '=' + value.slice(0, 40));
    }
  }
  return found;
}"""


@pytest.fixture(scope="module")
def site(served_archive):
    server = StaticServer(served_archive.root / "site").start()
    yield server.url("/").rstrip("/")
    server.stop()


@pytest.fixture(scope="module")
def dataset(served_archive):
    with datasette(served_archive.root) as base:
        yield base


def visit(browser, url: str, interact=None, statuses=(200,)) -> dict:
    """Load `url` in a fresh context, stir every element (STIR_JS); return what
    happened: dialogs, the flag, handlers found, page errors and the visible text."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status in statuses, (
            f"{url}: {response and response.status}"
        )
        if interact:
            interact(page)
        page.evaluate(STIR_JS)
        page.wait_for_timeout(100)  # let any handler that was triggered run before we look
        return {
            "dialogs": dialogs,
            "pwned": page.evaluate(
                "() => typeof window.__pwned === 'undefined' ? null : window.__pwned"
            ),
            "handlers": page.evaluate(HANDLERS_JS),
            "errors": errors,
            "text": page.inner_text("body"),
        }
    finally:
        context.close()


def assert_inert(seen: dict, url: str) -> None:
    assert seen["dialogs"] == [], f"{url}: dialog {seen['dialogs']}"
    assert seen["pwned"] is None, f"{url}: window.__pwned = {seen['pwned']!r}"
    assert seen["handlers"] == [], f"{url}: {seen['handlers']}"


def hostile_episode(served_archive) -> dict:
    [row] = rows(
        served_archive.root / "archive.db", "SELECT id, slug FROM episodes WHERE guid = 'pwn-1'"
    )
    return row


def site_pages_with_payloads(root) -> list[str]:
    """Every built page that carries some of the hostile text (escaped or not)."""
    pages = []
    for path in sorted((root / "site").rglob("*.html")):
        if "pagefind" in path.parts:
            continue
        text = path.read_text(encoding="utf-8").lower()
        if "pwn" in text or "mallory" in text:
            rel = path.relative_to(root / "site").as_posix()
            pages.append("/" + rel.removesuffix("index.html"))
    return pages


def test_site_pages_render_hostile_feed_inert(served_archive, site, browser, observe):
    """Episode page, home, show, topic and people pages carrying the hostile feed's title,
    notes, cues, topic and guest: no script runs, no dialog, no inline handler, no
    javascript: URL; the payloads show as text."""
    pages = site_pages_with_payloads(served_archive.root)
    episode = hostile_episode(served_archive)
    assert f"/episodes/{episode['slug']}/" in pages
    assert "/" in pages and any(p.startswith("/topics/pwnage") for p in pages)
    for path in pages:
        seen = visit(browser, site + path)
        assert_inert(seen, path)
    episode_page = visit(browser, f"{site}/episodes/{episode['slug']}/")
    assert "<script>" in episode_page["text"]  # the title, shown as text
    observe(f"{len(pages)} site pages with payloads loaded and hovered: no dialog, flag unset")


def test_hostile_publisher_chapters_are_repaired_with_one_warning_and_shown_as_text(
    served_archive, site, browser
):
    """The hostile item's podcast:chapters file (markup in titles, javascript: and file:
    links, unsorted, overlapping) is repaired with one warning naming the episode; the chapter
    list under the player shows its titles as words, and nothing in it runs."""
    episode = hostile_episode(served_archive)
    db = served_archive.root / "archive.db"
    [row] = rows(db, "SELECT chapters_source, chapters_warning FROM episodes WHERE guid = 'pwn-1'")
    assert row["chapters_source"] == "publisher"
    assert episode["id"] in row["chapters_warning"]
    assert served_archive.output.count(f"Warning: episode {episode['id']}") == 1
    chapters = rows(
        db,
        "SELECT title, url, image_url FROM chapters WHERE episode_id = ? ORDER BY start",
        [episode["id"]],
    )
    assert [c["title"] for c in chapters] == ["Pwn one", "Pwn two"]
    assert all(c["url"] is None and c["image_url"] is None for c in chapters)
    seen = visit(browser, f"{site}/episodes/{episode['slug']}/")
    assert_inert(seen, "episode page")
    assert "Pwn one" in seen["text"] and "Pwn two" in seen["text"]


def test_json_ld_holds_the_hostile_title_as_data(served_archive, site, browser):
    """`</script>` in a guest's name cannot close the JSON-LD block: it parses and holds the
    name as data. (Markup in a title is read as text when the feed is parsed, so the title
    arrives here as its words.)"""
    episode = hostile_episode(served_archive)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site}/episodes/{episode['slug']}/")
    blocks = page.eval_on_selector_all(
        'script[type="application/ld+json"]', "nodes => nodes.map(n => n.textContent)"
    )
    context.close()
    assert blocks
    data = json.loads(blocks[0])
    names = [person["name"] for person in data.get("actor", [])]
    assert "Pwnage" in data["name"]
    assert any("</script>" in name for name in names), names


def test_transcript_cues_with_html_are_text(served_archive, site, browser):
    """HTML inside VTT cues is shown as text on the episode page and in the published VTT."""
    episode = hostile_episode(served_archive)
    seen = visit(browser, f"{site}/episodes/{episode['slug']}/")
    assert_inert(seen, "episode")
    assert "Pwnage begins" in seen["text"]
    vtts = list((served_archive.root / "transcripts").rglob(f"{episode['id']}.vtt"))
    assert vtts and "<script>" not in vtts[0].read_text(encoding="utf-8")


def test_site_search_results_render_inert(site, browser, observe):
    """Site search for the hostile episode, and a search whose query is itself a payload: the
    results list shows the text, nothing runs."""

    def results(page) -> None:
        page.locator("#search-results li").first.wait_for()

    seen = visit(browser, f"{site}/search/?q=pwnage", results)
    assert_inert(seen, "search pwnage")
    assert "Pwnage" in seen["text"]
    hostile = visit(browser, f"{site}/search/?q={quote(HOSTILE_QUERY)}")
    assert_inert(hostile, "search with a hostile query")
    observe("results for 'pwnage' and for a script query: no dialog, flag unset")


def datasette_pages(served_archive) -> list[str]:
    episode = hostile_episode(served_archive)
    q = quote(HOSTILE_QUERY)
    return [
        "/",
        "/archive",
        "/archive/episode_list?_search=pwnage",
        f"/archive/episodes/{episode['id']}",
        "/archive/episodes?guid=pwn-1",
        "/archive/segments?_search=pwnage",
        "/archive/search_transcripts?q=pwnage",
        f"/archive/search_transcripts?q={q}",
        f"/archive/segments?_search={q}",
        "/archive/tags",
        "/archive/episode_tags",
        "/archive/moments_for_topic?topic=pwnage",
        "/archive/shows",
        "/archive/people",
    ]


def test_datasette_pages_render_inert(served_archive, dataset, browser, observe):
    """Datasette's table, row, search and stored-query pages showing the hostile rows, and
    searches whose query is a payload: no script runs, no dialog."""
    checked = []
    for path in datasette_pages(served_archive):
        # A query that is not FTS5 syntax may be answered 400 with an error page: still inert.
        seen = visit(browser, dataset + path, statuses=(200, 400) if "script" in path else (200,))
        assert_inert(seen, path)
        checked.append(path)
    seen = visit(browser, dataset + "/archive/search_transcripts?q=pwnage")
    assert "Pwnage" in seen["text"] or "pwnage" in seen["text"]
    observe(f"{len(checked)} Datasette pages loaded and hovered: no dialog, flag unset")
