"""Which of an item's media files is the episode's audio, as an absolute http(s) URL.

Items offer audio as an RSS `enclosure`, an Atom `link rel="enclosure"` or Media RSS
`media:content` (alone or as renditions in a `media:group`), often several at once, relative
to the feed or to an `xml:base`, with stray spaces around them. The choice is deterministic:
audio before video before anything else, then the rendition marked default, then document order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from ingest.net import is_http_url
from ingest.records import Enclosure

# Types by file extension, for media files the feed gives no (or a generic) type.
AUDIO_TYPES = {
    "aac": "audio/aac",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "oga": "audio/ogg",
    "ogg": "audio/ogg",
    "opus": "audio/opus",
    "wav": "audio/wav",
}
VIDEO_TYPES = {
    "m4v": "video/x-m4v",
    "mov": "video/quicktime",
    "mp4": "video/mp4",
    "webm": "video/webm",
}
# Types that say nothing about the content: the extension decides instead.
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# SQLite stores signed 64-bit integers; a larger length is a typo, not a file.
MAX_LENGTH = 2**63 - 1
_AUDIO, _VIDEO, _OTHER = 0, 1, 2
_WHITESPACE = re.compile(r"\s")


@dataclass
class Candidate:
    """A media file as an item writes it, before it is resolved against the feed's URL."""

    href: str  # joined with any xml:base around it
    type: str | None = None
    length: str | None = None
    medium: str | None = None  # Media RSS: audio, video, image, document, executable
    is_default: bool = False


@dataclass
class Choice:
    """The episode's enclosure, the item's other media files, and a problem to report."""

    chosen: Enclosure | None = None
    others: list[Enclosure] | None = None
    problem: str | None = None


def resolve_url(base: str, href: str | None) -> str | None:
    """`href` made absolute against `base`, spaces around it dropped and inside it escaped;
    None unless the result is an http(s) URL (the only kind we fetch)."""
    if not href or not href.strip():
        return None
    cleaned = _WHITESPACE.sub(lambda m: quote(m.group()), href.strip())
    absolute = urljoin(base, cleaned)
    return absolute if is_http_url(absolute) else None


def media_type(candidate: Candidate) -> str | None:
    """The candidate's MIME type, lower case; guessed from its extension when the feed is silent."""
    given = (candidate.type or "").strip().lower()
    if given not in GENERIC_TYPES:
        return given
    extension = urlsplit(candidate.href).path.rsplit(".", 1)[-1].lower()
    return AUDIO_TYPES.get(extension) or VIDEO_TYPES.get(extension) or given or None


def _rank(candidate: Candidate) -> int:
    kind = media_type(candidate) or ""
    if kind.startswith("audio/") or candidate.medium == "audio":
        return _AUDIO
    if kind.startswith("video/") or candidate.medium == "video":
        return _VIDEO
    return _OTHER


def _length(text: str | None) -> int | None:
    digits = re.sub(r"[\s,]", "", text or "")
    if not digits.isdigit():
        return None
    value = int(digits)
    return value if 0 < value <= MAX_LENGTH else None


def choose_enclosure(candidates: list[Candidate], feed_url: str) -> Choice:
    """The audio enclosure among `candidates` (resolved against `feed_url`) and the rest."""
    if not candidates:
        return Choice(problem="has no enclosure (no audio to archive)")
    resolved: dict[str, tuple[Candidate, Enclosure]] = {}
    refused = []
    for candidate in candidates:
        url = resolve_url(feed_url, candidate.href)
        if url is None:
            refused.append(candidate.href)
            continue
        enclosure = Enclosure(url, media_type(candidate), _length(candidate.length))
        if url in resolved:  # the same file as enclosure and as media:content: merge them
            first = resolved[url][1]
            first.type = first.type or enclosure.type
            first.length = first.length or enclosure.length
            continue
        resolved[url] = (candidate, enclosure)
    if not resolved:
        written = refused[0].strip()[:80]
        absolute = urljoin(feed_url, written)
        where = "" if absolute == written else f", {absolute[:80]!r} once resolved"
        return Choice(problem=f"has an enclosure that is not an http(s) URL ({written!r}{where})")
    order = sorted(
        enumerate(resolved.values()),
        key=lambda pair: (_rank(pair[1][0]), not pair[1][0].is_default, pair[0]),
    )
    enclosures = [enclosure for _, (_, enclosure) in order]
    return Choice(chosen=enclosures[0], others=enclosures[1:])
