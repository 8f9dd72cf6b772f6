import pytest

from ingest.archive import Archive
from ingest.sample.server import start_sample_server
from tests.fake_transcriber import FakeTranscriber
from tests.server import LocalServer


@pytest.fixture(autouse=True)
def archive_dir(tmp_path, monkeypatch):
    """Every path the program writes goes under tmp_path, never the developer's folders."""
    root = tmp_path / "archive"
    monkeypatch.setenv("PODARCHIVE_DIR", str(root))
    return root


@pytest.fixture
def archive(archive_dir) -> Archive:
    """The archive at `archive_dir` (its folder is created when first written)."""
    return Archive.at(archive_dir)


@pytest.fixture
def db(archive):
    """The archive's database, created and migrated: the file `podarchive` itself opens."""
    database = archive.open_db()
    yield database
    database.close()


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


@pytest.fixture
def fake_transcriber() -> FakeTranscriber:
    """A Transcriber without Whisper: the sample show's scripts for its episodes, else a fixed
    sentence; `.calls` lists what it was asked, `.load` is a `make_transcriber` factory."""
    return FakeTranscriber()


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for the module's tests (tests/browser.py): each test opens its own
    context or page in it. Per module, not per session: Playwright's sync API keeps an event
    loop running while the browser is open, and tests that run asyncio cannot share it."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
