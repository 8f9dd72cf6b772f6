"""Stream enclosures to disk: resume, retries, limits, atomic rename. Knows nothing of feeds or SQL.

A download is written to `<folder>/<name>.part` (its HTTP validators beside it in
`<name>.part.json`) and renamed to `<folder>/<name><ext>` only when whole and checked, so a
killed run never leaves a half file under the final name and the next run resumes the `.part`.
The extension is chosen once the response is in (served type, URL, magic bytes), which is why
the partial file is named without one.

`download()` fetches one file; `ingest.audio.many` runs a few at once and `ingest.audio.step`
is the archive's download step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import httpx

from ingest.errors import PodarchiveError
from ingest.fileio import fsync_folder, write_atomic
from ingest.ids import is_safe_id
from ingest.net import MAX_REDIRECTS, is_http_url

KB = 1024
MB = 1024 * KB
GB = 1024 * MB

DEFAULT_MAX_BYTES = 1 * GB
DEFAULT_MIN_FREE_BYTES = 100 * MB  # disk left free after a download, for the database and others
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 16
MAX_ATTEMPTS = 50  # requests per download, even while each one makes some progress
MAX_RESTARTS = 3  # times a resumed file may turn out stale before we give up on that episode
SNIFF_BYTES = 16  # enough for every magic number below
HASH_BLOCK = 1 * MB


# Extensions we ever write. Feed text never reaches a file name: it only selects from these.
_EXTENSION_BY_TYPE = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/mpeg3": ".mp3",
    "audio/x-mpeg": ".mp3",
    "audio/x-mp3": ".mp3",
    "audio/mp4": ".m4a",
    "audio/m4a": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
    "audio/aacp": ".aac",
    "audio/x-aac": ".aac",
    "audio/ogg": ".ogg",
    "application/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
    "audio/wav": ".wav",
    "audio/wave": ".wav",
    "audio/x-wav": ".wav",
    "video/mp4": ".mp4",
    "video/x-m4v": ".m4v",
    "video/quicktime": ".mov",
}
_ALLOWED_EXTENSIONS = frozenset(_EXTENSION_BY_TYPE.values()) | {".oga"}
DEFAULT_EXTENSION = ".mp3"

# Non-audio/* types podcasts really use for enclosures (video podcasts, Ogg).
_PODCAST_TYPES = frozenset({"video/mp4", "video/x-m4v", "video/quicktime", "application/ogg"})
# Types that say nothing about the body: trust the magic bytes instead.
_OPAQUE_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_HTML_START = re.compile(rb"^\s*<(!doctype\s+html|html|head|body|\?xml)", re.IGNORECASE)
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class DownloadError(PodarchiveError):
    """A download that did not complete; the message says why in words a user can act on.

    `transient` errors (network, 5xx, cancelled) keep the `.part` file for the next run to
    resume; permanent ones (4xx, not audio, too large) delete it.
    """

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class _Retryable(Exception):
    """One attempt failed in a way another attempt may fix."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _Restart(Exception):
    """The partial file cannot be continued (server file changed, bad 206): start from zero."""


@dataclass(frozen=True)
class Limits:
    """What one download may cost the machine."""

    max_bytes: int = DEFAULT_MAX_BYTES
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for connection errors, timeouts, 5xx and 429; never other 4xx."""

    attempts: int = 4  # failed attempts in a row (without progress) before giving up
    base_delay: float = 1.0  # seconds; doubles after each failure
    max_delay: float = 60.0  # also caps a server's Retry-After
    sleep: Callable[[float], None] | None = None  # None: time.sleep, cut short by a cancel

    def pause(self, seconds: float, cancel: threading.Event | None) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        elif cancel is not None:
            cancel.wait(seconds)  # Ctrl-C during a backoff should not wait it out
        else:
            time.sleep(seconds)

    def delay(self, failures: int, retry_after: float | None) -> float:
        backoff = self.base_delay * 2 ** (failures - 1)
        wanted = max(backoff, retry_after or 0.0)
        return min(wanted, self.max_delay)


@dataclass(frozen=True)
class DownloadResult:
    """A whole file on disk under its final name, with what we measured while writing it."""

    path: Path
    size: int
    sha256: str
    content_type: str | None = None
    url: str | None = None  # where the bytes came from, after redirects
    resumed_from: int = 0  # bytes of an earlier partial file that were kept
    attempts: int = 0  # HTTP requests made (0 when an existing file was reused)
    reused: bool = False  # an existing file matched its stored size and hash: nothing fetched


@dataclass(frozen=True)
class ExistingFile:
    """A file a previous run stored, with the size and hash recorded then."""

    path: Path
    size: int | None
    sha256: str | None


ProgressCallback = Callable[[int, int | None], None]  # (bytes so far, total or None)


# --- Small pure helpers ---------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    """`audio/mpeg; charset=x` -> `audio/mpeg`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def sniff_audio(head: bytes) -> str | None:
    """The extension the first bytes of a file say it has, or None when they match no audio."""
    if head.startswith(b"ID3"):
        return ".mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # Frame sync (11 set bits). Layer bits 00 mean ADTS AAC rather than MPEG audio.
        return ".aac" if head[1] & 0x06 == 0 else ".mp3"
    if head[4:8] == b"ftyp":  # ISO base media (MP4/M4A): box size, then 'ftyp'
        return ".m4a"
    if head.startswith(b"OggS"):
        return ".ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return ".wav"
    if head.startswith(b"fLaC"):
        return ".flac"
    return None


