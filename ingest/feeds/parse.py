"""Parse a podcast feed (RSS 2.0 or Atom, iTunes and Podcasting 2.0 tags) into typed records.

feedparser reads the bytes leniently; `raw` reads what feedparser drops (repeated
`podcast:*` elements, `itunes:new-feed-url`, paging links) strictly from the same bytes.
Nothing here does I/O: fetching is `fetch`, storing is `ingest.store`.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import feedparser

from ingest.feeds import titles
from ingest.feeds.dates import parse_date
from ingest.feeds.enclosures import Candidate, Choice, choose_enclosure, resolve_url
from ingest.feeds.raw import RawFeed, RawItem, read_raw
from ingest.feeds.repair import repair_for
from ingest.feeds.sanitize import html_to_text, sanitize_html, text_to_html
from ingest.net import is_http_url
from ingest.records import Episode, Show

# Longest duration we believe: anything longer is a typo or bytes mistaken for seconds.
MAX_DURATION_SECONDS = 7 * 24 * 3600
EPISODE_TYPES = frozenset({"full", "trailer", "bonus"})
# Season and episode numbers past this are dates or typos (and SQLite's integers end at 2**63).
MAX_NUMBER = 2**31 - 1

# Analytics prefixes that wrap the real enclosure URL ("https://dts.podtrac.com/redirect.mp3/
# cdn.example.com/ep.mp3"). They come and go as a show changes hosts, so identity ignores them.
_TRACKING_PREFIXES = re.compile(
    r"^(?:"
    r"(?:www\.)?podtrac\.com/pts/redirect\.[a-z0-9]+/"
    r"|dts\.podtrac\.com/redirect\.[a-z0-9]+/"
    r"|(?:www\.)?chtbl\.com/track/[^/]+/"
    r"|chrt\.fm/track/[^/]+/"
    r"|pdst\.fm/e/"
    r"|(?:www\.)?pdcn\.co/e/"
    r"|op3\.dev/e(?:,[^/]*)?/"
    r"|pfx\.vpixl\.com/[^/]+/"
    r"|(?:verifi\.)?podscribe\.com/rss/p/"
    r"|pscrb\.fm/rss/p/"
    r"|arttrk\.com/p/[^/]+/"
    r"|mgln\.ai/e/[^/]+/"
    r"|claritaspod\.com/measure/"
    r"|clrtpod\.com/m/"
    r"|prfx\.byspotify\.com/e/"
    r"|tracking\.swap\.fm/track/[^/]+/"
    r")",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_DURATION_UNITS = re.compile(
    r"(\d+(?:\.\d+)?)\s*(h|hr|hrs|hours?|m|min|mins|minutes?|s|sec|secs|seconds?)\b"
)
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
# ISO 8601 durations ("PT1H2M3S"), which some generators write into itunes:duration.
_ISO_DURATION = re.compile(
    r"^p(?:(\d+(?:\.\d+)?)d)?(?:t(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?)?$"
)
_NUMBER = re.compile(r"(\d+)(?:\.(\d+))?")
_ENTITY = re.compile(r"&(?:[a-z][a-z0-9]*|#[0-9]+|#x[0-9a-f]+);", re.IGNORECASE)
_TAG = re.compile(r"</?[a-z][^<>]*>", re.IGNORECASE)
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S)


@dataclass
class ParsedFeed:
    """One feed document read into records, with what went wrong along the way."""

    url: str
    show: Show
    episodes: list[Episode] = field(default_factory=list)
    next_url: str | None = None  # the next page (`atom:link rel="next"`)
    warnings: list[str] = field(default_factory=list)  # item problems; the items are kept
    error: str | None = None  # the document itself is broken (not XML, HTML, truncated)
    # Episodes read leniently after the point where the document broke: they may be cut short,
    # so they may add an episode but must never overwrite a stored one.
    uncertain: set[str] = field(default_factory=set)
    # What was repaired to read the document whole (an undeclared prefix...), in a few words.
    repairs: list[str] = field(default_factory=list)


def parse_duration(value) -> int | None:
    """Seconds from any `itunes:duration` form: SS, MM:SS, HH:MM:SS, "1h 2m", or None."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    if (iso := _ISO_DURATION.match(text)) and any(iso.groups()):
        days, hours, minutes, seconds = (float(part or 0) for part in iso.groups())
        text = str(((days * 24 + hours) * 60 + minutes) * 60 + seconds)
    try:
        if ":" in text:
            parts = [float(p) if p.strip() else 0.0 for p in text.split(":")]
            if len(parts) > 3 or any(p < 0 for p in parts):
                return None
            seconds = 0.0
            for part in parts:
                seconds = seconds * 60 + part
        else:
            seconds = float(text)
    except ValueError:
        units = _DURATION_UNITS.findall(text)
        if not units:
            return None
        seconds = sum(float(n) * _UNIT_SECONDS[unit[0]] for n, unit in units)
    if not 0 <= seconds <= MAX_DURATION_SECONDS or seconds != seconds:  # NaN check
        return None
    return round(seconds)


