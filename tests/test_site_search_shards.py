"""The site's search index in shards: built per shard, merged in Chromium, re-indexed per shard."""

from __future__ import annotations

import pytest

from ingest.archive import Archive
from ingest.sitegen import data as site_data
from ingest.sitegen import search as site_search
from ingest.sitegen import step as sitegen
from ingest.sitegen.server import StaticServer
from tests.site_archive import build_sample_archive

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHARD_EPISODES = 2  # the sample show's six episodes (with the hostile one) in three shards
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """The sample show built with small shards and served; which shard holds which episode."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(site_search, "SHARD_EPISODES", SHARD_EPISODES)
        archive = Archive.at(tmp_path_factory.mktemp("sharded-archive"))
        episodes = build_sample_archive(archive)
        db = archive.open_db()
        # One topic on episodes of two shards: the first episode's and One Medical's.
        db["episode_tags"].insert(
            {"episode_id": episodes["ttm-sample-0001"]["id"], "tag_slug": "reverse-interviews"}
            | {"score": 1.0, "source": "test"}
        )
        report = sitegen.build_site(db, archive, "/")
        assert report.indexed and report.errors == []
        data = site_data.load(db, archive)
        shards = site_search.shards_of(data.episodes)
        shard_of = {
            e["title"]: shard.name
            for shard in shards
            for e in data.episodes
            if e["url"] + "index.html" in shard.pages
        }
        topics = {e["title"]: {t["name"] for t in e["topics"]} for e in data.episodes}
        server = StaticServer(archive.site_dir).start()
        yield {
            "url": server.url(),
            "archive": archive,
            "episodes": episodes,
            "shards": shards,
            "shard_of": shard_of,
            "topics": topics,
            "patch": patch,
        }
        server.stop()


def result_titles(browser, url: str) -> list[str]:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_function("() => document.getElementById('search-form').dataset.state === 'done'")
    titles = page.locator("#search-results li h3").all_inner_texts()
    page.close()
    assert errors == []
    return titles


def test_the_sample_show_is_in_three_shards(sharded):
    assert [len(s.pages) for s in sharded["shards"]] == [2, 2, 2]
    manifest = sharded["archive"].site_dir / "pagefind" / "shards.json"
    assert manifest.read_text().count("talk-talent-to-me-") == 3


def test_search_finds_results_from_several_shards(sharded, browser):
    titles = result_titles(browser, sharded["url"] + "search/?q=interview")
    assert len({sharded["shard_of"][t] for t in titles}) >= 2, titles
    assert any("One Medical" in t for t in titles)


def test_topic_filter_spans_shards(sharded, browser):
    by_topic: dict[str, set[str]] = {}
    for title, names in sharded["topics"].items():
        for name in names:
            by_topic.setdefault(name, set()).add(title)
    # A topic whose episodes sit in more than one shard.
    name, tagged = next(
        (name, titles)
        for name, titles in sorted(by_topic.items())
        if len({sharded["shard_of"][t] for t in titles}) > 1
    )
    found = result_titles(browser, sharded["url"] + f"search/?topic={name}")
    assert set(found) == tagged


def test_with_a_first_pass_the_rest_waits_for_the_first_card(sharded, browser):
    """A large archive's first pass (its newest shards, searched on their own) answers first:
    the other shards' merge and the files by meaning are fetched only once its first card is
    shown. The sample show is small, so the page is given a first pass of one shard."""
    context = browser.new_context()
    script = {}

    def first_pass_of_two_pages(route):
        body = route.fetch().text()
        script["patched"] = "var FIRST_PASS_PAGES = 250;" in body
        route.fulfill(
            body=body.replace("var FIRST_PASS_PAGES = 250;", "var FIRST_PASS_PAGES = 2;"),
            content_type="text/javascript",
        )

    context.route("**/static/search.js?*", first_pass_of_two_pages)
    context.add_init_script(
        "new MutationObserver((changes, observer) => {"
        " const list = document.getElementById('search-results');"
        " if (list && list.querySelector('li')) {"
        " window.firstCardAt = performance.now(); observer.disconnect(); } })"
        ".observe(document, {childList: true, subtree: true});"
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(sharded["url"] + "search/?q=interview")
    page.wait_for_function("() => document.getElementById('search-form').dataset.state === 'done'")
    assert script["patched"]
    first_card = page.evaluate("window.firstCardAt")
    started = page.evaluate(
        "() => performance.getEntriesByType('resource').map(e => [e.name, e.startTime])"
    )
    newest = sharded["shards"][-1].name
    oldest = sharded["shards"][0].name
    first_pass = [t for name, t in started if f"/pagefind/{newest}/pagefind.js?first" in name]
    whole = [t for name, t in started if name.endswith(f"/pagefind/{oldest}/pagefind.js")]
    meaning = [t for name, t in started if name.endswith("/semantic/index.json")]
    assert first_pass and first_pass[0] < first_card
    assert whole and meaning, started
    assert min(whole + meaning) >= first_card
    assert len(page.locator("#search-results li").all()) >= 2  # the rest joined
    context.close()
