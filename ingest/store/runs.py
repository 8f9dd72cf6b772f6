"""The `runs` log: one row per `podarchive run`, opened at its start, closed with its outcome."""

from __future__ import annotations

import json

import sqlite_utils

from ingest.store.writes import now, transaction


def start_run(db: sqlite_utils.Database, command: str) -> int:
    """Record that `command` started; the id to close the row with."""
    with transaction(db):
        return (
            db["runs"]
            .insert({"command": command, "started_at": now(), "status": "running"})
            .last_pk
        )


def finish_run(db: sqlite_utils.Database, run_id: int, status: str, summary: dict) -> None:
    """Close the run's row with its status (ok, partial, failed) and what it did."""
    with transaction(db):
        db["runs"].update(
            run_id,
            {
                "finished_at": now(),
                "status": status,
                "summary": json.dumps(summary, default=str),
            },
        )
