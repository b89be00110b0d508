"""Checks an absence must pass before it is saved; each failure names the field to blame.

- the absent user is a known, active person of the portal;
- the kind is one of vacation, sick leave, business trip, other;
- it ends after it starts, lasts at most a year, starts at most a year ago and ends at most
  two years ahead (anything else is a typo: 2206 for 2026);
- it does not overlap another absence of the same user;
- the deputy is someone else, known and not dismissed, and if they are away for the whole
  period, their own deputies carry it on (the chain reaches someone present); otherwise the
  deputy would receive nothing and the absent user's mail would go to their head.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal_ext.absences.errors import AbsenceError
from portal_ext.absences.models import KINDS, Absence
from portal_ext.absences.roster import load_roster
from portal_ext.absences.rules import Away, resolve_cover
from portal_ext.absences.times import inclusive_last_day, to_local
from portal_ext.directory.models import PortalUser
from portal_ext.errors import FieldChecks
from portal_ext.extensions import db

MAX_PAST = timedelta(days=366)
MAX_AHEAD = timedelta(days=2 * 366)
MAX_LENGTH = timedelta(days=366)
NOTE_MAX_LENGTH = 2000


@dataclass
class Proposal:
    """What is about to be saved (portal user ids, naive UTC)."""

    user_id: int
    start: datetime
    end: datetime
    kind: str
    deputy_id: int | None
    note: str


def person(portal_id: int, user_id: int | None) -> PortalUser | None:
    if user_id is None:
        return None
    found: PortalUser | None = db.session.scalars(select(PortalUser).where(
        PortalUser.portal_id == portal_id, PortalUser.portal_user_id == user_id)).first()
    return found


def validate(proposal: Proposal, *, portal_id: int, now: datetime, tz: tzinfo,
             replacing: int | None = None) -> None:
    """Raise AbsenceError for a problem, or a Refusals group (portal_ext.errors) when several
    fields are bad at once; ``replacing`` is the id being edited."""
    checks = FieldChecks()
    user = person(portal_id, proposal.user_id)
    if user is None:
        checks.add(AbsenceError("user_id", _l("There is no such user on the portal.")))
    elif not user.active:
        checks.add(AbsenceError("user_id", _l("%(name)s is dismissed.", name=user.full_name)))
    if proposal.kind not in KINDS:
        checks.add(AbsenceError("kind", _l("Choose one of: vacation, sick leave, business "
                                           "trip, other.")))
    with checks:
        _check_period(proposal, now)
    if len(proposal.note or "") > NOTE_MAX_LENGTH:
        checks.add(AbsenceError("note", _l("The note has at most %(count)d characters.",
                                           count=NOTE_MAX_LENGTH)))
    if user is not None and not checks.failed:
        clash = db.session.scalars(select(Absence).where(
            Absence.portal_id == portal_id, Absence.user_id == proposal.user_id,
            Absence.start < proposal.end, Absence.end > proposal.start,
            Absence.id != (replacing or 0)).order_by(Absence.start)).first()
        if clash is not None:
            checks.add(AbsenceError("start", _l(
                "%(name)s is already away from %(first)s to %(last)s; change that absence "
                "instead.", name=user.full_name,
                first=to_local(clash.start, tz).strftime("%d.%m.%Y"),
                last=inclusive_last_day(clash.end, tz).strftime("%d.%m.%Y"))))
    if proposal.deputy_id is not None:
        with checks:
            if checks.failed:  # the chain check needs a sound period: only the plain checks
                _check_deputy_person(proposal, portal_id=portal_id)
            else:
                _check_deputy(proposal, portal_id=portal_id)
    checks.done()


def _check_period(proposal: Proposal, now: datetime) -> None:
    if proposal.end <= proposal.start:
        raise AbsenceError("end", _l("The absence must end after it starts."))
    if proposal.start < now - MAX_PAST:
        raise AbsenceError("start", _l("The start is more than a year ago."))
    if proposal.end > now + MAX_AHEAD:
        raise AbsenceError("end", _l("The end is more than two years ahead."))
    if proposal.end - proposal.start > MAX_LENGTH:
        raise AbsenceError("end", _l("An absence lasts at most a year."))


def _check_deputy(proposal: Proposal, *, portal_id: int) -> None:
    deputy = _check_deputy_person(proposal, portal_id=portal_id)
    if not _away_throughout(portal_id, deputy.portal_user_id, proposal.start, proposal.end):
        return
    # The deputy is away all along: accepted only if their own deputies pass it on.
    roster = load_roster(portal_id=portal_id, window=(proposal.start, proposal.end))
    # The proposal goes first: it wins over the absence it replaces (no other one overlaps).
    roster.absences = {**roster.absences, proposal.user_id: [
        Away(proposal.start, proposal.end, proposal.deputy_id),
        *roster.absences.get(proposal.user_id, [])]}
    cover = resolve_cover(roster, proposal.user_id, proposal.start)
    if cover.reason not in ("deputy", "chain"):
        raise AbsenceError("deputy_id", _l(
            "%(name)s is away for the whole period and has no deputy to pass it on to.",
            name=deputy.full_name))


def _check_deputy_person(proposal: Proposal, *, portal_id: int) -> PortalUser:
    if proposal.deputy_id == proposal.user_id:
        raise AbsenceError("deputy_id", _l("A person cannot be their own deputy."))
    deputy = person(portal_id, proposal.deputy_id)
    if deputy is None:
        raise AbsenceError("deputy_id", _l("There is no such user on the portal."))
    if not deputy.active:
        raise AbsenceError("deputy_id", _l("%(name)s is dismissed and cannot be a deputy.",
                                           name=deputy.full_name))
    return deputy


def _away_throughout(portal_id: int, user_id: int, start: datetime, end: datetime) -> bool:
    """Whether ``user_id``'s absences together cover all of [start, end)."""
    periods = db.session.execute(select(Absence.start, Absence.end).where(
        Absence.portal_id == portal_id, Absence.user_id == user_id, Absence.start < end,
        Absence.end > start).order_by(Absence.start)).all()
    reached = start
    for begins, ends in periods:
        if begins > reached:
            return False
        reached = max(reached, ends)
        if reached >= end:
            return True
    return False
