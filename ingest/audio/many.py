"""Many downloads at once on a few threads, each outcome handed back to the caller's thread."""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import httpx

from ingest.audio.download import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    DownloadError,
    DownloadResult,
    ExistingFile,
    Limits,
    RetryPolicy,
    download,
    file_matches,
)
from ingest.progress import Bars, Progress, on_terminal


@dataclass(frozen=True)
class DownloadJob:
    """One enclosure to fetch; `key` is the caller's id for it (an episode id)."""

    key: str
    url: str
    folder: Path
    name: str  # file name without extension: a stable id, never feed text
    type_hint: str | None = None  # the feed's enclosure type, used only to choose the extension
    existing: ExistingFile | None = None  # check this first; fetch only if it does not match


def download_bars(total_jobs: int) -> Bars:
    """Bars on stderr: one per running download (bytes, rate, time left), one counting them."""
    bars = Bars(stderr=True, transient=True, rows="bytes")
    bars.begin(total_jobs, "download", unit="episodes")
    return bars


def progress_for(total_jobs: int, stream=None) -> Progress:
    """Download bars on a terminal; silent when piped, in CI ($CI set) or with nothing to do."""
    if total_jobs and on_terminal(stream or sys.stderr):
        return download_bars(total_jobs)
    return Progress()


def run_job(
    client: httpx.Client,
    job: DownloadJob,
    *,
    limits: Limits = Limits(),  # noqa: B008
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> DownloadResult:
    """Reuse the job's existing file if it still matches its size and hash, else download it."""
    if job.existing is not None:
        if file_matches(job.existing):
            return DownloadResult(
                path=job.existing.path,
                size=job.existing.size or 0,
                sha256=job.existing.sha256 or "",
                reused=True,
            )
        job.existing.path.unlink(missing_ok=True)  # stale or corrupt: never serve it again
    progress = progress or Progress()
    progress.start(job.key)
    try:
        return download(
            client,
            job.url,
            job.folder,
            job.name,
            type_hint=job.type_hint,
            limits=limits,
            retry=retry,
            progress=lambda done, total: progress.update(job.key, done, total),
            cancel=cancel,
        )
    finally:
        progress.finish(job.key)


def download_many(
    client: httpx.Client,
    jobs: Iterable[DownloadJob],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    limits: Limits = Limits(),  # noqa: B008
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008
    progress: Progress | None = None,
) -> Iterator[tuple[DownloadJob, DownloadResult | DownloadError]]:
    """Run jobs on a few threads; yield each outcome in the caller's thread as it completes.

    The caller records outcomes (e.g. in SQLite) from its own thread, so no database connection
    crosses threads. One job's failure is yielded as a DownloadError and the rest go on.
    """
    workers = max(1, min(concurrency, MAX_CONCURRENCY))
    cancel = threading.Event()
    pending_jobs = iter(jobs)
    running: dict[Future, DownloadJob] = {}

    def submit_next(pool: ThreadPoolExecutor) -> None:
        for job in itertools.islice(pending_jobs, workers - len(running)):
            future = pool.submit(
                run_job,
                client,
                job,
                limits=limits,
                retry=retry,
                progress=progress,
                cancel=cancel,
            )
            running[future] = job

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="download")
    try:
        submit_next(pool)
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                try:
                    outcome: DownloadResult | DownloadError = future.result()
                except DownloadError as error:
                    outcome = error
                except Exception as error:  # one broken episode must not stop the run
                    outcome = DownloadError(f"unexpected {type(error).__name__}: {error}")
                yield job, outcome
            submit_next(pool)
    finally:
        # On Ctrl-C (or the caller stopping early) running downloads stop at their next chunk,
        # leaving `.part` files the next run resumes.
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
