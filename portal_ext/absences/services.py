"""Absences and standing deputies: recording them, and asking who covers for whom.

Every writer here checks the actor (portal_ext.absences.editors), validates
(portal_ext.absences.validation), writes, bumps the portal's absence stamp (so every process's
cached roster is rebuilt) and commits. ``now`` is the portal's time (portal_ext.portal.clock).

For notification fan-out: :func:`cover_for` and :func:`active_absence` answer from the cached
roster, so asking about someone who is not away costs no query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal_ext.absences.editors import check_may_edit
from portal_ext.absences.errors import AbsenceError
from portal_ext.absences.models import (
    MANUAL,
    STATES,
    Absence,
    AbsenceStamp,
    StandingDeputy,
    state_at,
)
from portal_ext.absences.roster import build_roster, changed_in
from portal_ext.absences.rules import Cover, resolve_cover
from portal_ext.absences.validation import Proposal, person, validate
from portal_ext.directory.models import Department, PortalUser
from portal_ext.errors import NOT_FOUND
from portal_ext.extensions import db
from portal_ext.portal.models import Portal

__all__ = ["absence_of", "active_absence", "cover_for", "create_absence", "delete_absence",
           "update_absence"]
EDITABLE = ("user_id", "start", "end", "kind", "deputy_id", "note", "temporary_access")


def absence_of(*, portal_id: int, absence_id: int) -> Absence | None:
    """The portal's absence ``absence_id``; None if there is none (or it is another portal's)."""
    found = db.session.get(Absence, absence_id)
    return found if found is not None and found.portal_id == portal_id else None


# -- who covers -------------------------------------------------------------------------------
def cover_for(*, portal_id: int, user_id: int, at: datetime) -> Cover | None:
    """Who covers for the portal user ``user_id`` at ``at`` (naive UTC); None when they are
    not away then. The answer may be ``Cover(None, ..., "nobody")``."""
    roster = build_roster(portal_id=portal_id, at=at)
    if roster.absence_at(user_id, at) is None:
        return None
    return resolve_cover(roster, user_id, at)


def active_absence(*, portal_id: int, user_id: int, at: datetime) -> Absence | None:
    """The absence of ``user_id`` covering ``at``, if any."""
    if build_roster(portal_id=portal_id, at=at).absence_at(user_id, at) is None:
        return None
    found: Absence | None = db.session.scalars(select(Absence).where(
        Absence.portal_id == portal_id, Absence.user_id == user_id, Absence.start <= at,
        Absence.end > at).order_by(Absence.start, Absence.id).limit(1)).first()
    return found


def fallback_deputy(*, portal_id: int, user_id: int) -> int | None:
    """Who an absence naming nobody falls to: the standing deputy, else the nearest head of
    the user's departments (up the tree) who is not the user."""
    standing = db.session.scalar(select(StandingDeputy.deputy_id).where(
        StandingDeputy.portal_id == portal_id, StandingDeputy.user_id == user_id))
    if standing is not None:
        return int(standing)
    user = person(portal_id, user_id)
    if user is None:
        return None
    departments = {d.portal_department_id: d for d in db.session.scalars(
        select(Department).where(Department.portal_id == portal_id))}
    for department_id in user.department_ids or []:
        seen: set[int] = set()
        current = departments.get(department_id)
        while current is not None and current.portal_department_id not in seen:
            seen.add(current.portal_department_id)
            head = current.head_portal_user_id
            if head is not None and head != user_id:
                return head
            current = departments.get(current.parent_portal_id or 0)
    return None


# -- the stamp ----------------------------------------------------------------------------------
def touch(portal_id: int) -> None:
    """Record that the portal's absences or deputies changed (in the caller's transaction)."""
    table = AbsenceStamp.__table__
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Insert-or-ignore, then increment: safe when two processes create the row at once.
    db.session.execute(insert(table).values(portal_id=portal_id, version=0)
                       .on_conflict_do_nothing(index_elements=["portal_id"]))
    db.session.execute(update(AbsenceStamp).where(AbsenceStamp.portal_id == portal_id)
                       .values(version=AbsenceStamp.version + 1)
                       .execution_options(synchronize_session=False))
    changed_in(db.session(), portal_id)


# -- absences -----------------------------------------------------------------------------------
@dataclass
class AbsenceInput:
    user_id: int
    start: datetime
    end: datetime
    kind: str
    deputy_id: int | None = None
    note: str = ""
    temporary_access: bool = False


