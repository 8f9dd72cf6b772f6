"""Datasette hooks for the archive: SQL functions for times and page links, and cell rendering.

Registered by `ingest.datasette.serve.make_datasette`. The static site's base URL comes from the
plugin configuration (`plugins.podarchive.site_url` in the metadata), so each Datasette instance
links to its own site even when several run in one process (tests).
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, urlencode

import markupsafe
from datasette import hookimpl

from ingest.datasette.fts import is_valid, search_note, search_query
from ingest.feeds.sanitize import sanitize_html
from ingest.ids import is_safe_id
from ingest.net import is_http_url
from ingest.sitegen import urls
from ingest.store import search
from ingest.timecode import clock

PLUGIN_NAME = "podarchive"
# Tables whose start/end columns are seconds from the start of the audio.
TIMED_TABLES = {
    "segments",
    "passages",
    "topic_moments",
    "topic_mentions",
    "chapters",
    "episode_chapters",
    "soundbites",
    "episode_related_moments",
    "topic_review",
}
# Stored-query columns holding FTS5 snippet()/highlight() output with <mark> around matches.
HIGHLIGHT_MARKS = ("<mark>", "</mark>")
LIST_COLUMNS = ("topics", "keyphrases", "guests")  # JSON arrays in episode_list, shown as text
_SAFE_EXT = re.compile(r"^[a-z0-9]{1,5}$")  # an audio file's extension, as the site copies it
# Shown where a link to the site would be, when the server was not told where the site is.
NO_SITE = markupsafe.Markup(
    '<span class="no-site" title="podarchive serve --site-url https://...">no site URL set</span>'
)
__all__ = ["search_query"]  # re-exported: the stored queries' SQL function


def format_time(seconds) -> str | None:
    """Seconds as a player's clock (m:ss, h:mm:ss); None for an empty or unreadable cell."""
    if seconds is None or seconds == "":
        return None
    try:
        return clock(seconds)
    except (TypeError, ValueError):
        return None


def episode_page_url(site_url: str | None, slug: str | None, seconds=None) -> str | None:
    """The static page of an episode, at `seconds` into the audio when given (#t=, Media
    Fragments URI 1.0 temporal dimension, whole seconds); None without a site URL."""
    if not slug or not site_url:
        return None
    url = f"{site_url.rstrip('/')}/{urls.episode_path(slug)}"
    if seconds is not None and seconds != "":
        url += f"#t={int(float(seconds))}"
    return url


def site_url_of(datasette) -> str | None:
    """The static site's base URL, or None when nobody said where the site is: then no link
    is made, since a guessed '/' would point at Datasette's own host and 404."""
    config = datasette.plugin_config(PLUGIN_NAME) or {}
    return config.get("site_url") or None


def archived_audio_url(site_url, show_id, episode_id, audio_path, enclosure_url) -> str | None:
    """The site's copy of a downloaded episode (it is served, the feed's may be gone), else
    the feed's http(s) enclosure, else None."""
    if site_url and audio_path and is_safe_id(show_id or "") and is_safe_id(episode_id or ""):
        ext = PurePosixPath(str(audio_path)).suffix.lower().lstrip(".")
        if _SAFE_EXT.match(ext):
            return f"{site_url.rstrip('/')}/{urls.audio_path(show_id, episode_id, ext)}"
    return enclosure_url if isinstance(enclosure_url, str) and is_http_url(enclosure_url) else None


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


# Hits the search-by-meaning query lists (its SQL function returns them as JSON).
MEANING_HITS = 30


def hybrid_hits(conn, query, mode) -> str:
    """`hybrid_search(q, mode)`: ingest.search.hybrid's hits on this connection as JSON,
    {"mode", "notice", "any_words", "hits": [{"passage_id", "seconds", "snippet", "score",
    ...}]}, for the stored query to join with episodes. The model loads on the first call."""
    from ingest.search import hybrid

    if not isinstance(query, str) or not query.strip():
        return json.dumps({"mode": None, "notice": None, "any_words": False, "hits": []})
    mode = mode if mode in hybrid.MODES else "hybrid"
    ranking = hybrid.search(conn, query, mode=mode, limit=MEANING_HITS)
    _remember_notice(query, mode, ranking.notice)
    return ranking.as_json()


# Passages the search_transcripts query lists.
SEARCH_HITS = 50


def passages_found(conn, query, topic, show, date_from, date_to) -> str:
    """`passages_found(q, topic, show, date_from, date_to)`: ingest.search.lexical's best
    passages for the search box's text as JSON, [{"id", "bm25", "snippet", "seconds"}], for
    the stored search_transcripts query to join with episodes."""
    from ingest.search.lexical import Filters, search_words

    filters = Filters(topic or None, show or None, date_from or None, date_to or None)
    found = search_words(conn, search_query(query), filters, SEARCH_HITS)
    return json.dumps(
        [
            {
                "id": hit.passage_id,
                "bm25": hit.bm25,
                "snippet": hit.snippet,
                "seconds": search.match_time(hit.offsets, hit.marked, hit.start),
            }
            for hit in found
        ]
    )


# The notice of each recent search by meaning ("Searching by words only: ..."), for the page
# that ran it: the SQL function returns rows, and the page is rendered after it in this
# process. A few are kept, as several searches may be rendered at once.
_NOTICES: dict[tuple[str, str], str | None] = {}
_NOTICES_KEPT = 64


def _remember_notice(query: str, mode: str, notice: str | None) -> None:
    _NOTICES.pop((query, mode), None)
    _NOTICES[(query, mode)] = notice
    while len(_NOTICES) > _NOTICES_KEPT:
        del _NOTICES[next(iter(_NOTICES))]


