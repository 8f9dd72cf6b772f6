from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.synthetic_feed import synthetic_feed
from ingest.feeds.parse import normalize_enclosure_url, parse_duration, parse_feed
from ingest.feeds.sanitize import html_to_text, sanitize_html

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
URL = "https://feeds.example.com/show.xml"


def parse(name: str, url: str = URL, **headers):
    return parse_feed((FEEDS / name).read_bytes(), url, headers)


def test_itunes_feed_channel_fields():
    feed = parse("itunes.xml")
    show = feed.show
    assert feed.error is None and feed.warnings == []
    assert show.title == "Hiring Matters"
    assert show.description == "A show about hiring & the people who do it."
    assert show.link == "https://hiring.example.com/"
    assert show.image_url == "https://hiring.example.com/cover.jpg"
    assert show.author == "Hiring Matters Media"  # not overwritten by itunes:owner's name
    assert (show.owner_name, show.owner_email) == ("Rob Example", "rob@example.com")
    assert show.language == "en-us"
    assert show.categories == ["Business", "Careers", "Technology"]
    assert show.explicit is False
    assert show.podcast_guid == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    assert [(p.name, p.role, p.href) for p in show.people] == [
        ("Rob Example", "host", "https://hiring.example.com/rob")
    ]


def test_itunes_feed_episode_fields():
    first, second, trailer = parse("itunes.xml").episodes
    assert first.guid == "hm-0003"
    assert first.title == "The reverse interview"
    assert first.published == datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    assert first.link == "https://hiring.example.com/episodes/3"
    assert first.enclosure_url.endswith("cdn.example.com/hm/3.mp3?source=rss")
    assert (first.enclosure_type, first.enclosure_length) == ("audio/mpeg", 24_000_000)
    assert first.duration == 3723
    assert (first.season, first.episode_number, first.episode_type) == (2, 3, "full")
    assert first.image_url == "https://hiring.example.com/3.jpg"
    assert first.explicit is True
    assert first.keywords == ["interviews", "candidates"]
    # content:encoded wins over description, sanitised.
    assert "another" in first.description_html and "Short summary" not in first.description_html
    assert "Candidates ask for another conversation." in first.description_text
    assert second.explicit is False and second.duration == 45 * 60 + 30
    assert trailer.episode_type == "trailer" and trailer.duration == 95


def test_plain_text_description_keeps_its_line_breaks_and_escapes():
    second = parse("itunes.xml").episodes[1]
    assert second.description_html == "<p>Plain text notes.<br>Second line &amp; more.</p>"
    assert second.description_text == "Plain text notes.\nSecond line & more."


def test_guid_is_not_turned_into_a_link():
    # <guid>hm-0002</guid> is isPermaLink by default, but it is no URL: no link, guid as written.
    second = parse("itunes.xml").episodes[1]
    assert second.guid == "hm-0002"
    assert second.link is None


def test_every_repeated_podcast_element_is_kept():
    first = parse("itunes.xml").episodes[0]
    assert [(t.url, t.type, t.language, t.rel) for t in first.transcripts] == [
        ("https://hiring.example.com/3.vtt", "text/vtt", "en", None),
        ("https://hiring.example.com/3.json", "application/json", None, "captions"),
        ("https://hiring.example.com/3.srt", "application/x-subrip", None, None),
    ]
    assert first.chapters_url == "https://hiring.example.com/3.chapters.json"
    assert first.chapters_type == "application/json+chapters"
    assert [(p.name, p.role) for p in first.people] == [
        ("Viet Example", "guest"),
        ("Rob Example", "host"),
    ]


def test_description_html_is_sanitised():
    html = parse("itunes.xml").episodes[0].description_html
    assert "<script" not in html and "alert" not in html
    assert "onclick" not in html and "<img" not in html and "<iframe" not in html
    assert "javascript:" not in html and 'target="_blank"' not in html
    assert '<a href="https://example.com/notes" rel="nofollow noopener noreferrer">' in html
    assert 'href="mailto:rob@example.com"' in html


def test_sanitize_html_allows_only_safe_markup():
    dirty = (
        '<p style="color:red" class="x">Hi <a href="/relative">rel</a> '
        '<a href="data:text/html,hi">data</a> <a href="HTTPS://ok.example.com/">ok</a></p>'
        "<style>p{}</style><form><input></form><svg onload=alert(1)></svg><b>bold</b>"
    )
    clean = sanitize_html(dirty)
    assert clean.startswith("<p>Hi ")
    assert 'href="/relative"' not in clean and "data:" not in clean
    assert 'href="HTTPS://ok.example.com/"' in clean
    assert "<style" not in clean and "p{}" not in clean and "<form" not in clean
    assert "<svg" not in clean and "<b>bold</b>" in clean
    assert sanitize_html(None) == "" and sanitize_html("") == ""


