"""The archive's RSS feed (with Podcasting 2.0 transcript tags), sitemap.xml and robots.txt."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from ingest.site_render import sanitize_notes

if TYPE_CHECKING:
    from ingest.site_data import SiteData
    from ingest.sitegen import BaseUrl

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
# XML 1.0 section 2.2: the characters a document may contain.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def rss(data: SiteData, base: BaseUrl) -> bytes:
    """RSS 2.0 of every archived episode, newest first, pointing at the site's own copies."""
    ET.register_namespace("itunes", ITUNES_NS)
    ET.register_namespace("podcast", PODCAST_NS)
    ET.register_namespace("atom", ATOM_NS)
    root = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(root, "channel")
    single = data.shows[0] if len(data.shows) == 1 else None
    _text(channel, "title", single["title"] if single else "Podcast archive")
    _text(channel, "link", base.absolute)
    _text(channel, "description", single["description"] if single else "Archived podcasts.")
    _text(channel, "language", single["language"] if single else "en")
    ET.SubElement(
        channel,
        f"{{{ATOM_NS}}}link",
        {"href": base.full("feed.xml"), "rel": "self", "type": "application/rss+xml"},
    )
    if single and single["image_url"]:
        ET.SubElement(channel, f"{{{ITUNES_NS}}}image", {"href": single["image_url"]})
    if single and single["author"]:
        _text(channel, f"{{{ITUNES_NS}}}author", single["author"])
    for episode in data.episodes:
        item = ET.SubElement(channel, "item")
        _text(item, "title", episode["title"])
        _text(item, "link", base.full(episode["url"]))
        _text(item, "guid", episode["guid"], isPermaLink="false")
        if episode["rfc822"]:
            _text(item, "pubDate", episode["rfc822"])
        _text(item, "description", str(sanitize_notes(episode["notes_html"])))
        audio = episode["audio"]
        if audio:
            ET.SubElement(
                item,
                "enclosure",
                {
                    "url": base.full(audio["url"]),
                    "length": str(audio["length"] or 0),
                    "type": audio["type"],
                },
            )
        if episode["duration"]:
            _text(item, f"{{{ITUNES_NS}}}duration", str(int(episode["duration"])))
        if episode["episode_number"]:
            _text(item, f"{{{ITUNES_NS}}}episode", str(episode["episode_number"]))
        for transcript in episode["transcript_files"]:
            attributes = {"url": base.full(transcript["url"]), "type": transcript["type"]}
            if transcript["ext"] == "srt":
                attributes["rel"] = "captions"
            if episode["language"]:
                attributes["language"] = episode["language"]
            ET.SubElement(item, f"{{{PODCAST_NS}}}transcript", attributes)
    return _xml(root)


def sitemap(data: SiteData, base: BaseUrl) -> bytes:
    """sitemaps.org list of the site's pages (full URLs need an absolute --base-url)."""
    root = ET.Element("urlset", {"xmlns": SITEMAP_NS})
    paths = ["", "topics/", "people/", "search/"]
    paths += [show["url"] for show in data.shows]
    paths += [episode["url"] for episode in data.episodes]
    paths += [topic["url"] for topic in data.topics]
    paths += [person["url"] for person in data.people]
    lastmod = {episode["url"]: episode["date_iso"][:10] for episode in data.episodes}
    for path in paths:
        entry = ET.SubElement(root, "url")
        _text(entry, "loc", base.full(path))
        if lastmod.get(path):
            _text(entry, "lastmod", lastmod[path])
    return _xml(root)


def robots(base: BaseUrl) -> bytes:
    """Allow everything; name the sitemap when its full URL is known (robotstxt.org)."""
    text = "User-agent: *\nAllow: /\n"
    if base.absolute.startswith(("http://", "https://")):
        text += f"Sitemap: {base.full('sitemap.xml')}\n"
    return text.encode()


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = _xml_chars(text)
    return element


def _xml_chars(text: str) -> str:
    """Drop characters XML 1.0 forbids (control characters a feed may smuggle in)."""
    return _NOT_XML_CHAR.sub("", text or "")


def _xml(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
