"""Search by meaning on the static site: the static model (ingest.embed.static) in Python and
in the page's semantic.js, the shards the build writes (ingest.sitegen.semantic), and the search
page in Chromium fusing Pagefind's words with the meaning."""

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest

from ingest.archive import Archive
from ingest.embed import VOCAB, static
from ingest.sitegen import step as sitegen
from ingest.sitegen.render import templates_dir
from tests.site_archive import build_sample_archive

SEMANTIC_JS = templates_dir() / "static" / "semantic.js"
BASE_PATH = "/ttm/"
# Written for these tests: what the tokenizer must agree on (accents, punctuation, CJK,
# contractions, control and zero-width characters, a word too long for WordPiece).
TEXTS = [
    "The candidate asked us questions in a reverse interview.",
    "Café résumé naïve: “smart quotes” & <tags>, 東京 and ﬁ ligatures.",
    "don't U.S.A. 3.5% #hashtag e-mail — dash… ellipsis",
    "İstanbul ǅ straße ÀÉÎÕÜ",
    "zero\u200bwidth\u00a0no-break\ttab\nnewline",
    "x" * 120 + " long",
    "Referrals from staff are where the majority of our candidates come from.",
    "",
]
NODE_EMBED = """
const fs = require("fs");
const semantic = require(process.argv[2]);
const file = fs.readFileSync(process.argv[4]);
const model = new semantic.Model(fs.readFileSync(process.argv[3], "utf8"),
  file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength));
const texts = JSON.parse(fs.readFileSync(0, "utf8"));
const out = texts.map(t => ({ ids: model.tokenIds(t), vector: Array.from(model.embed(t)) }));
console.log(JSON.stringify(out));
"""


