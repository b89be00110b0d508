"""The absence chart: its storage, a Python API for scenarios and tests, and the one REST method
real portals offer for reading it, ``calendar.accessibility.get``.

Facts mirrored (reference §10, §14):
- On a portal the absence chart is an iblock ("structure" type) with a user, an absence type
  (VACATION, ASSIGNMENT, ...), a reason (NAME) and a period. There is **no documented REST
  method** that lists it; ``calendar.accessibility.get{users[], from, to}`` is the documented
  way to see who is absent ([D] api-reference/calendar/calendar-event/
  calendar-accessibility-get.md). The simulator therefore adds no list method of its own: an
  importer polls ``calendar.accessibility.get`` for all users and keeps the entries whose
  ``ACCESSIBILITY`` is ``absent``.
- The portal fires only the PHP events ``OnStartAbsence``/``OnEndAbsence``; there are no
  add/update events. The simulator publishes in-process stand-ins ``ONABSENCEADD``,
  ``ONABSENCEUPDATE`` and ``ONABSENCEDELETE`` (before/after: :func:`absence_as_dict`) and, for
  REST consumers, ``ONCALENDARENTRYADD``/``UPDATE``/``DELETE`` with the portal's calendar
  payload ``data: {"id": "<entry id>"}`` (the id is the one ``calendar.accessibility.get``
  returns as ``ID``). Choice: real portals fire the calendar events for calendar entries, not
  for absence-chart records.

Dates: a bare date (``date`` or ``"2026-03-10"``/``"10.03.2026"``) means the whole day in the
portal's time zone, so ``date_to`` is inclusive (23:59:59 local), as the chart shows periods.
Datetimes without an offset are portal local time, as in every REST input.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.calendar import tables
from simulator.calendar.errors import (
    AbsenceEndsBeforeStart,
    RequiredParameterNotSet,
    UnknownAbsenceType,
)
from simulator.core import tables as core_tables
from simulator.core.errors import ArgumentRequired, NotFound, SimError, UserNotFound
from simulator.core.registry import method
from simulator.users import get_user

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    from simulator.core.context import Ctx
    from simulator.core.params import Params

A = tables.absences

# The portal's absence types (list property ABSENCE_TYPE of the absence chart iblock).
ABSENCE_TYPES = {
    "VACATION": "Annual leave", "ASSIGNMENT": "Business trip", "LEAVESICK": "Sick leave",
    "LEAVEMATERINITY": "Maternity leave", "LEAVEUNPAYED": "Unpaid leave",
    "UNKNOWN": "Absence without reason", "PERSONAL": "Personal calendar", "OTHER": "Other",
}
_TYPE_ALIASES = {"SICK": "LEAVESICK", "BUSINESS_TRIP": "ASSIGNMENT", "UNPAID": "LEAVEUNPAYED",
                 "MATERNITY": "LEAVEMATERINITY"}
_DATE_ONLY = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}|\d{2}\.\d{2}\.\d{4})\s*$")


def _bound(ctx: Ctx, value: Any, *, end: bool, field: str) -> datetime:
    """An absence boundary as naive UTC; a bare date is the start (or end) of that local day."""
    day: date | None = None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _DATE_ONLY.match(value):
        text = value.strip()
        day = (date.fromisoformat(text) if "-" in text
               else datetime.strptime(text, "%d.%m.%Y").date())
    if day is not None:
        local = datetime.combine(day, time(23, 59, 59) if end else time(0), tzinfo=ctx.tz)
        return local.astimezone(UTC).replace(tzinfo=None)
    parsed = ctx.parse_dt(value, field)
    if parsed is None:
        raise ArgumentRequired(name=field)
    return parsed


def _absence_type(value: Any) -> str:
    kind = str(value or "").strip().upper()
    kind = _TYPE_ALIASES.get(kind, kind)
    if kind not in ABSENCE_TYPES:
        raise UnknownAbsenceType(value=value, types=', '.join(ABSENCE_TYPES))
    return kind


def absence_as_dict(ctx: Ctx, row: Row[Any]) -> dict[str, Any]:
    """An absence as the in-process events carry it."""
    return {"ID": str(row.id), "USER_ID": str(row.user_id), "DATE_FROM": ctx.iso(row.date_from),
            "DATE_TO": ctx.iso(row.date_to), "ABSENCE_TYPE": row.absence_type, "NAME": row.name}


def _row(ctx: Ctx, absence_id: int) -> Row[Any]:
    row = ctx.conn.execute(select(A).where(A.c.id == int(absence_id))).first()
    if row is None:
        raise NotFound()
    return row


def _emit(ctx: Ctx, action: str, absence_id: int, before: dict[str, Any] | None,
          after: dict[str, Any] | None) -> None:
    ctx.emit(f"ONABSENCE{action}", entity_type="ABSENCE", entity_id=absence_id,
             before=before, after=after)
    ctx.emit(f"ONCALENDARENTRY{action}", data={"id": str(absence_id)},
             entity_type="CALENDAR_ENTRY", entity_id=absence_id, before=before, after=after)


def _check_period(date_from: datetime, date_to: datetime) -> None:
    if date_to < date_from:
        raise AbsenceEndsBeforeStart()


def add_absence(ctx: Ctx, user_id: int, date_from: Any, date_to: Any,
                absence_type: str = "VACATION", name: str = "") -> int:
    """Put an absence on the chart; returns its id."""
    if get_user(ctx, int(user_id)) is None:
        raise UserNotFound(user_id=user_id)
    start = _bound(ctx, date_from, end=False, field="DATE_FROM")
    finish = _bound(ctx, date_to, end=True, field="DATE_TO")
    _check_period(start, finish)
    kind = _absence_type(absence_type)
    absence_id = int(ctx.conn.execute(A.insert().values(
        user_id=int(user_id), date_from=start, date_to=finish, absence_type=kind,
        name=(name or "").strip(), date_modify=ctx.now)
        .returning(A.c.id)).scalar_one())
    _emit(ctx, "ADD", absence_id, None, absence_as_dict(ctx, _row(ctx, absence_id)))
    return absence_id


def update_absence(ctx: Ctx, absence_id: int, *, date_from: Any = None, date_to: Any = None,
                   absence_type: str | None = None, name: str | None = None) -> bool:
    """Change an absence (only the arguments given); True if anything changed."""
    row = _row(ctx, absence_id)
    values: dict[str, Any] = {}
    if date_from is not None:
        values["date_from"] = _bound(ctx, date_from, end=False, field="DATE_FROM")
    if date_to is not None:
        values["date_to"] = _bound(ctx, date_to, end=True, field="DATE_TO")
    if absence_type is not None:
        values["absence_type"] = _absence_type(absence_type)
    if name is not None:
        values["name"] = name.strip()
    _check_period(values.get("date_from", row.date_from), values.get("date_to", row.date_to))
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if not changed:
        return False
    before = absence_as_dict(ctx, row)
    ctx.conn.execute(A.update().where(A.c.id == row.id).values(**changed, date_modify=ctx.now))
    _emit(ctx, "UPDATE", row.id, before, absence_as_dict(ctx, _row(ctx, row.id)))
    return True


def delete_absence(ctx: Ctx, absence_id: int) -> bool:
    """Remove an absence from the chart."""
    row = _row(ctx, absence_id)
    before = absence_as_dict(ctx, row)
    ctx.conn.execute(A.delete().where(A.c.id == row.id))
    _emit(ctx, "DELETE", row.id, before, None)
    return True


def list_absences(ctx: Ctx, user_ids: list[int] | None, start: datetime,
                  end: datetime) -> list[Row[Any]]:
    """Absences overlapping [start, end] (naive UTC), for the given users or everyone."""
    stmt = select(A).where(A.c.date_from <= end, A.c.date_to >= start)
    if user_ids is not None:
        stmt = stmt.where(A.c.user_id.in_(user_ids))
    return list(ctx.conn.execute(stmt.order_by(A.c.date_from, A.c.id)).all())


# -- REST ------------------------------------------------------------------------------------
def _required(name: str) -> SimError:
    return RequiredParameterNotSet(name=name)


def _entry(ctx: Ctx, row: Row[Any]) -> dict[str, Any]:
    start = row.date_from.replace(tzinfo=UTC).astimezone(ctx.tz)
    finish = row.date_to.replace(tzinfo=UTC).astimezone(ctx.tz)
    zone_name = str(getattr(ctx.tz, "key", ctx.tz))
    whole_days = start.time() == time(0) and finish.time() in (time(23, 59, 59), time(0))
    return {
        "ID": str(row.id),
        "NAME": row.name or ABSENCE_TYPES.get(row.absence_type, row.absence_type),
        "DATE_FROM": start.strftime("%d.%m.%Y %H:%M:%S"),
        "DATE_TO": finish.strftime("%d.%m.%Y %H:%M:%S"),
        "DATE_FROM_TS_UTC": str(int(start.timestamp())),
        "DATE_TO_TS_UTC": str(int(finish.timestamp())),
        "~USER_OFFSET_FROM": int((start.utcoffset() or timedelta()).total_seconds()),
        "~USER_OFFSET_TO": int((finish.utcoffset() or timedelta()).total_seconds()),
        "DT_SKIP_TIME": "Y" if whole_days else "N", "TZ_FROM": zone_name, "TZ_TO": zone_name,
        "ACCESSIBILITY": "absent", "IMPORTANCE": "normal", "FROM_HR": True,
    }


@method("calendar.accessibility.get")
def calendar_accessibility_get(ctx: Ctx, params: Params) -> Any:
    users = params.get("users")
    if isinstance(users, dict):  # PHP arrays with numeric keys sent as an object
        users = list(users.values())
    if users in (None, "", []):
        raise _required("users")
    for name in ("from", "to"):
        if params.get(name) in (None, ""):
            raise _required(name)
    start = _bound(ctx, params.get("from"), end=False, field="from")
    end = _bound(ctx, params.get("to"), end=True, field="to")
    ids: list[int] = []
    for value in users if isinstance(users, list) else [users]:
        try:
            ids.append(int(str(value).strip()))
        except ValueError:
            continue
    result: dict[str, list[dict[str, Any]]] = {str(i): [] for i in ids}
    for row in list_absences(ctx, ids, start, end):
        result[str(row.user_id)].append(_entry(ctx, row))
    return result


# The portal-wide working calendar, which the portal's tasks also use to skip weekends
# ([D] api-reference/calendar/calendar-settings-get.md). Kept in the settings store under
# ``calendar_settings`` (``sim.settings.set("calendar_settings", {...})``); a field not stored
# there answers the docs' sample value.
CALENDAR_SETTINGS: dict[str, Any] = {
    "work_time_start": "9", "work_time_end": "19",
    "year_holidays": "1.01,2.01,7.01,23.02,8.03,1.05,9.05,12.06,4.11", "year_workdays": "31.12",
    "week_holidays": ["SA", "SU"], "week_start": "MO",
}


@method("calendar.settings.get")
def calendar_settings_get(ctx: Ctx, params: Params) -> Any:
    stored = ctx.conn.execute(select(core_tables.settings.c.value).where(
        core_tables.settings.c.key == "calendar_settings")).scalar()
    return {**CALENDAR_SETTINGS, **(stored if isinstance(stored, dict) else {})}
