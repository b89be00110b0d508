"""Event handlers of the fan-out (registered with portal_ext.events.handlers).

In-process, ``ONIMNOTIFYADD`` carries every notification the portal delivers: it is the one
source, and the entity and task events are left alone (they would count the same thing
twice). Events that came over REST (a webhook or the offline queue) are where notifications
are derived from (portal_ext.notifications.derived); the periodic deadline check is in
portal_ext.notifications.tasks.

Handled events: ONIMNOTIFYADD (in-process); ONCRMLEADADD, ONCRMLEADUPDATE, ONCRMDEALADD,
ONCRMDEALUPDATE, ONCRMCONTACTADD, ONCRMCONTACTUPDATE, ONCRMCOMPANYADD, ONCRMCOMPANYUPDATE,
ONTASKADD, ONTASKUPDATE, ONCRMACTIVITYADD, ONTASKCOMMENTADD (REST).

Handlers run inside the inbox row's transaction: the portal is read first, the deliveries
are written last (on SQLite a write holds the lock until the commit).
"""

from __future__ import annotations

from datetime import datetime

from portal_ext.events.handlers import handles
from portal_ext.events.portal_event import PortalEvent
from portal_ext.notifications import derived
from portal_ext.notifications.services import fan_out
from portal_ext.notifications.sources import from_inprocess
from portal_ext.portal.client import PortalClient
from portal_ext.portal.models import Portal

INPROCESS = "inprocess"
# What a REST portal must send the extension for the fan-out (portal_ext.events.bindings).
REST_EVENTS: tuple[str, ...] = (*derived.CRM_EVENTS, "ONTASKADD", "ONTASKUPDATE",
                                "ONCRMACTIVITYADD", "ONTASKCOMMENTADD")


@handles("ONIMNOTIFYADD")
def portal_notification(event: PortalEvent, *, portal: Portal, client: PortalClient,
                        now: datetime) -> None:
    notice = from_inprocess(event, now=now)
    if notice is not None:
        fan_out([notice], portal=portal)


@handles(*derived.CRM_EVENTS)
def crm_item_changed(event: PortalEvent, *, portal: Portal, client: PortalClient,
                     now: datetime) -> None:
    if event.source != INPROCESS:
        fan_out(derived.crm_assignment(event, portal=portal, client=client, now=now),
                portal=portal)


@handles("ONTASKADD", "ONTASKUPDATE")
def task_changed(event: PortalEvent, *, portal: Portal, client: PortalClient,
                 now: datetime) -> None:
    if event.source != INPROCESS:
        fan_out(derived.task_assignment(event, portal=portal, client=client, now=now),
                portal=portal)


@handles("ONCRMACTIVITYADD")
def activity_added(event: PortalEvent, *, portal: Portal, client: PortalClient,
                   now: datetime) -> None:
    if event.source != INPROCESS:
        fan_out(derived.incoming_email(event, portal=portal, client=client, now=now),
                portal=portal)


@handles("ONTASKCOMMENTADD")
def task_comment_added(event: PortalEvent, *, portal: Portal, client: PortalClient,
                       now: datetime) -> None:
    if event.source != INPROCESS:
        fan_out(derived.task_comment(event, portal=portal, client=client, now=now),
                portal=portal)