def test_the_page_embeds_a_text_as_python_does(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: tests/run.sh installs it with npm")
    script = tmp_path / "embed.js"
    script.write_text(NODE_EMBED)
    done = subprocess.run(
        [node, str(script), str(SEMANTIC_JS), str(VOCAB), str(static.MODEL_FILE)],
        input=json.dumps(TEXTS),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    model = static.load()
    python = model.encode(TEXTS)
    for text, page, vector in zip(TEXTS, json.loads(done.stdout), python, strict=True):
        assert page["ids"] == model.token_ids(text), text
        if page["ids"]:
            assert float(np.dot(page["vector"], vector)) > 0.999, text
        else:
            assert not np.any(vector) and not any(page["vector"]), text


def test_the_static_model_ranks_paraphrases_above_unrelated_text():
    model = static.load()
    assert static.MODEL_FILE.stat().st_size == len(static.vocabulary()) * (4 + model.dimension)
    pairs = [
        ("candidates interview the company", "The candidate interviews the hiring team."),
        ("how much does each level pay", "We publish the salary range for every level."),
        ("people we turn down may buy from us", "Rejected candidates become future customers."),
    ]
    unrelated = model.encode(["My sourdough starter needs feeding.", "The glacier retreated."])
    for query, answer in pairs:
        q, a = model.encode([query, answer])
        assert q @ a > (unrelated @ q).max() + 0.1, query


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    archive = Archive.at(tmp_path_factory.mktemp("semantic-archive"))
    rows = build_sample_archive(archive)
    db = archive.open_db()
    report = sitegen.build_site(db, archive, BASE_PATH)
    assert report.errors == []
    return archive, rows, report


def _shard(site: Path) -> Path:
    index = json.loads((site / "semantic" / "index.json").read_text())
    assert index["model"] == static.MODEL_ID
    return site / "semantic" / index["shards"][0]


def test_the_build_writes_a_vector_per_passage_and_timed_sentences(built):
    archive, rows, _ = built
    shard = _shard(archive.site_dir)
    data = json.loads((shard / "passages.json").read_text())
    assert len(data["episodes"]) == len(rows)
    vectors = (shard / "vectors.bin").stat().st_size
    assert vectors == len(data["passages"]) * (4 + static.DIMENSION)
    one_medical = next(
        n for n, e in enumerate(data["episodes"]) if e["title"].startswith("One Medical")
    )
    files = sorted(
        (shard / "text").glob(f"{one_medical}-*.json"), key=lambda f: int(f.stem.rsplit("-", 1)[1])
    )
    said = [p for f in files for p in json.loads(f.read_text())["passages"]]
    assert len(said) == sum(1 for p in data["passages"] if p[0] == one_medical)
    sentences = [sentence for passage in said for sentence in passage]
    reverse = next(s for s in sentences if "reverse interview" in s[1])
    assert 100 <= reverse[0] <= 140  # tenths of a second: the line starts at 12.3 s
    times = [t for t, _ in sentences]
    assert times == sorted(times)


def test_a_build_with_nothing_changed_leaves_the_vectors_alone(built):
    archive, _, _ = built
    vectors = _shard(archive.site_dir) / "vectors.bin"
    before = vectors.stat().st_mtime_ns
    report = sitegen.build_site(archive.open_db(), archive, BASE_PATH)
    assert report.errors == [] and vectors.stat().st_mtime_ns == before


def test_a_shard_whose_rebuild_failed_is_rebuilt_by_the_next_build(tmp_path, monkeypatch):
    from ingest.sitegen import semantic as site_semantic

    archive = Archive.at(tmp_path)
    build_sample_archive(archive)
    db = archive.open_db()
    assert sitegen.build_site(db, archive, BASE_PATH).errors == []
    # A title changes: its page and Pagefind shard are redone, but the vectors' rebuild fails.
    episode_id = db.execute("SELECT id FROM episodes WHERE title LIKE 'One Medical%'").fetchone()[0]
    db["episodes"].update(episode_id, {"title": "One Medical, retitled"})
    real = site_semantic.episode_passages

    def failing(db, episode_id):
        raise OSError("disk full")

    monkeypatch.setattr(site_semantic, "episode_passages", failing)
    report = sitegen.build_site(db, archive, BASE_PATH)
    assert any("search by meaning" in error and "disk full" in error for error in report.errors)
    shard = _shard(archive.site_dir)
    titles = [e["title"] for e in json.loads((shard / "passages.json").read_text())["episodes"]]
    assert "One Medical, retitled" not in titles  # the old vectors still answer meanwhile
    monkeypatch.setattr(site_semantic, "episode_passages", real)
    report = sitegen.build_site(db, archive, BASE_PATH)
    assert report.errors == []
    titles = [e["title"] for e in json.loads((shard / "passages.json").read_text())["episodes"]]
    assert "One Medical, retitled" in titles
    assert not (shard / site_semantic.REBUILD_MARK).exists()


@pytest.fixture(scope="module")
def served(built):
    from ingest.sitegen.server import StaticServer

    archive, _, _ = built
    server = StaticServer(archive.site_dir, base_path=BASE_PATH).start()
    yield server
    server.stop()


def _search(browser, served, query: str, viewport: str = "desktop"):
    """A fresh page searched for `query`; the page and the URLs it fetched."""
    from tests.browser import VIEWPORTS

    context = browser.new_context(viewport=VIEWPORTS[viewport], bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    fetched: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served.url("search/") + "?" + urlencode({"q": query}))
    page.wait_for_selector("#search-form[data-state=done]")
    assert errors == []
    return page, fetched


def _reverse_interview_line():
    from ingest.sample import load_sample

    episode = next(e for e in load_sample().episodes if e.title.startswith("One Medical"))
    return next(line for line in episode.script if "reverse interview" in line.text)


@pytest.mark.slow
@pytest.mark.browser
def test_a_paraphrase_finds_the_reverse_interview_by_meaning(browser, served):
    from tests.browser import axe_violations, screenshot

    line = _reverse_interview_line()
    for viewport in ("desktop", "phone"):
        page, fetched = _search(browser, served, "candidates interview the company", viewport)
        assert "meaning" in page.inner_text("#search-status")
        cards = page.query_selector_all("#search-results > li")
        titles = [card.query_selector("h3").inner_text() for card in cards]
        # No episode holds every word; by meaning One Medical is among the first (second
        # with this model: bench/relevance.py has the figures).
        place = next(n for n, title in enumerate(titles) if title.startswith("One Medical"))
        assert place < 3, titles
        jump = cards[place].query_selector(".by-meaning a.jump")
        href = jump.get_attribute("href")
        assert "q=candidates+interview+the+company" in href
        seconds = int(href.rsplit("#t=", 1)[1])
        # The link starts up to 1.5 s before the sentence, inside the reverse-interview line.
        assert line.start - 1.5 <= seconds <= line.end, (href, line)
        assert any("/semantic/model.bin" in url for url in fetched)
        screenshot(page, f"search-by-meaning-{viewport}")
        assert axe_violations(page) == []
        page.context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_the_meaning_is_shown_while_the_words_are_still_coming(browser, served):
    """Pagefind held back (its files answered late): the episodes found by meaning are listed
    at once, each at its moment, and the fused list replaces them once the words are in."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    held: list = []  # Pagefind's requests, answered once the meaning is on the page
    context.route("**/pagefind/**", lambda route: held.append(route))
    page.goto(served.url("search/") + "?" + urlencode({"q": "candidates interview the company"}))
    page.wait_for_selector("#search-results .by-meaning a.jump")
    assert page.get_attribute("#search-form", "data-state") == "searching"
    assert "searching the words" in page.inner_text("#search-status")
    early = [h.inner_text() for h in page.query_selector_all("#search-results h3")]
    assert any(t.startswith("One Medical") for t in early), early
    from tests.browser import screenshot

    screenshot(page, "search-meaning-first-desktop")
    for route in held:
        route.continue_()
    context.unroute("**/pagefind/**")
    page.wait_for_selector("#search-form[data-state=done]")
    status = page.inner_text("#search-status")
    assert "by words and meaning" in status and "searching the words" not in status
    titles = [h.inner_text() for h in page.query_selector_all("#search-results h3")]
    assert len(titles) == len(set(titles)) and any(t.startswith("One Medical") for t in titles)
    assert errors == []
    context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_a_quoted_query_stays_words_only(browser, served):
    page, fetched = _search(browser, served, '"reverse interview"')
    titles = [h.inner_text() for h in page.query_selector_all("#search-results h3")]
    assert titles and all(t.startswith("One Medical") for t in titles)
    assert page.query_selector(".by-meaning") is None
    assert "meaning" not in page.inner_text("#search-status")
    assert not any("/semantic/" in url for url in fetched)
    page.context.close()
