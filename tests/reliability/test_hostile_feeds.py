"""Hostile and broken feeds: each gives a clear error or a safe result, and loses nothing stored.

What "127.0.0.1 tricks" means here. We fetch only http(s) URLs that have a host; we do not
block loopback or private addresses, because the archive's owner chooses the feeds (a show on
the LAN is legitimate) and these tests themselves serve on 127.0.0.1. So a decimal or hex
spelling of 127.0.0.1 simply is 127.0.0.1. What we do guarantee: a URL reaches the host a
standard URL parser names (`http://127.0.0.1@evil.invalid/` goes to evil.invalid: the part
before `@` is userinfo, not a host), malformed hosts (octal `0177.0.0.1`) are refused with a
clear error, and whatever an address serves must be audio to be kept, so an internal service's
page or JSON never lands in the archive. (`http://evil.invalid\\@127.0.0.1/` reaches 127.0.0.1
through httpx, where a browser would go to evil.invalid; with no host allow-list to fool, that
difference decides nothing here.)
"""

from __future__ import annotations

import contextlib

import pytest

from ingest.audio import download
from ingest.audio.step import download_episodes
from ingest.feeds.fetch import MAX_FEED_BYTES
from ingest.feeds.step import fetch_feeds
from ingest.net import make_client
from ingest.store import shows as show_store
from tests.reliability.conftest import (
    FEED_PATH,
    RSS_TYPE,
    Feed,
    Item,
    Swappable,
    database_text,
    integrity,
    rows,
    unsafe_paths,
    vtt,
)
from tests.server import AudioFile, status


@pytest.fixture
def client():
    with make_client(timeout=5.0) as http:
        yield http


def good_feed(server) -> Feed:
    return Feed(
        items=[
            Item(guid=f"ep-{n}", title=f"Episode {n}", enclosure=server.url(f"/{n}.mp3"))
            for n in (1, 2, 3)
        ]
    )


def snapshot(db) -> list[tuple]:
    return [
        (e["id"], e["guid"], e["title"], e["enclosure_url"], e["description_text"])
        for e in show_store.list_episodes(db)
    ]


@pytest.fixture
def stored(local_server, db, client):
    """A show already archived from a good feed; its route can then be made hostile."""
    route = Swappable(status(200, good_feed(local_server).bytes(), RSS_TYPE))
    local_server.route(FEED_PATH, route)
    [result] = fetch_feeds(db, client, [local_server.url(FEED_PATH)])
    assert result.ok and result.added == 3
    return route, snapshot(db)


def refetch(db, client, server):
    [result] = fetch_feeds(db, client, [server.url(FEED_PATH)])
    return result


def stream(prefix: bytes, item: bytes, total: int | None, content_type: str = RSS_TYPE):
    """A handler generating a feed on the fly: `prefix`, then `item` repeated up to `total`
    bytes (None: forever, until the client hangs up). Nothing is held in memory or on disk."""

    def handler(request) -> None:
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Connection", "close")  # no length: the body ends when we stop
        request.end_headers()
        request.close_connection = True
        sent = 0
        try:
            request.wfile.write(prefix)
            sent += len(prefix)
            block = item * 64
            while total is None or sent < total:
                request.wfile.write(block)
                sent += len(block)
            request.wfile.write(b"</channel></rss>")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: the point of the test

    return handler


FEED_HEAD = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Huge</title>'
BIG_ITEM = (
    b"<item><title>filler</title><guid>x</guid><description>"
    + b"x" * 900
    + b"</description></item>"
)


JUNK = {
    "not XML": (b"{'this': 'is json, not a feed'}", "text/plain"),
    "empty body": (b"", RSS_TYPE),
    "HTML page": (
        b"<!DOCTYPE html><html><head><title>Moved</title></head><body><p>Our podcast has "
        b"moved!</p></body></html>",
        "text/html; charset=utf-8",
    ),
    "truncated XML": (None, RSS_TYPE),  # the good feed cut in the middle of an item
    "binary garbage": (bytes(range(256)) * 40, "application/octet-stream"),
}


@pytest.mark.parametrize("kind", list(JUNK))
def test_junk_from_a_known_feed_loses_nothing(kind, stored, local_server, db, client, observe):
    """A known show whose feed turns into junk: the fetch fails (or warns) naming the feed URL;
    every stored episode stays exactly as it was."""
    route, before = stored
    body, content_type = JUNK[kind]
    if body is None:
        whole = good_feed(local_server).bytes()
        body = whole[: whole.index(b"<item>", whole.index(b"Episode 2")) + 40]
    route.handler = status(200, body, content_type)
    result = refetch(db, client, local_server)
    message = result.error or "; ".join(result.warnings)
    assert message and FEED_PATH in message
    assert snapshot(db) == before
    observe(f"error: {message[:160]}; {len(before)} episodes kept unchanged")


