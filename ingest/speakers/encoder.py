"""Voice vectors: Resemblyzer's speaker encoder (a 3-layer LSTM over 1.6 s of mel frames, 256
numbers out, trained on thousands of speakers), run with PyTorch on the CPU.

The weights are the `pretrained.pt` inside the `resemblyzer` wheel, found without importing
the package (its `__init__` loads librosa and webrtcvad, which nothing here needs), so nothing
is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ingest.speakers import INSTALL_HINT, SpeakersUnavailable
from ingest.speakers.features import HOP, SAMPLE_RATE, mel_spectrogram

WINDOW_FRAMES = 160  # 1.6 s: the length the encoder was trained on
WINDOW_SECONDS = WINDOW_FRAMES * HOP / SAMPLE_RATE
TARGET_DBFS = -30.0  # Resemblyzer scales its input to this loudness first
HIDDEN = 256
EMBEDDING = 256
BATCH = 64  # windows through the LSTM at once
THREADS = 1


def weights_path() -> Path:
    """The encoder's weights inside the installed `resemblyzer` package."""
    try:
        spec = importlib.util.find_spec("resemblyzer")
    except (ImportError, ValueError):  # blocked, or a broken install
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise SpeakersUnavailable(INSTALL_HINT)
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise SpeakersUnavailable(f"the resemblyzer package has no {path.name}: {INSTALL_HINT}")
    return path


class VoiceEncoder:
    """Turns 16 kHz clips into unit-length voice vectors; similar voices point the same way."""

    def __init__(self) -> None:
        try:
            import torch
        except ImportError as exc:
            raise SpeakersUnavailable(INSTALL_HINT) from exc
        path = weights_path()
        state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
        self._torch = torch
        self.lstm = torch.nn.LSTM(40, HIDDEN, 3, batch_first=True)
        self.linear = torch.nn.Linear(HIDDEN, EMBEDDING)
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self.lstm.eval()
        self.linear.eval()

    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        """(len(clips), 256) vectors; each clip is cut or zero-padded to 1.6 s."""
        if not clips:
            return np.zeros((0, EMBEDDING), dtype=np.float32)
        mels = np.stack([_frames(clip) for clip in clips])
        torch = self._torch
        out = []
        # One thread: the LSTM's small matrices gain little from two, and the spare core goes
        # on downloading or transcribing (measured in bench/speakers.py).
        threads = torch.get_num_threads()
        torch.set_num_threads(THREADS)
        try:
            with torch.inference_mode():
                for start in range(0, len(mels), BATCH):
                    _, (hidden, _) = self.lstm(torch.from_numpy(mels[start : start + BATCH]))
                    raw = torch.relu(self.linear(hidden[-1]))
                    out.append(torch.nn.functional.normalize(raw, dim=1).numpy())
        finally:
            torch.set_num_threads(threads)
        return np.concatenate(out).astype(np.float32)


def _frames(clip: np.ndarray) -> np.ndarray:
    samples = WINDOW_FRAMES * HOP
    clip = clip[:samples]
    rms = float(np.sqrt(np.mean(clip.astype(np.float64) ** 2))) if len(clip) else 0.0
    if rms > 1e-5:  # loudness as in training; silence stays silence
        clip = clip * (10 ** (TARGET_DBFS / 20) / rms)
    clip = np.pad(clip, (0, samples - len(clip)))
    return mel_spectrogram(clip)[:WINDOW_FRAMES]


def load_encoder() -> VoiceEncoder:
    """The encoder, or SpeakersUnavailable saying how to install it."""
    return VoiceEncoder()
