"""Publication dates as feeds write them, not only as RFC 822 and ISO 8601 say.

feedparser reads the standard forms and many others, but it takes a Unix timestamp for a
date in 2017 and "2024/03/05" for December, drops the time of a compact ISO 8601 date, and
refuses "Tue,05 Mar 2024" and "March 5, 2024". Those forms are read here first.
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

_MONTHS = {
    name: number
    for number in range(1, 13)
    for name in (calendar.month_name[number].lower(), calendar.month_abbr[number].lower())
} | {"sept": 9}
_EPOCH = re.compile(r"^\d{9,10}(?:\d{3})?$")  # seconds (or milliseconds) since 1970
_SLASHED = re.compile(
    r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(?:Z|UTC|GMT)?$", re.I
)
_COMPACT_ISO = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?Z?$", re.I)
_MONTH_FIRST = re.compile(
    r"^(?:[A-Za-z]+,?\s+)?([A-Za-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(?:Z|UTC|GMT)?$",
    re.I,
)
_COMMA_WITHOUT_SPACE = re.compile(r"^([A-Za-z]{3,9}),(?=\d)")


def _utc(year, month, day, hour=None, minute=None, second=None) -> datetime | None:
    try:
        return datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            tzinfo=UTC,
        )  # fmt: skip
    except ValueError:  # 31 February and its kind
        return None


def _from_struct(parsed: time.struct_time | None) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def parse_date(text: str | None, parsed: time.struct_time | None = None) -> datetime | None:
    """A UTC datetime from a feed's date text, or feedparser's reading of it (`parsed`)."""
    value = " ".join((text or "").split())
    if _EPOCH.match(value):
        seconds = int(value) / (1000 if len(value) > 10 else 1)
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    if match := _SLASHED.match(value):
        return _utc(*match.groups())
    if match := _COMPACT_ISO.match(value):
        return _utc(*match.groups())
    if match := _MONTH_FIRST.match(value):
        month = _MONTHS.get(match.group(1).lower())
        if month is not None:
            year, day = match.group(3), match.group(2)
            return _utc(year, month, day, *match.groups()[3:])
    found = _from_struct(parsed)
    if found is None and value:
        found = _rfc822(_COMMA_WITHOUT_SPACE.sub(r"\1, ", value))
    return found


def _rfc822(value: str) -> datetime | None:
    try:
        found = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if found.tzinfo is None:  # RFC 5322 -0000: no zone known; UTC is the convention
        found = found.replace(tzinfo=UTC)
    return found.astimezone(UTC)
