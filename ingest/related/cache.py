"""A copy of the passage vectors beside the archive, so a build reads from SQLite only the
vectors of episodes that changed (reading a million of them took 10 s at 10,000 episodes).

    <archive>/.cache/related-vectors.npz   the float16 matrix, each row's passage id and
                                           episode, the model, and per episode the count and
                                           passage-id sum of its stored vectors then

An episode is taken from the copy only while its stored vectors count and sum as they did
(`ingest.store.related.vector_counts`, read from an index) and it is not stale; everything
else is read again. The file is written under a temporary name and renamed, so a killed build
leaves the last whole copy, and a copy that cannot be read (or fails its CRC) is no copy.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path

import numpy as np

from ingest.related.nearest import Vectors
from ingest.store import related as related_store

FOLDER = ".cache"
NAME = "related-vectors.npz"
FORMAT = 1  # the layout of the file: a copy of another layout is not read


def path_for(db) -> Path | None:
    """Where the copy of `db`'s vectors lives (None for a database in memory)."""
    file = related_store.database_file(db)
    return Path(file).parent / FOLDER / NAME if file else None


def read(db, model: str, stale: set[str]) -> tuple[Vectors, int, bool]:
    """Every stored vector of `model`, from the copy where it holds and from SQLite where it
    does not; how many rows were read from SQLite, and whether the copy is now out of date."""
    counts = related_store.vector_counts(db)
    path = path_for(db)
    cached = _load(path, model) if path else None
    if cached is None:
        vectors = Vectors(*related_store.vector_rows(db, model))
        return vectors, len(vectors.ids), True
    names, ids, matrix, known = cached
    vectors = Vectors(names, ids.tolist(), matrix)
    kept = [
        name
        for name in vectors.names
        if name not in stale and name in counts and known.get(name) == counts[name]
    ]
    fresh = {name for name in counts if name in stale or known.get(name) != counts[name]}
    if not fresh and len(kept) == len(vectors.names):
        return vectors, 0, False
    old = vectors.reordered(kept, [])
    new = Vectors(*related_store.vector_rows(db, model, fresh)) if fresh else None
    if new is None or not len(new.ids):
        return old, 0, True
    if not len(old.ids):
        return new, len(new.ids), True
    episodes = [n for k, n in enumerate(old.names) for _ in range(old.ends[k] - old.starts[k])]
    episodes += [n for k, n in enumerate(new.names) for _ in range(new.ends[k] - new.starts[k])]
    ids = np.concatenate([old.ids, new.ids]).tolist()
    merged = Vectors(episodes, ids, np.concatenate([old.matrix, new.matrix]))
    return merged, len(new.ids), True


def write(db, model: str, vectors: Vectors) -> None:
    """Keep `vectors` (all of `model`'s, as read this build) for the next build."""
    path = path_for(db)
    if path is None:
        return
    counts = related_store.vector_counts(db)
    names = np.array(vectors.names, dtype=str)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            np.savez(
                out,
                format=np.array(FORMAT),
                model=np.array(model),
                matrix=np.ascontiguousarray(vectors.matrix, dtype="<f2"),
                ids=vectors.ids.astype(np.int64),
                names=names,
                spans=np.stack([vectors.starts, vectors.ends], axis=1).astype(np.int64)
                if len(names)
                else np.zeros((0, 2), dtype=np.int64),
                counted=np.array(list(counts), dtype=str),
                counts=np.array(list(counts.values()), dtype=np.int64).reshape(-1, 2),
            )
        # No fsync: a copy that a crash left torn fails its zip CRC on reading, and is no copy.
        os.replace(tmp, path)
    except OSError:  # no copy is slower, not wrong
        with contextlib.suppress(OSError):
            tmp.unlink()


def _load(path: Path, model: str):
    """(row episodes, ids, matrix, episode -> (count, sum)) from the copy, or None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != FORMAT or str(data["model"]) != model:
                return None
            matrix, ids, names, spans = data["matrix"], data["ids"], data["names"], data["spans"]
            counted, counts = data["counted"].tolist(), data["counts"].tolist()
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if len(ids) != len(matrix) or (len(spans) and spans[-1][1] != len(ids)):
        return None
    rows = [name for name, (a, b) in zip(names.tolist(), spans.tolist(), strict=True)
            for _ in range(b - a)]  # fmt: skip
    known = {name: (int(n), int(total)) for name, (n, total) in zip(counted, counts, strict=True)}
    return rows, ids, matrix, known