def _id(actor: PortalUser | None) -> int | None:
    return actor.portal_user_id if actor is not None else None


def create_absence(*, portal: Portal, actor: PortalUser | None, data: AbsenceInput, now: datetime,
                   tz: tzinfo) -> Absence:
    check_may_edit(actor, data.user_id)
    proposal = Proposal(data.user_id, data.start, data.end, data.kind, data.deputy_id,
                        (data.note or "").strip())
    validate(proposal, portal_id=portal.id, now=now, tz=tz)
    absence = Absence(
        portal_id=portal.id, user_id=data.user_id, start=data.start, end=data.end,
        kind=data.kind, deputy_id=data.deputy_id, note=proposal.note,
        recorded_by_id=_id(actor), recorded_at=now, updated_at=now,
        state=state_at(data.start, data.end, now), source=MANUAL,
        temporary_access=bool(data.temporary_access))
    db.session.add(absence)
    touch(portal.id)
    db.session.commit()
    return absence


def update_absence(*, portal: Portal, actor: PortalUser | None, absence: Absence,
                   changes: Mapping[str, Any], now: datetime, tz: tzinfo) -> Absence:
    """Change some fields (names from ``EDITABLE``). Moving an absence to another user needs
    the right to edit both."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise AbsenceError(sorted(unknown)[0], "not a field of an absence")
    check_may_edit(actor, absence.user_id)
    values = {name: getattr(absence, name) for name in EDITABLE}
    values.update(changes)
    if values["user_id"] != absence.user_id:
        check_may_edit(actor, values["user_id"])
    proposal = Proposal(values["user_id"], values["start"], values["end"], values["kind"],
                        values["deputy_id"], (values["note"] or "").strip())
    validate(proposal, portal_id=portal.id, now=now, tz=tz, replacing=absence.id)
    values["note"] = proposal.note
    values["temporary_access"] = bool(values["temporary_access"])
    user_changed = values["user_id"] != absence.user_id
    for name, value in values.items():
        setattr(absence, name, value)
    absence.updated_at = now
    absence.state = state_at(absence.start, absence.end, now)
    touch(portal.id)
    from portal_ext.handover.settle import settle_changed, start_restores

    restoring = settle_changed(absence, now=now, user_changed=user_changed)
    db.session.commit()
    start_restores(restoring)
    return absence


def delete_absence(*, portal: Portal, actor: PortalUser | None, absence: Absence,
                   withdraw: Any = None, now: datetime | None = None) -> None:
    """Delete; ``withdraw(absence)`` first takes back temporary access if it was granted
    (a failure there keeps the absence, so the access is not left behind). Its handover
    settles (portal_ext.handover.settle): a preview is discarded, items with the deputy start
    going back."""
    from portal_ext.handover.settle import settle_handovers, start_restores

    check_may_edit(actor, absence.user_id)
    if absence.access_granted_at is not None and withdraw is not None:
        withdraw(absence)
    restoring = settle_handovers(absence, now=now or absence.updated_at, gone=True)
    db.session.delete(absence)
    touch(portal.id)
    db.session.commit()
    start_restores(restoring)


def find_absences(*, portal_id: int, user_ids: list[int] | None = None,
                  state: str | None = None, period: tuple[datetime, datetime] | None = None,
                  deputy_id: int | None = None) -> Any:
    """A query over absences (newest first) for listings."""
    query = select(Absence).where(Absence.portal_id == portal_id)
    if user_ids is not None:
        query = query.where(Absence.user_id.in_(user_ids))
    if state is not None:
        if state not in STATES:
            raise AbsenceError("state", f"state must be one of {', '.join(STATES)}")
        query = query.where(Absence.state == state)
    if period is not None:
        query = query.where(Absence.start < period[1], Absence.end > period[0])
    if deputy_id is not None:
        query = query.where(Absence.deputy_id == deputy_id)
    return query.order_by(Absence.start.desc(), Absence.id.desc())


def covered_by(*, portal_id: int, deputy_id: int, at: datetime) -> list[Absence]:
    """Absences active at ``at`` whose cover (rules) is ``deputy_id``: the deputy's worklist."""
    roster = build_roster(portal_id=portal_id, at=at)
    current = list(db.session.scalars(select(Absence).where(
        Absence.portal_id == portal_id, Absence.start <= at, Absence.end > at)
        .order_by(Absence.end, Absence.id)))
    return [a for a in current if resolve_cover(roster, a.user_id, at).user_id == deputy_id]


