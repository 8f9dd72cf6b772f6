import pytest

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
