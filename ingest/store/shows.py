"""Shows and episodes: upserts that never duplicate and never overwrite data with blanks."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import sqlite_utils

from ingest.ids import episode_id_for, episode_slug_for, show_id_for
from ingest.records import Episode, Person, Show
from ingest.store.writes import now, transaction

# Episode columns that come from the feed (the rest belong to later steps).
_EPISODE_FEED_FIELDS = (
    "guid",
    "title",
    "title_source",
    "published",
    "description_html",
    "description_text",
    "link",
    "enclosure_url",
    "enclosure_type",
    "enclosure_length",
    "other_enclosures",
    "duration",
    "season",
    "episode_number",
    "episode_type",
    "image_url",
    "explicit",
    "keywords",
    "chapters_url",
    "chapters_type",
    "feed_chapters",
)

_SHOW_FEED_FIELDS = (
    "title",
    "title_source",
    "description",
    "link",
    "image_url",
    "author",
    "owner_name",
    "owner_email",
    "language",
    "categories",
    "explicit",
    "podcast_guid",
)


@dataclass
class EpisodeUpsertResult:
    """What one feed refresh did to the stored episodes."""

    added: list[str] = field(default_factory=list)
    changed: dict[str, dict] = field(default_factory=dict)  # episode id -> {field: [old, new]}
    unchanged: int = 0


def _is_blank(value) -> bool:
    return value is None or value == "" or value == "[]"


def _show_row(show: Show) -> dict:
    return {
        "title": show.title,
        "title_source": show.title_source,
        "description": show.description,
        "link": show.link,
        "image_url": show.image_url,
        "author": show.author,
        "owner_name": show.owner_name,
        "owner_email": show.owner_email,
        "language": show.language,
        "categories": json.dumps(show.categories),
        "explicit": None if show.explicit is None else int(show.explicit),
        "podcast_guid": show.podcast_guid,
    }


def _episode_row(episode: Episode) -> dict:
    return {
        "guid": episode.guid,
        "title": episode.title,
        "title_source": episode.title_source,
        "published": episode.published.isoformat() if episode.published else None,
        "description_html": episode.description_html,
        "description_text": episode.description_text,
        "link": episode.link,
        "enclosure_url": episode.enclosure_url,
        "enclosure_type": episode.enclosure_type,
        "enclosure_length": episode.enclosure_length,
        "other_enclosures": json.dumps([asdict(e) for e in episode.other_enclosures]),
        "duration": episode.duration,
        "season": episode.season,
        "episode_number": episode.episode_number,
        "episode_type": episode.episode_type,
        "image_url": episode.image_url,
        "explicit": None if episode.explicit is None else int(episode.explicit),
        "keywords": json.dumps(episode.keywords),
        "chapters_url": episode.chapters_url,
        "chapters_type": episode.chapters_type,
        "feed_chapters": json.dumps([asdict(c) for c in episode.feed_chapters]),
    }


def _keep_feed_title(old: dict, new: dict) -> dict:
    """`new` without its title when that would replace the feed's own title with a fallback
    (a refresh that lost the title) or leave a title with the wrong source."""
    fallback = new.get("title_source") != "feed"
    if _is_blank(new.get("title")) or (
        fallback and old.get("title_source") == "feed" and not _is_blank(old.get("title"))
    ):
        return {k: v for k, v in new.items() if k not in ("title", "title_source")}
    return new


def _merge(old: dict, new: dict, fields) -> dict:
    """Fields of `new` that differ from `old`, skipping blanks so a thin feed never erases data."""
    new = _keep_feed_title(old, new)
    return {
        name: [old.get(name), new[name]]
        for name in fields
        if not _is_blank(new.get(name)) and new[name] != old.get(name)
    }


def get_show(db: sqlite_utils.Database, show_id: str) -> dict | None:
    rows = list(db.query("SELECT * FROM shows WHERE id = ?", [show_id]))
    return rows[0] if rows else None


def find_show(db: sqlite_utils.Database, key: str) -> dict | None:
    """A show by id, feed URL, or (case-insensitive) exact title."""
    rows = list(
        db.query(
            "SELECT * FROM shows WHERE id = ? OR feed_url = ? OR lower(title) = lower(?)",
            [key, key, key],
        )
    )
    return rows[0] if rows else None


def find_show_by_url(db: sqlite_utils.Database, feed_url: str) -> dict | None:
    """The show at `feed_url`, or the show that moved away from it (301/308, new-feed-url)."""
    rows = list(db.query("SELECT * FROM shows WHERE feed_url = ?", [feed_url]))
    if rows:
        return rows[0]
    rows = list(
        db.query(
            "SELECT shows.* FROM show_feed_urls JOIN shows ON shows.id = show_feed_urls.show_id"
            " WHERE show_feed_urls.url = ?",
            [feed_url],
        )
    )
    return rows[0] if rows else None


def move_feed_url(db: sqlite_utils.Database, show_id: str, new_url: str, reason: str) -> bool:
    """Point a show at its new feed URL, remembering the old one; False if another show has it."""
    show = get_show(db, show_id)
    if show is None or show["feed_url"] == new_url:
        return False
    owner = find_show_by_url(db, new_url)
    if owner is not None and owner["id"] != show_id:
        return False
    with transaction(db):
        db.execute("DELETE FROM show_feed_urls WHERE url = ?", [new_url])
        remember_old_url(db, show_id, show["feed_url"], new_url, reason)
        db["shows"].update(show_id, {"feed_url": new_url, "updated_at": now()})
    return True


def remember_old_url(
    db: sqlite_utils.Database, show_id: str, old_url: str, new_url: str, reason: str
) -> None:
    """Record that `old_url` now leads to the show (which lives at `new_url`)."""
    with transaction(db):
        db["show_feed_urls"].upsert(
            {
                "url": old_url,
                "show_id": show_id,
                "replaced_by": new_url,
                "reason": reason,
                "replaced_at": now(),
            },
            pk="url",
        )


def add_show(
    db: sqlite_utils.Database, feed_url: str, title: str = "", title_source: str = "feed"
) -> dict:
    """Register a feed URL (idempotent); the show id is chosen here, once."""
    existing = find_show_by_url(db, feed_url)
    if existing:
        return existing
    base = show_id_for(title, feed_url)
    show_id, n = base, 2
    while get_show(db, show_id) is not None:
        show_id, n = f"{base}-{n}", n + 1
    stamp = now()
    with transaction(db):
        db["shows"].insert(
            {
                "id": show_id,
                "feed_url": feed_url,
                "title": title,
                "title_source": title_source if title else "none",
                "added_at": stamp,
                "updated_at": stamp,
            }
        )
    return get_show(db, show_id)


def add_shows(db: sqlite_utils.Database, feeds: list[tuple[str, str]]) -> tuple[list, list]:
    """Register (feed URL, title) pairs in one transaction: all of them or, on any error, none.
    Returns (shows added, shows already in the archive)."""
    added, known = [], []
    with transaction(db):
        for url, title in feeds:
            existing = find_show_by_url(db, url)
            if existing:
                known.append(existing)
            else:
                added.append(add_show(db, url, title))
    return added, known


def list_shows(db: sqlite_utils.Database) -> list[dict]:
    """Every show by title, with `episode_count`."""
    return list(
        db.query(
            "SELECT shows.*, (SELECT count(*) FROM episodes WHERE episodes.show_id = shows.id)"
            " AS episode_count FROM shows ORDER BY title"
        )
    )


def save_show(db: sqlite_utils.Database, show_id: str, show: Show) -> dict:
    """Update a show's channel fields from a parsed feed; return {field: [old, new]}."""
    old = get_show(db, show_id) or {}
    changes = _merge(old, _show_row(show), _SHOW_FEED_FIELDS)
    with transaction(db):
        if changes:
            db["shows"].update(
                show_id, {name: new for name, (_, new) in changes.items()} | {"updated_at": now()}
            )
        _save_people(db, "show_people", "show_id", show_id, show.people)
    return changes


