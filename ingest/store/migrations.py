"""Schema as code: numbered migrations, each applied once and recorded in `_migrations`.

Add a migration by writing `mNNN_what(db)` and appending it to MIGRATIONS. Never edit one
that has shipped: archives in the wild have already run it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from ingest.store.writes import transaction


def m001_shows_and_episodes(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE shows (
            id TEXT PRIMARY KEY,            -- folder-safe slug chosen once, never raw feed text
            feed_url TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            link TEXT,
            image_url TEXT,
            author TEXT,
            owner_name TEXT,
            owner_email TEXT,
            language TEXT,
            categories TEXT NOT NULL DEFAULT '[]',   -- JSON array
            explicit INTEGER,
            podcast_guid TEXT,
            etag TEXT,
            last_modified TEXT,
            fetched_at TEXT,                -- last successful fetch (200 or 304)
            fetch_error TEXT,
            added_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE episodes (
            id TEXT PRIMARY KEY,            -- stable: hash of show id + guid
            show_id TEXT NOT NULL REFERENCES shows(id),
            guid TEXT NOT NULL,
            slug TEXT NOT NULL,             -- URL-safe, chosen once so page URLs never move
            title TEXT NOT NULL DEFAULT '',
            published TEXT,                 -- ISO 8601, UTC
            description_html TEXT NOT NULL DEFAULT '',   -- sanitised
            description_text TEXT NOT NULL DEFAULT '',
            link TEXT,
            enclosure_url TEXT,
            enclosure_type TEXT,
            enclosure_length INTEGER,
            duration INTEGER,               -- seconds
            season INTEGER,
            episode_number INTEGER,
            episode_type TEXT,
            image_url TEXT,
            explicit INTEGER,
            keywords TEXT NOT NULL DEFAULT '[]',     -- JSON array
            chapters_url TEXT,
            chapters_type TEXT,
            in_feed INTEGER NOT NULL DEFAULT 1,      -- 0 once the feed stops listing it
            first_seen TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            -- download step
            audio_path TEXT,                -- relative to the archive folder
            audio_bytes INTEGER,
            audio_sha256 TEXT,
            audio_at TEXT,
            audio_error TEXT,
            -- transcription step
            transcript_status TEXT,         -- NULL (not yet), 'done', 'failed'
            transcript_source TEXT,         -- 'asr' or 'publisher'
            transcript_engine TEXT,
            transcript_model TEXT,
            transcript_language TEXT,
            transcript_at TEXT,
            transcript_error TEXT,
            -- tagging step
            tagged_at TEXT,
            tag_error TEXT,
            UNIQUE (show_id, guid),
            UNIQUE (show_id, slug)
        );
        CREATE INDEX episodes_show_published ON episodes(show_id, published);

        CREATE TABLE episode_changes (
            id INTEGER PRIMARY KEY,
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            at TEXT NOT NULL,
            changes TEXT NOT NULL           -- JSON: {field: [old, new]}
        );

        CREATE TABLE episode_transcript_links (
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            url TEXT NOT NULL,
            type TEXT NOT NULL,
            language TEXT,
            rel TEXT,
            PRIMARY KEY (episode_id, url)
        );

        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            href TEXT,
            img TEXT
        );

        CREATE TABLE episode_people (
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            person_id INTEGER NOT NULL REFERENCES people(id),
            role TEXT NOT NULL DEFAULT 'guest',
            group_name TEXT NOT NULL DEFAULT 'cast',
            PRIMARY KEY (episode_id, person_id, role)
        );

        CREATE TABLE show_people (
            show_id TEXT NOT NULL REFERENCES shows(id),
            person_id INTEGER NOT NULL REFERENCES people(id),
            role TEXT NOT NULL DEFAULT 'host',
            group_name TEXT NOT NULL DEFAULT 'cast',
            PRIMARY KEY (show_id, person_id, role)
        );

        CREATE TABLE chapters (
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            start REAL NOT NULL,
            end REAL,
            title TEXT NOT NULL DEFAULT '',
            url TEXT,
            image_url TEXT,
            PRIMARY KEY (episode_id, start)
        );

        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            command TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT,                    -- 'ok', 'partial', 'failed'
            summary TEXT                    -- JSON
        );
        """
    )