def normalize_enclosure_url(url: str) -> str:
    """An enclosure URL without scheme, tracking prefixes, query or fragment: a stable key."""
    rest = _SCHEME.sub("", url.strip())
    while True:
        stripped = _TRACKING_PREFIXES.sub("", rest, count=1)
        if stripped == rest:
            break
        rest = _SCHEME.sub("", stripped)
    rest = rest.split("#", 1)[0].split("?", 1)[0]
    host, slash, path = rest.partition("/")
    return host.lower() + slash + path


def _int(value) -> int | None:
    """A non-negative int from text like "3", " 3.0 ", "S3" or "Episode 12"; None for garbage,
    fractions ("12.5" is no episode number) and numbers past MAX_NUMBER."""
    if value is None:
        return None
    match = _NUMBER.search(str(value))
    if match is None or (match.group(2) or "0").strip("0"):
        return None
    number = int(match.group(1))
    return number if number <= MAX_NUMBER else None


def _explicit(value) -> bool | None:
    """`itunes:explicit`: Apple now says true/false; older feeds say yes/no/clean."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "explicit"):
        return True
    if text in ("false", "no", "clean"):
        return False
    return None


def _http_or_none(url: str | None) -> str | None:
    return url.strip() if is_http_url(url) else None


def _image(detail) -> str | None:
    if not detail:
        return None
    return _http_or_none(detail.get("href") or detail.get("url"))


def _text_field(entry, name: str) -> str:
    """A title-like field as plain text, whether the feed marked it up or not."""
    value = (entry.get(name) or "").strip()
    detail = entry.get(f"{name}_detail") or {}
    if "html" in (detail.get("type") or ""):
        return html_to_text(value)
    return value


def _title(entry) -> str:
    """A show's or episode's title as plain text: `title`, else `itunes:title`.

    A title is text, so markup or an entity left in it after XML decoding was escaped twice by
    the feed's generator ("Tom &amp;amp; Jerry"): it is read once more, as a browser would."""
    title = _text_field(entry, "title") or (entry.get("itunes_title") or "").strip()
    if _TAG.search(title):
        title = html_to_text(sanitize_html(title))
    elif _ENTITY.search(title):
        title = html.unescape(title)
    return " ".join(title.split())


def _description(entry) -> tuple[str, str]:
    """(sanitised HTML, plain text): `content:encoded` wins over description/summary."""
    chosen = None
    for content in entry.get("content") or []:
        if content.get("value", "").strip():
            chosen = content
            break
    if chosen is None and (entry.get("summary") or "").strip():
        chosen = entry.get("summary_detail") or {"value": entry.get("summary"), "type": ""}
    if chosen is None:
        return "", ""
    value = chosen.get("value") or ""
    # RSS says description is HTML, but many feeds put plain text with line breaks there.
    if (chosen.get("type") or "").startswith("text/plain"):
        safe = text_to_html(value)
    elif "<" not in value:  # HTML without tags: entities (&amp;) become text, breaks kept
        safe = text_to_html(html.unescape(value))
    else:
        safe = sanitize_html(value)
    return safe, html_to_text(safe)


