"""Time transcript search on a synthetic archive the size of a long-running show.

Builds (once, cached under /tmp) 3,000 episodes of 45 minutes, about 20 million words of
transcript drawn from a Zipf-distributed vocabulary with recruiting phrases mixed in, then times
the stored search queries through Datasette's JSON API (in-process client, and a few over HTTP
against `podarchive serve` to show the transport's share).

    python bench/search.py                 # build or reuse /tmp/podarchive-bench, print the table
    python bench/search.py --rebuild       # regenerate the archive first
    python bench/search.py --episodes 300  # a smaller archive (its own cache folder)

Target (issue 6): every query under 100 ms median and 300 ms worst.

Search by meaning (issue 21), with `--hybrid`: every passage gets a vector (random unit
vectors, seeded: a brute-force scan costs the same whatever the vectors say; the query is
embedded for real), then the hybrid stored query is timed through Datasette (warm, as
`serve` is after its start; then CLIENTS searching at once), `podarchive search` is timed
as a user runs it (a new process each time, start-up included) in lexical and hybrid mode
and its query alone once started, and the vector scan itself is timed with NumPy over
float32 rows and with sqlite-vec's vec0 (through the sqlite3 command-line shell: this
Python's sqlite3 cannot load extensions).

    python bench/search.py --hybrid --no-http                # 3,000 episodes
    python bench/search.py --hybrid --no-http --episodes 300  # the command line's 300
    python bench/search.py --hybrid --no-http --episodes 30000  # a network of shows (issue 19)

Above 400,000 passages (about 7,000 episodes) search by meaning scans the vectors' signs
first (ingest.search.shortlist): the 30,000-episode archive's 1.7 million passages take that
path, and the "Vector scan" line beside it is the full float32 scan it replaces. The archive
of 30,000 episodes takes about 26 minutes to generate and 15 GB of disk.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

EPISODES = 3000
EPISODE_SECONDS = 45 * 60
WORDS_PER_SECOND = 2.5  # conversational speech: 150 words a minute
SHOWS = ("Talk Talent To Me", "Hiring Hour", "People Ops Weekly")
SEED = 20260501
RUNS = 15

COMMON_WORDS = (
    "the be to of and a in that have I it for not on with he as you do at this but his by "
    "from they we say her she or an will my one all would there their what so up out if about "
    "who get which go me when make can like time no just him know take people into year your "
    "good some could them see other than then now look only come its over think also back after "
    "use two how our work first well way even new want because any these give day most us is "
    "are was were been has had did said really actually think thing things kind sort lot right "
    "yeah okay mean team company role job hire hiring candidate candidates recruiter recruiters "
    "interview interviews manager managers process talent offer culture"
)
DOMAIN_WORDS = (
    "onboarding sourcing pipeline referral referrals compensation equity diversity inclusion "
    "belonging headcount requisition scorecard rubric debrief calibration assessment screening "
    "outreach inbound outbound employer brand retention attrition promotion leadership coaching "
    "feedback negotiation benefits remote hybrid office startup growth layoffs market budget "
    "metrics funnel conversion quality speed fairness bias structured unstructured panel "
    "takehome portfolio engineering sales design product operations finance legal executive "
    "search agency contract internal mobility apprenticeship bootcamp university campus "
    "internship grit resilience curiosity humility ownership transparency transparent "
    "transparently transport transpose transplant"
)
PHRASES = (
    "reverse interview",
    "candidate experience",
    "employer brand",
    "hiring manager",
    "structured interview",
    "time to hire",
    "offer acceptance rate",
    "diversity sourcing",
    "grit and resilience",
)
TOPICS = (
    ("candidate-experience", "Candidate experience"),
    ("employer-brand", "Employer brand"),
    ("sourcing", "Sourcing"),
    ("interviewing", "Interviewing"),
    ("diversity", "Diversity and inclusion"),
    ("compensation", "Compensation"),
    ("remote-work", "Remote work"),
    ("recruiting-ops", "Recruiting operations"),
    ("leadership", "Leadership"),
    ("early-careers", "Early careers"),
    ("startups", "Startups"),
    ("retention", "Retention"),
)
# A word that appears a few dozen times in the whole archive (the "rare term" query).
RARE_WORD = "zymurgy"

# Bump when the generator changes, so a stale cached archive is not reused.
GENERATOR_VERSION = 2  # 2: words timed in passages (m110)

QUERIES = (
    ("rare term", {"q": RARE_WORD}),
    ("common term", {"q": "people"}),
    ("stop word", {"q": "the"}),
    ("phrase", {"q": '"reverse interview"'}),
    ("prefix", {"q": "transp*"}),
    ("two terms, OR", {"q": "grit OR resilience"}),
    ("two terms, AND", {"q": "hiring manager"}),
    ("topic filter", {"q": "people", "topic": "sourcing"}),
    # Not one of the queries: a stop word within a topic, ranked among the newest
    # 10,000 matches of the topic's passages (a sixth of the archive).
    ("topic filter, stop word (stress)", {"q": "the", "topic": "sourcing"}),
    (
        "show + date range",
        {
            "q": "candidate",
            "show": "hiring-hour",
            "date_from": "2020-01-01",
            "date_to": "2022-12-31",
        },
    ),
)
# The naive plan for comparison (run on sqlite3 directly): rank every matching segment.
NAIVE_SQL = (
    "select rowid, snippet(segments_fts, 0, '<mark>', '</mark>', '…', 32) as snippet"
    " from segments_fts where segments_fts match :q order by rank limit 50"
)
NAIVE_QUERIES = (
    ("naive segments_fts: common term", "people"),
    ("naive segments_fts: stop word", "the"),
)


def _vocabulary(rng: np.random.Generator, size: int = 20_000) -> list[str]:
    """Common words first (highest Zipf rank), then domain words, then made-up rare words."""
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
    words = list(dict.fromkeys(f"{COMMON_WORDS} {DOMAIN_WORDS}".split()))
    seen = set(words)
    while len(words) < size:
        n = rng.integers(2, 5)
        word = "".join(rng.choice(syllables, size=n))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def build_archive(root: Path, episodes: int) -> Path:
    """Write a synthetic archive database under `root`; return the database path."""
    from ingest import store
    from ingest.store import search

    root.mkdir(parents=True, exist_ok=True)
    db_path = root / "archive.db"
    partial = root / "archive.db.partial"
    for path in root.glob("archive.db*"):
        path.unlink()
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    vocab = _vocabulary(rng)
    ranks = np.arange(1, len(vocab) + 1)
    probs = 1.0 / ranks**1.07
    probs /= probs.sum()
    vocab_arr = np.array(vocab, dtype=object)

    db = store.open_db(partial)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    now = store.now()
    conn = db.conn
    with conn:
        for title in SHOWS:
            slug = title.lower().replace(" ", "-")
            conn.execute(
                "INSERT INTO shows (id, feed_url, title, added_at, updated_at) VALUES (?,?,?,?,?)",
                [slug, f"https://example.com/{slug}.xml", title, now, now],
            )
        conn.executemany("INSERT INTO tags (slug, name) VALUES (?, ?)", [(s, n) for s, n in TOPICS])
        guests = [f"Guest {i}" for i in range(episodes)]
        conn.executemany("INSERT INTO people (id, name) VALUES (?, ?)", enumerate(guests, 1))

    per_episode_words = int(EPISODE_SECONDS * WORDS_PER_SECOND)
    seg_id = 0
    for first in range(0, episodes, 250):
        batch = range(first, min(first + 250, episodes))
        words = vocab_arr[rng.choice(len(vocab), size=per_episode_words * len(batch), p=probs)]
        episode_rows, segment_rows, tag_rows, moment_rows, people_rows = [], [], [], [], []
        cursor = 0
        for n in batch:
            show = SHOWS[n % len(SHOWS)].lower().replace(" ", "-")
            episode_id = f"ep{n:05d}"
            year = 2015 + n * 10 // episodes
            published = f"{year}-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00+00:00"
            episode_rows.append(
                (
                    episode_id,
                    show,
                    f"guid-{n}",
                    f"episode-{n}-{episode_id}",
                    f"Episode {n}: {' '.join(words[cursor : cursor + 5])}",
                    published,
                    f"Guest {n} on {' '.join(words[cursor + 5 : cursor + 30])}",
                    f"https://example.com/audio/{episode_id}.mp3",
                    EPISODE_SECONDS,
                    "asr" if n % 5 else "publisher",
                    "done",
                    now,
                    now,
                )
            )
            people_rows.append((episode_id, n + 1))
            t, idx = 0.0, 0
            while t < EPISODE_SECONDS:
                length = float(rng.uniform(3.0, 9.0))
                count = max(1, int(length * WORDS_PER_SECOND))
                text_words = list(words[cursor : cursor + count])
                cursor = (cursor + count) % (len(words) - 40)
                if rng.random() < 0.04:
                    phrase = PHRASES[int(rng.integers(len(PHRASES)))]
                    text_words.insert(int(rng.integers(len(text_words) + 1)), phrase)
                if rng.random() < 0.00003 * 2:
                    text_words.append(RARE_WORD)
                seg_id += 1
                segment_rows.append(
                    (
                        seg_id,
                        episode_id,
                        idx,
                        round(t, 2),
                        round(t + length, 2),
                        " ".join(text_words),
                    )
                )
                t += length
                idx += 1
            for k in rng.choice(len(TOPICS), size=int(rng.integers(1, 4)), replace=False):
                slug = TOPICS[int(k)][0]
                tag_rows.append((episode_id, slug, float(rng.uniform(0.3, 1.0)), "lexical"))
                for _ in range(3):
                    start = float(rng.uniform(0, EPISODE_SECONDS - 60))
                    moment_rows.append(
                        (episode_id, slug, start, start + 60, float(rng.uniform(0.3, 1.0)))
                    )
        with conn:
            conn.executemany(
                "INSERT INTO episodes (id, show_id, guid, slug, title, published, description_text,"
                " enclosure_url, duration, transcript_source, transcript_status, first_seen,"
                " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                episode_rows,
            )
            conn.executemany(
                "INSERT INTO segments (id, episode_id, idx, start, end, text) VALUES (?,?,?,?,?,?)",
                segment_rows,
            )
            conn.executemany(
                "INSERT INTO episode_tags (episode_id, tag_slug, score, source) VALUES (?,?,?,?)",
                tag_rows,
            )
            conn.executemany(
                "INSERT INTO topic_moments (episode_id, tag_slug, start, end, score)"
                " VALUES (?,?,?,?,?)",
                moment_rows,
            )
            conn.executemany(
                "INSERT INTO episode_people (episode_id, person_id, role) VALUES (?, ?, 'guest')",
                people_rows,
            )
        print(
            f"  {batch.stop} episodes, {seg_id:,} segments, {time.perf_counter() - started:.0f} s"
        )
    search.refresh_passages(db)
    print(f"  passages built, {time.perf_counter() - started:.0f} s")
    search.optimize_indexes(db)
    db.execute("PRAGMA journal_mode = DELETE")
    db.conn.close()
    partial.rename(db_path)
    print(f"  archive ready in {time.perf_counter() - started:.0f} s: {db_path}")
    return db_path


def _count_matches(db_path: Path, q: str) -> int:
    conn = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    try:
        sql = "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?"
        return conn.execute(sql, [f"text : ({q})"]).fetchone()[0]
    finally:
        conn.close()


async def _time_in_process(
    ds, path: str, params: dict, runs: int
) -> tuple[list[float], int, list[float]]:
    """Wall-clock seconds and rows per request, plus the CPU seconds this process spent on it
    (all threads: Datasette runs SQL in a thread pool), which other load on the machine does
    not inflate the way it does wall-clock time."""
    times, rows, cpu = [], 0, []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = await ds.client.get(path, params=params | {"_shape": "array"})
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        # Datasette answers 400 when a query outlives sql_time_limit_ms (1 s).
        rows = len(response.json()) if response.status_code == 200 else -1
    return times, rows, cpu


def _time_naive(db_path: Path, runs: int) -> list[tuple[str, dict, list[float], int]]:
    """The naive plan straight on SQLite (Datasette's 1 s time limit would cut it short)."""
    conn = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    results = []
    try:
        for label, q in NAIVE_QUERIES:
            times, rows = [], 0
            for _ in range(runs):
                started = time.perf_counter()
                rows = len(conn.execute(NAIVE_SQL, {"q": q}).fetchall())
                times.append(time.perf_counter() - started)
            results.append((label, {"q": q}, times, rows))
    finally:
        conn.close()
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _time_over_http(root: Path, runs: int) -> dict[str, float]:
    """Median seconds per query against a real `podarchive serve` (uvicorn) on a free port."""
    import httpx

    port = _free_port()
    command = [sys.executable, "-m", "ingest.cli", "--archive", str(root), "serve"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--site-url", "https://example.com/"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    medians = {}
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/-/versions.json").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("podarchive serve did not start")
                time.sleep(0.1)
            client.get("/archive.json")  # first request counts the tables
            for label, params in QUERIES:
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    client.get(
                        "/archive/search_transcripts.json", params=params | {"_shape": "array"}
                    )
                    times.append(time.perf_counter() - started)
                medians[label] = statistics.median(times)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return medians


def run(root: Path, runs: int, http: bool) -> None:
    from ingest.archive import Archive
    from ingest.datasette.serve import make_datasette

    db_path = root / "archive.db"
    ds = make_datasette(Archive.at(root), base_url="https://example.com/")

    async def measure():
        started = time.perf_counter()
        await ds.client.get("/archive.json")
        startup = time.perf_counter() - started
        results = []
        for label, params in QUERIES:
            await _time_in_process(ds, "/archive/search_transcripts.json", params, 1)  # warm
            times, rows, cpu = await _time_in_process(
                ds, "/archive/search_transcripts.json", params, runs
            )
            results.append((label, params, times, rows, cpu))
        return startup, results

    startup, results = asyncio.run(measure())
    naive = _time_naive(db_path, max(3, runs // 5))
    over_http = _time_over_http(root, max(5, runs // 3)) if http else {}

    conn = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    counts = {
        table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("episodes", "segments", "passages")
    }
    conn.close()
    load = os.getloadavg()
    print(
        f"\nArchive: {counts['episodes']:,} episodes, {counts['segments']:,} segments, "
        f"{counts['passages']:,} passages, {db_path.stat().st_size / 2**20:,.0f} MiB; "
        f"SQLite {sqlite3.sqlite_version}; {runs} runs per query; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)"
    )
    print(f"First request after start-up: {startup * 1000:.0f} ms\n")
    print(
        "| query | parameters | passages matching | rows | median ms | worst ms"
        " | CPU median ms | HTTP median ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    failed = []
    for label, params, times, rows, cpu in results:
        median, worst = statistics.median(times) * 1000, max(times) * 1000
        if (median >= 100 or worst >= 300 or rows < 0) and not label.endswith("(stress)"):
            failed.append(label)
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        http_ms = f"{over_http[label] * 1000:.0f}" if label in over_http else "-"
        matches = _count_matches(db_path, params["q"])
        print(
            f"| {label} | `{shown}` | {matches:,} | {rows} | {median:.0f} | {worst:.0f} |", end=""
        )
        print(f" {statistics.median(cpu) * 1000:.0f} | {http_ms} |")
    for label, params, times, rows in naive:
        median, worst = statistics.median(times) * 1000, max(times) * 1000
        shown = f"q={params['q']}"
        print(
            f"| {label} (reference) | `{shown}` | - | {rows} | {median:.0f} | {worst:.0f} | - | - |"
        )
    print(
        "\nTarget: median < 100 ms and worst < 300 ms for every search_transcripts query: "
        + ("met." if not failed else f"missed by {', '.join(failed)}.")
    )


HYBRID_QUERIES = (
    ("paraphrase", {"q": "how do candidates interview the company", "mode": "hybrid"}),
    # A question most of whose words are common: 1,175 of 1.7 million passages hold all eight.
    ("question", {"q": "what do you look for in a candidate", "mode": "hybrid"}),
    ("words", {"q": "hiring manager", "mode": "hybrid"}),
    ("rare term", {"q": RARE_WORD, "mode": "hybrid"}),
    ("semantic only", {"q": "people who leave after a bad first week", "mode": "semantic"}),
)
CLI_QUERIES = (
    ("lexical", ["hiring manager", "--mode", "lexical"]),
    ("hybrid", ["how do candidates interview the company"]),
)


def add_vectors(db_path: Path) -> float:
    """Give every passage without one a seeded random unit vector, and each of its sentences
    (as search cuts them) one too, stored as `tag` stores them; return the seconds."""
    from ingest import embed, store
    from ingest.search.hybrid import passage_sentences
    from ingest.store import vectors as stored

    started = time.perf_counter()
    stored_db = store.open_db(db_path)  # migrated: an archive cached before m170 gains its table
    conn = stored_db.conn
    rng = np.random.default_rng(SEED)

    def unit_rows(count: int) -> np.ndarray:
        rows = rng.standard_normal((count, embed.DIMENSION)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    rows = conn.execute(
        "SELECT p.id, p.episode_id FROM passages p"
        " LEFT JOIN passage_vectors v ON v.passage_id = p.id WHERE v.passage_id IS NULL"
    ).fetchall()
    for first in range(0, len(rows), 20_000):
        batch = rows[first : first + 20_000]
        vectors = unit_rows(len(batch))
        with conn:
            conn.executemany(
                "INSERT INTO passage_vectors (passage_id, episode_id, model, vector)"
                " VALUES (?, ?, ?, ?)",
                [
                    (pid, episode, embed.MODEL_ID, vectors[k].astype("<f2").tobytes())
                    for k, (pid, episode) in enumerate(batch)
                ],
            )
    todo = stored.passages_without_sentences(stored_db, embed.MODEL_ID)
    for first in range(0, len(todo), 5_000):
        batch = todo[first : first + 5_000]
        stored.save_sentence_vectors(
            stored_db,
            embed.MODEL_ID,
            [(pid, unit_rows(len(passage_sentences(text)))) for pid, _, text in batch],
        )
    conn.close()
    return time.perf_counter() - started


def _time_cli(root: Path, runs: int) -> list[tuple[str, list[float], list[float]]]:
    """Wall and CPU seconds of `podarchive search`, a fresh process per run (start-up
    included); CPU is what other load on the machine does not inflate."""
    import resource

    results = []
    for label, args in CLI_QUERIES:
        times, cpu = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "ingest.cli", "--archive", str(root), "search", *args],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        results.append((label, times, cpu))
    return results


def _time_cli_in_process(root: Path, runs: int) -> list[tuple[str, list[float]]]:
    """Seconds of the CLI's own search call (ingest.search.query.search_archive) once the
    process has started and loaded the model and vectors: what a query costs beyond start-up."""
    from ingest.archive import Archive
    from ingest.search import query

    archive = Archive.at(root)
    results = []
    for label, args in CLI_QUERIES:
        mode = args[args.index("--mode") + 1] if "--mode" in args else "hybrid"
        query.search_archive(archive, args[0], mode=mode)  # start-up: the model and vectors
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            query.search_archive(archive, args[0], mode=mode)
            times.append(time.perf_counter() - started)
        results.append((label, times))
    return results


def _time_vector_scans(db_path: Path, runs: int) -> dict[str, float | str]:
    """Median ms of a top-50 scan over every vector: NumPy float32, and sqlite-vec vec0."""
    from ingest.store import vectors

    conn = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    started = time.perf_counter()
    ids, matrix = vectors.load_matrix(conn, "all-MiniLM-L6-v2-onnx-int8")
    result: dict[str, float | str] = {"load_ms": (time.perf_counter() - started) * 1000}
    conn.close()
    query = matrix[0]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        scores = matrix @ query
        top = np.argpartition(-scores, 49)[:50]
        top[np.argsort(-scores[top])]
        times.append(time.perf_counter() - started)
    result["numpy_ms"] = statistics.median(times) * 1000
    result["memory_mib"] = matrix.nbytes / 2**20
    result["sqlite_vec"] = _time_sqlite_vec(matrix, runs)
    return result


def _time_sqlite_vec(matrix: np.ndarray, runs: int) -> str:
    """The same scan in sqlite-vec's vec0 (brute force, float32), through the sqlite3 shell."""
    import shutil as shell_tools
    import tempfile

    try:
        import sqlite_vec
    except ImportError:
        return "not measured (pip install sqlite-vec)"
    shell = shell_tools.which("sqlite3")
    if not shell:
        return "not measured (no sqlite3 shell)"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vec.db"
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE f32 (id INTEGER PRIMARY KEY, v BLOB)")
        conn.executemany(
            "INSERT INTO f32 VALUES (?, ?)", ((i, row.tobytes()) for i, row in enumerate(matrix))
        )
        conn.commit()
        conn.close()
        extension = sqlite_vec.loadable_path()
        dim = matrix.shape[1]
        script = (
            f".load {extension}\n"
            f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{dim}]);\n"
            "INSERT INTO v(rowid, embedding) SELECT id, v FROM f32;\n"
            ".timer on\n" + "SELECT count(*) FROM (SELECT rowid FROM v WHERE embedding MATCH"
            " (SELECT v FROM f32 WHERE id = 0) AND k = 50);\n" * runs
        )
        out = subprocess.run(
            [shell, str(path)], input=script, capture_output=True, text=True, check=False
        )
        reals = [float(m) for m in re.findall(r"Run Time: real ([0-9.]+)", out.stdout)]
        if not reals:
            return f"failed: {out.stderr.strip()[:200]}"
        return f"{statistics.median(reals) * 1000:.0f} ms median ({len(reals)} runs)"


# Several people searching by meaning at once, each asking again as soon as answered.
CLIENTS = 10
CLIENT_SECONDS = 10.0


async def _time_concurrently(ds, clients: int, seconds: float) -> dict:
    """Requests answered, failed (Datasette's SQL time limit among them) and p50/p99 wall
    seconds of `search_by_meaning` while `clients` ask in turn through HYBRID_QUERIES."""
    results: list[tuple[int, float]] = []

    async def client(first: int) -> None:
        end = time.perf_counter() + seconds
        turn = first
        while time.perf_counter() < end:
            params = HYBRID_QUERIES[turn % len(HYBRID_QUERIES)][1]
            turn += 1
            started = time.perf_counter()
            response = await ds.client.get(
                "/archive/search_by_meaning.json", params=params | {"_shape": "array"}
            )
            results.append((response.status_code, time.perf_counter() - started))

    await asyncio.gather(*(client(n) for n in range(clients)))
    times = sorted(t for _, t in results)
    return {
        "requests": len(results),
        "failed": sum(1 for status, _ in results if status != 200),
        "p50": times[len(times) // 2],
        "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
    }


def run_hybrid(root: Path, runs: int) -> None:
    from ingest.archive import Archive
    from ingest.datasette.serve import make_datasette

    db_path = root / "archive.db"
    seconds = add_vectors(db_path)
    conn = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    passages, vector_bytes = conn.execute(
        "SELECT count(*), total(length(vector)) FROM passage_vectors"
    ).fetchone()
    sentences, sentence_bytes = conn.execute(
        "SELECT total(count), total(length(vectors)) FROM sentence_vectors"
    ).fetchone()
    episodes = conn.execute("SELECT count(*) FROM episodes").fetchone()[0]
    conn.close()
    print(
        f"\nVectors: {passages:,} passages ({seconds:.0f} s to add), "
        f"{vector_bytes / 2**20:,.0f} MiB of float16 vectors, "
        f"{vector_bytes / 2**20 / episodes * 1000:,.0f} MiB per 1,000 episodes; "
        f"{sentences:,.0f} sentences, {sentence_bytes / 2**20:,.0f} MiB of int8 vectors, "
        f"{sentence_bytes / 2**20 / episodes * 1000:,.0f} MiB per 1,000 episodes"
    )
    ds = make_datasette(Archive.at(root), base_url="https://example.com/")

    async def measure():
        started = time.perf_counter()
        await ds.invoke_startup()  # loads the model and the vectors, as serve does at start
        warm = time.perf_counter() - started
        results = []
        for label, params in HYBRID_QUERIES:
            await _time_in_process(ds, "/archive/search_by_meaning.json", params, 1)
            times, rows, cpu = await _time_in_process(
                ds, "/archive/search_by_meaning.json", params, runs
            )
            results.append((label, params, times, rows, cpu))
        together = await _time_concurrently(ds, CLIENTS, CLIENT_SECONDS)
        return warm, results, together

    warm, results, together = asyncio.run(measure())
    load = os.getloadavg()
    print(
        f"Datasette start-up (model and vectors loaded): {warm:.1f} s; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)\n"
    )
    print("| search_by_meaning | parameters | rows | median ms | worst ms | CPU median ms |")
    print("|---|---|---:|---:|---:|---:|")
    for label, params, times, rows, cpu in results:
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        print(
            f"| {label} | `{shown}` | {rows} | {statistics.median(times) * 1000:.0f} |"
            f" {max(times) * 1000:.0f} | {statistics.median(cpu) * 1000:.0f} |"
        )
    print(
        f"\n{CLIENTS} clients at once for {CLIENT_SECONDS:.0f} s: {together['requests']} requests,"
        f" {together['failed']} failed (Datasette's SQL time limit is"
        f" {ds.setting('sql_time_limit_ms')} ms), p50 {together['p50'] * 1000:.0f} ms,"
        f" p99 {together['p99'] * 1000:.0f} ms"
    )
    print("\n| podarchive search (new process) | median s | worst s | CPU median s |")
    print("|---|---:|---:|---:|")
    for label, times, cpu in _time_cli(root, max(3, runs // 3)):
        print(
            f"| {label} | {statistics.median(times):.2f} | {max(times):.2f} |"
            f" {statistics.median(cpu):.2f} |"
        )
    print("\n| podarchive search's query, after start-up | median ms | worst ms |")
    print("|---|---:|---:|")
    for label, times in _time_cli_in_process(root, runs):
        print(f"| {label} | {statistics.median(times) * 1000:.0f} | {max(times) * 1000:.0f} |")
    scans = _time_vector_scans(db_path, runs)
    print(
        f"\nVector scan, top 50 of {passages:,}: NumPy float32 {scans['numpy_ms']:.0f} ms median"
        f" ({scans['memory_mib']:.0f} MiB in memory, loaded in {scans['load_ms']:.0f} ms);"
        f" sqlite-vec vec0 float32 {scans['sqlite_vec']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=EPISODES)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--rebuild", action="store_true", help="regenerate the cached archive")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP server timings")
    parser.add_argument("--cache", type=Path, default=Path("/tmp"))
    parser.add_argument(
        "--hybrid", action="store_true", help="time search by meaning (adds vectors)"
    )
    parser.add_argument("--only-hybrid", action="store_true", help="skip the lexical table")
    args = parser.parse_args()
    root = args.cache / f"podarchive-bench-{args.episodes}-v{GENERATOR_VERSION}"
    if args.rebuild or not (root / "archive.db").exists():
        print(f"Building a synthetic archive of {args.episodes:,} episodes in {root} ...")
        if root.exists():
            shutil.rmtree(root)
        build_archive(root, args.episodes)
    if not args.only_hybrid:
        run(root, args.runs, http=not args.no_http)
    if args.hybrid or args.only_hybrid:
        run_hybrid(root, args.runs)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
