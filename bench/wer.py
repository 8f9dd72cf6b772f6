"""Word error rate: word-level Levenshtein distance over the reference length, after normalising.

Normalising follows the spirit of Whisper's English text normaliser, much reduced: lower case,
no punctuation, hyphens split, numbers spelled out, since a speaker says "twenty" and a
transcript may write "20", and British spellings made American, since Whisper writes "favorite"
for a script's "favourite". The spelling list, english_spellings.json, is openai-whisper's
(whisper/normalizers/english.json, MIT licence), itself from tysto.com's UK-US spelling list.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path

import numpy as np

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER = re.compile(r"\d+(?:,\d{3})*")


def number_words(n: int) -> str:
    """English words for 0 <= n < 1,000,000 ('one hundred twenty three'); digits beyond that."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = "" if n % 100 == 0 else " " + number_words(n % 100)
        return _ONES[n // 100] + " hundred" + rest
    if n < 1_000_000:
        rest = "" if n % 1000 == 0 else " " + number_words(n % 1000)
        return number_words(n // 1000) + " thousand" + rest
    return str(n)


def normalise(text: str) -> list[str]:
    """Words to compare: lower case ASCII, numbers as words, punctuation dropped."""
    text = _NUMBER.sub(lambda m: " " + number_words(int(m.group().replace(",", ""))) + " ", text)
    text = "".join(  # dashes, quotes and other punctuation part words; accents are dropped
        " " if unicodedata.category(c)[0] in "PS" and c not in "'%&" else c
        for c in text.replace("\u2019", "'")
    )
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    text = text.replace("%", " percent ").replace("&", " and ")
    text = re.sub(r"[-/]", " ", text)
    text = re.sub(r"[^a-z0-9' ]", " ", text)
    american = american_spellings()
    words = (w.strip("'") for w in text.split())
    return [american.get(w, w) for w in words if w]


@cache
def american_spellings() -> dict[str, str]:
    """British spelling -> American ("favourite" -> "favorite")."""
    path = Path(__file__).with_name("english_spellings.json")
    return json.loads(path.read_text(encoding="utf-8"))


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + deletions + insertions turning `reference` into `hypothesis`.

    Levenshtein's table one row at a time in numpy (a pure-Python loop takes minutes on the
    27,000 words of a 3-hour episode). An insertion depends on the cell to its left, so each
    row is first filled without insertions, then a running minimum of (cell - j), plus j,
    adds them: row[j] = min over k <= j of (row[k] + j - k)."""
    vocabulary: dict[str, int] = {}
    ref = np.array([vocabulary.setdefault(w, len(vocabulary)) for w in reference], dtype=np.int64)
    hyp = np.array([vocabulary.setdefault(w, len(vocabulary)) for w in hypothesis], dtype=np.int64)
    columns = np.arange(len(hyp) + 1)
    previous = columns.copy()
    for i, word in enumerate(ref, start=1):
        current = np.empty_like(previous)
        current[0] = i
        # deletion, or substitution / match
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + (hyp != word))
        previous = np.minimum.accumulate(current - columns) + columns  # insertions
    return int(previous[-1])


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference` (0.0 is perfect; can exceed 1.0)."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
