"""The bundled sample show, "Talk Talent To Me": scripts, generated speech audio and its feed.

Tests, the tagger evaluation, the transcription WER tests and `podarchive demo` all use it.
`episodes.yaml` is the source of truth; `generate.py` turns each script into an MP3 (and the
publisher WebVTT transcript) and records when every line is spoken in `timings.json`.
"""

from __future__ import annotations

import functools
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import yaml

SAMPLE_DIR = Path(__file__).resolve().parent
EPISODES_FILE = SAMPLE_DIR / "episodes.yaml"
TIMINGS_FILE = SAMPLE_DIR / "timings.json"
AUDIO_DIR = SAMPLE_DIR / "audio"
TRANSCRIPTS_DIR = SAMPLE_DIR / "transcripts"

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"


@dataclass(frozen=True)
class ScriptLine:
    """One line of the script: who spoke and the exact words, with when (seconds) in the audio."""

    speaker: str
    text: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class Guest:
    name: str
    title: str
    company: str


@dataclass(frozen=True)
class SampleEpisode:
    """One sample episode; `duration` is in seconds (None until the audio is generated)."""

    number: int
    season: int
    guid: str
    title: str
    published: datetime
    description_html: str
    episode_type: str
    guests: tuple[Guest, ...]
    script: tuple[ScriptLine, ...]
    has_transcript: bool
    duration: float | None

    @property
    def audio_name(self) -> str:
        return f"{self.number}.mp3"

    @property
    def audio_path(self) -> Path:
        return AUDIO_DIR / self.audio_name

    @property
    def transcript_name(self) -> str | None:
        return f"{self.number}.vtt" if self.has_transcript else None

    @property
    def transcript_path(self) -> Path | None:
        return TRANSCRIPTS_DIR / self.transcript_name if self.has_transcript else None

    @property
    def speakers(self) -> tuple[str, ...]:
        """Everyone who speaks, in order of first line."""
        return tuple(dict.fromkeys(line.speaker for line in self.script))

    @property
    def spoken_text(self) -> str:
        return " ".join(line.text for line in self.script)


@dataclass(frozen=True)
class SampleShow:
    title: str
    host: str
    author: str
    owner_email: str
    link: str
    description: str
    language: str
    categories: tuple[tuple[str, ...], ...]
    explicit: bool
    podcast_guid: str
    copyright: str
    episodes: tuple[SampleEpisode, ...]

    def episode(self, guid: str) -> SampleEpisode:
        """The episode with this guid; KeyError naming it otherwise."""
        for episode in self.episodes:
            if episode.guid == guid:
                return episode
        raise KeyError(f"no sample episode with guid {guid!r}")


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _text(value: str) -> str:
    """YAML folded text keeps single line breaks inside HTML; collapse runs of whitespace."""
    return " ".join(str(value).split())


@functools.cache
def load_sample() -> SampleShow:
    """The sample show from episodes.yaml, with line timings from timings.json when generated."""
    data = yaml.safe_load(EPISODES_FILE.read_text(encoding="utf-8"))
    timings = json.loads(TIMINGS_FILE.read_text()) if TIMINGS_FILE.exists() else {}
    show = data["show"]
    episodes = []
    for item in data["episodes"]:
        timing = timings.get(str(item["number"]), {})
        spans = timing.get("lines") or [(None, None)] * len(item["script"])
        script = tuple(
            ScriptLine(line["speaker"], _text(line["text"]), start, end)
            for line, (start, end) in zip(item["script"], spans, strict=True)
        )
        episodes.append(
            SampleEpisode(
                number=int(item["number"]),
                season=int(item["season"]),
                guid=item["guid"],
                title=item["title"],
                published=_aware(item["date"]),
                description_html=_text(item["description"]),
                episode_type=item.get("episode_type", "full"),
                guests=tuple(Guest(g["name"], g["title"], g["company"]) for g in item["guests"]),
                script=script,
                has_transcript=bool(item.get("transcript")),
                duration=timing.get("duration"),
            )
        )
    return SampleShow(
        title=show["title"],
        host=show["host"],
        author=show["author"],
        owner_email=show["owner_email"],
        link=show["link"],
        description=_text(show["description"]),
        language=show["language"],
        categories=tuple(tuple(c) for c in show["categories"]),
        explicit=bool(show["explicit"]),
        podcast_guid=show["podcast_guid"],
        copyright=_text(show["copyright"]),
        episodes=tuple(episodes),
    )


