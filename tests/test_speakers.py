"""Speaker labelling's parts without audio: names from the feed, naming voices, clustering
vectors, splitting segments at word boundaries, voice prints in the database."""

from __future__ import annotations

import numpy as np

from ingest.records import Segment, Word
from ingest.speakers import diarize, names
from ingest.speakers.diarize import Voice, cluster, split_segments
from ingest.store import speakers as store
from ingest.store.speakers import Correction, StoredVoice, VoicePrint
from ingest.store.writes import transaction


def _unit(v):
    return v / np.linalg.norm(v)


def _voice(index, vector, seconds=30.0, first=0.0):
    return Voice(index, _unit(np.asarray(vector, dtype=np.float32)), seconds, first)


def test_the_cast_comes_from_credits_then_author_then_notes():
    cast = names.episode_cast(
        [("Rob Stevenson", "host"), ("Viet Nguyen", "guest")], "Rob Stevenson", "", "", "TTM"
    )
    assert (cast.hosts, cast.guests) == (["Rob Stevenson"], ["Viet Nguyen"])
    # No credits: the author is the host when it reads as a name; the notes name the guest.
    cast = names.episode_cast([], "Rob Stevenson", "Hiring", "Guest: Laura Chen. Pay.", "TTM")
    assert (cast.hosts, cast.guests) == (["Rob Stevenson"], ["Laura Chen"])
    cast = names.episode_cast([], "Talk Talent Media LLC", "Hiring with Sam Ortiz", "", "TTM")
    assert cast.hosts == [] and cast.guests == ["Sam Ortiz"]
    assert names.episode_cast([], "TTM", "", "", "TTM").hosts == []  # the show's own name


def test_show_notes_that_open_on_a_person_name_the_guest():
    notes = "Viet Nguyen, Head of Technical Recruiting at One Medical, explains the reverse."
    assert names.guests_in_text("One Medical's Reverse Interview", notes) == ["Viet Nguyen"]
    assert names.guests_in_text("Reverse interviews", "We talk about hiring.") == []


def test_voices_are_named_by_hand_then_print_then_feed_and_the_rest_are_numbered():
    host, guest, stranger, other = np.eye(4, dtype=np.float32)
    voices = [
        _voice(0, host + 0.1 * guest, seconds=20, first=0),
        _voice(1, guest, seconds=60, first=5),
        _voice(2, stranger, seconds=10, first=9),
        _voice(3, other, seconds=8, first=12),
    ]
    prints = [VoicePrint(1, "Rob Stevenson", host, 100, 2)]
    cast = names.Cast(hosts=["Rob Stevenson"], guests=["Viet Nguyen"])
    named = names.name_voices(voices, cast, prints)
    assert [(n.label, n.named_by) for n in named] == [
        ("Rob Stevenson", "voice print"),
        ("Viet Nguyen", "feed"),  # the guest with no print: the voice that speaks most
        ("Speaker 3", "unknown"),
        ("Speaker 4", "unknown"),
    ]
    # A correction by hand is found again by its voice and wins over everything.
    fixes = [Correction("Speaker 3", "Ada Quinn", stranger)]
    named = names.name_voices(voices, cast, prints, fixes)
    assert named[2].label == "Ada Quinn" and named[2].named_by == "hand"


def test_a_print_of_someone_the_feed_does_not_name_still_names_their_voice():
    host, guest = np.eye(2, dtype=np.float32)
    voices = [_voice(0, host, first=0), _voice(1, guest, first=3)]
    prints = [VoicePrint(1, "Rob Stevenson", host, 100, 3)]
    named = names.name_voices(voices, names.Cast(), prints)
    assert [n.label for n in named] == ["Rob Stevenson", "Speaker 2"]
    # A print that matches nobody names nobody; an unprinted host opens the show.
    far = VoicePrint(2, "Someone Else", _unit(np.array([0.5, -0.5], dtype=np.float32)), 50, 1)
    named = names.name_voices(voices, names.Cast(hosts=["Pat Lee"]), [far])
    assert [n.label for n in named] == ["Pat Lee", "Speaker 2"]


