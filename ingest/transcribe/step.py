"""The transcription step: every episode without a transcript gets one, from the publisher's file
or from Whisper, written to transcript files and then to the database.

Each episode is its own unit of work: an error is stored on that episode and the run goes on.
Files are written before the database and the JSON is written last, so a killed run redoes at
most the episode it was on; whole files found on disk are imported, never transcribed again.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import sqlite_utils

from ingest.archive import Archive
from ingest.net import make_client
from ingest.progress import Progress
from ingest.records import Transcript
from ingest.store import transcripts as store
from ingest.timecode import clock
from ingest.transcribe import DEFAULT_ENGINE, TranscribeOptions, Transcriber, files, get_transcriber
from ingest.transcribe.base import ProgressCallback, TranscriptionError
from ingest.transcribe.engine import NO_SPEECH, audio_seconds, fit_times
from ingest.transcribe.faster import normalise_language
from ingest.transcribe.publisher import (
    PublisherTranscriptError,
    choose_link,
    fetch_transcript,
)

MAX_DESCRIPTION_NAMES = 12
_PUNCTUATION = ",.;:!?()[]\"'’“”"
_LINKING = {"of", "the", "and", "at", "for"}


@dataclass
class EpisodeResult:
    episode_id: str
    title: str
    # 'asr', 'no-speech' (Whisper heard music or silence), 'publisher', 'resumed' (whole files
    # re-imported) or 'failed'
    status: str
    audio_seconds: float = 0.0
    seconds: float = 0.0
    error: str | None = None
    gaps_remaining: list = field(default_factory=list)
    worker: str | None = None  # where Whisper ran, when a runner fans jobs out (transcribe.cluster)


@dataclass(frozen=True)
class AsrJob:
    """One episode for Whisper: per-episode options and where its audio is; no database needed."""

    episode_id: str
    title: str
    options: TranscribeOptions  # the show's language and names already filled in
    audio_path: Path | None = None  # the downloaded file, inside the archive
    audio_url: str | None = None  # the enclosure, for workers that fetch the audio themselves
    published: str | None = None
    publisher_errors: tuple[str, ...] = ()


@dataclass
class AsrOutcome:
    """A job's transcript, or the reason there is none; where and how long Whisper ran."""

    transcript: Transcript | None = None
    error: str | None = None
    seconds: float = 0.0
    worker: str | None = None


# Runs Whisper on a batch of jobs elsewhere (ingest.transcribe.cluster: a Dask cluster) and calls
# `done` here, one outcome at a time as each arrives, so this process stays the only writer.
AsrRunner = Callable[[list[AsrJob], Callable[[AsrJob, AsrOutcome], None]], None]


