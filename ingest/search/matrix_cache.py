"""The passage vectors as float32 `.npy` files beside the archive, memory-mapped by search, so
a new `podarchive search` process does not read and convert every vector from SQLite (1.2 s
of a 1.8 s query at 3,000 episodes; mapping the copy takes 0.1 s).

    <archive>/.cache/search-vectors/<stamp>/ids.npy      passage ids, int64, in row order
                                            matrix.npy   one float32 unit row per passage
                                            codes.npy    the rows' signs as bits, for an
                                                         archive large enough to search
                                                         through ingest.search.shortlist

The folder's name is a digest of what says the stored vectors changed (the model, m170's
change counter, the largest passage id, and the database file's identity, so an archive
rebuilt from scratch with the same counter is not taken for the old one): a folder with the
current name is current, and any other is out of date and removed by the next write. The
folder is built under a temporary name and renamed whole, so a killed writer leaves no copy
that could be read as one; a search that cannot write it (a read-only archive) reads SQLite
as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np

from ingest.fileio import atomic_folder, remove_all_but

FOLDER = Path(".cache") / "search-vectors"
FORMAT = 2  # the layout of the files: a folder of another layout is never read (2: codes.npy)


def load(
    conn: sqlite3.Connection, file: str, model: str, stamp: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(passage ids, float32 matrix, sign codes or None) of `model`'s stored vectors in the
    database `file` (the one `conn` reads, ':memory:' for none): memory-mapped from the copy
    when it is current, else read from SQLite and copied for the next process. The codes are
    there only for an archive the shortlist searches."""
    from ingest.search import shortlist
    from ingest.store import vectors

    folder = _folder_for(conn, file, model, stamp)
    if folder is not None:
        mapped = _mapped(folder)
        if mapped is not None:
            return mapped
        shutil.rmtree(folder, ignore_errors=True)  # a damaged copy is never kept over a whole one
    ids, matrix = vectors.load_matrix(conn, model)
    codes = shortlist.sign_codes(matrix) if shortlist.wanted(len(ids)) else None
    if folder is not None and len(ids):
        _write(folder, ids, matrix, codes)
    return ids, matrix, codes


def _folder_for(conn: sqlite3.Connection, file: str, model: str, stamp: tuple) -> Path | None:
    """Where the copy for this stamp lives; None for a database in memory."""
    if file == ":memory:":
        return None
    try:
        info = os.stat(file)
    except OSError:
        return None
    key = json.dumps([FORMAT, model, list(stamp), _largest_id(conn), info.st_dev, info.st_ino])
    return Path(file).parent / FOLDER / hashlib.sha256(key.encode()).hexdigest()[:20]


def _largest_id(conn: sqlite3.Connection):
    # One seek on the primary key: the counter alone is 0 again in a rebuilt archive.
    return conn.execute("SELECT max(passage_id) FROM passage_vectors").fetchone()[0]


def _mapped(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """The copy in `folder`, memory-mapped, or None when it is missing or does not add up."""
    from ingest.search import shortlist

    try:
        ids = np.load(folder / "ids.npy", mmap_mode="r", allow_pickle=False)
        matrix = np.load(folder / "matrix.npy", mmap_mode="r", allow_pickle=False)
        codes = None
        if shortlist.wanted(len(ids)):
            codes = np.load(folder / "codes.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if ids.ndim != 1 or matrix.ndim != 2 or len(ids) != len(matrix):
        return None
    if ids.dtype != np.int64 or matrix.dtype != np.float32:
        return None
    if codes is not None and (
        codes.dtype != np.uint64 or codes.shape != (-(-matrix.shape[1] // 64), len(ids))
    ):
        return None
    return ids, matrix, codes


def _write(folder: Path, ids: np.ndarray, matrix: np.ndarray, codes: np.ndarray | None) -> None:
    """Copy the vectors into `folder` and drop the copies of older stamps; a failure to write
    costs the next process its speed, never its results."""
    with contextlib.suppress(OSError):
        with atomic_folder(folder) as building:
            np.save(building / "ids.npy", np.ascontiguousarray(ids, dtype=np.int64))
            np.save(building / "matrix.npy", np.ascontiguousarray(matrix, dtype=np.float32))
            if codes is not None:
                np.save(building / "codes.npy", codes)
        remove_all_but(folder.parent, {folder.name})
