"""The built site in real headless Chromium: player seeking, search, topic filter, hostile feeds."""

from __future__ import annotations

import pytest

from ingest.archive import Archive
from ingest.sitegen import step as sitegen
from ingest.sitegen.server import StaticServer
from tests.browser import VIEWPORTS, axe_violations, screenshot, wait_for_search
from tests.site_archive import build_sample_archive

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Players may start without a click in tests; muted so a CI machine stays quiet.
BASE_PATH = "/archive/"  # served under a sub-path, as --base-url allows
TIMEOUT_MS = 15_000
EXPECTED_404 = "/no/such/page/"  # the one address whose 404 a test asks for


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The sample show (plus a hostile episode) built into a site, served under BASE_PATH."""
    archive = Archive.at(tmp_path_factory.mktemp("browser-archive"))
    episodes = build_sample_archive(archive, chapters=True)
    db = archive.open_db()
    report = sitegen.build_site(db, archive, BASE_PATH)
    assert report.indexed and report.errors == []
    topics = {
        row["slug"]: row for row in db.query("SELECT slug, name FROM tags WHERE kind = 'topic'")
    }
    tagged: dict[str, set[str]] = {}
    for row in db.query("SELECT episode_id, tag_slug FROM episode_tags"):
        if row["tag_slug"] in topics:
            tagged.setdefault(row["tag_slug"], set()).add(row["episode_id"])
    server = StaticServer(archive.site_dir, base_path=BASE_PATH).start()
    yield {"url": server.url(), "episodes": episodes, "topics": topics, "tagged": tagged}
    server.stop()


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


ONE_MEDICAL = "ttm-sample-0003"
STRUCTURED = "ttm-sample-0005"


def _episode_url(site, guid: str) -> str:
    return site["url"] + f"episodes/{site['episodes'][guid]['slug']}/"


def _starts(page) -> list[float]:
    """The transcript passages' start times, read from the page."""
    return page.eval_on_selector_all(
        ".passage", "nodes => nodes.map(n => parseFloat(n.dataset.start))"
    )


def _wait_for_time(page, seconds: float, tolerance: float = 1.5) -> float:
    page.wait_for_function(
        "([t, tol]) => { const a = document.getElementById('player');"
        " return a.readyState >= 1 && Math.abs(a.currentTime - t) <= tol; }",
        arg=[seconds, tolerance],
    )
    return page.evaluate("() => document.getElementById('player').currentTime")


def _current_start(page) -> float:
    return float(page.get_attribute(".passage.current", "data-start"))


def test_clicking_a_timestamp_seeks_the_player(site, page):
    page.goto(_episode_url(site, ONE_MEDICAL))
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    start = _starts(page)[3]
    page.click(f'.passage[data-start="{start}"] a.ts')
    assert abs(_wait_for_time(page, start) - start) <= 1.5
    assert _current_start(page) == start
    assert page.url.endswith(f"#t={int(start)}")


def test_keyboard_enter_on_a_timestamp_seeks_the_player(site, page):
    page.goto(_episode_url(site, ONE_MEDICAL))
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    start = _starts(page)[1]
    page.focus(f'.passage[data-start="{start}"] a.ts')
    page.keyboard.press("Enter")
    _wait_for_time(page, start)


def test_clicking_a_topic_moment_seeks_the_player(site, page):
    page.goto(_episode_url(site, ONE_MEDICAL))
    moment = page.locator(".moments a.seek").last
    target = float(moment.get_attribute("data-t"))
    moment.click()
    _wait_for_time(page, target)
    assert _current_start(page) <= target + 0.25


