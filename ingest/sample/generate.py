"""Regenerate the sample show's audio, WebVTT transcript and line timings from episodes.yaml.

    python -m ingest.sample.generate [--only N ...]

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


def generate_episode(episode: SampleEpisode, host: str, workdir: Path) -> dict:
    """Speak one episode to MP3 (and VTT if it has one); return its timings."""
    frames: list[bytes] = []
    spans: list[tuple[float, float]] = []
    params = None
    position = 0  # in samples
    for index, line in enumerate(episode.script):
        wav_path = workdir / f"{episode.number}-{index}.wav"
        _speak(line.text, HOST_VOICE if line.speaker == host else GUEST_VOICE, wav_path)
        with wave.open(str(wav_path), "rb") as wav:
            if params is None:
                params = wav.getparams()
                rate = params.framerate
                silence = b"\0" * params.sampwidth * params.nchannels
                frames.append(silence * round(LEAD_IN_SECONDS * rate))
                position = round(LEAD_IN_SECONDS * rate)
            elif index:
                frames.append(silence * round(PAUSE_SECONDS * rate))
                position += round(PAUSE_SECONDS * rate)
            count = wav.getnframes()
            frames.append(wav.readframes(count))
        spans.append((round(position / rate, 3), round((position + count) / rate, 3)))
        position += count
    frames.append(silence * round(TAIL_SECONDS * rate))
    position += round(TAIL_SECONDS * rate)

    joined = workdir / f"{episode.number}.wav"
    with wave.open(str(joined), "wb") as out:
        out.setparams(params)
        out.writeframes(b"".join(frames))
    mp3_tmp = workdir / f"{episode.number}.mp3"
    # bitexact and no metadata: the same script gives the same bytes on the same ffmpeg.
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(joined),
         "-ac", "1", "-ar", str(MP3_SAMPLE_RATE), "-codec:a", "libmp3lame", "-b:a", MP3_BITRATE,
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
         "-id3v2_version", "0", str(mp3_tmp)],
        check=True,
    )  # fmt: skip
    _write_atomic(episode.audio_path, mp3_tmp.read_bytes())
    if episode.transcript_path is not None:
        _write_atomic(episode.transcript_path, webvtt(episode, spans).encode("utf-8"))
    return {"duration": round(position / rate, 3), "lines": spans}


def main(argv: list[str] | None = None) -> int:
    """Regenerate audio, transcripts and timings for all (or the chosen) episodes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=int, nargs="*", help="episode numbers to regenerate")
    args = parser.parse_args(argv)
    load_sample.cache_clear()
    show = load_sample()
    timings = json.loads(TIMINGS_FILE.read_text()) if TIMINGS_FILE.exists() else {}
    AUDIO_DIR.mkdir(exist_ok=True)
    TRANSCRIPTS_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sample-") as tmp:
        for episode in show.episodes:
            if args.only and episode.number not in args.only:
                continue
            timing = generate_episode(episode, show.host, Path(tmp))
            timings[str(episode.number)] = timing
            size = episode.audio_path.stat().st_size
            print(f"episode {episode.number}: {timing['duration']:.1f} s, {size:,} bytes")
    numbers = {str(e.number) for e in show.episodes}
    timings = {k: v for k, v in sorted(timings.items(), key=lambda kv: int(kv[0])) if k in numbers}
    _write_atomic(TIMINGS_FILE, (json.dumps(timings, indent=1) + "\n").encode())
    load_sample.cache_clear()
    total = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    print(f"sample folder: {total:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
