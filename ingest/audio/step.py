"""The archive's download step: every episode's missing audio, each outcome recorded in the store.

The glue between the store (which episodes, what happened) and the downloads of
`ingest.audio.many`. Outcomes are recorded from the calling thread only; SQL stays in
`ingest.store.audio`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from ingest.audio.download import (
    DEFAULT_CONCURRENCY,
    DownloadError,
    ExistingFile,
    Limits,
    RetryPolicy,
    human_size,
)
from ingest.audio.many import DownloadJob, download_many, progress_for

if TYPE_CHECKING:
    import sqlite_utils

    from ingest.archive import Archive


@dataclass
class StepSummary:
    """What one download run did, for its closing line and exit code."""

    downloaded: int = 0
    bytes: int = 0
    resumed: int = 0
    verified: int = 0  # files re-hashed by --verify and found whole
    on_disk: int = 0  # files skipped: present with their stored size
    failed: list[tuple[str, str]] = field(default_factory=list)  # (episode id, message)

    def line(self) -> str:
        parts = [f"downloaded {self.downloaded} ({human_size(self.bytes)})"]
        if self.resumed:
            parts.append(f"resumed {self.resumed}")
        if self.verified:
            parts.append(f"verified {self.verified}")
        parts.append(f"already on disk {self.on_disk}")
        parts.append(f"failed {len(self.failed)}")
        return "Audio: " + ", ".join(parts)


def download_episodes(
    db: sqlite_utils.Database,
    archive: Archive,
    client: httpx.Client,
    *,
    show_id: str | None = None,
    limit: int | None = None,
    verify: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    limits: Limits = Limits(),  # noqa: B008
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008
    on_error: Callable[[str, str], None] | None = None,
    progress_stream=None,
) -> StepSummary:
    """Fetch every episode's missing audio into `archive` and record each outcome in `db`.

    `on_error(label, message)` hears each failure as it happens; the run always goes on.
    """
    from ingest.store import audio as audio_store

    plan = audio_store.plan_downloads(db, archive.root, show_id=show_id, limit=limit, verify=verify)
    summary = StepSummary(on_disk=plan.on_disk)
    tasks = {task.episode_id: task for task in plan.todo}
    jobs = [
        DownloadJob(
            key=task.episode_id,
            url=task.enclosure_url,
            folder=archive.audio_dir / task.show_id,
            name=task.episode_id,
            type_hint=task.enclosure_type,
            existing=ExistingFile(
                archive.root / task.audio_path, task.audio_bytes, task.audio_sha256
            )
            if task.audio_path
            else None,
        )
        for task in plan.todo
    ]
    with progress_for(len(jobs), progress_stream) as progress:
        outcomes = download_many(
            client, jobs, concurrency=concurrency, limits=limits, retry=retry, progress=progress
        )
        for job, outcome in outcomes:
            task = tasks[job.key]
            if isinstance(outcome, DownloadError):
                message = str(outcome)
                audio_store.record_audio_error(db, task.episode_id, message)
                summary.failed.append((task.episode_id, message))
                if on_error is not None:
                    on_error(f"episode {task.episode_id} ({task.title or 'untitled'})", message)
                continue
            if outcome.reused:
                summary.verified += 1
                continue
            audio_store.record_audio(
                db, task.episode_id, archive.root, outcome.path, outcome.size, outcome.sha256
            )
            summary.downloaded += 1
            summary.bytes += outcome.size
            summary.resumed += bool(outcome.resumed_from)
    return summary