@pytest.mark.parametrize("kind", ["not XML", "HTML page", "empty body"])
def test_junk_at_a_new_url_adds_no_show(kind, local_server, db, client, observe):
    """A new feed URL answering junk: a clear error naming the URL, no empty show added."""
    body, content_type = JUNK[kind]
    local_server.route(FEED_PATH, status(200, body, content_type))
    result = refetch(db, client, local_server)
    assert not result.ok and FEED_PATH in result.error
    assert show_store.list_shows(db) == []
    observe(f"error: {result.error[:160]}; no show added")


def test_feed_over_50_mb_is_refused_while_streaming(stored, local_server, db, client, observe):
    """A feed larger than the cap (generated as it is sent, no Content-Length): reading stops at
    the cap with an error naming the size; the stored episodes stay."""
    route, before = stored
    route.handler = stream(FEED_HEAD, BIG_ITEM, MAX_FEED_BYTES + 1024 * 1024)
    result = refetch(db, client, local_server)
    assert not result.ok and "larger than 50 MB" in result.error
    assert snapshot(db) == before
    observe(f"error: {result.error}")


def test_feed_declaring_a_huge_length_is_refused_unread(stored, local_server, db, client, observe):
    """A feed whose Content-Length says 60 MB is refused before its body is read."""
    route, before = stored

    def huge(request):
        request.send_response(200)
        request.send_header("Content-Type", RSS_TYPE)
        request.send_header("Content-Length", str(60 * 1024 * 1024))
        request.end_headers()
        request.close_connection = True
        with contextlib.suppress(OSError):
            request.wfile.write(FEED_HEAD)

    route.handler = huge
    result = refetch(db, client, local_server)
    assert not result.ok and "larger than 50 MB" in result.error
    assert snapshot(db) == before
    observe(f"error: {result.error}")


def test_endless_feed_is_cut_off_by_the_size_cap(local_server, db, client, observe):
    """A feed that never ends (streamed forever): the size cap stops the read with a clear
    error; no show is added and the server sees the client hang up."""
    local_server.route(FEED_PATH, stream(FEED_HEAD, BIG_ITEM, None))
    result = refetch(db, client, local_server)
    assert not result.ok and "larger than 50 MB" in result.error
    assert show_store.list_shows(db) == []
    observe(f"error: {result.error}")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>Laughs &lol9;</title>
