"""Publisher transcripts: the `podcast:transcript` files a feed offers, read into a Transcript.

Formats per the Podcasting 2.0 namespace (podcastindex.org, docs/1.0.md#transcript and
transcripts.md): WebVTT (`text/vtt`, speakers in `<v Name>` voice spans), SRT
(`application/x-subrip`, `application/srt`), JSON (`application/json`: `version`, `segments`
of `startTime`, `endTime`, `body`, `speaker`) and HTML (`text/html`, often untimed).
Files come from the feed, so they are untrusted: http(s) only, a size cap, no markup kept.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import httpx

from ingest.errors import PodarchiveError
from ingest.net import BodyTooLarge, is_http_url, read_capped
from ingest.records import Segment, Transcript, TranscriptLink, Word

MAX_TRANSCRIPT_BYTES = 10 * 1024 * 1024  # a 3-hour episode's word-level JSON is ~2 MB
TIMEOUT_S = 30.0

# Preferred first: the formats that carry timing and speakers best.
_PREFERENCE = ("json", "vtt", "srt", "html", "text")
_TYPES = {
    "application/json": "json",
    "text/vtt": "vtt",
    "application/x-subrip": "srt",
    "application/srt": "srt",
    "text/srt": "srt",
    "text/html": "html",
    "text/plain": "text",
}
# WebVTT/SRT timing: hours optional in WebVTT; SRT uses a comma before the milliseconds.
_TIMING = re.compile(
    r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})"
)
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>")
_TAG = re.compile(r"<[^>]*>")
# A timestamp opening an HTML or text paragraph: "00:01:02", "[1:02]", "(01:02:03)".
_LEADING_TIME = re.compile(r"^\s*[\[(]?((?:\d{1,2}:)?\d{1,2}:\d{2})(?:[.,]\d+)?[\])]?\s*[-–:]?\s*")
# "Jane Doe 00:01:02" or "Jane Doe (01:02):" opening a paragraph or alone on a line.
_SPEAKER_THEN_TIME = re.compile(
    r"^([A-Z][^\d:\[(]{0,40}?)\s+[\[(]?((?:\d{1,2}:)?\d{1,2}:\d{2})(?:[.,]\d+)?[\])]?\s*:?\s*"
)
# "Name:" opening a paragraph, short enough to be a speaker label rather than a sentence.
_LEADING_SPEAKER = re.compile(r"^([A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3})\s*:\s+")


class PublisherTranscriptError(PodarchiveError, ValueError):
    """A publisher transcript could not be fetched or parsed; the message names the URL."""


def kind_of(link_type: str | None, url: str = "") -> str | None:
    """Our format name for a link's MIME type (or its URL's extension), None if unsupported."""
    mime = (link_type or "").split(";")[0].strip().lower()
    if mime in _TYPES:
        return _TYPES[mime]
    ext = url.lower().split("?")[0].rsplit(".", 1)[-1]
    return {"json": "json", "vtt": "vtt", "srt": "srt", "html": "html", "htm": "html"}.get(ext)


def choose_link(links: list[TranscriptLink], language: str | None = None) -> list[TranscriptLink]:
    """Supported http(s) links, best first: the show's language, then JSON, VTT, SRT, HTML."""
    lang = (language or "").lower().split("-")[0]

    def rank(link: TranscriptLink) -> tuple[bool, int]:
        link_lang = (link.language or "").lower().split("-")[0]
        other_language = bool(lang and link_lang and link_lang != lang)
        return other_language, _PREFERENCE.index(kind_of(link.type, link.url))

    usable = [link for link in links if kind_of(link.type, link.url) and is_http_url(link.url)]
    return sorted(usable, key=rank)


