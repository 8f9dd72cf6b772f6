"""Feeds as they are in the wild: one small feed per quirk, and what the archive must store.

Each feed is served by the real local HTTP server, fetched with `fetch_feeds` into the test's
archive database, and checked row by row: the show, its episodes in document order, and any
warning or repair the fetch must report. Every feed here was written for this file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner

from ingest import store
from ingest.cli import cli
from ingest.datasette.serve import make_datasette
from ingest.feeds.step import fetch_feeds
from ingest.net import make_client

ITUNES = 'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
MEDIA = 'xmlns:media="http://search.yahoo.com/mrss/"'
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
AUDIO = "https://cdn.example.com/audio"  # where most items' audio lives
SERVER = "{server}"  # replaced by the local server's http://127.0.0.1:PORT


def rss(items: str, channel: str = "<title>Quirks</title>", ns: str = ITUNES) -> bytes:
    """An RSS 2.0 document: the channel's own elements, then the items."""
    rss_open = f'<rss version="2.0" {ns}>'
    return f"{DECLARATION}{rss_open}\n<channel>\n{channel}\n{items}\n</channel>\n</rss>\n".encode()


def item(body: str, guid: str = "q-1", audio: str = "ep.mp3") -> str:
    """An item with a guid and an audio enclosure unless the body brings its own."""
    parts = [f'<guid isPermaLink="false">{guid}</guid>'] if guid else []
    if audio and "enclosure" not in body and "media:" not in body:
        parts.append(f'<enclosure url="{AUDIO}/{audio}" length="1000" type="audio/mpeg"/>')
    return "<item>" + "".join(parts) + body + "</item>"


@dataclass
class Quirk:
    id: str
    feed: bytes
    episodes: list[dict]  # stored episode columns, in document order (fields that matter)
    show: dict = field(default_factory=dict)  # stored show columns
    path: str = "/feed.xml"
    warnings: list[str] = field(default_factory=list)  # text each some warning must contain
    repaired: str | None = None  # text the fetch line's "(repaired: ...)" must contain
    sql: dict[str, list] = field(default_factory=dict)  # query -> rows it must return


def dated(date_text: str, iso: str | None) -> Quirk:
    """A feed whose one item is published at `date_text`; `iso` is what must be stored."""
    return Quirk(
        id=f"date {date_text!r}",
        feed=rss(item(f"<title>Dated</title><pubDate>{date_text}</pubDate>")),
        episodes=[{"title": "Dated", "published": iso}],
    )


def timed(duration_text: str, seconds: int | None) -> Quirk:
    """A feed whose one item lasts `duration_text`; `seconds` is what must be stored."""
    return Quirk(
        id=f"duration {duration_text!r}",
        feed=rss(item(f"<title>Timed</title><itunes:duration>{duration_text}</itunes:duration>")),
        episodes=[{"title": "Timed", "duration": seconds}],
    )


def numbered(episode_text: str, number: int | None) -> Quirk:
    return Quirk(
        id=f"itunes:episode {episode_text!r}",
        feed=rss(item(f"<title>Numbered</title><itunes:episode>{episode_text}</itunes:episode>")),
        episodes=[{"title": "Numbered", "episode_number": number}],
    )


UNDECLARED_FEED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">\n<channel>\n'
    "<title>No Namespaces Radio</title>\n<itunes:author>Pat Example</itunes:author>\n"
    "<itunes:explicit>no</itunes:explicit>\n"
    '<itunes:category text="Business"><itunes:category text="Careers"/></itunes:category>\n'
    "<item><title>First</title><guid>nn-1</guid>"
    f'<enclosure url="{AUDIO}/nn1.mp3" length="100" type="audio/mpeg"/>'
    "<itunes:duration>10:00</itunes:duration><itunes:episode>1</itunes:episode></item>\n"
    "<item><title>Second</title><guid>nn-2</guid>"
    f'<enclosure url="{AUDIO}/nn2.mp3" length="100" type="audio/mpeg"/>'
    "<itunes:duration>1:00:00</itunes:duration><itunes:season>2</itunes:season></item>\n"
    "</channel>\n</rss>\n"
).encode()

