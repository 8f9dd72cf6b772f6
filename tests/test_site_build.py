"""The site build without a browser: pages, escaping, feeds, base URL, incremental rebuilds."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.records import Episode, Person, Segment, Transcript
from ingest.sitegen import data as site_data
from ingest.sitegen import rss as site_feed
from ingest.sitegen import search as site_search
from ingest.sitegen import step as sitegen
from ingest.sitegen import urls
from ingest.store import shows as show_store
from ingest.store import transcripts as transcript_store
from ingest.timecode import clock
from ingest.transcribe.files import write_transcript
from tests.site_archive import HOSTILE_TITLE, build_archive, make_speech_mp3

PODCAST_NS = "{https://podcastindex.org/namespace/1.0}"
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture(scope="session")
def mp3(tmp_path_factory):
    return make_speech_mp3(tmp_path_factory.mktemp("audio") / "speech.mp3", "One Medical.", 60)


@pytest.fixture
def episodes(archive, mp3):
    """The test archive's episode rows by short name (building the archive on the way)."""
    return build_archive(archive, mp3)


def build(archive, base_url="/", search=False):
    return sitegen.build_site(archive.open_db(), archive, base_url, search=search)


class TagCollector(HTMLParser):
    """Every start tag with its attributes, and the text of each <script>."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def parse(path) -> TagCollector:
    collector = TagCollector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def html_pages(site):
    return sorted(p for p in site.rglob("*.html") if "pagefind" not in p.parts)


def test_build_writes_every_page(archive, episodes):
    report = build(archive, search=True)
    assert report.errors == []
    site = archive.site_dir
    medical = episodes["medical"]
    episode_page = site / "episodes" / medical["slug"] / "index.html"
    for rel in (
        "index.html",
        "404.html",
        "search/index.html",
        "topics/index.html",
        "topics/interviewing/index.html",
        "people/index.html",
        "people/viet-nguyen/index.html",
        "people/rob-stevenson/index.html",
        "shows/talk-talent-to-me/index.html",
        "feed.xml",
        "sitemap.xml",
        "robots.txt",
        "static/site.css",
        "static/site.js",
        "pagefind/shards.json",
        "pagefind/talk-talent-to-me-1/pagefind.js",
    ):
        assert (site / rel).is_file(), rel
    html = episode_page.read_text()
    assert "One Medical&#39;s Reverse Interview" in html
    assert 'id="t=27"' in html and 'href="#t=27"' in html
    assert "Candidates ask anything" in html
    assert 'href="/topics/interviewing/"' in html
    assert "Where they discuss it" in html and 'href="#t=35"' in html
    assert "Viet Nguyen" in html and "4 April 2023" in html
    # Lengths read as a player shows them (m:ss), not rounded to minutes.
    assert '<time datetime="PT1M0S"><span class="visually-hidden">Length </span>1:00</time>' in html
    # The suggested keyphrase is not a topic; only taxonomy topics show.
    assert "/topics/suggested/" not in html
    # The audio is the archive's own file, linked (not duplicated) into the site.
    audio = site / "audio" / "talk-talent-to-me" / f"{medical['id']}.mp3"
    assert f'src="/audio/talk-talent-to-me/{medical["id"]}.mp3"' in html
    assert os.path.samefile(audio, archive.root / f"audio/talk-talent-to-me/{medical['id']}.mp3")
    # Transcript downloads are named by the episode's slug, not its opaque id.
    for ext in ("vtt", "srt", "json"):
        copy = site / "transcripts" / "talk-talent-to-me" / f"{medical['slug']}.{ext}"
        source = archive.transcripts_dir / "talk-talent-to-me" / f"{medical['id']}.{ext}"
        assert copy.read_bytes() == source.read_bytes()
        assert f'href="/transcripts/talk-talent-to-me/{medical["slug"]}.{ext}"' in html
    assert f'href="/transcripts/talk-talent-to-me/{medical["slug"]}.txt"' in html
    # Episodes without a local file fall back to the publisher's enclosure URL.
    brand_page = site / "episodes" / episodes["brand"]["slug"] / "index.html"
    assert 'src="https://cdn.example.com/ttm-1.mp3"' in brand_page.read_text()
    # A topic the notes name but the talk never dwells on shows the notes sentence as its
    # evidence; one with moments shows those instead.
    brand_html = brand_page.read_text()
    assert "Named in the show notes" in brand_html
    assert "We also cover how the team interviews." in brand_html
    assert "Named in the show notes" not in html
    # The topic page quotes each moment beside its time, and lists passing mentions apart.
    topic_page = (site / "topics/interviewing/index.html").read_text()
    assert re.search(r'#t=12">.*0:12</a> <q>We call it the reverse interview.</q>', topic_page)
    mentions = topic_page[topic_page.index("Also mentioned in") :]
    assert '#t=2">Hostile &lt;script&gt;' in mentions and " at 0:02</a>" in mentions
    assert "&lt;script&gt;" in mentions and "<script>window" not in mentions
    topics = (site / "topics/index.html").read_text()
    assert re.search(r"Interviewing</a> <span class=\"count\">2 episodes", topics)
    home = (site / "index.html").read_text()
    assert home.index("Hostile") < home.index("One Medical") < home.index("Employer Brand")


def test_text_download_has_a_header_times_and_speakers(archive, episodes):
    build(archive, base_url="https://example.org/podcasts/")
    medical = episodes["medical"]
    path = archive.site_dir / "transcripts" / "talk-talent-to-me" / f"{medical['slug']}.txt"
    header, *paragraphs = path.read_text(encoding="utf-8").rstrip("\n").split("\n\n")
    assert header.split("\n") == [
        "Talk Talent To Me",
        medical["title"],
        "4 April 2023",
        f"https://example.org/podcasts/episodes/{medical['slug']}/",
    ]
    # One paragraph per speaker turn, each "[m:ss] Speaker: text", in time order.
    spoken = [re.fullmatch(r"\[(\d+):(\d\d)\] ([^:]+): (.+)", p) for p in paragraphs]
    assert all(spoken) and len(spoken) >= 4
    seconds = [int(m[1]) * 60 + int(m[2]) for m in spoken]
    assert seconds == sorted(seconds) and seconds[0] == 0
    assert {m[3] for m in spoken} == {"Rob Stevenson", "Viet Nguyen"}
    assert any("reverse interview" in m[4] for m in spoken)
    # A hostile title stays one header line in a text file.
    hostile = episodes["hostile"]
    text = (path.parent / f"{hostile['slug']}.txt").read_text(encoding="utf-8")
    assert text.split("\n")[1] == " ".join(HOSTILE_TITLE.split())


def test_headings_never_skip_a_level(archive, episodes):
    build(archive)
    for page in html_pages(archive.site_dir):
        levels = [int(tag[1]) for tag, _ in parse(page).tags if re.fullmatch(r"h[1-6]", tag)]
        assert levels and levels[0] == 1, page
        for before, after in zip(levels, levels[1:], strict=False):
            assert after <= before + 1, (page, levels)


def test_hostile_feed_text_is_inert(archive, episodes):
    build(archive)
    site = archive.site_dir
    for page in html_pages(site):
        parsed = parse(page)
        for tag, attrs in parsed.tags:
            assert tag not in ("iframe", "svg", "img", "object", "embed"), (page, tag)
            assert not any(name.startswith("on") for name in attrs), (page, tag, attrs)
            for name in ("href", "src", "action"):
                assert not (attrs.get(name) or "").strip().lower().startswith("javascript:")
            if tag == "script":
                assert attrs.get("type") == "application/ld+json" or attrs["src"].startswith(
                    "/static/"
                ), (page, attrs)
    hostile = site / "episodes" / episodes["hostile"]["slug"] / "index.html"
    parsed = parse(hostile)
    (ld_text,) = [s for s in parsed.scripts if s.strip()]
    assert "</" not in ld_text and "<" not in ld_text
    ld = json.loads(ld_text)
    assert ld["@type"] == "PodcastEpisode" and ld["name"] == HOSTILE_TITLE
    text = hostile.read_text()
    assert "&lt;script&gt;window.__pwned=&#39;transcript&#39;&lt;/script&gt;" in text
    assert "click me</a>" in text  # the link text stays, its javascript: href does not


def test_second_build_rewrites_nothing(archive, episodes):
    first = build(archive, search=True)
    assert first.indexed and first.written
    stamps = {p: p.stat().st_mtime_ns for p in archive.site_dir.rglob("*") if p.is_file()}
    second = build(archive, search=True)
    assert second.written == [] and second.removed == [] and not second.indexed
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_the_published_scripts_are_copies_of_the_package_files(archive, episodes):
    """Editing a published script in place (as `cp` or an editor does) leaves the package's
    own file as it was, and the next build puts the package's version back."""
    from ingest.sitegen.render import templates_dir

    build(archive, search=False)
    published = archive.site_dir / "static" / "search.js"
    source = templates_dir() / "static" / "search.js"
    original = source.read_bytes()
    assert published.read_bytes() == original
    assert not published.samefile(source)
    with published.open("r+b") as script:  # in place: the same inode
        script.write(b"/* edited on the server */")
    assert source.read_bytes() == original
    again = build(archive, search=False)
    assert "static/search.js" not in again.written  # its inputs did not change...
    published.unlink()
    restored = build(archive, search=False)
    assert "static/search.js" in restored.written  # ...but a lost copy is made again
    assert published.read_bytes() == original


