"""Serve the archive with Datasette, configured from `ingest/datasette/metadata.yaml`.

Read-only by default: nothing in the configuration writes (no write plugins), the database is
opened immutable (no locks, no change checks: the fastest way to serve a file that does not
change), and arbitrary SQL is refused unless asked for. `live=True` opens it read-only but
mutable instead, for serving while an ingest run writes; `serve` picks it by itself when
an ingest run holds the archive's lock at start.
"""

from __future__ import annotations

import copy
import functools
import logging
from importlib import resources

import yaml
from datasette.app import Datasette

from ingest.archive import Archive

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
# Datasette names a database after its file: archive.db is served at /archive.
DATABASE_NAME = "archive"

SETTINGS = {
    # Suggested facets scan whole tables on every page: too slow on a large archive. The
    # configured facets in metadata.yaml are the useful ones.
    "suggest_facets": False,
    # The episode_list view computes topics per episode; give its facets time on big archives.
    "facet_time_limit_ms": 1000,
}


@functools.cache
def _metadata_template() -> dict:
    text = resources.files("ingest.datasette").joinpath("metadata.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def load_metadata(site_url: str | None) -> dict:
    """The Datasette metadata of the archive, linking episode pages under `site_url` (None:
    no site links)."""
    metadata = copy.deepcopy(_metadata_template())
    metadata.setdefault("plugins", {}).setdefault("podarchive", {})["site_url"] = site_url
    return metadata


def default_site_url(archive: Archive) -> str | None:
    """The static site's full base URL from the archive's podarchive.toml (`base_url`), else
    None. A path alone ('/', the default) says nothing of the site's host: links made from it
    would point at Datasette's own host, where no episode page is."""
    from ingest.config import ArchiveConfig
    from ingest.net import is_http_url

    base_url = ArchiveConfig.load(archive.root).base_url or ""
    return base_url if is_http_url(base_url) else None


def prepare_database(archive: Archive) -> bool:
    """Bring the schema and search passages up to date; True when the database file alone
    holds every committed change (what an immutable reader needs)."""
    from ingest.store import search

    db = archive.open_db()
    try:
        return search.prepare_for_serving(db)
    finally:
        db.conn.close()


def archive_in_use(archive: Archive) -> bool:
    """Whether an ingest run holds the archive's lock right now."""
    from ingest.archive import ArchiveBusy, archive_lock

    try:
        with archive_lock(archive.root):
            return False
    except ArchiveBusy:
        return True


def _register_plugin() -> None:
    from datasette.plugins import pm

    from ingest.datasette import plugin

    if not pm.is_registered(plugin):
        pm.register(plugin, name=plugin.PLUGIN_NAME)


def make_datasette(
    archive: Archive,
    base_url: str | None = None,
    allow_sql: bool = False,
    live: bool = False,
) -> Datasette:
    """A Datasette instance over the archive; `base_url` is the static site's base URL."""
    if not prepare_database(archive) and not live:
        log.warning("%s is being read by another process: serving it live", archive.db_path)
        live = True
    from ingest.datasette import counts

    path = str(archive.db_path)
    _register_plugin()
    site_url = base_url if base_url is not None else default_site_url(archive)
    return Datasette(
        [path] if live else [],
        immutables=[] if live else [path],
        inspect_data=None if live else counts.inspect_data(archive.db_path, DATABASE_NAME),
        metadata=load_metadata(site_url),
        settings=SETTINGS | {"default_allow_sql": allow_sql},
        template_dir=str(templates_dir()),
    )


def templates_dir():
    """templates/datasette/: the stored queries' form (labels, button, search notes)."""
    from ingest.sitegen.render import templates_dir as site_templates

    return site_templates() / "datasette"


def serve(
    archive: Archive,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    base_url: str | None = None,
    allow_sql: bool = False,
    live: bool = False,
) -> None:
    """Run Datasette over the archive with uvicorn until interrupted."""
    import uvicorn

    if not live and archive_in_use(archive):
        # An immutable reader must never see a file that changes under it.
        log.warning("another podarchive run is writing %s: serving it live", archive.root)
        live = True
    ds = make_datasette(archive, base_url=base_url, allow_sql=allow_sql, live=live)
    # Datasette's app runs its startup hooks on the first request.
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
