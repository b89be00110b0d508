"""The portal's working time: its calendar settings, and adding working hours or days to an
instant.

A portal keeps one working calendar for everybody (the calendar module's settings, which its
tasks also use to skip weekends): one working period a day, the same every working day (no
lunch break), weekend days, and holidays as day and month (``"1.01,8.03"``), so a holiday
recurs every year. ``calendar.settings.get`` answers them as ``work_time_start`` and
``work_time_end`` (``"9"`` or ``"18.30"``: hour, then minutes), ``week_holidays``
(``["SA", "SU"]``) and ``year_holidays`` (``"D.MM,D.MM,..."``). ``year_workdays`` (moved
working days) is not read: the portal's tasks do not read it either.

Pure part: :class:`WorkCalendar` (no portal, no clock, no database). Reader:
:func:`read_calendar`, through the portal port; a portal without ``calendar.settings.get``
gets the calendar module's defaults (:data:`DEFAULT_SETTINGS`: 09:00-19:00, weekend Saturday
and Sunday, no holidays).

Rules
-----
- An instant is working time when, on the portal's wall clock (its time zone), its day is
  neither a weekend day nor a holiday and its time lies in ``[start, end)``: 09:00 is working
  time, 19:00 is not.
- ``add(instant, hours)`` is the earliest moment by which ``hours`` of working time have
  passed since ``instant``. Time outside working periods does not count, so an instant after
  hours first waits for the next working period; the answer is never the start of a period
  (10 working hours from Mon 09:00, on a 09:00-19:00 day, are Mon 19:00, not Tue 09:00).
  Adding nothing gives the instant back, working time or not.
- ``add_days(instant, n)`` adds ``n`` working days of the calendar's length (``end - start``):
  the same time of day ``n`` working days later when the instant is inside a working period,
  and the end of the ``n``-th working day when it is outside one or at its very opening (a
  request entered on Saturday, due in one working day, is due on Monday at the end of the
  day; one entered on Monday at 09:00, on Monday at 19:00).
- Hours are real elapsed time. On the day a clock change falls inside the working period that
  period is an hour shorter or longer; a change at night (as in every zone that keeps daylight
  saving time today) changes nothing.
- Times without a zone are UTC, as the extension stores them, and the answer comes back in the
  same form: naive UTC for naive UTC, an aware time in the calendar's zone for an aware one.

Worked example
--------------
Work hours 09:00-19:00, weekend Saturday and Sunday, holiday 8 March, zone Europe/Moscow.
A lead enters on Friday 6 March 2026 at 17:30 and must be called within 4 working hours:

=====================  =================================  ===========
period                 working time used                  still to go
=====================  =================================  ===========
Fri 6 Mar 17:30-19:00  1 h 30 min                         2 h 30 min
Sat 7, Sun 8 Mar       none (weekend; 8 March a holiday)  2 h 30 min
Mon 9 Mar 09:00-11:30  2 h 30 min                         0
=====================  =================================  ===========

Due: Monday 9 March, 11:30 (``explain`` says "entered at Fri 17:30 + 4 working hours = Mon
11:30"). With Monday 9 March a holiday too, it would be Tuesday 10 March, 11:30. Two
working days from the same Friday 17:30 are 2 x 10 = 20 working hours: 1 h 30 min on Friday,
10 h on Monday, 8 h 30 min on Tuesday: Tuesday 10 March, 17:30.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from portal_ext.portal.client import PortalClient

log = logging.getLogger(__name__)

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # date.weekday() order

# When the portal has no ``calendar.settings.get`` (an older or trimmed portal): the calendar
# module's own defaults, which its tasks use too (09:00-19:00, weekend Saturday and Sunday).
# The portal's default holidays depend on its country, so none are assumed.
DEFAULT_SETTINGS: dict[str, Any] = {"work_time_start": "9", "work_time_end": "19",
                                    "week_holidays": ["SA", "SU"], "year_holidays": ""}

# How far to look for a working day before deciding the calendar has none: every day of a
# weekday pattern meets every date of the year within 28 years (the Gregorian solar cycle,
# which leap centuries only lengthen a little).
_SEARCH_DAYS = 366 * 30

Unit = Literal["hours", "days"]


@dataclass(frozen=True)
class WorkCalendar:
    """One working period a day in ``zone``; ``weekend`` holds ``date.weekday()`` numbers
    (Monday 0); ``holidays`` holds ``(month, day)`` pairs."""

    start: time = time(9)
    end: time = time(19)
    weekend: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[tuple[int, int]] = frozenset()
    zone: tzinfo = field(default=UTC)

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"the working day must end after it starts "
                             f"({self.start:%H:%M}-{self.end:%H:%M})")
        if not self.weekend < set(range(7)) or len(self.weekend) == 7:
            raise ValueError("at least one day of the week must be a working day")

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], zone: tzinfo) -> WorkCalendar:
        """The calendar of ``calendar.settings.get``'s answer. A field that is missing or
        unreadable takes its value from :data:`DEFAULT_SETTINGS`; an unreadable holiday is
        skipped."""
        def pick(name: str, read: Any) -> Any:
            value = settings.get(name)
            if value not in (None, ""):
                try:
                    return read(value)
                except ValueError:
                    log.warning("calendar setting %s=%r is unreadable; using the default",
                                name, value)
            return read(DEFAULT_SETTINGS[name])

        start, end = pick("work_time_start", parse_clock), pick("work_time_end", parse_clock)
        if not start < end:
            log.warning("working day %s-%s is empty; using the default hours", start, end)
            start, end = (parse_clock(DEFAULT_SETTINGS[n])
                          for n in ("work_time_start", "work_time_end"))
        weekend = pick("week_holidays", parse_weekend)
        if len(weekend) == 7:
            log.warning("every day is a weekend day; using the default weekend")
            weekend = parse_weekend(DEFAULT_SETTINGS["week_holidays"])
        return cls(start=start, end=end, weekend=weekend,
                   holidays=parse_holidays(settings.get("year_holidays") or ""), zone=zone)

    # -- questions ------------------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and (day.month, day.day) not in self.holidays

    def is_working(self, instant: datetime) -> bool:
        """Whether ``instant`` is working time."""
        moment = _utc(instant)
        day = moment.astimezone(self.zone).date()
        if not self.is_working_day(day):
            return False
        opens, closes = self.period(day)
        return opens <= moment < closes

    def period(self, day: date) -> tuple[datetime, datetime]:
        """A day's working period as aware UTC times (whether or not ``day`` is a working
        day)."""
        return (datetime.combine(day, self.start, self.zone).astimezone(UTC),
                datetime.combine(day, self.end, self.zone).astimezone(UTC))

    @property
    def day_length(self) -> timedelta:
        """A working day's nominal length (``end - start``)."""
        return (datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start))

    # -- arithmetic -----------------------------------------------------------------------------
    def add(self, instant: datetime, amount: timedelta) -> datetime:
        """The earliest moment by which ``amount`` of working time has passed since
        ``instant``."""
        if amount < timedelta(0):
            raise ValueError("cannot add a negative amount of working time")
        moment = _utc(instant)
        if amount == timedelta(0):
            return _like(instant, moment, self.zone)
        left = amount
        day = moment.astimezone(self.zone).date()
        idle = 0
        while True:
            if self.is_working_day(day):
                idle = 0
                opens, closes = self.period(day)
                begin = max(opens, moment)
                if begin < closes:
                    if left <= closes - begin:
                        return _like(instant, begin + left, self.zone)
                    left -= closes - begin
            else:
                idle += 1
                if idle > _SEARCH_DAYS:
                    raise ValueError("the calendar has no working day")
            day += timedelta(days=1)

    def add_hours(self, instant: datetime, hours: float) -> datetime:
        return self.add(instant, timedelta(hours=hours))

    def add_days(self, instant: datetime, days: int) -> datetime:
        return self.add(instant, self.day_length * days)

    def add_in(self, instant: datetime, amount: int, unit: Unit) -> datetime:
        return self.add_days(instant, amount) if unit == "days" else \
            self.add_hours(instant, amount)

    def explain(self, instant: datetime, amount: int, unit: Unit,
                language: str = "en") -> str:
        """``entered at Fri 17:30 + 4 working hours = Mon 11:30`` in ``language``, times on the
        portal's wall clock (the date is added when the answer is a week or more away)."""
        from babel.dates import format_datetime
        from flask_babel import force_locale, gettext, ngettext

        due = self.add_in(instant, amount, unit)
        begin, end = (_utc(t).astimezone(self.zone) for t in (instant, due))
        far = end.date() - begin.date() >= timedelta(days=7)
        pattern = "EEE d MMM HH:mm" if far else "EEE HH:mm"
        with force_locale(language):
            shown = (ngettext("%(num)d working day", "%(num)d working days", amount)
                     if unit == "days" else
                     ngettext("%(num)d working hour", "%(num)d working hours", amount))
            return gettext("entered at %(start)s + %(amount)s = %(due)s",
                           start=format_datetime(begin, pattern, tzinfo=self.zone,
                                                 locale=language),
                           amount=shown,
                           due=format_datetime(end, pattern, tzinfo=self.zone,
                                               locale=language))


