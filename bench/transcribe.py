"""Benchmark the transcription engines on the sample show's speech: speed, memory and accuracy.

    python bench/transcribe.py                  # the standard table (tiny.en)
    python bench/transcribe.py --model base     # the same settings with another model
    python bench/transcribe.py --repeat 3       # each setting 3 times (temperature fallback
                                                # samples at random, so WER varies run to run)

Each setting runs in its own subprocess so its peak memory (ru_maxrss) is its own. Every
sample episode is transcribed with the options `podarchive transcribe` would use (the show's
language and names); the real-time factor is audio seconds per second of transcribing, with
model loading and a warm-up excluded; WER is over all episodes together.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.sample import load_sample  # noqa: E402
from ingest.wer import edit_distance, normalise  # noqa: E402


@dataclass
class Setting:
    label: str
    engine: str = "faster-whisper"
    compute_type: str = "int8"
    beam_size: int = 5
    vad: bool = True
    word_timestamps: bool = True  # the default of `run` and `transcribe`
    names: bool = True  # pass the show's names (the job does); engines may ignore them


SETTINGS = [
    Setting("faster-whisper default (int8, beam 5, VAD, words)"),
    Setting("faster-whisper default without the show's names", names=False),
    Setting("faster-whisper int8, beam 5, VAD, no words", word_timestamps=False),
    Setting("faster-whisper int8, beam 1, VAD, words", beam_size=1),
    Setting("faster-whisper int8, beam 5, no VAD, words", vad=False),
    Setting("faster-whisper float32, beam 5, VAD, words", compute_type="float32"),
    Setting("openai-whisper beam 5, words (same settings as the default)", engine="openai-whisper"),
    Setting("openai-whisper beam 5, no words", engine="openai-whisper", word_timestamps=False),
    Setting("openai-whisper beam 1, words", engine="openai-whisper", beam_size=1),
]


def episode_vocabulary(show, episode) -> list[str]:
    """The names the job would pass: show, host, guests and their companies."""
    names = [show.title, show.host]
    for guest in episode.guests:
        names += [guest.name, guest.company]
    return names


def run_one(setting: Setting, model: str, episodes: int | None = None) -> dict:
    """In the child: load the engine, warm it up, transcribe every episode, measure."""
    from ingest.transcribe import TranscribeOptions, get_transcriber

    show = load_sample()
    options = TranscribeOptions(
        model=model,
        language="en",
        beam_size=setting.beam_size,
        compute_type=setting.compute_type,
        vad=setting.vad,
        word_timestamps=setting.word_timestamps,
    )
    started = time.perf_counter()
    engine = get_transcriber(setting.engine, options)
    load_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:  # warm-up on 15 s: lazy inits, caches
        clip = Path(tmp) / "warm-up.wav"
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-i",
                str(show.episodes[0].audio_path),
                "-t",
                "15",
                str(clip),
            ],
            check=True,
        )
        engine.transcribe(clip, options)
    audio = seconds = 0.0
    edits = words = 0
    gaps = 0
    for episode in show.episodes[:episodes]:
        names = episode_vocabulary(show, episode)
        per_episode = TranscribeOptions(
            **{**asdict(options), "vocabulary": names if setting.names else []}
        )
        started = time.perf_counter()
        transcript = engine.transcribe(episode.audio_path, per_episode)
        seconds += time.perf_counter() - started
        audio += transcript.duration or 0.0
        reference = normalise(episode.spoken_text)
        edits += edit_distance(reference, normalise(transcript.text))
        words += len(reference)
        gaps += len(transcript.settings.get("gaps_found", []))
    return {
        "audio_seconds": audio,
        "seconds": seconds,
        "speed": audio / seconds,
        "wer": edits / words,
        "gaps_found": gaps,
        "load_seconds": load_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--only", action="append", help="run settings whose label contains this text (repeatable)"
    )
    parser.add_argument("--episodes", type=int, help="use only the first N sample episodes")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(Setting(**json.loads(args.child)), args.model, args.episodes)))
        return

    from ingest.transcribe.faster import available_cores

    show = load_sample()
    chosen = show.episodes[: args.episodes]
    total = sum(e.duration or 0 for e in chosen)
    print(
        f"model {args.model}; {len(chosen)} sample episodes, {total / 60:.1f} min of "
        f"espeak-ng speech; {available_cores()} cores; load average {load_average()}"
    )
    header = f"{'setting':<52} {'x real time':>11} {'peak MB':>8} {'WER':>6} {'gaps':>5}"
    print(header)
    print("-" * len(header))
    results: dict[str, list[dict]] = {}
    settings = [s for s in SETTINGS if not args.only or any(o in s.label for o in args.only)]
    for _ in range(args.repeat):
        for setting in settings:
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--model",
                    args.model,
                    "--child",
                    json.dumps(asdict(setting)),
                    *(["--episodes", str(args.episodes)] if args.episodes else []),
                ],
                capture_output=True,
                text=True,
            )
            if child.returncode != 0:
                last = (child.stderr.strip().splitlines() or ["?"])[-1]
                print(f"{setting.label:<52} failed: {last}")
                continue
            result = json.loads(child.stdout.strip().splitlines()[-1])
            results.setdefault(setting.label, []).append(result)
            print(
                f"{setting.label:<52} {result['speed']:>10.1f}x {result['peak_rss_mb']:>8.0f} "
                f"{result['wer']:>6.1%} {result['gaps_found']:>5}",
                flush=True,
            )
    print(f"load average at the end: {load_average()}")
    default = SETTINGS[0].label
    reference = next(s.label for s in SETTINGS if s.engine == "openai-whisper")
    if default in results and reference in results:
        mean = lambda label, key: sum(r[key] for r in results[label]) / len(results[label])  # noqa: E731
        ratio = mean(default, "speed") / mean(reference, "speed")
        print(
            f"default vs openai-whisper beam 5 (same model): {ratio:.2f}x faster; "
            f"WER {mean(default, 'wer'):.1%} vs {mean(reference, 'wer'):.1%}"
        )


if __name__ == "__main__":
    main()
