"""Transcription fanned out to a real Dask LocalCluster of two worker processes.

The sample show is served over real HTTP; the workers fetch its enclosures themselves and run
faster-whisper tiny.en, one worker is SIGKILLed mid-episode, and every episode must still end
transcribed exactly once with the same text as the in-process path.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from distributed import Client

from ingest.archive import Archive
from ingest.cli import cli
from ingest.config import ArchiveConfig, ConfigError
from ingest.progress import Progress
from ingest.store import transcripts as store
from ingest.transcribe import TranscribeOptions
from ingest.transcribe import step as transcribing
from ingest.transcribe.cluster import (
    ALLOWED_WORKER_DEATHS,
    MODEL_THREADS_ENV,
    DaskRunner,
    connect,
    local_cluster_shape,
    start_local_cluster,
    transcribe_on_cluster,
    worker_name,
)
from ingest.transcribe.faster import available_cores
from ingest.transcribe.step import AsrJob, AsrOutcome

# Two single-threaded workers on this 2-core machine. The local run must use the same threads:
# Whisper's text changes with them (cpu_threads, and the OpenMP pool the workers size to match).
OPTIONS = TranscribeOptions(model="tiny.en", cpu_threads=1)


@pytest.fixture(scope="module")
def dask_client():
    cluster = start_local_cluster(workers=2, threads_per_model=1)
    client = Client(cluster)
    client.wait_for_workers(2)
    yield client
    client.close()
    cluster.close()


def fetched_archive(root, feed_url, *, download=False) -> Archive:
    for command in [["fetch", feed_url]] + ([["download"]] if download else []):
        result = CliRunner().invoke(cli, ["--archive", str(root), *command])
        assert result.exit_code == 0, result.output
    return Archive.at(root)


LOCAL_RUN = f"""
import sys
from ingest.archive import Archive
from ingest.transcribe import TranscribeOptions
from ingest.transcribe.faster import available_cores
from ingest.transcribe.step import transcribe_episodes