# -- the portal's formats -----------------------------------------------------------------------
def parse_clock(value: Any) -> time:
    """``"9"`` -> 09:00, ``"18.30"`` -> 18:30 (``work_time_start``/``work_time_end``)."""
    text = str(value).strip()
    hours_text, _, minutes_text = text.partition(".")
    if not hours_text.isdigit() or (minutes_text and not minutes_text.isdigit()):
        raise ValueError(f"not an hour: {value!r}")
    hours, minutes = int(hours_text), int(minutes_text or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"not an hour: {value!r}")
    return time(hours, minutes)


def parse_weekend(value: Any) -> frozenset[int]:
    """``["SA", "SU"]`` (or ``"SA,SU"``, or a PHP array sent as an object) -> {5, 6}."""
    if isinstance(value, Mapping):
        value = list(value.values())
    codes: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    days = set()
    for code in codes:
        name = str(code).strip().upper()
        if name not in WEEKDAY_CODES:
            raise ValueError(f"not a day of the week: {code!r}")
        days.add(WEEKDAY_CODES.index(name))
    return frozenset(days)


def parse_holidays(value: Any) -> frozenset[tuple[int, int]]:
    """``"1.01,8.03"`` -> {(1, 1), (3, 8)}; entries that are not a day of a month (``31.02``)
    are skipped."""
    found = set()
    for entry in str(value).split(","):
        day_text, _, month_text = entry.strip().partition(".")
        if not (day_text.isdigit() and month_text.isdigit()):
            if entry.strip():
                log.warning("holiday %r is not D.MM; skipped", entry)
            continue
        day, month = int(day_text), int(month_text)
        try:
            date(2000, month, day)  # a leap year: 29.02 is a day of a month
        except ValueError:
            log.warning("holiday %r is not a day of a month; skipped", entry)
            continue
        found.add((month, day))
    return frozenset(found)


