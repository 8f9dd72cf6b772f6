"""FTS5's bm25 for a query of plain words with few matches, computed here from stored counts.

bm25 weighs each query word by how many passages hold it, and FTS5 counts those passages over
the whole index on every query (ingest.store.term_counts): at 30,000 episodes, the question
"how do candidates interview the company" spent 85 ms counting its three stop words, though
only 299 passages hold all six words. A query of plain words with few matches for the passages
holding its words (see ROW_COST) is ranked here instead, to FTS5's own scores:

- its matches are walked in the index without the words that more than half the passages
  hold: they filter little, and their long lists cost the walk most ("the" added 25 ms);
- the passages walked are indexed in a small in-memory FTS5 table with the archive's own
  tokenizer, which answers for them exactly as the archive's index would: whether every word
  is there (the words left out of the walk too), each word's count, the highlight and snippet;
- bm25 is FTS5's formula (fts5_aux.c: k1 = 1.2, b = 0.75, an IDF at or below 0 raised to
  1e-6, a row's length in tokens of all its columns), with the stored counts, or for a word
  too rare to be stored, its count now.

A query with search syntax, or with more matches than that, is FTS5's to rank (None).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3

from ingest.store.term_counts import index_totals, row_length, term_counts

# Walking one passage and ranking it here costs about what FTS5's count of this many passages
# holding a term does (56 us against 45 ns: bench/search.py at 30,000 episodes), so a query
# is ranked here while its walk is expected to hold fewer passages than the passages holding
# its terms, summed, divided by this.
ROW_COST = 1_200
K1, B = 1.2, 0.75
IDF_FLOOR = 1e-6
# A word in more than this share of the passages is left out of the walk (checked after it).
COMMON_SHARE = 0.5
_WORD = re.compile(r'"([A-Za-z0-9]+)"|([A-Za-z0-9]+)')
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}
_TOKENIZE = re.compile(r"tokenize\s*=\s*('(?:[^']|'')*'|\"[^\"]*\")", re.IGNORECASE)


def plain_words(query: str) -> list[str] | None:
    """The words of a query made only of words (bare, or each quoted alone), else None."""
    words = []
    for chunk in query.split():
        match = _WORD.fullmatch(chunk)
        if match is None or match.group(2) in _OPERATORS:
            return None
        words.append(match.group(1) or match.group(2))
    return words or None


def rank_few(
    conn: sqlite3.Connection, query: str, facets: str, limit: int, at_most: int, marks: str
) -> list[tuple[int, float, str, str]] | None:
    """(passage id, bm25, highlight, snippet) of the best `limit` passages holding every word
    of `query` and passing `facets` (an FTS5 expression on the facets column, '' for none),
    best first; None when `query` is not plain words, may match more than `at_most`, or is
    quicker for FTS5 to rank (see ROW_COST).
    `marks` is the SQL of the highlight and snippet, with the table's name as {table}."""
    words = plain_words(query)
    if words is None:
        return None
    rows, tokens = index_totals(conn)
    if not rows:
        return None
    scratch = _Scratch(_tokenizer(conn))
    try:
        terms = scratch.terms(words)
        if terms is None:
            return None
        counts = _counts(conn, words, terms, rows)
        common = COMMON_SHARE * rows
        pairs = zip(words, terms, strict=True)
        walked = {term: word for word, term in pairs if counts[term] <= common}
        # As many passages as would hold the walked words if they were said independently.
        expected = rows * math.prod(counts[term] / rows for term in walked)
        at_most = int(min(at_most, sum(counts[term] for term in set(terms)) / ROW_COST))
        if not walked or expected > at_most:
            return None
        match = " ".join(f'"{word}"' for word in walked.values())
        if facets:
            match = f"({match}) AND facets : ({facets})"
        cursor = conn.execute(
            "SELECT f.rowid, p.text, d.sz FROM passages_fts f"
            " JOIN passages p ON p.id = f.rowid JOIN passages_fts_docsize d ON d.id = f.rowid"
            " WHERE passages_fts MATCH ?",
            [match],
        )
        found = cursor.fetchmany(at_most + 1)
        cursor.close()  # the rest of the walk is not needed
        if len(found) > at_most:
            return None
        scratch.add([(rowid, text) for rowid, text, _ in found])
        matching = scratch.matching(query)
        if not matching:
            return []
        frequencies = {term: scratch.frequencies(term) for term in set(terms)}
        scores = _scores(
            matching,
            [_idf(rows, counts[term]) for term in terms],
            [frequencies[term] for term in terms],
            {rowid: row_length(size) for rowid, _, size in found},
            tokens / rows,
        )
        best = sorted(scores, key=lambda pair: (pair[1], pair[0]))[:limit]
        marked = scratch.marks(query, [rowid for rowid, _ in best], marks)
    finally:
        scratch.close()
    return [(rowid, score, *marked[rowid]) for rowid, score in best]