def m002_segments(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE segments (
            id INTEGER PRIMARY KEY,
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            idx INTEGER NOT NULL,           -- position within the episode
            start REAL NOT NULL,            -- seconds
            end REAL NOT NULL,
            speaker TEXT,
            text TEXT NOT NULL,
            avg_logprob REAL,
            no_speech_prob REAL,
            UNIQUE (episode_id, idx)
        );
        """
    )
    # Porter stemming so "interviews" finds "interview"; triggers keep the index in step.
    db["segments"].enable_fts(["text"], tokenize="porter", create_triggers=True)


def m003_tags(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE tags (
            slug TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT 'topic'   -- 'topic' (taxonomy) or 'keyphrase' (suggested)
        );

        CREATE TABLE episode_tags (
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            tag_slug TEXT NOT NULL REFERENCES tags(slug),
            score REAL NOT NULL,
            source TEXT NOT NULL,           -- scorer name, 'keyphrase' or 'manual'
            PRIMARY KEY (episode_id, tag_slug)
        );

        CREATE TABLE topic_moments (
            id INTEGER PRIMARY KEY,
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            tag_slug TEXT NOT NULL REFERENCES tags(slug),
            start REAL NOT NULL,            -- seconds: where the passage begins
            end REAL NOT NULL,
            score REAL NOT NULL
        );
        CREATE INDEX topic_moments_tag ON topic_moments(tag_slug, score);
        CREATE INDEX topic_moments_episode ON topic_moments(episode_id, start);

        CREATE TABLE tag_overrides (
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            tag_slug TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('add', 'remove')),
            PRIMARY KEY (episode_id, tag_slug)
        );
        """
    )


def m005_feed_url_history(db: sqlite_utils.Database) -> None:
    """Feed URLs a show moved away from (301/308, itunes:new-feed-url), so they still find it."""
    db.executescript(
        """
        CREATE TABLE show_feed_urls (
            url TEXT PRIMARY KEY,
            show_id TEXT NOT NULL REFERENCES shows(id),
            replaced_by TEXT NOT NULL,
            reason TEXT NOT NULL,           -- 'redirect' or 'new-feed-url'
            replaced_at TEXT NOT NULL
        );
        CREATE INDEX show_feed_urls_show ON show_feed_urls(show_id);
        """
    )


def m030_tag_hashes(db: sqlite_utils.Database) -> None:
    """Tagging inputs as hashes, so re-tagging re-scores only changed topics and transcripts."""
    db.executescript(
        """
        ALTER TABLE tags ADD COLUMN definition_hash TEXT;   -- NULL for keyphrases
        ALTER TABLE tags ADD COLUMN phrases TEXT NOT NULL DEFAULT '[]';   -- JSON list
        -- Hash of the segments and scorer the episode's topics were last scored from.
        ALTER TABLE episodes ADD COLUMN tags_input_hash TEXT;

        -- Every topic scored for an episode, tagged or not, with the definition it was scored
        -- against: a topic whose definition hash differs here is re-scored.
        CREATE TABLE topic_scores (
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            tag_slug TEXT NOT NULL,
            definition_hash TEXT NOT NULL,
            scorer TEXT NOT NULL,
            score REAL NOT NULL,            -- best passage score, 0..1
            PRIMARY KEY (episode_id, tag_slug)
        );
        """
    )


def m040_passages_and_search(db: sqlite_utils.Database) -> None:
    """Search: passages (~45 s windows of segments, FTS5), episode FTS, browsing views."""
    db.executescript(
        """
        -- A common word matches most short segments; ranking a million of them takes
        -- seconds. Passages are ~45 s windows of whole segments (a tenth of the rows), so
        -- ranked search stays fast; ingest.store.search keeps them in step with segments.
        CREATE TABLE passages (
            id INTEGER PRIMARY KEY,
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            start REAL NOT NULL,            -- seconds: start of the first segment
            end REAL NOT NULL,
            first_segment_id INTEGER NOT NULL,   -- segments.id range the passage covers
            last_segment_id INTEGER NOT NULL,
            text TEXT NOT NULL,             -- the segments' texts joined by single spaces
            offsets TEXT NOT NULL DEFAULT '[]'   -- JSON [[char offset in text, start seconds]]
        );
        CREATE INDEX passages_episode ON passages(episode_id, start);

        -- Episodes whose segments changed since their passages were built.
        CREATE TABLE passages_stale (episode_id TEXT PRIMARY KEY);
        CREATE TRIGGER segments_stale_insert AFTER INSERT ON segments BEGIN
            INSERT OR IGNORE INTO passages_stale (episode_id) VALUES (new.episode_id);
        END;
        CREATE TRIGGER segments_stale_update AFTER UPDATE ON segments BEGIN
            INSERT OR IGNORE INTO passages_stale (episode_id) VALUES (old.episode_id);
            INSERT OR IGNORE INTO passages_stale (episode_id) VALUES (new.episode_id);
        END;
        CREATE TRIGGER segments_stale_delete AFTER DELETE ON segments BEGIN
            INSERT OR IGNORE INTO passages_stale (episode_id) VALUES (old.episode_id);
        END;
        INSERT OR IGNORE INTO passages_stale (episode_id) SELECT DISTINCT episode_id FROM segments;

        -- One row per episode for browsing: facets on show, year, topics and transcript source.
        CREATE VIEW episode_list AS
        SELECT
            e.rowid AS rowid,
            e.id,
            e.slug,
            s.title AS show,
            e.title,
            substr(e.published, 1, 10) AS published,
            CAST(substr(e.published, 1, 4) AS INTEGER) AS year,
            e.duration,
            e.transcript_source,
            (SELECT json_group_array(name) FROM (
                SELECT t.name FROM episode_tags et JOIN tags t ON t.slug = et.tag_slug
                WHERE et.episode_id = e.id ORDER BY et.score DESC)) AS topics,
            (SELECT json_group_array(name) FROM (
                SELECT p.name FROM episode_people ep JOIN people p ON p.id = ep.person_id
                WHERE ep.episode_id = e.id AND ep.role = 'guest' ORDER BY p.name)) AS guests,
            e.enclosure_url AS audio
        FROM episodes e JOIN shows s ON s.id = e.show_id;
        """
    )
    db["passages"].enable_fts(["text"], tokenize="porter", create_triggers=True)
    db["episodes"].enable_fts(
        ["title", "description_text"], tokenize="porter", create_triggers=True
    )


