"""Related moments on a built site: episode pages link to other episodes at the sentence they
quote, topic pages list similar untagged moments, unrelated archives show none, and the lists
are kept incrementally (a new episode enters older lists; nothing changed, nothing computed).

The sample show is embedded for real (ingest.embed's model); assertions are about links, spans
and which episodes are listed, never exact scores. The unrelated passages below were written
for this test and not used to choose the similarity floor (see ingest.related.nearest).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from ingest import embed, wordtimes
from ingest.archive import Archive
from ingest.records import Episode, Segment, Show, Transcript
from ingest.related import cache as vector_cache
from ingest.related import nearest
from ingest.related.step import update_related
from ingest.search.index import embed_passages
from ingest.sitegen.step import build_site
from ingest.store import shows as show_store
from ingest.store import transcripts as transcript_store
from ingest.store.search import refresh_passages
from tests.site_archive import build_sample_archive

ONE_MEDICAL = "ttm-sample-0003"
_RELATED_LINK = re.compile(r'<a class="related-moment" href="([^"]+)"')
_REVIEW_LINK = re.compile(r'<a class="review-moment" href="([^"]+)"')

UNRELATED = {
    "Chess openings": (
        "Welcome to the programme. Today we talk about chess openings for beginners. Start by"
        " moving a centre pawn two squares. Bring out your knights before your bishops. Castle"
        " early so your king is safe behind a wall of pawns. Do not move the queen out too soon,"
        " or the other side will chase it with tempo."
    ),
    "A first scarf": (
        "Welcome to the programme. My guest knits all her own jumpers. For a first scarf, pick a"
        " thick wool and big needles. Cast on thirty stitches and knit every row. Count the"
        " stitches at the end of each row so you notice a dropped one. When it is long enough,"
        " cast off loosely and weave the loose ends in."
    ),
    "Volcanoes": (
        "Welcome to the programme. Today, volcanoes. Magma rises because it is lighter than the"
        " rock around it. When the gas in it cannot escape, the pressure builds until the"
        " mountain erupts. Runny basalt lava flows for miles, as in Hawaii. Sticky lava traps"
        " the gas and explodes into ash clouds."
    ),
    "Espresso at home": (
        "Welcome to the programme. We are making espresso at home. Grind the beans fine, just"
        " before brewing. Use about eighteen grams of coffee and tamp it level. The shot should"
        " take around thirty seconds. If it runs fast and tastes sour, grind finer; if it is"
        " slow and bitter, grind coarser."
    ),
    "Knots for sailors": (
        "Welcome to the programme. Today we tie the knots every sailor needs. The bowline makes"
        " a loop that will not slip and is easy to untie. A cleat hitch holds the boat to the"
        " dock. The figure eight stops a rope running out through a block. Practise each one"
        " until you can tie it with your eyes closed."
    ),
}
CHESS_AGAIN = (
    "Welcome to the programme. More chess for beginners today. In the opening, push a centre"
    " pawn and develop the knights and bishops quickly. Castle your king early to keep it"
    " safe. Keep your queen at home until the minor pieces are out."
)
# A new episode on the One Medical episode's subject, said in other words.
NEW_EPISODE = (
    "Welcome back. My guest lets candidates question the hiring team at the end of the loop."
    " After the onsite, the candidate can ask for one more conversation with anybody they met,"
    " and they run that meeting themselves. Most candidates take it, and they tell us it is why"
    " they trusted us enough to accept the offer."
)


def _segments(text: str, seconds_per_sentence: float = 6.0) -> list[Segment]:
    sentences = re.findall(r"[^.!?]+[.!?]", text)
    return [
        Segment(k * seconds_per_sentence, (k + 1) * seconds_per_sentence, s.strip())
        for k, s in enumerate(sentences)
    ]


def _add_episodes(db, show_id: str, episodes: dict[str, str], first_day: int = 1) -> list[dict]:
    """Episodes with the given titles and transcripts, stored as the store stores them."""
    show_store.upsert_episodes(
        db,
        show_id,
        [
            Episode(
                guid=f"guid-{title}",
                title=title,
                published=datetime(2024, 1, first_day + k, 9, tzinfo=UTC),
                enclosure_url=f"https://cdn.example.com/{k + first_day}.mp3",
                duration=60,
            )
            for k, title in enumerate(episodes)
        ],
    )
    rows = {row["title"]: row for row in show_store.list_episodes(db, show_id)}
    for title, text in episodes.items():
        transcript = Transcript(segments=_segments(text), language="en", engine="test")
        transcript_store.save_transcript(db, rows[title]["id"], transcript)
    return [rows[title] for title in episodes]


def _index(db) -> None:
    refresh_passages(db)
    report = embed_passages(db)
    assert report.unavailable is None


def _pages(archive: Archive) -> dict[str, str]:
    """Episode slug -> its page's HTML."""
    folder = archive.site_dir / "episodes"
    return {page.parent.name: page.read_text() for page in folder.glob("*/index.html")}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample show archived, embedded and built into a site (no search index)."""
    root = tmp_path_factory.mktemp("related") / "archive"
    archive = Archive.at(root)
    rows = build_sample_archive(archive)
    db = archive.open_db()
    _index(db)
    report = build_site(db, archive, "/", search=False)
    assert report.errors == []
    db.conn.close()
    return root, rows, report


@pytest.fixture
def archive(built, tmp_path):
    root, _, _ = built
    shutil.copytree(root, tmp_path / "copy")
    return Archive.at(tmp_path / "copy")


def _sentence_span(db, episode_id: str, quote: str) -> tuple[float, float]:
    """When the quoted sentence's first word is said and when the word after its last is."""
    for start, end, _, text, words in db.execute(
        'SELECT start, "end", speaker, text, words FROM segments WHERE episode_id = ? ORDER BY idx',
        [episode_id],
    ):
        if quote not in text:
            continue
        times = wordtimes.decode(words, text, start, end)
        tokens = wordtimes.tokens(text.strip())
        at = text.strip().index(quote)
        first = next(k for k, (offset, _) in enumerate(tokens) if offset >= at)
        after = next((k for k, (offset, _) in enumerate(tokens) if offset >= at + len(quote)), None)
        return times[first], times[after] if after is not None else end
    raise AssertionError(f"{quote!r} is not said in {episode_id}")


