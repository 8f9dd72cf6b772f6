"""The command line: thin click commands over the library. The only module that imports click."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from ingest.archive import ARCHIVE_ENV, Archive
from ingest.errors import PodarchiveError
from ingest.tags import SCORERS
from ingest.transcribe import ENGINES

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Options several commands share, spelled once (as sqlite-utils' output_options).
show_option = click.option("--show", "show_key", help="Only this show (id, feed URL or title).")
engine_option = click.option(
    "--engine",
    type=click.Choice(list(ENGINES)),
    help="Transcription engine (default: engine in podarchive.toml, else faster-whisper).",
)
model_option = click.option(
    "--model",
    help="Whisper model name (tiny.en, base, small...) or path (default: model in "
    "podarchive.toml, else tiny.en).",
)
scheduler_option = click.option(
    "--scheduler",
    metavar="tcp://HOST:8786",
    help="Run Whisper on this Dask cluster, one task per episode; workers fetch the audio "
    "(default: scheduler in podarchive.toml). Needs the [cluster] extra.",
)
base_url_option = click.option(
    "--base-url",
    help="Where the site is served, e.g. https://example.com/podcast/ or /podcast/ "
    "(default: base_url in podarchive.toml, else /). Feeds and the sitemap need a full URL.",
)


def _archive(ctx: click.Context) -> Archive:
    return ctx.find_object(Archive)


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _show_id(db, show_key: str | None) -> str | None:
    """The id of the show `show_key` names (id, feed URL or title); exit with an error if none."""
    if not show_key:
        return None
    from ingest.store import shows as show_store

    show = show_store.find_show(db, show_key)
    if show is None:
        _fail(f"no show matches {show_key!r}")
    return show["id"]


class PodarchiveGroup(click.Group):
    """Every command's errors end here, in one clear line and the error's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PodarchiveError as error:
            _fail(str(error), error.exit_code)


@click.group(cls=PodarchiveGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="podcast-archive", prog_name="podarchive")
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(file_okay=False),
    envvar=ARCHIVE_ENV,
    help=f"Archive folder (archive.db, audio/, transcripts/, site/). "
    f"Default: ${ARCHIVE_ENV}, else the current folder.",
)
@click.pass_context
def cli(ctx: click.Context, archive_dir: str | None) -> None:
    """Archive, transcribe, tag and publish podcasts.

    \b
    Example:
        podarchive --archive ~/ttm fetch https://feeds.example.com/talk-talent-to-me.xml
    """
    ctx.obj = Archive.at(archive_dir)


@cli.command()
@click.argument("urls", nargs=-1)
@click.option(
    "--strict", is_flag=True, help="Exit 1 on item warnings too (no enclosure, no title)."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a server to connect or send more bytes.",
)
@click.pass_context
def fetch(ctx: click.Context, urls: tuple[str, ...], strict: bool, timeout: float) -> None:
    """Fetch feeds: add the given feed URLs as shows, or refresh every known show
    (and add the `shows` listed in podarchive.toml).

    Sends the stored ETag/Last-Modified, so an unchanged feed costs one 304. Prints new,
    changed and unchanged episode counts per show; problems go to stderr and any failed
    feed makes the exit code 1. What a broken feed did contain is still stored.

    \b
    Example:
        podarchive fetch https://feeds.example.com/talk-talent-to-me.xml
        podarchive fetch            # refresh every show in the archive
    """
    import httpx

    from ingest.archive import archive_lock
    from ingest.config import ArchiveConfig
    from ingest.feeds.step import fetch_feeds
    from ingest.net import CONNECT_TIMEOUT_S, make_client

    archive = _archive(ctx)
    db = archive.open_db()
    limits = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_S))
    configured = [] if urls else ArchiveConfig.load(archive.root).shows
    with archive_lock(archive.root), make_client(timeout=limits) as client:
        results = fetch_feeds(db, client, list(urls) or None, configured=configured)
    if not results:
        click.echo("No shows in the archive yet: podarchive fetch FEED_URL", err=True)
    failed = False
    for result in results:
        name = result.show_id or result.feed_url
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        if result.moved_to:
            click.echo(f"{name}: feed moved to {result.moved_to} (stored)")
        if result.not_modified or (
            result.show_id and (result.added or result.changed or result.unchanged or result.ok)
        ):
            click.echo(f"{name}: {result.counts()}")
        if result.error:  # the message names the feed URL; a known show is named too
            prefix = f"{result.show_id}: " if result.show_id else ""
            click.echo(f"error: {prefix}{result.error}", err=True)
        failed = failed or not result.ok or (strict and bool(result.warnings))
    if failed:
        sys.exit(1)


