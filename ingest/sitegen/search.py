"""The in-browser search index: Pagefind over the episode pages, swapped in atomically.

One Pagefind page per episode (title, show notes, transcript), read from the built HTML:
`data-pagefind-body` marks what is indexed, `data-pagefind-filter="topic"` the topic filter,
and every transcript passage carries `id="t=SECONDS"`, which Pagefind records as an anchor so
search results can jump to the passage that matched. (bench/site.py compares this with one
record per passage; see its report.)

Each paragraph's text (`<p id="pN">`) is an anchor too, and the page's `times` meta says when
each of its words is said, so search.js shows every matching paragraph as its own sub-result
(its words as the snippet) and links to the first matched word, as Datasette and the command
line do (ingest.wordtimes).
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


def word_times_meta(paragraphs: list[dict]) -> str:
    """The `times` meta of an episode page: per paragraph (in order, "|" between them) its
    first word's time, then each word's offset from it, in tenths of a second, base 36, spaces
    between. Compact (2-3 characters a word) and free of the commas Pagefind splits metas at.
    """
    encoded = []
    for paragraph in paragraphs:
        times = paragraph.get("times") or []
        if not times:
            encoded.append("")
            continue
        first = round(times[0] * 10)
        parts = [_base36(first)] + [_base36(max(round(t * 10) - first, 0)) for t in times]
        encoded.append(" ".join(parts))
    return "|".join(encoded)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if number <= 0:
        return "0"
    out = ""
    while number:
        number, digit = divmod(number, 36)
        out = digits[digit] + out
    return out


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