def test_a_related_moment_links_to_another_episode_inside_its_quoted_sentence(built):
    root, rows, report = built
    archive = Archive.at(root)
    assert report.related.episodes_remade == len(rows)
    assert report.related.sentences_embedded == 0  # quoted by the stored sentence vectors
    db = archive.open_db()
    by_slug = {row["slug"]: row for row in rows.values()}
    links = 0
    for slug, html in _pages(archive).items():
        for href in _RELATED_LINK.findall(html):
            parts = urlsplit(href.replace("&amp;", "&"))
            target = parts.path.strip("/").split("/")[-1]
            assert target != slug and target in by_slug, href
            query = parse_qs(parts.query)
            assert query["play"] == ["1"]
            seconds = float(parts.fragment.removeprefix("t="))
            # The card's quote is the text after the link, in <q>.
            after = html[html.index(href) :]
            quote = re.search(r"<q>(.*?)</q>", after).group(1).replace("&#39;", "'")
            begins, ends = _sentence_span(db, by_slug[target]["id"], quote.rstrip("…"))
            assert begins - wordtimes.LEAD_SECONDS - 0.01 <= seconds <= ends, (href, quote)
            # The words the page marks are the quote's own.
            assert set(query["q"][0].split()) <= set(re.findall(r"[a-z0-9']+", quote.lower()))
            links += 1
    assert links >= len(rows) - 2  # nearly every sample episode has one (not the hostile one)
    hostile = _pages(archive)[rows["hostile"]["slug"]]
    assert 'id="related-h"' not in hostile
    # Topic pages list similar moments from episodes not tagged with the topic.
    tagged = {}
    for row in db.query("SELECT episode_id, tag_slug FROM episode_tags"):
        tagged.setdefault(row["tag_slug"], set()).add(row["episode_id"])
    reviewed = 0
    for page in (archive.site_dir / "topics").glob("*/index.html"):
        for href in _REVIEW_LINK.findall(page.read_text()):
            target = urlsplit(href).path.strip("/").split("/")[-1]
            assert by_slug[target]["id"] not in tagged[page.parent.name]
            reviewed += 1
    assert reviewed
    stored = db.execute("SELECT count(*) FROM episode_related_moments").fetchone()[0]
    assert stored == links
    db.conn.close()


def test_datasette_lists_related_moments_linking_to_the_site(built):
    import asyncio

    from ingest.datasette.serve import make_datasette

    root, rows, _ = built
    ds = make_datasette(Archive.at(root), base_url="https://example.com/site/")

    async def fetch():
        listed = await ds.client.get(
            "/archive/episode_related_moments.json", params={"_shape": "array"}
        )
        page = await ds.client.get("/archive/episode_related_moments")
        review = await ds.client.get("/archive/topic_review.json", params={"_shape": "array"})
        return listed, page, review

    listed, page, review = asyncio.run(fetch())
    assert listed.status_code == page.status_code == review.status_code == 200
    found = listed.json()
    assert found and all(row["for_episode_id"] != row["episode_id"] for row in found)
    assert review.json()
    # The host reads what the list is, and each start links to the episode page at that second.
    assert "nearest in meaning" in page.text
    slug = next(r["slug"] for r in rows.values() if r["id"] == found[0]["episode_id"])
    assert f"https://example.com/site/episodes/{slug}/#t=" in page.text