Migration = Callable[[sqlite_utils.Database], None]


def m050_transcript_note(db: sqlite_utils.Database) -> None:
    """Why a transcribed episode holds no words ("no speech: music or silence")."""
    db.execute("ALTER TABLE episodes ADD COLUMN transcript_note TEXT")


def m060_title_source(db: sqlite_utils.Database) -> None:
    """Where a show's or episode's title came from: the feed, or a fallback when it had none;
    and an episode's other media files (the enclosure column holds the chosen audio)."""
    db.executescript(
        """
        -- 'feed', or the fallback that made it: 'feed URL name', 'feed URL host' (shows),
        -- 'enclosure file name', 'published date' (episodes); 'none' when nothing named it.
        ALTER TABLE shows ADD COLUMN title_source TEXT NOT NULL DEFAULT 'feed';
        ALTER TABLE episodes ADD COLUMN title_source TEXT NOT NULL DEFAULT 'feed';
        -- JSON [{"url", "type", "length"}]: renditions and formats besides enclosure_url.
        ALTER TABLE episodes ADD COLUMN other_enclosures TEXT NOT NULL DEFAULT '[]';
        UPDATE shows SET title_source = 'none' WHERE title = '';
        UPDATE episodes SET title_source = 'none' WHERE title = '';
        """
    )


def m070_topics_apart_from_keyphrases(db: sqlite_utils.Database) -> None:
    """Browsing views that keep YAKE keyphrases (suggestions) out of the taxonomy topics: the
    episode list's topics facet listed "apply", "future" and "years" beside real topics."""
    db.executescript(
        """
        DROP VIEW IF EXISTS episode_list;
        CREATE VIEW episode_list AS
        SELECT
            e.rowid AS rowid,
            e.id,
            e.slug,
            s.title AS show,
            e.title,
            substr(e.published, 1, 10) AS published,
            CAST(substr(e.published, 1, 4) AS INTEGER) AS year,
            e.duration,
            e.transcript_source,
            (SELECT json_group_array(name) FROM (
                SELECT t.name FROM episode_tags et JOIN tags t ON t.slug = et.tag_slug
                WHERE et.episode_id = e.id AND t.kind = 'topic'
                ORDER BY et.score DESC)) AS topics,
            (SELECT json_group_array(name) FROM (
                SELECT t.name FROM episode_tags et JOIN tags t ON t.slug = et.tag_slug
                WHERE et.episode_id = e.id AND t.kind = 'keyphrase'
                ORDER BY et.score DESC)) AS keyphrases,
            (SELECT json_group_array(name) FROM (
                SELECT p.name FROM episode_people ep JOIN people p ON p.id = ep.person_id
                WHERE ep.episode_id = e.id AND ep.role = 'guest' ORDER BY p.name)) AS guests,
            e.enclosure_url AS audio
        FROM episodes e JOIN shows s ON s.id = e.show_id;

        -- One row per tag of an episode, topics and keyphrases told apart by `kind`.
        CREATE VIEW episode_topics AS
        SELECT
            et.rowid AS rowid,
            et.episode_id,
            e.title AS episode,
            t.name AS topic,
            et.tag_slug,
            round(et.score, 3) AS score,
            et.source
        FROM episode_tags et
        JOIN tags t ON t.slug = et.tag_slug
        JOIN episodes e ON e.id = et.episode_id
        WHERE t.kind = 'topic';

        CREATE VIEW episode_keyphrases AS
        SELECT
            et.rowid AS rowid,
            et.episode_id,
            e.title AS episode,
            t.name AS keyphrase,
            round(et.score, 3) AS score
        FROM episode_tags et
        JOIN tags t ON t.slug = et.tag_slug
        JOIN episodes e ON e.id = et.episode_id
        WHERE t.kind = 'keyphrase';
        """
    )


