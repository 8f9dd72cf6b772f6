"""Rank transcript passages for a query: by words (BM25), by meaning (cosine), or both fused.

Hybrid (the default) takes the best CANDIDATES passages of each list and fuses them by
reciprocal rank (Cormack et al. 2009: score = sum of 1 / (RRF_K + rank)), which needs no
calibration between BM25 and cosine scores. Each hit is placed at the sentence that answers
the query: among the passage's sentences, the one closest in meaning (the first matched word
when the query's words are in it), so the link lands on what was said, not the passage start.
The words' list comes from ingest.search.lexical; the meaning's list is scanned on a second
thread meanwhile (ingest.search.shortlist in a large archive).

Typed search syntax ("a phrase", OR, NOT, prefix*) means exact words: those queries run
lexical whatever the mode. An all-words query that matches nothing is run again as any of
its words (OR, ranked by BM25), so a five-word question sharing three words with the answer
still finds it. Without stored vectors or the model, search says so once and runs lexical.
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import re
import sqlite3
import threading
from dataclasses import asdict, dataclass

from ingest import wordtimes
from ingest.datasette import fts
from ingest.search.lexical import Filters, Match, search_words

MODES = ("hybrid", "semantic", "lexical")
RRF_K = 60  # the constant of the RRF paper; larger flattens the head of each list
CANDIDATES = 50  # passages taken from each list before fusing
# A passage holding only some of the query's words (the any-words fallback) is weaker evidence
# than one holding them all: its rank counts half in the fusion.
ANY_WORDS_WEIGHT = 0.5
# Hits placed by meaning use the sentence vectors stored with each passage (migration m170).
# A passage without them (embedded before they were stored) costs about 10 ms of CPU a
# sentence to embed at query time, so only the first hit's are.
MOMENT_HITS = 1
# A "sentence" longer than this (a transcript without punctuation) is cut into pieces this long.
SENTENCE_WORDS = 32
SNIPPET_CHARS = 240
_SYNTAX = re.compile(r'["*^()]|\b(?:OR|AND|NOT|NEAR)\b')
_SENTENCE = re.compile(r"[^.!?]*(?:[.!?]+|$)")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Hit:
    passage_id: int
    episode_id: str
    seconds: float  # where the link starts: LEAD_SECONDS before the sentence or word
    snippet: str  # the sentence that answers, matched words in <mark>...</mark>
    score: float
    lexical_rank: int | None = None
    semantic_rank: int | None = None


@dataclass
class Ranking:
    hits: list[Hit]
    mode: str  # the mode that ran (lexical when the query is typed syntax or vectors are missing)
    notice: str | None = None  # what the searcher should know (a fallback), else None
    any_words: bool = False  # the all-words query found nothing: these match any of its words

    def as_json(self) -> str:
        return json.dumps(
            {"mode": self.mode, "notice": self.notice, "any_words": self.any_words}
            | {"hits": [asdict(hit) for hit in self.hits]}
        )


def is_exact(query: str) -> bool:
    """Whether the query is typed search syntax (phrases, operators, prefixes): exact words."""
    return bool(_SYNTAX.search(query or ""))


def any_words_query(query: str) -> str:
    """The query's content words joined by OR (FTS5), stop words left out ('' if none)."""
    from ingest.tags.text import STOP_WORDS

    words = [w for w in _WORD.findall((query or "").lower()) if w not in STOP_WORDS]
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


def lexical_candidates(
    conn: sqlite3.Connection,
    query: str,
    limit: int = CANDIDATES,
    filters: Filters | None = None,
) -> tuple[list[Match], bool]:
    """BM25-ranked passages holding every word (as typed syntax when it is), else, for plain
    words, any of them; and whether that any-words fallback ran."""
    found = search_words(conn, fts.search_query(query), filters, limit)
    if found or is_exact(query):
        return found, False
    fallback = search_words(conn, any_words_query(query), filters, limit)
    return fallback, bool(fallback)


# The stored vectors as one matrix (and, in a large archive, their sign codes: see
# ingest.search.shortlist), per database file, reloaded when they change. Datasette answers
# from several threads; the lock keeps them from loading it twice at once.
_MATRICES: dict[str, tuple] = {}
_MATRIX_LOCK = threading.Lock()


