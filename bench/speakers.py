"""Diarization error rate and cost of `ingest.speakers` on conversations spoken by espeak-ng.

    python bench/speakers.py [--per-set 3] [--seconds 90] [--sets tune,held-out]

Each conversation is a run of real turns from the Changelog's human-edited transcripts
(../shared/corpora/changelog: thechangelog/transcripts, CC BY-SA 4.0, Changelog Media), each of
its first two or three speakers given an espeak-ng voice of their own (voice, variant, pitch and
speed drawn per conversation), every turn cut to a sentence or two so the talk goes back and
forth, with pauses of 0.1 to 0.6 s between turns. The job then does what it does to an episode:
Whisper tiny.en transcribes it (word times on), and the speakers step labels the words.

- `tune`: Founders Talk and half of The Changelog's transcripts, voices from one pool; the
  thresholds in ingest/speakers were chosen on these.
- `held-out`: Brain Science and the other half of The Changelog, voices from another pool.
  Conversations 0-2 (`--first 0`) were held out until they showed that a hint of fewer people
  than the voices found should not merge them, and so became a development set; conversations
  3-5 (`--first 3`) were run once, on the final code.

Diarization error rate (NIST md-eval's definition): missed speech, false alarm and speaker
confusion, as shares of the reference speech, with 0.25 s around each reference boundary not
scored, after the best one-to-one mapping of found voices to speakers. Reported with the number
of speakers hinted (as the feed's people do) and without. Cost: CPU seconds of diarization per
hour of audio, and as a share of tiny.en's own transcription of the same audio. Audio and
transcripts are cached in ~/.cache/podcast-archive/bench-speakers.

Measured on the final code (2 cores shared, load average 2 to 5), mean DER with the number of
speakers hinted (as the feed's people do) / without, 3 conversations of 1.3-1.6 min each:

    python bench/speakers.py                                  (tune; held-out 0-2, development)
    tune            2 voices:  4.1% /  9.6%    3 voices: 21.9% / 20.5%
    held-out 0-2    2 voices:  6.8% / 13.1%    3 voices: 12.2% / 18.4%
    python bench/speakers.py --first 3 --sets held-out        (held out: run once)
    held-out 3-5    2 voices:  4.4% / 15.1%    3 voices:  9.5% / 15.9%

Missed speech (3 to 8%) is mostly short turns Whisper leaves out; confusion is worst where two
voices are variants the encoder hears as one. Cost: 58-62 CPU s of diarization per hour of
audio against 528-733 for tiny.en's transcription of the same audio (8-11%), plus 2 CPU s to
load the encoder once per run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.long_episode import NOT_SPOKEN, SPEAKER, spoken_text  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "changelog"
SETS = {
    "tune": {
        "shows": ["founderstalk"],
        "half": 0,  # and the even-numbered transcripts of The Changelog (three speakers)
        "voices": ["en-us+m3", "en-us+f2", "en-gb+m1", "en-us+f4", "en+m5", "en-us+Andy"],
    },
    "held-out": {
        "shows": ["brainscience"],
        "half": 1,  # and the odd-numbered ones
        "voices": [
            "en-gb-scotland+f3",
            "en-029+m2",
            "en-us-nyc+f1",
            "en-gb-x-rp+m6",
            "en-us+Annie",
            "en-gb+Ed",
        ],
    },
}
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
CACHE = CACHE / "podcast-archive" / "bench-speakers"
RECIPE = 1  # part of the cache key: bump when the audio recipe changes
COLLAR = 0.25  # seconds not scored either side of a reference speaker boundary
FRAME = 0.01  # scoring resolution, seconds
MAX_TURN_WORDS = 28
RATE = 16_000


@dataclass
class Conversation:
    name: str
    audio: Path
    reference: list[tuple[float, float, int]]  # (start, end, speaker)
    speakers: int


def turns_of(path: Path) -> list[tuple[str, str]]:
    """(speaker, text) turns of one transcript, consecutive paragraphs of a speaker joined."""
    turns: list[tuple[str, str]] = []
    speaker = ""
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        match = SPEAKER.match(block.strip())
        if match:
            speaker, block = match.group(1).strip(), block.strip()[match.end() :]
        text = spoken_text(block)
        if not text or not speaker or speaker in NOT_SPOKEN:
            continue
        if turns and turns[-1][0] == speaker:
            turns[-1] = (speaker, turns[-1][1] + " " + text)
        else:
            turns.append((speaker, text))
    return turns


def short(text: str, rng: random.Random) -> str:
    """A sentence or two of a turn, at most MAX_TURN_WORDS words: talk that goes back and forth."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    kept = " ".join(sentences[: rng.choice([1, 1, 2])]).split()
    return " ".join(kept[:MAX_TURN_WORDS])