def m080_moment_quotes(db: sqlite_utils.Database) -> None:
    """A moment's quote: the sentence that carries its topic, where its `start` now points.
    Moments stored before it have none until the episode is tagged again (the tagger's version
    is part of each episode's input hash, so the next `tag` does it)."""
    db.execute("ALTER TABLE topic_moments ADD COLUMN quote TEXT NOT NULL DEFAULT ''")


def m090_speakers(db: sqlite_utils.Database) -> None:
    """Who speaks: each episode's voices (found by ingest.speakers), one voice print per named
    person so later episodes know them by voice, and names corrected by hand, which re-runs
    keep. Publisher transcripts keep the speakers they came with; these are for the rest."""
    db.executescript(
        """
        ALTER TABLE episodes ADD COLUMN speakers_status TEXT;   -- NULL (not yet), 'done', 'failed'
        ALTER TABLE episodes ADD COLUMN speakers_at TEXT;
        ALTER TABLE episodes ADD COLUMN speakers_error TEXT;

        CREATE TABLE episode_voices (
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            label TEXT NOT NULL,            -- the name in segments.speaker ("Speaker 2" if unknown)
            seconds REAL NOT NULL,          -- of speech
            first_start REAL NOT NULL,      -- when the voice first speaks
            named_by TEXT NOT NULL,         -- 'voice print', 'feed', 'hand' or 'unknown'
            vector BLOB NOT NULL,           -- float32 voice vector, unit length
            PRIMARY KEY (episode_id, label)
        );

        CREATE TABLE voice_prints (
            person_id INTEGER PRIMARY KEY REFERENCES people(id),
            vector BLOB NOT NULL,           -- float32, the mean of the person's voices
            seconds REAL NOT NULL,          -- of speech it was learnt from
            episodes INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE speaker_corrections (
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            label TEXT NOT NULL,            -- the voice's label when it was corrected
            name TEXT NOT NULL,
            vector BLOB,                    -- that voice, to find it again after a re-run
            corrected_at TEXT NOT NULL,
            PRIMARY KEY (episode_id, label)
        );

        -- Who speaks in each episode and for how long, for the host in Datasette.
        CREATE VIEW episode_speakers AS
        SELECT
            v.rowid AS rowid,
            v.episode_id,
            e.title AS episode,
            v.label AS speaker,
            round(v.seconds) AS seconds,
            v.named_by
        FROM episode_voices v JOIN episodes e ON e.id = v.episode_id;
        """
    )
    db.execute("CREATE INDEX segments_speaker ON segments(speaker)")


def m100_chapters_and_soundbites(db: sqlite_utils.Database) -> None:
    """Chapters for every episode (the publisher's, repaired, else generated), soundbites, and
    the inline Podlove chapters of a feed item; Datasette's episode_chapters view."""
    db.executescript(
        """
        -- JSON [{"start", "title", "href", "image"}]: psc:chapter elements as the feed wrote them.
        ALTER TABLE episodes ADD COLUMN feed_chapters TEXT NOT NULL DEFAULT '[]';
        -- 'publisher' (podcast:chapters or psc:chapters, repaired) or 'generated'.
        ALTER TABLE episodes ADD COLUMN chapters_source TEXT;
        -- Hash of what the chapters were made from (ingest.chapters.step): unchanged, not redone.
        ALTER TABLE episodes ADD COLUMN chapters_input_hash TEXT;
        ALTER TABLE episodes ADD COLUMN chapters_at TEXT;
        -- Why the publisher's chapters were repaired or replaced: one line naming the episode.
        ALTER TABLE episodes ADD COLUMN chapters_warning TEXT;

        CREATE TABLE soundbites (
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            start REAL NOT NULL,            -- seconds: where a sentence begins
            duration REAL NOT NULL,         -- 15 to 60 s (podcast:soundbite)
            title TEXT NOT NULL DEFAULT '',
            score REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (episode_id, start)
        );

        CREATE VIEW episode_chapters AS
        SELECT
            c.rowid AS rowid,
            c.episode_id,
            e.title AS episode,
            c.start,
            c."end",
            round(c."end" - c.start) AS seconds,
            c.title,
            c.url,
            e.chapters_source AS source,
            e.chapters_warning AS warning
        FROM chapters c JOIN episodes e ON e.id = c.episode_id;
        """
    )


