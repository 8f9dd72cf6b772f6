"""The Datasette view of the archive, through Datasette's own in-process client.

The archive holds the bundled sample show (its scripts as transcripts, with the line timings
of the generated audio), topic tags written directly, and one episode with hostile HTML.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from ingest import wordtimes
from ingest.archive import Archive
from ingest.datasette.serve import make_datasette
from ingest.records import Episode, Person, Segment, Transcript
from ingest.sample import load_sample
from ingest.store import search
from ingest.store import shows as show_store
from ingest.store import transcripts as transcript_store

SITE = "https://ttm.example/archive/"
FEED_URL = "https://example.com/talk-talent-to-me.xml"
HOSTILE_TITLE = "<script>alert('title')</script> Hostile episode"
HOSTILE_TEXT = "<img src=x onerror=alert(1)> tenacity is the hostile word here"
LINE_SECONDS = 8.0  # spacing of script lines when the sample audio has no timings yet

TOPICS = {
    # slug: (name, {sample episode number: score}, moment phrase in that episode)
    "interviewing": ("Interviewing", {3: 0.9, 5: 0.8}, "reverse interview"),
    "pay-transparency": ("Pay transparency", {4: 0.95}, "pay transparency"),
    "employer-brand": ("Employer brand", {1: 0.85}, "employer brand"),
}


def _segments(episode) -> list[Segment]:
    segments = []
    for n, line in enumerate(episode.script):
        start = line.start if line.start is not None else n * LINE_SECONDS
        end = line.end if line.end is not None else start + LINE_SECONDS - 0.5
        segments.append(Segment(start=start, end=end, text=line.text, speaker=line.speaker))
    return segments


def build_sample_archive(root: Path) -> Archive:
    """An archive with the sample show transcribed and tagged, plus one hostile episode."""
    archive = Archive.at(root)
    db = archive.open_db()
    sample = load_sample()
    show_id = show_store.add_show(db, FEED_URL, sample.title)["id"]
    episodes = [
        Episode(
            guid=e.guid,
            title=e.title,
            published=e.published,
            description_html=e.description_html,
            description_text=re.sub(r"<[^>]+>", " ", e.description_html),
            enclosure_url=f"https://example.com/audio/{e.audio_name}",
            enclosure_type="audio/mpeg",
            duration=round(e.duration or len(e.script) * LINE_SECONDS),
            people=[Person(g.name, role="guest") for g in e.guests],
        )
        for e in sample.episodes
    ]
    episodes.append(
        Episode(
            guid="hostile",
            title=HOSTILE_TITLE,
            description_text="<b>bold</b> claims",
            enclosure_url="javascript:alert('audio')",
            duration=30,
        )
    )
    show_store.upsert_episodes(db, show_id, episodes)
    ids = {row["guid"]: row["id"] for row in show_store.list_episodes(db, show_id)}
    for e in sample.episodes:
        source = "publisher" if e.has_transcript else "asr"
        transcript_store.save_transcript(
            db, ids[e.guid], Transcript(segments=_segments(e), source=source)
        )
    transcript_store.save_transcript(
        db, ids["hostile"], Transcript(segments=[Segment(0.0, 9.0, HOSTILE_TEXT)])
    )
    by_number = {e.number: e for e in sample.episodes}
    with db.conn:
        for slug, (name, scores, phrase) in TOPICS.items():
            db["tags"].insert({"slug": slug, "name": name})
            for number, score in scores.items():
                episode = by_number[number]
                episode_id = ids[episode.guid]
                db["episode_tags"].insert(
                    {"episode_id": episode_id, "tag_slug": slug, "score": score, "source": "test"}
                )
                for segment in _segments(episode):
                    if phrase in segment.text.lower():
                        db["topic_moments"].insert(
                            {
                                "episode_id": episode_id,
                                "tag_slug": slug,
                                "start": segment.start,
                                "end": segment.end,
                                "score": score,
                            }
                        )
    db.conn.close()
    return archive


def first_line_with(number: int, phrase: str) -> float:
    """When the sample episode's first line containing `phrase` starts, in seconds."""
    episode = next(e for e in load_sample().episodes if e.number == number)
    for segment in _segments(episode):
        if phrase in segment.text.lower():
            return segment.start
    raise AssertionError(f"{phrase!r} not in sample episode {number}")


