"""What the fan-out reads for every notification, kept in memory: the teams by member and the
people's short names.

Both are read again when they may have changed, checked at most every ``CHECK_SECONDS``
(0.05 s) with one small query: teams by their count and newest ``updated_at`` (every change to
a team or its members touches it), names by the directory's newest ``synced_at``. A change made
in this process drops the cache at once (:func:`invalidate_teams`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.notifications.copies import short_name
from portal_ext.notifications.models import Team, TeamMember
from portal_ext.notifications.rules import TeamView

CHECK_SECONDS = 0.05


@dataclass
class _Cached:
    value: Any
    stamp: Any
    checked_at: float


@dataclass
class TeamIndex:
    """Teams that share at least one kind, by member."""

    by_member: dict[int, list[TeamView]] = field(default_factory=dict)

    def teams_of(self, user_id: int) -> list[TeamView]:
        return self.by_member.get(user_id, [])


_lock = threading.Lock()
_cache: dict[tuple[str, str, int], _Cached] = {}


def _cached(name: str, portal_id: int, stamp_of: Callable[[], Any],
            load: Callable[[], Any]) -> Any:
    key = (name, str(db.engine.url), portal_id)
    with _lock:
        entry = _cache.get(key)
    now = time.monotonic()
    if entry is not None and now - entry.checked_at < CHECK_SECONDS:
        return entry.value
    stamp = stamp_of()
    if entry is not None and entry.stamp == stamp:
        entry.checked_at = now
        return entry.value
    value = load()
    with _lock:
        _cache[key] = _Cached(value, stamp, now)
    return value


def invalidate_teams(portal_id: int | None = None) -> None:
    with _lock:
        for key in list(_cache):
            if key[0] == "teams" and (portal_id is None or key[2] == portal_id):
                del _cache[key]


def team_index(portal_id: int) -> TeamIndex:
    def stamp() -> Any:
        return tuple(db.session.execute(
            select(func.count(Team.id), func.max(Team.updated_at))
            .where(Team.portal_id == portal_id)).one())

    return _cached("teams", portal_id, stamp, lambda: load_team_index(portal_id))


def load_team_index(portal_id: int) -> TeamIndex:
    teams = db.session.execute(select(Team.id, Team.name, Team.kinds)
                               .where(Team.portal_id == portal_id)).all()
    members: dict[int, set[int]] = {}
    for team_id, user_id in db.session.execute(
            select(TeamMember.team_id, TeamMember.portal_user_id)
            .where(TeamMember.portal_id == portal_id)).all():
        members.setdefault(team_id, set()).add(user_id)
    index = TeamIndex()
    for team_id, name, kinds in teams:
        if not kinds or not members.get(team_id):
            continue
        view = TeamView(team_id, name, frozenset(kinds), frozenset(members[team_id]))
        for user_id in view.members:
            index.by_member.setdefault(user_id, []).append(view)
    return index


def short_names(portal_id: int) -> dict[int, str]:
    """Portal user id -> ``A. Ivanova``."""
    def stamp() -> Any:
        return db.session.scalar(select(func.max(PortalUser.synced_at))
                                 .where(PortalUser.portal_id == portal_id))

    def load() -> dict[int, str]:
        rows = db.session.execute(
            select(PortalUser.portal_user_id, PortalUser.name, PortalUser.last_name,
                   PortalUser.email).where(PortalUser.portal_id == portal_id)).all()
        return {uid: short_name(name or "", last or "", email or f"#{uid}")
                for uid, name, last, email in rows}

    names: dict[int, str] = _cached("names", portal_id, stamp, load)
    return names
