import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.synthetic_feed import synthetic_feed
from ingest.feeds.fetch import FeedFetchError, fetch_feed
from ingest.feeds.step import fetch_feeds, pull_feed, refresh_show
from ingest.net import USER_AGENT, make_client
from ingest.store import shows as show_store

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
ETAG = '"v1"'
LAST_MODIFIED = "Tue, 05 Mar 2024 08:00:00 GMT"


@dataclass
class Feed:
    """A feed the local server serves with ETag/Last-Modified and answers 304 when unchanged."""

    body: bytes
    etag: str | None = ETAG
    last_modified: str | None = LAST_MODIFIED
    content_type: str = "application/rss+xml; charset=utf-8"

    def handler(self, request):
        unchanged = (self.etag and request.headers.get("If-None-Match") == self.etag) or (
            not self.etag
            and self.last_modified
            and request.headers.get("If-Modified-Since") == self.last_modified
        )
        request.send_response(304 if unchanged else 200)
        if self.etag:
            request.send_header("ETag", self.etag)
        if self.last_modified:
            request.send_header("Last-Modified", self.last_modified)
        body = b"" if unchanged else self.body
        if not unchanged:
            request.send_header("Content-Type", self.content_type)
            request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def redirect(location: str, status: int = 301):
    def handler(request):
        request.send_response(status)
        request.send_header("Location", location)
        request.send_header("Content-Length", "0")
        request.end_headers()

    return handler


def status(code: int):
    def handler(request):
        body = b"<html><body>nope</body></html>"
        request.send_response(code)
        request.send_header("Content-Type", "text/html")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handler


@pytest.fixture
def client():
    with make_client(timeout=5.0) as http:
        yield http


def itunes_feed() -> Feed:
    return Feed((FEEDS / "itunes.xml").read_bytes())


def feed_requests(server, path):
    return [r for r in server.requests if r.path == path]


