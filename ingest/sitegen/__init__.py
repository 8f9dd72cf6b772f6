"""The static site: pages, media, feed, sitemap and search index, built from the archive.

`step.build_site` is the step. `data` turns rows into page data, `render` is the Jinja
environment, `files` writes the site folder, `rss` the feed and sitemap, `search` the Pagefind
index, `urls` where pages live, `server` serves a built site with byte ranges.
"""
