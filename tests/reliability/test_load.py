"""Datasette search under load: a short, bounded run of the load test `bench/reliability.py`
runs for 30 s (20 clients on loopback, a fixed request budget, a hard deadline)."""

from __future__ import annotations

import pytest

from tests.reliability.served import datasette, load_test

pytestmark = [pytest.mark.slow]

CLIENTS = 20
SECONDS = 4.0
MAX_REQUESTS = 2000


def test_datasette_search_under_20_concurrent_clients(served_archive, observe):
    """20 clients searching transcripts at once for a few seconds: every request answers 200
    with a JSON list; the run stops by itself."""
    with datasette(served_archive.root) as base:
        result = load_test(base, clients=CLIENTS, seconds=SECONDS, max_requests=MAX_REQUESTS)
    assert result.requests > 0 and result.matched > 0
    assert result.errors == [], result.errors[:5]
    observe(result.line())