def _enclosure(entry, raw: RawItem | None, url: str) -> Choice:
    """The item's audio among its RSS, Atom and Media RSS enclosures, and the others.

    The raw item knows every enclosure and the xml:base around each; feedparser's entry, all
    there is for an item read after the document broke, knows no xml:base."""
    if raw is not None:
        candidates = [
            Candidate(e.url, e.type, e.length, e.medium, e.is_default) for e in raw.enclosures
        ]
    else:
        candidates = [
            Candidate(e.get("href") or "", e.get("type"), e.get("length"))
            for e in entry.get("enclosures") or []
        ] + [
            Candidate(
                m.get("url") or "",
                m.get("type"),
                m.get("filesize"),
                (m.get("medium") or "").lower() or None,
                (m.get("isdefault") or "").lower() == "true",
            )
            for m in entry.get("media_content") or []
        ]
    return choose_enclosure([c for c in candidates if c.href.strip()], url)


def _label(title: str, guid: str | None, position: int) -> str:
    """How a message names an item: its title, else its guid, else its position."""
    if title:
        return f"item {position} {title[:80]!r}"
    if guid:
        return f"item {position} (guid {guid[:80]!r})"
    return f"item {position}"


def _match_raw(entries: list, raw: RawFeed) -> list[RawItem | None]:
    """Pair each feedparser entry with the raw item it came from (same order unless broken)."""
    if raw.error is None and raw.refused is None and len(raw.items) == len(entries):
        return list(raw.items)
    by_guid = {item.guid: item for item in raw.items if item.guid}
    by_enclosure = {item.enclosure_url: item for item in raw.items if item.enclosure_url}
    matched = []
    for index, entry in enumerate(entries):
        item = by_guid.get((entry.get("id") or "").strip())
        for enclosure in entry.get("enclosures") or []:
            item = item or by_enclosure.get((enclosure.get("href") or "").strip())
        if item is None and index < len(raw.items):
            candidate = raw.items[index]
            if not candidate.guid and (candidate.title or "") == _text_field(entry, "title"):
                item = candidate
        matched.append(item)
    return matched


def _published(entry):
    # dict.get: feedparser's own get maps a missing "updated" to "published", with a warning.
    for name in ("published", "updated"):
        found = parse_date(dict.get(entry, name), dict.get(entry, f"{name}_parsed"))
        if found is not None:
            return found
    return None


def _episode(entry, raw: RawItem | None, position: int, url: str, warn) -> Episode | None:
    title = _title(entry)
    guid = ((raw.guid if raw else entry.get("id")) or "").strip() or None
    choice = _enclosure(entry, raw, url)
    enclosure, problem = choice.chosen, choice.problem
    link = _http_or_none(entry.get("link"))
    if raw is not None:
        # feedparser copies a guid into the link when the item has none; RSS 2.0 allows that
        # only for isPermaLink guids, and only a real URL is a link.
        permalink = raw.guid if raw.guid_is_permalink else None
        link = resolve_url(url, raw.link) or _http_or_none(permalink)
    if enclosure and enclosure.url == link:
        link = None  # feedparser falls back to the enclosure when an item has no link
    label = _label(title, guid, position)
    if guid is None:
        # Stable identity without a guid: the enclosure minus tracking, else link + title.
        if enclosure:
            guid = normalize_enclosure_url(enclosure.url)
        elif link or title:
            guid = f"{link or ''}#{title}"
        else:
            warn(f"{url}: {label} has no guid, enclosure, link or title: skipped")
            return None
    if problem:
        warn(f"{url}: {label} {problem}")
    published = _published(entry)
    title_source = titles.FROM_FEED
    if not title:
        # After the guid: identity never depends on a title we made up.
        title, title_source = titles.episode_title(enclosure and enclosure.url, published)
        made = f": titled {title!r} from its {title_source}" if title else ""
        warn(f"{url}: {label} has no title{made}")
    description_html, description_text = _description(entry)
    episode = Episode(
        guid=guid,
        title=title,
        title_source=title_source,
        published=published,
        description_html=description_html,
        description_text=description_text,
        link=link,
        enclosure_url=enclosure.url if enclosure else None,
        enclosure_type=enclosure.type if enclosure else None,
        enclosure_length=enclosure.length if enclosure else None,
        other_enclosures=choice.others or [],
        duration=parse_duration(entry.get("itunes_duration")),
        season=_int(entry.get("itunes_season")),
        episode_number=_int(entry.get("itunes_episode")),
        episode_type=_episode_type(entry.get("itunes_episodetype")),
        image_url=_image(entry.get("image")),
        explicit=_explicit(raw.explicit if raw and raw.explicit else entry.get("itunes_explicit")),
        keywords=_keywords(entry, raw),
    )
    if raw is not None:
        episode.transcripts = [t for t in raw.transcripts if is_http_url(t.url)]
        if is_http_url(raw.chapters_url):
            episode.chapters_url, episode.chapters_type = raw.chapters_url, raw.chapters_type
        episode.feed_chapters = raw.feed_chapters
        episode.people = raw.people
    else:
        _single_podcast_tags(entry, episode)
    return episode


