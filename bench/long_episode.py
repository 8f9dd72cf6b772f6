"""Long episodes through Whisper: peak memory, speed and word error rate per length and engine.

    python bench/long_episode.py                              # 1, 40 and 180 minutes
    python bench/long_episode.py --lengths 1 --engines faster-whisper,openai-whisper --dask
    python bench/long_episode.py --lengths 40,180 --generate-only   # speak and cache only
    python bench/long_episode.py --model base

On a shared machine run it under `nice -n 19`; the machine's load average is printed at the
start and the end, with the CPU, so the figures can be judged.

The audio: N minutes of two espeak-ng voices taking turns (the sample show's host and guest
voices, ingest/sample/generate.py), with pauses of 0.3 to 3 s between turns and a few of 10 to
20 s, a synthesised music intro, interludes and outro, and a music bed 25 dB under the speech in
places: what a real episode puts in front of the decoder besides words. The words are real
conversation, The Changelog's transcripts in ../shared/corpora/changelog/ (from the public
repository thechangelog/transcripts; CC BY-SA 4.0, Changelog Media and the transcripts'
contributors), read at run time and never copied into the project. Each episode is spoken once,
piece by piece and streamed to disk, and cached with the text spoken in
~/.cache/podcast-archive/bench-long (or under $XDG_CACHE_HOME).

Each measurement runs in a fresh child process, so its peak RSS (ru_maxrss from wait4) is that
run's alone, model load included. The child builds the engine with `get_transcriber`
(TranscribeOptions defaults, language "en") and transcribes the MP3 once: "wall s" is that call
alone, "load s" the model load, "load MB" the peak RSS once the model is loaded. With --dask,
faster-whisper also runs as one job through DaskRunner on a new LocalCluster of one worker
process, whose own peak RSS the row shows (its load s is everything but the worker's
transcription: start-up, model load, sending the transcript back). WER uses bench/wer.py's
normalisation, against every word spoken.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.wer import normalise, wer  # noqa: E402
from ingest.fileio import write_atomic  # noqa: E402
from ingest.sample import generate as sample  # noqa: E402

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
CACHE_DIR = CACHE_DIR / "podcast-archive" / "bench-long"
GENERATOR_VERSION = 1  # part of the cache key: bump when the audio recipe changes

# --- The words ------------------------------------------------------------------------------

CORPUS_DIR = ROOT.parent / "shared" / "corpora" / "changelog"
CORPUS_SHOW = "podcast"  # The Changelog: 150 transcripts, 2.2 million words
CORPUS_CREDIT = "changelog/podcast (thechangelog/transcripts, CC BY-SA 4.0)"
NOT_SPOKEN = {"Break", "Outro", "Sample"}  # the transcripts' markers for ad breaks and clips
SPEAKER = re.compile(r"^\*\*([^*]+?):?\*\*:?\s*")  # "**Jerod Santo:** text"
NOTE = re.compile(r"\\\[.*?\\\]")  # "\[12:34\]", "\[laughs\]", "\[unintelligible ...\]"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MAX_PIECE_WORDS = 40  # per espeak-ng call: about 15 s, the granularity of an episode's end
# More words than espeak-ng says in a minute at the sample show's rate (170 wpm, plus word gaps
# and pauses), so the script never runs out before the audio is long enough.
SCRIPT_WORDS_PER_MINUTE = 200


@dataclass(frozen=True)
class Piece:
    """A few sentences for one espeak-ng call; `new_turn` when the other voice takes over."""

    is_host: bool
    text: str
    new_turn: bool


def spoken_text(block: str) -> str:
    """A transcript paragraph as plain words, or "" for one that would be read out badly."""
    if "`" in block or "://" in block:  # code and links: espeak-ng spells them out
        return ""
    text = NOTE.sub(" ", block).replace("\\", "").replace("*", "").replace("_", " ")
    text = " ".join(text.split())
    return text if re.search(r"[A-Za-z]", text) else ""


def corpus_paragraphs() -> Iterator[tuple[str, str]]:
    """(speaker, paragraph) from the transcripts in order, starting over at the end."""
    files = sorted((CORPUS_DIR / CORPUS_SHOW).glob("*.md"))
    if not files:
        raise SystemExit(f"no transcripts in {CORPUS_DIR / CORPUS_SHOW}: the bench needs them")
    for path in itertools.cycle(files):
        speaker = ""
        for block in path.read_text(encoding="utf-8").split("\n\n"):
            match = SPEAKER.match(block.strip())
            if match:
                speaker, block = match.group(1).strip(), block.strip()[match.end() :]
            text = spoken_text(block)
            if text and speaker and speaker not in NOT_SPOKEN:
                yield f"{path.stem}/{speaker}", text  # another episode's speaker: a new turn


def sentence_groups(paragraph: str) -> Iterator[str]:
    """Whole sentences, joined up to MAX_PIECE_WORDS words (a longer sentence stays whole)."""
    group: list[str] = []
    for sentence in SENTENCE_END.split(paragraph):
        if group and len(" ".join([*group, sentence]).split()) > MAX_PIECE_WORDS:
            yield " ".join(group)
            group = []
        group.append(sentence)
    if group:
        yield " ".join(group)


def script(minutes: float) -> list[Piece]:
    """More pieces than `minutes` of speech needs; the voice changes with the speaker."""
    budget = minutes * SCRIPT_WORDS_PER_MINUTE
    pieces: list[Piece] = []
    words, last_speaker, is_host = 0, None, False
    for speaker, paragraph in corpus_paragraphs():
        new_turn = speaker != last_speaker
        is_host = not is_host if new_turn else is_host  # two voices, alternating
        for text in sentence_groups(paragraph):
            pieces.append(Piece(is_host, text, new_turn))
            new_turn = False
            words += len(text.split())
        last_speaker = speaker
        if words >= budget:
            return pieces
    raise AssertionError("corpus_paragraphs is endless")


# --- The music ------------------------------------------------------------------------------

BEAT_SECONDS = 60 / 92  # 92 beats per minute, four to a bar, one chord a bar
BAR_SECONDS = 4 * BEAT_SECONDS
# C, G, A minor, F (MIDI note numbers): a progression any intro jingle might use.
CHORDS = np.array([[60, 64, 67], [55, 59, 62], [57, 60, 64], [53, 57, 60]])
CHORD_HZ = 440.0 * 2.0 ** ((CHORDS - 69) / 12)
MUSIC_DB = -3.0  # intro, interludes and outro, relative to the speech's RMS
BED_DB = -25.0  # under speech: quiet enough for Whisper to hear every word
INTRO_SECONDS, INTERLUDE_SECONDS, OUTRO_SECONDS = 6.0, 8.0, 5.0
BED_SECONDS = 40.0  # of music bed after the intro and each interlude, and before the outro
MUSIC_FADE_SECONDS, BED_FADE_SECONDS = 1.0, 2.5
MAX_BREAK_DELAY_SECONDS = 20.0  # a break due in a long turn is taken between its sentences


def music(t: np.ndarray) -> np.ndarray:
    """The jingle at times `t` (seconds from the start), peak about 1: a soft chord, a plucked
    arpeggio on the beat and a bass note. A function of absolute time, so any block of the
    episode can be made on its own and the blocks join without a seam."""
    bar = (t // BAR_SECONDS).astype(int)
    beat = (t // BEAT_SECONDS).astype(int)
    notes = CHORD_HZ[bar % len(CHORDS)]
    since_bar, since_beat = t - bar * BAR_SECONDS, t - beat * BEAT_SECONDS
    # A short ramp at the bar's ends: the chord changes frequency there, without a click.
    chord_envelope = np.clip(np.minimum(since_bar, BAR_SECONDS - since_bar) / 0.05, 0, 1)
    chord = np.sin(2 * np.pi * notes * t[:, None]).mean(axis=1) * chord_envelope
    pluck = (1 - np.exp(-since_beat / 0.01)) * np.exp(-since_beat / 0.3)
    arpeggio = np.sin(2 * np.pi * 2 * notes[np.arange(len(t)), beat % 3] * t) * pluck
    bass = np.sin(2 * np.pi * notes[:, 0] / 2 * t) * pluck
    return 0.35 * chord + 0.4 * arpeggio + 0.25 * bass


def music_rms(rate: int) -> float:
    """The jingle's RMS over one pass of the progression, to set its level against speech."""
    t = np.arange(round(len(CHORDS) * BAR_SECONDS * rate)) / rate
    return float(np.sqrt(np.mean(music(t) ** 2)))


