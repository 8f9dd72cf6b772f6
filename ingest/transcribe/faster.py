"""The default engine: faster-whisper (CTranslate2), int8 on the CPU.

Measured on a 2-core machine: int8 with beam 5 ran 2.5x (tiny.en) to 3.9x (base) faster than
openai-whisper at equal word error rate; more threads than cores ran 3.5x slower, hence
`cpu_threads` is capped at the cores this process may use.
"""

from __future__ import annotations

import os

import numpy as np

from ingest.records import Segment, Word
from ingest.transcribe import gaps as gap_finder
from ingest.transcribe.base import TranscribeOptions
from ingest.transcribe.engine import Decoded, WhisperEngine
from ingest.transcribe.features import PiecewiseFeatureExtractor
from ingest.transcribe.weights import resolve_ct2_model

SAMPLE_RATE = gap_finder.SAMPLE_RATE
CHUNK_SECONDS = 30  # what Whisper hears at once; batched pieces are no longer
MAX_HOTWORDS_CHARS = 300  # Whisper's prompt holds 223 tokens, shared with the previous text
# faster-whisper options (TranscribeOptions.extra["faster_whisper"]) that BatchedInferencePipeline
# takes but ignores (faster-whisper 1.2: it decodes each piece once, at the first temperature,
# unprompted by earlier text): given any, the speech is decoded in one sequence instead.
SEQUENTIAL_ONLY_OPTIONS = frozenset(
    {
        "condition_on_previous_text",
        "prompt_reset_on_temperature",
        "compression_ratio_threshold",
        "log_prob_threshold",
        "no_speech_threshold",
        "hallucination_silence_threshold",
        "max_initial_timestamp",
        "prefix",
    }
)


def available_cores() -> int:
    """The CPU cores this process may run on (not the machine's total: containers, taskset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def normalise_language(language: str | None) -> str | None:
    """Whisper wants a bare code: a feed's `en-US` becomes `en`."""
    if not language:
        return None
    return language.strip().lower().replace("_", "-").split("-")[0] or None


class FasterWhisperTranscriber(WhisperEngine):
    """faster-whisper with the model loaded once; `transcribe` is called per episode."""

    name = "faster-whisper"

    def __init__(self, options: TranscribeOptions | None = None):
        from faster_whisper import WhisperModel

        self.options = options or TranscribeOptions()
        self.model_path = resolve_ct2_model(
            self.options.model, allow_download=self.options.allow_download
        )
        cores = available_cores()
        self.cpu_threads = min(self.options.cpu_threads or cores, cores)
        self.model = WhisperModel(
            str(self.model_path),
            device="cpu",
            compute_type=self.options.compute_type,
            cpu_threads=self.cpu_threads,
        )
        # The same spectrogram, without holding a whole window's STFT at once.
        self.model.feature_extractor = PiecewiseFeatureExtractor(**self.model.feat_kwargs)

    def longest_chunk_seconds(self, opts: TranscribeOptions) -> float:
        """Batched, a chunk is decoded as one 30 s piece: longer ones are split at a pause."""
        batch = batched(opts.batch_size, opts.extra.get("faster_whisper", {}))
        return CHUNK_SECONDS if batch else float("inf")

    def _decode(
        self, audio: np.ndarray, opts: TranscribeOptions, speech_chunks=None, **overrides
    ) -> Decoded:
        """Decode `audio`; with `speech_chunks`, only the speech, as faster-whisper's vad_filter
        does (the same calls), reusing the VAD pass already made instead of running it again."""
        kwargs = {
            "language": normalise_language(opts.language),
            "beam_size": opts.beam_size,
            "vad_filter": False,
            "word_timestamps": opts.word_timestamps,
            "initial_prompt": opts.initial_prompt or None,
            "hotwords": hotwords(opts.vocabulary),
        }
        extra = opts.extra.get("faster_whisper", {})
        kwargs.update(extra)
        kwargs.update(overrides)
        if speech_chunks and batched(opts.batch_size, extra):
            raw, info = self._decode_batched(audio, speech_chunks, opts.batch_size, kwargs)
        elif speech_chunks:
            from faster_whisper.transcribe import restore_speech_timestamps
            from faster_whisper.vad import collect_chunks

            pieces, _ = collect_chunks(audio, speech_chunks, sampling_rate=SAMPLE_RATE)
            raw, info = self.model.transcribe(np.concatenate(pieces), **kwargs)
            raw = restore_speech_timestamps(raw, speech_chunks, SAMPLE_RATE)
        else:
            raw, info = self.model.transcribe(audio, **kwargs)
        settings = {
            "initial_prompt": opts.initial_prompt,
            "hotwords": hotwords(opts.vocabulary),
            "language_probability": round(float(info.language_probability), 3),
        }
        return [_segment(s) for s in raw], info.language, settings

    def _decode_batched(self, audio, speech_chunks, batch_size, kwargs):
        """The speech decoded by faster-whisper's BatchedInferencePipeline: the chunks joined
        into pieces of at most 30 s, as its own VAD filter joins them, and `batch_size` pieces
        decoded at once, each on its own (no text carried from one to the next).

        The pipeline is handed the joined speech with the pieces' bounds, so it reuses the VAD
        pass already made; its segments span a whole piece, so each is bounded by its words,
        the times gap finding compares with the speech."""
        from faster_whisper import BatchedInferencePipeline
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import collect_chunks

        pieces, joined = collect_chunks(
            audio, speech_chunks, sampling_rate=SAMPLE_RATE, max_duration=CHUNK_SECONDS
        )
        clips = [
            {"start": p["offset"], "end": p["offset"] + p["duration"]}
            for p in joined
            if p["duration"] > 0
        ]
        kwargs = {k: v for k, v in kwargs.items() if k != "vad_filter"}
        raw, info = BatchedInferencePipeline(self.model).transcribe(
            np.concatenate(pieces), clip_timestamps=clips, batch_size=batch_size, **kwargs
        )
        raw = (_bounded_by_words(s) for s in raw)
        return restore_speech_timestamps(raw, speech_chunks, SAMPLE_RATE), info


def batched(batch_size: int, extra: dict) -> bool:
    """Whether speech is decoded by the batched pipeline: batches asked for, and no option
    given that only a sequential decode honours (a temperature list counts: batched, only
    its first value is used)."""
    temperature = extra.get("temperature")
    fallback = isinstance(temperature, (list, tuple)) and len(temperature) > 1
    return batch_size > 1 and not fallback and not SEQUENTIAL_ONLY_OPTIONS & set(extra)


def _bounded_by_words(segment):
    """A faster-whisper Segment (a dataclass the pipeline made for us) bounded by its words."""
    if segment.words:
        segment.start, segment.end = segment.words[0].start, segment.words[-1].end
    return segment


def hotwords(vocabulary: list[str]) -> str | None:
    """Names as faster-whisper hotwords: prompted on every 30 s window, not only the first.

    The list ends with a full stop: the text said before the window follows it in the
    prompt, and should read as a new sentence, not as one more name."""
    text = ""
    for name in vocabulary:
        if len(text) + len(name) + 3 > MAX_HOTWORDS_CHARS:
            break
        text = f"{text}, {name}" if text else name
    return f"{text}." if text else None


def _segment(raw) -> Segment:
    return Segment(
        start=round(raw.start, 3),
        end=round(raw.end, 3),
        text=raw.text.strip(),
        avg_logprob=round(raw.avg_logprob, 4),
        no_speech_prob=round(raw.no_speech_prob, 4),
        words=[
            Word(round(w.start, 3), round(w.end, 3), w.word, round(w.probability, 4))
            for w in raw.words or []
        ],
    )
