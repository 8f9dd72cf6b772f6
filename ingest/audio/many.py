"""Many downloads at once on a few threads, each outcome handed back to the caller's thread."""

from __future__ import annotations

import contextlib
import itertools
import os
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


@dataclass(frozen=True)
class DownloadJob:
    """One enclosure to fetch; `key` is the caller's id for it (an episode id)."""

    key: str
    url: str
    folder: Path
    name: str  # file name without extension: a stable id, never feed text
    type_hint: str | None = None  # the feed's enclosure type, used only to choose the extension
    existing: ExistingFile | None = None  # check this first; fetch only if it does not match


class Progress:
    """Progress reports from download threads; this one stays silent."""

    def start(self, job: DownloadJob) -> None: ...

    def update(self, job: DownloadJob, done: int, total: int | None) -> None: ...

    def finish(self, job: DownloadJob) -> None: ...


class RichProgress(Progress):
    """A rich progress bar per running download (bytes, rate) and one for the whole run."""

    def __init__(self, total_jobs: int):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bars
        from rich.text import Text

        class PerFile(ProgressColumn):
            """A byte column on each download's row; on the run's row, the episode count."""

            def __init__(self, column, count_text: bool = False):
                super().__init__()
                self._column, self._count_text = column, count_text

            def render(self, task):
                if not task.fields.get("count"):
                    return self._column.render(task)
                if self._count_text:
                    return Text(f"{task.completed:.0f}/{task.total:.0f} episodes")
                return Text("")

        self._bars = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            PerFile(DownloadColumn(), count_text=True),
            PerFile(TransferSpeedColumn()),
            PerFile(TimeRemainingColumn()),
            console=Console(stderr=True),
            transient=True,
        )
        self._overall = self._bars.add_task("download", total=total_jobs, count=True)
        self._tasks: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bars.stop()

    def start(self, job: DownloadJob) -> None:
        with self._lock:
            self._tasks[job.key] = self._bars.add_task(job.key, total=None)

    def update(self, job: DownloadJob, done: int, total: int | None) -> None:
        task = self._tasks.get(job.key)
        if task is not None:
            self._bars.update(task, completed=done, total=total)

    def finish(self, job: DownloadJob) -> None:
        with self._lock:
            task = self._tasks.pop(job.key, None)
        if task is not None:
            self._bars.remove_task(task)
        self._bars.advance(self._overall)


def progress_for(total_jobs: int, stream=None) -> contextlib.AbstractContextManager[Progress]:
    """A rich progress display on a terminal; silent when piped or in CI (`$CI` set)."""
    stream = stream or sys.stderr
    if total_jobs and stream.isatty() and not os.environ.get("CI"):
        return RichProgress(total_jobs)
    return contextlib.nullcontext(Progress())


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
    progress.start(job)
    try:
        return download(
            client,
            job.url,
            job.folder,
            job.name,
            type_hint=job.type_hint,
            limits=limits,
            retry=retry,
            progress=lambda done, total: progress.update(job, done, total),
            cancel=cancel,
        )
    finally:
        progress.finish(job)


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
