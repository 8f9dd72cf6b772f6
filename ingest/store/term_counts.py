"""What bm25 needs to know of the whole passage index, read without walking it.

FTS5's bm25 counts, on every query, the passages holding each of its terms, over the whole
index: about 45 ns a passage, 70 ms for "the" at 30,000 episodes (1.7 million passages). This
module stores those counts (`passage_term_counts`, migration m190) for the terms in at least
COUNTED_FROM passages, so ingest.search.bm25 can rank a query's few matches itself; a rarer
term is counted when searched, in under 0.3 ms. It also reads what FTS5 keeps for each row and
for the index (a row's token counts in `passages_fts_docsize`, the averages record).

`refresh_term_counts` counts again (7 s at 30,000 episodes) once the passages written since
the last count reach RECOUNT_SHARE of the archive; between counts, `term_counts` scales the
stored ones by the archive's growth, so a term's share of the passages stays as counted.
"""

from __future__ import annotations

import json
import sqlite3

import sqlite_utils

from ingest.store.writes import transaction

COUNTED_FROM = 5_000
RECOUNT_SHARE = 0.01
# FTS5's record of the row count and each column's token total (fts5_index.c).
_AVERAGES_ID = 1


def varints(blob: bytes) -> list[int]:
    """The SQLite varints (1-9 bytes, big-endian, 7 bits a byte) packed in `blob`."""
    values, at = [], 0
    while at < len(blob):
        value = 0
        for n in range(9):
            byte = blob[at]
            at += 1
            if n == 8:  # the ninth byte gives all 8 of its bits
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        values.append(value)
    return values


def index_totals(conn: sqlite3.Connection) -> tuple[int, int]:
    """(rows, tokens in all columns) of passages_fts, as its bm25 reads them."""
    row = conn.execute(
        "SELECT block FROM passages_fts_data WHERE id = ?", [_AVERAGES_ID]
    ).fetchone()
    if row is None or not row[0]:
        return 0, 0
    rows, *columns = varints(row[0])
    return rows, sum(columns)


def row_length(size: bytes) -> int:
    """Tokens in all columns of a passage, from its passages_fts_docsize record: the row
    length bm25 weighs."""
    return sum(varints(size))


def term_counts(conn: sqlite3.Connection, terms: list[str], rows: int) -> dict[int, float]:
    """The stored passage count of each of `terms` that has one (index tokens, porter
    stemmed), scaled from the archive counted to one of `rows` passages."""
    taken = conn.execute("SELECT passages FROM passage_term_counts_taken").fetchone()
    if taken is None or not taken[0]:
        return {}
    scale = rows / taken[0]
    return {
        term: count * scale
        for term, count in conn.execute(
            "SELECT term, passages FROM passage_term_counts WHERE term IN"
            " (SELECT value FROM json_each(?))",
            [_json_list(terms)],
        )
    }


def refresh_term_counts(db: sqlite_utils.Database, force: bool = False) -> bool:
    """Count again the passages holding each common term when RECOUNT_SHARE of the passages
    were written since the last count, or were removed (or `force`); whether it did."""
    rows, _ = index_totals(db.conn)
    taken = db.execute("SELECT passages, last_passage_id FROM passage_term_counts_taken").fetchone()
    if taken is not None and not force:
        counted, last_id = taken
        written = db.execute("SELECT count(*) FROM passages WHERE id > ?", [last_id]).fetchone()
        if max(written[0], counted - rows) < RECOUNT_SHARE * max(rows, 1):
            return False
    last_id = db.execute("SELECT coalesce(max(id), 0) FROM passages").fetchone()[0]
    with transaction(db):
        db.execute(
            "CREATE VIRTUAL TABLE temp.passage_terms USING fts5vocab(main, passages_fts, row)"
        )
        db.execute("DELETE FROM passage_term_counts")
        db.execute(
            "INSERT INTO passage_term_counts (term, passages)"
            " SELECT term, doc FROM temp.passage_terms WHERE doc >= ?",
            [COUNTED_FROM],
        )
        db.execute("DROP TABLE temp.passage_terms")
        db.execute("DELETE FROM passage_term_counts_taken")
        db.execute(
            "INSERT INTO passage_term_counts_taken (passages, last_passage_id) VALUES (?, ?)",
            [rows, last_id],
        )
    return True


def _json_list(values: list) -> str:
    return json.dumps(list(values))