@cli.command()
@click.pass_context
def shows(ctx: click.Context) -> None:
    """List the shows in the archive.

    \b
    Example:
        podarchive shows
    """
    from ingest.store import shows as show_store

    db = _archive(ctx).open_db()
    for show in show_store.list_shows(db):
        fetched = "fetch failed: " + show["fetch_error"] if show["fetch_error"] else "ok"
        if not show["fetched_at"] and not show["fetch_error"]:
            fetched = "never fetched"
        click.echo(
            f"{show['id']}\t{show['episode_count']} episodes\t{show['title']}\t"
            f"{show['feed_url']}\t{fetched}"
        )


@cli.command()
@show_option
@click.pass_context
def episodes(ctx: click.Context, show_key: str | None) -> None:
    """List episodes, newest first, with the state of each step.

    \b
    Example:
        podarchive episodes --show talk-talent-to-me
    """
    from ingest.store import shows as show_store

    db = _archive(ctx).open_db()
    show_id = _show_id(db, show_key)
    for ep in show_store.list_episodes(db, show_id):
        date = (ep["published"] or "")[:10]
        audio = "audio" if ep["audio_sha256"] else ("audio-failed" if ep["audio_error"] else "-")
        transcript = ep["transcript_status"] or "-"
        gone = "" if ep["in_feed"] else "\t(no longer in the feed)"
        click.echo(f"{ep['id']}\t{date}\t{audio}\t{transcript}\t{ep['title']}{gone}")


@cli.command()
@show_option
@click.option("--limit", type=click.IntRange(min=1), help="Fetch at most this many episodes.")
@click.option("--verify", is_flag=True, help="Re-hash files on disk; fetch again any that differ.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 16),
    help="Downloads at once (default: download_concurrency in podarchive.toml, else 4).",
)
@click.pass_context
def download(
    ctx: click.Context, show_key: str | None, limit: int | None, verify: bool, concurrency
) -> None:
    """Download the audio of every episode that has none on disk yet.

    Partial files are resumed; failures are reported per episode and the run goes on,
    exiting 1 at the end if any episode failed.

    \b
    Example:
        podarchive download --show talk-talent-to-me --limit 5
    """
    from ingest.archive import archive_lock
    from ingest.audio.step import download_episodes
    from ingest.config import ArchiveConfig
    from ingest.net import make_client

    archive = _archive(ctx)
    db = archive.open_db()
    show_id = _show_id(db, show_key)
    concurrency = concurrency or ArchiveConfig.load(archive.root).download_concurrency
    with archive_lock(archive.root), make_client() as client:
        summary = download_episodes(
            db,
            archive,
            client,
            show_id=show_id,
            limit=limit,
            verify=verify,
            concurrency=concurrency,
            # sys.stderr looked up per call: under a progress bar it prints above the bar.
            on_error=lambda label, message: click.echo(
                f"Error: {label}: {message}", file=sys.stderr
            ),
        )
    click.echo(summary.line())
    if summary.failed:
        sys.exit(1)