@dataclass
class TranscribeSummary:
    results: list[EpisodeResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[EpisodeResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def asr_audio_seconds(self) -> float:
        return sum(r.audio_seconds for r in self.results if r.status == "asr")

    @property
    def asr_seconds(self) -> float:
        return sum(r.seconds for r in self.results if r.status == "asr")

    def speed(self) -> float | None:
        """Real-time factor of the Whisper work: audio seconds per second of transcribing."""
        return self.asr_audio_seconds / self.asr_seconds if self.asr_seconds else None

    def line(self) -> str:
        speed = self.speed()
        parts = [
            f"{self.count('asr')} transcribed",
            f"{self.count('publisher')} from publisher transcripts",
            f"{self.count('resumed')} re-imported from files",
            f"{len(self.failed)} failed",
            *([f"{self.count('no-speech')} without speech"] if self.count("no-speech") else []),
            f"{self.asr_audio_seconds / 60:.1f} min of audio",
        ]
        if speed:
            parts.append(f"{speed:.1f}x real time")
        return ", ".join(parts)


def proper_nouns(text: str, limit: int = MAX_DESCRIPTION_NAMES) -> list[str]:
    """Capitalised runs inside sentences ("Laura Chen", "Harbor Bank"): likely names to spell.

    A lone capitalised word opening a sentence is left out: grammar capitalised it.
    """
    found: list[str] = []
    for sentence in re.split(r"(?<=[.!?;])\s+", text):
        runs: list[list[str]] = [[]]
        for position, raw in enumerate(sentence.split()):
            word = raw.strip(_PUNCTUATION)
            if word[:1].isupper() or (runs[-1] and word.lower() == "of"):
                runs[-1].append(word if position else "^" + word)
            else:
                runs.append([])
            if raw[-1:] in ",;:!?)" or raw.endswith("."):
                runs.append([])
        for run in runs:
            while run and run[-1].lower() in _LINKING:
                run.pop()
            if len(run) == 1 and run[0].startswith("^"):
                continue
            phrase = " ".join(run).lstrip("^")
            if len(phrase) > 1 and phrase not in found:
                found.append(phrase)
    return found[:limit]


def _unique(words: list[str]) -> list[str]:
    return list(dict.fromkeys(words))


def episode_vocabulary(db: sqlite_utils.Database, episode: dict) -> list[str]:
    """Names for Whisper: show and people from the database, then names in the description."""
    names = store.vocabulary(db, episode["id"])
    for name in proper_nouns(episode.get("description_text") or ""):
        if name not in names:
            names.append(name)
    return names


def transcribe_episodes(
    archive: Archive,
    db: sqlite_utils.Database,
    *,
    show_id: str | None = None,
    engine: str = DEFAULT_ENGINE,
    options: TranscribeOptions | None = None,
    limit: int | None = None,
    force_asr: bool = False,
    client: httpx.Client | None = None,
    make_transcriber: Callable[[], Transcriber] | None = None,
    progress: Progress | None = None,
    runner: AsrRunner | None = None,
    fetch_audio: bool = False,
) -> TranscribeSummary:
    """Transcribe every episode that needs it; per-episode failures are stored, never raised.

    With a `runner`, Whisper jobs are handed to it in one batch (after resumed and publisher
    episodes are done here); `fetch_audio` also takes episodes whose audio is not downloaded,
    for runners whose workers fetch the enclosure themselves.
    """
    options = options or TranscribeOptions()
    fetch_audio = fetch_audio and runner is not None  # only a runner's workers fetch audio
    episodes = store.episodes_to_transcribe(
        db, show_id, force_asr=force_asr, limit=limit, with_enclosures=fetch_audio
    )
    summary = TranscribeSummary()
    progress = progress or Progress()
    # Durations size the bar: the feed's, else the downloaded file's own (feeds often omit it).
    minutes = {episode["id"]: _expected_seconds(archive, episode) / 60 for episode in episodes}
    progress.begin(sum(minutes.values()), "transcribing", items=len(episodes))
    if episodes:
        audio = sum(minutes.values())
        progress.note(f"{len(episodes)} episodes to transcribe (~{audio:.0f} min of audio)")
    transcriber: Transcriber | None = None

    def get_engine() -> Transcriber:
        nonlocal transcriber
        if transcriber is None:  # loaded on first need: publisher-only runs never load a model
            transcriber = (
                make_transcriber() if make_transcriber else get_transcriber(engine, options)
            )
        return transcriber

    own_client = client is None
    client = client or make_client()
    by_id = {episode["id"]: episode for episode in episodes}
    jobs: list[AsrJob] = []

    def record(result: EpisodeResult) -> None:
        summary.results.append(result)
        progress.finish(
            result.episode_id,
            describe(result, summary),
            amount=minutes.get(result.episode_id, 0),
            keep=result.status == "failed" or bool(result.gaps_remaining),
            result=result,
        )
        progress.status(_running_totals(summary))

    def done(job: AsrJob, outcome: AsrOutcome) -> None:
        record(_asr_finished(archive, db, by_id[job.episode_id], job, outcome))

    try:
        for episode in episodes:
            progress.start(episode["id"], episode["title"] or episode["id"])
            prepared = _prepare(archive, db, episode, options, force_asr, client, fetch_audio)
            if isinstance(prepared, EpisodeResult):
                record(prepared)
            elif runner is not None:
                jobs.append(prepared)
            else:
                report = _episode_progress(progress, episode["id"], prepared.title)
                done(prepared, run_asr(get_engine, prepared, prepared.audio_path, report))
        if jobs:
            runner(jobs, done)
    finally:
        if own_client:
            client.close()
        progress.end()
    return summary


def _prepare(
    archive, db, episode, options, force_asr, client, fetch_audio
) -> EpisodeResult | AsrJob:
    """Finish the episode from files or the publisher, else say what Whisper must do."""
    episode_id, show_id = episode["id"], episode["show_id"]
    result = EpisodeResult(episode_id, episode["title"] or episode_id, "failed")
    existing = files.read_whole(archive.transcripts_dir, show_id, episode_id)
    if existing is not None and not (force_asr and existing.source == "publisher"):
        store.save_transcript(db, episode_id, existing)
        result.status = "resumed"
        return result

    publisher_errors: list[str] = []
    if not force_asr:
        links = store.transcript_links(db, episode_id)
        for link in choose_link(links, episode["show_language"]):
            try:
                transcript = fetch_transcript(client, link, episode["show_language"])
            except PublisherTranscriptError as exc:
                publisher_errors.append(str(exc))
                continue
            _keep(archive, db, episode, _within_audio(archive, episode, transcript))
            result.status = "publisher"
            return result
        if links and not choose_link(links):
            publisher_errors.append("no supported http(s) transcript link")

    audio = episode_audio(archive, episode)
    url = episode.get("enclosure_url")
    if audio is None and not (fetch_audio and url):
        reason = "; ".join(publisher_errors) or "no audio downloaded"
        return _failed(db, result, f"publisher transcript unusable and no audio: {reason}")

    per_episode = replace(
        options,
        language=options.language or normalise_language(episode["show_language"]),
        vocabulary=options.vocabulary
        or _unique([*episode_vocabulary(db, episode), *options.show_vocabulary]),
    )
    return AsrJob(
        episode_id,
        result.title,
        per_episode,
        audio_path=audio,
        audio_url=url,
        published=episode.get("published"),
        publisher_errors=tuple(publisher_errors),
    )


def run_asr(
    get_engine: Callable[[], Transcriber],
    job: AsrJob,
    audio: Path,
    on_progress: ProgressCallback | None = None,
) -> AsrOutcome:
    """Whisper on one job's audio file; a failure becomes the outcome's reason, never raised."""
    engine = get_engine()  # a missing engine or model stops the run: every episode would fail
    started = time.perf_counter()
    try:
        transcript = engine.transcribe(audio, job.options, on_progress)
    except TranscriptionError as exc:
        return AsrOutcome(error=str(exc))
    except Exception as exc:  # one broken episode (a decoder crash...) must not stop the run
        return AsrOutcome(error=f"{Path(audio).name}: {type(exc).__name__}: {exc}")
    return AsrOutcome(transcript=transcript, seconds=time.perf_counter() - started)


def _episode_progress(progress: Progress, key: str, title: str) -> ProgressCallback:
    """How far Whisper is in one episode, for its bar (audio seconds) and, while it runs, a
    line of its own: a long episode takes minutes, and a silent log looks stuck."""
    started: float | None = None  # at the first report: the model may load before it

    def report(done: float, total: float | None) -> None:
        nonlocal started
        progress.update(key, done, total)
        if started is None:
            started = time.perf_counter()
        if total is None or not 0 < done < total:
            return  # nothing done yet, or the episode's own line follows
        elapsed = time.perf_counter() - started
        speed = done / elapsed if elapsed else 0.0
        left = f", about {clock((total - done) / speed)} left" if speed else ""
        progress.note(
            f"{title}: {clock(done)} of {clock(total)} transcribed ({speed:.1f}x real time{left})"
        )

    return report


def _asr_finished(archive, db, episode, job: AsrJob, outcome: AsrOutcome) -> EpisodeResult:
    """Write what Whisper returned (files, then database), or store why it failed."""
    result = EpisodeResult(job.episode_id, job.title, "failed", worker=outcome.worker)
    transcript = outcome.transcript
    if transcript is None:
        return _failed(db, result, outcome.error or "no transcript returned")
    result.seconds = outcome.seconds
    result.audio_seconds = transcript.duration or 0.0
    if job.publisher_errors:
        transcript.settings["publisher_errors"] = list(job.publisher_errors)
    result.gaps_remaining = transcript.settings.get("gaps_remaining", [])
    _keep(archive, db, episode, transcript)
    result.status = "no-speech" if transcript.no_speech else "asr"
    return result


def _keep(archive: Archive, db, episode: dict, transcript: Transcript) -> None:
    """Files first (JSON last), then the database: the files are the durable record."""
    files.write_transcript(archive.transcripts_dir, episode["show_id"], episode["id"], transcript)
    store.save_transcript(db, episode["id"], transcript)


def _failed(db, result: EpisodeResult, message: str) -> EpisodeResult:
    store.mark_failed(db, result.episode_id, message)
    result.status, result.error = "failed", message
    return result


def _within_audio(archive: Archive, episode: dict, transcript: Transcript) -> Transcript:
    """A publisher's cues in order, inside the episode's audio when it is on disk: their times
    come from the feed, and may run past the end (or be out of order)."""
    audio = episode_audio(archive, episode)
    duration = audio_seconds(audio) if audio is not None else None
    cues = sorted(transcript.segments, key=lambda segment: segment.start)
    transcript.segments = fit_times(cues, duration or math.inf, join_empty=False)
    transcript.duration = duration or transcript.duration
    return transcript


def _expected_seconds(archive: Archive, episode: dict) -> float:
    """How long the episode is: the feed says, else its downloaded file; 0 when neither does."""
    if episode["duration"]:
        return float(episode["duration"])
    audio = episode_audio(archive, episode)
    return (audio_seconds(audio) or 0.0) if audio is not None else 0.0


def episode_audio(archive: Archive, episode: dict) -> Path | None:
    """The episode's audio file, only if it lies inside the archive folder."""
    if not episode.get("audio_path"):
        return None
    path = (archive.root / episode["audio_path"]).resolve()
    if not path.is_relative_to(archive.root.resolve()):
        return None
    return path


@dataclass
class ReindexSummary:
    imported: int = 0
    segments: int = 0
    cleared: int = 0
    orphans: list[str] = field(default_factory=list)  # files of episodes not in the database
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.imported} transcripts imported ({self.segments} segments), "
            f"{self.cleared} cleared (no file), {len(self.orphans)} files of unknown episodes, "
            f"{len(self.errors)} unreadable"
        )