# -- standing deputies --------------------------------------------------------------------------
def set_standing_deputy(*, portal: Portal, actor: PortalUser | None, user_id: int,
                        deputy_id: int | None, now: datetime) -> StandingDeputy | None:
    """Set (or with ``deputy_id=None`` clear) the standing deputy of ``user_id``."""
    check_may_edit(actor, user_id)
    user = person(portal.id, user_id)
    if user is None:
        raise AbsenceError(None, _l("There is no user %(id)s on the portal.", id=user_id),
                           NOT_FOUND)
    row = db.session.scalars(select(StandingDeputy).where(
        StandingDeputy.portal_id == portal.id, StandingDeputy.user_id == user_id)).first()
    if deputy_id is None:
        if row is not None:
            db.session.delete(row)
            touch(portal.id)
            db.session.commit()
        return None
    _check_standing(portal.id, user_id, deputy_id)
    if row is None:
        row = StandingDeputy(portal_id=portal.id, user_id=user_id, deputy_id=deputy_id,
                             set_by_id=_id(actor), set_at=now)
        db.session.add(row)
    else:
        row.deputy_id, row.set_by_id, row.set_at = deputy_id, _id(actor), now
    touch(portal.id)
    db.session.commit()
    return row


def _check_standing(portal_id: int, user_id: int, deputy_id: int) -> None:
    if deputy_id == user_id:
        raise AbsenceError("deputy_id", _l("A person cannot be their own deputy."))
    deputy = person(portal_id, deputy_id)
    if deputy is None:
        raise AbsenceError("deputy_id", _l("There is no such user on the portal."))
    if not deputy.active:
        raise AbsenceError("deputy_id", _l("%(name)s is dismissed and cannot be a deputy.",
                                           name=deputy.full_name))


def standing_deputies(portal_id: int) -> dict[int, StandingDeputy]:
    return {row.user_id: row for row in db.session.scalars(
        select(StandingDeputy).where(StandingDeputy.portal_id == portal_id))}


# -- for the home page ----------------------------------------------------------------------------
@dataclass
class Outlook:
    """A person's own absences as their home page shows them."""

    current: Absence | None  # away now
    upcoming: Absence | None  # the next one ahead
    deputy_id: int | None  # who covers now; else who would cover the next absence


def outlook(*, portal_id: int, user_id: int, now: datetime) -> Outlook:
    """Where ``user_id`` stands at ``now``: their current and next absence, and their
    deputy (the one covering now, else the one the next absence names, else the standing
    deputy or the head it would fall to)."""
    current = active_absence(portal_id=portal_id, user_id=user_id, at=now)
    upcoming = db.session.scalars(select(Absence).where(
        Absence.portal_id == portal_id, Absence.user_id == user_id, Absence.start > now)
        .order_by(Absence.start, Absence.id).limit(1)).first()
    deputy_id: int | None
    if current is not None:
        cover = cover_for(portal_id=portal_id, user_id=user_id, at=now)
        deputy_id = cover.user_id if cover is not None else None
    elif upcoming is not None and upcoming.deputy_id is not None:
        deputy_id = upcoming.deputy_id
    else:
        deputy_id = fallback_deputy(portal_id=portal_id, user_id=user_id)
    return Outlook(current, upcoming, deputy_id)


def covering_ahead(*, portal_id: int, deputy_id: int, now: datetime, limit: int = 10
                   ) -> list[Absence]:
    """Absences ahead naming ``deputy_id`` as deputy, soonest first."""
    return list(db.session.scalars(select(Absence).where(
        Absence.portal_id == portal_id, Absence.deputy_id == deputy_id, Absence.start > now)
        .order_by(Absence.start, Absence.id).limit(limit)))


def away_between(*, portal_id: int, user_ids: list[int], start: datetime, end: datetime
                 ) -> list[Absence]:
    """Absences of ``user_ids`` overlapping [start, end), soonest first."""
    if not user_ids:
        return []
    return list(db.session.scalars(select(Absence).where(
        Absence.portal_id == portal_id, Absence.user_id.in_(user_ids), Absence.start < end,
        Absence.end > start).order_by(Absence.start, Absence.user_id, Absence.id)))
