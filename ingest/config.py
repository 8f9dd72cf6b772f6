"""The archive's configuration file, `podarchive.toml` in the archive folder: cron needs no flags.

Every key is optional; command-line options win over the file. Example:

    shows = ["https://feeds.example.com/talk-talent-to-me.xml"]
    engine = "faster-whisper"
    model = "tiny.en"
    taxonomy = "taxonomy.yaml"        # relative to the archive folder
    base_url = "https://archive.example.com/"
    scheduler = "tcp://10.0.0.5:8786" # optional Dask cluster for transcription
    shared_audio = false              # true: workers read audio/ at this path, not the URLs

    [speakers.one-medical-s-reverse-interview-abdc84]   # an episode's page slug
    "Speaker 2" = "Viet Nguyen"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from ingest.errors import PodarchiveError
from ingest.tags import DEFAULT_SCORER

CONFIG_NAME = "podarchive.toml"


class ConfigError(PodarchiveError, ValueError):
    """The configuration file is unreadable or holds a wrong key or type."""


@dataclass
class ArchiveConfig:
    shows: list[str] = field(default_factory=list)
    engine: str = "faster-whisper"
    model: str = "tiny.en"
    language: str | None = None
    taxonomy: str | None = None
    scorer: str = DEFAULT_SCORER
    base_url: str = "/"
    scheduler: str | None = None
    shared_audio: bool = False  # cluster workers see the archive's audio folder at its path
    download_concurrency: int = 4
    # Words Whisper should spell right in every episode, after each episode's own names.
    vocabulary: list[str] = field(default_factory=list)
    # Word times cost about 35% more CPU (bench/transcribe.py) but split the text into
    # sentences, so a timestamp or a search hit seeks to the sentence, not to a 30 s window,
    # and let lost speech be found (see TranscribeOptions.word_timestamps).
    word_timestamps: bool = True
    # Names for an episode's voices, by episode page slug (or id): {"Speaker 2": "Viet Nguyen"}.
    # Applied whenever the episode is labelled (`podarchive diarize --redo` after an edit).
    speakers: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, archive_root: Path) -> ArchiveConfig:
        """Read `podarchive.toml` from the archive folder; defaults when it does not exist."""
        path = archive_root / CONFIG_NAME
        if not path.exists():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{path}: {error}") from error
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
        config = cls(**data)
        config._check_types(path)
        if config.taxonomy and not Path(config.taxonomy).is_absolute():
            config.taxonomy = str(archive_root / config.taxonomy)
        return config

    def _check_types(self, path: Path) -> None:
        if not isinstance(self.shows, list) or not all(isinstance(s, str) for s in self.shows):
            raise ConfigError(f"{path}: 'shows' must be a list of feed URLs")
        for name in ("engine", "model", "scorer", "base_url"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{path}: {name!r} must be a string")
        if self.scheduler is not None and not isinstance(self.scheduler, str):
            raise ConfigError(f"{path}: 'scheduler' must be an address like tcp://host:8786")
        if not isinstance(self.vocabulary, list) or not all(
            isinstance(w, str) for w in self.vocabulary
        ):
            raise ConfigError(f"{path}: 'vocabulary' must be a list of words")
        if not isinstance(self.speakers, dict) or not all(
            isinstance(names, dict) and all(_is_name(v) for v in names.values())
            for names in self.speakers.values()
        ):
            raise ConfigError(
                f'{path}: \'speakers\' must map episode slugs to tables of "Speaker N" = "Name"'
            )
        for name in ("shared_audio", "word_timestamps"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{path}: {name!r} must be true or false")
        if not isinstance(self.download_concurrency, int) or self.download_concurrency < 1:
            raise ConfigError(f"{path}: 'download_concurrency' must be a positive integer")


def _is_name(value) -> bool:
    return isinstance(value, str) and bool(value.strip())
