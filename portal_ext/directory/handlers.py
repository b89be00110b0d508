"""The directory follows user events: a new or changed user is re-read from the portal
(events carry only the fact of a change; api-reference/events/index.md)."""

from __future__ import annotations

from datetime import datetime

from portal_ext.directory.services import sync_one_user
from portal_ext.events.handlers import handles
from portal_ext.events.portal_event import PortalEvent
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal


@handles("ONUSERADD", "ONUSERUPDATE")
def user_changed(event: PortalEvent, *, portal: Portal, client: PortalClient,
                 now: datetime) -> None:
    if event.entity_id is None:
        raise ValueError(f"{event.name} without a user id")
    sync_one_user(portal=portal, client=client, portal_user_id=event.entity_id, now=now)
