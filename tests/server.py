"""A real HTTP server on 127.0.0.1 and a free port, for feeds and audio in tests.

Routes map a path to a handler `(request) -> None` that writes the response itself, so tests
can script any behaviour: Range, ETag/304, redirects, 500s, dropped connections, slow bodies.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class LocalServer:
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def serve_bytes(
        self, path: str, body: bytes, content_type: str = "application/octet-stream", **headers
    ) -> None:
        """Serve a fixed body with 200."""

        def handler(request: BaseHTTPRequestHandler) -> None:
            request.send_response(200)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                request.send_header(name.replace("_", "-"), value)
            request.end_headers()
            if request.command != "HEAD":
                request.wfile.write(body)

        self.route(path, handler)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def start(self) -> LocalServer:
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _dispatch(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests.append(RecordedRequest(self.command, self.path, dict(self.headers)))
                handler = server.routes.get(path)
                if handler is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                handler(self)

            do_GET = do_HEAD = _dispatch  # noqa: N815

            def log_message(self, format, *args):  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self._httpd.daemon_threads = True
        # A short poll interval makes stop() (shutdown) quick: tests start many servers.
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


# --- Reusable handlers for downloads ----------------------------------------------------------


class AudioFile:
    """Serve one file as a CDN would: Range and If-Range (RFC 9110 14.2, 13.1.5), ETag,
    Last-Modified; with scriptable faults: no Range support, dropped connections, slow chunks.

    Attributes may be changed while the server runs (e.g. `delay = 0` to speed a second run).
    """

    def __init__(
        self,
        body: bytes,
        content_type: str = "audio/mpeg",
        *,
        ranges: bool = True,
        honor_if_range: bool = True,
        send_length: bool = True,
        etag: str | None = '"v1"',
        last_modified: str | None = "Mon, 01 Jan 2024 00:00:00 GMT",
        drop_after: int | None = None,
        drops: int = 0,
        chunk_size: int = 16 * 1024,
        delay: float = 0.0,
    ):
        self.body = body
        self.content_type = content_type
        self.ranges = ranges
        self.honor_if_range = honor_if_range  # False: a server that ignores If-Range
        self.send_length = send_length  # False: no Content-Length, the body ends at close
        self.etag = etag
        self.last_modified = last_modified
        self.drop_after = drop_after  # bytes of body sent before the connection is cut...
        self.drops = drops  # ...on this many responses
        self.chunk_size = chunk_size
        self.delay = delay  # seconds between chunks
        self.bytes_sent = 0

    def _range_start(self, request: BaseHTTPRequestHandler) -> int | None:
        header = request.headers.get("Range")
        if not self.ranges or not header or not header.startswith("bytes="):
            return None
        validator = request.headers.get("If-Range")
        if (
            self.honor_if_range
            and validator is not None
            and validator not in (self.etag, self.last_modified)
        ):
            return None  # the client's copy is of another version: send it all
        return int(header[len("bytes=") :].split("-", 1)[0])

    def __call__(self, request: BaseHTTPRequestHandler) -> None:
        start = self._range_start(request)
        total = len(self.body)
        if start is not None and start >= total:
            request.send_response(416)
            request.send_header("Content-Range", f"bytes */{total}")
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        request.send_response(200 if start is None else 206)
        start = start or 0
        if request.command == "GET" and self.drops:
            self.drops -= 1
            cut = self.drop_after
        else:
            cut = None
        request.send_header("Content-Type", self.content_type)
        if self.send_length:
            request.send_header("Content-Length", str(total - start))
        else:
            request.send_header("Connection", "close")
            request.close_connection = True
        if self.ranges:
            request.send_header("Accept-Ranges", "bytes")
        if start:
            request.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        if self.etag:
            request.send_header("ETag", self.etag)
        if self.last_modified:
            request.send_header("Last-Modified", self.last_modified)
        request.end_headers()
        if request.command == "HEAD":
            return
        body = self.body[start:] if cut is None else self.body[start : start + cut]
        try:
            for offset in range(0, len(body), self.chunk_size):
                request.wfile.write(body[offset : offset + self.chunk_size])
                request.wfile.flush()
                self.bytes_sent += len(body[offset : offset + self.chunk_size])
                if self.delay:
                    time.sleep(self.delay)
            if cut is not None:
                drop_connection(request)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (or was killed)
            request.close_connection = True


def drop_connection(request: BaseHTTPRequestHandler) -> None:
    """Cut the TCP connection mid-response, as a failing server or network would."""
    request.close_connection = True
    request.wfile.flush()
    request.connection.shutdown(socket.SHUT_RDWR)


def status(code: int, body: bytes = b"", content_type: str = "text/plain", **headers) -> Handler:
    """A handler answering `code` with a small body and any extra headers."""

    def handler(request: BaseHTTPRequestHandler) -> None:
        request.send_response(code)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            request.send_header(name.replace("_", "-"), value)
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)

    return handler


def redirect(location: str, code: int = 302) -> Handler:
    return status(code, Location=location)


def sequence(*handlers: Handler) -> Handler:
    """Answer the first request with the first handler, and so on; the last one repeats."""
    queue = list(handlers)
    lock = threading.Lock()

    def handler(request: BaseHTTPRequestHandler) -> None:
        with lock:
            current = queue.pop(0) if len(queue) > 1 else queue[0]
        current(request)

    return handler


def drip(
    body: bytes,
    every: float,
    content_type: str,
    chunk: int = 1,
    release: threading.Event | None = None,
) -> Handler:
    """A handler sending `chunk` bytes every `every` seconds, stopping early once `release`
    is set: a server never idle long enough to time out, or a fetch that lasts."""
    release = release or threading.Event()

    def handler(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        try:
            for offset in range(0, len(body), chunk):
                if release.wait(every):
                    return
                request.wfile.write(body[offset : offset + chunk])
                request.wfile.flush()
        except OSError:
            request.close_connection = True

    return handler


def stall(release: threading.Event, timeout: float = 30.0) -> Handler:
    """A handler that answers nothing until `release` is set: a server gone quiet."""

    def handler(request: BaseHTTPRequestHandler) -> None:
        release.wait(timeout)
        request.close_connection = True

    return handler