QUIRKS = [
    # --- documents a strict parser refuses although every item is there ---------------------
    Quirk(
        id="undeclared itunes prefix",
        feed=UNDECLARED_FEED,
        show={
            "title": "No Namespaces Radio",
            "author": "Pat Example",
            "explicit": 0,
            "categories": '["Business", "Careers"]',
            "fetch_error": None,
        },
        episodes=[
            {"guid": "nn-1", "duration": 600, "episode_number": 1, "in_feed": 1},
            {"guid": "nn-2", "duration": 3600, "season": 2, "in_feed": 1},
        ],
        warnings=["uses without declaring them: itunes"],
        repaired="declared the namespace prefixes it uses without declaring them: itunes",
    ),
    Quirk(
        id="undeclared podcast prefix",
        feed=rss(
            item(
                "<title>Transcribed</title>"
                '<podcast:transcript url="https://pub.example.com/1.vtt" type="text/vtt"/>'
                '<podcast:transcript url="https://pub.example.com/1.srt" type="application/srt"/>'
                '<podcast:person role="guest">Sam Guest</podcast:person>'
            ),
            channel="<title>P2</title><podcast:guid>abc-123</podcast:guid>",
        ),
        show={"title": "P2", "podcast_guid": "abc-123"},
        episodes=[{"title": "Transcribed"}],
        repaired="podcast",
        sql={
            "SELECT url FROM episode_transcript_links ORDER BY url": [
                ("https://pub.example.com/1.srt",),
                ("https://pub.example.com/1.vtt",),
            ],
            "SELECT name FROM people": [("Sam Guest",)],
        },
    ),
    Quirk(
        id="undeclared content, googleplay, spotify and media prefixes",
        feed=rss(
            item(
                "<title>Many</title><description>short</description>"
                "<content:encoded><![CDATA[<p>Long <b>notes</b></p>]]></content:encoded>"
                "<googleplay:explicit>no</googleplay:explicit>"
                f'<media:content url="{AUDIO}/many.mp3" type="audio/mpeg" fileSize="5"/>',
                audio="",
            ),
            channel="<title>Many</title><spotify:countryOfOrigin>se</spotify:countryOfOrigin>",
            ns="",
        ),
        episodes=[
            {
                "description_html": "<p>Long <b>notes</b></p>",
                "enclosure_url": f"{AUDIO}/many.mp3",
                "enclosure_length": 5,
            }
        ],
        repaired="content, googleplay, media, spotify",
    ),
    Quirk(
        id="undeclared unknown prefix",
        feed=rss(item("<title>Odd</title><acme:rating>5</acme:rating>")),
        episodes=[{"title": "Odd", "enclosure_url": f"{AUDIO}/ep.mp3"}],
        repaired="acme (acme unknown: ignored)",
    ),
    Quirk(
        id="undeclared prefix on an attribute",
        feed=rss(item('<title dc:lang="en">Attributed</title>')),
        episodes=[{"title": "Attributed"}],
        repaired="dc",
    ),
    Quirk(
        id="undeclared prefix written iTunes",
        feed=rss(item("<title>Cased</title><iTunes:duration>90</iTunes:duration>"), ns=""),
        episodes=[{"title": "Cased", "duration": 90}],
        repaired="iTunes",
    ),
    Quirk(
        id="prefix declared on one item, used in the next",
        feed=rss(
            item(
                '<title>One</title><psc:chapters xmlns:psc="http://podlove.org/simple-chapters"/>',
                guid="a",
            )
            + item("<title>Two</title><psc:chapters/>", guid="b")
        ),
        episodes=[{"guid": "a"}, {"guid": "b"}],
        repaired="psc",
    ),
    Quirk(
        id="undeclared prefix, and Word's o:p inside CDATA notes",
        feed=rss(
            item(
                "<title>Pasted</title><itunes:duration>5</itunes:duration>"
                "<description><![CDATA[<p>Notes<o:p></o:p></p>]]></description>"
            ),
            ns="",
        ),
        episodes=[{"duration": 5, "description_text": "Notes"}],
        repaired="without declaring them: itunes)",  # o is in text, not markup: not declared
    ),
    Quirk(
        id="blank lines before the XML declaration",
        feed=b"\n\n  " + rss(item("<title>Late start</title>")),
        episodes=[{"title": "Late start", "in_feed": 1}],
        repaired="removed 4 bytes before the XML declaration",
    ),
    Quirk(
        id="UTF-8 BOM",
        feed=b"\xef\xbb\xbf" + rss(item("<title>Caf\u00e9 talk</title>")),
        episodes=[{"title": "Caf\u00e9 talk"}],
    ),
    Quirk(
        id="UTF-8 BOM then a blank line",
        feed=b"\xef\xbb\xbf\r\n" + rss(item("<title>Bom</title>")),
        episodes=[{"title": "Bom"}],
        repaired="removed 2 bytes",
    ),
    Quirk(
        id="UTF-16 with BOM",
        feed=rss(item("<title>\u00dcber hiring</title>"))
        .decode()
        .replace("UTF-8", "UTF-16")
        .encode("utf-16"),
        episodes=[{"title": "\u00dcber hiring"}],
    ),
    Quirk(
        id="a Windows-1252 byte in a UTF-8 feed",
        feed=rss(item("<title>Na\u00efve \u2013 caf\u00e9 STANDIN</title>")).replace(
            b"STANDIN", b"\x93quoted\x94"
        ),
        episodes=[{"title": "Na\u00efve \u2013 caf\u00e9 \u201cquoted\u201d"}],
        repaired="as Windows-1252",
    ),
    Quirk(
        id="ISO-8859-1 declared",
        feed=rss(item("<title>Se\u00f1or</title>"))
        .decode()
        .replace("UTF-8", "ISO-8859-1")
        .encode("latin-1"),
        episodes=[{"title": "Se\u00f1or"}],
    ),
    # --- enclosures: Media RSS, relative URLs, several files ----------------------------------
    Quirk(
        id="media:content as the only enclosure",
        feed=rss(
            item(
                f'<title>Media</title><media:content url="{AUDIO}/m.m4a" type="audio/x-m4a"'
                ' fileSize="4321" medium="audio"/>',
            ),
            ns=MEDIA,
        ),
        episodes=[
            {
                "enclosure_url": f"{AUDIO}/m.m4a",
                "enclosure_type": "audio/x-m4a",
                "enclosure_length": 4321,
                "other_enclosures": "[]",
            }
        ],
    ),
    Quirk(
        id="media:group of a video and an audio rendition",
        feed=rss(
            item(
                "<title>Group</title><media:group>"
                f'<media:content url="{AUDIO}/g.mp4" type="video/mp4" isDefault="true"/>'
                f'<media:content url="{AUDIO}/g.mp3" type="audio/mpeg" fileSize="7"/>'
                "</media:group>"
            ),
            ns=MEDIA,
        ),
        episodes=[
            {
                "enclosure_url": f"{AUDIO}/g.mp3",
                "other_enclosures": json.dumps(
                    [{"url": f"{AUDIO}/g.mp4", "type": "video/mp4", "length": None}]
                ),
            }
        ],
    ),
    Quirk(
        id="media:group of two audio renditions, one default",
        feed=rss(
            item(
                "<title>Default</title><media:group>"
                f'<media:content url="{AUDIO}/low.mp3" type="audio/mpeg"/>'
                f'<media:content url="{AUDIO}/high.mp3" type="audio/mpeg" isDefault="true"/>'
                "</media:group>"
            ),
            ns=MEDIA,
        ),
        episodes=[{"enclosure_url": f"{AUDIO}/high.mp3"}],
    ),
    Quirk(
        id="media:content without a type, told by its extension",
        feed=rss(item(f'<title>Typeless</title><media:content url="{AUDIO}/t.ogg"/>'), ns=MEDIA),
        episodes=[{"enclosure_url": f"{AUDIO}/t.ogg", "enclosure_type": "audio/ogg"}],
    ),
    Quirk(
        id="relative enclosure URL",
        feed=rss(item('<title>Relative</title><enclosure url="media/ep1.mp3" type="audio/mpeg"/>')),
        path="/shows/feed.xml",
        episodes=[{"enclosure_url": f"{SERVER}/shows/media/ep1.mp3"}],
    ),
    Quirk(
        id="root-relative enclosure URL",
        feed=rss(item('<title>Rooted</title><enclosure url="/audio/ep.mp3" type="audio/mpeg"/>')),
        path="/shows/feed.xml",
        episodes=[{"enclosure_url": f"{SERVER}/audio/ep.mp3"}],
    ),
    Quirk(
        id="scheme-relative enclosure URL",
        feed=rss(item('<title>Schemeless</title><enclosure url="//cdn.example.com/s.mp3"/>')),
        episodes=[
            {"enclosure_url": "http://cdn.example.com/s.mp3", "enclosure_type": "audio/mpeg"}
        ],
    ),
    Quirk(
        id="xml:base on the channel",
        feed=rss(item('<title>Based</title><enclosure url="ep.mp3" type="audio/mpeg"/>')).replace(
            b"<channel>", b'<channel xml:base="https://b.example.com/pod/">'
        ),
        episodes=[{"enclosure_url": "https://b.example.com/pod/ep.mp3"}],
    ),
    Quirk(
        id="xml:base on the item, relative to the channel's",
        feed=rss(
            '<item xml:base="season2/"><guid>b2</guid><title>Nested</title>'
            '<enclosure url="ep.mp3" type="audio/mpeg"/></item>'
        ).replace(b"<channel>", b'<channel xml:base="https://b.example.com/pod/">'),
        episodes=[{"enclosure_url": "https://b.example.com/pod/season2/ep.mp3"}],
    ),
    Quirk(
        id="xml:base that leads off the web",
        feed=rss(
            '<item xml:base="file:///etc/"><guid>fb</guid><title>Escape</title>'
            '<enclosure url="passwd" type="audio/mpeg"/></item>'
        ),
        episodes=[{"title": "Escape", "enclosure_url": None}],
        warnings=[
            "item 1 'Escape' has an enclosure that is not an http(s) URL ('file:///etc/passwd')"
        ],
    ),
    Quirk(
        id="javascript: enclosure",
        feed=rss(item("<title>Script</title><enclosure url=\"javascript:alert('x')\"/>")),
        episodes=[{"title": "Script", "enclosure_url": None}],
        warnings=["item 1 'Script' has an enclosure that is not an http(s) URL"],
    ),
    Quirk(
        id="spaces around and inside the enclosure URL",
        feed=rss(
            item(
                f'<title>Spaced</title><enclosure url="  {AUDIO}/my episode.mp3 \n"'
                ' type=" audio/mpeg " length=" 12 "/>'
            )
        ),
        episodes=[
            {
                "enclosure_url": f"{AUDIO}/my%20episode.mp3",
                "enclosure_type": "audio/mpeg",
                "enclosure_length": 12,
            }
        ],
    ),
    Quirk(
        id="enclosure type in capitals",
        feed=rss(item(f'<title>Loud</title><enclosure url="{AUDIO}/l.mp3" type="Audio/MPEG"/>')),
        episodes=[{"enclosure_type": "audio/mpeg"}],
    ),
    Quirk(
        id="an image enclosure before the audio",
        feed=rss(
            item(
                f'<title>Pictured</title><enclosure url="{AUDIO}/cover.jpg" type="image/jpeg"/>'
                f'<enclosure url="{AUDIO}/p.mp3" type="audio/mpeg" length="9"/>'
            )
        ),
        episodes=[
            {
                "enclosure_url": f"{AUDIO}/p.mp3",
                "other_enclosures": json.dumps(
                    [{"url": f"{AUDIO}/cover.jpg", "type": "image/jpeg", "length": None}]
                ),
            }
        ],
    ),
    Quirk(
        id="the same file as enclosure and as media:content",
        feed=rss(
            item(
                f'<title>Twice</title><enclosure url="{AUDIO}/t.mp3" type="audio/mpeg"/>'
                f'<media:content url="{AUDIO}/t.mp3" fileSize="77"/>'
            ),
            ns=f"{ITUNES} {MEDIA}",
        ),
        episodes=[
            {
                "enclosure_url": f"{AUDIO}/t.mp3",
                "enclosure_length": 77,
                "other_enclosures": "[]",
            }
        ],
    ),
    Quirk(
        id="enclosure length garbage and huge",
        feed=rss(
            item(
                f'<title>Long</title><enclosure url="{AUDIO}/a.mp3" type="audio/mpeg"'
                ' length="99999999999999999999999"/>',
                guid="a",
            )
            + item(
                f'<title>Short</title><enclosure url="{AUDIO}/b.mp3" type="audio/mpeg"'
                ' length="unknown"/>',
                guid="b",
            )
        ),
        episodes=[{"enclosure_length": None}, {"enclosure_length": None}],
    ),
    Quirk(
        id="Atom enclosure link, relative to xml:base",
        feed=(
            b'<?xml version="1.0" encoding="utf-8"?>\n'
            b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://atom.example.com/a/">'
            b"<title>Atom Quirks</title><id>urn:x:aq</id><updated>2024-03-05T08:00:00Z</updated>"
            b"<entry><id>urn:x:aq:1</id><title>Atomic</title>"
            b"<updated>2024-03-05T08:00:00Z</updated>"
            b'<link rel="enclosure" href="ep.mp3" type="audio/mpeg" length="3"/></entry></feed>'
        ),
        show={"title": "Atom Quirks"},
        episodes=[
            {
                "guid": "urn:x:aq:1",
                "enclosure_url": "https://atom.example.com/a/ep.mp3",
                "enclosure_length": 3,
            }
        ],
    ),
    # --- titles, and what they are made of when the feed gives none ---------------------------
    Quirk(
        id="show without a title, named by its feed URL",
        feed=rss(item("<title>Episode</title>"), channel="<link>https://x.example.com/</link>"),
        path="/shows/hiring-matters.xml",
        show={"id": "hiring-matters", "title": "hiring-matters", "title_source": "feed URL name"},
        episodes=[{"title": "Episode", "title_source": "feed"}],
    ),
    Quirk(
        id="show without a title at a generic feed URL, named by its host",
        feed=rss(item("<title>Episode</title>"), channel="<title>  </title>"),
        path="/podcast/rss",
        show={"title": "127.0.0.1", "title_source": "feed URL host"},
        episodes=[{"title": "Episode"}],
    ),
    Quirk(
        id="episode without a title, named by its enclosure",
        feed=rss(item("<pubDate>Tue, 05 Mar 2024 08:00:00 GMT</pubDate>", audio="hm-ep-12.mp3")),
        episodes=[{"title": "hm-ep-12", "title_source": "enclosure file name"}],
        warnings=["item 1 (guid 'q-1') has no title: titled 'hm-ep-12' from its enclosure"],
    ),
    Quirk(
        id="episode without a title and a hashed file name, named by its date",
        feed=rss(
            item(
                "<title></title><pubDate>Tue, 05 Mar 2024 08:00:00 GMT</pubDate>",
                audio="3f2a9c1e-77aa-4b4e-9d1c-0123456789ab.mp3",
            )
        ),
        episodes=[{"title": "2024-03-05", "title_source": "published date"}],
    ),
    Quirk(
        id="episode without title or enclosure, named by its date",
        feed=rss(item("<pubDate>Tue, 05 Mar 2024 08:00:00 GMT</pubDate>", audio="")),
        episodes=[{"title": "2024-03-05", "title_source": "published date", "enclosure_url": None}],
        warnings=["item 1 (guid 'q-1') has no enclosure"],
    ),
    Quirk(
        id="episode with nothing to name it by",
        feed=rss(item("<description>Just words.</description>", audio="")),
        episodes=[{"title": "", "title_source": "none"}],
    ),
    Quirk(
        id="episode titled only by itunes:title",
        feed=rss(item("<itunes:title>Apple's title</itunes:title>")),
        episodes=[{"title": "Apple's title", "title_source": "feed"}],
    ),
    Quirk(
        id="title escaped twice",
        feed=rss(item("<title>Tom &amp;amp; Jerry &amp;#8217;s</title>")),
        episodes=[{"title": "Tom & Jerry \u2019s"}],
    ),
    Quirk(
        id="entity-encoded HTML in a title",
        feed=rss(item("<title>&lt;b&gt;Bold&lt;/b&gt; hiring &lt;3</title>")),
        episodes=[{"title": "Bold hiring <3"}],
    ),
    Quirk(
        id="CDATA title with markup",
        feed=rss(item("<title><![CDATA[Pay &amp; <em>transparency</em>]]></title>")),
        episodes=[{"title": "Pay & transparency"}],
    ),
    Quirk(
        id="CDATA and spaces around the guid",
        feed=rss(item("<title>Guarded</title><guid><![CDATA[  cd-42  ]]></guid>", guid="")),
        episodes=[{"guid": "cd-42"}],
    ),
    Quirk(
        id="CDATA in pubDate, duration and link",
        feed=rss(
            item(
                "<title>Wrapped</title>"
                "<pubDate><![CDATA[Tue, 05 Mar 2024 08:00:00 GMT]]></pubDate>"
                "<itunes:duration><![CDATA[ 01:00 ]]></itunes:duration>"
                "<link><![CDATA[ https://x.example.com/ep ]]></link>"
            )
        ),
        episodes=[
            {
                "published": "2024-03-05T08:00:00+00:00",
                "duration": 60,
                "link": "https://x.example.com/ep",
            }
        ],
    ),
    Quirk(
        id="entity-encoded HTML description",
        feed=rss(
            item(
                "<title>Noted</title><description>&lt;p&gt;Hi &amp;amp; bye&lt;/p&gt;"
                "&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href=&quot;javascript:x()&quot;&gt;"
                "link&lt;/a&gt;</description>"
            )
        ),
        episodes=[
            {
                # The script goes with its content; the javascript: link loses its href.
                "description_html": '<p>Hi &amp; bye</p><a rel="nofollow noopener noreferrer">'
                "link</a>",
                "description_text": "Hi & bye\nlink",
            }
        ],
    ),
    # --- dates, in the forms feeds write them --------------------------------------------------
    dated("Tue, 05 Mar 2024 08:00:00 +0000", "2024-03-05T08:00:00+00:00"),
    dated("Tue, 5 Mar 2024 08:00 EST", "2024-03-05T13:00:00+00:00"),
    dated("05 Mar 24 08:00:00 GMT", "2024-03-05T08:00:00+00:00"),
    dated("Tuesday, 05 March 2024 08:00:00 +0100", "2024-03-05T07:00:00+00:00"),
    dated("Mon, 05 Mar 2024 08:00:00 +0000", "2024-03-05T08:00:00+00:00"),  # wrong weekday
    dated("Tue,05 Mar 2024 08:00:00 +0000", "2024-03-05T08:00:00+00:00"),
    dated("2024-03-05T08:00:00+02:00", "2024-03-05T06:00:00+00:00"),
    dated("2024-03-05T08:00:00.250Z", "2024-03-05T08:00:00+00:00"),
    dated("2024-03-05", "2024-03-05T00:00:00+00:00"),
    dated("20240305T080000Z", "2024-03-05T08:00:00+00:00"),
    dated("2024/03/05 08:00", "2024-03-05T08:00:00+00:00"),
    dated("March 5, 2024", "2024-03-05T00:00:00+00:00"),
    dated("1709625600", "2024-03-05T08:00:00+00:00"),
    dated("Tue, 31 Feb 2024 08:00:00 +0000", None),
    dated("03/05/2024", None),  # March or May: not guessed
    dated("sometime soon", None),
    # --- durations, numbers and types ----------------------------------------------------------
    timed("1:02:03", 3723),
    timed("62:03", 3723),
    timed("3723", 3723),
    timed("3723.6", 3724),
    timed("PT1H2M3S", 3723),
    timed("1h 2m", 3720),
    timed("about an hour", None),
    timed("1:2:3:4", None),
    timed("-30", None),
    numbered("12", 12),
    numbered("Episode 12", 12),
    numbered("twelve", None),
    numbered("12.5", None),
    numbered("99999999999999999999", None),
    Quirk(
        id="itunes:episodeType garbage and mixed case",
        feed=rss(
            item("<title>A</title><itunes:episodeType>Trailer</itunes:episodeType>", guid="a")
            + item("<title>B</title><itunes:episodeType>teaser!</itunes:episodeType>", guid="b")
        ),
        episodes=[{"episode_type": "trailer"}, {"episode_type": None}],
    ),
    Quirk(
        id="itunes:type garbage on the channel",
        feed=rss(
            item("<title>Typed</title>"),
            channel="<title>Typed Show</title><itunes:type>sometimes</itunes:type>",
        ),
        show={"title": "Typed Show", "title_source": "feed"},
        episodes=[{"title": "Typed"}],
    ),
    Quirk(
        id="itunes:explicit yes, clean and garbage",
        feed=rss(
            item("<title>A</title><itunes:explicit>Yes</itunes:explicit>", guid="a")
            + item("<title>B</title><itunes:explicit>clean</itunes:explicit>", guid="b")
            + item("<title>C</title><itunes:explicit>maybe</itunes:explicit>", guid="c")
        ),
        episodes=[{"explicit": 1}, {"explicit": 0}, {"explicit": None}],
    ),
]


