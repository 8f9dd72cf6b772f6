import pytest

from ingest.sample.server import start_sample_server
from tests.server import LocalServer


@pytest.fixture(autouse=True)
def archive_dir(tmp_path, monkeypatch):
    """Every path the program writes goes under tmp_path, never the developer's folders."""
    root = tmp_path / "archive"
    monkeypatch.setenv("PODARCHIVE_DIR", str(root))
    return root


@pytest.fixture
def local_server():
    server = LocalServer().start()
    yield server
    server.stop()


@pytest.fixture
def sample_show():
    """The bundled sample show served on 127.0.0.1: `.feed_url`, `.url(path)`, `.requests`."""
    server = start_sample_server()
    yield server
    server.stop()
