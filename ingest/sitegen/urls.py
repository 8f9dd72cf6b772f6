"""Where the site's pages live: the base URL every link starts from, the list pages, and the
paths of episode pages and files (Datasette links to these too, so they have one home here).

See `ingest.sitegen.step` for the layout of the site's folders.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ingest.errors import PodarchiveError

EPISODES_PER_PAGE = 20


class BaseUrlError(PodarchiveError, ValueError):
    """A base URL that is neither an http(s) URL nor a path."""


def episode_path(slug: str) -> str:
    """An episode page's folder, relative to the base URL."""
    return f"episodes/{slug}/"


def audio_path(show_id: str, episode_id: str, ext: str) -> str:
    """The site's copy of an episode's downloaded audio."""
    return f"audio/{show_id}/{episode_id}.{ext}"


def transcript_path(show_id: str, slug: str, ext: str) -> str:
    """A transcript download, named by the episode's slug."""
    return f"transcripts/{show_id}/{slug}.{ext}"


@dataclass(frozen=True)
class BaseUrl:
    """Where the site is served: `path` prefixes every link, `absolute` is for feeds and meta."""

    path: str
    absolute: str

    @classmethod
    def parse(cls, base_url: str | None) -> BaseUrl:
        """'https://host/sub' or '/sub' (or '' for the root) -> paths ending in '/'."""
        value = (base_url or "/").strip()
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc:
            path = "/" + parts.path.strip("/") + "/" if parts.path.strip("/") else "/"
            return cls(path, f"{parts.scheme}://{parts.netloc}{path}")
        if parts.scheme or parts.netloc:
            raise BaseUrlError(f"--base-url must be an http(s) URL or a path, not {value!r}")
        path = "/" + value.strip("/") + "/" if value.strip("/") else "/"
        return cls(path, path)

    def link(self, url: str) -> str:
        """A site path made absolute to the server root; external URLs pass through."""
        return url if url.startswith(("http://", "https://")) else self.path + url

    def full(self, url: str) -> str:
        """A site path as a full URL when the base URL is absolute (feeds, OpenGraph)."""
        return url if url.startswith(("http://", "https://")) else self.absolute + url


@dataclass(frozen=True)
class PageLayout:
    """One list page: its file, which episodes (1 = the oldest) it holds, and its neighbours."""

    rel: str
    number: int
    first: int
    last: int
    newer_url: str | None
    older_url: str | None


def paginate(count: int, prefix: str = "", per_page: int | None = None) -> list[PageLayout]:
    """The list pages for `count` episodes, the front page first (see `_lists`)."""
    per_page = per_page or EPISODES_PER_PAGE
    top = max(1, count // per_page)  # the front page holds window `top` and the remainder

    def url(number: int) -> str:
        return prefix if number == top else f"{prefix}page/{number}/"

    front = PageLayout(
        f"{prefix}index.html",
        top,
        (top - 1) * per_page + 1,
        count,
        None,
        url(top - 1) if top > 1 else None,
    )
    pages = [front]
    for number in range(top - 1, 0, -1):
        pages.append(
            PageLayout(
                f"{prefix}page/{number}/index.html",
                number,
                (number - 1) * per_page + 1,
                number * per_page,
                url(number + 1),
                url(number - 1) if number > 1 else None,
            )
        )
    return pages
