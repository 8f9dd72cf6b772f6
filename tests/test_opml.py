"""OPML: a real-world-shaped export imported (folders, duplicates, broken entries reported per
line, all or nothing), exported again, and the site's shows.opml."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.feeds.opml import OpmlError, feed_key, read_opml
from ingest.store import shows as show_store

EXPORT = Path(__file__).parent / "fixtures" / "opml" / "subscriptions.opml"
VALID = {
    "https://feeds.example.com/talk-talent-to-me.xml",
    "https://feeds.example.org/recruiting-future/",
    "http://podcasts.example.net/hiring.rss",
    "https://changelog.example.com/podcast/feed",
    "http://unfiled.example.com/rss?format=xml&id=7",
}


def _line_of(text: str) -> int:
    return next(n for n, line in enumerate(EXPORT.read_text().splitlines(), 1) if text in line)


def test_reading_an_export_finds_every_feed_once_and_reports_each_bad_entry():
    found = read_opml(EXPORT.read_bytes(), "subs.opml")
    assert {f.url for f in found.feeds} == VALID
    ttm = next(f for f in found.feeds if "talk-talent" in f.url)
    assert ttm.title == "Talk Talent To Me" and ttm.folders == ("Recruiting", "Weekly")
    assert next(f for f in found.feeds if "unfiled" in f.url).folders == ()
    assert sorted(found.problems) == sorted(
        [
            f"subs.opml:{_line_of('Broken export')}: 'Broken export': "
            "\"javascript:alert('opml')\" is not an http(s) feed URL; skipped",
            f"subs.opml:{_line_of('A local file')}: 'A local file': "
            "'file:///etc/passwd' is not an http(s) feed URL; skipped",
            f"subs.opml:{_line_of('(again)')}: 'Recruiting Future (again)': "
            f"the same feed as line {_line_of('recruiting-future/')}; kept once",
            f"subs.opml:{_line_of('No address')}: 'No address': "
            "an rss outline without an xmlUrl; skipped",
        ]
    )


def test_import_then_export_keeps_every_valid_feed_once(archive_dir, tmp_path):
    runner = CliRunner()
    imported = runner.invoke(cli, ["import-opml", str(EXPORT)])
    assert imported.exit_code == 1  # some entries were skipped: said, and the rest added
    assert "5 shows added, 0 already in the archive, 4 entries skipped" in imported.output
    assert imported.output.count("warning: ") == 4
    again = runner.invoke(cli, ["import-opml", str(EXPORT)])
    assert "0 shows added, 5 already in the archive" in again.output

    out = tmp_path / "exported.opml"
    exported = runner.invoke(cli, ["export-opml", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    round_trip = read_opml(out.read_bytes(), "exported.opml")
    assert round_trip.problems == []
    assert sorted(feed_key(f.url) for f in round_trip.feeds) == sorted(feed_key(u) for u in VALID)
    titles = {f.title for f in round_trip.feeds}
    assert {"Talk Talent To Me", "Hiring & Firing", "Unfiled show"} <= titles
    stdout = runner.invoke(cli, ["export-opml"])
    assert stdout.output.encode() == out.read_bytes()


def test_an_import_that_fails_midway_adds_nothing(archive, monkeypatch):
    real = show_store.add_show
    calls = []

    def flaky(db, url, title="", title_source="feed"):
        calls.append(url)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(db, url, title, title_source)

    monkeypatch.setattr(show_store, "add_show", flaky)
    result = CliRunner().invoke(cli, ["import-opml", str(EXPORT)])
    assert result.exit_code != 0 and len(calls) == 3
    assert show_store.list_shows(archive.open_db()) == []


@pytest.mark.parametrize(
    "body, said",
    [
        (b"<html><body>not a list</body></html>", "not OPML (its root element is 'html')"),
        (b"<opml><body><outline", "not well-formed XML (line 1"),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x "boom">]><opml>&x;</opml>',
            "DTDs and entities are refused",
        ),
    ],
)
def test_a_file_that_is_not_opml_is_one_clear_error_and_adds_nothing(body, said, archive, tmp_path):
    path = tmp_path / "bad.opml"
    path.write_bytes(body)
    with pytest.raises(OpmlError, match=str(path).replace(".", r"\.")):
        read_opml(body, str(path))
    result = CliRunner().invoke(cli, ["import-opml", str(path)])
    assert result.exit_code != 0 and said in result.output and str(path) in result.output
    assert show_store.list_shows(archive.open_db()) == []
