"""Archives for the site tests.

`build_archive`: three hand-made episodes (one hostile) with exact tags, moments and chapters.
`build_sample_archive`: the bundled sample show (its MP3s, its scripts timed as transcripts,
tagged by the real lexical tagger against the recruiting taxonomy) plus the hostile episode.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ingest.archive import Archive
from ingest.records import Episode, Person, Segment, Show, Transcript
from ingest.store import shows as show_store
from ingest.store import transcripts as transcript_store
from ingest.transcribe.files import write_transcript

AUDIO_SECONDS = 60
FEED_URL = "https://feeds.example.com/talk-talent-to-me.xml"

# Every way a feed could try to run script; each one would set window.__pwned if it ran.
HOSTILE_TITLE = (
    'Hostile <script>window.__pwned="title"</script><img src=x onerror="window.__pwned=\'img\'">'
    "</script><script>window.__pwned='ld'</script>"
)
HOSTILE_NOTES = (
    "<p>Notes <script>window.__pwned='notes'</script>"
    "<a href=\"javascript:window.__pwned='href'\">click me</a>"
    "<img src=x onerror=\"window.__pwned='onerror'\">"
    "<iframe src=\"javascript:window.__pwned='iframe'\"></iframe>"
    "<svg onload=\"window.__pwned='svg'\"></svg></p>"
)
HOSTILE_TEXT = "Transcript <script>window.__pwned='transcript'</script> with <b onclick=x>tags</b>."

ONE_MEDICAL_SCRIPT = [
    (
        "Rob Stevenson",
        0.0,
        "Welcome to Talk Talent To Me. Today my guest runs technical recruiting.",
    ),
    ("Viet Nguyen", 6.0, "Thanks Rob. At One Medical we added something unusual to our process."),
    ("Viet Nguyen", 12.0, "We call it the reverse interview. The candidate interviews the team."),
    ("Rob Stevenson", 20.0, "So the reverse interview puts the candidate in charge of the room?"),
    ("Viet Nguyen", 27.0, "Exactly. Candidates ask anything, and we learn what they care about."),
    ("Rob Stevenson", 35.0, "How did offer acceptance change after the reverse interview?"),
    ("Viet Nguyen", 42.0, "Acceptance went up. People join knowing the team they will work with."),
    ("Rob Stevenson", 50.0, "Viet, thank you for joining me on the show today."),
]
BRAND_SCRIPT = [
    ("Rob Stevenson", 0.0, "Today we talk about employer brand with Sarah Miller."),
    ("Sarah Miller", 8.0, "Employer brand is how you treat every applicant at every interview."),
    ("Sarah Miller", 16.0, "Reply to every candidate within a week, even to say no."),
]


def make_speech_mp3(path: Path, text: str, seconds: int = AUDIO_SECONDS) -> Path:
    """A real MP3 of espeak-ng speech padded with silence to `seconds`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = path.with_suffix(".wav")
    subprocess.run(["espeak-ng", "-s", "170", "-w", str(wav), text], check=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-af", "apad", "-t", str(seconds)]
        + ["-ac", "1", "-ar", "22050", "-codec:a", "libmp3lame", "-b:a", "32k", str(path)],
        check=True,
    )
    wav.unlink()
    return path


def _segments(script: list[tuple[str, float, str]], total: float) -> list[Segment]:
    result = []
    for index, (speaker, start, text) in enumerate(script):
        end = script[index + 1][1] if index + 1 < len(script) else total
        result.append(Segment(start=start, end=end, text=text, speaker=speaker))
    return result