def decibels(db: float) -> float:
    return 10 ** (db / 20)


@dataclass
class MusicWindow:
    """Music from `start` to `end` seconds at `gain`, faded in and out over `fade` seconds."""

    start: float
    end: float
    gain: float
    fade: float

    def gains(self, t: np.ndarray) -> np.ndarray:
        ramp = np.minimum(t - self.start, self.end - t) / self.fade
        return self.gain * np.clip(ramp, 0.0, 1.0)


# --- The episode ------------------------------------------------------------------------------


class EpisodeWriter:
    """The episode's 16-bit mono WAV, written block by block with the music mixed in: memory
    stays that of one block however long the episode."""

    def __init__(self, wav: wave.Wave_write, rate: int, speech_rms: float):
        self.wav = wav
        self.wav.setnchannels(1)
        self.wav.setsampwidth(2)
        self.wav.setframerate(rate)
        self.rate = rate
        self.frames = 0
        self.windows: list[MusicWindow] = []
        unit = speech_rms / music_rms(rate)  # the jingle at the speech's loudness
        self.music_gain, self.bed_gain = unit * decibels(MUSIC_DB), unit * decibels(BED_DB)

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def speech(self, pcm: np.ndarray) -> None:
        self._write(pcm.astype(np.float64) / 32768)

    def silence(self, seconds: float) -> None:
        self._write(np.zeros(round(seconds * self.rate)))

    def music(self, seconds: float) -> None:
        """Music alone for `seconds`."""
        end = self.seconds + seconds
        self.windows.append(MusicWindow(self.seconds, end, self.music_gain, MUSIC_FADE_SECONDS))
        self.silence(seconds)

    def bed(self, start: float, end: float) -> None:
        """A music bed under whatever is written between `start` and `end` seconds."""
        self.windows.append(MusicWindow(start, end, self.bed_gain, BED_FADE_SECONDS))

    def _write(self, block: np.ndarray) -> None:
        if not len(block):
            return
        t = (self.frames + np.arange(len(block))) / self.rate
        gain = np.zeros(len(block))
        for window in self.windows:
            if window.start < t[-1] and window.end > t[0]:
                gain = np.maximum(gain, window.gains(t))
        if gain.any():
            block = block + gain * music(t)
        pcm = np.clip(np.round(block * 32767), -32768, 32767).astype("<i2")
        self.wav.writeframes(pcm.tobytes())
        self.frames += len(block)


