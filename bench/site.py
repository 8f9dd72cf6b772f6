"""Benchmark the static site on a synthetic archive of 1,000 episodes (or --episodes N).

Reports: full HTML build time, search index time, size and peak memory (the index is in shards,
see ingest/sitegen/search.py; the peak is the largest shard's Pagefind process), the rebuild
after one new episode (HTML and its shard re-indexed, files written), and search in headless
Chromium on a loopback server: time to the first result for three kinds of query, on a fresh
page (index shards loaded and merged) and typed into a page already open.
Targets at 10,000 episodes: index peak < 1.5 GB, one new episode < 15 s, full HTML < 60 s, first
result < 1 s (median of 10 queries).

    python bench/site.py                      # 1,000 episodes in a temporary folder
    python bench/site.py --episodes 10000 --keep /tmp/bench-site-10k   # generated once, reused
    python bench/site.py --episodes 300 --minutes 80 --skip-passages   # the budget by meaning:
                                     # 300 long episodes, < 10 MB before the first result, < 1 s
    python bench/site.py --episodes 10000 --keep /tmp/bench-site-10k --html-only  # pages only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.archive import Archive  # noqa: E402
from ingest.ids import episode_id_for, episode_slug_for  # noqa: E402
from ingest.records import Segment, Transcript  # noqa: E402
from ingest.transcribe.files import write_transcript  # noqa: E402

SEED = 7
SEGMENTS_PER_EPISODE = 360  # ~40 minutes of Whisper segments of ~6.5 s
_VOCABULARY = (
    "candidate interview hiring recruiter offer sourcing pipeline referral onboarding team "
    "manager culture feedback process role salary equity remote engineer talent brand "
    "diversity inclusion assessment structured question loop debrief rubric startup scale "
    "company growth market leadership coaching retention promotion calibration panel "
    "the a and to of in we you they it is was that this for on with as at be have"
)
WORDS = _VOCABULARY.split()
TOPICS = [
    ("interviewing", "Interviewing"),
    ("sourcing", "Sourcing"),
    ("employer-brand", "Employer brand"),
    ("diversity", "Diversity and inclusion"),
    ("compensation", "Compensation"),
    ("onboarding", "Onboarding"),
    ("remote-work", "Remote work"),
    ("recruiting-ops", "Recruiting operations"),
    ("leadership", "Leadership"),
    ("candidate-experience", "Candidate experience"),
    ("referrals", "Referrals"),
    ("assessment", "Assessment"),
]


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def add_episodes(
    archive: Archive,
    start: int,
    count: int,
    write_files: bool = True,
    segments_per_episode: int = SEGMENTS_PER_EPISODE,
) -> None:
    """Insert `count` synthetic episodes (numbered from `start`) with transcripts and tags."""
    db = archive.open_db()
    rng = random.Random(SEED + start)
    show_id = "talk-talent-to-me"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if not db["shows"].exists() or not db["shows"].count:
        db["shows"].insert(
            {
                "id": show_id,
                "feed_url": "https://feeds.example.com/ttm.xml",
                "title": "Talk Talent To Me",
                "description": "The recruiting podcast.",
                "added_at": now,
                "updated_at": now,
            }
        )
        db["tags"].insert_all(
            [{"slug": s, "name": n, "description": "", "kind": "topic"} for s, n in TOPICS]
        )
        db["people"].insert({"id": 1, "name": "Rob Stevenson"})
        db["show_people"].insert(
            {"show_id": show_id, "person_id": 1, "role": "host", "group_name": "cast"}
        )
    first = datetime(2015, 1, 6, 9, tzinfo=UTC)
    for number in range(start, start + count):
        guid = f"ttm-{number:05d}"
        episode_id = episode_id_for(show_id, guid)
        title = f"Episode {number}: {sentence(rng, 6)[:-1].title()}"
        segments = []
        t = 0.0
        speakers = ("Rob Stevenson", f"Guest {number}")
        for index in range(segments_per_episode):
            length = rng.uniform(4.0, 9.0)
            segments.append(
                Segment(t, t + length, sentence(rng, rng.randint(10, 22)), speakers[index // 6 % 2])
            )
            t += length
        with db.conn:
            db["episodes"].insert(
                {
                    "id": episode_id,
                    "show_id": show_id,
                    "guid": guid,
                    "slug": episode_slug_for(title, episode_id),
                    "title": title,
                    "published": (first + timedelta(days=7 * number)).isoformat(),
                    "description_html": f"<p>{sentence(rng, 40)}</p><ul><li>{sentence(rng, 8)}"
                    f"</li><li>{sentence(rng, 8)}</li></ul>",
                    "description_text": sentence(rng, 40),
                    "enclosure_url": f"https://cdn.example.com/ttm/{guid}.mp3",
                    "enclosure_type": "audio/mpeg",
                    "enclosure_length": 40_000_000,
                    "duration": int(t),
                    "episode_number": number,
                    "first_seen": now,
                    "updated_at": now,
                    "transcript_status": "done",
                    "transcript_language": "en",
                    "transcript_at": now,
                }
            )
            person_id = db["people"].insert({"name": f"Guest {number}"}).last_pk
            db["episode_people"].insert_all(
                [
                    {"episode_id": episode_id, "person_id": 1, "role": "host"},
                    {"episode_id": episode_id, "person_id": person_id, "role": "guest"},
                ]
            )
            db["segments"].insert_all(
                {
                    "episode_id": episode_id,
                    "idx": i,
                    "start": s.start,
                    "end": s.end,
                    "speaker": s.speaker,
                    "text": s.text,
                }
                for i, s in enumerate(segments)
            )
            for slug, _ in rng.sample(TOPICS, 3):
                db["episode_tags"].insert(
                    {"episode_id": episode_id, "tag_slug": slug, "score": rng.random()}
                    | {"source": "bench"}
                )
                for _ in range(2):
                    start_at = rng.uniform(0, t - 60)
                    db["topic_moments"].insert(
                        {"episode_id": episode_id, "tag_slug": slug, "start": start_at}
                        | {"end": start_at + 45, "score": rng.random()}
                    )
            db["chapters"].insert_all(
                {"episode_id": episode_id, "start": c * t / 5, "title": sentence(rng, 4)}
                | {"end": None, "url": None, "image_url": None}
                for c in range(5)
            )
        if write_files:
            write_transcript(
                archive.transcripts_dir,
                show_id,
                episode_id,
                Transcript(segments=segments, language="en", engine="bench"),
            )


def measure(code: str, archive: Path) -> dict:
    """Run one step in a fresh Python so peak memory is the step's own.

    CPU seconds (the step's and its children's, e.g. Pagefind) are reported beside wall time:
    on a shared machine the wall time mostly measures the other processes.
    """
    wrapper = (
        "import json, resource, sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from ingest.archive import Archive\n"
        f"archive = Archive.at({str(archive)!r})\n"
        "started = time.perf_counter()\n"
        f"{code}\n"
        "seconds = time.perf_counter() - started\n"
        "own, kids = (resource.getrusage(w) for w in"
        " (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
        "print(json.dumps({'seconds': seconds, 'result': result,"
        " 'cpu_seconds': own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,"
        " 'python_peak_mb': own.ru_maxrss / 1024, 'child_peak_mb': kids.ru_maxrss / 1024}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", wrapper], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


BASE_URL = "https://example.com/ttm/"
HTML_BUILD = (
    "from ingest.sitegen import step as sitegen\n"
    f"r = sitegen.build_site(archive.open_db(), archive, {BASE_URL!r}, search=False)\n"
    "result = {'written': len(r.written), 'outputs': r.outputs, 'errors': len(r.errors),"
    " 'phases': r.phases}"
)
FULL_BUILD = (
    "from ingest.sitegen import step as sitegen\n"
    f"r = sitegen.build_site(archive.open_db(), archive, {BASE_URL!r}, search=True)\n"
    "result = {'written': len(r.written), 'outputs': r.outputs, 'errors': len(r.errors),"
    " 'html_seconds': r.html_seconds, 'index_seconds': r.index_seconds,"
    " 'shards_indexed': len(r.shards_indexed), 'phases': r.phases}"
)
# Pagefind's Python API answers one request per 0.1 s poll, so records cost ~0.1 s each:
# this indexes one episode's passages and the report extrapolates to the whole archive.
INDEX_PASSAGES = """
import asyncio
from pagefind.index import PagefindIndex
from ingest.sitegen import data as site_data
db = archive.open_db()
data = site_data.load(db, archive)
e = site_data.with_transcript(db, data.episodes[0])
async def run():
    out = str(archive.root / 'pagefind-passages')
    async with PagefindIndex(config={'force_language': 'en', 'output_path': out}) as index:
        await asyncio.gather(*(index.add_custom_record(url=f"/{e['url']}#t={p['t']}",
            content=p['text'], language='en', meta={'title': e['title']},
            filters={'topic': [t['name'] for t in e['topics']]}) for p in e['passages']))
    return {'records': len(e['passages']),
            'archive_records': len(e['passages']) * len(data.episodes)}
