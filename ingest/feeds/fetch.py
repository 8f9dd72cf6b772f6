"""Fetch one feed document over HTTP: conditional GET, redirects, timeouts and a size cap."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

from ingest.errors import PodarchiveError
from ingest.net import MAX_REDIRECTS, BodyTooLarge, BodyTooSlow, is_http_url, read_capped

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_FEED_BYTES = 50 * 1024 * 1024  # the largest real feeds are a few MB; 50 MB is a bad server
TOTAL_TIMEOUT_S = 120.0  # a server dripping one byte a second never trips the read timeout
# RFC 9110 15.4: only 301 and 308 say the resource has moved for good; 302/303/307 do not.
PERMANENT_REDIRECTS = frozenset({301, 308})


class FeedFetchError(PodarchiveError):
    """A feed could not be fetched; the message names the URL and says why."""


@dataclass
class FeedResponse:
    """The outcome of one GET of a feed URL."""

    requested_url: str
    url: str  # after redirects
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    # Set when every redirect in the chain was permanent: clients should use this URL from now on.
    permanent_url: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


def fetch_feed(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_FEED_BYTES,
    total_timeout: float = TOTAL_TIMEOUT_S,
) -> FeedResponse:
    """GET `url`, conditionally when validators are given; raise FeedFetchError on failure."""
    if not is_http_url(url):
        raise FeedFetchError(f"{url}: only http(s) URLs are fetched")
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    try:
        with client.stream("GET", url, headers=headers) as response:
            result = FeedResponse(
                requested_url=url,
                url=str(response.url),
                status=response.status_code,
                headers={k.lower(): v for k, v in response.headers.items()},
            )
            if response.history and all(
                r.status_code in PERMANENT_REDIRECTS for r in response.history
            ):
                result.permanent_url = str(response.url)
            if response.status_code == 304:
                return result
            if response.status_code >= 400:
                reason = response.reason_phrase or ""
                raise FeedFetchError(f"{url}: HTTP {response.status_code} {reason}".rstrip())
            result.content = read_capped(response, max_bytes, started + total_timeout)
            return result
    except BodyTooLarge:
        raise FeedFetchError(
            f"{url}: the feed is larger than {max_bytes // (1024 * 1024)} MB; not read"
        ) from None
    except BodyTooSlow:
        raise FeedFetchError(f"{url}: still downloading after {total_timeout:g}s") from None
    except httpx.TimeoutException as error:
        raise FeedFetchError(f"{url}: timed out ({type(error).__name__})") from error
    except httpx.TooManyRedirects as error:
        raise FeedFetchError(f"{url}: more than {MAX_REDIRECTS} redirects") from error
    except httpx.UnsupportedProtocol as error:
        raise FeedFetchError(f"{url}: redirected to a URL that is not http(s)") from error
    except httpx.HTTPError as error:
        raise FeedFetchError(f"{url}: {type(error).__name__}: {error}") from error
