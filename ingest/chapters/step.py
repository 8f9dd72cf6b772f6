"""The chapters job: chapters and soundbites for every transcribed episode, redone only when
what they are made from changed (transcript, moments, the publisher's chapters, the length).

Publisher chapters win when they are usable: a `psc:chapters` list in the feed first (no fetch),
else the `podcast:chapters` file, else CHAP frames in the audio's ID3 tag. Repairs and
rejections are one warning naming the episode; rejected chapters give way to the next source,
and in the end to generated ones. One failing episode never stops the run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import httpx
import sqlite_utils

from ingest.archive import Archive
from ingest.chapters import publisher
from ingest.chapters.fetch import fetch_chapters
from ingest.chapters.files import write_chapters
from ingest.chapters.generate import Embed, MomentSpan, generate_chapters
from ingest.chapters.id3 import read_id3_chapters
from ingest.chapters.soundbites import pick_soundbites
from ingest.records import Chapter, Segment
from ingest.store import chapters as chapter_store
from ingest.store import tags as tag_store

# Part of every episode's input hash: bump it when what this step makes changes.
CHAPTERS_VERSION = 1
PUBLISHER = "publisher"
GENERATED = "generated"


@dataclass
class ChapterRunResult:
    """What one chapters run did."""

    made: dict[str, str] = field(default_factory=dict)  # episode id -> 'publisher'/'generated'
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # episode id -> error


def input_hash(row: dict, segments: Sequence[Segment], moments: Sequence[dict]) -> str:
    """A hash of everything an episode's chapters and soundbites are made from."""
    payload = [
        CHAPTERS_VERSION,
        [[round(s.start, 2), round(s.end, 2), s.text] for s in segments],
        [[m["name"], round(m["start"], 2), round(m["end"], 2), m["score"]] for m in moments],
        row["chapters_url"],
        row["feed_chapters"],
        row["duration"],
        row["audio_sha256"],  # a new file may carry other ID3 chapters
    ]
    return hashlib.sha256(json.dumps(payload).encode("utf-8")).hexdigest()[:16]


def chapter_archive(
    db: sqlite_utils.Database,
    archive: Archive,
    *,
    client: httpx.Client | None = None,
    embed: Embed | None = None,
    show_id: str | None = None,
    force: bool = False,
    progress: Callable[[str, str], None] | None = None,
) -> ChapterRunResult:
    """Chapters and soundbites for the transcribed episodes (of one show, or all)."""
    from ingest.net import make_client

    result = ChapterRunResult()
    own_client = client is None
    client = client or make_client()
    try:
        for row in chapter_store.episodes_to_chapter(db, show_id):
            episode_id = row["id"]
            try:
                segments = tag_store.load_segments(db, episode_id)
                moments = chapter_store.topic_moments(db, episode_id)
                new_hash = input_hash(row, segments, moments)
                if not force and row["chapters_input_hash"] == new_hash:
                    result.unchanged += 1
                    continue
                chapters, source, warning = _chapters_for(
                    row,
                    segments,
                    moments,
                    client,
                    embed or _default_embed,
                    _audio_file(archive, row),
                )
                spans = [
                    MomentSpan(m["name"], m["start"], m["end"], m["score"], m["quote"] or "")
                    for m in moments
                ]
                soundbites = pick_soundbites(segments, spans, chapters)
                write_chapters(
                    archive.transcripts_dir, row["show_id"], episode_id, chapters, source
                )
                chapter_store.save_chapters(
                    db,
                    episode_id,
                    chapters,
                    soundbites,
                    source=source,
                    warning=warning,
                    input_hash=new_hash,
                )
                result.made[episode_id] = source
                if warning:
                    result.warnings.append(warning)
                if progress:
                    progress(episode_id, f"{len(chapters)} {source} chapters")
            except Exception as exc:  # one bad episode never stops the run
                message = f"episode {episode_id} ({row['title']!r}): {type(exc).__name__}: {exc}"
                result.failed[episode_id] = message
                if progress:
                    progress(episode_id, f"failed: {message}")
    finally:
        if own_client:
            client.close()
    return result


def _chapters_for(
    row: dict,
    segments: Sequence[Segment],
    moments: Sequence[dict],
    client: httpx.Client,
    embed: Embed,
    audio: Path | None,
) -> tuple[list[Chapter], str, str | None]:
    """(chapters, source, warning): the publisher's when usable, else generated. The warning
    is one line naming the episode, saying what was repaired or rejected."""
    label = f"episode {row['id']} ({row['title'][:60]!r})"
    audio_end = _audio_end(row)
    sources: list[tuple[str, Callable[[], publisher.Repaired]]] = []
    feed_items = chapter_store.feed_chapters(row)
    if feed_items:
        sources.append(("in the feed", lambda: publisher.from_feed(feed_items, audio_end)))
    elif row["chapters_url"]:
        url = row["chapters_url"]
        sources.append((url, lambda: publisher.from_json(fetch_chapters(client, url), audio_end)))
    tagged = read_id3_chapters(audio) if audio else []
    if tagged:
        sources.append(("in the audio's ID3 tag", lambda: publisher.from_id3(tagged, audio_end)))
    notes = []
    for where, read in sources:
        try:
            repaired = read()
        except publisher.ChaptersRejected as why:
            notes.append(f"publisher chapters {where} rejected ({why})")
            continue
        if repaired.repairs:
            notes.append(f"publisher chapters {where} repaired: " + "; ".join(repaired.repairs))
        return repaired.chapters, PUBLISHER, f"{label}: " + "; ".join(notes) if notes else None
    spans = [MomentSpan(m["name"], m["start"], m["end"], m["score"]) for m in moments]
    chapters = generate_chapters(segments, spans, audio_end or 0.0, embed)
    warning = f"{label}: " + "; ".join(notes) + "; generated instead" if notes else None
    return chapters, GENERATED, warning


def _audio_file(archive: Archive, row: dict) -> Path | None:
    """The episode's downloaded audio, if the stored path stays inside the archive."""
    relative = row.get("audio_path")
    if (
        not relative
        or PurePosixPath(relative).is_absolute()
        or ".." in PurePosixPath(relative).parts
    ):
        return None
    path = archive.root / relative
    return path if path.is_file() else None


def _audio_end(row: dict) -> float | None:
    """The episode's length: the feed's, unless the talk runs past it (a feed's rounded or
    stale duration must not cut off a chapter people hear)."""
    stated = float(row["duration"] or 0)
    spoken = float(row["spoken_end"] or 0)
    return max(stated, spoken) or None


def _default_embed(texts: Sequence[str]):
    from ingest.embed import encode

    return encode(texts)