def first_said(number: int, phrase: str) -> float:
    """When the first word of `phrase` is said in the sample episode: these lines carry no word
    timestamps, so their words are timed by their characters (ingest.wordtimes)."""
    episode = next(e for e in load_sample().episodes if e.number == number)
    for segment in _segments(episode):
        text = segment.text.strip()
        at = text.lower().find(phrase)
        if at >= 0:
            times = wordtimes.interpolated(text, segment.start, segment.end)
            offsets = [offset for offset, _ in wordtimes.tokens(text)]
            return times[max(i for i, offset in enumerate(offsets) if offset <= at)]
    raise AssertionError(f"{phrase!r} not in sample episode {number}")


def sample_title(number: int) -> str:
    return next(e.title for e in load_sample().episodes if e.number == number)


def get(ds, path: str, **params):
    return asyncio.run(ds.client.get(path, params=params or None))


def rows(ds, path: str, **params) -> list[dict]:
    response = get(ds, path, _shape="array", **params)
    assert response.status_code == 200, response.text[:500]
    return response.json()


@pytest.fixture(autouse=True)
def sample_archive(archive) -> Archive:
    """Every test here reads the `archive` fixture's archive with the sample show built in."""
    return build_sample_archive(archive.root)


@pytest.fixture
def ds(archive):
    return make_datasette(archive, base_url=SITE)


# --- stored searches -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "numbers", "words"),
    [
        ('"reverse interview"', {3}, ["reverse", "interview"]),
        ("grit OR resilience", {3}, ["grit"]),
        ("transp*", {3, 4}, ["transparency"]),
        ("interviews", {3, 5}, ["interview"]),  # porter stemming
        ("candidate NOT reverse", {1, 5}, ["candidate"]),
    ],
)
def test_search_transcripts_query_syntax(ds, q, numbers, words):
    found = rows(ds, "/archive/search_transcripts.json", q=q)
    assert {r["episode"] for r in found} >= {sample_title(n) for n in numbers}
    if " NOT " in q:
        assert not any("reverse" in r["snippet"].lower() for r in found)
    for r in found:
        assert r["page"].startswith(SITE + "episodes/")
        assert r["page"].endswith(f"/#t={r['seconds']}")
        assert "<mark>" in r["snippet"]
        marked = re.findall(r"<mark>(.*?)</mark>", r["snippet"])
        assert any(w in m.lower() for m in marked for w in words)
    relevance = [r["relevance"] for r in found]
    assert relevance == sorted(relevance, reverse=True)


def test_words_with_punctuation_search_as_phrases(ds):
    """Text that is not FTS5 syntax (an apostrophe, a hyphen) is searched, not an error."""
    joined = rows(ds, "/archive/search_transcripts.json", q="I'm joined")
    assert len({r["episode"] for r in joined}) >= 2
    assert all("<mark>I'm</mark>" in r["snippet"] for r in joined)
    hyphenated = rows(ds, "/archive/search_transcripts.json", q="reverse-interview")
    assert hyphenated and all("<mark>reverse interview</mark>" in r["snippet"] for r in hyphenated)
    # Broken syntax is searched as plain words, with a note saying so, never an FTS5 error.
    for typed, word in [('"reverse interview', "reverse"), ("grit AND", "grit"), ("(grit", "grit")]:
        found = rows(ds, "/archive/search_transcripts.json", q=typed)
        assert found and all(f"<mark>{word}</mark>" in r["snippet"].lower() for r in found)
        page = get(ds, "/archive/search_transcripts", q=typed)
        assert page.status_code == 200 and "fts5" not in page.text.lower()
        assert 'class="search-note"' in page.text and "searched as the plain" in page.text
    for typed in ("AND", '"unclosed', "NEAR(", "title: grit", "*"):
        for path in ("/archive/search_transcripts", "/archive/search_episodes"):
            page = get(ds, path, q=typed)
            assert page.status_code == 200 and "fts5" not in page.text.lower(), (path, typed)
        for table in ("segments", "passages", "episode_list"):
            page = get(ds, f"/archive/{table}", _search=typed)
            assert page.status_code == 200 and "fts5" not in page.text.lower(), (table, typed)
    assert 'class="search-note"' not in get(ds, "/archive/search_transcripts", q="grit").text
    # Opening a stored search before typing anything shows its form, not an error.
    for name in ("search_transcripts", "search_episodes"):
        page = get(ds, f"/archive/{name}")
        assert page.status_code == 200 and 'class="params"' in page.text
        assert rows(ds, f"/archive/{name}.json", q="") == []


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ('"reverse interview"', '"reverse interview"'),
        ("grit OR resilience", "grit OR resilience"),
        ("transp*", "transp*"),
        ("(pay OR salary) AND range*", "(pay OR salary) AND range*"),
        ("don't", '"don\'t"'),
        ("grit OR hiring-manager*", 'grit OR "hiring-manager*"'),
        ('"don\'t stop" OR why?', '"don\'t stop" OR "why?"'),
        ('"unclosed', '"unclosed"'),
        ("(grit", '"grit"'),
        ("AND", '"AND"'),
        ("grit AND", '"grit" "AND"'),
        ("title: grit", '"title:" grit'),
        ("  ", ""),
    ],
)
def test_search_query_keeps_fts5_syntax_and_quotes_the_rest(typed, query):
    from ingest.datasette.plugin import search_query

    assert search_query(typed) == query


