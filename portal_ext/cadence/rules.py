"""What counts as a contact with a client, and when a company is due, in warning or overdue:
pure decisions, no database, no portal, no clock of their own (``today`` is an argument).

What counts (reference 3.1-3.2):

- a **call** (``TYPE_ID`` 2) that reached the client: ``COMPLETED`` is ``Y`` (a planned call is
  not), ``SETTINGS.MISSED_CALL`` is not set, the call's statistics (``voximplant.statistic.get``,
  where the portal has them, else ``SETTINGS.CALL_FAILED_CODE``) say code ``200`` (an outgoing
  call's activity is completed even when the call failed), and it lasted at least the minimum
  duration (statistics' ``CALL_DURATION``, else ``END_TIME`` minus ``START_TIME``);
- an **e-mail** (``TYPE_ID`` 4): an incoming one whether or not it is ``COMPLETED`` (the
  portal leaves it open until answered), an outgoing one unless ``SETTINGS.SENT_ERROR``; the
  direction setting says which directions count (``in``, ``out`` or ``both``);
- a completed **meeting** (``TYPE_ID`` 1), when the setting says meetings count.

A contact counts for the company it is bound to, for the company of a contact it is bound to,
and for the company of a lead or deal it is bound to (:func:`companies_of`).

The dates: a contact's time is its ``END_TIME`` in the portal's time zone; ``due_at`` is the
last contact's date plus the category's interval (a calendar month from 31 January is the last
day of February); a company never contacted counts from the day it was created. Today after
``due_at`` is overdue (the due day itself is not), ``days_overdue`` is today minus
``due_at``; ``warning`` starts ``warning_days`` before ``due_at``. A company without a
category is ``no_category``, never hidden.

Worked example, with the defaults (A every 14 days warned 3 days ahead, B every calendar month
warned 5 days ahead, C every 2 calendar months warned 7 days ahead): Romashka is an A client
whose last call reached the client on 3 March (its only other call, on 20 March, was missed,
and an outgoing call on 21 March failed with code 486): due on 17 March. On 14 March it is in
warning, on 17 March still in warning (not overdue), on 18 March overdue by 1 day. Vector is a
B client never called, created on 31 January: due on 28 February (29 in a leap year). Lotos
has no category: ``no_category``, no due date.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

CATEGORIES: tuple[str, ...] = ("A", "B", "C")
DAY, MONTH = "day", "month"
UNITS: tuple[str, ...] = (DAY, MONTH)
CALL, EMAIL, MEETING = "call", "email", "meeting"
IN, OUT = "in", "out"
BOTH = "both"
EMAIL_DIRECTIONS: tuple[str, ...] = (IN, OUT, BOTH)
OK, WARNING, OVERDUE, NO_CATEGORY = "ok", "warning", "overdue", "no_category"
STATES: tuple[str, ...] = (OK, WARNING, OVERDUE, NO_CATEGORY)

# CRM entity type ids (crm.enum.ownertype).
LEAD, DEAL, CONTACT, COMPANY = 1, 2, 3, 4
TYPE_MEETING, TYPE_CALL, TYPE_EMAIL = 1, 2, 4
CONNECTED = "200"


@dataclass(frozen=True)
class Interval:
    count: int
    unit: str = DAY  # day | month
    warning_days: int = 0  # 0: no warning before the due day

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "unit": self.unit, "warning_days": self.warning_days}


DEFAULT_INTERVALS: dict[str, Interval] = {
    "A": Interval(14, DAY, 3), "B": Interval(1, MONTH, 5), "C": Interval(2, MONTH, 7)}


@dataclass(frozen=True)
class ContactOptions:
    min_call_seconds: int = 0
    email_direction: str = BOTH  # in | out | both
    meetings: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"min_call_seconds": self.min_call_seconds,
                "email_direction": self.email_direction, "meetings": self.meetings}


@dataclass(frozen=True)
class Contact:
    """One activity that counts: when (``END_TIME``, naive UTC), channel, direction, by whom."""

    activity_id: int
    channel: str  # call | email | meeting
    direction: str | None  # in | out | None
    at: datetime
    by: int | None


@dataclass(frozen=True)
class Standing:
    due_at: date | None
    state: str
    days_overdue: int

    @property
    def overdue(self) -> bool:
        return self.state == OVERDUE


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().upper() in ("Y", "TRUE", "1", "FULL", "PARTIAL")


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def contact_of(activity: Mapping[str, Any], options: ContactOptions, *,
               start: datetime | None, end: datetime | None,
               statistic: Mapping[str, Any] | None = None) -> Contact | None:
    """The contact ``activity`` (crm.activity.list shape) makes, or None when it does not count.
    ``start``/``end`` are its parsed ``START_TIME``/``END_TIME``; ``statistic`` the call's
    ``voximplant.statistic.get`` record, if the portal has one."""
    type_id = _int(activity.get("TYPE_ID"))
    activity_id = _int(activity.get("ID")) or 0
    when = end or start
    if when is None:
        return None
    settings = activity.get("SETTINGS")
    settings = settings if isinstance(settings, Mapping) else {}
    completed = str(activity.get("COMPLETED") or "").upper() == "Y"
    direction = {1: IN, 2: OUT}.get(_int(activity.get("DIRECTION")) or 0)
    by = _int(activity.get("RESPONSIBLE_ID"))
    if type_id == TYPE_CALL:
        if not completed or _flag(settings.get("MISSED_CALL") or False):
            return None
        code = (statistic or {}).get("CALL_FAILED_CODE", settings.get("CALL_FAILED_CODE"))
        if code not in (None, "") and str(code) != CONNECTED:
            return None
        duration = _int((statistic or {}).get("CALL_DURATION"))
        if duration is None:
            duration = max(0, int((end - start).total_seconds())) if end and start else 0
        if duration < options.min_call_seconds:
            return None
        return Contact(activity_id, CALL, direction, when, by)
    if type_id == TYPE_EMAIL:
        direction = direction or OUT
        if options.email_direction not in (BOTH, direction):
            return None
        if direction == OUT and settings.get("SENT_ERROR") and _flag(settings["SENT_ERROR"]):
            return None
        return Contact(activity_id, EMAIL, direction, when, by)
    if type_id == TYPE_MEETING and options.meetings and completed:
        return Contact(activity_id, MEETING, direction, when, by)
    return None


def companies_of(bindings: Iterable[tuple[int, int]],
                 company_of: Mapping[tuple[int, int], int]) -> set[int]:
    """The companies a contact counts for: bound companies, and the companies of bound
    contacts, leads and deals (``company_of``: (type id, id) -> company id)."""
    found: set[int] = set()
    for type_id, item_id in bindings:
        if type_id == COMPANY:
            found.add(item_id)
        elif (type_id, item_id) in company_of:
            found.add(company_of[(type_id, item_id)])
    return found


def local_date(moment: datetime, tz: tzinfo) -> date:
    """A naive-UTC moment's date in the portal's time zone."""
    from datetime import UTC

    return moment.replace(tzinfo=UTC).astimezone(tz).date()


def add_interval(start: date, interval: Interval) -> date:
    """``start`` plus the interval; calendar months clamp to the month's last day."""
    if interval.unit == DAY:
        return start + timedelta(days=interval.count)
    months = start.month - 1 + interval.count
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def standing(category: str | None, *, last_contact: date | None, created: date, today: date,
             intervals: Mapping[str, Interval]) -> Standing:
    """Where a company stands today (see the module's docstring)."""
    if category is None or category not in intervals:
        return Standing(None, NO_CATEGORY, 0)
    interval = intervals[category]
    due = add_interval(last_contact or created, interval)
    if today > due:
        return Standing(due, OVERDUE, (today - due).days)
    if interval.warning_days > 0 and today >= due - timedelta(days=interval.warning_days):
        return Standing(due, WARNING, 0)
    return Standing(due, OK, 0)


def latest(contacts: Iterable[Contact], channel: str | None = None) -> Contact | None:
    """The latest contact (of ``channel``, if given); ties go to the higher activity id."""
    best: Contact | None = None
    for contact in contacts:
        if channel is not None and contact.channel != channel:
            continue
        if best is None or (contact.at, contact.activity_id) > (best.at, best.activity_id):
            best = contact
    return best
