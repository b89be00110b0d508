"""Polling the portal's offline event queue (api-reference/events/offline-events.md).

Webhooks are never retried, so offline events are the lossless path: ``event.offline.get`` with
``clear=0`` hands out records under a ``process_id``; they are stored in the inbox first and
only then confirmed with ``event.offline.clear``. A crash between the two means the records come
back and are stored again, which the inbox's idempotency key (the record's MESSAGE_ID) absorbs.
The queue keeps one record per object (its latest change), not a history.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import current_app

from portal_ext import jobs
from portal_ext.events.intake import store_event
from portal_ext.events.portal_event import PortalEvent, as_int
from portal_ext.extensions import db
from portal_ext.portal.client import PortalClient
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.errors import PortalError
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import client_for, current_portal

log = logging.getLogger(__name__)
LIMIT = 50
MAX_ROUNDS = 100  # at most 5,000 records per poll; the next tick takes the rest


def poll_offline(portal: Portal, *, client: PortalClient | None = None,
                 now: datetime | None = None) -> int:
    """Store every queued offline event, then confirm them; returns how many were read."""
    client = client or client_for(portal)
    read = 0
    for _ in range(MAX_ROUNDS):
        params: dict[str, Any] = {"clear": 0, "limit": LIMIT}
        if portal.offline_process_id:  # a batch read before a crash: ask for it again
            params["process_id"] = portal.offline_process_id
        answer = client.call("event.offline.get", params)
        records = answer.get("events") if isinstance(answer, dict) else None
        if not records:
            break
        process_id = str(answer.get("process_id") or "")
        if process_id != portal.offline_process_id:
            portal.offline_process_id = process_id
            db.session.commit()
        for record in records:
            store_event(_event(record), portal=portal, key=_key(record), now=now or host_utcnow())
        client.call("event.offline.clear", {
            "process_id": process_id,
            "message_id": [r.get("MESSAGE_ID") for r in records if r.get("MESSAGE_ID")]})
        portal.offline_process_id = None
        db.session.commit()
        read += len(records)
        if len(records) < LIMIT:
            break
    return read


def _key(record: dict[str, Any]) -> str:
    return f"offline:{record.get('MESSAGE_ID') or record.get('ID')}"


def _event(record: dict[str, Any]) -> PortalEvent:
    data = record.get("EVENT_DATA") or {}
    return PortalEvent(name=str(record.get("EVENT_NAME") or "").upper(), source="offline",
                       data=data if isinstance(data, dict) else {"VALUE": data},
                       ts=as_int(record.get("TIMESTAMP_X")))


@jobs.job(name="portal_ext.events.offline.poll_offline_job")
def poll_offline_job(portal_id: int) -> int:
    portal = db.session.get(Portal, portal_id)
    return poll_offline(portal) if portal is not None else 0


@jobs.periodic(name="portal_ext.events.offline.poll_offline_tick")
def poll_offline_tick() -> int:
    if not current_app.config.get("OFFLINE_POLL"):
        return 0
    try:
        return poll_offline(current_portal())
    except PortalError as exc:
        log.warning("offline events: %s", exc)
        return 0