def add_episode(archive, guid, title, published, guest="Dana Lee", topic="interviewing"):
    """One more transcribed, tagged episode of the test show, hosted by Rob; its row."""
    db = archive.open_db()
    host = Person("Rob Stevenson", role="host")
    show_store.upsert_episodes(
        db,
        "talk-talent-to-me",
        [
            Episode(
                guid=guid,
                title=title,
                published=published,
                duration=30,
                people=[host, Person(guest, role="guest")],
            )
        ],
    )
    new = next(e for e in show_store.list_episodes(db) if e["guid"] == guid)
    transcript = Transcript([Segment(0, 10, f"{title}: structured interviews reduce bias.")])
    transcript_store.save_transcript(db, new["id"], transcript)
    write_transcript(archive.transcripts_dir, "talk-talent-to-me", new["id"], transcript)
    with db.conn:
        db["episode_tags"].insert(
            {"episode_id": new["id"], "tag_slug": topic, "score": 1.0, "source": "t"}
        )
    return new


def add_weekly_episodes(archive, count, first=4):
    """Episodes `first`.. a week apart after the test archive's three; their rows, oldest first."""
    return [
        add_episode(
            archive,
            f"ttm-{number}",
            f"Weekly Episode {number}",
            datetime(2023, 6, 6, 9, tzinfo=UTC) + timedelta(days=7 * (number - 4)),
            guest=f"Guest {number}",
        )
        for number in range(first, first + count)
    ]


