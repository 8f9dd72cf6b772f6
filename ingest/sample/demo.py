"""The demo: the bundled sample show served locally, archived end to end, then published.

Everything runs on this machine: a local HTTP server plays the show's host (feed, audio and
a publisher transcript), the whole job runs into a fresh archive folder, and the result is
served as a static site and a Datasette.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.archive import Archive, make_archive_folder
from ingest.config import ArchiveConfig
from ingest.errors import PodarchiveError
from ingest.pipeline import RunSummary, run_archive

# A demo folder carries this file, so a rerun may wipe it and never wipes anything else.
DEMO_MARKER = ".podarchive-demo"
DEFAULT_DEMO_FOLDER = "podarchive-demo"
# What the show's owner would put under `vocabulary` in podarchive.toml: jargon tiny.en
# mishears once the episode's names steer it (it hears "grit" as "grid").
SAMPLE_VOCABULARY = ["grit"]


class DemoFolderInUse(PodarchiveError, RuntimeError):
    """The chosen folder holds something that is not an earlier demo, or the current folder."""


def fresh_demo_folder(root: Path) -> Archive:
    """Empty `root` for a new demo run, refusing any non-empty folder it did not make, and the
    folder the command runs in (or one holding it): emptying that would pull the ground from
    under the run itself."""
    root = root.resolve()
    if Path.cwd().resolve().is_relative_to(root):
        raise DemoFolderInUse(
            f"{root} holds the current folder and a demo run empties its folder first; "
            "run the demo from another folder or choose another --archive"
        )
    if root.exists() and any(root.iterdir()):
        if not (root / DEMO_MARKER).exists():
            raise DemoFolderInUse(
                f"{root} is not empty and is not a demo archive; choose another --archive"
            )
        shutil.rmtree(root)
    make_archive_folder(root)
    (root / DEMO_MARKER).write_text("podarchive demo archive: safe to delete\n")
    return Archive(root)


def run_demo(archive: Archive, echo: Callable[[str], None] = print) -> tuple[RunSummary, object]:
    """Serve the sample show and run the whole job on it; returns the summary and the server.

    The caller stops the returned sample server when it is done with it.
    """
    from ingest.sample.server import start_sample_server

    sample = start_sample_server()
    echo(f"Sample show served at {sample.feed_url}")
    config = ArchiveConfig(shows=[sample.feed_url], base_url="/", vocabulary=SAMPLE_VOCABULARY)
    summary = run_archive(archive, config, echo=echo)
    return summary, sample


@dataclass
class Published:
    site_url: str
    datasette_url: str


def publish(archive: Archive, host: str = "127.0.0.1", port: int = 0) -> tuple[Published, Callable]:
    """Serve the built site and a Datasette over the archive; returns their URLs and a stop."""
    import uvicorn

    from ingest.datasette.serve import make_datasette
    from ingest.sitegen.server import StaticServer

    site = StaticServer(archive.site_dir, host=host, port=port).start()
    datasette = make_datasette(archive, base_url=site.url("/"))
    config = uvicorn.Config(datasette.app(), host=host, port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="datasette", daemon=True)
    thread.start()
    while not server.started:  # uvicorn binds in its thread; wait for the real port
        if not thread.is_alive():
            raise RuntimeError("Datasette failed to start")
        time.sleep(0.05)
    datasette_port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=5)
        site.stop()

    return Published(site.url("/"), f"http://{host}:{datasette_port}/"), stop
