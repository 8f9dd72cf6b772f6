"""Related moments as the pages show them: cards linking to another episode at a second.

Each card is one other episode with its one or two moments; a moment links the way a search
hit does (`?q=WORDS&play=1#t=SECONDS`), so the page seeks there, marks the quoted words and
plays. Only episodes on the site are linked.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from ingest import wordtimes
from ingest.store import related as related_store
from ingest.timecode import clock

QUOTE_CHARS = 160
MARKED_WORDS = 8  # words of the quote the page marks (its content words, in order)
_WORD = re.compile(r"[a-z0-9']+")


def attach(db, episodes: list[dict], topic_slugs: set[str]) -> dict[str, list[dict]]:
    """Give each episode its `related` cards; return each topic's review cards."""
    on_site = {episode["id"]: episode for episode in episodes}
    for episode in episodes:
        episode["related"] = []
    for owner, rows in related_store.related_by_episode(db).items():
        if owner in on_site:
            on_site[owner]["related"] = cards(rows, on_site, "other_episode_id")
    return {
        slug: cards(rows, on_site, "episode_id")
        for slug, rows in related_store.review_by_topic(db).items()
        if slug in topic_slugs
    }


def cards(rows: list[dict], on_site: dict[str, dict], key: str) -> list[dict]:
    """Rows (best first) grouped into one card per episode, in order of its best moment."""
    found: dict[str, dict] = {}
    for row in rows:
        episode = on_site.get(row[key])
        if episode is None or not row["quote"]:
            continue
        card = found.setdefault(
            episode["id"], {"title": episode["title"], "url": episode["url"], "moments": []}
        )
        card["moments"].append(moment(row))
    for card in found.values():
        card["moments"].sort(key=lambda m: m["start"])
    return list(found.values())


def moment(row: dict) -> dict:
    seconds = round(max(row["start"] - wordtimes.LEAD_SECONDS, 0.0), 2)
    quote = " ".join(row["quote"].split())
    if len(quote) > QUOTE_CHARS:
        quote = quote[: QUOTE_CHARS - 1] + "…"
    return {
        "start": row["start"],
        "end": row["end"],
        "seconds": seconds,
        "stamp": clock(row["start"]),
        "quote": quote,
        "query": urlencode({"q": marked_words(row["quote"]), "play": "1"}),
        "score": round(row["score"], 3),
    }


def marked_words(quote: str) -> str:
    """The quote's content words, for the page to mark (?q=), stop words left out."""
    from ingest.tags.text import STOP_WORDS

    words = [w for w in _WORD.findall(quote.lower()) if w not in STOP_WORDS and len(w) > 2]
    return " ".join(list(dict.fromkeys(words))[:MARKED_WORDS])