def test_new_episode_rewrites_its_page_lists_and_index(archive, episodes):
    build(archive, search=True)
    new = add_episode(
        archive, "ttm-4", "Structured Interviews at Scale", datetime(2023, 6, 6, 9, tzinfo=UTC)
    )
    report = build(archive, search=True)
    page = f"episodes/{new['slug']}/index.html"
    expected = {
        page,
        "index.html",
        "shows/talk-talent-to-me/index.html",
        "topics/index.html",
        "topics/interviewing/index.html",
        "people/index.html",
        "people/dana-lee/index.html",
        "people/rob-stevenson/index.html",
        "search/index.html",
        "feed.xml",
        "shows/talk-talent-to-me/feed.xml",
        # The new guest's feed of moments (empty: the episode has none, so no topic feed and
        # no other person's feed changes).
        "people/dana-lee/feed.xml",
        "sitemap.xml",
    } | {
        f"transcripts/talk-talent-to-me/{new['slug']}.{ext}"
        for ext in ("vtt", "srt", "json", "txt")
    }
    assert set(report.written) == expected
    assert report.indexed
    assert "Structured Interviews at Scale" in (archive.site_dir / "index.html").read_text()
    # The transcript was saved within the second of that build: the next build checks it again
    # (a second save in that second would keep its stamp) and finds it unchanged.
    assert build(archive, search=True).written == []