def _expected(value, server: str):
    if isinstance(value, str):
        return value.replace(SERVER, server)
    return value


@pytest.mark.parametrize("quirk", QUIRKS, ids=lambda quirk: quirk.id)
def test_feed_quirk_is_stored_as_expected(quirk: Quirk, local_server, db):
    local_server.serve_bytes(quirk.path, quirk.feed, "application/rss+xml")
    url = local_server.url(quirk.path)
    server = local_server.url("").rstrip("/")
    with make_client() as client:
        [result] = fetch_feeds(db, client, [url])

    assert result.ok, result.error
    show = db["shows"].get(result.show_id)
    assert show["title"], "a stored show always has a title"
    assert {k: show[k] for k in quirk.show} == {
        k: _expected(v, server) for k, v in quirk.show.items()
    }
    rows = list(db.query("SELECT * FROM episodes ORDER BY rowid"))
    assert len(rows) == len(quirk.episodes), [r["guid"] for r in rows]
    for row, expected in zip(rows, quirk.episodes, strict=True):
        assert {k: row[k] for k in expected} == {
            k: _expected(v, server) for k, v in expected.items()
        }
    for text in quirk.warnings:
        assert any(text in warning for warning in result.warnings), result.warnings
    if quirk.repaired:
        assert "(repaired: " in result.counts() and quirk.repaired in result.counts()
        assert any("is not well-formed XML as served" in w for w in result.warnings)
    else:
        assert "repaired" not in result.counts()
    for query, expected_rows in quirk.sql.items():
        assert [tuple(r) for r in db.execute(query).fetchall()] == expected_rows


