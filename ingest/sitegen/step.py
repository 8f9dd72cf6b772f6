"""Build the static site from the archive database: pages, media, feed, sitemap, search index.

`build_site(db, archive)` renders every page's data, hashes it, and rewrites only the pages
whose hash changed since the last build (see `files`). URLs are fixed by this layout:

    index.html, page/N/              newest episodes first; page N never changes (see `_lists`)
    episodes/<slug>/                 one folder per episode (Datasette links here with #t=SECONDS)
    shows/<id>/, topics/, topics/<slug>/, people/, people/<slug>/, search/, 404.html
    audio/<show>/<episode>.<ext>, transcripts/<show>/<episode>.{vtt,srt,json,txt}
    feed.xml, feed/N.xml, sitemap.xml, robots.txt, static/, pagefind/
    shows/<id>/feed.xml, shows/<id>/feed/N.xml, topics/<slug>/feed.xml, people/<slug>/feed.xml,
    shows.opml
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from ingest.archive import Archive
from ingest.feeds.opml import write_opml
from ingest.fileio import write_atomic
from ingest.related.step import RelatedReport, update_related
from ingest.sitegen import data as site_data
from ingest.sitegen import downloads
from ingest.sitegen import episodes as site_episodes
from ingest.sitegen import render as site_render
from ingest.sitegen import rss as site_feed
from ingest.sitegen import search as site_search
from ingest.sitegen import semantic as site_semantic
from ingest.sitegen.files import SiteWriter, content_hash
from ingest.sitegen.urls import BaseUrl, paginate
from ingest.store import related as related_store
from ingest.store import speakers as speaker_store
from ingest.timecode import clock

STATIC_FILES = ("site.css", "site.js", "search.js", "semantic.js", "favicon.svg")
PERSON_MOMENTS = 12  # topic moments a person page quotes of what they said
# Items of a topic's or a person's feed of moments: the newest, for following what is new (the
# host's held every moment of the archive: 60,000 items at 10,000 episodes, made again for
# each new one); the pages list them all.
MOMENT_FEED_ITEMS = 100
TEMPLATE_CACHE = Path(".cache") / "site-templates"  # compiled templates, inside the archive


@dataclass
class BuildReport:
    """What a build did: outputs written or removed, bad rows skipped, timings in seconds."""

    outputs: int = 0
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    indexed: bool = False
    shards_indexed: list[str] = field(default_factory=list)  # search shards rebuilt
    html_seconds: float = 0.0
    index_seconds: float = 0.0
    # Seconds of each part of the build, by name (`_timed`): where a large archive's time goes.
    phases: dict[str, float] = field(default_factory=dict)
    related: RelatedReport | None = None  # the related-moments lists brought up to date


@contextmanager
def _timed(report: BuildReport, phase: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        report.phases[phase] = round(report.phases.get(phase, 0.0) + elapsed, 2)


def build_site(
    db,
    archive: Archive,
    base_url: str | None = "/",
    show_id: str | None = None,
    search: bool = True,
    templates: Path | None = None,
) -> BuildReport:
    """Render the archive into `archive.site_dir`, rewriting only what changed."""
    started = time.perf_counter()
    report = BuildReport()
    base = BaseUrl.parse(base_url)
    template_dir = templates or site_render.templates_dir()
    env = site_render.make_environment(template_dir, archive.root / TEMPLATE_CACHE)
    version = site_render.fingerprint(template_dir)
    site = archive.site_dir
    site.mkdir(parents=True, exist_ok=True)
    writer = SiteWriter.open(site)
    try:  # the lists the pages show, before their data is read; one failure never stops it
        with _timed(report, "related"):
            report.related = update_related(db)
    except Exception as error:
        report.errors.append(f"related moments: could not update ({error})")
    with _timed(report, "load"):
        data = site_data.load(db, archive, show_id, writer.extra.get("transcripts"))
    writer.extra["transcripts"] = data.transcripts
    report.errors.extend(data.errors)
    common = {
        "base": base.path,
        "site_url": base.absolute,
        "site_title": _site_title(data.shows),
        "version": version,
        "nav_topics": bool(data.topics),
    }
    env.globals.update(common, link=base.link, full=base.full, timestamp=clock)

    def digest_of(template: str, hashed) -> str:
        return content_hash(
            version, template, json.dumps([common, hashed], sort_keys=True, default=str)
        )

    def page(rel: str, template: str, complete=None, inputs=None, **context) -> None:
        """Render `template` to `rel` unless its inputs hash as last time.

        `complete(context)`, when given, adds what is costly to load (a transcript) and is
        called only for pages that must be rendered; the hash covers a stamp of it instead.
        `inputs`, when given, is hashed instead of `context`: a smaller stand-in that changes
        whenever the context does (episode rows by their digests).
        """
        digest = digest_of(template, context if inputs is None else inputs)
        if writer.unchanged(rel, digest):
            return
        try:
            full = complete(context) if complete else context
            html = env.get_template(template).render(canonical=_canonical(rel), **full)
        except Exception as error:  # one bad page never stops the build
            report.errors.append(f"{rel}: could not render ({error})")
            writer.current[rel] = writer.previous.get(rel, "")
            return
        writer.write(rel, digest, html)

    for name in STATIC_FILES:
        writer.copy(f"static/{name}", template_dir / "static" / name)
    for rel, source in data.files.items():
        try:
            writer.link(rel, source)
        except OSError as error:
            report.errors.append(f"{rel}: could not copy {source} ({error})")

    def make_episode(db, job: site_episodes.Job) -> site_episodes.Done:
        """The episode's page and text download, as due: one reading of its transcript
        (reading and grouping it twice was a fifth of a build)."""
        done = site_episodes.Done()
        try:
            episode = site_data.with_transcript(db, job.episode)
            if job.text:  # first: a page that fails to render does not take it along
                rel, _ = job.text
                _write(site, rel, downloads.transcript_text(episode, episode["passages"], base))
                done.written.append(job.text)
            if job.page:
                rel, _ = job.page
                # The JSON-LD is made from the episode, its show and the base URL (`common`).
                ld = _episode_ld(episode, job.show, base)
                html = env.get_template("episode.html").render(
                    canonical=_canonical(rel), episode=episode, show=job.show, ld=ld
                )
                _write(site, rel, html)
                done.written.append(job.page)
        except Exception as error:  # one bad page never stops the build
            made = {rel for rel, _ in done.written}
            due = [rel for rel, _ in filter(None, (job.page, job.text))]
            done.failed = [rel for rel in due if rel not in made]
            done.errors.append(f"{done.failed[0]}: could not render ({error})")
        return done

    shows = {show["id"]: show for show in data.shows}
    jobs = []
    for episode in data.episodes:
        show = shows[episode["show_id"]]
        rel = episode["url"] + "index.html"
        digest = digest_of("episode.html", {"episode": episode, "show": show})
        due = None if writer.unchanged(rel, digest) else (rel, digest)
        text = _text_due(writer, episode, base, version)
        if due or text:
            jobs.append(site_episodes.Job(episode, show, due, text))
        if due:  # the feeds below hash the pages they link by these; a failure resets it
            writer.current[rel] = digest
    db_file = related_store.database_file(db)
    # The episode pages are most of a full build: while workers make them, this process makes
    # every other page and feed (made in turn, the build took the sum of the two).
    with site_episodes.making(jobs, make_episode, db, db_file) as made:
        _other_pages(page, writer, data, base, version, common, db, report)
        with _timed(report, "episodes, waited for"):
            for done in made:
                for rel, digest in done.written:
                    writer.current[rel] = digest
                    writer.written.append(rel)
                for rel in done.failed:
                    writer.current[rel] = writer.previous.get(rel, "")
                report.errors.extend(done.errors)
    opml = write_opml(
        common["site_title"],
        [
            {
                "title": show["title"],
                "feed_url": base.full(show["url"] + "feed.xml"),
                "link": base.full(show["url"]),
            }
            for show in data.shows
        ],
    )
    digest = content_hash(version, "shows.opml", opml.decode("utf-8"))
    if not writer.unchanged("shows.opml", digest):
        writer.write("shows.opml", digest, opml)
    digest = content_hash(version, "robots.txt", base.absolute)
    if not writer.unchanged("robots.txt", digest):
        writer.write("robots.txt", digest, site_feed.robots(base))

    report.removed = writer.remove_stale()
    report.html_seconds = time.perf_counter() - started
    if search:
        with _timed(report, "search index"):
            _search_index(writer, site, data, version, report, db)
    writer.save()
    report.outputs = len(writer.current)
    report.written = writer.written
    return report


def _other_pages(
    page,
    writer: SiteWriter,
    data: site_data.SiteData,
    base: BaseUrl,
    version: str,
    common: dict,
    db,
    report: BuildReport,
) -> None:
    """Every page but the episodes' (lists, topics, people, search, 404) and every feed,
    rendered by `page` unless its inputs are unchanged; written by this process alone."""
    summaries = [site_data.summary(e) for e in data.episodes]
    # A list row is hashed once; the pages listing it hash its digest (1,000 rows appear on
    # the home, show, topic and host pages: re-encoding them per page was most of the hashing).
    rows = {s["id"]: content_hash(json.dumps(s, sort_keys=True)) for s in summaries}
    with _timed(report, "lists"):
        keys = [rows[s["id"]] for s in summaries]
        _lists(page, "", "index.html", summaries, keys, shows=data.shows)
        for show in data.shows:
            own = [s for s in summaries if s["show_id"] == show["id"]]
            _lists(page, show["url"], "show.html", own, [rows[s["id"]] for s in own], show=show)
    with _timed(report, "topics"):
        _topic_pages(page, rows, data, summaries)
    with _timed(report, "people"):
        said = speaker_store.moments_by_speaker(db)
        _people_pages(page, rows, data, summaries, said)
    page("search/index.html", "search.html", topics=_topic_counts(data))
    page("404.html", "404.html")

    # The feeds are made of what the episode pages were made of: their hashes (plus the
    # shows, hashed once, and the people they credit) stand in for rebuilding their items.
    shared = content_hash(json.dumps([common, data.shows], sort_keys=True, default=str))
    with _timed(report, "feeds"):
        _episode_feeds(writer, data, base, version, shared, None)
        # The sitemaps are cheap to make and hashed as made: which files there are depends
        # on the page count.
        for rel, content in site_feed.sitemaps(data, base).items():
            digest = content_hash(version, rel, content)
            if not writer.unchanged(rel, digest):
                writer.write(rel, digest, content)
        for show in data.shows:  # each show's own re-published feed
            _episode_feeds(writer, data, base, version, shared, show)
        _moment_feeds(writer, data, base, version)


def _episode_feeds(
    writer: SiteWriter,
    data: site_data.SiteData,
    base: BaseUrl,
    version: str,
    shared: str,
    show: dict | None,
) -> None:
    """The re-published feed of every show (or of `show`), paged as RFC 5005 archived feeds:
    `feed.xml` holds the newest episodes and links to `feed/N.xml`, fixed windows of
    FEED_PAGE_ITEMS counted from the oldest (as the list pages are), so a new episode
    rewrites `feed.xml` only, and no file holds the whole archive."""
    prefix = show["url"] if show else ""
    episodes = [e for e in data.episodes if show is None or e["show_id"] == show["id"]]
    layouts = paginate(len(episodes), "", site_feed.FEED_PAGE_ITEMS)
    by_id = {person["person_id"]: person for person in data.people}

    def rel_of(number: int | None) -> str | None:
        if number is None or number < 1:
            return None
        return prefix + ("feed.xml" if number == layouts[0].number else f"feed/{number}.xml")

    for layout in layouts:
        end, start = len(episodes) - layout.first + 1, len(episodes) - layout.last
        items = episodes[start:end]
        rel = rel_of(layout.number)
        current = layout.newer_url is None
        links = {
            "self": rel,
            "current": None if current else rel_of(layouts[0].number),
            "prev-archive": rel_of(layout.number - 1) if layout.older_url else None,
            "next-archive": rel_of(layout.number + 1)
            if not current and layout.number + 1 < layouts[0].number
            else None,
        }
        pages = [writer.current.get(e["url"] + "index.html") for e in items]
        credited = {p["person_id"] for e in items for p in e["people"]}
        credited |= {p["person_id"] for s in data.shows for p in s["people"]}
        people = [[n, by_id[n]["href"], by_id[n]["img"]] for n in sorted(credited) if n in by_id]
        inputs = json.dumps([shared, links, current, pages, people])
        digest = content_hash(version, rel, inputs)
        if not writer.unchanged(rel, digest):
            body = site_feed.rss(data, base, show, items, links, archived=not current)
            writer.write(rel, digest, body)


def _moment_feeds(writer: SiteWriter, data: site_data.SiteData, base: BaseUrl, version: str):
    """A feed per topic page and per person page: one item per topic moment, the newest
    MOMENT_FEED_ITEMS. A person's are the moments they start saying, where the transcript
    names its speakers by the episode's credits; elsewhere every moment of the episodes they
    are credited on. A feed is made only when what it is made of changed (its items' episode
    pages, by their hashes, and moments)."""
    by_topic: dict[str, list] = defaultdict(list)
    by_person: dict[int, list] = defaultdict(list)
    for episode in data.episodes:  # newest first: a feed fills with its newest items
        names = {person["name"] for person in episode["people"]}
        voiced = any(moment["speaker"] in names for moment in episode["moments"])
        for moment in episode["moments"]:
            if len(by_topic[moment["slug"]]) < MOMENT_FEED_ITEMS:
                by_topic[moment["slug"]].append((episode, moment))
            for person in episode["people"]:
                number = person["person_id"]
                if len(by_person[number]) < MOMENT_FEED_ITEMS and (
                    not voiced or moment["speaker"] == person["name"]
                ):
                    by_person[number].append((episode, moment))
    feeds = [(t["name"], t["url"], by_topic[t["slug"]]) for t in data.topics]
    feeds += [(p["name"], p["url"], by_person[p["person_id"]]) for p in data.people]
    for title, url, moments in feeds:
        rel = url + "feed.xml"
        items = [
            [writer.current.get(episode["url"] + "index.html") or _feed_fields(episode), moment]
            for episode, moment in moments
        ]
        digest = content_hash(version, rel, json.dumps([base.absolute, title, items]))
        if not writer.unchanged(rel, digest):
            writer.write(rel, digest, site_feed.moments_feed(base, title, url, moments))


def _feed_fields(episode: dict) -> list:
    """What a moments feed item shows of its episode (when its page has no hash to stand in)."""
    return [episode[key] for key in ("guid", "url", "title", "rfc822", "summary")]


def _search_index(
    writer: SiteWriter, site: Path, data: site_data.SiteData, version: str, report: BuildReport, db
) -> None:
    """Re-index the search shards whose episode pages changed (or whose bundle is missing),
    by words (Pagefind) and by meaning (site_semantic)."""
    shards = site_search.shards_of(data.episodes)
    digests = {
        shard.name: content_hash(version, json.dumps([writer.current.get(p) for p in shard.pages]))
        for shard in shards
    }
    indexed = writer.extra.get("search_shards", {})
    present = site_search.exists(site, digests)
    stale = [name for name, digest in digests.items() if indexed.get(name) != digest]
    stale += [name for name, ok in present.items() if not ok and name not in stale]
    manifest = site / site_search.INDEX_DIR / site_search.MANIFEST
    started = time.perf_counter()
    _semantic_index(db, site, shards, data, stale, report)
    if not stale and manifest.is_file() and set(indexed) == set(digests):
        return
    try:
        site_search.build_shards(site, shards, stale)
    except site_search.SearchIndexError as error:  # the pages stand without (new) search
        report.errors.append(str(error))
        # Forget what is not known to be in place; the next build redoes it.
        present = site_search.exists(site, digests)
        writer.extra["search_shards"] = {
            name: digest
            for name, digest in indexed.items()
            if digests.get(name) == digest and present.get(name)
        }
    else:
        report.indexed = True
        report.shards_indexed = stale
        writer.extra["search_shards"] = digests
    writer.extra.pop("search_index", None)  # the single index of earlier builds
    report.index_seconds = time.perf_counter() - started


def _semantic_index(db, site: Path, shards, data, stale: list[str], report: BuildReport) -> None:
    """The passage vectors of the shards re-indexed by words, or not yet made by this model."""
    from ingest.embed.static import MODEL_ID

    todo = [
        s.name
        for s in shards
        if s.name in stale or not site_semantic.shard_ready(site, s.name, MODEL_ID)
    ]
    index = site / site_semantic.INDEX_DIR / site_semantic.INDEX
    if not todo and index.is_file():
        return
    try:
        site_semantic.build(db, site, shards, data.episodes, todo)
    except (OSError, ValueError, ImportError) as error:  # the pages stand, searched by words
        report.errors.append(f"search by meaning: could not build its index ({error})")


def _text_due(writer: SiteWriter, episode: dict, base: BaseUrl, version: str):
    """(site path, input hash) of the episode's transcript as text (see `downloads`) when it
    must be written again, else None."""
    text_file = next((f for f in episode["transcript_files"] if f["ext"] == "txt"), None)
    if text_file is None:
        return None
    header = [episode[key] for key in ("show_title", "title", "date_display", "url")]
    inputs = [header, base.absolute, episode["transcript_digest"]]
    digest = content_hash(version, "transcript.txt", json.dumps(inputs))
    if writer.unchanged(text_file["url"], digest):
        return None
    return text_file["url"], digest


def _write(site: Path, rel: str, text: str) -> None:
    """One file of the site, atomically (from a worker too: SiteWriter records it after)."""
    target = site / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text.encode("utf-8"))


def _site_title(shows: list[dict]) -> str:
    return shows[0]["title"] if len(shows) == 1 else "Podcast archive"


def _canonical(rel: str) -> str:
    """The page's URL path (relative to the base): folders end in '/'."""
    if rel == "index.html":
        return ""
    return rel[: -len("index.html")] if rel.endswith("/index.html") else rel


