"""Absence times in and out: people and the API speak the portal's time zone, the database
stores naive UTC.

Input (API and forms):
- ISO 8601 with an offset (``2026-12-01T09:00:00+03:00``, ``...Z``): that instant;
- without an offset (``2026-12-01T09:00``): portal local time;
- a bare date (``2026-12-01``): the start of that day for a start, and for an end the whole
  day inclusive, i.e. the start of the next day (an absence "until 14 Dec" ends at
  15 Dec 00:00 local).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class TimeFormatError(ValueError):
    pass


def to_utc(local: datetime, tz: tzinfo) -> datetime:
    """An aware datetime, or a naive one in ``tz``, as naive UTC."""
    aware = local if local.tzinfo is not None else local.replace(tzinfo=tz)
    return aware.astimezone(UTC).replace(tzinfo=None)


def to_local(value: datetime, tz: tzinfo) -> datetime:
    return value.replace(tzinfo=UTC).astimezone(tz)


def day_start(day: date, tz: tzinfo) -> datetime:
    """Local midnight of ``day`` as naive UTC."""
    return to_utc(datetime.combine(day, time()), tz)


def parse_bound(value: object, *, end: bool, tz: tzinfo) -> datetime:
    """A start or end as naive UTC; raises TimeFormatError for anything else."""
    if isinstance(value, datetime):
        return to_utc(value, tz)
    if isinstance(value, date):
        return day_start(value + timedelta(days=1) if end else value, tz)
    if not isinstance(value, str) or not value.strip():
        raise TimeFormatError("empty")
    text = value.strip()
    if _DATE_ONLY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise TimeFormatError(text) from None
        return day_start(day + timedelta(days=1) if end else day, tz)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TimeFormatError(text) from None
    return to_utc(parsed, tz)


def iso_local(value: datetime | None, tz: tzinfo) -> str | None:
    """Naive UTC -> ISO 8601 with the portal's offset (``2026-12-01T00:00:00+03:00``)."""
    return None if value is None else to_local(value, tz).isoformat(timespec="seconds")


def inclusive_last_day(end: datetime, tz: tzinfo) -> date:
    """The last local day an exclusive ``end`` still covers."""
    return to_local(end - timedelta(microseconds=1), tz).date()
