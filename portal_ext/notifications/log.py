"""The delivery log: who received which copy and why, filtered and paged, for the page and
the API alike. Nothing here writes.

Who sees what: an administrator sees every delivery; a department head those whose recipient
or owner is one of the people of the departments they head (or themselves); anyone else the
deliveries they received or that copied their own notifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Select, func, or_, select

from portal_ext.directory.access import overseen_departments
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.notifications.models import FAILED, PENDING, Delivery
from portal_ext.notifications.rules import DEPUTY, TEAM
from portal_ext.paging import Page, iso
from portal_ext.portal.models import Portal

REASON_FILTERS = (DEPUTY, TEAM)


@dataclass(frozen=True)
class LogFilter:
    user: int | None = None  # recipient or owner (portal user id)
    reason: str | None = None  # deputy | team (a copy with both reasons matches either)
    state: str | None = None
    since: datetime | None = None  # created at or after (naive UTC)
    until: datetime | None = None  # created before


def visible_people(portal: Portal, viewer: PortalUser) -> set[int] | None:
    """Portal user ids whose deliveries ``viewer`` may see; None: everyone."""
    if viewer.is_admin:
        return None
    scope = overseen_departments(portal, viewer)
    people = {viewer.portal_user_id}
    if scope:
        people |= {uid for uid, depts in db.session.execute(
            select(PortalUser.portal_user_id, PortalUser.department_ids)
            .where(PortalUser.portal_id == portal.id)).all()
            if scope.intersection(depts or [])}
    return people


def visible_deliveries(portal: Portal, viewer: PortalUser) -> Select[Any]:
    """The deliveries ``viewer`` may see, unordered (the pages' grid narrows it further)."""
    query = select(Delivery).where(Delivery.portal_id == portal.id)
    people = visible_people(portal, viewer)
    if people is not None:
        query = query.where(or_(Delivery.recipient_portal_user_id.in_(people),
                                Delivery.owner_portal_user_id.in_(people)))
    return query


def delivery_log(*, portal: Portal, viewer: PortalUser, filters: LogFilter, page: int = 1,
                 per_page: int = 50) -> Page[Delivery]:
    query = visible_deliveries(portal, viewer)
    if filters.user is not None:
        query = query.where(or_(Delivery.recipient_portal_user_id == filters.user,
                                Delivery.owner_portal_user_id == filters.user))
    if filters.reason is not None:
        query = query.where(Delivery.reason.in_((filters.reason, f"{DEPUTY}+{TEAM}")))
    if filters.state is not None:
        query = query.where(Delivery.state == filters.state)
    if filters.since is not None:
        query = query.where(Delivery.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Delivery.created_at < filters.until)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(db.session.scalars(query.order_by(Delivery.created_at.desc(),
                                                   Delivery.id.desc())
                                    .offset((page - 1) * per_page).limit(per_page)))
    return Page(items, page, per_page, total)


@dataclass(frozen=True)
class Backlog:
    """A queue at a glance: how many wait, since when the oldest, how many failed."""

    waiting: int
    oldest: datetime | None  # naive UTC
    failed: int


def outbox_backlog(portal: Portal) -> Backlog:
    """Copies waiting to be delivered to the portal, and the ones that failed."""
    counts = dict(db.session.execute(select(Delivery.state, func.count()).where(
        Delivery.portal_id == portal.id, Delivery.state.in_((PENDING, FAILED)))
        .group_by(Delivery.state)).all())
    oldest = db.session.scalar(select(func.min(Delivery.created_at)).where(
        Delivery.portal_id == portal.id, Delivery.state == PENDING))
    return Backlog(int(counts.get(PENDING, 0)), oldest, int(counts.get(FAILED, 0)))


@dataclass(frozen=True)
class DayCount:
    day: date  # a day of the portal's calendar
    copies: int  # copies recorded that day
    failed: int  # of which failed


def deliveries_per_day(*, portal: Portal, viewer: PortalUser, today: date, tz: tzinfo,
                       days: int = 30) -> list[DayCount]:
    """Copies recorded per day of the portal's calendar over the ``days`` days ending
    ``today`` (oldest first, days without any included), of the deliveries ``viewer`` sees."""
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time(), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
    until = datetime.combine(today + timedelta(days=1), time(), tzinfo=tz) \
        .astimezone(UTC).replace(tzinfo=None)
    query = select(Delivery.created_at, Delivery.state).where(
        Delivery.portal_id == portal.id, Delivery.created_at >= since,
        Delivery.created_at < until)
    people = visible_people(portal, viewer)
    if people is not None:
        query = query.where(or_(Delivery.recipient_portal_user_id.in_(people),
                                Delivery.owner_portal_user_id.in_(people)))
    copies = dict.fromkeys((first + timedelta(days=n) for n in range(days)), 0)
    failed = dict(copies)
    for created_at, state in db.session.execute(query):
        day = created_at.replace(tzinfo=UTC).astimezone(tz).date()
        if day in copies:
            copies[day] += 1
            failed[day] += state == FAILED
    return [DayCount(day, copies[day], failed[day]) for day in copies]


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id, "source_key": delivery.source_key,
        "source_notification_id": delivery.source_notification_id,
        "source_kind": delivery.source_kind, "kind": delivery.kind,
        "entity_type": delivery.entity_type, "entity_id": delivery.entity_id,
        "owner_id": delivery.owner_portal_user_id, "actor_id": delivery.actor_portal_user_id,
        "recipient_id": delivery.recipient_portal_user_id, "reason": delivery.reason,
        "reasons": delivery.reason_detail, "message": delivery.message,
        "state": delivery.state, "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at), "tag": delivery.tag,
        "created_at": iso(delivery.created_at), "sent_at": iso(delivery.sent_at),
        "error": delivery.error, "portal_notification_id": delivery.portal_notification_id,
    }
