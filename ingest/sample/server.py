"""Serve the sample show over real HTTP: the feed, its MP3 enclosures (with Range) and transcripts.

    python -m ingest.sample.server [--port 8000]

Used by the tests (the `sample_show` fixture) and by `podarchive demo`. Only the files the
sample lists are served: request paths are looked up in a table, never joined onto a folder.
"""

from __future__ import annotations

import argparse
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ingest.sample import load_sample, sample_feed_xml
from ingest.sitegen.server import parse_range


@dataclass(frozen=True)
class _Resource:
    body: bytes
    content_type: str
    last_modified: datetime

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


def _resources(base_url: str) -> dict[str, _Resource]:
    """Path -> what to serve: the feed (rendered for this server's URL) and the sample's files."""
    show = load_sample()
    newest = max(e.published for e in show.episodes)
    feed = sample_feed_xml(base_url)
    table = {"/feed.xml": _Resource(feed, "application/rss+xml; charset=utf-8", newest)}
    for episode in show.episodes:
        table[f"/audio/{episode.audio_name}"] = _Resource(
            episode.audio_path.read_bytes(), "audio/mpeg", episode.published
        )
        if episode.transcript_path is not None:
            table[f"/transcripts/{episode.transcript_name}"] = _Resource(
                episode.transcript_path.read_bytes(), "text/vtt; charset=utf-8", episode.published
            )
    return table


@dataclass
class SampleServer:
    """A running sample-show server; `url(path)` gives absolute URLs on it."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None
    _resources: dict[str, _Resource] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def feed_url(self) -> str:
        return self.url("/feed.xml")

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def start(self) -> SampleServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _dispatch(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests.append((self.command, self.path, dict(self.headers)))
                resource = server._resources.get(path)
                if resource is None:
                    self._reply(404, b"not found\n", "text/plain; charset=utf-8")
                else:
                    self._serve(resource)

            do_GET = do_HEAD = _dispatch  # noqa: N815

            def _reply(self, status: int, body: bytes, content_type: str, **headers) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _serve(self, resource: _Resource) -> None:
                data, kind, size = resource.body, resource.content_type, len(resource.body)
                validators = {
                    "ETag": resource.etag,
                    "Last_Modified": format_datetime(resource.last_modified, usegmt=True),
                    "Accept_Ranges": "bytes",
                }
                if self.headers.get("If-None-Match") == resource.etag:
                    # RFC 9110 15.4.5: a 304 has no body (and no Content-Length of 0).
                    self.send_response(304)
                    for name, value in validators.items():
                        self.send_header(name.replace("_", "-"), value)
                    self.end_headers()
                    return
                header = self.headers.get("Range")
                if_range = self.headers.get("If-Range")
                # RFC 9110 13.1.5: a Range whose If-Range validator no longer matches gets 200.
                if if_range is not None and if_range not in (
                    resource.etag,
                    validators["Last_Modified"],
                ):
                    header = None
                try:
                    span = None if header is None else parse_range(header, size)
                except ValueError:  # RFC 9110 14.2: a Range we do not understand is ignored
                    header = None
                if header is None:
                    self._reply(200, data, kind, **validators)
                elif span is None:
                    self._reply(416, b"", kind, Content_Range=f"bytes */{size}")
                else:
                    start, end = span
                    content_range = f"bytes {start}-{end}/{size}"
                    self._reply(
                        206, data[start : end + 1], kind, Content_Range=content_range, **validators
                    )

            def log_message(self, format, *args):  # keep test and demo output clean
                pass

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._resources = _resources(self.base_url)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> SampleServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_sample_server(host: str = "127.0.0.1", port: int = 0) -> SampleServer:
    """Start serving the sample show in a background thread (port 0: any free port)."""
    return SampleServer(host=host, port=port).start()


def main(argv: list[str] | None = None) -> None:
    """Serve the sample show until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = start_sample_server(args.host, args.port)
    print(f"Sample feed: {server.feed_url}  (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