def speak(piece: Piece, workdir: Path) -> tuple[np.ndarray, int]:
    """(16-bit samples, rate) of one piece in its voice, without the sample show's padding."""
    wav_path = workdir / "piece.wav"
    sample.speak_lines([(piece.is_host, piece.text)], wav_path, workdir)
    with wave.open(str(wav_path), "rb") as wav:
        if (wav.getnchannels(), wav.getsampwidth()) != (1, 2):
            raise ValueError(f"espeak-ng wrote {wav.getparams()}, not 16-bit mono")
        rate = wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    # speak_lines pads a line with the sample show's lead-in and tail; the pauses here are ours.
    lead, tail = round(sample.LEAD_IN_SECONDS * rate), round(sample.TAIL_SECONDS * rate)
    return pcm[lead : len(pcm) - tail], rate


def turn_pause(rng: random.Random) -> float:
    """Seconds between turns: mostly under a second, now and then a thinking pause of up to 3."""
    return min(3.0, 0.3 + rng.expovariate(1 / 0.5))


def breaks(minutes: float, rng: random.Random) -> list[tuple[float, str]]:
    """(when, what) breaks in the talk: an interlude (two from an hour) and about one long
    silence per 30 minutes (at least one). Each is taken at the first change of speaker after
    `when`, or between sentences once a long turn has kept it waiting, never at the outro."""
    seconds = minutes * 60
    interludes = 1 if minutes < 60 else 2
    events = [(seconds * k / (interludes + 1), "interlude") for k in range(1, interludes + 1)]
    silences = max(1, round(minutes / 30))
    events += [(seconds * rng.uniform(0.1, 0.9), "silence") for _ in range(silences)]
    return sorted(events)


def break_seconds(kind: str, rng: random.Random) -> float:
    return INTERLUDE_SECONDS + 0.5 if kind == "interlude" else rng.uniform(10.0, 20.0)


def take_break(kind: str, seconds: float, out: EpisodeWriter) -> None:
    if kind == "interlude":
        out.silence(seconds - INTERLUDE_SECONDS)
        out.music(INTERLUDE_SECONDS)
        out.bed(out.seconds - MUSIC_FADE_SECONDS, out.seconds + BED_SECONDS)
    else:
        out.silence(seconds)