def fetch_transcript(
    client: httpx.Client, link: TranscriptLink, language: str | None = None
) -> Transcript:
    """Download and parse one publisher transcript; PublisherTranscriptError on any failure."""
    kind = kind_of(link.type, link.url)
    if kind is None:
        raise PublisherTranscriptError(f"{link.url}: unsupported transcript type {link.type!r}")
    body = fetch_capped(client, link.url)
    transcript = parse_transcript(body, kind, origin=link.url)
    transcript.language = link.language or language
    transcript.settings = {"url": link.url, "type": link.type}
    return transcript


def fetch_capped(client: httpx.Client, url: str, limit: int = MAX_TRANSCRIPT_BYTES) -> bytes:
    """GET an http(s) URL, refusing bodies over `limit` bytes."""
    if not is_http_url(url):
        raise PublisherTranscriptError(f"{url}: only http(s) transcript URLs are fetched")
    try:
        with client.stream("GET", url, follow_redirects=True, timeout=TIMEOUT_S) as response:
            if response.status_code != 200:
                raise PublisherTranscriptError(f"{url}: HTTP {response.status_code}")
            return read_capped(response, limit)
    except BodyTooLarge:
        raise PublisherTranscriptError(f"{url}: larger than {limit} bytes") from None
    except httpx.HTTPError as exc:
        raise PublisherTranscriptError(f"{url}: {type(exc).__name__}: {exc}") from exc


def parse_transcript(body: bytes | str, kind: str, origin: str = "transcript") -> Transcript:
    """Parse a transcript body of a known kind (json, vtt, srt, html, text)."""
    text = body.decode("utf-8-sig", errors="replace") if isinstance(body, bytes) else body
    parser = {
        "json": parse_json,
        "vtt": parse_vtt,
        "srt": parse_srt,
        "html": parse_html,
        "text": parse_text,
    }[kind]
    try:
        segments = parser(text)
    except PublisherTranscriptError as exc:
        raise PublisherTranscriptError(f"{origin}: {exc}") from exc
    if not any(s.text for s in segments):
        raise PublisherTranscriptError(f"{origin}: no transcript text in this {kind} file")
    return Transcript(segments=segments, source="publisher", engine=None, model=None)


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def parse_vtt(text: str) -> list[Segment]:
    """WebVTT (W3C): skip NOTE/STYLE/REGION blocks; `<v Name>` gives the speaker."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or not re.match(r"^WEBVTT(?:[ \t].*)?$", lines[0].lstrip("\ufeff")):
        raise PublisherTranscriptError("not a WebVTT file (no WEBVTT header)")
    return _cues(lines[1:], vtt=True)


def parse_srt(text: str) -> list[Segment]:
    """SubRip: numbered cues with `hh:mm:ss,mmm --> hh:mm:ss,mmm` timings."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    segments = _cues(lines, vtt=False)
    if not segments:
        raise PublisherTranscriptError("not an SRT file (no cue timings)")
    return segments


def _cues(lines: list[str], vtt: bool) -> list[Segment]:
    segments: list[Segment] = []
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    for block in blocks:
        timing_at = next((i for i, line in enumerate(block) if "-->" in line), None)
        if timing_at is None:
            continue  # NOTE, STYLE, REGION blocks, or a stray index
        match = _TIMING.match(block[timing_at])
        if match is None:
            raise PublisherTranscriptError(f"bad cue timing {block[timing_at].strip()!r}")
        start, end = _seconds(match.group(1)), _seconds(match.group(2))
        payload = " ".join(block[timing_at + 1 :])
        speaker = None
        if vtt:
            voice = _VOICE.search(payload)
            if voice:
                speaker = html.unescape(voice.group(1)).strip() or None
        body = " ".join(html.unescape(_TAG.sub("", payload)).split())
        if body:
            segments.append(Segment(start=start, end=max(start, end), text=body, speaker=speaker))
    return segments