@pytest.mark.parametrize("per_page", [1, 3, 20])
def test_list_pages_are_fixed_windows_counted_from_the_oldest(per_page):
    previous: dict[str, tuple] = {}
    for count in range(0, 5 * per_page + 2):
        layouts = urls.paginate(count, "shows/x/", per_page)
        front, older = layouts[0], layouts[1:]
        assert front.rel == "shows/x/index.html" and front.newer_url is None
        # Every episode (1 = the oldest) is on exactly one page; the front holds the newest.
        held = sorted(n for page in layouts for n in range(page.first, page.last + 1))
        assert held == list(range(1, count + 1))
        assert front.last == count
        assert min(count, per_page) <= front.last - front.first + 1 < 2 * per_page
        assert all(page.last - page.first + 1 == per_page for page in older)
        assert [p.rel for p in older] == [
            f"shows/x/page/{n}/index.html" for n in range(len(older), 0, -1)
        ]
        # One more episode changes no older page, but for the page a full front spills into
        # and the page before it (whose "newer" link now points there instead of the front).
        current = {p.rel: (p.first, p.last, p.newer_url, p.older_url) for p in older}
        changed = {rel for rel in current if previous.get(rel) != current[rel]}
        assert not set(previous) - set(current)
        if count % per_page or count < 2 * per_page:
            assert changed == set()
        else:
            spilled = count // per_page - 1
            assert changed <= {
                f"shows/x/page/{spilled}/index.html",
                f"shows/x/page/{spilled - 1}/index.html",
            }
        previous = current


CARD_LINK = re.compile(r'<li class="card">\s*<article>\s*<h3><a href="/([^"]+)"')
PAGER_LINK = re.compile(r'<a rel="(prev|next)" href="/([^"]*)"')


def walk_list(site, prefix):
    """Follow "Older" links from `prefix`'s front page, then "Newer" links back.

    Returns the pages visited and the episode links they list, in order.
    """
    pages, links = [], []
    url = prefix
    while url is not None:
        assert url not in pages, f"pager loops back to {url}"
        pages.append(url)
        html = (site / url / "index.html").read_text()
        links += CARD_LINK.findall(html)
        url = dict((rel, href) for rel, href in PAGER_LINK.findall(html)).get("next")
    back = []
    url = pages[-1]
    while url is not None:
        back.append(url)
        html = (site / url / "index.html").read_text()
        url = dict((rel, href) for rel, href in PAGER_LINK.findall(html)).get("prev")
    assert back == pages[::-1]
    return pages, links


def test_pagination_links_reach_every_episode_once(archive, episodes, monkeypatch):
    monkeypatch.setattr(urls, "EPISODES_PER_PAGE", 2)
    added = add_weekly_episodes(archive, 6)
    assert build(archive).errors == []
    site = archive.site_dir
    everything = [e["slug"] for e in [episodes["brand"], episodes["medical"], episodes["hostile"]]]
    everything += [e["slug"] for e in added]
    hosted = [episodes["brand"]["slug"], episodes["medical"]["slug"]] + everything[3:]
    interviewing = hosted  # the medical and brand episodes, and every added one
    for prefix, expected in (
        ("", everything),
        ("shows/talk-talent-to-me/", everything),
        ("topics/interviewing/", interviewing),
        ("people/rob-stevenson/", hosted),
    ):
        pages, links = walk_list(site, prefix)
        assert links == [f"episodes/{slug}/" for slug in reversed(expected)], prefix
        # 9 (or 8) episodes, 2 a page: the front holds the newest 3 (or 2), then 3 full pages.
        assert pages == [prefix] + [f"{prefix}page/{n}/" for n in (3, 2, 1)]
        on_disk = {str(p.parent.relative_to(site)) + "/" for p in site.glob(f"{prefix}page/*/*")}
        assert on_disk == set(pages[1:]), prefix
    oldest = (site / "page/1/index.html").read_text()
    assert "Episodes 1–2" in oldest and "Employer Brand" in oldest


