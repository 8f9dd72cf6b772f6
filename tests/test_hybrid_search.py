"""Search by meaning on the sample show: hybrid ranking, the sentence a hit lands on, exact
phrases, the lexical fallback without vectors, `--json`, incremental embedding and Datasette.

The passages are embedded for real (ingest.embed's model); assertions are about ranks and
spans, never exact scores.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from ingest.archive import Archive
from ingest.cli import cli
from ingest.datasette.serve import make_datasette
from ingest.records import Segment, Transcript
from ingest.sample import load_sample
from ingest.search import hybrid
from ingest.search.index import embed_passages
from ingest.search.query import search_archive
from ingest.store import transcripts as transcript_store
from ingest.store.search import refresh_passages
from tests.site_archive import build_sample_archive

ONE_MEDICAL = "ttm-sample-0003"
PARAPHRASE = "candidates interview the company"


def _line(guid: str, words: str):
    episode = next(e for e in load_sample().episodes if e.guid == guid)
    return next(line for line in episode.script if words in line.text.lower())


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The sample show archived, its passages built and embedded; a pristine copy per test."""
    root = tmp_path_factory.mktemp("hybrid") / "archive"
    archive = Archive.at(root)
    rows = build_sample_archive(archive)
    db = archive.open_db()
    refresh_passages(db)
    report = embed_passages(db)
    assert report.embedded == db.execute("SELECT count(*) FROM passages").fetchone()[0] > 0
    texts = [row[0] for row in db.execute("SELECT text FROM passages")]
    assert report.sentences == sum(len(hybrid.passage_sentences(t)) for t in texts)
    db.conn.close()
    return root, rows


@pytest.fixture
def archive(embedded, tmp_path):
    root, _ = embedded
    shutil.copytree(root, tmp_path / "copy")
    return Archive.at(tmp_path / "copy")


def test_a_paraphrase_finds_one_medical_at_the_reverse_interview(archive):
    result = CliRunner().invoke(cli, ["--archive", str(archive.root), "search", PARAPHRASE])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("1. One Medical's Reverse Interview")
    ranking, hits = search_archive(archive, PARAPHRASE)
    assert ranking.mode == "hybrid" and hits[0].episode.startswith("One Medical")
    line = _line(ONE_MEDICAL, "reverse interview. after the onsite")
    # The sentence that says it, not the episode's welcome: within that line, and the link
    # at most 2 s before the line's words.
    assert line.start - 2 <= hits[0].seconds <= line.end
    said = hits[0].snippet.replace("<mark>", "").replace("</mark>", "").lower()
    assert "reverse interview" in said or "ask for another" in said
    assert f"#t={hits[0].seconds}" in result.output
    # Words alone find it too now (any of the words, ranked), but not first: meaning helps.
    _, lexical = search_archive(archive, PARAPHRASE, mode="lexical")
    assert lexical and any(h.episode.startswith("One Medical") for h in lexical)


def test_hits_are_placed_by_stored_sentence_vectors(archive, monkeypatch):
    """Only the query is embedded at search time; without the stored sentence vectors the
    first hit's sentences are embedded instead, and it lands on the same sentence."""
    from ingest import embed

    encoded = []
    real_encode = embed.encode
    monkeypatch.setattr(
        embed, "encode", lambda texts: encoded.append(len(texts)) or real_encode(texts)
    )
    _, stored = search_archive(archive, PARAPHRASE, mode="semantic")
    assert encoded == [1]  # the query alone
    db = archive.open_db()
    with db.conn:
        db.execute("DELETE FROM sentence_vectors")
    db.conn.close()
    encoded.clear()
    _, embedded_now = search_archive(archive, PARAPHRASE, mode="semantic")
    assert encoded[0] == 1 and len(encoded) == 2 and encoded[1] > 1  # the first hit's sentences
    assert embedded_now[0].seconds == stored[0].seconds
    line = _line(ONE_MEDICAL, "reverse interview. after the onsite")
    assert stored[0].episode.startswith("One Medical")
    assert line.start - 2 <= stored[0].seconds <= line.end