def _lists(
    page,
    prefix: str,
    template: str,
    items: list[dict],
    keys: list,
    front: dict | None = None,
    **context,
) -> None:
    """Paginated episode lists (newest first) whose older pages never change.

    Pages are counted from the oldest episode: `<prefix>page/N/` always holds episodes
    (N-1)*EPISODES_PER_PAGE+1 .. N*EPISODES_PER_PAGE of the list, so a new episode does not
    shift every page by one. `<prefix>index.html` holds the newest full page plus the episodes
    beyond it (EPISODES_PER_PAGE to 2*EPISODES_PER_PAGE-1 of them); once those fill a second
    page, the older one moves out to its own file for good. Every episode is on one page only.

    `keys[i]` stands for `items[i]` in the page hash; `front` is context for the front page
    only (what changes with every new episode, such as a count, stays off the older pages).
    """
    for layout in paginate(len(items), prefix):
        # Page windows are counted from the oldest; `items` is newest first.
        end, start = len(items) - layout.first + 1, len(items) - layout.last
        first_page = layout.newer_url is None
        fields = context | ((front or {}) if first_page else {})
        fields |= {
            "page_number": layout.number,
            "first_episode": layout.first,
            "last_episode": layout.last,
            "newer_url": layout.newer_url,
            "older_url": layout.older_url,
            "first_page": first_page,
        }
        page(
            layout.rel,
            template,
            inputs=fields | {"episodes": keys[start:end]},
            episodes=items[start:end],
            **fields,
        )