def _database_file(conn: sqlite3.Connection) -> str:
    for _, name, path in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return path or ":memory:"
    return ":memory:"


def _matrix(conn: sqlite3.Connection, model: str):
    """(passage ids, float32 matrix, sign codes or None) of the stored vectors."""
    from ingest.search import matrix_cache
    from ingest.store import vectors

    key = _database_file(conn)
    if not vectors.has_table(conn):
        return None, None, None
    stamp = (model, *vectors.stamp(conn))
    with _MATRIX_LOCK:
        cached = _MATRICES.get(key)
        if cached and cached[0] == stamp and key != ":memory:":
            return cached[1:]
        loaded = matrix_cache.load(conn, key, model, stamp)
        _MATRICES[key] = (stamp, *loaded)
    return loaded


def _searched_vectors(conn: sqlite3.Connection, filters: Filters | None) -> tuple | None:
    """(ids, matrix, sign codes or None, mask of the rows `filters` allow or None): what
    the scan reads, looked up on `conn`, so the scan itself needs no connection."""
    import numpy as np

    from ingest import embed

    ids, matrix, codes = _matrix(conn, embed.MODEL_ID)
    if ids is None or not len(ids):
        return None
    keep = None
    allowed = filters.passage_ids(conn) if filters else None
    if allowed is not None:
        keep = np.isin(ids, np.asarray(allowed, dtype=np.int64))
    return ids, matrix, codes, keep


def _nearest(searched: tuple | None, query_vector, limit: int) -> list[tuple[int, float]]:
    """(passage id, cosine) of the passages closest in meaning, best first."""
    import numpy as np

    from ingest.search import shortlist

    if searched is None:
        return []
    ids, matrix, codes, keep = searched
    if codes is not None:
        rows = shortlist.nearest_rows(codes, query_vector, keep)
        ids, scores = ids[rows], _products(matrix[rows], query_vector)
    else:
        scores = _products(matrix, query_vector)
        if keep is not None:
            scores = np.where(keep, scores, -np.inf)
    count = min(limit, int(np.isfinite(scores).sum()))
    if count <= 0:
        return []
    top = np.argpartition(-scores, count - 1)[:count]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in top]


def _products(matrix, vector):
    """Each row of `matrix` times `vector`, on this thread alone. NumPy's own loop on one
    core reads the rows as fast as OpenBLAS's threads on two (a matrix-vector product waits
    on memory), and OpenBLAS's threads keep spinning after a call, on the core the words'
    query of a hybrid search runs on (bench/search.py at 30,000 episodes: the paraphrase
    query took 114 ms with `@`, 68 ms with this)."""
    import numpy as np

    return np.einsum("ij,j->i", matrix, vector)


def _by_meaning(searched: tuple | None, query: str) -> tuple:
    """(query vector, semantic candidates): the model and the scan, which release the GIL,
    so this runs beside the words' SQLite query on the other core."""
    from ingest import embed

    query_vector = embed.encode([query])[0]
    return query_vector, _nearest(searched, query_vector, CANDIDATES)


