"""Pull feeds into the archive: fetch every page, parse, store, and say what happened per show."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import sqlite_utils

from ingest.feeds.fetch import MAX_FEED_BYTES, FeedFetchError, FeedResponse, fetch_feed
from ingest.feeds.parse import ParsedFeed, normalize_enclosure_url, parse_feed
from ingest.feeds.titles import FROM_FEED
from ingest.records import Show
from ingest.store import shows as show_store

# Paged feeds (RFC 5005 `rel="next"`) of real shows run to tens of pages; a server that pages
# forever must not keep us fetching forever.
MAX_PAGES = 50


@dataclass
class FetchResult:
    """What refreshing one feed did."""

    feed_url: str
    show_id: str | None = None
    title: str = ""
    not_modified: bool = False
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    dropped: int = 0  # stored episodes the feed no longer lists
    moved_to: str | None = None  # the stored feed URL changed to this
    repairs: list[str] = field(default_factory=list)  # what made the document readable whole
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def counts(self) -> str:
        """What the fetch found, in the words every command prints it with."""
        if self.not_modified:
            return "not modified (304)"
        line = f"{self.added} new, {self.changed} changed, {self.unchanged} unchanged"
        if self.dropped:
            line += f", {self.dropped} no longer in the feed"
        if self.repairs:
            line += f" (repaired: {'; '.join(self.repairs)})"
        return line


@dataclass
class PulledFeed:
    """Every page of a feed fetched and parsed, before anything is stored."""

    first: FeedResponse
    show: Show | None = None
    episodes: list = field(default_factory=list)
    uncertain: set[str] = field(default_factory=set)
    repairs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None  # something is wrong; `show` is None when nothing usable was read
    complete: bool = True  # every page read and well-formed: episodes missing are really gone


def pull_feed(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_pages: int = MAX_PAGES,
    max_bytes: int = MAX_FEED_BYTES,
) -> PulledFeed:
    """Fetch and parse a feed and its following pages; raise FeedFetchError if page 1 fails."""
    first = fetch_feed(client, url, etag=etag, last_modified=last_modified, max_bytes=max_bytes)
    pulled = PulledFeed(first=first)
    if first.not_modified:
        return pulled
    page = parse_feed(first.content, first.url, first.headers)
    # A broken document with no item and no title of its own holds nothing of a show (a title
    # made from the URL does not count).
    feed_titled = bool(page.show.title) and page.show.title_source == FROM_FEED
    if page.error and not page.episodes and not feed_titled:
        pulled.error = f"{first.url}: {page.error}"
        pulled.complete = False
        return pulled
    pulled.show = page.show
    seen_urls = {url, first.url}
    pages = 1
    while True:
        _take_page(pulled, page)
        next_url = page.next_url
        if next_url is None:
            break
        if next_url in seen_urls:
            pulled.warnings.append(f"{page.url}: next page {next_url} was already read (a loop)")
            break
        if pages >= max_pages:
            pulled.warnings.append(f"{url}: stopped after {max_pages} pages")
            pulled.complete = False
            break
        seen_urls.add(next_url)
        pages += 1
        try:
            response = fetch_feed(client, next_url, max_bytes=max_bytes)
        except FeedFetchError as error:
            pulled.error = pulled.error or f"next page: {error}"
            pulled.complete = False
            break
        page = parse_feed(response.content, response.url, response.headers)
    return pulled


def _take_page(pulled: PulledFeed, page: ParsedFeed) -> None:
    pulled.warnings += page.warnings
    pulled.repairs += [repair for repair in page.repairs if repair not in pulled.repairs]
    if page.error:
        pulled.error = pulled.error or f"{page.url}: {page.error}"
        pulled.complete = False
    known = {episode.guid for episode in pulled.episodes}
    for episode in page.episodes:
        if episode.guid in known:
            continue  # pages overlap when the feed changed between two requests: keep the first
        known.add(episode.guid)
        pulled.episodes.append(episode)
        if episode.guid in page.uncertain:
            pulled.uncertain.add(episode.guid)


def refresh_show(db: sqlite_utils.Database, client: httpx.Client, show: dict) -> FetchResult:
    """Conditionally fetch a stored show's feed and store what changed."""
    result = FetchResult(feed_url=show["feed_url"], show_id=show["id"], title=show["title"])
    try:
        pulled = pull_feed(
            client, show["feed_url"], etag=show["etag"], last_modified=show["last_modified"]
        )
    except FeedFetchError as error:
        result.error = str(error)
        show_store.record_fetch(db, show["id"], error=result.error)
        return result
    return _store(db, show["id"], pulled, result)