def parse_json(text: str) -> list[Segment]:
    """Podcasting 2.0 JSON. Word-level files (one word per segment) are joined into sentences."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PublisherTranscriptError(f"not valid JSON ({exc})") from exc
    items = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise PublisherTranscriptError("JSON transcript without a 'segments' list")
    raw: list[Segment] = []
    for n, item in enumerate(items):
        try:
            start, end = float(item["startTime"]), float(item.get("endTime", item["startTime"]))
            body = str(item["body"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PublisherTranscriptError(f"segment {n} lacks startTime/body ({exc})") from exc
        speaker = item.get("speaker")
        raw.append(Segment(start, max(start, end), body.strip(), str(speaker) if speaker else None))
    return _join_words(raw)


MAX_JOINED_WORDS = 40
MAX_WORD_PAUSE_S = 1.5


def _join_words(raw: list[Segment]) -> list[Segment]:
    """Join single-word segments of one speaker into sentences, keeping each word's timing."""
    if not raw or sum(len(s.text.split()) <= 1 for s in raw) < len(raw) * 0.8:
        return [s for s in raw if s.text]
    joined: list[Segment] = []
    for s in raw:
        if not s.text:
            continue
        last = joined[-1] if joined else None
        if (
            last is not None
            and last.speaker == s.speaker
            and s.start - last.end <= MAX_WORD_PAUSE_S
            and len(last.words) < MAX_JOINED_WORDS
            and not last.text.endswith((".", "?", "!"))
        ):
            last.text += " " + s.text
            last.end = max(last.end, s.end)
            last.words.append(Word(s.start, s.end, s.text))
        else:
            joined.append(
                Segment(s.start, s.end, s.text, s.speaker, words=[Word(s.start, s.end, s.text)])
            )
    return joined


class _Paragraphs(HTMLParser):
    """Plain-text paragraphs of an HTML page; scripts and styles dropped."""

    BREAKS = {
        "p",
        "br",
        "div",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "section",
        "dt",
        "dd",
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = [""]
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag in self.BREAKS:
            self.paragraphs.append("")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.BREAKS:
            self.paragraphs.append("")

    def handle_data(self, data):
        if not self._skip:
            self.paragraphs[-1] += data


def parse_html(text: str) -> list[Segment]:
    """HTML: one segment per paragraph; leading timestamps and `Name:` labels are kept."""
    parser = _Paragraphs()
    parser.feed(text)
    parser.close()
    return _timed_paragraphs(parser.paragraphs)


def parse_text(text: str) -> list[Segment]:
    """Plain text: one segment per non-blank line, timestamps and speakers as in HTML."""
    return _timed_paragraphs(text.splitlines())


def _timed_paragraphs(paragraphs: list[str]) -> list[Segment]:
    """Paragraphs into segments. Untimed ones take the previous time (0 at first); a label
    line alone ("Jane Doe 00:01:02") gives its speaker and time to the next paragraph."""
    segments: list[Segment] = []
    pending: tuple[str | None, float | None] = (None, None)
    for paragraph in paragraphs:
        line = " ".join(paragraph.split())
        if not line:
            continue
        speaker, start = None, None
        if m := _LEADING_TIME.match(line):
            start, line = _seconds(m.group(1)), line[m.end() :]
        elif m := _SPEAKER_THEN_TIME.match(line):
            speaker, start, line = m.group(1), _seconds(m.group(2)), line[m.end() :]
        if speaker is None and (m := _LEADING_SPEAKER.match(line)):
            speaker, line = m.group(1), line[m.end() :]
        if not line.strip():
            pending = (speaker or pending[0], start if start is not None else pending[1])
            continue
        speaker = speaker or pending[0]
        start = start if start is not None else pending[1]
        pending = (None, None)
        if start is None:
            start = segments[-1].start if segments else 0.0
        segments.append(Segment(start, start, line.strip(), speaker))
    # A paragraph ends where the next begins; the last one's end stays its start.
    for current, following in zip(segments, segments[1:], strict=False):
        current.end = max(current.start, following.start)
    return segments
