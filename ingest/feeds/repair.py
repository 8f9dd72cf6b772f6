"""Repair feed documents broken only by a habit of hand-made feeds, never by a missing part.

A strict XML parser refuses a whole feed for an `itunes:` prefix nobody declared, a blank line
before `<?xml`, or one Windows-1252 byte in a UTF-8 file, although every item is there: Apple's
directory and podcast apps read such feeds. Each repair here changes only what the parser's
error names, so a document that really ends early stays truncated (and stays guarded).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# The namespaces podcast feeds use, by the prefix their specs (and every generator) give them.
WELL_KNOWN_NAMESPACES = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "feedburner": "http://rssnamespace.org/feedburner/ext/1.0",
    "fyyd": "https://fyyd.de/fyyd-ns/",
    "georss": "http://www.georss.org/georss",
    "googleplay": "http://www.google.com/schemas/play-podcasts/1.0",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "media": "http://search.yahoo.com/mrss/",
    "podcast": "https://podcastindex.org/namespace/1.0",
    "psc": "http://podlove.org/simple-chapters",
    "rawvoice": "http://www.rawvoice.com/rawvoiceRssModule/",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "spotify": "http://www.spotify.com/ns/rss",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
}
# A prefix no spec names gets a namespace of its own, so its elements parse and are ignored.
UNKNOWN_NAMESPACE = "urn:x-podcast-archive:undeclared:"
# XML 1.0 5th ed. reserves these prefixes; they are bound without any declaration.
_RESERVED_PREFIXES = frozenset({"xml", "xmlns"})

_NAME = rb"[A-Za-z_][\w.\-]*"
_PREFIXED_TAG = re.compile(rb"<\s*/?\s*(" + _NAME + rb"):" + _NAME)
_PREFIXED_ATTRIBUTE = re.compile(rb"\s(" + _NAME + rb"):" + _NAME + rb"\s*=")
_DECLARATION = re.compile(rb"\bxmlns:(" + _NAME + rb")\s*=")
# Sections whose `<x:y>` is text, not markup: show notes pasted from Word carry `<o:p>`. An
# unclosed one runs to the end (`\Z`), so the search never goes back over the rest again.
_TEXT_SECTIONS = re.compile(rb"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)", re.DOTALL)
# Everything before the root element's name: BOM, XML declaration, PIs, comments, doctype.
_PROLOG = re.compile(
    rb"^(?:\xef\xbb\xbf|\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<"
    + _NAME
    + rb"(?::"
    + _NAME
    + rb")?",
    re.DOTALL,
)
_LEADING_JUNK = re.compile(rb"^(?:\xef\xbb\xbf|\s)+")
_XML_DECLARATION_START = re.compile(rb"^<\?xml\s")
_DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._\-]+)", re.I)
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass
class Repair:
    """A repaired document and what was done to it, in the words the fetch output uses."""

    content: bytes
    kind: str  # "prefixes", "prolog", "encoding": each is tried once per document
    description: str


def repair_for(content: bytes, error: str, *, done: set[str]) -> Repair | None:
    """The repair for the strict parser's `error` (expat's words), if there is one not yet in
    `done`; None when the document is broken in a way we do not guess at."""
    if "unbound prefix" in error and "prefixes" not in done:
        return declare_prefixes(content)
    if "declaration not at start of entity" in error and "prolog" not in done:
        return strip_before_declaration(content)
    if "invalid token" in error and "encoding" not in done:
        return decode_stray_bytes(content)
    return None


def declare_prefixes(content: bytes) -> Repair | None:
    """Declare on the root element every prefix the document uses but never declares."""
    if content.startswith(_UTF16_BOMS):
        return None  # byte patterns below assume an ASCII-compatible encoding
    root = _PROLOG.match(content)
    if root is None:
        return None
    markup = _TEXT_SECTIONS.sub(b"", content)
    used = {m.group(1) for m in _PREFIXED_TAG.finditer(markup)}
    used |= {m.group(1) for m in _PREFIXED_ATTRIBUTE.finditer(markup)}
    declared = {m.group(1) for m in _DECLARATION.finditer(markup)}
    missing = sorted(
        p for p in used - declared if p.decode("ascii").lower() not in _RESERVED_PREFIXES
    )
    if not missing:
        # Declared somewhere, but not where it is used (on one item, used in the next):
        # declare the prefixes the root element itself lacks.
        root_tag_end = content.find(b">", root.end())
        on_root = {m.group(1) for m in _DECLARATION.finditer(content, root.end(), root_tag_end)}
        missing = sorted(
            p for p in used - on_root if p.decode("ascii").lower() not in _RESERVED_PREFIXES
        )
    if not missing:
        return None
    names = [p.decode("ascii") for p in missing]
    declarations = "".join(f' xmlns:{name}="{_namespace_for(name)}"' for name in names)
    repaired = content[: root.end()] + declarations.encode("ascii") + content[root.end() :]
    words = "declared the namespace prefixes it uses without declaring them: " + ", ".join(names)
    unknown = [name for name in names if name.lower() not in WELL_KNOWN_NAMESPACES]
    if unknown:
        words += f" ({', '.join(unknown)} unknown: ignored)"
    return Repair(repaired, "prefixes", words)


def _namespace_for(prefix: str) -> str:
    # Prefixes are case-sensitive in XML, but `iTunes:` in a feed means Apple's namespace.
    return WELL_KNOWN_NAMESPACES.get(prefix.lower(), UNKNOWN_NAMESPACE + prefix)


def strip_before_declaration(content: bytes) -> Repair | None:
    """Drop whitespace and extra BOMs before `<?xml`, which must be the document's first bytes
    (XML 1.0 section 2.8); scripts that print a blank line first are common."""
    junk = _LEADING_JUNK.match(content)
    if junk is None or not _XML_DECLARATION_START.match(content[junk.end() :]):
        return None
    bom = _UTF8_BOM if content.startswith(_UTF8_BOM) else b""  # the one BOM it began with
    return Repair(
        bom + content[junk.end() :],
        "prolog",
        f"removed {junk.end() - len(bom)} bytes before the XML declaration",
    )


def _cp1252_for_bad_bytes(error: UnicodeDecodeError) -> tuple[str, int]:
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="replace"), error.end


codecs.register_error("podarchive-cp1252", _cp1252_for_bad_bytes)


def decode_stray_bytes(content: bytes) -> Repair | None:
    """Read bytes that are not UTF-8, in a document that says (or defaults to) UTF-8, as
    Windows-1252: text pasted from a word processor into a UTF-8 template."""
    if content.startswith(_UTF16_BOMS):
        return None
    declared = _DECLARED_ENCODING.match(content.removeprefix(_UTF8_BOM))
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        return None
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as error:
        first_bad = error.start
    else:
        return None  # valid UTF-8: the invalid token is something else (a bare "&", say)
    text = content.decode("utf-8", errors="podarchive-cp1252")
    return Repair(
        text.encode("utf-8"),
        "encoding",
        f"read the bytes that are not UTF-8 (the first at byte {first_bad}) as Windows-1252",
    )
