"""The download step's SQL: which episodes need audio, and what each download did."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from ingest.store.writes import now, transaction


@dataclass(frozen=True)
class AudioTask:
    """An episode whose enclosure should be fetched (or, when verifying, whose file re-hashed)."""

    episode_id: str
    show_id: str
    title: str
    enclosure_url: str
    enclosure_type: str | None
    audio_path: str | None  # stored file, relative to the archive folder
    audio_bytes: int | None
    audio_sha256: str | None


@dataclass
class AudioPlan:
    """What a download run has to do: `todo` in order, plus how many are already on disk."""

    todo: list[AudioTask] = field(default_factory=list)
    on_disk: int = 0


def _on_disk(root: Path, row: dict) -> bool:
    """The stored file exists with the stored size (the hash is checked only by --verify)."""
    if not (row["audio_path"] and row["audio_sha256"]):
        return False
    try:
        return (root / row["audio_path"]).stat().st_size == row["audio_bytes"]
    except OSError:
        return False


def plan_downloads(
    db: sqlite_utils.Database,
    root: Path,
    *,
    show_id: str | None = None,
    limit: int | None = None,
    verify: bool = False,
) -> AudioPlan:
    """Episodes with an enclosure but no whole file on disk, newest first (all of them to verify).

    `limit` caps the episodes to fetch; files that are fine do not count against it.
    """
    where = "WHERE enclosure_url IS NOT NULL AND enclosure_url != ''"
    params: list = []
    if show_id:
        where += " AND show_id = ?"
        params.append(show_id)
    rows = db.query(
        "SELECT id, show_id, title, enclosure_url, enclosure_type, audio_path, audio_bytes,"
        f" audio_sha256 FROM episodes {where} ORDER BY published DESC, id",
        params,
    )
    plan = AudioPlan()
    for row in rows:
        if _on_disk(root, row) and not verify:
            plan.on_disk += 1
            continue
        if limit is not None and len(plan.todo) >= limit:
            continue  # keep counting what is on disk
        plan.todo.append(
            AudioTask(
                episode_id=row["id"],
                show_id=row["show_id"],
                title=row["title"],
                enclosure_url=row["enclosure_url"],
                enclosure_type=row["enclosure_type"],
                audio_path=row["audio_path"],
                audio_bytes=row["audio_bytes"],
                audio_sha256=row["audio_sha256"],
            )
        )
    return plan


def record_audio(
    db: sqlite_utils.Database,
    episode_id: str,
    root: Path,
    path: Path,
    size: int,
    sha256: str,
) -> None:
    """Store a whole, verified file: its path relative to the archive folder, size and hash."""
    relative = Path(path).resolve().relative_to(root.resolve()).as_posix()
    with transaction(db):
        db.execute(
            "UPDATE episodes SET audio_path = ?, audio_bytes = ?, audio_sha256 = ?, audio_at = ?,"
            " audio_error = NULL WHERE id = ?",
            [relative, size, sha256, now(), episode_id],
        )


def record_audio_error(db: sqlite_utils.Database, episode_id: str, message: str) -> None:
    """Store why an episode's audio could not be fetched; any earlier file is gone or invalid."""
    with transaction(db):
        db.execute(
            "UPDATE episodes SET audio_error = ?, audio_path = NULL, audio_bytes = NULL,"
            " audio_sha256 = NULL, audio_at = ? WHERE id = ?",
            [message, now(), episode_id],
        )
