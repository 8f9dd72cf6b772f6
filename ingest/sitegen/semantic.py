"""The site's search by meaning: passage vectors from the static model (ingest.embed.static),
in the same shards as the Pagefind index, for search.js to fetch on the first query by meaning.

    semantic/index.json        the model's id and dimension, and the shards in order
    semantic/model.bin         the static model (float32 scales, then int8 rows per token)
    semantic/vocab.txt         its WordPiece vocabulary (search.js tokenizes as Python does)
    semantic/<shard>/passages.json   per episode its page, title, show, date and topics; per
                                     passage its episode and start (tenths of a second)
    semantic/<shard>/vectors.bin     per passage a float32 scale, then the int8 vectors
    semantic/<shard>/text/<n>-<k>.json   episode n's passages k*TEXT_PASSAGES.. as sentences
                                     with the time each starts: fetched only for hits, to
                                     place them and quote

Passages are the server's (ingest.store.search.window_segments, about 45 s), so a hit here
and one from `podarchive search` are the same stretch of talk, and each lands at its sentence
closest to the query (ingest.search.hybrid.passage_sentences, timed by the words' own
times). A shard is built beside its live folder and swapped in; the index is written last.

A live folder due to be rebuilt is marked (`REBUILD_MARK`) before its rebuild starts, so a
rebuild that fails or is killed leaves the old vectors searchable but not "ready": the next
build redoes the shard even though its pages (and their Pagefind shard) are up to date.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ingest.errors import PodarchiveError
from ingest.fileio import remove_all_but, write_atomic
from ingest.sitegen.search import Shard

INDEX_DIR = "semantic"
INDEX = "index.json"
# Passages per sentences file: a hit fetches only the file that holds its passage (about 6 KB:
# a whole 80-minute episode's file was 80 KB, and ten hits' files were most of the margin under
# the 10 MB budget of the first search by meaning); 14 files per 80-minute episode.
TEXT_PASSAGES = 8
REBUILD_MARK = "rebuild"  # in a live shard folder: its rebuild started and has not finished


class SemanticIndexError(PodarchiveError, OSError):
    """Some shards' vectors could not be written (an OSError, as the build's other file
    failures are: the site stands, searched by words, and the next build tries again)."""


def shard_ready(site: Path, name: str, model_id: str) -> bool:
    """Whether the shard's folder is in place, made by `model_id` in this layout, and not left
    mid-rebuild."""
    folder = site / INDEX_DIR / name
    if (folder / REBUILD_MARK).exists():
        return False
    try:
        data = json.loads((site / INDEX_DIR / name / "passages.json").read_bytes())
    except (OSError, ValueError):
        return False
    # Made by this model, in this layout of sentences files (an older layout is rebuilt).
    return data.get("model") == model_id and data.get("text_passages") == TEXT_PASSAGES


def build(
    db, site: Path, shards: Sequence[Shard], episodes: Sequence[dict], rebuild: Iterable[str]
):
    """Write the shards named in `rebuild`, then the model, vocabulary and index; remove the
    folders of shards that are gone. `episodes` are the site's episode dicts (any order).

    A shard that fails does not stop the others; SemanticIndexError names the failed ones
    after the index is written (listing only shards whose folder is in place)."""
    from ingest.embed import VOCAB, static

    model = static.load()
    root = site / INDEX_DIR
    root.mkdir(parents=True, exist_ok=True)
    by_page = {episode["url"] + "index.html": episode for episode in episodes}
    wanted = set(rebuild)
    failed = []
    for shard in shards:
        if shard.name in wanted:
            live = root / shard.name
            if live.is_dir():
                (live / REBUILD_MARK).touch()
            try:
                _build_shard(db, root, shard, [by_page[p] for p in shard.pages], model)
            except (OSError, ValueError, sqlite3.Error) as error:
                failed.append(f"{shard.name}: {error}")
    for name, source in (("model.bin", static.MODEL_FILE), ("vocab.txt", VOCAB)):
        target = root / name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            write_atomic(target, source.read_bytes())
    index = {
        "model": static.MODEL_ID,
        "dimension": model.dimension,
        "shards": [shard.name for shard in shards if (root / shard.name).is_dir()],
    }
    write_atomic(root / INDEX, json.dumps(index, indent=1) + "\n")
    keep = {shard.name for shard in shards} | {INDEX, "model.bin", "vocab.txt"}
    remove_all_but(root, keep)
    if failed:
        raise SemanticIndexError("; ".join(failed))


def episode_passages(db, episode_id: str) -> list[dict]:
    """The episode's search passages (start, text, sentences as [tenths, text])."""
    from ingest.search.hybrid import passage_sentences, time_at
    from ingest.store import site as site_store
    from ingest.store.search import window_segments

    rows = [
        {"id": None, "start": start, "end": end, "text": text, "words": words}
        for start, end, _, text, words in site_store.segments_of(db, episode_id)
    ]
    result = []
    for passage in window_segments(rows):
        offsets = json.loads(passage["offsets"] or "[]")
        said = [
            [round(time_at(offsets, at, passage["start"]) * 10), sentence]
            for at, sentence in passage_sentences(passage["text"])
        ]
        if said:
            result.append({"start": passage["start"], "text": passage["text"], "said": said})
    return result


def _build_shard(db, root: Path, shard: Shard, episodes: list[dict], model) -> None:
    staging, old = root / f".{shard.name}-new", root / f".{shard.name}-old"
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    (staging / "text").mkdir(parents=True)
    listed, starts, texts = [], [], []
    for number, episode in enumerate(episodes):
        passages = episode_passages(db, episode["id"])
        listed.append(
            {
                "url": episode["url"],
                "title": episode["title"],
                "meta": " · ".join(filter(None, [episode["show_title"], episode["date_display"]])),
                "topics": [topic["name"] for topic in episode["topics"]],
            }
        )
        starts.extend([number, round(p["start"] * 10)] for p in passages)
        texts.extend(p["text"] for p in passages)
        said = [p["said"] for p in passages]
        for chunk, first in enumerate(range(0, len(said), TEXT_PASSAGES)):
            body = json.dumps(
                {"passages": said[first : first + TEXT_PASSAGES]}, separators=(",", ":")
            )
            (staging / "text" / f"{number}-{chunk}.json").write_text(body, "utf-8")
    vectors = model.encode(texts) if texts else np.zeros((0, model.dimension), np.float32)
    from ingest.embed import int8
    from ingest.embed.static import MODEL_ID

    (staging / "vectors.bin").write_bytes(int8.pack(vectors))
    data = {
        "model": MODEL_ID,
        "episodes": listed,
        "passages": starts,
        "text_passages": TEXT_PASSAGES,
    }
    (staging / "passages.json").write_text(json.dumps(data, separators=(",", ":")), "utf-8")
    live = root / shard.name
    if live.exists():
        live.rename(old)
    os.replace(staging, live)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(old)