def test_new_episode_rewrites_only_the_front_list_pages(archive, episodes, monkeypatch):
    monkeypatch.setattr(urls, "EPISODES_PER_PAGE", 3)
    # 10 episodes; the topic and host lists hold 9 (not the hostile one). Each list's front
    # page holds episodes 7.., pages 2 and 1 hold 4-6 and 1-3.
    add_weekly_episodes(archive, 7)
    build(archive)
    site = archive.site_dir
    lists = ("", "shows/talk-talent-to-me/", "topics/interviewing/", "people/rob-stevenson/")
    older = {site / f"{prefix}page/{n}/index.html" for prefix in lists for n in (1, 2)}
    assert set(site.glob("**/page/*/index.html")) == older
    before = {path: path.read_bytes() for path in older}

    (eleventh,) = add_weekly_episodes(archive, 1, first=11)  # every front page grows by one
    report = build(archive)
    assert set(report.written) == {
        f"episodes/{eleventh['slug']}/index.html",
        "index.html",
        "shows/talk-talent-to-me/index.html",
        "topics/interviewing/index.html",
        "people/rob-stevenson/index.html",
        "people/guest-11/index.html",
        "topics/index.html",
        "people/index.html",
        "search/index.html",
        "feed.xml",
        "shows/talk-talent-to-me/feed.xml",
        "people/guest-11/feed.xml",
        "sitemap.xml",
    } | {
        f"transcripts/talk-talent-to-me/{eleventh['slug']}.{ext}"
        for ext in ("vtt", "srt", "json", "txt")
    }
    assert {path: path.read_bytes() for path in older} == before

    # The 12th episode fills the home and show lists' front page past two pages: episodes 7-9
    # move to a new page 3, and page 2 links to it as "newer"; page 1 stays as it was.
    (twelfth,) = add_weekly_episodes(archive, 1, first=12)
    report = build(archive)
    assert {rel for rel in report.written if "page/" in rel} == {
        "page/3/index.html",
        "page/2/index.html",
        "shows/talk-talent-to-me/page/3/index.html",
        "shows/talk-talent-to-me/page/2/index.html",
    }
    for prefix in lists:
        assert (site / f"{prefix}page/1/index.html").read_bytes() == before[
            site / f"{prefix}page/1/index.html"
        ]
        pages, links = walk_list(site, prefix)
        assert len(links) == len(set(links)) == (12 if prefix in lists[:2] else 11)
        assert links[0] == f"episodes/{twelfth['slug']}/"


def test_transcript_changes_rewrite_the_episode_page(archive, episodes):
    db = archive.open_db()
    medical = episodes["medical"]
    page = f"episodes/{medical['slug']}/index.html"
    build(archive)
    segments = [
        Segment(row["start"], row["end"], row["text"], speaker=row["speaker"])
        for row in db.query(
            "SELECT * FROM segments WHERE episode_id = ? ORDER BY idx", [medical["id"]]
        )
    ]
    segments[1].text = "At One Medical we rewrote the whole process."
    transcript_store.save_transcript(db, medical["id"], Transcript(segments))
    report = build(archive)
    assert page in report.written
    assert "we rewrote the whole process" in (archive.site_dir / page).read_text()
    assert build(archive).written == []

    # A save stamped with the second a build runs in is not trusted by the next build: an
    # edit within that second (same time, same segment count and ids) is still found.
    with db.conn:
        db.execute(
            "UPDATE episodes SET transcript_at = '9999-12-31T23:59:59+00:00' WHERE id = ?",
            [medical["id"]],
        )
    assert build(archive).written == []  # same segments: nothing to rewrite
    with db.conn:
        db.execute(
            "UPDATE segments SET text = 'Edited within the second.' WHERE episode_id = ? "
            "AND idx = 1",
            [medical["id"]],
        )
    report = build(archive)
    assert page in report.written
    assert "Edited within the second." in (archive.site_dir / page).read_text()


def test_changed_and_removed_episodes(archive, episodes):
    build(archive)
    db = archive.open_db()
    brand = episodes["brand"]
    with db.conn:
        db["episodes"].update(brand["id"], {"title": "Employer Brand, Revisited"})
    report = build(archive)
    assert f"episodes/{brand['slug']}/index.html" in report.written
    assert f"episodes/{episodes['medical']['slug']}/index.html" not in report.written
    hostile = episodes["hostile"]
    with db.conn:
        for table in ("segments", "episode_tags", "topic_mentions", "episode_people", "chapters"):
            db.execute(f"DELETE FROM {table} WHERE episode_id = ?", [hostile["id"]])
        db.execute("DELETE FROM episodes WHERE id = ?", [hostile["id"]])
    report = build(archive)
    assert f"episodes/{hostile['slug']}/index.html" in report.removed
    assert not (archive.site_dir / "episodes" / hostile["slug"]).exists()
    assert not (archive.site_dir / "topics" / "hostile").exists()


