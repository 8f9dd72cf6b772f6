"""Feeds: fetch a podcast feed (conditional GET), parse it into records, sanitise its HTML.

`step.fetch_feeds` is the archive's fetch step; `fetch` does the HTTP, `parse` and `raw` read
the document (`repair` first mends what only hand-made feeds break), `enclosures` picks the
audio, `dates` and `titles` read dates and name what the feed left untitled, `sanitize` makes
its HTML safe. Nothing here writes SQL but through `ingest.store`.
"""
