"""The baseline of bench/fanout.py: the fan-out deciding recipients the naive way, asking the
database for every notification (who is away, who their deputy is, whether the deputy is
away too or dismissed, which teams the owner is in and who is in them) instead of reading the
roster snapshot and the team index built once per batch.

Importing this module switches the running process's fan-out to it (a Celery worker imports
it with ``PORTAL_EXT_EXTRA_MODULES=bench.naive_fanout``); only the decision changes, the rest
of the path (inbox, outbox, batch delivery) is the same. It follows deputy chains but not the
department-head fallback: the bench's deputies are present, so the answers are the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from portal_ext.absences.models import Absence, StandingDeputy
from portal_ext.absences.rules import MAX_DEPTH, Cover
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.notifications import services
from portal_ext.notifications.models import Team, TeamMember
from portal_ext.notifications.rules import Absent, Recipient, TeamView, recipients
from portal_ext.notifications.sources import Notice
from portal_ext.portal.registration import current_portal


class _Active:
    """``user_id in active`` as one query per question."""

    def __init__(self, portal_id: int) -> None:
        self.portal_id = portal_id

    def __contains__(self, user_id: object) -> bool:
        return bool(db.session.scalar(select(PortalUser.active).where(
            PortalUser.portal_id == self.portal_id, PortalUser.portal_user_id == user_id)))


def _absence(portal_id: int, user_id: int, at: datetime) -> Any:
    return db.session.execute(select(Absence.end, Absence.deputy_id).where(
        Absence.portal_id == portal_id, Absence.user_id == user_id, Absence.start <= at,
        Absence.end > at)).first()


def _away(portal_id: int, user_id: int, at: datetime) -> Absent | None:
    row = _absence(portal_id, user_id, at)
    if row is None:
        return None
    active = _Active(portal_id)
    path, current = [user_id], user_id
    absence = row
    for _ in range(MAX_DEPTH):
        deputy = absence.deputy_id if absence is not None else None
        if deputy is None:
            deputy = db.session.scalar(select(StandingDeputy.deputy_id).where(
                StandingDeputy.portal_id == portal_id, StandingDeputy.user_id == current))
        if deputy is None or deputy in path or deputy not in active:
            break
        path.append(deputy)
        absence = _absence(portal_id, deputy, at)
        if absence is None:
            reason = "deputy" if len(path) == 2 else "chain"
            return Absent(row.end, Cover(deputy, tuple(path), reason))
        current = deputy
    return Absent(row.end, Cover(None, (user_id,), "nobody"))


def _teams(portal_id: int, owner_id: int) -> list[TeamView]:
    views = []
    for team_id, name, kinds in db.session.execute(
            select(Team.id, Team.name, Team.kinds).join(TeamMember, TeamMember.team_id == Team.id)
            .where(Team.portal_id == portal_id, TeamMember.portal_user_id == owner_id)).all():
        members = db.session.scalars(select(TeamMember.portal_user_id)
                                     .where(TeamMember.team_id == team_id)).all()
        views.append(TeamView(team_id, name, frozenset(kinds or []), frozenset(members)))
    return views


def naive_decide(notice: Notice, roster: Any, teams: Any) -> list[Recipient]:
    portal_id = current_portal().id
    return recipients(owner_id=notice.owner_id, actor_id=notice.actor_id, kind=notice.kind,
                      away=lambda user_id: _away(portal_id, user_id, notice.at),
                      teams=_teams(portal_id, notice.owner_id), active=_Active(portal_id))


def install() -> None:
    services.decide = naive_decide


install()