def test_html_to_text_separates_blocks_and_unescapes():
    assert html_to_text("<p>One &amp; two</p><p>Three<br>four</p>") == "One & two\n\nThree\nfour"
    assert html_to_text("<script>x()</script>Text") == "Text"
    assert html_to_text("plain &lt;b&gt;") == "plain <b>"


def test_atom_feed():
    feed = parse("atom.xml", url="https://atom.example.com/feed.atom")
    assert feed.error is None
    assert feed.show.title == "Atom Talks"
    assert feed.show.description == "Conversations, in Atom."
    assert feed.show.image_url == "https://atom.example.com/logo.png"
    assert feed.show.author == "Ada Atom" and feed.show.language == "en"
    second, first = feed.episodes
    assert second.guid == "tag:atom.example.com,2024:2"
    assert second.enclosure_url == "https://cdn.atom.example.com/2.m4a"
    assert second.description_html == "<p>Full <i>notes</i>.</p>"
    assert second.published == datetime(2024, 4, 2, 10, 0, tzinfo=UTC)
    assert [t.url for t in second.transcripts] == [
        "https://atom.example.com/2.vtt",
        "https://atom.example.com/2.srt",
    ]
    assert first.published == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)  # <updated> fallback
    assert first.description_text == "Just a summary."


def test_feed_without_guids_falls_back_to_the_enclosure_without_tracking():
    feed = parse("no_guids.xml")
    two, one, post = feed.episodes
    assert two.guid == "media.example.com/two.mp3"  # chartable + podtrac + query stripped
    assert one.guid == "media.example.com/one.mp3"
    assert post.guid == "https://noguid.example.com/posts/news#A post without audio"
    assert post.enclosure_url is None
    assert any("'A post without audio' has no enclosure" in w for w in feed.warnings)


def test_normalized_enclosure_ignores_scheme_tracking_and_query():
    plain = normalize_enclosure_url("https://media.example.com/ep/1.mp3")
    assert plain == "media.example.com/ep/1.mp3"
    for variant in (
        "http://MEDIA.example.com/ep/1.mp3?utm_source=x",
        "https://dts.podtrac.com/redirect.mp3/media.example.com/ep/1.mp3",
        "https://pdst.fm/e/chtbl.com/track/9G4A/media.example.com/ep/1.mp3#t=3",
        "https://op3.dev/e,pg=abc/https://media.example.com/ep/1.mp3",
        "https://www.podtrac.com/pts/redirect.mp3/media.example.com/ep/1.mp3",
    ):
        assert normalize_enclosure_url(variant) == plain, variant


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("95", 95),
        ("45:30", 2730),
        ("1:02:03", 3723),
        ("01:02:03.6", 3724),
        ("90:00", 5400),  # minutes past 59 happen
        ("3600.0", 3600),
        (" 12 ", 12),
        ("1h 5m", 3900),
        ("45 min", 2700),
        (":30", 30),
        ("", None),
        (None, None),
        ("garbage", None),
        ("1:2:3:4", None),
        ("-5", None),
        ("99999999", None),
        ("nan", None),
    ],
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


def test_item_problems_are_reported_by_name_and_the_rest_kept():
    feed = parse("problems.xml")
    assert feed.error is None
    guids = [e.guid for e in feed.episodes]
    # The duplicate p-1 is dropped (first kept); the item with nothing to know it by is skipped.
    assert guids == ["p-1", "p-2", "p-3", "p-5"]
    assert feed.episodes[0].enclosure_url == "https://cdn.example.com/1.mp3"
    assert feed.episodes[0].duration is None and feed.episodes[0].season is None
    assert feed.episodes[1].duration is None
    assert feed.episodes[3].enclosure_url is None  # file:// never stored
    text = "\n".join(feed.warnings)
    assert all(w.startswith(URL + ": ") for w in feed.warnings)
    assert "item 2 (guid 'p-2') has no title" in text
    assert "item 3 'No audio here' has no enclosure" in text
    assert "item 4 'Fine, again' repeats the guid of item 1: kept the first" in text
    assert "item 5 'Local file' has an enclosure that is not an http(s) URL" in text
    assert "item 6 has no guid, enclosure, link or title: skipped" in text
    assert sum("item 6" in w for w in feed.warnings) == 1  # one message per problem item


