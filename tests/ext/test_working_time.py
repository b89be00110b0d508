"""The portal's working time (portal_ext/working_time.py): adding working hours and days,
checked against a walk through time minute by minute, the edge cases a deadline meets, the
explanation people read, and the calendar as read from the portal.

These are pure-rule tests: every instant is an argument, so dates are written out."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal_ext import create_app
from portal_ext.portal.client import PortalClient
from portal_ext.portal.errors import PortalError
from portal_ext.portal.transports import InProcessTransport
from portal_ext.working_time import (
    DEFAULT_SETTINGS,
    WEEKDAY_CODES,
    WorkCalendar,
    parse_clock,
    parse_holidays,
    parse_weekend,
    read_calendar,
)
from simulator import Simulator

MOSCOW, BERLIN = ZoneInfo("Europe/Moscow"), ZoneInfo("Europe/Berlin")
MINUTE = timedelta(minutes=1)


def portal_calendar(zone: tzinfo = MOSCOW, **settings: Any) -> WorkCalendar:
    return WorkCalendar.from_settings({**DEFAULT_SETTINGS, **settings}, zone)


# -- the reference: a walk through time, one minute at a time ---------------------------------
def wall_clock_working(calendar: WorkCalendar, moment: datetime) -> bool:
    """Working time as the wall clock says it, from the settings alone."""
    local = moment.astimezone(calendar.zone)
    return (local.weekday() not in calendar.weekend
            and (local.month, local.day) not in calendar.holidays
            and calendar.start <= local.time().replace(tzinfo=None) < calendar.end)


def walk(calendar: WorkCalendar, instant: datetime, minutes: int) -> datetime:
    """The moment the ``minutes``-th working minute after ``instant`` ends."""
    moment, left = instant.astimezone(UTC), minutes
    while left > 0:
        if wall_clock_working(calendar, moment):
            left -= 1
        moment += MINUTE
    return moment


# Zones with and without daylight saving time (their clocks change at night), one a half hour
# off UTC. Work hours from 05:00 keep every working period clear of the night's clock change.
ZONES = ["UTC", "Europe/Moscow", "Europe/Berlin", "America/New_York", "Australia/Sydney",
         "Asia/Kolkata"]
# Days around the clock changes of those zones, and ordinary days.
AROUND_CHANGES = [date(2026, 3, 27), date(2026, 10, 23), date(2026, 3, 6), date(2026, 10, 30),
                  date(2026, 4, 2), date(2026, 9, 30)]


@st.composite
def calendars_and_instants(draw: st.DrawFn) -> tuple[WorkCalendar, datetime]:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    opens = draw(st.integers(5 * 60, 16 * 60))
    closes = draw(st.integers(opens + 30, min(opens + 12 * 60, 22 * 60 + 30)))
    weekend = draw(st.frozensets(st.integers(0, 6), max_size=4))
    first = draw(st.one_of(st.sampled_from(AROUND_CHANGES),
                           st.dates(date(2025, 1, 1), date(2028, 12, 31))))
    holidays = frozenset(
        ((first + timedelta(days=n)).month, (first + timedelta(days=n)).day)
        for n in draw(st.frozensets(st.integers(-1, 20), max_size=8)))
    calendar = WorkCalendar(start=time(opens // 60, opens % 60),
                            end=time(closes // 60, closes % 60),
                            weekend=weekend, holidays=holidays, zone=zone)
    at = draw(st.integers(0, 24 * 60 - 1))
    instant = datetime.combine(first, time(at // 60, at % 60), zone)
    return calendar, instant


@settings(max_examples=100, deadline=None)
@given(calendars_and_instants(), st.integers(0, 20 * 60))
def test_adding_working_time_agrees_with_a_minute_by_minute_walk(
        case: tuple[WorkCalendar, datetime], minutes: int) -> None:
    calendar, instant = case
    due = calendar.add(instant, timedelta(minutes=minutes))
    assert due == walk(calendar, instant, minutes)
    assert due.tzinfo is calendar.zone
    assert calendar.is_working(instant) == wall_clock_working(calendar, instant)
    if minutes:  # the last minute counted is working time; the answer is never a period's start
        assert calendar.is_working(due - MINUTE)
        assert not (calendar.is_working(due) and not calendar.is_working(due - MINUTE))


@settings(max_examples=40, deadline=None)
@given(calendars_and_instants(), st.integers(0, 3))
def test_working_days_are_days_of_working_hours(case: tuple[WorkCalendar, datetime],
                                                 days: int) -> None:
    calendar, instant = case
    length = int(calendar.day_length.total_seconds() // 60)
    due = calendar.add_days(instant, days)
    assert due == walk(calendar, instant, days * length)
    if days and calendar.is_working(instant) and calendar.is_working(instant - MINUTE):
        # inside a working period: the same time of day, n working days on
        assert due.astimezone(calendar.zone).time() == instant.time()


# -- edge cases -----------------------------------------------------------------------------------
def at(day: int, hour: int, minute: int = 0, zone: tzinfo = MOSCOW, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=zone)


def test_the_docstrings_worked_example() -> None:
    calendar = portal_calendar(year_holidays="8.03")
    friday = at(6, 17, 30)
    assert friday.strftime("%a") == "Fri"
    assert calendar.add_hours(friday, 4) == at(9, 11, 30)
    assert calendar.add_days(friday, 2) == at(10, 17, 30)
    with_monday_off = portal_calendar(year_holidays="8.03,9.03")
    assert with_monday_off.add_hours(friday, 4) == at(10, 11, 30)


def test_time_before_opening_or_after_closing_waits_for_the_next_period() -> None:
    calendar = portal_calendar()
    assert calendar.add_days(at(10, 9), 1) == at(10, 19)  # from the opening: that day's end
    assert calendar.add_days(at(10, 9, 1), 1) == at(11, 9, 1)
    assert not calendar.is_working(at(10, 7))
    assert calendar.add_hours(at(10, 7), 2) == at(10, 11)
    assert not calendar.is_working(at(10, 19)) and calendar.is_working(at(10, 18, 59))
    assert calendar.add_hours(at(10, 22), 2) == at(11, 11)
    assert calendar.add_hours(at(10, 9), 10) == at(10, 19)  # the day's end, not the next start


def test_a_request_on_a_holiday_counts_from_the_next_working_day() -> None:
    calendar = portal_calendar(year_holidays="9.03")  # a Monday
    assert not calendar.is_working(at(9, 12))
    assert calendar.add_hours(at(9, 12), 3) == at(10, 12)
    assert calendar.add_days(at(9, 12), 1) == at(10, 19)  # by the end of the next working day
    # the holiday recurs every year
    assert not calendar.is_working(datetime(2027, 3, 9, 12, tzinfo=MOSCOW))


def test_a_weekend_is_skipped_and_a_changed_weekend_is_followed() -> None:
    calendar = portal_calendar()
    assert calendar.add_hours(at(6, 18), 2) == at(9, 10)  # Friday 18:00 -> Monday 10:00
    six_days = portal_calendar(week_holidays=["SU"])
    assert six_days.add_hours(at(6, 18), 2) == at(7, 10)  # Saturday is a working day there
    assert six_days.is_working(at(7, 12)) and not six_days.is_working(at(8, 12))


def test_adding_nothing_gives_the_instant_back() -> None:
    calendar = portal_calendar()
    assert calendar.add_hours(at(7, 12), 0) == at(7, 12)  # a Saturday: still itself
    with pytest.raises(ValueError, match="negative"):
        calendar.add_hours(at(10, 12), -1)


def test_the_nights_clock_change_moves_nothing_in_the_working_day() -> None:
    calendar = portal_calendar(BERLIN)
    friday = at(27, 17, 30, BERLIN)  # clocks go forward in the night of 28-29 March
    due = calendar.add_hours(friday, 4)
    assert due == at(30, 11, 30, BERLIN)
    assert due.utcoffset() == timedelta(hours=2) and friday.utcoffset() == timedelta(hours=1)


def test_a_clock_change_inside_the_working_period_shortens_or_lengthens_it() -> None:
    every_day = frozenset[int]()
    night_shift = WorkCalendar(start=time(1), end=time(5), weekend=every_day, zone=BERLIN)
    spring = at(29, 1, zone=BERLIN)  # 02:00 becomes 03:00: three hours of work
    assert night_shift.add_hours(spring, 3) == at(29, 5, zone=BERLIN)
    assert night_shift.add_hours(spring, 4) == at(30, 2, zone=BERLIN)
    autumn = datetime(2026, 10, 25, 1, tzinfo=BERLIN)  # 03:00 becomes 02:00: five hours
    assert night_shift.add_hours(autumn, 5) == datetime(2026, 10, 25, 5, tzinfo=BERLIN)
    due = night_shift.add_hours(autumn, 2)
    assert (due.hour, due.utcoffset()) == (2, timedelta(hours=1))  # the second 02:00


def test_times_without_a_zone_are_utc_and_come_back_so() -> None:
    calendar = portal_calendar()  # Moscow is UTC+3
    due = calendar.add_hours(datetime(2026, 3, 6, 14, 30), 4)
    assert due == datetime(2026, 3, 9, 8, 30) and due.tzinfo is None
    assert calendar.is_working(datetime(2026, 3, 6, 6)) and \
        not calendar.is_working(datetime(2026, 3, 6, 5, 59))


def test_a_calendar_without_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="working day"):
        WorkCalendar(weekend=frozenset(range(7)))
    with pytest.raises(ValueError, match="end after"):
        WorkCalendar(start=time(18), end=time(9))
    every_date = frozenset((d.month, d.day) for d in
                           (date(2028, 1, 1) + timedelta(days=n) for n in range(366)))
    with pytest.raises(ValueError, match="no working day"):
        WorkCalendar(holidays=every_date).add_hours(at(10, 12), 1)


# -- the portal's formats -------------------------------------------------------------------------
def test_the_portals_setting_formats_are_read() -> None:
    assert (parse_clock("9"), parse_clock("18.30"), parse_clock(" 8.05 ")) == \
        (time(9), time(18, 30), time(8, 5))
    for bad in ("", "25", "9.60", "nine", "-1"):
        with pytest.raises(ValueError):
            parse_clock(bad)
    assert parse_weekend(["SA", "SU"]) == {5, 6} == parse_weekend("sa, su")
    assert parse_weekend({"0": "FR", "1": "SA"}) == {4, 5}  # a PHP array sent as an object
    with pytest.raises(ValueError):
        parse_weekend(["SAT"])
    assert parse_holidays("1.01, 8.03,,31.02,x.05,29.02") == {(1, 1), (3, 8), (2, 29)}


def test_missing_or_unreadable_settings_take_the_defaults() -> None:
    calendar = WorkCalendar.from_settings({"work_time_start": "late", "work_time_end": "17",
                                           "week_holidays": ["XX"]}, MOSCOW)
    assert (calendar.start, calendar.end, calendar.weekend) == (time(9), time(17), {5, 6})
    empty_day = WorkCalendar.from_settings({"work_time_start": "18", "work_time_end": "9"},
                                           MOSCOW)
    assert (empty_day.start, empty_day.end) == (time(9), time(19))
    no_rest = WorkCalendar.from_settings({"week_holidays": list(WEEKDAY_CODES)}, MOSCOW)
    assert no_rest.weekend == {5, 6}


# -- explaining a deadline ------------------------------------------------------------------------
def test_the_explanation_names_the_start_the_amount_and_the_answer() -> None:
    calendar = portal_calendar(year_holidays="8.03")
    friday = at(6, 17, 30)
    assert calendar.explain(friday, 4, "hours") == \
        "entered at Fri 17:30 + 4 working hours = Mon 11:30"
    assert calendar.explain(friday, 1, "days") == \
        "entered at Fri 17:30 + 1 working day = Mon 17:30"
    assert calendar.explain(friday, 10, "days") == \
        "entered at Fri 6 Mar 17:30 + 10 working days = Fri 20 Mar 17:30"
    with create_app({"TESTING": True, "DATABASE_URL": "sqlite://"}).app_context():
        assert calendar.explain(friday, 4, "hours", language="ru") == \
            "поступило в пт 17:30 + 4 рабочих часа = пн 11:30"
        assert calendar.explain(friday, 3, "days", language="ru") == \
            "поступило в пт 17:30 + 3 рабочих дня = ср 17:30"
        assert calendar.explain(friday, 10, "days", language="ru") == \
            "поступило в пт 6 мар. 17:30 + 10 рабочих дней = пт 20 мар. 17:30"


# -- reading the calendar from the portal ---------------------------------------------------------
def test_the_calendar_is_read_from_the_portal(sim: Simulator) -> None:
    sim.settings.set("calendar_settings", {"work_time_start": "8.30", "work_time_end": "17",
                                           "week_holidays": ["FR", "SA"],
                                           "year_holidays": "1.05,9.05"})
    calendar = read_calendar(PortalClient(InProcessTransport(sim.call)), BERLIN)
    assert (calendar.start, calendar.end, calendar.weekend) == (time(8, 30), time(17), {4, 5})
    assert calendar.holidays == {(5, 1), (5, 9)} and calendar.zone is BERLIN


def test_a_portal_without_the_method_gets_the_default_working_time() -> None:
    def dispatch(method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise PortalError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)

    calendar = read_calendar(PortalClient(InProcessTransport(dispatch)), MOSCOW)
    assert (calendar.start, calendar.end, calendar.weekend, calendar.holidays) == \
        (time(9), time(19), {5, 6}, frozenset())


def test_a_refusal_other_than_a_missing_method_is_not_hidden() -> None:
    def dispatch(method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise PortalError("insufficient_scope", "The request requires higher privileges", 401)

    with pytest.raises(PortalError) as refused:
        read_calendar(PortalClient(InProcessTransport(dispatch)), MOSCOW)
    assert refused.value.code == "insufficient_scope"