def test_base_url_under_a_sub_path(archive, episodes):
    report = build(archive, base_url="https://example.org/podcasts")
    assert report.errors == []
    site = archive.site_dir
    medical = episodes["medical"]
    page = (site / "episodes" / medical["slug"] / "index.html").read_text()
    assert 'href="/podcasts/static/site.css' in page
    assert 'href="/podcasts/topics/interviewing/"' in page
    canonical = f"https://example.org/podcasts/episodes/{medical['slug']}/"
    assert f'<link rel="canonical" href="{canonical}">' in page
    assert f'<meta property="og:url" content="{canonical}">' in page
    for parsed_page in html_pages(site):
        for _, attrs in parse(parsed_page).tags:
            for name in ("href", "src", "action"):
                value = attrs.get(name) or ""
                assert not (value.startswith("/") and not value.startswith("/podcasts/")), value
    feed = ET.parse(site / "feed.xml").getroot()
    items = feed.findall("./channel/item")
    assert len(items) == 3
    item = next(i for i in items if i.findtext("guid") == "ttm-2")
    assert item.findtext("link") == canonical
    enclosure = item.find("enclosure")
    assert enclosure.get("url").startswith("https://example.org/podcasts/audio/")
    assert int(enclosure.get("length")) > 1000
    transcripts = {t.get("type"): t.get("url") for t in item.iter(f"{PODCAST_NS}transcript")}
    assert set(transcripts) == {
        "text/vtt",
        "application/x-subrip",
        "application/json",
        "text/plain",
    }
    assert transcripts["text/vtt"] == (
        f"https://example.org/podcasts/transcripts/talk-talent-to-me/{medical['slug']}.vtt"
    )
    sitemap = (site / "sitemap.xml").read_text()
    assert f"<loc>{canonical}</loc>" in sitemap
    # Changing the base URL rewrites every page.
    again = build(archive, base_url="/elsewhere/")
    assert f"episodes/{medical['slug']}/index.html" in again.written


def test_sitemap_splits_past_the_protocols_url_limit(archive, episodes, monkeypatch):
    build(archive, base_url="https://example.org/")
    single = ET.parse(archive.site_dir / "sitemap.xml").getroot()
    urls = [loc.text for loc in single.iter(f"{SITEMAP_NS}loc")]
    monkeypatch.setattr(site_feed, "SITEMAP_MAX_URLS", 5)
    build(archive, base_url="https://example.org/")
    index = ET.parse(archive.site_dir / "sitemap.xml").getroot()
    assert index.tag == f"{SITEMAP_NS}sitemapindex"
    parts = [loc.text for loc in index.iter(f"{SITEMAP_NS}loc")]
    assert parts == [f"https://example.org/sitemap-{n}.xml" for n in range(1, len(parts) + 1)]
    split = []
    for n in range(1, len(parts) + 1):
        part = ET.parse(archive.site_dir / f"sitemap-{n}.xml").getroot()
        split += [loc.text for loc in part.iter(f"{SITEMAP_NS}loc")]
        assert len(list(part)) <= 5
    assert split == urls
    # Back under the limit: one sitemap again, the parts removed.
    monkeypatch.setattr(site_feed, "SITEMAP_MAX_URLS", 50_000)
    report = build(archive, base_url="https://example.org/")
    assert "sitemap-1.xml" in report.removed and not (archive.site_dir / "sitemap-1.xml").exists()


def test_bad_rows_are_reported_and_skipped(archive, episodes):
    db = archive.open_db()
    brand, medical = episodes["brand"], episodes["medical"]
    with db.conn:
        db["episodes"].update(brand["id"], {"slug": "../../escape"})
        db["episodes"].update(medical["id"], {"audio_path": "../../../etc/passwd"})
    report = build(archive)
    assert any(brand["id"] in e and "slug" in e for e in report.errors)
    assert any(medical["id"] in e and "outside the archive" in e for e in report.errors)
    assert not (archive.root.parent / "escape").exists()
    assert not list((archive.site_dir).rglob("passwd"))
    assert (archive.site_dir / "episodes" / medical["slug"] / "index.html").is_file()


def test_passages_group_segments_into_paragraphs():
    segments = [
        (0.0, 5.0, "A", "Hello."),
        (5.0, 9.0, "A", "Still me."),
        (9.0, 12.0, "B", "Now you."),
        (15.5, 20.0, "B", "After a pause."),
        (20.0, 21.0, "B", "   "),
    ]
    result = site_data.passages(segments)
    assert [(p["t"], p["speaker"], p["text"]) for p in result] == [
        (0, "A", "Hello. Still me."),
        (9, "B", "Now you."),
        (15, "B", "After a pause."),
    ]
    assert [p["id"] for p in result] == ["t=0", "t=9", "t=15"]
    assert clock(3723) == "1:02:03" and clock(754) == "12:34"


