"""The one interface every transcription engine implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ingest.errors import PodarchiveError
from ingest.records import Transcript

if TYPE_CHECKING:
    from ingest.config import ArchiveConfig


@dataclass
class TranscribeOptions:
    """Settings shared by all engines; each engine maps them onto its own API."""

    model: str = "tiny.en"  # a name (tiny.en, base, small...) or a folder/file path
    language: str | None = None  # None: detect
    beam_size: int = 5
    compute_type: str = "int8"  # faster-whisper only: int8, float32...
    # On by default (podarchive.toml `word_timestamps`): word times split segments at sentence
    # ends, so timestamps and search hits seek to the sentence, and they time each segment
    # closely enough for speech Whisper skipped to show as a gap. Off, segments run ~30 s and
    # cover what was skipped: measured with bench/transcribe.py (tiny.en, int8, beam 5, 2 cores)
    # on 5,486 words, WER 5.9% with word times and 12.1% without, for 35% more CPU.
    word_timestamps: bool = True
    vad: bool = True
    initial_prompt: str | None = None
    # Names Whisper should spell right (host, guests, companies): each engine decides how to
    # pass them (faster-whisper: hotwords on every window; openai-whisper: the initial prompt).
    vocabulary: list[str] = field(default_factory=list)
    # Words every episode of the show may use and Whisper tends to mishear (jargon such as
    # "grit", recurring names): added after each episode's own names (podarchive.toml).
    show_vocabulary: list[str] = field(default_factory=list)
    cpu_threads: int | None = None  # None: the number of cores
    # faster-whisper: VAD pieces (up to 30 s each) decoded this many at once, each on its own
    # (BatchedInferencePipeline); 1 decodes the speech in one sequence, each 30 s conditioned
    # on the text before. Gaps are always re-decoded in sequence. Measured with
    # bench/transcribe.py --profile (tiny.en, 2 shared cores, sample show): batches of 4 took
    # 25.0 CPU s against 40.8 in sequence, WER 2.6% against 3.0%; 8 were no faster.
    batch_size: int = 4
    # Audio decoded and transcribed at once (ingest.transcribe.stream): peak memory grows with
    # it, not with the episode. Measured with bench/long_episode.py on 40 minutes (tiny.en):
    # 5-minute windows peaked at 400 MB and ran 13x real time; 10-minute ones 475 MB, 9-11x.
    window_seconds: float = 300.0
    allow_download: bool = False  # names not installed locally may be fetched by the engine
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: ArchiveConfig, **overrides) -> TranscribeOptions:
        """The archive's podarchive.toml settings, with the command line's `overrides` (None
        values mean "not given" and leave the file's setting)."""
        options = cls(
            model=config.model,
            language=config.language,
            word_timestamps=config.word_timestamps,
            show_vocabulary=config.vocabulary,
        )
        given = {name: value for name, value in overrides.items() if value is not None}
        return replace(options, **given)


# Called with (audio seconds transcribed, the episode's seconds or None while unknown).
ProgressCallback = Callable[[float, float | None], None]


class TranscriptionError(PodarchiveError):
    """An episode's audio cannot be transcribed (corrupt, empty, silent); the message says why."""


class Transcriber(Protocol):
    """Turns an audio file into a Transcript. Engines load their model once and are reused.

    An engine is a class built as `Engine(options)` (the registry in `ingest.transcribe` maps
    engine names to classes). `transcribe` takes optional per-episode options: only `language`,
    `initial_prompt` and `vocabulary` may differ from the construction options (the show's
    language and names); the model and compute settings stay those the engine was built with.
    Unreadable audio raises TranscriptionError; audio without speech gives a transcript with
    no segments and `no_speech` set. `on_progress`, when given, is called as the audio is
    transcribed with (seconds done, seconds in all, or None if not yet known).
    """

    name: str

    def transcribe(
        self,
        audio_path: Path,
        options: TranscribeOptions | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript: ...