def m110_word_times_and_passage_vectors(db: sqlite_utils.Database) -> None:
    """Search by words and by meaning.

    When each word is said (`segments.words`: a JSON list of start times, one per whitespace
    token of the text; NULL: timed by its characters), so a search hit links to the first
    matched word rather than the start of its line. Every passage is rebuilt, its `offsets`
    now one entry per word. Transcripts stored before keep NULL until `podarchive reindex`
    reads their words back from the transcript files.

    `passage_vectors`: each passage's sentence embedding (ingest.embed), for search by
    meaning. A rebuilt passage loses its vector (the trigger), so the next `tag` or `run`
    embeds exactly the passages that changed.
    """
    db.execute("ALTER TABLE segments ADD COLUMN words TEXT")
    db.execute(
        "INSERT OR IGNORE INTO passages_stale (episode_id) SELECT DISTINCT episode_id FROM segments"
    )
    db.executescript(
        """
        CREATE TABLE passage_vectors (
            passage_id INTEGER PRIMARY KEY,     -- passages.id
            episode_id TEXT NOT NULL,
            model TEXT NOT NULL,                -- ingest.embed.MODEL_ID
            vector BLOB NOT NULL                -- float16, little-endian, ingest.embed.DIMENSION
        );
        CREATE INDEX passage_vectors_episode ON passage_vectors(episode_id);
        CREATE TRIGGER passages_vector_delete AFTER DELETE ON passages BEGIN
            DELETE FROM passage_vectors WHERE passage_id = old.id;
        END;
        """
    )


def m120_tag_evidence(db: sqlite_utils.Database) -> None:
    """Why an episode has each topic (`reason`): the seconds its moments cover and their share
    of the spoken time, and the show-notes sentence that names it (with its score). The host
    reads them in Datasette's episode_topics; the episode page quotes the notes sentence."""
    for column, kind in [
        ("reason", "TEXT NOT NULL DEFAULT ''"),
        ("seconds", "REAL NOT NULL DEFAULT 0"),
        ("share", "REAL NOT NULL DEFAULT 0"),
        ("notes_score", "REAL NOT NULL DEFAULT 0"),
        ("notes_quote", "TEXT NOT NULL DEFAULT ''"),
    ]:
        db.execute(f"ALTER TABLE episode_tags ADD COLUMN {column} {kind}")
    db.executescript(
        """
        DROP VIEW IF EXISTS episode_topics;
        CREATE VIEW episode_topics AS
        SELECT
            et.rowid AS rowid,
            et.episode_id,
            e.title AS episode,
            t.name AS topic,
            et.tag_slug,
            round(et.score, 3) AS score,
            et.source,
            CASE WHEN et.source = 'manual' THEN 'added by hand' ELSE et.reason END AS why,
            (SELECT count(*) FROM topic_moments tm
             WHERE tm.episode_id = et.episode_id AND tm.tag_slug = et.tag_slug) AS moments,
            round(et.seconds) AS seconds_discussed,
            round(100 * et.share, 1) AS percent_of_speech,
            et.notes_quote,
            round(et.notes_score, 3) AS notes_score
        FROM episode_tags et
        JOIN tags t ON t.slug = et.tag_slug
        JOIN episodes e ON e.id = et.episode_id
        WHERE t.kind = 'topic';
        """
    )


def m130_topic_mentions(db: sqlite_utils.Database) -> None:
    """Moments of topics an episode is not tagged with: a passage that matches a topic in an
    episode that does not dwell on it. Kept apart from `topic_moments` (the evidence of tags),
    so a recruiter can still find a passing mention without the episode counting as about it."""
    db.executescript(
        """
        CREATE TABLE topic_mentions (
            id INTEGER PRIMARY KEY,
            episode_id TEXT NOT NULL REFERENCES episodes(id),
            tag_slug TEXT NOT NULL REFERENCES tags(slug),
            start REAL NOT NULL,            -- seconds: where the sentence that says it begins
            end REAL NOT NULL,
            score REAL NOT NULL,
            quote TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX topic_mentions_tag ON topic_mentions(tag_slug, score);
        CREATE INDEX topic_mentions_episode ON topic_mentions(episode_id, start);
        """
    )