def add_feed(db: sqlite_utils.Database, client: httpx.Client, url: str) -> FetchResult:
    """Fetch a feed not yet in the archive; add its show only if the feed could be read."""
    result = FetchResult(feed_url=url)
    try:
        pulled = pull_feed(client, url)
    except FeedFetchError as error:
        result.error = str(error)
        return result
    if pulled.show is None:
        result.error = pulled.error
        return result
    # An old address of a show we already have: store into that show, and remember the URL.
    for target, reason in (
        (pulled.first.permanent_url, "redirect"),
        (pulled.show.new_feed_url, "new-feed-url"),
    ):
        known = show_store.find_show_by_url(db, target) if target else None
        if known is not None:
            show_store.remember_old_url(db, known["id"], url, known["feed_url"], reason)
            result.show_id, result.feed_url = known["id"], known["feed_url"]
            return _store(db, known["id"], pulled, result)
    # Added at the URL asked for; `_store` then moves it if the feed said it moved, so the old
    # URL stays known and still finds the show.
    show = show_store.add_show(db, url, pulled.show.title, pulled.show.title_source)
    result.show_id = show["id"]
    return _store(db, show["id"], pulled, result)


def _store(
    db: sqlite_utils.Database, show_id: str, pulled: PulledFeed, result: FetchResult
) -> FetchResult:
    result.warnings, result.repairs = pulled.warnings, pulled.repairs
    first = pulled.first
    if first.not_modified or pulled.show is not None:
        # Only a feed moves a feed: a 301 to a web page (a show that ended) keeps the old URL.
        _follow_move(db, show_id, pulled, result)
    if first.not_modified:
        result.not_modified = True
        show_store.record_fetch(db, show_id, feed_url=None)
        return result
    if pulled.show is None:
        result.error = pulled.error
        show_store.record_fetch(db, show_id, error=result.error)
        return result
    show_store.save_show(db, show_id, pulled.show)
    result.title = show_store.get_show(db, show_id)["title"]
    _adopt_new_guids(db, show_id, pulled)
    upserted = show_store.upsert_episodes(
        db, show_id, pulled.episodes, insert_only=pulled.uncertain
    )
    result.added, result.changed = len(upserted.added), len(upserted.changed)
    result.unchanged = upserted.unchanged
    if pulled.complete:
        result.dropped = show_store.mark_in_feed(db, show_id, [e.guid for e in pulled.episodes])
    result.error = pulled.error
    # Validators last: a run killed before this point fetches the whole feed again next time,
    # and a broken document is never answered with 304 until it changes.
    show_store.record_fetch(
        db,
        show_id,
        etag=first.etag,
        last_modified=first.last_modified,
        error=result.error,
    )
    return result


def _adopt_new_guids(db: sqlite_utils.Database, show_id: str, pulled: PulledFeed) -> None:
    """An episode stored under its enclosure (the feed had no guid) keeps its id once the
    feed starts giving guids, instead of coming back as a duplicate."""
    stored = show_store.episode_guids(db, show_id)
    incoming = {episode.guid for episode in pulled.episodes}
    renames = {}
    for episode in pulled.episodes:
        if episode.guid in stored or not episode.enclosure_url:
            continue
        fallback = normalize_enclosure_url(episode.enclosure_url)
        if fallback in stored and fallback not in incoming and fallback not in renames:
            renames[fallback] = episode.guid
    if renames:  # recorded in episode_changes as {"guid": [old, new]}
        show_store.rename_guids(db, show_id, renames)


def _follow_move(
    db: sqlite_utils.Database, show_id: str, pulled: PulledFeed, result: FetchResult
) -> None:
    """Follow a permanent redirect or `itunes:new-feed-url` by updating the stored URL."""
    target, reason = None, None
    new_feed_url = pulled.show.new_feed_url if pulled.show else None
    if new_feed_url and new_feed_url not in (pulled.first.url, pulled.first.requested_url):
        # Apple's podcast spec: itunes:new-feed-url tells clients the feed has moved for good.
        target, reason = new_feed_url, "new-feed-url"
    elif pulled.first.permanent_url:
        target, reason = pulled.first.permanent_url, "redirect"
    if target is None:
        return
    if show_store.move_feed_url(db, show_id, target, reason):
        result.moved_to = target
        result.feed_url = target
    elif show_store.get_show(db, show_id)["feed_url"] != target:
        result.warnings.append(
            f"{pulled.first.requested_url}: the feed moved to {target}, "
            "which another show in the archive already uses; kept the old URL"
        )


def fetch_feeds(
    db: sqlite_utils.Database,
    client: httpx.Client,
    urls: list[str] | None = None,
    *,
    configured: list[str] | tuple[str, ...] = (),
) -> list[FetchResult]:
    """Add and pull the given feed URLs; with none, add `configured` ones not yet known, then
    refresh every known show (each once)."""
    if urls:
        return [_fetch_url(db, client, url) for url in urls]
    results = []
    for url in configured:
        if show_store.find_show_by_url(db, url) is None:
            results.append(add_feed(db, client, url))
    done = {result.show_id for result in results if result.show_id}
    for show in show_store.list_shows(db):
        if show["id"] not in done:
            results.append(refresh_show(db, client, show))
    return results


def _fetch_url(db: sqlite_utils.Database, client: httpx.Client, url: str) -> FetchResult:
    show = show_store.find_show_by_url(db, url)
    return add_feed(db, client, url) if show is None else refresh_show(db, client, show)
