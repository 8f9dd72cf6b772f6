"""The archive's RSS feed (with Podcasting 2.0 transcript tags), sitemap.xml and robots.txt."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ingest.sitegen.render import sanitize_notes

if TYPE_CHECKING:
    from ingest.sitegen.data import SiteData
    from ingest.sitegen.urls import BaseUrl

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
# sitemaps.org: a sitemap file holds at most 50,000 URLs; more go in files a sitemap index lists.
SITEMAP_MAX_URLS = 50_000
# Written as text (the ElementTree serializer took most of a one-episode rebuild's feed time).
XML_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
INDENT = "  "
# XML 1.0 section 2.2: the characters a document may contain.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def rss(data: SiteData, base: BaseUrl) -> bytes:
    """RSS 2.0 of every archived episode, newest first, pointing at the site's own copies."""
    single = data.shows[0] if len(data.shows) == 1 else None
    out = [
        XML_DECLARATION,
        f'<rss version="2.0" xmlns:itunes="{ITUNES_NS}" xmlns:podcast="{PODCAST_NS}"'
        f' xmlns:atom="{ATOM_NS}">',
        "  <channel>",
        _element(2, "title", single["title"] if single else "Podcast archive"),
        _element(2, "link", base.absolute),
        _element(2, "description", single["description"] if single else "Archived podcasts."),
        _element(2, "language", single["language"] if single else "en"),
        _empty(
            2,
            "atom:link",
            {"href": base.full("feed.xml"), "rel": "self", "type": "application/rss+xml"},
        ),
    ]
    if single and single["image_url"]:
        out.append(_empty(2, "itunes:image", {"href": single["image_url"]}))
    if single and single["author"]:
        out.append(_element(2, "itunes:author", single["author"]))
    for episode in data.episodes:
        out += ["    <item>", _element(3, "title", episode["title"])]
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
