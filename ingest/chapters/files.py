"""Podcasting 2.0 JSON chapters files, beside an episode's transcripts.

`transcripts/<show>/<episode>.chapters.json` (the stem holds a dot, so the transcript readers,
which take `<episode>.json` for folder-safe ids only, never mistake it for a transcript).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ingest.fileio import write_atomic
from ingest.ids import is_safe_id
from ingest.records import Chapter

SUFFIX = ".chapters.json"
VERSION = "1.2.0"  # of the JSON chapters format (podcast-namespace, chapters/jsonChapters.md)
MIME_TYPE = "application/json+chapters"


def chapters_path(transcripts_dir: Path, show_id: str, episode_id: str) -> Path:
    """Where one episode's chapters file goes. Ids are checked: never a path from feed text."""
    for value in (show_id, episode_id):
        if not is_safe_id(value):
            raise ValueError(f"not a folder-safe id: {value!r}")
    return Path(transcripts_dir) / show_id / f"{episode_id}{SUFFIX}"


def to_json(chapters: Sequence[Chapter], source: str) -> dict:
    """The JSON chapters object; `source` ('publisher' or 'generated') rides along as an
    extension field, which readers of the format ignore."""
    items = []
    for chapter in chapters:
        item: dict = {"startTime": chapter.start, "title": chapter.title}
        if chapter.end > chapter.start:
            item["endTime"] = chapter.end
        if chapter.url:
            item["url"] = chapter.url
        if chapter.image_url:
            item["img"] = chapter.image_url
        items.append(item)
    return {"version": VERSION, "chapters": items, "podarchiveSource": source}


def write_chapters(
    transcripts_dir: Path, show_id: str, episode_id: str, chapters: Sequence[Chapter], source: str
) -> Path:
    """Write the file atomically; return its path."""
    path = chapters_path(transcripts_dir, show_id, episode_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_json(chapters, source), ensure_ascii=False, indent=1) + "\n"
    write_atomic(path, text, durable=True)
    return path