def test_clusters_find_the_number_of_voices_and_take_a_hint():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 16) * 3
    vectors = np.concatenate([c + rng.normal(0, 0.15, (12, 16)) for c in centres])
    weights = np.full(len(vectors), 2.0)
    labels = cluster(vectors, weights)
    assert len(set(labels)) == 3
    # Each voice's rows stay together.
    assert all(len(set(labels[i * 12 : (i + 1) * 12])) == 1 for i in range(3))
    # A hint of fewer people never forces voices with much of the speech together; a distinct
    # voice with little of it (one person's stray runs) joins the others.
    assert len(set(cluster(vectors, weights, hint=2))) == 3
    few = np.concatenate([vectors[:24], vectors[24:26]])
    few_weights = np.append(np.full(24, 2.0), [1.6, 1.6])  # 3.2 s: a voice, but 6% of the speech
    assert len(set(cluster(few, few_weights))) == 3
    assert len(set(cluster(few, few_weights, hint=2))) == 2
    # Two close voices (cosine distance 0.15: one voice by the threshold) are split when the
    # feed names three people, not otherwise.
    close = np.array([np.cos(np.arccos(0.85)), np.sin(np.arccos(0.85))] + [0.0] * 14) * 3
    near = np.concatenate([vectors[:24], close + rng.normal(0, 0.03, (12, 16))])
    near[:12] = centres[0] + rng.normal(0, 0.03, (12, 16))
    assert len(set(cluster(near, weights))) == 2
    assert len(set(cluster(near, weights, hint=3))) == 3
    # A stray row with almost no speech joins a real voice rather than being one.
    stray = np.concatenate([vectors, [rng.normal(0, 3, 16)]])
    labels = cluster(stray, np.append(weights, 0.2))
    assert len(set(labels)) == 3


def test_segments_split_where_the_voice_changes_at_word_boundaries():
    words = [Word(0.0, 0.4, " Is"), Word(0.4, 0.9, " it?"), Word(1.0, 1.3, " Yes,"),
             Word(1.3, 1.8, " it is.")]  # fmt: skip
    segments = [Segment(0.0, 2.0, "Is it? Yes, it is.", words=words), Segment(2.5, 3.0, "Ok.")]
    items = [(0, w) for w in words] + [(1, Word(2.5, 3.0, "Ok."))]
    split, labels = split_segments(segments, items, np.array([0, 0, 1, 1, 1]))
    assert [(s.start, s.end, s.text) for s in split] == [
        (0.0, 0.9, "Is it?"),
        (1.0, 2.0, "Yes, it is."),
        (2.5, 3.0, "Ok."),
    ]
    assert labels == [0, 1, 1]
    assert [len(s.words) for s in split] == [2, 2, 0]


def test_runs_break_at_pauses_and_long_runs_get_overlapping_windows():
    words = [Word(t, t + 0.3, " w") for t in np.arange(0, 4, 0.35)] + [Word(5.0, 5.2, " x")]
    runs = diarize.speech_runs([Segment(0, 6, "…", words=words)])
    assert len(runs) == 2
    windows = diarize.run_windows(runs[0])
    assert windows[0][0] == runs[0].start and windows[-1][1] >= runs[0].end - 1e-6
    assert all(abs((b - a) - diarize.WINDOW_SECONDS) < 1e-6 for a, b in windows)
    assert diarize.run_windows(runs[1]) == [(5.0, 5.0 + diarize.MIN_CLIP_SECONDS)]


def _episode(db, episode_id="e1"):
    db.execute("INSERT INTO shows (id, feed_url, added_at, updated_at) VALUES ('s', 'u', 'x', 'x')")
    db.execute(
        "INSERT INTO episodes (id, show_id, guid, slug, first_seen, updated_at)"
        " VALUES (?, 's', ?, ?, 'x', 'x')",
        [episode_id, episode_id, episode_id],
    )


def test_a_voice_print_counts_each_episode_once_however_often_it_is_labelled(db):
    _episode(db)
    voice = StoredVoice("Rob Stevenson", 40.0, 0.0, "feed", np.eye(1, 256, 0, dtype=np.float32)[0])
    for _ in range(2):
        with transaction(db):
            store.save_voices(db, "e1", [voice])
            store.refresh_print(db, "Rob Stevenson", min_seconds=5)
    [print_] = store.voice_prints(db)
    assert (print_.name, print_.episodes, print_.seconds) == ("Rob Stevenson", 1, 40.0)
    assert db.execute("SELECT speakers_status FROM episodes").fetchone()[0] == "done"


