"""Benchmark the transcription engines on espeak-ng speech: speed, memory and accuracy.

    python bench/transcribe.py                    # the standard table (tiny.en, all audio)
    python bench/transcribe.py --corpus sample    # only the sample show (5 minutes, quick)
    python bench/transcribe.py --only default --only 'openai-whisper beam 5, words'
    python bench/transcribe.py --model base       # the same settings with another model
    python bench/transcribe.py --corpus long --profile   # the default's time per stage
    python bench/transcribe.py --only default --only plain  # the default against plain decoding

The audio (bench/speech_corpus.py) is the sample show and 21 written interviews spoken in
the same voices, 36 minutes and 5,486 words in all. Each setting runs in its own
subprocess so its peak memory (ru_maxrss) is its own. Every recording is transcribed with
the options `podarchive transcribe` would use (the show's language and names); the real-time
factor is audio seconds per second of transcribing, with model loading and a warm-up
excluded; WER is per corpus and over all recordings together. The last line compares the
default with openai-whisper on the same settings, with a bootstrap interval of the WER
difference: what the choice of recordings alone could move it by.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import speech_corpus  # noqa: E402  (bench/, beside this script)

from bench.stage_profile import table as stage_table  # noqa: E402
from bench.wer import edit_distance, normalise  # noqa: E402
from ingest.transcribe.base import TranscribeOptions  # noqa: E402


@dataclass
class Setting:
    label: str
    engine: str = "faster-whisper"
    compute_type: str = "int8"
    beam_size: int = 5
    vad: bool = True
    word_timestamps: bool = True  # the default of `run` and `transcribe`
    names: bool = True  # pass the show's names (the job does); engines may ignore them
    batch_size: int = TranscribeOptions.batch_size
    # The engine's model called once on the whole file, as other archives run Whisper: no VAD,
    # gap recovery, hallucination check, word times, names or sentence splitting.
    plain: bool = False


SETTINGS = [
    Setting("faster-whisper default (int8, beam 5, VAD, words)"),
    Setting("plain faster-whisper (int8, beam 5)", vad=False, word_timestamps=False, plain=True),
    Setting("faster-whisper default, batched 8", batch_size=8),
    Setting("faster-whisper default, batched 8, float32", batch_size=8, compute_type="float32"),
    Setting("faster-whisper default, sequential (batch 1)", batch_size=1),
    Setting("faster-whisper default without the show's names", names=False),
    Setting("faster-whisper int8, beam 5, VAD, no words", word_timestamps=False),
    Setting("faster-whisper int8, beam 1, VAD, words", beam_size=1),
    Setting("faster-whisper int8, beam 5, no VAD, words", vad=False),
    Setting("faster-whisper float32, beam 5, VAD, words", compute_type="float32"),
    Setting("openai-whisper beam 5, words (as the default)", engine="openai-whisper"),
    Setting("openai-whisper beam 5, no words", engine="openai-whisper", word_timestamps=False),
    Setting("openai-whisper beam 1, words", engine="openai-whisper", beam_size=1),
    Setting("plain openai-whisper (beam 5)", engine="openai-whisper", vad=False,
            word_timestamps=False, plain=True),
]  # fmt: skip


class PlainWhisper:
    """An engine's model called on the whole file once, with none of the default's stages."""

    def __init__(self, engine):
        self.engine = engine

    def transcribe(self, audio_path: Path, options):
        from faster_whisper import decode_audio

        from ingest.records import Transcript

        audio = decode_audio(str(audio_path), sampling_rate=16_000)
        plain = replace(options, vocabulary=[], initial_prompt=None, word_timestamps=False)
        segments, language, _ = self.engine._decode(audio, plain)
        return Transcript(
            segments=segments, language=language, duration=len(audio) / 16_000, settings={}
        )


def run_one(setting: Setting, model: str, corpus: str, profile: bool = False) -> dict:
    """In the child: load the engine, warm it up, transcribe every recording, measure; with
    `profile`, also the wall and CPU seconds of each stage (bench/stage_profile.py), writing
    each transcript's files as the job does."""
    from bench.stage_profile import profiled
    from ingest.transcribe import get_transcriber
    from ingest.transcribe.files import write_transcript

    chosen = speech_corpus.recordings(corpus)
    options = TranscribeOptions(
        model=model,
        language="en",
        beam_size=setting.beam_size,
        compute_type=setting.compute_type,
        vad=setting.vad,
        word_timestamps=setting.word_timestamps,
        batch_size=setting.batch_size,
    )
    started = time.perf_counter()
    engine = get_transcriber(setting.engine, options)
    if setting.plain:
        engine = PlainWhisper(engine)
    load_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:  # warm-up on 15 s: lazy inits, caches
        clip = Path(tmp) / "warm-up.wav"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-i", str(chosen[0].audio_path), "-t", "15",
             str(clip)],
            check=True,
        )  # fmt: skip
        engine.transcribe(clip, options)
    audio = seconds = cpu_seconds = 0.0
    per_recording = {}
    gaps = hallucinations = 0
    with contextlib.ExitStack() as stack:
        inner = getattr(engine, "engine", engine)  # a plain setting wraps the engine
        times = stack.enter_context(profiled(inner)) if profile else None
        written = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for recording in chosen:
            per_episode = TranscribeOptions(
                **{**asdict(options), "vocabulary": recording.names if setting.names else []}
            )
            started, started_cpu = time.perf_counter(), time.process_time()
            transcript = engine.transcribe(recording.audio_path, per_episode)
            if times is not None:
                with times.stage("writing"):
                    write_transcript(written, "bench", f"r{len(per_recording)}", transcript)
            took = time.perf_counter() - started
            seconds += took
            cpu_seconds += time.process_time() - started_cpu
            audio += transcript.duration or 0.0
            reference = normalise(recording.spoken_text)
            edits = edit_distance(reference, normalise(transcript.text))
            per_recording[recording.label] = {
                "corpus": recording.corpus,
                "edits": edits,
                "words": len(reference),
                "seconds": took,
                "audio_seconds": transcript.duration or 0.0,
                "text": transcript.text,  # for --save: what was heard, to compare
            }
            gaps += len(transcript.settings.get("gaps_found", []))
            hallucinations += len(transcript.settings.get("hallucinations_dropped", []))
    edits = sum(row["edits"] for row in per_recording.values())
    words = sum(row["words"] for row in per_recording.values())
    return {
        "audio_seconds": audio,
        "seconds": seconds,
        "speed": audio / seconds,
        "cpu_seconds": cpu_seconds,
        "profile": {**times.as_dict(), "elapsed": {"wall": seconds, "cpu": cpu_seconds}}
        if times is not None
        else None,
        "wer": edits / words,
        "per_recording": per_recording,
        "gaps_found": gaps,
        "hallucinations_dropped": hallucinations,
        "load_seconds": load_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def paired_interval(labels, statistic, rounds: int = 10_000) -> tuple[float, float]:
    """A 95% bootstrap interval of `statistic(picked recordings)`, resampling recordings in
    pairs: both settings heard the same audio, so the interval reflects which recordings were
    chosen."""
    rng = random.Random(0)
    labels = sorted(labels)
    values = sorted(statistic([rng.choice(labels) for _ in labels]) for _ in range(rounds))
    return values[int(0.025 * rounds)], values[int(0.975 * rounds) - 1]


def wer_difference_interval(ours: dict[str, dict], theirs: dict[str, dict]) -> tuple[float, float]:
    """WER(ours) - WER(theirs), with the 95% interval of paired_interval."""

    def difference(picked):
        words = sum(ours[label]["words"] for label in picked)
        edits = sum(ours[label]["edits"] - theirs[label]["edits"] for label in picked)
        return edits / words

    return paired_interval(ours, difference)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def corpus_wer(result: dict, corpus: str | None = None) -> float | None:
    """WER over the recordings of one corpus (None: all of them) in a child's result."""
    rows = [r for r in result["per_recording"].values() if corpus in (None, r["corpus"])]
    words = sum(r["words"] for r in rows)
    return sum(r["edits"] for r in rows) / words if words else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--only", action="append", help="run settings whose label contains this text (repeatable)"
    )
    parser.add_argument(
        "--corpus",
        choices=["all", *speech_corpus.CORPORA, *speech_corpus.OTHER_CORPORA],
        default="all",
        help="audio to use",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also time each stage (wall and CPU seconds); without --only, the default alone",
    )
    parser.add_argument("--save", type=Path, help="write every result, per recording, as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        setting = Setting(**json.loads(args.child))
        print(json.dumps(run_one(setting, args.model, args.corpus, args.profile)))
        return

    from ingest.transcribe.faster import available_cores

    chosen = speech_corpus.recordings(args.corpus)  # speaks and caches what is missing
    known = [*speech_corpus.CORPORA, *speech_corpus.OTHER_CORPORA]
    corpora = [c for c in known if any(r.corpus == c for r in chosen)]
    for corpus in corpora:
        mine = [r for r in chosen if r.corpus == corpus]
        words = sum(len(normalise(r.spoken_text)) for r in mine)
        print(f"{corpus}: {len(mine)} recordings, {words:,} words")
    print(f"model {args.model}; {available_cores()} cores; load average {load_average()}")
    columns = [*corpora, "all"] if len(corpora) > 1 else corpora
    wer_columns = "".join(f" {c:>{max(8, len(c))}}" for c in columns)
    header = f"{'setting':<52} {'x real time':>11} {'peak MB':>8}{wer_columns}"
    header += f" {'gaps':>5} {'dropped':>7}"
    print(f"{'':<73}WER")  # over the corpus columns
    print(header)
    print("-" * len(header))
    results: dict[str, list[dict]] = {}
    settings = [s for s in SETTINGS if not args.only or any(o in s.label for o in args.only)]
    if args.profile and not args.only:
        settings = SETTINGS[:1]
    for _ in range(args.repeat):
        for setting in settings:
            child = subprocess.run(
                [sys.executable, __file__, "--model", args.model, "--corpus", args.corpus,
                 *(["--profile"] if args.profile else []), "--child", json.dumps(asdict(setting))],
                capture_output=True,
                text=True,
            )  # fmt: skip
            if child.returncode != 0:
                last = (child.stderr.strip().splitlines() or ["?"])[-1]
                print(f"{setting.label:<52} failed: {last}")
                continue
            result = json.loads(child.stdout.strip().splitlines()[-1])
            results.setdefault(setting.label, []).append(result)
            wers = [corpus_wer(result, c) for c in corpora]
            if len(corpora) > 1:
                wers.append(corpus_wer(result))
            print(
                f"{setting.label:<52} {result['speed']:>10.1f}x {result['peak_rss_mb']:>8.0f}"
                + "".join(f" {w:>{max(8, len(c))}.1%}" for w, c in zip(wers, columns, strict=True))
                + f" {result['gaps_found']:>5} {result['hallucinations_dropped']:>7}",
                flush=True,
            )
    print(f"load average at the end: {load_average()}")
    if args.save:
        args.save.write_text(json.dumps(results, indent=1))
    print("gaps: speech no segment covered, decoded again; dropped: segments dropped as invented")
    if args.profile:
        profiles = {label: runs[-1]["profile"] for label, runs in results.items()}
        print(f"\nper stage, {args.corpus} ({args.model}), the last run of each setting:")
        print(stage_table(profiles, load_average()))
    compare_default_with_reference(results)


def pooled(runs: list[dict]) -> dict:
    """One setting's repeated runs as one: per recording, the edits, words and seconds of
    every run."""
    summed = ("edits", "words", "seconds", "audio_seconds")
    per_recording: dict[str, dict] = {}
    for run in runs:
        for label, row in run["per_recording"].items():
            total = per_recording.setdefault(label, {**row, **{key: 0 for key in summed}})
            for key in summed:
                if key in row:
                    total[key] += row[key]
    return {"per_recording": per_recording}


# The pairs the speed target is judged on: each engine's default against that engine's model
# called plainly, as other archives run it; then the default against openai-whisper.
COMPARISONS = [
    ("faster-whisper default (int8, beam 5, VAD, words)", "plain faster-whisper (int8, beam 5)"),
    ("openai-whisper beam 5, words (as the default)", "plain openai-whisper (beam 5)"),
    ("faster-whisper default (int8, beam 5, VAD, words)",
     "openai-whisper beam 5, words (as the default)"),
]  # fmt: skip


def speed_ratio_interval(ours: dict[str, dict], theirs: dict[str, dict]) -> tuple[float, float]:
    """speed(ours) / speed(theirs), with the 95% interval of paired_interval."""

    def ratio(picked):
        # The same audio on both sides: the speed ratio is the ratio of their seconds.
        return sum(theirs[label]["seconds"] for label in picked) / sum(
            ours[label]["seconds"] for label in picked
        )

    return paired_interval(ours, ratio)


def overall_speed(runs: list[dict]) -> float:
    """Audio seconds per wall second over every run of one setting."""
    return sum(r["audio_seconds"] for r in runs) / sum(r["seconds"] for r in runs)


def compare_default_with_reference(results: dict[str, list[dict]]) -> None:
    """The issue's targets, over every repeat (openai-whisper's temperature fallback samples
    differently each run): the speed ratio by wall seconds and the WER difference, each with
    a 95% bootstrap interval over recordings."""
    for ours_label, theirs_label in COMPARISONS:
        if ours_label not in results or theirs_label not in results:
            continue
        ours, theirs = pooled(results[ours_label]), pooled(results[theirs_label])
        ratio = overall_speed(results[ours_label]) / overall_speed(results[theirs_label])
        runs = min(len(results[ours_label]), len(results[theirs_label]))
        wer_low, wer_high = wer_difference_interval(ours["per_recording"], theirs["per_recording"])
        print(f"\n{ours_label}\n  against {theirs_label} ({runs} run(s) each):")
        if all("seconds" in row for row in ours["per_recording"].values()):
            low, high = speed_ratio_interval(ours["per_recording"], theirs["per_recording"])
            print(f"  speed ratio {ratio:.2f}x (95% interval {low:.2f}x to {high:.2f}x)")
        else:
            print(f"  speed ratio {ratio:.2f}x")
        print(
            f"  WER {corpus_wer(ours):.2%} vs {corpus_wer(theirs):.2%}, difference "
            f"{corpus_wer(ours) - corpus_wer(theirs):+.2%} "
            f"(95% interval {wer_low:+.2%} to {wer_high:+.2%})"
        )


if __name__ == "__main__":
    main()