@functools.cache
def _meaning_worker():
    """The threads that search by meaning, shared by every caller (Datasette's SQL threads
    among them): two, one a core, so concurrent searches queue here rather than crowd."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="search-by-meaning")


# A forked child (the site build's page workers) has none of its parent's threads.
os.register_at_fork(after_in_child=_meaning_worker.cache_clear)


def warm(conn: sqlite3.Connection) -> bool:
    """Load the vectors and the model now, when the database has vectors (a server's start),
    so the first search by meaning costs what every other does; whether it did."""
    if vectors_missing(conn) is not None:
        return False
    from ingest import embed

    embed.load_encoder()
    _matrix(conn, embed.MODEL_ID)
    return True


def vectors_missing(conn: sqlite3.Connection) -> str | None:
    """Why search by meaning cannot run on this database, else None."""
    from ingest.store import vectors

    try:
        from ingest import embed
    except ImportError as error:  # NumPy itself missing
        return f"search by meaning needs {error.name}"
    embedded, total = vectors.coverage(conn, embed.MODEL_ID)
    if total and not embedded:
        return "no passage has been embedded yet (podarchive tag or run embeds them)"
    return None


def passage_sentences(text: str) -> list[tuple[int, str]]:
    """(character offset, sentence) of each sentence of a passage's text, long ones in pieces
    of SENTENCE_WORDS words."""
    found = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        stripped = sentence.strip()
        if not stripped:
            continue
        at = match.start() + sentence.index(stripped)
        words = wordtimes.tokens(stripped)
        for first in range(0, len(words), SENTENCE_WORDS):
            piece = words[first : first + SENTENCE_WORDS]
            start, end = piece[0][0], piece[-1][0] + len(piece[-1][1])
            found.append((at + start, stripped[start:end]))
    return found


def time_at(offsets: list, char: int, default: float) -> float:
    """When the character at `char` of a passage is said, from its (offset, seconds) pairs: hits,
    related moments and the site's meaning search all place their words this way."""
    if not offsets:
        return default
    index = bisect.bisect_right([offset for offset, _ in offsets], char) - 1
    return offsets[max(index, 0)][1]


def _marked(sentence: str, wanted: set[str]) -> str:
    """The sentence with the query's content words (by stem) in <mark>, for the snippet."""
    text = sentence if len(sentence) <= SNIPPET_CHARS else sentence[: SNIPPET_CHARS - 1] + "…"

    def mark(match: re.Match) -> str:
        word = match.group(0)
        return f"<mark>{word}</mark>" if _has_stem(word.lower(), wanted) else word

    return re.sub(r"[A-Za-z0-9]+", mark, text)


def _query_stems(query: str) -> set[str]:
    from ingest.tags.text import STOP_WORDS, stem

    return {stem(w) for w in _WORD.findall(query.lower()) if w not in STOP_WORDS}


def _has_stem(word: str, stems: set[str]) -> bool:
    """Whether a word of the transcript starts with one of the query's stems (a prefix test:
    stemming every word of every sentence would cost more than the search)."""
    return any(word.startswith(stem) for stem in stems)


def _overlap(sentence: str, stems: set[str]) -> int:
    """How many of the query's stems begin a word of the sentence."""
    if not stems:
        return 0
    found = _stem_pattern(frozenset(stems)).findall(sentence.lower())
    return len(set(found))


@functools.lru_cache(maxsize=64)
def _stem_pattern(stems: frozenset[str]) -> re.Pattern:
    # Longest first, so a stem that is a prefix of another does not hide it.
    alternatives = "|".join(re.escape(stem) for stem in sorted(stems, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})")


def _place(
    conn: sqlite3.Connection, hits: list[Hit], query_vector, query: str, lexical, all_words: bool
) -> None:
    """Put each hit at its best sentence. A hit holding every word of the query stays at the
    first of them: that is where its answer is said. The first MOMENT_HITS go to their
    sentence closest to the query in meaning, by the stored sentence vectors (one dot product
    each; a passage not yet given them has its sentences embedded now). The others stay at
    their first matched word, else go to the sentence sharing most of the query's words, else
    to the one closest in meaning. (bench/relevance.py: placing every hit by meaning landed
    verbatim and paraphrase answers outside their span more often than the words did.)"""
    from ingest import embed
    from ingest.store import vectors

    if not hits:
        return
    ids = [hit.passage_id for hit in hits]
    rows = {
        row[0]: row[1:]
        for row in conn.execute(
            "SELECT id, text, offsets, start FROM passages WHERE id IN"
            f" ({','.join('?' * len(ids))})",
            ids,
        )
    }
    placed_by_words = {pid for pid in ids if all_words and pid in lexical}
    cut = {pid: passage_sentences(rows[pid][0]) for pid in ids if pid not in placed_by_words}
    by_meaning = {  # the hits that may be placed by meaning (see above), with their sentences
        pid: len(cut[pid])
        for n, pid in enumerate(ids)
        if pid in cut and (n < MOMENT_HITS or pid not in lexical)
    }
    stored = vectors.sentence_matrices(conn, embed.MODEL_ID, by_meaning)
    stems = _query_stems(query)
    for n, hit in enumerate(hits):
        if hit.passage_id in placed_by_words:
            continue  # at the first of the query's words, all of which it holds
        _, offsets, start = rows[hit.passage_id]
        sentences = cut[hit.passage_id]
        if not sentences:
            continue
        found = lexical.get(hit.passage_id)
        matrix = stored.get(hit.passage_id)
        if n < MOMENT_HITS:
            if matrix is None:
                matrix = embed.encode([sentence for _, sentence in sentences])
            best = int((matrix @ query_vector).argmax())
        elif found is not None:
            continue  # already at its first matched word
        else:
            overlaps = [_overlap(sentence, stems) for _, sentence in sentences]
            if max(overlaps):
                best = overlaps.index(max(overlaps))
            elif matrix is not None:
                best = int((matrix @ query_vector).argmax())
            else:
                continue  # at the passage start
        at, sentence = sentences[best]
        timed = json.loads(offsets or "[]")
        said = time_at(timed, at, start)
        if found is not None:
            # The query's words inside that sentence: land on the first of them.
            first = wordtimes.first_match(found.marked)
            if at <= first < at + len(sentence):
                said = time_at(timed, first, said)
        hit.seconds = max(said - wordtimes.LEAD_SECONDS, 0.0)
        hit.snippet = _marked(sentence, stems)


def search(
    conn: sqlite3.Connection,
    query: str,
    mode: str = "hybrid",
    limit: int = 20,
    filters: Filters | None = None,
) -> Ranking:
    """Rank passages for `query` (see the module's docstring) among those passing `filters`."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}: one of {', '.join(MODES)}")
    notice = None
    if mode != "lexical" and is_exact(query):
        mode = "lexical"
    elif mode != "lexical":
        missing = vectors_missing(conn)
        if missing:
            notice = f"Searching by words only: {missing}."
            mode = "lexical"
    lexical, any_words = ([], False)
    meaning = None
    if mode != "lexical":
        searched = _searched_vectors(conn, filters)
        meaning = _meaning_worker().submit(_by_meaning, searched, query)
    if mode in ("lexical", "hybrid"):
        lexical, any_words = lexical_candidates(conn, query, max(limit, CANDIDATES), filters)
    if mode == "lexical":
        hits = [
            Hit(
                found.passage_id,
                found.episode_id,
                wordtimes.match_time(found.offsets, found.marked, found.start) or 0.0,
                found.snippet,
                score=1.0 / (RRF_K + found.rank),
                lexical_rank=found.rank,
            )
            for found in lexical[:limit]
        ]
        if any_words and notice is None:
            notice = "No passage has every word: these have some of them."
        return Ranking(hits, mode, notice, any_words)

    query_vector, semantic = meaning.result()
    by_id = {found.passage_id: found for found in lexical}
    weight = ANY_WORDS_WEIGHT if any_words else 1.0
    fused: dict[int, Hit] = {}
    for found in lexical:
        # Its time is found below, for the hits kept (a passage's word offsets are long).
        fused[found.passage_id] = Hit(
            found.passage_id,
            found.episode_id,
            found.start,
            found.snippet,
            score=weight / (RRF_K + found.rank),
            lexical_rank=found.rank,
        )
    missing = [pid for pid, _ in semantic if pid not in fused]
    starts = {}
    if missing:
        starts = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT id, episode_id, start, substr(text, 1, ?) FROM passages"
                f" WHERE id IN ({','.join('?' * len(missing))})",
                [SNIPPET_CHARS, *missing],
            )
        }
    for rank, (pid, _) in enumerate(semantic, 1):
        hit = fused.get(pid)
        if hit is None:
            episode_id, start, text = starts[pid]
            hit = fused[pid] = Hit(pid, episode_id, max(start - wordtimes.LEAD_SECONDS, 0), text, 0)
        hit.semantic_rank = rank
        hit.score += 1.0 / (RRF_K + rank)
    hits = sorted(fused.values(), key=lambda h: (-h.score, h.passage_id))[:limit]
    for hit in hits:
        found = by_id.get(hit.passage_id)
        if found is not None:
            hit.seconds = wordtimes.match_time(found.offsets, found.marked, found.start) or 0.0
    _place(conn, hits, query_vector, query, by_id, all_words=bool(lexical) and not any_words)
    return Ranking(hits, mode, notice, any_words)
