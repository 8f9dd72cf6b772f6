"""Rank transcript passages by their words: one FTS5 query, filters included, bm25 ranked.

Every search by words runs here: the stored `search_transcripts` query (through the
`passages_found` SQL function), the words' side of hybrid search and `podarchive search`.

Filters are tokens of the `facets` column (migration m180), so a filtered search is the
user's query AND the filter's tokens on the facets column, which weighs 0 in the rank.

A query matching more than RANKED_AT_MOST passages ranks the newest that many (the highest
ids: the most recently indexed), filtered or not: ranking costs about 1.7 us a match, and a
common word matches most of a 30,000-episode archive's 1.7 million passages (bench/search.py:
at 20,000, a filtered common word took 75 ms in SQLite alone, and two common words 70 ms; at
10,000, 62 and 22 ms). When those newest matches all lie in the recent index
(passages_recent_fts, the newest passages of a large archive), they are ranked there: bm25
counts the passages holding each term over the index it ranks in, 80 ms for a stop word over
the whole archive.

A query of plain words whose matches are few next to the passages holding its words (a
question: "how do candidates interview the company" matches 299 of the passages, and its
words are in 3.5 million) is ranked by ingest.search.bm25 instead, to the same scores, from
stored counts of the passages holding each word.
"""

from __future__ import annotations

import calendar
import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta

from ingest.search import bm25

RANKED_AT_MOST = 10_000
# The highlight (matches between char(2) and char(3)) and snippet of a match, {table} its index.
MARKS = "highlight({table}, 0, char(2), char(3)), snippet({table}, 0, '<mark>', '</mark>', '…', 32)"
# An open end of a date range: no episode is published outside these years.
FIRST_YEAR, LAST_YEAR = 1900, 2100
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass
class Match:
    passage_id: int
    episode_id: str
    start: float
    offsets: str  # JSON [[char offset, seconds]] of the passage's words
    marked: str  # the passage text, matches between char(2) and char(3) (ingest.wordtimes)
    snippet: str  # FTS5 snippet, matches in <mark>...</mark>
    bm25: float  # FTS5's rank: lower is better
    rank: int = 0  # position in the ranking, from 1


@dataclass(frozen=True)
class Filters:
    """What a search is limited to; each part optional, all of them must pass."""

    topic: str | None = None  # a tag's slug or name (any case)
    show: str | None = None  # a show id
    date_from: str | None = None  # YYYY-MM-DD (or YYYY-MM, YYYY), inclusive
    date_to: str | None = None  # inclusive

    def __bool__(self) -> bool:
        return bool(self.topic or self.show or self.date_from or self.date_to)

    def passage_ids(self, conn: sqlite3.Connection) -> list[int] | None:
        """Ids of the passages passing every filter (None: no filter), for the search by
        meaning's scan."""
        if not self:
            return None
        facets = self.facets(conn)
        if not facets:
            return []
        sql = "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?"
        return [row[0] for row in conn.execute(sql, [f"facets : ({facets})"])]

    def facets(self, conn: sqlite3.Connection) -> str | None:
        """The filters as an FTS5 expression on the facets column ('' for none), None when no
        passage can pass (an unknown topic, a date that is not one)."""
        parts = []
        if self.topic:
            slugs = [
                row[0]
                for row in conn.execute(
                    "SELECT slug FROM tags WHERE slug = ? OR lower(name) = lower(?)",
                    [self.topic, self.topic],
                )
            ]
            if not slugs:
                return None
            parts.append(" OR ".join(facet_token("t", slug) for slug in slugs))
        if self.date_from or self.date_to:
            days = date_range(self.date_from, self.date_to)
            if days is None:
                return None
            tokens = date_tokens(*days)
            if not tokens:
                return None
            if self.show:  # the show's own date tokens: see the episode_facets view
                tokens = [facet_token("c", self.show) + token for token in tokens]
            parts.append(" OR ".join(tokens))
        elif self.show:
            parts.append(facet_token("s", self.show))
        return " AND ".join(f"({part})" for part in parts)


def facet_token(kind: str, value: str) -> str:
    """The facets column's token for a show ("s") or tag ("t") id, or the start of a show's
    date tokens ("c"), as the episode_facets view writes them: hex keeps any id one token,
    the final 0 keeps porter from stemming it. No spoken word is a letter and hex digits, nor
    a letter and a date's digits (y2021, m202103, d20210315)."""
    return f"{kind}{value.encode().hex()}0"


def date_range(date_from: str | None, date_to: str | None) -> tuple[date, date] | None:
    """The first and last day a range covers; None when a bound is not a date."""
    first = _bound(date_from, last=False) if date_from else date(FIRST_YEAR, 1, 1)
    last = _bound(date_to, last=True) if date_to else date(LAST_YEAR, 12, 31)
    if first is None or last is None:
        return None
    return max(first, date(FIRST_YEAR, 1, 1)), min(last, date(LAST_YEAR, 12, 31))