def looks_like_html(head: bytes) -> bool:
    return bool(_HTML_START.match(head))


def _suffix_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        path = httpx.URL(url).path
    except (httpx.InvalidURL, TypeError):
        return None
    suffix = os.path.splitext(path)[1].lower()
    return suffix if suffix in _ALLOWED_EXTENSIONS else None


def choose_extension(
    content_type: str | None = None,
    url: str | None = None,
    head: bytes = b"",
    *,
    type_hint: str | None = None,
    original_url: str | None = None,
) -> str:
    """The file extension, picked from an allow-list: served type, feed type, URL suffix, bytes."""
    for kind in (content_type, type_hint):
        if media_type(kind) in _EXTENSION_BY_TYPE:
            return _EXTENSION_BY_TYPE[media_type(kind)]
    return (
        _suffix_of(url)
        or _suffix_of(original_url)
        or sniff_audio(head[:SNIFF_BYTES])
        or DEFAULT_EXTENSION
    )


def check_url(url: str) -> None:
    """Refuse anything but http(s): feed text may name file://, ftp:// or worse."""
    # httpx parses the URL it will send (it refuses what urlsplit lets by, such as octal hosts).
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise DownloadError(f"invalid URL {url!r}: {error}") from None
    if parsed.scheme in ("http", "https") and not parsed.host:
        raise DownloadError(f"invalid URL {url!r}: no host")
    if not is_http_url(url):
        raise DownloadError(f"refusing to fetch {url!r}: only http and https URLs are allowed")


