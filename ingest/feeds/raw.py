"""Read what feedparser drops straight from a feed's XML, with a parser safe on hostile input.

feedparser keeps only the last of repeated `podcast:*` elements (an episode with a VTT and an
SRT transcript keeps one), and ignores `itunes:new-feed-url` and paging links in some places.
This module reads those from the raw XML with defusedxml: no DTD, no entities, no network.
A feed that is not well-formed XML yields the items closed before the error, and the error.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from urllib.parse import urljoin
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ingest.records import FeedChapter, Person, TranscriptLink

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_RSS_NS = "http://search.yahoo.com/mrss/"
# Podlove Simple Chapters (podlove.org/simple-chapters): chapters inside the item.
PSC_NS = "http://podlove.org/simple-chapters"
MAX_FEED_CHAPTERS = 1000  # per item; more is a broken or hostile feed, and the rest is dropped
# XML Base (W3C): xml:base on any element sets the base URI of relative URLs inside it.
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
# The Podcasting 2.0 namespace has been published under several URIs over the years.
PODCAST_NAMESPACES = frozenset(
    {
        "https://podcastindex.org/namespace/1.0",
        "http://podcastindex.org/namespace/1.0",
        "https://podcastindex.org/namespace/1.0/",
        "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
    }
)


@dataclass
class RawEnclosure:
    """A media file an item offers, as written: RSS `enclosure`, Atom `link rel="enclosure"`
    or Media RSS `media:content` (alone or in a `media:group`)."""

    url: str  # joined with every xml:base around it, not yet with the feed's URL
    type: str | None = None
    length: str | None = None
    medium: str | None = None  # Media RSS: audio, video, image...
    is_default: bool = False  # Media RSS isDefault: the group's preferred rendition


@dataclass
class RawItem:
    """Item fields read from the XML itself."""

    position: int  # 1-based, in document order
    guid: str | None = None
    guid_is_permalink: bool = False
    title: str | None = None
    link: str | None = None
    enclosure_url: str | None = None
    enclosures: list[RawEnclosure] = field(default_factory=list)  # every one, document order
    explicit: str | None = None
    keywords: list[str] = field(default_factory=list)
    transcripts: list[TranscriptLink] = field(default_factory=list)
    chapters_url: str | None = None
    chapters_type: str | None = None
    feed_chapters: list[FeedChapter] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)


@dataclass
class RawFeed:
    """Channel fields read from the XML, the items closed before any error, and the error."""

    root: str | None = None  # local name of the root element: rss, feed, RDF
    new_feed_url: str | None = None
    author: str | None = None
    next_url: str | None = None
    podcast_guid: str | None = None
    explicit: str | None = None
    categories: list[str] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    items: list[RawItem] = field(default_factory=list)
    error: str | None = None  # not well-formed: where the strict parse stopped
    refused: str | None = None  # DTD or entity declarations we will not process


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _kind(ns: str) -> str:
    if ns in PODCAST_NAMESPACES or "podcastindex" in ns.lower():
        return "podcast"
    if "itunes.com/dtds/podcast" in ns.lower():
        return "itunes"
    if ns == ATOM_NS:
        return "atom"
    if ns.rstrip("/") == MEDIA_RSS_NS.rstrip("/"):
        return "media"
    if ns.rstrip("/") == PSC_NS:
        return "psc"
    return "" if not ns else "other"


def _text(element: Element) -> str | None:
    value = (element.text or "").strip()
    return value or None


def _person(element: Element) -> Person | None:
    name = _text(element)
    if not name:
        return None
    # Defaults per the podcast namespace spec: role "host", group "cast" (case-insensitive).
    return Person(
        name=name,
        role=(element.get("role") or "host").strip().lower(),
        group=(element.get("group") or "cast").strip().lower(),
        img=element.get("img") or None,
        href=element.get("href") or None,
    )


def _feed_chapters(element: Element, room: int) -> list[FeedChapter]:
    """The `psc:chapter` children of a `psc:chapters`, as written (at most `room` of them)."""
    found = []
    for child in element:
        if len(found) >= room:
            break
        if not isinstance(child.tag, str) or _split(child.tag)[1] != "chapter":
            continue
        start = (child.get("start") or "").strip()
        if start:
            found.append(
                FeedChapter(
                    start=start,
                    title=child.get("title") or "",
                    href=(child.get("href") or "").strip() or None,
                    image=(child.get("image") or "").strip() or None,
                )
            )
    return found


def _base(parent: str, element: Element) -> str:
    """The base URI inside `element`: its xml:base resolved against its parent's."""
    own = (element.get(XML_BASE) or "").strip()
    return urljoin(parent, own) if own else parent


def _media_content(element: Element, base: str) -> RawEnclosure | None:
    url = (element.get("url") or "").strip()
    if not url:
        return None
    return RawEnclosure(
        url=urljoin(base, url),
        type=(element.get("type") or "").strip() or None,
        length=element.get("fileSize"),
        medium=(element.get("medium") or "").strip().lower() or None,
        is_default=(element.get("isDefault") or "").strip().lower() == "true",
    )