def test_search_links_to_the_second_the_words_are_said(ds):
    """The link points at most 2 s before the first matched word, not at the start of its
    line or passage; words typed without quotes land where they are said side by side."""
    for q, number, phrase in [
        ('"reverse interview"', 3, "reverse interview"),
        ("reverse interview", 3, "reverse interview"),
        ("grit", 3, "grit"),
        ('"pay transparency"', 4, "pay transparency"),
        ("stressful week", 3, "stressful week"),
    ]:
        found = rows(ds, "/archive/search_transcripts.json", q=q)
        best = next(r for r in found if r["episode"] == sample_title(number))
        said = first_said(number, phrase)
        second = wordtimes.link_second(said)
        assert said - 2 <= best["seconds"] == second <= said
        assert best["page"].endswith(f"#t={second}")
        assert best["at"] == f"{second // 60}:{second % 60:02d}"
        assert best["audio"] == f"https://example.com/audio/{number}.mp3"


def test_search_transcripts_filters(ds):
    everything = rows(ds, "/archive/search_transcripts.json", q="candidate*")
    assert len({r["episode"] for r in everything}) >= 3
    tagged = rows(ds, "/archive/search_transcripts.json", q="candidate*", topic="interviewing")
    assert {r["episode"] for r in tagged} == {sample_title(3), sample_title(5)}
    by_name = rows(ds, "/archive/search_transcripts.json", q="candidate*", topic="Interviewing")
    assert by_name == tagged
    early = rows(
        ds,
        "/archive/search_transcripts.json",
        q="candidate*",
        show="talk-talent-to-me",
        date_from="2023-03-01",
        date_to="2023-03-14",
    )
    assert early and all("2023-03-01" <= r["published"] <= "2023-03-14" for r in early)
    assert rows(ds, "/archive/search_transcripts.json", q="candidate*", show="no-such-show") == []


def test_search_episodes(ds):
    found = rows(ds, "/archive/search_episodes.json", q='"reverse interview"')
    assert found[0]["page"] == SITE + "episodes/" + found[0]["page"].split("/episodes/")[1]
    assert "<mark>Reverse Interview</mark>" in found[0]["episode"]
    assert "#t=" not in found[0]["page"]


def test_episodes_by_topic(ds):
    found = rows(ds, "/archive/episodes_by_topic.json", topic="interviewing")
    assert [r["episode"] for r in found] == [sample_title(3), sample_title(5)]
    assert found[0]["score"] == 0.9 and found[0]["moments"] >= 1
    assert rows(ds, "/archive/episodes_by_topic.json", topic="Pay transparency")[0][
        "episode"
    ] == sample_title(4)


def test_topic_moments(ds):
    found = rows(ds, "/archive/moments_for_topic.json", topic="interviewing")
    moment = next(r for r in found if r["episode"] == sample_title(3))
    second = int(first_line_with(3, "reverse interview"))
    assert moment["page"].endswith(f"#t={second}") and moment["seconds"] == second
    assert "reverse interview" in moment["passage"]
    assert rows(ds, "/archive/moments_for_topic.json", topic="interviewing", show="other") == []


def test_guests_and_their_episodes(ds):
    found = rows(ds, "/archive/guests.json")
    names = {r["guest"] for r in found}
    assert {"Viet Nguyen", "Sarah Miller"} <= names
    viet = rows(ds, "/archive/guests.json", name="viet")
    assert [(r["guest"], r["episode"]) for r in viet] == [("Viet Nguyen", sample_title(3))]
    assert viet[0]["appearances"] == 1 and viet[0]["page"].startswith(SITE + "episodes/")