def test_an_archive_of_unrelated_episodes_lists_none(tmp_path):
    archive = Archive.at(tmp_path / "unrelated")
    db = archive.open_db()
    show_id = show_store.add_show(db, "https://feeds.example.com/mixed.xml", "Mixed")["id"]
    show_store.save_show(
        db, show_id, Show(feed_url="https://feeds.example.com/mixed.xml", title="Mixed")
    )
    _add_episodes(db, show_id, UNRELATED)
    _index(db)
    report = build_site(db, archive, "/", search=False)
    assert report.errors == [] and report.related.episodes_remade == len(UNRELATED)
    pages = _pages(archive)
    assert len(pages) == len(UNRELATED)
    assert not any('id="related-h"' in html for html in pages.values())
    assert db.execute("SELECT count(*) FROM related_moments").fetchone()[0] == 0
    # A second chess episode: the first one's list, empty until now, takes it.
    _add_episodes(db, show_id, {"Chess endgames": CHESS_AGAIN}, first_day=20)
    _index(db)
    again = build_site(db, archive, "/", search=False)
    assert again.related.episodes_remade == 1 and again.related.lists_updated == 1
    chess = db.execute("SELECT slug FROM episodes WHERE title = 'Chess openings'").fetchone()[0]
    assert "Chess endgames" in _pages(archive)[chess]


def test_a_new_episode_enters_an_older_episodes_list(archive):
    db = archive.open_db()
    medical = db.execute("SELECT id, slug FROM episodes WHERE guid = ?", [ONE_MEDICAL]).fetchone()
    show_id = db.execute("SELECT id FROM shows").fetchone()[0]
    before = _pages(archive)[medical[1]]
    assert "Candidates Question the Team" not in before
    _add_episodes(db, show_id, {"Candidates Question the Team": NEW_EPISODE}, first_day=20)
    _index(db)
    report = build_site(db, archive, "/", search=False)
    assert report.errors == []
    # Only the new episode was compared with the archive; it entered older lists.
    assert report.related.episodes_remade == 1 and report.related.lists_updated >= 1
    after = _pages(archive)[medical[1]]
    assert "Candidates Question the Team" in after
    assert f"episodes/{medical[1]}/index.html" in report.written
    # Nothing changed since: no vector is read and no page rewritten.
    again = build_site(db, archive, "/", search=False)
    assert again.related.vectors_read == 0 and again.written == []
    db.conn.close()


def _synthetic(db, episodes: int, passages: int, rng: np.random.Generator, first: int = 0):
    """Episodes of passages whose vectors cluster around a few subjects (seeded); their ids."""
    if not db.execute("SELECT count(*) FROM shows").fetchone()[0]:
        show_store.add_show(db, "https://feeds.example.com/synthetic.xml", "Synthetic")
    show_id = db.execute("SELECT id FROM shows").fetchone()[0]
    titles = {f"Episode {number}": "" for number in range(first, first + episodes)}
    show_store.upsert_episodes(
        db,
        show_id,
        [
            Episode(guid=title, title=title, enclosure_url=f"https://cdn.example.com/{k}.mp3")
            for k, title in enumerate(titles, first)
        ],
    )
    ids = {row["title"]: row["id"] for row in show_store.list_episodes(db, show_id)}
    subjects = np.random.default_rng(0).standard_normal((4, embed.DIMENSION))
    for number, title in enumerate(titles, first):
        for k in range(passages):
            text = f"Passage {k} of episode {number} says one thing. And then it says another."
            offsets = [[m.start(), 45.0 * k + m.start() / 10] for m in re.finditer(r"\S+", text)]
            cursor = db.conn.execute(
                "INSERT INTO passages (episode_id, start, end, first_segment_id, last_segment_id,"
                " text, offsets) VALUES (?, ?, ?, 0, 0, ?, ?)",
                [ids[title], 45.0 * k, 45.0 * (k + 1), text, json.dumps(offsets)],
            )
            vector = subjects[rng.integers(4)] + 1.2 * rng.standard_normal(embed.DIMENSION)
            vector /= np.linalg.norm(vector)
            db.conn.execute(
                "INSERT INTO passage_vectors (passage_id, episode_id, model, vector)"
                " VALUES (?, ?, ?, ?)",
                [cursor.lastrowid, ids[title], embed.MODEL_ID, vector.astype("<f2").tobytes()],
            )
    db.conn.commit()
    return [ids[title] for title in titles]


def _lists(db) -> list[tuple]:
    return db.execute(
        "SELECT episode_id, other_episode_id, passage_id, other_passage_id, round(score, 4)"
        " FROM related_moments ORDER BY 1, 2, 4"
    ).fetchall()


