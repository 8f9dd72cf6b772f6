"""OPML subscription lists (opml.org/spec2.opml), the format every podcast app exports.

Read as untrusted like a feed: no DTD, no entities, only http(s) feed URLs. Every `outline`
with an `xmlUrl` is a feed, at any depth (apps nest them in folders); each problem is one line
naming the file and the line of its outline. `feed:`, `itpc:` and `pcast:` URLs (what some apps
write to hand a feed to a podcast app) are read as the http(s) URL they wrap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from xml.parsers import expat
from xml.sax.saxutils import escape

from ingest.errors import PodarchiveError
from ingest.net import is_http_url

MAX_OPML_BYTES = 10 * 1024 * 1024  # thousands of subscriptions are a few hundred kB
# Schemes apps use for "open this in a podcast app": the rest of the URL is the feed's.
_APP_SCHEMES = re.compile(r"^(?:feed|itpc|pcast|podcast):(?://)?", re.IGNORECASE)


class OpmlError(PodarchiveError, ValueError):
    """A file that is not an OPML document; the message names it and says where it broke."""


@dataclass
class OpmlFeed:
    """One subscription: its feed URL, the title the app gave it, its folders and line."""

    url: str
    title: str
    folders: tuple[str, ...]
    line: int


@dataclass
class OpmlList:
    """The feeds of a subscription list, each once, and one line per entry that was skipped."""

    feeds: list[OpmlFeed] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def feed_key(url: str) -> str:
    """The form two URLs of one feed share: scheme and host lowercased, no trailing slash."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def read_opml(data: bytes, name: str) -> OpmlList:
    """The feeds listed in the OPML `data` (from the file called `name`); OpmlError when it is
    not OPML at all."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"{name}: larger than {MAX_OPML_BYTES // (1024 * 1024)} MB")
    result = OpmlList()
    seen: dict[str, int] = {}
    folders: list[str | None] = []  # one per open outline: its title, or None for a feed
    root: list[str] = []
    parser = expat.ParserCreate()

    def refuse(*_args) -> None:
        raise OpmlError(f"{name}: line {parser.CurrentLineNumber}: DTDs and entities are refused")

    def start(tag: str, attributes: dict[str, str]) -> None:
        if not root:
            root.append(tag)
        if tag != "outline":
            return
        attrs = {key.lower(): value for key, value in attributes.items()}
        title = " ".join((attrs.get("title") or attrs.get("text") or "").split())
        raw = (attrs.get("xmlurl") or "").strip()
        line = parser.CurrentLineNumber
        label = f"{name}:{line}: {title or raw!r}"
        if not raw and (attrs.get("type") or "").lower() == "rss":
            folders.append(None)
            result.problems.append(f"{label}: an rss outline without an xmlUrl; skipped")
            return
        if not raw:
            folders.append(title)  # a folder (or a note): its children are feeds in it
            return
        folders.append(None)
        url = _APP_SCHEMES.sub("http://", raw) if _APP_SCHEMES.match(raw) else raw
        if url.startswith("http://http"):  # feed:https://... wraps a full URL
            url = url[len("http://") :]
        if not is_http_url(url) or re.search(r"\s", url):
            result.problems.append(f"{label}: {raw!r} is not an http(s) feed URL; skipped")
            return
        key = feed_key(url)
        if key in seen:
            result.problems.append(f"{label}: the same feed as line {seen[key]}; kept once")
            return
        seen[key] = line
        path = tuple(f for f in folders[:-1] if f)
        result.feeds.append(OpmlFeed(url, title, path, line))

    def end(tag: str) -> None:
        if tag == "outline" and folders:
            folders.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise OpmlError(f"{name}: not well-formed XML (line {error.lineno}: {error})") from None
    if root != ["opml"]:
        raise OpmlError(f"{name}: not OPML (its root element is {(root or ['none'])[0]!r})")
    return result


def write_opml(title: str, shows: list[dict]) -> bytes:
    """OPML 2.0 listing `shows` ({"title", "feed_url", "link"?}) as RSS outlines."""
    lines = [
        "<?xml version='1.0' encoding='utf-8'?>",
        '<opml version="2.0">',
        f"  <head><title>{_escape(title)}</title></head>",
        "  <body>",
    ]
    for show in shows:
        attributes = {
            "type": "rss",
            "text": show["title"] or show["feed_url"],
            "title": show["title"] or show["feed_url"],
            "xmlUrl": show["feed_url"],
        }
        if show.get("link") and is_http_url(show["link"]):
            attributes["htmlUrl"] = show["link"]
        rendered = "".join(f' {key}="{_escape(value)}"' for key, value in attributes.items())
        lines.append(f"    <outline{rendered} />")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")


def load_opml(path: Path) -> OpmlList:
    """`read_opml` of a file; OpmlError (naming it) when it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise OpmlError(f"{path}: cannot be read ({error.strerror})") from None
    return read_opml(data, str(path))


_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(text: str) -> str:
    """An attribute value or character data (XML 1.0: characters it may hold, escaped)."""
    return escape(_NOT_XML_CHAR.sub("", text or ""), {'"': "&quot;", "\n": "&#10;"})