def test_renaming_onto_a_name_already_in_the_episode_merges_the_two_voices(db):
    _episode(db)
    a, b = np.eye(2, 256, dtype=np.float32)
    with transaction(db):
        store.save_voices(
            db,
            "e1",
            [StoredVoice("Rob", 30, 0, "feed", a), StoredVoice("Speaker 3", 10, 5, "unknown", b)],
        )
        store.rename_speaker(db, "e1", "Speaker 3", "Rob")
    [voice] = store.episode_voices(db, "e1")
    assert (voice.label, voice.seconds, voice.named_by) == ("Rob", 40, "hand")


def test_a_topic_moment_belongs_to_whoever_speaks_the_line_it_starts_on(db):
    _episode(db)
    lines = [(0.0, 4.0, "Rob Stevenson", "What is a reverse interview?"),
             (4.0, 9.0, "Viet Nguyen", "The candidate runs the room."),
             (9.0, 12.0, None, "Unlabelled words."),
             (14.0, 16.0, "Viet Nguyen", "After a pause.")]  # fmt: skip
    for idx, (start, end, speaker, text) in enumerate(lines):
        db.execute(
            "INSERT INTO segments (episode_id, idx, start, end, speaker, text)"
            " VALUES ('e1', ?, ?, ?, ?, ?)",
            [idx, start, end, speaker, text],
        )
    db.execute("INSERT INTO tags (slug, name) VALUES ('reverse', 'Reverse interviews')")
    # Inside a line, at the start of one, in a line no one is named for, in a pause before one.
    for start, score in [(4.5, 0.9), (0.0, 0.5), (10.0, 0.7), (12.5, 0.3)]:
        db.execute(
            "INSERT INTO topic_moments (episode_id, tag_slug, start, end, score, quote)"
            " VALUES ('e1', 'reverse', ?, ?, ?, 'a quote running on into the next line')",
            [start, start + 3, score],
        )
    said = store.moments_by_speaker(db)
    assert set(said) == {"Rob Stevenson", "Viet Nguyen"}
    viet = [(moment["start"], moment["text"]) for moment in said["Viet Nguyen"]]
    assert viet == [(4.5, "The candidate runs the room."), (12.5, "After a pause.")]
    assert said["Rob Stevenson"][0]["text"] == "What is a reverse interview?"


def test_an_episode_transcribed_again_is_labelled_again(db):
    _episode(db)
    db.execute(
        "UPDATE episodes SET transcript_status = 'done', transcript_source = 'asr',"
        " transcript_at = '2026-01-01T00:00:00+00:00'"
    )
    assert [e["id"] for e in store.episodes_to_label(db)] == ["e1"]
    with transaction(db):
        store.save_voices(db, "e1", [])
    assert store.episodes_to_label(db) == []
    db.execute("UPDATE episodes SET transcript_at = '2999-01-01T00:00:00+00:00'")
    assert [e["id"] for e in store.episodes_to_label(db)] == ["e1"]
    db.execute("UPDATE episodes SET transcript_source = 'publisher'")
    assert store.episodes_to_label(db, redo=True) == []  # publisher speakers are kept


def test_two_voices_given_one_name_are_stored_as_one():
    from ingest.speakers.step import _one_per_name

    a, b = np.eye(2, 4, dtype=np.float32)
    merged = _one_per_name(
        [
            StoredVoice("Rob", 30, 0, "voice print", a),
            StoredVoice("Viet", 50, 4, "feed", b),
            StoredVoice("Rob", 10, 20, "hand", b),
        ]
    )
    assert [(v.label, v.seconds, v.first_start) for v in merged] == [
        ("Rob", 40, 0),
        ("Viet", 50, 4),
    ]
    assert (
        np.isclose(np.linalg.norm(merged[0].vector), 1)
        and merged[0].vector[0] > merged[0].vector[1]
    )
