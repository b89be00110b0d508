"""The suite's one test clock, and running the suite as of another day.

Every test that needs a date takes it from the ``test_clock`` fixture: a ``TestClock`` anchored
to the instant the demo portal was seeded (the demo writes every date relative to that
instant, see simulator/scenarios/demo.py). A test never writes a year, a month or a weekday;
it says "three days after the demo's today, 10:00 portal time" (``test_clock.at(3, 10)``).

``--as-of WHEN`` (or ``PORTAL_EXT_TEST_AS_OF``) moves the whole test process to another day
before the first test runs, with time-machine: ``datetime.now()``, ``time.time()`` and friends
answer from there and keep ticking, so the portal's clock, the extension's host clock, the
demo's seeding and every page agree on the new day. Monotonic clocks and ``time.sleep`` are
left alone, so thread waits and timeouts behave as usual. WHEN is a day in the portal's time
zone (``2028-02-29``, taken at 10:00 there), a day and time (``2028-02-29T00:30``), or
``+N`` days from today at the current time of day. Other processes (Chromium, a Celery worker)
keep the real time: the shifted runs cover the SQLite tier, where everything dated runs in the
test process.

Tests that read a date or the demo's dated data carry the ``dated`` marker (tests that ask for
``test_clock`` get it automatically); ``dev.py test`` runs those again as of other days.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

PORTAL_ZONE = ZoneInfo("Europe/Moscow")  # the demo portal's zone (and the extension's default)
AS_OF_ENV = "PORTAL_EXT_TEST_AS_OF"
DEFAULT_HOUR = 10


@dataclass(frozen=True)
class TestClock:
    """Portal-local days and instants relative to ``anchor`` (naive UTC, like every stored
    time in the project).

    >>> clock = TestClock(datetime(2030, 5, 6, 21, 30))  # 00:30 on 7 May in Moscow
    >>> clock.today, clock.day(2)
    (datetime.date(2030, 5, 7), datetime.date(2030, 5, 9))
    >>> clock.at(1, 10)  # 10:00 Moscow the next day, as naive UTC
    datetime.datetime(2030, 5, 8, 7, 0)
    >>> clock.iso(1, 10)
    '2030-05-08T10:00:00+03:00'
    """

    __test__ = False  # not a test class, whatever its name

    anchor: datetime
    zone: ZoneInfo = PORTAL_ZONE

    @property
    def local_now(self) -> datetime:
        return self.anchor.replace(tzinfo=UTC).astimezone(self.zone)

    @property
    def today(self) -> date:
        return self.local_now.date()

    def day(self, offset: int = 0) -> date:
        return self.today + timedelta(days=offset)

    def at(self, days: int = 0, hour: int = DEFAULT_HOUR, minute: int = 0) -> datetime:
        """``hour:minute`` portal time on ``today + days``, as naive UTC."""
        local = datetime.combine(self.day(days), time(hour, minute), tzinfo=self.zone)
        return local.astimezone(UTC).replace(tzinfo=None)

    def iso(self, days: int = 0, hour: int = DEFAULT_HOUR, minute: int = 0) -> str:
        """The same instant as the portal writes it: ``YYYY-MM-DDThh:mm:ss+03:00``."""
        return self.local(self.at(days, hour, minute)).isoformat()

    def local(self, instant: datetime) -> datetime:
        """A naive UTC instant in the portal's zone."""
        return instant.replace(tzinfo=UTC).astimezone(self.zone)

    def next_weekday(self, weekday: int, *, after: int = 0) -> int:
        """Days from today to the first ``weekday`` (0 = Monday) at least ``after`` days on."""
        first = self.day(after)
        return after + (weekday - first.weekday()) % 7


def parse_as_of(value: str, *, now: datetime, zone: ZoneInfo = PORTAL_ZONE) -> datetime:
    """The aware instant ``--as-of`` names (``now`` is the real current time, aware).

    >>> real = datetime(2030, 5, 6, 12, 0, tzinfo=UTC)
    >>> parse_as_of("2031-02-28", now=real).isoformat()
    '2031-02-28T10:00:00+03:00'
    >>> parse_as_of("2031-02-28T00:30", now=real).isoformat()
    '2031-02-28T00:30:00+03:00'
    >>> parse_as_of("+400", now=real).isoformat()
    '2031-06-10T12:00:00+00:00'
    """
    value = value.strip()
    if re.fullmatch(r"\+\d+", value):
        return now + timedelta(days=int(value[1:]))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--as-of: {value!r} is not YYYY-MM-DD, YYYY-MM-DDThh:mm or +N") from None
    if "T" not in value and " " not in value:
        parsed = parsed.replace(hour=DEFAULT_HOUR)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


class Travel:
    """The session-wide move to another day (nothing at all without ``--as-of``)."""

    def __init__(self) -> None:
        self._traveller: Any = None
        self.destination: datetime | None = None

    def start(self, value: str | None) -> None:
        if not value:
            return
        import time_machine

        self.destination = parse_as_of(value, now=datetime.now(UTC))
        self._traveller = time_machine.travel(self.destination, tick=True)
        self._traveller.start()

    def stop(self) -> None:
        if self._traveller is not None:
            self._traveller.stop()
            self._traveller = None


def as_of_option(config: Any) -> str | None:
    return config.getoption("as_of", None) or os.environ.get(AS_OF_ENV) or None