def test_a_topic_filter_limits_both_the_words_and_the_meaning(archive):
    """The filter reaches both lists: every hit, by words or by meaning, is in an episode
    with the topic, and the meaning's side still ranks."""
    import sqlite3

    conn = sqlite3.connect(archive.db_path)
    slug, titles = conn.execute(
        "SELECT et.tag_slug, json_group_array(e.title) FROM episode_tags et"
        " JOIN episodes e ON e.id = et.episode_id JOIN tags t ON t.slug = et.tag_slug"
        " WHERE t.kind = 'topic' GROUP BY et.tag_slug ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    episodes = conn.execute("SELECT count(*) FROM episodes").fetchone()[0]
    conn.close()
    tagged = set(json.loads(titles))
    assert 0 < len(tagged) < episodes
    ranking, hits = search_archive(archive, PARAPHRASE, topic=slug)
    assert ranking.mode == "hybrid" and hits
    assert {hit.episode for hit in hits} <= tagged
    assert any(hit.semantic_rank for hit in hits)
    _, unfiltered = search_archive(archive, PARAPHRASE)
    assert {hit.episode for hit in unfiltered} - tagged


def test_semantic_mode_ranks_by_meaning_alone(archive):
    query = "how to negotiate pay with a candidate"
    ranking, hits = search_archive(archive, query, mode="semantic")
    assert ranking.mode == "semantic"
    assert hits[0].episode.startswith("Pay Ranges")
    assert all(hit.lexical_rank is None and hit.semantic_rank for hit in hits)


def test_a_quoted_phrase_means_exact_words(archive):
    for typed in ('"reverse interview"', "grit OR resilience", "transp*"):
        ranking, hits = search_archive(archive, typed)
        assert ranking.mode == "lexical", typed
        assert hits and all(hit.semantic_rank is None for hit in hits)
    _, hits = search_archive(archive, '"reverse interview"')
    assert all("<mark>reverse interview</mark>" in hit.snippet.lower() for hit in hits)
    assert hybrid.is_exact('"a b"') and not hybrid.is_exact("candidates interview the company")


def test_without_vectors_search_says_so_once_and_runs_by_words(archive):
    db = archive.open_db()
    with db.conn:
        db.execute("DELETE FROM passage_vectors")
    db.conn.close()
    result = CliRunner().invoke(cli, ["--archive", str(archive.root), "search", PARAPHRASE])
    assert result.exit_code == 0, result.output
    assert result.output.count("Searching by words only") == 1
    ranking, hits = search_archive(archive, PARAPHRASE)
    assert ranking.mode == "lexical" and "no passage has been embedded" in ranking.notice
    # No passage holds all four words: the ones holding some of them, ranked.
    assert ranking.any_words and hits
    assert all(h.lexical_rank for h in hits)
    ranking, hits = search_archive(archive, "reverse interview")
    assert not ranking.any_words and "One Medical" in hits[0].episode


def test_datasette_says_when_search_by_meaning_ran_by_words(archive):
    async def page(**params):
        # A Datasette of its own each time: it serves the archive as immutable.
        ds = make_datasette(archive, base_url="https://example.com/site/")
        await ds.invoke_startup()
        response = await ds.client.get("/archive/search_by_meaning", params=params)
        assert response.status_code == 200, response.text
        return response.text

    assert 'class="search-note"' not in asyncio.run(page(q="reverse interview", mode=""))
    db = archive.open_db()
    with db.conn:
        db.execute("DELETE FROM passage_vectors")
    db.conn.close()
    html = asyncio.run(page(q="reverse interview", mode=""))
    assert 'class="search-note"' in html and "Searching by words only" in html
    assert "One Medical" in html  # and still finds it by its words


def test_json_output_for_scripts(archive):
    result = CliRunner().invoke(
        cli, ["--archive", str(archive.root), "search", PARAPHRASE, "--json", "--limit", "3"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["query"] == PARAPHRASE and data["mode"] == "hybrid" and data["notice"] is None
    assert 1 <= len(data["hits"]) <= 3
    hit = data["hits"][0]
    assert set(hit) == {
        "episode",
        "show",
        "published",
        "seconds",
        "at",
        "snippet",
        "page",
        "relevance",
        "lexical_rank",
        "semantic_rank",
    }
    assert hit["page"].startswith("/episodes/") and hit["page"].endswith(f"#t={hit['seconds']}")
    assert [h["relevance"] for h in data["hits"]] == sorted(
        (h["relevance"] for h in data["hits"]), reverse=True
    )


def test_embedding_is_incremental(archive, embedded):
    _, rows = embedded
    db = archive.open_db()
    assert embed_passages(db).embedded == 0  # nothing changed: nothing to do
    medical = rows[ONE_MEDICAL]["id"]
    before = db.execute("SELECT count(*) FROM passage_vectors").fetchone()[0]
    transcript = Transcript([Segment(0.0, 30.0, "A new take on the reverse interview.")])
    transcript_store.save_transcript(db, medical, transcript)
    refresh_passages(db)
    report = embed_passages(db)
    assert report.embedded == 1 and report.sentences == 1  # the new transcript's one passage
    assert (
        db.execute(
            "SELECT count(*) FROM sentence_vectors s JOIN passages p ON p.id = s.passage_id"
            " WHERE p.episode_id = ?",
            [medical],
        ).fetchone()[0]
        == 1
    )
    # An archive embedded before sentences were stored gets them on the next run, alone.
    with db.conn:
        db.execute("DELETE FROM sentence_vectors")
    again = embed_passages(db)
    assert again.embedded == 0 and again.sentences == sum(
        len(hybrid.passage_sentences(row[0])) for row in db.execute("SELECT text FROM passages")
    )
    after = db.execute(
        "SELECT count(*) FROM passage_vectors WHERE episode_id = ?", [medical]
    ).fetchone()[0]
    assert after == 1
    assert db.execute("SELECT count(*) FROM passage_vectors").fetchone()[0] < before


def test_a_damaged_vector_is_named_left_out_and_replaced(archive, embedded, caplog):
    """A vector cut short (a torn write, a hand edit) never stops search: it is logged with its
    episode, search runs by meaning without it, and the next embedding run replaces it."""
    _, rows = embedded
    medical = rows[ONE_MEDICAL]["id"]
    db = archive.open_db()
    with db.conn:
        db.execute(
            "UPDATE passage_vectors SET vector = substr(vector, 1, 100)"
            " WHERE passage_id = (SELECT min(passage_id) FROM passage_vectors"
            " WHERE episode_id = ?)",
            [medical],
        )
    with caplog.at_level("WARNING", logger="ingest.store.vectors"):
        ranking, hits = search_archive(archive, PARAPHRASE)
    assert ranking.mode == "hybrid" and hits
    assert any(medical in record.getMessage() for record in caplog.records)
    assert embed_passages(db).embedded == 1
    caplog.clear()
    with caplog.at_level("WARNING", logger="ingest.store.vectors"):
        search_archive(archive, PARAPHRASE)
    assert not caplog.records


def test_datasette_search_by_meaning_links_to_the_second(archive):
    ds = make_datasette(archive, base_url="https://example.com/site/")

    async def fetch(**params):
        await ds.invoke_startup()
        response = await ds.client.get(
            "/archive/search_by_meaning.json", params=params | {"_shape": "array"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    found = asyncio.run(fetch(q=PARAPHRASE, mode=""))
    assert found[0]["episode"].startswith("One Medical")
    _, hits = search_archive(archive, PARAPHRASE)
    assert found[0]["seconds"] == hits[0].seconds  # the terminal and Datasette agree
    assert found[0]["page"].endswith(f"/#t={found[0]['seconds']}")
    assert found[0]["page"].startswith("https://example.com/site/episodes/")
    html = asyncio.run(ds.client.get("/archive/search_by_meaning", params={"q": PARAPHRASE}))
    assert html.status_code == 200 and "open at" in html.text


def test_the_cached_vectors_follow_every_change(archive):
    """A search server keeps the vectors in memory; a vector added, replaced or removed by a
    later run makes the next search read them again."""
    import sqlite3

    from ingest import embed
    from ingest.store import vectors

    reader = sqlite3.connect(archive.db_path)
    _, before, _ = hybrid._matrix(reader, embed.MODEL_ID)
    assert hybrid._matrix(reader, embed.MODEL_ID)[1] is before  # unchanged: kept
    db = archive.open_db()
    stamps = [vectors.stamp(reader)]
    first = "(SELECT min(passage_id) FROM passage_vectors)"
    for change in (
        f"UPDATE passage_vectors SET vector = vector WHERE passage_id = {first}",
        "INSERT OR REPLACE INTO passage_vectors"
        f" SELECT * FROM passage_vectors WHERE passage_id = {first}",
        f"DELETE FROM passage_vectors WHERE passage_id = {first}",
    ):
        with db.conn:
            db.execute(change)
        stamps.append(vectors.stamp(reader))
    assert len(set(stamps)) == len(stamps)
    _, after, _ = hybrid._matrix(reader, embed.MODEL_ID)
    assert after is not before and len(after) == len(before) - 1
    db.conn.close()
    reader.close()


def test_a_new_process_maps_the_vectors_from_their_copy(archive):
    """The first load reads SQLite and leaves a copy beside the archive; the next process maps
    it and gets the same rows; a change to the vectors or a damaged copy is never read."""
    import sqlite3

    import numpy as np

    from ingest import embed
    from ingest.search import matrix_cache

    copies = archive.root / matrix_cache.FOLDER
    reader = sqlite3.connect(archive.db_path)

    def load_as_a_new_process():
        hybrid._MATRICES.clear()
        return hybrid._matrix(reader, embed.MODEL_ID)[:2]

    ids, matrix = load_as_a_new_process()
    assert not isinstance(matrix, np.memmap)
    [folder] = copies.iterdir()
    mapped_ids, mapped = load_as_a_new_process()
    assert isinstance(mapped, np.memmap)
    assert np.array_equal(mapped_ids, ids) and np.array_equal(mapped, matrix)

    db = archive.open_db()
    with db.conn:
        db.execute("DELETE FROM passage_vectors WHERE passage_id = ?", [int(ids[0])])
    fewer_ids, fewer = load_as_a_new_process()
    assert not isinstance(fewer, np.memmap) and len(fewer) == len(matrix) - 1
    assert int(ids[0]) not in fewer_ids.tolist()
    [current] = copies.iterdir()
    assert current != folder  # the old stamp's copy is gone

    damaged = current / "matrix.npy"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    again_ids, again = load_as_a_new_process()
    assert not isinstance(again, np.memmap) and np.array_equal(again, fewer)
    assert isinstance(load_as_a_new_process()[1], np.memmap)  # rewritten whole
    db.conn.close()
    reader.close()


def test_a_search_brings_an_archive_made_before_the_term_counts_up_to_date(archive):
    db = archive.open_db()
    for table in ("passage_term_counts", "passage_term_counts_taken"):
        db.execute(f"DROP TABLE {table}")
    db.execute("DELETE FROM _migrations WHERE name = 'm190_term_counts'")
    db.conn.commit()
    db.conn.close()
    _, hits = search_archive(archive, PARAPHRASE, mode="lexical")
    assert hits and hits == search_archive(archive, PARAPHRASE, mode="lexical")[1]
    conn = sqlite3.connect(archive.db_path)  # not the store, which would migrate it itself
    assert conn.execute("SELECT count(*) FROM passage_term_counts_taken").fetchone()[0] == 1
    conn.close()
