"""An episode's audio as a stream of windows, so memory does not grow with its length.

Decoding a whole file at once holds every sample (a 3-hour episode is 690 MB as float32, and
Whisper's spectrogram of it several times that). Instead the file is decoded and resampled
block by block, and handed on in windows (TranscribeOptions.window_seconds long); each window
ends in a pause (the longest one near its end, by voice detection), so no word is cut in two,
and the audio after the pause opens the next window.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.transcribe.base import TranscriptionError
from ingest.transcribe.gaps import SAMPLE_RATE

BLOCK_SECONDS = 30.0  # decoded from the file at a time
CUT_SEARCH_SECONDS = 60.0  # a window ends in the longest pause of its last minute
CUT_MIN_PAUSE_MS = 100  # voice detection's shortest pause when looking for the cut


@dataclass(frozen=True)
class Window:
    """A stretch of an episode's audio: 16 kHz mono float32 samples from `start` seconds on."""

    start: float
    audio: np.ndarray

    @property
    def end(self) -> float:
        return self.start + len(self.audio) / SAMPLE_RATE


def windows(audio_path: Path, window_seconds: float) -> Iterator[Window]:
    """The file's audio in windows ending in pauses; the last ends with the file.

    TranscriptionError when the file is missing, cannot be decoded or holds no samples."""
    window_samples = int(window_seconds * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    pending_samples = 0
    start_sample = 0
    for block in decoded_blocks(audio_path):
        pending.append(block)
        pending_samples += len(block)
        if pending_samples < window_samples:
            continue
        audio = np.concatenate(pending)
        pending = []  # the blocks are in `audio` now: free them before the cut is searched for
        cut = pause_to_cut_at(audio)
        yield Window(start_sample / SAMPLE_RATE, audio[:cut])
        rest = audio[cut:].copy()  # not a view: the window's samples are freed once it is done
        pending, pending_samples = [rest], len(rest)
        start_sample += cut
    if start_sample == 0 and pending_samples == 0:
        raise TranscriptionError(f"audio file {Path(audio_path).name} holds no audio samples")
    if pending_samples:
        yield Window(start_sample / SAMPLE_RATE, np.concatenate(pending))


def pause_to_cut_at(audio: np.ndarray) -> int:
    """A sample in the middle of the longest pause in the last `CUT_SEARCH_SECONDS` of `audio`
    (its end when that stretch has no speech; the cut never leaves `audio` empty)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    search_from = max(0, len(audio) - int(CUT_SEARCH_SECONDS * SAMPLE_RATE))
    tail = audio[search_from:]
    speech = get_speech_timestamps(
        tail, VadOptions(min_silence_duration_ms=CUT_MIN_PAUSE_MS, speech_pad_ms=0)
    )
    if not speech:
        return len(audio)
    edges = [0, *(edge for chunk in speech for edge in (chunk["start"], chunk["end"])), len(tail)]
    pauses = [(edges[i + 1] - edges[i], edges[i]) for i in range(0, len(edges), 2)]
    length, pause_start = max(pauses)
    cut = search_from + pause_start + length // 2
    return cut if cut > 0 else len(audio)


def decoded_blocks(audio_path: Path, block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """The file decoded (any format ffmpeg knows) to 16 kHz mono float32, a block at a time.

    What faster-whisper's decode_audio does, without keeping the whole file: frames gather in
    a FIFO at the source rate, and each block is resampled as it fills."""
    import av

    path = Path(audio_path)
    if not path.is_file():
        raise TranscriptionError(f"audio file {path} does not exist")
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise TranscriptionError(f"audio file {path.name} has no audio stream")
            stream = container.streams.audio[0]
            block_samples = int(block_seconds * (stream.rate or SAMPLE_RATE))
            fifo = av.audio.fifo.AudioFifo()
            for frame in _valid_frames(container.decode(stream)):
                frame.pts = None  # the FIFO checks timestamps run on; some files' do not
                fifo.write(frame)
                if fifo.samples >= block_samples:
                    yield _resampled(resampler, fifo.read())
            if fifo.samples:
                yield _resampled(resampler, fifo.read())
            yield _resampled(resampler, None)  # what the resampler still holds
    except TranscriptionError:
        raise
    except Exception as exc:  # PyAV raises many kinds (InvalidDataError, DecoderNotFound...)
        raise TranscriptionError(f"cannot decode audio file {path.name}: {exc}") from exc
    finally:
        # PyAV's resampler keeps buffers alive until the garbage collector runs
        # (faster-whisper does the same after decoding: its issue 390).
        del resampler
        gc.collect()


def _valid_frames(frames) -> Iterator:
    """The decoder's frames, skipping the ones it cannot decode (a damaged stretch of file)."""
    import av

    iterator = iter(frames)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def _resampled(resampler, frame) -> np.ndarray:
    pieces = [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(pieces).astype(np.float32) / 32768.0
