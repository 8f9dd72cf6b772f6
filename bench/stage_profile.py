"""Where transcription time goes: wall and CPU seconds per stage of the default's flow.

`profiled()` wraps the functions each stage runs in (for the run of a `with` block) and adds
up their time; time is given to the innermost stage running, so decoding does not count the
word alignment it calls, and everything done for a gap (its decoding, alignment and
hallucination check) counts as gap re-decoding. CPU seconds are the process's (every
CTranslate2 and PyTorch thread): on a machine shared with others, they compare where wall
seconds do not.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

STAGES = (
    "audio decoding",
    "VAD",
    "decode",
    "word alignment",
    "gap re-decoding",
    "hallucination check",
    "sentence split",
    "writing",
)
GAP_STAGE = "gap re-decoding"


@dataclass
class StageTimes:
    wall: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    _stack: list[list] = field(default_factory=list)  # [stage, wall start, cpu start]

    def enter(self, stage: str) -> bool:
        """Start `stage` (pausing the one running); False when inside a gap's re-decoding,
        which keeps its time."""
        if any(s[0] == GAP_STAGE for s in self._stack):
            return False
        self._pause_top()
        self._stack.append([stage, time.perf_counter(), time.process_time()])
        return True

    def leave(self) -> None:
        self._pause_top()
        self._stack.pop()
        if self._stack:  # the outer stage runs again
            self._stack[-1][1:] = [time.perf_counter(), time.process_time()]

    def _pause_top(self) -> None:
        if self._stack:
            stage, wall, cpu = self._stack[-1]
            self.wall[stage] += time.perf_counter() - wall
            self.cpu[stage] += time.process_time() - cpu

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        entered = self.enter(name)
        try:
            yield
        finally:
            if entered:
                self.leave()

    def as_dict(self) -> dict:
        return {"wall": dict(self.wall), "cpu": dict(self.cpu)}


def _timed(times: StageTimes, stage: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with times.stage(stage):
            return function(*args, **kwargs)

    return wrapper


def _timed_iterator(times: StageTimes, stage: str, function):
    """A generator function whose every step (not the caller's work between) is `stage`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        iterator = iter(function(*args, **kwargs))
        while True:
            with times.stage(stage):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item

    return wrapper


@contextlib.contextmanager
def profiled(engine) -> Iterator[StageTimes]:
    """Time the stages of `engine.transcribe` (and of `writing`, for the caller's own use)
    while the block runs; the wrapped functions are put back after."""
    from ingest.transcribe import engine as flow
    from ingest.transcribe import gaps, stream

    times = StageTimes()
    patches: list[tuple[object, str, object]] = [
        (stream, "windows", _timed_iterator(times, "audio decoding", stream.windows)),
        (gaps, "speech_chunks", _timed(times, "VAD", gaps.speech_chunks)),
        (flow, "split_hallucinations", _timed(times, "hallucination check",
                                              flow.split_hallucinations)),
        (flow, "split_sentences", _timed(times, "sentence split", flow.split_sentences)),
        (flow, "fit_times", _timed(times, "sentence split", flow.fit_times)),
    ]  # fmt: skip
    cls = type(engine)
    patches += [
        (engine, "_decode", _timed(times, "decode", engine._decode)),
        (engine, "_fill_gaps", _timed(times, GAP_STAGE, engine._fill_gaps)),
    ]
    model = getattr(engine, "model", None)
    if hasattr(model, "add_word_timestamps"):  # faster-whisper's WhisperModel
        aligned = _timed(times, "word alignment", model.add_word_timestamps)
        patches.append((model, "add_word_timestamps", aligned))
    elif cls.name == "openai-whisper":
        import sys

        import whisper.timing

        module = sys.modules["whisper.transcribe"]  # `whisper.transcribe` is the function
        patches.append((module, "add_word_timestamps", _timed(
            times, "word alignment", whisper.timing.add_word_timestamps)))  # fmt: skip
    saved = [(owner, name, owner.__dict__.get(name, _MISSING)) for owner, name, _ in patches]
    for owner, name, wrapped in patches:
        setattr(owner, name, wrapped)
    try:
        yield times
    finally:
        for owner, name, before in saved:
            if before is _MISSING:
                delattr(owner, name)  # an instance attribute over the class's method
            else:
                setattr(owner, name, before)


_MISSING = object()


def table(rows: dict[str, dict], load: str) -> str:
    """Stages down, one wall and one CPU column per run: a label's StageTimes.as_dict() with
    "elapsed" {"wall", "cpu"} of the whole run; "other" is what no stage took."""
    labels = list(rows)
    legend = [f"  [{n}] {label}" for n, label in enumerate(labels, 1)]
    header = f"{'stage':<20}" + "".join(f" {f'[{n}]':>21}" for n in range(1, len(labels) + 1))
    sub = f"{'':<20}" + "".join(f" {'wall s':>10} {'CPU s':>10}" for _ in labels)
    lines = [f"load average {load}", *legend, header, sub, "-" * len(sub)]
    for stage in [*STAGES, "other", "total"]:
        cells = ""
        for label in labels:
            row = rows[label]
            for kind in ("wall", "cpu"):
                elapsed = row["elapsed"][kind]
                if stage == "total":
                    value = elapsed
                elif stage == "other":
                    value = elapsed - sum(row[kind].values())
                else:
                    value = row[kind][stage]
                cells += f" {value:>10.1f}"
        lines.append(f"{stage:<20}{cells}")
    return "\n".join(lines)