@cli.command()
@show_option
@engine_option
@model_option
@click.option("--limit", type=click.IntRange(min=1), help="Transcribe at most this many episodes.")
@click.option(
    "--force-asr", is_flag=True, help="Run Whisper even where the publisher has a transcript."
)
@click.option("--initial-prompt", help="Text to steer Whisper's spelling (default: show's names).")
@click.option("--language", help="Spoken language code (default: the show's, else detected).")
@click.option(
    "--beam-size",
    type=click.IntRange(1, 20),
    default=5,
    show_default=True,
    help="Hypotheses Whisper keeps while decoding: more is slower and a little more accurate.",
)
@click.option(
    "--word-timestamps/--no-word-timestamps",
    default=None,
    help="Time every word: sentence-long segments, so timestamps seek to the sentence, and "
    "speech Whisper skipped is found and decoded again (default: word_timestamps in "
    "podarchive.toml, else on; off is faster but cannot find skipped speech).",
)
@click.option(
    "--download-model", is_flag=True, help="Let the engine download a model not installed here."
)
@scheduler_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Without --scheduler: run Whisper in this many local worker processes (a Dask "
    "LocalCluster; each model gets cores / workers threads).",
)
@click.option(
    "--shared-audio",
    is_flag=True,
    help="The workers see this archive's audio folder at the same path: read it instead of "
    "fetching enclosures (default: shared_audio in podarchive.toml).",
)
@click.pass_context
def transcribe(
    ctx: click.Context,
    show_key: str | None,
    engine: str | None,
    model: str | None,
    limit: int | None,
    force_asr: bool,
    initial_prompt: str | None,
    language: str | None,
    beam_size: int,
    word_timestamps: bool | None,
    download_model: bool,
    scheduler: str | None,
    workers: int | None,
    shared_audio: bool,
) -> None:
    """Transcribe every episode with audio (or a publisher transcript) and no transcript yet.

    Publisher transcripts (podcast:transcript) are imported instead of running Whisper.
    Files go to transcripts/<show>/<episode>.{json,vtt,srt,txt}, then to the database.
    Failures are stored per episode and the run goes on, exiting 1 at the end if any failed.
    On a cluster (--scheduler), episodes not downloaded yet are taken too: workers fetch the
    enclosure, and this command alone writes the files and the database.

    \b
    Example:
        podarchive transcribe --show talk-talent-to-me --model base --limit 3
        podarchive transcribe --scheduler tcp://10.0.0.5:8786
    """
    from ingest.archive import archive_lock
    from ingest.config import ArchiveConfig
    from ingest.progress import make_progress
    from ingest.transcribe import TranscribeOptions, cluster
    from ingest.transcribe import step as transcribing

    archive = _archive(ctx)
    config = ArchiveConfig.load(archive.root)
    db = archive.open_db()
    show_id = _show_id(db, show_key)
    options = TranscribeOptions.from_config(
        config,
        model=model,
        language=language,
        beam_size=beam_size,
        word_timestamps=word_timestamps,
        initial_prompt=initial_prompt,
        allow_download=download_model,
    )
    scheduler = scheduler or config.scheduler
    step = dict(show_id=show_id, engine=engine or config.engine, options=options, limit=limit)
    with archive_lock(archive.root):
        if scheduler or workers:
            summary = cluster.transcribe_on_cluster(
                archive,
                db,
                scheduler=scheduler,
                workers=workers,
                shared_audio=shared_audio or config.shared_audio,
                force_asr=force_asr,
                progress=cluster.WorkerTotals(make_progress(click.echo)),
                **step,
            )
        else:
            summary = transcribing.transcribe_episodes(
                archive,
                db,
                force_asr=force_asr,
                progress=make_progress(click.echo, rows="audio"),
                **step,
            )
    click.echo(summary.line())
    for result in summary.failed:
        click.echo(f"Error: {result.title} ({result.episode_id}): {result.error}", err=True)
    if summary.failed:
        sys.exit(1)


