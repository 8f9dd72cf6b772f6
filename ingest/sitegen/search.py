"""The in-browser search index: Pagefind over the episode pages, in shards, each swapped in
atomically.

One Pagefind page per episode (title, show notes, transcript), read from the built HTML:
`data-pagefind-body` marks what is indexed, `data-pagefind-filter="topic"` the topic filter,
and every transcript passage carries `id="t=SECONDS"`, which Pagefind records as an anchor so
search results can jump to the passage that matched. (bench/site.py compares this with one
record per passage; see its report.)

Each paragraph's text starts at an anchor too (an empty `<span id="pN">`), and the page's
`times` meta says when each of its words is said, so search.js shows every matching paragraph
as its own sub-result (its words as the snippet) and links to the first matched word, as
Datasette and the command line do (ingest.wordtimes).

A shard is a show's episodes in blocks of `SHARD_EPISODES`, counted from the oldest (as the
list pages are), each its own Pagefind bundle in `pagefind/<shard>/`, listed in
`pagefind/shards.json` (with each shard's page count). The search page loads the first and
merges the others in the browser (Pagefind's `mergeIndex`: one result list, sorted by score,
filters across all), and searches the last few shards on their own first, so its first results
do not wait for the whole archive. So a new
episode re-indexes its show's newest shard only, and Pagefind's memory follows the shard, not
the archive: one index of 10,000 episodes peaked at 7.6 GB.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from ingest.errors import PodarchiveError
from ingest.fileio import remove_all_but, write_atomic

INDEX_DIR = "pagefind"
MANIFEST = "shards.json"
# Pagefind needs about 0.75 MB and 25 ms of CPU per 40-minute episode while indexing: 250 keep
# a shard near 200 MB and its re-index near 6 s (bench/site.py), and 10,000 episodes are 40
# shards for the browser to merge.
SHARD_EPISODES = 250
INDEX_TIMEOUT = 600  # seconds for one shard; about 6 s is usual


class SearchIndexError(PodarchiveError, RuntimeError):
    """Pagefind could not build the index."""


def word_times_meta(paragraphs: list[dict]) -> str:
    """The `times` meta of an episode page: per paragraph (in order, "|" between them) its
    first word's time, then each word's offset from it, in tenths of a second, base 36, spaces
    between. Compact (2-3 characters a word) and free of the commas Pagefind splits metas at.
    """
    counts = [len(paragraph.get("times") or []) for paragraph in paragraphs]
    if not any(counts):
        return "|".join("" for _ in paragraphs)
    # Every word of the page at once (numpy's rint rounds halves to even, as round() does).
    flat = np.array(list(chain.from_iterable(p.get("times") or [] for p in paragraphs)))
    tenths = np.rint(flat * 10).astype(np.int64)
    ends = np.cumsum(counts)
    firsts = np.repeat(tenths[np.maximum(ends - counts, 0)], counts)
    offsets = tenths - firsts
    words = _BASE36_SMALL[np.clip(offsets, 0, _SMALL_LIMIT - 1)]
    big = np.flatnonzero(offsets >= _SMALL_LIMIT)
    words[big] = [_base36(int(d)) for d in offsets[big]]
    words = words.tolist()
    encoded = []
    for count, end in zip(counts, ends.tolist(), strict=True):
        if count:
            first = _base36(int(tenths[end - count]))
            encoded.append(first + " " + " ".join(words[end - count : end]))
        else:
            encoded.append("")
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


# Offsets under 36 * 36 tenths (2 min 9.6 s: more than a paragraph, PASSAGE_MAX_SECONDS, lasts)
# have their base-36 text made once.
_SMALL_LIMIT = 36 * 36
_BASE36_SMALL = np.array([_base36(number) for number in range(_SMALL_LIMIT)], dtype=object)


@dataclass(frozen=True)
class Shard:
    """One Pagefind bundle: its folder name under `pagefind/` and the episode pages it holds
    (site-relative paths of `index.html` files)."""

    name: str
    pages: tuple[str, ...]


def shards_of(episodes: Sequence[dict]) -> list[Shard]:
    """The shards of `episodes` (newest first, as `SiteData` holds them): per show, blocks of
    `SHARD_EPISODES` counted from the oldest, so a new episode joins the last block."""
    by_show: dict[str, list[str]] = {}
    for episode in reversed(episodes):
        by_show.setdefault(episode["show_id"], []).append(episode["url"] + "index.html")
    shards = []
    for show_id, pages in sorted(by_show.items()):
        for number, first in enumerate(range(0, len(pages), SHARD_EPISODES), start=1):
            block = tuple(pages[first : first + SHARD_EPISODES])
            shards.append(Shard(f"{show_id}-{number}", block))
    return shards


def exists(site: Path, names: Iterable[str]) -> dict[str, bool]:
    """Whether each shard's bundle is in place."""
    return {name: (site / INDEX_DIR / name / "pagefind.js").is_file() for name in names}


