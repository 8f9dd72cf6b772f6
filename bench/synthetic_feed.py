"""Make realistic podcast feeds of any size, for tests and benchmarks (no network, no files)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

FIRST_EPISODE_DATE = datetime(2015, 1, 5, 9, 0, tzinfo=UTC)

_NOTES = (
    "<p>In episode {n} we talk about <b>hiring</b>, structured interviews and how a recruiting "
    "team earns the trust of engineering managers.</p><p>Links: "
    '<a href="https://example.com/notes/{n}">show notes</a> &amp; '
    '<a href="https://example.com/guest/{n}">our guest</a>.</p><ul><li>Sourcing</li>'
    "<li>Closing candidates</li><li>Grit, transparency and collaboration</li></ul>"
)


def synthetic_item(n: int, *, title_suffix: str = "") -> str:
    """One RSS item with every field a podcast app shows, numbered `n`."""
    published = FIRST_EPISODE_DATE + timedelta(days=7 * n)
    hours, rest = divmod(1800 + (n * 37) % 3600, 3600)
    duration = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    enclosure = f"https://dts.podtrac.com/redirect.mp3/cdn.example.com/ep/{n}.mp3?src=rss"
    return (
        "<item>"
        f"<title>{escape(f'Episode {n}: recruiting at scale{title_suffix}')}</title>"
        f'<guid isPermaLink="false">synthetic-{n}</guid>'
        f"<pubDate>{published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<link>https://example.com/episodes/{n}</link>"
        f"<description><![CDATA[{_NOTES.format(n=n)}]]></description>"
        f'<enclosure url={quoteattr(enclosure)} length="{1_000_000 + n}" type="audio/mpeg"/>'
        f"<itunes:duration>{duration}</itunes:duration>"
        f"<itunes:season>{1 + n // 100}</itunes:season><itunes:episode>{n}</itunes:episode>"
        "<itunes:episodeType>full</itunes:episodeType><itunes:explicit>false</itunes:explicit>"
        f'<podcast:transcript url="https://example.com/t/{n}.vtt" type="text/vtt"/>'
        f'<podcast:transcript url="https://example.com/t/{n}.json" type="application/json"/>'
        f'<podcast:person role="guest">Guest {n % 250}</podcast:person>'
        "</item>"
    )


def synthetic_feed(
    count: int,
    *,
    first: int = 0,
    title: str = "Synthetic Show",
    next_url: str | None = None,
    title_suffix: str = "",
) -> bytes:
    """An RSS 2.0 feed of `count` items numbered from `first`, newest first."""
    items = "".join(
        synthetic_item(n, title_suffix=title_suffix) for n in reversed(range(first, first + count))
    )
    paging = f'<atom:link rel="next" href={quoteattr(next_url)}/>' if next_url else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>{escape(title)}</title><link>https://example.com/</link>"
        "<description>A show made up for tests.</description><language>en</language>"
        '<itunes:author>Example Media</itunes:author><itunes:image href="https://example.com/c.jpg"/>'
        f'<itunes:category text="Business"/>{paging}{items}</channel></rss>'
    ).encode()