def test_there_are_at_least_forty_quirks():
    assert len(QUIRKS) >= 40
    assert len({quirk.id for quirk in QUIRKS}) == len(QUIRKS)


# --- beyond one feed: refreshes, the truncation guard, the command's output, Datasette -------


def _fetch(db, url: str):
    with make_client() as client:
        [result] = fetch_feeds(db, client, [url])
    return result


def _titles(db) -> dict[str, tuple[str, str]]:
    return {r["guid"]: (r["title"], r["title_source"]) for r in db["episodes"].rows}


def test_a_truncated_feed_with_undeclared_prefixes_is_repaired_but_still_guarded(local_server, db):
    url = local_server.url("/feed.xml")
    local_server.serve_bytes("/feed.xml", UNDECLARED_FEED)
    assert _fetch(db, url).added
    renamed = UNDECLARED_FEED.replace(b">First<", b">First, renamed<").replace(
        b">Second<", b">Second, renamed<"
    )
    # Cut inside the second item: the prefix repair applies, the document still ends early.
    local_server.serve_bytes("/feed.xml", renamed[: renamed.index(b"<itunes:season>")])
    result = _fetch(db, url)
    assert not result.ok and "is truncated" in result.error
    assert "declared the namespace prefixes" in result.counts()
    assert _titles(db) == {
        "nn-1": ("First, renamed", "feed"),  # closed before the cut: updated
        "nn-2": ("Second", "feed"),  # may be cut short: never overwritten
    }
    assert {r["in_feed"] for r in db["episodes"].rows} == {1}  # nothing dropped