def test_cli_build(archive, episodes):
    result = CliRunner().invoke(cli, ["build", "--base-url", "/sub/", "--no-search"])
    assert result.exit_code == 0, result.output
    assert "files written" in result.output
    assert 'href="/sub/search/"' in (archive.site_dir / "index.html").read_text()
    result = CliRunner().invoke(cli, ["build", "--base-url", "ftp://nope/"])
    assert result.exit_code == 1 and "--base-url" in result.output


def fingerprints(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_a_new_episode_changes_only_its_search_shard(archive, episodes, monkeypatch):
    monkeypatch.setattr(site_search, "SHARD_EPISODES", 2)  # three episodes: shards of 2 and 1
    build(archive, search=True)
    index = archive.site_dir / "pagefind"
    before = fingerprints(index)
    add_episode(archive, "ttm-4", "A Fourth Episode", datetime(2023, 6, 6, 9, tzinfo=UTC))
    report = build(archive, search=True)
    assert report.shards_indexed == ["talk-talent-to-me-2"]
    after = fingerprints(index)
    changed = {rel.split("/")[0] for rel in set(before) ^ set(after)} | {
        rel.split("/")[0] for rel in before if rel in after and before[rel] != after[rel]
    }
    # The list of shards counts each one's pages, so it changes with the shard that grew.
    assert changed == {"talk-talent-to-me-2", "shards.json"}, changed
    assert json.loads((index / "shards.json").read_text())["pages"] == [2, 2]
    assert build(archive, search=True).shards_indexed == []  # nothing changed: nothing indexed
    # A shard that is gone (an episode fewer) leaves the manifest and the folder.
    monkeypatch.setattr(site_search, "SHARD_EPISODES", 4)
    build(archive, search=True)
    assert sorted(p.name for p in index.iterdir()) == ["shards.json", "talk-talent-to-me-1"]


def test_search_index_failure_keeps_the_pages(archive, episodes, monkeypatch):
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(archive.root / "no-such-pagefind"))
    report = build(archive, search=True)
    assert not report.indexed
    assert any("pagefind failed" in error for error in report.errors)
    assert (archive.site_dir / "index.html").is_file()
    assert not (archive.site_dir / "pagefind" / "shards.json").exists()
    monkeypatch.delenv("PAGEFIND_BINARY_PATH")
    report = build(archive, search=True)
    assert report.indexed and report.written == [] and report.errors == []
    assert (archive.site_dir / "pagefind" / "talk-talent-to-me-1" / "pagefind.js").is_file()


def test_build_of_one_show(archive, episodes, mp3):
    db = archive.open_db()
    other = show_store.add_show(db, "https://feeds.example.com/other.xml", "Other Show")
    show_store.upsert_episodes(db, other["id"], [Episode(guid="o-1", title="Elsewhere")])
    build(archive)
    assert (archive.site_dir / "shows" / other["id"] / "index.html").is_file()
    report = sitegen.build_site(db, archive, "/", show_id="talk-talent-to-me", search=False)
    assert not (archive.site_dir / "shows" / other["id"]).exists()
    assert any(rel.startswith(f"shows/{other['id']}/") for rel in report.removed)
    assert "Elsewhere" not in (archive.site_dir / "index.html").read_text()


def test_episodes_made_in_two_processes_are_the_ones_made_in_one(archive, episodes, monkeypatch):
    """A large build makes its episode pages and text downloads in forked workers (each with
    its own connection); the files and what the build records of them are the same."""
    from ingest.sitegen import episodes as site_episodes

    def files(site):
        return {
            str(p.relative_to(site)): p.read_bytes()
            for p in site.rglob("*")
            if p.is_file() and p.name != ".build-manifest.json"
        }

    first = build(archive)
    one = files(archive.site_dir)
    manifest = json.loads((archive.site_dir / ".build-manifest.json").read_text())["outputs"]
    for path in archive.site_dir.rglob("*"):
        if path.is_file():
            path.unlink()
    forks = []
    fork = site_episodes.multiprocessing.get_context("fork")
    real_process = fork.Process
    monkeypatch.setattr(site_episodes, "PARALLEL_FROM", 1)
    monkeypatch.setattr(site_episodes, "CHUNK", 1)  # both processes get some
    monkeypatch.setattr(fork, "Process", lambda *a, **k: forks.append(a) or real_process(*a, **k))
    second = build(archive)
    assert forks, "the episodes were not made in worker processes"
    assert files(archive.site_dir) == one
    assert sorted(second.written) == sorted(first.written)
    again = json.loads((archive.site_dir / ".build-manifest.json").read_text())["outputs"]
    assert again == manifest