def assemble(minutes: float, pieces: list[Piece], wav_path: Path, workdir: Path) -> dict:
    """Speak `pieces` into `wav_path` until it is `minutes` long; return what was spoken."""
    first, rate = speak(pieces[0], workdir)
    # The music's level is set against the first piece: espeak-ng speaks at a steady loudness.
    speech_rms = float(np.sqrt(np.mean((first / 32768.0) ** 2)))
    with wave.open(str(wav_path), "wb") as wav:
        out = EpisodeWriter(wav, rate, speech_rms)
        spoken = speak_script(out, pieces, first, minutes, workdir)
    return {
        "generator_version": GENERATOR_VERSION,
        "minutes": minutes,
        "duration_seconds": out.seconds,
        "source": CORPUS_CREDIT,
        "text": " ".join(text for *_, text in spoken),
        "pieces": spoken,  # [start s, end s, voice, text]: where each sentence is heard
    }


def speak_script(
    out: EpisodeWriter, pieces: list[Piece], first: np.ndarray, minutes: float, workdir: Path
) -> list[list]:
    """The intro, then pieces with pauses and breaks until the outro is due, then the outro;
    `first` is the first piece, already spoken. Returns [start s, end s, voice, text] of each."""
    rng = random.Random(f"long-episode-{GENERATOR_VERSION}-{minutes}")
    target = minutes * 60
    out.music(INTRO_SECONDS)
    out.bed(out.seconds - MUSIC_FADE_SECONDS, out.seconds + BED_SECONDS)
    out.bed(target - OUTRO_SECONDS - BED_SECONDS, float("inf"))  # into the outro
    pending = breaks(minutes, rng)
    spoken = []
    for index, piece in enumerate(pieces):
        pcm = first if index == 0 else speak(piece, workdir)[0]
        if index:
            # A break waits for a change of speaker, unless a long turn keeps it waiting.
            delay = 0.0 if piece.new_turn else min(MAX_BREAK_DELAY_SECONDS, target / 20)
            while pending and pending[0][0] <= out.seconds - delay:
                kind = pending.pop(0)[1]
                seconds = break_seconds(kind, rng)
                if out.seconds + seconds < target - OUTRO_SECONDS:  # none where the outro is
                    take_break(kind, seconds, out)
            out.silence(turn_pause(rng) if piece.new_turn else rng.uniform(0.25, 0.6))
        # The talk ends where the outro is due: a piece more than half past it is not spoken,
        # so the episode is `minutes` long give or take half a piece (about 7 s).
        if out.seconds + len(pcm) / out.rate / 2 > target - OUTRO_SECONDS:
            break
        start = out.seconds
        out.speech(pcm)
        voice = "host" if piece.is_host else "guest"
        spoken.append([round(start, 3), round(out.seconds, 3), voice, piece.text])
    else:
        raise RuntimeError(f"the script ran out at {out.seconds:.0f} s of {target:.0f} s")
    out.silence(1.0)
    out.music(OUTRO_SECONDS)
    return spoken


@dataclass
class LongEpisode:
    minutes: float
    audio_path: Path
    duration_seconds: float
    text: str  # every word spoken, the reference for WER


def cache_key(minutes: float, pieces: list[Piece]) -> str:
    """A digest of everything the audio depends on."""
    inputs = (
        GENERATOR_VERSION,
        minutes,
        [astuple(piece) for piece in pieces],
        sample.HOST_VOICE,
        sample.GUEST_VOICE,
        sample.WORDS_PER_MINUTE,
        sample.WORD_GAP_10MS,
        sample.MP3_SAMPLE_RATE,
        sample.MP3_BITRATE,
    )
    return hashlib.sha256(repr(inputs).encode()).hexdigest()[:16]