def test_fetch_says_which_repair_it_applied(tmp_path, local_server):
    local_server.serve_bytes("/feed.xml", UNDECLARED_FEED, "application/rss+xml")
    url = local_server.url("/feed.xml")
    result = CliRunner().invoke(cli, ["--archive", str(tmp_path / "a"), "fetch", url])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "no-namespaces-radio: 2 new, 0 changed, 0 unchanged (repaired: declared the namespace "
        "prefixes it uses without declaring them: itunes)\n"
    )
    assert f"warning: {url}: is not well-formed XML as served; declared" in result.stderr
    assert "Traceback" not in result.output


def test_one_bad_episode_never_stops_the_others(local_server, db):
    feed = rss(
        item("<title>Good</title>", guid="good")
        + item('<title>Bad</title><enclosure url="ftp://x.example.com/a.mp3"/>', guid="bad")
        + item("<title>Also good</title><itunes:duration>soon</itunes:duration>", guid="also")
    )
    local_server.serve_bytes("/feed.xml", feed)
    result = _fetch(db, local_server.url("/feed.xml"))
    assert result.ok and result.added == 3
    assert result.warnings == [
        f"{local_server.url('/feed.xml')}: item 2 'Bad' has an enclosure that is not an http(s) "
        "URL ('ftp://x.example.com/a.mp3')"
    ]
    audio = {r["guid"]: r["enclosure_url"] for r in db["episodes"].rows}
    assert audio == {"good": f"{AUDIO}/ep.mp3", "bad": None, "also": f"{AUDIO}/ep.mp3"}