def script(set_name: str, speakers: int, index: int, seconds: float) -> tuple[list, list]:
    """Turns (speaker number, text) of about `seconds` of talk, and each speaker's voice."""
    rng = random.Random(f"{set_name}-{speakers}-{index}")
    files = sorted(p for show in SETS[set_name]["shows"] for p in (CORPUS / show).glob("*.md"))
    files += sorted((CORPUS / "podcast").glob("*.md"))[SETS[set_name]["half"] :: 2]
    if not files:
        raise SystemExit(f"no transcripts under {CORPUS}: the bench needs them")
    rng.shuffle(files)
    for path in files:
        turns = turns_of(path)
        people = list(dict.fromkeys(s for s, _ in turns))
        if len(people) < speakers:
            continue
        cast = people[:speakers]
        picked = [(cast.index(s), t) for s, t in turns if s in cast]
        start = rng.randrange(max(1, len(picked) - 60))
        lines, words = [], 0
        for who, text in picked[start:]:
            text = short(text, rng)
            if not text:
                continue
            lines.append((who, text))
            words += len(text.split())
            if words > seconds * 2.6:  # espeak-ng says about 2.6 words a second here
                break
        if len({who for who, _ in lines}) == speakers:
            pool = list(SETS[set_name]["voices"])
            rng.shuffle(pool)
            voices = [(v, rng.randint(25, 75), rng.randint(150, 190)) for v in pool[:speakers]]
            return lines, voices
    raise SystemExit(f"no transcript in {set_name} has {speakers} speakers")


def speak(lines, voices, out: Path, rng: random.Random) -> list[tuple[float, float, int]]:
    """Speak the lines into one 16 kHz WAV; return the reference (start, end, speaker)."""
    reference, chunks = [], []
    position = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for n, (who, text) in enumerate(lines):
            voice, pitch, speed = voices[who]
            part = Path(tmp) / f"{n}.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(part),
                 "--", text],
                check=True,
            )  # fmt: skip
            wav16 = Path(tmp) / f"{n}-16k.wav"
            subprocess.run(
                ["ffmpeg", "-loglevel", "error", "-y", "-i", str(part), "-ac", "1",
                 "-ar", str(RATE), str(wav16)],
                check=True,
            )  # fmt: skip
            with wave.open(str(wav16)) as w:
                samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
            speech = np.flatnonzero(np.abs(samples) > 300)  # espeak-ng pads with silence
            samples = samples[speech[0] : speech[-1] + 1] if len(speech) else samples
            pause = rng.uniform(0.1, 0.6) if n else 0.3
            chunks.append(np.zeros(int(pause * RATE), dtype=np.int16))
            position += pause
            chunks.append(samples)
            reference.append((position, position + len(samples) / RATE, who))
            position += len(samples) / RATE
        chunks.append(np.zeros(int(0.5 * RATE), dtype=np.int16))
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(np.concatenate(chunks).tobytes())
    return reference


def conversation(set_name: str, speakers: int, index: int, seconds: float) -> Conversation:
    lines, voices = script(set_name, speakers, index, seconds)
    key = hashlib.sha256(json.dumps([RECIPE, lines, voices]).encode()).hexdigest()[:16]
    folder = CACHE / f"{set_name}-{speakers}-{index}-{key}"
    audio, ref = folder / "audio.wav", folder / "reference.json"
    if not ref.exists():
        folder.mkdir(parents=True, exist_ok=True)
        reference = speak(lines, voices, audio, random.Random(key))
        ref.write_text(json.dumps({"reference": reference, "voices": voices}))
    reference = [tuple(r) for r in json.loads(ref.read_text())["reference"]]
    return Conversation(folder.name, audio, reference, speakers)


def transcript_of(conv: Conversation, transcriber_factory) -> tuple[object, float]:
    """Whisper's transcript (cached) and the CPU seconds it took when it was made."""
    from ingest.transcribe.base import TranscribeOptions
    from ingest.transcribe.files import from_json, to_json

    cached = conv.audio.with_name("transcript.json")
    if not cached.exists():
        engine = transcriber_factory()
        started = time.process_time()
        transcript = engine.transcribe(conv.audio, TranscribeOptions())
        cpu = time.process_time() - started
        cached.write_text(json.dumps({"cpu": cpu, "transcript": to_json(transcript)}))
    data = json.loads(cached.read_text())
    return from_json(data["transcript"]), data["cpu"]


def frames(spans, total: int) -> np.ndarray:
    """Speaker per 10 ms frame (-1: nobody), from (start, end, speaker) spans."""
    out = np.full(total, -1)
    for start, end, who in spans:
        out[int(start / FRAME) : int(end / FRAME)] = who
    return out


