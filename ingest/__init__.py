"""podcast-archive: ingest podcast feeds, transcribe and tag episodes, publish an archive."""


def __getattr__(name: str) -> str:
    # The version is read from the installed package's metadata only when asked for:
    # importlib.metadata costs about 0.1 s of start-up, a third of a search's budget.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("podcast-archive")
        except PackageNotFoundError:  # running from a source tree that is not installed
            return "0.0.0"
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