def test_fetch_sends_our_user_agent_and_returns_body_and_validators(local_server, client):
    feed = itunes_feed()
    local_server.route("/feed.xml", feed.handler)
    response = fetch_feed(client, local_server.url("/feed.xml"))
    assert response.status == 200 and response.content == feed.body
    assert (response.etag, response.last_modified) == (ETAG, LAST_MODIFIED)
    sent = local_server.requests[0].headers
    assert sent["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("podcast-archive/") and "(+http" in USER_AGENT
    assert "application/rss+xml" in sent["Accept"]


def test_first_fetch_stores_show_and_episodes(local_server, client, db):
    local_server.route("/feed.xml", itunes_feed().handler)
    [result] = fetch_feeds(db, client, [local_server.url("/feed.xml")])
    assert result.ok and result.added == 3 and result.show_id == "hiring-matters"
    show = show_store.get_show(db, "hiring-matters")
    assert show["title"] == "Hiring Matters" and show["etag"] == ETAG
    assert show["last_modified"] == LAST_MODIFIED and show["fetched_at"]
    assert json.loads(show["categories"]) == ["Business", "Careers", "Technology"]
    assert db["episodes"].count == 3
    assert db["episode_transcript_links"].count == 3
    assert {r["name"] for r in db["people"].rows} == {"Rob Example", "Viet Example"}


def test_second_fetch_is_conditional_and_changes_nothing(local_server, client, db):
    local_server.route("/feed.xml", itunes_feed().handler)
    url = local_server.url("/feed.xml")
    fetch_feeds(db, client, [url])
    before = list(db.query("SELECT * FROM episodes ORDER BY id"))

    [again] = fetch_feeds(db, client, [url])
    assert again.ok and again.not_modified
    assert (again.added, again.changed, again.unchanged) == (0, 0, 0)
    second = feed_requests(local_server, "/feed.xml")[1]
    assert second.headers["If-None-Match"] == ETAG
    assert second.headers["If-Modified-Since"] == LAST_MODIFIED
    assert list(db.query("SELECT * FROM episodes ORDER BY id")) == before
    assert db["episode_changes"].count == 0


def test_last_modified_alone_is_enough_for_a_304(local_server, client, db):
    feed = itunes_feed()
    feed.etag = None
    local_server.route("/feed.xml", feed.handler)
    url = local_server.url("/feed.xml")
    fetch_feeds(db, client, [url])
    [again] = fetch_feeds(db, client, [url])
    assert again.not_modified
    assert "If-None-Match" not in feed_requests(local_server, "/feed.xml")[1].headers


def test_refetch_without_validators_is_idempotent(local_server, client, db):
    feed = itunes_feed()
    feed.etag = feed.last_modified = None  # a server that never answers 304
    local_server.route("/feed.xml", feed.handler)
    url = local_server.url("/feed.xml")
    fetch_feeds(db, client, [url])
    [again] = fetch_feeds(db, client, [url])
    assert not again.not_modified
    assert (again.added, again.changed, again.unchanged) == (0, 0, 3)
    assert db["episodes"].count == 3 and db["shows"].count == 1
    assert db["episode_transcript_links"].count == 3 and db["episode_people"].count == 2
    assert db["episode_changes"].count == 0


def test_changed_feed_updates_in_place_and_records_changes(local_server, client, db):
    feed = itunes_feed()
    local_server.route("/feed.xml", feed.handler)
    url = local_server.url("/feed.xml")
    fetch_feeds(db, client, [url])
    ids = {r["guid"]: r["id"] for r in db["episodes"].rows}

    feed.body = feed.body.replace(b"The reverse interview", b"The reverse interview (remastered)")
    feed.body = feed.body.replace(b"?source=rss", b"?source=apple")
    feed.etag = '"v2"'
    [result] = fetch_feeds(db, client, [url])
    assert (result.added, result.changed, result.unchanged) == (0, 1, 2)
    assert {r["guid"]: r["id"] for r in db["episodes"].rows} == ids  # same ids
    row = show_store.get_episode(db, ids["hm-0003"])
    assert row["title"] == "The reverse interview (remastered)"
    assert row["enclosure_url"].endswith("?source=apple")
    [change] = db["episode_changes"].rows
    changes = json.loads(change["changes"])
    assert changes["title"] == ["The reverse interview", "The reverse interview (remastered)"]
    assert set(changes) == {"title", "enclosure_url"}
    assert show_store.get_show(db, "hiring-matters")["etag"] == '"v2"'


def test_episode_gone_from_the_feed_is_kept_and_flagged(local_server, client, db):
    feed = itunes_feed()
    local_server.route("/feed.xml", feed.handler)
    url = local_server.url("/feed.xml")
    fetch_feeds(db, client, [url])
    start = feed.body.index(b"<item>\n      <title>Trailer")
    feed.body = feed.body[:start] + feed.body[feed.body.index(b"</item>", start) + 7 :]
    feed.etag = '"v2"'
    [result] = fetch_feeds(db, client, [url])
    assert result.dropped == 1
    flags = {r["guid"]: r["in_feed"] for r in db["episodes"].rows}
    assert flags == {"hm-0003": 1, "hm-0002": 1, "hm-0001": 0}


def test_permanent_redirect_updates_the_stored_url(local_server, client, db):
    local_server.route("/new.xml", itunes_feed().handler)
    local_server.route("/old.xml", redirect("/new.xml", 301))
    old, new = local_server.url("/old.xml"), local_server.url("/new.xml")
    [result] = fetch_feeds(db, client, [old])
    assert result.ok and result.moved_to == new and result.added == 3
    assert show_store.get_show(db, result.show_id)["feed_url"] == new
    # Asking for the old URL again finds the same show (conditionally, at the new URL).
    [again] = fetch_feeds(db, client, [old])
    assert again.show_id == result.show_id and again.not_modified
    assert db["shows"].count == 1
    assert feed_requests(local_server, "/new.xml")[-1].headers["If-None-Match"] == ETAG


def test_308_also_moves_but_temporary_redirects_do_not(local_server, client, db):
    local_server.route("/feed.xml", itunes_feed().handler)
    local_server.route("/tmp.xml", redirect("/feed.xml", 302))
    local_server.route("/perm.xml", redirect("/tmp.xml", 308))
    [result] = fetch_feeds(db, client, [local_server.url("/perm.xml")])
    # A chain with a temporary hop is not a permanent move (RFC 9110 15.4).
    assert result.ok and result.moved_to is None
    assert show_store.get_show(db, result.show_id)["feed_url"] == local_server.url("/perm.xml")

    local_server.route("/perm2.xml", redirect("/feed.xml", 308))
    response = fetch_feed(client, local_server.url("/perm2.xml"))
    assert response.permanent_url == local_server.url("/feed.xml")


def test_new_feed_url_moves_the_show(local_server, client, db):
    moved = itunes_feed()
    local_server.route("/new.xml", moved.handler)
    old_feed = itunes_feed()
    old_feed.body = old_feed.body.replace(
        b"<language>",
        f"<itunes:new-feed-url>{local_server.url('/new.xml')}</itunes:new-feed-url><language>".encode(),
    )
    local_server.route("/old.xml", old_feed.handler)
    [result] = fetch_feeds(db, client, [local_server.url("/old.xml")])
    assert result.moved_to == local_server.url("/new.xml")
    show = show_store.get_show(db, result.show_id)
    assert show["feed_url"] == local_server.url("/new.xml")
    [alias] = db["show_feed_urls"].rows
    assert alias["url"] == local_server.url("/old.xml") and alias["reason"] == "new-feed-url"
    # The next refresh of every show goes to the new URL.
    [again] = fetch_feeds(db, client)
    assert again.ok and feed_requests(local_server, "/new.xml")


@pytest.mark.parametrize("code", [404, 500])
def test_http_error_is_reported_and_nothing_stored_is_lost(local_server, client, db, code):
    feed = itunes_feed()
    local_server.route("/feed.xml", feed.handler)
    url = local_server.url("/feed.xml")
    fetch_feeds(db, client, [url])
    before = list(db.query("SELECT * FROM episodes ORDER BY id"))

    local_server.route("/feed.xml", status(code))
    [result] = fetch_feeds(db, client)
    assert not result.ok and result.error.startswith(f"{url}: HTTP {code}")
    show = show_store.get_show(db, result.show_id)
    assert show["fetch_error"] == result.error
    assert show["title"] == "Hiring Matters" and show["etag"] == ETAG
    assert list(db.query("SELECT * FROM episodes ORDER BY id")) == before

    local_server.route("/feed.xml", feed.handler)  # the server recovers: the error clears
    [healed] = fetch_feeds(db, client)
    assert healed.ok and show_store.get_show(db, result.show_id)["fetch_error"] is None


def test_new_url_that_fails_adds_no_show(local_server, client, db):
    [result] = fetch_feeds(db, client, [local_server.url("/missing.xml")])
    assert "HTTP 404" in result.error and result.show_id is None
    assert db["shows"].count == 0


def test_slow_server_hits_the_timeout(local_server, db):
    release = threading.Event()

    def slow(request):
        release.wait(5)  # answers only after the client has given up
        try:
            request.send_response(200)
            request.send_header("Content-Length", "0")
            request.end_headers()
        except OSError:
            pass

    local_server.route("/slow.xml", slow)
    try:
        with make_client(timeout=0.3) as quick:
            [result] = fetch_feeds(db, quick, [local_server.url("/slow.xml")])
    finally:
        release.set()
    assert result.error == f"{local_server.url('/slow.xml')}: timed out (ReadTimeout)"


def test_body_over_the_size_cap_is_refused(local_server, client):
    local_server.serve_bytes("/big.xml", synthetic_feed(50), "application/rss+xml")
    with pytest.raises(FeedFetchError, match="larger than"):
        fetch_feed(client, local_server.url("/big.xml"), max_bytes=1000)


def test_body_over_the_cap_without_content_length_is_cut_off(local_server, client):
    def chunked(request):
        request.send_response(200)
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        for _ in range(50):
            chunk = b"x" * 1024
            request.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        request.wfile.write(b"0\r\n\r\n")

    local_server.route("/stream.xml", chunked)
    with pytest.raises(FeedFetchError, match="larger than"):
        fetch_feed(client, local_server.url("/stream.xml"), max_bytes=10 * 1024)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/feed.xml", "feed.xml", "javascript:x"]
)
def test_only_http_urls_are_fetched(client, db, url):
    [result] = fetch_feeds(db, client, [url])
    assert result.error == f"{url}: only http(s) URLs are fetched"


def test_paged_feed_is_followed_to_the_end(local_server, client, db):
    local_server.serve_bytes("/p1.xml", synthetic_feed(3, first=6, next_url="/p2.xml"))
    local_server.serve_bytes("/p2.xml", synthetic_feed(3, first=3, next_url="p3.xml"))
    local_server.serve_bytes("/p3.xml", synthetic_feed(3, first=0))
    [result] = fetch_feeds(db, client, [local_server.url("/p1.xml")])
    assert result.ok and result.added == 9 and result.warnings == []
    assert {r["guid"] for r in db["episodes"].rows} == {f"synthetic-{n}" for n in range(9)}


def test_paging_loop_is_detected(local_server, client):
    local_server.serve_bytes("/p1.xml", synthetic_feed(2, first=2, next_url="/p2.xml"))
    local_server.serve_bytes("/p2.xml", synthetic_feed(2, first=0, next_url="/p1.xml"))
    pulled = pull_feed(client, local_server.url("/p1.xml"))
    assert len(pulled.episodes) == 4
    assert any("already read (a loop)" in w for w in pulled.warnings)
    assert len(local_server.requests) == 2


def test_page_count_is_bounded(local_server, client):
    for n in range(10):
        local_server.serve_bytes(
            f"/p{n}.xml", synthetic_feed(1, first=n, next_url=f"/p{n + 1}.xml")
        )
    pulled = pull_feed(client, local_server.url("/p0.xml"), max_pages=3)
    assert len(local_server.requests) == 3 and len(pulled.episodes) == 3
    assert not pulled.complete
    assert any("stopped after 3 pages" in w for w in pulled.warnings)


def test_broken_next_page_keeps_the_first_pages(local_server, client, db):
    local_server.serve_bytes("/p1.xml", synthetic_feed(2, first=2, next_url="/gone.xml"))
    [result] = fetch_feeds(db, client, [local_server.url("/p1.xml")])
    assert result.added == 2 and "next page" in result.error and "HTTP 404" in result.error


def test_truncated_refetch_never_blanks_or_cuts_stored_episodes(local_server, client, db):
    feed = itunes_feed()
    local_server.route("/feed.xml", feed.handler)
    url = local_server.url("/feed.xml")
    fetch_feeds(db, client, [url])
    before = {r["guid"]: r for r in db["episodes"].rows}

    # The new version renames the first episode but arrives cut off inside the second.
    changed = feed.body.replace(b"The reverse interview", b"Reverse interviews")
    feed.body = changed[: changed.index(b"<itunes:duration>45:30")]
    feed.etag = '"broken"'
    [result] = fetch_feeds(db, client)
    assert not result.ok and "is truncated" in result.error and url in result.error
    after = {r["guid"]: r for r in db["episodes"].rows}
    assert after["hm-0003"]["title"] == "Reverse interviews"  # complete item: updated
    assert after["hm-0002"] == before["hm-0002"]  # the cut item changes nothing
    assert after["hm-0001"] == before["hm-0001"] and after["hm-0001"]["in_feed"] == 1
    show = show_store.get_show(db, result.show_id)
    assert show["etag"] == ETAG  # the broken version's validators are not kept
    assert "is truncated" in show["fetch_error"]


@pytest.mark.parametrize("fixture", ["html_page.html", None])
def test_known_show_answering_with_junk_loses_nothing(local_server, client, db, fixture):
    feed = itunes_feed()
    local_server.route("/feed.xml", feed.handler)
    fetch_feeds(db, client, [local_server.url("/feed.xml")])
    before_show = show_store.get_show(db, "hiring-matters")
    before = list(db.query("SELECT * FROM episodes ORDER BY id"))

    body = (FEEDS / fixture).read_bytes() if fixture else b"Service Unavailable"
    local_server.serve_bytes("/feed.xml", body, "text/html" if fixture else "text/plain")
    [result] = fetch_feeds(db, client)
    assert not result.ok
    assert ("HTML page" if fixture else "not XML") in result.error
    after_show = show_store.get_show(db, "hiring-matters")
    assert {k: after_show[k] for k in ("title", "description", "image_url", "etag")} == {
        k: before_show[k] for k in ("title", "description", "image_url", "etag")
    }
    assert list(db.query("SELECT * FROM episodes ORDER BY id")) == before


def test_refresh_show_takes_a_stored_row(local_server, client, db):
    local_server.route("/feed.xml", itunes_feed().handler)
    show = show_store.add_show(db, local_server.url("/feed.xml"))
    result = refresh_show(db, client, show)
    assert result.ok and result.added == 3 and result.title == "Hiring Matters"


def test_feed_without_guids_keeps_identity_through_tracking_changes_and_new_guids(
    local_server, client, db
):
    feed = Feed((FEEDS / "no_guids.xml").read_bytes(), etag=None, last_modified=None)
    local_server.route("/feed.xml", feed.handler)
    url = local_server.url("/feed.xml")
    [first] = fetch_feeds(db, client, [url])
    assert first.added == 3
    ids = {r["title"]: r["id"] for r in db["episodes"].rows}

    # The host swaps tracking prefixes and query strings: same episodes.
    feed.body = feed.body.replace(b"https://chrt.fm/track/ABC123/", b"https://pdst.fm/e/")
    feed.body = feed.body.replace(b"one.mp3", b"one.mp3?updated=1")
    [second] = fetch_feeds(db, client)
    assert (second.added, second.changed) == (0, 2)
    # Then the feed starts giving guids: still the same episodes, now under their guids.
    feed.body = feed.body.replace(b"<title>Two</title>", b"<title>Two</title><guid>ep-2</guid>")
    feed.body = feed.body.replace(b"<title>One</title>", b"<title>One</title><guid>ep-1</guid>")
    [third] = fetch_feeds(db, client)
    assert third.added == 0 and db["episodes"].count == 3
    assert {r["title"]: r["id"] for r in db["episodes"].rows} == ids
    assert {r["title"]: r["guid"] for r in db["episodes"].rows if r["enclosure_url"]} == {
        "Two": "ep-2",
        "One": "ep-1",
    }


def test_permanent_redirect_to_a_web_page_does_not_move_the_show(local_server, client, db):
    local_server.route("/feed.xml", itunes_feed().handler)
    url = local_server.url("/feed.xml")
    fetch_feeds(db, client, [url])
    local_server.serve_bytes("/home", (FEEDS / "html_page.html").read_bytes(), "text/html")
    local_server.route("/feed.xml", redirect("/home", 301))
    [result] = fetch_feeds(db, client)
    assert not result.ok and "HTML page" in result.error and result.moved_to is None
    assert show_store.get_show(db, result.show_id)["feed_url"] == url


def test_redirect_to_another_scheme_is_refused(local_server, client):
    local_server.route("/feed.xml", redirect("file:///etc/passwd", 301))
    with pytest.raises(FeedFetchError, match="redirected to a URL that is not http"):
        fetch_feed(client, local_server.url("/feed.xml"))


def test_old_address_of_a_known_show_adds_no_second_show(local_server, client, db):
    local_server.route("/feed.xml", itunes_feed().handler)
    local_server.route("/old.xml", redirect("/feed.xml", 301))
    [first] = fetch_feeds(db, client, [local_server.url("/feed.xml")])
    [second] = fetch_feeds(db, client, [local_server.url("/old.xml")])
    assert second.ok and second.show_id == first.show_id and second.unchanged == 3
    assert db["shows"].count == 1 and db["episodes"].count == 3
    found = show_store.find_show_by_url(db, local_server.url("/old.xml"))
    assert found["id"] == first.show_id


def gzipped(body: bytes):
    import gzip

    packed = gzip.compress(body)

    def handler(request):
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("Content-Encoding", "gzip")
        request.send_header("Content-Length", str(len(packed)))
        request.end_headers()
        request.wfile.write(packed)

    return handler


def test_gzip_feed_is_read_and_a_gzip_bomb_is_capped(local_server, client):
    local_server.route("/feed.xml", gzipped((FEEDS / "itunes.xml").read_bytes()))
    response = fetch_feed(client, local_server.url("/feed.xml"))
    assert response.content == (FEEDS / "itunes.xml").read_bytes()
    # 10 MB of zeros packs into ~10 kB: the cap counts what it unpacks to.
    local_server.route("/bomb.xml", gzipped(b"\0" * 10_000_000))
    with pytest.raises(FeedFetchError, match="larger than 1 MB"):
        fetch_feed(client, local_server.url("/bomb.xml"), max_bytes=1024 * 1024)


def test_latin1_feed_is_decoded(local_server, client, db):
    body = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel>'
        "<title>Caf\u00e9 Radio</title><item><title>R\u00e9sum\u00e9s</title><guid>r1</guid>"
        '<enclosure url="https://e.example.com/r.mp3" type="audio/mpeg"/></item></channel></rss>'
    ).encode("latin-1")
    local_server.serve_bytes("/feed.xml", body, "application/rss+xml")
    [result] = fetch_feeds(db, client, [local_server.url("/feed.xml")])
    assert result.ok and result.show_id == "cafe-radio"
    assert [r["title"] for r in db["episodes"].rows] == ["R\u00e9sum\u00e9s"]