def m160_related_moments(db: sqlite_utils.Database) -> None:
    """Related moments, computed at build time from the passage vectors (ingest.related).

    `related_moments`: for each episode, the passages of other episodes nearest in meaning to
    its own (one or two per other episode, a few episodes), each quoted at its best sentence.
    `topic_review_moments`: for each topic, passages nearest its strongest moments in episodes
    not tagged with it, for the host to review. `related_stale` (kept by triggers on the
    vectors) and `topic_review_inputs` say which lists' inputs changed, so a build recomputes
    only those and offers their new passages to the other lists.
    """
    db.executescript(
        """
        CREATE TABLE related_moments (
            episode_id TEXT NOT NULL,           -- the episode whose page lists it
            other_episode_id TEXT NOT NULL,     -- where the moment is said
            passage_id INTEGER NOT NULL,        -- this episode's passage it resembles
            other_passage_id INTEGER NOT NULL,  -- the other episode's passage, quoted
            score REAL NOT NULL,                -- cosine of the two passages' vectors
            quote TEXT NOT NULL DEFAULT '',     -- the other passage's sentence nearest in meaning
            start REAL NOT NULL DEFAULT 0,      -- seconds: when that sentence's first word is said
            end REAL NOT NULL DEFAULT 0,        -- seconds: when its last word ends
            PRIMARY KEY (episode_id, other_passage_id)
        );
        CREATE INDEX related_moments_other ON related_moments(other_episode_id);

        CREATE TABLE topic_review_moments (
            tag_slug TEXT NOT NULL,
            episode_id TEXT NOT NULL,           -- an episode not tagged with the topic
            passage_id INTEGER NOT NULL,
            source_passage_id INTEGER NOT NULL, -- the topic moment's passage it resembles
            score REAL NOT NULL,
            quote TEXT NOT NULL DEFAULT '',
            start REAL NOT NULL DEFAULT 0,
            end REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (tag_slug, passage_id)
        );
        CREATE INDEX topic_review_moments_episode ON topic_review_moments(episode_id);

        -- Episodes whose vectors changed since their list was made (new, re-embedded or
        -- gone): the next build recomputes these and offers their passages to the others.
        CREATE TABLE related_stale (episode_id TEXT PRIMARY KEY);
        CREATE TRIGGER passage_vectors_related_insert AFTER INSERT ON passage_vectors BEGIN
            INSERT OR IGNORE INTO related_stale (episode_id) VALUES (new.episode_id);
        END;
        CREATE TRIGGER passage_vectors_related_delete AFTER DELETE ON passage_vectors BEGIN
            INSERT OR IGNORE INTO related_stale (episode_id) VALUES (old.episode_id);
        END;
        INSERT OR IGNORE INTO related_stale (episode_id)
            SELECT DISTINCT episode_id FROM passage_vectors;

        -- What each topic's review list was made from (its moments' passages, the episodes
        -- tagged with it, its passing mentions), hashed: unchanged, it is not recomputed.
        CREATE TABLE topic_review_inputs (
            tag_slug TEXT PRIMARY KEY,
            stamp TEXT NOT NULL
        );

        -- For the host in Datasette: each episode's related moments with both titles. The
        -- moment's own episode is `episode_id`, so its start links there (as in topic_moments).
        CREATE VIEW episode_related_moments AS
        SELECT
            r.rowid AS rowid,
            e.title AS for_episode,
            r.episode_id AS for_episode_id,
            o.title AS episode,
            r.other_episode_id AS episode_id,
            r.start,
            r.quote,
            round(r.score, 3) AS similarity
        FROM related_moments r
        JOIN episodes e ON e.id = r.episode_id
        JOIN episodes o ON o.id = r.other_episode_id;

        CREATE VIEW topic_review AS
        SELECT
            r.rowid AS rowid,
            t.name AS topic,
            r.tag_slug,
            e.title AS episode,
            r.episode_id,
            r.start,
            r.quote,
            round(r.score, 3) AS similarity
        FROM topic_review_moments r
        JOIN tags t ON t.slug = r.tag_slug
        JOIN episodes e ON e.id = r.episode_id;
        """
    )


def m165_segments_by_time(db: sqlite_utils.Database) -> None:
    """Each episode's segments by start time: a site build finds the line every topic moment
    of the archive starts on (its speaker, its quote) by a search of this index, where the
    (episode_id, idx) key made it scan and sort the episode's segments (60,000 moments at
    10,000 episodes)."""
    db.execute("CREATE INDEX IF NOT EXISTS segments_episode_start ON segments(episode_id, start)")