def _episode_type(value) -> str | None:
    text = (value or "").strip().lower()
    return text if text in EPISODE_TYPES else None


def _keywords(entry, raw: RawItem | None) -> list[str]:
    words = list(raw.keywords) if raw else []
    for tag in entry.get("tags") or []:
        term = (tag.get("term") or "").strip()
        if term and term not in words:
            words.append(term)
    return words


def _single_podcast_tags(entry, episode: Episode) -> None:
    """Without the raw item, take the one `podcast:*` element feedparser kept."""
    from ingest.records import TranscriptLink

    transcript = entry.get("podcast_transcript") or {}
    if is_http_url(transcript.get("url")):
        episode.transcripts = [
            TranscriptLink(
                url=transcript["url"],
                type=(transcript.get("type") or "").lower(),
                language=transcript.get("language"),
                rel=transcript.get("rel"),
            )
        ]
    chapters = entry.get("podcast_chapters") or {}
    if is_http_url(chapters.get("url")):
        episode.chapters_url, episode.chapters_type = chapters["url"], chapters.get("type")


def _show(parsed, raw: RawFeed, url: str) -> Show:
    channel = parsed.feed
    owner = channel.get("publisher_detail") or {}
    description = ""
    for name in ("summary", "subtitle", "itunes_summary"):
        if (channel.get(name) or "").strip():
            description = html_to_text(sanitize_html(channel[name]))
            break
    categories = list(raw.categories)
    if not categories:
        categories = [t["term"] for t in channel.get("tags") or [] if (t.get("term") or "").strip()]
    title, title_source = _title(channel), titles.FROM_FEED
    if not title:
        title, title_source = titles.show_title(url)
    return Show(
        feed_url=url,
        title=title,
        title_source=title_source,
        description=description,
        link=_http_or_none(channel.get("link")),
        image_url=_image(channel.get("image")) or _http_or_none(channel.get("logo")),
        # feedparser lets itunes:owner's name overwrite itunes:author; the raw XML does not.
        author=raw.author or (channel.get("author") or "").strip() or None,
        owner_name=(owner.get("name") or "").strip() or None,
        owner_email=(owner.get("email") or "").strip() or None,
        language=(channel.get("language") or "").strip() or None,
        categories=categories,
        explicit=_explicit(raw.explicit if raw.explicit else channel.get("itunes_explicit")),
        podcast_guid=raw.podcast_guid or (channel.get("podcast_guid") or None),
        new_feed_url=resolve_url(url, raw.new_feed_url or channel.get("itunes_new-feed-url")),
        people=raw.people,
    )


