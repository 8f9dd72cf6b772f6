"""Fan transcription out to a Dask cluster: one task per episode, one writer.

The coordinator (this process) decides which episodes need Whisper, exactly as a local run does
(`ingest.transcribe.step`), and hands those jobs to `DaskRunner`. Each task fetches its own audio
(the archive's file when workers share the folder, else the enclosure URL), transcribes it with
the same engine code and returns the Transcript; outcomes are written here, one at a time as they
arrive, so a killed coordinator loses at most the episodes still in flight.

Failures, in Dask's own terms (https://distributed.dask.org/en/stable/killed.html):
- an exception inside a task is retried `TASK_RETRIES` times, then the episode is marked failed;
  a bad episode (corrupt audio, 404) is not an exception: the task returns its reason at once;
- a worker that dies mid-task makes the scheduler run the task again elsewhere; once
  `distributed.scheduler.allowed-failures` workers have died running it, the scheduler gives up
  with KilledWorker and the episode is marked failed with that reason (a poisoned episode);
- losing the scheduler, or a worker without the engine or model, stops the run: those episodes
  stay pending for the next run instead of being marked failed.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.errors import PodarchiveError
from ingest.progress import Progress
from ingest.transcribe.base import TranscribeOptions
from ingest.transcribe.step import AsrJob, AsrOutcome, TranscribeSummary, run_asr

# Worker deaths a task may cause before the scheduler calls it poison (KilledWorker). Applies to
# schedulers this module starts; a separate `dask scheduler` uses its own setting (default 3).
ALLOWED_WORKER_DEATHS = 2
# An unexpected exception in a task (full scratch disk...) is retried once, maybe elsewhere.
TASK_RETRIES = 1
# Threads one model may use on a worker; unset, a worker divides its host's cores by the task
# slots (worker threads) the scheduler knows on that host.
MODEL_THREADS_ENV = "PODARCHIVE_MODEL_THREADS"
# Peak resident memory of one worker holding a model (int8) and an hour of 16 kHz audio, in GB.
# Measured for tiny.en; the larger ones scale with the weights (openai/whisper README sizes).
MODEL_MEMORY_GB = {"tiny": 0.5, "base": 0.7, "small": 1.3, "medium": 2.5, "large": 4.5}
DEFAULT_MODEL_MEMORY_GB = 2.0  # a model given as a path: assume a medium-sized one
CONNECT_TIMEOUT_S = 30
MB = 1 << 20
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt(3) parameters, from glibc's malloc.h


class ClusterError(PodarchiveError, RuntimeError):
    """The cluster cannot do the run: no scheduler, no dask installed, a worker without a model."""


# --- On the worker --------------------------------------------------------------------------

# One loaded model per worker process, shared by every task that process runs.
_ENGINES: dict[tuple[str, str], object] = {}
_ENGINES_LOCK = threading.Lock()


def transcribe_job(job: AsrJob, engine: str, shared_audio: bool) -> AsrOutcome:
    """Run on a worker: get the episode's audio, transcribe it, return the outcome.

    A bad episode returns its reason; only a missing engine or model (the worker's fault, not
    the episode's) and unexpected errors raise.
    """
    transcriber = _engine_for(engine, job.options)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="podarchive-audio-") as scratch:
        audio, error = _local_audio(job, shared_audio, Path(scratch))
        if audio is None:
            outcome = AsrOutcome(error=error)
        else:
            outcome = run_asr(lambda: transcriber, job, audio)
    outcome.worker = worker_name()
    outcome.seconds = time.perf_counter() - started  # fetching counts: it is the worker's time
    return outcome


def _local_audio(job: AsrJob, shared_audio: bool, scratch: Path) -> tuple[Path | None, str]:
    if shared_audio and job.audio_path and Path(job.audio_path).is_file():
        return Path(job.audio_path), ""
    if not job.audio_url:
        where = job.audio_path if shared_audio else "the coordinator's archive"
        return None, f"no audio this worker can read ({where}) and no enclosure URL"
    from ingest.audio import download
    from ingest.net import make_client

    try:
        with make_client() as client:
            fetched = download.download(client, job.audio_url, scratch, "audio")
    except download.DownloadError as error:
        return None, f"cannot fetch audio: {error}"
    return fetched.path, ""


def _engine_for(engine: str, options: TranscribeOptions):
    from ingest.transcribe import get_transcriber

    # Only the per-episode fields differ between jobs, and `transcribe` takes those per call.
    shared = replace(options, language=None, initial_prompt=None, vocabulary=[])
    if shared.cpu_threads is None:
        shared = replace(shared, cpu_threads=model_threads())
    key = (engine, repr(shared))
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _undo_malloc_trim()
            _ENGINES[key] = get_transcriber(engine, shared)
        return _ENGINES[key]


def _undo_malloc_trim() -> None:
    """Give glibc back its adaptive thresholds, which Dask's nanny turns off for its workers.

    The nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (distributed.nanny.pre-spawn-
    environ), which also freezes the mmap threshold at 128 KiB: every audio buffer then comes
    from a fresh mmap, and faster-whisper ran 2x slower (8x the page faults, 6x the system
    time; measured on tiny.en). mallopt(3) resets both at run time, before the model loads.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl): the variable means nothing there
        return
    libc.mallopt(M_MMAP_THRESHOLD, 32 * MB)  # glibc's adaptive ceiling on 64-bit
    libc.mallopt(M_TRIM_THRESHOLD, 64 * MB)


