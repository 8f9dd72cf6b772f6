"""The one HTTP client of the archive: who we say we are, what we fetch, and how much of it.

Feed text names every URL we fetch, so it is untrusted: only absolute http(s) URLs with a
host are fetched (`is_http_url`), and bodies held in memory are capped (`read_capped`).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx

from ingest import __version__

PROJECT_URL = "https://github.com/podcast-archive/podcast-archive"
# What a server sees: the product, its version, and where to read about it (the "+URL"
# comment is the convention crawlers and podcast apps follow, so a publisher can find us).
USER_AGENT = f"podcast-archive/{__version__} (+{PROJECT_URL})"
HTTP_SCHEMES = ("http", "https")
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0  # between bytes
MAX_REDIRECTS = 10


class BodyTooLarge(Exception):
    """A response body passed its cap; the caller says what it was and why that is too much."""


class BodyTooSlow(Exception):
    """A response body took longer than its total time limit to arrive."""


def is_http_url(url: str | None) -> bool:
    """True for an absolute http(s) URL with a host: the only kind we fetch or link to."""
    if not url:
        return False
    parts = urlsplit(url.strip())
    return parts.scheme.lower() in HTTP_SCHEMES and bool(parts.netloc)


def make_client(
    timeout: float | httpx.Timeout | None = None,
    *,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client with our User-Agent and timeouts; shareable between threads."""
    if timeout is None:
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    return httpx.Client(
        headers={"User-Agent": USER_AGENT} | (headers or {}),
        follow_redirects=follow_redirects,
        max_redirects=MAX_REDIRECTS,
        timeout=timeout,
        transport=transport,
    )


def read_capped(response: httpx.Response, max_bytes: int, deadline: float | None = None) -> bytes:
    """A streamed response's whole body; BodyTooLarge past `max_bytes` (declared or sent),
    BodyTooSlow when it is still arriving at `deadline` (a `time.monotonic()` value: a server
    dripping a byte a second never trips the read timeout)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge
        if deadline is not None and time.monotonic() > deadline:
            raise BodyTooSlow
        chunks.append(chunk)
    return b"".join(chunks)
