"""Fetch a publisher's `podcast:chapters` file: http(s) only, size- and time-capped."""

from __future__ import annotations

import time

import httpx

from ingest.chapters.publisher import MAX_CHAPTERS_BYTES, ChaptersRejected
from ingest.net import BodyTooLarge, BodyTooSlow, is_http_url, read_capped

TOTAL_TIMEOUT_S = 30.0  # a chapters file is small: a server still sending after this is stuck


def fetch_chapters(client: httpx.Client, url: str) -> bytes:
    """The body of `url`; ChaptersRejected (saying why) when it cannot be had whole."""
    if not is_http_url(url):
        raise ChaptersRejected(f"{url!r} is not an http(s) URL")
    try:
        with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise ChaptersRejected(f"{url} answered HTTP {response.status_code}")
            if not is_http_url(str(response.url)):
                raise ChaptersRejected(f"{url} redirected to {response.url}")
            return read_capped(response, MAX_CHAPTERS_BYTES, time.monotonic() + TOTAL_TIMEOUT_S)
    except BodyTooLarge:
        raise ChaptersRejected(f"{url} is larger than {MAX_CHAPTERS_BYTES // 1024} kB") from None
    except BodyTooSlow:
        raise ChaptersRejected(f"{url} took longer than {TOTAL_TIMEOUT_S:.0f} s") from None
    except httpx.HTTPError as error:
        raise ChaptersRejected(f"{url} could not be fetched ({type(error).__name__})") from None