def model_threads() -> int:
    """Threads for this worker's model: its host's cores over the task slots on that host."""
    from ingest.transcribe.faster import available_cores

    if os.environ.get(MODEL_THREADS_ENV):
        return max(1, int(os.environ[MODEL_THREADS_ENV]))
    cores = available_cores()
    try:
        from distributed import get_client, get_worker

        me = get_worker()
        workers = get_client().scheduler_info(n_workers=-1)["workers"].values()
    except (ImportError, ValueError):  # not inside a Dask worker
        return cores
    host = _host(me.address)
    slots = sum(w.get("nthreads", 1) for w in workers if w.get("host") == host)
    return max(1, cores // max(1, slots))


def worker_name() -> str:
    """This worker's address, or the process id outside Dask."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid-{os.getpid()}"


def _host(address: str) -> str:
    return re.sub(r"^\w+://", "", address).rsplit(":", 1)[0]


# --- On the coordinator ---------------------------------------------------------------------


@dataclass
class DaskRunner:
    """An `AsrRunner` (ingest.transcribe.step): one Dask task per episode, newest first.

    Only as many tasks as the cluster has worker threads are submitted at a time, topped up as
    outcomes arrive (and as workers join): each worker then holds just the episode it runs, so
    a worker's death counts against that one task alone (the scheduler marks every task a dead
    worker held as suspicious), and the order stays newest first however the scheduler queues.
    """

    client: object  # distributed.Client
    engine: str
    shared_audio: bool = False  # the workers see the archive's audio folder at the same path
    task: Callable[[AsrJob, str, bool], AsrOutcome] = transcribe_job

    def __call__(self, jobs: list[AsrJob], done: Callable[[AsrJob, AsrOutcome], None]) -> None:
        from distributed import as_completed

        waiting = sorted(jobs, key=lambda job: job.published or "", reverse=True)
        waiting.reverse()  # popped from the end: newest first
        running: dict = {}
        pending = as_completed()
        try:
            while waiting or running:
                while waiting and len(running) < self._slots():
                    job = waiting.pop()
                    future = self._submit(job)
                    running[future] = job
                    pending.add(future)
                future = next(pending)
                job = running.pop(future)
                done(job, self._outcome(future))
                future.release()  # the transcript is written: free it on the cluster
        finally:
            self.client.cancel(list(running))  # on an abort, nothing runs on for nobody

    def _slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def _submit(self, job: AsrJob):
        from dask.base import tokenize

        return self.client.submit(
            self.task,
            job,
            self.engine,
            self.shared_audio,
            # Same job, same key: a coordinator restarted while the scheduler still holds the
            # old run's task is handed that task instead of transcribing the episode twice.
            key=f"transcribe-{tokenize(job, self.engine, self.shared_audio)}",
            retries=TASK_RETRIES,
        )

    @staticmethod
    def _outcome(future) -> AsrOutcome:
        from distributed import KilledWorker

        from ingest.transcribe import EngineUnavailableError
        from ingest.transcribe.weights import ModelNotFoundError

        if future.status == "finished":
            return future.result()
        if future.status != "error":  # cancelled: the scheduler or our connection was lost
            raise ClusterError(f"the cluster dropped the task ({future.status}): run again")
        error = future.exception()
        if isinstance(error, EngineUnavailableError | ModelNotFoundError):
            raise ClusterError(f"a worker cannot transcribe: {error}") from error
        if isinstance(error, KilledWorker):
            return AsrOutcome(
                error=f"{error.allowed_failures + 1} worker processes died while transcribing "
                f"it (out of memory? a crash in the decoder?); the last was "
                f"{error.last_worker.address}"
            )
        return AsrOutcome(error=f"on the cluster: {type(error).__name__}: {error}")


def local_cluster_shape(
    model: str = "tiny.en", cores: int | None = None, memory_gb: float | None = None
) -> tuple[int, int]:
    """(worker processes, threads per model) for this machine; processes x threads <= cores.

    One single-threaded worker per core: as fast as one worker using every core on a quiet
    machine, faster under load (bench/cluster.py); fewer when memory cannot hold their models.
    """
    from ingest.transcribe.faster import available_cores

    cores = cores or available_cores()
    memory_gb = available_memory_gb() if memory_gb is None else memory_gb
    size = re.sub(r"[.-].*$", "", Path(model).name) if model else ""
    per_worker = MODEL_MEMORY_GB.get(size, DEFAULT_MODEL_MEMORY_GB)
    workers = max(1, min(cores, int(memory_gb // per_worker)))
    return workers, max(1, cores // workers)


def available_memory_gb() -> float:
    """Memory the kernel says can be used without swapping (MemAvailable), in GB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / (1 << 20)
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)