def test_a_fallback_title_never_replaces_the_feeds_own(local_server, db):
    url = local_server.url("/feed.xml")
    local_server.serve_bytes("/feed.xml", rss(item("<title>Real title</title>")))
    _fetch(db, url)
    local_server.serve_bytes("/feed.xml", rss(item("", audio="renamed-file.mp3")))
    result = _fetch(db, url)
    assert result.ok and result.changed == 1  # the enclosure changed, not the title
    assert _titles(db) == {"q-1": ("Real title", "feed")}
    assert json.loads(db["episode_changes"].get(1)["changes"]).keys() == {"enclosure_url"}


def test_a_fallback_title_gives_way_to_the_feeds_own(local_server, db):
    url = local_server.url("/shows/hiring-matters.xml")
    local_server.serve_bytes("/shows/hiring-matters.xml", rss(item(""), channel=""))
    first = _fetch(db, url)
    assert _titles(db) == {"q-1": ("ep", "enclosure file name")}
    local_server.serve_bytes(
        "/shows/hiring-matters.xml",
        rss(item("<title>Now titled</title>"), channel="<title>Hiring Matters</title>"),
    )
    assert _fetch(db, url).changed == 1
    assert _titles(db) == {"q-1": ("Now titled", "feed")}
    show = db["shows"].get(first.show_id)
    assert (show["id"], show["title"], show["title_source"]) == (
        "hiring-matters",
        "Hiring Matters",
        "feed",
    )


