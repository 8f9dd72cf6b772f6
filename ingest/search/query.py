"""Search an archive from Python or the terminal: ranked hits with episode, time and page.

Runs on the archive's own SQLite connection, without Datasette (whose import alone costs
more than a lexical search's budget); Datasette's search by meaning calls the same
`hybrid.search` through a SQL function, so both rank alike.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass

from ingest.archive import Archive
from ingest.search import hybrid
from ingest.search.lexical import Filters
from ingest.sitegen import urls
from ingest.timecode import clock

# How a snippet marks the matched words (as FTS5 snippet() writes them in the stored queries).
MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"


@dataclass
class Found:
    episode: str
    show: str
    published: str | None
    seconds: int
    at: str
    snippet: str  # matched words in <mark>...</mark>
    page: str  # the episode page's path within the site, at the second
    relevance: float
    lexical_rank: int | None
    semantic_rank: int | None


def describe(conn: sqlite3.Connection, ranking: hybrid.Ranking) -> list[Found]:
    """The hits with their episode, show, date and page path."""
    ids = sorted({hit.episode_id for hit in ranking.hits})
    episodes = {
        row[0]: row[1:]
        for row in conn.execute(
            "SELECT e.id, e.title, sh.title, substr(e.published, 1, 10), e.slug"
            " FROM episodes e JOIN shows sh ON sh.id = e.show_id"
            f" WHERE e.id IN ({','.join('?' * len(ids))})",
            ids,
        )
    }
    found = []
    for hit in ranking.hits:
        title, show, published, slug = episodes[hit.episode_id]
        second = int(hit.seconds)
        found.append(
            Found(
                episode=title,
                show=show,
                published=published,
                seconds=second,
                at=clock(second),
                snippet=hit.snippet,
                page=f"/{urls.episode_path(slug)}#t={second}",
                relevance=round(hit.score, 5),
                lexical_rank=hit.lexical_rank,
                semantic_rank=hit.semantic_rank,
            )
        )
    return found


def search_archive(
    archive: Archive,
    query: str,
    *,
    mode: str = "hybrid",
    limit: int = 10,
    topic: str | None = None,
    show: str | None = None,
) -> tuple[hybrid.Ranking, list[Found]]:
    """Search the archive's transcripts; SearchError when there is no archive.

    A plain read connection: the store (sqlite-utils, which imports NumPy) is opened only when
    segments changed since their passages were built, which a finished run never leaves.
    """
    # Datasette's module, for its error type only when there is an error: it imports asyncio.
    if not archive.db_path.exists():
        from ingest.datasette.query import SearchError

        raise SearchError(f"no archive database at {archive.db_path}")
    filters = Filters(topic=topic, show=show)
    conn = sqlite3.connect(archive.db_path)
    try:
        for first_try in (True, False):
            try:
                if _has_stale_passages(conn):
                    _refresh(archive)
                ranking = hybrid.search(conn, query, mode=mode, limit=limit, filters=filters)
                return ranking, describe(conn, ranking)
            except sqlite3.OperationalError as error:
                # A table or column missing: an archive made before a migration the search
                # reads. Migrated, it is searched once more.
                if first_try and str(error).startswith("no such"):
                    _refresh(archive)
                    continue
                from ingest.datasette.query import SearchError

                raise SearchError(f"cannot search {archive.db_path}: {error}") from error
    finally:
        conn.close()


def _has_stale_passages(conn: sqlite3.Connection) -> bool:
    """Whether passages or their facets are behind the segments, tags and dates."""
    sql = "SELECT 1 FROM passages_stale UNION ALL SELECT 1 FROM passage_facets_stale LIMIT 1"
    return conn.execute(sql).fetchone() is not None


def _refresh(archive: Archive) -> None:
    """Bring the schema, the passages and their facets up to date."""
    from ingest.store.search import refresh_passages

    db = archive.open_db()
    try:
        refresh_passages(db)
    finally:
        db.conn.close()


def as_json(query: str, ranking: hybrid.Ranking, found: list[Found]) -> str:
    """The `--json` output: the query, the mode that ran, any notice, and the hits."""
    return json.dumps(
        {
            "query": query,
            "mode": ranking.mode,
            "notice": ranking.notice,
            "any_words": ranking.any_words,
            "hits": [asdict(hit) for hit in found],
        },
        indent=2,
        ensure_ascii=False,
    )