<item><title>Laugh &lol9;</title><guid>laugh-1</guid><description>&lol9;</description>
<enclosure url="http://127.0.0.1:9/laugh.mp3" type="audio/mpeg" length="1"/></item>
</channel></rss>
"""


def test_billion_laughs_is_not_expanded(local_server, db, client, archive, observe):
    """Entity expansion ("billion laughs"): entities are not expanded; whatever is stored is
    small, the run finishes, and the refusal is reported."""
    local_server.route(FEED_PATH, status(200, BILLION_LAUGHS.encode(), RSS_TYPE))
    result = refetch(db, client, local_server)
    longest = max(
        (
            len(e["title"] or "") + len(e["description_text"] or "")
            for e in show_store.list_episodes(db)
        ),
        default=0,
    )
    assert longest < 1000
    assert "lollollol" not in database_text(archive.db_path)
    said = result.error or "; ".join(result.warnings)
    assert said
    observe(f"ok={result.ok}; largest stored text {longest} chars; said: {said[:140]}")


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-7f3a9c")
    return path


@pytest.mark.parametrize("form", ["general entity", "parameter entity", "network entity"])
def test_external_entities_never_read_local_files(
    form, secret, local_server, db, client, archive, observe
):
    """External entities (file:// or http:// SYSTEM ids, general or parameter): no file is read
    and no request is made; the secret appears nowhere in the database."""
    local_server.serve_bytes("/evil.dtd", f'<!ENTITY leak SYSTEM "file://{secret}">'.encode())
    declarations = {
        "general entity": f'<!ENTITY xxe SYSTEM "file://{secret}">',
        "parameter entity": f'<!ENTITY % dtd SYSTEM "{local_server.url("/evil.dtd")}"> %dtd;'
        f'<!ENTITY xxe SYSTEM "file://{secret}">',
        "network entity": f'<!ENTITY xxe SYSTEM "{local_server.url("/evil.dtd")}">',
    }[form]
    document = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [ {declarations} ]>\n'
        '<rss version="2.0"><channel><title>XXE &xxe;</title>'
        "<item><title>Leak &xxe;</title><guid>xxe-1</guid><description>&xxe;</description>"
        f'<enclosure url="{local_server.url("/x.mp3")}" type="audio/mpeg" length="1"/>'
        "</item></channel></rss>"
    )
    local_server.route(FEED_PATH, status(200, document.encode(), RSS_TYPE))
    result = refetch(db, client, local_server)
    assert "TOP-SECRET" not in database_text(archive.db_path)
    assert local_server.requests_to("/evil.dtd") == []
    said = result.error or "; ".join(result.warnings)
    observe(f"ok={result.ok}; secret not stored; DTD never requested; said: {said[:120]}")


ENCODINGS = {
    "latin-1 bytes declared utf-8": (
        '<?xml version="1.0" encoding="utf-8"?>',
        "latin-1",
        RSS_TYPE,
    ),
    "utf-8 bytes declared latin-1 by the header": (
        '<?xml version="1.0"?>',
        "utf-8",
        "application/rss+xml; charset=iso-8859-1",
    ),
    "no declaration, utf-16 with BOM": ('<?xml version="1.0"?>', "utf-16", "application/rss+xml"),
    "unknown encoding name": ('<?xml version="1.0" encoding="x-klingon"?>', "utf-8", RSS_TYPE),
    "windows-1252 declared": (
        '<?xml version="1.0" encoding="windows-1252"?>',
        "windows-1252",
        "text/xml",
    ),
}


@pytest.mark.parametrize("kind", list(ENCODINGS))
def test_wrong_or_missing_encodings_still_store_the_episodes(
    kind, local_server, db, client, observe
):
    """Wrong, missing or unknown encodings: the episodes are stored (accents perhaps replaced,
    never a crash), identified by their guids."""
    prolog, codec, content_type = ENCODINGS[kind]
    feed = Feed(
        prolog=prolog + "\n",
        items=[
            Item(guid="enc-1", title="Café résumé", enclosure=local_server.url("/1.mp3")),
            Item(guid="enc-2", title="Plain title", enclosure=local_server.url("/2.mp3")),
        ],
    )
    local_server.route(FEED_PATH, status(200, feed.xml().encode(codec), content_type))
    result = refetch(db, client, local_server)
    episodes = {e["guid"]: e for e in show_store.list_episodes(db)}
    assert set(episodes) == {"enc-1", "enc-2"}, result.error
    assert episodes["enc-2"]["title"] == "Plain title"
    assert episodes["enc-1"]["title"].startswith("Caf")
    observe(
        f"stored 2 episodes; title read as {episodes['enc-1']['title']!r}; error={result.error}"
    )


def test_duplicate_guids_store_one_episode(local_server, db, client, observe):
    """Two items with one guid: one episode is stored (the first), fetching again adds none."""
    feed = Feed(
        items=[
            Item(guid="dup", title="First copy", enclosure=local_server.url("/1.mp3")),
            Item(guid="dup", title="Second copy", enclosure=local_server.url("/2.mp3")),
            Item(guid="other", title="Other", enclosure=local_server.url("/3.mp3")),
        ]
    )
    local_server.route(FEED_PATH, status(200, feed.bytes(), RSS_TYPE))
    refetch(db, client, local_server)
    again = refetch(db, client, local_server)
    episodes = show_store.list_episodes(db)
    assert sorted(e["guid"] for e in episodes) == ["dup", "other"]
    assert again.added == 0
    kept = next(e["title"] for e in episodes if e["guid"] == "dup")
    observe(f"2 episodes stored (dup kept as {kept!r}); second fetch added {again.added}")


def test_items_without_enclosures_are_kept_and_skipped_by_downloads(
    local_server, db, client, archive, observe
):
    """Items without an enclosure are stored with a warning naming them; the download step
    skips them without failing."""
    feed = Feed(items=[Item(guid="no-audio", title="Text only post"), Item(guid="none-2")])
    local_server.route(FEED_PATH, status(200, feed.bytes(), RSS_TYPE))
    result = refetch(db, client, local_server)
    assert any("Text only post" in w and "no enclosure" in w for w in result.warnings)
    assert len(show_store.list_episodes(db)) == 2
    with make_client() as http:
        step = download_episodes(db, archive, http)
    assert step.failed == [] and step.downloaded == 0
    observe(f"2 stored, warning: {result.warnings[0][:100]}; downloads: none tried, none failed")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "ftp://127.0.0.1/ep.mp3",
        "data:audio/mpeg;base64,SUQzBAAAAAAAI1RTU0U=",
        "javascript:alert(1)",
        "gopher://127.0.0.1:70/_GET",
        "//127.0.0.1/scheme-relative.mp3",
    ],
)
def test_enclosures_that_are_not_http_are_never_fetched(
    url, secret, local_server, db, client, archive, observe
):
    """Enclosures with file://, ftp://, data:, javascript: and other schemes are dropped with a
    warning naming the item; nothing is fetched and no audio is written."""
    target = url.replace("/etc/passwd", str(secret))
    feed = Feed(items=[Item(guid="bad-scheme", title="Scheme trick", enclosure=target)])
    local_server.route(FEED_PATH, status(200, feed.bytes(), RSS_TYPE))
    result = refetch(db, client, local_server)
    [episode] = show_store.list_episodes(db)
    stored = episode["enclosure_url"] or ""
    assert stored.startswith(("http://", "https://")) or not stored
    with make_client() as http:  # one attempt: retrying port 80 is not what this tests
        download_episodes(db, archive, http, retry=download.RetryPolicy(attempts=1))
    assert "TOP-SECRET" not in database_text(archive.db_path)
    assert not list(archive.audio_dir.rglob("*")) or all(
        b"TOP-SECRET" not in p.read_bytes() for p in archive.audio_dir.rglob("*") if p.is_file()
    )
    observe(f"stored enclosure {stored or None!r}; warning: {'; '.join(result.warnings)[:110]}")


@pytest.mark.parametrize("url", ["file:///SECRET", "ftp://127.0.0.1/ep.mp3", "data:,hi"])
def test_download_step_refuses_non_http_urls_already_in_the_database(
    url, secret, db, archive, local_server, client, observe
):
    """Defence in depth: an enclosure URL that reached the database with another scheme (an
    older version, a hand edit) is refused by the download step with a clear error."""
    feed = Feed(items=[Item(guid="later", enclosure=local_server.url("/a.mp3"))])
    local_server.route(FEED_PATH, status(200, feed.bytes(), RSS_TYPE))
    refetch(db, client, local_server)
    target = url.replace("/SECRET", str(secret))
    with db.conn:
        db.execute("UPDATE episodes SET enclosure_url = ?", [target])
    with make_client() as http:
        step = download_episodes(db, archive, http)
    [(_, message)] = step.failed
    assert "only http and https" in message
    assert "TOP-SECRET" not in database_text(archive.db_path)
    observe(f"refused: {message}")


def test_loopback_tricks(secret, local_server, db, client, archive, clips, observe):
    """127.0.0.1 tricks: userinfo (`127.0.0.1@evil.invalid`) reaches evil.invalid, not us;
    octal is refused as invalid; decimal and hex spellings reach loopback, where a JSON
    "admin" answer is refused as not audio. No secret is stored, no file written but audio."""
    port = local_server.port
    local_server.serve_bytes("/admin.json", b'{"token": "TOP-SECRET-7f3a9c"}', "application/json")
    local_server.route("/ep.mp3", AudioFile(clips["short"]))
    urls = {
        "userinfo": f"http://127.0.0.1:{port}@evil.invalid/ep.mp3",
        "backslash": f"http://evil.invalid\\@127.0.0.1:{port}/ep.mp3",
        "octal": f"http://0177.0.0.1:{port}/ep.mp3",
        "decimal": f"http://2130706433:{port}/admin.json",
        "hex": f"http://0x7f.0.0.1:{port}/admin.json",
        "short": f"http://127.1:{port}/ep.mp3",
    }
    feed = Feed(items=[Item(guid=name, title=name, enclosure=url) for name, url in urls.items()])
    local_server.route(FEED_PATH, status(200, feed.bytes(), RSS_TYPE))
    refetch(db, client, local_server)
    with make_client() as http:
        step = download_episodes(
            db, archive, http, retry=download.RetryPolicy(attempts=1, base_delay=0.01)
        )
    by_guid = {e["guid"]: e for e in show_store.list_episodes(db)}
    failed = {by_guid_id: message for by_guid_id, message in step.failed}
    outcome = {}
    for name, episode in by_guid.items():
        outcome[name] = "audio" if episode["audio_path"] else failed.get(episode["id"], "skipped")
    assert "evil.invalid" in outcome["userinfo"]
    # Every request that reached us came from a download that succeeded: none from userinfo.
    assert len(local_server.requests_to("/ep.mp3")) == sum(o == "audio" for o in outcome.values())
    assert outcome["short"] == "audio"  # 127.1 is loopback, which we do not block
    assert "not audio" in outcome["decimal"] and "not audio" in outcome["hex"]
    assert outcome["octal"] != "audio"
    assert "TOP-SECRET" not in database_text(archive.db_path)
    assert all(p.suffix == ".mp3" for p in archive.audio_dir.rglob("*") if p.is_file())
    observe("; ".join(f"{name}: {str(why)[:60]}" for name, why in outcome.items()))


ESCAPES = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\windows\\system32",
    "x" * 5000,
    "./././../../../../tmp/evil",
    "%2e%2e%2f%2e%2e%2fetc",
    "CON",
    ".",
    "~/.ssh/id_rsa",
    "name\twith\ncontrol characters",
]
# XML 1.0 forbids NUL even as a character reference: the lenient parser may still read it.
NUL_ITEMS = ["a&#0;b", "nul-in-title"]


def test_guids_and_titles_built_to_escape_the_folder(
    local_server, tmp_path, archive, clips, observe
):
    """Guids and titles like `../../etc/passwd`, absolute paths, NUL bytes and 5,000-char names,
    through the whole run (fetch, download, publisher transcript, tags, site): every file is
    written inside the archive under a safe generated name; nothing appears beside it."""
    from click.testing import CliRunner

    from ingest.cli import cli

    local_server.route("/ep.mp3", AudioFile(clips["short"]))
    local_server.serve_bytes("/t.vtt", vtt("Hello there.", "Welcome back."), "text/vtt")

    def item(name: str, raw: bool = False) -> Item:
        return Item(
            guid=name,
            title=name if not raw else f"NUL &#0; {name}",
            enclosure=local_server.url("/ep.mp3"),
            transcript=local_server.url("/t.vtt"),
            raw=raw,
        )

    feed = Feed(title="../../../tmp/show", items=[item(name) for name in ESCAPES])
    nul_feed = Feed(title="/etc/nul&#0;show", items=[item(name, raw=True) for name in NUL_ITEMS])
    local_server.route(FEED_PATH, status(200, feed.bytes(), RSS_TYPE))
    local_server.route("/nul.xml", status(200, nul_feed.bytes(), RSS_TYPE))
    archive.ensure()
    outside_before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(
        cli,
        ["--archive", str(archive.root), "run", local_server.url(FEED_PATH)]
        + [local_server.url("/nul.xml")],
    )
    assert result.exit_code in (0, 1), result.output
    assert unsafe_paths(archive.root) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == outside_before
    episodes = rows(archive.db_path, "SELECT guid, audio_path, transcript_status FROM episodes")
    assert {e["guid"] for e in episodes} >= set(ESCAPES)
    assert all(e["audio_path"] and e["transcript_status"] == "done" for e in episodes)
    assert integrity(archive.db_path) == "ok"
    longest = max(len(p.name) for p in archive.root.rglob("*"))
    nul = [line for line in result.output.splitlines() if "nul.xml" in line][:1]
    observe(
        f"exit {result.exit_code}; {len(episodes)} episodes archived; every name safe"
        f" (longest {longest} chars); nothing written outside the archive; NUL feed: "
        + (nul[0][:100] if nul else "read")
    )


def test_truncated_refetch_during_a_download_keeps_audio(local_server, db, client, archive, clips):
    """A feed cut short after audio was archived: the episode rows and their audio stay."""
    local_server.route("/1.mp3", AudioFile(clips["short"]))
    feed = Feed(items=[Item(guid="keep", title="Keep me", enclosure=local_server.url("/1.mp3"))])
    route = Swappable(status(200, feed.bytes(), RSS_TYPE))
    local_server.route(FEED_PATH, route)
    refetch(db, client, local_server)
    with make_client() as http:
        assert download_episodes(db, archive, http).downloaded == 1
    before = rows(archive.db_path, "SELECT id, audio_path, audio_sha256 FROM episodes")
    route.handler = status(200, feed.bytes()[:120], RSS_TYPE)
    result = refetch(db, client, local_server)
    assert not result.ok
    assert rows(archive.db_path, "SELECT id, audio_path, audio_sha256 FROM episodes") == before
