"""When each word of a transcript line is said: one start time per whitespace token.

Every surface that links a search hit (the CLI, Datasette, the site's search) links to the first
matched word, so all of them read word times from here. A token is what `str.split()` gives of
the line's text, the unit both FTS5 highlight offsets and Pagefind's word locations map to.
Whisper's word timestamps give the times when its words spell the line; a line without them (a
publisher transcript, or words that no longer spell the text) is timed by its characters,
spread evenly between the line's start and end.
"""

from __future__ import annotations

import bisect
import functools
import json
from collections.abc import Iterable, Sequence

# A search link starts this long before the first matched word, then floors to the second: the
# player lands 0.5-1.5 s before the words, enough for a word timestamp said a little early.
LEAD_SECONDS = 0.5
# Mark a match in FTS5 highlight() output for match_time(); control characters no transcript
# holds. The stored queries write them as char(2) and char(3) (metadata.yaml).
MATCH_MARK = "\x02"
MATCH_END = "\x03"


def tokens(text: str) -> list[tuple[int, str]]:
    """(character offset, token) for each whitespace-separated token of `text`."""
    result, position = [], 0
    for token in text.split():
        position = text.index(token, position)
        result.append((position, token))
        position += len(token)
    return result


def interpolated(text: str, start: float, end: float) -> list[float]:
    """Token starts spread over [start, end] by character position (no word timestamps)."""
    length = max(len(text), 1)
    span = max(end - start, 0.0)
    return [round(start + span * offset / length, 2) for offset, _ in tokens(text)]


def from_words(text: str, words: Sequence[tuple[float, str]]) -> list[float] | None:
    """Token starts from ASR words (start, word text), or None when the words do not spell
    `text` (edited or merged lines): the caller then interpolates."""
    joined, owner = "", []
    for index, (_, word) in enumerate(words):
        joined += word
        owner.extend([index] * len(word))
    lead = len(joined) - len(joined.lstrip())
    if joined.strip() != text.strip():
        return None
    stripped = text.strip()
    starts = []
    for offset, _ in tokens(stripped):
        starts.append(round(float(words[owner[lead + offset]][0]), 2))
    return starts


def token_starts(
    text: str, start: float, end: float, words: Iterable[tuple[float, str]] | None = None
) -> list[float]:
    """One start time per token of `text`: from its words when they spell it, else interpolated.

    >>> token_starts("the reverse interview", 10.0, 13.0, [(10.0, " the"), (10.4, " reverse"),
    ...     (11.2, " interview")])
    [10.0, 10.4, 11.2]
    """
    stripped = (text or "").strip()
    timed = from_words(stripped, list(words)) if words else None
    return timed if timed is not None else interpolated(stripped, start, end)


def encode(starts: Sequence[float] | None) -> str | None:
    """Stored form (segments.words): a JSON list of token starts, None when there are none."""
    return json.dumps([round(s, 2) for s in starts], separators=(",", ":")) if starts else None


def decode(stored: str | None, text: str, start: float, end: float) -> list[float]:
    """Token starts of a stored line: its stored starts when they fit its tokens, else
    interpolated (lines stored before word times were kept, or by a publisher)."""
    stripped = (text or "").strip()
    if stored:
        try:
            starts = json.loads(stored)
        except ValueError:
            starts = None
        if isinstance(starts, list) and len(starts) == len(stripped.split()):
            return [float(s) for s in starts]
    return interpolated(stripped, start, end)


def link_second(seconds: float) -> int:
    """The whole second a link to words said at `seconds` points at (LEAD_SECONDS before)."""
    return max(int(seconds - LEAD_SECONDS), 0)


def first_match(marked_text: str) -> int:
    """Character offset (in the unmarked text) of the first matched word of the first place
    where matches stand side by side (a phrase, or the query's words in a row), else of the
    first match; -1 without one. Site search picks the same word (templates/static/search.js)."""
    starts, ends, plain = [], [], 0
    for char in marked_text:
        if char == MATCH_MARK:
            starts.append(plain)
        elif char == MATCH_END:
            ends.append(plain)
        else:
            plain += 1
    if not starts:
        return -1
    text = marked_text.replace(MATCH_MARK, "").replace(MATCH_END, "")
    for k in range(min(len(starts) - 1, len(ends))):
        if not text[ends[k] : starts[k + 1]].strip():
            return starts[k]
    return starts[0]