result = asyncio.run(run())
"""


# Three kinds of query, ten in all: one word, several words, an exact phrase (all from the
# synthetic transcripts' vocabulary, so each matches many episodes, the slow case).
QUERIES = [
    "onboarding",
    "calibration",
    "rubric",
    "referral pipeline",
    "structured debrief",
    "remote engineer salary",
    "leadership coaching retention",
    '"hiring manager"',
    '"offer equity"',
    '"candidate feedback"',
]


def chromium_cpu_seconds() -> float:
    """CPU seconds (user and system) used so far by the Chromium processes alive now: on a
    shared machine a page's wall time mostly measures the other processes, its CPU does not."""
    import psutil

    total = 0.0
    for process in psutil.Process().children(recursive=True):
        try:
            if "chrom" in process.name():
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.Error:  # gone meanwhile
            continue
    return total


def search_latency(site: Path) -> dict:
    """Milliseconds to the first search result in Chromium: a fresh page per query (time
    from navigation) and the same queries typed into an open page; medians and worst. Beside
    them Chromium's CPU seconds per fresh-page query (page load included)."""
    from playwright.sync_api import sync_playwright

    from ingest.sitegen.server import StaticServer
    from tests.browser import launch

    first_result = (
        "() => new Promise((done, fail) => { setTimeout(() => fail(new Error("
        "document.getElementById('search-status').textContent || 'no result')), 60000);"
        " const check = () => document.querySelector('#search-results li') ?"
        " done(performance.now()) : requestAnimationFrame(check); check(); })"
    )
    server = StaticServer(site, base_path=urlsplit(BASE_URL).path).start()
    cold, cpu = [], []
    try:
        with sync_playwright() as p:
            browser = launch(p)
            for query in QUERIES:
                page = browser.new_page()
                before = chromium_cpu_seconds()
                page.goto(server.url("search/") + "?" + urlencode({"q": query}))
                cold.append(page.evaluate(first_result))
                cpu.append(chromium_cpu_seconds() - before)
                page.close()
            warm = searches_on_an_open_page(browser, server.url("search/"), QUERIES, first_result)
            browser.close()
    finally:
        server.stop()
    return {
        "fresh_page_median_ms": round(statistics.median(cold)),
        "fresh_page_worst_ms": round(max(cold)),
        "fresh_page_cpu_median_s": round(statistics.median(cpu), 2),
        "fresh_page_cpu_worst_s": round(max(cpu), 2),
        "open_page_median_ms": round(statistics.median(warm)),
        "open_page_worst_ms": round(max(warm)),
        "queries": len(QUERIES),
    }