def test_longest_and_newest_episodes(ds):
    longest = rows(ds, "/archive/longest_episodes.json")
    seconds = [r["seconds"] for r in longest]
    assert seconds == sorted(seconds, reverse=True)
    assert re.fullmatch(r"\d+:\d\d", longest[0]["length"])
    newest = rows(ds, "/archive/newest_episodes.json", show="talk-talent-to-me")
    dates = [r["published"] for r in newest if r["published"]]
    assert dates == sorted(dates, reverse=True) and len(dates) == len(load_sample().episodes)


# --- tables, facets, table search ------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "q", "expected"),
    [
        ("segments", '"reverse interview"', "reverse interview"),
        ("segments", "grit OR resilience", "grit"),
        ("segments", "transp*", "ransparency"),
        ("passages", '"reverse interview"', "reverse interview"),
    ],
)
def test_table_search_uses_raw_fts5_syntax(ds, table, q, expected):
    found = rows(ds, f"/archive/{table}.json", _search=q)
    assert found and all(expected in r["text"].lower() for r in found)


def test_episode_list_search_and_facets(ds):
    response = get(
        ds,
        "/archive/episode_list.json",
        _search='"reverse interview"',
    )
    data = response.json()
    assert [r[4] for r in data["rows"]] == [sample_title(3)]
    facets = get(ds, "/archive/episode_list.json").json()["facet_results"]
    assert {"show", "year", "topics", "transcript_source", "guests"} <= set(facets)
    topics = {f["value"]: f["count"] for f in facets["topics"]["results"]}
    assert topics["Interviewing"] == 2
    years = {f["value"] for f in facets["year"]["results"]}
    assert 2023 in years
    sources = {f["value"] for f in facets["transcript_source"]["results"]}
    assert {"asr", "publisher"} <= sources


def test_segment_times_render_as_minutes_and_seconds(ds):
    html = get(ds, "/archive/segments", _search="grit").text
    second = int(first_line_with(3, "grit"))
    # The start links to the episode page at that second.
    link = rf'<a href="{re.escape(SITE)}episodes/one-medical[^"]*/#t={second}">'
    assert re.search(link + f"{second // 60}:{second % 60:02d}</a>", html)
    moments = get(ds, "/archive/topic_moments").text
    assert re.search(rf'href="{re.escape(SITE)}episodes/[^"]+/#t=\d+">\d+:\d\d</a>', moments)


def test_stored_search_page_links_and_highlights(ds):
    html = get(ds, "/archive/search_transcripts", q='"reverse interview"').text
    second = wordtimes.link_second(first_said(3, "reverse interview"))
    assert re.search(rf'href="{re.escape(SITE)}episodes/[a-z0-9-]+/#t={second}"', html)
    assert "<mark>reverse interview</mark>" in html
    assert 'href="https://example.com/audio/3.mp3">audio</a>' in html


def test_episode_rows_link_to_pages_and_audio(ds):
    html = get(ds, "/archive/episode_list").text
    assert re.search(rf'<a href="{re.escape(SITE)}episodes/one-medical-s-reverse[^"]*/">', html)
    assert 'href="https://example.com/audio/3.mp3">audio</a>' in html


def test_html_in_titles_and_transcripts_is_escaped(ds):
    pages = [
        get(ds, "/archive/search_transcripts", q="tenacity").text,
        get(ds, "/archive/search_episodes", q="hostile").text,
        get(ds, "/archive/episode_list").text,
        get(ds, "/archive/episodes").text,
        get(ds, "/archive/segments", _search="tenacity").text,
        get(ds, "/archive/newest_episodes").text,
    ]
    for html in pages:
        assert "<script>alert(" not in html
        assert "<img src=x" not in html
        assert 'href="javascript:' not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[0]
    assert "&lt;script&gt;alert(" in pages[2]


# --- read-only by default --------------------------------------------------------------------