def long_episode(minutes: float) -> tuple[LongEpisode, bool]:
    """The episode of `minutes` minutes, from the cache or generated now; True if generated."""
    minutes = float(minutes)  # 180 and 180.0 are one episode: one key, one random seed
    pieces = script(minutes)
    stem = f"{minutes:g}min-{cache_key(minutes, pieces)}"
    mp3, reference = CACHE_DIR / f"{stem}.mp3", CACHE_DIR / f"{stem}.json"
    generated = not (mp3.is_file() and reference.is_file())
    if generated:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        # The WAV (0.5 GB for 3 hours) goes beside the cache, not to /tmp: /tmp may be a tmpfs.
        with tempfile.TemporaryDirectory(prefix=".generating-", dir=CACHE_DIR) as tmp:
            wav = Path(tmp) / "episode.wav"
            write_atomic(reference, json.dumps(assemble(minutes, pieces, wav, Path(tmp))))
            partial = mp3.with_name(f".{mp3.name}.part")
            sample.encode_mp3(wav, partial)
            os.replace(partial, mp3)  # last: a whole MP3 means a whole episode
    spoken = json.loads(reference.read_text(encoding="utf-8"))
    return LongEpisode(minutes, mp3, spoken["duration_seconds"], spoken["text"]), generated


# --- In the child: one measured run ---------------------------------------------------------


def peak_rss_kb() -> int:
    """This process's peak resident memory in kB (Linux's ru_maxrss unit)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def heard(transcript) -> str:
    return " ".join(segment.text.strip() for segment in transcript.segments)


def measure_in_process(engine: str, audio: Path, model: str) -> dict:
    """Load the engine, transcribe the episode once; time both."""
    from ingest.transcribe import TranscribeOptions, get_transcriber

    options = TranscribeOptions(model=model, language="en")
    started = time.perf_counter()
    transcriber = get_transcriber(engine, options)
    load_seconds = time.perf_counter() - started
    load_rss_kb = peak_rss_kb()
    started = time.perf_counter()
    transcript = transcriber.transcribe(audio, options)
    return {
        "load_seconds": load_seconds,
        "seconds": time.perf_counter() - started,
        "load_rss_mb": load_rss_kb / 1024,
        "hypothesis": heard(transcript),
    }


def measure_on_dask(audio: Path, model: str) -> dict:
    """The episode as one job on a new one-worker LocalCluster; the worker's peak RSS."""
    from distributed import Client

    from ingest.transcribe import TranscribeOptions
    from ingest.transcribe.cluster import DaskRunner, start_local_cluster
    from ingest.transcribe.step import AsrJob

    options = TranscribeOptions(model=model, language="en")
    job = AsrJob(audio.stem, audio.stem, options, audio_path=audio)
    outcomes = []
    with start_local_cluster(1, len(os.sched_getaffinity(0))) as cluster, Client(cluster) as client:
        client.wait_for_workers(1)
        started = time.perf_counter()
        runner = DaskRunner(client, "faster-whisper", shared_audio=True)
        runner([job], lambda _job, outcome: outcomes.append(outcome))
        elapsed = time.perf_counter() - started
        worker_kb = max(client.run(peak_rss_kb).values())
    outcome = outcomes[0]
    if outcome.transcript is None:
        raise RuntimeError(outcome.error)
    return {
        "load_seconds": elapsed - outcome.seconds,
        "seconds": outcome.seconds,
        "peak_rss_mb": worker_kb / 1024,
        "hypothesis": heard(outcome.transcript),
    }


# The optional third-party packages a run may need: failing to import one is "not installed".
OPTIONAL_MODULES = {"faster_whisper", "ctranslate2", "whisper", "torch", "dask", "distributed"}


def missing_module(error: BaseException | None) -> str | None:
    """The optional module whose import `error` (or what caused it) is, if it is one."""
    while error is not None:
        name = error.name if isinstance(error, ImportError) else None
        if name and name.split(".")[0] in OPTIONAL_MODULES:
            return name
        error = error.__cause__  # get_transcriber wraps an engine module's ImportError
    return None


def child_main(request: dict) -> dict:
    audio = Path(request["audio"])
    try:
        if request["runner"] == "dask":
            return measure_on_dask(audio, request["model"])
        return measure_in_process(request["engine"], audio, request["model"])
    except Exception as error:
        if name := missing_module(error):
            return {"not_installed": name}
        raise


# --- In the parent: runs, rows, the table -----------------------------------------------------

TINY_LIMIT_MB = 500  # tiny.en's budget for one episode of any length (MODEL_MEMORY_GB: 0.5)


@dataclass
class Runner:
    label: str
    engine: str
    kind: str  # "in-process" or "dask"


