"""Following the portal's absence chart: new, changed and deleted entries become absences.

Two ways in, one result (absences keyed by the chart entry id, ``chart_entry_id``):

- in-process, the portal announces chart changes (``ONABSENCEADD/UPDATE/DELETE`` with the
  entry in ``after``/``before``; portal_ext.absences.handlers);
- over REST there is no such event (reference §10, §14: no documented REST method lists the
  chart either), so the periodic tick polls ``calendar.accessibility.get{users[], from, to}``
  for every active user over ``-7 .. +90`` days and reconciles: entries not seen before are
  added, entries whose period changed are updated, imported absences whose entry is gone are
  deleted. The poll also repairs anything an event missed.

An entry with a whole-day period ends at 23:59:59 local on its last day; it is stored with the
exclusive end (next midnight), like every absence. An imported absence names no deputy on the
chart, so it gets the user's standing deputy, else their department head
(services.fallback_deputy). What a person changes in the extension afterwards (deputy, note,
kind) is kept when the entry changes again; only the period follows the chart. Imports are not
held to the rules for entries made here (portal_ext.absences.validation): the chart is the
portal's record, so an entry overlapping an absence recorded here is kept beside it, and a
person recording a new absence is told to change the imported one instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from portal_ext.absences import access
from portal_ext.absences.models import (
    BUSINESS_TRIP,
    CHART,
    OTHER,
    SICK_LEAVE,
    VACATION,
    Absence,
    AbsenceStamp,
    state_at,
)
from portal_ext.absences.services import fallback_deputy, touch
from portal_ext.absences.times import to_local
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.handover.settle import settle_changed, settle_handovers
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import parse_portal_time, portal_zone
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)
WINDOW_BEFORE, WINDOW_AFTER = timedelta(days=7), timedelta(days=90)
USERS_PER_CALL = 50

# The chart's ABSENCE_TYPE list -> our kinds.
KIND_OF_TYPE = {"VACATION": VACATION, "LEAVEUNPAYED": VACATION, "LEAVEMATERINITY": VACATION,
                "LEAVESICK": SICK_LEAVE, "ASSIGNMENT": BUSINESS_TRIP}
# calendar.accessibility.get names no type: guess from the entry's name.
_KIND_WORDS = ((SICK_LEAVE, ("больнич", "sick")),
               (BUSINESS_TRIP, ("командиров", "business trip", "assignment")),
               (VACATION, ("отпуск", "vacation", "leave", "holiday")))


@dataclass(frozen=True)
class ChartEntry:
    entry_id: int
    user_id: int
    start: datetime  # naive UTC
    end: datetime  # naive UTC, exclusive
    name: str
    kind: str | None  # None: the source did not say

    @property
    def signature(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def _exclusive(end: datetime) -> datetime:
    """23:59:59 local (the chart's whole-day end) -> the next local midnight."""
    local = to_local(end, portal_zone())
    if (local.hour, local.minute, local.second) == (23, 59, 59):
        return end + timedelta(seconds=1)
    return end


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def entry_from_event(data: Any) -> ChartEntry | None:
    """The entry an ONABSENCE* event carries in ``after``: {ID, USER_ID, DATE_FROM, DATE_TO,
    ABSENCE_TYPE, NAME}."""
    if not isinstance(data, dict):
        return None
    entry_id, user_id = _int(data.get("ID")), _int(data.get("USER_ID"))
    start, end = parse_portal_time(data.get("DATE_FROM")), parse_portal_time(data.get("DATE_TO"))
    if entry_id is None or user_id is None or start is None or end is None:
        return None
    kind = KIND_OF_TYPE.get(str(data.get("ABSENCE_TYPE") or "").upper(), OTHER)
    return ChartEntry(entry_id, user_id, start, _exclusive(end), str(data.get("NAME") or ""),
                      kind)


def entry_from_accessibility(user_id: int, row: Any) -> ChartEntry | None:
    """One ``calendar.accessibility.get`` row (only ``ACCESSIBILITY: absent`` ones count)."""
    if not isinstance(row, dict) or str(row.get("ACCESSIBILITY") or "") != "absent":
        return None
    entry_id = _int(row.get("ID"))
    start_ts, end_ts = _int(row.get("DATE_FROM_TS_UTC")), _int(row.get("DATE_TO_TS_UTC"))
    if entry_id is None or start_ts is None or end_ts is None:
        return None
    start = datetime.fromtimestamp(start_ts, UTC).replace(tzinfo=None)
    end = datetime.fromtimestamp(end_ts, UTC).replace(tzinfo=None)
    return ChartEntry(entry_id, user_id, start, _exclusive(end), str(row.get("NAME") or ""),
                      None)


def guess_kind(name: str) -> str:
    lowered = name.lower()
    for kind, words in _KIND_WORDS:
        if any(word in lowered for word in words):
            return kind
    return OTHER


def import_entry(*, portal_id: int, entry: ChartEntry, now: datetime) -> str:
    """Create or update the absence following ``entry`` (no commit): created, updated or
    unchanged."""
    absence = db.session.scalars(select(Absence).where(
        Absence.portal_id == portal_id, Absence.chart_entry_id == entry.entry_id)).first()
    if absence is None:
        absence = Absence(
            portal_id=portal_id, user_id=entry.user_id, start=entry.start, end=entry.end,
            kind=entry.kind or guess_kind(entry.name),
            deputy_id=fallback_deputy(portal_id=portal_id, user_id=entry.user_id),
            note=entry.name, recorded_by_id=None, recorded_at=now, updated_at=now,
            state=state_at(entry.start, entry.end, now), source=CHART,
            chart_entry_id=entry.entry_id, chart_signature=entry.signature)
        db.session.add(absence)
        touch(portal_id)
        return "created"
    changed = (absence.chart_signature != entry.signature or absence.user_id != entry.user_id
               or (entry.kind is not None and absence.kind != entry.kind
                   and absence.updated_at == absence.recorded_at))
    if not changed:
        return "unchanged"
    user_changed = absence.user_id != entry.user_id
    if user_changed:
        absence.user_id = entry.user_id
        absence.deputy_id = fallback_deputy(portal_id=portal_id, user_id=entry.user_id)
    absence.start, absence.end = entry.start, entry.end
    if entry.kind is not None and absence.updated_at == absence.recorded_at:
        absence.kind = entry.kind  # nobody has edited it here: the chart's type still rules
    if absence.deputy_id is None:
        absence.deputy_id = fallback_deputy(portal_id=portal_id, user_id=entry.user_id)
    absence.chart_signature = entry.signature
    absence.state = state_at(absence.start, absence.end, now)
    settle_changed(absence, now=now, user_changed=user_changed)  # the tick resumes restores
    touch(portal_id)
    return "updated"


def remove_entry(*, portal_id: int, entry_id: int, client: PortalClient) -> str:
    """Delete the absence following a deleted entry (no commit), after withdrawing any
    temporary access (a PortalError there propagates: try again later)."""
    absence = db.session.scalars(select(Absence).where(
        Absence.portal_id == portal_id, Absence.chart_entry_id == entry_id)).first()
    if absence is None:
        return "missing"
    access.withdraw(client, absence)
    settle_handovers(absence, now=absence.updated_at, gone=True)
    db.session.delete(absence)
    touch(portal_id)
    return "deleted"


def poll_chart(*, portal: Portal, client: PortalClient, now: datetime) -> dict[str, int]:
    """Read the chart for every active user and reconcile (no commit)."""
    tz = portal_zone()
    first_day = (to_local(now, tz) - WINDOW_BEFORE).date()
    last_day = (to_local(now, tz) + WINDOW_AFTER).date()
    users = list(db.session.scalars(select(PortalUser.portal_user_id).where(
        PortalUser.portal_id == portal.id, PortalUser.active.is_(True))
        .order_by(PortalUser.portal_user_id)))
    commands = {
        f"u{i}": ("calendar.accessibility.get",
                  {"users": users[i:i + USERS_PER_CALL], "from": first_day.isoformat(),
                   "to": last_day.isoformat()})
        for i in range(0, len(users), USERS_PER_CALL)}
    answers = client.batch(commands) if commands else {}
    seen: dict[int, ChartEntry] = {}
    for answer in answers.values():
        for user_key, rows in (answer.items() if isinstance(answer, dict) else ()):
            user_id = _int(user_key)
            if user_id is None or not isinstance(rows, list):
                continue
            for row in rows:
                entry = entry_from_accessibility(user_id, row)
                if entry is not None:
                    seen[entry.entry_id] = entry
    counts = {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    for entry in seen.values():
        counts[import_entry(portal_id=portal.id, entry=entry, now=now)] += 1
    window_start = datetime.combine(first_day, datetime.min.time(), tz).astimezone(UTC)
    window_end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(),
                                  tz).astimezone(UTC)
    gone = db.session.scalars(select(Absence).where(
        Absence.portal_id == portal.id, Absence.chart_entry_id.is_not(None),
        Absence.user_id.in_(users or [0]),
        Absence.end > window_start.replace(tzinfo=None),
        Absence.start < window_end.replace(tzinfo=None)))
    for absence in list(gone):
        if absence.chart_entry_id not in seen:
            access.withdraw(client, absence)
            settle_handovers(absence, now=now, gone=True)
            db.session.delete(absence)
            touch(portal.id)
            counts["deleted"] += 1
    stamp = _stamp(portal.id)
    stamp.chart_polled_at, stamp.chart_poll_error = now, None
    return counts


def _stamp(portal_id: int) -> AbsenceStamp:
    stamp = db.session.get(AbsenceStamp, portal_id)
    if stamp is None:
        stamp = AbsenceStamp(portal_id=portal_id, version=0)
        db.session.add(stamp)
    return stamp


def poll_due(*, portal_id: int, now: datetime, every_seconds: float) -> bool:
    stamp = db.session.get(AbsenceStamp, portal_id)
    last = stamp.chart_polled_at if stamp is not None else None
    return last is None or not (last <= now < last + timedelta(seconds=every_seconds))


def ask_for_poll(portal_id: int) -> None:
    """Make the next tick read the chart (no commit)."""
    stamp = db.session.get(AbsenceStamp, portal_id)
    if stamp is not None:
        stamp.chart_polled_at = None


def record_poll_error(portal_id: int, now: datetime, error: str) -> None:
    """Remember a failed read (no commit); the next try waits a whole poll interval."""
    stamp = _stamp(portal_id)
    stamp.chart_polled_at, stamp.chart_poll_error = now, error[:500]
