"""podcast-archive: ingest podcast feeds, transcribe and tag episodes, publish an archive."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("podcast-archive")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