def match_time(offsets_json: str | None, marked_text: str | None, start: float | None = None):
    """When the matched words are said, LEAD_SECONDS early: the time of the word `first_match`
    picks in `marked_text` (FTS5 highlight() of a passage, MATCH_MARK before each match and
    MATCH_END after), else `start`. `offsets` holds a [character offset, seconds] per word."""
    if not offsets_json or not marked_text:
        return start
    at = first_match(marked_text)
    if at < 0:
        return start
    offsets = json.loads(offsets_json)
    if not offsets:
        return start
    index = bisect.bisect_right([offset for offset, _ in offsets], at) - 1
    return max(offsets[max(index, 0)][1] - LEAD_SECONDS, 0.0)


@functools.cache
def _is_word():
    """str.isspace(), the whitespace `str.split()` splits at (none above U+3000), indexed by
    code point (any above U+3000 by the last entry): True unless whitespace. Built on first
    use, with NumPy imported then: searching by words from the terminal needs neither."""
    import numpy as np

    return np.array([not chr(code).isspace() for code in range(0x3002)], dtype=bool)


# `round(x, 2)` through `round(x * 100) / 100` is exact (a correctly rounded division of an
# exact integer) unless x * 100 lies this near a half, where its own rounding could tip it.
_NEAR_HALF = 1e-6


def decode_all(lines: Sequence[tuple]) -> list[list[float]]:
    """`decode` of many (stored, text, start, end) lines at once, the same floats for each.

    A site build times every word of its archive: the lines without fitting stored starts are
    interpolated together in numpy (token offsets from the code points, the same arithmetic in
    the same order, then `round(x, 2)` exactly), not word by word.
    """
    result: list[list[float] | None] = []
    todo: list[int] = []
    for index, (stored, text, _, _) in enumerate(lines):
        starts = _stored_starts(stored, (text or "").strip())
        result.append(starts)
        if starts is None:
            todo.append(index)
    if todo:
        texts = [(lines[k][1] or "").strip() for k in todo]
        for k, times in zip(todo, _interpolate_all(texts, lines, todo), strict=True):
            result[k] = times
    return result  # type: ignore[return-value]


def _stored_starts(stored: str | None, stripped: str) -> list[float] | None:
    if not stored:
        return None
    try:
        starts = json.loads(stored)
    except ValueError:
        return None
    if isinstance(starts, list) and len(starts) == len(stripped.split()):
        return [float(s) for s in starts]
    return None


def _interpolate_all(texts: list[str], lines: Sequence[tuple], todo: list[int]) -> list[list]:
    import numpy as np

    is_word = _is_word()
    lengths = np.array([len(text) for text in texts], dtype=np.int64)
    # One text, lines apart by a space: offsets in it, less where each line begins.
    bases = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64)
    codes = np.frombuffer(" ".join(texts).encode("utf-32-le"), dtype=np.uint32)
    word = is_word[np.minimum(codes, len(is_word) - 1)]
    begins = np.flatnonzero(word & ~np.concatenate(([False], word[:-1])))
    line = np.searchsorted(bases, begins, side="right") - 1
    offsets = (begins - bases[line]).astype(np.float64)
    starts = np.array([float(lines[k][2]) for k in todo], dtype=np.float64)
    ends = np.array([float(lines[k][3]) for k in todo], dtype=np.float64)
    spans = np.maximum(ends - starts, 0.0)
    sizes = np.maximum(lengths, 1).astype(np.float64)
    x = starts[line] + spans[line] * offsets / sizes[line]  # as `interpolated` computes it
    scaled = x * 100.0
    rounded = np.rint(scaled) / 100.0
    near = np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < _NEAR_HALF)
    rounded[near] = [round(float(value), 2) for value in x[near]]
    values = rounded.tolist()
    bounds = np.concatenate(([0], np.cumsum(np.bincount(line, minlength=len(texts))))).tolist()
    return [values[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