def check_content(content_type: str | None, head: bytes, url: str) -> None:
    """Raise unless the response is audio: by its type, or by its magic bytes when untyped."""
    kind = media_type(content_type)
    if kind in _HTML_TYPES or looks_like_html(head):
        raise DownloadError(f"{url} served an HTML page ({kind or 'no type'}), not audio")
    if kind.startswith("audio/") or kind in _PODCAST_TYPES:
        return
    if kind in _OPAQUE_TYPES:
        if sniff_audio(head) is None:
            raise DownloadError(
                f"{url} served {kind or 'an untyped body'} whose first bytes are not audio"
                f" ({head[:8].hex(' ')})"
            )
        return
    raise DownloadError(f"{url} served {kind}, not audio")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from Retry-After: delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def hash_file(path: Path) -> tuple[int, str]:
    """(size, SHA-256 hex) of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def file_matches(existing: ExistingFile, *, rehash: bool = True) -> bool:
    """True when the file exists with its stored size (and, with `rehash`, its stored hash)."""
    try:
        size = existing.path.stat().st_size
    except OSError:
        return False
    if existing.size is None or size != existing.size:
        return False
    return not rehash or hash_file(existing.path)[1] == existing.sha256


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


# --- The partial file and its validators ---------------------------------------------------


@dataclass
class _PartState:
    """What we knew about the remote file when the `.part` was started (its validators)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    total: int | None = None
    encoded: bool = False  # a Content-Encoding was applied: byte ranges would not line up

    @classmethod
    def load(cls, path: Path, url: str) -> _PartState | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            state = cls(**data)
        except (OSError, ValueError, TypeError):
            return None
        return state if state.url == url else None

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(dataclasses.asdict(self)))

    def if_range(self) -> str | None:
        """A strong validator for If-Range; weak ETags are not allowed there (RFC 9110 13.1.5)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified


@contextlib.contextmanager
def _locked_part(path: Path) -> Iterator[IO[bytes]]:
    """Open (creating) the `.part` for appending, holding an exclusive lock against other runs."""
    # Unbuffered, so the file size on disk is always what we wrote; O_APPEND puts writes at the end.
    handle = open(path, "a+b", buffering=0)  # noqa: SIM115 - held for the whole download
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(f"{path.name} is being downloaded by another process") from None
        yield handle
    finally:
        handle.close()


def _size(handle: IO[bytes]) -> int:
    return os.fstat(handle.fileno()).st_size


def _truncate(handle: IO[bytes]) -> None:
    handle.seek(0)
    handle.truncate(0)


def _read_head(handle: IO[bytes]) -> bytes:
    handle.seek(0)
    return handle.read(SNIFF_BYTES)


def _hash_open(handle: IO[bytes]):
    digest = hashlib.sha256()
    handle.seek(0)
    while block := handle.read(HASH_BLOCK):
        digest.update(block)
    return digest


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# --- One download ---------------------------------------------------------------------------


def download(
    client: httpx.Client,
    url: str,
    folder: Path,
    name: str,
    *,
    type_hint: str | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen, never mutated
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, never mutated
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> DownloadResult:
    """Fetch `url` to `folder/name<ext>`, resuming `folder/name.part`; raise DownloadError."""
    check_url(url)
    if not is_safe_id(name):
        raise DownloadError(f"unsafe file name {name!r}")
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{name}.part"
    sidecar = folder / f"{name}.part.json"
    run = _Download(client, url, folder, name, part, sidecar, type_hint, limits, progress, cancel)
    with _locked_part(part) as handle:
        run.handle = handle
        try:
            return run.run(retry)
        except DownloadError as error:
            # Keep a partial file only when another run can continue it. Unlinking while we
            # still hold the lock means no other process can have adopted it meanwhile.
            if not error.transient or _size(handle) == 0:
                _remove(part, sidecar)
            raise
        except OSError as error:
            raise DownloadError(f"cannot write {part}: {error}", transient=True) from None


@dataclass
class _Download:
    client: httpx.Client
    url: str
    folder: Path
    name: str
    part: Path
    sidecar: Path
    type_hint: str | None
    limits: Limits
    progress: ProgressCallback | None
    cancel: threading.Event | None
    handle: IO[bytes] | None = None
    state: _PartState | None = None
    attempts: int = 0
    resumed_from: int = 0
    final_url: str = ""

    def run(self, retry: RetryPolicy) -> DownloadResult:
        """Attempt until whole, restarting or backing off as the failures call for."""
        self.state = _PartState.load(self.sidecar, self.url)
        if self.state is None or self.state.encoded or _size(self.handle) < SNIFF_BYTES:
            _truncate(self.handle)  # nothing trustworthy to continue from
            self.state = None
        failures = restarts = 0
        while True:
            self.attempts += 1
            before = _size(self.handle)
            try:
                return self.attempt()
            except _Restart as why:
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise DownloadError(f"{self.url}: cannot resume ({why}), gave up") from None
                _truncate(self.handle)
                self.state = None
            except _Retryable as error:
                if _size(self.handle) > before:
                    failures = 0  # progress was made: a flaky link is not a dead one
                failures += 1
                if failures >= retry.attempts or self.attempts >= MAX_ATTEMPTS:
                    raise DownloadError(
                        f"{error} (gave up after {self.attempts} attempts)", transient=True
                    ) from None
                retry.pause(retry.delay(failures, error.retry_after), self.cancel)
                if self.cancel is not None and self.cancel.is_set():
                    raise DownloadError("cancelled", transient=True) from None

    def attempt(self) -> DownloadResult:
        offset = _size(self.handle) if self.state else 0
        headers = {"Accept-Encoding": "identity"}  # ranges count bytes of the file itself
        if offset:
            headers["Range"] = f"bytes={offset}-"
            validator = self.state.if_range()
            if validator:
                headers["If-Range"] = validator
        response = self._send(headers)
        try:
            return self._receive(response, offset)
        finally:
            response.close()

    def _send(self, headers: dict[str, str]) -> httpx.Response:
        """GET with redirects followed by hand, so every hop is checked to be http(s)."""
        request = self.client.build_request("GET", self.url, headers=headers)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                response = self.client.send(request, stream=True, follow_redirects=False)
                if not response.is_redirect:
                    self.final_url = str(request.url)
                    return response
                response.close()
                request = response.next_request
                if request is None:
                    raise DownloadError(f"{self.url}: redirect without a Location")
                if not is_http_url(str(request.url)):
                    raise DownloadError(
                        f"{self.url} redirected to {request.url}: only http and https are allowed"
                    )
        except httpx.TransportError as error:  # connect/read errors, timeouts, protocol errors
            raise _Retryable(f"{self.url}: {_describe(error)}") from None
        raise DownloadError(f"{self.url}: more than {MAX_REDIRECTS} redirects")

    def _receive(self, response: httpx.Response, offset: int) -> DownloadResult:
        status = response.status_code
        if status >= 500 or status == 429:  # 429: the server asks us to come back (RFC 6585)
            raise _Retryable(
                f"HTTP {status} {response.reason_phrase} from {self.final_url}",
                parse_retry_after(response.headers.get("Retry-After")),
            )
        if status == 416:
            raise _Restart("server refused the byte range")
        if status not in (200, 206):
            raise DownloadError(f"HTTP {status} {response.reason_phrase} from {self.final_url}")

        encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        length = _int(response.headers.get("Content-Length"))
        if status == 206:
            if not offset:
                raise _Restart("unrequested partial content")
            total = self._check_partial(response, offset, etag, last_modified, length, encoded)
        else:
            # 200: the server ignored Range, or If-Range said the file changed: from zero.
            offset = 0
            _truncate(self.handle)
            total = None if encoded else length
        content_type = response.headers.get("Content-Type")
        self._check_room(total, offset)
        self.state = _PartState(self.url, etag, last_modified, total, encoded)
        self.state.save(self.sidecar)
        self.resumed_from = offset
        return self._stream(response, offset, total, content_type)

    def _check_partial(self, response, offset, etag, last_modified, length, encoded) -> int | None:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
        if not match or int(match[1]) != offset or encoded:
            raise _Restart("the server answered a different byte range")
        total = None if match[3] == "*" else int(match[3])
        old = self.state
        # A server that ignores If-Range still tells us the file changed through its validators.
        if (
            (old.etag and etag and old.etag != etag)
            or (old.last_modified and last_modified and old.last_modified != last_modified)
            or (old.total and total and old.total != total)
        ):
            raise _Restart("the file changed on the server since the partial download")
        if length is not None and total is not None and offset + length != total:
            raise _Restart("Content-Length does not match Content-Range")
        return total

    def _check_room(self, total: int | None, offset: int) -> None:
        if total is not None and total > self.limits.max_bytes:
            raise DownloadError(
                f"{self.final_url} is {human_size(total)}, over the "
                f"{human_size(self.limits.max_bytes)} limit"
            )
        needed = (total - offset) if total is not None else 0
        free = shutil.disk_usage(self.folder).free
        if free - needed < self.limits.min_free_bytes:
            raise DownloadError(
                f"not enough disk space for {self.final_url}: needs {human_size(needed)},"
                f" {human_size(free)} free, keeping {human_size(self.limits.min_free_bytes)} spare",
                transient=True,
            )

    def _stream(self, response, offset: int, total: int | None, content_type) -> DownloadResult:
        chunks = iter(response.iter_bytes())
        try:
            if offset:
                digest = _hash_open(self.handle)
                check_content(content_type, _read_head(self.handle), self.final_url)
                first: list[bytes] = []
            else:
                digest = hashlib.sha256()
                first = _peek(chunks, SNIFF_BYTES)
                check_content(content_type, b"".join(first)[:SNIFF_BYTES], self.final_url)
            done = offset
            for chunk in itertools.chain(first, chunks):
                if self.cancel is not None and self.cancel.is_set():
                    raise DownloadError("cancelled", transient=True)
                done += len(chunk)
                if done > self.limits.max_bytes:
                    raise DownloadError(
                        f"{self.final_url} grew past the {human_size(self.limits.max_bytes)} limit"
                    )
                self.handle.write(chunk)
                digest.update(chunk)
                if self.progress is not None:
                    self.progress(done, total)
        except httpx.TransportError as error:
            raise _Retryable(f"{self.final_url}: {_describe(error)}") from None
        if total is not None and done != total:
            # Only a close-delimited body ends early without a protocol error.
            raise _Retryable(f"{self.final_url}: got {done} of {total} bytes")
        if done == 0:
            raise DownloadError(f"{self.final_url} served an empty body")
        return self._finish(done, digest.hexdigest(), content_type)

    def _finish(self, size: int, sha256: str, content_type: str | None) -> DownloadResult:
        os.fsync(self.handle.fileno())
        head = _read_head(self.handle)
        ext = choose_extension(
            content_type,
            self.final_url,
            head,
            type_hint=self.type_hint,
            original_url=self.url,
        )
        final = self.folder / f"{self.name}{ext}"
        for stale in self.folder.glob(f"{self.name}.*"):  # an earlier copy under another extension
            if stale.suffix in _ALLOWED_EXTENSIONS and stale != final:
                _remove(stale)
        os.replace(self.part, final)
        _remove(self.sidecar)
        fsync_folder(self.folder)
        return DownloadResult(
            path=final,
            size=size,
            sha256=sha256,
            content_type=media_type(content_type) or None,
            url=self.final_url,
            resumed_from=self.resumed_from,
            attempts=self.attempts,
        )


def _peek(chunks: Iterator[bytes], n: int) -> list[bytes]:
    """Pull chunks until at least `n` bytes (or the end) are in hand, without losing any."""
    taken, have = [], 0
    for chunk in chunks:
        taken.append(chunk)
        have += len(chunk)
        if have >= n:
            break
    return taken


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _describe(error: httpx.HTTPError) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if type(error).__name__ not in text else text