def m170_sentence_vectors(db: sqlite_utils.Database) -> None:
    """Each passage's sentence vectors (`sentence_vectors`): a hit by meaning lands on its
    sentence nearest the query with one dot product per sentence, where embedding the
    sentences at query time cost about 10 ms each. `count` is how many sentences
    ingest.search.hybrid.passage_sentences cut the passage into when they were embedded; a
    rebuilt passage loses its row (the trigger), and the next `tag` or `run` embeds it again,
    as it does the passages of archives made before this table. `vector_changes` counts the
    changes to passage_vectors, for the search's cached matrix.
    """
    db.executescript(
        """
        CREATE TABLE sentence_vectors (
            passage_id INTEGER PRIMARY KEY,     -- passages.id
            model TEXT NOT NULL,                -- ingest.embed.MODEL_ID
            count INTEGER NOT NULL,             -- sentences, in the passage's order
            vectors BLOB NOT NULL               -- int8 rows with float32 scales (ingest.embed.int8)
        );
        CREATE TRIGGER passages_sentence_vectors_delete AFTER DELETE ON passages BEGIN
            DELETE FROM sentence_vectors WHERE passage_id = old.id;
        END;

        -- Counts every change to passage_vectors, so a search server's cached matrix knows
        -- it is current from one row (counting the vectors read all of them: 80 ms at 3,000
        -- episodes). A REPLACE fires the insert trigger.
        CREATE TABLE vector_changes (changes INTEGER NOT NULL);
        INSERT INTO vector_changes VALUES (0);
        CREATE TRIGGER passage_vectors_changes_insert AFTER INSERT ON passage_vectors BEGIN
            UPDATE vector_changes SET changes = changes + 1;
        END;
        CREATE TRIGGER passage_vectors_changes_update AFTER UPDATE ON passage_vectors BEGIN
            UPDATE vector_changes SET changes = changes + 1;
        END;
        CREATE TRIGGER passage_vectors_changes_delete AFTER DELETE ON passage_vectors BEGIN
            UPDATE vector_changes SET changes = changes + 1;
        END;
        """
    )


def m180_passage_facets_and_recent_index(db: sqlite_utils.Database) -> None:
    """Filters inside the full-text index, and a second index of the newest passages.

    `passages.facets` holds one token per filter value of the passage's episode (its show,
    day, month, year and every tag; ingest.search.lexical writes the same tokens into a
    query), indexed in the FTS column `facets`, so a filtered search is one FTS5 query: at
    30,000 episodes, "people" within a topic ranked in 70 ms where probing a set of the
    topic's 290,000 passage ids for each of 284,000 matches took 170 ms. The facets column
    weighs 0 in the rank (bm25(1.0, 0.0)). `passage_facets_stale` lists the episodes whose
    tags, show or date changed since their passages' facets were written
    (ingest.store.search.refresh_facets rewrites them).

    `passages_recent_fts` indexes the passages whose id is at least `passages_recent.floor`
    (ingest.store.search.trim_recent_index keeps it the newest RECENT_PASSAGES, empty in a
    smaller archive). bm25 counts the passages holding each query term over the whole index
    it ranks in, about 45 ns a passage: 80 ms for a stop word in 1.7 million passages. A
    query whose newest RANKED_AT_MOST matches all lie in the recent index ranks them there.
    """
    db.executescript(
        """
        DROP TRIGGER IF EXISTS passages_ai;
        DROP TRIGGER IF EXISTS passages_ad;
        DROP TRIGGER IF EXISTS passages_au;
        DROP TABLE IF EXISTS passages_fts;
        ALTER TABLE passages ADD COLUMN facets TEXT NOT NULL DEFAULT '';

        -- The facet tokens of each episode: single tokens the porter tokenizer leaves alone
        -- (hex of the id with a trailing 0, dates as digits after a letter). A show's dates
        -- have tokens of their own (c<show>0y2021...), so a show and a date range are
        -- counted for bm25 over that show's passages of those dates, not over all of both.
        CREATE VIEW episode_facets AS
        SELECT episode_id,
            's' || show || '0'
            || coalesce(' y' || year || ' m' || year || month || ' d' || year || month || day
                || ' c' || show || '0y' || year
                || ' c' || show || '0m' || year || month
                || ' c' || show || '0d' || year || month || day, '')
            || coalesce((
                SELECT group_concat(' t' || lower(hex(et.tag_slug)) || '0', '')
                FROM episode_tags et WHERE et.episode_id = dated.episode_id), '') AS facets
        FROM (
            SELECT e.id AS episode_id, lower(hex(e.show_id)) AS show,
                substr(e.published, 1, 4) AS year, substr(e.published, 6, 2) AS month,
                substr(e.published, 9, 2) AS day
            FROM episodes e) AS dated;

        CREATE TABLE passage_facets_stale (episode_id TEXT PRIMARY KEY);
        CREATE TRIGGER episode_tags_facets_insert AFTER INSERT ON episode_tags BEGIN
            INSERT OR IGNORE INTO passage_facets_stale VALUES (new.episode_id);
        END;
        CREATE TRIGGER episode_tags_facets_update AFTER UPDATE ON episode_tags BEGIN
            INSERT OR IGNORE INTO passage_facets_stale VALUES (old.episode_id);
            INSERT OR IGNORE INTO passage_facets_stale VALUES (new.episode_id);
        END;
        CREATE TRIGGER episode_tags_facets_delete AFTER DELETE ON episode_tags BEGIN
            INSERT OR IGNORE INTO passage_facets_stale VALUES (old.episode_id);
        END;
        CREATE TRIGGER episodes_facets_update AFTER UPDATE OF show_id, published ON episodes
        BEGIN
            INSERT OR IGNORE INTO passage_facets_stale VALUES (new.id);
        END;

        UPDATE passages SET facets = (
            SELECT f.facets FROM episode_facets f WHERE f.episode_id = passages.episode_id);

        CREATE VIRTUAL TABLE passages_fts USING fts5(
            text, facets, content='passages', content_rowid='id', tokenize='porter');
        INSERT INTO passages_fts (passages_fts) VALUES ('rebuild');
        INSERT INTO passages_fts (passages_fts, rank) VALUES ('rank', 'bm25(1.0, 0.0)');

        CREATE VIRTUAL TABLE passages_recent_fts USING fts5(
            text, facets, content='passages', content_rowid='id', tokenize='porter');
        INSERT INTO passages_recent_fts (passages_recent_fts, rank)
            VALUES ('rank', 'bm25(1.0, 0.0)');
        -- Empty until the archive is large enough: no passage id reaches the floor.
        CREATE TABLE passages_recent (floor INTEGER NOT NULL);
        INSERT INTO passages_recent VALUES (9223372036854775807);

        CREATE TRIGGER passages_fts_insert AFTER INSERT ON passages BEGIN
            INSERT INTO passages_fts (rowid, text, facets) VALUES (new.id, new.text, new.facets);
            INSERT INTO passages_recent_fts (rowid, text, facets)
                SELECT new.id, new.text, new.facets FROM passages_recent WHERE new.id >= floor;
        END;
        CREATE TRIGGER passages_fts_delete AFTER DELETE ON passages BEGIN
            INSERT INTO passages_fts (passages_fts, rowid, text, facets)
                VALUES ('delete', old.id, old.text, old.facets);
            INSERT INTO passages_recent_fts (passages_recent_fts, rowid, text, facets)
                SELECT 'delete', old.id, old.text, old.facets FROM passages_recent
                WHERE old.id >= floor;
        END;
        CREATE TRIGGER passages_fts_update AFTER UPDATE OF text, facets ON passages BEGIN
            INSERT INTO passages_fts (passages_fts, rowid, text, facets)
                VALUES ('delete', old.id, old.text, old.facets);
            INSERT INTO passages_fts (rowid, text, facets) VALUES (new.id, new.text, new.facets);
            INSERT INTO passages_recent_fts (passages_recent_fts, rowid, text, facets)
                SELECT 'delete', old.id, old.text, old.facets FROM passages_recent
                WHERE old.id >= floor;
            INSERT INTO passages_recent_fts (rowid, text, facets)
                SELECT new.id, new.text, new.facets FROM passages_recent WHERE new.id >= floor;
        END;
        """
    )