def _idf(rows: int, holding: float) -> float:
    idf = math.log((rows - holding + 0.5) / (holding + 0.5))
    return idf if idf > 0.0 else IDF_FLOOR


def _scores(
    ids: list[int],
    idfs: list[float],
    frequencies: list[dict[int, int]],
    lengths: dict[int, int],
    average_length: float,
) -> list[tuple[int, float]]:
    """(passage id, bm25) of each passage, the terms summed in the query's order as FTS5
    does, so the scores are FTS5's to the last bit."""
    scored = []
    for rowid in ids:
        length = float(lengths[rowid])
        score = 0.0
        for idf, frequency in zip(idfs, frequencies, strict=True):
            f = float(frequency.get(rowid, 0))
            score += idf * ((f * (K1 + 1.0)) / (f + K1 * (1 - B + B * length / average_length)))
        scored.append((rowid, -1.0 * score))
    return scored


def _counts(
    conn: sqlite3.Connection, words: list[str], terms: list[str], rows: int
) -> dict[str, float]:
    """How many passages hold each term: stored, else counted now (a rare term)."""
    counts = term_counts(conn, list(set(terms)), rows)
    for word, term in zip(words, terms, strict=True):
        if term not in counts:
            counts[term] = conn.execute(
                "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?", [f'"{word}"']
            ).fetchone()[0]
    return counts


def _tokenizer(conn: sqlite3.Connection) -> str:
    """The tokenize option of passages_fts as its schema gives it (quoted)."""
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'passages_fts'").fetchone()[0]
    found = _TOKENIZE.search(sql)
    return found.group(1) if found else "'unicode61'"  # FTS5's default


class _Scratch:
    """An in-memory FTS5 table of some passages, tokenized as the archive's index is."""

    def __init__(self, tokenize: str):
        self.conn = sqlite3.connect(":memory:")
        for table in ("found", "words"):
            self.conn.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(text, tokenize={tokenize})")
            self.conn.execute(
                f"CREATE VIRTUAL TABLE {table}_terms USING fts5vocab({table}, instance)"
            )

    def close(self) -> None:
        self.conn.close()

    def terms(self, words: list[str]) -> list[str] | None:
        """The index token of each word, None unless each word is one token."""
        self.conn.execute("INSERT INTO words (rowid, text) VALUES (1, ?)", [" ".join(words)])
        sql = "SELECT term FROM words_terms ORDER BY offset"
        terms = [row[0] for row in self.conn.execute(sql)]
        return terms if len(terms) == len(words) else None

    def add(self, passages: list[tuple[int, str]]) -> None:
        self.conn.executemany("INSERT INTO found (rowid, text) VALUES (?, ?)", passages)

    def matching(self, query: str) -> list[int]:
        """The passages added that hold every word of `query`."""
        sql = "SELECT rowid FROM found WHERE found MATCH ?"
        return [row[0] for row in self.conn.execute(sql, [query])]

    def frequencies(self, term: str) -> dict[int, int]:
        """How many times each passage holds `term`."""
        return dict(
            self.conn.execute(
                "SELECT doc, count(*) FROM found_terms WHERE term = ? GROUP BY doc", [term]
            ).fetchall()
        )

    def marks(self, query: str, ids: list[int], marks: str) -> dict[int, tuple[str, str]]:
        return {
            row[0]: row[1:]
            for row in self.conn.execute(
                f"SELECT rowid, {marks.format(table='found')} FROM found"
                " WHERE found MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
                [query, json.dumps(ids)],
            )
        }