def test_hash_and_query_start_the_player_there(site, page):
    page.goto(_episode_url(site, ONE_MEDICAL))
    starts = _starts(page)
    page.goto(_episode_url(site, ONE_MEDICAL) + f"#t={int(starts[4])}")
    _wait_for_time(page, int(starts[4]), tolerance=1.0)
    assert _current_start(page) == starts[4]
    page.goto(_episode_url(site, ONE_MEDICAL) + f"?t={int(starts[2])}")
    _wait_for_time(page, int(starts[2]), tolerance=1.0)
    # A time inside a passage (as Datasette links give) highlights the passage it falls in.
    inside = round(starts[5] + 1)
    page.goto(_episode_url(site, ONE_MEDICAL) + f"#t={inside}")
    _wait_for_time(page, inside, tolerance=1.0)
    assert _current_start(page) == starts[5]


def test_playing_highlights_the_current_passage(site, page):
    page.goto(_episode_url(site, ONE_MEDICAL))
    starts = _starts(page)
    before = max(0, int(starts[2] - 1))
    page.goto(_episode_url(site, ONE_MEDICAL) + f"#t={before}")
    _wait_for_time(page, before, tolerance=0.5)
    page.evaluate("() => { document.getElementById('player').play(); }")
    page.wait_for_function(
        "t => document.getElementById('player').currentTime > t", arg=starts[2] + 0.3
    )
    page.wait_for_selector(f'.passage.current[data-start="{starts[2]}"]')


def test_transcript_is_readable_without_javascript(site, browser):
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    tab.goto(_episode_url(site, ONE_MEDICAL))
    passages = tab.locator(".passage")
    assert passages.count() >= 4
    assert "reverse interview" in tab.inner_text(".passages").lower()
    context.close()


def test_search_lists_one_medical_first_and_opens_it(site, page):
    page.goto(site["url"] + "search/")
    page.fill("#q", "reverse interview")
    page.press("#q", "Enter")
    wait_for_search(page)
    first = page.locator("#search-results li h3 a").first
    assert "One Medical" in first.inner_text()
    jump = page.locator("#search-results li").first.locator("a.jump").first
    assert jump.get_attribute("href").split("#")[1].startswith("t=")
    first.click()
    page.wait_for_url(_episode_url(site, ONE_MEDICAL))
    assert "Reverse Interview" in page.inner_text("h1")


def test_search_result_jumps_to_the_passage(site, page):
    page.goto(site["url"] + "search/?q=reverse+interview")
    wait_for_search(page)
    jump = page.locator("#search-results li").first.locator("a.jump").first
    target = int(jump.get_attribute("href").rsplit("#t=", 1)[1])
    jump.click()
    _wait_for_time(page, target, tolerance=0.5)
    assert "reverse interview" in page.inner_text(".passage.current").lower()


def test_search_topic_filter(site, page):
    structured = site["episodes"][STRUCTURED]["id"]
    medical = site["episodes"][ONE_MEDICAL]["id"]
    slug = next(s for s, ids in site["tagged"].items() if structured in ids and medical not in ids)
    name = site["topics"][slug]["name"]
    page.goto(site["url"] + "search/?q=interview")
    wait_for_search(page)
    titles = page.locator("#search-results li h3").all_inner_texts()
    assert any("One Medical" in t for t in titles) and any("Structured" in t for t in titles)
    page.select_option("#topic", name)
    page.wait_for_function(
        "() => !document.querySelector('#search-results').textContent.includes('One Medical')"
    )
    titles = page.locator("#search-results li h3").all_inner_texts()
    assert any("Structured" in t for t in titles)
    assert len(titles) <= len(site["tagged"][slug])
    # A topic page links to the search already filtered to it.
    page.goto(site["url"] + f"topics/{slug}/")
    page.click("text=Search within this topic")
    page.wait_for_function(
        "n => document.querySelectorAll('#search-results li').length === n",
        arg=len(site["tagged"][slug]),
    )


def test_hostile_feed_never_runs_script(site, page):
    page.goto(_episode_url(site, "hostile"))
    page.hover("h1")
    page.click(".notes a")  # the javascript: link lost its href: clicking it does nothing
    for selector in (".people a", ".tags a", ".chapters a"):
        page.hover(selector)
    page.goto(site["url"] + "search/?q=hostile")
    wait_for_search(page)
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