def _topic_counts(data: site_data.SiteData) -> list[dict]:
    counts: dict[str, int] = defaultdict(int)
    for episode in data.episodes:
        for topic in episode["topics"]:
            counts[topic["slug"]] += 1
    return [topic | {"count": counts[topic["slug"]]} for topic in data.topics]


def _topic_pages(page, rows: dict[str, str], data: site_data.SiteData, summaries: list[dict]):
    topics = _topic_counts(data)
    page("topics/index.html", "topics.html", topics=topics)
    by_topic: dict[str, list[dict]] = defaultdict(list)
    keys: dict[str, list] = defaultdict(list)
    for episode, row in zip(data.episodes, summaries, strict=True):
        for topic in episode["topics"]:
            moments = [m for m in episode["moments"] if m["slug"] == topic["slug"]]
            by_topic[topic["slug"]].append(row | {"moments": moments})
            keys[topic["slug"]].append([rows[row["id"]], moments])
    for topic in topics:
        slug = topic["slug"]
        _lists(
            page,
            topic["url"],
            "topic.html",
            by_topic[slug],
            keys[slug],
            front={
                "episode_count": topic["count"],
                "mentions": data.mentions.get(slug, []),
                "review": data.review.get(slug, []),
            },
            topic={key: value for key, value in topic.items() if key != "count"},
            search_url="search/?" + urlencode({"topic": topic["name"]}),
        )


