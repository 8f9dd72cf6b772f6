"""The flow every Whisper engine shares: per window of audio one VAD pass, decode, recover
gaps; then split sentences and fit the times to the audio.

An engine subclasses `WhisperEngine` and supplies `_decode` (its model's call) and the few
settings it reports differently; `transcribe` is the same for all, so both engines' transcripts
are built by one code path and differ only in what their models hear.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ingest.records import Segment, Transcript, Word
from ingest.transcribe import gaps as gap_finder
from ingest.transcribe import heap, stream
from ingest.transcribe.base import ProgressCallback, TranscribeOptions
from ingest.transcribe.hallucinations import is_loop, split_hallucinations, split_loops

SAMPLE_RATE = gap_finder.SAMPLE_RATE
# Re-decoding a gap: greedy, each window not conditioned on the one before (what made Whisper
# skip it); the first is prompted with the words said before the gap.
GAP_TEMPERATURES = (0.0, 0.2, 0.4)
MAX_SEGMENT_WORDS = 30
MAX_GAP_ROUNDS = 3  # a misplaced segment, once dropped, or a part-filled gap leaves a gap
CONTEXT_WORDS = 40  # of the text before a gap, prompted when it is decoded again
MIN_SPLIT_WORDS = 4
_ENDS = (".", "?", "!")
NO_SPEECH = "no speech: music or silence"
# What an engine's `_decode` returns: (segments, language, settings it adds to the transcript's).
Decoded = tuple[list[Segment], str | None, dict]


class WhisperEngine:
    """A Whisper model loaded once; `transcribe` is called per episode."""

    name: str
    options: TranscribeOptions
    cpu_threads: int
    # The beam size that means greedy decoding to the engine's API, for re-decoding gaps.
    gap_beam_size: int | None = 1

    def transcribe(
        self,
        audio_path: Path,
        options: TranscribeOptions | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript:
        """Transcribe one audio file, a window at a time; TranscriptionError when it is
        unreadable. Audio without speech (music, silence) gives a transcript without segments,
        `no_speech` saying why."""
        opts = self.options
        if options is not None:
            opts = replace(
                opts,
                language=options.language,
                initial_prompt=options.initial_prompt,
                vocabulary=options.vocabulary,
            )
        heap.map_large_arrays()
        total = audio_seconds(audio_path)  # the container's word, for progress only
        started = time.perf_counter()
        heard = _Heard()
        if on_progress is not None:
            on_progress(0.0, total)
        for window in stream.windows(audio_path, opts.window_seconds):
            heard.add(window.start, self._transcribe_window(window.audio, opts, heard.language))
            heard.duration = window.end
            del window  # its samples are freed before the next window is decoded
            heap.release_free_memory()
            if on_progress is not None:
                on_progress(heard.duration, max(total, heard.duration) if total else None)
        segments = fit_times(split_sentences(heard.segments), heard.duration)
        if not any(s.text.strip() for s in segments):
            return self._no_speech(opts, heard.duration, started)
        return Transcript(
            segments=segments,
            language=heard.language,
            source="asr",
            engine=self.name,
            model=opts.model,
            duration=heard.duration,
            settings={
                "compute_type": self.compute_type(opts),
                "beam_size": opts.beam_size,
                "vad": opts.vad,
                "word_timestamps": opts.word_timestamps,
                "cpu_threads": self.cpu_threads,
                **heard.engine_settings,
                "windows": heard.windows,
                "speech_seconds": round(sum(s.duration for s in heard.speech), 2),
                "gaps_found": [g.as_list() for g in heard.gaps],
                "gaps_filled": len(heard.gaps) - len(heard.remaining),
                "gaps_remaining": [g.as_list() for g in heard.remaining],
                "hallucinations_dropped": [
                    [round(s.start, 2), round(s.end, 2), s.text] for s in heard.invented
                ],
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

    def _transcribe_window(
        self, audio: np.ndarray, opts: TranscribeOptions, language: str | None
    ) -> _Heard:
        """One window's speech, timed from the window's start: one VAD pass serves decoding
        and gap finding, in the language found first.

        The window is not prompted with the words before it: opening in a pause, it made
        Whisper say them again (30 words twice in 40 minutes, bench/long_episode.py), and
        without the prompt WER was lower (9.2% against 10.2%)."""
        heard = _Heard(windows=1)
        chunks = gap_finder.speech_chunks(audio, max_speech_s=self.longest_chunk_seconds(opts))
        heard.speech = gap_finder.spans_of(chunks)
        if not heard.speech:
            return heard
        opts = replace(opts, language=opts.language or language)
        segments, heard.language, heard.engine_settings = self._decode(
            audio, opts, speech_chunks=chunks if opts.vad else None
        )
        segments, heard.invented = split_hallucinations(segments)
        segments, looped = _without_looped_sentences(segments)
        heard.invented = sorted(heard.invented + looped, key=lambda s: s.start)
        heard.segments, heard.gaps, heard.remaining = self.recover_gaps(
            audio, heard.speech, segments, opts, heard.language
        )
        return heard

    def _no_speech(self, opts: TranscribeOptions, duration: float, started: float) -> Transcript:
        """The transcript of audio where voice detection finds no speech, or Whisper no words."""
        return Transcript(
            segments=[],
            source="asr",
            engine=self.name,
            model=opts.model,
            duration=duration,
            no_speech=NO_SPEECH,
            settings={"seconds": round(time.perf_counter() - started, 2)},
        )

    def longest_chunk_seconds(self, opts: TranscribeOptions) -> float:
        """The longest stretch of speech `_decode` takes as one VAD chunk."""
        return float("inf")

    def compute_type(self, opts: TranscribeOptions) -> str:
        """The numeric precision the model runs in, as recorded in the settings."""
        return opts.compute_type

    def _decode(
        self, audio: np.ndarray, opts: TranscribeOptions, speech_chunks=None, **overrides
    ) -> Decoded:
        """Decode `audio` (with `speech_chunks`, faster-whisper's VAD chunks, only that speech,
        at its original times); `overrides` are keyword arguments for the engine's model."""
        raise NotImplementedError

    def recover_gaps(
        self,
        audio: np.ndarray,
        speech: list[gap_finder.Gap],
        segments: list[Segment],
        opts: TranscribeOptions,
        language: str | None,
    ) -> tuple[list[Segment], list[gap_finder.Gap], list[gap_finder.Gap]]:
        """Re-decode speech no segment covers; (all segments, gaps found, gaps still empty).

        When a gap's new text repeats a segment next to it, that segment was the gap's speech
        timed too late (Whisper's word alignment stretches text over speech it skipped), and
        the speech truly at its time was lost: it is dropped and its time decoded again.

        A gap that is only partly filled is decoded again on what is left: in a long gap
        Whisper may time all the gap's words at its end (35 s of speech, the first 24 s left
        empty), and the shorter clip places them."""
        gaps = gap_finder.find_gaps(speech, segments)
        all_gaps = list(gaps)
        for _ in range(MAX_GAP_ROUNDS):
            if not gaps:
                break
            found = self._fill_gaps(audio, gaps, opts, language, segments)
            misplaced = gap_finder.repeated_by(segments, found)
            segments = gap_finder.splice([s for s in segments if s not in misplaced], found)
            before, gaps = gaps, gap_finder.find_gaps(speech, segments)
            if not misplaced and (not found or gaps == before):
                break
            all_gaps += [g for g in gaps if g not in all_gaps]
        return segments, all_gaps, gaps

    def _fill_gaps(self, audio, gaps, opts, language, segments) -> list[Segment]:
        """Decode each gap's audio alone and keep what falls inside the gap.

        The words said just before the gap are the prompt: without them the prompt is the
        show's names alone, and Whisper copies their Title Case into the whole gap."""
        duration = len(audio) / SAMPLE_RATE
        found: list[Segment] = []
        for gap in gaps:
            start, end = gap_finder.clip_bounds(gap, duration)
            clip = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
            context = text_before(segments, start)
            prompt = " ".join(p for p in (opts.initial_prompt, context) if p) or None
            segments_found, _, _ = self._decode(
                clip,
                replace(opts, initial_prompt=prompt),
                language=language,
                beam_size=self.gap_beam_size,
                temperature=GAP_TEMPERATURES,
                condition_on_previous_text=False,
            )
            if is_loop(segments_found):
                continue  # the gap stays empty: no words beat the same words over and over
            for segment in split_hallucinations(segments_found)[0]:
                shifted = _shift(segment, start)
                if shifted.text.strip() and gap_finder.inside(shifted, gap):
                    found.append(shifted)
        return found


