from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest import store
from ingest.cli import cli

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


@pytest.fixture
def feed_server(local_server):
    """The iTunes fixture feed with ETag support; `state["body"]`/`["etag"]` change it."""
    state = {"body": (FEEDS / "itunes.xml").read_bytes(), "etag": '"v1"'}

    def handler(request):
        if request.headers.get("If-None-Match") == state["etag"]:
            request.send_response(304)
            request.send_header("ETag", state["etag"])
            request.end_headers()
            return
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("ETag", state["etag"])
        request.send_header("Content-Length", str(len(state["body"])))
        request.end_headers()
        request.wfile.write(state["body"])

    local_server.route("/feed.xml", handler)
    local_server.state = state
    return local_server


def run(archive, *args):
    return CliRunner().invoke(cli, ["--archive", str(archive), *args])


def test_fetch_stores_show_then_says_not_modified_then_updates_in_place(tmp_path, feed_server):
    archive = tmp_path / "a"
    url = feed_server.url("/feed.xml")
    first = run(archive, "fetch", url)
    assert first.exit_code == 0, first.output
    assert first.stdout == "hiring-matters: 3 new, 0 changed, 0 unchanged\n"
    db = store.open_db(archive / "archive.db")
    assert db["shows"].count == 1 and db["episodes"].count == 3

    second = run(archive, "fetch", url)
    assert second.exit_code == 0 and second.stdout == "hiring-matters: not modified (304)\n"
    assert feed_server.requests[-1].headers["If-None-Match"] == '"v1"'

    state = feed_server.state
    state["body"] = state["body"].replace(b"Grit, and too much", b"Grit, and far too much")
    state["etag"] = '"v2"'
    third = run(archive, "fetch")  # no URL: every known show
    assert third.exit_code == 0
    assert third.stdout == "hiring-matters: 0 new, 1 changed, 2 unchanged\n"
    titles = {r["title"] for r in db["episodes"].rows}
    assert "Grit, and far too much of it" in titles and db["episodes"].count == 3
    assert db["episode_changes"].count == 1


def test_failed_feed_exits_1_and_the_others_are_still_stored(tmp_path, feed_server):
    archive = tmp_path / "a"
    missing = feed_server.url("/missing.xml")
    result = run(archive, "fetch", missing, feed_server.url("/feed.xml"))
    assert result.exit_code == 1
    assert f"error: {missing}: HTTP 404 Not Found" in result.stderr
    assert "hiring-matters: 3 new" in result.stdout
    assert store.open_db(archive / "archive.db")["episodes"].count == 3


def test_fetch_error_shows_in_the_listing(tmp_path, feed_server):
    archive = tmp_path / "a"
    url = feed_server.url("/feed.xml")
    run(archive, "fetch", url)
    listing = run(archive, "shows")
    assert listing.exit_code == 0
    assert listing.stdout == f"hiring-matters\t3 episodes\tHiring Matters\t{url}\tok\n"

    feed_server.state["body"] = (FEEDS / "html_page.html").read_bytes()
    feed_server.state["etag"] = '"html"'
    failed = run(archive, "fetch")
    assert failed.exit_code == 1
    assert "error: hiring-matters: " in failed.stderr and "is an HTML page" in failed.stderr
    listing = run(archive, "shows")
    assert "3 episodes" in listing.stdout and "\tfetch failed: " in listing.stdout


def test_item_warnings_go_to_stderr_and_fail_only_with_strict(tmp_path, local_server):
    local_server.serve_bytes("/p.xml", (FEEDS / "problems.xml").read_bytes())
    url = local_server.url("/p.xml")
    result = run(tmp_path / "a", "fetch", url)
    assert result.exit_code == 0
    assert "problem-child: 4 new" in result.stdout
    assert f"warning: {url}: item 3 'No audio here' has no enclosure" in result.stderr
    strict = run(tmp_path / "b", "fetch", "--strict", url)
    assert strict.exit_code == 1


def test_moved_feed_is_reported(tmp_path, feed_server):
    def moved(request):
        request.send_response(301)
        request.send_header("Location", "/feed.xml")
        request.send_header("Content-Length", "0")
        request.end_headers()

    feed_server.route("/old.xml", moved)
    result = run(tmp_path / "a", "fetch", feed_server.url("/old.xml"))
    assert result.exit_code == 0
    assert f"hiring-matters: feed moved to {feed_server.url('/feed.xml')} (stored)" in result.stdout


def test_fetch_with_nothing_to_do(tmp_path):
    result = run(tmp_path / "a", "fetch")
    assert result.exit_code == 0 and "No shows in the archive yet" in result.stderr


def test_not_http_is_refused(tmp_path):
    result = run(tmp_path / "a", "fetch", "/etc/passwd")
    assert result.exit_code == 1
    assert "only http(s) URLs are fetched" in result.stderr


def test_fetch_help_has_an_example():
    result = CliRunner().invoke(cli, ["fetch", "--help"])
    assert result.exit_code == 0 and "podarchive fetch https://" in result.output


def test_sample_show_is_archived(tmp_path, sample_show):
    archive = tmp_path / "a"
    result = run(archive, "fetch", sample_show.feed_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("talk-talent-to-me: ")
    assert result.stderr == ""
    listing = run(archive, "episodes", "--show", "talk-talent-to-me")
    lines = listing.stdout.splitlines()
    assert len(lines) >= 4
    assert any("One Medical" in line for line in lines)
    db = store.open_db(archive / "archive.db")
    people = {r["name"] for r in db["people"].rows}
    assert {"Rob Stevenson", "Viet Nguyen"} <= people
    assert db["episode_transcript_links"].count >= 1
    again = run(archive, "fetch")
    assert again.stdout == "talk-talent-to-me: not modified (304)\n"


def test_fetch_adds_the_shows_listed_in_the_config_file(tmp_path, feed_server):
    archive = tmp_path / "a"
    archive.mkdir()
    url = feed_server.url("/feed.xml")
    (archive / "podarchive.toml").write_text(f'shows = ["{url}"]\n')
    first = run(archive, "fetch")
    assert (
        first.exit_code == 0 and first.stdout == "hiring-matters: 3 new, 0 changed, 0 unchanged\n"
    )
    again = run(archive, "fetch")  # known now: refreshed once, conditionally
    assert again.stdout == "hiring-matters: not modified (304)\n"


def test_fetch_waits_for_no_one_when_the_archive_is_busy(tmp_path, feed_server):
    from ingest.archive import archive_lock

    archive = tmp_path / "a"
    with archive_lock(archive):
        result = run(archive, "fetch", feed_server.url("/feed.xml"))
    assert result.exit_code == 1 and "another podarchive run" in result.stderr
    assert feed_server.requests == []


def test_episodes_listing_marks_episodes_gone_from_the_feed(tmp_path, feed_server):
    archive = tmp_path / "a"
    run(archive, "fetch", feed_server.url("/feed.xml"))
    state = feed_server.state
    start = state["body"].index(b"<item>\n      <title>Trailer")
    state["body"] = (
        state["body"][:start] + state["body"][state["body"].index(b"</item>", start) + 7 :]
    )
    state["etag"] = '"v2"'
    fetched = run(archive, "fetch")
    assert fetched.stdout == (
        "hiring-matters: 0 new, 0 changed, 2 unchanged, 1 no longer in the feed\n"
    )
    lines = run(archive, "episodes").stdout.splitlines()
    assert [line.endswith("\t(no longer in the feed)") for line in lines] == [False, False, True]
    assert lines[2].split("\t")[4] == "Trailer"