def record_fetch(
    db: sqlite_utils.Database,
    show_id: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    feed_url: str | None = None,
    error: str | None = None,
) -> None:
    """Store the outcome of fetching a show's feed (validators for the next conditional GET)."""
    values: dict = {"fetch_error": error}
    if error is None:
        values["fetched_at"] = now()
        if etag is not None:
            values["etag"] = etag
        if last_modified is not None:
            values["last_modified"] = last_modified
    if feed_url:
        values["feed_url"] = feed_url
    with transaction(db):
        db["shows"].update(show_id, values)


def upsert_episodes(
    db: sqlite_utils.Database,
    show_id: str,
    episodes: list[Episode],
    *,
    insert_only: set[str] | frozenset[str] = frozenset(),
) -> EpisodeUpsertResult:
    """Insert new episodes and update changed ones, in one transaction; record what changed.

    Episodes whose guid is in `insert_only` (read from a broken document, perhaps cut short)
    are added when new but never change a stored episode.
    """
    result = EpisodeUpsertResult()
    existing = {
        row["guid"]: row for row in db.query("SELECT * FROM episodes WHERE show_id = ?", [show_id])
    }
    slugs = {row["slug"] for row in existing.values()}
    people = _PeopleCache(db)
    stamp = now()
    # Plain SQL in one transaction: sqlite-utils' insert/upsert re-read the schema on every
    # call, which made a 5,000-episode feed take seconds.
    with transaction(db):
        for episode in episodes:
            row = _episode_row(episode)
            old = existing.get(episode.guid)
            if old is None:
                episode_id = episode_id_for(show_id, episode.guid)
                slug = episode_slug_for(episode.title, episode_id)
                if slug in slugs:  # same title and same id prefix: lengthen the suffix
                    slug = f"{slug.rsplit('-', 1)[0]}-{episode_id}".lstrip("-")
                slugs.add(slug)
                row |= {
                    "id": episode_id,
                    "show_id": show_id,
                    "slug": slug,
                    "first_seen": stamp,
                    "updated_at": stamp,
                }
                _insert(db, "episodes", row)
                existing[episode.guid] = row
                result.added.append(episode_id)
            elif episode.guid in insert_only:
                result.unchanged += 1
                continue
            else:
                episode_id = old["id"]
                changes = _merge(old, row, _EPISODE_FEED_FIELDS)
                if changes:
                    values = {name: new for name, (_, new) in changes.items()}
                    values["updated_at"] = stamp
                    assignments = ", ".join(f"[{name}] = ?" for name in values)
                    db.execute(
                        f"UPDATE episodes SET {assignments} WHERE id = ?",
                        [*values.values(), episode_id],
                    )
                    _insert(
                        db,
                        "episode_changes",
                        {"episode_id": episode_id, "at": stamp, "changes": json.dumps(changes)},
                    )
                    result.changed[episode_id] = changes
                else:
                    result.unchanged += 1
            _save_transcript_links(db, episode_id, episode)
            people.link("episode_people", "episode_id", episode_id, episode.people)
    return result