def test_arbitrary_sql_is_refused_by_default(ds, archive):
    assert get(ds, "/archive.json", sql="select count(*) from segments").status_code == 403
    assert get(ds, "/archive", sql="select 1").status_code == 403
    # Stored queries still run.
    assert get(ds, "/archive/newest_episodes.json").status_code == 200
    allowed = make_datasette(archive, base_url=SITE, allow_sql=True)
    response = get(
        allowed, "/archive.json", sql="select count(*) as n from episodes", _shape="array"
    )
    assert response.status_code == 200 and response.json() == [{"n": 6}]


def test_database_is_immutable_and_no_plugin_writes(ds, archive):
    databases = get(ds, "/-/databases.json").json()
    assert [(d["name"], d["is_mutable"]) for d in databases] == [("archive", False)]
    plugins = {p["name"] for p in get(ds, "/-/plugins.json").json()}
    assert plugins == {"ingest.datasette.plugin"}
    live = make_datasette(archive, base_url=SITE, live=True)
    assert get(live, "/-/databases.json").json()[0]["is_mutable"] is True


def test_datasette_starts_on_counts_taken_within_a_budget(archive, monkeypatch):
    """Datasette would count every table in full before its first answer (48 s at 30,000
    episodes); it is handed counts instead. A table too big for the budget shows no count
    on the database page, and its own page still counts it."""
    from ingest.datasette import counts

    ds = make_datasette(archive, base_url=SITE)
    handed = ds.databases["archive"].cached_table_counts
    assert handed["episodes"] == 6 and handed["segments"] > 0
    page = get(ds, "/archive.json").json()
    assert {t["name"]: t["count"] for t in page["tables"]}["episodes"] == 6

    monkeypatch.setattr(counts, "COUNT_MS", 0)
    monkeypatch.setattr(counts, "_STEPS", 1)  # look at the clock at once: every table is big
    too_big = make_datasette(archive, base_url=SITE)
    assert set(too_big.databases["archive"].cached_table_counts.values()) == {None}
    html = get(too_big, "/archive")
    assert html.status_code == 200 and "Many rows" in html.text
    table = get(too_big, "/archive/episodes.json", _size=1).json()
    assert table["filtered_table_rows_count"] == 6


def test_site_url_defaults_to_the_archive_configuration(archive):
    (archive.root / "podarchive.toml").write_text('base_url = "https://listen.example/"\n')
    found = rows(make_datasette(archive), "/archive/search_transcripts.json", q="grit")
    assert found[0]["page"].startswith("https://listen.example/episodes/")


# --- passages follow the segments ------------------------------------------------------------


def test_passages_are_rebuilt_when_segments_change(archive):
    db = archive.open_db()
    episode_id = db.execute("SELECT id FROM episodes WHERE guid = 'hostile'").fetchone()[0]
    assert search.stale_episodes(db) != []  # nothing has built passages yet
    search.refresh_passages(db)
    assert search.stale_episodes(db) == []
    transcript_store.save_transcript(
        db, episode_id, Transcript(segments=[Segment(0.0, 5.0, "a zeugma in the new text")])
    )
    assert search.stale_episodes(db) == [episode_id]
    db.conn.close()
    ds = make_datasette(archive, base_url=SITE)  # serving refreshes stale passages first
    assert [r["seconds"] for r in rows(ds, "/archive/search_transcripts.json", q="zeugma")] == [0]
    assert rows(ds, "/archive/search_transcripts.json", q="tenacity") == []


def test_window_segments_groups_whole_segments_with_offsets():
    segments = [
        {"id": i + 1, "start": i * 10.0, "end": i * 10.0 + 9.5, "text": f" line {i} "}
        for i in range(11)
    ]
    passages = search.window_segments(segments, seconds=45)
    assert [(p["first_segment_id"], p["last_segment_id"]) for p in passages] == [(1, 5), (6, 11)]
    first = passages[0]
    assert first["text"] == "line 0 line 1 line 2 line 3 line 4"
    marked = first["text"].replace("line 3", search.MATCH_MARK + "line 3")
    # Each word of a line without word timestamps is timed by its characters; the link
    # starts LEAD_SECONDS before it.
    assert search.match_time(first["offsets"], marked, first["start"]) == 30.0 - 0.5
    assert search.match_time(first["offsets"], first["text"], first["start"]) == 0.0
    # A short tail joins the passage before it.
    assert passages[1]["end"] == 109.5


# --- the command ------------------------------------------------------------------------------


def test_serve_refuses_a_folder_without_an_archive(tmp_path):
    from click.testing import CliRunner

    from ingest.cli import cli

    result = CliRunner().invoke(cli, ["--archive", str(tmp_path / "none"), "serve"])
    assert result.exit_code == 1
    assert "no archive database" in result.output