def text_before(segments: list[Segment], time: float, max_words: int = CONTEXT_WORDS) -> str:
    """The last `max_words` words of the segments that end by `time`."""
    words: list[str] = []
    for segment in segments:
        if segment.end <= time + gap_finder.COVER_PAD_S:
            words += segment.text.split()
    return " ".join(words[-max_words:])


def split_sentences(segments: list[Segment], max_words: int = MAX_SEGMENT_WORDS) -> list[Segment]:
    """Split long segments at sentence ends, by word timestamps.

    A prompt makes Whisper emit fewer timestamp tokens (30 s segments); readers and search
    hits want sentences. Segments without word timings are left whole.
    """
    out: list[Segment] = []
    for segment in segments:
        if len(segment.words) <= max_words:
            out.append(segment)
            continue
        piece: list[Word] = []
        first = True
        for n, word in enumerate(segment.words):
            piece.append(word)
            last = n == len(segment.words) - 1
            if last or (len(piece) >= MIN_SPLIT_WORDS and word.word.rstrip().endswith(_ENDS)):
                out.append(
                    replace(
                        segment,
                        start=segment.start if first else piece[0].start,
                        end=segment.end if last else piece[-1].end,
                        text="".join(w.word for w in piece).strip(),
                        words=piece,
                    )
                )
                piece, first = [], False
    return out