def test_html_page_is_an_error_not_an_empty_show():
    feed = parse("html_page.html", **{"Content-Type": "text/html; charset=utf-8"})
    assert feed.error == "is an HTML page (text/html), not a podcast feed"
    assert feed.episodes == [] and feed.show.title == ""
    # Recognised by its content even when served as XML.
    again = parse("html_page.html", **{"Content-Type": "application/rss+xml"})
    assert "HTML page" in again.error


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "the response is empty"),
        (b'{"items": []}', "is not XML"),
        (b"\x00\x01binary", "is not XML"),
        (b'<?xml version="1.0"?><urlset><url/></urlset>', "is not an RSS or Atom feed"),
    ],
)
def test_not_a_feed(body, message):
    feed = parse_feed(body, URL, {"Content-Type": "application/xml"})
    assert feed.error.startswith(message)
    assert feed.episodes == []


def test_truncated_feed_keeps_what_parsed_and_marks_the_cut_item_uncertain():
    content = (FEEDS / "itunes.xml").read_bytes()
    cut = content[: content.index(b"<itunes:duration>45:30")]
    feed = parse_feed(cut, URL)
    assert feed.error.startswith("is truncated")
    assert [e.guid for e in feed.episodes] == ["hm-0003", "hm-0002"]
    # The first item closed before the cut; the second may be missing fields.
    assert feed.uncertain == {"hm-0002"}
    assert len(feed.episodes[0].transcripts) == 3
    assert feed.show.title == "Hiring Matters"


def test_malformed_feed_is_read_leniently_and_reported():
    content = (FEEDS / "itunes.xml").read_bytes()
    broken = content.replace(b"<title>Trailer</title>", b"<title>Trailer & teaser</title>")
    feed = parse_feed(broken, URL)
    assert feed.error.startswith("is not well-formed XML (not well-formed (invalid token)")
    assert [e.title for e in feed.episodes][2] == "Trailer & teaser"
    assert feed.uncertain == {"hm-0001"}


def test_entities_and_dtds_are_not_expanded():
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>T &x;</title><item><title>a</title><guid>g</guid>'
        b'<enclosure url="https://e.example.com/a.mp3" type="audio/mpeg"/></item></channel></rss>'
    )
    feed = parse_feed(xxe, URL)
    assert "root:" not in feed.show.title
    assert [e.guid for e in feed.episodes] == ["g"]
    assert any("DTD" in w for w in feed.warnings)


def test_bytes_are_never_taken_for_a_path_or_url():
    # feedparser opens a bare bytes/str argument as a file name or URL if it can.
    feed = parse_feed(b"/etc/hostname", URL)
    assert feed.error is not None and feed.episodes == []


def test_paging_link_is_resolved_against_the_feed_url():
    feed = parse_feed(synthetic_feed(2, next_url="?page=2"), "https://example.com/feed.xml")
    assert feed.next_url == "https://example.com/feed.xml?page=2"
    not_http = parse_feed(synthetic_feed(2, next_url="file:///etc/passwd"), URL)
    assert not_http.next_url is None


def test_new_feed_url_is_read():
    content = (
        (FEEDS / "itunes.xml")
        .read_bytes()
        .replace(
            b"<language>",
            b"<itunes:new-feed-url>https://new.example.com/feed</itunes:new-feed-url><language>",
        )
    )
    assert parse_feed(content, URL).show.new_feed_url == "https://new.example.com/feed"


@pytest.mark.slow
def test_huge_feed_of_5000_items():
    feed = parse_feed(synthetic_feed(5000), URL)
    assert feed.error is None and feed.warnings == []
    assert len(feed.episodes) == 5000
    assert len({e.guid for e in feed.episodes}) == 5000
    last = feed.episodes[-1]
    assert last.guid == "synthetic-0" and len(last.transcripts) == 2
    assert last.people[0].name == "Guest 0" and last.duration == 1800


def test_html_description_without_tags_is_unescaped_once():
    body = (
        (FEEDS / "itunes.xml")
        .read_bytes()
        .replace(b"<description>Plain text notes.", b"<description>Tom &amp;amp; Jerry &amp;lt;3")
    )
    second = parse_feed(body, URL).episodes[1]
    assert second.description_text.startswith("Tom & Jerry <3")
    assert second.description_html.startswith("<p>Tom &amp; Jerry &lt;3")