def _people_pages(
    page, rows: dict[str, str], data: site_data.SiteData, summaries: list[dict], said: dict
):
    appearances: dict[int, list[dict]] = defaultdict(list)
    keys: dict[int, list] = defaultdict(list)
    for episode, row in zip(data.episodes, summaries, strict=True):
        for person in episode["people"]:
            appearances[person["person_id"]].append(row | {"role": person["role"]})
            keys[person["person_id"]].append([rows[row["id"]], person["role"]])
    hosting: dict[int, list[dict]] = defaultdict(list)
    for show in data.shows:
        for person in show["people"]:
            hosting[person["person_id"]].append(
                {"title": show["title"], "url": show["url"], "role": person["role"]}
            )
    people = [
        person
        | {"count": len(appearances[person["person_id"]]), "shows": hosting[person["person_id"]]}
        for person in data.people
    ]
    page("people/index.html", "people.html", people=people)
    by_id = {episode["id"]: episode for episode in data.episodes}  # once, not once a person
    for person in data.people:
        number = person["person_id"]
        _lists(
            page,
            person["url"],
            "person.html",
            appearances[number],
            keys[number],
            front={"episode_count": len(appearances[number])},
            person=person | {"shows": hosting[number]},
            moments=_moments_said(said.get(person["name"], []), by_id),
        )


