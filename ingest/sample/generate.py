"""Regenerate the sample show's audio, WebVTT transcript and line timings from episodes.yaml.

    python -m ingest.sample.generate [--only N ...] [--out DIR]

Needs espeak-ng and ffmpeg. Each script line is spoken to its own WAV (host and guests in
different voices), the lines are joined with short pauses, and the result is encoded as a
small mono MP3. Line start/end times come from the WAV sample counts, so the publisher
transcript and timings.json match the audio exactly. Outputs are written to a temporary
name and renamed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

from ingest.sample import (
    AUDIO_DIR,
    SAMPLE_DIR,
    TIMINGS_FILE,
    TRANSCRIPTS_DIR,
    SampleEpisode,
    load_sample,
)

# Voices picked so Whisper tiny.en transcribes them well (WER about 4%) and host and guests
# sound different: the guest's "m7" variant has its own formants and pitch range, the host
# speaks lower. Measured worse: en-gb voices (WER 8 to 13%); a higher guest pitch (Whisper
# hears "grit" as "grid").
HOST_VOICE = ("en-us", 40)  # espeak-ng voice and pitch (-p, 0-99, default 50)
GUEST_VOICE = ("en-us+m7", 50)
WORDS_PER_MINUTE = 170
WORD_GAP_10MS = 3  # espeak-ng -g: extra pause between words, in units of 10 ms
LEAD_IN_SECONDS = 0.2
PAUSE_SECONDS = 0.4  # between lines, like a turn in conversation
TAIL_SECONDS = 0.3
MP3_SAMPLE_RATE = 16000  # Whisper resamples to 16 kHz anyway
MP3_BITRATE = "32k"


def _speak(text: str, voice: tuple[str, int], path: Path) -> None:
    name, pitch = voice
    subprocess.run(
        ["espeak-ng", "-v", name, "-p", str(pitch), "-s", str(WORDS_PER_MINUTE),
         "-g", str(WORD_GAP_10MS), "-w", str(path), "--", text],
        check=True,
    )  # fmt: skip


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def webvtt(episode: SampleEpisode, spans: list[tuple[float, float]]) -> str:
    """A WebVTT transcript, one cue per line with a voice tag (WebVTT spec section 4.2.2)."""
    cues = ["WEBVTT", ""]
    for index, (line, (start, end)) in enumerate(zip(episode.script, spans, strict=True), 1):
        text = line.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        cues += [str(index), f"{_vtt_time(start)} --> {_vtt_time(end)}"]
        cues += [f"<v {line.speaker}>{text}", ""]
    return "\n".join(cues)


def _silence(params, seconds: float) -> bytes:
    return b"\0" * params.sampwidth * params.nchannels * round(seconds * params.framerate)


def _join_lines(wavs: list[Path], out: Path) -> list[tuple[float, float]]:
    """Join the line WAVs with pauses into `out`; return each line's (start, end) in seconds."""
    chunks: list[bytes] = []
    spans: list[tuple[float, float]] = []
    params = None
    for index, path in enumerate(wavs):
        with wave.open(str(path), "rb") as wav:
            params = params or wav.getparams()
            if wav.getparams()[:3] != params[:3]:
                raise ValueError(f"{path}: espeak-ng changed the audio format between lines")
            chunks.append(_silence(params, PAUSE_SECONDS if index else LEAD_IN_SECONDS))
            start = sum(map(len, chunks)) // params.sampwidth
            chunks.append(wav.readframes(wav.getnframes()))
            end = sum(map(len, chunks)) // params.sampwidth
        spans.append((round(start / params.framerate, 3), round(end / params.framerate, 3)))
    chunks.append(_silence(params, TAIL_SECONDS))
    with wave.open(str(out), "wb") as joined:
        joined.setparams(params)
        joined.writeframes(b"".join(chunks))
    return spans


def speak_lines(
    lines: list[tuple[bool, str]], out: Path, workdir: Path
) -> list[tuple[float, float]]:
    """Speak (is the host, text) lines, in the host's or the guest's voice, into one WAV at
    `out` with the show's pauses; return each line's (start, end) in seconds."""
    wavs = []
    for index, (is_host, text) in enumerate(lines):
        wavs.append(workdir / f"{out.stem}-{index}.wav")
        _speak(text, HOST_VOICE if is_host else GUEST_VOICE, wavs[-1])
    return _join_lines(wavs, out)


def encode_mp3(wav: Path, mp3: Path) -> None:
    """The show's small mono MP3 of a WAV. Bitexact and without metadata: the same WAV gives
    the same bytes on the same ffmpeg."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(wav),
         "-ac", "1", "-ar", str(MP3_SAMPLE_RATE), "-codec:a", "libmp3lame", "-b:a", MP3_BITRATE,
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
         "-id3v2_version", "0", "-f", "mp3", str(mp3)],
        check=True,
    )  # fmt: skip


def generate_episode(episode: SampleEpisode, host: str, out_dir: Path, workdir: Path) -> dict:
    """Speak one episode to `out_dir`/audio/N.mp3 (and its VTT if it has one); return timings."""
    joined = workdir / f"{episode.number}.wav"
    lines = [(line.speaker == host, line.text) for line in episode.script]
    spans = speak_lines(lines, joined, workdir)
    with wave.open(str(joined), "rb") as wav:
        duration = round(wav.getnframes() / wav.getframerate(), 3)
    mp3 = workdir / f"{episode.number}.mp3"
    encode_mp3(joined, mp3)
    _write_atomic(out_dir / AUDIO_DIR.name / episode.audio_name, mp3.read_bytes())
    if episode.transcript_name is not None:
        vtt = webvtt(episode, spans).encode("utf-8")
        _write_atomic(out_dir / TRANSCRIPTS_DIR.name / episode.transcript_name, vtt)
    return {"duration": duration, "lines": spans}


def generate(out_dir: Path = SAMPLE_DIR, only: set[int] | None = None) -> dict[str, dict]:
    """Generate audio and transcripts (all episodes, or those in `only`) and timings.json."""
    load_sample.cache_clear()
    show = load_sample()
    timings_file = out_dir / TIMINGS_FILE.name
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    (out_dir / AUDIO_DIR.name).mkdir(parents=True, exist_ok=True)
    (out_dir / TRANSCRIPTS_DIR.name).mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sample-") as tmp:
        for episode in show.episodes:
            if only and episode.number not in only:
                continue
            timings[str(episode.number)] = generate_episode(episode, show.host, out_dir, Path(tmp))
    numbers = sorted(e.number for e in show.episodes)
    timings = {str(n): timings[str(n)] for n in numbers if str(n) in timings}
    _write_atomic(timings_file, (json.dumps(timings, indent=1) + "\n").encode())
    load_sample.cache_clear()
    return timings


def main(argv: list[str] | None = None) -> int:
    """Regenerate audio, transcripts and timings for all (or the chosen) episodes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=int, nargs="*", help="episode numbers to regenerate")
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    args = parser.parse_args(argv)
    timings = generate(args.out, set(args.only or ()))
    for number, timing in timings.items():
        size = (args.out / AUDIO_DIR.name / f"{number}.mp3").stat().st_size
        print(f"episode {number}: {timing['duration']:.1f} s, {size:,} bytes")
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{args.out}: {total:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