# Queries by meaning: plain words, none quoted (the synthetic talk is random words, so these
# measure bytes and time, not relevance: bench/relevance.py measures that).
MEANING_QUERIES = [
    "how do we keep engineers from leaving",
    "paying people fairly for the same job",
    "finding candidates through the people you already employ",
    "what a new hire does in the first week",
    "coaching managers to give better feedback",
]
_FIRST_BY_MEANING = (
    "() => new Promise((done, fail) => { setTimeout(() => fail(new Error("
    "document.getElementById('search-status').textContent || 'no result')), 60000);"
    " const check = () => document.querySelector('#search-results .by-meaning') ?"
    " done(performance.now()) : requestAnimationFrame(check); check(); })"
)


# The search finished: both halves in, the fused list shown (on a fresh page the results by
# meaning come first, and this list replaces them).
_SEARCH_DONE = (
    "() => new Promise((done, fail) => { setTimeout(() => fail(new Error("
    "document.getElementById('search-status').textContent || 'not done')), 60000);"
    " const check = () => document.getElementById('search-form').dataset.state === 'done' ?"
    " done(performance.now()) : requestAnimationFrame(check); check(); })"
)


def count_responses(page) -> dict:
    """Bytes of every response the page and its workers receive, by URL, as they come (a
    fresh context each time, so nothing comes from the cache). Pagefind fetches from its
    worker, which the page's own resource timings leave out (0.7-1 MB at 300 long episodes).
    """
    sizes: dict[str, int] = {}

    page.on(
        "response", lambda r: sizes.__setitem__(r.url, int(r.headers.get("content-length") or 0))
    )
    return sizes


