import subprocess
import sys

import pytest

from ingest.archive import ArchiveBusy, archive_lock
from ingest.config import ArchiveConfig, ConfigError


def test_missing_config_gives_defaults(tmp_path):
    config = ArchiveConfig.load(tmp_path)
    assert config.engine == "faster-whisper" and config.shows == []


def test_config_is_read_and_taxonomy_resolved_against_the_archive(tmp_path):
    (tmp_path / "podarchive.toml").write_text(
        'shows = ["http://example.com/feed.xml"]\nmodel = "base"\ntaxonomy = "topics.yaml"\n'
    )
    config = ArchiveConfig.load(tmp_path)
    assert config.shows == ["http://example.com/feed.xml"]
    assert config.model == "base"
    assert config.taxonomy == str(tmp_path / "topics.yaml")


@pytest.mark.parametrize(
    "text, message",
    [
        ("shows = [1]", "'shows' must be a list"),
        ("modle = 'base'", "unknown key(s) modle"),
        ("shows = [", "podarchive.toml"),
        ("vocabulary = 'grit'", "'vocabulary' must be a list"),
        ("word_timestamps = 'yes'", "'word_timestamps' must be true or false"),
    ],
)
def test_bad_config_names_the_file_and_the_problem(tmp_path, text, message):
    (tmp_path / "podarchive.toml").write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ArchiveConfig.load(tmp_path)


def test_second_holder_of_the_lock_is_refused_with_the_pid(tmp_path):
    code = (
        "import sys, time; from pathlib import Path; from ingest.archive import archive_lock\n"
        "with archive_lock(Path(sys.argv[1])):\n"
        "    print('locked', flush=True); time.sleep(30)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ArchiveBusy, match=f"pid {holder.pid}"), archive_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    # A killed holder leaves no stale lock behind.
    with archive_lock(tmp_path):
        pass
