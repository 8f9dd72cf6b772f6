"""Titles for what a feed leaves untitled, marked with where they came from (`title_source`).

Podcast apps show an untitled show by its feed's address and an untitled episode by its file
name or date; an empty title would leave a blank link on every page and in Datasette.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import unquote, urlsplit

FROM_FEED = "feed"
FROM_FEED_URL_NAME = "feed URL name"
FROM_FEED_URL_HOST = "feed URL host"
FROM_ENCLOSURE_NAME = "enclosure file name"
FROM_PUBLISHED_DATE = "published date"
NO_TITLE = "none"  # nothing to name it by: the title stays empty

MAX_FALLBACK_LENGTH = 200
# Last path segments that name the format or the platform, not the show.
GENERIC_FEED_NAMES = frozenset(
    {
        "atom",
        "default",
        "feed",
        "feeds",
        "index",
        "itunes",
        "podcast",
        "podcasts",
        "rss",
        "rss2",
        "xml",
    }
)
# File names hosts give every episode alike.
GENERIC_FILE_NAMES = frozenset(
    {"audio", "download", "episode", "file", "listen", "media", "play", "stream"}
)
# Content hashes and UUIDs as file names say nothing to a reader.
_HASH_LIKE = re.compile(r"^[0-9a-f-]{16,}$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")


def _last_name(url: str | None) -> str:
    """The last path segment of `url`, unescaped, without its extension."""
    if not url:
        return ""
    path = urlsplit(url.strip()).path.rstrip("/")
    name = unquote(path.rsplit("/", 1)[-1])
    name = _EXTENSION.sub("", name)
    return " ".join(_CONTROL.sub(" ", name).split())[:MAX_FALLBACK_LENGTH]


def show_title(feed_url: str) -> tuple[str, str]:
    """(title, title_source) for a show whose feed gives no title: the feed URL's name, else its
    host."""
    name = _last_name(feed_url)
    if name and name.lower() not in GENERIC_FEED_NAMES and re.search(r"[^\W\d_]", name):
        return name, FROM_FEED_URL_NAME
    host = (urlsplit(feed_url.strip()).hostname or "").removeprefix("www.")
    return (host, FROM_FEED_URL_HOST) if host else ("", NO_TITLE)


def episode_title(enclosure_url: str | None, published: datetime | None) -> tuple[str, str]:
    """(title, title_source) for an untitled episode: its enclosure's file name, else its date."""
    name = _last_name(enclosure_url)
    if name and name.lower() not in GENERIC_FILE_NAMES and not _HASH_LIKE.match(name):
        return name, FROM_ENCLOSURE_NAME
    if published is not None:
        return published.date().isoformat(), FROM_PUBLISHED_DATE
    return "", NO_TITLE