def _insert(db: sqlite_utils.Database, table: str, row: dict) -> None:
    columns = ", ".join(f"[{name}]" for name in row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT INTO [{table}] ({columns}) VALUES ({marks})", list(row.values()))


def _save_transcript_links(db: sqlite_utils.Database, episode_id: str, episode: Episode) -> None:
    for link in episode.transcripts:
        # A later feed that leaves out language or rel does not erase them.
        db.execute(
            """
            INSERT INTO episode_transcript_links (episode_id, url, type, language, rel)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (episode_id, url) DO UPDATE SET
                type = coalesce(nullif(excluded.type, ''), type),
                language = coalesce(excluded.language, language),
                rel = coalesce(excluded.rel, rel)
            """,
            [episode_id, link.url, link.type, link.language, link.rel],
        )


class _PeopleCache:
    """People by name, read once per upsert instead of once per credit."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.known = {
            name: (person_id, href, img)
            for person_id, name, href, img in db.execute("SELECT id, name, href, img FROM people")
        }

    def person_id(self, person: Person) -> int:
        found = self.known.get(person.name)
        if found is None:
            cursor = self.db.execute(
                "INSERT INTO people (name, href, img) VALUES (?, ?, ?)",
                [person.name, person.href, person.img],
            )
            self.known[person.name] = (cursor.lastrowid, person.href, person.img)
            return cursor.lastrowid
        person_id, href, img = found
        if (person.href and person.href != href) or (person.img and person.img != img):
            href, img = person.href or href, person.img or img
            self.db.execute(
                "UPDATE people SET href = ?, img = ? WHERE id = ?", [href, img, person_id]
            )
            self.known[person.name] = (person_id, href, img)
        return person_id

    def link(self, table: str, key: str, owner_id: str, people: list[Person]) -> None:
        for person in people:
            if not person.name.strip():
                continue
            self.db.execute(
                f"INSERT INTO [{table}] ([{key}], person_id, role, group_name) VALUES (?, ?, ?, ?)"
                f" ON CONFLICT ([{key}], person_id, role) DO UPDATE SET"
                " group_name = excluded.group_name",
                [owner_id, self.person_id(person), person.role, person.group],
            )


def _save_people(
    db: sqlite_utils.Database, table: str, key: str, owner_id: str, people: list[Person]
) -> None:
    _PeopleCache(db).link(table, key, owner_id, people)


def episode_guids(db: sqlite_utils.Database, show_id: str) -> set[str]:
    """The guids of a show's stored episodes."""
    return {row[0] for row in db.execute("SELECT guid FROM episodes WHERE show_id = ?", [show_id])}


def rename_guids(db: sqlite_utils.Database, show_id: str, renames: dict[str, str]) -> None:
    """Give stored episodes new guids (same id, slug and files); record each change."""
    stamp = now()
    with transaction(db):
        for old, new in renames.items():
            rows = list(
                db.execute("SELECT id FROM episodes WHERE show_id = ? AND guid = ?", [show_id, old])
            )
            if not rows:
                continue
            db.execute(
                "UPDATE episodes SET guid = ?, updated_at = ? WHERE id = ?",
                [new, stamp, rows[0][0]],
            )
            _insert(
                db,
                "episode_changes",
                {
                    "episode_id": rows[0][0],
                    "at": stamp,
                    "changes": json.dumps({"guid": [old, new]}),
                },
            )


def mark_in_feed(db: sqlite_utils.Database, show_id: str, guids: list[str]) -> int:
    """After a complete read of a feed, flag the stored episodes it still lists; count dropped."""
    present = set(guids)
    stored = db.query("SELECT id, guid, in_feed FROM episodes WHERE show_id = ?", [show_id])
    flips = [
        (int(r["guid"] in present), r["id"])
        for r in stored
        if r["in_feed"] != (r["guid"] in present)
    ]
    with transaction(db):
        db.conn.executemany("UPDATE episodes SET in_feed = ? WHERE id = ?", flips)
    return sum(1 for flag, _ in flips if flag == 0)


def list_episodes(db: sqlite_utils.Database, show_id: str | None = None) -> list[dict]:
    """Episodes newest first, optionally of one show."""
    where, params = ("WHERE show_id = ?", [show_id]) if show_id else ("", [])
    return list(db.query(f"SELECT * FROM episodes {where} ORDER BY published DESC, id", params))


def get_episode(db: sqlite_utils.Database, episode_id: str) -> dict | None:
    rows = list(db.query("SELECT * FROM episodes WHERE id = ?", [episode_id]))
    return rows[0] if rows else None
