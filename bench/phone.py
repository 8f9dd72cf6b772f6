"""Telephone-quality copies of the bench's recordings: not espeak-ng's clean studio sound.

Each copy goes through what a phone call does to speech: band-limited to 300-3400 Hz,
sampled at 8 kHz and coded as G.711 mu-law (ffmpeg), with line noise added 15 dB under the
speech (numpy, seeded); every second copy also has another recording's voice talking over
it 12 dB under (crosstalk: two voices at once, the reference holding the first one's words
only). Whisper hears them back at 16 kHz, as a podcast of a phone interview would give them.

Built at bench or test time from audio the project already has, cached in
~/.cache/podcast-archive/bench-phone (or under $XDG_CACHE_HOME), keyed by the source audio
and these settings; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
NOISE_DB = -15.0  # line noise, against the speech's RMS
CROSSTALK_DB = -12.0  # the other voice, against the speech's RMS
PHONE_FILTER = "highpass=f=300,lowpass=f=3400"
VERSION = 2  # of the recipe: a change makes new copies
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
CACHE_DIR = CACHE_DIR / "podcast-archive" / "bench-phone"


def read_audio(path: Path) -> np.ndarray:
    """Any audio file as 16 kHz mono float32 (ffmpeg)."""
    raw = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(path), "-f", "f32le", "-ac", "1",
         "-ar", str(SAMPLE_RATE), "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.float32).copy()


def phone_line(audio: np.ndarray) -> np.ndarray:
    """`audio` through a telephone channel: band-limited, 8 kHz mu-law, back at 16 kHz."""
    with tempfile.TemporaryDirectory(prefix="bench-phone-") as tmp:
        source, coded = Path(tmp) / "in.f32", Path(tmp) / "line.wav"
        source.write_bytes(audio.astype(np.float32).tobytes())
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1",
             "-i", str(source), "-af", PHONE_FILTER, "-ar", "8000", "-acodec", "pcm_mulaw",
             str(coded)],
            check=True,
        )  # fmt: skip
        return read_audio(coded)


def rms(audio: np.ndarray) -> float:
    voiced = audio[np.abs(audio) > 1e-3]  # the speech, not the pauses
    return float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 0.0


def degrade(audio: np.ndarray, seed: int, crosstalk: np.ndarray | None = None) -> np.ndarray:
    """A phone call's copy of `audio`, with `crosstalk` under it when given."""
    level = rms(audio)
    mixed = audio.copy()
    if crosstalk is not None:
        other = np.resize(crosstalk, len(audio))  # repeated if shorter
        mixed += other * (level * 10 ** (CROSSTALK_DB / 20) / max(rms(other), 1e-9))
    noise = np.random.default_rng(seed).standard_normal(len(mixed)).astype(np.float32)
    mixed += noise * level * 10 ** (NOISE_DB / 20)  # before the line: in its band, as a call's
    line = phone_line(mixed)[: len(audio)]
    peak = float(np.max(np.abs(line))) or 1.0
    return (line / max(peak, 1.0)).astype(np.float32)  # no clipping in the 16-bit file


def write_wav(path: Path, audio: np.ndarray) -> None:
    """16-bit mono WAV, written under a temporary name and renamed."""
    partial = path.with_name(f".{path.name}.part")
    with wave.open(str(partial), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    os.replace(partial, path)


def phone_recordings(sources: list, corpus: str) -> list:
    """Telephone copies of `sources` (bench/speech_corpus.py Recordings), as recordings of
    `corpus`; every second one with the next recording's voice talking over it."""
    out = []
    for n, recording in enumerate(sources):
        other = sources[(n + 1) % len(sources)] if n % 2 and len(sources) > 1 else None
        key = repr((VERSION, NOISE_DB, CROSSTALK_DB, PHONE_FILTER, n, _digest(recording)))
        key += repr(_digest(other)) if other else ""
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        path = CACHE_DIR / f"{recording.label}-{digest}.wav"
        if not path.is_file():
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            crosstalk = read_audio(other.audio_path) if other else None
            write_wav(path, degrade(read_audio(recording.audio_path), n, crosstalk))
        label = f"{recording.label} (phone{', crosstalk' if other else ''})"
        out.append(replace(recording, corpus=corpus, label=label, audio_path=path))
    return out


def _digest(recording) -> str:
    return hashlib.sha256(Path(recording.audio_path).read_bytes()).hexdigest()[:16]