def _jobs(count: int):
    from ingest.sitegen.episodes import Job

    return [Job({"id": str(number)}, {}) for number in range(count)]


def test_the_build_and_its_worker_share_the_jobs_and_make_each_once(tmp_path, monkeypatch):
    from ingest.sitegen import episodes as site_episodes

    sqlite3.connect(tmp_path / "archive.db").close()
    monkeypatch.setattr(site_episodes, "PARALLEL_FROM", 1)
    monkeypatch.setattr(site_episodes, "CHUNK", 2)

    def make(db, job):
        time.sleep(0.01)  # long enough that neither process takes every chunk
        return site_episodes.Done(written=[(job.episode["id"], str(os.getpid()))])

    with site_episodes.making(_jobs(60), make, None, str(tmp_path / "archive.db")) as made:
        written = [pair for done in made for pair in done.written]
    assert sorted(rel for rel, _ in written) == sorted(str(n) for n in range(60))
    makers = {pid for _, pid in written}
    assert str(os.getpid()) in makers and len(makers) == 2


def test_a_worker_that_dies_loses_no_episode(tmp_path, monkeypatch):
    """The chunk a dead worker took (and any it never sent back) is made by the build."""
    from ingest.sitegen import episodes as site_episodes

    sqlite3.connect(tmp_path / "archive.db").close()
    monkeypatch.setattr(site_episodes, "PARALLEL_FROM", 1)
    monkeypatch.setattr(site_episodes, "CHUNK", 2)
    build_process = os.getpid()

    def make(db, job):
        if os.getpid() != build_process:
            os._exit(1)  # the worker dies on its first job
        return site_episodes.Done(written=[(job.episode["id"], "")])

    with site_episodes.making(_jobs(30), make, None, str(tmp_path / "archive.db")) as made:
        written = sorted(rel for done in made for rel, _ in done.written)
    assert written == sorted(str(n) for n in range(30))


def test_feeds_are_paged_as_archives_a_new_episode_leaves_alone(archive, episodes, monkeypatch):
    """RFC 5005 archived feeds: feed.xml holds the newest episodes and links to fixed pages
    of older ones (each an fh:archive linking back to the feed), which reach every episode
    once; a new episode rewrites the feed, not the archive pages."""
    monkeypatch.setattr(site_feed, "FEED_PAGE_ITEMS", 2)
    add_weekly_episodes(archive, 7)  # 10 episodes: the feed holds 2, four pages the other 8
    build(archive, base_url="https://example.com/ttm/")
    site, atom = archive.site_dir, "{http://www.w3.org/2005/Atom}"
    db = archive.open_db()
    every = {row[0] for row in db.execute("SELECT guid FROM episodes")}

    def walk(prefix):
        seen, path, documents = [], site / f"{prefix}feed.xml", 0
        while path is not None:
            channel = ET.parse(path).getroot().find("channel")
            links = {a.get("rel"): a.get("href") for a in channel.findall(f"{atom}link")}
            archived = channel.find("{http://purl.org/syndication/history/1.0}archive")
            assert (archived is not None) == (documents > 0), path
            if documents:
                assert links["current"] == f"https://example.com/ttm/{prefix}feed.xml"
            assert links["self"] == "https://example.com/ttm/" + str(path.relative_to(site))
            seen += [item.findtext("guid") for item in channel.findall("item")]
            older = links.get("prev-archive")
            path = site / older.removeprefix("https://example.com/ttm/") if older else None
            documents += 1
        return seen, documents

    for prefix in ("", "shows/talk-talent-to-me/"):
        seen, documents = walk(prefix)
        assert sorted(seen) == sorted(every) and documents == 5, prefix
    (eleventh,) = add_weekly_episodes(archive, 1, first=11)
    report = build(archive, base_url="https://example.com/ttm/")
    assert {"feed.xml", "shows/talk-talent-to-me/feed.xml"} <= set(report.written)
    assert not [rel for rel in report.written if "feed/" in rel]
    assert sorted(walk("")[0]) == sorted(every | {eleventh["guid"]})