def m190_term_counts(db: sqlite_utils.Database) -> None:
    """How many passages hold each common term, for bm25 without counting at query time.

    FTS5's bm25 counts the passages holding each query term over the whole index on every
    query: 70 ms for "the" at 30,000 episodes. ingest.search.bm25 ranks a query's few matches
    itself from these counts (ingest.store.term_counts keeps them, counting again as the
    archive grows). `passage_term_counts_taken` is the one row of when they were counted: the
    index's row count then and the newest passage id.
    """
    from ingest.store.term_counts import refresh_term_counts

    db.execute(
        """
        CREATE TABLE passage_term_counts (
            term TEXT PRIMARY KEY,          -- a token of passages_fts (porter stemmed)
            passages INTEGER NOT NULL       -- how many passages held it when counted
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE passage_term_counts_taken (
            passages INTEGER NOT NULL,      -- passages_fts rows when counted
            last_passage_id INTEGER NOT NULL
        )
        """
    )
    refresh_term_counts(db, force=True)


MIGRATIONS: list[Migration] = [
    m001_shows_and_episodes,
    m002_segments,
    m003_tags,
    m005_feed_url_history,
    m030_tag_hashes,
    m040_passages_and_search,
    m050_transcript_note,
    m060_title_source,
    m070_topics_apart_from_keyphrases,
    m080_moment_quotes,
    m090_speakers,
    m100_chapters_and_soundbites,
    m110_word_times_and_passage_vectors,
    m120_tag_evidence,
    m130_topic_mentions,
    m160_related_moments,
    m165_segments_by_time,
    m170_sentence_vectors,
    m180_passage_facets_and_recent_index,
    m190_term_counts,
]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded; return the names applied."""

    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for migration in MIGRATIONS:
        name = migration.__name__
        if name in done:
            continue
        with transaction(db):  # one transaction per migration: all of it or none
            migration(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                [name, datetime.now(UTC).isoformat(timespec="seconds")],
            )
        applied.append(name)
    return applied
