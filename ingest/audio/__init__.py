"""Audio: stream enclosures to disk with resume, retries, limits and an atomic rename.

`download` fetches one file, `many` runs a few at once, `step.download_episodes` is the
archive's download step. Knows nothing of feeds; SQL goes through `ingest.store.audio`.
"""
