"""Times as people read them: a player's clock (12:34, 1:02:03) and ISO 8601 durations."""

from __future__ import annotations


def clock(seconds: float | int | str | None) -> str:
    """Whole seconds as m:ss, or h:mm:ss from an hour on: the way players show a position."""
    total = max(0, int(float(seconds or 0)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def cue_time(seconds: float, separator: str = ".") -> str:
    """00:01:02.345, the cue timing of WebVTT (separator '.') and SubRip (',')."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"