def reindex(archive: Archive, db: sqlite_utils.Database) -> ReindexSummary:
    """Rebuild segments and transcript status from the transcript files alone."""
    summary = ReindexSummary()
    known = store.episode_ids(db)
    seen: set[str] = set()
    for show_id, episode_id, path in files.iter_transcript_files(archive.transcripts_dir):
        if known.get(episode_id) != show_id:
            summary.orphans.append(str(path))
            continue
        try:
            transcript = files.read_transcript(path, episode_id)
        except files.TranscriptFileError as exc:
            summary.errors.append(str(exc))
            continue
        summary.segments += store.save_transcript(db, episode_id, transcript)
        summary.imported += 1
        seen.add(episode_id)
    for row in store.episodes_with_transcripts(db):
        if row["id"] not in seen:
            store.clear_transcript(db, row["id"])
            summary.cleared += 1
    return summary


def describe(result: EpisodeResult, summary: TranscribeSummary) -> str:
    """One episode's outcome and the run's totals so far, in words."""
    if result.status == "failed":
        return f"{result.title}: FAILED: {result.error}"
    if result.status != "asr":
        what = {
            "publisher": "publisher transcript",
            "resumed": "re-imported from files",
            "no-speech": f"{NO_SPEECH} ({result.audio_seconds / 60:.1f} min of audio)",
        }
        return f"{result.title}: {what[result.status]}"
    speed = result.audio_seconds / result.seconds if result.seconds else 0
    line = (
        f"{result.title}: {result.audio_seconds / 60:.1f} min in {result.seconds:.0f} s "
        f"({speed:.1f}x real time); total {summary.asr_audio_seconds / 60:.1f} min "
        f"at {summary.speed() or 0:.1f}x"
    )
    if result.gaps_remaining:
        stretches = ", ".join(f"{a:.0f}-{b:.0f} s" for a, b in result.gaps_remaining)
        line += f"; speech left untranscribed at {stretches}"
    return line


def _running_totals(summary: TranscribeSummary) -> str:
    """The Whisper work so far, in a few words beside the terminal bar."""
    speed = summary.speed()
    totals = f"{summary.asr_audio_seconds / 60:.1f} audio min transcribed"
    return totals + (f", {speed:.1f}x real time" if speed else "")
