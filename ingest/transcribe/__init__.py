"""Transcription engines behind one interface, chosen by name from a dict registry.

Engines are imported only when chosen: faster-whisper loads CTranslate2, openai-whisper loads
PyTorch (an optional extra), and neither should slow down the rest of the command line.
"""

from __future__ import annotations

import importlib

from ingest.errors import PodarchiveError
from ingest.transcribe.base import TranscribeOptions, Transcriber, TranscriptionError

DEFAULT_ENGINE = "faster-whisper"

# engine name -> (module, class, the pip extra that provides its dependencies)
ENGINES: dict[str, tuple[str, str, str | None]] = {
    "faster-whisper": ("ingest.transcribe.faster", "FasterWhisperTranscriber", None),
    "openai-whisper": ("ingest.transcribe.openai_engine", "OpenAIWhisperTranscriber", "openai"),
}


class EngineUnavailableError(PodarchiveError, RuntimeError):
    """The engine is unknown, or its optional dependencies are not installed."""


def get_transcriber(engine: str = DEFAULT_ENGINE, options: TranscribeOptions | None = None):
    """Build the named engine with `options` (its model is loaded here, once)."""
    if engine not in ENGINES:
        raise EngineUnavailableError(
            f"unknown transcription engine {engine!r}; choose one of: {', '.join(ENGINES)}"
        )
    module_name, class_name, extra = ENGINES[engine]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f": pip install 'podcast-archive[{extra}]'" if extra else ""
        raise EngineUnavailableError(
            f"the {engine} engine is not installed ({exc.name or exc}){hint}"
        ) from exc
    return getattr(module, class_name)(options or TranscribeOptions())


__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "EngineUnavailableError",
    "TranscribeOptions",
    "Transcriber",
    "TranscriptionError",
    "get_transcriber",
]