# --- the listener's tools: share, keys, speed, follow-along, skip link, targets, axe ----------


def _ready(page):
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")


def _clipboard(page) -> dict:
    """The clipboard's plain text, and the text of its HTML flavour's quote when there is one."""
    return page.evaluate(
        """async () => {
          const out = { text: await navigator.clipboard.readText(), quote: null };
          for (const item of await navigator.clipboard.read()) {
            if (item.types.includes('text/html')) {
              const html = await (await item.getType('text/html')).text();
              const doc = new DOMParser().parseFromString(html, 'text/html');
              out.quote = doc.querySelector('blockquote')?.textContent ?? null;
            }
          }
          return out;
        }"""
    )


def test_share_copies_the_link_at_that_second(site, page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    url = _episode_url(site, ONE_MEDICAL)
    page.goto(url)
    _ready(page)
    passage = page.locator(".passage").nth(2)
    start = float(passage.get_attribute("data-start"))
    passage.locator("button.share").click()
    page.wait_for_selector(".share-status:has-text('copied')")
    copied = _clipboard(page)
    assert copied["text"] == f"{url}#t={int(start)}"
    assert copied["quote"] == passage.locator(".said p").inner_text().strip()
    # The player's button copies where the player is.
    page.goto(url + f"#t={int(_starts(page)[4])}")
    _wait_for_time(page, int(_starts(page)[4]), tolerance=0.5)
    page.click(".share-now")
    page.wait_for_selector(".share-status:has-text('copied')")
    now = page.evaluate("() => Math.floor(document.getElementById('player').currentTime)")
    assert _clipboard(page)["text"] == f"{url}#t={now}"


def test_the_chapter_list_seeks_the_player_and_marks_the_current_chapter(site, page):
    page.goto(_episode_url(site, ONE_MEDICAL))
    _ready(page)
    chapters = page.locator(".chapters li.chapter")
    assert chapters.count() >= 2
    second = chapters.nth(1)
    start = float(second.get_attribute("data-start"))
    second.locator("a.seek").click()
    assert abs(_wait_for_time(page, start, tolerance=0.5) - start) <= 0.5
    page.wait_for_function("() => document.querySelectorAll('.chapter.current').length === 1")
    assert second.get_attribute("aria-current") == "true"
    # Played elsewhere (the transcript's first timestamp): the mark follows.
    page.locator(".passage a.ts").first.click()
    page.wait_for_function(
        "() => document.querySelector('.chapter.current') === document.querySelector('.chapter')"
    )
    assert second.get_attribute("aria-current") is None


def test_a_soundbite_plays_its_range_and_copies_its_link(site, page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    url = _episode_url(site, ONE_MEDICAL)
    page.goto(url)
    _ready(page)
    bite = page.locator(".soundbites li").first
    fragment = bite.locator("button.share").get_attribute("data-fragment")
    start, end = (float(x) for x in fragment.removeprefix("t=").split(","))
    assert 15 <= end - start <= 60
    bite.locator("button.share").click()
    page.wait_for_selector(".share-status:has-text('copied')")
    assert _clipboard(page)["text"] == f"{url}#{fragment}"
    # The link plays from its start and stops at its end: 15 s or more of audio in real time,
    # so the range is shortened here to a second past a point near its end.
    page.evaluate(
        "([s, e]) => { const a = document.querySelector('.soundbites a.seek');"
        " a.setAttribute('href', '#t=' + (e - 1.5) + ',' + e); a.dataset.t = e - 1.5; }",
        [start, end],
    )
    bite.locator("a.seek").click()
    page.wait_for_function(
        "e => { const a = document.getElementById('player');"
        " return a.paused && a.currentTime >= e - 0.1; }",
        arg=end,
        timeout=TIMEOUT_MS,
    )
    assert page.evaluate("() => document.getElementById('player').currentTime") < end + 1.0


def _playing(page) -> bool:
    return not page.evaluate("() => document.getElementById('player').paused")


def test_space_plays_and_pauses_and_keys_skip(site, page):
    page.emulate_media(reduced_motion="reduce")  # the page scrolls to #t= at once, not smoothly
    page.goto(_episode_url(site, ONE_MEDICAL) + "#t=10")
    _wait_for_time(page, 10, tolerance=0.5)
    page.focus(".passage a.ts")
    scrolled = page.evaluate("() => window.scrollY")
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.getElementById('player').paused")
    page.keyboard.press("Space")
    page.wait_for_function("() => document.getElementById('player').paused")
    assert page.evaluate("() => window.scrollY") == scrolled  # Space did not scroll the page
    start = page.evaluate("() => document.getElementById('player').currentTime")
    for key, expected in (("l", 15), ("ArrowRight", 30), ("j", 15), ("ArrowLeft", 0)):
        page.keyboard.press(key)
        _wait_for_time(page, start + expected, tolerance=0.5)
    assert not _playing(page)  # skipping keeps a paused player paused
    # Keys meant for a control stay with it: Space ticks the checkbox, K in the select is typing.
    page.focus("#follow")
    page.keyboard.press("Space")
    assert page.is_checked("#follow") and not _playing(page)
    page.focus("#speed")
    page.keyboard.press("k")
    assert not _playing(page)
    # The shortcuts are listed on the page.
    page.click(".shortcuts summary")
    listed = page.inner_text(".shortcuts")
    assert all(key in listed for key in ("Space", "J", "L", "Play or pause", "15 seconds"))


def test_playback_speed_is_remembered(site, page):
    page.goto(_episode_url(site, ONE_MEDICAL))
    _ready(page)
    assert page.evaluate("() => document.getElementById('player').playbackRate") == 1
    page.select_option("#speed", "1.5")
    assert page.evaluate("() => document.getElementById('player').playbackRate") == 1.5
    page.goto(_episode_url(site, STRUCTURED))
    _ready(page)
    assert page.input_value("#speed") == "1.5"
    rates = page.evaluate(
        "() => { const a = document.getElementById('player');"
        " return [a.playbackRate, a.defaultPlaybackRate]; }"
    )
    assert rates == [1.5, 1.5]


def test_the_address_follows_playback(site, page):
    page.goto(_episode_url(site, ONE_MEDICAL))
    _ready(page)
    assert "#" not in page.url
    page.evaluate("() => document.getElementById('player').play()")
    page.wait_for_function("() => document.getElementById('player').currentTime > 2.5")
    # While it plays, #t= names a second of the playback, and it keeps moving.
    page.wait_for_function(
        "() => { const m = /^#t=(\\d+)$/.exec(location.hash);"
        " const a = document.getElementById('player');"
        " return m && +m[1] >= 2 && Math.abs(+m[1] - a.currentTime) <= 1.5; }"
    )
    first = int(page.evaluate("() => location.hash.slice(3)"))
    page.wait_for_function("t => +location.hash.slice(3) > t", arg=first)
    page.evaluate("() => document.getElementById('player').pause()")
    now = page.evaluate("() => Math.floor(document.getElementById('player').currentTime)")
    page.wait_for_function("t => location.hash === '#t=' + t", arg=now)
    # Reloading that address starts where the listener was.
    page.reload()
    _wait_for_time(page, now, tolerance=1.0)


def test_follow_along_scrolls_and_announces_the_passage(site, page):
    page.goto(_episode_url(site, ONE_MEDICAL))
    starts = _starts(page)
    page.check("#follow")
    before = max(0, int(starts[2] - 1))
    page.goto(_episode_url(site, ONE_MEDICAL) + f"#t={before}")
    _wait_for_time(page, before, tolerance=0.5)
    assert page.is_checked("#follow")  # remembered across pages
    page.evaluate("() => window.scrollTo(0, 0)")
    page.evaluate("() => document.getElementById('player').play()")
    page.wait_for_selector(f'.passage.current[data-start="{starts[2]}"]')
    said = page.locator(f'.passage[data-start="{starts[2]}"] .said p').inner_text().strip()
    page.wait_for_function(
        "text => document.querySelector('.now-playing').textContent.includes(text)", arg=said
    )
    assert page.get_attribute(".now-playing", "aria-live") == "polite"
    page.wait_for_function("() => window.scrollY > 0")  # the passage was brought into view
    # Off, the live region stays quiet.
    page.uncheck("#follow")
    assert page.inner_text(".now-playing") == ""


def test_skip_link_reaches_the_transcript_in_a_few_tabs(site, page):
    page.goto(_episode_url(site, ONE_MEDICAL))
    _ready(page)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to transcript"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.className, document.activeElement.closest('.passage')"
        " === document.querySelector('.passage')]"
    )
    assert focused == ["ts seek", True]


# Controls that stand on their own (not words inside a sentence): WCAG 2.2's 24 px minimum.
TARGETS = (
    ".passage a.ts, .passage button.share, .moments a.seek, .chapters a.seek, .files a, "
    ".soundbites a.seek, .soundbites button.share, "
    ".topics .tag, .player-tools button, .player-tools select, .player-tools label, "
    ".shortcuts summary, .site-header nav a, #search-results a.jump"
)


def _small_targets(page) -> list:
    return page.eval_on_selector_all(
        TARGETS,
        "nodes => nodes.filter(n => n.offsetParent !== null).map(n => {"
        " const r = n.getBoundingClientRect();"
        " return [n.className || n.tagName, n.textContent.trim().slice(0, 20),"
        " Math.round(r.width), Math.round(r.height)]; })"
        ".filter(([, , w, h]) => w < 24 || h < 24)",
    )


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_targets_are_big_enough_and_labels_stay_beside_times(site, browser, size):
    context = browser.new_context(viewport=VIEWPORTS[size])
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(_episode_url(site, ONE_MEDICAL))
    tab.wait_for_selector(".passage button.share")
    assert tab.locator(TARGETS).count() > 10
    assert _small_targets(tab) == []
    # A moment's label, even wrapped, starts right of its time, never under it.
    offsets = tab.eval_on_selector_all(
        ".moments a.seek",
        "links => links.map(a => a.querySelector('.label').getBoundingClientRect().left"
        " - a.querySelector('.stamp').getBoundingClientRect().right)",
    )
    assert offsets and min(offsets) >= 0
    tab.goto(site["url"] + "search/?q=reverse+interview")
    wait_for_search(tab)
    assert _small_targets(tab) == []
    context.close()


def _pages(site) -> dict[str, str]:
    topic = next(iter(site["tagged"]))
    return {
        "home": site["url"],
        "episode": _episode_url(site, ONE_MEDICAL),
        "topic": site["url"] + f"topics/{topic}/",
        "search": site["url"] + "search/?q=reverse+interview",
    }


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_no_serious_accessibility_violations(site, browser, size):
    """axe-core on the home, episode, topic and search pages; each is kept as a screenshot."""
    context = browser.new_context(viewport=VIEWPORTS[size], bypass_csp=True)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    found = {}
    for name, url in _pages(site).items():
        tab.goto(url)
        if name == "search":
            wait_for_search(tab)
        if name == "episode":
            tab.wait_for_selector(".passage button.share")
        screenshot(tab, f"site-{name}-{size}")
        found[name] = axe_violations(tab)
    # The check itself works: an image without alt text is a critical violation.
    tab.set_content('<!doctype html><html lang="en"><title>t</title><main><img src="data:,">')
    assert "image-alt" in {v["id"] for v in axe_violations(tab)}
    context.close()
    assert found == {name: [] for name in found}