def test_migration_marks_stored_empty_titles(monkeypatch):
    from ingest.store import migrations

    before = migrations.MIGRATIONS[: migrations.MIGRATIONS.index(migrations.m060_title_source)]
    monkeypatch.setattr(migrations, "MIGRATIONS", before)
    db = store.open_db()
    stamp = "2024-01-01T00:00:00+00:00"
    db["shows"].insert(
        {"id": "s", "feed_url": "u", "title": "", "added_at": stamp, "updated_at": stamp}
    )
    for guid, title in (("a", ""), ("b", "Titled")):
        db["episodes"].insert(
            {"id": guid, "show_id": "s", "guid": guid, "slug": guid, "title": title,
             "first_seen": stamp, "updated_at": stamp}
        )  # fmt: skip
    monkeypatch.undo()
    assert migrations.migrate(db) == ["m060_title_source"] + [
        m.__name__ for m in migrations.MIGRATIONS[len(before) + 1 :]
    ]
    assert db["shows"].get("s")["title_source"] == "none"
    assert {r["guid"]: r["title_source"] for r in db["episodes"].rows} == {"a": "none", "b": "feed"}
    assert db["episodes"].get("b")["other_enclosures"] == "[]"


def test_title_source_is_a_facet_in_datasette(archive, local_server):
    import asyncio

    db = archive.open_db()
    feed = rss(item("<title>Named</title>", guid="a") + item("", guid="b", audio="untitled.mp3"))
    local_server.serve_bytes("/feed.xml", feed)
    _fetch(db, local_server.url("/feed.xml"))
    db.close()
    ds = make_datasette(archive, base_url="/")
    response = asyncio.run(ds.client.get("/archive/episodes.json"))
    facets = response.json()["facet_results"]
    counts = {f["value"]: f["count"] for f in facets["title_source"]["results"]}
    assert counts == {"feed": 1, "enclosure file name": 1}
    page = asyncio.run(ds.client.get("/archive/shows")).text
    assert "feed URL name or feed URL host" in page  # the column is described