def test_incremental_lists_equal_lists_made_from_scratch(tmp_path, monkeypatch):
    """Episodes added in batches, one re-embedded, one removed: the lists kept incrementally
    are the lists made from nothing (small blocks and groups, so every path is taken)."""
    monkeypatch.setattr(nearest, "BLOCK_ROWS", 7)
    monkeypatch.setattr(nearest, "GROUP_ROWS", 20)
    db = Archive.at(tmp_path / "a").open_db()
    rng = np.random.default_rng(3)
    ids = _synthetic(db, 12, 6, rng)
    first = update_related(db)
    assert first.episodes_remade == 12 and _lists(db)
    _synthetic(db, 5, 6, rng, first=12)
    added = update_related(db)
    assert added.episodes_remade == 5 and added.lists_updated > 0
    # Only the new episodes' vectors are read from SQLite; the rest from the copy beside it.
    assert (added.vectors_read, added.vectors_cached) == (5 * 6, 12 * 6)
    # One episode is re-embedded (new passages and vectors), another loses its passages.
    changed, gone = ids[3], ids[7]
    assert {changed, gone} <= {row[1] for row in _lists(db)}
    with db.conn:
        db.execute("DELETE FROM passages WHERE episode_id IN (?, ?)", [changed, gone])
    _synthetic(db, 1, 6, rng, first=3)
    update_related(db)
    assert gone not in {row[1] for row in _lists(db)} | {row[0] for row in _lists(db)}
    kept = _lists(db)
    with db.conn:
        db.execute("DELETE FROM related_moments")
        db.execute("INSERT OR IGNORE INTO related_stale SELECT episode_id FROM passage_vectors")
    scratch = update_related(db)
    assert scratch.episodes_remade == 16
    assert _lists(db) == kept
    assert update_related(db).vectors_read == 0

    # A torn copy is no copy; an episode whose vectors changed behind the triggers' back (the
    # stale mark cleared) is read again all the same.
    copy = tmp_path / "a" / vector_cache.FOLDER / vector_cache.NAME
    copy.write_bytes(copy.read_bytes()[: copy.stat().st_size // 2])
    with db.conn:
        db.execute("INSERT OR IGNORE INTO related_stale SELECT episode_id FROM passage_vectors")
    torn = update_related(db)
    assert (torn.vectors_read, torn.vectors_cached) == (16 * 6, 0) and _lists(db) == kept
    with db.conn:
        db.execute("DELETE FROM passage_vectors WHERE episode_id = ?", [ids[5]])
        db.execute("DELETE FROM related_stale")
        db.execute("INSERT INTO related_stale VALUES (?)", [ids[0]])
    behind = update_related(db)
    assert (behind.vectors_read, behind.vectors_cached) == (6, 14 * 6)
    assert ids[5] not in {row[0] for row in _lists(db)}


# --- in Chromium: the link plays the other episode there, words marked; screenshots, axe ----


@pytest.mark.slow
@pytest.mark.browser
def test_a_related_moment_opens_the_other_episode_there_in_chromium(built, browser):
    from ingest.sitegen.server import StaticServer
    from tests.browser import VIEWPORTS, axe_violations, screenshot

    root, rows, _ = built
    archive = Archive.at(root)
    medical = rows[ONE_MEDICAL]["slug"]
    topic = next(
        page.parent.name
        for page in sorted((archive.site_dir / "topics").glob("*/index.html"))
        if _REVIEW_LINK.search(page.read_text())
    )
    server = StaticServer(archive.site_dir).start()
    found = {}
    try:
        for size, viewport in VIEWPORTS.items():
            context = browser.new_context(viewport=viewport, bypass_csp=True)
            tab = context.new_page()
            tab.set_default_timeout(15_000)
            for name, url in (
                ("episode", f"episodes/{medical}/"),
                ("topic", f"topics/{topic}/"),
            ):
                tab.goto(server.url() + url)
                assert tab.locator(".related, .review").count() == 1
                screenshot(tab, f"related-{name}-{size}")
                found[f"{name}-{size}"] = axe_violations(tab)
            if size == "desktop":
                tab.goto(server.url() + f"episodes/{medical}/")
                link = tab.locator("a.related-moment").first
                href = link.get_attribute("href")
                link.click()
                seconds = float(href.split("#t=")[1])
                tab.wait_for_function(
                    "t => { const a = document.getElementById('player');"
                    " return a && a.readyState >= 1 && Math.abs(a.currentTime - t) <= 1.5; }",
                    arg=seconds,
                )
                # The quoted words are marked in the paragraph the player is at.
                marked = tab.locator(".passage.current mark.hit").all_inner_texts()
                assert marked, href
            context.close()
    finally:
        server.stop()
    assert found == {name: [] for name in found}
