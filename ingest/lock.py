"""One job at a time per archive: an advisory lock file, safe for cron.

flock(2) locks die with their process, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from ingest.archive import make_archive_folder

LOCK_NAME = ".podarchive.lock"


class ArchiveBusy(RuntimeError):
    """Another run holds the archive's lock."""


@contextmanager
def archive_lock(root: Path, wait_seconds: float = 0.0):
    """Hold the archive's lock for the block; raise ArchiveBusy if another run keeps it too long."""
    make_archive_folder(root)
    path = root / LOCK_NAME
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise ArchiveBusy(
                        f"another podarchive run (pid {holder}) is working on {root}"
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
