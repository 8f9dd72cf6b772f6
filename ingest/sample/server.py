"""Serve the sample show over real HTTP: the feed, its MP3 enclosures (with Range) and transcripts.

    python -m ingest.sample.server [--port 8000]

Used by the tests (the `sample_show` fixture) and by `podarchive demo`. Only the files the
sample lists are served: request paths are looked up in a table, never joined onto a folder.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import threading
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ingest.sample import load_sample, sample_feed_xml

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class _Resource:
    path: Path | None  # file on disk, or None for the feed (rendered per server)
    content_type: str


def _resources() -> dict[str, _Resource]:
    table = {"/feed.xml": _Resource(None, "application/rss+xml; charset=utf-8")}
    for episode in load_sample().episodes:
        table[f"/audio/{episode.audio_name}"] = _Resource(episode.audio_path, "audio/mpeg")
        if episode.transcript_path is not None:
            table[f"/transcripts/{episode.transcript_name}"] = _Resource(
                episode.transcript_path, "text/vtt; charset=utf-8"
            )
    return table


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """First byte and last byte (inclusive) of a single `bytes=` range (RFC 9110 14.1.2).

    Returns None when the range cannot be satisfied; raises ValueError when it is malformed.
    """
    match = RANGE_RE.match(header.strip())
    if not match or match.groups() == ("", ""):
        raise ValueError(f"unsupported Range header: {header!r}")
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        return (max(size - length, 0), size - 1) if length and size else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start < size and start <= end else None


@dataclass
class SampleServer:
    """A running sample-show server; `url(path)` gives absolute URLs on it."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None
    _feed: bytes = b""

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def feed_url(self) -> str:
        return self.url("/feed.xml")

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def start(self) -> SampleServer:
        resources = _resources()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _dispatch(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests.append((self.command, self.path, dict(self.headers)))
                resource = resources.get(path)
                if resource is None:
                    self._reply(404, b"not found\n", "text/plain; charset=utf-8")
                elif resource.path is None:
                    self._feed()
                else:
                    self._file(resource)

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

            def _feed(self) -> None:
                body = server._feed
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                newest = max(e.published for e in load_sample().episodes)
                headers = {"ETag": etag, "Last_Modified": format_datetime(newest, usegmt=True)}
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    for name, value in headers.items():
                        self.send_header(name.replace("_", "-"), value)
                    self.end_headers()
                    return
                self._reply(200, body, "application/rss+xml; charset=utf-8", **headers)

            def _file(self, resource: _Resource) -> None:
                data = resource.path.read_bytes()
                size = len(data)
                header = self.headers.get("Range")
                if header is None:
                    self._reply(200, data, resource.content_type, Accept_Ranges="bytes")
                    return
                try:
                    span = parse_range(header, size)
                except ValueError:  # RFC 9110 14.2: ignore a Range we do not understand
                    self._reply(200, data, resource.content_type, Accept_Ranges="bytes")
                    return
                if span is None:
                    self._reply(416, b"", resource.content_type, Content_Range=f"bytes */{size}")
                    return
                start, end = span
                content_range = f"bytes {start}-{end}/{size}"
                self._reply(
                    206,
                    data[start : end + 1],
                    resource.content_type,
                    Accept_Ranges="bytes",
                    Content_Range=content_range,
                )

            def log_message(self, format, *args):  # keep test and demo output clean
                pass

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._feed = sample_feed_xml(self.base_url)
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