archive = Archive.at(sys.argv[1])
options = TranscribeOptions(model="tiny.en", cpu_threads={OPTIONS.cpu_threads})
summary = transcribe_episodes(archive, archive.open_db(), options=options)
assert summary.count("asr") == 4 and not summary.failed, summary.line()
"""


class KillOneWorker(Progress):
    """After the first transcript arrives, SIGKILL a worker that is in the middle of another."""

    def __init__(self, client):
        super().__init__()
        self.client = client
        self.killed: tuple[str, list[str]] | None = None

    def finish(self, key, line="", *, result=None, **details) -> None:
        super().finish(key, line, result=result, **details)
        if self.killed or not result.worker:
            return
        pids = self.client.run(os.getpid)
        for address, keys in self.client.processing().items():
            if keys and address != result.worker:
                os.kill(pids[address], signal.SIGKILL)
                self.killed = (address, list(keys))
                return


@pytest.mark.asr
@pytest.mark.slow
def test_worker_killed_mid_run_every_episode_once_same_text_as_local(
    dask_client, sample_show, tmp_path, monkeypatch
):
    written: list[str] = []
    real_write = transcribing.files.write_transcript

    def counting_write(folder, show_id, episode_id, transcript):
        written.append(episode_id)
        return real_write(folder, show_id, episode_id, transcript)

    monkeypatch.setattr(transcribing.files, "write_transcript", counting_write)

    # Not downloaded: the workers fetch every enclosure from the sample server.
    archive = fetched_archive(tmp_path / "cluster", sample_show.feed_url)
    db = archive.open_db()
    progress = KillOneWorker(dask_client)
    summary = transcribe_on_cluster(
        archive, db, dask_client=dask_client, options=OPTIONS, progress=progress
    )

    assert progress.killed, "no worker was busy with another episode to kill"
    killed_address, killed_keys = progress.killed
    assert summary.failed == []
    assert summary.count("asr") == 4 and summary.count("publisher") == 1
    workers = {r.episode_id: r.worker for r in summary.results if r.status == "asr"}
    assert killed_address not in workers.values()  # its episode was finished elsewhere
    audio_requests = [path for _, path, _ in sample_show.requests if path.startswith("/audio/")]
    assert len(audio_requests) >= 5  # four episodes, and the killed one fetched again

    # Exactly once: one write per episode, one transcript per episode in the database.
    assert sorted(written) == sorted(r.episode_id for r in summary.results)
    assert sorted(written) == sorted(set(written))

    # The same text as the in-process path with the same options, in its own archive and in a
    # fresh process whose OpenMP pool matches the workers' (it is sized once, at start-up).
    local = fetched_archive(tmp_path / "local", sample_show.feed_url, download=True)
    subprocess.run(
        [sys.executable, "-c", LOCAL_RUN, str(local.root)],
        env={**os.environ, "OMP_NUM_THREADS": str(OPTIONS.cpu_threads)},
        check=True,
    )
    local_db = local.open_db()
    for result in summary.results:
        episode = db["episodes"].get(result.episode_id)
        assert episode["transcript_status"] == "done", result.title
        cluster_text = [s["text"] for s in store.segments_of(db, result.episode_id)]
        local_text = [s["text"] for s in store.segments_of(local_db, result.episode_id)]
        assert cluster_text and cluster_text == local_text, result.title
        indexes = [s["idx"] for s in store.segments_of(db, result.episode_id)]
        assert indexes == list(range(len(indexes)))  # one set of segments, not two
        txt = archive.transcripts_dir / episode["show_id"] / f"{result.episode_id}.txt"
        assert (
            txt.read_text()
            == (local.transcripts_dir / episode["show_id"] / f"{result.episode_id}.txt").read_text()
        )

    # A second run finds nothing left to do: finished episodes are never redone.
    again = transcribe_on_cluster(archive, db, dask_client=dask_client, options=OPTIONS)
    assert again.results == []


def poison_or_quick(job: AsrJob, engine: str, shared_audio: bool) -> AsrOutcome:
    """Stands in for an episode that crashes the decoder: it kills whatever process runs it."""
    if job.episode_id == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.2)
    return AsrOutcome(error="quick", worker=worker_name())


@pytest.mark.slow
def test_poisoned_episode_fails_with_its_reason_and_the_others_finish(dask_client):
    jobs = [
        AsrJob(name, name, OPTIONS, published=f"2024-01-0{n}")
        for n, name in enumerate(["poison", "first", "second", "third"], start=1)
    ]
    outcomes: dict[str, list[AsrOutcome]] = {}
    runner = DaskRunner(dask_client, "faster-whisper", task=poison_or_quick)
    runner(jobs, lambda job, outcome: outcomes.setdefault(job.episode_id, []).append(outcome))

    assert sorted(outcomes) == ["first", "poison", "second", "third"]
    assert all(len(got) == 1 for got in outcomes.values())
    assert f"{ALLOWED_WORKER_DEATHS + 1} worker processes died" in outcomes["poison"][0].error
    assert all(outcomes[name][0].worker for name in ["first", "second", "third"])


@pytest.mark.slow  # starts a LocalCluster of worker processes
def test_newest_episode_runs_first(dask_client):
    order: list[str] = []
    jobs = [
        AsrJob(name, name, OPTIONS, published=date)
        for name, date in [("old", "2020-01-01"), ("new", "2024-06-01"), ("mid", "2022-03-01")]
    ]
    submitted: list[str] = []
    runner = DaskRunner(dask_client, "faster-whisper", task=poison_or_quick)
    submit = runner._submit
    runner._submit = lambda job: submitted.append(job.episode_id) or submit(job)
    runner(jobs, lambda job, outcome: order.append(job.episode_id))
    # Two workers take the two newest at once; the oldest waits for a free one, so it is
    # sent last and cannot finish first. (Which of the two newest finishes first, and
    # whether the oldest overtakes the slower of them, is up to the workers.)
    assert submitted == ["new", "mid", "old"]
    assert order[0] in {"new", "mid"} and sorted(order) == ["mid", "new", "old"]


def test_local_cluster_shape_fits_cores_and_memory():
    assert local_cluster_shape("tiny.en", cores=2, memory_gb=16) == (2, 1)
    assert local_cluster_shape("tiny.en", cores=8, memory_gb=16) == (8, 1)
    assert local_cluster_shape("small", cores=8, memory_gb=3) == (2, 4)
    assert local_cluster_shape("large-v3", cores=4, memory_gb=2) == (1, 4)
    for cores in range(1, 9):
        for memory in (0.5, 2, 64):
            workers, threads = local_cluster_shape("base", cores=cores, memory_gb=memory)
            assert workers * threads <= cores


def test_config_scheduler_and_shared_audio(tmp_path):
    (tmp_path / "podarchive.toml").write_text(
        'scheduler = "tcp://10.0.0.5:8786"\nshared_audio = true\n'
    )
    config = ArchiveConfig.load(tmp_path)
    assert (config.scheduler, config.shared_audio) == ("tcp://10.0.0.5:8786", True)
    (tmp_path / "podarchive.toml").write_text("scheduler = 8786\n")
    with pytest.raises(ConfigError, match="scheduler"):
        ArchiveConfig.load(tmp_path)


@pytest.mark.asr
@pytest.mark.slow
def test_coordinator_killed_mid_run_resumes_without_redoing(dask_client, sample_show, tmp_path):
    root = tmp_path / "killed"
    archive = fetched_archive(root, sample_show.feed_url)
    address = dask_client.scheduler.address
    podarchive = Path(sys.executable).with_name("podarchive")  # the installed console script
    coordinator = subprocess.Popen(
        [podarchive, "--archive", root, "transcribe", "--scheduler", address],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in coordinator.stdout:  # progress lines, flushed as each outcome is written
        lines.append(line)
        if line.startswith("  cluster: "):
            coordinator.send_signal(signal.SIGKILL)
            break
    coordinator.wait()
    assert coordinator.returncode == -signal.SIGKILL, "".join(lines)
    first = {p.name: p.stat().st_mtime_ns for p in archive.transcripts_dir.rglob("*.json")}
    assert len(first) == 2  # the publisher transcript, then the newest Whisper episode

    result = CliRunner().invoke(cli, ["--archive", str(root), "transcribe", "--scheduler", address])
    assert result.exit_code == 0, result.output
    assert "3 transcribed" in result.output  # four need Whisper; one was done before the kill
    assert "cluster: 3/3 episodes (0 failed)" in result.output
    assert "x real time" in result.output.split("cluster:")[-1]  # per-worker throughput
    again = {p.name: p.stat().st_mtime_ns for p in archive.transcripts_dir.rglob("*.json")}
    assert len(again) == 5 and all(again[name] == first[name] for name in first)


@pytest.mark.slow  # starts a LocalCluster of worker processes
def test_workers_option_starts_a_local_cluster_sized_to_the_cores():
    client, cluster = connect(None, workers=1)
    try:
        threads = client.run(lambda: (os.environ[MODEL_THREADS_ENV], os.environ["OMP_NUM_THREADS"]))
    finally:
        client.close()
        cluster.close()
    cores = str(available_cores())
    assert list(threads.values()) == [(cores, cores)]