def searches_on_an_open_page(browser, search_url: str, queries, first_result_js: str) -> list:
    """Milliseconds from pressing Enter to the first result (`first_result_js` says which), per
    query typed into one search page left open: its index and model already loaded."""
    page = browser.new_page()
    page.goto(search_url)
    times = []
    for query in queries:
        page.evaluate("() => document.getElementById('search-results').replaceChildren()")
        started = page.evaluate("() => performance.now()")
        page.fill("#q", query)
        page.press("#q", "Enter")
        times.append(page.evaluate(first_result_js) - started)
    page.close()
    return times


def meaning_latency(site: Path) -> dict:
    """Search by meaning in Chromium: per query on a fresh page, the bytes fetched until the
    first result by meaning is shown, the time to it from navigation and the time to the fused
    list (words and meaning); then the same queries typed into an open page."""
    from playwright.sync_api import sync_playwright

    from ingest.sitegen.server import StaticServer
    from tests.browser import launch

    server = StaticServer(site, base_path=urlsplit(BASE_URL).path).start()
    cold, fetched, cpu, finished = [], [], [], []
    try:
        with sync_playwright() as p:
            browser = launch(p)
            for query in MEANING_QUERIES:
                context = browser.new_context()
                page = context.new_page()
                sizes = count_responses(page)
                before = chromium_cpu_seconds()
                page.goto(server.url("search/") + "?" + urlencode({"q": query}))
                cold.append(page.evaluate(_FIRST_BY_MEANING))
                cpu.append(chromium_cpu_seconds() - before)
                fetched.append(sum(sizes.values()))
                finished.append(page.evaluate(_SEARCH_DONE))
                context.close()
            warm = searches_on_an_open_page(
                browser, server.url("search/"), MEANING_QUERIES, _FIRST_BY_MEANING
            )
            browser.close()
    finally:
        server.stop()
    semantic = site / "semantic"
    return {
        "first_query_mb_fetched_median": round(statistics.median(fetched) / 1e6, 2),
        "first_query_mb_fetched_worst": round(max(fetched) / 1e6, 2),
        "fresh_page_median_ms": round(statistics.median(cold)),
        "fresh_page_worst_ms": round(max(cold)),
        "fresh_page_cpu_median_s": round(statistics.median(cpu), 2),
        "fresh_page_fused_median_ms": round(statistics.median(finished)),
        "fresh_page_fused_worst_ms": round(max(finished)),
        "open_page_median_ms": round(statistics.median(warm)),
        "open_page_worst_ms": round(max(warm)),
        "model_mb": round((semantic / "model.bin").stat().st_size / 1e6, 2),
        "vectors_mb": round(sum(f.stat().st_size for f in semantic.glob("*/vectors.bin")) / 1e6, 2),
        "queries": len(MEANING_QUERIES),
    }


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def step(figures: dict, name: str, code: str, root: Path) -> dict:
    """Measure one step, record it and show the figures so far (a long run can be watched)."""
    figures[name] = measure(code, root)
    figures[name]["load_1min"] = os.getloadavg()[0]  # wall time on a shared machine follows it
    print(json.dumps({name: figures[name]}), file=sys.stderr, flush=True)
    return figures[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="Archive folder to reuse (kept afterwards).")
    parser.add_argument("--skip-passages", action="store_true", help="Skip the per-passage index.")
    parser.add_argument(
        "--minutes", type=int, default=40, help="Length of each synthetic episode (new archives)."
    )
    parser.add_argument(
        "--html-only",
        action="store_true",
        help="Only the HTML: full, no-change and one-new-episode builds (no index, no browser).",
    )
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-site-"))
    archive = Archive.at(root)
    figures: dict = {"episodes": args.episodes, "load_before": os.getloadavg()}
    if not archive.db_path.exists():
        started = time.perf_counter()
        add_episodes(archive, 1, args.episodes, segments_per_episode=args.minutes * 9)
        figures["setup_seconds"] = round(time.perf_counter() - started, 1)
    shutil.rmtree(archive.site_dir, ignore_errors=True)
    db = archive.open_db()
    figures["episodes"] = db["episodes"].count
    figures["segments"] = db["segments"].count
    figures["transcript_mb"] = round(
        db.execute("SELECT sum(length(text)) FROM segments").fetchone()[0] / 1e6, 1
    )

    step(figures, "full_html", HTML_BUILD, root)
    if args.html_only:
        step(figures, "noop_rebuild_html", HTML_BUILD, root)
        add_episodes(archive, db["episodes"].count + 1, 1)
        step(figures, "one_new_episode_html", HTML_BUILD, root)
        figures["load_after"] = os.getloadavg()
        print(json.dumps(figures, indent=1))
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        return
    # The pages are there: this indexes every shard (and rewrites no page).
    step(figures, "index_all_shards", FULL_BUILD, root)
    figures["index_all_shards"]["size_mb"] = round(folder_mb(archive.site_dir / "pagefind"), 1)
    step(figures, "noop_rebuild", FULL_BUILD, root)
    add_episodes(archive, db["episodes"].count + 1, 1)
    step(figures, "one_new_episode", FULL_BUILD, root)
    figures["search_in_chromium"] = search_latency(archive.site_dir)
    print(json.dumps({"search_in_chromium": figures["search_in_chromium"]}), file=sys.stderr)
    figures["meaning_in_chromium"] = meaning_latency(archive.site_dir)
    print(json.dumps({"meaning_in_chromium": figures["meaning_in_chromium"]}), file=sys.stderr)
    if not args.skip_passages:
        passages = step(figures, "index_per_passage", INDEX_PASSAGES, root)
        per_record = passages["seconds"] / passages["result"]["records"]
        passages["extrapolated_archive_hours"] = round(
            per_record * passages["result"]["archive_records"] / 3600, 1
        )
    figures["site_mb_without_index"] = round(
        folder_mb(archive.site_dir) - folder_mb(archive.site_dir / "pagefind"), 1
    )
    figures["load_after"] = os.getloadavg()
    print(json.dumps(figures, indent=1))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