# -- the reader ---------------------------------------------------------------------------------
_NOT_FOUND = ("ERROR_METHOD_NOT_FOUND", "METHOD_NOT_FOUND")


def read_calendar(client: PortalClient, zone: tzinfo | None = None) -> WorkCalendar:
    """The portal's calendar (``calendar.settings.get``) in ``zone`` (default: the portal's,
    ``PORTAL_TIMEZONE``). A portal without the method gets :data:`DEFAULT_SETTINGS`; any other
    refusal (no ``calendar`` scope, an outage) is raised as the portal's error, since guessing
    would put deadlines in the wrong place without anyone noticing."""
    from portal_ext.portal.clock import portal_zone
    from portal_ext.portal.errors import PortalError

    where = zone or portal_zone()
    try:
        answer = client.call("calendar.settings.get")
    except PortalError as exc:
        if exc.code not in _NOT_FOUND and exc.status != 404:
            raise
        log.info("the portal has no calendar.settings.get; using the default working time")
        answer = DEFAULT_SETTINGS
    return WorkCalendar.from_settings(answer if isinstance(answer, Mapping) else {}, where)


# -- helpers ------------------------------------------------------------------------------------
def _utc(instant: datetime) -> datetime:
    """``instant`` as an aware UTC time (a naive one is UTC already)."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def _like(given: datetime, moment: datetime, zone: tzinfo) -> datetime:
    """``moment`` (aware UTC) in the form ``given`` came in."""
    if given.tzinfo is None:
        return moment.replace(tzinfo=None)
    return moment.astimezone(zone)
