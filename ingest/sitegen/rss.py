"""The archive's RSS feeds, sitemap.xml and robots.txt.

`feed.xml` (every show) and `shows/<id>/feed.xml` re-publish the episodes with what the archive
made of them, in the Podcasting 2.0 namespace (podcastindex.org/namespace/1.0):
`podcast:guid`, `podcast:person`, `podcast:transcript` (every format), `podcast:chapters` and
`podcast:soundbite`. `topics/<slug>/feed.xml` and `people/<slug>/feed.xml` have one item per
topic moment (the newest, see `sitegen.step.MOMENT_FEED_ITEMS`), linking to the episode at
that second.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from ingest.sitegen.render import sanitize_notes

if TYPE_CHECKING:
    from ingest.sitegen.data import SiteData
    from ingest.sitegen.urls import BaseUrl

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
# RFC 5005 (Feed Paging and Archiving), section 4: a feed's older items in archive documents.
HISTORY_NS = "http://purl.org/syndication/history/1.0"
# Episodes per page of a re-published feed: `feed.xml` holds the newest FEED_PAGE_ITEMS to
# 2 * FEED_PAGE_ITEMS - 1 and links to the rest (one feed of 10,000 items was made again for
# every new episode).
FEED_PAGE_ITEMS = 100
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
# sitemaps.org: a sitemap file holds at most 50,000 URLs; more go in files a sitemap index lists.
SITEMAP_MAX_URLS = 50_000
# Written as text (the ElementTree serializer took most of a one-episode rebuild's feed time).
XML_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
INDENT = "  "
# podcast:guid: a UUIDv5 of the feed URL without its scheme and trailing slashes, in this
# namespace (the Podcasting 2.0 spec, "guid").
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
# The roles the namespace's taxonomy.json lists for the "cast" group; others are written as guest.
PERSON_ROLES = frozenset({"host", "co-host", "guest", "cast", "narrator"})
# XML 1.0 section 2.2: the characters a document may contain.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def rss(
    data: SiteData,
    base: BaseUrl,
    show: dict | None = None,
    episodes: list[dict] | None = None,
    links: dict[str, str | None] | None = None,
    archived: bool = False,
) -> bytes:
    """RSS 2.0 of the archived episodes (of `show`, else of every show), newest first,
    pointing at the site's own copies: all of them, or the page `episodes` of a paged feed
    with its RFC 5005 `links` (rel -> site path: current, prev-archive, next-archive) and,
    for an archive page, `fh:archive`."""
    single = show or (data.shows[0] if len(data.shows) == 1 else None)
    if episodes is None:
        episodes = [e for e in data.episodes if show is None or e["show_id"] == show["id"]]
    links = {rel: href for rel, href in (links or {}).items() if href}
    current = show["url"] + "feed.xml" if show else "feed.xml"
    self_url = base.full(links.get("self") or current)
    people = {p["person_id"]: p for p in data.people}
    out = [
        XML_DECLARATION,
        f'<rss version="2.0" xmlns:itunes="{ITUNES_NS}" xmlns:podcast="{PODCAST_NS}"'
        f' xmlns:atom="{ATOM_NS}"' + (f' xmlns:fh="{HISTORY_NS}">' if archived else ">"),
        "  <channel>",
        _element(2, "title", single["title"] if single else "Podcast archive"),
        _element(2, "link", base.full(show["url"]) if show else base.absolute),
        _element(2, "description", single["description"] if single else "Archived podcasts."),
        _element(2, "language", single["language"] if single else "en"),
        _empty(2, "atom:link", {"href": self_url, "rel": "self", "type": "application/rss+xml"}),
    ]
    for rel in ("current", "prev-archive", "next-archive"):
        if rel in links:
            attributes = {"href": base.full(links[rel]), "rel": rel, "type": "application/rss+xml"}
            out.append(_empty(2, "atom:link", attributes))
    if archived:
        out.append("    <fh:archive />")
    if single and single["image_url"]:
        out.append(_empty(2, "itunes:image", {"href": single["image_url"]}))
    if single and single["author"]:
        out.append(_element(2, "itunes:author", single["author"]))
    if single:
        out.append(_element(2, "podcast:guid", podcast_guid(single)))
        out += [_person(2, p, people) for p in single["people"]]
    for episode in episodes:
        out += _item(episode, base, people)
    out += ["  </channel>", "</rss>"]
    return "\n".join(out).encode("utf-8")


def podcast_guid(show: dict) -> str:
    """The show's `podcast:guid`: the publisher's, else the one the spec derives from its
    feed URL (so every copy of the show names it the same)."""
    if show.get("podcast_guid"):
        return show["podcast_guid"]
    address = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", show.get("feed_url") or show["id"])
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, address.rstrip("/")))


def _item(episode: dict, base: BaseUrl, people: dict[int, dict]) -> list[str]:
    out = ["    <item>", _element(3, "title", episode["title"])]
    out.append(_element(3, "link", base.full(episode["url"])))
    out.append(_element(3, "guid", episode["guid"], {"isPermaLink": "false"}))
    if episode["rfc822"]:
        out.append(_element(3, "pubDate", episode["rfc822"]))
    out.append(_element(3, "description", str(sanitize_notes(episode["notes_html"]))))
    audio = episode["audio"]
    if audio:
        enclosure = {
            "url": base.full(audio["url"]),
            "length": str(audio["length"] or 0),
            "type": audio["type"],
        }
        out.append(_empty(3, "enclosure", enclosure))
    if episode["duration"]:
        out.append(_element(3, "itunes:duration", str(int(episode["duration"]))))
    if episode["episode_number"]:
        out.append(_element(3, "itunes:episode", str(episode["episode_number"])))
    for transcript in episode["transcript_files"]:
        attributes = {"url": base.full(transcript["url"]), "type": transcript["type"]}
        if transcript["ext"] == "srt":
            attributes["rel"] = "captions"
        if episode["language"]:
            attributes["language"] = episode["language"]
        out.append(_empty(3, "podcast:transcript", attributes))
    chapters = episode.get("chapters_file")
    if chapters:
        attributes = {"url": base.full(chapters["url"]), "type": chapters["type"]}
        out.append(_empty(3, "podcast:chapters", attributes))
    for bite in episode.get("soundbites", []):
        times = {"startTime": f"{bite['start']:.3f}", "duration": f"{bite['duration']:.3f}"}
        out.append(_element(3, "podcast:soundbite", bite["title"], times))
    out += [_person(3, p, people) for p in episode["people"]]
    out.append("    </item>")
    return out


def _person(depth: int, credit: dict, people: dict[int, dict]) -> str:
    """`podcast:person` with its role, and the person's page and picture when the feed gave
    them (http(s) only: `sitegen.data` dropped the rest)."""
    role = credit["role"] if credit["role"] in PERSON_ROLES else "guest"
    attributes = {"role": role, "group": "cast"}
    person = people.get(credit["person_id"], {})
    if person.get("href"):
        attributes["href"] = person["href"]
    if person.get("img"):
        attributes["img"] = person["img"]
    return _element(depth, "podcast:person", credit["name"], attributes)


def moments_feed(
    base: BaseUrl, title: str, page_url: str, moments: list[tuple[dict, dict]]
) -> bytes:
    """RSS 2.0 with one item per (episode, moment), newest episode first: a topic's or a
    person's feed. Each item links to the episode at the moment's second."""
    out = [
        XML_DECLARATION,
        f'<rss version="2.0" xmlns:atom="{ATOM_NS}">',
        "  <channel>",
        _element(2, "title", title),
        _element(2, "link", base.full(page_url)),
        _element(2, "description", f"Every moment of {title} in the archive."),
        _empty(
            2,
            "atom:link",
            {
                "href": base.full(page_url + "feed.xml"),
                "rel": "self",
                "type": "application/rss+xml",
            },
        ),
    ]
    for episode, moment in moments:
        link = base.full(episode["url"]) + f"#t={moment['t']}"
        out += ["    <item>"]
        out.append(
            _element(3, "title", f"{moment['name']} at {moment['stamp']}: {episode['title']}")
        )
        out.append(_element(3, "link", link))
        # The moment's identity: its episode and topic, and its second (a re-tag moving it a
        # few seconds is a new moment to a reader; that is rare and honest).
        key = f"{episode['guid']}#{moment['slug']}@{moment['t']}"
        out.append(_element(3, "guid", key, {"isPermaLink": "false"}))
        if episode["rfc822"]:
            out.append(_element(3, "pubDate", episode["rfc822"]))
        quote = moment.get("quote") or ""
        out.append(_element(3, "description", quote or episode["summary"]))
        out.append("    </item>")
    out += ["  </channel>", "</rss>"]
    return "\n".join(out).encode("utf-8")


def sitemaps(data: SiteData, base: BaseUrl) -> dict[str, bytes]:
    """sitemaps.org lists of the site's pages (full URLs need an absolute --base-url):
    `sitemap.xml`, or past SITEMAP_MAX_URLS a sitemap index of `sitemap-N.xml` files."""
    paths = ["", "topics/", "people/", "search/"]
    paths += [show["url"] for show in data.shows]
    paths += [episode["url"] for episode in data.episodes]
    paths += [topic["url"] for topic in data.topics]
    paths += [person["url"] for person in data.people]
    lastmod = {episode["url"]: episode["date_iso"][:10] for episode in data.episodes}
    if len(paths) <= SITEMAP_MAX_URLS:
        return {"sitemap.xml": _urlset(paths, lastmod, base)}
    files = {}
    for number, first in enumerate(range(0, len(paths), SITEMAP_MAX_URLS), start=1):
        files[f"sitemap-{number}.xml"] = _urlset(
            paths[first : first + SITEMAP_MAX_URLS], lastmod, base
        )
    out = [XML_DECLARATION, f'<sitemapindex xmlns="{SITEMAP_NS}">']
    for rel in files:
        out += ["  <sitemap>", _element(2, "loc", base.full(rel)), "  </sitemap>"]
    out.append("</sitemapindex>")
    return {"sitemap.xml": "\n".join(out).encode("utf-8")} | files


def _urlset(paths: list[str], lastmod: dict[str, str], base: BaseUrl) -> bytes:
    out = [XML_DECLARATION, f'<urlset xmlns="{SITEMAP_NS}">']
    for path in paths:
        out += ["  <url>", _element(2, "loc", base.full(path))]
        if lastmod.get(path):
            out.append(_element(2, "lastmod", lastmod[path]))
        out.append("  </url>")
    out.append("</urlset>")
    return "\n".join(out).encode("utf-8")


def robots(base: BaseUrl) -> bytes:
    """Allow everything; name the sitemap when its full URL is known (robotstxt.org)."""
    text = "User-agent: *\nAllow: /\n"
    if base.absolute.startswith(("http://", "https://")):
        text += f"Sitemap: {base.full('sitemap.xml')}\n"
    return text.encode()


def _element(depth: int, tag: str, text: str, attributes: dict | None = None) -> str:
    """One indented element holding escaped text."""
    return f"{INDENT * depth}<{tag}{_attributes(attributes)}>{_escape(text)}</{tag}>"


def _empty(depth: int, tag: str, attributes: dict) -> str:
    return f"{INDENT * depth}<{tag}{_attributes(attributes)} />"


def _attributes(attributes: dict | None) -> str:
    return "".join(
        f' {name}="{_escape(value, quote=True)}"' for name, value in (attributes or {}).items()
    )


def _escape(text: str, quote: bool = False) -> str:
    """Character data or an attribute value: XML 1.0 section 2.4 and 3.3.3 (whitespace in an
    attribute is kept as a character reference, or a parser would normalise it to spaces)."""
    text = _NOT_XML_CHAR.sub("", text or "")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if quote:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text.replace("\r", "&#13;")
