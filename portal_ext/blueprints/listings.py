"""Read-only listings shared by the pages and the JSON API: who a viewer may see, the inbox,
the dashboard's numbers. Nothing here writes.

Who sees which users (the data-level rule, OWASP ASVS 5.0 8.2.2):
- an administrator sees everyone on the portal;
- a department head sees the people of the departments they head and of their sub-departments
  (the portal's structure is a tree: a head of Sales also oversees Sales / Moscow);
- an employee sees no list (the pages and API refuse them before getting here).

Department membership is a JSON list on each user (the portal's ``UF_DEPARTMENT``), so the
user filters run in Python over the portal's users; a portal has thousands of people at most.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select

from portal_ext.directory.models import Department, PortalUser
from portal_ext.events.models import InboxEvent
from portal_ext.extensions import db
from portal_ext.portal.models import Portal

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


# -- people -----------------------------------------------------------------------------------
def departments_of(portal: Portal) -> list[Department]:
    return list(db.session.scalars(select(Department).where(Department.portal_id == portal.id)
                                   .order_by(Department.name, Department.id)))


def head_ids(departments: Iterable[Department]) -> set[int]:
    return {d.head_portal_user_id for d in departments if d.head_portal_user_id is not None}


def role_of(user: PortalUser, heads: set[int]) -> str:
    """The same answer as ``PortalUser.role``, without one query per user."""
    if user.is_admin:
        return "admin"
    return "head" if user.portal_user_id in heads else "employee"


def headed_subtree(viewer: PortalUser, departments: list[Department]) -> set[int]:
    """Portal ids of the departments ``viewer`` heads, with all their sub-departments."""
    children: dict[int | None, list[int]] = {}
    for dept in departments:
        children.setdefault(dept.parent_portal_id, []).append(dept.portal_department_id)
    found: set[int] = set()
    queue = [d.portal_department_id for d in departments
             if d.head_portal_user_id == viewer.portal_user_id]
    while queue:
        current = queue.pop()
        if current not in found:
            found.add(current)
            queue.extend(children.get(current, []))
    return found


def visible_users(*, portal: Portal, viewer: PortalUser, active: bool | None = None,
                  department: int | None = None, role: str | None = None, page: int = 1,
                  per_page: int = 50) -> Page[PortalUser]:
    """The users ``viewer`` may see, filtered and paged; ``extra`` holds ``roles`` (user id ->
    role) and ``departments`` (portal department id -> name) for display."""
    departments = departments_of(portal)
    heads = head_ids(departments)
    users = list(db.session.scalars(
        select(PortalUser).where(PortalUser.portal_id == portal.id)
        .order_by(PortalUser.last_name, PortalUser.name, PortalUser.id)))
    viewer_role = role_of(viewer, heads)
    if viewer_role != "admin":
        scope = headed_subtree(viewer, departments) if viewer_role == "head" else set()
        users = [u for u in users
                 if u.id == viewer.id or scope.intersection(u.department_ids or [])]
    if active is not None:
        users = [u for u in users if bool(u.active) is active]
    if department is not None:
        users = [u for u in users if department in (u.department_ids or [])]
    roles = {u.id: role_of(u, heads) for u in users}
    if role is not None:
        users = [u for u in users if roles[u.id] == role]
    start = (page - 1) * per_page
    return Page(users[start:start + per_page], page, per_page, len(users),
                extra={"roles": roles,
                       "departments": {d.portal_department_id: d.name for d in departments}})


def user_json(user: PortalUser, role: str) -> dict[str, Any]:
    return {"id": user.portal_user_id, "email": user.email, "name": user.name,
            "last_name": user.last_name, "full_name": user.full_name,
            "work_position": user.work_position, "active": bool(user.active),
            "role": role, "department_ids": list(user.department_ids or []),
            "synced_at": iso(user.synced_at)}


# -- the inbox --------------------------------------------------------------------------------
def inbox_events(*, portal: Portal, state: str | None = None, event: str | None = None,
                 since: datetime | None = None, page: int = 1,
                 per_page: int = 50) -> Page[InboxEvent]:
    query = select(InboxEvent).where(InboxEvent.portal_id == portal.id)
    if state:
        query = query.where(InboxEvent.state == state)
    if event:
        query = query.where(InboxEvent.event_name == event.upper())
    if since is not None:
        query = query.where(InboxEvent.received_at >= since)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(db.session.scalars(query.order_by(InboxEvent.received_at.desc(),
                                                   InboxEvent.id.desc())
                                    .offset((page - 1) * per_page).limit(per_page)))
    return Page(items, page, per_page, total)


def event_names(portal: Portal) -> list[str]:
    return list(db.session.scalars(select(InboxEvent.event_name)
                                   .where(InboxEvent.portal_id == portal.id)
                                   .distinct().order_by(InboxEvent.event_name)))


def event_json(event: InboxEvent) -> dict[str, Any]:
    return {"id": event.id, "event": event.event_name, "source": event.source,
            "entity_type": event.entity_type, "entity_id": event.entity_id,
            "state": event.state, "attempts": event.attempts,
            "received_at": iso(event.received_at), "processed_at": iso(event.processed_at),
            "error": event.error, "payload": event.payload}


# -- the dashboard ----------------------------------------------------------------------------
@dataclass
class Overview:
    active_users: int
    dismissed_users: int
    departments: int
    last_sync: datetime | None


def overview(portal: Portal) -> Overview:
    by_state: dict[bool, int] = {bool(active): count for active, count in db.session.execute(
        select(PortalUser.active, func.count()).where(PortalUser.portal_id == portal.id)
        .group_by(PortalUser.active))}
    departments = db.session.scalar(select(func.count(Department.id))
                                    .where(Department.portal_id == portal.id)) or 0
    last_sync = db.session.scalar(select(func.max(PortalUser.synced_at))
                                  .where(PortalUser.portal_id == portal.id))
    return Overview(active_users=by_state.get(True, 0), dismissed_users=by_state.get(False, 0),
                    departments=departments, last_sync=last_sync)


def inbox_counts(portal: Portal) -> dict[str, int]:
    rows = db.session.execute(select(InboxEvent.state, func.count())
                              .where(InboxEvent.portal_id == portal.id)
                              .group_by(InboxEvent.state))
    return {state: count for state, count in rows}


def latest_events(portal: Portal, limit: int = 10) -> list[InboxEvent]:
    return inbox_events(portal=portal, per_page=limit).items


def iso(value: datetime | None) -> str | None:
    """Stored times are naive UTC; the API says so explicitly."""
    return None if value is None else value.isoformat(timespec="seconds") + "Z"
