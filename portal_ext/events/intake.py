"""Accepting events: each one becomes one inbox row, unique on (portal, idempotency key), in
the transaction that accepts it; processing is then queued (portal_ext.events.processing).

A duplicate (a redelivered webhook, an offline record read twice) inserts nothing and queues
nothing: the database's unique constraint decides, so two concurrent deliveries cannot both
win (microservices.io "Idempotent consumer").

An event a registered predicate recognises as not worth keeping (``handlers.ignores``: the
extension's own notification copies echoed back by the portal) is dropped before it is
stored, whatever way it came.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from portal_ext.events.handlers import Veto, acts_on, before_handlers_for, is_ignored
from portal_ext.events.models import DONE, PENDING, InboxEvent
from portal_ext.events.portal_event import PortalEvent, as_int, entity_id_of, entity_type_of
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow, portal_now
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import client_for, current_portal

log = logging.getLogger(__name__)
_PORTAL_ID = "portal_ext.events.intake.portal_id"


def store_event(event: PortalEvent, *, portal: Portal, key: str, now: datetime) -> int | None:
    """Insert the event unless its key is known or it is ignored; commit; queue processing.
    Returns the new row's id, or None for a duplicate or an ignored event."""
    return _store(event, portal_id=portal.id, key=key, now=now)


def _store(event: PortalEvent, *, portal_id: int, key: str, now: datetime) -> int | None:
    if is_ignored(event):
        return None
    values = {
        "portal_id": portal_id, "idempotency_key": key, "event_name": event.name,
        "source": event.source, "entity_type": event.entity_type or entity_type_of(event.name),
        "entity_id": event.entity_id if event.entity_id is not None
        else entity_id_of(event.data),
        "payload": event.payload(), "received_at": now, "state": PENDING, "attempts": 0,
    }
    pending = acts_on(event.name, event.source)
    if not pending:  # kept for the record; no handler acts on it, so no job either
        values.update(state=DONE, processed_at=now)
    new_id = _insert_or_ignore(values)
    db.session.commit()
    if new_id is not None and pending:
        from portal_ext.events.processing import queue_processing

        queue_processing(new_id, event_name=event.name, portal_id=portal_id)
    return new_id


def _insert_or_ignore(values: dict[str, Any]) -> int | None:
    dialect = db.session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        found: int | None = db.session.execute(_upsert(dialect), values).scalar_one_or_none()
        return found
    try:  # any other database: a savepoint absorbs the duplicate
        with db.session.begin_nested():
            row = InboxEvent(**values)
            db.session.add(row)
        return int(row.id)
    except IntegrityError:
        return None


def inprocess_event(event: dict[str, Any]) -> PortalEvent:
    """The normalized form of an after-event from the in-process portal
    (``SimEvent.as_dict()``)."""
    if not event.get("name") or not event.get("id"):
        raise ValueError("an in-process event needs 'name' and 'id'")
    return PortalEvent(
        name=str(event["name"]).upper(), source="inprocess", data=event.get("data") or {},
        ts=as_int(event.get("ts")), entity_type=event.get("entity_type"),
        entity_id=as_int(event.get("entity_id")), actor_id=as_int(event.get("actor_id")),
        before=event.get("before"), after=event.get("after"))


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id``, built once (values bound per call)."""
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    return (insert(InboxEvent.__table__)
            .on_conflict_do_nothing(index_elements=["portal_id", "idempotency_key"])
            .returning(InboxEvent.__table__.c.id))


def accept_inprocess_event(event: dict[str, Any], *, now: datetime | None = None) -> int | None:
    """An after-event from the in-process portal (``SimEvent.as_dict()``): key
    ``inprocess:<event id>``. Returns the new row's id, or None (a duplicate, or ignored)."""
    normalized = inprocess_event(event)
    if is_ignored(normalized):
        return None
    return _store(normalized, portal_id=_default_portal_id(),
                  key=f"inprocess:{event['id']}", now=now or host_utcnow())


def _default_portal_id() -> int:
    """The default portal's id, kept by the app: an in-process event needs nothing else of
    it, and reading it for every event would be a query per event."""
    extensions = current_app.extensions
    portal_id = extensions.get(_PORTAL_ID)
    if portal_id is None:
        portal_id = extensions[_PORTAL_ID] = int(current_portal().id)
    return int(portal_id)


def before_inprocess_event(event: dict[str, Any], *, now: datetime | None = None) -> None:
    """Run the before-handlers of an in-process before-event; a :class:`Veto` propagates (the
    composition root turns it into the portal's own refusal). Nothing is stored. Handlers get
    the portal's time as ``now``: the event's own ``ts`` (the portal's clock when it happened;
    the portal is not asked while it is in the middle of the change), else the portal's now."""
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
    at = now or normalized.time() or portal_now(client_for(portal))
    for handler in handlers:
        handler(normalized, portal=portal, now=at)


__all__ = ["Veto", "accept_inprocess_event", "before_inprocess_event", "inprocess_event",
           "store_event"]
