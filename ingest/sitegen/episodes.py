"""The per-episode work of a build: each episode page and its text download (the transcript
read, grouped into paragraphs, its words timed, the page rendered), in two processes when a
build has many to make.

Which pages are due is decided by the build (their input hashes); this module only makes them.
Workers are forked, so they share the build's data and templates as they were; each opens its
own connection to the archive (a SQLite connection must not cross a fork) and writes its files
atomically itself; the build records what they wrote.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

WORKERS = 2  # the machines this is built on have two cores
# Below this many episodes a build renders them itself: forking and opening the archive twice
# costs more than it saves (a new episode's build renders one or two).
PARALLEL_FROM = 200
CHUNK = 16  # episodes a worker takes at a time


@dataclass
class Job:
    """One episode to make: its page and/or its text download, each (site path, input hash)."""

    episode: dict
    show: dict
    page: tuple[str, str] | None = None
    text: tuple[str, str] | None = None


@dataclass
class Done:
    """What one job made: files written as (site path, input hash), and errors."""

    written: list[tuple[str, str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # site paths that could not be made
    errors: list[str] = field(default_factory=list)


_WORKER: dict = {}  # what a forked worker makes jobs with, set before the fork


def make_all(
    jobs: list[Job], make: Callable[[object, Job], Done], db, db_file: str, workers: int = WORKERS
) -> Iterator[Done]:
    """`make(db, job)` for every job, in any order: here, or in `workers` forked processes
    (each with a connection to `db_file` of its own) when there are many and fork is there."""
    forking = "fork" in multiprocessing.get_all_start_methods()
    if len(jobs) < PARALLEL_FROM or workers < 2 or not db_file or not forking:
        for job in jobs:
            yield make(db, job)
        return
    _WORKER.update(make=make, jobs=jobs, db_file=db_file)
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_connect) as pool:
            yield from pool.imap_unordered(_make, range(len(jobs)), chunksize=CHUNK)
    finally:
        _WORKER.clear()


def _connect() -> None:
    import sqlite3

    import sqlite_utils

    uri = f"file:{_WORKER['db_file']}?mode=ro"  # a worker only reads
    _WORKER["db"] = sqlite_utils.Database(sqlite3.connect(uri, uri=True))


def _make(index: int) -> Done:
    return _WORKER["make"](_WORKER["db"], _WORKER["jobs"][index])
