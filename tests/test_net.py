"""The one HTTP client: who every request says it is, and which URLs it will fetch."""

import tomllib
from pathlib import Path

import pytest

from ingest import __version__
from ingest.net import USER_AGENT, is_http_url, make_client

ROOT = Path(__file__).resolve().parent.parent


def test_user_agent_names_the_version_and_the_project_page():
    homepage = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Homepage"]
    assert f"podcast-archive/{__version__} (+{homepage})" == USER_AGENT
    with make_client() as client:
        assert client.headers["User-Agent"] == USER_AGENT


@pytest.mark.parametrize(
    "url", ["http://example.com/feed.xml", "HTTPS://example.com", " https://a.example/x "]
)
def test_http_urls_with_a_host_are_fetched(url):
    assert is_http_url(url)


@pytest.mark.parametrize(
    "url",
    [None, "", "/feed.xml", "feed.xml", "file:///etc/passwd", "ftp://example.com/a.mp3",
     "javascript:alert(1)", "http:///no-host", "data:text/plain,hi"],
)  # fmt: skip
def test_anything_else_is_not(url):
    assert not is_http_url(url)
