"""Serve a built site folder over HTTP with byte ranges, so audio players can seek.

Python's SimpleHTTPRequestHandler ignores Range; browsers then cannot seek an <audio>
element to an unbuffered time. This handler answers single byte ranges with 206.
"""

from __future__ import annotations

import os
import re
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """First and last byte (inclusive) of a single `bytes=` range (RFC 9110 14.1.2).

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


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """Static files with single byte-range support and no request logging."""

    def send_head(self):
        header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if header is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        try:
            span = parse_range(header, size)
        except ValueError:  # RFC 9110 14.2: a Range we do not understand is ignored
            return super().send_head()
        if span is None:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        start, end = span
        handle = open(path, "rb")  # noqa: SIM115 (closed by copyfile's caller)
        handle.seek(start)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._remaining = end - start + 1
        return handle

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        self._remaining = None
        while remaining > 0:
            chunk = source.read(min(64 * 1024, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)
        return None

    def end_headers(self):
        if self.command in ("GET", "HEAD") and "Range" not in self.headers:
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def log_message(self, format, *args):
        pass


class StaticServer:
    """A folder served on host:port (port 0 picks a free one) from a background thread."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0):
        handler = partial(RangeRequestHandler, directory=os.fspath(folder))
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.host, self.port = self._httpd.server_address[:2]

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    def start(self) -> StaticServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