def build_shards(site: Path, shards: Sequence[Shard], rebuild: Iterable[str]) -> int:
    """Index the shards named in `rebuild`, then list all of `shards` in the manifest and remove
    the bundles of shards that are gone; return the pages indexed.

    Each shard is built beside its live bundle and swapped in, and the manifest is written
    last, so a page never loads half an index. A failure raises SearchIndexError and leaves the
    bundles built before it in place (the next build redoes only what is missing).
    """
    wanted = set(rebuild)
    pages = 0
    for shard in shards:
        if shard.name in wanted:
            pages += _build_shard(site, shard)
    root = site / INDEX_DIR
    root.mkdir(parents=True, exist_ok=True)
    # Pages per shard: the search page searches the last few shards on their own first.
    manifest = {"shards": [s.name for s in shards], "pages": [len(s.pages) for s in shards]}
    write_atomic(root / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    # Gone shards, and what a killed build left (dot-named staging folders).
    keep = {s.name for s in shards} | {MANIFEST}
    remove_all_but(root, keep)
    return pages


def _build_shard(site: Path, shard: Shard) -> int:
    from pagefind.service import get_executable  # the binary the pagefind wheel ships

    binary = get_executable()
    if binary is None or not Path(binary).is_file():
        raise SearchIndexError(f"pagefind failed on {site}: no pagefind binary ({binary})")
    root = site / INDEX_DIR
    root.mkdir(parents=True, exist_ok=True)
    staging, old = root / f".{shard.name}-new", root / f".{shard.name}-old"
    # The shard's pages are hard-linked into a folder of their own, at the same relative paths,
    # for Pagefind to read as a site.
    source = root / f".{shard.name}-pages"
    for leftover in (staging, old, source):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        for rel in shard.pages:
            target = source / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(site / rel, target)
        # The command line, not the Python API: the API's service answers before its files are
        # on disk and is stopped on leaving its context, which under load left empty files (an
        # index no browser can open). The command exits when the bundle is written.
        command = [str(binary), "--site", str(source), "--output-path", str(staging)]
        command += ["--glob", "episodes/**/*.html", "--force-language", "en", "--silent"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=INDEX_TIMEOUT)
        if done.returncode != 0:
            raise SearchIndexError((done.stderr or done.stdout).strip()[-500:])
        entry = json.loads((staging / "pagefind-entry.json").read_bytes())
        page_count = sum(language["page_count"] for language in entry["languages"].values())
    except (OSError, ValueError, KeyError, subprocess.SubprocessError, SearchIndexError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        message = f"pagefind failed on {site}, shard {shard.name}: {error}"
        raise SearchIndexError(message) from error
    finally:
        shutil.rmtree(source, ignore_errors=True)
    live = root / shard.name
    if live.exists():
        live.rename(old)
    staging.rename(live)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(old)
    return page_count
