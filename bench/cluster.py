"""Transcription throughput (audio seconds per wall second) in-process and on a local Dask cluster.

    python bench/cluster.py [--rounds 2] [--model tiny.en]

Transcribes the sample show's episodes `--rounds` times each (faster-whisper, int8, beam 5)
with every shape a 2-core machine offers: one in-process model on all cores, one Dask worker
whose model uses all cores, and one single-threaded worker per core. Cluster start-up (worker
processes, model loads) is timed apart from the steady throughput, which is measured from the
first job submitted to the last transcript back. Prints a table; check `uptime` beside it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from ingest.sample import load_sample
from ingest.transcribe.base import TranscribeOptions
from ingest.transcribe.cluster import DaskRunner, start_local_cluster, transcribe_job
from ingest.transcribe.faster import available_cores
from ingest.transcribe.step import AsrJob


def sample_jobs(model: str, rounds: int, threads: int | None) -> list[AsrJob]:
    options = TranscribeOptions(model=model, language="en", cpu_threads=threads)
    episodes = load_sample().episodes
    return [
        AsrJob(
            f"{episode.number}-{round_}",
            episode.title,
            options,
            audio_path=Path(episode.audio_path),
            published=f"{round_}-{episode.number}",
        )
        for round_ in range(rounds)
        for episode in episodes
    ]


def run_in_process(jobs: list[AsrJob]) -> tuple[float, float, float]:
    """(start-up s, audio s, wall s) with the model loaded in this process."""
    started = time.perf_counter()
    transcribe_job(jobs[0], "faster-whisper", True)  # loads the model (cached after)
    startup = time.perf_counter() - started
    started = time.perf_counter()
    audio = sum(transcribe_job(job, "faster-whisper", True).transcript.duration for job in jobs[1:])
    return startup, audio, time.perf_counter() - started


def run_on_cluster(jobs: list[AsrJob], workers: int, threads: int) -> tuple[float, float, float]:
    """(start-up s, audio s, wall s) on a LocalCluster; start-up includes one warm-up per worker."""
    from distributed import Client

    started = time.perf_counter()
    with start_local_cluster(workers, threads) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        warm = [
            client.submit(transcribe_job, jobs[0], "faster-whisper", True, workers=[w], pure=False)
            for w in client.scheduler_info()["workers"]
        ]
        client.gather(warm)  # every worker has its model loaded
        startup = time.perf_counter() - started
        seconds: list[float] = []
        started = time.perf_counter()
        DaskRunner(client, "faster-whisper", shared_audio=True)(
            jobs[1:], lambda job, outcome: seconds.append(outcome.transcript.duration)
        )
        return startup, sum(seconds), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default="tiny.en")
    args = parser.parse_args()
    cores = available_cores()
    shapes = [("in-process", 1, cores)] + [
        ("LocalCluster", workers, max(1, cores // workers)) for workers in range(1, cores + 1)
    ]
    print(f"{cores} cores, load {os.getloadavg()[0]:.2f} at start, model {args.model}")
    print(
        f"{'runner':<13} {'workers':>7} {'threads':>7} {'start s':>8} {'audio s':>8} "
        f"{'wall s':>7} {'audio s/wall s':>15}"
    )
    for runner, workers, threads in shapes:
        jobs = sample_jobs(args.model, args.rounds, threads)
        if runner == "in-process":
            startup, audio, wall = run_in_process(jobs)
        else:
            startup, audio, wall = run_on_cluster(jobs, workers, threads)
        print(
            f"{runner:<13} {workers:>7} {threads:>7} {startup:>8.1f} {audio:>8.0f} "
            f"{wall:>7.1f} {audio / wall:>15.2f}",
            flush=True,
        )
    print(f"load {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