def der(reference, hypothesis) -> dict:
    """Missed, false alarm, confusion and DER, shares of the scored reference speech."""
    from scipy.optimize import linear_sum_assignment

    total = int(max([e for _, e, _ in reference] + [e for _, e, _ in hypothesis]) / FRAME) + 2
    ref, hyp = frames(reference, total), frames(hypothesis, total)
    scored = np.ones(total, dtype=bool)
    for start, end, _ in reference:  # no score within the collar of any reference boundary
        for edge in (start, end):
            scored[max(0, int((edge - COLLAR) / FRAME)) : int((edge + COLLAR) / FRAME)] = False
    ref, hyp = ref[scored], hyp[scored]
    speech = ref >= 0
    refs, hyps = sorted(set(ref[speech])), sorted(set(hyp[hyp >= 0]))
    both = speech & (hyp >= 0)
    overlap = np.zeros((len(refs), len(hyps)))
    for i, r in enumerate(refs):
        for j, h in enumerate(hyps):
            overlap[i, j] = np.sum(both & (ref == r) & (hyp == h))
    rows, cols = linear_sum_assignment(-overlap) if hyps else ([], [])
    matched = overlap[rows, cols].sum() if hyps else 0
    total_speech = speech.sum()
    missed = np.sum(speech & (hyp < 0))
    false_alarm = np.sum(~speech & (hyp >= 0))
    confusion = both.sum() - matched
    return {
        "missed": missed / total_speech,
        "false_alarm": false_alarm / total_speech,
        "confusion": confusion / total_speech,
        "der": (missed + false_alarm + confusion) / total_speech,
    }


def hypothesis(diarization) -> list[tuple[float, float, int]]:
    """What the job stores: each split segment's span and voice."""
    return [
        (s.start, s.end, label)
        for s, label in zip(diarization.segments, diarization.labels, strict=True)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-set", type=int, default=3, help="conversations per set and size")
    parser.add_argument(
        "--first", type=int, default=0, help="number of the first conversation (a fresh set)"
    )
    parser.add_argument("--seconds", type=float, default=90, help="length of each conversation")
    parser.add_argument("--sets", default="tune,held-out", help="which sets, comma-separated")
    args = parser.parse_args(argv)

    from ingest.speakers.diarize import audio_blocks, diarize
    from ingest.speakers.encoder import load_encoder
    from ingest.transcribe import get_transcriber

    engine: list = []

    def transcriber():
        if not engine:
            engine.append(get_transcriber("faster-whisper"))
        return engine[0]

    started = time.process_time()
    encoder = load_encoder()
    load_cpu = time.process_time() - started
    print(f"speaker encoder loaded in {load_cpu:.1f} CPU s (once per run)")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    print(f"{'conversation':34} {'min':>5} {'hint':>5} {'miss':>6} {'FA':>6} {'conf':>6} "
          f"{'DER':>6} {'voices':>6}")  # fmt: skip
    results: dict[tuple[str, int, str], list[dict]] = {}
    costs: dict[str, list[float]] = {"audio": [], "asr": [], "diarize": []}
    for set_name in args.sets.split(","):
        for speakers in (2, 3):
            for index in range(args.first, args.first + args.per_set):
                conv = conversation(set_name, speakers, index, args.seconds)
                transcript, asr_cpu = transcript_of(conv, transcriber)
                minutes = conv.reference[-1][1] / 60
                for hint in (speakers, None):
                    cpu = time.process_time()
                    found = diarize(encoder, audio_blocks(conv.audio), transcript.segments, hint)
                    cpu = time.process_time() - cpu
                    if hint:
                        costs["audio"].append(minutes * 60)
                        costs["asr"].append(asr_cpu)
                        costs["diarize"].append(cpu)
                    score = der(conv.reference, hypothesis(found))
                    score["voices"] = len(found.voices)
                    label = "yes" if hint else "no"
                    results.setdefault((set_name, speakers, label), []).append(score)
                    print(
                        f"{conv.name[:34]:34} {minutes:5.1f} {label:>5} {score['missed']:6.1%} "
                        f"{score['false_alarm']:6.1%} {score['confusion']:6.1%} "
                        f"{score['der']:6.1%} {score['voices']:>6}"
                    )
    print("\nmean per set (DER targets: 10% with two voices, 20% with three)")
    for (set_name, speakers, hint), scores in results.items():
        mean = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
        right = sum(s["voices"] == speakers for s in scores)
        print(
            f"  {set_name:9} {speakers} voices, hint {hint:3}: DER {mean['der']:5.1%} (missed "
            f"{mean['missed']:.1%}, false alarm {mean['false_alarm']:.1%}, confusion "
            f"{mean['confusion']:.1%}); voice count right in {right}/{len(scores)}"
        )
    hours = sum(costs["audio"]) / 3600
    print(
        f"\ncost: diarization {sum(costs['diarize']) / hours:.0f} CPU s per hour of audio, "
        f"tiny.en transcription {sum(costs['asr']) / hours:.0f} CPU s per hour: diarization adds "
        f"{sum(costs['diarize']) / sum(costs['asr']):.0%} (target 25%); encoder load "
        f"{load_cpu:.1f} CPU s once per run"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
