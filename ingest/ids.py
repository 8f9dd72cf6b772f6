"""Stable identifiers and folder-safe names. Feed text never becomes a path without passing here."""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_SLUG_LENGTH = 60
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# The one rule for a name that becomes one path segment (a folder, a file's stem, a URL part):
# lowercase ASCII letters, digits and hyphens, not starting with a hyphen or a dot, and short.
# Every id below fits it; ids read back from the database or from file names are checked with it.
_SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")


def is_safe_id(value: object) -> bool:
    """True for a lowercase id or slug that is safe as one path segment."""
    return isinstance(value, str) and bool(_SAFE_ID.match(value))


def slugify(text: str, max_length: int = MAX_SLUG_LENGTH) -> str:
    """Lowercase ASCII letters, digits and single hyphens only; '' when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def short_hash(*parts: str, length: int = 12) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


def show_id_for(title: str, feed_url: str) -> str:
    """A readable, folder-safe show id: the title's slug, or a hash of the feed URL."""
    return slugify(title, max_length=40) or "show-" + short_hash(feed_url, length=8)


def episode_id_for(show_id: str, guid: str) -> str:
    """Stable episode id: survives title, enclosure and description changes (the guid does not)."""
    return short_hash(show_id, guid, length=16)


def episode_slug_for(title: str, episode_id: str) -> str:
    """URL slug for an episode page; the id suffix keeps it unique and hard to collide."""
    base = slugify(title, max_length=50)
    return f"{base}-{episode_id[:6]}" if base else episode_id
