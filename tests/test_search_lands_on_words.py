"""Every search hit lands on the words: site search in Chromium, Datasette and the command line
link to the first matched word (at most 2 s before it) and agree; the episode page marks the
words and plays.

The One Medical sample episode is transcribed here by real Whisper (tiny.en, word timestamps):
its words' times are the truth the links are held to, and each phrase's time must also lie in
the span the sample's generator timed its line at (ingest/sample/timings.json), which Whisper
did not produce.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from ingest.archive import Archive
from ingest.cli import cli
from ingest.datasette.query import search_archive
from ingest.sample import load_sample
from ingest.sitegen import step as sitegen
from ingest.sitegen.server import StaticServer
from ingest.store import transcripts as transcript_store
from ingest.transcribe import TranscribeOptions, get_transcriber
from ingest.transcribe.files import write_transcript
from tests.browser import screenshot, wait_for_search
from tests.site_archive import build_sample_archive

pytestmark = [pytest.mark.browser, pytest.mark.asr, pytest.mark.slow]

ONE_MEDICAL = "ttm-sample-0003"
PHRASES = ("reverse interview", "stressful week", "highest score")
TIMEOUT_MS = 15_000


def _normal(word: str) -> str:
    return "".join(c for c in word.lower() if c.isalnum())


def phrase_start(transcript, phrase: str) -> float:
    """When Whisper heard the first word of `phrase` (its words in a row)."""
    words = [w for s in transcript.segments for w in s.words]
    wanted = phrase.split()
    for i in range(len(words) - len(wanted) + 1):
        if [_normal(w.word) for w in words[i : i + len(wanted)]] == wanted:
            return words[i].start
    raise AssertionError(f"Whisper did not hear {phrase!r}")


@pytest.fixture(scope="module")
def archived(tmp_path_factory):
    """The sample show built into a site, One Medical's transcript from Whisper with words."""
    archive = Archive.at(tmp_path_factory.mktemp("words-archive"))
    episodes = build_sample_archive(archive)
    row = episodes[ONE_MEDICAL]
    sample = next(e for e in load_sample().episodes if e.guid == ONE_MEDICAL)
    engine = get_transcriber("faster-whisper", TranscribeOptions())
    transcript = engine.transcribe(sample.audio_path)
    db = archive.open_db()
    transcript_store.save_transcript(db, row["id"], transcript)
    write_transcript(archive.transcripts_dir, row["show_id"], row["id"], transcript)
    # Whisper's words spell its lines: every line keeps their times (none timed by characters).
    untimed = db.execute(
        "SELECT count(*) FROM segments WHERE episode_id = ? AND words IS NULL", [row["id"]]
    ).fetchone()[0]
    assert untimed == 0
    report = sitegen.build_site(db, archive, "/")
    assert report.indexed and report.errors == []
    truth = {phrase: phrase_start(transcript, phrase) for phrase in PHRASES}
    server = StaticServer(archive.site_dir, base_path="/").start()
    yield {"archive": archive, "url": server.url(), "row": row, "truth": truth, "sample": sample}
    server.stop()


def test_whisper_times_the_phrases_inside_their_spoken_lines(archived):
    """The truth itself, checked against the generator's own timing of each line."""
    script = archived["sample"].script
    for phrase, said in archived["truth"].items():
        line = next(line for line in script if phrase in line.text.lower())
        assert line.start - 1 <= said <= line.end, (phrase, said, line.start, line.end)


def test_datasette_and_the_command_line_agree_with_the_site(archived):
    """(Before the browser starts: Playwright's sync API keeps an event loop running.)"""
    archive = archived["archive"]
    for phrase in PHRASES:
        said = archived["truth"][phrase]
        for query in (phrase, f'"{phrase}"'):
            hits = search_archive(archive, query, site_url="/")
            best = next(h for h in hits if "One Medical" in h.episode)
            assert said - 2 <= best.seconds <= said, (query, best.seconds, said)
            assert best.page.endswith(f"#t={best.seconds}")
        result = CliRunner().invoke(cli, ["--archive", str(archive.root), "search", phrase])
        assert result.exit_code == 0, result.output
        assert f"#t={search_archive(archive, phrase, site_url='/')[0].seconds}" in result.output


def test_site_search_hits_play_just_before_the_words(archived, browser):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    for phrase in PHRASES:
        said = archived["truth"][phrase]
        page.goto(archived["url"] + "search/?q=" + phrase.replace(" ", "+"))
        wait_for_search(page)
        card = page.locator("#search-results > li").first
        assert "One Medical" in card.locator("h3").inner_text(), phrase
        hit = card.locator(".sub-result").first
        # The snippet is the transcript's words, the matched ones marked.
        marked = [_normal(m) for m in hit.locator("mark").all_inner_texts()]
        assert set(phrase.split()) <= set(marked), (phrase, marked)
        assert "Show notes" not in hit.inner_text() and "Guest:" not in hit.inner_text()
        jump = hit.locator("a.jump")
        href = jump.get_attribute("href")
        second = int(href.rsplit("#t=", 1)[1])
        assert said - 2 <= second <= said, (phrase, second, said)
        if phrase == PHRASES[0]:
            screenshot(page, "search-sub-results-desktop")
        jump.click()
        page.wait_for_function("() => !document.getElementById('player').paused")
        at = page.evaluate("() => document.getElementById('player').currentTime")
        assert said - 2 <= at <= said + 0.5, (phrase, at, said)
        # The episode page marks the words the search matched.
        words = {_normal(m) for m in page.locator(".passage mark.hit").all_inner_texts()}
        assert set(phrase.split()) <= words, (phrase, words)
        assert parse_qs(urlsplit(href).query)["q"] == [phrase]
    screenshot(page, "episode-search-words-desktop")
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.goto(archived["url"] + "search/?q=stressful+week")
    wait_for_search(phone)
    screenshot(phone, "search-sub-results-phone")
    assert errors == []
