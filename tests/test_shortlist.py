"""The sign-code shortlist that search by meaning scans in a large archive
(ingest.search.shortlist): it keeps the passages nearest the query, leaves out what a filter
excludes, and search through it ranks the sample show as the full scan does."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest

from ingest import embed
from ingest.archive import Archive
from ingest.search import hybrid, matrix_cache, shortlist
from ingest.search.index import embed_passages
from ingest.search.query import search_archive
from ingest.store.search import refresh_passages
from tests.site_archive import build_sample_archive

DIMENSION = 384


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _planted(rng, rows: int, near: int, similarity: float):
    """Random unit rows, `near` of them (the last ones) at about `similarity` to a query."""
    query = _unit(rng.standard_normal(DIMENSION))
    matrix = _unit(rng.standard_normal((rows, DIMENSION)))
    noise = _unit(rng.standard_normal((near, DIMENSION)))
    off = np.sqrt(1 - similarity**2)
    matrix[-near:] = _unit(similarity * query + off * noise)
    return query, matrix


def test_the_nearest_rows_are_kept_and_the_list_is_the_share_asked(monkeypatch):
    monkeypatch.setattr(shortlist, "MIN_SHORTLIST", 0)
    rng = np.random.default_rng(7)
    query, matrix = _planted(rng, 30_000, near=40, similarity=0.5)
    codes = shortlist.sign_codes(matrix)
    assert codes.shape == (DIMENSION // 64, len(matrix)) and codes.dtype == np.uint64
    rows = shortlist.nearest_rows(codes, query)
    assert np.all(np.diff(rows) > 0)  # ascending, each once
    wanted = int(shortlist.SHORTLIST_SHARE * len(matrix))
    assert wanted <= len(rows) < 2 * wanted
    exact_top = np.argsort(-(matrix @ query))[:40]
    assert set(exact_top) == set(range(len(matrix) - 40, len(matrix)))  # the planted rows
    assert set(exact_top) <= set(rows.tolist())


def test_rows_a_filter_leaves_out_are_never_listed(monkeypatch):
    monkeypatch.setattr(shortlist, "MIN_SHORTLIST", 0)
    rng = np.random.default_rng(8)
    query, matrix = _planted(rng, 10_000, near=20, similarity=0.6)
    keep = np.ones(len(matrix), dtype=bool)
    keep[-10:] = False  # half the planted rows
    rows = shortlist.nearest_rows(shortlist.sign_codes(matrix), query, keep)
    assert keep[rows].all()
    assert set(range(len(matrix) - 20, len(matrix) - 10)) <= set(rows.tolist())


def test_a_dimension_that_is_not_whole_words_keeps_every_sign():
    rng = np.random.default_rng(9)
    matrix = _unit(rng.standard_normal((50, 100)))
    codes = shortlist.sign_codes(matrix)
    assert codes.shape == (2, 50)
    bits = np.unpackbits(codes.T.copy().view(np.uint8), axis=1)[:, :100]
    assert np.array_equal(bits.astype(bool), matrix > 0)


@pytest.fixture(scope="module")
def sample_archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("shortlist") / "archive"
    archive = Archive.at(root)
    build_sample_archive(archive)
    db = archive.open_db()
    refresh_passages(db)
    embed_passages(db)
    db.conn.close()
    return root


def test_search_through_the_shortlist_ranks_as_the_full_scan(sample_archive, tmp_path, monkeypatch):
    """The sample show searched as a large archive is (every passage through the shortlist,
    the list cut to a third of them): the same first hits, and the codes copied for the next
    process beside the vectors."""
    archive = Archive.at(shutil.copytree(sample_archive, tmp_path / "copy"))
    query = "candidates interview the company"
    hybrid._MATRICES.clear()
    _, exact = search_archive(archive, query, mode="semantic")
    assert not list((archive.root / matrix_cache.FOLDER).glob("*/codes.npy"))

    monkeypatch.setattr(shortlist, "EXACT_UP_TO", 0)
    monkeypatch.setattr(shortlist, "MIN_SHORTLIST", 0)
    monkeypatch.setattr(shortlist, "SHORTLIST_SHARE", 0.34)
    listed_sizes = []
    real_nearest_rows = shortlist.nearest_rows

    def nearest_rows(codes, query_vector, keep=None):
        rows = real_nearest_rows(codes, query_vector, keep)
        listed_sizes.append((len(rows), codes.shape[1]))
        return rows

    monkeypatch.setattr(shortlist, "nearest_rows", nearest_rows)
    hybrid._MATRICES.clear()
    _, listed = search_archive(archive, query, mode="semantic")
    [codes] = (archive.root / matrix_cache.FOLDER).glob("*/codes.npy")
    assert [h.episode for h in listed[:3]] == [h.episode for h in exact[:3]]
    assert listed[0].episode.startswith("One Medical")
    assert listed[0].seconds == exact[0].seconds
    [(scored, passages)] = listed_sizes
    assert scored < passages / 2  # the list was cut: not every passage was scored

    hybrid._MATRICES.clear()  # a new process maps the copy, codes included
    reader = sqlite3.connect(archive.db_path)
    _, matrix, mapped = hybrid._matrix(reader, embed.MODEL_ID)
    reader.close()
    assert isinstance(mapped, np.memmap) and mapped.shape[1] == len(matrix)
    _, hybrid_hits = search_archive(archive, query)
    assert hybrid_hits[0].episode.startswith("One Medical")
