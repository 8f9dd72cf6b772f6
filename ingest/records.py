"""Typed records passed between modules. No I/O lives here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Person:
    """A `podcast:person`: host, guest or other credit."""

    name: str
    role: str = "host"
    group: str = "cast"
    img: str | None = None
    href: str | None = None


@dataclass
class TranscriptLink:
    """A `podcast:transcript` the publisher offers for an episode."""

    url: str
    type: str
    language: str | None = None
    rel: str | None = None


@dataclass
class Enclosure:
    """A media file a feed item offers (RSS enclosure, Atom link or Media RSS content)."""

    url: str
    type: str | None = None
    length: int | None = None  # bytes, as the feed states it


@dataclass
class Show:
    """A podcast channel as read from its feed."""

    feed_url: str
    title: str = ""
    # "feed" when the feed gave the title; otherwise which fallback made it (ingest.feeds.titles).
    title_source: str = "feed"
    description: str = ""
    link: str | None = None
    image_url: str | None = None
    author: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None
    language: str | None = None
    categories: list[str] = field(default_factory=list)
    explicit: bool | None = None
    podcast_guid: str | None = None
    new_feed_url: str | None = None
    people: list[Person] = field(default_factory=list)


@dataclass
class Episode:
    """One feed item. `guid` falls back to the enclosure URL when the feed has none."""

    guid: str
    title: str = ""
    title_source: str = "feed"  # as Show.title_source
    published: datetime | None = None
    description_html: str = ""
    description_text: str = ""
    link: str | None = None
    enclosure_url: str | None = None
    enclosure_type: str | None = None
    enclosure_length: int | None = None
    # The item's other media files (a video rendition, a second format), the chosen one left out.
    other_enclosures: list[Enclosure] = field(default_factory=list)
    duration: int | None = None  # seconds
    season: int | None = None
    episode_number: int | None = None
    episode_type: str | None = None  # full, trailer, bonus
    image_url: str | None = None
    explicit: bool | None = None
    keywords: list[str] = field(default_factory=list)
    transcripts: list[TranscriptLink] = field(default_factory=list)
    chapters_url: str | None = None
    chapters_type: str | None = None
    people: list[Person] = field(default_factory=list)


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float | None = None


@dataclass
class Segment:
    """A timed stretch of transcript text; times are seconds from the start of the audio."""

    start: float
    end: float
    text: str
    speaker: str | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    """A whole episode's transcript and how it was made."""

    segments: list[Segment]
    language: str | None = None
    source: str = "asr"  # "asr" (we transcribed it) or "publisher" (the feed offered it)
    engine: str | None = None
    model: str | None = None
    settings: dict = field(default_factory=dict)
    duration: float | None = None  # seconds of audio
    # Why an episode done without a word has none ("no speech: music or silence"): a trailer of
    # music or an interlude is an episode like any other, not a failure.
    no_speech: str | None = None

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


@dataclass
class Topic:
    """A taxonomy topic: what it is called, what it means, and the words that signal it."""

    slug: str
    name: str
    description: str = ""
    phrases: list[str] = field(default_factory=list)  # example sentences of the topic
    keywords: list[str] = field(default_factory=list)  # short words that signal it
    # Words of which a passage must say one for the topic to count at all, for a topic whose
    # keywords are everyday words elsewhere: "AI" in a software conversation is not recruiting
    # technology unless candidates, hiring or recruiters come into it. Empty: no condition.
    context: list[str] = field(default_factory=list)

    def definition(self) -> dict:
        """Everything that decides how passages score against this topic."""
        definition = {
            "slug": self.slug,
            "name": self.name,
            "description": self.description,
            "phrases": list(self.phrases),
            "keywords": list(self.keywords),
        }
        if self.context:  # only then: other topics' stored hashes stay valid
            definition["context"] = list(self.context)
        return definition
