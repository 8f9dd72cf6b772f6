"""Word times: Whisper's words mapped onto a line's tokens, characters timed without them,
and the matched word a search link lands on."""

from __future__ import annotations

from ingest import wordtimes
from ingest.records import Segment, Transcript, Word
from ingest.store import search
from ingest.store import transcripts as transcript_store


def test_words_that_spell_the_line_time_its_tokens():
    words = [(1.0, " We"), (1.3, " call"), (1.6, " it"), (2.0, " the"), (2.2, " reverse-"),
             (2.9, "interview.")]  # fmt: skip
    text = "We call it the reverse-interview."
    assert wordtimes.from_words(text, words) == [1.0, 1.3, 1.6, 2.0, 2.2]
    # Words that no longer spell the text (an edited line): timed by characters instead.
    assert wordtimes.from_words("We call it something else.", words) is None
    starts = wordtimes.token_starts("We call it something else.", 10.0, 15.0, words)
    assert starts[0] == 10.0 and starts == sorted(starts) and starts[-1] < 15.0


def test_stored_word_times_reach_the_passage_offsets(db):
    db["shows"].insert({"id": "s", "feed_url": "http://x/f", "added_at": "", "updated_at": ""})
    db["episodes"].insert(
        {"id": "e", "show_id": "s", "guid": "g", "slug": "e", "first_seen": "", "updated_at": ""}
    )
    words = [Word(4.0, 4.2, " Hello"), Word(4.3, 4.5, " there,"), Word(9.7, 9.9, " stressful"),
             Word(10.1, 10.4, " week.")]  # fmt: skip
    segment = Segment(4.0, 10.5, "Hello there, stressful week.", words=words)
    transcript_store.save_transcript(db, "e", Transcript([segment]))
    search.refresh_passages(db)
    offsets, text, start = db.execute("SELECT offsets, text, start FROM passages").fetchone()
    marked = text.replace("stressful", search.MATCH_MARK + "stressful" + search.MATCH_END)
    # The word itself, not the line's start: 9.7 s, LEAD_SECONDS early.
    assert search.match_time(offsets, marked, start) == 9.7 - wordtimes.LEAD_SECONDS
    assert wordtimes.link_second(9.7) == 9


def test_the_link_lands_where_matched_words_stand_side_by_side():
    m, e = search.MATCH_MARK, search.MATCH_END
    text = f"One {m}week{e} later, a {m}stressful{e} {m}week{e} came."
    assert search.first_match(text) == len("One week later, a ")
    assert search.first_match(f"only {m}week{e} here") == len("only ")
    assert search.first_match("no match") == -1


def test_lines_timed_together_are_timed_as_one_by_one():
    """decode_all (a whole transcript in numpy) gives decode's floats for every line: stored
    starts that fit, stored ones that do not, none, Unicode spaces, empty and backwards lines,
    and times whose hundredths sit on a half (where round(x, 2) must be matched exactly)."""
    import random

    rng = random.Random(5)
    pieces = ["a", "bb", "Ünï", "x\u00a0y", "", " ", "\t", "d\x1ce", "😀z", "\u3000", "\u3001"]
    lines = [(None, "a b c", 0.005, 0.065), (None, "one two", 2.675, 2.675 + 1e-12)]
    for _ in range(2000):
        text = " " * rng.randint(0, 2) + " ".join(rng.choices(pieces, k=rng.randint(0, 15)))
        start = rng.choice([rng.uniform(0, 5000), rng.randint(0, 500) / 200])
        end = start + rng.choice([rng.uniform(0, 10), -1.0, 0.0, rng.randint(0, 40) / 200])
        count = len(text.split())
        stored = None
        if count and rng.random() < 0.3:  # fitting, or one start too many
            stored = wordtimes.encode([start + 0.1 * k for k in range(count + rng.randint(0, 1))])
        lines.append((stored, rng.choice([text, text, None]), start, end))
    expected = [wordtimes.decode(stored, text, start, end) for stored, text, start, end in lines]
    assert wordtimes.decode_all(lines) == expected
    assert sum(map(len, expected)) > 5000
    assert wordtimes.decode_all([]) == []
