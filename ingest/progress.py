"""How a step (downloads, transcription) reports progress: one interface, two renderings.

A step calls `begin` once with the work to do, `start` and `finish` for each item (`update` in
between for an item that counts its own bytes), `note` for lines of its own, and `end` when it
stops, even on an error. `Lines` prints plain lines (logs, cron, pipes); `Bars` draws rich bars
on a terminal; `make_progress` picks one. The base class shows nothing.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

Echo = Callable[[str], None]

LABEL_WIDTH = 40  # characters of an item's label on a bar


class Progress:
    """What a step reports as it runs; this one shows nothing (silent runs, tests, wrappers).

    It keeps the counts the renderings show: `items` to do and `done` so far.
    """

    items = 0
    done = 0

    def begin(self, total: float, label: str, *, unit: str = "", items: int | None = None) -> None:
        """A step starts: `total` units of work, one per item unless `items` says how many."""
        self.items = int(total) if items is None else items
        self.done = 0

    def start(self, key: str, label: str = "") -> None:
        """One item starts; `label` names it on a display (default: its key)."""

    def update(self, key: str, done: float, total: float | None = None) -> None:
        """An item's own progress so far, out of its own total (a download's bytes)."""

    def finish(
        self,
        key: str,
        line: str = "",
        *,
        amount: float = 1.0,
        keep: bool = False,
        result: Any = None,
    ) -> None:
        """One item is done: `amount` units of the total; `line` says how it went.

        `keep` marks a line worth seeing on a terminal too (a failure); `result` is the step's
        own record of the item, for wrappers that count more than the line says.
        """
        self.done += 1

    def note(self, line: str, *, keep: bool = False) -> None:
        """A line of the step's own for the log; `keep` shows it above the bars too."""

    def status(self, text: str) -> None:
        """The step so far in a few words, shown beside the bars (lines have said as much)."""

    def end(self) -> None:
        """The step is over, or stopped by an error."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.end()


class Lines(Progress):
    """Plain lines for logs, cron and pipes: each item's line, numbered, and the step's notes."""

    def __init__(self, echo: Echo):
        self.echo = echo

    def finish(self, key, line="", *, amount=1.0, keep=False, result=None) -> None:
        super().finish(key, line, amount=amount, keep=keep, result=result)
        if line:
            self.echo(f"[{self.done}/{self.items}] {line}")

    def note(self, line: str, *, keep: bool = False) -> None:
        self.echo(line)


class Bars(Progress):
    """Rich bars for a terminal: the step's bar, counting items in its `unit` or showing its status.

    With `rows`, each running item gets a row of its own showing its `update`s: "bytes" (a
    download's size, rate and time left) or "audio" (an episode's audio seconds done of its
    length, the speed in times real time and the time left); without, the step's bar names
    the item running and shows the time elapsed. Lines worth keeping print above the bars
    while they run, and through `echo` once they have stopped.
    """

    def __init__(
        self,
        echo: Echo | None = None,
        *,
        stderr: bool = False,
        transient: bool = False,
        rows: str | None = None,
    ):
        self.echo = echo or print
        self.stderr, self.transient, self.rows = stderr, transient, rows
        self.unit = ""
        self._bars: Any = None  # a rich.progress.Progress, made by begin: rich is slow to import
        self._running = False
        self._step: Any = None  # the step's task on it
        self._rows: dict[str, Any] = {}  # item key -> its task
        self._lock = threading.Lock()  # downloads report from several threads

    def begin(self, total, label, *, unit="", items=None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn
        from rich.progress import Progress as RichProgress

        super().begin(total, label, unit=unit, items=items)
        self.unit = unit
        self._bars = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            *self._columns(),
            console=Console(stderr=self.stderr),
            transient=self.transient,
        )
        # A bar needs a total above zero: episodes without a duration in the feed count as zero.
        self._step = self._bars.add_task(label, total=total or 1, status=self._count(), step=True)
        self._bars.start()
        self._running = True

    def start(self, key, label="") -> None:
        label = (label or key)[:LABEL_WIDTH]
        if self.rows:
            with self._lock:
                self._rows[key] = self._bars.add_task(label, total=None)
        else:
            description = f"[{self.done + 1}/{self.items}] {label}"
            self._bars.update(self._step, description=description)

    def update(self, key, done, total=None) -> None:
        task = self._rows.get(key)
        if task is None:
            return
        if not done:  # the item's work starts now: its time and speed count from here
            self._bars.reset(task, total=total)
        else:
            self._bars.update(task, completed=done, total=total)

    def finish(self, key, line="", *, amount=1.0, keep=False, result=None) -> None:
        with self._lock:  # the count and the text showing it move together
            super().finish(key, line, amount=amount, keep=keep, result=result)
            task = self._rows.pop(key, None)
            if task is not None:
                self._bars.remove_task(task)
            if self.unit:
                self._bars.update(self._step, advance=amount, status=self._count())
            else:
                self._bars.update(self._step, advance=amount)
        if keep and line:
            self._keep(line)

    def note(self, line: str, *, keep: bool = False) -> None:
        if keep:
            self._keep(line)

    def status(self, text: str) -> None:
        self._bars.update(self._step, status=text)

    def end(self) -> None:
        if self._bars is not None:
            self._bars.stop()
        self._running = False

    def _keep(self, line: str) -> None:
        if self._running:
            # Rich prints above the bars through their console. click.echo would draw over
            # them: it wraps the terminal's own stream, past rich's redirection of sys.stdout.
            self._bars.console.print(line, markup=False)
        else:
            self.echo(line)

    def _count(self) -> str:
        return f"{self.done}/{self.items} {self.unit}" if self.unit else ""

    def _columns(self) -> list:
        """What follows each bar: the step's status, and an item's bytes, rate and time left."""
        from rich.progress import (
            DownloadColumn,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.text import Text

        status = TextColumn("{task.fields[status]}")
        if not self.rows:
            return [status, TimeElapsedColumn()]
        if self.rows == "audio":
            item_columns = _audio_columns()
        else:
            item_columns = [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]

        class ByRow(ProgressColumn):
            """One column on item rows, another (or nothing) on the step's row."""

            def __init__(self, item_column, step_column=None):
                super().__init__()
                self.item_column, self.step_column = item_column, step_column

            def render(self, task):
                if not task.fields.get("step"):
                    return self.item_column.render(task)
                return self.step_column.render(task) if self.step_column else Text("")

        return [
            ByRow(item_columns[0], status),
            ByRow(item_columns[1]),
            ByRow(item_columns[2]),
        ]


