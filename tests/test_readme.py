"""The README cannot drift: its --help text is generated, and its two commands really work."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from cogapp import Cog

from tests.demo_archive import assert_whole_demo_archive

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
STOP_SECONDS = 120  # from Ctrl-C to the demo's exit, on a loaded 2-core machine


def _hear_ctrl_c() -> None:
    """In the demo's process, before exec: SIGINT handled as a terminal's shell leaves it.
    Ignored and blocked signals survive exec, and the test worker's may have been changed by
    an earlier test in the same process (the demo then never hears Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _command_after(heading: str) -> str:
    """The one-line shell command in the first code block under a README heading."""
    text = README.read_text()
    section = text.split(f"## {heading}\n", 1)[1]
    match = re.search(r"```bash\n(.+?)\n```", section)
    assert match, f"no bash block under '## {heading}'"
    return match.group(1).strip()


def test_help_in_readme_is_generated_from_the_cli():
    # `cog -r README.md` regenerates it; --check fails when a command's help changed.
    assert Cog().main(["cog", "--check", str(README)]) == 0


def test_ci_runs_exactly_the_readme_test_command():
    command = _command_after("Run the tests")
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ci_lines[-1] == command


@pytest.mark.asr
@pytest.mark.slow
def test_readme_demo_command_works_in_a_fresh_virtualenv(tmp_path):
    """Follow the README literally in a clean copy of the project: install, demo, browse, stop.
    The one run of the demo in the suite, so it also checks the whole archive the demo leaves."""
    command = _command_after("Try it")
    project = tmp_path / "project"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = project / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    env = {k: v for k, v in os.environ.items() if k not in ("PODARCHIVE_DIR", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # see the SIGABRT below
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so Ctrl-C (SIGINT) reaches the whole command line
        preexec_fn=_hear_ctrl_c,
    )
    output: list[str] = []
    try:
        urls = {}
        deadline = time.monotonic() + 900
        while len(urls) < 2 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            match = re.match(r"(Static site|Datasette):\s+(\S+)", line)
            if match:
                urls[match.group(1)] = match.group(2)
        assert set(urls) == {"Static site", "Datasette"}, "".join(output[-40:])
        # Keep reading what the demo prints (request logs), so a full pipe never blocks it.
        drain = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
        drain.start()
        assert "Failures: 0" in "".join(output)
        assert (project / "podarchive-demo" / "archive.db").exists()
        home = httpx.get(urls["Static site"])
        assert home.status_code == 200 and "One Medical" in home.text
        datasette = httpx.get(
            urls["Datasette"] + "archive/search_transcripts.json",
            params={"q": '"reverse interview"', "_shape": "array"},
        )
        assert datasette.status_code == 200 and "One Medical" in datasette.json()[0]["episode"]
        table_search = httpx.get(
            urls["Datasette"] + "archive/segments.json",
            params={"_search": "reverse interview", "_shape": "array"},
        )
        assert table_search.status_code == 200 and table_search.json()
        os.killpg(process.pid, signal.SIGINT)
        try:
            code = process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            # Python's fault handler prints every thread's stack on SIGABRT: where it hangs.
            os.killpg(process.pid, signal.SIGABRT)
            process.wait(timeout=30)
            drain.join(timeout=10)
            said = "".join(output)[-6000:]
            pytest.fail(f"the demo did not stop {STOP_SECONDS} s after Ctrl-C:\n{said}")
        assert code == 0, "".join(output[-40:])
        assert_whole_demo_archive(project / "podarchive-demo")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