def fit_times(
    segments: list[Segment], duration: float, *, join_empty: bool = True
) -> list[Segment]:
    """Segments and words inside [0, duration], in order and not overlapping.

    Whisper times the last window's text up to the end of its 30 s window, past the end of a
    shorter audio, and the exact times differ between CPUs; players, cues and search links
    need times that exist. A segment left with no room (it began at the very end) joins the
    one before it, so no words are lost; with `join_empty` off it stays, without a length
    (a publisher's untimed paragraphs are all such, and each keeps its speaker).
    """
    fitted: list[Segment] = []
    previous_end = 0.0
    for segment in segments:
        start = min(max(segment.start, previous_end, 0.0), duration)
        end = min(max(segment.end, start), duration)
        if end <= start and fitted and join_empty:
            last = fitted[-1]
            fitted[-1] = replace(
                last,
                text=f"{last.text.rstrip()} {segment.text.lstrip()}",
                words=last.words + [_fit_word(w, last.start, last.end) for w in segment.words],
            )
            continue
        words = [_fit_word(w, start, end) for w in segment.words]
        fitted.append(replace(segment, start=start, end=end, words=words))
        previous_end = end
    return fitted


def _fit_word(word: Word, start: float, end: float) -> Word:
    word_start = min(max(word.start, start), end)
    return replace(word, start=word_start, end=min(max(word.end, word_start), end))


def audio_seconds(audio_path: Path) -> float | None:
    """The length of an audio file as its container states it, without decoding; None if the
    file cannot be read or does not say."""
    import av  # PyAV, which faster-whisper decodes with

    try:
        with av.open(str(audio_path)) as container:
            if container.duration is not None:
                return container.duration / av.time_base
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
    except (av.FFmpegError, OSError, IndexError):
        return None
    return None


@dataclass
class _Heard:
    """What the windows of an episode have given so far, in the episode's times."""

    segments: list[Segment] = field(default_factory=list)
    speech: list[gap_finder.Gap] = field(default_factory=list)
    gaps: list[gap_finder.Gap] = field(default_factory=list)
    remaining: list[gap_finder.Gap] = field(default_factory=list)
    invented: list[Segment] = field(default_factory=list)
    language: str | None = None
    engine_settings: dict = field(default_factory=dict)  # the first window with speech's
    duration: float = 0.0
    windows: int = 0

    def add(self, offset: float, window: _Heard) -> None:
        """A window's findings, timed from `offset` seconds into the episode."""
        self.segments += [_shift(s, offset) for s in window.segments]
        self.invented += [_shift(s, offset) for s in window.invented]
        for mine, theirs in (
            (self.speech, window.speech),
            (self.gaps, window.gaps),
            (self.remaining, window.remaining),
        ):
            mine += [gap_finder.Gap(g.start + offset, g.end + offset) for g in theirs]
        self.language = self.language or window.language
        self.engine_settings = self.engine_settings or window.engine_settings
        self.windows += window.windows


def _without_looped_sentences(segments: list[Segment]) -> tuple[list[Segment], list[Segment]]:
    """Segments whose sentences end in a loop ("... every job listing. We do. We do. We do.")
    keep the sentences before it; (segments kept, sentences dropped). Such a segment
    compresses like speech, so `split_hallucinations` keeps it; the loop's time, left
    empty, is decoded again as a gap."""
    kept: list[Segment] = []
    dropped: list[Segment] = []
    for segment in segments:
        sentences = split_sentences([segment])
        if len(sentences) <= 1:
            kept.append(segment)
            continue
        speech, looped = split_loops(sentences)
        if not looped:
            kept.append(segment)
            continue
        kept += speech
        dropped += looped
    return kept, dropped


def _shift(segment: Segment, offset: float) -> Segment:
    """A segment decoded from a clip, moved to the clip's place in the episode."""
    return replace(
        segment,
        start=round(segment.start + offset, 3),
        end=round(segment.end + offset, 3),
        words=[
            replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3))
            for w in segment.words
        ],
    )
