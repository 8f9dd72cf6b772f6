"""Whisper's log-Mel spectrogram in bounded memory, for faster-whisper.

faster-whisper computes the spectrogram of a whole input at once: its STFT frames and their
Fourier transforms take about 0.7 MB per second of audio (420 MB for a 10-minute window),
many times the 19 kB a second the result needs. Each frame's transform depends on that frame
alone, so computing them a stretch at a time gives the same numbers; only the final clamp
(to 8 decades under the loudest value) needs the whole, and it runs on the small result.
"""

from __future__ import annotations

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

FRAMES_PER_PIECE = 3000  # 30 s of frames at a time: about 20 MB of intermediate arrays


class PiecewiseFeatureExtractor(FeatureExtractor):
    """faster-whisper's FeatureExtractor, computing its STFT `FRAMES_PER_PIECE` frames at a time."""

    def __call__(self, waveform: np.ndarray, padding=160, chunk_length=None):
        if chunk_length is not None:  # as the parent does: the model's window length
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        waveform = waveform.astype(np.float32, copy=False)
        if padding:
            waveform = np.pad(waveform, (0, padding))
        # The parent's STFT centres frames on their samples (reflect padding), and its last
        # frame is dropped from the spectrogram.
        half = self.n_fft // 2
        padded = np.pad(waveform, (half, half), mode="reflect")
        frames = 1 + (len(padded) - self.n_fft) // self.hop_length - 1
        window = np.hanning(self.n_fft + 1)[:-1].astype("float32")
        log_spec = np.empty((self.mel_filters.shape[0], frames), dtype=np.float32)
        for first in range(0, frames, FRAMES_PER_PIECE):
            last = min(first + FRAMES_PER_PIECE, frames)
            piece = padded[first * self.hop_length : (last - 1) * self.hop_length + self.n_fft]
            stft = self.stft(
                piece, self.n_fft, self.hop_length, window=window, center=False, return_complex=True
            ).astype("complex64")
            mel_spec = self.mel_filters @ (np.abs(stft) ** 2)
            log_spec[:, first:last] = np.log10(np.clip(mel_spec, a_min=1e-10, a_max=None))
        log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
        return (log_spec + 4.0) / 4.0