def _next_url(parsed, raw: RawFeed, url: str) -> str | None:
    href = raw.next_url
    if href is None:
        for link in parsed.feed.get("links") or []:
            if link.get("rel") == "next":
                href = link.get("href")
                break
    return resolve_url(url, href)


def _document_error(content: bytes, headers: Mapping[str, str], parsed, raw: RawFeed) -> str:
    content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if not content.strip():
        return "the response is empty"
    if _HTML_START.match(content[:4096]) or (
        content_type == "text/html" and not parsed.get("version")
    ):
        return f"is an HTML page ({content_type or 'no Content-Type'}), not a podcast feed"
    if raw.error and raw.root is None:
        return f"is not XML ({raw.error})"
    return f"is not an RSS or Atom feed (root element <{raw.root or '?'}>)"


def _read_repaired(content: bytes) -> tuple[bytes, RawFeed, list[str]]:
    """The document, repaired while a repair gets the strict parser further, and what was done.

    A repair is kept only when the repaired document reads at least as many items strictly and
    no longer fails the same way; a document cut short is not repaired into a whole one."""
    raw = read_raw(content)
    done: set[str] = set()
    repairs = []
    while raw.error:
        repair = repair_for(content, raw.error, done=done)
        if repair is None:
            break
        done.add(repair.kind)
        again = read_raw(repair.content)
        if again.error == raw.error or len(again.items) < len(raw.items):
            continue
        content, raw = repair.content, again
        repairs.append(repair.description)
    return content, raw, repairs


def parse_feed(content: bytes, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Read feed bytes (with the response headers) into a Show and its Episodes."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    # Without a base URL feedparser leaves guids as written: given one, it "resolves" a guid
    # like "ep-12" into "https://host/ep-12", and identity must not depend on where we fetched.
    headers.pop("content-location", None)
    content, raw, repairs = _read_repaired(content)
    # A BytesIO, never the bytes: feedparser treats a bare bytes/str argument as a path or URL.
    # nh3 sanitises below; relative URIs are resolved (or dropped) by us, not in every item.
    parsed = feedparser.parse(
        io.BytesIO(content),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    result = ParsedFeed(url=url, show=_show(parsed, raw, url), repairs=repairs)
    for repair in repairs:
        result.warnings.append(f"{url}: is not well-formed XML as served; {repair}")

    if not parsed.get("version") and not parsed.get("entries"):
        result.error = _document_error(content, headers, parsed, raw)
        result.show = Show(feed_url=url)  # an HTML page's <title> is not the show's title
        return result

    entries = parsed.entries
    raw_items = _match_raw(entries, raw)
    if raw.error:
        # expat's words for a document that stops before its end tags
        cut = any(s in raw.error for s in ("no element found", "unclosed token"))
        what = "is truncated" if cut else "is not well-formed XML"
        result.error = (
            f"{what} ({raw.error}); read {len(entries)} items leniently, "
            f"{len(raw.items)} of them before the error"
        )
    if raw.refused:
        result.warnings.append(f"{url}: declares a DTD or entities ({raw.refused}): not expanded")
    seen: dict[str, int] = {}
    for position, (entry, raw_item) in enumerate(zip(entries, raw_items, strict=True), start=1):
        episode = _episode(entry, raw_item, position, url, result.warnings.append)
        if episode is None:
            continue
        if raw.error and raw_item is None and not (entry.get("id") or "").strip():
            # Read after the document broke and without a guid: the guid may be the part that
            # was cut off, and a fallback identity would store a second copy of a known episode.
            result.warnings.append(
                f"{url}: {_label(episode.title, None, position)} was read after the document "
                "broke and has no guid: skipped until the feed is whole"
            )
            continue
        if episode.guid in seen:
            result.warnings.append(
                f"{url}: {_label(episode.title, episode.guid, position)} repeats the guid of "
                f"item {seen[episode.guid]}: kept the first"
            )
            continue
        seen[episode.guid] = position
        result.episodes.append(episode)
        if raw.error and raw_item is None:
            result.uncertain.add(episode.guid)
    result.next_url = _next_url(parsed, raw, url)
    return result