def _audio_columns() -> list:
    """Rich columns for an item counting audio seconds: where it is, of how long, the speed in
    times real time and the time left at that speed (rich's own estimate wants updates more
    often than once a window of audio)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    from ingest.timecode import clock

    def speed(task) -> float | None:
        return task.completed / task.elapsed if task.elapsed and task.completed else None

    class Position(ProgressColumn):
        def render(self, task):
            return Text(f"{clock(task.completed)} of {clock(task.total)}" if task.total else "")

    class Speed(ProgressColumn):
        def render(self, task):
            x = speed(task)
            return Text(f"{x:.1f}x" if x else "")

    class TimeLeft(ProgressColumn):
        def render(self, task):
            x = speed(task)
            if not (x and task.total):
                return Text("")
            return Text(f"{clock((task.total - task.completed) / x)} left")

    return [Position(), Speed(), TimeLeft()]


def on_terminal(stream: TextIO) -> bool:
    """Whether bars can draw on `stream`: a terminal, and not a CI log ($CI set)."""
    return stream.isatty() and not os.environ.get("CI")


def make_progress(echo: Echo, *, rows: str | None = None) -> Progress:
    """Bars on a terminal (with item `rows`, see Bars), plain lines to `echo` elsewhere (cron,
    logs, pipes, CI)."""
    return Bars(echo, rows=rows) if on_terminal(sys.stdout) else Lines(echo)