def meaning_note(query, mode) -> str | None:
    """What the search by meaning just run for `query` told its searcher (a fallback to words,
    some words only), else None; as the page names them (mode empty for the default)."""
    from ingest.search import hybrid

    if not isinstance(query, str) or not query.strip():
        return None
    mode = mode if mode in hybrid.MODES else "hybrid"
    return _NOTICES.get((query, mode))


@hookimpl
def prepare_connection(conn, database, datasette):
    site_url = site_url_of(datasette)
    conn.create_function("hybrid_search", 2, lambda q, mode: hybrid_hits(conn, q, mode))
    conn.create_function("passages_found", 5, lambda *args: passages_found(conn, *args))
    conn.create_function("mmss", 1, format_time, deterministic=True)
    conn.create_function("match_time", 3, search.match_time, deterministic=True)
    conn.create_function("search_query", 1, search_query, deterministic=True)
    conn.create_function(
        "audio_url",
        4,
        lambda show_id, episode_id, audio_path, enclosure: archived_audio_url(
            site_url, show_id, episode_id, audio_path, enclosure
        ),
        deterministic=True,
    )
    conn.create_function(
        "episode_url",
        2,
        lambda slug, seconds: episode_page_url(site_url, slug, seconds),
        deterministic=True,
    )


def _render_query_cell(row, value, column, datasette):
    """Stored queries: highlighted snippets, titles and times linking to pages, short link
    labels, and a note instead of a link when no site URL is set."""
    if column == "page":
        if _linkable(value):
            at = _get(row, "at")
            return _link(value, f"open at {at}" if at else "episode page")
        if value is None and site_url_of(datasette) is None:
            return NO_SITE
    if column == "at" and isinstance(value, str) and _linkable(_get(row, "page")):
        return _link(_get(row, "page"), value)
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


def _render_episode_cell(row, value, column, database, datasette):
    if column == "duration":
        return format_time(value)
    if column == "title" and isinstance(value, str):
        page = episode_page_url(site_url_of(datasette), _get(row, "slug"))
        if page:
            return _link(page, value)
    if column == "description_html" and isinstance(value, str):
        # Show notes as the listener sees them; sanitised again here, because the database is
        # not trusted to still hold what ingest wrote.
        return markupsafe.Markup(f'<div class="notes">{sanitize_html(value)}</div>')
    if column in ("enclosure_url", "audio") and isinstance(value, str):
        return _audio_link(row, value, database, datasette)
    if (
        column in ("topics", "keyphrases", "guests")
        and isinstance(value, str)
        and value.startswith("[")
    ):
        try:
            return ", ".join(str(item) for item in json.loads(value))
        except ValueError:
            return None
    return None


def _audio_link(row, enclosure_url, database, datasette):
    """An episode row's audio: the site's archived copy when there is one (see
    `archived_audio_url`), else the feed's URL."""

    async def inner():
        episode_id = _get(row, "id")
        found = None
        if isinstance(episode_id, str):
            found = await datasette.get_database(database).execute_fn(
                lambda conn: conn.execute(
                    "SELECT show_id, audio_path FROM episodes WHERE id = ?", [episode_id]
                ).fetchone()
            )
        show_id, audio_path = found if found else (None, None)
        url = archived_audio_url(
            site_url_of(datasette), show_id, episode_id, audio_path, enclosure_url
        )
        return _link(url, "audio") if url else None

    return inner


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
        return _render_query_cell(row, value, column, datasette)
    if table in TIMED_TABLES and column == "start" and isinstance(value, int | float):
        return _start_link(row, value, database, datasette)
    if table in TIMED_TABLES and column == "end":
        return format_time(value)
    if table in ("episodes", "episode_list"):
        return _render_episode_cell(row, value, column, database, datasette)
    return None


# FTS5's shadow tables (sqlite.org/fts5.html, "FTS5 shadow tables"): index internals, and
# Datasette's row links into *_fts_idx (a BLOB in the primary key) answer 404.
_FTS_SHADOW = re.compile(r"_fts_(data|idx|content|docsize|config)$")


@hookimpl
def permission_allowed(action, resource):
    shadow = isinstance(resource, tuple) and bool(_FTS_SHADOW.search(str(resource[-1])))
    return False if action == "view-table" and shadow else None


@hookimpl
def startup(datasette):
    async def warm_search_by_meaning():
        from ingest.embed import EmbeddingsUnavailable
        from ingest.search import hybrid

        for database in datasette.databases.values():
            if database.is_memory:
                continue
            # Without the model, search by meaning says so and runs by words.
            with contextlib.suppress(EmbeddingsUnavailable):
                await database.execute_fn(hybrid.warm)

    return warm_search_by_meaning


@hookimpl
def extra_template_vars(datasette):
    return {
        "search_note": search_note,
        "meaning_note": meaning_note,
        "site_url": site_url_of(datasette),
    }


def _safe_search_args(query_string: bytes) -> bytes:
    """A table page's `_search` / `_search_<column>` values that FTS5 would reject, made plain
    words (table searches pass their text to MATCH as typed: `searchmode: raw`)."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    if not any(k.startswith("_search") and v.strip() and not is_valid(v) for k, v in pairs):
        return query_string
    fixed = [(k, search_query(v) if k.startswith("_search") else v) for k, v in pairs]
    return urlencode(fixed).encode("latin-1")


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def searchable(scope, receive, send):
            if scope.get("type") == "http" and b"_search" in scope.get("query_string", b""):
                scope = dict(scope, query_string=_safe_search_args(scope["query_string"]))
            await app(scope, receive, send)

        return searchable

    return wrap
