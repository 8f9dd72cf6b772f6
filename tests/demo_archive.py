"""What a finished demo leaves in its folder: the checks the README's demo test makes on the
archive once the demo has served it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


def rows(db_path: Path, sql: str, params=()) -> list[dict]:
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params)]


def assert_whole_demo_archive(root: Path) -> None:
    """Every episode downloaded, transcribed (Whisper and the publisher's), tagged, chaptered and
    published, with the One Medical episode's topics and chapters where the words are said."""
    db = root / "archive.db"
    episodes = rows(db, "SELECT * FROM episodes")
    assert len(episodes) >= 4
    assert all(e["audio_sha256"] for e in episodes)
    assert {e["transcript_status"] for e in episodes} == {"done"}
    assert {e["transcript_source"] for e in episodes} == {"asr", "publisher"}

    # Every episode has its four transcript files, and the JSON is the Podcasting 2.0 format.
    for episode in episodes:
        stem = root / "transcripts" / episode["show_id"] / episode["id"]
        for ext in ("json", "vtt", "srt", "txt"):
            assert stem.with_suffix(f".{ext}").stat().st_size > 0
        document = json.loads(stem.with_suffix(".json").read_text())
        assert document["segments"][0]["body"]

    one_medical = next(e for e in episodes if "One Medical" in e["title"])
    segments = rows(db, "SELECT text FROM segments WHERE episode_id = ?", [one_medical["id"]])
    assert "reverse interview" in " ".join(s["text"] for s in segments).lower()
    tags = {
        r["tag_slug"]
        for r in rows(db, "SELECT * FROM episode_tags WHERE episode_id = ?", [one_medical["id"]])
    }
    # Grit survives transcription only because the show's vocabulary names it (see demo.py).
    assert {"reverse-interviews", "grit-and-resilience", "collaboration"} <= tags
    moments = rows(
        db,
        "SELECT start FROM topic_moments WHERE episode_id = ? AND tag_slug = 'reverse-interviews'",
        [one_medical["id"]],
    )
    assert moments

    # Every episode has chapters (generated: the sample feed has none), in the database and
    # beside its transcripts; on real Whisper output the One Medical episode's separate the
    # reverse interview from the soft skills.
    for episode in episodes:
        assert episode["chapters_source"] == "generated"
        assert rows(db, "SELECT 1 FROM chapters WHERE episode_id = ?", [episode["id"]])
        stem = root / "transcripts" / episode["show_id"] / episode["id"]
        assert json.loads(stem.with_suffix(".chapters.json").read_text())["chapters"]
    timed = rows(
        db,
        "SELECT start, text FROM segments WHERE episode_id = ? ORDER BY idx",
        [one_medical["id"]],
    )
    starts = [
        c["start"]
        for c in rows(db, "SELECT start FROM chapters WHERE episode_id = ?", [one_medical["id"]])
    ]

    def chapter_of(*words: str) -> float:
        said = next(s["start"] for s in timed if any(w in s["text"].lower() for w in words))
        return max(start for start in starts if start <= said + 0.5)

    assert chapter_of("reverse interview") != chapter_of("soft comp", "collaboration")

    page = root / "site" / "episodes" / one_medical["slug"] / "index.html"
    assert "reverse interview" in page.read_text().lower()
    assert (root / "site" / "index.html").exists()
    assert (root / "site" / "pagefind").is_dir()
    run = rows(db, "SELECT status FROM runs ORDER BY id DESC LIMIT 1")[0]
    assert run["status"] == "ok"
