"""Words to stems: tokenizer, stop words and Snowball (Porter 2) stemmer of the lexical scorer."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+")

# Function words and fillers of spoken English; they carry no topic. Short on purpose: content
# words a topic might need ("first", "open", "fit") stay out of it.
_STOP_WORDS = """
    a about above after again against all also am an and any are aren as at be because been
    before being below between both but by can could did didn do does doesn doing don down
    during each else even ever every few for from further get gets getting got had has have
    having he her here hers herself him himself his how i if in into is isn it its itself just
    let like ll m me might more most much must my myself no nor not now of off on once only or
    other our ours ourselves out over own re s same say says said she should so some still such
    t than that the their theirs them themselves then there these they this those through to
    too under until up us ve very was wasn we were weren what when where which while who whom
    why will with won would you your yours yourself yourselves yeah yes okay oh um uh mean
    kind sort actually basically right well thing things lot lots go going gonna want wanna
    one two three really know think
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


@functools.lru_cache(maxsize=1)
def _stemmer():
    return snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball English stem of a lowercase word ("interviews" -> "interview")."""
    return _stemmer().stemWord(word)


def words(text: str) -> list[str]:
    """Lowercase alphanumeric words; apostrophes and hyphens split words ("take-home")."""
    return _WORD.findall(text.lower())


def content_stems(text: str) -> list[str]:
    """Stems of the words of `text` that are not stop words, in order."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS]


def in_context(text: str, context: Sequence[str]) -> bool:
    """Whether `text` says one of the `context` words (compared as stems), or `context` is empty.

    >>> in_context("We screen applicants with AI.", ["applicant", "candidate"])
    True
    """
    if not context:
        return True
    wanted = {s for term in context for s in content_stems(term)}
    return not wanted.isdisjoint(content_stems(text))
