"""The one base of every error a user is shown: the CLI catches it once and prints its message."""

from __future__ import annotations


class PodarchiveError(Exception):
    """An error whose message is written for the user: what failed, where, and why.

    Subclasses keep the built-in base that describes them (OSError, ValueError...), so callers
    that only care about that kind still catch them. `exit_code` is what a command exits with.
    """

    exit_code = 1