def _bound(text: str, last: bool) -> date | None:
    match = _DATE.fullmatch(text.strip()[:10])
    if not match:
        return None
    year, month, day = (int(part) if part else None for part in match.groups())
    try:
        if month is None:
            return date(year, 12, 31) if last else date(year, 1, 1)
        if day is None:
            return date(year, month, calendar.monthrange(year, month)[1] if last else 1)
        return date(year, month, day)
    except ValueError:
        return None


def date_tokens(first: date, last: date) -> list[str]:
    """The fewest facet tokens covering the days from `first` to `last`: whole years (y2021),
    whole months (m202103) and days (d20210315), as the episode_facets view writes them."""
    tokens = []
    day = first
    while day <= last:
        year_end = date(day.year, 12, 31)
        month_end = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
        if day.month == 1 and day.day == 1 and year_end <= last:
            tokens.append(f"y{day.year}")
            day = year_end + timedelta(days=1)
        elif day.day == 1 and month_end <= last:
            tokens.append(f"m{day.year}{day.month:02d}")
            day = month_end + timedelta(days=1)
        else:
            tokens.append(f"d{day.year}{day.month:02d}{day.day:02d}")
            day += timedelta(days=1)
    return tokens


def search_words(
    conn: sqlite3.Connection, words: str, filters: Filters | None = None, limit: int = 50
) -> list[Match]:
    """The best `limit` passages for `words` (valid FTS5 syntax: see ingest.datasette.fts)
    that pass `filters`, best first."""
    if not words:
        return []
    # A word typed whole never matches a facet token (see facet_token), but a prefix might;
    # the column filter costs every term's count for bm25 about 40% more, so only a prefix
    # query has it.
    prefix = "*" in words
    match = f"text : ({words})" if prefix else words
    facets = ""
    if filters:
        facets = filters.facets(conn)
        if facets is None:
            return []
        if facets:
            match = f"({match}) AND facets : ({facets})"
    few = bm25.rank_few(conn, words, facets, limit, RANKED_AT_MOST, MARKS) if not prefix else None
    if few is not None:
        return _matches(conn, few)
    recent = _newest_ranked(conn, "passages_recent_fts", match)
    table, floor = "passages_recent_fts", recent
    if recent is None:
        table, floor = "passages_fts", _newest_ranked(conn, "passages_fts", match) or 0
    # The best first, by bm25 alone: FTS5's own ORDER BY rank would count each term's
    # passages twice when the rank is also read (once for the order, once for the value).
    best = conn.execute(
        f"SELECT rowid, bm25({table}, 1.0, 0.0) AS score FROM {table}"
        f" WHERE {table} MATCH ? AND rowid >= ? ORDER BY score, rowid LIMIT ?",
        [match, floor, limit],
    ).fetchall()
    if not best:
        return []
    # Then their snippets: each looked up by rowid, or for a prefix query (which FTS5 would
    # expand again for every lookup) in one pass over the range they lie in.
    ids = [rowid for rowid, _ in best]
    where = f"{table}.rowid IN (SELECT value FROM json_each(?))"
    params = [match, json.dumps(ids)]
    if prefix:
        where = f"{table}.rowid BETWEEN ? AND ? AND +{where}"
        params = [match, min(ids), max(ids), json.dumps(ids)]
    marked = {
        row[0]: row[1:]
        for row in conn.execute(
            f"SELECT {table}.rowid, {MARKS.format(table=table)} FROM {table}"
            f" WHERE {table} MATCH ? AND {where}",
            params,
        )
    }
    return _matches(conn, [(rowid, score, *marked[rowid]) for rowid, score in best])


def _matches(conn: sqlite3.Connection, ranked: list[tuple[int, float, str, str]]) -> list[Match]:
    """The Match of each (passage id, bm25, highlight, snippet), in their order."""
    ids = json.dumps([rowid for rowid, *_ in ranked])
    passages = {
        row[0]: row[1:]
        for row in conn.execute(
            "SELECT id, episode_id, start, offsets FROM passages"
            " WHERE id IN (SELECT value FROM json_each(?))",
            [ids],
        )
    }
    return [
        Match(rowid, *passages[rowid], marked, snippet, score, rank=n)
        for n, (rowid, score, marked, snippet) in enumerate(ranked, 1)
    ]


def _newest_ranked(conn: sqlite3.Connection, table: str, match: str) -> int | None:
    """The id of the RANKED_AT_MOST-th newest passage matching in `table`, None if fewer do."""
    row = conn.execute(
        f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
        [match, RANKED_AT_MOST - 1],
    ).fetchone()
    return row[0] if row else None
