"""Event handlers of the fan-out (registered with portal_ext.events.handlers).

In-process, ``ONIMNOTIFYADD`` carries every notification the portal delivers: it is the one
source, and the entity and task events are left alone (they would count the same thing
twice). Events that came over REST (a webhook or the offline queue) are where notifications
are derived from (portal_ext.notifications.derived); the periodic deadline check is in
portal_ext.notifications.tasks.

Handled events: ONIMNOTIFYADD (in-process); ONCRMLEADADD, ONCRMLEADUPDATE, ONCRMDEALADD,
ONCRMDEALUPDATE, ONCRMCONTACTADD, ONCRMCONTACTUPDATE, ONCRMCOMPANYADD, ONCRMCOMPANYUPDATE,
ONTASKADD, ONTASKUPDATE, ONCRMACTIVITYADD, ONTASKCOMMENTADD (REST).

The extension's own copies come back in-process as ``ONIMNOTIFYADD`` too: they are recognised by
their tag (``portal_ext:copy:<delivery id>``) and dropped at intake, never stored or processed,
so a copy is never copied again.

Handlers run inside the inbox row's transaction: the portal is read first, the deliveries
are written last (on SQLite a write holds the lock until the commit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal_ext.events.handlers import handles, handles_batch, ignores
from portal_ext.events.portal_event import PortalEvent
from portal_ext.notifications import derived
from portal_ext.notifications.services import fan_out
from portal_ext.notifications.sources import from_inprocess, is_copy
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal

INPROCESS = "inprocess"
# In-process the portal's own notifications are intercepted; over REST they are derived from
# the events below, which in-process need no processing.
DERIVED_FROM = ("webhook", "offline")
# What a REST portal must send the extension for the fan-out (portal_ext.events.bindings).
REST_EVENTS: tuple[str, ...] = (*derived.CRM_EVENTS, "ONTASKADD", "ONTASKUPDATE",
                                "ONCRMACTIVITYADD", "ONTASKCOMMENTADD")


@ignores("ONIMNOTIFYADD")
def own_copy(event: PortalEvent) -> bool:
    """One of the extension's copies: the tag is in the whole notification (in-process) or,
    should a portal ever send it, among the event's fields."""
    fields: Any = event.data.get("FIELDS") if isinstance(event.data, dict) else None
    return (isinstance(event.after, dict) and is_copy(event.after.get("tag"))) or (
        isinstance(fields, dict) and is_copy(fields.get("TAG") or fields.get("tag")))


@handles_batch("ONIMNOTIFYADD")
def portal_notifications(events: list[PortalEvent], *, portal: Portal, client: PortalClient,
                         now: datetime) -> None:
    notices = [n for n in (from_inprocess(e, now=now) for e in events) if n is not None]
    if notices:
        fan_out(notices, portal=portal)


@handles(*derived.CRM_EVENTS, sources=DERIVED_FROM)
def crm_item_changed(event: PortalEvent, *, portal: Portal, client: PortalClient,
                     now: datetime) -> None:
    fan_out(derived.crm_assignment(event, portal=portal, client=client, now=now), portal=portal)


@handles("ONTASKADD", "ONTASKUPDATE", sources=DERIVED_FROM)
def task_changed(event: PortalEvent, *, portal: Portal, client: PortalClient,
                 now: datetime) -> None:
    fan_out(derived.task_assignment(event, portal=portal, client=client, now=now), portal=portal)


@handles("ONCRMACTIVITYADD", sources=DERIVED_FROM)
def activity_added(event: PortalEvent, *, portal: Portal, client: PortalClient,
                   now: datetime) -> None:
    fan_out(derived.incoming_email(event, portal=portal, client=client, now=now), portal=portal)


@handles("ONTASKCOMMENTADD", sources=DERIVED_FROM)
def task_comment_added(event: PortalEvent, *, portal: Portal, client: PortalClient,
                       now: datetime) -> None:
    fan_out(derived.task_comment(event, portal=portal, client=client, now=now), portal=portal)
