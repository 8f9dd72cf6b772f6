"""Datasette hooks for the archive: SQL functions for times and page links, and cell rendering.

Registered by `ingest.datasette.serve.make_datasette`. The static site's base URL comes from the
plugin configuration (`plugins.podarchive.site_url` in the metadata), so each Datasette instance
links to its own site even when several run in one process (tests).
"""

from __future__ import annotations

import json
import re

import markupsafe
from datasette import hookimpl

from ingest.store import search
from ingest.timecode import clock

PLUGIN_NAME = "podarchive"
# Tables whose start/end columns are seconds from the start of the audio.
TIMED_TABLES = {"segments", "passages", "topic_moments", "chapters"}
# Stored-query columns holding FTS5 snippet()/highlight() output with <mark> around matches.
HIGHLIGHT_MARKS = ("<mark>", "</mark>")


def format_time(seconds) -> str | None:
    """Seconds as a player's clock (m:ss, h:mm:ss); None for an empty or unreadable cell."""
    if seconds is None or seconds == "":
        return None
    try:
        return clock(seconds)
    except (TypeError, ValueError):
        return None


def episode_page_url(site_url: str, slug: str | None, seconds=None) -> str | None:
    """The static page of an episode, at `seconds` into the audio when given (#t=, Media
    Fragments URI 1.0 temporal dimension, whole seconds)."""
    if not slug:
        return None
    url = f"{site_url.rstrip('/')}/episodes/{slug}/"
    if seconds is not None and seconds != "":
        url += f"#t={int(float(seconds))}"
    return url


# FTS5 query syntax (sqlite.org/fts5.html section 3): "phrases", barewords, prefix*, ^initial,
# phrase + phrase, (groups) and the AND / OR / NOT operators between them.
_FTS5_TOKEN = re.compile(r'"(?:[^"]|"")*"\*?|\w+\*?|[()^+]')
# What the search box holds, split on spaces outside quoted phrases.
_CHUNK = re.compile(r'"(?:[^"]|"")*"\*?|\S+')


def _is_fts5_syntax(chunk: str) -> bool:
    """Whether FTS5 tokens alone make up `chunk` (no stray punctuation)."""
    position = 0
    while position < len(chunk):
        match = _FTS5_TOKEN.match(chunk, position)
        if match is None:
            return False
        position = match.end()
    return True


def search_query(query: str | None) -> str:
    """The search box's text for FTS5 MATCH: FTS5 syntax passes as typed ("reverse interview",
    grit OR resilience, transp*), and a word with punctuation FTS5 does not accept (don't,
    hiring-manager) becomes a quoted phrase instead of a syntax error. Text using quotes or
    parentheses is left to FTS5, whose error then says what is wrong."""
    chunks = []
    for chunk in _CHUNK.findall(query or ""):
        if _is_fts5_syntax(chunk) or any(c in chunk for c in '"()'):
            chunks.append(chunk)
        else:
            chunks.append(f'"{chunk}"')
    return " ".join(chunks)


def site_url_of(datasette) -> str:
    config = datasette.plugin_config(PLUGIN_NAME) or {}
    return config.get("site_url") or "/"


def highlighted(text: str) -> markupsafe.Markup:
    """Escape everything, then restore only the <mark> tags snippet()/highlight() added."""
    escaped = str(markupsafe.escape(text))
    for mark in HIGHLIGHT_MARKS:
        escaped = escaped.replace(str(markupsafe.escape(mark)), mark)
    return markupsafe.Markup(escaped)


def _linkable(url) -> bool:
    """Only http(s) and site-relative URLs become links (feed text could say javascript:)."""
    return isinstance(url, str) and url.startswith(("http://", "https://", "/"))


def _link(url: str, label) -> markupsafe.Markup:
    label = label if isinstance(label, markupsafe.Markup) else markupsafe.escape(label)
    return markupsafe.Markup('<a href="{}">{}</a>').format(url, label)


def _get(row, key):
    try:
        return row[key]
    except (IndexError, KeyError):
        return None


@hookimpl
def prepare_connection(conn, database, datasette):
    site_url = site_url_of(datasette)
    conn.create_function("mmss", 1, format_time, deterministic=True)
    conn.create_function("match_time", 3, search.match_time, deterministic=True)
    conn.create_function("search_query", 1, search_query, deterministic=True)
    conn.create_function(
        "episode_url",
        2,
        lambda slug, seconds: episode_page_url(site_url, slug, seconds),
        deterministic=True,
    )


def _render_query_cell(row, value, column):
    """Stored queries: highlighted snippets, titles linking to pages, short link labels."""
    if column == "page" and _linkable(value):
        at = _get(row, "at")
        return _link(value, f"open at {at}" if at else "episode page")
    if column == "audio" and _linkable(value):
        return _link(value, "audio")
    if not isinstance(value, str):
        return None
    label = highlighted(value) if HIGHLIGHT_MARKS[0] in value else None
    if column == "episode":
        page = _get(row, "page")
        if _linkable(page):
            return _link(page, label if label is not None else value)
    return label


def _render_episode_cell(row, value, column, datasette):
    if column == "duration":
        return format_time(value)
    if column == "title" and isinstance(value, str):
        page = episode_page_url(site_url_of(datasette), _get(row, "slug"))
        if page:
            return _link(page, value)
    if column in ("enclosure_url", "audio") and _linkable(value):
        return _link(value, "audio")
    if column in ("topics", "guests") and isinstance(value, str) and value.startswith("["):
        try:
            return ", ".join(str(item) for item in json.loads(value))
        except ValueError:
            return None
    return None


def _start_link(row, seconds, database, datasette):
    """A start time as m:ss linking to the episode page at that second."""

    async def inner():
        label = format_time(seconds)
        episode_id = _get(row, "episode_id")
        if isinstance(episode_id, dict):  # Datasette expanded the foreign key to its label
            episode_id = episode_id.get("value")
        if episode_id is None:
            return label
        # One primary-key lookup per cell: a page shows at most a few hundred rows.
        slug = await datasette.get_database(database).execute_fn(
            lambda conn: search.episode_slug(conn, episode_id)
        )
        page = episode_page_url(site_url_of(datasette), slug, seconds)
        return _link(page, label) if page else label

    return inner


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if table is None:
        return _render_query_cell(row, value, column)
    if table in TIMED_TABLES and column == "start" and isinstance(value, int | float):
        return _start_link(row, value, database, datasette)
    if table in TIMED_TABLES and column == "end":
        return format_time(value)
    if table in ("episodes", "episode_list"):
        return _render_episode_cell(row, value, column, datasette)
    return None
