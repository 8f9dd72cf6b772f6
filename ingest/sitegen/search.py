"""The in-browser search index: Pagefind over the episode pages, swapped in atomically.

One Pagefind page per episode (title, show notes, transcript), read from the built HTML:
`data-pagefind-body` marks what is indexed, `data-pagefind-filter="topic"` the topic filter,
and every transcript passage carries `id="t=SECONDS"`, which Pagefind records as an anchor so
search results can jump to the passage that matched. (bench/site.py compares this with one
record per passage; see its report.)
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

from ingest.errors import PodarchiveError

INDEX_DIR = "pagefind"
EPISODE_GLOB = "episodes/**/*.html"


class SearchIndexError(PodarchiveError, RuntimeError):
    """Pagefind could not build the index."""


def exists(site: Path) -> bool:
    return (site / INDEX_DIR / "pagefind.js").is_file()


def build_index(site: Path) -> int:
    """Index the episode pages under `site` into `site/pagefind/`; return the page count."""
    return asyncio.run(_build(site))


async def _build(site: Path) -> int:
    from pagefind.index import PagefindIndex  # the binary starts only when a build needs it

    staging = site / f".{INDEX_DIR}-new"
    old = site / f".{INDEX_DIR}-old"
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    config = {"force_language": "en", "output_path": str(staging)}
    try:
        async with PagefindIndex(config=config) as index:
            # Leaving the context writes the files to `output_path`.
            result = await index.add_directory(str(site), glob=EPISODE_GLOB)
    except Exception as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise SearchIndexError(f"pagefind failed on {site}: {error}") from error
    # Swap folders so a page never loads half an index: the old one stays until the new is in.
    live = site / INDEX_DIR
    if live.exists():
        live.rename(old)
    staging.rename(live)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(old)
    return int(result.get("page_count", 0))
