"""The per-episode work of a build: each episode page and its text download (the transcript
read, grouped into paragraphs, its words timed, the page rendered), shared between the build's
process and forked workers when a build has many to make.

Which pages are due is decided by the build (their input hashes); this module only makes them.
Workers are forked, so they share the build's data and templates as they were; each opens its
own connection to the archive (a SQLite connection must not cross a fork) and writes its files
atomically itself; the build records what they wrote.

The build's own process is one of the makers: it starts the workers, renders its other pages
while they work, then takes jobs too until none are left. One process per core in all: a
third process beside two workers made every page cost more CPU time (the cores' caches are
shared by turns), and the build no faster.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

WORKERS = 2  # processes making pages, the build's own included: the machines have two cores
# Below this many episodes a build renders them itself: forking and opening the archive twice
# costs more than it saves (a new episode's build renders one or two).
PARALLEL_FROM = 200
CHUNK = 16  # episodes a process takes at a time
_POLL_SECONDS = 1.0  # how often the build looks whether a worker it waits for is still alive


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


Make = Callable[[object, Job], Done]


@contextmanager
def making(
    jobs: list[Job], make: Make, db, db_file: str, workers: int = WORKERS
) -> Iterator[Iterator[Done]]:
    """`make(db, job)` for every job, in any order, by this process and `workers - 1` forked
    ones (each with a connection to `db_file` of its own) when there are many and fork is there.

    The block gets an iterator of what was made. Forked workers start at once, so the block
    can do other work before reading it; reading it, this process makes jobs too."""
    forking = "fork" in multiprocessing.get_all_start_methods()
    if len(jobs) < PARALLEL_FROM or workers < 2 or not db_file or not forking:
        yield (make(db, job) for job in jobs)
        return
    context = multiprocessing.get_context("fork")
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    claimed = context.Value("i", 0)  # chunks taken so far, by any process
    results = context.Queue()  # (chunk number, [Done]) from the workers
    processes = [
        context.Process(target=_work, args=(make, chunks, db_file, claimed, results), daemon=True)
        for _ in range(workers - 1)
    ]
    for process in processes:
        process.start()
    try:
        yield _gather(make, db, chunks, claimed, results, processes)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
            process.join()


def _claim(claimed, count: int) -> int | None:
    """The next chunk no process has taken, taken; None when all are."""
    with claimed.get_lock():
        number = claimed.value
        if number >= count:
            return None
        claimed.value = number + 1
    return number


def _work(make: Make, chunks: list[list[Job]], db_file: str, claimed, results) -> None:
    """A forked worker: chunks claimed and made until none are left, each result sent back."""
    import sqlite3

    import sqlite_utils

    uri = f"file:{db_file}?mode=ro"  # a worker only reads
    db = sqlite_utils.Database(sqlite3.connect(uri, uri=True))
    while (number := _claim(claimed, len(chunks))) is not None:
        results.put((number, [make(db, job) for job in chunks[number]]))


def _gather(make: Make, db, chunks, claimed, results, processes) -> Iterator[Done]:
    """This process's share of the chunks, and the workers' as they arrive. A chunk a worker
    took and never sent back (it died) is made here at the end, so no page goes missing."""
    received: set[int] = set()

    def arrived(wait: bool) -> Iterator[Done]:
        try:
            number, made = results.get(timeout=_POLL_SECONDS) if wait else results.get_nowait()
        except queue.Empty:
            return
        received.add(number)
        yield from made

    while (number := _claim(claimed, len(chunks))) is not None:
        received.add(number)
        for job in chunks[number]:
            yield make(db, job)
        yield from arrived(wait=False)
    while len(received) < len(chunks) and (
        any(p.is_alive() for p in processes) or not results.empty()
    ):
        yield from arrived(wait=True)
    for number in range(len(chunks)):
        if number not in received:
            for job in chunks[number]:
                yield make(db, job)
