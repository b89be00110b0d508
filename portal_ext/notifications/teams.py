"""Teams: named sets of the portal's users sharing some kinds of notification.

Rules checked here (the pages and the API show the messages, naming the field):
- ``name``: 1 to 120 characters, unique on the portal (ignoring case);
- ``kinds``: at least one, each from kinds.TEAM_KINDS;
- ``members``: at least two portal users, each known to the directory and not dismissed.
Every change touches ``updated_at``, which is how cached team indexes notice it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal_ext.directory.models import PortalUser
from portal_ext.errors import FieldChecks
from portal_ext.extensions import db
from portal_ext.notifications import index
from portal_ext.notifications.errors import TeamError
from portal_ext.notifications.kinds import TEAM_KINDS
from portal_ext.notifications.models import Team, TeamMember
from portal_ext.portal.models import Portal

log = logging.getLogger(__name__)

NAME_MAX = 120
MIN_MEMBERS = 2


def list_teams(portal: Portal) -> list[Team]:
    return list(db.session.scalars(select(Team).where(Team.portal_id == portal.id)
                                   .order_by(func.lower(Team.name), Team.id)))


def get_team(portal: Portal, team_id: int) -> Team | None:
    team = db.session.get(Team, team_id)
    return team if team is not None and team.portal_id == portal.id else None


def _clean_name(portal: Portal, name: Any, team_id: int | None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise TeamError("name", _l("Give the team a name."))
    name = " ".join(name.split())
    if len(name) > NAME_MAX:
        raise TeamError("name", _l("The name may have at most %(max)d characters.",
                                    max=NAME_MAX))
    clash = db.session.scalar(select(Team.id).where(
        Team.portal_id == portal.id, func.lower(Team.name) == name.lower(),
        *([Team.id != team_id] if team_id is not None else [])))
    if clash is not None:
        raise TeamError("name", _l("There is already a team named “%(name)s”.", name=name))
    return name


def _clean_kinds(kinds: Any) -> list[str]:
    if not isinstance(kinds, list | tuple) or not all(isinstance(k, str) for k in kinds):
        raise TeamError("kinds", _l("Kinds must be a list of notification kinds."))
    unknown = [k for k in kinds if k not in TEAM_KINDS]
    if unknown:
        raise TeamError("kinds", _l("Unknown kind “%(kind)s”; known: %(known)s.",
                                    kind=unknown[0], known=", ".join(TEAM_KINDS)))
    if not kinds:
        raise TeamError("kinds", _l("Choose at least one kind of notification to share."))
    return [k for k in TEAM_KINDS if k in kinds]


def _clean_members(portal: Portal, members: Any) -> list[int]:
    if not isinstance(members, list | tuple) or not all(
            isinstance(m, int) and not isinstance(m, bool) for m in members):
        raise TeamError("members", _l("Members must be a list of portal user ids."))
    wanted = list(dict.fromkeys(members))
    if len(wanted) < MIN_MEMBERS:
        raise TeamError("members", _l("A team needs at least %(count)d members.",
                                       count=MIN_MEMBERS))
    found = dict(db.session.execute(
        select(PortalUser.portal_user_id, PortalUser.active).where(
            PortalUser.portal_id == portal.id, PortalUser.portal_user_id.in_(wanted))).all())
    for user_id in wanted:
        if user_id not in found:
            raise TeamError("members", _l("There is no portal user %(id)d.", id=user_id))
        if not found[user_id]:
            raise TeamError("members", _l("User %(id)d was dismissed.", id=user_id))
    return wanted


def _set_members(team: Team, member_ids: Iterable[int]) -> None:
    wanted = list(member_ids)
    for member in list(team.members):
        if member.portal_user_id not in wanted:
            team.members.remove(member)
    have = {m.portal_user_id for m in team.members}
    for user_id in wanted:
        if user_id not in have:
            team.members.append(TeamMember(portal_id=team.portal_id, portal_user_id=user_id))


def create_team(*, portal: Portal, actor: PortalUser | None, name: Any, kinds: Any, members: Any,
                now: datetime) -> Team:
    """Add a team (committed). Raises TeamError and changes nothing on bad input."""
    checks = FieldChecks()
    clean_name, clean_kinds, member_ids = "", [], []
    with checks:
        clean_name = _clean_name(portal, name, None)
    with checks:
        clean_kinds = _clean_kinds(kinds)
    with checks:
        member_ids = _clean_members(portal, members)
    checks.done()
    team = Team(portal_id=portal.id, name=clean_name, kinds=clean_kinds, created_at=now,
                updated_at=now)
    db.session.add(team)
    _set_members(team, member_ids)
    db.session.commit()
    index.invalidate_teams(portal.id)
    log.info("team %s created by %s", team.id, _who(actor))
    return team


def update_team(*, portal: Portal, actor: PortalUser | None, team: Team, now: datetime,
                name: Any = None,
                kinds: Any = None, members: Any = None) -> Team:
    """Change what is given (None: unchanged); committed. Raises TeamError."""
    checks = FieldChecks()
    new_name, new_kinds, new_members = team.name, list(team.kinds), None
    with checks:
        new_name = _clean_name(portal, name, team.id) if name is not None else team.name
    with checks:
        new_kinds = _clean_kinds(kinds) if kinds is not None else list(team.kinds)
    with checks:
        new_members = _clean_members(portal, members) if members is not None else None
    checks.done()
    team.name, team.kinds = new_name, new_kinds
    if new_members is not None:
        _set_members(team, new_members)
    team.updated_at = now
    db.session.commit()
    index.invalidate_teams(portal.id)
    log.info("team %s changed by %s", team.id, _who(actor))
    return team


def delete_team(*, portal: Portal, actor: PortalUser | None, team: Team) -> None:
    team_id = team.id
    db.session.delete(team)
    db.session.commit()
    index.invalidate_teams(portal.id)
    log.info("team %s deleted by %s", team_id, _who(actor))


def _who(actor: PortalUser | None) -> str:
    return f"user {actor.portal_user_id}" if actor is not None else "the extension"


def team_json(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "kinds": list(team.kinds or []),
            "members": team.member_ids,
            "created_at": team.created_at.isoformat(timespec="seconds") + "Z",
            "updated_at": team.updated_at.isoformat(timespec="seconds") + "Z"}