def spoken_text(guid: str) -> str:
    """The ground-truth words spoken in the episode with this guid (all lines, in order)."""
    return load_sample().episode(guid).spoken_text


def hhmmss(seconds: float) -> str:
    """Duration as HH:MM:SS, the itunes:duration form every podcast app reads."""
    total = round(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrib.items()})
    if text is not None:
        element.text = text
    return element


def sample_feed_xml(base_url: str) -> bytes:
    """The show as an RSS 2.0 feed (iTunes + Podcasting 2.0 tags), enclosures under base_url."""
    base_url = base_url.rstrip("/")
    show = load_sample()
    it, pc = f"{{{ITUNES_NS}}}", f"{{{PODCAST_NS}}}"
    for prefix, uri in (
        ("itunes", ITUNES_NS),
        ("podcast", PODCAST_NS),
        ("atom", ATOM_NS),
        ("content", CONTENT_NS),
    ):
        ET.register_namespace(prefix, uri)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", show.title)
    _sub(channel, "link", show.link)
    _sub(channel, "description", show.description)
    _sub(channel, "language", show.language)
    _sub(channel, "copyright", show.copyright)
    newest = max(episode.published for episode in show.episodes)
    _sub(channel, "lastBuildDate", format_datetime(newest))
    _sub(channel, f"{{{ATOM_NS}}}link", href=f"{base_url}/feed.xml", rel="self",
         type="application/rss+xml")  # fmt: skip
    _sub(channel, f"{it}author", show.author)
    owner = _sub(channel, f"{it}owner")
    _sub(owner, f"{it}name", show.author)
    _sub(owner, f"{it}email", show.owner_email)
    _sub(channel, f"{it}summary", show.description)
    _sub(channel, f"{it}type", "episodic")
    _sub(channel, f"{it}explicit", "true" if show.explicit else "false")
    for path in show.categories:
        parent = channel
        for name in path:  # nested itunes:category, e.g. Business > Careers
            parent = _sub(parent, f"{it}category", text=name)
    _sub(channel, f"{pc}guid", show.podcast_guid)
    _sub(channel, f"{pc}locked", "no")
    _sub(channel, f"{pc}person", show.host, role="host", group="cast")

    for episode in sorted(show.episodes, key=lambda e: e.published, reverse=True):
        item = _sub(channel, "item")
        _sub(item, "title", episode.title)
        _sub(item, "guid", episode.guid, isPermaLink="false")
        _sub(item, "pubDate", format_datetime(episode.published))
        _sub(item, "link", f"{show.link}/episodes/{episode.number}")
        _sub(item, "description", episode.description_html)
        _sub(item, f"{{{CONTENT_NS}}}encoded", episode.description_html)
        audio = episode.audio_path
        length = audio.stat().st_size if audio.exists() else 0
        _sub(item, "enclosure", url=f"{base_url}/audio/{episode.audio_name}",
             length=str(length), type="audio/mpeg")  # fmt: skip
        _sub(item, f"{it}title", episode.title)
        _sub(item, f"{it}author", show.author)
        if episode.duration is not None:
            _sub(item, f"{it}duration", hhmmss(episode.duration))
        _sub(item, f"{it}season", str(episode.season))
        _sub(item, f"{it}episode", str(episode.number))
        _sub(item, f"{it}episodeType", episode.episode_type)
        _sub(item, f"{it}explicit", "false")
        # Item-level podcast:person replaces the channel list, so the host is repeated here.
        _sub(item, f"{pc}person", show.host, role="host", group="cast")
        for guest in episode.guests:
            _sub(item, f"{pc}person", guest.name, role="guest", group="cast")
        if episode.has_transcript:
            _sub(item, f"{pc}transcript", url=f"{base_url}/transcripts/{episode.transcript_name}",
                 type="text/vtt", language="en", rel="captions")  # fmt: skip
    ET.indent(rss)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)