def start_local_cluster(workers: int, threads_per_model: int):
    """A LocalCluster of `workers` single-task processes, each model using the given threads."""
    import dask
    from distributed import LocalCluster

    dask.config.set(
        {
            "distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS,
            # Hand each worker only the task it runs: a worker's death then counts against
            # that one task, not against innocent ones queued behind it.
            "distributed.scheduler.worker-saturation": 1.0,
        }
    )
    threads = str(threads_per_model)
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,  # one episode at a time per process: the model is not shared
        processes=True,
        dashboard_address=":0",  # a free port: several clusters may run on one machine
        # Dask's nanny pins OpenMP to one thread by default; the model is given its share.
        env={MODEL_THREADS_ENV: threads, "OMP_NUM_THREADS": threads},
    )


def connect(scheduler: str | None, workers: int | None = None, model: str = "tiny.en"):
    """(Client, LocalCluster or None): to `scheduler`, else to a new cluster on this machine."""
    try:
        from distributed import Client
    except ImportError as error:
        raise ClusterError(
            "Dask is not installed: pip install 'podcast-archive[cluster]'"
        ) from error
    if scheduler:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT_S), None
        except (OSError, TimeoutError) as error:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    from ingest.transcribe.faster import available_cores

    if workers:
        n, threads = workers, max(1, available_cores() // workers)
    else:
        n, threads = local_cluster_shape(model)
    cluster = start_local_cluster(n, threads)
    return Client(cluster), cluster


def transcribe_on_cluster(
    archive,
    db,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    shared_audio: bool = False,
    engine: str = "faster-whisper",
    options: TranscribeOptions | None = None,
    dask_client=None,
    **kwargs,
) -> TranscribeSummary:
    """`transcribe_episodes` with Whisper on a Dask cluster (or a LocalCluster when no address).

    With a remote scheduler, episodes whose audio is not downloaded are taken too: the workers
    fetch the enclosure. `kwargs` go to `transcribe_episodes` (show_id, limit, progress...).
    """
    from ingest.transcribe.step import transcribe_episodes

    options = options or TranscribeOptions()
    remote = bool(scheduler or dask_client)
    cluster = None
    if dask_client is None:
        dask_client, cluster = connect(scheduler, workers, options.model)
    try:
        runner = DaskRunner(dask_client, engine, shared_audio=shared_audio or cluster is not None)
        return transcribe_episodes(
            archive, db, engine=engine, options=options, runner=runner, fetch_audio=remote, **kwargs
        )
    finally:
        if cluster is not None:
            dask_client.close()
            cluster.close()
        elif scheduler:
            dask_client.close()


# --- Progress across the cluster -------------------------------------------------------------


class WorkerTotals(Progress):
    """Passes a transcription's progress on to `shown`, adding what the cluster did.

    Each episode's line names its worker and is followed, in the log only, by the cluster's
    totals so far; at the end come the totals and each worker's audio and speed.
    """

    def __init__(self, shown: Progress):
        self.shown = shown

    def begin(self, total, label, *, unit="", items=None) -> None:
        super().begin(total, label, unit=unit, items=items)
        self.shown.begin(total, label, unit=unit, items=items)
        self.started = time.monotonic()
        self.summary = TranscribeSummary()  # the same results as the step's
        self.audio: dict[str, float] = defaultdict(float)  # per worker, seconds of audio
        self.busy: dict[str, float] = defaultdict(float)  # per worker, seconds of work

    def start(self, key, label="") -> None:
        self.shown.start(key, label)

    def update(self, key, done, total=None) -> None:
        self.shown.update(key, done, total)

    def finish(self, key, line="", *, amount=1.0, keep=False, result=None) -> None:
        super().finish(key, line, amount=amount, keep=keep, result=result)
        self.summary.results.append(result)
        worker = result.worker
        if result.status == "asr" and worker:
            self.audio[worker] += result.audio_seconds
            self.busy[worker] += result.seconds
        where = f" [{worker}]" if worker else ""
        self.shown.finish(key, line + where, amount=amount, keep=keep, result=result)
        if worker:
            self.shown.note(f"  cluster: {self.totals()}")

    def note(self, line, *, keep=False) -> None:
        # A cluster run is a long one: the step's headline stays on a terminal too.
        self.shown.note(line, keep=True)

    def status(self, text) -> None:
        self.shown.status(text)

    def end(self) -> None:
        self.shown.end()
        if self.audio:
            self.shown.note(f"cluster: {self.totals()}", keep=True)
            for line in self.worker_lines():
                self.shown.note(f"  {line}", keep=True)

    def real_time_factor(self) -> float:
        """Audio seconds transcribed per wall second, all workers together."""
        elapsed = time.monotonic() - self.started
        return self.summary.asr_audio_seconds / elapsed if elapsed > 0 else 0.0

    def totals(self) -> str:
        """Episodes done and failed, audio transcribed and the speed of the cluster so far."""
        return (
            f"{self.done}/{self.items} episodes ({len(self.summary.failed)} failed), "
            f"{self.summary.asr_audio_seconds / 3600:.2f} h audio, "
            f"{self.real_time_factor():.1f}x real time on {len(self.audio)} workers"
        )

    def worker_lines(self) -> list[str]:
        """Per worker: audio transcribed and its own speed (audio seconds per busy second)."""
        return [
            f"{worker}: {self.audio[worker] / 60:.1f} min audio, "
            f"{self.audio[worker] / busy:.1f}x real time"
            for worker, busy in sorted(self.busy.items())
            if busy > 0
        ]
