"""Read-only listings the pages and the JSON API share: the JSON shape of a user, the inbox,
the dashboard's numbers. Nothing here writes. Who a viewer may see is the directory's rule
(portal_ext.directory.access), not the web layer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from portal_ext.directory.models import Department, PortalUser
from portal_ext.events.models import InboxEvent
from portal_ext.extensions import db
from portal_ext.paging import Page, iso
from portal_ext.portal.models import Portal


# -- people -----------------------------------------------------------------------------------
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
