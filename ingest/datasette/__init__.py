"""Datasette configuration of the archive: metadata.yaml (tables, facets, stored queries) and
the `plugin` module (SQL functions and cell rendering). `ingest.datasette.serve` puts them
together."""
