"""Turn archive rows into the plain data the site's pages render (no SQL, no HTML).

Everything read from the database is treated as untrusted: ids and slugs must look like ids
before they become paths, links must be http(s), and show notes are sanitised again at render.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from ingest import wordtimes
from ingest.archive import Archive
from ingest.chapters.files import MIME_TYPE as CHAPTERS_MIME_TYPE
from ingest.chapters.files import SUFFIX as CHAPTERS_SUFFIX
from ingest.ids import is_safe_id, slugify
from ingest.net import is_http_url
from ingest.sitegen import related as site_related
from ingest.sitegen import search as search_index
from ingest.sitegen import urls
from ingest.store import site as site_store
from ingest.timecode import clock

# A paragraph of transcript ends at a speaker change, a pause, or when it grows this long.
PASSAGE_MAX_SECONDS = 60.0
PASSAGE_MAX_CHARS = 700
PASSAGE_PAUSE_SECONDS = 2.0
SUMMARY_CHARS = 220
QUOTE_CHARS = 140
# Passing mentions of a topic listed on its page: the strongest few, for a recruiter who wants
# every place it comes up (the episodes about it are listed in full above them).
MENTIONS_PER_TOPIC = 10

# Transcript files the transcription step writes and the site copies, with the MIME types the
# Podcasting 2.0 `podcast:transcript` tag expects (podcastindex.org namespace, "transcript").
TRANSCRIPT_FORMATS = (
    ("vtt", "WebVTT", "text/vtt"),
    ("srt", "SRT", "application/x-subrip"),
    ("json", "JSON", "application/json"),
)
# The text download is made by the site itself (ingest.sitegen.downloads): a reader's copy
# with the episode's title, date and link, and times and speakers per paragraph.
TEXT_FORMAT = ("txt", "Text", "text/plain")
AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
}
_SAFE_EXT = re.compile(r"^[a-z0-9]{1,5}$")
# Characters a link we print must not hold: they would end or break out of an attribute.
_NOT_IN_LINKS = re.compile(r"[\s<>\"']")


@dataclass
class SiteData:
    """Everything the build renders: shows, episodes (newest first), topics, people, files."""

    shows: list[dict]
    episodes: list[dict]
    topics: list[dict]
    people: list[dict]
    files: dict[str, Path] = field(default_factory=dict)  # site path -> archive file to copy
    errors: list[str] = field(default_factory=list)
    # Episode id -> {"stamp", "digest", "settled"} of its transcript, kept for the next build.
    transcripts: dict[str, dict] = field(default_factory=dict)
    # Topic slug -> passing mentions in episodes not tagged with it, strongest first.
    mentions: dict[str, list[dict]] = field(default_factory=dict)
    # Topic slug -> similar moments in episodes not tagged with it, for the host to review.
    review: dict[str, list[dict]] = field(default_factory=dict)


def safe_url(value: object) -> str:
    """The URL if it is http(s), else '' (drops javascript:, data: and relative tricks)."""
    if not isinstance(value, str):
        return ""
    url = value.strip()
    return url if is_http_url(url) and not _NOT_IN_LINKS.search(url) else ""


def human_duration(seconds: float | int | None) -> str:
    """'1:19' or '1:02:03', as a player shows a length ('1 min' hid 19 s of a short episode);
    '' when unknown."""
    return clock(seconds) if seconds else ""


def iso_duration(seconds: float | int | None) -> str:
    """ISO 8601 duration for schema.org, e.g. PT42M7S."""
    total = max(0, int(seconds or 0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + f"{secs}S"


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def passages(segments: list[tuple], word_times: bool = True) -> list[dict]:
    """Group (start, end, speaker, text[, words]) segments into readable, timestamped
    paragraphs; each keeps `times`, when each of its words is said (ingest.wordtimes), unless
    `word_times` is off (the text download has no use for them, and they are most of the cost)."""
    lines = []
    for start, end, speaker, text, *stored in segments:
        text = (text or "").strip()
        if text:
            lines.append((float(start), float(end), speaker, text, stored[0] if stored else None))
    # Every word of the episode timed at once (most of a page's cost, word by word).
    timed = (
        wordtimes.decode_all([(words, text, start, end) for start, end, _, text, words in lines])
        if word_times
        else [[] for _ in lines]
    )
    result: list[dict] = []
    current: dict | None = None
    for (start, end, speaker, text, _), times in zip(lines, timed, strict=True):
        if current is not None and not (
            speaker != current["speaker"]
            or start - current["end"] >= PASSAGE_PAUSE_SECONDS
            or end - current["start"] > PASSAGE_MAX_SECONDS
            or len(current["text"]) + len(text) > PASSAGE_MAX_CHARS
        ):
            current["text"] += " " + text
            current["end"] = end
            current["times"] += times
            continue
        current = {"start": start, "end": end, "speaker": speaker, "text": text, "times": times}
        result.append(current)
    used: set[int] = set()
    for passage in result:
        passage["t"] = int(passage["start"])
        passage["stamp"] = clock(passage["start"])
        # `id="t=754"` makes `#t=754` scroll to the passage even without JavaScript.
        passage["id"] = "" if passage["t"] in used else f"t={passage['t']}"
        used.add(passage["t"])
    return result


def load(
    db, archive: Archive, show_id: str | None = None, transcripts: dict | None = None
) -> SiteData:
    """Read the archive (or one show of it) into page data; bad rows go to `errors`, not raise.

    `transcripts` is the last build's `SiteData.transcripts`: digests to reuse.
    """
    known = transcripts if isinstance(transcripts, dict) else {}  # the manifest may be stale
    errors: list[str] = []
    shows = []
    show_people = site_store.people_by_show(db)
    for row in site_store.shows(db, show_id):
        if not is_safe_id(row["id"]):
            errors.append(f"show {row['id']!r}: id is not folder-safe, skipped")
            continue
        shows.append(_show(row, show_people.get(row["id"], [])))
    shows_by_id = {show["id"]: show for show in shows}

    people = _people_index(db)
    topic_rows = site_store.topics(db)
    episode_people = site_store.people_by_episode(db)
    episode_topics = site_store.topics_by_episode(db)
    moments = site_store.moments_by_episode(db)
    chapters = site_store.chapters_by_episode(db)
    soundbites = site_store.soundbites_by_episode(db)
    stamps = site_store.transcript_stamps(db)
    this_second = datetime.now(UTC).isoformat(timespec="seconds")
    digests: dict[str, dict] = {}

    files: dict[str, Path] = {}
    listings: dict[str, set[str]] = {}  # show id -> names in its transcripts folder
    untimed: list[dict] = []  # episodes the feed gave no duration
    episodes: list[dict] = []
    seen_slugs: set[str] = set()
    for row in site_store.episodes(db, show_id):
        show = shows_by_id.get(row["show_id"])
        label = f"episode {row['id']!r} ({row['title'][:60]!r})"
        if show is None:
            continue
        if not (is_safe_id(row["id"]) and is_safe_id(row["slug"])):
            errors.append(f"{label}: id or slug is not URL-safe, skipped")
            continue
        if row["slug"] in seen_slugs:
            errors.append(f"{label}: slug {row['slug']!r} is used by another episode, skipped")
            continue
        seen_slugs.add(row["slug"])
        episode = _episode(row, show)
        episode["people"] = [_credit(p, people) for p in episode_people.get(row["id"], [])]
        episode["guests"] = [p for p in episode["people"] if p["role"] == "guest"]
        episode["moments"] = [
            {
                "slug": m["slug"],
                "name": m["name"],
                "start": m["start"],
                "t": int(m["start"]),
                "stamp": clock(m["start"]),
                "quote": short_quote(m["quote"] or ""),
                "speaker": m["speaker"] or "",
            }
            for m in moments.get(row["id"], [])
            if is_safe_id(m["slug"])
        ]
        discussed = {m["slug"] for m in episode["moments"]}
        episode["topics"] = [
            {
                "slug": t["slug"],
                "name": t["name"],
                "url": f"topics/{t['slug']}/",
                # The evidence of a topic named in the show notes but never discussed at
                # length (a discussed one shows its moments instead).
                "notes_quote": (t["notes_quote"] or "") if t["slug"] not in discussed else "",
            }
            for t in episode_topics.get(row["id"], [])
            if is_safe_id(t["slug"])
        ]
        episode["chapters"] = [
            {
                "title": c["title"],
                "start": c["start"],
                "end": c["end"] if c["end"] is not None else c["start"],
                "t": int(c["start"]),
                "stamp": clock(c["start"]),
                "url": safe_url(c["url"]),
            }
            for c in chapters.get(row["id"], [])
        ]
        episode["soundbites"] = [_soundbite(b) for b in soundbites.get(row["id"], [])]
        # The transcript itself is read only for pages that must be rendered (see
        # `with_transcript`); its digest stands for it in the page's input hash.
        stamp = stamps.get(row["id"])
        if stamp:
            digests[row["id"]] = _transcript_digest(
                db, row["id"], list(stamp), known.get(row["id"]), this_second
            )
        episode["transcript_digest"] = digests[row["id"]]["digest"] if stamp else ""
        episode["credits"] = _credits(episode["people"])
        if not episode["duration"] and stamp:
            untimed.append(episode)
        names = listings.get(show["id"])
        if names is None:
            names = listings[show["id"]] = _file_names(archive.transcripts_dir / show["id"])
        error = _attach_files(episode, row, archive, files, names)
        if error:
            errors.append(f"{label}: {error}")
        episodes.append(episode)

    ends = site_store.last_segment_ends(db, [e["id"] for e in untimed])
    for episode in untimed:
        if ends.get(episode["id"]):
            last_end = ends[episode["id"]]
            episode["duration"] = int(last_end)
            episode["duration_display"] = human_duration(last_end)
            episode["duration_iso"] = iso_duration(last_end)

    used_topics = {t["slug"] for e in episodes for t in e["topics"]}
    topics = [
        {
            "slug": slug,
            "name": row["name"],
            "description": row["description"],
            "url": f"topics/{slug}/",
        }
        for slug, row in topic_rows.items()
        if slug in used_topics and is_safe_id(slug)
    ]
    credited = {p["person_id"] for e in episodes for p in e["people"]} | {
        p["person_id"] for s in shows for p in s["people"]
    }
    people_list = sorted(
        (p for p in people.values() if p["person_id"] in credited), key=lambda p: p["name"].lower()
    )
    for show in shows:
        show["people"] = [_credit(p, people) for p in show["people"]]
    mentions = _mentions(db, episodes, {t["slug"] for t in topics})
    # Each episode's related moments (its `related` cards) and each topic's review moments.
    review = site_related.attach(db, episodes, {t["slug"] for t in topics})
    return SiteData(shows, episodes, topics, people_list, files, errors, digests, mentions, review)


def _mentions(db, episodes: list[dict], slugs: set[str]) -> dict[str, list[dict]]:
    """Passing mentions of each topic in `slugs`, in the episodes on the site."""
    on_site = {e["id"]: e for e in episodes}
    return {
        slug: [
            {
                "title": on_site[m["episode_id"]]["title"],
                "url": on_site[m["episode_id"]]["url"],
                "t": int(m["start"]),
                "stamp": clock(m["start"]),
                "quote": short_quote(m["quote"]),
            }
            for m in rows
            if m["episode_id"] in on_site
        ]
        for slug, rows in site_store.mentions_by_topic(db, MENTIONS_PER_TOPIC).items()
        if slug in slugs
    }


def _transcript_digest(
    db, episode_id: str, stamp: list, known: dict | None, this_second: str
) -> dict:
    """The digest of an episode's transcript, reused from the last build while its stamp holds.

    A transcript saved within the second this build runs in could be saved again within that
    second after being read, keeping its stamp; such a digest is not trusted later but computed
    again (the "racy clean" entries of git's index). While it comes out the same the entry is
    kept as it is, so the manifest does not change. Saves without a time (rows written outside
    the store) are trusted on their segment count and ids.
    """
    same_stamp = (
        isinstance(known, dict) and known.get("stamp") == stamp and bool(known.get("digest"))
    )
    if same_stamp and known.get("settled"):
        return known
    digest = site_store.transcript_digest(db, episode_id)
    if same_stamp and known.get("digest") == digest:
        return known
    saved_at = stamp[0]
    return {"stamp": stamp, "digest": digest, "settled": not saved_at or saved_at < this_second}


def _soundbite(row: dict) -> dict:
    """A soundbite as a page and the feed show it: `#t=START,END` is a media-fragment range."""
    start, end = row["start"], row["start"] + row["duration"]
    # Tenths of a second, the start rounded down and the end up: no word of it is cut off.
    fragment = f"t={math.floor(start * 10) / 10:.1f},{math.ceil(end * 10) / 10:.1f}"
    return {
        "title": row["title"],
        "start": start,
        "duration": row["duration"],
        "fragment": fragment,
        "stamp": clock(start),
        "length": clock(row["duration"]),
    }


def summary(episode: dict) -> dict:
    """The fields a list row shows: a list page hashes and renders only these."""
    keys = (
        "id",
        "url",
        "title",
        "show_id",
        "show_title",
        "date_iso",
        "date_display",
        "duration_display",
        "duration_iso",
        "episode_number",
        "summary",
    )
    result = {key: episode[key] for key in keys}
    result["guests"] = [{"name": p["name"], "url": p["url"]} for p in episode["guests"]]
    result["topics"] = [{"name": t["name"], "url": t["url"]} for t in episode["topics"]]
    return result


def _show(row: dict, people: list[dict]) -> dict:
    return {
        "id": row["id"],
        "url": f"shows/{row['id']}/",
        "title": row["title"] or row["id"],
        "description": row["description"] or "",
        "link": safe_url(row["link"]),
        "image_url": safe_url(row["image_url"]),
        "feed_url": safe_url(row["feed_url"]),
        "podcast_guid": row.get("podcast_guid") or "",
        "author": row["author"] or "",
        "language": row["language"] or "en",
        "people": people,
    }


def _episode(row: dict, show: dict) -> dict:
    published = parse_date(row["published"])
    text = " ".join((row["description_text"] or "").split())
    return {
        "id": row["id"],
        "guid": row["guid"],
        "show_id": show["id"],
        "show_title": show["title"],
        "show_url": show["url"],
        "slug": row["slug"],
        "url": urls.episode_path(row["slug"]),
        "title": row["title"] or "(untitled episode)",
        "date_iso": published.isoformat() if published else "",
        "date_display": f"{published:%-d %B %Y}" if published else "",
        "rfc822": f"{published:%a, %d %b %Y %H:%M:%S +0000}" if published else "",
        "duration": row["duration"] or 0,
        "duration_display": human_duration(row["duration"]),
        "duration_iso": iso_duration(row["duration"]),
        "episode_number": row["episode_number"],
        "season": row["season"],
        "notes_html": row["description_html"] or "",
        "summary": text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…",
        "link": safe_url(row["link"]),
        "image_url": safe_url(row["image_url"]) or show["image_url"],
        "language": row["transcript_language"] or show["language"],
        "no_speech": row["transcript_note"] or "",
    }


def short_quote(text: str) -> str:
    """`text` cut to `QUOTE_CHARS`, with an ellipsis where cut."""
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"


def with_transcript(db, episode: dict) -> dict:
    """The episode plus its transcript passages, and each moment with its quote: the sentence
    the tagger found, else (moments stored before quotes) the paragraph it is in."""
    paragraphs = passages(site_store.segments_of(db, episode["id"]))
    starts = [p["start"] for p in paragraphs]
    moments = []
    for moment in episode["moments"]:
        index = bisect.bisect_right(starts, moment["start"] + 0.25) - 1
        text = moment.get("quote") or (paragraphs[index]["text"] if index >= 0 else "")
        moments.append(moment | {"quote": short_quote(text)})
    times = search_index.word_times_meta(paragraphs)
    return episode | {"passages": paragraphs, "moments": moments, "word_times": times}


def _credits(people: list[dict]) -> list[dict]:
    """People grouped by role, in the order given (hosts, then guests, then others)."""
    groups: dict[str, list[dict]] = {}
    for person in people:
        groups.setdefault(person["role"], []).append(person)
    return [
        {"role": role.capitalize() + ("s" if len(group) > 1 else ""), "people": group}
        for role, group in groups.items()
    ]


def _people_index(db) -> dict[int, dict]:
    """Every person with a unique, folder-safe page slug."""
    result: dict[int, dict] = {}
    taken: set[str] = set()
    for row in site_store.people(db):
        slug = slugify(row["name"]) or f"person-{row['id']}"
        if slug in taken:
            slug = f"{slug}-{row['id']}"
        taken.add(slug)
        result[row["id"]] = {
            "person_id": row["id"],
            "name": row["name"],
            "slug": slug,
            "url": f"people/{slug}/",
            "href": safe_url(row["href"]),
            "img": safe_url(row["img"]),
        }
    return result


def _credit(row: dict, people: dict[int, dict]) -> dict:
    person = people[row["person_id"]]
    return {
        "person_id": row["person_id"],
        "name": person["name"],
        "url": person["url"],
        "role": row["role"] or "guest",
    }


def _file_names(folder: Path) -> set[str]:
    """Names of the files in `folder` (one listing instead of a stat per expected file)."""
    try:
        with os.scandir(folder) as entries:
            return {entry.name for entry in entries if entry.is_file()}
    except OSError:
        return set()


def _attach_files(
    episode: dict, row: dict, archive: Archive, files: dict[str, Path], transcript_names: set[str]
) -> str | None:
    """Audio and transcript files to copy into the site (else the feed's enclosure URL).

    Returns an error message when the stored audio path cannot be used; the page is still built.
    """
    show_id, episode_id = episode["show_id"], episode["id"]
    episode["transcript_files"] = []
    folder = archive.transcripts_dir / show_id
    for ext, label, mime in TRANSCRIPT_FORMATS:
        name = f"{episode_id}.{ext}"
        if name in transcript_names:
            # Named by the episode's slug, so a download says what it is (not abdc847839.vtt).
            site_path = urls.transcript_path(show_id, episode["slug"], ext)
            files[site_path] = folder / name
            episode["transcript_files"].append(
                {"ext": ext, "label": label, "type": mime, "url": site_path}
            )
    episode["chapters_file"] = None
    name = f"{episode_id}{CHAPTERS_SUFFIX}"
    if name in transcript_names:
        site_path = urls.transcript_path(show_id, episode["slug"], CHAPTERS_SUFFIX.lstrip("."))
        files[site_path] = folder / name
        episode["chapters_file"] = {"url": site_path, "type": CHAPTERS_MIME_TYPE}
    if episode["transcript_digest"]:
        ext, label, mime = TEXT_FORMAT
        site_path = urls.transcript_path(show_id, episode["slug"], ext)
        episode["transcript_files"].append(
            {"ext": ext, "label": label, "type": mime, "url": site_path}
        )

    episode["audio"] = None
    error = None
    enclosure_type = row["enclosure_type"] or ""
    if row["audio_path"]:
        source = _inside(archive.root, row["audio_path"])
        ext = source.suffix.lower().lstrip(".") if source else ""
        if source is None or not _SAFE_EXT.match(ext):
            error = f"audio path {row['audio_path']!r} is outside the archive or has no extension"
        elif source.is_file():
            site_path = urls.audio_path(show_id, episode_id, ext)
            files[site_path] = source
            mime = AUDIO_TYPES.get(ext) or (
                enclosure_type if enclosure_type.startswith("audio/") else "audio/mpeg"
            )
            episode["audio"] = {"url": site_path, "type": mime, "length": source.stat().st_size}
    enclosure = safe_url(row["enclosure_url"])
    if episode["audio"] is None and enclosure:
        episode["audio"] = {
            "url": enclosure,
            "type": enclosure_type if enclosure_type.startswith("audio/") else "audio/mpeg",
            "length": row["enclosure_length"] or 0,
        }
    return error


def _inside(root: Path, relative: str) -> Path | None:
    """`root/relative` if it stays inside root (the database is not trusted with paths)."""
    if PurePosixPath(relative).is_absolute() or ".." in PurePosixPath(relative).parts:
        return None
    path = (root / relative).resolve()
    return path if path.is_relative_to(root.resolve()) else None
