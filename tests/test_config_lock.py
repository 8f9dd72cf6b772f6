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


def test_the_lock_sweeps_a_dead_writers_temp_files_and_only_those(tmp_path):
    """Temp files belong to the lock's holder: a refused run leaves them alone; the next run to
    take the lock removes them, and keeps every file under a final name."""
    from ingest.fileio import atomic_file

    page = tmp_path / "site" / "shows" / "a" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>")
    code = (
        "import sys, time; from pathlib import Path\n"
        "from ingest.archive import archive_lock; from ingest.fileio import atomic_file\n"
        "with archive_lock(Path(sys.argv[1])), atomic_file(Path(sys.argv[2])) as f:\n"
        "    f.write(b'<html>half'); f.flush(); print('writing', flush=True); time.sleep(30)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path), str(page)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "writing"
        temp = [p for p in page.parent.iterdir() if p != page]
        assert len(temp) == 1 and temp[0].name.endswith(".tmp")
        with pytest.raises(ArchiveBusy), archive_lock(tmp_path):
            pass
        assert temp[0].exists()  # a live writer's file is never swept
    finally:
        holder.kill()
        holder.wait()
    with archive_lock(tmp_path):
        assert list(page.parent.iterdir()) == [page]
    assert page.read_text() == "<html></html>"
    with atomic_file(page) as handle:  # and writing still works after a sweep
        handle.write(b"<html>new</html>")
    assert page.read_text() == "<html>new</html>"