def test_a_running_ingest_is_detected(archive):
    from ingest.archive import archive_lock
    from ingest.datasette.serve import archive_in_use

    assert not archive_in_use(archive)
    with archive_lock(archive.root):
        assert archive_in_use(archive)


def test_a_reader_holding_old_data_makes_the_server_live(archive):
    """An immutable reader sees only the database file: if a reader on an older snapshot
    keeps new writes in the WAL, the server must read the WAL too."""
    import sqlite3

    reader = sqlite3.connect(archive.db_path)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM episodes").fetchone()  # holds this snapshot
        db = archive.open_db()
        with db.conn:
            db.execute("UPDATE episodes SET title = 'Renamed while read' WHERE guid = 'hostile'")
        db.conn.close()
        ds = make_datasette(archive, base_url=SITE)
        assert get(ds, "/-/databases.json").json()[0]["is_mutable"] is True
        found = rows(ds, "/archive/newest_episodes.json")
        assert "Renamed while read" in {r["episode"] for r in found}
    finally:
        reader.close()
    calm = make_datasette(archive, base_url=SITE)
    assert get(calm, "/-/databases.json").json()[0]["is_mutable"] is False
    assert "Renamed while read" in {
        r["episode"] for r in rows(calm, "/archive/newest_episodes.json")
    }


def test_stored_queries_do_not_hide_tables(archive):
    """A stored query named like a table would take over the table's URL."""
    from ingest.datasette.serve import load_metadata

    queries = set(load_metadata("/")["databases"]["archive"]["queries"])
    db = archive.open_db()
    names = set(db.table_names()) | set(db.view_names())
    db.conn.close()
    assert queries and not queries & names


# --- the host's view: topics apart from keyphrases, notes, audio, transcripts, site links ----


def _episode_id(archive, number: int) -> str:
    guid = next(e.guid for e in load_sample().episodes if e.number == number)
    db = archive.open_db()
    try:
        return db.execute("SELECT id FROM episodes WHERE guid = ?", [guid]).fetchone()[0]
    finally:
        db.conn.close()


def test_keyphrases_are_kept_apart_from_topics(archive):
    medical = _episode_id(archive, 3)
    db = archive.open_db()
    with db.conn:
        db["tags"].insert({"slug": "kp-viet-nguyen", "name": "viet nguyen", "kind": "keyphrase"})
        db["episode_tags"].insert(
            {"episode_id": medical, "tag_slug": "kp-viet-nguyen", "score": 0.96, "source": "kp"}
        )
    db.conn.close()
    ds = make_datasette(archive, base_url=SITE)
    facets = get(ds, "/archive/episode_list.json").json()["facet_results"]
    assert "viet nguyen" not in {f["value"] for f in facets["topics"]["results"]}
    listed = {r["title"]: r for r in rows(ds, "/archive/episode_list.json")}
    assert "viet nguyen" not in listed[sample_title(3)]["topics"]
    assert listed[sample_title(3)]["keyphrases"] == '["viet nguyen"]'
    assert "viet nguyen" not in {r["topic"] for r in rows(ds, "/archive/episode_topics.json")}
    assert [r["keyphrase"] for r in rows(ds, "/archive/episode_keyphrases.json")] == ["viet nguyen"]


def test_show_notes_render_as_sanitised_html(archive):
    db = archive.open_db()
    with db.conn:
        db.execute(
            "UPDATE episodes SET description_html = ? WHERE guid = 'hostile'",
            ['<p>Notes <a href="https://notes.example/">the page</a><script>alert(2)</script>'
             '<a href="javascript:alert(3)">x</a></p>'],
        )  # fmt: skip
    db.conn.close()
    html = get(make_datasette(archive, base_url=SITE), "/archive/episodes").text
    assert "&lt;p&gt;" not in html and "&lt;a href" not in html
    assert (
        '<a href="https://notes.example/" rel="nofollow noopener noreferrer">the page</a>' in html
    )
    assert "<script>alert(2)" not in html and "javascript:alert(3)" not in html


