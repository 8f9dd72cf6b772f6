"""Search the archive from Python or the terminal, through the same stored query Datasette runs.

One query (`search_transcripts` in ingest/datasette/metadata.yaml) serves the web and the
terminal, so ranking, snippets and topic filtering can never drift apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from dataclasses import dataclass

from ingest.archive import Archive
from ingest.errors import PodarchiveError

MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"


@dataclass
class SearchHit:
    episode: str
    show: str
    published: str | None
    seconds: int
    at: str  # mm:ss or h:mm:ss
    snippet: str  # matches wrapped in <mark>...</mark>
    page: str  # the episode page at the second the passage starts
    relevance: float


class SearchError(PodarchiveError, ValueError):
    """The query could not run (bad FTS5 syntax, no archive)."""


def search_archive(
    archive: Archive,
    query: str,
    *,
    topic: str | None = None,
    show: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    site_url: str | None = None,
    speaker: str | None = None,
) -> list[SearchHit]:
    """Ranked transcript passages matching `query` (FTS5 syntax: "phrase", OR, prefix*); with
    a `speaker`, that speaker's lines instead (the other filters do not apply to them)."""
    from ingest.datasette.serve import DATABASE_NAME, make_datasette

    if not archive.db_path.exists():
        raise SearchError(f"no archive database at {archive.db_path}")
    datasette = make_datasette(archive, base_url=site_url)
    params = {
        "q": query,
        "topic": topic or "",
        "show": show or "",
        "date_from": date_from or "",
        "date_to": date_to or "",
        "_shape": "array",
    }

    stored = "search_transcripts"
    if speaker:
        stored, params = "search_by_speaker", {"q": query, "speaker": speaker, "_shape": "array"}

    async def fetch():
        return await datasette.client.get(f"/{DATABASE_NAME}/{stored}.json", params=params)

    # Datasette prints a failed query's whole SQL to stderr; the error below says enough.
    with contextlib.redirect_stderr(io.StringIO()):
        response = asyncio.run(fetch())
    if response.status_code != 200:
        try:
            detail = response.json().get("error") or response.text
        except ValueError:
            detail = response.text
        raise SearchError(f"search for {query!r} failed: {detail}")
    return [
        SearchHit(
            episode=row["episode"],
            show=row["show"],
            published=row["published"],
            seconds=row["seconds"] or 0,
            at=row["at"],
            snippet=row["snippet"],
            page=row["page"],
            relevance=row["relevance"],
        )
        for row in response.json()
    ]
