"""A transcriber without Whisper, for tests whose subject is what happens around transcription.

`FakeTranscriber` implements `ingest.transcribe.base.Transcriber`. On a sample episode's audio
(recognised by its bytes, so a downloaded copy counts too) it returns the episode's script, one
segment per line at the times the line is spoken; on any other audio, one fixed sentence over
the whole file. Audio it cannot decode raises TranscriptionError, as the real engines do. It
records every call (failed ones too), and how many times `load` built it
(`make_transcriber=fake.load`).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import av

from ingest.records import Segment, Transcript
from ingest.sample import SampleEpisode, load_sample
from ingest.transcribe.base import ProgressCallback, TranscribeOptions, TranscriptionError

FIXED_SENTENCE = "This is what the fake transcriber hears in every other file."


@dataclass
class Call:
    audio_path: Path
    options: TranscribeOptions
    transcript: Transcript | None = None  # None when the call raised TranscriptionError


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def _sample_by_hash() -> dict[str, SampleEpisode]:
    return {_sha256(e.audio_path): e for e in load_sample().episodes if e.audio_path.exists()}


def audio_seconds(path: Path) -> float:
    """The length of the audio in `path`, decoded; TranscriptionError if it has none."""
    if not path.is_file():
        raise TranscriptionError(f"audio file {path} does not exist")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            seconds = sum(frame.samples / frame.sample_rate for frame in container.decode(stream))
    except Exception as exc:  # PyAV raises many kinds (InvalidDataError, IndexError...)
        raise TranscriptionError(f"cannot decode audio file {path.name}: {exc}") from exc
    if seconds <= 0:
        raise TranscriptionError(f"audio file {path.name} holds no audio samples")
    return seconds


def _script_segments(episode: SampleEpisode, duration: float) -> list[Segment]:
    """The script's lines at their spoken times, else spread evenly over the audio."""
    step = duration / len(episode.script)
    segments = []
    for n, line in enumerate(episode.script):
        start = line.start if line.start is not None else n * step
        end = line.end if line.end is not None else (n + 1) * step
        segments.append(Segment(start=min(start, duration), end=min(end, duration), text=line.text))
    return segments


class FakeTranscriber:
    name = "fake"

    def __init__(self, options: TranscribeOptions | None = None):
        self.options = options or TranscribeOptions()
        self.calls: list[Call] = []
        self.loads = 0

    def load(self) -> FakeTranscriber:
        """A `make_transcriber` factory: counts the loads, as a real model load would happen."""
        self.loads += 1
        return self

    @property
    def audio_names(self) -> list[str]:
        """The file name of each call's audio, in call order."""
        return [call.audio_path.name for call in self.calls]

    def transcribe(
        self,
        audio_path: Path,
        options: TranscribeOptions | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript:
        path = Path(audio_path)
        options = options or self.options
        call = Call(path, options)
        self.calls.append(call)
        duration = audio_seconds(path)
        episode = _sample_by_hash().get(_sha256(path))
        if episode is not None:
            segments = _script_segments(episode, duration)
        else:
            segments = [Segment(start=0.0, end=duration, text=FIXED_SENTENCE)]
        transcript = Transcript(
            segments=segments,
            language=options.language or "en",
            engine=self.name,
            model=options.model,
            settings={"vocabulary": list(options.vocabulary), "gaps_remaining": []},
            duration=duration,
        )
        call.transcript = transcript
        if on_progress is not None:
            on_progress(duration, duration)
        return transcript