def test_audio_links_go_to_the_archived_copy(archive):
    medical = _episode_id(archive, 3)
    db = archive.open_db()
    with db.conn:
        db["episodes"].update(medical, {"audio_path": f"audio/talk-talent-to-me/{medical}.mp3"})
    db.conn.close()
    ds = make_datasette(archive, base_url=SITE)
    archived = f"{SITE}audio/talk-talent-to-me/{medical}.mp3"
    hit = rows(ds, "/archive/search_transcripts.json", q='"reverse interview"')[0]
    assert hit["audio"] == archived
    for path in ("/archive/episode_list", "/archive/episodes", "/archive/newest_episodes"):
        html = get(ds, path).text
        assert f'href="{archived}">audio</a>' in html, path
        # Episodes not downloaded keep the feed's enclosure.
        assert 'href="https://example.com/audio/4.mp3">audio</a>' in html, path


def test_read_a_transcript_gives_paragraphs_linked_to_the_page(ds):
    found = rows(ds, "/archive/read_transcript.json", episode="one medical")
    episode = next(e for e in load_sample().episodes if e.number == 3)
    assert 1 <= len(found) <= len(episode.script)
    seconds = [r["seconds"] for r in found]
    assert seconds == sorted(seconds) and seconds[0] == int(_segments(episode)[0].start)
    for r in found:
        assert r["page"].startswith(SITE + "episodes/one-medical") and r["page"].endswith(
            f"/#t={r['seconds']}"
        )
        assert r["at"] == f"{r['seconds'] // 60}:{r['seconds'] % 60:02d}"
    text = " ".join(r["text"] for r in found)
    assert all(line.text.strip() in text for line in episode.script)
    # Speakers show once the transcript has them (the sample's scripts name them).
    assert {r["speaker"] for r in found} <= {line.speaker for line in episode.script}
    # By slug or id too; nothing typed, nothing shown.
    slug = found[0]["page"].split("/episodes/")[1].split("/")[0]
    assert rows(ds, "/archive/read_transcript.json", episode=slug) == found
    assert rows(ds, "/archive/read_transcript.json", episode="") == []
    html = get(ds, "/archive/read_transcript", episode=slug).text
    assert re.search(rf'<a href="{re.escape(found[1]["page"])}">{found[1]["at"]}</a>', html)


def test_without_a_site_url_no_link_points_at_datasette(archive):
    for config in ("", 'base_url = "/ttm/"\n'):
        (archive.root / "podarchive.toml").write_text(config)
        ds = make_datasette(archive)
        hits = rows(ds, "/archive/search_transcripts.json", q="grit")
        assert hits and all(r["page"] is None for r in hits)
        for path, params in [
            ("/archive/search_transcripts", {"q": "grit"}),
            ("/archive/moments_for_topic", {"topic": "interviewing"}),
            ("/archive/read_transcript", {"episode": "one medical"}),
            ("/archive/episode_list", {}),
            ("/archive/segments", {"_search": "grit"}),
        ]:
            html = get(ds, path, **params).text
            assert not re.search(r'href="/(ttm/)?(episodes|audio)/', html), path
        assert "no site URL set" in get(ds, "/archive/search_transcripts", q="grit").text


def test_stored_queries_hide_their_sql_and_label_their_fields(ds):
    from ingest.datasette.serve import load_metadata

    queries = load_metadata(SITE)["databases"]["archive"]["queries"]
    for name, query in queries.items():
        assert query.get("hide_sql") is True, name
        html = get(ds, f"/archive/{name}").text
        assert 'id="sql-query"' not in html and "Run SQL" not in html, name
        assert f'value="{query["button"]}"' in html, name
        for param in query["params"]:
            label = query["labels"][param]
            assert re.search(rf'<label for="qp\d+">{re.escape(label)}</label>', html), name


def test_episode_chapters_and_soundbites_link_to_the_page_at_their_start(archive):
    from ingest.chapters.step import chapter_archive

    db = archive.open_db()
    assert chapter_archive(db, archive).failed == {}
    db.conn.close()
    ds = make_datasette(archive, base_url=SITE)
    chapters = rows(ds, "/archive/episode_chapters.json", _size="max")
    titles = {e.title for e in load_sample().episodes}
    assert titles <= {row["episode"] for row in chapters}
    assert all(row["source"] == "generated" and row["title"] for row in chapters)
    for path in ("/archive/episode_chapters", "/archive/soundbites"):
        html = get(ds, path).text
        assert re.search(rf'href="{re.escape(SITE)}episodes/[^"]+/#t=\d+">\d+:\d\d</a>', html)
