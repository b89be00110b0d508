"""The deputy rules' snapshot (rules.Roster) built from the database, and cached.

Notification fan-out asks "who covers for X now?" for every notification, thousands a second,
so the roster is built with five queries (people, departments, absences near the moment,
standing deputies, the stamp) and kept per portal. A cached roster is used again while:

- the portal's ``absence_stamp.version`` is unchanged: every change to absences or standing
  deputies bumps it in the same transaction, so another process's change is seen at once;
- the directory is unchanged (the newest ``portal_user.synced_at``): a dismissal or a new head
  changes who may cover;
- the moment asked about lies inside the window the roster was built for (absences ending
  after ``at - WINDOW`` and starting before ``at + WINDOW``: every absence covering a moment in
  that window is in it).

Checking the first two costs one small query, made at most every ``STAMP_CHECK_SECONDS``
(0.05 s): within a batch of notifications the check is free, and a change is never missed for
longer than that. A change made in this process drops the cache when it commits: absences,
standing deputies, people and departments flushed by any session mark their portal, and the
commit invalidates it (so a dismissal synced from an event is seen by the very next question).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from portal_ext.absences.models import Absence, AbsenceStamp, StandingDeputy
from portal_ext.absences.rules import Away, Roster
from portal_ext.directory.models import Department, PortalUser
from portal_ext.extensions import db

WINDOW = timedelta(days=1)
_CHANGED = "portal_ext.absences.roster.changed"  # Session.info key: portal ids touched
STAMP_CHECK_SECONDS = 0.05


@dataclass
class _Entry:
    roster: Roster
    stamp: tuple[int, datetime | None]
    window: tuple[datetime, datetime]
    checked_at: float


_lock = threading.Lock()
_cache: dict[tuple[str, int], _Entry] = {}


def _engine_key(portal_id: int) -> tuple[str, int]:
    # Several apps (tests) may share the process: key by database as well as by portal.
    return (str(db.engine.url), portal_id)


def current_stamp(portal_id: int) -> tuple[int, datetime | None]:
    """(absence version, newest directory sync) of the portal, in one query."""
    version = select(AbsenceStamp.version).where(AbsenceStamp.portal_id == portal_id)
    synced = select(func.max(PortalUser.synced_at)).where(PortalUser.portal_id == portal_id)
    row = db.session.execute(select(version.scalar_subquery(), synced.scalar_subquery())).one()
    return (int(row[0] or 0), row[1])


def build_roster(*, portal_id: int, at: datetime) -> Roster:
    """The roster for moments near ``at`` (naive UTC); cached, see the module's docstring."""
    key = _engine_key(portal_id)
    with _lock:
        entry = _cache.get(key)
    if entry is not None and entry.window[0] <= at < entry.window[1]:
        if time.monotonic() - entry.checked_at < STAMP_CHECK_SECONDS:
            return entry.roster
        stamp = current_stamp(portal_id)
        if stamp == entry.stamp:
            entry.checked_at = time.monotonic()
            return entry.roster
    stamp = current_stamp(portal_id)
    window = (at - WINDOW, at + WINDOW)
    roster = load_roster(portal_id=portal_id, window=window)
    with _lock:
        _cache[key] = _Entry(roster, stamp, window, time.monotonic())
    return roster


def invalidate(portal_id: int | None = None) -> None:
    """Forget cached rosters (all, or one portal's in every database)."""
    with _lock:
        for key in list(_cache):
            if portal_id is None or key[1] == portal_id:
                del _cache[key]


def load_roster(*, portal_id: int, window: tuple[datetime, datetime]) -> Roster:
    """Read everything the rules need, uncached."""
    people = db.session.execute(
        select(PortalUser.portal_user_id, PortalUser.active, PortalUser.is_admin,
               PortalUser.department_ids).where(PortalUser.portal_id == portal_id)
        .order_by(PortalUser.portal_user_id)).all()
    departments = db.session.execute(
        select(Department.portal_department_id, Department.head_portal_user_id,
               Department.parent_portal_id).where(Department.portal_id == portal_id)).all()
    absences = db.session.execute(
        select(Absence.user_id, Absence.start, Absence.end, Absence.deputy_id)
        .where(Absence.portal_id == portal_id, Absence.end > window[0],
               Absence.start < window[1])
        .order_by(Absence.user_id, Absence.start, Absence.id)).all()
    standing = db.session.execute(
        select(StandingDeputy.user_id, StandingDeputy.deputy_id)
        .where(StandingDeputy.portal_id == portal_id)).all()
    away: dict[int, list[Away]] = {}
    for user_id, start, end, deputy_id in absences:
        away.setdefault(user_id, []).append(Away(start, end, deputy_id))
    return Roster(
        active={p.portal_user_id for p in people if p.active},
        absences=away,
        standing_deputies={user_id: deputy_id for user_id, deputy_id in standing},
        departments_of={p.portal_user_id: list(p.department_ids or []) for p in people},
        department_head={d.portal_department_id: d.head_portal_user_id for d in departments},
        department_parent={d.portal_department_id: d.parent_portal_id for d in departments},
        admins=[p.portal_user_id for p in people if p.is_admin and p.active],
    )


# -- invalidation on commit ---------------------------------------------------------------------
_WATCHED = (Absence, StandingDeputy, PortalUser, Department)


def changed_in(session: Session, portal_id: int) -> None:
    """Drop ``portal_id``'s cached roster when ``session`` commits."""
    session.info.setdefault(_CHANGED, set()).add(portal_id)


@event.listens_for(Session, "before_flush")
def _note_roster_changes(session: Session, _context: Any, _instances: Any) -> None:
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, _WATCHED) and instance.portal_id is not None:
            changed_in(session, instance.portal_id)


@event.listens_for(Session, "after_commit")
def _drop_cached_rosters(session: Session) -> None:
    for portal_id in session.info.pop(_CHANGED, ()):
        invalidate(portal_id)


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGED, None)