def _moments_said(found: list[dict], by_id: dict[str, dict]) -> list[dict]:
    """A person's own topic moments (they speak the line each starts on), best first, with
    their episode's title and page (`by_id`: the site's episodes by id), quoting that line
    (once, with all the topics it carries)."""
    moments = []
    for row in found:
        episode = by_id.get(row["episode_id"])
        shown = episode and next(
            (m for m in episode["moments"] if m["slug"] == row["tag_slug"]
             and abs(m["start"] - row["start"]) < 0.01),
            None,
        )  # fmt: skip
        if not shown:
            continue
        place = (episode["url"], shown["t"])
        same = next((m for m in moments if (m["url"], m["t"]) == place), None)
        if same is not None:  # one line that carries several topics is quoted once
            same["name"] += ", " + shown["name"]
            continue
        if len(moments) == PERSON_MOMENTS:
            break
        line = " ".join(row["text"].split())
        moments.append(shown | {"episode": episode["title"], "url": episode["url"], "quote": line})
    return moments


def _episode_ld(episode: dict, show: dict, base: BaseUrl) -> dict:
    """schema.org PodcastEpisode metadata (https://schema.org/PodcastEpisode)."""
    ld: dict = {
        "@context": "https://schema.org",
        "@type": "PodcastEpisode",
        "name": episode["title"],
        "url": base.full(episode["url"]),
        "description": episode["summary"],
        "partOfSeries": {
            "@type": "PodcastSeries",
            "name": show["title"],
            "url": base.full(show["url"]),
        },
    }
    if episode["date_iso"]:
        ld["datePublished"] = episode["date_iso"][:10]
    if episode["duration"]:
        ld["timeRequired"] = episode["duration_iso"]
    if episode["episode_number"]:
        ld["episodeNumber"] = episode["episode_number"]
    if episode["audio"]:
        ld["associatedMedia"] = {
            "@type": "MediaObject",
            "contentUrl": base.full(episode["audio"]["url"]),
            "encodingFormat": episode["audio"]["type"],
        }
    if episode["people"]:
        ld["actor"] = [{"@type": "Person", "name": p["name"]} for p in episode["people"]]
    return ld
