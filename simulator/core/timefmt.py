"""Date and time as the portal writes and reads them: ISO 8601 with the portal's offset."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from simulator.core.errors import InvalidDate

DEFAULT_TIMEZONE = "Europe/Moscow"


def zone(name: str) -> tzinfo:
    return ZoneInfo(name)


def to_portal_iso(value: datetime | None, tz: tzinfo) -> str:
    """Naive UTC -> ``2026-03-01T10:00:00+03:00``; ``""`` for no value (as the portal sends)."""
    if value is None:
        return ""
    if value.tzinfo is not None:  # equal moments in other zones are equal keys: not cached
        return value.replace(tzinfo=UTC).astimezone(tz).isoformat(timespec="seconds")
    return _iso(value, tz)


@lru_cache(maxsize=8192)
def _iso(value: datetime, tz: tzinfo) -> str:
    # The same moments come back again and again (the time of a call, stamped on every item
    # a batch changes; an item's dates, rendered for its event before and after a change).
    return value.replace(tzinfo=UTC).astimezone(tz).isoformat(timespec="seconds")


def parse_portal_datetime(value: object, tz: tzinfo, *, field: str = "date") -> datetime | None:
    """Portal input -> naive UTC. Accepts ISO 8601 with or without offset (no offset means the
    portal's zone), a bare date (midnight there), ``DD.MM.YYYY[ HH:MM[:SS]]`` (the portal's
    Russian locale format) and empty values (None)."""
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        text = str(value).strip()
        parsed_opt: datetime | None = None
        try:
            parsed_opt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for fmt in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y"):
                try:
                    parsed_opt = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if parsed_opt is None:
            raise InvalidDate(field=field)
        parsed = parsed_opt
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC).replace(tzinfo=None)