def run_child(request: dict) -> tuple[dict | None, float, str]:
    """(result, the child's peak RSS in MB, why it failed) of one run in a fresh process."""
    with tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(request)],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        output = child.stdout.read()
        child.stdout.close()
        _, status, usage = os.wait4(child.pid, 0)  # reaped here, for its rusage
        child.returncode = os.waitstatus_to_exitcode(status)
        peak_mb = usage.ru_maxrss / 1024
        if child.returncode != 0:
            stderr.seek(0)
            lines = stderr.read().decode(errors="replace").strip().splitlines()
            return None, peak_mb, f"exit {child.returncode}: {(lines or ['?'])[-1]}"
    return json.loads(output.decode().strip().splitlines()[-1]), peak_mb, ""


HEADER = (
    f"{'min':>4} {'runner':<30} {'audio min':>9} {'load s':>7} {'wall s':>8} "
    f"{'x real time':>11} {'load MB':>8} {'peak MB':>8} {'WER':>6}"
)


def measure(runner: Runner, episode: LongEpisode, model: str) -> str:
    """One table row: run `runner` on `episode` in a child process and score the transcript."""
    lead = f"{episode.minutes:>4g} {runner.label:<30}"
    request = {"runner": runner.kind, "engine": runner.engine, "model": model}
    result, child_peak_mb, error = run_child({**request, "audio": str(episode.audio_path)})
    if result is None:
        return f"{lead} failed: {error}"
    if "not_installed" in result:
        return f"{lead} not installed (cannot import {result['not_installed']})"
    peak_mb = result.get("peak_rss_mb", child_peak_mb)  # Dask: the worker's, not the client's
    load_mb = f"{result['load_rss_mb']:>8.0f}" if "load_rss_mb" in result else f"{'-':>8}"
    row = (
        f"{lead} {episode.duration_seconds / 60:>9.1f} {result['load_seconds']:>7.1f} "
        f"{result['seconds']:>8.1f} {episode.duration_seconds / result['seconds']:>11.1f} "
        f"{load_mb} {peak_mb:>8.0f} "
        f"{wer(episode.text, result['hypothesis']):>6.1%}"
    )
    if model == "tiny.en" and peak_mb > TINY_LIMIT_MB:
        row += f"  OVER {TINY_LIMIT_MB} MB"
    return row


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def prepare(lengths: list[float]) -> list[LongEpisode]:
    """Every episode asked for, generating (and caching) those not cached yet."""
    episodes = []
    for minutes in lengths:
        started = time.perf_counter()
        episode, generated = long_episode(minutes)
        how = f"generated in {time.perf_counter() - started:.0f} s" if generated else "cached"
        words = len(normalise(episode.text))
        print(
            f"{minutes:g} min episode ({how}): {episode.duration_seconds / 60:.1f} min, "
            f"{words:,} words, {episode.audio_path}",
            flush=True,
        )
        episodes.append(episode)
    return episodes


def comma_list(kind):
    return lambda text: [kind(item) for item in text.split(",") if item.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from ingest.transcribe import ENGINES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=comma_list(float), default=[1.0, 40.0, 180.0],
                        help="episode lengths in minutes (default 1,40,180)")  # fmt: skip
    parser.add_argument("--engines", type=comma_list(str), default=["faster-whisper"],
                        help=f"engines to run, of {','.join(ENGINES)}")  # fmt: skip
    parser.add_argument("--dask", action="store_true",
                        help="also run faster-whisper on a one-worker LocalCluster")  # fmt: skip
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--generate-only", action="store_true",
                        help="generate and cache the episodes, transcribe nothing")  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if unknown := [engine for engine in args.engines if engine not in ENGINES]:
        parser.error(f"unknown engine(s) {', '.join(unknown)}: choose from {', '.join(ENGINES)}")
    if any(minutes <= 0 for minutes in args.lengths):
        parser.error("lengths are minutes, more than 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child_main(json.loads(args.child))))
        return 0
    cores = len(os.sched_getaffinity(0))
    print(f"{cpu_name()}, {cores} cores; model {args.model}; load average {load_average()}")
    episodes = prepare(args.lengths)
    if args.generate_only:
        return 0
    runners = [Runner(engine, engine, "in-process") for engine in args.engines]
    if args.dask:
        runners.append(Runner("faster-whisper, Dask 1 worker", "faster-whisper", "dask"))
    print(HEADER)
    print("-" * len(HEADER), flush=True)
    for episode in episodes:
        for runner in runners:
            print(measure(runner, episode, args.model), flush=True)
    print(f"load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
