"""Accepting events: each one becomes one inbox row, unique on (portal, idempotency key), in
the transaction that accepts it; processing is then queued (portal_ext.events.processing).

A duplicate (a redelivered webhook, an offline record read twice) inserts nothing and queues
nothing: the database's unique constraint decides, so two concurrent deliveries cannot both
win (microservices.io "Idempotent consumer").
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from portal_ext import jobs
from portal_ext.events.handlers import Veto, before_handlers_for
from portal_ext.events.models import PENDING, InboxEvent
from portal_ext.events.portal_event import PortalEvent, as_int, entity_id_of, entity_type_of
from portal_ext.extensions import db
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import current_portal, utcnow

log = logging.getLogger(__name__)


def store_event(event: PortalEvent, *, portal: Portal, key: str, now: datetime) -> int | None:
    """Insert the event unless its key is known; commit; queue processing.
    Returns the new row's id, or None for a duplicate."""
    values = {
        "portal_id": portal.id, "idempotency_key": key, "event_name": event.name,
        "source": event.source, "entity_type": event.entity_type or entity_type_of(event.name),
        "entity_id": event.entity_id if event.entity_id is not None
        else entity_id_of(event.data),
        "payload": event.payload(), "received_at": now, "state": PENDING, "attempts": 0,
    }
    new_id = _insert_or_ignore(values)
    db.session.commit()
    if new_id is not None:
        from portal_ext.events.processing import process_event

        jobs.enqueue(process_event, new_id)
    return new_id


def _insert_or_ignore(values: dict[str, Any]) -> int | None:
    dialect = db.session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        statement = (insert(InboxEvent).values(**values)
                     .on_conflict_do_nothing(index_elements=["portal_id", "idempotency_key"])
                     .returning(InboxEvent.id))
        found: int | None = db.session.execute(statement).scalar_one_or_none()
        return found
    try:  # any other database: a savepoint absorbs the duplicate
        with db.session.begin_nested():
            row = InboxEvent(**values)
            db.session.add(row)
        return int(row.id)
    except IntegrityError:
        return None


def accept_inprocess_event(event: dict[str, Any], *, now: datetime | None = None) -> int | None:
    """An after-event from the in-process portal (``SimEvent.as_dict()``): key
    ``inprocess:<event id>``."""
    if not event.get("name") or not event.get("id"):
        raise ValueError("an in-process event needs 'name' and 'id'")
    normalized = PortalEvent(
        name=str(event["name"]).upper(), source="inprocess", data=event.get("data") or {},
        ts=as_int(event.get("ts")), entity_type=event.get("entity_type"),
        entity_id=as_int(event.get("entity_id")), actor_id=as_int(event.get("actor_id")),
        before=event.get("before"), after=event.get("after"))
    return store_event(normalized, portal=current_portal(), key=f"inprocess:{event['id']}",
                       now=now or utcnow())


def before_inprocess_event(event: dict[str, Any], *, now: datetime | None = None) -> None:
    """Run the before-handlers of an in-process before-event; a :class:`Veto` propagates (the
    composition root turns it into the portal's own refusal). Nothing is stored."""
    name = str(event.get("name") or "").upper()
    handlers = before_handlers_for(name)
    if not handlers:
        return
    normalized = PortalEvent(
        name=name, source="inprocess", data=event.get("data") or {}, ts=as_int(event.get("ts")),
        entity_type=event.get("entity_type"), entity_id=as_int(event.get("entity_id")),
        actor_id=as_int(event.get("actor_id")), before=event.get("before"),
        after=event.get("after"))
    portal = current_portal()
    for handler in handlers:
        handler(normalized, portal=portal, now=now or utcnow())


__all__ = ["Veto", "accept_inprocess_event", "before_inprocess_event", "store_event"]
