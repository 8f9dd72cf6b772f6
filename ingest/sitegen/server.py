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
from urllib.parse import urlsplit

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
    """Static files with single byte-range support, served under `base_path`, the site's own
    404 page for what is missing, and no request logging."""

    protocol_version = "HTTP/1.1"  # keep-alive: a player makes many range requests
    base_path = "/"  # the site's --base-url path; anything outside it is not found

    def translate_path(self, path: str) -> str:
        route = urlsplit(path).path
        if route + "/" == self.base_path:
            return self.directory  # the base itself: redirected to its trailing slash
        if not route.startswith(self.base_path):
            # Outside the site: a name below a file, which open() can never find.
            return os.path.join(self.directory, "404.html", "outside")
        return super().translate_path(path[len(self.base_path) - 1 :])

    def send_error(self, code, message=None, explain=None):
        page = Path(self.directory) / "404.html"
        if code != HTTPStatus.NOT_FOUND or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return None

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

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0, base_path: str = "/"):
        self.base_path = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
        handler_class = type(
            "SiteRequestHandler", (RangeRequestHandler,), {"base_path": self.base_path}
        )
        handler = partial(handler_class, directory=os.fspath(Path(folder).resolve()))
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.host, self.port = self._httpd.server_address[:2]

    def url(self, path: str = "") -> str:
        """A URL on the site: `path` is relative to the base path."""
        return f"http://{self.host}:{self.port}{self.base_path}{path.lstrip('/')}"

    def start(self) -> StaticServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
