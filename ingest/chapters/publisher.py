"""The publisher's chapters, read as untrusted: repaired (sorted, clamped, sanitised) or rejected.

Podcasting 2.0 JSON chapters (github.com/Podcastindex-org/podcast-namespace, chapters/
jsonChapters.md): {"version": "1.2.0", "chapters": [{"startTime", "endTime"?, "title"?,
"img"?, "url"?, "toc"?}]}. Podlove Simple Chapters (podlove.org/simple-chapters):
`<psc:chapter start="00:01:02.500" title=... href=... image=...>`, start as normal play time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.chapters.id3 import Id3Chapter
from ingest.errors import PodarchiveError
from ingest.feeds.sanitize import html_to_text
from ingest.net import is_http_url
from ingest.records import Chapter, FeedChapter

MAX_CHAPTERS_BYTES = 1024 * 1024  # real chapter files are a few kB; 1 MB is a broken server
MAX_CHAPTERS = 1000  # more entries than this is no table of contents
MAX_TITLE_CHARS = 200
UNTITLED = "Untitled chapter"
# Normal play time (RFC 2326 3.6), as Podlove writes it: [[HH:]MM:]SS[.mmm].
_NPT = re.compile(r"^(?:(?:(\d+):)?([0-5]?\d):)?(\d+(?:\.\d+)?)$")
_SPACES = re.compile(r"\s+")


class ChaptersRejected(PodarchiveError, ValueError):
    """Publisher chapters that cannot be repaired into any chapter; the message says why."""


@dataclass
class Repaired:
    """Chapters after repair, and what was repaired (empty when nothing was)."""

    chapters: list[Chapter]
    repairs: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    start: float
    end: float | None
    title: str
    url: str | None
    image: str | None


def from_json(body: bytes, audio_end: float | None) -> Repaired:
    """JSON chapters (bytes as fetched) repaired; ChaptersRejected when unusable."""
    if len(body) > MAX_CHAPTERS_BYTES:
        raise ChaptersRejected(f"larger than {MAX_CHAPTERS_BYTES // 1024} kB")
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ChaptersRejected(f"not JSON ({type(error).__name__})") from None
    items = data.get("chapters") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ChaptersRejected('not JSON chapters (no "chapters" list)')
    _refuse_too_many(items)
    repairs: list[str] = []
    entries = []
    bad_times = 0
    for item in items:
        if not isinstance(item, dict):
            bad_times += 1
            continue
        if item.get("toc") is False:  # the spec's silent chapters: not in a table of contents
            continue
        start = _seconds(item.get("startTime"))
        if start is None:
            bad_times += 1
            continue
        entries.append(
            _Entry(start, _seconds(item.get("endTime")), *_fields(item, "title", "url", "img"))
        )
    if bad_times:
        repairs.append(f"{bad_times} without a usable startTime dropped")
    return _repair(entries, audio_end, repairs)


def from_feed(items: Sequence[FeedChapter], audio_end: float | None) -> Repaired:
    """Podlove Simple Chapters repaired; ChaptersRejected when unusable."""
    _refuse_too_many(items)
    repairs: list[str] = []
    entries = []
    bad_times = 0
    for item in items:
        start = _npt(item.start)
        if start is None:
            bad_times += 1
            continue
        raw = {"title": item.title, "href": item.href, "image": item.image}
        entries.append(_Entry(start, None, *_fields(raw, "title", "href", "image")))
    if bad_times:
        repairs.append(f"{bad_times} with an unreadable start dropped")
    return _repair(entries, audio_end, repairs)


def from_id3(items: Sequence[Id3Chapter], audio_end: float | None) -> Repaired:
    """ID3 CHAP frames (read from the audio file) repaired; ChaptersRejected when unusable."""
    _refuse_too_many(items)
    entries = [_Entry(c.start, c.end, c.title, c.url, None) for c in items]
    return _repair(entries, audio_end, [])


def clean_title(value: object) -> tuple[str, bool]:
    """A title as plain text (markup removed, whitespace collapsed, capped); and whether it
    had to change for that."""
    text = value if isinstance(value, str) else ""
    plain = _SPACES.sub(" ", html_to_text(text) if "<" in text or "&" in text else text).strip()
    if len(plain) > MAX_TITLE_CHARS:
        plain = plain[: MAX_TITLE_CHARS - 1] + "…"
    return plain, plain != text.strip()


def _refuse_too_many(items: Sequence) -> None:
    if len(items) > MAX_CHAPTERS:
        raise ChaptersRejected(f"{len(items)} chapters (more than {MAX_CHAPTERS})")


def _fields(item: dict, title_key: str, url_key: str, image_key: str) -> tuple:
    return (item.get(title_key), item.get(url_key), item.get(image_key))


def _repair(entries: list[_Entry], audio_end: float | None, repairs: list[str]) -> Repaired:
    if not entries:
        raise ChaptersRejected("no chapter with a usable start time")
    if any(b.start < a.start for a, b in zip(entries, entries[1:], strict=False)):
        repairs.append("sorted by start time")
        entries.sort(key=lambda e: e.start)
    if audio_end:
        late = [e for e in entries if e.start >= audio_end]
        if late:
            repairs.append(f"{len(late)} starting after the audio's end dropped")
            entries = [e for e in entries if e.start < audio_end]
    if not entries:
        raise ChaptersRejected("every chapter starts after the audio's end")
    duplicates = len(entries) - len({round(e.start, 3) for e in entries})
    if duplicates:
        repairs.append(f"{duplicates} with the same start as another dropped")
        seen: set[float] = set()
        entries = [
            e for e in entries if not (round(e.start, 3) in seen or seen.add(round(e.start, 3)))
        ]
    chapters = []
    overlapping = clamped = titles = links = 0
    for index, entry in enumerate(entries):
        following = entries[index + 1].start if index + 1 < len(entries) else None
        end = entry.end if isinstance(entry.end, float) and entry.end > entry.start else None
        limit = following if following is not None else audio_end
        if end is not None and limit is not None and end > limit:
            if following is not None:
                overlapping += 1
            else:
                clamped += 1
            end = limit
        if end is None:
            end = limit if limit is not None else entry.start
        title, changed = clean_title(entry.title)
        titles += changed and bool(entry.title)
        url, image = _link(entry.url), _link(entry.image)
        links += (entry.url is not None and url is None) + (
            entry.image is not None and image is None
        )
        chapters.append(Chapter(entry.start, end, title or UNTITLED, url, image))
    if overlapping:
        repairs.append(f"{overlapping} overlapping the next one ended at its start")
    if clamped:
        repairs.append("the last one ended at the audio's end")
    if titles:
        repairs.append(f"markup removed from {titles} title(s)")
    if links:
        repairs.append(f"{links} link(s) that are not http(s) dropped")
    return Repaired(chapters, repairs)


def _link(value: object) -> str | None:
    """An http(s) URL, else None: javascript:, data: and file: links never reach a page."""
    if not isinstance(value, str) or not is_http_url(value) or re.search(r"[\s<>\"']", value):
        return None
    return value.strip()


def _seconds(value: object) -> float | None:
    """A JSON time in seconds (a number, or a numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = _npt(value)
    if not isinstance(value, int | float) or value != value or value in (float("inf"),):
        return None
    return float(value) if value >= 0 else None


def _npt(text: str) -> float | None:
    match = _NPT.match((text or "").strip())
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)
