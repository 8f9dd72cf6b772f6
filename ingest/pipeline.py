"""The whole job: fetch, download, transcribe, tag, build. Incremental and resumable.

Each step asks the database what is left to do, so a second run with nothing new does no
work, and a killed run picks up where it stopped. Downloading overlaps with transcribing:
a background thread fetches audio while the main thread transcribes whatever has arrived.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest import store
from ingest.archive import Archive
from ingest.config import ArchiveConfig
from ingest.progress import Progress
from ingest.store import runs
from ingest.transcribe.base import TranscribeOptions

# Exit codes, so cron and scripts can tell outcomes apart (75 is sysexits' EX_TEMPFAIL).
EXIT_OK = 0
EXIT_PARTIAL = 1  # some episodes or feeds failed; the rest was done
EXIT_FAILED = 3  # nothing could be done: every feed failed, or a step could not start
EXIT_BUSY = 75  # another run holds the archive: try again later

# How often the transcriber looks for newly downloaded audio while downloads are running.
DOWNLOAD_POLL_SECONDS = 0.5

Echo = Callable[[str], None]


@dataclass
class RunSummary:
    """What a run did, step by step, for the closing summary and the exit code."""

    feeds_ok: int = 0
    feeds_not_modified: int = 0
    new_episodes: int = 0
    changed_episodes: int = 0
    downloaded: int = 0
    downloaded_bytes: int = 0
    transcribed: int = 0
    imported: int = 0  # publisher transcripts and transcript files re-read from disk
    no_speech: int = 0  # episodes of music or silence: done, with no words to transcribe
    audio_seconds: float = 0.0
    transcribe_seconds: float = 0.0
    speakers_labelled: int = 0  # episodes whose voices were found and named
    speakers_notice: str | None = None  # why no speakers were labelled (the extra is missing)
    tagged: int = 0
    pages_written: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    fatal: str | None = None
    seconds: float = 0.0

    @property
    def did_work(self) -> bool:
        return any(
            (
                self.new_episodes,
                self.changed_episodes,
                self.downloaded,
                self.transcribed,
                self.imported,
                self.no_speech,
                self.speakers_labelled,
                self.tagged,
                self.pages_written,
            )
        )

    @property
    def real_time_factor(self) -> float | None:
        if not self.transcribe_seconds:
            return None
        return self.audio_seconds / self.transcribe_seconds

    @property
    def exit_code(self) -> int:
        if self.fatal:
            return EXIT_FAILED
        if self.failures:
            nothing_fetched = self.feeds_ok == 0 and self.feeds_not_modified == 0
            return EXIT_FAILED if nothing_fetched else EXIT_PARTIAL
        return EXIT_OK

    def lines(self) -> list[str]:
        if self.fatal:
            return [f"Run failed: {self.fatal}"]
        if not self.did_work and not self.failures:
            return [f"Nothing new: the archive is up to date ({self.seconds:.1f} s)."]
        speed = self.real_time_factor
        lines = [
            f"New episodes: {self.new_episodes} (changed: {self.changed_episodes})",
            f"Audio downloaded: {self.downloaded} ({self.downloaded_bytes / 1e6:.1f} MB)",
            f"Transcribed: {self.transcribed} ({self.audio_seconds / 60:.1f} min of audio"
            + (f", {speed:.1f}x real time)" if speed else ")")
            + f"; imported: {self.imported}"
            + (f"; no speech: {self.no_speech}" if self.no_speech else ""),
            *([f"Speakers labelled: {self.speakers_labelled}"] if self.speakers_labelled else []),
            *([f"Speakers: not labelled: {self.speakers_notice}"] if self.speakers_notice else []),
            f"Tagged: {self.tagged}; site pages written: {self.pages_written}",
            f"Failures: {len(self.failures)}",
        ]
        lines += [f"  {what}: {why}" for what, why in self.failures]
        lines.append(f"Done in {self.seconds:.1f} s.")
        return lines


def run_archive(
    archive: Archive,
    config: ArchiveConfig,
    urls: list[str] | None = None,
    *,
    echo: Echo = print,
    build: bool = True,
) -> RunSummary:
    """Run every step on `archive`; the caller holds the archive lock."""
    started = time.monotonic()
    summary = RunSummary()
    db = archive.open_db()
    run_id = runs.start_run(db, "run")
    try:
        _fetch(db, config, urls, summary, echo)
        _download_and_transcribe(archive, db, config, summary, echo)
        _speakers(archive, db, summary, echo)
        _index_search(db)
        _tag(db, config, summary, echo)
        _chapters(archive, db, summary, echo)
        if build:
            _build(archive, db, config, summary, echo)
    except Exception as error:  # a step that cannot start at all (a missing model...)
        summary.fatal = f"{type(error).__name__}: {error}"
    summary.seconds = time.monotonic() - started
    status = {EXIT_OK: "ok", EXIT_PARTIAL: "partial"}.get(summary.exit_code, "failed")
    runs.finish_run(db, run_id, status, summary.__dict__)
    return summary


def _fetch(db, config: ArchiveConfig, urls, summary: RunSummary, echo: Echo) -> None:
    from ingest.feeds.step import fetch_feeds
    from ingest.net import make_client

    with make_client() as client:
        results = fetch_feeds(db, client, list(urls or ()), configured=config.shows)
    for result in results:
        label = result.title or result.feed_url
        if not result.ok:
            summary.failures.append((f"feed {result.feed_url}", result.error))
            echo(f"Feed {label}: FAILED: {result.error}")
            continue
        if result.not_modified:
            summary.feeds_not_modified += 1
        else:
            summary.feeds_ok += 1
            summary.new_episodes += result.added
            summary.changed_episodes += result.changed
        echo(f"Feed {label}: {result.counts()}")


class _TranscriptLines(Progress):
    """One line per transcript, numbered across the many small batches the overlapped loop runs.

    Each batch's own line quotes that batch's totals; these lines quote the whole job's.
    """

    def __init__(self, echo: Echo):
        from ingest.transcribe.step import TranscribeSummary

        self.echo = echo
        self.totals = TranscribeSummary()  # running totals across batches

    def finish(self, key, line="", *, amount=1.0, keep=False, result=None) -> None:
        from ingest.transcribe.step import describe

        self.totals.results.append(result)
        self.echo(f"Transcript {len(self.totals.results)}: {describe(result, self.totals)}")


def _download_and_transcribe(
    archive: Archive, db, config: ArchiveConfig, summary: RunSummary, echo: Echo
) -> None:
    """Download in a background thread while transcribing whatever audio has arrived."""
    from ingest.audio.step import download_episodes
    from ingest.net import make_client

    finished = threading.Event()
    outcome: dict = {}

    def download_all() -> None:
        # SQLite connections belong to one thread: the downloader opens its own (WAL lets
        # both write in short transactions; busy_timeout makes each wait its turn).
        try:
            download_db = store.open_db(archive.db_path)
            with make_client() as client:
                outcome["summary"] = download_episodes(
                    download_db,
                    archive,
                    client,
                    concurrency=config.download_concurrency,
                    on_error=lambda label, message: echo(f"Download {label}: FAILED: {message}"),
                )
        except Exception as error:
            outcome["error"] = f"{type(error).__name__}: {error}"
        finally:
            finished.set()

    downloader = threading.Thread(target=download_all, name="downloads", daemon=True)
    downloader.start()

    try:
        _transcribe_arrivals(archive, db, config, summary, echo, finished)
    finally:
        downloader.join()  # even when transcription cannot go on, the downloads finish

    if "error" in outcome:
        summary.failures.append(("downloads", outcome["error"]))
    steps = outcome.get("summary")
    if steps is not None:
        summary.downloaded += steps.downloaded
        summary.downloaded_bytes += steps.bytes
        summary.failures += [(f"audio {episode_id}", why) for episode_id, why in steps.failed]


def _transcribe_arrivals(
    archive: Archive,
    db,
    config: ArchiveConfig,
    summary: RunSummary,
    echo: Echo,
    downloads_finished: threading.Event,
) -> None:
    """Transcribe episodes as their audio arrives, until downloads are over and none is left."""
    from ingest.transcribe import get_transcriber
    from ingest.transcribe.step import transcribe_episodes

    options = TranscribeOptions.from_config(config)
    engine: list = []

    def shared_engine():  # one model for the whole run, loaded when first needed
        if not engine:
            engine.append(get_transcriber(config.engine, options))
        return engine[0]

    progress = _TranscriptLines(echo)
    if config.scheduler:
        # On a cluster the workers fetch enclosures themselves: one batch, no polling.
        from ingest.transcribe.cluster import transcribe_on_cluster

        batch = transcribe_on_cluster(
            archive,
            db,
            scheduler=config.scheduler,
            shared_audio=config.shared_audio,
            engine=config.engine,
            options=options,
            progress=progress,
        )
        _count_transcripts(batch, summary)
        return
    while True:
        downloads_over = downloads_finished.is_set()
        batch = transcribe_episodes(
            archive,
            db,
            engine=config.engine,
            options=options,
            limit=1,
            make_transcriber=shared_engine,
            progress=progress,
        )
        _count_transcripts(batch, summary)
        if batch.results:
            continue
        if downloads_over:
            break
        downloads_finished.wait(DOWNLOAD_POLL_SECONDS)


def _count_transcripts(batch, summary: RunSummary) -> None:
    for result in batch.results:
        if result.status == "failed":
            summary.failures.append((f"transcript {result.title}", result.error))
        elif result.status == "no-speech":
            summary.no_speech += 1
        elif result.status == "asr":
            summary.transcribed += 1
            summary.audio_seconds += result.audio_seconds
            summary.transcribe_seconds += result.seconds
        else:
            summary.imported += 1


def _speakers(archive: Archive, db, summary: RunSummary, echo: Echo) -> None:
    from ingest.speakers.step import label_episodes

    result = label_episodes(archive, db)
    summary.speakers_labelled += len(result.labelled)
    summary.speakers_notice = result.notice
    summary.failures += [(f"speakers {title}", why) for title, why in result.failed]
    if result.labelled or result.failed:
        echo(result.line())


def _index_search(db) -> None:
    from ingest.search.index import embed_passages
    from ingest.store.search import refresh_passages

    refresh_passages(db)
    # Search by meaning: vectors for the passages that changed. Without the model, search
    # says so and runs by words; the run itself has nothing to fail.
    embed_passages(db)


def _tag(db, config: ArchiveConfig, summary: RunSummary, echo: Echo) -> None:
    from ingest.tags.step import tag_archive
    from ingest.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(config.taxonomy)
    result = tag_archive(db, taxonomy, scorer_name=config.scorer)
    summary.tagged += len(result.tagged)
    summary.failures += [(f"tags {episode_id}", why) for episode_id, why in result.failed.items()]
    if result.tagged:
        echo(f"Tagged {len(result.tagged)} episode(s)")


def _chapters(archive: Archive, db, summary: RunSummary, echo: Echo) -> None:
    from ingest.chapters.step import chapter_archive

    result = chapter_archive(db, archive)
    summary.failures += [(f"chapters {key}", why) for key, why in result.failed.items()]
    for warning in result.warnings:
        echo(f"Warning: {warning}")
    if result.made:
        echo(f"Chapters: {len(result.made)} episode(s)")


def _build(archive: Archive, db, config: ArchiveConfig, summary: RunSummary, echo: Echo) -> None:
    from ingest.sitegen.step import build_site

    report = build_site(db, archive, base_url=config.base_url)
    summary.pages_written += len(report.written)
    summary.failures += [("site", error) for error in report.errors]
    if report.written:
        echo(f"Site: {len(report.written)} file(s) written to {archive.site_dir}")
