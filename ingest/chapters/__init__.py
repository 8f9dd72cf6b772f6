"""Chapters and soundbites of every episode.

The publisher's chapters (`podcast:chapters` JSON, Podlove Simple Chapters in the feed) are
fetched and repaired (`publisher`); an episode without usable ones gets chapters generated from
where its conversation changes subject (`generate`). Soundbites are its best topic moments
(`soundbites`). `step` runs it all and writes Podcasting 2.0 JSON chapters beside the
transcripts (`files`).
"""
