"""Names for an episode's voices: corrections by hand, voice prints kept in the archive, and
the people the feed names (host from `podcast:person role="host"` or `itunes:author`, guests
from `podcast:person`, the title and the show notes). A voice nobody names is "Speaker N",
N its place in order of first speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ingest.speakers.diarize import Voice
from ingest.store.speakers import Correction, VoicePrint

# Cosine similarity of an episode's voice to a person's print above which it is that person.
# Measured by bench/speakers.py: one espeak-ng voice across conversations scores 0.9 and up,
# two different voices at most about 0.8.
PRINT_MATCH = 0.86
CORRECTION_MATCH = 0.9  # the same episode's voice found again after a re-run
MIN_PRINT_SECONDS = 5.0  # a voice with less speech teaches its person's print nothing

_NAME = r"[A-Z][a-zA-Z'’-]+(?:\s+(?:[A-Z]\.|[A-Z][a-zA-Z'’-]+)){1,2}"
# "Guest: Viet Nguyen", "with Viet Nguyen", "featuring ...", "joined by ...".
_GUEST_CUES = re.compile(
    r"\b(?i:guests?\s*:|featuring|feat\.|with(?:\s+guest)?|joined\s+by|interview\s+with)\s+"
    rf"({_NAME})"
)
# Show notes that open on a person: "Viet Nguyen, Head of Technical Recruiting at ..."
_NOTES_OPENING = re.compile(rf"^\s*({_NAME}),\s+(?:the\s+)?[A-Z]")
_PERSON = re.compile(rf"^{_NAME}$")


@dataclass
class Cast:
    """The people an episode's feed item and show name."""

    hosts: list[str] = field(default_factory=list)
    guests: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.hosts) + len(self.guests)


@dataclass
class Named:
    label: str
    named_by: str  # 'hand', 'voice print', 'feed' or 'unknown'


def guests_in_text(title: str, notes: str) -> list[str]:
    """Guests' names the title or the notes announce."""
    found: list[str] = []
    for text in (title or "", notes or ""):
        matches = _GUEST_CUES.findall(text)
        opening = _NOTES_OPENING.match(text)
        if opening:
            matches.insert(0, opening.group(1))
        for name in matches:
            if name not in found:
                found.append(name)
    return found


def episode_cast(
    people: list[tuple[str, str]], author: str | None, title: str, notes: str, show_title: str
) -> Cast:
    """Hosts and guests of an episode from its credits (name, role), the show's author, the
    title and the notes. The author counts as host only when it reads as a person's name."""
    cast = Cast()
    for name, role in people:
        target = cast.hosts if role == "host" else cast.guests if role == "guest" else None
        if target is not None and name not in target:
            target.append(name)
    author = " ".join((author or "").split())
    if not cast.hosts and author and author != show_title and _PERSON.match(author):
        cast.hosts.append(author)
    if not cast.guests:
        cast.guests = [g for g in guests_in_text(title, notes) if g not in cast.hosts]
    return cast


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-9))


def name_voices(
    voices: list[Voice],
    cast: Cast,
    prints: list[VoicePrint],
    corrections: list[Correction] = (),
) -> list[Named]:
    """A name for each voice, in the order of `voices`."""
    names: dict[int, Named] = {}
    taken: set[str] = set()

    def give(voice: Voice, name: str, how: str) -> None:
        names[voice.index] = Named(name, how)
        taken.add(name)

    def open_voices() -> list[Voice]:
        return [v for v in voices if v.index not in names]

    def match(pool: list[VoicePrint], threshold: float, how: str) -> None:
        pairs = sorted(
            ((_similarity(v.vector, p.vector), v.index, p.name) for v in voices for p in pool),
            reverse=True,
        )
        for score, index, name in pairs:
            if score >= threshold and index not in names and name not in taken:
                give(voices[index], name, how)

    # 1. What the host corrected by hand, found again by the voice it was said of.
    for fix in corrections:
        if fix.vector is None or not open_voices():
            continue
        best = max(open_voices(), key=lambda v: _similarity(v.vector, fix.vector))
        if _similarity(best.vector, fix.vector) >= CORRECTION_MATCH and fix.name not in taken:
            give(best, fix.name, "hand")
    # 2. The episode's own people, by their voice prints.
    credited = set(cast.hosts) | set(cast.guests)
    match([p for p in prints if p.name in credited], PRINT_MATCH, "voice print")
    printed = {p.name for p in prints}
    # 3. The rest of the episode's people without a print: a host opens the show, guests are
    # the voices that speak most (in the order the feed lists them).
    for host in cast.hosts:
        if host not in taken and host not in printed and open_voices():
            give(min(open_voices(), key=lambda v: v.first), host, "feed")
    for guest in cast.guests:
        if guest not in taken and guest not in printed and open_voices():
            give(max(open_voices(), key=lambda v: v.seconds), guest, "feed")
    # 4. Anyone else the archive knows by voice.
    match([p for p in prints if p.name not in credited], PRINT_MATCH, "voice print")
    return [names.get(v.index) or Named(f"Speaker {v.index + 1}", "unknown") for v in voices]