@cli.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Rebuild the database's transcript segments from the transcript files alone.

    \b
    Example:
        podarchive reindex
    """
    from ingest.archive import archive_lock
    from ingest.transcribe.step import reindex as reindex_files

    archive = _archive(ctx)
    db = archive.open_db()
    with archive_lock(archive.root):
        summary = reindex_files(archive, db)
    click.echo(summary.line())
    for error in summary.errors:
        click.echo(f"Error: {error}", err=True)


@cli.command()
@base_url_option
@show_option
@click.option("--no-search", is_flag=True, help="Skip the Pagefind search index.")
@click.pass_context
def build(ctx: click.Context, base_url: str | None, show_key: str | None, no_search: bool) -> None:
    """Build the static site into the archive's site/ folder, rewriting only what changed.

    \b
    Example:
        podarchive build --base-url https://example.com/ttm/
    """
    from ingest.config import ArchiveConfig
    from ingest.sitegen.step import build_site

    archive = _archive(ctx)
    db = archive.open_db()
    show_id = _show_id(db, show_key)
    base_url = base_url or ArchiveConfig.load(archive.root).base_url
    report = build_site(db, archive, base_url, show_id=show_id, search=not no_search)
    for error in report.errors:
        click.echo(f"Error: {error}", err=True)
    click.echo(
        f"{len(report.written)} of {report.outputs} files written, {len(report.removed)} removed"
        f" in {report.html_seconds:.1f}s"
        + (f"; search index rebuilt in {report.index_seconds:.1f}s" if report.indexed else "")
        + f" -> {archive.site_dir}"
    )
    if report.errors:
        sys.exit(1)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", "-p", default=8001, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--allow-sql", is_flag=True, help="Let visitors run arbitrary read-only SQL (off by default)."
)
@click.option(
    "--site-url",
    help="Base URL of the static site that results link to (default: base_url in "
    "podarchive.toml when it is a full http(s) URL; else no links to the site).",
)
@click.option(
    "--live",
    is_flag=True,
    help="Open the database read-only but not immutable, to serve while an ingest run writes.",
)
@click.pass_context
def serve(
    ctx: click.Context, host: str, port: int, allow_sql: bool, site_url: str | None, live: bool
) -> None:
    """Browse and search the archive in Datasette (read-only).

    Stored searches rank transcript passages by relevance and link to the static episode
    pages at the second the words are said (.../episodes/<slug>/#t=754). The database is
    opened immutable: restart after an ingest run to serve its new episodes, or use --live.

    \b
    Example:
        podarchive serve --port 8001 --site-url https://archive.example.com/
    """
    from ingest.datasette import serve as serving

    archive = _archive(ctx)
    if not archive.db_path.exists():
        _fail(f"no archive database at {archive.db_path}: run podarchive fetch first")
    serving.serve(archive, host=host, port=port, base_url=site_url, allow_sql=allow_sql, live=live)


@cli.command()
@show_option
@click.option(
    "--scorer",
    type=click.Choice(list(SCORERS)),
    help="Topic scorer (default: podarchive.toml's, else embeddings).",
)
@click.option(
    "--taxonomy",
    "taxonomy_path",
    type=click.Path(dir_okay=False, exists=True),
    help="Taxonomy YAML (default: podarchive.toml's, else the shipped recruiting taxonomy).",
)
@click.option("--force", is_flag=True, help="Re-score every topic of every episode.")
@click.pass_context
def tag(
    ctx: click.Context,
    show_key: str | None,
    scorer: str | None,
    taxonomy_path: str | None,
    force: bool,
) -> None:
    """Tag transcribed episodes with taxonomy topics, topic moments and keyphrases.

    Only what changed is re-scored: episodes whose transcript changed, and topics whose
    definition changed. Manual overrides (podarchive tag-override) always win.

    \b
    Example:
        podarchive tag --show talk-talent-to-me --taxonomy my-topics.yaml
    """
    from ingest.archive import archive_lock
    from ingest.config import ArchiveConfig
    from ingest.tags.step import tag_archive
    from ingest.taxonomy import load_taxonomy

    archive = _archive(ctx)
    config = ArchiveConfig.load(archive.root)
    taxonomy = load_taxonomy(taxonomy_path or config.taxonomy)
    db = archive.open_db()
    show_id = _show_id(db, show_key)
    with archive_lock(archive.root):
        result = tag_archive(
            db,
            taxonomy,
            scorer_name=scorer or config.scorer,
            show_id=show_id,
            force=force,
            progress=lambda episode_id, note: click.echo(f"{episode_id}\t{note}"),
        )
        embedded = _embed_for_search(db)
    click.echo(
        f"{len(result.tagged)} episodes tagged, {result.unchanged} unchanged, "
        f"{len(result.failed)} failed"
        + (f"; topics dropped: {', '.join(result.dropped_topics)}" if result.dropped_topics else "")
    )
    if embedded:
        click.echo(embedded)
    for message in result.failed.values():
        click.echo(f"Error: {message}", err=True)
    if result.failed:
        sys.exit(1)


@cli.command()
@show_option
@click.option("--force", is_flag=True, help="Redo every episode's chapters and soundbites.")
@click.pass_context
def chapters(ctx: click.Context, show_key: str | None, force: bool) -> None:
    """Chapters and soundbites for transcribed episodes: the publisher's, else generated.

    Publisher chapters (podcast:chapters, Podlove Simple Chapters) are repaired or rejected
    with one warning per episode; generated chapters follow the topics discussed. Each
    episode's chapters are written as transcripts/<show>/<episode>.chapters.json.

    \b
    Example:
        podarchive chapters --show talk-talent-to-me
    """
    from ingest.archive import archive_lock
    from ingest.chapters.step import chapter_archive

    archive = _archive(ctx)
    db = archive.open_db()
    show_id = _show_id(db, show_key)
    with archive_lock(archive.root):
        result = chapter_archive(
            db,
            archive,
            show_id=show_id,
            force=force,
            progress=lambda episode_id, note: click.echo(f"{episode_id}\t{note}"),
        )
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(
        f"{len(result.made)} episodes given chapters, {result.unchanged} unchanged, "
        f"{len(result.failed)} failed"
    )
    for message in result.failed.values():
        click.echo(f"Error: {message}", err=True)
    if result.failed:
        sys.exit(1)


@cli.command("import-opml")
@click.argument("opml_file", type=click.Path(dir_okay=False, exists=True))
@click.pass_context
def import_opml(ctx: click.Context, opml_file: str) -> None:
    """Add every feed of an OPML subscription list (what podcast apps export) as a show.

    Feeds in folders count too; a feed listed twice is added once; an entry that is not an
    http(s) feed URL is reported with its line and skipped. All the good entries are added in
    one transaction, or none. The next `podarchive run` (or `fetch`) pulls them.

    \b
    Example:
        podarchive import-opml subscriptions.opml
    """
    from ingest.archive import archive_lock
    from ingest.feeds.opml import load_opml
    from ingest.store import shows as show_store

    subscriptions = load_opml(Path(opml_file))
    archive = _archive(ctx)
    db = archive.open_db()
    with archive_lock(archive.root):
        added, known = show_store.add_shows(db, [(f.url, f.title) for f in subscriptions.feeds])
    for problem in subscriptions.problems:
        click.echo(f"warning: {problem}", err=True)
    for show in added:
        click.echo(f"added\t{show['id']}\t{show['feed_url']}")
    for show in known:
        click.echo(f"known\t{show['id']}\t{show['feed_url']}")
    click.echo(
        f"{len(added)} shows added, {len(known)} already in the archive, "
        f"{len(subscriptions.problems)} entries skipped"
        + ("; run `podarchive run` to fetch them" if added else "")
    )
    if subscriptions.problems:
        sys.exit(1)


@cli.command("export-opml")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file (default: standard output).",
)
@click.pass_context
def export_opml(ctx: click.Context, output: str | None) -> None:
    """Write the archive's shows as an OPML subscription list (their own feed URLs).

    \b
    Example:
        podarchive export-opml -o shows.opml
    """
    from ingest.feeds.opml import write_opml
    from ingest.fileio import write_atomic
    from ingest.store import shows as show_store

    db = _archive(ctx).open_db()
    shows = show_store.list_shows(db)
    data = write_opml("Podcast archive", shows)
    if output:
        write_atomic(Path(output), data)
        click.echo(f"{len(shows)} shows written to {output}", err=True)
    else:
        click.echo(data.decode("utf-8"), nl=False)


def _embed_for_search(db) -> str | None:
    """Embed the passages search by meaning has no vector for; what to tell the user."""
    from ingest.search.index import embed_passages
    from ingest.store.search import refresh_passages

    refresh_passages(db)
    report = embed_passages(db)
    if report.unavailable:
        return f"Search by meaning is off: {report.unavailable}"
    if report.embedded or report.sentences:
        return (
            f"{report.embedded} passages and {report.sentences} sentences embedded for search"
            f" in {report.seconds:.1f}s"
        )
    return None


@cli.command("tag-override")
@click.argument("episode_id")
@click.argument("action", type=click.Choice(["add", "remove", "clear"]))
@click.argument("topic")
@click.pass_context
def tag_override(ctx: click.Context, episode_id: str, action: str, topic: str) -> None:
    """Add or remove a topic on one episode by hand; re-tagging never undoes it.

    `clear` forgets the override; the next `podarchive tag` re-scores that topic.

    \b
    Example:
        podarchive tag-override 3f2a9c0d1e2b4a5f add reverse-interviews
    """
    from ingest.store import tags as tag_store

    db = _archive(ctx).open_db()
    tag_store.set_override(db, episode_id, topic, action)
    names = [t["slug"] for t in tag_store.episode_tags(db, episode_id)]
    click.echo(f"{episode_id}\t{', '.join(names) or '(no topics)'}")


@cli.command()
@click.option("--redo", is_flag=True, help="Label every transcribed episode again.")
@click.pass_context
def diarize(ctx: click.Context, redo: bool) -> None:
    """Find who speaks when in transcribed episodes, and name the voices.

    Names come from corrections made with `podarchive speaker`, voice prints learnt from
    earlier episodes, and the feed (host, guests, title and show notes); other voices are
    "Speaker N". Publisher transcripts keep their own speakers. Needs the [speakers] extra.

    \b
    Example:
        podarchive diarize
    """
    from ingest.archive import archive_lock
    from ingest.speakers.step import label_episodes

    archive = _archive(ctx)
    with archive_lock(archive.root):
        summary = label_episodes(archive, archive.open_db(), redo=redo)
    for _title, why in summary.failed:
        click.echo(f"Error: {why}", err=True)
    click.echo(summary.line())
    if summary.failed or summary.notice:
        sys.exit(1)


@cli.command()
@click.argument("episode")
@click.argument("old")
@click.argument("new")
@click.pass_context
def speaker(ctx: click.Context, episode: str, old: str, new: str) -> None:
    """Rename a speaker of one episode (EPISODE is its id or page slug); re-runs keep it.

    The voice is remembered as NEW's, so later episodes know them by voice. Run
    `podarchive build` to update the site.

    \b
    Example:
        podarchive speaker one-medical-s-reverse-interview-abdc84 "Speaker 2" "Viet Nguyen"
    """
    from ingest.archive import archive_lock
    from ingest.speakers.step import correct_speaker
    from ingest.store.speakers import find_episode

    archive = _archive(ctx)
    with archive_lock(archive.root):
        db = archive.open_db()
        row = find_episode(db, episode)
        if row is None:
            _fail(f"no episode with id or slug {episode!r}")
        count = correct_speaker(archive, db, row, old, new)
    click.echo(f"{row['title'] or row['id']}: {old!r} is now {new!r} ({count} segments)")


@cli.command()
@click.argument("urls", nargs=-1)
@engine_option
@model_option
@base_url_option
@scheduler_option
@click.option("--no-build", is_flag=True, help="Stop after tagging; do not build the site.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    help="Seconds to wait for another run on this archive to finish (default: exit at once).",
)
@click.pass_context
def run(
    ctx: click.Context,
    urls: tuple[str, ...],
    engine: str | None,
    model: str | None,
    base_url: str | None,
    scheduler: str | None,
    no_build: bool,
    wait: float,
) -> None:
    """Run the whole job: fetch, download, transcribe, tag and build the site.

    With URLs, adds those shows and works on them; without, works on every show in the
    archive and in podarchive.toml. Only what is new or changed is done. Exit codes: 0 all
    done, 1 some episodes or feeds failed, 3 nothing could be done, 75 another run holds
    the archive (safe to retry: for cron).

    \b
    Example:
        podarchive --archive ~/ttm run https://feeds.example.com/talk-talent-to-me.xml
        podarchive --archive ~/ttm run          # from cron: every known show
    """
    from ingest.archive import ArchiveBusy, archive_lock
    from ingest.config import ArchiveConfig
    from ingest.pipeline import EXIT_BUSY, run_archive

    archive = _archive(ctx)
    config = ArchiveConfig.load(archive.root)
    config.engine = engine or config.engine
    config.model = model or config.model
    config.base_url = base_url or config.base_url
    config.scheduler = scheduler or config.scheduler
    try:
        with archive_lock(archive.root, wait_seconds=wait):
            summary = run_archive(archive, config, list(urls), echo=click.echo, build=not no_build)
    except ArchiveBusy as error:
        error.exit_code = EXIT_BUSY  # cron retries a run that found the archive busy
        raise
    for line in summary.lines():
        click.echo(line)
    sys.exit(summary.exit_code)


@cli.command()
@click.option("--no-serve", is_flag=True, help="Do the work and exit instead of serving it.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface both servers listen on."
)
@click.option("--port", type=int, default=0, help="Port of the static site (default: a free one).")
@click.pass_context
def demo(ctx: click.Context, no_serve: bool, host: str, port: int) -> None:
    """Archive the bundled sample show end to end, then serve the site and Datasette.

    A local server plays the podcast host; the whole job runs into a fresh archive folder
    (--archive, default ./podarchive-demo); then the static site and Datasette are served
    until Ctrl-C.

    \b
    Example:
        podarchive demo
        podarchive --archive /tmp/demo demo --no-serve
    """
    from ingest.archive import archive_lock
    from ingest.sample.demo import DEFAULT_DEMO_FOLDER, fresh_demo_folder, publish, run_demo

    chosen = ctx.parent.params.get("archive_dir")
    archive = fresh_demo_folder(Archive.at(chosen or DEFAULT_DEMO_FOLDER).root)
    click.echo(f"Demo archive: {archive.root}")
    with archive_lock(archive.root):
        summary, sample = run_demo(archive, echo=click.echo)
    for line in summary.lines():
        click.echo(line)
    if no_serve or summary.fatal:
        sample.stop()
        sys.exit(summary.exit_code)
    published, stop = publish(archive, host=host, port=port)
    click.echo(f"Static site: {published.site_url}")
    click.echo(f"Datasette:   {published.datasette_url}")
    click.echo("Press Ctrl-C to stop.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("Stopping.")
    finally:
        stop()
        sample.stop()


@cli.command()
@click.argument("query")
@click.option("--topic", help="Only episodes tagged with this topic (slug or name).")
@show_option
@click.option(
    "--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Hits to print."
)
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "semantic", "lexical"]),
    default="hybrid",
    show_default=True,
    help="hybrid: by words and by meaning, fused; semantic: by meaning; lexical: words only.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON, for scripts.")
@click.option("--speaker", help="Only what this speaker said (a name, e.g. 'Viet Nguyen').")
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    topic: str | None,
    show_key: str | None,
    limit: int,
    mode: str,
    as_json: bool,
    speaker: str | None,
) -> None:
    """Search transcripts by words and meaning: ranked hits with episode, time and snippet.

    Plain words are searched by meaning and by the words themselves; each hit is at the
    sentence that answers. Full-text syntax means exact words: "a phrase", grit OR
    resilience, transp*. A passage must hold every word; when none does, any of them.
    With --speaker, that speaker's own lines are searched, by their words.

    \b
    Example:
        podarchive search "how do candidates interview the company"
        podarchive search '"reverse interview"'
        podarchive search negotiation --topic pay-transparency --mode lexical
    """
    from ingest.search import query as searching
    from ingest.search.query import MARK_CLOSE, MARK_OPEN

    archive = _archive(ctx)
    show_id = None
    if show_key and archive.db_path.exists():  # searching never creates an archive
        show_id = _show_id(archive.open_db(), show_key)
    if speaker:
        # A speaker's own lines, by their words (Datasette's stored query search_by_speaker).
        import json
        from dataclasses import asdict

        from ingest.datasette.query import search_archive

        hits = search_archive(archive, query, show=show_id, site_url="/", speaker=speaker)
        hits = hits[:limit]
        if as_json:
            click.echo(json.dumps([asdict(hit) for hit in hits], indent=2, ensure_ascii=False))
            return
    else:
        # Pages are paths within the site ("/episodes/<slug>/#t=12"): the reader knows where
        # their site is served.
        ranking, hits = searching.search_archive(
            archive, query, mode=mode, limit=limit, topic=topic, show=show_id
        )
        if as_json:
            click.echo(searching.as_json(query, ranking, hits))
            return
        if ranking.notice:
            click.echo(ranking.notice, err=True)
    if not hits:
        click.echo(f"No passages match {query!r}.")
        return
    for number, hit in enumerate(hits, 1):
        snippet = hit.snippet.replace(MARK_OPEN, "\x00").replace(MARK_CLOSE, "\x01")
        parts = snippet.split("\x00")
        styled = parts[0] + "".join(
            click.style(p.split("\x01", 1)[0], bold=True) + (p.split("\x01", 1) + [""])[1]
            for p in parts[1:]
        )
        click.echo(f"{number}. {hit.episode} at {hit.at} ({hit.show}, {hit.published})")
        click.echo(f"   {styled}")
        click.echo(f"   {hit.page}")


if __name__ == "__main__":
    cli()
