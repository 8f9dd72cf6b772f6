"""Person pages in real headless Chromium: "In their own words" lists the topic moments the
person speaks, each opening the episode page at the paragraph they say it in."""

from __future__ import annotations

import pytest

from ingest.archive import Archive
from ingest.sitegen import step as sitegen
from ingest.sitegen.server import StaticServer
from tests.browser import VIEWPORTS, axe_violations, screenshot
from tests.site_archive import build_sample_archive

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    archive = Archive.at(tmp_path_factory.mktemp("speakers-site"))
    build_sample_archive(archive)
    db = archive.open_db()
    report = sitegen.build_site(db, archive, "/", search=False)
    assert report.errors == []
    server = StaticServer(archive.site_dir, base_path="/").start()
    yield server.url()
    server.stop()


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_a_person_page_quotes_what_they_said_and_opens_the_episode_there(site, browser, size):
    context = browser.new_context(viewport=VIEWPORTS[size], bypass_csp=True)
    tab = context.new_page()
    tab.goto(site + "people/viet-nguyen/")
    heading = tab.get_by_role("heading", name="In their own words")
    assert heading.is_visible()
    items = tab.locator(".spoken-moments li")
    assert items.count() >= 1
    screenshot(tab, f"speakers-person-{size}")
    assert axe_violations(tab) == []
    quote = items.first.locator("q").inner_text()
    items.first.locator("a").first.click()
    tab.wait_for_url("**/episodes/**#t=*")
    seconds = tab.url.rsplit("#t=", 1)[1]
    paragraph = tab.locator(f'[id="t={seconds}"]')
    assert paragraph.locator(".speaker").inner_text() == "Viet Nguyen"
    assert quote in paragraph.inner_text()  # the quote is their own line, not the host's
    context.close()
