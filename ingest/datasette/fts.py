"""Search box text made safe for FTS5 MATCH: valid syntax passes as typed, anything else is
searched as plain words, so no search ever ends on an FTS5 error page.

FTS5 query syntax (sqlite.org/fts5.html section 3): "phrases", barewords, prefix*, ^initial,
phrase + phrase, (groups), NEAR(...) and the AND / OR / NOT operators between them.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from functools import lru_cache

# Barewords and phrases FTS5 accepts, and text split on spaces outside quoted phrases.
_FTS5_TOKEN = re.compile(r'"(?:[^"]|"")*"\*?|\w+\*?|[()^+]')
_CHUNK = re.compile(r'"(?:[^"]|"")*"\*?|\S+')
# Words for the plain-words fallback: anything between spaces, quotes and parentheses.
_WORD = re.compile(r'[^\s"()]+')

# Validity is asked of SQLite itself: an empty FTS5 table parses a query like the real ones do.
# Its one column has a name no query uses, so a column filter ("title: grit") counts as
# invalid everywhere rather than valid in one table and an error in another.
_probe = sqlite3.connect(":memory:", check_same_thread=False)
_probe.execute("CREATE VIRTUAL TABLE probe USING fts5(probe_text_column, tokenize='porter')")
_probe_lock = threading.Lock()  # Datasette calls SQL functions from several threads


def _is_fts5_chunk(chunk: str) -> bool:
    """Whether FTS5 tokens alone make up `chunk` (no stray punctuation)."""
    position = 0
    while position < len(chunk):
        match = _FTS5_TOKEN.match(chunk, position)
        if match is None:
            return False
        position = match.end()
    return True


@lru_cache(maxsize=4096)
def is_valid(query: str) -> bool:
    """Whether FTS5 accepts `query` as MATCH syntax."""
    with _probe_lock:
        try:
            _probe.execute("SELECT 1 FROM probe WHERE probe MATCH ?", [query]).fetchall()
        except sqlite3.OperationalError:
            return False
    return True


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def plain_words(query: str) -> str:
    """Every word of `query` as a quoted string: AND, a stray quote or a colon are just text."""
    return " ".join(_quoted(word) for word in _WORD.findall(query or ""))


def _with_quoted_punctuation(query: str) -> str:
    """Words with punctuation FTS5 does not accept (don't, hiring-manager) as quoted phrases;
    chunks holding quotes or parentheses are left as typed (they may be phrases or groups)."""
    chunks = []
    for chunk in _CHUNK.findall(query or ""):
        if _is_fts5_chunk(chunk) or any(c in chunk for c in '"()'):
            chunks.append(chunk)
        else:
            chunks.append(_quoted(chunk))
    return " ".join(chunks)


def search_query(query: str | None) -> str:
    """The search box's text for FTS5 MATCH, never a syntax error: FTS5 syntax as typed
    ("reverse interview", grit OR resilience, transp*), else plain words."""
    typed = _with_quoted_punctuation(query or "")
    if not typed or is_valid(typed):
        return typed
    return plain_words(query or "")


def search_note(query: str | None) -> str | None:
    """What to tell the searcher when their text was not valid search syntax, else None."""
    typed = _with_quoted_punctuation(query or "")
    if not typed or is_valid(typed):
        return None
    words = " ".join(_WORD.findall(query or ""))
    return (
        "This is not valid search syntax (an unclosed quote or bracket, or AND, OR, NOT or "
        f"NEAR without words on both sides), so it was searched as the plain words: {words}."
    )