def build_archive(archive: Archive, mp3: Path) -> dict[str, dict]:
    """Fill `archive` through the store's own functions; return episode rows by short name."""
    db = archive.open_db()
    show = show_store.add_show(db, FEED_URL, "Talk Talent To Me")
    show_id = show["id"]
    show_store.save_show(
        db,
        show_id,
        Show(
            feed_url=FEED_URL,
            title="Talk Talent To Me",
            description="The recruiting podcast for talent leaders.",
            link="https://example.com/ttm",
            author="Rob Stevenson",
            language="en",
            people=[Person("Rob Stevenson", role="host")],
        ),
    )
    host = Person("Rob Stevenson", role="host")
    episodes = [
        Episode(
            guid="ttm-1",
            title="Employer Brand Is a Promise, Not a Slogan",
            published=datetime(2023, 3, 7, 9, tzinfo=UTC),
            description_html="<p>Sarah Miller on <strong>employer brand</strong>.</p>",
            description_text="Sarah Miller on employer brand.",
            enclosure_url="https://cdn.example.com/ttm-1.mp3",
            enclosure_type="audio/mpeg",
            duration=24,
            episode_number=1,
            people=[host, Person("Sarah Miller", role="guest")],
        ),
        Episode(
            guid="ttm-2",
            title="One Medical's Reverse Interview: Let the Candidate Run the Room",
            published=datetime(2023, 4, 4, 9, tzinfo=UTC),
            description_html=(
                "<p>Viet Nguyen, Head of Technical Recruiting at One Medical, on the "
                'reverse interview. <a href="https://example.com/one-medical">Notes</a></p>'
            ),
            description_text="Viet Nguyen, Head of Technical Recruiting at One Medical.",
            enclosure_url="https://cdn.example.com/ttm-2.mp3",
            enclosure_type="audio/mpeg",
            duration=AUDIO_SECONDS,
            episode_number=2,
            people=[host, Person("Viet Nguyen", role="guest")],
        ),
        Episode(
            guid="ttm-3",
            title=HOSTILE_TITLE,
            published=datetime(2023, 5, 2, 9, tzinfo=UTC),
            description_html=HOSTILE_NOTES,
            description_text="Hostile notes",
            link="javascript:window.__pwned='link'",
            enclosure_url="https://cdn.example.com/ttm-3.mp3",
            duration=20,
            episode_number=3,
            people=[Person("<b onmouseover=\"window.__pwned='person'\">Mallory</b>", role="guest")],
        ),
    ]
    show_store.upsert_episodes(db, show_id, episodes)
    rows = {row["guid"]: row for row in show_store.list_episodes(db, show_id)}
    brand, medical, hostile = rows["ttm-1"], rows["ttm-2"], rows["ttm-3"]

    audio_rel = f"audio/{show_id}/{medical['id']}.mp3"
    (archive.root / audio_rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mp3, archive.root / audio_rel)
    db["episodes"].update(medical["id"], {"audio_path": audio_rel})

    transcripts = {
        medical["id"]: _segments(ONE_MEDICAL_SCRIPT, AUDIO_SECONDS),
        brand["id"]: _segments(BRAND_SCRIPT, 24),
        hostile["id"]: [
            Segment(0, 10, HOSTILE_TEXT, speaker="<script>window.__pwned='speaker'</script>")
        ],
    }
    for episode_id, segments in transcripts.items():
        transcript = Transcript(segments=segments, language="en", engine="test")
        transcript_store.save_transcript(db, episode_id, transcript)
        write_transcript(archive.transcripts_dir, show_id, episode_id, transcript)

    def tag(slug, name, kind="topic", description=""):
        return {"slug": slug, "name": name, "description": description, "kind": kind}

    def scored(episode, slug, score):
        row = {"episode_id": episode["id"], "tag_slug": slug, "score": score, "source": "test"}
        return row | {"notes_quote": "", "notes_score": 0.0}  # one batch: every row the same keys

    def moment(episode, slug, start):
        row = {"episode_id": episode["id"], "tag_slug": slug, "start": start, "end": start + 8}
        return row | {"quote": ""}  # one batch: every row the same keys

    with db.conn:
        db["tags"].insert_all(
            [
                tag("interviewing", "Interviewing", description="Interview loops."),
                tag("employer-brand", "Employer brand"),
                tag("hostile", "<i onclick=x>Hostile</i>"),
                tag("suggested", "suggested", kind="keyphrase"),
            ]
        )
        db["episode_tags"].insert_all(
            [
                scored(medical, "interviewing", 0.9),
                scored(brand, "employer-brand", 0.8),
                # Named in the show notes, never discussed: the page quotes the notes sentence.
                scored(brand, "interviewing", 0.3)
                | {"notes_quote": "We also cover how the team interviews.", "notes_score": 0.6},
                scored(hostile, "hostile", 0.5),
                scored(medical, "suggested", 0.5),
            ]
        )
        db["topic_moments"].insert_all(
            [
                moment(medical, "interviewing", 12.0)
                | {"score": 1.0, "quote": "We call it the reverse interview."},
                moment(medical, "interviewing", 35.0) | {"score": 0.8},
                moment(brand, "employer-brand", 8.0) | {"score": 0.7},
            ]
        )
        # A passing mention: the hostile episode is not tagged with interviewing.
        db["topic_mentions"].insert(
            moment(hostile, "interviewing", 2.0) | {"score": 0.6, "quote": HOSTILE_TEXT}
        )
        db["chapters"].insert_all(
            [
                {"episode_id": medical["id"], "start": 0, "title": "Introductions", "url": None},
                {"episode_id": medical["id"], "start": 27, "title": "Questions", "url": None},
                {
                    "episode_id": hostile["id"],
                    "start": 0,
                    "title": "<script>x</script>",
                    "url": "javascript:window.__pwned='chapter'",
                },
            ]
        )
    return {"brand": brand, "medical": medical, "hostile": hostile}