def _media_group(element: Element, base: str) -> list[RawEnclosure]:
    """The renditions of one `media:group`, each under its own xml:base."""
    found = [
        _media_content(child, _base(base, child))
        for child in element
        if isinstance(child.tag, str)
        and _split(child.tag)[1] == "content"
        and _kind(_split(child.tag)[0]) == "media"
    ]
    return [enclosure for enclosure in found if enclosure]


def _item(element: Element, position: int, atom: bool, base: str = "") -> RawItem:
    item = RawItem(position=position)
    for child in element:
        if not isinstance(child.tag, str):
            continue
        ns, local = _split(child.tag)
        kind = _kind(ns)
        child_base = _base(base, child)
        if kind == "media" and local == "content":
            item.enclosures += [e for e in [_media_content(child, child_base)] if e]
        elif kind == "media" and local == "group":
            item.enclosures += _media_group(child, child_base)
        elif kind == "podcast":
            if local == "transcript" and child.get("url"):
                item.transcripts.append(
                    TranscriptLink(
                        url=child.get("url").strip(),
                        type=(child.get("type") or "").strip().lower(),
                        language=child.get("language") or None,
                        rel=child.get("rel") or None,
                    )
                )
            elif local == "chapters" and child.get("url") and item.chapters_url is None:
                item.chapters_url = child.get("url").strip()
                item.chapters_type = child.get("type") or None
            elif local == "person":
                person = _person(child)
                if person:
                    item.people.append(person)
        elif kind == "psc" and local == "chapters":
            item.feed_chapters += _feed_chapters(child, MAX_FEED_CHAPTERS - len(item.feed_chapters))
        elif kind == "itunes":
            if local == "explicit":
                item.explicit = _text(child)
            elif local == "keywords" and _text(child):
                item.keywords += [k.strip() for k in child.text.split(",") if k.strip()]
        elif kind in ("", "atom") and local == "title":
            item.title = _text(child)
        elif atom and local == "id":
            item.guid = _text(child)
        elif not atom and kind == "" and local == "guid":
            item.guid = _text(child)
            # RSS 2.0: isPermaLink defaults to true, meaning the guid is the item's URL.
            item.guid_is_permalink = (child.get("isPermaLink") or "true").strip().lower() == "true"
        elif not atom and kind == "" and local == "link":
            item.link = _text(child)
        elif atom and local == "link" and child.get("rel", "alternate") == "alternate":
            item.link = item.link or (child.get("href") or "").strip() or None
        elif (not atom and kind == "" and local == "enclosure") or (
            atom and local == "link" and child.get("rel") == "enclosure"
        ):
            url = (child.get("href" if atom else "url") or "").strip() or None
            item.enclosure_url = item.enclosure_url or url
            if url:
                item.enclosures.append(
                    RawEnclosure(
                        url=urljoin(child_base, url),
                        type=(child.get("type") or "").strip() or None,
                        length=child.get("length"),
                    )
                )
    return item


def read_raw(content: bytes) -> RawFeed:
    """Parse `content` strictly and safely; keep whatever was read before an error."""
    raw = RawFeed()
    stack: list[str] = []  # local names of open elements
    bases: list[str] = []  # the xml:base in force inside each open element
    atom = False
    try:
        events = SafeET.iterparse(
            io.BytesIO(content),
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        for event, element in events:
            ns, local = _split(element.tag)
            if event == "start":
                if not stack:
                    raw.root = local
                    atom = ns == ATOM_NS
                stack.append(local)
                bases.append(_base(bases[-1] if bases else "", element))
                continue
            stack.pop()
            base = bases.pop()
            depth = len(stack)  # 0 = root; channel children sit at 2 in RSS, 1 in Atom
            if local in ("item", "entry") and depth >= 1:
                raw.items.append(_item(element, len(raw.items) + 1, atom, base))
                element.clear()  # a 5,000-item feed need not stay in memory
            elif depth == (1 if atom else 2) and stack[-1] in ("channel", "feed"):
                _channel_child(raw, element, ns, local)
    except ParseError as error:
        raw.error = str(error)
    except LookupError as error:  # expat knows no codec for the declared encoding
        raw.error = str(error)
    except DefusedXmlException as error:
        raw.refused = type(error).__name__
    return raw


def _channel_child(raw: RawFeed, element: Element, ns: str, local: str) -> None:
    kind = _kind(ns)
    if kind == "podcast":
        if local == "guid":
            raw.podcast_guid = _text(element)
        elif local == "person":
            person = _person(element)
            if person:
                raw.people.append(person)
    elif kind == "itunes":
        if local == "new-feed-url":
            raw.new_feed_url = _text(element)
        elif local == "explicit":
            raw.explicit = _text(element)
        elif local == "author":
            raw.author = _text(element)
        elif local == "category":
            _categories(raw, element)
    elif kind == "atom" and local == "link" and element.get("rel") == "next":
        raw.next_url = (element.get("href") or "").strip() or None
    elif kind == "" and local == "category" and _text(element) not in (None, *raw.categories):
        raw.categories.append(_text(element))


def _categories(raw: RawFeed, element: Element) -> None:
    """`itunes:category text=` and its nested subcategories, each once, in order."""
    name = (element.get("text") or "").strip()
    if name and name not in raw.categories:
        raw.categories.append(name)
    for child in element:
        if isinstance(child.tag, str) and _split(child.tag)[1] == "category":
            _categories(raw, child)
