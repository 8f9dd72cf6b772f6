"""The command line: thin click commands over the library. The only module that imports click."""

from __future__ import annotations

import sys

import click

from ingest import __version__
from ingest.archive import ARCHIVE_ENV, Archive

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _archive(ctx: click.Context) -> Archive:
    return ctx.find_object(Archive)


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="podarchive")
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
        count = db.execute("SELECT count(*) FROM episodes WHERE show_id = ?", [show["id"]])
        click.echo(
            f"{show['id']}\t{count.fetchone()[0]} episodes\t{show['title']}\t{show['feed_url']}"
        )


@cli.command()
@click.option("--show", "show_key", help="Only this show (id, feed URL or title).")
@click.pass_context
def episodes(ctx: click.Context, show_key: str | None) -> None:
    """List episodes, newest first, with the state of each step.

    \b
    Example:
        podarchive episodes --show talk-talent-to-me
    """
    from ingest.store import shows as show_store

    db = _archive(ctx).open_db()
    show_id = None
    if show_key:
        show = show_store.find_show(db, show_key)
        if show is None:
            _fail(f"no show matches {show_key!r}")
        show_id = show["id"]
    for ep in show_store.list_episodes(db, show_id):
        date = (ep["published"] or "")[:10]
        audio = "audio" if ep["audio_sha256"] else ("audio-failed" if ep["audio_error"] else "-")
        transcript = ep["transcript_status"] or "-"
        click.echo(f"{ep['id']}\t{date}\t{audio}\t{transcript}\t{ep['title']}")


if __name__ == "__main__":
    cli()