def build_sample_archive(archive: Archive, chapters: bool = False) -> dict[str, dict]:
    """The sample show archived through the store, tagged for real (with `chapters`, given
    chapters and soundbites by the real step too); rows by guid."""
    from ingest.feeds.sanitize import html_to_text, sanitize_html
    from ingest.sample import load_sample
    from ingest.tags.step import tag_archive
    from ingest.taxonomy import load_taxonomy

    sample = load_sample()
    db = archive.open_db()
    show_id = show_store.add_show(db, FEED_URL, sample.title)["id"]
    host = Person(sample.host, role="host")
    show_store.save_show(
        db,
        show_id,
        Show(
            feed_url=FEED_URL,
            title=sample.title,
            description=sample.description,
            link=sample.link,
            author=sample.author,
            language=sample.language,
            people=[host],
        ),
    )
    show_store.upsert_episodes(
        db,
        show_id,
        [
            Episode(
                guid=item.guid,
                title=item.title,
                published=item.published,
                description_html=sanitize_html(item.description_html),
                description_text=html_to_text(item.description_html),
                enclosure_url=f"https://cdn.example.com/{item.audio_name}",
                enclosure_type="audio/mpeg",
                duration=round(item.duration) if item.duration else None,
                episode_number=item.number,
                season=item.season,
                people=[host] + [Person(g.name, role="guest") for g in item.guests],
            )
            for item in sample.episodes
        ],
    )
    rows = {row["guid"]: row for row in show_store.list_episodes(db, show_id)}
    for item in sample.episodes:
        row = rows[item.guid]
        audio_rel = f"audio/{show_id}/{row['id']}.mp3"
        (archive.root / audio_rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.audio_path, archive.root / audio_rel)
        db["episodes"].update(row["id"], {"audio_path": audio_rel})
        segments = [
            Segment(line.start, line.end, line.text, speaker=line.speaker)
            for line in item.script
            if line.start is not None
        ]
        transcript = Transcript(segments=segments, language="en", engine="script")
        transcript_store.save_transcript(db, row["id"], transcript)
        write_transcript(archive.transcripts_dir, show_id, row["id"], transcript)
    tag_archive(db, load_taxonomy(), scorer_name="lexical")
    if chapters:
        from ingest.chapters.step import chapter_archive

        chapter_archive(db, archive)
    rows = {row["guid"]: row for row in show_store.list_episodes(db, show_id)}
    rows["hostile"] = _add_hostile_episode(archive, db, show_id)
    return rows


def _add_hostile_episode(archive: Archive, db, show_id: str) -> dict:
    """An episode whose every field tries to run script (each would set window.__pwned)."""
    show_store.upsert_episodes(
        db,
        show_id,
        [
            Episode(
                guid="hostile",
                title=HOSTILE_TITLE,
                published=datetime(2023, 5, 2, 9, tzinfo=UTC),
                description_html=HOSTILE_NOTES,
                description_text="Hostile notes",
                link="javascript:window.__pwned='link'",
                enclosure_url="https://cdn.example.com/hostile.mp3",
                duration=20,
                people=[Person("<b onmouseover=\"window.__pwned='person'\">Mallory</b>", "guest")],
            )
        ],
    )
    row = next(e for e in show_store.list_episodes(db, show_id) if e["guid"] == "hostile")
    transcript = Transcript(
        [Segment(0, 10, HOSTILE_TEXT, speaker="<script>window.__pwned='speaker'</script>")]
    )
    transcript_store.save_transcript(db, row["id"], transcript)
    write_transcript(archive.transcripts_dir, show_id, row["id"], transcript)
    with db.conn:
        db["tags"].insert(
            {"slug": "hostile", "name": "<i onclick=x>Hostile</i>", "description": ""}
            | {"kind": "topic"}
        )
        db["episode_tags"].insert(
            {"episode_id": row["id"], "tag_slug": "hostile", "score": 1.0, "source": "test"}
            | {"notes_quote": HOSTILE_TEXT}
        )
        db["chapters"].insert(
            {"episode_id": row["id"], "start": 0, "title": "<script>x</script>"}
            | {"url": "javascript:window.__pwned='chapter'"}
        )
    return row


@contextmanager
def writable_copy(root: Path, tmp_path: Path) -> Iterator:
    """A copy of the archive at `root` (a module's, built once), its store opened for writing
    (sqlite-utils), closed after."""
    shutil.copytree(root, tmp_path / "copy")
    database = Archive.at(tmp_path / "copy").open_db()
    try:
        yield database
    finally:
        database.conn.close()
